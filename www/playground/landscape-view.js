// The weight trajectory on the loss landscape (Li et al. 2018, as the explorer's training panel):
// the timeline's snapshots projected on the plane of their two principal directions, over the
// test loss on a 15 × 15 grid of that plane (cross-entropy: classifiers only). The worker
// computes it from the snapshots the page sends; the page asks again when the timeline has grown
// (at most every REFRESH_MS while training runs).
import { drawLandscape } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "../app/canvas.js";

export const REFRESH_MS = 3000;

/** `createLandscapeView(canvas, info)` -> `{ clear(note), show(result, steps), update(shown) }`:
 * `result` the worker's landscape of the snapshots at `steps`, `shown` the snapshot the page shows
 * (marked on the path when it is one of them). */
export function createLandscapeView(canvas, info) {
  let landscape = null;
  return {
    /** Forgets the landscape and shows `note` instead. */
    clear(note) {
      landscape = null;
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      info.textContent = note;
    },
    show(result, steps) {
      landscape = { result, steps };
    },
    update(shown) {
      if (!landscape) return;
      const { result, steps } = landscape;
      const marked = steps.indexOf(shown.step);
      sizeCanvasForCss(canvas);
      drawLandscape(canvas, result.surface, result.alphas, result.betas, result.coordinates, {
        ...(marked >= 0 ? { marked } : {}), levels: 8, title: `test loss over the trajectory's plane (steps 0 to ${steps.at(-1)})`,
      });
      const [r1, r2] = result.explained;
      info.textContent = `${steps.length} snapshots · the plane holds ${(100 * (r1 + r2)).toFixed(1)}% of the path's variance`;
    },
  };
}
