// The PCA of a hidden layer's activations over the test set (worker.js, snapshot.pca), one point
// per test sample coloured by its class (regression: all one colour), with the variance the two
// components explain.
import { drawScatter } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "../app/canvas.js";

/** `createPcaView(canvas, info)` -> `{ setClasses(classes), update(snapshot) }`: `classes` a
 * Uint8Array with the test samples' classes. */
export function createPcaView(canvas, info) {
  let classes = new Uint8Array(0);
  return {
    setClasses(next) {
      classes = next;
    },
    update(snapshot) {
      const { pca } = snapshot;
      canvas.hidden = !pca;
      if (!pca) {
        info.textContent = "choose a hidden layer of at least 2 units";
        return;
      }
      sizeCanvasForCss(canvas);
      const colours = classes.length * 2 === pca.points.length ? classes : new Uint8Array(pca.points.length / 2);
      drawScatter(canvas, pca.points, colours, `${pca.layer} at step ${snapshot.step}`);
      info.textContent = `the two components hold ${(100 * (pca.explained[0] + pca.explained[1])).toFixed(1)}% of the variance`;
    },
  };
}
