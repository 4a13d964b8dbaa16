// The torchvision fixtures (tests/fixtures/torchvision/<model>/dynamo.{onnx,json}) with their
// weights regenerated: the committed ONNX files hold no float initializer of more than 64
// elements, and the JSON gives each one's seed and range for the uniform counter generator of
// tests/fixtures/make_torchvision_fixtures.py, which tests/torchvision.rs (`generate`) repeats
// in Rust. This is the same arithmetic, so the bench runs the exact models the tests check
// against onnxruntime:
//
//   uniform24(seed, j) = top 24 bits of splitmix64's output function applied to
//                        (seed << 32) + GOLDEN · (j + 1)   (modulo 2^64)
//   value_j            = lo + width · (uniform24(seed, j) · 2^-24), in f32 step by step
//
// The 64-bit arithmetic is done on 32-bit halves (BigInt would take seconds for the 11 million
// weights of ResNet-18); tests/bench/torchvision.test.mjs checks it against the values the
// Rust test pins.

import { withInitializerData } from "./onnx.js";

// The state and the multiplications below work on uint32 halves held in module variables, so
// the hot loop allocates nothing: `mul(hi, lo, bh, bl)` leaves the low 64 bits of
// `(hi·2^32 + lo) · (bh·2^32 + bl)` in `H`, `L`.
let H = 0;
let L = 0;

function mul(ah, al, bh, bl) {
  const a1 = al >>> 16;
  const a0 = al & 0xffff;
  const b1 = bl >>> 16;
  const b0 = bl & 0xffff;
  // The high half of al · bl from 16-bit limbs (each partial product below 2^32).
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const carry = (((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)) >>> 16;
  L = Math.imul(al, bl) >>> 0;
  H = (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + carry + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/**
 * splitmix64's output function of the state `hi·2^32 + lo`, shifted right by 40: the top 24
 * bits of `z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
 * z ^= z >> 31`.
 */
function mix24(hi, lo) {
  lo = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
  hi = (hi ^ (hi >>> 30)) >>> 0;
  mul(hi, lo, 0xbf58476d, 0x1ce4e5b9);
  lo = (L ^ ((L >>> 27) | (H << 5))) >>> 0;
  hi = (H ^ (H >>> 27)) >>> 0;
  mul(hi, lo, 0x94d049bb, 0x133111eb);
  return ((H ^ (H >>> 31)) >>> 0) >>> 8;
}

// GOLDEN = 0x9E3779B9_7F4A7C15, the counter's step.
const GOLDEN_HI = 0x9e3779b9;
const GOLDEN_LO = 0x7f4a7c15;

/** The script's `uniform24(seed, j)`: `mix24((seed << 32) + GOLDEN · (j + 1))` (seed, j < 2^32). */
export function uniform24(seed, j) {
  mul(0, j + 1, GOLDEN_HI, GOLDEN_LO);
  return mix24((H + seed) >>> 0, L);
}

/** `count` values `lo + width · (uniform24(seed, j) · 2^-24)` rounded to f32 at each step. */
export function generate(seed, count, lo, width) {
  const out = new Float32Array(count);
  const [l, w] = [Math.fround(lo), Math.fround(width)];
  // The states (seed << 32) + GOLDEN · (j + 1) by 64-bit additions of GOLDEN.
  let hi = seed >>> 0;
  let low = 0;
  for (let j = 0; j < count; j++) {
    const sum = low + GOLDEN_LO;
    low = sum >>> 0;
    hi = (hi + GOLDEN_HI + (sum > 0xffffffff ? 1 : 0)) >>> 0;
    out[j] = l + Math.fround(w * (mix24(hi, low) / 16777216));
  }
  return out;
}

/** An f32 given by its bit pattern. */
export function f32FromBits(bits) {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits);
  return view.getFloat32(0);
}

/** The f32 bit pattern of a number (rounded to f32). */
export function f32Bits(value) {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  return view.getUint32(0);
}

/**
 * The fixture's ONNX bytes with every generated initializer filled in (`description` is its
 * JSON). Fails when a regenerated tensor's first values are not the ones the script recorded.
 */
export function refilledModel(bytes, description) {
  const data = new Map();
  for (const g of description.generated) {
    const count = g.dims.reduce((a, b) => a * b, 1);
    const values = generate(g.seed, count, f32FromBits(g.lo), f32FromBits(g.width));
    const first = Array.from(values.subarray(0, 3), f32Bits);
    if (first.some((b, k) => b !== g.first[k])) {
      throw new Error(`${g.name}: regenerated ${first}, the fixture recorded ${g.first}`);
    }
    data.set(g.name, values);
  }
  return withInitializerData(bytes, data);
}

/** The fixture's first `batch` generated input samples, flat NCHW, and their shape. */
export function fixtureInput(description, batch) {
  const { seed, lo, width, shape } = description.input;
  const perSample = shape.slice(1).reduce((a, b) => a * b, 1);
  const all = generate(seed, shape[0] * perSample, f32FromBits(lo), f32FromBits(width));
  return { values: all.slice(0, batch * perSample), shape: [batch, ...shape.slice(1)] };
}
