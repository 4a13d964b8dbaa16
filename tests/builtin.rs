//! The built-in page models, loaded from nnlens JSON, reproduce PyTorch's outputs on real
//! held-out digits (fixtures made by tests/fixtures/make_builtin_models.py), within
//! `1e-4 + 1e-3 * |expected|`, one sample at a time and as one batch.

use nnlens::io::json::from_json;
use serde_json::Value;
use std::fs;

fn load(path: &str) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn assert_close(got: &[f32], expected: &[f32], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let bound = 1e-4 + 1e-3 * e.abs();
        assert!((g - e).abs() <= bound, "{what}[{i}]: got {g}, expected {e}");
    }
}

#[test]
fn builtin_models_match_pytorch() {
    let fixture = load("tests/fixtures/builtin/expected.json");
    let samples = fixture["samples"].as_array().unwrap();
    let inputs: Vec<Vec<f32>> = samples.iter().map(|s| floats(&s["input"])).collect();
    for name in ["cnn", "mlp"] {
        let model = &fixture["models"][name];
        let graph =
            from_json(&fs::read_to_string(format!("www/models/{name}.json")).unwrap()).unwrap();
        let expected: Vec<Vec<f32>> = model["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        for (i, (input, want)) in inputs.iter().zip(&expected).enumerate() {
            let out = graph
                .forward(graph.input_tensor(input.clone(), 1).unwrap())
                .unwrap();
            assert_close(out.as_slice().unwrap(), want, &format!("{name} sample {i}"));
        }
        let batch: Vec<f32> = inputs.concat();
        let out = graph
            .forward(graph.input_tensor(batch, inputs.len()).unwrap())
            .unwrap();
        assert_close(
            out.as_slice().unwrap(),
            &expected.concat(),
            &format!("{name} batch"),
        );
        let predicted: Vec<usize> = expected
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap()
                    .0
            })
            .collect();
        let labels: Vec<usize> = samples
            .iter()
            .map(|s| s["label"].as_u64().unwrap() as usize)
            .collect();
        assert_eq!(predicted, labels, "{name} classifies the samples");
    }
}

#[test]
fn builtin_models_round_trip_through_json() {
    for name in ["cnn", "mlp"] {
        let graph =
            from_json(&fs::read_to_string(format!("www/models/{name}.json")).unwrap()).unwrap();
        let again = from_json(&nnlens::io::json::to_json(&graph).unwrap()).unwrap();
        assert_eq!(graph, again, "{name}");
    }
}
