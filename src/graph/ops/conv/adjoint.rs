//! The input gradient of a convolution with dilation 1 as forward convolutions (its adjoint),
//! so it runs on the forward kernels (`direct.rs` in wasm, `depthwise.rs`, the pointwise
//! product) instead of a product into a patch matrix and col2im.
//!
//! Along one axis, with stride `s`, kernel `k` and padding `t` before, the forward pass is
//! `y[i] = Σ_p W[p] · x[i·s + p − t]`, so the gradient is
//! `dx[a] = Σ_{i,p : i·s + p − t = a} G[i] · W[p]`. The input positions `a = s·a' + r` of one
//! phase `r < s` are reached only by the taps `p = φ + s·m` with `φ = (r + t) mod s`, and then
//! `i = a' + c − m` with `c = ⌊(r + t) / s⌋`: `dx[s·a' + r] = Σ_m G[a' + c − m] · W[φ + s·m]`,
//! a stride-1 convolution of `G` with those taps reversed (`T` of them), padded by `T − 1 − c`
//! before; when `c > T − 1` it is not padded and its first `c − (T − 1)` outputs are skipped
//! (a padding of the kernel size or more, or a stride wider than the kernel). In 2-D each of
//! the `sh·sw` phases is such a convolution with the transposed, flipped sub-kernel
//! `W'[c, o, p', q'] = W[o, c, taps_h[p'], taps_w[q']]` group by group, whose output is
//! written to every `s`-th input position (Dumoulin and Visin, "A guide to convolution
//! arithmetic for deep learning", 2016, §4: a convolution's transpose; the decomposition into
//! phases is the polyphase form of a strided transposed convolution). A stride-1 axis with both
//! paddings below the kernel has one phase, padded after by `k − 1 − bottom` so its output is
//! exactly the input's length; any other axis is padded after by `T − 1`, which covers every
//! position that receives a gradient (the rest stays zero).
//!
//! The sums are the same terms in another order, so the gradient equals the patch-matrix one
//! up to rounding. The input gradient of ResNet-18 spent 40% of its time in that product
//! (matrixmultiply's wasm kernel) and col2im; the strided depthwise convolutions of MobileNetV2
//! made one product per channel.

use super::{finish, Conv2d};
use crate::error::Result;
use crate::graph::ops::{Epilogue, Kernel};
use crate::tensor::Tensor;
use ndarray::IxDyn;

/// One axis of one phase: the input positions `first, first + stride, …`, the kernel taps that
/// reach them in the order the adjoint reads them, the adjoint's paddings, and how many of its
/// leading outputs lie before the first position (when `⌊(first + padding) / stride⌋` exceeds
/// the index of the phase's last tap).
#[derive(Debug, Clone)]
struct AxisPhase {
    first: usize,
    taps: Vec<usize>,
    before: usize,
    after: usize,
    skip: usize,
}

impl AxisPhase {
    /// The phases of one axis; with stride 1 and a padding below the kernel on both sides, the
    /// one phase's output is exactly the input's length (`exact`).
    fn of_axis(
        kernel: usize,
        stride: usize,
        pad_before: usize,
        pad_after: usize,
    ) -> (Vec<AxisPhase>, bool) {
        let mut exact = stride == 1;
        let phases = (0..stride)
            .map(|first| {
                let (phase, shift) = ((first + pad_before) % stride, (first + pad_before) / stride);
                let taps: Vec<usize> = (phase..kernel).step_by(stride).rev().collect();
                let last = taps.len().saturating_sub(1);
                let exact_after = last
                    .checked_sub(pad_after)
                    .filter(|_| stride == 1 && shift <= last);
                exact &= exact_after.is_some();
                AxisPhase {
                    first,
                    before: last.saturating_sub(shift),
                    after: exact_after.unwrap_or(last),
                    skip: shift.saturating_sub(last),
                    taps,
                }
            })
            .collect();
        (phases, exact)
    }
}

/// One phase: the convolution giving the input gradient at rows `first[0] + k·stride[0]` and
/// columns `first[1] + k·stride[1]` from its output's row `skip[0] + k` and column `skip[1] + k`.
#[derive(Debug, Clone)]
struct Phase {
    first: [usize; 2],
    skip: [usize; 2],
    conv: Conv2d,
}

/// A convolution's input gradient as forward convolutions, one per phase of the stride (one for
/// stride 1); phases no tap reaches get no gradient and are left out.
#[derive(Debug, Clone)]
pub(super) struct InputGradient {
    stride: [usize; 2],
    phases: Vec<Phase>,
    /// One phase whose output is the whole input gradient.
    exact: bool,
}

impl InputGradient {
    /// The adjoint of `conv`, or `None` when `conv` has a dilation other than 1.
    pub(super) fn of(conv: &Conv2d) -> Option<Self> {
        let w = conv.weight.shape();
        let (out, group_channels, kh, kw) = (w[0], w[1], w[2], w[3]);
        let [top, left, bottom, right] = conv.padding;
        if conv.dilation != [1, 1] {
            return None;
        }
        let (rows, exact_rows) = AxisPhase::of_axis(kh, conv.stride[0], top, bottom);
        let (cols, exact_cols) = AxisPhase::of_axis(kw, conv.stride[1], left, right);
        let groups = conv.groups;
        let group_out = out / groups;
        let weight = conv.weight.as_standard_layout();
        let weight = weight.as_slice().expect("standard layout is contiguous");
        let mut phases = Vec::new();
        for row in rows.iter().filter(|p| !p.taps.is_empty()) {
            for col in cols.iter().filter(|p| !p.taps.is_empty()) {
                // Filter (o, c) of group g, restricted to the phase's taps in reverse, is
                // filter (g·Cg + c, o mod Og) of the adjoint: one pass over the weight.
                let taps = row.taps.len() * col.taps.len();
                let mut flipped = Vec::with_capacity(weight.len() / (kh * kw) * taps);
                for c in 0..groups * group_channels {
                    let (group, c) = (c / group_channels, c % group_channels);
                    for o in group * group_out..(group + 1) * group_out {
                        let filter = &weight[(o * group_channels + c) * kh * kw..][..kh * kw];
                        for &p in &row.taps {
                            flipped.extend(col.taps.iter().map(|&q| filter[p * kw + q]));
                        }
                    }
                }
                let shape = [
                    groups * group_channels,
                    group_out,
                    row.taps.len(),
                    col.taps.len(),
                ];
                let weight = Tensor::from_shape_vec(IxDyn(&shape), flipped).ok()?;
                let padding = [row.before, col.before, row.after, col.after];
                let conv = Conv2d::new(weight, None, [1, 1], padding, [1, 1], groups).ok()?;
                phases.push(Phase {
                    first: [row.first, col.first],
                    skip: [row.skip, col.skip],
                    conv,
                });
            }
        }
        Some(InputGradient {
            stride: conv.stride,
            phases,
            exact: exact_rows && exact_cols,
        })
    }

    /// `dx` of shape `input_shape` from the output gradient `grad_output`, with `epilogue` (if
    /// any) over every value of it: as its blocks are final where one stride-1 phase computes
    /// all of `dx`, else once the phases are written.
    pub(super) fn run(
        &self,
        grad_output: &Tensor,
        input_shape: &[usize],
        epilogue: Option<Epilogue<'_>>,
    ) -> Result<Tensor> {
        if input_shape.contains(&0) {
            return Ok(Tensor::zeros(IxDyn(input_shape)));
        }
        if let (true, [phase]) = (self.exact, self.phases.as_slice()) {
            return phase.conv.forward_finished(grad_output, epilogue);
        }
        let (height, width) = (input_shape[2], input_shape[3]);
        let mut dx = Tensor::zeros(IxDyn(input_shape));
        let dx_values = dx
            .as_slice_mut()
            .expect("freshly allocated tensors are contiguous");
        for phase in &self.phases {
            let [sh, sw] = self.stride;
            let [first_row, first_col] = phase.first;
            let [skip_rows, skip_cols] = phase.skip;
            // The phase's positions `first + k·stride` inside the input (none when the input is
            // smaller than the stride).
            let rows = height.saturating_sub(first_row).div_ceil(sh);
            let cols = width.saturating_sub(first_col).div_ceil(sw);
            if rows == 0 || cols == 0 {
                continue;
            }
            let part = phase.conv.forward(&[grad_output])?;
            let part = part.as_standard_layout();
            let (part_rows, part_cols) = (part.shape()[2], part.shape()[3]);
            let part = part.as_slice().expect("standard layout is contiguous");
            // Positions past the phase output's extent receive no gradient.
            let rows = rows.min(part_rows.saturating_sub(skip_rows));
            let cols = cols.min(part_cols.saturating_sub(skip_cols));
            for (plane, source) in dx_values
                .chunks_exact_mut(height * width)
                .zip(part.chunks_exact(part_rows * part_cols))
            {
                let source_rows = source.chunks_exact(part_cols).skip(skip_rows).take(rows);
                for (k, source_row) in source_rows.enumerate() {
                    let row = &mut plane[(first_row + k * sh) * width..][..width];
                    for (dst, &value) in row[first_col..]
                        .iter_mut()
                        .step_by(sw)
                        .zip(&source_row[skip_cols..skip_cols + cols])
                    {
                        *dst = value;
                    }
                }
            }
        }
        Ok(finish(dx, epilogue))
    }
}

#[cfg(test)]
mod tests {
    use super::super::depthwise_adjoint;
    use super::*;
    use crate::graph::ops::gradcheck::random_tensor;
    // Run in wasm32 too (`make test-wasm`), where the adjoint runs on the SIMD128 kernels.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A convolution and its input: weight shape, groups, stride, padding, input rows and columns.
    type Case = ([usize; 4], usize, [usize; 2], [usize; 4], [usize; 2]);

    /// `conv`'s output at `x`, a random output gradient (`seed`) and the adjoint's input
    /// gradient for it, checked against the patch matrix's (to rounding).
    fn checked_adjoint(
        conv: &Conv2d,
        x: &Tensor,
        seed: u64,
        label: &str,
    ) -> (Tensor, Tensor, Tensor) {
        let y = conv.forward(&[x]).unwrap();
        let g = random_tensor(y.shape(), -1.0, 1.0, seed);
        let geo = conv.geometry(x.shape()).unwrap();
        let want = conv
            .backward_chunked(&geo, None, &g, 1)
            .unwrap()
            .inputs
            .remove(0);
        let got = InputGradient::of(conv)
            .unwrap()
            .run(&g, x.shape(), None)
            .unwrap();
        assert_eq!(got.shape(), x.shape(), "{label}");
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
                "{label}: {a} vs {b}"
            );
        }
        (y, g, got)
    }

    /// The adjoint gives the patch-matrix input gradient (to rounding) over kernels, strides,
    /// asymmetric paddings, groups, depthwise and pointwise convolutions, and inputs whose
    /// size the stride does not divide; `backward` without the parameters' gradients takes
    /// it, or the patch matrix for a strided few-channel stem and a widening convolution, or
    /// `conv/depthwise_adjoint.rs` for a depthwise convolution with stride 2.
    #[test]
    fn adjoint_is_the_input_gradient() {
        #[rustfmt::skip]
        let cases: [Case; 19] = [
            ([4, 3, 3, 3], 1, [1, 1], [1, 1, 1, 1], [7, 9]),
            ([6, 2, 3, 2], 2, [1, 1], [2, 0, 0, 1], [7, 9]),
            ([5, 1, 3, 3], 5, [1, 1], [1, 1, 1, 1], [7, 9]),
            ([8, 1, 5, 5], 4, [1, 1], [2, 2, 2, 2], [7, 9]),
            ([7, 3, 1, 1], 1, [1, 1], [0, 0, 0, 0], [7, 9]),
            ([3, 2, 2, 3], 1, [1, 1], [0, 2, 1, 0], [7, 9]),
            ([4, 3, 3, 3], 1, [2, 2], [1, 1, 1, 1], [7, 9]),
            ([4, 3, 3, 3], 1, [2, 2], [1, 1, 1, 1], [8, 8]),
            ([6, 1, 3, 3], 6, [2, 2], [1, 1, 1, 1], [9, 10]),
            ([4, 1, 5, 5], 4, [2, 2], [2, 2, 2, 2], [11, 7]),
            ([5, 3, 7, 7], 1, [2, 2], [3, 3, 3, 3], [13, 12]),
            ([6, 4, 1, 1], 1, [2, 2], [0, 0, 0, 0], [7, 8]),
            ([4, 2, 3, 2], 2, [3, 2], [2, 0, 1, 1], [10, 9]),
            ([3, 2, 2, 4], 1, [1, 3], [0, 3, 1, 2], [5, 11]),
            ([2, 2, 3, 3], 1, [1, 1], [3, 0, 0, 4], [6, 7]),
            ([2, 2, 3, 3], 1, [2, 2], [3, 4, 5, 0], [6, 7]),
            ([3, 1, 2, 3], 3, [4, 3], [1, 2, 0, 3], [9, 10]),
            ([64, 32, 3, 3], 1, [1, 1], [1, 1, 1, 1], [6, 7]),
            ([32, 16, 3, 3], 1, [1, 1], [1, 1, 1, 1], [6, 7]),
        ];
        let (mut by_patch_matrix, mut by_depthwise_pass) = (0, 0);
        for (i, (shape, groups, stride, padding, size)) in cases.into_iter().enumerate() {
            let seed = 10 * i as u64;
            let weight = random_tensor(&shape, -1.0, 1.0, seed);
            let bias = Some(random_tensor(&[shape[0]], -1.0, 1.0, seed + 1));
            let conv = Conv2d::new(weight, bias, stride, padding, [1, 1], groups).unwrap();
            let x = random_tensor(
                &[2, shape[1] * groups, size[0], size[1]],
                -1.0,
                1.0,
                seed + 2,
            );
            let (y, g, got) = checked_adjoint(&conv, &x, seed + 3, &format!("case {i}"));
            let via_backward = conv
                .backward(&[&x], &y, &g, false)
                .unwrap()
                .inputs
                .remove(0);
            let geo = conv.geometry(x.shape()).unwrap();
            let expected = if depthwise_adjoint::applies(&conv) {
                by_depthwise_pass += 1;
                conv.depthwise_stride_two_gradient(&geo, &g, None).unwrap()
            } else if conv.input_gradient_by_patch_matrix() {
                by_patch_matrix += 1;
                let grads = conv.backward_chunked(&geo, None, &g, geo.chunk_len());
                grads.unwrap().inputs.remove(0)
            } else {
                got
            };
            assert_eq!(
                via_backward, expected,
                "case {i}: backward takes the adjoint, or the patch matrix for a stem or a \
                 widening, or the stride-2 depthwise pass"
            );
        }
        assert!((1..cases.len()).contains(&by_patch_matrix));
        assert_eq!(by_depthwise_pass, 2);
    }

    /// A stride larger than the input leaves phases without positions; a 1×1 kernel with
    /// stride 2 reaches only one phase of four.
    #[test]
    fn phases_without_positions_or_taps_get_no_gradient() {
        let weight = random_tensor(&[3, 2, 1, 1], -1.0, 1.0, 1);
        let conv = Conv2d::new(weight.clone(), None, [2, 2], [0; 4], [1, 1], 1).unwrap();
        let adjoint = InputGradient::of(&conv).unwrap();
        assert_eq!(
            adjoint.phases.len(),
            1,
            "only the even rows and columns are read"
        );
        let x = random_tensor(&[1, 2, 5, 4], -1.0, 1.0, 2);
        let g = random_tensor(conv.forward(&[&x]).unwrap().shape(), -1.0, 1.0, 3);
        let dx = adjoint.run(&g, x.shape(), None).unwrap();
        for ((_, _, row, col), value) in dx
            .view()
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap()
            .indexed_iter()
        {
            if row % 2 == 1 || col % 2 == 1 {
                assert_eq!(*value, 0.0);
            }
        }
        let wide = Conv2d::new(
            random_tensor(&[2, 2, 3, 3], -1.0, 1.0, 4),
            None,
            [4, 4],
            [1; 4],
            [1, 1],
            1,
        )
        .unwrap();
        let x = random_tensor(&[1, 2, 2, 3], -1.0, 1.0, 5);
        checked_adjoint(&wide, &x, 6, "stride 4 over a 2×3 input");
    }

    /// An input with no rows (its padding alone makes an output) gets an empty gradient.
    #[test]
    fn empty_input_gets_an_empty_gradient() {
        let weight = random_tensor(&[2, 2, 2, 2], -1.0, 1.0, 1);
        for stride in [[1, 1], [2, 2]] {
            let conv = Conv2d::new(weight.clone(), None, stride, [1; 4], [1, 1], 1).unwrap();
            let x = Tensor::zeros(IxDyn(&[1, 2, 0, 3]));
            let y = conv.forward(&[&x]).unwrap();
            let g = random_tensor(y.shape(), -1.0, 1.0, 2);
            let dx = conv
                .backward(&[&x], &y, &g, false)
                .unwrap()
                .inputs
                .remove(0);
            assert_eq!(dx.shape(), x.shape(), "{stride:?}");
        }
    }

    /// The adjoint (the input gradient alone) and the transposed weight (the patch-matrix
    /// gradient, here with the parameters') are made once and kept, and a weight changed
    /// through `params_mut` (training) drops them, so the next gradient sees it.
    #[test]
    fn kept_adjoint_follows_a_changed_weight() {
        for (stride, want_params) in [([1, 1], false), ([2, 2], true)] {
            let weight = random_tensor(&[4, 3, 3, 3], -1.0, 1.0, 5);
            let mut conv = Conv2d::new(weight, None, stride, [1; 4], [1, 1], 1).unwrap();
            let x = random_tensor(&[2, 3, 7, 7], -1.0, 1.0, 6);
            let y = conv.forward(&[&x]).unwrap();
            let g = random_tensor(y.shape(), -1.0, 1.0, 7);
            let gradient = |conv: &Conv2d| {
                conv.backward(&[&x], &y, &g, want_params)
                    .unwrap()
                    .inputs
                    .remove(0)
            };
            let kept = |conv: &Conv2d| match want_params {
                false => conv.adjoint.convolutions.get().is_some_and(Option::is_some),
                true => conv.adjoint.transposed_weight.get().is_some(),
            };
            let first = gradient(&conv);
            assert!(kept(&conv), "stride {stride:?}: kept");
            assert_eq!(
                gradient(&conv),
                first,
                "stride {stride:?}: the same gradient"
            );
            conv.params_mut()[0].mapv_inplace(|w| 2.0 * w);
            assert!(!kept(&conv), "stride {stride:?}: params_mut drops it");
            assert_eq!(
                gradient(&conv),
                first.mapv(|v| 2.0 * v),
                "stride {stride:?}: the doubled weight doubles it"
            );
        }
    }

    /// No adjoint for dilations (their gradient takes the patch matrix).
    #[test]
    fn no_adjoint_for_dilations() {
        let weight = random_tensor(&[2, 2, 3, 3], -1.0, 1.0, 1);
        for (stride, dilation) in [([1, 1], [1, 2]), ([2, 2], [2, 1])] {
            let conv = Conv2d::new(weight.clone(), None, stride, [1; 4], dilation, 1).unwrap();
            assert!(
                InputGradient::of(&conv).is_none(),
                "{stride:?} {dilation:?}"
            );
        }
    }
}
