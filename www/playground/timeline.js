// The timeline: the snapshots the page keeps to scrub back to (worker.js documents a snapshot),
// in bounded memory. It holds at most MAX_SNAPSHOTS snapshots and at most MAX_BYTES of their typed
// arrays; when either bound would be passed it drops every other snapshot (the first kept) and
// from then on keeps only every other update, so the kept snapshots stay evenly spaced in updates
// and their count stays between half the bound and the bound. The curves keep one point per
// update, at most MAX_POINTS, thinned the same way.
export const MAX_SNAPSHOTS = 200;
export const MAX_BYTES = 32 * 1024 * 1024;
export const MAX_POINTS = 4000;

/** The bytes of a snapshot's typed arrays. */
export function snapshotBytes(snapshot) {
  let bytes = snapshot.parameters.byteLength;
  if (snapshot.grid) bytes += snapshot.grid.surface.byteLength + snapshot.grid.units.reduce((sum, u) => sum + u.byteLength, 0);
  if (snapshot.pca) bytes += snapshot.pca.points.byteLength;
  return bytes;
}

/** A list that keeps every `stride`-th item offered and halves itself (doubling the stride) when
 * `full(items, next)` says the next item would not fit. */
function thinningList(full) {
  let items = [];
  let stride = 1;
  let offered = 0;
  return {
    get items() { return items; },
    offer(item) {
      const index = offered++;
      if (index % stride !== 0) return false;
      while (items.length && full(items, item)) {
        items = items.filter((_, i) => i % 2 === 0);
        stride *= 2;
        if (index % stride !== 0) return false;
      }
      items.push(item);
      return true;
    },
    clear() {
      items = [];
      stride = 1;
      offered = 0;
    },
  };
}

/**
 * A new timeline: `add(snapshot)` records an update (its curve point always, the snapshot if its
 * turn has come), `snapshots` lists the kept snapshots oldest first, `points` the curve points
 * `{ step, train, test, batchLoss }`, `bytes` what the kept snapshots hold, `clear()` starts over.
 */
export function createTimeline() {
  const bytesOf = (items) => items.reduce((sum, s) => sum + snapshotBytes(s), 0);
  const snapshots = thinningList((items, next) => items.length >= MAX_SNAPSHOTS || bytesOf(items) + snapshotBytes(next) > MAX_BYTES);
  const points = thinningList((items) => items.length >= MAX_POINTS);
  return {
    get snapshots() { return snapshots.items; },
    get points() { return points.items; },
    get bytes() { return bytesOf(snapshots.items); },
    add(snapshot) {
      const { step, train, test, batchLoss } = snapshot;
      points.offer({ step, train, test, batchLoss });
      return snapshots.offer(snapshot);
    },
    clear() {
      snapshots.clear();
      points.clear();
    },
  };
}
