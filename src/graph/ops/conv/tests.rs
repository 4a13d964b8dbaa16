use super::super::window::MAX_WINDOW_PARAM;
use super::*;
use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};
// Run in wasm32 too (`make test-wasm`), where the forward pass is the SIMD128 sgemm over
// the patch matrix or, for stride 1 and dilation 1, the direct convolution.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A convolution with random weights: `channels` in, `out` out, kernel `[kh, kw]`.
#[allow(clippy::too_many_arguments)]
fn conv(
    channels: usize,
    out: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 4],
    dilation: [usize; 2],
    groups: usize,
    bias: bool,
) -> Conv2d {
    let weight = random_tensor(&[out, channels / groups, kernel[0], kernel[1]], -1., 1., 21);
    let bias = bias.then(|| random_tensor(&[out], -1., 1., 22));
    Conv2d::new(weight, bias, stride, padding, dilation, groups).unwrap()
}

/// The convolution straight from its definition, with the output size from the PyTorch
/// formula: an implementation independent of im2col, the chunking and the GEMM.
fn direct(conv: &Conv2d, x: &Tensor) -> Tensor {
    let &[n, _, h, w] = x.shape() else {
        panic!("4-D input")
    };
    let &[o, cg, kh, kw] = conv.weight.shape() else {
        panic!("4-D weight")
    };
    let [top, left, bottom, right] = conv.padding.map(|p| p as isize);
    let ([sh, sw], [dh, dw]) = (conv.stride, conv.dilation);
    let out_h = (h as isize + top + bottom - (dh * (kh - 1)) as isize - 1) as usize / sh + 1;
    let out_w = (w as isize + left + right - (dw * (kw - 1)) as isize - 1) as usize / sw + 1;
    let og = o / conv.groups;
    Tensor::from_shape_fn(vec![n, o, out_h, out_w], |index| {
        let (s, oc, i, j) = (index[0], index[1], index[2], index[3]);
        let mut sum = conv.bias.as_ref().map_or(0.0, |b| b[[oc]] as f64);
        for c in 0..cg {
            for p in 0..kh {
                for q in 0..kw {
                    let y = (i * sh + p * dh) as isize - top;
                    let x_ = (j * sw + q * dw) as isize - left;
                    if y >= 0 && x_ >= 0 && (y as usize) < h && (x_ as usize) < w {
                        let input = x[[s, (oc / og) * cg + c, y as usize, x_ as usize]];
                        sum += conv.weight[[oc, c, p, q]] as f64 * input as f64;
                    }
                }
            }
        }
        sum as f32
    })
}

fn assert_close(actual: &Tensor, expected: &Tensor, tol: f32) {
    assert_eq!(actual.shape(), expected.shape());
    for (index, (a, e)) in actual.iter().zip(expected.iter()).enumerate() {
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "element {index}: {a} vs {e}"
        );
    }
}

#[test]
fn forward_matches_hand_computation() {
    // x = 0..16 as 4x4, a 3x3 kernel of ones, padding 1, stride 2: each output is the sum of
    // the input cells its window covers, e.g. top-left 0 + 1 + 4 + 5 = 10.
    let x = Tensor::from_shape_vec(vec![1, 1, 4, 4], (0..16).map(|v| v as f32).collect()).unwrap();
    let ones = Tensor::ones(vec![1, 1, 3, 3]);
    let bias = Tensor::from_elem(vec![1], 0.5);
    let conv = Conv2d::new(ones, Some(bias), [2, 2], [1, 1, 1, 1], [1, 1], 1).unwrap();
    let y = conv.forward(&[&x]).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.as_slice().unwrap(), &[10.5, 24.5, 51.5, 90.5]);

    // Dilation 2 on a 2x2 kernel picks corners two apart: x[0,0] - x[2,2] and so on.
    let corners = Tensor::from_shape_vec(vec![1, 1, 2, 2], vec![1., 0., 0., -1.]).unwrap();
    let conv = Conv2d::new(corners, None, [1, 1], [0; 4], [2, 2], 1).unwrap();
    let y = conv.forward(&[&x]).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.as_slice().unwrap(), &[-10., -10., -10., -10.]);
}

#[test]
fn forward_matches_the_definition() {
    // (batch, channels, height, width, out, kernel, stride, padding, dilation, groups, bias)
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
        usize,
        bool,
    );
    let cases: [Case; 12] = [
        (2, 3, 7, 6, 4, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1, true),
        // 64 outputs per group: the patch matrix in wasm too (below, the direct kernel).
        (2, 2, 6, 7, 64, [3, 3], [1, 1], [1; 4], [1, 1], 1, true),
        // Pointwise (the products read the input in place), grouped and not.
        (3, 4, 3, 7, 6, [1, 1], [1, 1], [0; 4], [1, 1], 2, true),
        (2, 5, 4, 4, 3, [1, 1], [1, 1], [0; 4], [1, 1], 1, false),
        (1, 2, 9, 8, 3, [3, 2], [2, 3], [0; 4], [1, 1], 1, false),
        (3, 4, 8, 8, 6, [3, 3], [2, 1], [2, 0, 1, 3], [2, 1], 2, true),
        (2, 4, 6, 5, 8, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 4, true),
        (2, 3, 5, 5, 2, [1, 1], [1, 1], [0; 4], [1, 1], 1, true),
        (1, 2, 4, 5, 3, [4, 5], [1, 1], [0; 4], [1, 1], 1, true),
        // Padding wider than the kernel: the outer output rows see only zeros and the bias.
        (1, 1, 3, 3, 2, [2, 2], [1, 1], [3, 1, 0, 2], [1, 1], 1, true),
        (
            2,
            6,
            10,
            7,
            3,
            [2, 3],
            [3, 2],
            [1, 2, 2, 1],
            [3, 2],
            3,
            false,
        ),
        (1, 1, 1, 1, 1, [1, 1], [5, 5], [2, 2, 2, 2], [1, 1], 1, true),
    ];
    for (seed, (n, c, h, w, o, kernel, stride, padding, dilation, groups, bias)) in
        cases.into_iter().enumerate()
    {
        let conv = conv(c, o, kernel, stride, padding, dilation, groups, bias);
        let x = random_tensor(&[n, c, h, w], -1., 1., 100 + seed as u64);
        let y = conv.forward(&[&x]).unwrap();
        assert_eq!(conv.output_shape(&[x.shape()]).unwrap(), y.shape());
        assert_close(&y, &direct(&conv, &x), 1e-5);
    }
}

#[test]
fn pointwise_is_a_one_by_one_kernel_with_stride_one_and_no_padding() {
    for (kernel, stride, padding, expected) in [
        ([1, 1], [1, 1], [0; 4], true),
        ([1, 1], [2, 2], [0; 4], false),
        ([1, 1], [1, 1], [0, 0, 1, 0], false),
        ([1, 1], [1, 1], [0, 1, 0, 0], false),
        ([1, 3], [1, 1], [0; 4], false),
    ] {
        let conv = conv(4, 2, kernel, stride, padding, [1, 1], 2, true);
        let geo = conv.geometry(&[2, 4, 5, 6]).unwrap();
        assert_eq!(
            geo.is_pointwise(),
            expected,
            "{kernel:?} {stride:?} {padding:?}"
        );
    }
}

#[test]
fn non_contiguous_input_gives_the_same_result() {
    let conv = conv(3, 2, [3, 2], [1, 2], [1, 0, 1, 1], [1, 1], 1, true);
    let transposed = random_tensor(&[2, 3, 5, 6], -1., 1., 31).permuted_axes(vec![0, 1, 3, 2]);
    assert!(!transposed.is_standard_layout());
    let standard = transposed.as_standard_layout().into_owned();
    assert_eq!(
        conv.forward(&[&transposed]).unwrap(),
        conv.forward(&[&standard]).unwrap()
    );
    let g = random_tensor(
        conv.output_shape(&[standard.shape()]).unwrap().as_slice(),
        -1.,
        1.,
        32,
    );
    let a = conv.backward(&[&transposed], &g, &g, true).unwrap();
    let b = conv.backward(&[&standard], &g, &g, true).unwrap();
    assert_eq!(a.inputs[0], b.inputs[0]);
    assert_eq!(a.params[0], b.params[0]);
}

#[test]
fn chunking_does_not_change_gradients() {
    let conv = conv(4, 6, [3, 3], [2, 1], [1, 2, 0, 1], [1, 2], 2, true);
    let x = random_tensor(&[5, 4, 7, 8], -1., 1., 41);
    let geo = conv.geometry(x.shape()).unwrap();
    assert_eq!(geo.chunk_len(), 5, "small samples share one product");
    let g = random_tensor(&geo.output_shape(), -1., 1., 42);
    let grads = conv.backward_chunked(&geo, Some(&x), &g, 5).unwrap();
    for chunk in [1, 2, 3] {
        let chunked = conv.backward_chunked(&geo, Some(&x), &g, chunk).unwrap();
        assert_close(&chunked.inputs[0], &grads.inputs[0], 1e-5);
        for (a, b) in chunked.params.iter().zip(&grads.params) {
            assert_close(a, b, 1e-5);
        }
    }
}

#[test]
fn large_samples_are_processed_in_chunks() {
    // 64 channels x 3x3 taps x 64x64 outputs = 2.4M patch entries per sample: one per chunk.
    let conv = conv(64, 1, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1, false);
    let geo = conv.geometry(&[3, 64, 64, 64]).unwrap();
    assert_eq!(geo.chunk_len(), 1);
}

#[test]
fn gradients_match_finite_differences() {
    let tol = Tolerance::default();
    let plain = conv(3, 4, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1, true);
    check(&plain, &[random_tensor(&[2, 3, 5, 5], -1., 1., 51)], tol);
    let strided = conv(2, 3, [3, 2], [2, 3], [2, 0, 1, 2], [1, 1], 1, false);
    check(&strided, &[random_tensor(&[2, 2, 7, 8], -1., 1., 52)], tol);
    let dilated_grouped = conv(4, 4, [2, 3], [1, 2], [1, 1, 0, 2], [2, 2], 2, true);
    check(
        &dilated_grouped,
        &[random_tensor(&[2, 4, 6, 6], -1., 1., 53)],
        tol,
    );
    let depthwise = conv(3, 6, [3, 3], [1, 1], [0, 1, 2, 1], [1, 1], 3, true);
    check(
        &depthwise,
        &[random_tensor(&[1, 3, 5, 4], -1., 1., 54)],
        tol,
    );
}

#[test]
fn a_kept_patch_buffer_leaves_nothing_in_the_next_convolution() {
    // The patch buffer is kept between calls on a thread (`with_patch_buffer`): after a
    // larger convolution has filled it, a strided one (the patch matrix on every target)
    // gives what it gave on the thread's first, zeroed buffer, bit for bit.
    let small = conv(2, 3, [3, 3], [2, 1], [1, 2, 1, 1], [1, 1], 1, false);
    let x = random_tensor(&[2, 2, 5, 6], -1., 1., 71);
    let run = || {
        let y = small.forward(&[&x]).unwrap();
        let g = random_tensor(y.shape(), -1., 1., 72);
        let grads = small.backward(&[&x], &y, &g, true).unwrap();
        (y, grads.inputs, grads.params)
    };
    let first = run();
    let large = conv(4, 5, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 1, true);
    let xl = random_tensor(&[3, 4, 11, 9], -1., 1., 73);
    let yl = large.forward(&[&xl]).unwrap();
    large.backward(&[&xl], &yl, &yl, true).unwrap();
    assert_eq!(run(), first);
}

#[test]
fn backward_without_params_returns_only_the_input_gradient() {
    let conv = conv(2, 3, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1, true);
    let x = random_tensor(&[1, 2, 4, 4], -1., 1., 61);
    let g = random_tensor(&[1, 3, 4, 4], -1., 1., 62);
    let grads = conv.backward(&[&x], &g, &g, false).unwrap();
    assert!(grads.params.is_empty());
    assert_eq!(grads.inputs[0].shape(), x.shape());
    let wrong = random_tensor(&[1, 3, 4, 5], -1., 1., 63);
    let err = conv
        .backward(&[&x], &wrong, &wrong, true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[1, 3, 4, 5]") && err.contains("[1, 3, 4, 4]"),
        "{err}"
    );
}

#[test]
fn input_gradients_from_live_channels_equal_the_full_product() {
    // 16 output and 5 input channels: a one-hot class gradient (one channel), a channel in each
    // sample (their union), channels dead under a derivative mask; strides, padding, dilation.
    let cases = [
        ([1, 1], [1, 1], [0, 0, 0, 0], [1, 1]),
        ([3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
        ([3, 3], [2, 2], [0, 1, 2, 0], [1, 1]),
        ([3, 2], [1, 2], [1, 0, 1, 1], [2, 1]),
    ];
    for (kernel, stride, padding, dilation) in cases {
        let conv = conv(5, 16, kernel, stride, padding, dilation, 1, true);
        let x = random_tensor(&[2, 5, 9, 8], -1., 1., 91);
        let geo = conv.geometry(x.shape()).unwrap();
        let dense = random_tensor(&geo.output_shape(), -1., 1., 92);
        let only = |channels: &[(usize, usize)]| {
            let mut g = Tensor::zeros(dense.raw_dim());
            for &(sample, channel) in channels {
                let plane = dense.slice(s![sample, channel, .., ..]);
                g.slice_mut(s![sample, channel, .., ..]).assign(&plane);
            }
            g
        };
        let full = |g: &Tensor| {
            let chunk = geo.chunk_len();
            conv.backward_chunked(&geo, None, g, chunk)
                .unwrap()
                .inputs
                .remove(0)
        };
        for channels in [&[(0, 7)][..], &[(0, 3), (1, 11)], &[(0, 2), (1, 2)], &[]] {
            let g = only(channels);
            let live = conv
                .input_gradient_of_live_channels(x.shape(), &g, None)
                .expect("at most two channels")
                .unwrap();
            assert_eq!(
                live,
                full(&g),
                "kernel {kernel:?}, stride {stride:?}, {channels:?}"
            );
            // The public backward pass takes this path too.
            let dx = conv
                .backward(&[&x], &g, &g, false)
                .unwrap()
                .inputs
                .remove(0);
            assert_eq!(dx, live);
        }
        // Five live output channels of 16 with all 5 inputs are within the share, all 16 are
        // not.
        let five = only(&[(0, 1), (0, 5), (1, 9), (1, 12), (0, 13)]);
        assert_eq!(
            conv.input_gradient_of_live_channels(x.shape(), &five, None)
                .expect("5 × 5 of 16 × 5 pairs")
                .unwrap(),
            full(&five)
        );
        assert!(conv
            .input_gradient_of_live_channels(x.shape(), &dense, None)
            .is_none());
        // A mask that is 0 over input channels 1 and 3 of both samples, and over channel 4 of
        // one: those two channels are left 0, the others are the full product's. It brings a
        // pointwise convolution's dense gradient within the share (16 × 3 of 16 × 5 pairs);
        // any other takes the path by its output channels alone.
        let mut mask = vec![1u8; x.len()];
        let input_plane = 9 * 8;
        for (sample, channel) in [(0, 1), (1, 1), (0, 3), (1, 3), (1, 4)] {
            mask[(sample * 5 + channel) * input_plane..][..input_plane].fill(0);
        }
        // A zero inside a live channel is the epilogue's to apply.
        mask[2 * input_plane + 7] = 0;
        let masked = Epilogue::Masked {
            mask: &mask,
            then: &|_, _| {},
        };
        let pointwise = geo.is_pointwise();
        assert_eq!(
            conv.input_gradient_of_live_channels(x.shape(), &dense, Some(masked))
                .is_some(),
            pointwise,
            "kernel {kernel:?}, stride {stride:?}"
        );
        let g = if pointwise { &dense } else { &five };
        let mut want = full(g);
        for (v, &m) in want.iter_mut().zip(&mask) {
            *v *= f32::from(m);
        }
        let live = conv
            .input_gradient_of_live_channels(x.shape(), g, Some(masked))
            .expect("within the share")
            .unwrap();
        assert_eq!(live, want, "kernel {kernel:?}, stride {stride:?}");
        // The fused epilogue of the public pass takes this path.
        let fused = conv
            .lean_input_gradient_then(x.shape(), g, masked)
            .unwrap()
            .unwrap();
        assert_eq!(fused, want, "kernel {kernel:?}, stride {stride:?}");
    }
    let grouped = conv(4, 16, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 2, false);
    let x = random_tensor(&[1, 4, 6, 6], -1., 1., 93);
    let mut g = Tensor::zeros(IxDyn(&[1, 16, 6, 6]));
    g[[0, 3, 2, 2]] = 1.0;
    assert!(grouped
        .input_gradient_of_live_channels(x.shape(), &g, None)
        .is_none());
}

#[test]
fn rejects_inconsistent_parameters() {
    let w = |shape: &[usize]| random_tensor(shape, -1., 1., 71);
    let err = |r: Result<Conv2d>| r.unwrap_err().to_string();
    let e = err(Conv2d::new(w(&[2, 3, 3]), None, [1, 1], [0; 4], [1, 1], 1));
    assert!(e.contains("4-D") && e.contains("[2, 3, 3]"), "{e}");
    let e = err(Conv2d::new(
        w(&[2, 3, 0, 3]),
        None,
        [1, 1],
        [0; 4],
        [1, 1],
        1,
    ));
    assert!(e.contains("[2, 3, 0, 3]"), "{e}");
    let e = err(Conv2d::new(
        w(&[4, 1, 3, 3]),
        None,
        [1, 1],
        [0; 4],
        [1, 1],
        3,
    ));
    assert!(
        e.contains("groups") && e.contains("got 3") && e.contains("4 output channels"),
        "{e}"
    );
    let e = err(Conv2d::new(
        w(&[4, 1, 3, 3]),
        None,
        [1, 1],
        [0; 4],
        [1, 1],
        0,
    ));
    assert!(e.contains("groups"), "{e}");
    let e = err(Conv2d::new(
        w(&[4, 1, 3, 3]),
        None,
        [0, 1],
        [0; 4],
        [1, 1],
        1,
    ));
    assert!(e.contains("stride") && e.contains("[0, 1]"), "{e}");
    let e = err(Conv2d::new(
        w(&[4, 1, 3, 3]),
        None,
        [1, 1],
        [0; 4],
        [1, 0],
        1,
    ));
    assert!(e.contains("dilation"), "{e}");
    let e = err(Conv2d::new(
        w(&[4, 1, 3, 3]),
        None,
        [1, 1],
        [0, usize::MAX, 0, 0],
        [1, 1],
        1,
    ));
    assert!(
        e.contains("padding") && e.contains(&MAX_WINDOW_PARAM.to_string()),
        "{e}"
    );
    let e = err(Conv2d::new(
        w(&[4, 1, 3, 3]),
        Some(w(&[3])),
        [1, 1],
        [0; 4],
        [1, 1],
        1,
    ));
    assert!(
        e.contains("bias") && e.contains("[4]") && e.contains("[3]"),
        "{e}"
    );
}

#[test]
fn rejects_inputs_that_do_not_fit() {
    let conv = conv(4, 6, [3, 3], [1, 1], [0; 4], [2, 2], 2, true);
    let e = conv.output_shape(&[&[1, 4, 8]]).unwrap_err().to_string();
    assert!(e.contains("NCHW") && e.contains("[1, 4, 8]"), "{e}");
    let e = conv.output_shape(&[&[1, 3, 8, 8]]).unwrap_err().to_string();
    assert!(
        e.contains("expects 4 input channels") && e.contains("2 group(s)"),
        "{e}"
    );
    // The dilated 3x3 kernel spans 5x5 cells.
    let e = conv.output_shape(&[&[1, 4, 4, 9]]).unwrap_err().to_string();
    assert!(
        e.contains("spans 5x5") && e.contains("padded input 4x9"),
        "{e}"
    );
    assert_eq!(
        conv.output_shape(&[&[1, 4, 5, 9]]).unwrap(),
        vec![1, 6, 1, 5]
    );
    // A weight replaced through `params_mut` by one of another shape is caught at use.
    let mut broken = conv.clone();
    *broken.params_mut()[0] = random_tensor(&[5, 2, 3, 3], -1., 1., 82);
    let e = broken
        .forward(&[&random_tensor(&[1, 4, 5, 9], -1., 1., 81)])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("groups") && e.contains("5 output channels"),
        "{e}"
    );
}

#[test]
fn rejects_a_patch_matrix_beyond_the_size_limit() {
    // 1x1 kernel but 2^14 channels over a 2^14 x 1 output: 2^28 patch entries.
    let conv = Conv2d::new(
        Tensor::zeros(vec![1, 1 << 14, 1, 1]),
        None,
        [1, 1],
        [0; 4],
        [1, 1],
        1,
    )
    .unwrap();
    let e = conv.output_shape(&[&[1, 1 << 14, 1 << 14, 1]]).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    // A 1x1 input padded to 2^27 + 1 on both axes: the output is refused before anything
    // multiplies its sides (the product would overflow a 32-bit usize).
    let pad = MAX_WINDOW_PARAM / 2;
    let conv = Conv2d::new(
        Tensor::ones(vec![1, 1, 1, 1]),
        None,
        [1, 1],
        [pad; 4],
        [1, 1],
        1,
    )
    .unwrap();
    let e = conv.output_shape(&[&[1, 1, 1, 1]]).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
}
