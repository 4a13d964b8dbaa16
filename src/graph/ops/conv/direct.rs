//! Direct 2-D convolution for stride 1 and dilation 1 in wasm: output row segments kept in
//! registers, no patch matrix.
//!
//! For each sample the input of a group is copied once into a zero-bordered buffer
//! `[Cg, H + pad_top + pad_bottom, Wp]`, so that output `y[o, i, j]` reads the buffer at
//! `(c, i + p, j + q)` for every tap with no bounds logic; `Wp` also covers the lanes of a last,
//! partial vector of an output row. A register tile is [`CHANNELS`] output channels × up to
//! [`VECTORS`] f32x4 vectors of one output row: its accumulators start from the bias, and for
//! each patch entry `(c, p, q)` in order the tile loads the shifted input vectors once, splats
//! the entry's weight of each channel and multiply-adds; the row segment is stored once. The sum
//! is `b[o] + Σ_{c, p, q} W[o, c, p, q] · x_padded[c, i + p, j + q]` in `(c, p, q)` order, the
//! order of the im2col product in `graph/sgemm.rs`, so both give the same f32 result bit for
//! bit. 2 × 4 tiles (2 output channels × 16 outputs of a row): 8 accumulators, 2 weights and
//! one input vector fit V8's 16 x86 vector registers (the same budget as the sgemm
//! micro-kernel), and each input vector feeds two channels.
//!
//! An odd number of output channels per group ends with one 3 × 3 tile (3 channels × 12
//! outputs: 9 accumulators) instead of a pair and a single channel, whose tile loads an input
//! vector for every multiply-add. That is the shape of the stems' input gradients (a
//! convolution from 64 or 32 channels into the image's 3, in `adjoint.rs`): ResNet-18's went
//! 6.29 → 4.52 ms per call in Chromium (its forward stem takes 5.3), SqueezeNet 1.1's 1.38 →
//! 1.26 ms. A 3 × 4 tile (12 accumulators) spills registers: 8.5 ms.
//!
//! The tile reads each channel's filter where the weight holds it (`[O, Cg·kh·kw]`, one stream
//! per channel): an earlier copy of the weight interleaving a tile's channels, made on every
//! call, cost ResNet-18's forward pass 6% in Chromium (91 → 85 ms without it).
//!
//! The patch is one flat loop over precomputed tap offsets (like the `k` loop of sgemm), and
//! each tile kernel is called through an opaque function pointer: wasm-opt inlines a function
//! with a single call site into its caller, here the graph's whole forward pass, which V8 then
//! compiles poorly (a first, inlined version with nested loops was slower than im2col + sgemm).
//!
//! Hand-written for the wasm forward pass because im2col + sgemm copies every input value
//! `kh·kw` times into the patch matrix before reading it back; the built-in CNN's forward pass
//! at batch 64 is 13–16 % faster this way (BENCHMARKS.md, Kernel decisions › Convolution).
//! That holds for few output channels per group: from [`PATCH_MATRIX_CHANNELS`] on the copy is
//! shared by enough channels that the patch-matrix product, with its wider micro-kernel, is
//! faster on one thread (ResNet-18's forward pass 80 → 69 ms in Chromium).
//!
//! In the threaded build the channel tiles of a sample's group run on the pool
//! (`crate::parallel`), each with the sums above; there the direct kernel computes every
//! stride-1 convolution, wide or not, since the unfolding does not scale with threads
//! ([`applies`]).
//!
//! [`tile`] is SIMD128 on wasm32 and plain arrays elsewhere (where only the tests use this
//! module): both follow the same order.

use super::{ConvGeometry, Epilogue};
use crate::parallel;

/// f32 lanes per vector.
const LANES: usize = 4;
/// Output channels per register tile.
const CHANNELS: usize = 2;
/// f32x4 vectors of an output row per register tile.
const VECTORS: usize = 4;
/// Output channels of the register tile that ends an odd number of channels.
const WIDE_CHANNELS: usize = 3;
/// f32x4 vectors of an output row per [`WIDE_CHANNELS`] tile.
const WIDE_VECTORS: usize = 3;

/// Output channels per group from which the patch-matrix product computes a stride-1
/// convolution instead of the direct kernel: its copy of every input value `kh·kw` times is
/// then shared by that many channels, and its wider micro-kernel reuses each loaded value more. Measured in Chromium over the
/// ImageNet architectures (forward per call): with the direct kernel for every channel count
/// ResNet-18 took 80.3 ms and SqueezeNet 1.1 13.4 ms; from 64 channels on the patch matrix,
/// 68.7 and 11.6 ms (ResNet-18's 512-channel 7 x 7 convolutions 6.25 → 4.55 ms each); from 128
/// on, 68.4 and 12.1 ms; the patch matrix for every count, 69.6 and 11.5 ms, but DenseNet-121
/// 109 → 114 ms (its 32-channel convolutions) and the input gradients of convolutions into few
/// channels many times slower (ResNet-18's stem: 5.8 → 34 ms).
const PATCH_MATRIX_CHANNELS: usize = 64;

/// Whether the direct convolution computes `geo`: stride 1 and dilation 1 on both axes, and
/// fewer than [`PATCH_MATRIX_CHANNELS`] output channels per group or more than one thread.
///
/// With threads the patch matrix loses what it gains on one: the unfolding does not get faster
/// on two threads (ResNet-18's took as long on the page's thread alone, BENCHMARKS.md,
/// Nineteenth pass), while the direct kernel's channel tiles split evenly. Two threads in
/// Chromium, ms per call, patch matrix → direct, alternated runs: ResNet-18's forward pass
/// 67.4 / 65.5 → 63.2 / 65.1 and its input gradient 126.4 → 120.3, SqueezeNet 1.1's forward
/// pass 14.10 / 14.98 → 13.88 / 13.63 and its input gradient 26.7 → 25.1, DenseNet-121's
/// forward pass 102.5 → 100.7.
pub(super) fn applies(geo: &ConvGeometry) -> bool {
    (geo.group_outputs() < PATCH_MATRIX_CHANNELS || parallel::threads() > 1)
        && has_unit_stride_and_dilation(geo)
}

/// Stride 1 and dilation 1 on both axes: what [`forward`] computes, for any channel count.
fn has_unit_stride_and_dilation(geo: &ConvGeometry) -> bool {
    [geo.rows, geo.cols]
        .iter()
        .all(|axis| axis.stride == 1 && axis.dilation == 1)
}

/// The forward pass `out = conv(x)` of a geometry with stride 1 and dilation 1 (any channel
/// count; [`applies`] says when this kernel is the one to take): `x` is the NCHW input,
/// `weight` the standard-layout `[O, Cg, kh, kw]` weight, `bias` `[O]`, `out` the NCHW output
/// (every element is written); `epilogue` runs over each block of output planes once it is
/// final, on the thread that wrote it.
pub(super) fn forward(
    geo: &ConvGeometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    epilogue: Option<Epilogue<'_>>,
) {
    debug_assert!(has_unit_stride_and_dilation(geo));
    let [kh, kw] = geo.kernel;
    let (out_h, out_w) = (geo.rows.output, geo.cols.output);
    let (cg, og, patch, plane) = (
        geo.group_channels(),
        geo.group_outputs(),
        geo.patch_len(),
        geo.out_plane(),
    );
    let vectors = out_w.div_ceil(LANES);
    let row_stride = vectors * LANES + kw - 1;
    let channel_stride = (out_h + kh - 1) * row_stride;
    let (top, left) = (geo.rows.pad_begin, geo.cols.pad_begin);
    // Only the interior is rewritten per sample and group: the border stays zero.
    let mut padded = vec![0.0; cg * channel_stride];
    let input_plane = geo.height * geo.width;

    // Where patch entry (c, p, q) reads in the padded input, relative to the tile's first
    // output: one flat loop over the patch, like the k loop of sgemm (nested loops of kw = 3
    // iterations cost branch mispredictions).
    let mut taps = Vec::with_capacity(patch);
    for c in 0..cg {
        for p in 0..kh {
            taps.extend((0..kw).map(|q| c * channel_stride + p * row_stride + q));
        }
    }
    let geometry = TileGeometry {
        taps: &taps,
        plane,
        row_stride,
    };
    for sample in 0..geo.batch {
        for group in 0..geo.groups {
            for c in 0..cg {
                let src = &x[(sample * geo.channels + group * cg + c) * input_plane..];
                let dst = &mut padded[c * channel_stride..];
                for (y, row) in src[..input_plane].chunks_exact(geo.width).enumerate() {
                    dst[(y + top) * row_stride + left..][..geo.width].copy_from_slice(row);
                }
            }
            // Tiles of CHANNELS output channels, on the pool in the threaded build: each
            // writes only its channels' planes, with the same sums. An odd count ends with
            // one tile of WIDE_CHANNELS instead of a pair and a single channel.
            let group_out = &mut out[(sample * geo.out_channels + group * og) * plane..];
            let wide = if og % 2 == 1 && og >= WIDE_CHANNELS {
                WIDE_CHANNELS
            } else {
                0
            };
            let (pairs, last_three) = group_out[..og * plane].split_at_mut((og - wide) * plane);
            let padded = &padded;
            for (block, first, per_tile) in
                [(pairs, 0, CHANNELS), (last_three, og - wide, WIDE_CHANNELS)]
            {
                parallel::for_each_chunk(
                    block,
                    per_tile * plane,
                    per_tile * plane * patch,
                    || (),
                    |(), index, block| {
                        let o0 = group * og + first + index * per_tile;
                        let channels = block.len() / plane;
                        let weights = &weight[o0 * patch..][..channels * patch];
                        let mut start = [0.0; WIDE_CHANNELS];
                        if let Some(bias) = bias {
                            start[..channels].copy_from_slice(&bias[o0..o0 + channels]);
                        }
                        channel_tile(
                            &geometry,
                            (out_h, out_w),
                            padded,
                            weights,
                            start,
                            channels,
                            block,
                        );
                        if let Some(epilogue) = epilogue {
                            epilogue.apply(block, (sample * geo.out_channels + o0) * plane);
                        }
                    },
                );
            }
        }
    }
}

/// `channels` (1..=[`WIDE_CHANNELS`]) output channels over every output row, into `block` (their
/// planes, one after the other), tile by tile along each row.
fn channel_tile(
    geometry: &TileGeometry,
    (out_h, out_w): (usize, usize),
    padded: &[f32],
    weights: &[f32],
    start: [f32; WIDE_CHANNELS],
    channels: usize,
    block: &mut [f32],
) {
    let vectors = out_w.div_ceil(LANES);
    let row_stride = geometry.row_stride;
    let step = if channels == WIDE_CHANNELS {
        WIDE_VECTORS
    } else {
        VECTORS
    };
    for i in 0..out_h {
        for v0 in (0..vectors).step_by(step) {
            let count = step.min(vectors - v0);
            let j0 = v0 * LANES;
            let span = Span {
                vectors: count,
                last_lanes: (out_w - j0 - (count - 1) * LANES).min(LANES),
            };
            let input = &padded[i * row_stride + j0..];
            let output = &mut block[i * out_w + j0..];
            match channels {
                WIDE_CHANNELS => {
                    tile::<WIDE_CHANNELS>(geometry, span, input, weights, start, output)
                }
                CHANNELS => {
                    tile::<CHANNELS>(geometry, span, input, weights, [start[0], start[1]], output)
                }
                _ => tile::<1>(geometry, span, input, weights, [start[0]], output),
            }
        }
    }
}

/// Where a register tile reads and writes.
#[derive(Debug, Clone, Copy)]
struct TileGeometry<'a> {
    /// The offset in the padded input of each patch entry `(c, p, q)`, in that order:
    /// `c·channel_stride + p·row_stride + q`.
    taps: &'a [usize],
    /// Distance between output channels, `Ho·Wo`.
    plane: usize,
    /// Distance between rows of the padded input.
    row_stride: usize,
}

/// The vectors of one register tile along an output row: `vectors` (1..=[`VECTORS`]), the last
/// of which has `last_lanes` (1..=4) outputs inside the row.
#[derive(Debug, Clone, Copy)]
struct Span {
    vectors: usize,
    last_lanes: usize,
}

impl Span {
    /// Output values of one channel the tile writes.
    fn len(&self) -> usize {
        (self.vectors - 1) * LANES + self.last_lanes
    }
}

/// Input values a tile reads from its first one.
fn input_len(g: &TileGeometry, span: Span) -> usize {
    // The taps increase along the patch (q < kw <= row_stride, p·row_stride < channel_stride).
    g.taps.last().map_or(0, |&last| last + span.vectors * LANES)
}

/// `C` output channels × `span` of one output row: `out[k·plane + j] = start[k] + Σ_t
/// weights[k·patch + t] · input[taps[t] + j]` over the patch entries `t = (c, p, q)` in
/// order (`weights` holds the tile's channels' filters one after the other, as the weight
/// does), with wasm SIMD128.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn tile<const C: usize>(
    g: &TileGeometry,
    span: Span,
    input: &[f32],
    weights: &[f32],
    start: [f32; C],
    out: &mut [f32],
) {
    type Kernel<const C: usize> =
        fn(&TileGeometry<'_>, usize, &[f32], &[f32], [f32; C], &mut [f32]);
    let kernel: Kernel<C> = match span.vectors {
        4 => tile_simd::<C, 4>,
        3 => tile_simd::<C, 3>,
        2 => tile_simd::<C, 2>,
        _ => tile_simd::<C, 1>,
    };
    // Called through an opaque pointer: wasm-opt inlines a function with a single call site
    // into its caller, here the graph's whole forward pass, which V8 compiles poorly.
    std::hint::black_box(kernel)(g, span.last_lanes, input, weights, start, out)
}

/// [`tile`] for `V` vectors.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
fn tile_simd<const C: usize, const V: usize>(
    g: &TileGeometry,
    last_lanes: usize,
    input: &[f32],
    weights: &[f32],
    start: [f32; C],
    out: &mut [f32],
) {
    use crate::graph::madd::madd;
    use core::arch::wasm32::{
        f32x4_extract_lane, f32x4_splat, v128, v128_load, v128_load32_splat, v128_store,
        v128_store64_lane,
    };
    let span = Span {
        vectors: V,
        last_lanes,
    };
    assert!(
        input.len() >= input_len(g, span)
            && weights.len() >= g.taps.len() * C
            && out.len() >= (C - 1) * g.plane + span.len()
            && (1..=LANES).contains(&last_lanes),
        "direct conv2d tile out of bounds"
    );
    let (input, out) = (input.as_ptr(), out.as_mut_ptr());
    let mut acc = [[f32x4_splat(0.0); V]; C];
    for (row, &b) in acc.iter_mut().zip(&start) {
        *row = [f32x4_splat(b); V];
    }
    let (patch, weights) = (g.taps.len(), weights.as_ptr());
    for (t, &tap) in g.taps.iter().enumerate() {
        let mut splats = [f32x4_splat(0.0); C];
        for (k, s) in splats.iter_mut().enumerate() {
            // SAFETY: k·patch + t < C·patch <= weights.len(), asserted above.
            *s = unsafe { v128_load32_splat(weights.add(k * patch + t) as *const u32) };
        }
        for v in 0..V {
            // SAFETY: tap + V·LANES <= input_len(g, span) values from `input`, asserted above.
            let x = unsafe { v128_load(input.add(tap + v * LANES) as *const v128) };
            for (a, &s) in acc.iter_mut().zip(&splats) {
                a[v] = madd(s, x, a[v]);
            }
        }
    }
    for (k, a) in acc.iter().enumerate() {
        // SAFETY: channel k < C of `out` holds span.len() values from k·plane, asserted above.
        unsafe {
            let dst = out.add(k * g.plane);
            for (v, &value) in a.iter().enumerate().take(V - 1) {
                v128_store(dst.add(v * LANES) as *mut v128, value);
            }
            let last = dst.add((V - 1) * LANES);
            let value = a[V - 1];
            match last_lanes {
                4 => v128_store(last as *mut v128, value),
                3 => {
                    v128_store64_lane::<0>(value, last as *mut u64);
                    *last.add(2) = f32x4_extract_lane::<2>(value);
                }
                2 => v128_store64_lane::<0>(value, last as *mut u64),
                _ => *last = f32x4_extract_lane::<0>(value),
            }
        }
    }
}

/// `C` output channels × `span` of one output row: `out[k·plane + j] = start[k] + Σ_t
/// weights[k·patch + t] · input[taps[t] + j]` over the patch entries `t = (c, p, q)` in
/// order, on plain arrays.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn tile<const C: usize>(
    g: &TileGeometry,
    span: Span,
    input: &[f32],
    weights: &[f32],
    start: [f32; C],
    out: &mut [f32],
) {
    let width = span.vectors * LANES;
    let input = &input[..input_len(g, span)];
    let mut acc = [[0.0f32; VECTORS * LANES]; C];
    for (row, &b) in acc.iter_mut().zip(&start) {
        row.fill(b);
    }
    let patch = g.taps.len();
    for (t, &tap) in g.taps.iter().enumerate() {
        for (k, a) in acc.iter_mut().enumerate() {
            let w = weights[k * patch + t];
            for (y, &x) in a[..width].iter_mut().zip(&input[tap..tap + width]) {
                *y += w * x;
            }
        }
    }
    for (k, a) in acc.iter().enumerate() {
        out[k * g.plane..][..span.len()].copy_from_slice(&a[..span.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::by_sgemm;
    use super::super::Conv2d;
    use super::*;
    use crate::graph::ops::gradcheck::random_tensor;
    // Run in wasm32 too (`make test-wasm`), where they check the SIMD128 tiles against the
    // SIMD128 sgemm.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn equals_the_im2col_product_bit_for_bit() {
        // (batch, channels, height, width, out, kernel, padding [t, l, b, r], groups, bias):
        // widths that are and are not multiples of 4 and of a 4-vector tile, odd channel
        // counts per group (3 and 5 end with a three-channel tile, over one and several
        // segments of a row), padding 0, 1, 2 and asymmetric.
        type Case = (
            usize,
            usize,
            usize,
            usize,
            usize,
            [usize; 2],
            [usize; 4],
            usize,
            bool,
        );
        let cases: [Case; 9] = [
            (3, 1, 28, 28, 8, [3, 3], [1; 4], 1, true),
            (2, 8, 14, 14, 16, [3, 3], [1; 4], 1, true),
            (2, 3, 7, 5, 5, [3, 3], [0; 4], 1, false),
            (1, 2, 6, 19, 3, [3, 3], [2; 4], 1, true),
            (2, 4, 9, 7, 6, [3, 2], [1, 0, 2, 1], 2, true),
            (1, 6, 5, 33, 9, [1, 1], [0; 4], 3, false),
            (2, 3, 4, 1, 3, [5, 3], [2, 1, 2, 1], 3, true),
            (1, 2, 3, 17, 1, [2, 5], [0, 2, 1, 0], 1, true),
            // As wide as the threaded build takes it (one thread takes the patch matrix).
            (
                1,
                16,
                9,
                11,
                PATCH_MATRIX_CHANNELS + 1,
                [3, 3],
                [1; 4],
                1,
                true,
            ),
        ];
        for (seed, (n, c, h, w, o, kernel, padding, groups, bias)) in cases.into_iter().enumerate()
        {
            let seed = 10 * seed as u64;
            let weight = random_tensor(&[o, c / groups, kernel[0], kernel[1]], -1., 1., seed);
            let bias = bias.then(|| random_tensor(&[o], -1., 1., seed + 1));
            let conv = Conv2d::new(weight, bias, [1, 1], padding, [1, 1], groups).unwrap();
            let x = random_tensor(&[n, c, h, w], -1., 1., seed + 2);
            let xs = x.as_slice().unwrap();
            let geo = conv.geometry(x.shape()).unwrap();
            assert!(applies(&geo) || parallel::threads() == 1);
            let mut out = vec![f32::NAN; geo.batch * geo.out_channels * geo.out_plane()];
            let weight = conv.weight.as_slice().unwrap();
            let bias = conv.bias.as_ref().map(|b| b.as_slice().unwrap());
            forward(&geo, xs, weight, bias, &mut out, None);
            let expected = by_sgemm(&conv, xs, &geo);
            assert_eq!(out, expected, "case {seed}");
            // An epilogue runs once over every output value, told where each run starts.
            let double_plus_index = Epilogue::Map(&|run, at| {
                for (index, v) in (at..).zip(run) {
                    *v = 2.0 * *v + index as f32;
                }
            });
            forward(&geo, xs, weight, bias, &mut out, Some(double_plus_index));
            let finished: Vec<f32> = (0..)
                .zip(&expected)
                .map(|(index, v)| 2.0 * v + index as f32)
                .collect();
            assert_eq!(out, finished, "case {seed} with an epilogue");
        }
    }

    #[test]
    fn applies_to_stride_and_dilation_one_with_few_channels_per_group_or_threads() {
        let weight = random_tensor(&[2, 1, 3, 3], -1., 1., 1);
        for (stride, dilation, expected) in [
            ([1, 1], [1, 1], true),
            ([1, 2], [1, 1], false),
            ([2, 1], [1, 1], false),
            ([1, 1], [2, 1], false),
            ([1, 1], [1, 2], false),
        ] {
            let conv = Conv2d::new(weight.clone(), None, stride, [1; 4], dilation, 1).unwrap();
            let geo = conv.geometry(&[1, 1, 9, 9]).unwrap();
            assert_eq!(applies(&geo), expected, "{stride:?} {dilation:?}");
        }
        // Output channels per group, not in all: on one thread 128 outputs in two groups of 64
        // take the patch matrix, in four groups of 32 the direct kernel; with threads, all do.
        let threaded = parallel::threads() > 1;
        for (out, groups, alone) in [
            (63, 1, true),
            (64, 1, false),
            (128, 2, false),
            (128, 4, true),
        ] {
            let weight = random_tensor(&[out, 1, 3, 3], -1., 1., 2);
            let conv = Conv2d::new(weight, None, [1, 1], [1; 4], [1, 1], groups).unwrap();
            let geo = conv.geometry(&[1, groups, 9, 9]).unwrap();
            assert_eq!(
                applies(&geo),
                alone || threaded,
                "{out} outputs in {groups} groups"
            );
        }
    }
}
