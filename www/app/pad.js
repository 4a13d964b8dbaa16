// The input panel's drawing pad and image upload. The pad: white ink on black like MNIST, pointer
// (mouse, pen, touch) and keyboard friendly. Every change, and every uploaded image, is
// preprocessed MNIST-style (20x20 box centred by mass in 28x28) in wasm; an uploaded image is also
// kept as it is (in colour, at most PHOTO_MAX pixels a side) for models that take other images.
import { mnistPreprocess } from "../pkg/nnlens.js";

const PHOTO_MAX = 512;

/**
 * Wires the pad, its brush and clear button, and the image upload. `drawn`: an input restored from
 * the URL hash, shown on the pad; `onInput(input, photo)` gets every drawn or uploaded 28x28 input
 * (with an uploaded image's picture, `{ width, height, channels: 3, data }` in [0, 1], as
 * preprocess.js reads), and null when the pad is cleared (back to the sample); `guard` wraps an
 * event handler to show its errors in the page. Returns `{ openImage(file) }`, the upload's action
 * (for files dropped on the page).
 */
export function setupDrawing({ drawn, onInput, guard }) {
  const $ = (id) => document.getElementById(id);
  const hint = $("pad-hint");
  const show = (input, photo = null) => {
    hint.hidden = input !== null;
    onInput(input, photo);
  };
  const pad = new DrawingPad($("pad"), guard(show));
  if (drawn) {
    pad.show(drawn);
    hint.hidden = true;
  }
  $("clear-pad").addEventListener("click", guard(() => {
    pad.clear(false);
    show(null);
  }));
  $("brush").addEventListener("input", (e) => { pad.brush = Number(e.target.value); });
  const openImage = async (file) => {
    const { input, photo } = await readImageFile(file);
    pad.show(input);
    show(input, photo);
  };
  $("image-file").addEventListener("change", guard(async (e) => {
    if (e.target.files.length) await openImage(e.target.files[0]);
  }));
  return { openImage };
}

class DrawingPad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.onChange = onChange;
    this.brush = 18;
    this.drawing = false;
    this.last = null;
    this.pending = false;
    this.clear(false);
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.drawing = true;
      this.last = this.point(e);
      this.stroke(this.last, this.last);
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!this.drawing) return;
      const p = this.point(e);
      this.stroke(this.last, p);
      this.last = p;
    });
    const end = () => { this.drawing = false; this.last = null; };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  point(event) {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) / rect.width) * this.canvas.width,
      y: ((event.clientY - rect.top) / rect.height) * this.canvas.height,
    };
  }

  stroke(from, to) {
    const { ctx } = this;
    ctx.strokeStyle = "#fff";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = this.brush;
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    this.changed();
  }

  clear(notify = true) {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (notify) this.changed();
  }

  /** Shows a 28x28 input (values in [0, 1]) scaled up on the pad. */
  show(field) {
    const small = new ImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(Math.min(Math.max(field[i], 0), 1) * 255);
      small.data.set([v, v, v, 255], i * 4);
    }
    const scratch = new OffscreenCanvas(28, 28);
    scratch.getContext("2d").putImageData(small, 0, 0);
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(scratch, 0, 0, this.canvas.width, this.canvas.height);
  }

  /** Coalesces changes into one update per animation frame. */
  changed() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.onChange(this.input());
    });
  }

  /** The MNIST-style 28x28 input of what is drawn. */
  input() {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const gray = new Float32Array(width * height);
    for (let i = 0; i < gray.length; i++) gray[i] = rgba[i * 4] / 255;
    return mnistPreprocess(gray, width, height);
  }
}

/** Reads an image file into `{ input, photo }`: an MNIST-style 28x28 input (dark ink on light paper
 * is inverted) and the image as a picture. */
async function readImageFile(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`cannot read '${file.name}' as an image (expected PNG, JPEG, GIF, WebP or BMP)`);
  }
  return { input: digitOf(bitmap), photo: pictureOf(bitmap) };
}

/** The image in colour on white (transparent pixels), at most PHOTO_MAX pixels a side. */
function pictureOf(bitmap) {
  const scale = Math.min(1, PHOTO_MAX / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = rgba[i * 4 + c] / 255;
  return { width, height, channels: 3, data };
}

/** The MNIST-style 28x28 input of an image. */
function digitOf(bitmap) {
  const scale = Math.min(1, 280 / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const gray = new Float32Array(width * height);
  let mean = 0;
  for (let i = 0; i < gray.length; i++) {
    gray[i] = (0.299 * rgba[i * 4] + 0.587 * rgba[i * 4 + 1] + 0.114 * rgba[i * 4 + 2]) / 255;
    mean += gray[i];
  }
  if (mean / gray.length > 0.5) for (let i = 0; i < gray.length; i++) gray[i] = 1 - gray[i];
  return mnistPreprocess(gray, width, height);
}
