// The architecture as a diagram: one box per layer (name, op, output shape, parameters) in
// execution order, arrows from each layer to the next, and curved arrows for connections that
// skip layers (residual adds, concatenations).
import { groupThousands } from "./format.js";
const SVG = "http://www.w3.org/2000/svg";
const BOX_W = 250, BOX_H = 44, GAP = 18, LEFT = 70;

/** Wires the panel; returns `{ showModel(model) }`, which draws a model's diagram and summary. */
export function setupArchitecture() {
  const container = document.getElementById("architecture");
  const summary = document.getElementById("architecture-summary");
  return {
    showModel(model) {
      const layers = model.layers();
      renderArchitecture(container, layers, model.inputShape);
      summary.textContent = `${layers.length} layers · ${groupThousands(model.paramCount)} parameters · ` +
        `input ${model.inputShape.join("×")} → output ${model.outputShape.join("×")}`;
    },
  };
}

function renderArchitecture(container, layers, inputShape) {
  const nodes = [{ name: "input", op: "input", outputShape: inputShape, params: 0, inputs: [] }, ...layers];
  const index = new Map(nodes.map((n, i) => [n.name, i]));
  const height = nodes.length * (BOX_H + GAP);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${LEFT + BOX_W + 20} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Architecture: ${layers.length} layers`);
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  const defs = el("defs", {});
  const marker = document.createElementNS(SVG, "marker");
  for (const [k, v] of Object.entries({ id: "arrow", viewBox: "0 0 8 8", refX: "7", refY: "4", markerWidth: "7", markerHeight: "7", orient: "auto" })) marker.setAttribute(k, v);
  const tip = document.createElementNS(SVG, "path");
  tip.setAttribute("d", "M0,0 L8,4 L0,8 z");
  tip.setAttribute("fill", "#666b73");
  marker.append(tip);
  defs.append(marker);
  const top = (i) => i * (BOX_H + GAP);
  nodes.forEach((node, i) => {
    for (const source of node.inputs) {
      const j = index.get(source);
      if (j === undefined) continue;
      if (j === i - 1) {
        el("line", { x1: LEFT + BOX_W / 2, y1: top(j) + BOX_H, x2: LEFT + BOX_W / 2, y2: top(i) - 1,
          stroke: "#666b73", "marker-end": "url(#arrow)" });
      } else {
        const bend = LEFT - 14 - 8 * ((i - j) % 5);
        el("path", { d: `M${LEFT},${top(j) + BOX_H / 2} C${bend},${top(j) + BOX_H / 2} ${bend},${top(i) + BOX_H / 2} ${LEFT - 1},${top(i) + BOX_H / 2}`,
          fill: "none", stroke: "#3a5ccc", "marker-end": "url(#arrow)" });
      }
    }
    const group = el("g", { class: "arch-node", "data-layer": node.name });
    const rect = document.createElementNS(SVG, "rect");
    for (const [k, v] of Object.entries({ x: LEFT, y: top(i), width: BOX_W, height: BOX_H, rx: 6,
      fill: node.params ? "#eef1fb" : "#fff", stroke: "#9aa3b5" })) rect.setAttribute(k, v);
    const title = document.createElementNS(SVG, "text");
    for (const [k, v] of Object.entries({ x: LEFT + 8, y: top(i) + 17, "font-size": 13, "font-family": "ui-monospace, monospace" })) title.setAttribute(k, v);
    title.textContent = `${node.name}  ${node.op === node.name ? "" : node.op}`;
    const detail = document.createElementNS(SVG, "text");
    for (const [k, v] of Object.entries({ x: LEFT + 8, y: top(i) + 35, "font-size": 11, fill: "#666b73" })) detail.setAttribute(k, v);
    detail.textContent = `${node.outputShape.join("×")}` + (node.params ? ` · ${groupThousands(node.params)} params` : "");
    group.append(rect, title, detail);
  });
  container.replaceChildren(svg);
}
