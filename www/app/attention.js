// The attention panel, for vision transformers: per layer and head (or their mean), how much the
// query token attends to each image patch, drawn as a map over the input; the query is the cls
// token, or the patch under the pointer. With "rollout", the map is attention rollout's cls row
// (Abnar & Zuidema 2020). Below, a block's patch embeddings over the grid: each patch token's
// norm, and its coordinate on the first principal component of the image's patch tokens (PCA).
// Shown only for models with attention layers over a square patch grid.
import { attentionRollout, drawColorbar, drawHeatmap, pca } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";

const $ = (id) => document.getElementById(id);

/**
 * The patch grid of an attention map over `tokens` tokens: `{ side, first }`, the first patch
 * token after a leading cls token when `tokens - 1` is a square, else all tokens when `tokens`
 * is; `null` for other token counts (text, or non-square grids).
 */
export function patchGrid(tokens) {
  const side = (n) => (Number.isInteger(Math.sqrt(n)) && n > 0 ? Math.sqrt(n) : 0);
  if (side(tokens - 1)) return { side: side(tokens - 1), first: 1 };
  if (side(tokens)) return { side: side(tokens), first: 0 };
  return null;
}

/** Row `query` of `map` (`{ shape: [heads, q, k], values }`) for head `head` (or the mean over
 * heads when `head` is `"mean"`), over the patch keys of `grid`. */
export function attentionRow(map, head, query, grid) {
  const [heads, queries, keys] = map.shape;
  const row = new Float32Array(grid.side * grid.side);
  const chosen = head === "mean" ? [...Array(heads).keys()] : [Number(head)];
  for (const h of chosen) {
    const start = (h * queries + query) * keys + grid.first;
    for (let k = 0; k < row.length; k++) row[k] += map.values[start + k] / chosen.length;
  }
  return row;
}

/** The input in grey with the attention map on top, each patch as opaque as its share of the
 * largest attention. */
function drawOverlay(overlay, input, map, row, max) {
  overlay.width = Math.max(input.width, 112);
  overlay.height = Math.max(input.height, 112);
  const ctx = overlay.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(input, 0, 0, overlay.width, overlay.height);
  const tinted = new OffscreenCanvas(map.width, map.height);
  const pixels = map.getContext("2d").getImageData(0, 0, map.width, map.height);
  for (let i = 0; i < row.length; i++) pixels.data[4 * i + 3] = Math.round(255 * Math.min(1, row[i] / max));
  tinted.getContext("2d").putImageData(pixels, 0, 0);
  ctx.globalAlpha = 0.8;
  ctx.drawImage(tinted, 0, 0, overlay.width, overlay.height);
  ctx.globalAlpha = 1;
}

/**
 * Wires the panel. Returns `{ showModel(model), showInput(values, plane) }`: a model with
 * attention layers over a patch grid shows the panel and fills the layer and head choices; a new
 * input recomputes the maps (one forward pass).
 */
export function setupAttention() {
  const el = {};
  for (const key of ["panel", "layer", "head", "rollout", "status", "input", "map", "overlay", "colorbar", "block", "norm", "pca", "tokens-status"]) el[key] = $(`attention-${key}`);
  const state = { model: null, maps: null, values: null, plane: null, grid: null, query: null, blocks: [] };
  // The overlay reads the map's pixels back: create its context for frequent reads first.
  el.map.getContext("2d", { willReadFrequently: true });

  function draw() {
    if (!state.maps) return;
    const { side, first } = state.grid;
    let row;
    let what;
    if (el.rollout.checked) {
      row = attentionRollout(state.model, state.values).values.slice(first);
      what = "attention rollout of the cls token";
    } else {
      const map = state.maps[Number(el.layer.value)];
      const query = state.query ?? 0;
      row = attentionRow(map, el.head.value, query, state.grid);
      const who = query === 0 && first === 1 ? "the cls token" : `patch ${query - first} (row ${Math.floor((query - first) / side)}, column ${(query - first) % side})`;
      const heads = el.head.value === "mean" ? "mean over heads" : `head ${el.head.value}`;
      what = `${map.layer}, ${heads}: attention of ${who}`;
    }
    const max = Math.max(...row, 1e-12);
    drawHeatmap(el.input, state.plane.values, state.plane.shape, { colormap: "greys", min: 0, max: 1 });
    drawHeatmap(el.map, row, [side, side], { colormap: "magma", min: 0, max });
    drawOverlay(el.overlay, el.input, el.map, row, max);
    el.map.setAttribute("aria-label", what);
    sizeCanvasForCss(el.colorbar);
    drawColorbar(el.colorbar, "magma", 0, max);
    el.status.textContent = what;
  }

  /** The chosen block's patch tokens: their norms and first principal component over the grid. */
  function drawTokens() {
    if (!state.blocks.length) return;
    const layer = el.block.value;
    const trace = state.model.trace(state.values);
    const tokens = trace.get(layer);
    trace.free();
    const { side, first } = state.grid;
    const patches = side * side;
    const dim = tokens.length / (patches + first);
    const rows = tokens.slice(first * dim);
    const norms = new Float32Array(patches);
    for (let p = 0; p < patches; p++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += rows[p * dim + d] ** 2;
      norms[p] = Math.sqrt(sum);
    }
    drawHeatmap(el.norm, norms, [side, side], { colormap: "viridis" });
    const fit = pca(rows, patches, dim, { components: 1 });
    drawHeatmap(el.pca, fit.transformed, [side, side], { colormap: "rdbu" });
    const ratio = fit.explainedVarianceRatio[0];
    fit.free();
    el["tokens-status"].textContent = `${layer}: ${patches} patch tokens of ${dim} values; the first component explains ${(100 * ratio).toFixed(0)}% of their variance`;
  }

  /** The patch under the pointer on the input picture as the query token. */
  function pointTo(event) {
    if (!state.grid) return;
    const box = el.input.getBoundingClientRect();
    const { side, first } = state.grid;
    const col = Math.min(side - 1, Math.max(0, Math.floor(((event.clientX - box.left) / box.width) * side)));
    const row = Math.min(side - 1, Math.max(0, Math.floor(((event.clientY - box.top) / box.height) * side)));
    state.query = first + row * side + col;
    draw();
  }

  el.input.addEventListener("pointermove", pointTo);
  el.input.addEventListener("pointerdown", pointTo);
  el.input.addEventListener("pointerleave", () => { state.query = null; draw(); });
  for (const control of [el.layer, el.head, el.rollout]) control.addEventListener("change", draw);
  el.block.addEventListener("change", drawTokens);

  return {
    showModel(model) {
      state.model = model;
      state.maps = null;
      state.grid = null;
      el.panel.hidden = true;
    },
    showInput(values, plane) {
      let maps;
      try {
        maps = state.model.attention(values);
      } catch {
        el.panel.hidden = true; // no attention layers: the panel stays hidden
        return;
      }
      const grid = patchGrid(maps[0].shape[2]);
      if (!grid || plane.shape.length !== 2) {
        el.panel.hidden = true;
        return;
      }
      const layers = maps.map((m, i) => `${i}:${m.layer}`).join();
      if (el.layer.dataset.layers !== layers) {
        el.layer.replaceChildren(...maps.map((m, i) => new Option(`${i + 1}: ${m.layer}`, String(i))));
        el.layer.dataset.layers = layers;
        el.head.replaceChildren(new Option("mean", "mean"), ...[...Array(maps[0].shape[0]).keys()].map((h) => new Option(`head ${h}`, String(h))));
      }
      const blocks = state.model.layers()
        .filter((l) => {
          const core = l.outputShape.slice(l.outputShape.findIndex((d) => d !== 1));
          return core.length === 2 && core[0] === grid.side * grid.side + grid.first;
        })
        .map((l) => l.name);
      if (el.block.dataset.layers !== blocks.join()) {
        el.block.replaceChildren(...blocks.map((n) => new Option(n, n)));
        el.block.dataset.layers = blocks.join();
      }
      Object.assign(state, { maps, values, plane, grid, blocks });
      el.panel.hidden = false;
      draw();
      drawTokens();
    },
  };
}
