// The loss and accuracy curves: the training and test sets' loss (and accuracy, for a classifier)
// at every update the timeline keeps, the minibatches' mean loss between updates, and the chosen
// snapshot marked.
import { drawLineChart } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "../app/canvas.js";

const series = (points, value) => {
  const out = new Float32Array(points.length * 2);
  let n = 0;
  for (const point of points) {
    const y = value(point);
    if (y === null || y === undefined || !Number.isFinite(y)) continue;
    out[n++] = point.step;
    out[n++] = y;
  }
  return out.subarray(0, n);
};

/** `createCurvesView(lossCanvas, accuracyCanvas)` -> `{ update(points, marked, lossName) }`: `points`
 * the timeline's curve points `{ step, train, test, batchLoss }`, `marked` the shown snapshot (or
 * null), `lossName` the loss's name for the title. The accuracy chart hides for a regression loss. */
export function createCurvesView(lossCanvas, accuracyCanvas) {
  return {
    update(points, marked, lossName) {
      if (!points.length) return;
      const markedPoint = (value) => (marked ? [Float32Array.of(marked.step, value(marked))] : []);
      sizeCanvasForCss(lossCanvas);
      drawLineChart(lossCanvas, ["train", "test", "minibatches", ...(marked ? ["shown"] : [])], [
        series(points, (p) => p.train.loss), series(points, (p) => p.test.loss), series(points, (p) => p.batchLoss),
        ...markedPoint((s) => s.test.loss),
      ], `loss (${lossName}) by step`);
      const classifier = points[0].train.accuracy !== null;
      accuracyCanvas.hidden = !classifier;
      if (!classifier) return;
      sizeCanvasForCss(accuracyCanvas);
      drawLineChart(accuracyCanvas, ["train", "test", ...(marked ? ["shown"] : [])], [
        series(points, (p) => p.train.accuracy), series(points, (p) => p.test.accuracy), ...markedPoint((s) => s.test.accuracy),
      ], "accuracy by step");
    },
  };
}
