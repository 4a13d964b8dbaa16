use super::*;
use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};
use crate::tensor::from_vec;
use ndarray::IxDyn;

/// Inputs kept away from the kinks of ReLU, LeakyReLU and Clip so differences are smooth.
fn away_from_kinks(shape: &[usize], seed: u64) -> Tensor {
    random_tensor(shape, -2.0, 2.0, seed).mapv(|v| {
        if v.abs() < 0.1 {
            v + 0.3
        } else if (v - 1.0).abs() < 0.1 || (v + 1.0).abs() < 0.1 {
            v + 0.25
        } else {
            v
        }
    })
}

#[test]
fn values_match_closed_forms() {
    assert_eq!(Activation::Relu.apply(-1.0), 0.0);
    assert_eq!(Activation::LeakyRelu { alpha: 0.1 }.apply(-2.0), -0.2);
    assert!((Activation::Sigmoid.apply(0.0) - 0.5).abs() < 1e-7);
    // GELU(1) = Φ(1) = 0.8413447460685429
    assert!((Activation::Gelu.apply(1.0) - 0.841_344_7).abs() < 1e-6);
    assert!((Activation::Erf.apply(0.5) - 0.520_499_9).abs() < 1e-6);
    assert_eq!(
        Activation::Clip {
            min: -1.0,
            max: 1.0
        }
        .apply(3.0),
        1.0
    );
}

/// One activation of each derivative form: the vectorised ReLU, Clip, sigmoid and tanh
/// loops and the general one.
fn derivative_forms() -> [Activation; 8] {
    [
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.2 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Gelu,
        Activation::Erf,
        Activation::Clip {
            min: -1.0,
            max: 1.0,
        },
        Activation::Identity,
    ]
}

#[test]
fn gradients_match_finite_differences() {
    let x = away_from_kinks(&[2, 3, 4], 11);
    for act in derivative_forms() {
        check(&act, std::slice::from_ref(&x), Tolerance::default());
    }
}

/// The input gradient written over the output gradient equals the one `backward`
/// allocates, bit for bit, for every derivative form, also for a gradient in another
/// memory order; shapes that differ are refused.
#[test]
fn backward_in_place_equals_backward() {
    let x = away_from_kinks(&[2, 3, 4], 12);
    let grad = random_tensor(&[2, 3, 4], -1., 1., 13);
    for act in derivative_forms() {
        let y = act.forward(&[&x]).unwrap();
        let expected = act
            .backward(&[&x], &y, &grad, false)
            .unwrap()
            .inputs
            .remove(0);
        let mut in_place = grad.clone();
        act.backward_in_place(&[&x], &y, &mut in_place)
            .expect("activations have the in-place form")
            .unwrap();
        assert_eq!(in_place, expected, "{}", act.kind());
        // A gradient in another memory order (the same values) gives the same result.
        let mut reordered = grad.clone().reversed_axes();
        reordered = reordered.as_standard_layout().into_owned().reversed_axes();
        assert!(!reordered.is_standard_layout());
        act.backward_in_place(&[&x], &y, &mut reordered)
            .unwrap()
            .unwrap();
        assert_eq!(reordered, expected, "{} (reordered)", act.kind());
    }
    let mut short = random_tensor(&[2, 3, 3], -1., 1., 14);
    let y = Activation::Relu.forward(&[&x]).unwrap();
    let err = Activation::Relu
        .backward_in_place(&[&x], &y, &mut short)
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("[2, 3, 3]"), "{err}");
}

/// The forward pass written over its input equals the one into a new buffer bit for bit,
/// over more than one piece of the loop and one run of the in-place copy, with a tail of
/// fewer than four values (SiLU's and the sigmoid's scalar tail); an input in another memory
/// order is left to `forward`.
#[test]
fn forward_in_place_equals_forward() {
    let len = MAP_CHUNK + 2 * IN_PLACE_RUN + 7;
    let x = random_tensor(&[1, len], -8.0, 8.0, 15);
    for act in derivative_forms().into_iter().chain([Activation::Silu]) {
        let expected = act.forward(&[&x]).unwrap();
        let mut in_place = x.clone();
        act.forward_in_place(&mut in_place)
            .expect("a standard-layout input is written in place")
            .unwrap();
        assert_eq!(
            in_place.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{}",
            act.kind()
        );
    }
    let mut transposed = random_tensor(&[3, 4], -1.0, 1.0, 16).reversed_axes();
    let before = transposed.clone();
    assert!(Activation::Relu.forward_in_place(&mut transposed).is_none());
    assert_eq!(transposed, before);
}

/// Clip passes the gradient strictly inside its bounds, as PyTorch's `hardtanh_backward`
/// (`nn.ReLU6`): zero where the input equals a bound, lies beyond one or is NaN; the
/// backward pass from the input and the one from the output alone agree.
#[test]
fn clip_gradient_is_zero_from_its_bounds_on() {
    let clip = Activation::Clip { min: 0.0, max: 6.0 };
    let x = from_vec("x", &[1, 7], vec![-1.0, 0.0, 0.5, 5.5, 6.0, 7.0, f32::NAN]).unwrap();
    let y = clip.forward(&[&x]).unwrap();
    let grad = Tensor::from_elem(IxDyn(&[1, 7]), 2.0);
    let dx = clip
        .backward(&[&x], &y, &grad, false)
        .unwrap()
        .inputs
        .remove(0);
    assert_eq!(dx.as_slice().unwrap(), &[0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 0.0]);
    let lean = clip
        .lean_input_gradients(&[&[1, 7]], Some(&y), grad)
        .expect("Clip's gradient reads its output")
        .unwrap()
        .remove(0);
    assert_eq!(lean, dx);
}

/// The new unary functions against PyTorch's values (float64 `torch.nn.functional`).
#[test]
fn unary_values_match_pytorch() {
    let close = |act: Activation, x: f32, want: f64| {
        let got = act.apply(x);
        assert!(
            (f64::from(got) - want).abs() <= 1e-6 + 1e-6 * want.abs(),
            "{} at {x}: {got} vs {want}",
            act.kind()
        );
    };
    let cases: [(Activation, [f64; 5]); 7] = [
        (
            Activation::Silu,
            [
                0.731_058_578_630_004_9,
                -0.268_941_421_369_995_1,
                1.761_594_155_955_764_6,
                -0.071_944_839_848_366_23,
                0.0,
            ],
        ),
        (
            Activation::GeluTanh,
            [
                0.841_191_990_608_276_8,
                -0.158_808_009_391_723_24,
                1.954_597_694_087_775,
                -7.024_594_819_227_126e-5,
                0.0,
            ],
        ),
        (
            Activation::HardSwish,
            [2.0 / 3.0, -1.0 / 3.0, 5.0 / 3.0, 0.0, 0.0],
        ),
        (
            Activation::Elu { alpha: 0.5 },
            [
                1.0,
                -0.316_060_279_414_278_83,
                2.0,
                -0.490_842_180_555_632_9,
                0.0,
            ],
        ),
        (
            Activation::Selu {
                alpha: SELU_ALPHA,
                gamma: SELU_GAMMA,
            },
            [
                1.050_700_987_355_480_5,
                -1.111_330_737_812_562_5,
                2.101_401_974_710_961,
                -1.725_898_628_189_894_5,
                0.0,
            ],
        ),
        (
            Activation::Softplus,
            [
                1.313_261_687_518_222_8,
                0.313_261_687_518_222_86,
                2.126_928_011_042_972_7,
                0.018_149_927_917_809_738,
                std::f64::consts::LN_2,
            ],
        ),
        (
            Activation::Mish,
            [
                0.865_098_388_267_310_3,
                -0.303_401_461_374_108_95,
                1.943_958_959_533_994_6,
                -0.072_591_740_792_025_35,
                0.0,
            ],
        ),
    ];
    for (act, want) in cases {
        for (x, w) in [1.0, -1.0, 2.0, -4.0, 0.0].into_iter().zip(want) {
            close(act, x, w);
        }
    }
    let hard_sigmoid = Activation::HardSigmoid {
        alpha: HARD_SIGMOID_ALPHA,
        beta: HARD_SIGMOID_BETA,
    };
    close(hard_sigmoid, 1.0, 0.7);
    close(hard_sigmoid, -3.0, 0.0);
    close(hard_sigmoid, 3.0, 1.0);
    close(Activation::Sqrt, 2.0, std::f64::consts::SQRT_2);
    close(Activation::Exp, 1.0, std::f64::consts::E);
    close(Activation::Log, 10.0, std::f64::consts::LN_10);
    close(Activation::Neg, 1.5, -1.5);
    close(Activation::Abs, -1.5, 1.5);
    // Softplus does not overflow: ln(1 + e^100) is 100.
    close(Activation::Softplus, 100.0, 100.0);
    assert_eq!(Activation::Softplus.apply(-200.0), 0.0);
}

/// The edges follow onnxruntime and PyTorch: NaN outside the domain, infinite slopes at 0.
#[test]
fn edges_follow_ieee_and_pytorch() {
    assert!(Activation::Sqrt.apply(-1.0).is_nan());
    assert_eq!(Activation::Sqrt.derivative(0.0, 0.0), f32::INFINITY);
    assert_eq!(Activation::Log.apply(0.0), f32::NEG_INFINITY);
    assert!(Activation::Log.apply(-1.0).is_nan());
    assert_eq!(
        Activation::Log.derivative(0.0, f32::NEG_INFINITY),
        f32::INFINITY
    );
    assert_eq!(Activation::Abs.derivative(0.0, 0.0), 0.0);
    assert_eq!(Activation::Elu { alpha: 0.5 }.derivative(0.0, 0.0), 0.5);
    assert_eq!(Activation::HardSwish.derivative(-3.0, 0.0), -0.5);
    assert_eq!(Activation::HardSwish.derivative(3.5, 3.5), 1.0);
    let hard_sigmoid = Activation::HardSigmoid {
        alpha: 0.25,
        beta: 0.5,
    };
    assert_eq!(hard_sigmoid.derivative(2.0, 1.0), 0.0, "strictly inside");
    assert_eq!(hard_sigmoid.derivative(1.0, 0.75), 0.25);
    for bad in [
        Activation::Elu { alpha: f32::NAN },
        Activation::Selu {
            alpha: 1.0,
            gamma: f32::INFINITY,
        },
        Activation::HardSigmoid {
            alpha: f32::NAN,
            beta: 0.5,
        },
    ] {
        let e = bad.output_shape(&[&[1, 2]]).unwrap_err().to_string();
        assert!(
            e.contains("finite") && (e.contains("NaN") || e.contains("inf")),
            "{e}"
        );
    }
}

#[test]
fn unary_gradients_match_finite_differences() {
    let x = away_from_kinks(&[2, 3, 4], 14);
    for act in [
        Activation::GeluTanh,
        Activation::Exp,
        Activation::Neg,
        Activation::Abs,
        Activation::HardSwish,
        Activation::HardSigmoid {
            alpha: HARD_SIGMOID_ALPHA,
            beta: HARD_SIGMOID_BETA,
        },
        Activation::HardSigmoid {
            alpha: 1.0 / 6.0,
            beta: 0.5,
        },
        Activation::Elu { alpha: 0.7 },
        Activation::Selu {
            alpha: SELU_ALPHA,
            gamma: SELU_GAMMA,
        },
        Activation::Softplus,
        Activation::Mish,
        Activation::Silu,
    ] {
        check(&act, std::slice::from_ref(&x), Tolerance::default());
    }
    // HardSwish across its whole range, away from its kinks at ±3.
    let wide = random_tensor(&[2, 3, 4], -5.0, 5.0, 15).mapv(|v| {
        if (v.abs() - 3.0).abs() < 0.1 {
            v * 1.1
        } else {
            v
        }
    });
    check(&Activation::HardSwish, &[wide], Tolerance::default());
    let positive = random_tensor(&[2, 3, 4], 0.5, 2.0, 16);
    for act in [Activation::Sqrt, Activation::Log, Activation::Reciprocal] {
        check(&act, std::slice::from_ref(&positive), Tolerance::default());
    }
}

/// The loop forms of ReLU, LeakyReLU, Clip and Sigmoid (and `apply` itself for the others, as
/// Tanh) give what `apply` gives, NaN and infinities included, on a short tensor and on one
/// split into pieces.
#[test]
fn loop_forms_equal_apply() {
    let edge = [
        f32::NAN,
        f32::NEG_INFINITY,
        -7.0,
        -0.5,
        0.0,
        2.0,
        6.0,
        9.0,
        f32::INFINITY,
    ];
    // The edges, then a tensor long enough to be split between threads (with `threads`)
    // and whose length is not a multiple of the chunk.
    let small = Tensor::from_shape_vec(vec![1, edge.len()], edge.to_vec()).unwrap();
    let long = 5 * MAP_CHUNK * 4 + 7;
    let large = Tensor::from_shape_fn(vec![4, long / 4 + 1], |i| {
        let k = i[0] * (long / 4 + 1) + i[1];
        edge.get(k)
            .copied()
            .unwrap_or((k as f32 * 0.618_034).sin() * 12.0)
    });
    for x in [&small, &large] {
        for act in [
            Activation::Relu,
            Activation::LeakyRelu { alpha: 0.1 },
            Activation::Clip { min: 0.0, max: 6.0 },
            Activation::Clip {
                min: -1.0,
                max: 1.0,
            },
            Activation::Sigmoid,
            Activation::Tanh,
        ] {
            let y = act.forward(&[x]).unwrap();
            assert_eq!(y.shape(), x.shape());
            for (&v, &got) in x.iter().zip(y.iter()) {
                let want = act.apply(v);
                assert!(
                    got == want || (got.is_nan() && want.is_nan()),
                    "{act:?} of {v}: {got} vs {want}"
                );
            }
        }
    }
}

/// SiLU's derivative from its output is within 2e-6 (absolute; the derivative is at most 1.1
/// in magnitude) of the closed form in f64 over [-100, 100], and ½ at 0. Measured: 1.6e-6,
/// where `1 - σ` is small; the closed form in f32 with `σ` computed again reaches 1.0e-6.
#[test]
fn silu_derivative_from_the_output_matches_the_closed_form() {
    let mut worst = 0.0f64;
    for i in -25_600..=25_600 {
        let x = i as f32 / 256.0;
        let got = Activation::Silu.derivative(x, Activation::Silu.apply(x));
        let s = 1.0 / (1.0 + (-f64::from(x)).exp());
        let want = s * (1.0 + f64::from(x) * (1.0 - s));
        worst = worst.max((f64::from(got) - want).abs());
    }
    assert!(worst < 2e-6, "largest error {worst}");
    assert_eq!(Activation::Silu.derivative(0.0, 0.0), 0.5);
}
