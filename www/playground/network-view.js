// The network diagram (TensorFlow Playground's picture): one column per layer, from the feature
// inputs through the hidden layers to the output; each neuron drawn as its output over the input
// plane (worker.js: snapshot.grid.units, the feature maps for the inputs, snapshot.grid.surface
// for the output), each link as wide as its weight's size and coloured by its sign (blue
// positive, orange negative). Layers wider than a column can show are drawn with smaller
// neurons; at most MAX_LINKS links per pair of layers are drawn, the largest weights first.
import { drawHeatmap } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "../app/canvas.js";

const MAX_LINKS = 1500;

/** The unit `j` of `u` units of sample-major values as its own map. */
function column(values, units, j) {
  const rows = values.length / units;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = values[r * units + j];
  return out;
}

/** The indices of the `limit` largest magnitudes of `weights` (all of them when there are fewer). */
function strongest(weights, limit) {
  const order = Array.from(weights.keys());
  if (order.length <= limit) return order;
  return order.sort((a, b) => Math.abs(weights[b]) - Math.abs(weights[a])).slice(0, limit);
}

/**
 * `createNetworkView(canvas)` -> `{ setNetwork(network), update(snapshot) }`. `network`:
 * `{ sizes: [inputs, hidden..., outputs], features: [{ name, map }], range: [min, max], readout }`
 * (the feature maps over the grid, the output's colour range, worker.js's readout), or null to
 * leave the view empty.
 * The parameters are read as dense layers' weight `[out, in]` then bias, layer after layer.
 */
export function createNetworkView(canvas) {
  const heat = document.createElement("canvas");
  let network = null;
  const drawMap = (ctx, values, size, x, y, side, range) => {
    drawHeatmap(heat, values, [size, size], range ? { colormap: "rdbu", min: range[0], max: range[1] } : { colormap: "rdbu" });
    ctx.drawImage(heat, x, y, side, side);
    ctx.strokeRect(x, y, side, side);
  };
  return {
    setNetwork(next) {
      network = next;
    },
    update(snapshot) {
      const { grid, parameters } = snapshot;
      if (!network || !grid) return;
      sizeCanvasForCss(canvas);
      const ctx = canvas.getContext("2d");
      const { width, height } = canvas;
      const ratio = window.devicePixelRatio || 1;
      // The output column is one neuron, the readout: for two logits their difference, whose
      // incoming weights are the difference of the two units' weights.
      const collapsed = network.readout === "softmax2";
      const sizes = collapsed ? [...network.sizes.slice(0, -1), 1] : network.sizes;
      const columns = sizes.length;
      const gap = width / columns;
      const side = Math.min(44 * ratio, gap * 0.45, ...sizes.map((n) => (height / n) * 0.8));
      const place = (c, i) => ({ x: gap * (c + 0.5) - side / 2, y: (height / sizes[c]) * (i + 0.5) - side / 2 });
      ctx.clearRect(0, 0, width, height);
      // Links under the neurons.
      let offset = 0;
      for (let c = 0; c + 1 < columns; c++) {
        const [inputs, outputs] = [network.sizes[c], network.sizes[c + 1]];
        let weights = parameters.subarray(offset, offset + inputs * outputs);
        offset += inputs * outputs + outputs;
        if (collapsed && c + 2 === columns) weights = weights.subarray(inputs).map((w, i) => w - weights[i]);
        let largest = 0;
        for (const w of weights) largest = Math.max(largest, Math.abs(w));
        for (const k of strongest(weights, MAX_LINKS)) {
          const w = weights[k];
          const [j, i] = [Math.floor(k / inputs), k % inputs];
          const from = place(c, i);
          const to = place(c + 1, j);
          ctx.strokeStyle = w >= 0 ? "rgba(33, 102, 172, 0.75)" : "rgba(230, 97, 1, 0.75)";
          ctx.lineWidth = Math.max(0.3, (Math.abs(w) / (largest || 1)) * 5) * ratio;
          ctx.beginPath();
          ctx.moveTo(from.x + side, from.y + side / 2);
          ctx.bezierCurveTo(from.x + side + gap / 3, from.y + side / 2, to.x - gap / 3, to.y + side / 2, to.x, to.y + side / 2);
          ctx.stroke();
        }
      }
      ctx.strokeStyle = "#888";
      ctx.lineWidth = ratio;
      ctx.imageSmoothingEnabled = true;
      network.features.forEach(({ map }, i) => {
        const { x, y } = place(0, i);
        drawMap(ctx, map, grid.size, x, y, side, null);
      });
      grid.units.forEach((values, layer) => {
        const units = sizes[layer + 1];
        for (let j = 0; j < units; j++) {
          const { x, y } = place(layer + 1, j);
          drawMap(ctx, column(values, units, j), grid.size, x, y, side, null);
        }
      });
      const out = place(columns - 1, 0);
      drawMap(ctx, grid.surface, grid.size, out.x, out.y, side, network.range);
      ctx.fillStyle = "#1d1f23";
      ctx.font = `${11 * ratio}px sans-serif`;
      ctx.textAlign = "right";
      network.features.forEach(({ name }, i) => {
        const { x, y } = place(0, i);
        ctx.fillText(name, x - 3 * ratio, y + side / 2 + 4 * ratio);
      });
    },
  };
}
