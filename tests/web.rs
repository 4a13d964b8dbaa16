//! Browser tests of the JavaScript boundary (wasm-bindgen-test in headless Chromium):
//! values cross correctly, every bad input becomes a JS `Error` with a precise message, and the
//! same module instance keeps working after each error.
#![cfg(target_arch = "wasm32")]

use nnlens::web::Model;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const CNN: &str = r#"{ "format": "nnlens", "version": 1, "input": [1, 8, 8], "seed": 7,
  "layers": [ { "type": "conv2d", "name": "conv", "filters": 4, "kernel": 3, "padding": 1, "activation": "relu" },
              { "type": "maxPool2d", "name": "pool", "size": 2 },
              { "type": "flatten", "name": "flat" },
              { "type": "dense", "name": "fc", "units": 3 },
              { "type": "activation", "name": "softmax", "fn": "softmax" } ] }"#;

/// The message of a JS `Error` thrown by a binding.
fn message<T>(result: Result<T, wasm_bindgen::JsError>) -> String {
    let value: JsValue = match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.into(),
    };
    let error: &js_sys::Error = value.dyn_ref().expect("a JS Error instance");
    String::from(error.message())
}

fn input() -> Vec<f32> {
    (0..64).map(|i| (i as f32 * 0.37).sin().abs()).collect()
}

#[wasm_bindgen_test]
fn forward_trace_and_gradient_cross_the_boundary() {
    let model = Model::from_json(CNN).unwrap();
    let out = model.forward(input(), None).unwrap();
    assert_eq!(out.len(), 3);
    assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let trace = model.trace(input(), Some(1)).unwrap();
    assert_eq!(
        trace.names(),
        ["conv", "conv.relu", "pool", "flat", "fc", "softmax"]
    );
    assert_eq!(trace.get("pool").unwrap().len(), 4 * 4 * 4);
    assert_eq!(trace.output(), out);
    let grad = model.gradient(&input(), 2).unwrap();
    assert_eq!(grad.len(), 64);
    assert!(grad.iter().any(|g| *g != 0.0));
    let batch: Vec<f32> = input().into_iter().chain(input()).collect();
    let two = model.forward(batch, Some(2)).unwrap();
    assert_eq!(&two[..3], &out[..]);
    assert_eq!(&two[3..], &out[..]);
}

#[wasm_bindgen_test]
fn every_bad_input_is_an_error_and_the_module_keeps_working() {
    let model = Model::from_json(CNN).unwrap();
    let cases = [
        (
            message(model.forward(vec![0.0; 10], None)),
            "input has 10 values, expected 64",
        ),
        (message(model.forward(input(), Some(0))), "batch"),
        (
            message(model.gradient(&input(), 3)),
            "target 3 is out of range",
        ),
        (
            message(model.trace(input(), None).unwrap().get("nope")),
            "unknown layer 'nope'",
        ),
        (message(Model::from_json("{")), "invalid nnlens JSON"),
        (
            message(Model::from_json(&CNN.replace("\"flatten\"", "\"flattn\""))),
            "unknown layer type",
        ),
        (
            message(Model::from_json(
                &CNN.replace("\"units\": 3", "\"unit\": 3"),
            )),
            "missing field 'units'",
        ),
        (
            message(Model::from_json(
                &CNN.replace("{ \"type\": \"flatten\", \"name\": \"flat\" },", ""),
            )),
            "add a flatten layer",
        ),
    ];
    for (got, expected) in cases {
        assert!(
            got.contains(expected),
            "message {got:?} should contain {expected:?}"
        );
    }
    let mut nan = input();
    nan[5] = f32::NAN;
    assert!(message(model.forward(nan, None)).contains("non-finite"));
    // Still working after all those errors.
    assert_eq!(model.forward(input(), None).unwrap().len(), 3);
    assert!(Model::from_json(CNN).is_ok());
}

#[wasm_bindgen_test]
fn json_round_trip_preserves_outputs() {
    let model = Model::from_json(CNN).unwrap();
    let again = Model::from_json(&model.to_json().unwrap()).unwrap();
    assert_eq!(
        model.forward(input(), None).unwrap(),
        again.forward(input(), None).unwrap()
    );
    assert_eq!(model.input_shape().length(), 3);
}

#[wasm_bindgen_test]
fn onnx_round_trip_and_errors_cross_the_boundary() {
    let model = Model::from_json(CNN).unwrap();
    let bytes = model.to_onnx().unwrap();
    let again = Model::from_onnx(&bytes).unwrap();
    assert_eq!(
        model.forward(input(), None).unwrap(),
        again.forward(input(), None).unwrap()
    );
    let names: Vec<String> = again.trace(input(), None).unwrap().names();
    assert_eq!(
        names,
        ["conv", "conv.relu", "pool", "flat", "fc", "softmax"]
    );
    let cases = [
        (
            message(Model::from_onnx(&[0xff, 0xff, 0xff])),
            "not a valid ONNX model",
        ),
        (message(Model::from_onnx(&[])), "the model has no graph"),
        (
            message(Model::from_onnx(&bytes[..bytes.len() / 2])),
            "not a valid ONNX model",
        ),
    ];
    for (got, expected) in cases {
        assert!(
            got.contains(expected),
            "message {got:?} should contain {expected:?}"
        );
    }
    assert!(
        Model::from_onnx(&bytes).is_ok(),
        "still working after the errors"
    );
}

/// The same seed gives the same weights as natively (golden values of src/io/json.rs tests).
#[wasm_bindgen_test]
fn seeded_weights_match_native() {
    let text = r#"{ "format": "nnlens", "version": 1, "input": [4], "seed": 3,
        "layers": [ { "type": "dense", "units": 3, "activation": "relu" },
                    { "type": "dense", "units": 2, "name": "out" } ] }"#;
    let json = Model::from_json(text).unwrap().to_json().unwrap();
    let graph = nnlens::io::json::from_json(&json).unwrap();
    let nnlens::graph::ops::Op::Dense(dense) = &graph.nodes()[0].op else {
        panic!("dense expected")
    };
    let first: Vec<f32> = dense.weight().iter().take(3).copied().collect();
    assert_eq!(first, [-0.959_339_56, 0.301_207_45, 0.340_347_1]);
}

/// Deterministic values in [-1, 1) (a multiplicative hash), so the kernels see no structure.
fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| {
            (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect()
}

fn tensor(shape: &[usize], seed: u32) -> nnlens::Tensor {
    nnlens::Tensor::from_shape_vec(shape, values(shape.iter().product(), seed)).unwrap()
}

/// The batched dense forward pass (the wasm sgemm with the packed weight and the bias as the
/// accumulators' start) equals the definition, summed in the same order, bit for bit, on
/// shapes with partial row tiles and panels and `in` over the kernel's block length; and the
/// packed weight follows a change of the parameters.
#[wasm_bindgen_test]
fn batched_dense_matches_the_definition_and_follows_parameter_changes() {
    use nnlens::graph::ops::{dense::Dense, Kernel};
    for (batch, n_in, n_out, bias) in [
        (5, 3, 1, true),
        (7, 300, 13, false),
        (13, 260, 35, true),
        (9, 17, 9, true),
    ] {
        let w = tensor(&[n_out, n_in], 1);
        let b = bias.then(|| tensor(&[n_out], 2));
        let mut dense = Dense::new(w.clone(), b.clone()).unwrap();
        let x = tensor(&[batch, n_in], 3);
        let expected = |w: &nnlens::Tensor| {
            ndarray::Array2::from_shape_fn((batch, n_out), |(r, o)| {
                (0..n_in).fold(b.as_ref().map_or(0.0, |b| b[[o]]), |sum, i| {
                    sum + x[[r, i]] * w[[o, i]]
                })
            })
            .into_dyn()
        };
        assert_eq!(
            dense.forward(&[&x]).unwrap(),
            expected(&w),
            "{batch}x{n_in}->{n_out}"
        );
        dense.params_mut()[0].mapv_inplace(|v| -2.0 * v);
        let changed = w.mapv(|v| -2.0 * v);
        assert_eq!(
            dense.forward(&[&x]).unwrap(),
            expected(&changed),
            "after params_mut"
        );
    }
}

/// The batched convolution (products written into NCHW from the bias, the wasm sgemm reading
/// the im2col matrix in place) equals the definition within rounding, with groups, stride,
/// padding and a plane that is not a multiple of the kernel's panel width.
#[wasm_bindgen_test]
fn batched_conv2d_matches_the_definition() {
    use nnlens::graph::ops::{conv::Conv2d, Kernel};
    let (n, c, h, w, o, groups, k) = (3, 4, 9, 7, 6, 2, 3);
    for (stride, pad, bias) in [(1, 1, true), (2, 0, false), (1, 2, true)] {
        let weight = tensor(&[o, c / groups, k, k], 5);
        let b = bias.then(|| tensor(&[o], 6));
        let conv = Conv2d::new(
            weight.clone(),
            b.clone(),
            [stride; 2],
            [pad; 4],
            [1, 1],
            groups,
        )
        .unwrap();
        let x = tensor(&[n, c, h, w], 7);
        let y = conv.forward(&[&x]).unwrap();
        let (oh, ow) = (
            (h + 2 * pad - k) / stride + 1,
            (w + 2 * pad - k) / stride + 1,
        );
        assert_eq!(y.shape(), &[n, o, oh, ow]);
        for ((s, oc, i, j), &got) in y
            .clone()
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap()
            .indexed_iter()
        {
            let group = oc / (o / groups);
            let mut sum = b.as_ref().map_or(0.0, |b| b[[oc]]);
            for ci in 0..c / groups {
                for p in 0..k {
                    for q in 0..k {
                        let (yy, xx) = (
                            (i * stride + p) as isize - pad as isize,
                            (j * stride + q) as isize - pad as isize,
                        );
                        if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                            sum += weight[[oc, ci, p, q]]
                                * x[[s, group * (c / groups) + ci, yy as usize, xx as usize]];
                        }
                    }
                }
            }
            assert!(
                (got - sum).abs() <= 1e-5 * (1.0 + sum.abs()),
                "[{s}, {oc}, {i}, {j}]: {got} vs {sum}"
            );
        }
    }
}

/// The direct convolution (stride 1 and dilation 1: output row segments in SIMD registers over
/// a zero-bordered copy of the input) equals the definition summed in patch order `(c, p, q)`
/// from the bias, bit for bit: widths that are and are not multiples of 4 and of a 4-vector
/// tile, padding 0, 1, 2 and asymmetric, groups with an odd channel count, batch > 1.
#[wasm_bindgen_test]
fn direct_conv2d_equals_the_definition_in_patch_order() {
    use nnlens::graph::ops::{conv::Conv2d, Kernel};
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
    let cases: [Case; 6] = [
        (3, 1, 28, 28, 8, [3, 3], [1; 4], 1, true),
        (2, 8, 14, 14, 16, [3, 3], [1; 4], 1, true),
        (2, 3, 7, 5, 5, [3, 3], [0; 4], 1, false),
        (1, 2, 6, 19, 3, [3, 3], [2; 4], 1, true),
        (2, 4, 9, 7, 6, [3, 2], [1, 0, 2, 1], 2, true),
        (2, 6, 4, 33, 9, [5, 3], [2, 1, 2, 1], 3, true),
    ];
    for (seed, (n, c, h, w, o, [kh, kw], padding, groups, bias)) in cases.into_iter().enumerate() {
        let seed = 10 * seed as u32;
        let weight = tensor(&[o, c / groups, kh, kw], seed + 1);
        let b = bias.then(|| tensor(&[o], seed + 2));
        let conv = Conv2d::new(weight.clone(), b.clone(), [1, 1], padding, [1, 1], groups).unwrap();
        let x = tensor(&[n, c, h, w], seed + 3);
        let y = conv.forward(&[&x]).unwrap();
        let [top, left, bottom, right] = padding;
        let (oh, ow) = (h + top + bottom - kh + 1, w + left + right - kw + 1);
        assert_eq!(y.shape(), &[n, o, oh, ow]);
        let cg = c / groups;
        let expected = ndarray::Array4::from_shape_fn((n, o, oh, ow), |(s, oc, i, j)| {
            let group = oc / (o / groups);
            let mut sum = b.as_ref().map_or(0.0, |b| b[[oc]]);
            for ci in 0..cg {
                for p in 0..kh {
                    for q in 0..kw {
                        let (yy, xx) = (
                            (i + p) as isize - top as isize,
                            (j + q) as isize - left as isize,
                        );
                        if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                            sum += weight[[oc, ci, p, q]]
                                * x[[s, group * cg + ci, yy as usize, xx as usize]];
                        }
                    }
                }
            }
            sum
        });
        assert_eq!(y, expected.into_dyn(), "case {seed}");
    }
}

/// The SIMD 2x2 max pooling equals the definition with PyTorch's NaN rule (a NaN anywhere in
/// the window wins), on rows whose window count is not a multiple of four.
#[wasm_bindgen_test]
fn simd_max_pooling_matches_the_definition_with_nan() {
    use nnlens::graph::ops::{pool::MaxPool2d, Kernel};
    let pool = MaxPool2d {
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0; 4],
        ceil_mode: false,
    };
    let (n, c, h, w) = (2, 3, 7, 19);
    let mut x = tensor(&[n, c, h, w], 9);
    for (index, cell) in [[0, 0, 0, 0], [0, 1, 3, 9], [1, 2, 5, 16], [1, 0, 1, 17]]
        .into_iter()
        .enumerate()
    {
        x[cell] = if index % 2 == 0 {
            f32::NAN
        } else {
            f32::INFINITY
        };
    }
    let y = pool.forward(&[&x]).unwrap();
    assert_eq!(y.shape(), &[n, c, h / 2, w / 2]);
    let mut nans = 0;
    for ((s, ch, i, j), &got) in y
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap()
        .indexed_iter()
    {
        let window =
            [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(p, q)| x[[s, ch, 2 * i + p, 2 * j + q]]);
        let expected = window
            .into_iter()
            .reduce(|m, v| if v > m || v.is_nan() { v } else { m })
            .unwrap();
        if expected.is_nan() {
            nans += 1;
            assert!(got.is_nan(), "[{s}, {ch}, {i}, {j}]: {got}");
        } else {
            assert_eq!(got, expected, "[{s}, {ch}, {i}, {j}]");
        }
    }
    assert_eq!(nans, 2);
}

/// PCA's Gram matrix of centred data (the SIMD128 6 × 3 tile over packed panels) equals the
/// definition summed in the documented order (blocks of `BLOCK_ROWS` rows, each from zero,
/// added in turn) bit for bit, on column counts that are not multiples of the panel or the
/// tile and row counts around the block length.
#[wasm_bindgen_test]
fn pca_gram_matrix_equals_the_definition_in_order() {
    use nnlens::project::gram::{centred_gram, BLOCK_ROWS};
    for (index, &(n, p)) in [(2, 1), (5, 7), (256, 6), (300, 13), (600, 20)]
        .iter()
        .enumerate()
    {
        let data = ndarray::Array2::from_shape_vec((n, p), values(n * p, index as u32)).unwrap();
        let mean: Vec<f64> = (0..p)
            .map(|i| (0..n).map(|r| f64::from(data[[r, i]])).sum::<f64>() / n as f64)
            .collect();
        let x = |r: usize, i: usize| f64::from(data[[r, i]]) - mean[i];
        let gram = centred_gram(data.view(), &mean);
        for i in 0..p {
            for j in 0..p {
                let expected = if i < j {
                    0.0
                } else {
                    (0..n).step_by(BLOCK_ROWS).fold(0.0, |g, start| {
                        let end = (start + BLOCK_ROWS).min(n);
                        g + (start..end).fold(0.0, |s, r| s + x(r, i) * x(r, j))
                    })
                };
                assert_eq!(
                    gram[(i, j)].to_bits(),
                    expected.to_bits(),
                    "{n}x{p} ({i}, {j})"
                );
            }
        }
    }
}

// Options objects in, result objects out (src/web/options.rs): every options reader lists the
// known keys for an unknown one, names the key and type of a wrong value, and reads
// `undefined` / `null` as the defaults.

/// A JS value from JSON text.
fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

/// A property of a JS object.
fn get(object: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(object, &key.into()).unwrap()
}

fn pca_data() -> Vec<f32> {
    (0..24).map(|i| ((i * 7) % 11) as f32 - 5.0).collect()
}

#[wasm_bindgen_test]
fn options_readers_list_known_keys_name_types_and_default_when_absent() {
    let data = pca_data();
    let fit = |options: JsValue| nnlens::web::pca(&data, 8, 3, options);
    for absent in [JsValue::UNDEFINED, JsValue::NULL] {
        let pca = fit(absent).unwrap();
        assert_eq!((pca.n_components(), pca.solver()), (2, "full".to_string()));
    }
    assert_eq!(
        message(fit(js(r#"{ "components": 1, "sover": "full" }"#))),
        "unknown option 'sover' in PCA options; the known options are components, whiten, \
         solver, seed, powerIterations"
    );
    assert_eq!(
        message(fit(js(r#"{ "whiten": true, "components": "two" }"#))),
        "invalid PCA options: 'components': invalid type: string \"two\", expected usize"
    );
    assert_eq!(
        message(fit(JsValue::from(5))),
        "PCA options must be an object, e.g. { components, whiten, solver, seed, powerIterations }"
    );
    assert_eq!(
        message(fit(js(r#"{ "solver": "covariance_eigh" }"#))),
        "invalid PCA options: 'solver': unknown PCA solver 'covariance_eigh'; expected one of: \
         auto, full, covarianceEigh, randomized"
    );
    let eigh = fit(js(r#"{ "components": 1, "solver": "covarianceEigh" }"#)).unwrap();
    assert_eq!(eigh.solver(), "covarianceEigh");
    // A key whose value is `undefined` counts as absent.
    let unset = js(r#"{ "whiten": false }"#);
    js_sys::Reflect::set(&unset, &"components".into(), &JsValue::UNDEFINED).unwrap();
    assert_eq!(fit(unset).unwrap().n_components(), 2);

    let model = Model::from_json(CNN).unwrap();
    assert!(message(nnlens::web::Trainer::new(
        &model,
        Some(js(r#"{ "learningRate": 0.1, "momentun": 0.9 }"#))
    ))
    .starts_with("unknown option 'momentun' in Trainer options; the known options are learningRate, momentum"));
    assert_eq!(
        message(nnlens::web::display_map(
            &[1.0, -2.0, 3.0, -4.0],
            vec![2, 2],
            js(r#"{ "sign": "absolute_value" }"#)
        )),
        "invalid display options: 'sign': unknown sign 'absolute_value'; expected one of: \
         absoluteValue, all, positive, negative"
    );
    let shown = |options: JsValue| {
        let map = nnlens::web::display_map(&[1.0, -2.0, 3.0, -4.0], vec![2, 2], options).unwrap();
        js_sys::Float32Array::from(get(&map, "values")).to_vec()
    };
    assert_eq!(
        shown(JsValue::UNDEFINED),
        shown(js(
            r#"{ "reduce": "maxAbs", "sign": "absoluteValue", "outlierPercent": 2 }"#
        ))
    );
}

#[wasm_bindgen_test]
fn saliency_options_are_per_method_and_logits_default_to_false() {
    let model = Model::from_json(CNN).unwrap();
    let x = input();
    let run = |json: &str| nnlens::web::saliency(&model, &x, js(json));
    assert_eq!(
        message(run(r#"{ "method": "gradient", "target": 1, "steps": 3 }"#)),
        "unknown option 'steps' in saliency options for method 'gradient'; the known options \
         are method, target, logits, abs"
    );
    assert_eq!(
        message(run(
            r#"{ "method": "inputXGradient", "target": 1, "abs": true }"#
        )),
        "unknown option 'abs' in saliency options for method 'inputXGradient'; the known \
         options are method, target, logits"
    );
    assert_eq!(
        message(run(
            r#"{ "method": "integratedGradients", "target": 1, "steps": 2.5 }"#
        )),
        "invalid saliency options for method 'integratedGradients': 'steps': invalid type: \
         floating point `2.5`, expected usize"
    );
    assert!(message(run(r#"{ "method": "smoothGrad", "target": 1, "variant": "smoothgrad_sq" }"#))
        .contains("unknown SmoothGrad variant 'smoothgrad_sq'; expected one of: smoothgrad, smoothgradSq, vargrad"));
    assert!(message(run(r#"{ "method": "lime", "target": 1 }"#))
        .contains("unknown attribution method 'lime'; expected one of: gradient, inputXGradient"));
    let err = message(run(r#"{ "method": "gradient", "target": -1 }"#));
    assert!(
        err.contains("'target': invalid type: floating point `-1.0`, expected usize"),
        "{err}"
    );
    assert!(message(run(r#"{ "method": "gradient" }"#)).contains("missing field 'target'"));
    assert!(
        message(nnlens::web::saliency(&model, &x, JsValue::from(3))).contains("expected an object")
    );

    let gradient = run(r#"{ "target": 1 }"#).unwrap();
    assert_eq!(
        gradient,
        run(r#"{ "method": "gradient", "target": 1, "logits": false, "abs": true }"#).unwrap()
    );
    assert_ne!(gradient, run(r#"{ "target": 1, "logits": true }"#).unwrap());

    // `baseline`: a number, an array or a Float32Array; `window` / `strides`: arrays.
    let ig = |baseline: JsValue| {
        let options = js(
            r#"{ "method": "integratedGradients", "target": 2, "steps": 4, "rule": "gaussLegendre" }"#,
        );
        js_sys::Reflect::set(&options, &"baseline".into(), &baseline).unwrap();
        nnlens::web::attribute(&model, &x, options)
    };
    let scalar = ig(JsValue::from(0.25)).unwrap();
    let values = js_sys::Float32Array::from(&[0.25f32; 64][..]);
    let array = js_sys::Array::from(&values);
    for same in [ig(values.into()).unwrap(), ig(array.into()).unwrap()] {
        assert_eq!(
            js_sys::Float32Array::from(get(&same, "values")).to_vec(),
            js_sys::Float32Array::from(get(&scalar, "values")).to_vec()
        );
    }
    assert_eq!(js_sys::Array::from(&get(&scalar, "shape")).length(), 3);
    assert!(get(&scalar, "delta").as_f64().is_some());
    assert!(message(ig(JsValue::from("zero"))).contains("expected a number or a Float32Array"));
    let occlusion =
        run(r#"{ "method": "occlusion", "target": 0, "window": [1, 2, 2], "strides": [1, 2, 2] }"#);
    assert_eq!(occlusion.unwrap().len(), 64);
}

#[wasm_bindgen_test]
fn result_objects_and_core_rules_cross_the_boundary() {
    let model = Model::from_json(CNN).unwrap();
    let fit = nnlens::web::weight_rows(&model, "fc", JsValue::UNDEFINED).unwrap();
    assert_eq!((fit.n_components(), fit.n_features()), (2, 64));
    let err = message(nnlens::web::weight_rows(&model, "pool", JsValue::UNDEFINED));
    assert!(
        err.contains("'pool'") && err.contains("has no weights"),
        "{err}"
    );
    let snapshots: Vec<f32> = (0..12).map(|i| ((i * 5) % 7) as f32).collect();
    let projection = nnlens::web::trajectory(&snapshots, 3, 4).unwrap();
    for (key, len) in [
        ("directions", 8),
        ("coordinates", 6),
        ("explainedVarianceRatio", 2),
    ] {
        assert_eq!(
            js_sys::Float32Array::from(get(&projection, key)).length(),
            len,
            "{key}"
        );
    }
    let parameters = model.parameters("conv").unwrap();
    let weight = parameters.get(0);
    assert_eq!(get(&weight, "name").as_string().unwrap(), "weight");
    assert_eq!(
        js_sys::Float32Array::from(get(&weight, "values")).length(),
        36
    );
    assert_eq!(
        nnlens::web::colormaps(),
        ["viridis", "magma", "inferno", "greys", "blues", "rdbu"]
    );
}
