// The Playground's timeline (www/playground/timeline.js) keeps its memory bound: at most
// MAX_SNAPSHOTS snapshots and MAX_BYTES of their arrays, thinned by halving into evenly spaced
// updates, the first kept; the curve points likewise at most MAX_POINTS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTimeline, snapshotBytes, MAX_SNAPSHOTS, MAX_BYTES, MAX_POINTS } from "../../www/playground/timeline.js";

/** A snapshot of update `i` with `params` parameters and, if `units` > 0, a 50 × 50 grid. */
function snapshot(i, params, units = 0) {
  return {
    step: 10 * i, train: { loss: 1 / (i + 1), accuracy: 0.5 }, test: { loss: 1 / (i + 1), accuracy: 0.5 }, batchLoss: null,
    parameters: new Float32Array(params),
    grid: units ? { size: 50, surface: new Float32Array(2500), units: [new Float32Array(2500 * units)] } : null,
    pca: null,
  };
}

/** The updates' indices of the kept snapshots. */
const updates = (timeline) => timeline.snapshots.map((s) => s.step / 10);

test("small snapshots are thinned by count into evenly spaced updates", () => {
  const timeline = createTimeline();
  for (let i = 0; i < MAX_SNAPSHOTS; i++) timeline.add(snapshot(i, 30));
  assert.deepEqual(updates(timeline), Array.from({ length: MAX_SNAPSHOTS }, (_, i) => i), "nothing dropped up to the bound");
  timeline.add(snapshot(MAX_SNAPSHOTS, 30));
  assert.deepEqual(updates(timeline), Array.from({ length: MAX_SNAPSHOTS / 2 + 1 }, (_, i) => 2 * i), "halved, then update 200 kept");
  timeline.add(snapshot(MAX_SNAPSHOTS + 1, 30));
  assert.equal(updates(timeline).at(-1), MAX_SNAPSHOTS, "odd updates are skipped now");
  for (let i = MAX_SNAPSHOTS + 2; i < 5000; i++) timeline.add(snapshot(i, 30));
  const kept = updates(timeline);
  assert.ok(kept.length > MAX_SNAPSHOTS / 2 && kept.length <= MAX_SNAPSHOTS, `${kept.length} kept`);
  assert.equal(kept[0], 0, "the first snapshot stays");
  const gaps = new Set(kept.slice(1).map((u, i) => u - kept[i]));
  assert.deepEqual([...gaps], [32], "evenly spaced: every 32nd update of 5000");
  assert.equal(timeline.points.length, 5000 / 2, "points thinned once past 4000");
  assert.ok(timeline.points.length <= MAX_POINTS);
});

test("large snapshots are thinned by size", () => {
  const timeline = createTimeline();
  const one = snapshotBytes(snapshot(0, 100000, 8));
  assert.equal(one, 4 * (100000 + 2500 + 2500 * 8));
  for (let i = 0; i < 1000; i++) timeline.add(snapshot(i, 100000, 8));
  assert.ok(timeline.bytes <= MAX_BYTES, `${timeline.bytes} bytes`);
  assert.ok(timeline.snapshots.length >= Math.floor(MAX_BYTES / one / 2), `${timeline.snapshots.length} kept`);
  assert.ok(timeline.snapshots.length < MAX_SNAPSHOTS);
  timeline.clear();
  assert.deepEqual([timeline.snapshots.length, timeline.points.length, timeline.bytes], [0, 0, 0]);
  timeline.add(snapshot(0, 10));
  assert.deepEqual(updates(timeline), [0], "a cleared timeline keeps every update again");
});
