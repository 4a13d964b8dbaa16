// The activations panel: one card per layer with its heatmap (channel grid or unit strip), a
// colorbar, and hover read-out of the value under the pointer.
import { drawColorbar } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";
import { groupThousands } from "./format.js";

const CELL_PX = 3; // CSS pixels per activation cell (cards scale down on narrow screens)

/**
 * Wires the panel; `hoverInfo`: the element that reads out the value under the pointer. Returns
 * `{ showTrace(model, trace, colormap) }`, which puts one card per layer with its heatmap into the
 * panel and returns a function that draws the cards' colorbars (the page calls it at once, or
 * after the first paint when it starts).
 */
export function setupActivations({ hoverInfo }) {
  const container = document.getElementById("layers");
  return { showTrace: (model, trace, colormap) => renderActivations(container, hoverInfo, model, trace, colormap) };
}

function renderActivations(container, hoverInfo, model, trace, colormap) {
  const values = new Map();
  const cards = [];
  const colorbars = [];
  for (const layer of model.layers()) {
    const card = document.createElement("article");
    card.className = "layer";
    card.dataset.layer = layer.name;
    const header = document.createElement("header");
    const title = document.createElement("h3");
    title.textContent = layer.name;
    const meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = `${layer.op} · output ${layer.outputShape.join("×")}` +
      (layer.params ? ` · ${groupThousands(layer.params)} parameters` : "");
    header.append(title, meta);

    const body = document.createElement("div");
    body.className = "body";
    const map = document.createElement("canvas");
    map.className = "map pixelated";
    map.setAttribute("aria-label", `Activations of layer ${layer.name}`);
    const layout = trace.draw(layer.name, map, { colormap, sample: 0 });
    map.style.width = `${map.width * CELL_PX}px`;
    const bar = document.createElement("canvas");
    bar.className = "colorbar";
    bar.setAttribute("aria-label", `Colour scale of layer ${layer.name}: ${fmt(layout.min)} to ${fmt(layout.max)}`);
    body.append(map, bar);
    card.append(header, body);
    cards.push(card);
    colorbars.push({ bar, layout });

    const cursor = { x: 0, y: 0 };
    const show = (px, py) => {
      const cell = layout.locate(px, py);
      if (!cell) return;
      if (!values.has(layer.name)) values.set(layer.name, trace.get(layer.name));
      const value = values.get(layer.name)[cell.index];
      const where = layout.kind === "grid"
        ? `channel ${cell.channel}, y ${cell.y}, x ${cell.x}`
        : `unit ${cell.index}`;
      hoverInfo.textContent = `${layer.name}: ${where} = ${fmt(value)}`;
    };
    map.addEventListener("mousemove", (event) => {
      const rect = map.getBoundingClientRect();
      cursor.x = Math.floor(((event.clientX - rect.left) / rect.width) * map.width);
      cursor.y = Math.floor(((event.clientY - rect.top) / rect.height) * map.height);
      show(cursor.x, cursor.y);
    });
    map.addEventListener("mouseleave", () => { hoverInfo.textContent = "\u00a0"; });
    // Keyboard: the map is focusable and the arrow keys move a read-out cursor over its cells.
    map.tabIndex = 0;
    map.addEventListener("focus", () => show(cursor.x, cursor.y));
    map.addEventListener("keydown", (event) => {
      const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
      if (!step) return;
      event.preventDefault();
      cursor.x = Math.min(Math.max(cursor.x + step[0], 0), map.width - 1);
      cursor.y = Math.min(Math.max(cursor.y + step[1], 0), map.height - 1);
      show(cursor.x, cursor.y);
    });
  }
  container.replaceChildren(...cards);
  // The colorbars are measured in one layout, then drawn at their CSS size (measuring after each
  // card would lay the page out once per layer).
  return () => {
    const rects = colorbars.map(({ bar }) => bar.getBoundingClientRect());
    colorbars.forEach(({ bar, layout }, i) => {
      sizeCanvasForCss(bar, rects[i]);
      drawColorbar(bar, colormap, layout.min, layout.max);
    });
  };
}

function fmt(v) {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(3);
}
