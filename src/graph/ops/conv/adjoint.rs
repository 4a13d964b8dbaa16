//! The input gradient of a convolution with stride 1 and dilation 1 as a forward convolution
//! (its adjoint), so it runs on the forward kernels (`direct.rs` in wasm, `depthwise.rs`, the
//! pointwise product) instead of a product into a patch matrix and col2im.
//!
//! With `y[o, i, j] = Σ_{c,p,q} W[o, c, p, q] · x[c, i + p − top, j + q − left]`, the gradient
//! is `dx[c, a, b] = Σ_{o,p,q} G[o, a − p + top, b − q + left] · W[o, c, p, q]`; substituting
//! `p' = kh − 1 − p` makes it the convolution of `G`, padded by `kh − 1 − top` above and
//! `kh − 1 − bottom` below (likewise for the columns), with the weight `W'[c, o, p', q'] =
//! W[o, c, kh − 1 − p', kw − 1 − q']`, group by group (Dumoulin and Visin, "A guide to
//! convolution arithmetic for deep learning", 2016, §4.1: a stride-1 convolution's transpose
//! is a convolution with the flipped kernel and the complementary padding). Its output is
//! `H + top + bottom − kh + 1 + (kh − 1 − top) + (kh − 1 − bottom) − kh + 1 = H` rows.
//! It exists when no padding exceeds `kernel − 1` (ONNX allows more).
//!
//! The sums are the same terms in another order, so the gradient equals the patch-matrix one
//! up to rounding. The input gradient of ResNet-18 spent 40% of its time in that product
//! (matrixmultiply's wasm kernel) and col2im.

use super::Conv2d;
use crate::tensor::Tensor;
use ndarray::IxDyn;

/// The convolution whose forward pass is `conv`'s input gradient, or `None` when `conv` has a
/// stride or dilation other than 1 or a padding of `kernel` or more.
pub(super) fn adjoint(conv: &Conv2d) -> Option<Conv2d> {
    let w = conv.weight.shape();
    let (out, group_channels, kh, kw) = (w[0], w[1], w[2], w[3]);
    let [top, left, bottom, right] = conv.padding;
    if conv.stride != [1, 1]
        || conv.dilation != [1, 1]
        || top.max(bottom) >= kh
        || left.max(right) >= kw
    {
        return None;
    }
    let groups = conv.groups;
    let group_out = out / groups;
    let weight = conv.weight.as_standard_layout();
    let weight = weight.as_slice().expect("standard layout is contiguous");
    // Filter (o, c) of group g, its taps reversed, is filter (g·Cg + c, o mod Og) of the
    // adjoint: one pass over the weight in its own order.
    let taps = kh * kw;
    let mut flipped = vec![0.0; weight.len()];
    for (o, filters) in weight.chunks_exact(group_channels * taps).enumerate() {
        let (group, o) = (o / group_out, o % group_out);
        for (c, filter) in filters.chunks_exact(taps).enumerate() {
            let at = ((group * group_channels + c) * group_out + o) * taps;
            for (dst, &src) in flipped[at..at + taps].iter_mut().zip(filter.iter().rev()) {
                *dst = src;
            }
        }
    }
    let shape = [groups * group_channels, group_out, kh, kw];
    let weight = Tensor::from_shape_vec(IxDyn(&shape), flipped).ok()?;
    Conv2d::new(
        weight,
        None,
        [1, 1],
        [kh - 1 - top, kw - 1 - left, kh - 1 - bottom, kw - 1 - right],
        [1, 1],
        groups,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::Kernel;
    // Run in wasm32 too (`make test-wasm`), where the adjoint runs on the SIMD128 kernels.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The adjoint's forward pass gives the patch-matrix input gradient (to rounding) over
    /// kernels, asymmetric paddings, groups, depthwise and pointwise convolutions.
    #[test]
    fn adjoint_forward_is_the_input_gradient() {
        let cases: [([usize; 4], usize, [usize; 4]); 6] = [
            ([4, 3, 3, 3], 1, [1, 1, 1, 1]),
            ([6, 2, 3, 2], 2, [2, 0, 0, 1]),
            ([5, 1, 3, 3], 5, [1, 1, 1, 1]),
            ([8, 1, 5, 5], 4, [2, 2, 2, 2]),
            ([7, 3, 1, 1], 1, [0, 0, 0, 0]),
            ([3, 2, 2, 3], 1, [0, 2, 1, 0]),
        ];
        for (i, (shape, groups, padding)) in cases.into_iter().enumerate() {
            let seed = 10 * i as u64;
            let weight = random_tensor(&shape, -1.0, 1.0, seed);
            let bias = Some(random_tensor(&[shape[0]], -1.0, 1.0, seed + 1));
            let conv = Conv2d::new(weight, bias, [1, 1], padding, [1, 1], groups).unwrap();
            let x = random_tensor(&[2, shape[1] * groups, 7, 9], -1.0, 1.0, seed + 2);
            let y = conv.forward(&[&x]).unwrap();
            let g = random_tensor(y.shape(), -1.0, 1.0, seed + 3);
            let geo = conv.geometry(x.shape()).unwrap();
            let want = conv
                .backward_chunked(&geo, &x, &g, false, 1)
                .unwrap()
                .inputs
                .remove(0);
            let got = adjoint(&conv).unwrap().forward(&[&g]).unwrap();
            assert_eq!(got.shape(), x.shape(), "case {i}");
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
                    "case {i}: {a} vs {b}"
                );
            }
            let via_backward = conv
                .backward(&[&x], &y, &g, false)
                .unwrap()
                .inputs
                .remove(0);
            assert_eq!(via_backward, got, "case {i}: backward takes the adjoint");
        }
    }

    /// The adjoint is made once and kept, and a weight changed through `params_mut` (training)
    /// is seen by the next input gradient.
    #[test]
    fn kept_adjoint_follows_a_changed_weight() {
        let weight = random_tensor(&[4, 3, 3, 3], -1.0, 1.0, 5);
        let mut conv = Conv2d::new(weight, None, [1, 1], [1; 4], [1, 1], 1).unwrap();
        let x = random_tensor(&[1, 3, 6, 6], -1.0, 1.0, 6);
        let y = conv.forward(&[&x]).unwrap();
        let g = random_tensor(y.shape(), -1.0, 1.0, 7);
        let gradient = |conv: &Conv2d| {
            conv.backward(&[&x], &y, &g, false)
                .unwrap()
                .inputs
                .remove(0)
        };
        let first = gradient(&conv);
        assert!(
            conv.adjoint.0.get().is_some_and(Option::is_some),
            "the adjoint is kept"
        );
        assert_eq!(
            gradient(&conv),
            first,
            "the kept adjoint gives the same gradient"
        );
        conv.params_mut()[0].mapv_inplace(|w| 2.0 * w);
        assert!(
            conv.adjoint.0.get().is_none(),
            "params_mut drops the adjoint"
        );
        assert_eq!(
            gradient(&conv),
            first.mapv(|v| 2.0 * v),
            "the doubled weight doubles it"
        );
    }

    /// No adjoint for strides, dilations, or a padding as large as the kernel.
    #[test]
    fn adjoint_needs_stride_and_dilation_one_and_padding_below_the_kernel() {
        let weight = random_tensor(&[2, 2, 3, 3], -1.0, 1.0, 1);
        for (stride, dilation, padding) in [
            ([2, 1], [1, 1], [1; 4]),
            ([1, 1], [1, 2], [1; 4]),
            ([1, 1], [1, 1], [3, 0, 0, 0]),
            ([1, 1], [1, 1], [0, 0, 0, 3]),
        ] {
            let conv = Conv2d::new(weight.clone(), None, stride, padding, dilation, 1).unwrap();
            assert!(
                adjoint(&conv).is_none(),
                "{stride:?} {dilation:?} {padding:?}"
            );
        }
    }
}
