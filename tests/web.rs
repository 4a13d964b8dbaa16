//! Browser tests of the JavaScript boundary (wasm-bindgen-test in headless Chromium):
//! values cross correctly, every bad input becomes a JS `Error` with a precise message, and the
//! same module instance keeps working after each error. The SIMD128 kernels are tested by the
//! unit tests beside them, which `make test-wasm` also runs in wasm32.
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

/// A `Float32Array` of these values, as JavaScript passes one.
fn floats(values: &[f32]) -> JsValue {
    js_sys::Float32Array::from(values).into()
}

/// A JavaScript number.
fn number(n: f64) -> JsValue {
    JsValue::from_f64(n)
}

/// A JavaScript string.
fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

#[wasm_bindgen_test]
fn forward_trace_and_gradient_cross_the_boundary() {
    let model = Model::from_json(text(CNN)).unwrap();
    let out = model.forward(floats(&input()), JsValue::UNDEFINED).unwrap();
    assert_eq!(out.len(), 3);
    assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let trace = model.trace(floats(&input()), number(1.0)).unwrap();
    assert_eq!(
        trace.names(),
        ["conv", "conv.relu", "pool", "flat", "fc", "softmax"]
    );
    assert_eq!(trace.get(text("pool")).unwrap().len(), 4 * 4 * 4);
    assert_eq!(trace.output(), out);
    let grad = model.gradient(floats(&input()), number(2.0)).unwrap();
    assert_eq!(grad.len(), 64);
    assert!(grad.iter().any(|g| *g != 0.0));
    let batch: Vec<f32> = input().into_iter().chain(input()).collect();
    let two = model.forward(floats(&batch), number(2.0)).unwrap();
    assert_eq!(&two[..3], &out[..]);
    assert_eq!(&two[3..], &out[..]);
}

#[wasm_bindgen_test]
fn every_bad_input_is_an_error_and_the_module_keeps_working() {
    let model = Model::from_json(text(CNN)).unwrap();
    let cases = [
        (
            message(model.forward(floats(&[0.0; 10]), JsValue::UNDEFINED)),
            "input has 10 values, expected 64",
        ),
        (
            message(model.forward(floats(&input()), number(0.0))),
            "batch",
        ),
        (
            message(model.gradient(floats(&input()), number(3.0))),
            "target 3 is out of range",
        ),
        (
            message(
                model
                    .trace(floats(&input()), JsValue::UNDEFINED)
                    .unwrap()
                    .get(text("nope")),
            ),
            "unknown layer 'nope'",
        ),
        (message(Model::from_json(text("{"))), "invalid nnlens JSON"),
        (
            message(Model::from_json(text(
                &CNN.replace("\"flatten\"", "\"flattn\""),
            ))),
            "unknown layer type",
        ),
        (
            message(Model::from_json(text(
                &CNN.replace("\"units\": 3", "\"unit\": 3"),
            ))),
            "unknown field \"unit\"; expected one of: type, name, inputs, units",
        ),
        (
            message(Model::from_json(text(
                &CNN.replace("{ \"type\": \"flatten\", \"name\": \"flat\" },", ""),
            ))),
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
    assert!(message(model.forward(floats(&nan), JsValue::UNDEFINED)).contains("non-finite"));
    // Still working after all those errors.
    assert_eq!(
        model
            .forward(floats(&input()), JsValue::UNDEFINED)
            .unwrap()
            .len(),
        3
    );
    assert!(Model::from_json(text(CNN)).is_ok());
}

#[wasm_bindgen_test]
fn json_round_trip_preserves_outputs() {
    let model = Model::from_json(text(CNN)).unwrap();
    let again = Model::from_json(text(&model.to_json().unwrap())).unwrap();
    assert_eq!(
        model.forward(floats(&input()), JsValue::UNDEFINED).unwrap(),
        again.forward(floats(&input()), JsValue::UNDEFINED).unwrap()
    );
    assert_eq!(model.input_shape().length(), 3);
}

#[wasm_bindgen_test]
fn onnx_round_trip_and_errors_cross_the_boundary() {
    let model = Model::from_json(text(CNN)).unwrap();
    let bytes = model.to_onnx().unwrap();
    let again = Model::from_onnx(js_sys::Uint8Array::from(&bytes[..]).into()).unwrap();
    assert_eq!(
        model.forward(floats(&input()), JsValue::UNDEFINED).unwrap(),
        again.forward(floats(&input()), JsValue::UNDEFINED).unwrap()
    );
    let names: Vec<String> = again
        .trace(floats(&input()), JsValue::UNDEFINED)
        .unwrap()
        .names();
    assert_eq!(
        names,
        ["conv", "conv.relu", "pool", "flat", "fc", "softmax"]
    );
    let cases = [
        (
            message(Model::from_onnx(
                js_sys::Uint8Array::from(&[0xffu8, 0xff, 0xff][..]).into(),
            )),
            "not a valid ONNX model",
        ),
        (
            message(Model::from_onnx(
                js_sys::Uint8Array::new_with_length(0).into(),
            )),
            "the model has no graph",
        ),
        (
            message(Model::from_onnx(
                js_sys::Uint8Array::from(&bytes[..bytes.len() / 2]).into(),
            )),
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
        Model::from_onnx(js_sys::Uint8Array::from(&bytes[..]).into()).is_ok(),
        "still working after the errors"
    );
}

/// The same seed gives the same weights as natively (golden values of src/io/json.rs tests).
#[wasm_bindgen_test]
fn seeded_weights_match_native() {
    let json_text = r#"{ "format": "nnlens", "version": 1, "input": [4], "seed": 3,
        "layers": [ { "type": "dense", "units": 3, "activation": "relu" },
                    { "type": "dense", "units": 2, "name": "out" } ] }"#;
    let json = Model::from_json(self::text(json_text))
        .unwrap()
        .to_json()
        .unwrap();
    let graph = nnlens::io::json::from_json(&json).unwrap();
    let nnlens::graph::ops::Op::Dense(dense) = &graph.nodes()[0].op else {
        panic!("dense expected")
    };
    let first: Vec<f32> = dense.weight().iter().take(3).copied().collect();
    assert_eq!(first, [-0.959_339_56, 0.301_207_45, 0.340_347_1]);
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
    let fit = |options: JsValue| nnlens::web::pca(floats(&data), number(8.0), number(3.0), options);
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

    let model = Model::from_json(text(CNN)).unwrap();
    assert!(message(nnlens::web::Trainer::new(
        &model,
        Some(js(r#"{ "learningRate": 0.1, "momentun": 0.9 }"#))
    ))
    .starts_with("unknown option 'momentun' in Trainer options; the known options are learningRate, momentum"));
    assert_eq!(
        message(nnlens::web::display_map(
            floats(&[1.0, -2.0, 3.0, -4.0]),
            js("[2, 2]"),
            js(r#"{ "sign": "absolute_value" }"#)
        )),
        "invalid display options: 'sign': unknown sign 'absolute_value'; expected one of: \
         absoluteValue, all, positive, negative"
    );
    let shown = |options: JsValue| {
        let map = nnlens::web::display_map(floats(&[1.0, -2.0, 3.0, -4.0]), js("[2, 2]"), options)
            .unwrap();
        js_sys::Float32Array::from(get(&map, "values")).to_vec()
    };
    assert_eq!(
        shown(JsValue::UNDEFINED),
        shown(js(
            r#"{ "reduce": "maxAbs", "sign": "absoluteValue", "outlierPercent": 2 }"#
        ))
    );
}

/// A new loss and optimiser through the options object: mse takes target values and reports no
/// accuracy (`undefined` getter, `null` fields), the schedule's rate is a getter, and an option
/// of another optimiser is an error naming both.
#[wasm_bindgen_test]
fn trainer_options_choose_the_loss_optimiser_and_schedule() {
    let model = Model::from_json(text(CNN)).unwrap();
    assert_eq!(
        message(nnlens::web::Trainer::new(
            &model,
            Some(js(r#"{ "optimizer": "adam", "momentum": 0.9 }"#))
        )),
        "invalid momentum: 0.9 was given, but momentum applies to optimizer 'sgd' only, not to \
         optimizer 'adam'"
    );
    assert_eq!(
        message(nnlens::web::Trainer::new(
            &model,
            Some(js(r#"{ "loss": "hinge" }"#))
        )),
        "invalid Trainer options: 'loss': unknown loss 'hinge'; expected one of: crossEntropy, \
         mse, bce"
    );
    let mut trainer = nnlens::web::Trainer::new(
        &model,
        Some(js(
            r#"{ "optimizer": "adamw", "loss": "mse", "learningRate": 0.01, "schedule": "cosine", "tMax": 2, "batchSize": 2 }"#,
        )),
    )
    .unwrap();
    assert_eq!(trainer.learning_rate(), 0.01);
    let loss = trainer
        .step(floats(&input()), js("[0.25, 0.5, 0.25]"))
        .unwrap();
    assert!(loss > 0.0 && trainer.accuracy().is_none());
    assert!((trainer.learning_rate() - 0.005).abs() < 1e-9);
    let evaluation = trainer
        .evaluate(floats(&input()), js("[0.25, 0.5, 0.25]"))
        .unwrap();
    assert!(get(&evaluation, "accuracy").is_null());
    assert!(get(&evaluation, "loss").as_f64().unwrap() < f64::from(loss));
    assert!(message(trainer.step(floats(&input()), js("[0.5, 0.5]")))
        .contains("2 values for an output of 3"));
    let data: Vec<f32> = input().into_iter().chain(input()).collect();
    trainer
        .set_data(floats(&data), js("[0.25, 0.5, 0.25, 0.25, 0.5, 0.25]"))
        .unwrap();
    let steps = trainer.train(number(2.0)).unwrap();
    assert!(get(&steps, "accuracies").is_null());
    assert_eq!(
        js_sys::Float32Array::from(get(&steps, "losses")).length(),
        2
    );
    assert_eq!(trainer.steps(), 3);
}

#[wasm_bindgen_test]
fn saliency_options_are_per_method_and_logits_default_to_false() {
    let model = Model::from_json(text(CNN)).unwrap();
    let x = input();
    let run = |json: &str| nnlens::web::saliency(&model, floats(&x), js(json), JsValue::UNDEFINED);
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
    assert!(message(nnlens::web::saliency(
        &model,
        floats(&x),
        JsValue::from(3),
        JsValue::UNDEFINED
    ))
    .contains("expected an object"));

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
        nnlens::web::attribute(&model, floats(&x), options, JsValue::UNDEFINED)
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
    let model = Model::from_json(text(CNN)).unwrap();
    let fit = nnlens::web::weight_rows(&model, text("fc"), JsValue::UNDEFINED).unwrap();
    assert_eq!((fit.n_components(), fit.n_features()), (2, 64));
    let err = message(nnlens::web::weight_rows(
        &model,
        text("pool"),
        JsValue::UNDEFINED,
    ));
    assert!(
        err.contains("'pool'") && err.contains("has no weights"),
        "{err}"
    );
    let snapshots: Vec<f32> = (0..12).map(|i| ((i * 5) % 7) as f32).collect();
    let projection = nnlens::web::trajectory(floats(&snapshots), number(3.0), number(4.0)).unwrap();
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
    let parameters = model.parameters(text("conv")).unwrap();
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

#[wasm_bindgen_test]
fn playground_datasets_and_features_cross_the_boundary() {
    use nnlens::web::{playground_dataset, playground_features};
    let data = playground_dataset(
        text("xor"),
        Some(js(
            r#"{ "samples": 40, "noise": 10, "testFraction": 0.25, "seed": 3 }"#,
        )),
    )
    .unwrap();
    assert_eq!(get(&data, "task").as_string().unwrap(), "xor");
    assert_eq!(get(&data, "kind").as_string().unwrap(), "classification");
    let train = get(&data, "train");
    let points = js_sys::Float32Array::from(get(&train, "points")).to_vec();
    let labels = js_sys::Uint32Array::from(get(&train, "labels")).to_vec();
    assert_eq!((points.len(), labels.len()), (60, 30));
    assert!(labels.iter().all(|&l| l <= 1));
    assert!(get(&train, "targets").is_null());
    assert_eq!(
        js_sys::Uint32Array::from(get(&get(&data, "test"), "labels")).length(),
        10
    );
    // The same points as natively (src/data/playground.rs pins this one).
    let circle = get(&playground_dataset(text("circle"), None).unwrap(), "train");
    let first = js_sys::Float32Array::from(get(&circle, "points")).to_vec();
    assert_eq!(first[..2], [0.3295221, 0.94759864]);
    let plane = playground_dataset(text("regressionPlane"), None).unwrap();
    let test = get(&plane, "test");
    assert!(get(&test, "labels").is_null());
    assert_eq!(
        js_sys::Float32Array::from(get(&test, "targets")).length(),
        250
    );
    assert_eq!(
        message(playground_dataset(text("spirals"), None)),
        "unknown playground task 'spirals'; expected one of: circle, xor, gaussian, spiral, \
         regressionPlane, regressionGaussian"
    );
    assert_eq!(
        message(playground_dataset(
            text("circle"),
            Some(js(r#"{ "noise": 80 }"#))
        )),
        "invalid noise: 80 is not a percentage in 0..=50"
    );
    assert!(message(playground_dataset(text("circle"), Some(js(r#"{ "nois": 8 }"#))))
        .starts_with("unknown option 'nois' in playgroundDataset options; the known options are samples, noise, testFraction, seed"));

    let features =
        playground_features(floats(&[2.0, 3.0]), js(r#"["x1TimesX2", "x2Squared"]"#)).unwrap();
    assert_eq!(features, [6.0, 9.0]);
    assert_eq!(
        message(playground_features(
            floats(&[2.0, 3.0]),
            js(r#"["x1", "x1"]"#)
        )),
        "invalid features: 'x1' appears twice; each of x1, x2, x1Squared, x2Squared, x1TimesX2, \
         sinX1, sinX2 may appear once"
    );
    assert_eq!(
        message(playground_features(floats(&[2.0, 3.0]), js(r#""x1""#))),
        "features must be an array of feature names, e.g. [\"x1\", \"x2\"]; the names are: x1, \
         x2, x1Squared, x2Squared, x1TimesX2, sinX1, sinX2"
    );
}

#[wasm_bindgen_test]
fn csv_datasets_and_their_errors_cross_the_boundary() {
    use nnlens::web::parse_csv_js;
    let csv = "x1,x2,species\r\n1,2,setosa\r\n3,\"4\",virginica\r\n";
    let data = parse_csv_js(text(csv), None).unwrap();
    let strings = |key: &str| -> Vec<String> {
        js_sys::Array::from(&get(&data, key))
            .iter()
            .map(|s| s.as_string().unwrap())
            .collect()
    };
    assert_eq!(strings("columns"), ["x1", "x2", "species"]);
    assert_eq!(strings("features"), ["x1", "x2"]);
    assert_eq!(strings("classNames"), ["setosa", "virginica"]);
    assert_eq!(get(&data, "target").as_string().unwrap(), "species");
    assert_eq!(get(&data, "kind").as_string().unwrap(), "classification");
    assert_eq!(get(&data, "rows").as_f64().unwrap(), 2.0);
    assert_eq!(
        js_sys::Float32Array::from(get(&data, "inputs")).to_vec(),
        [1.0, 2.0, 3.0, 4.0]
    );
    assert_eq!(
        js_sys::Uint32Array::from(get(&data, "labels")).to_vec(),
        [0, 1]
    );
    assert!(get(&data, "targets").is_null());
    let regression =
        parse_csv_js(text("y,x\n0.5,1\n2,3"), Some(js(r#"{ "target": "y" }"#))).unwrap();
    assert_eq!(get(&regression, "kind").as_string().unwrap(), "regression");
    assert_eq!(
        js_sys::Float32Array::from(get(&regression, "targets")).to_vec(),
        [0.5, 2.0]
    );
    assert!(get(&regression, "classNames").is_null());
    assert_eq!(
        message(parse_csv_js(text("x1,x2,c\n1,2,0\n1,abc,1"), None)),
        "invalid CSV: line 3, column 'x2': 'abc' is not a number"
    );
    assert_eq!(
        message(parse_csv_js(
            text("a,b\n1,2"),
            Some(js(r#"{ "kind": "ranking" }"#))
        )),
        "invalid parseCsv options: 'kind': unknown dataset kind 'ranking'; expected one of: \
         classification, regression"
    );
}
