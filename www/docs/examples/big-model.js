// The JavaScript half of big-model.html: reads the arrays that explain_big_model.py saved with
// loadSafetensors and loadNpy, and draws them with the package's drawing functions. Marks
// <body data-complete="true"> when done, or shows the error in the page.
import init, { displayMap, drawHeatmap, drawScatter, loadNpy, loadSafetensors, pca } from "../../pkg/nnlens.js";

async function bytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** A chart canvas's backing store at its CSS size times the device pixel ratio. */
function sizeForRatio(canvas) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * ratio);
  canvas.height = Math.round(canvas.clientHeight * ratio);
}

async function main() {
  await init();
  const { tensors, metadata } = loadSafetensors(await bytes("attributions.safetensors"));
  document.getElementById("metadata").textContent =
    `attributions.safetensors: tensors ${Object.keys(tensors).join(", ")}; ` +
    `target ${metadata.target}, Integrated Gradients convergence delta ${metadata.delta} (${metadata.model}).`;
  const ig = tensors.integrated_gradients;
  const signed = displayMap(ig.values, ig.shape, { sign: "all" });
  drawHeatmap(document.getElementById("integrated-gradients"), signed.values, signed.shape, { colormap: "rdbu", min: -1, max: 1 });
  const gradient = tensors.saliency;
  const magnitude = displayMap(gradient.values, gradient.shape, { sign: "absoluteValue" });
  drawHeatmap(document.getElementById("saliency"), magnitude.values, magnitude.shape, { colormap: "magma", min: 0, max: 1 });

  const acts = loadNpy(await bytes("acts.npy"));
  const labels = loadNpy(await bytes("labels.npy"));
  const [rows, cols] = acts.shape;
  const fit = pca(acts.values, rows, cols, { components: 2 });
  const scatter = document.getElementById("scatter");
  sizeForRatio(scatter);
  drawScatter(scatter, fit.transformed, Uint8Array.from(labels.values), `fc1: PCA of ${rows} samples (${acts.dtype})`);
  fit.free();
  document.body.dataset.complete = "true";
}

main().catch((error) => {
  document.getElementById("metadata").textContent = `Error: ${error.message}`;
  document.body.dataset.complete = "error";
});
