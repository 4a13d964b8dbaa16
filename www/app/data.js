// The built-in held-out MNIST digits (see data/README.md): 2000 images of 28x28 bytes + labels.
export const DIGIT_SIZE = 28;
const PIXELS = DIGIT_SIZE * DIGIT_SIZE;

/**
 * Starts downloading the digits; returns `{ upTo(n), complete }`. `complete` resolves with the
 * whole set, `{ count, label(i), image(i) }`. The images stream in, and `upTo(n)` resolves with the
 * set of the first n digits (all of them, if there are fewer) as soon as their bytes have arrived:
 * the page draws its first digit without waiting for the rest of the 1.5 MB file.
 */
export function loadDigits(baseUrl) {
  const labels = fetchOk(baseUrl, "data/digits-labels.u8").then(async (r) => new Uint8Array(await r.arrayBuffer()));
  const images = streamBody(fetchOk(baseUrl, "data/digits-images.u8"));
  return {
    complete: Promise.all([labels, images.complete]).then(([l, i]) => digitSet(l, i)),
    async upTo(n) {
      const all = await labels;
      const count = Math.min(n, all.length);
      const bytes = await images.first(count * PIXELS);
      return digitSet(all.subarray(0, count), bytes.subarray(0, Math.min(bytes.length, count * PIXELS)));
    },
  };
}

async function fetchOk(baseUrl, path) {
  const response = await fetch(new URL(path, baseUrl));
  if (!response.ok) throw new Error(`could not load ${path}: HTTP ${response.status}`);
  return response;
}

/**
 * Reads a response's body as it arrives: `first(n)` resolves with the bytes received so far once
 * there are at least n of them (with the whole body if it is shorter), `complete` with the whole body.
 */
function streamBody(response) {
  const chunks = [];
  let received = 0;
  let waiting = [];
  const joined = () => {
    const bytes = new Uint8Array(received);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return bytes;
  };
  const complete = response.then(async (r) => {
    const reader = r.body.getReader();
    for (let part = await reader.read(); !part.done; part = await reader.read()) {
      chunks.push(part.value);
      received += part.value.length;
      const ready = waiting.filter((w) => w.bytes <= received);
      if (ready.length) {
        waiting = waiting.filter((w) => w.bytes > received);
        const bytes = joined();
        for (const w of ready) w.resolve(bytes);
      }
    }
    return joined();
  });
  return {
    complete,
    first: (bytes) => (received >= bytes
      ? Promise.resolve(joined())
      : Promise.race([complete, new Promise((resolve) => waiting.push({ bytes, resolve }))])),
  };
}

/** The digits of `images` (28x28 bytes each) with their `labels`. */
function digitSet(labels, images) {
  if (images.length !== labels.length * PIXELS) {
    throw new Error(`digit data is inconsistent: ${images.length} image bytes for ${labels.length} labels`);
  }
  return {
    count: labels.length,
    label: (i) => labels[i],
    /** Digit i as 784 floats in [0, 1]. */
    image: (i) => Float32Array.from(images.subarray(i * PIXELS, (i + 1) * PIXELS), (v) => v / 255),
  };
}

/**
 * Fits a 28x28 digit to a model's per-sample input shape: [C, H, W] images get the digit resized
 * bilinearly to H x W in every channel; any other shape gets the digit's pixels resampled to the
 * number of input values. Returns { values, description }.
 */
export function fitToShape(digit, shape) {
  const total = shape.reduce((a, b) => a * b, 1);
  if (total === DIGIT_SIZE * DIGIT_SIZE && (shape.length !== 3 || shape[1] === DIGIT_SIZE)) {
    return { values: digit, description: "28×28 digit" };
  }
  if (shape.length === 3) {
    const [c, h, w] = shape;
    const plane = resize(digit, DIGIT_SIZE, DIGIT_SIZE, h, w);
    const values = new Float32Array(total);
    for (let k = 0; k < c; k++) values.set(plane, k * h * w);
    return { values, description: `digit resized to ${c}×${h}×${w}` };
  }
  const values = new Float32Array(total);
  for (let i = 0; i < total; i++) values[i] = digit[Math.floor((i * digit.length) / total)];
  return { values, description: `digit resampled to ${total} values` };
}

function resize(src, sh, sw, dh, dw) {
  const out = new Float32Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    const fy = Math.min(Math.max(((y + 0.5) * sh) / dh - 0.5, 0), sh - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, sh - 1), ty = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = Math.min(Math.max(((x + 0.5) * sw) / dw - 0.5, 0), sw - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, sw - 1), tx = fx - x0;
      const top = src[y0 * sw + x0] * (1 - tx) + src[y0 * sw + x1] * tx;
      const bottom = src[y1 * sw + x0] * (1 - tx) + src[y1 * sw + x1] * tx;
      out[y * dw + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}
