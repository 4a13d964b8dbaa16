// The training panel: trains the built-in MLP's architecture from a seeded initialisation on
// the page's digits in the worker (SGD, PyTorch semantics), drawing the loss curve live; then
// shows the weight trajectory on the plane of its two principal directions over the held-out
// loss on that plane (Li et al. 2018), with a slider to scrub through the snapshots.
// Charts are drawn here on the main thread; the worker only computes.
import { drawLandscape, drawLineChart } from "../pkg/nnlens.js";
import { sizeCanvasForCss } from "./canvas.js";
import { runInWorker, cancelTask } from "./worker-client.js";

const TRAIN_SAMPLES = 1600; // digits 0..1599 train; the held-out set follows them
const HELD_OUT = 200; // snapshots and the loss surface are evaluated on these
const SNAPSHOT_EVERY = 10;
const GRID_STEPS = 15;
const BATCH_SIZE = 32;
const DEFAULTS = { steps: "300", lr: "0.05", momentum: "0.9", seed: "1" };

const $ = (id) => document.getElementById(id);
let settings = { ...DEFAULTS };
let run = null; // { curve: { steps, losses }, evaluations: [[step, loss]], result }

/**
 * Wires the panel. `saved`: the settings read from the URL hash (its training section); `onChange`
 * saves the hash, `onError` shows an error in the page. Returns `{ hashState() }`, the settings
 * for the hash.
 */
export function setupTraining({ digits, base, saved, onChange, onError }) {
  for (const key of Object.keys(DEFAULTS)) {
    const control = $(`training-${key}`);
    if (saved[key] !== undefined && [...(control.options ?? [])].some((o) => o.value === saved[key])) control.value = saved[key];
    else if (saved[key] !== undefined && control.type === "number") control.value = String(Math.max(0, Number.parseInt(saved[key], 10) || 0));
    settings[key] = control.value;
    control.addEventListener("change", () => { settings[key] = control.value; onChange(); });
  }
  $("training-run").addEventListener("click", () => {
    train(digits, base).catch((error) => {
      $("training-cancel").hidden = true;
      $("training-run").disabled = false;
      const cancelled = error?.name === "AbortError";
      $("training-panel").dataset.state = cancelled ? "cancelled" : "failed";
      $("training-status").textContent = cancelled ? "cancelled" : "training failed";
      if (!cancelled) onError(error);
    });
  });
  $("training-cancel").addEventListener("click", () => cancelTask("train"));
  $("training-snapshot").addEventListener("input", () => {
    try {
      drawSnapshot();
    } catch (error) {
      onError(error);
    }
  });
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      try {
        if (run) drawCurve();
        if (run?.result) drawSnapshot();
      } catch (error) {
        onError(error);
      }
    }, 150);
  });
  return { hashState: () => ({ ...settings }) };
}

/** The built-in MLP's architecture with a seeded initialisation instead of its trained weights, as
 * a model source for the worker. */
async function seededMlp(base, seed) {
  const response = await fetch(new URL("models/mlp.json", base));
  if (!response.ok) throw new Error(`built-in model 'mlp' not found (HTTP ${response.status})`);
  const doc = await response.json();
  delete doc.weights;
  return { format: "json", source: JSON.stringify({ ...doc, seed }) };
}

function dataset(digits, start, count) {
  const inputs = new Float32Array(count * 784);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    inputs.set(digits.image(start + i), i * 784);
    labels[i] = digits.label(start + i);
  }
  return { inputs, labels };
}

async function train(digits, base) {
  const panel = $("training-panel");
  const status = $("training-status");
  const progress = $("training-progress");
  const slider = $("training-snapshot");
  $("training-run").disabled = true;
  $("training-cancel").hidden = false;
  slider.disabled = true;
  panel.dataset.state = "training";
  const steps = Number(settings.steps);
  const options = {
    learningRate: Number(settings.lr), momentum: Number(settings.momentum), batchSize: BATCH_SIZE,
    seed: Number.parseInt(settings.seed, 10) || 0,
  };
  const trainSet = dataset(digits, 0, Math.min(TRAIN_SAMPLES, digits.count - HELD_OUT));
  const heldOut = dataset(digits, digits.count - HELD_OUT, HELD_OUT);
  run = { curve: { steps: [], losses: [] }, evaluations: [], result: null };
  progress.hidden = false;
  progress.value = 0;
  status.textContent = "training…";
  let frame = 0;
  const started = performance.now();
  const result = await runInWorker({
    kind: "train", model: await seededMlp(base, options.seed), inputs: trainSet.inputs, labels: trainSet.labels,
    heldOut: heldOut.inputs, heldOutLabels: heldOut.labels, options, steps, every: SNAPSHOT_EVERY, gridSteps: GRID_STEPS,
  }, (done, total, stage, message) => {
    progress.max = total;
    progress.value = done;
    if (stage === "train") {
      const first = run.curve.steps.length;
      message.losses.forEach((loss, i) => { run.curve.steps.push(first + i + 1); run.curve.losses.push(loss); });
      run.evaluations.push([done, message.evaluation.loss]);
      const batchAccuracy = message.accuracies.length ? message.accuracies.at(-1) : null;
      status.textContent = `step ${done} / ${total} · held-out loss ${message.evaluation.loss.toFixed(3)}, ` +
        `accuracy ${(100 * message.evaluation.accuracy).toFixed(1)}%` +
        (batchAccuracy === null ? "" : ` · batch accuracy ${(100 * batchAccuracy).toFixed(0)}%`);
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(drawCurve);
    } else {
      status.textContent = `loss surface: ${done} / ${total} grid points`;
    }
  }, [trainSet.inputs.buffer, heldOut.inputs.buffer]);
  cancelAnimationFrame(frame);
  $("training-cancel").hidden = true;
  run.result = result;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const [r1, r2] = result.explained;
  status.textContent = `done: ${steps} steps in ${seconds} s · final held-out loss ${result.losses.at(-1).toFixed(3)}, ` +
    `accuracy ${(100 * result.accuracies.at(-1)).toFixed(1)}% · the plane holds ${(100 * (r1 + r2)).toFixed(1)}% of the path's variance`;
  progress.value = progress.max;
  slider.max = String(result.steps.length - 1);
  slider.value = slider.max;
  slider.disabled = false;
  $("training-run").disabled = false;
  drawCurve();
  drawSnapshot();
  panel.dataset.state = "done";
}

/** The loss curve: the loss of every minibatch and the held-out loss of every snapshot. */
function drawCurve() {
  const canvas = $("training-curve");
  sizeCanvasForCss(canvas);
  const batch = new Float32Array(run.curve.steps.length * 2);
  run.curve.steps.forEach((step, i) => { batch[2 * i] = step; batch[2 * i + 1] = run.curve.losses[i]; });
  const names = ["minibatch loss", "held-out loss"];
  const series = [batch, Float32Array.from(run.evaluations.flat())];
  if (run.result) {
    const k = Number($("training-snapshot").value);
    names.push("selected snapshot");
    series.push(Float32Array.of(run.result.steps[k], run.result.losses[k]));
  }
  drawLineChart(canvas, names, series, "training loss (cross-entropy) by step");
}

/** The landscape with the chosen snapshot marked, and its step and loss. */
function drawSnapshot() {
  const { result } = run;
  const k = Number($("training-snapshot").value);
  const canvas = $("training-landscape");
  sizeCanvasForCss(canvas);
  drawLandscape(canvas, result.surface, result.alphas, result.betas, result.coordinates, {
    marked: k, levels: 8, colormap: $("colormap-select")?.value ?? "viridis",
    title: `held-out loss on the plane of the trajectory (${HELD_OUT} digits)`,
  });
  const text = `snapshot ${k} of ${result.steps.length - 1}: step ${result.steps[k]}, held-out loss ` +
    `${result.losses[k].toFixed(3)}, accuracy ${(100 * result.accuracies[k]).toFixed(1)}%`;
  $("training-snapshot-info").textContent = text;
  $("training-snapshot").setAttribute("aria-valuetext", text);
  drawCurve();
}
