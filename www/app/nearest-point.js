// Hover read-out for scatter plots: finds the point nearest the pointer, measured in CSS pixels on
// the plot (the axes may have different scales), within a small reach.
const REACH_PX = 6;

/**
 * Calls `onPoint(i)` whenever the pointer moves within REACH_PX CSS pixels of a point of a scatter
 * drawn on `canvas`; `area` is the plot area drawScatter returned and `points` the plotted
 * `[x0, y0, x1, y1, ...]`, in data units. Replaces the canvas's previous hover read-out.
 */
export function onNearestPoint(canvas, area, points, onPoint) {
  canvas.onmousemove = (event) => {
    const rect = canvas.getBoundingClientRect();
    const [x, y] = area.toData(event.clientX - rect.left, event.clientY - rect.top);
    const [ux, uy] = area.unitsPerPixel();
    let best = -1, bestSquared = REACH_PX * REACH_PX;
    for (let i = 0; i < points.length / 2; i++) {
      const squared = ((points[2 * i] - x) / ux) ** 2 + ((points[2 * i + 1] - y) / uy) ** 2;
      if (squared < bestSquared) { bestSquared = squared; best = i; }
    }
    if (best >= 0) onPoint(best);
  };
}
