// Canvas helpers: charts drawn by plotters must have a backing store of CSS size times
// devicePixelRatio to stay sharp on HiDPI screens. `rect`: the canvas's measured box, when the
// caller measured several canvases in one layout.
export function sizeCanvasForCss(canvas, rect = canvas.getBoundingClientRect()) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(rect.width * ratio));
  canvas.height = Math.max(1, Math.round(rect.height * ratio));
}
