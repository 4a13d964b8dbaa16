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
