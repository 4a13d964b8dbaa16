// Per-layer weight views: conv filters as a grid of kernel images, dense weight matrices as one
// heatmap (row = output unit, column = input), both on a diverging scale centred at zero, and a
// histogram of all of the layer's weights, and the PCA of the weight rows: every unit's (or
// filter's) incoming weights as one point, so similar neurons sit together.
import { drawColorbar, drawHeatmap, drawHistogram, drawScatter, weightRowsPca } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";
import { groupThousands } from "./format.js";
import { onNearestPoint } from "./nearest-point.js";

const $ = (id) => document.getElementById(id);

/**
 * Wires the panel. `saved`: the weights section of the URL hash (`{ layer }`); `hoverInfo`: the
 * element that reads out the value under the pointer; `guard` wraps an event handler to show its
 * errors in the page, `onChange` saves the hash. Returns `{ showModel(model), hashState() }`: a new
 * model fills the layer choice (the panel hides for a model without parameters) and draws the views.
 */
export function setupWeights({ saved, hoverInfo, guard, onChange }) {
  const select = $("weights-layer");
  const elements = { map: $("weights-map"), colorbar: $("weights-colorbar"), histogram: $("weights-histogram"), caption: $("weights-caption") };
  const state = { model: null, layer: saved.layer ?? null };
  const draw = () => {
    renderWeights(elements, state.model, state.layer, hoverInfo);
    renderWeightRowsPca($("weights-pca"), $("weights-pca-info"), state.model, state.layer);
  };
  select.addEventListener("change", guard(() => {
    state.layer = select.value;
    draw();
    onChange();
  }));
  return {
    showModel(model) {
      state.model = model;
      const names = model.layers().filter((l) => l.params > 0).map((l) => l.name);
      select.replaceChildren(...names.map((n) => new Option(n, n)));
      if (!names.includes(state.layer)) state.layer = names[0] ?? null;
      $("weights-panel").hidden = !names.length;
      if (state.layer) {
        select.value = state.layer;
        draw();
      }
    },
    hashState: () => ({ layer: state.layer }),
  };
}

function renderWeights(elements, model, layerName, hoverInfo) {
  const params = model.parameters(layerName);
  const weight = params.find((p) => p.name === "weight") ?? params[0];
  if (!weight) throw new Error(`layer '${layerName}' has no parameters to show`);
  const { shape, values } = weight;
  const viewShape = shape.length === 4 ? [shape[0] * shape[1], shape[2], shape[3]]
    : shape.length === 2 ? shape : [values.length];
  const layout = drawHeatmap(elements.map, values, viewShape, { colormap: "rdbu" });
  const scale = shape.length === 4 ? Math.max(4, Math.floor(240 / Math.max(layout.kind === "grid" ? elements.map.width : 1, 1)))
    : Math.max(1, Math.min(4, Math.floor(720 / elements.map.width)));
  elements.map.style.width = `${elements.map.width * scale}px`;
  elements.caption.textContent = shape.length === 4
    ? `${shape[0]} filters × ${shape[1]} input channels, ${shape[2]}×${shape[3]} kernels (one tile per filter and input channel)`
    : shape.length === 2 ? `${shape[0]} output units (rows) × ${shape[1]} inputs (columns)` : `${values.length} values`;
  elements.map.onmousemove = (event) => {
    const rect = elements.map.getBoundingClientRect();
    const px = Math.floor(((event.clientX - rect.left) / rect.width) * elements.map.width);
    const py = Math.floor(((event.clientY - rect.top) / rect.height) * elements.map.height);
    const cell = layout.locate(px, py);
    if (!cell) return;
    const where = shape.length === 4
      ? `filter ${Math.floor(cell.channel / shape[1])}, channel ${cell.channel % shape[1]}, y ${cell.y}, x ${cell.x}`
      : shape.length === 2 ? `unit ${cell.y}, input ${cell.x}` : `index ${cell.index}`;
    hoverInfo.textContent = `${layerName}.${weight.name}: ${where} = ${values[cell.index].toFixed(4)}`;
  };
  sizeCanvasForCss(elements.colorbar);
  drawColorbar(elements.colorbar, "rdbu", layout.min, layout.max);
  sizeCanvasForCss(elements.histogram);
  drawHistogram(elements.histogram, values, 40, `${layerName}.${weight.name}: ${groupThousands(values.length)} values`);
}

/** PCA of the weight rows of a layer with at least two units/filters and two inputs each. */
function renderWeightRowsPca(canvas, info, model, layerName) {
  const weight = model.parameters(layerName).find((p) => p.name === "weight");
  const rows = weight?.shape[0] ?? 0;
  const cols = weight ? weight.values.length / rows : 0;
  canvas.hidden = rows < 3 || cols < 2;
  if (canvas.hidden) {
    info.textContent = `${layerName}: too few units for a PCA of its weight rows`;
    return;
  }
  const fit = weightRowsPca(model, layerName, { components: 2 });
  const points = fit.transformed;
  sizeCanvasForCss(canvas);
  const area = drawScatter(canvas, points, new Uint8Array(rows), `${layerName}: PCA of ${rows} weight rows (${cols} inputs each)`);
  const [r1, r2] = fit.explainedVarianceRatio;
  info.textContent = `explained variance ${(100 * r1).toFixed(1)}% + ${(100 * r2).toFixed(1)}%; hover a point for its unit`;
  onNearestPoint(canvas, area, points, (best) => {
    info.textContent = `${layerName}: ${weight.shape.length === 4 ? "filter" : "unit"} ${best} at (${points[2 * best].toFixed(3)}, ${points[2 * best + 1].toFixed(3)})`;
  });
}
