// The attention panel, for vision transformers: per layer and head (or their mean), how much the
// query token attends to each image patch, drawn as a map over the input; the query is the cls
// token, or the patch under the pointer. With "rollout", the map is attention rollout's cls row
// (Abnar & Zuidema 2020). Shown only for models with attention layers over a square patch grid.
import { attentionRollout, drawColorbar, drawHeatmap } from "../pkg/nnlens.js";
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

/**
 * Wires the panel. Returns `{ showModel(model), showInput(values, plane) }`: a model with
 * attention layers over a patch grid shows the panel and fills the layer and head choices; a new
 * input recomputes the maps (one forward pass).
 */
export function setupAttention() {
  const el = {};
  for (const key of ["panel", "layer", "head", "rollout", "status", "input", "map", "colorbar"]) el[key] = $(`attention-${key}`);
  const state = { model: null, maps: null, values: null, plane: null, grid: null, query: null };

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
    el.map.setAttribute("aria-label", what);
    sizeCanvasForCss(el.colorbar);
    drawColorbar(el.colorbar, "magma", 0, max);
    el.status.textContent = what;
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
      Object.assign(state, { maps, values, plane, grid });
      el.panel.hidden = false;
      draw();
    },
  };
}
