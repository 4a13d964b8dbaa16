// The output over the input plane: the model's readout at every grid point (worker.js,
// snapshot.grid.surface) as a heatmap in nnlens's diverging rdbu map (negative blue, positive
// red: class 0 blue, class 1 red; for regression over the targets' range), with the training
// points (and optionally the test points, outlined in black) on top in the same colours.
import { drawHeatmap } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "../app/canvas.js";

/** The colour of a value in [-1, 1]: blue through white to red, as rdbu's ends. */
function pointColour(value) {
  const t = Math.min(Math.max(value, -1), 1);
  const mix = (a, b, f) => Math.round(a + (b - a) * f);
  const [r, g, b] = t < 0 ? [mix(247, 33, -t), mix(247, 102, -t), mix(247, 172, -t)] : [mix(247, 178, t), mix(247, 24, t), mix(247, 43, t)];
  return `rgb(${r}, ${g}, ${b})`;
}

/**
 * `createBoundaryView(canvas)` -> `{ setData(plane), update(snapshot, showTest) }`. `plane`:
 * `{ extent, range: [min, max], train: { points, values }, test: { points, values } }`, points
 * `[n, 2]` in data coordinates (the grid spans `[-extent, extent]` on both axes) and values the
 * class (−1 or +1) or target of each, mapped to colours through `range`.
 */
export function createBoundaryView(canvas) {
  const heat = document.createElement("canvas");
  let plane = null;
  return {
    setData(next) {
      plane = next;
    },
    update(snapshot, showTest) {
      const { grid } = snapshot;
      if (!grid || !plane) return;
      const [min, max] = plane.range;
      drawHeatmap(heat, grid.surface, [grid.size, grid.size], { colormap: "rdbu", min, max });
      sizeCanvasForCss(canvas);
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heat, 0, 0, canvas.width, canvas.height);
      const ratio = window.devicePixelRatio || 1;
      const scale = (v, size) => ((v + plane.extent) / (2 * plane.extent)) * size;
      const radius = 3.5 * ratio;
      const drawSet = ({ points, values }, outline) => {
        ctx.lineWidth = ratio;
        ctx.strokeStyle = outline;
        for (let i = 0; i < values.length; i++) {
          const x = scale(points[2 * i], canvas.width);
          const y = canvas.height - scale(points[2 * i + 1], canvas.height);
          ctx.beginPath();
          ctx.arc(x, y, radius, 0, 2 * Math.PI);
          ctx.fillStyle = pointColour(-1 + (2 * (values[i] - min)) / (max - min));
          ctx.fill();
          ctx.stroke();
        }
      };
      drawSet(plane.train, "#fff");
      if (showTest) drawSet(plane.test, "#000");
    },
  };
}
