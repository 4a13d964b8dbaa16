//! Direct depthwise convolution: every group has one input channel (`groups = C`, as in
//! MobileNet's and EfficientNet's 3×3 and 5×5 layers), any kernel, stride, dilation and padding.
//!
//! Through im2col such a layer is one product of a `1 × kh·kw` row by a `kh·kw × Ho·Wo` patch
//! matrix per channel: a copy of every input value `kh·kw / (sh·sw)` times and a one-row sgemm
//! whose set-up costs more than its arithmetic. Here each input channel is copied once into a
//! zero-bordered buffer whose rows are split into the `sw` stride phases (padded column `x` at
//! phase `x mod sw`, index `⌊x / sw⌋`), so that for output row `i` the taps `(p, q)` read
//! contiguous runs, `buffer[(i·sh + p·dh)·R + ((q·dw) mod sw)·L + ⌊q·dw / sw⌋ + j]` for the
//! outputs `j` of the row (`L` the phase length, `R = sw·L` the row stride). Each output is
//! `b[o] + Σ_{p, q} W[o, 0, p, q] · x_padded[…]` summed in `(p, q)` order from the bias, the
//! order of the im2col product in `graph/sgemm.rs` (which starts from the bias and adds the
//! products in patch order, with no fused multiply-add), so the two agree bit for bit; the
//! padding's zeros enter both sums alike.
//!
//! In wasm a register tile is up to [`VECTORS`] f32x4 vectors of one output row: the taps loop
//! outside, one weight splat and one load per vector inside, the row segment stored once. The
//! channel kernel is called through an opaque function pointer (wasm-opt would inline its
//! single call site into the graph's forward pass, which V8 compiles poorly: see
//! `conv/direct.rs`). Elsewhere the same order runs on plain slices, one output row at a time
//! (the compiler vectorises the row loop). In the threaded build the channels run on the pool
//! (`crate::parallel`), each thread with its own buffer. Measurements: BENCHMARKS.md (Kernel decisions ›
//! Convolution).
//!
//! A channel whose input is zero and has no bias (an input gradient's channel with no output
//! gradient, run through the adjoint), or whose outputs an [`Epilogue::Masked`] sets to zero,
//! is written as zeros without its taps (BENCHMARKS.md, Eighteenth pass).

use super::{any_live, ConvGeometry, Epilogue};
use crate::parallel;

/// f32 lanes per vector.
const LANES: usize = 4;
/// f32x4 vectors of an output row per register tile.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const VECTORS: usize = 4;

/// Whether the depthwise path computes `geo`: more than one group, each of one input channel.
pub(super) fn applies(geo: &ConvGeometry) -> bool {
    geo.groups > 1 && geo.group_channels() == 1
}

/// One channel's buffer layout and where its taps read.
#[derive(Debug, Clone)]
struct ChannelGeometry {
    /// Offset in the buffer of each tap `(p, q)`, in that order, relative to an output row's start.
    taps: Vec<usize>,
    /// Buffer offset between consecutive output rows, `sh·R`.
    row_step: usize,
    out_h: usize,
    out_w: usize,
}

impl ChannelGeometry {
    /// Buffer values a channel kernel may read: up to a whole vector past each row's last output.
    fn input_len(&self) -> usize {
        // With stride phases the taps do not grow along a row: (0, 1) reads phase 1.
        let widest = self.taps.iter().copied().max().unwrap_or(0);
        (self.out_h - 1) * self.row_step + widest + self.out_w.div_ceil(LANES) * LANES
    }
}

/// The forward pass `out = conv(x)` of a geometry for which [`applies`] holds: `x` is the NCHW
/// input, `weight` the standard-layout `[O, 1, kh, kw]` weight, `bias` `[O]`, `out` the NCHW
/// output (every element is written); `epilogue` runs over each block of output planes once
/// it is final, on the thread that wrote it.
pub(super) fn forward(
    geo: &ConvGeometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    epilogue: Option<Epilogue<'_>>,
) {
    debug_assert!(applies(geo));
    let [kh, kw] = geo.kernel;
    let (rows, cols) = (&geo.rows, &geo.cols);
    let (out_h, out_w) = (rows.output, cols.output);
    // Phase length: a whole number of vectors of outputs plus the widest tap offset.
    let phase_len = out_w.div_ceil(LANES) * LANES + (kw - 1) * cols.dilation / cols.stride;
    let row_stride = cols.stride * phase_len;
    let buffer_rows = (out_h - 1) * rows.stride + (kh - 1) * rows.dilation + 1;
    let taps: Vec<usize> = (0..kh)
        .flat_map(|p| {
            (0..kw).map(move |q| {
                let column = q * cols.dilation;
                p * rows.dilation * row_stride
                    + (column % cols.stride) * phase_len
                    + column / cols.stride
            })
        })
        .collect();
    let channel = ChannelGeometry {
        taps,
        row_step: rows.stride * row_stride,
        out_h,
        out_w,
    };
    // Where each input column goes in a buffer row, for the columns some output reads.
    let columns: Vec<(usize, usize)> = (0..geo.width)
        .filter_map(|x| {
            let padded = x + cols.pad_begin;
            let index = padded / cols.stride;
            (index < phase_len).then_some((x, (padded % cols.stride) * phase_len + index))
        })
        .collect();
    let contiguous = cols.stride == 1;
    let (plane, input_plane, patch) = (out_h * out_w, geo.height * geo.width, kh * kw);
    let og = geo.group_outputs();
    // One group (input channel) at a time, on the pool in the threaded build: each writes its
    // own output planes. Only the input's cells are rewritten in a thread's buffer per
    // channel: its border stays zero.
    parallel::for_each_chunk(
        &mut out[..geo.batch * geo.out_channels * plane],
        og * plane,
        og * plane * patch,
        || vec![0.0; buffer_rows * row_stride],
        |buffer, index, group_out| {
            let (sample, group) = (index / geo.groups, index % geo.groups);
            let src = &x[(sample * geo.channels + group) * input_plane..][..input_plane];
            // A group whose input is zero and has no bias to add, or whose outputs the
            // epilogue's mask sets to zero (an input gradient's channels that are dead behind a
            // ReLU or Clip), gives zeros before the epilogue without its taps.
            let masked = epilogue
                .and_then(|epilogue| epilogue.mask())
                .is_some_and(|mask| {
                    !any_live(&mask[index * og * plane..][..og * plane], |&m| m != 0)
                });
            if masked || (bias.is_none() && !any_live(src, |&v| v != 0.0)) {
                group_out.fill(0.0);
                if let Some(epilogue) = epilogue {
                    epilogue.apply(group_out, index * og * plane);
                }
                return;
            }
            for (y, row) in src.chunks_exact(geo.width).enumerate() {
                let padded_row = y + rows.pad_begin;
                if padded_row >= buffer_rows {
                    break;
                }
                let dst = &mut buffer[padded_row * row_stride..][..row_stride];
                match (contiguous, columns.first()) {
                    (true, Some(&(_, first))) => {
                        dst[first..][..columns.len()].copy_from_slice(&row[..columns.len()])
                    }
                    _ => {
                        for &(x, at) in &columns {
                            dst[at] = row[x];
                        }
                    }
                }
            }
            for (k, dst) in group_out.chunks_exact_mut(plane).enumerate() {
                let o = group * og + k;
                let start = bias.map_or(0.0, |b| b[o]);
                channel_kernel(&channel, buffer, &weight[o * patch..][..patch], start, dst);
            }
            if let Some(epilogue) = epilogue {
                epilogue.apply(group_out, index * og * plane);
            }
        },
    );
}

/// One channel: `out[i·Wo + j] = start + Σ_t weights[t] · input[i·row_step + taps[t] + j]`
/// over the taps `t` in order, with wasm SIMD128.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn channel_kernel(
    g: &ChannelGeometry,
    input: &[f32],
    weights: &[f32],
    start: f32,
    out: &mut [f32],
) {
    type Kernel = fn(&ChannelGeometry, &[f32], &[f32], f32, &mut [f32]);
    // Called through an opaque pointer: wasm-opt inlines a function with a single call site
    // into its caller, here the graph's whole forward pass, which V8 compiles poorly.
    std::hint::black_box(channel_simd as Kernel)(g, input, weights, start, out)
}

/// [`channel_kernel`]'s SIMD128 body.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
fn channel_simd(g: &ChannelGeometry, input: &[f32], weights: &[f32], start: f32, out: &mut [f32]) {
    assert!(
        input.len() >= g.input_len()
            && weights.len() == g.taps.len()
            && out.len() == g.out_h * g.out_w,
        "depthwise conv2d channel out of bounds"
    );
    let full = g.out_w / LANES;
    let last_lanes = g.out_w % LANES;
    for i in 0..g.out_h {
        // SAFETY: every tile below reads at most input_len() values from `input` and writes
        // within output row i (asserted above).
        unsafe {
            let src = input.as_ptr().add(i * g.row_step);
            let dst = out.as_mut_ptr().add(i * g.out_w);
            let mut v = 0;
            while v + VECTORS <= full {
                tile::<VECTORS>(
                    g,
                    src.add(v * LANES),
                    weights,
                    start,
                    dst.add(v * LANES),
                    LANES,
                );
                v += VECTORS;
            }
            while v < full {
                tile::<1>(
                    g,
                    src.add(v * LANES),
                    weights,
                    start,
                    dst.add(v * LANES),
                    LANES,
                );
                v += 1;
            }
            if last_lanes > 0 {
                tile::<1>(
                    g,
                    src.add(v * LANES),
                    weights,
                    start,
                    dst.add(v * LANES),
                    last_lanes,
                );
            }
        }
    }
}

/// `V` vectors of one output row from `src` (the row's input at its first output) to `dst`,
/// the last vector's first `last_lanes` lanes only.
///
/// # Safety
/// `src` must be readable at `taps[t] + V·LANES` values for every tap, `dst` writable at
/// `(V − 1)·LANES + last_lanes` values, `weights` hold one value per tap.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn tile<const V: usize>(
    g: &ChannelGeometry,
    src: *const f32,
    weights: &[f32],
    start: f32,
    dst: *mut f32,
    last_lanes: usize,
) {
    use crate::graph::madd::madd;
    use core::arch::wasm32::{
        f32x4_extract_lane, f32x4_splat, v128, v128_load, v128_load32_splat, v128_store,
        v128_store64_lane,
    };
    let mut acc = [f32x4_splat(start); V];
    for (&tap, w) in g.taps.iter().zip(weights) {
        let w = v128_load32_splat(w as *const f32 as *const u32);
        for (v, a) in acc.iter_mut().enumerate() {
            let x = v128_load(src.add(tap + v * LANES) as *const v128);
            *a = madd(w, x, *a);
        }
    }
    for (v, &value) in acc.iter().enumerate().take(V - 1) {
        v128_store(dst.add(v * LANES) as *mut v128, value);
    }
    let last = dst.add((V - 1) * LANES);
    let value = acc[V - 1];
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

/// One channel: `out[i·Wo + j] = start + Σ_t weights[t] · input[i·row_step + taps[t] + j]`
/// over the taps `t` in order, on plain slices.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn channel_kernel(
    g: &ChannelGeometry,
    input: &[f32],
    weights: &[f32],
    start: f32,
    out: &mut [f32],
) {
    let input = &input[..g.input_len()];
    for (i, row) in out.chunks_exact_mut(g.out_w).take(g.out_h).enumerate() {
        row.fill(start);
        let src = &input[i * g.row_step..];
        for (&tap, &w) in g.taps.iter().zip(weights) {
            for (y, &x) in row.iter_mut().zip(&src[tap..tap + g.out_w]) {
                *y += w * x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::by_sgemm;
    use super::super::Conv2d;
    use super::*;
    use crate::graph::ops::gradcheck::random_tensor;
    // Run in wasm32 too (`make test-wasm`), where they check the SIMD128 kernel against the
    // SIMD128 sgemm.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn equals_the_im2col_product_bit_for_bit() {
        // (batch, channels, height, width, multiplier, kernel, stride, padding [t, l, b, r],
        // dilation, bias): MobileNet's 3×3 and EfficientNet's 5×5 at stride 1 and 2, widths
        // that are and are not multiples of 4 and of a 4-vector tile, rows of one output,
        // asymmetric and wide padding, dilation, stride 3, two outputs per channel.
        type Case = (
            usize,
            usize,
            usize,
            usize,
            usize,
            [usize; 2],
            [usize; 2],
            [usize; 4],
            [usize; 2],
            bool,
        );
        let cases: [Case; 12] = [
            (2, 3, 16, 16, 1, [3, 3], [1, 1], [1; 4], [1, 1], true),
            (1, 4, 17, 19, 1, [3, 3], [2, 2], [1; 4], [1, 1], true),
            (1, 2, 14, 14, 1, [5, 5], [1, 1], [2; 4], [1, 1], true),
            (2, 3, 15, 15, 1, [5, 5], [2, 2], [2; 4], [1, 1], false),
            (1, 5, 4, 4, 1, [3, 3], [2, 2], [1; 4], [1, 1], true),
            (1, 2, 2, 2, 1, [3, 3], [1, 1], [1; 4], [1, 1], true),
            (1, 3, 40, 37, 1, [3, 3], [1, 1], [1; 4], [1, 1], true),
            (1, 2, 9, 11, 1, [3, 2], [1, 2], [0, 1, 2, 0], [1, 1], true),
            (1, 2, 6, 5, 1, [2, 2], [1, 1], [3, 1, 0, 2], [1, 1], true),
            (1, 3, 12, 13, 1, [3, 3], [1, 2], [2; 4], [2, 2], false),
            (1, 2, 11, 10, 1, [3, 3], [3, 3], [1, 0, 0, 1], [1, 1], true),
            (2, 3, 9, 7, 2, [3, 3], [2, 1], [1; 4], [1, 1], true),
        ];
        for (case, (n, c, h, w, multiplier, kernel, stride, padding, dilation, bias)) in
            cases.into_iter().enumerate()
        {
            let seed = 10 * case as u64;
            let o = c * multiplier;
            let weight = random_tensor(&[o, 1, kernel[0], kernel[1]], -1., 1., seed);
            let bias = bias.then(|| random_tensor(&[o], -1., 1., seed + 1));
            let conv = Conv2d::new(weight, bias, stride, padding, dilation, c).unwrap();
            let x = random_tensor(&[n, c, h, w], -1., 1., seed + 2);
            let xs = x.as_slice().unwrap();
            let geo = conv.geometry(x.shape()).unwrap();
            assert!(applies(&geo));
            let mut out = vec![f32::NAN; geo.batch * geo.out_channels * geo.out_plane()];
            let weight = conv.weight().as_slice().unwrap();
            let bias = conv.bias().map(|b| b.as_slice().unwrap());
            forward(&geo, xs, weight, bias, &mut out, None);
            let expected = by_sgemm(&conv, xs, &geo);
            assert_eq!(out, expected, "case {case}");
            // An epilogue runs once over every output value, told where each run starts.
            forward(
                &geo,
                xs,
                weight,
                bias,
                &mut out,
                Some(Epilogue::Map(&|run, at| {
                    for (index, v) in (at..).zip(run) {
                        *v = 2.0 * *v + index as f32;
                    }
                })),
            );
            let finished: Vec<f32> = (0..)
                .zip(&expected)
                .map(|(index, v)| 2.0 * v + index as f32)
                .collect();
            assert_eq!(out, finished, "case {case} with an epilogue");
        }
    }

    #[test]
    fn skips_channels_with_zero_input_or_a_zero_mask() {
        // Two samples of four channels, two outputs per channel. Without a bias, channel 1 of
        // sample 0 (zero input) gives zeros; a mask zero over group 2 of sample 1 zeroes its
        // outputs, and its other zeros act value by value. With a bias the zero input's
        // outputs are the bias.
        for bias in [false, true] {
            let weight = random_tensor(&[8, 1, 3, 3], -1., 1., 5);
            let bias = bias.then(|| random_tensor(&[8], -1., 1., 6));
            let conv = Conv2d::new(weight, bias, [1, 1], [1; 4], [1, 1], 4).unwrap();
            let mut x = random_tensor(&[2, 4, 7, 9], -1., 1., 7);
            x.slice_mut(ndarray::s![0, 1, .., ..]).fill(0.0);
            let geo = conv.geometry(x.shape()).unwrap();
            let (xs, weight) = (x.as_slice().unwrap(), conv.weight().as_slice().unwrap());
            let bias = conv.bias().map(|b| b.as_slice().unwrap());
            let expected = by_sgemm(&conv, xs, &geo);
            let mut out = vec![f32::NAN; expected.len()];
            forward(&geo, xs, weight, bias, &mut out, None);
            assert_eq!(out, expected, "bias {}", bias.is_some());
            let plane = geo.out_plane();
            let mut mask = vec![1u8; expected.len()];
            mask[(4 + 2) * 2 * plane..][..2 * plane].fill(0);
            mask[3] = 0;
            let masked = Epilogue::Masked {
                mask: &mask,
                then: &|_, _| {},
            };
            forward(&geo, xs, weight, bias, &mut out, Some(masked));
            let want: Vec<f32> = expected
                .iter()
                .zip(&mask)
                .map(|(&v, &m)| v * f32::from(m))
                .collect();
            assert_eq!(out, want, "bias {} with a mask", bias.is_some());
        }
    }

    #[test]
    fn applies_only_to_one_input_channel_per_group() {
        for (channels, out, groups, expected) in [
            (4, 4, 4, true),
            (4, 8, 4, true),
            (4, 4, 2, false),
            (1, 8, 1, false),
            (4, 4, 1, false),
        ] {
            let weight = random_tensor(&[out, channels / groups, 3, 3], -1., 1., 1);
            let conv = Conv2d::new(weight, None, [1, 1], [1; 4], [1, 1], groups).unwrap();
            let geo = conv.geometry(&[1, channels, 9, 9]).unwrap();
            assert_eq!(applies(&geo), expected, "{channels} {out} {groups}");
        }
    }
}
