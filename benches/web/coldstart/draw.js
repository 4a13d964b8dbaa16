// The cold-start pages (nnlens's and its peers') draw the first activation (conv1 after ReLU,
// 8 channels of 28 x 28) as a grid of heatmaps with a viridis colour scale, as the nnlens site
// does for every layer.

const VIRIDIS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];

function colour(t) {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  return VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
}

/** `at(c, y, x)` reads channel c at (y, x); draws `channels` maps of h x w, 4 per row, 3x zoom. */
function drawChannelGrid(canvas, channels, h, w, at) {
  const zoom = 3;
  const cols = 4;
  const rows = Math.ceil(channels / cols);
  canvas.width = cols * (w * zoom + 4);
  canvas.height = rows * (h * zoom + 4);
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(canvas.width, canvas.height);
  for (let c = 0; c < channels; c++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const v = at(c, y, x);
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const ox = (c % cols) * (w * zoom + 4);
    const oy = Math.floor(c / cols) * (h * zoom + 4);
    for (let y = 0; y < h * zoom; y++) for (let x = 0; x < w * zoom; x++) {
      const [r, g, b] = colour((at(c, Math.floor(y / zoom), Math.floor(x / zoom)) - lo) / (hi - lo || 1));
      const p = ((oy + y) * canvas.width + ox + x) * 4;
      image.data[p] = r;
      image.data[p + 1] = g;
      image.data[p + 2] = b;
      image.data[p + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

/** Draws conv1's 8 maps (`at(c, y, x)`) into the page's canvas, shows the predicted class and
 * marks the page ready (the moment the cold start is timed to). */
export function show(probabilities, at) {
  drawChannelGrid(document.getElementById("conv1"), 8, 28, 28, at);
  document.getElementById("status").textContent = `class ${probabilities.indexOf(Math.max(...probabilities))}`;
  document.body.dataset.ready = "true";
}

export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The first digit of the page's data file, as the nnlens page shows it first. */
export async function firstDigit() {
  const u8 = await fetchBytes("../data/digits-images.u8");
  return Float32Array.from(u8.subarray(0, 784), (v) => v / 255);
}

export function fail(error) {
  document.body.dataset.error = String(error);
  document.getElementById("status").textContent = `failed: ${error}`;
}
