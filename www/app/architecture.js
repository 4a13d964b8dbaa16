// The architecture as a diagram of the whole graph, scaled to the panel's width: one box per layer
// (name, op, output shape, parameters), drawn in layers of the DAG (a box's row is one more than
// its deepest input's), so parallel branches (Inception, a ResNet's downsample path) stand side by
// side and merges (residual adds, concatenations) take arrows from each input. Arrows between
// adjacent rows go straight down; arrows that skip rows bend round the right of the boxes.
// Deep models (more than COLLAPSE_ABOVE layers) start with their blocks (blocks.js) collapsed to
// one box each; a click on a block's box, or on an open block's label, toggles it.
import { groupThousands } from "./format.js";
import { groupLayers, shortName } from "./blocks.js";

const SVG = "http://www.w3.org/2000/svg";
const BOX_W = 220, BOX_H = 44, ROW = 66, COLUMN = 240, MARGIN = 12, BEND = 34;
const COLLAPSE_ABOVE = 40;
const TITLE_CHARS = 26; // monospace characters of 13 px that fit a box

/** Wires the panel; returns `{ showModel(model) }`, which draws a model's diagram and summary. */
export function setupArchitecture() {
  const container = document.getElementById("architecture");
  const summary = document.getElementById("architecture-summary");
  const toggleAll = document.getElementById("architecture-toggle");
  const view = { nodes: [], groups: [], collapsed: new Set() };
  const draw = () => {
    renderArchitecture(container, view, (block) => {
      if (view.collapsed.has(block)) view.collapsed.delete(block);
      else view.collapsed.add(block);
      draw();
    });
    toggleAll.hidden = !view.groups.some((g) => g.layers.length > 1 && g.block !== null);
    toggleAll.textContent = view.collapsed.size ? "Expand all blocks" : "Collapse all blocks";
  };
  toggleAll.addEventListener("click", () => {
    view.collapsed = view.collapsed.size ? new Set() : collapsibleBlocks(view.groups);
    draw();
  });
  return {
    showModel(model) {
      const layers = model.layers();
      view.nodes = [{ name: "input", op: "input", outputShape: model.inputShape, params: 0, inputs: [] }, ...layers];
      view.groups = groupLayers(layers);
      view.collapsed = layers.length > COLLAPSE_ABOVE ? collapsibleBlocks(view.groups) : new Set();
      draw();
      summary.textContent = `${layers.length} layers · ${groupThousands(model.paramCount)} parameters · ` +
        `input ${model.inputShape.join("×")} → output ${model.outputShape.join("×")}`;
    },
  };
}

function collapsibleBlocks(groups) {
  return new Set(groups.filter((g) => g.block !== null && g.layers.length > 1).map((g) => g.block));
}

/**
 * The boxes to draw: each layer, or one box for each collapsed block, in execution order, with
 * their rows and columns, and the arrows between them.
 */
function layout({ nodes, groups, collapsed }) {
  const boxOf = new Map(); // layer name → box
  const boxes = [];
  const add = (box) => { boxes.push(box); return box; };
  boxOf.set("input", add({ kind: "layer", node: nodes[0], members: [nodes[0]] }));
  for (const group of groups) {
    if (group.block !== null && collapsed.has(group.block)) {
      const box = add({ kind: "block", block: group.block, members: group.layers });
      for (const layer of group.layers) boxOf.set(layer.name, box);
    } else {
      for (const layer of group.layers) boxOf.set(layer.name, add({ kind: "layer", node: layer, members: [layer], block: group.block }));
    }
  }
  const edges = new Map(); // "from→to" → { from, to }
  for (const box of boxes) {
    for (const member of box.members) {
      for (const source of member.inputs ?? []) {
        const from = boxOf.get(source);
        if (from && from !== box) edges.set(`${boxes.indexOf(from)}→${boxes.indexOf(box)}`, { from, to: box });
      }
    }
  }
  const rowCount = new Map();
  for (const box of boxes) {
    const inputs = [...edges.values()].filter((e) => e.to === box && e.from.row !== undefined);
    box.row = inputs.length ? Math.max(...inputs.map((e) => e.from.row)) + 1 : (box === boxes[0] ? 0 : boxes[boxes.indexOf(box) - 1].row + 1);
    box.column = rowCount.get(box.row) ?? 0;
    rowCount.set(box.row, box.column + 1);
  }
  return { boxes, edges: [...edges.values()], rows: Math.max(...boxes.map((b) => b.row)) + 1, columns: Math.max(...rowCount.values()) };
}

function renderArchitecture(container, view, onToggle) {
  const { boxes, edges, rows, columns } = layout(view);
  const width = MARGIN * 2 + columns * COLUMN + BEND;
  const height = MARGIN * 2 + rows * ROW - (ROW - BOX_H);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.maxWidth = `${width}px`;
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Architecture: ${view.nodes.length - 1} layers`);
  const el = (parent, tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    parent.append(e);
    return e;
  };
  const marker = el(el(svg, "defs", {}), "marker", { id: "arrow", viewBox: "0 0 8 8", refX: "7", refY: "4", markerWidth: "7", markerHeight: "7", orient: "auto" });
  el(marker, "path", { d: "M0,0 L8,4 L0,8 z", fill: "#666b73" });
  const x = (box) => MARGIN + box.column * COLUMN;
  const y = (box) => MARGIN + box.row * ROW;

  // Open blocks: a faint frame round their boxes with the block's name in its top edge (in the
  // gap between rows), which collapses it.
  for (const group of view.groups) {
    if (group.block === null || group.layers.length < 2 || view.collapsed.has(group.block)) continue;
    const members = boxes.filter((b) => b.kind === "layer" && b.block === group.block && group.layers.includes(b.node));
    const left = Math.min(...members.map(x)) - 6, right = Math.max(...members.map(x)) + BOX_W + 6;
    const top = Math.min(...members.map(y)) - 17, bottom = Math.max(...members.map(y)) + BOX_H + 4;
    el(svg, "rect", { x: left, y: top, width: right - left, height: bottom - top, rx: 8, fill: "#f6f7fb", stroke: "#c9cfdd", "stroke-dasharray": "4 3" });
    const label = el(svg, "text", { x: right - 6, y: top + 11, "font-size": 10, fill: "#3a5ccc", "text-anchor": "end", class: "arch-block-label", "data-block": group.block, tabindex: 0, role: "button" },
      `▾ ${shortName(group.block, 28)}`);
    wireToggle(label, group.block, onToggle);
  }
  for (const { from, to } of edges) {
    if (to.row === from.row + 1) {
      const x1 = x(from) + BOX_W / 2, y1 = y(from) + BOX_H, x2 = x(to) + BOX_W / 2, y2 = y(to) - 1;
      el(svg, "path", { d: `M${x1},${y1} C${x1},${y1 + 12} ${x2},${y2 - 12} ${x2},${y2}`, fill: "none", stroke: "#666b73", "marker-end": "url(#arrow)" });
    } else {
      const x1 = x(from) + BOX_W, y1 = y(from) + BOX_H / 2, x2 = x(to) + BOX_W + 1, y2 = y(to) + BOX_H / 2;
      const bend = Math.max(x1, x2) + 10 + 6 * ((to.row - from.row) % 4);
      el(svg, "path", { d: `M${x1},${y1} C${bend},${y1} ${bend},${y2} ${x2},${y2}`, fill: "none", stroke: "#3a5ccc", "marker-end": "url(#arrow)" });
    }
  }
  for (const box of boxes) {
    const block = box.kind === "block";
    const name = block ? box.block : box.node.name;
    const group = el(svg, "g", block
      ? { class: "arch-node arch-block", "data-block": name, tabindex: 0, role: "button", "aria-expanded": "false" }
      : { class: "arch-node", "data-layer": name });
    el(group, "title", {}, block ? `${name}: ${box.members.map((m) => m.name).join(", ")}` : name);
    const params = box.members.reduce((sum, m) => sum + (m.params ?? 0), 0);
    el(group, "rect", { x: x(box), y: y(box), width: BOX_W, height: BOX_H, rx: 6,
      fill: block ? "#e3e8f8" : params ? "#eef1fb" : "#fff", stroke: block ? "#3a5ccc" : "#9aa3b5" });
    el(group, "text", { x: x(box) + 8, y: y(box) + 17, "font-size": 13, "font-family": "ui-monospace, monospace" }, title(box, name));
    const shape = box.members.at(-1).outputShape.join("×");
    el(group, "text", { x: x(box) + 8, y: y(box) + 35, "font-size": 11, fill: "#666b73" },
      shape + (params ? ` · ${groupThousands(params)} params` : ""));
    if (block) wireToggle(group, name, onToggle);
  }
  container.replaceChildren(svg);
}

/**
 * A box's first line: the name and the op (left out when the name ends with it, as ONNX node
 * names "/conv/Conv" do; a long op cut at its end), the name shortened from its front, TITLE_CHARS
 * monospace characters in all.
 */
function title(box, name) {
  const op = box.kind === "block" ? `▸ ${box.members.length} layers`
    : name === box.node.op || name.endsWith(`/${box.node.op}`) ? "" : box.node.op.length > 12 ? `${box.node.op.slice(0, 11)}…` : box.node.op;
  return op ? `${shortName(name, Math.max(TITLE_CHARS - op.length - 2, 8))}  ${op}` : shortName(name, TITLE_CHARS);
}

/** A click, Enter or Space on `target` toggles `block`. */
function wireToggle(target, block, onToggle) {
  target.style.cursor = "pointer";
  target.addEventListener("click", () => onToggle(block));
  target.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    onToggle(block);
  });
}
