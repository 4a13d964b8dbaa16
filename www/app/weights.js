// Per-layer weight views: conv filters as a grid of kernel images, dense weight matrices as one
// heatmap (row = output unit, column = input), both on a diverging scale centred at zero, and a
// histogram of all of the layer's weights.
import { drawColorbar, drawHeatmap, drawHistogram } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";

export function weightLayers(model) {
  return model.layers().filter((l) => l.params > 0).map((l) => l.name);
}

export function renderWeights(elements, model, layerName, hoverInfo) {
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
  drawHistogram(elements.histogram, values, 40, `${layerName}.${weight.name}: ${values.length.toLocaleString("en")} values`);
}
