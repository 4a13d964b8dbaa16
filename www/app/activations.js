// The activations panel: one card per layer with its heatmap (channel grid or unit strip), a
// colorbar, and hover read-out of the value under the pointer. A layer navigator chooses which
// layers get a card: a search over names and ops, a checkbox per layer and per block (blocks.js),
// and each name jumps to its card. Models of up to EAGER_LAYERS chosen layers are drawn at once;
// deeper ones draw a card's map and colorbar when it comes near the viewport (IntersectionObserver),
// so a 200-layer model costs only the cards on screen.
import { drawColorbar } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";
import { groupThousands } from "./format.js";
import { groupLayers } from "./blocks.js";

const CELL_PX = 3; // CSS pixels per activation cell (cards scale down on narrow screens)
const EAGER_LAYERS = 24;
const $ = (id) => document.getElementById(id);

/**
 * Wires the panel and its navigator; `hoverInfo`: the element that reads out the value under the
 * pointer. Returns `{ showTrace(model, trace, colormap) }`, which puts one card per chosen layer
 * into the panel and returns a function that draws the cards' colorbars (the page calls it at once,
 * or after the first paint when it starts; lazily drawn cards draw their own).
 */
export function setupActivations({ hoverInfo }) {
  const el = { container: $("layers"), nav: $("layer-nav"), search: $("layer-search"), count: $("layer-count") };
  const view = { model: null, trace: null, colormap: "viridis", chosen: new Set(), observer: null, layers: [] };
  const redraw = () => {
    if (!view.trace) return;
    const drawColorbars = render();
    drawColorbars();
  };
  const render = () => {
    const query = el.search.value.trim().toLowerCase();
    const shown = view.layers.filter((l) => view.chosen.has(l.name) &&
      (!query || l.name.toLowerCase().includes(query) || l.op.toLowerCase().includes(query)));
    el.count.textContent = `drawing ${shown.length} of ${view.layers.length} layers` + (shown.length > EAGER_LAYERS ? " (as they scroll into view)" : "");
    for (const row of el.nav.querySelectorAll("[data-nav-layer]")) {
      const name = row.dataset.navLayer;
      row.hidden = Boolean(query) && !row.dataset.search.includes(query);
      row.querySelector("input").checked = view.chosen.has(name);
    }
    for (const box of el.nav.querySelectorAll("[data-nav-block]")) {
      const inputs = [...box.querySelectorAll("[data-nav-layer] input")];
      const checked = inputs.filter((i) => i.checked).length;
      const toggle = box.querySelector("summary input");
      toggle.checked = checked === inputs.length;
      toggle.indeterminate = checked > 0 && checked < inputs.length;
      box.hidden = [...box.querySelectorAll("[data-nav-layer]")].every((row) => row.hidden);
    }
    view.observer?.disconnect();
    view.observer = null;
    return renderActivations(el.container, hoverInfo, view, shown);
  };
  el.search.addEventListener("input", redraw);
  $("layer-all").addEventListener("click", () => { view.chosen = new Set(view.layers.map((l) => l.name)); redraw(); });
  $("layer-none").addEventListener("click", () => { view.chosen = new Set(); redraw(); });
  el.nav.addEventListener("change", (event) => {
    const input = event.target;
    const names = input.dataset.block !== undefined
      ? [...input.closest("[data-nav-block]").querySelectorAll("[data-nav-layer]")].map((r) => r.dataset.navLayer)
      : [input.closest("[data-nav-layer]").dataset.navLayer];
    for (const name of names) if (input.checked) view.chosen.add(name); else view.chosen.delete(name);
    redraw();
  });
  el.nav.addEventListener("click", (event) => {
    const jump = event.target.closest("button[data-jump]");
    if (!jump) return;
    const name = jump.dataset.jump;
    if (!view.chosen.has(name) || !document.querySelector(`#layers [data-layer="${CSS.escape(name)}"]`)) {
      view.chosen.add(name);
      el.search.value = "";
      redraw();
    }
    const card = document.querySelector(`#layers [data-layer="${CSS.escape(name)}"]`);
    card.scrollIntoView({ block: "start" });
    card.querySelector("canvas.map").focus({ preventScroll: true });
  });
  return {
    showTrace(model, trace, colormap) {
      if (model !== view.model) {
        view.model = model;
        view.layers = model.layers();
        view.chosen = new Set(view.layers.map((l) => l.name));
        el.nav.replaceChildren(...navigatorRows(view.layers));
      }
      Object.assign(view, { trace, colormap });
      return render();
    },
  };
}

/** The navigator's rows: a layer, or a block (a `<details>` with a checkbox for all its layers). */
function navigatorRows(layers) {
  const row = (layer) => {
    const item = document.createElement("div");
    item.className = "nav-layer";
    item.dataset.navLayer = layer.name;
    item.dataset.search = `${layer.name} ${layer.op}`.toLowerCase();
    const check = document.createElement("input");
    check.type = "checkbox";
    check.setAttribute("aria-label", `draw ${layer.name}`);
    const jump = document.createElement("button");
    jump.type = "button";
    jump.dataset.jump = layer.name;
    jump.textContent = layer.name;
    jump.title = `${layer.op} · ${layer.outputShape.join("×")}: go to its activations`;
    item.append(check, jump);
    return item;
  };
  return groupLayers(layers).map((group) => {
    if (group.block === null) return row(group.layers[0]);
    const box = document.createElement("details");
    box.className = "nav-block";
    box.dataset.navBlock = group.block;
    const summary = document.createElement("summary");
    const check = document.createElement("input");
    check.type = "checkbox";
    check.dataset.block = group.block;
    check.setAttribute("aria-label", `draw every layer of ${group.block}`);
    summary.append(check, ` ${group.block} `);
    const count = document.createElement("span");
    count.className = "muted";
    count.textContent = `(${group.layers.length})`;
    summary.append(count);
    box.append(summary, ...group.layers.map(row));
    return box;
  });
}

function renderActivations(container, hoverInfo, view, layers) {
  const { trace, colormap } = view;
  const values = new Map();
  const cards = [];
  const lazy = layers.length > EAGER_LAYERS;
  const drawn = []; // { bar, layout } of the cards drawn now
  const drawCard = (card, layer, map, bar) => {
    const layout = trace.draw(layer.name, map, { colormap, sample: 0 });
    map.style.width = `${map.width * CELL_PX}px`;
    bar.setAttribute("aria-label", `Colour scale of layer ${layer.name}: ${fmt(layout.min)} to ${fmt(layout.max)}`);
    card.layout = layout;
    return layout;
  };
  const pending = new Map(); // card → draw it
  if (lazy) {
    view.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting || !pending.has(entry.target)) continue;
        const draw = pending.get(entry.target);
        pending.delete(entry.target);
        view.observer.unobserve(entry.target);
        draw();
      }
    }, { rootMargin: "600px 0px" });
  }
  for (const layer of layers) {
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
    const bar = document.createElement("canvas");
    bar.className = "colorbar";
    body.append(map, bar);
    card.append(header, body);
    cards.push(card);
    if (lazy) {
      card.dataset.drawn = "false";
      pending.set(card, () => {
        const layout = drawCard(card, layer, map, bar);
        sizeCanvasForCss(bar);
        drawColorbar(bar, colormap, layout.min, layout.max);
        card.dataset.drawn = "true";
      });
    } else {
      drawn.push({ bar, layout: drawCard(card, layer, map, bar) });
      card.dataset.drawn = "true";
    }

    const cursor = { x: 0, y: 0 };
    const show = (px, py) => {
      const cell = card.layout?.locate(px, py);
      if (!cell) return;
      if (!values.has(layer.name)) values.set(layer.name, trace.get(layer.name));
      const value = values.get(layer.name)[cell.index];
      const where = card.layout.kind === "grid"
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
    map.addEventListener("focus", () => {
      if (pending.has(card)) { pending.get(card)(); pending.delete(card); }
      show(cursor.x, cursor.y);
    });
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
  for (const card of pending.keys()) view.observer.observe(card);
  // The colorbars are measured in one layout, then drawn at their CSS size (measuring after each
  // card would lay the page out once per layer).
  return () => {
    const rects = drawn.map(({ bar }) => bar.getBoundingClientRect());
    drawn.forEach(({ bar, layout }, i) => {
      sizeCanvasForCss(bar, rects[i]);
      drawColorbar(bar, colormap, layout.min, layout.max);
    });
  };
}

function fmt(v) {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(3);
}
