//! The input gradient of a depthwise convolution with stride 2 (one input and one output
//! channel per group, dilation 1: the downsampling 3×3 and 5×5 layers of MobileNetV2 and
//! EfficientNet-B0) in one pass that writes every input position once.
//!
//! Along one axis, with kernel `k` and padding `t` before, the forward pass is
//! `y[i] = Σ_p W[p] · x[2i + p − t]`, so the gradient at input position `a = 2a' + r` (parity
//! `r`) is `dx[2a' + r] = Σ_m W[φ + 2m] · G[a' + c − m]` with `φ = (r + t) mod 2` and
//! `c = ⌊(r + t) / 2⌋` (the polyphase form of `conv/adjoint.rs`). In 2-D, input row `2a' + r`
//! and column `2b' + s` sum the taps of row parity `r` and column parity `s`, so one input row
//! is two sums over output-gradient rows: its even columns and its odd columns, each a
//! contiguous run of `b'` reading the output gradient at `b'` plus a fixed offset per tap.
//! Each channel's output gradient is copied once into a zero-bordered buffer (so offsets past
//! its edges read zeros); in wasm four `b'` of both sums are computed as f32x4 vectors and
//! interleaved into eight consecutive input columns, so every input position is written once,
//! in order. The adjoint of `conv/adjoint.rs` instead runs one small convolution per parity
//! pair (taps 1, 2, 2 and 4 for a 3×3 kernel), each into its own tensor, then writes them to
//! every second position of a zeroed gradient (1.5× the forward pass on MobileNetV2's
//! 96-channel 112 → 56 layer), and the patch matrix makes one small product per channel;
//! this pass took EfficientNet-B0's input gradient from 92–95 to 83–87 ms in Chromium
//! (BENCHMARKS.md, Ninth pass). The sums are the same terms in another order, so all three
//! agree up to rounding. A channel with no output gradient, or whose input gradient the next
//! derivative mask zeroes, is written as zeros (BENCHMARKS.md, Eighteenth pass).

use super::{any_live, Conv2d, ConvGeometry};
use crate::parallel;

/// Whether [`input_gradient`] computes `conv`'s input gradient: one input and one output
/// channel per group, stride 2 and dilation 1 on both axes.
pub(super) fn applies(conv: &Conv2d) -> bool {
    let shape = conv.weight.shape();
    shape[1] == 1 && shape[0] == conv.groups && conv.stride == [2, 2] && conv.dilation == [1, 1]
}

/// The taps reaching the input positions of parity `parity` along one axis of kernel `kernel`
/// and padding `pad` before: `(tap, offset)`, the position `2a' + parity` reading the output
/// gradient at `a' + offset`.
fn parity_taps(kernel: usize, pad: usize, parity: usize) -> Vec<(usize, isize)> {
    let (phase, shift) = ((parity + pad) % 2, ((parity + pad) / 2) as isize);
    (phase..kernel)
        .step_by(2)
        .map(|tap| (tap, shift - ((tap - phase) / 2) as isize))
        .collect()
}

/// One axis: the taps of each parity, the zero margin before the copied output gradient, and
/// the buffer's extent along the axis.
struct AxisPlan {
    taps: [Vec<(usize, isize)>; 2],
    margin: usize,
    extent: usize,
}

impl AxisPlan {
    /// The plan of an axis of `output` gradient positions, kernel `kernel` and padding `pad`
    /// before, whose input positions `2a' + r` are computed for `a'` up to `reach − 1` (at
    /// least half the input, rounded up; past its end too, for whole vectors).
    fn new(output: usize, kernel: usize, pad: usize, reach: usize) -> Self {
        let taps = [0, 1].map(|parity| parity_taps(kernel, pad, parity));
        let offsets = || taps.iter().flatten().map(|&(_, offset)| offset);
        let lowest = offsets().min().unwrap_or(0);
        let highest = offsets().max().unwrap_or(0);
        let margin = lowest.min(0).unsigned_abs();
        let extent = margin + output.max((reach as isize + highest).max(0) as usize);
        AxisPlan {
            taps,
            margin,
            extent,
        }
    }

    /// The buffer index of output-gradient position `a' + offset` (never negative: the margin
    /// covers the lowest offset).
    fn index(&self, position: usize, offset: isize) -> usize {
        (self.margin as isize + position as isize + offset) as usize
    }
}

/// The input gradient `dx` (NCHW, every element written) of a convolution of geometry `geo`
/// for which [`applies`] holds, from its output gradient `grad` (NCHW) and its standard-layout
/// `[C, 1, kh, kw]` weight. The channels with no output gradient, and those where `mask` (the
/// derivative mask `dx` is multiplied by next, indexed like it) is 0 everywhere, are 0.
pub(super) fn input_gradient(
    geo: &ConvGeometry,
    grad: &[f32],
    weight: &[f32],
    mask: Option<&[u8]>,
    dx: &mut [f32],
) {
    debug_assert!(geo.group_channels() == 1 && geo.group_outputs() == 1);
    let [kh, kw] = geo.kernel;
    let (out_h, out_w) = (geo.rows.output, geo.cols.output);
    // Columns are computed four `b'` (eight input columns) at a time.
    let column_reach = geo.width.div_ceil(2).div_ceil(LANES) * LANES;
    let rows = AxisPlan::new(out_h, kh, geo.rows.pad_begin, geo.height.div_ceil(2));
    let cols = AxisPlan::new(out_w, kw, geo.cols.pad_begin, column_reach);
    let (plane, out_plane) = (geo.height * geo.width, out_h * out_w);
    let scratch = || RowScratch {
        buffer: vec![0.0; rows.extent * cols.extent],
        terms: [Vec::new(), Vec::new()],
    };
    parallel::for_each_chunk(
        &mut dx[..geo.batch * geo.channels * plane],
        plane,
        out_plane * kh * kw,
        scratch,
        |scratch, index, dx| {
            let RowScratch { buffer, terms } = scratch;
            let source = &grad[index * out_plane..][..out_plane];
            // A channel with no output gradient, or whose input gradient `mask` sets to zero,
            // is zero.
            let masked =
                mask.is_some_and(|mask| !any_live(&mask[index * plane..][..plane], |&m| m != 0));
            if masked || !any_live(source, |&g| g != 0.0) {
                dx.fill(0.0);
                return;
            }
            // Only the output gradient's cells are rewritten per channel: the border stays zero.
            for (i, row) in source.chunks_exact(out_w).enumerate() {
                let start = rows.index(i, 0) * cols.extent + cols.margin;
                buffer[start..][..out_w].copy_from_slice(row);
            }
            let filter = &weight[(index % geo.channels) * kh * kw..][..kh * kw];
            for (a, dx_row) in dx.chunks_exact_mut(geo.width).enumerate() {
                let (half, parity) = (a / 2, a % 2);
                // Every (row tap, column tap) of the row's parity, for the even and the odd
                // columns: the weight and where its run of output-gradient values starts.
                for (column_parity, terms) in terms.iter_mut().enumerate() {
                    terms.clear();
                    for &(p, row_offset) in &rows.taps[parity] {
                        let row = rows.index(half, row_offset) * cols.extent;
                        terms.extend(
                            cols.taps[column_parity].iter().map(|&(q, offset)| {
                                (filter[p * kw + q], row + cols.index(0, offset))
                            }),
                        );
                    }
                }
                row_kernel(buffer, &terms[0], &terms[1], dx_row);
            }
        },
    );
}

/// A thread's buffers: one channel's zero-bordered output gradient, and the terms of the even
/// and the odd columns of the row at hand.
struct RowScratch {
    buffer: Vec<f32>,
    terms: [Vec<(f32, usize)>; 2],
}

/// f32 lanes per vector.
const LANES: usize = 4;

/// One input row: `row[2b'] = Σ_(w, start) w · buffer[start + b']` over `even`, `row[2b' + 1]`
/// likewise over `odd`, with wasm SIMD128.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn row_kernel(buffer: &[f32], even: &[(f32, usize)], odd: &[(f32, usize)], row: &mut [f32]) {
    type Kernel = fn(&[f32], &[(f32, usize)], &[(f32, usize)], &mut [f32]);
    // Called through an opaque pointer, as the forward kernels (`conv/depthwise.rs`).
    std::hint::black_box(row_simd as Kernel)(buffer, even, odd, row)
}

/// [`row_kernel`]'s SIMD128 body: two blocks of four `b'` at a time, each block's even and
/// odd sums interleaved into eight columns.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
fn row_simd(buffer: &[f32], even: &[(f32, usize)], odd: &[(f32, usize)], row: &mut [f32]) {
    use core::arch::wasm32::{i32x4_shuffle, v128, v128_store};
    let blocks = row.len().div_ceil(2).div_ceil(LANES);
    assert!(
        even.iter()
            .chain(odd)
            .all(|&(_, start)| start + blocks * LANES <= buffer.len()),
        "depthwise stride-2 adjoint row out of bounds"
    );
    let mut tail = [0.0f32; 2 * LANES];
    let mut store = |block: usize, e: v128, o: v128| {
        let column = 2 * block * LANES;
        let (low, high) = (
            i32x4_shuffle::<0, 4, 1, 5>(e, o),
            i32x4_shuffle::<2, 6, 3, 7>(e, o),
        );
        let whole = column + 2 * LANES <= row.len();
        let dst = if whole {
            // SAFETY: the eight columns from `column` are inside `row`.
            unsafe { row.as_mut_ptr().add(column) }
        } else {
            tail.as_mut_ptr()
        };
        // SAFETY: `dst` holds eight values (a whole block of `row`, or `tail`).
        unsafe {
            v128_store(dst as *mut v128, low);
            v128_store(dst.add(LANES) as *mut v128, high);
        }
        if !whole {
            let rest = &mut row[column..];
            let len = rest.len();
            rest.copy_from_slice(&tail[..len]);
        }
    };
    let base = buffer.as_ptr();
    let mut block = 0;
    // SAFETY (both loops): a tile reads `V·LANES` values from `start + block·LANES` for each
    // term, within `blocks·LANES` of the start (asserted above).
    while block + 2 <= blocks {
        let (e, o) = unsafe { (sums::<2>(even, base, block), sums::<2>(odd, base, block)) };
        store(block, e[0], o[0]);
        store(block + 1, e[1], o[1]);
        block += 2;
    }
    if block < blocks {
        let (e, o) = unsafe { (sums::<1>(even, base, block), sums::<1>(odd, base, block)) };
        store(block, e[0], o[0]);
    }
}

/// `V` blocks of four sums from block `block` on: `Σ_(w, start) w · base[start + b']`.
///
/// # Safety
/// `base` must be readable at `start + (block + V)·LANES` values for every term.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn sums<const V: usize>(
    terms: &[(f32, usize)],
    base: *const f32,
    block: usize,
) -> [core::arch::wasm32::v128; V] {
    use crate::graph::madd::madd;
    use core::arch::wasm32::{f32x4_splat, v128, v128_load};
    let mut acc = [f32x4_splat(0.0); V];
    for &(w, start) in terms {
        let w = f32x4_splat(w);
        let src = base.add(start + block * LANES);
        for (v, a) in acc.iter_mut().enumerate() {
            *a = madd(w, v128_load(src.add(v * LANES) as *const v128), *a);
        }
    }
    acc
}

/// One input row: `row[2b'] = Σ_(w, start) w · buffer[start + b']` over `even`, `row[2b' + 1]`
/// likewise over `odd`, on plain slices.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn row_kernel(buffer: &[f32], even: &[(f32, usize)], odd: &[(f32, usize)], row: &mut [f32]) {
    for (parity, terms) in [even, odd].into_iter().enumerate() {
        for (b, value) in row.iter_mut().skip(parity).step_by(2).enumerate() {
            *value = terms.iter().map(|&(w, start)| w * buffer[start + b]).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::Kernel;
    // Run in wasm32 too (`make test-wasm`), where the SIMD128 row kernel runs.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Equal to the patch-matrix input gradient (to rounding) over kernels 1 to 5, paddings
    /// from 0 to past the kernel and asymmetric, even and odd input sizes, rows narrower than
    /// one vector of columns, and a batch of two.
    #[test]
    fn equals_the_patch_matrix_gradient() {
        #[rustfmt::skip]
        let cases: [([usize; 2], [usize; 4], [usize; 2]); 9] = [
            ([3, 3], [1, 1, 1, 1], [112, 112]),
            ([3, 3], [1, 1, 1, 1], [9, 10]),
            ([3, 3], [0, 0, 1, 1], [8, 8]),
            ([5, 5], [2, 2, 2, 2], [11, 7]),
            ([5, 5], [1, 2, 2, 1], [14, 15]),
            ([2, 3], [0, 1, 0, 1], [5, 3]),
            ([1, 1], [0, 0, 0, 0], [7, 6]),
            ([3, 1], [3, 0, 3, 0], [4, 2]),
            ([4, 4], [1, 3, 2, 0], [13, 21]),
        ];
        for (i, (kernel, padding, size)) in cases.into_iter().enumerate() {
            let seed = 10 * i as u64;
            let channels = 3;
            let weight = random_tensor(&[channels, 1, kernel[0], kernel[1]], -1.0, 1.0, seed);
            let conv = Conv2d::new(weight, None, [2, 2], padding, [1, 1], channels).unwrap();
            let x = random_tensor(&[2, channels, size[0], size[1]], -1.0, 1.0, seed + 1);
            assert!(applies(&conv), "case {i}");
            let geo = conv.geometry(x.shape()).unwrap();
            let y = conv.forward(&[&x]).unwrap();
            let g = random_tensor(y.shape(), -1.0, 1.0, seed + 2);
            let want = conv
                .backward_chunked(&geo, None, &g, 1)
                .unwrap()
                .inputs
                .remove(0);
            let mut got = vec![f32::NAN; x.len()];
            let weight = conv.weight.as_standard_layout();
            let gs = g.as_slice().unwrap();
            let ws = weight.as_slice().unwrap();
            input_gradient(&geo, gs, ws, None, &mut got);
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
                    "case {i}: {a} vs {b}"
                );
            }
            // The last channel with no output gradient and the first under a zero mask are 0;
            // the others are unchanged.
            let (plane, out_plane) = (geo.height * geo.width, geo.out_plane());
            let mut silent = gs.to_vec();
            let last = geo.batch * geo.channels - 1;
            silent[last * out_plane..].fill(0.0);
            let mut mask = vec![1u8; x.len()];
            mask[..plane].fill(0);
            let mut skipped = vec![f32::NAN; x.len()];
            input_gradient(&geo, &silent, ws, Some(&mask), &mut skipped);
            let mut expected = got.clone();
            expected[..plane].fill(0.0);
            expected[last * plane..].fill(0.0);
            assert_eq!(skipped, expected, "case {i}: channels skipped");
            let via_backward = conv.backward(&[&x], &y, &g, false).unwrap();
            assert_eq!(
                via_backward.inputs[0].as_slice().unwrap(),
                got.as_slice(),
                "case {i}: the input gradient alone takes this pass"
            );
        }
    }

    /// Only stride 2 on both axes with one channel in and out per group and no dilation.
    #[test]
    fn applies_to_stride_two_depthwise_only() {
        let conv = |shape: [usize; 4], groups, stride, dilation| {
            let weight = random_tensor(&shape, -1.0, 1.0, 1);
            Conv2d::new(weight, None, stride, [1; 4], dilation, groups).unwrap()
        };
        assert!(applies(&conv([4, 1, 3, 3], 4, [2, 2], [1, 1])));
        assert!(applies(&conv([1, 1, 3, 3], 1, [2, 2], [1, 1])));
        assert!(!applies(&conv([4, 1, 3, 3], 4, [1, 1], [1, 1])));
        assert!(!applies(&conv([4, 1, 3, 3], 4, [2, 1], [1, 1])));
        assert!(!applies(&conv([4, 1, 3, 3], 4, [2, 2], [2, 2])));
        assert!(!applies(&conv([8, 1, 3, 3], 4, [2, 2], [1, 1])));
        assert!(!applies(&conv([4, 2, 3, 3], 2, [2, 2], [1, 1])));
    }
}
