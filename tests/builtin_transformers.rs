//! The built-in transformers of the page (`www/models/vit.onnx`, `www/models/text.onnx` with
//! `text-vocab.txt`, trained by `tests/fixtures/make_builtin_transformers.py`) load, give the
//! probabilities PyTorch and onnxruntime recorded for held-out samples (first digits of
//! `www/data/digits-images.u8`; sentences tokenized here by `nnlens::text` into the ids the
//! script wrote) within `1e-4 + 1e-3 · |expected|`, classify them correctly, and have one
//! attention map per encoder layer; the text model's last layer has its `[CLS]` look most at the
//! repeated word of a sentence that has one (its task).

use nnlens::explain::attention::{attention, attention_rollout};
use nnlens::graph::InputType;
use nnlens::text::{tokenize, TokenizeOptions, Vocab};
use nnlens::Graph;
use serde_json::Value;
use std::fs;

fn read(path: &str) -> Vec<u8> {
    fs::read(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture() -> Value {
    serde_json::from_slice(&read("tests/fixtures/builtin/transformers.json")).unwrap()
}

fn model(doc: &Value) -> Graph {
    let file = doc["file"].as_str().unwrap();
    nnlens::io::onnx::from_onnx(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 + 1e-3 * w.abs(),
            "{what}[{i}]: nnlens {g} vs {w}"
        );
    }
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap()
}

/// The outputs of one sample at a time and of the whole batch against both references, the
/// predictions against the labels, and the attention maps' shapes and rows.
fn check(name: &str, doc: &Value, graph: &Graph, inputs: &[Vec<f32>], labels: &[usize]) {
    for reference in ["torch_outputs", "ort_outputs"] {
        let want: Vec<Vec<f32>> = doc[reference]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        assert_eq!(want.len(), inputs.len());
        for (i, (input, want)) in inputs.iter().zip(&want).enumerate() {
            let out = graph
                .forward(graph.input_tensor(input.clone(), 1).unwrap())
                .unwrap();
            let out = out.as_slice().unwrap();
            assert_close(&format!("{name} sample {i} vs {reference}"), out, want);
            assert_eq!(argmax(out), labels[i], "{name} sample {i} is classified");
        }
        let batch = graph
            .forward(graph.input_tensor(inputs.concat(), inputs.len()).unwrap())
            .unwrap();
        assert_close(
            &format!("{name} batch vs {reference}"),
            batch.as_slice().unwrap(),
            &want.concat(),
        );
    }
    let layers = doc["attention"].as_array().unwrap();
    for input in inputs {
        let maps = attention(graph, input).unwrap();
        assert_eq!(
            maps.len(),
            layers.len(),
            "{name}: one map per encoder layer"
        );
        for (map, layer) in maps.iter().zip(layers) {
            let heads = layer["heads"].as_u64().unwrap() as usize;
            let tokens = layer["tokens"].as_u64().unwrap() as usize;
            assert_eq!(
                map.shape.to_vec(),
                [heads, tokens, tokens],
                "{name} {}",
                map.layer
            );
            for row in map.values.chunks(tokens) {
                let sum: f32 = row.iter().sum();
                assert!(
                    (sum - 1.0).abs() < 1e-4,
                    "{name}: a row of attention sums to {sum}"
                );
            }
        }
        let rollout = attention_rollout(graph, input).unwrap();
        assert_eq!(
            rollout.row(0).len(),
            layers[0]["tokens"].as_u64().unwrap() as usize
        );
    }
}

#[test]
fn vit_classifies_held_out_digits_as_pytorch_does() {
    let doc = &fixture()["models"]["vit"];
    let graph = model(doc);
    assert_eq!(graph.input_type(), InputType::Float32);
    assert_eq!(graph.input_shape(), [1, 28, 28]);
    let images = read("www/data/digits-images.u8");
    let samples = doc["samples"].as_array().unwrap();
    let inputs: Vec<Vec<f32>> = samples
        .iter()
        .map(|s| {
            let i = s["index"].as_u64().unwrap() as usize;
            images[i * 784..(i + 1) * 784]
                .iter()
                .map(|&b| f32::from(b) / 255.0)
                .collect()
        })
        .collect();
    let labels: Vec<usize> = samples
        .iter()
        .map(|s| s["label"].as_u64().unwrap() as usize)
        .collect();
    check("vit", doc, &graph, &inputs, &labels);
    assert!(doc["heldout_accuracy"].as_f64().unwrap() > 0.9);
}

#[test]
fn text_model_reads_sentences_tokenized_by_nnlens() {
    let doc = &fixture()["models"]["text"];
    let graph = model(doc);
    assert_eq!(graph.input_type(), InputType::Int64);
    let length = doc["length"].as_u64().unwrap() as usize;
    assert_eq!(graph.input_shape(), [length]);
    let vocab =
        Vocab::parse(&String::from_utf8(read(doc["vocab"].as_str().unwrap())).unwrap()).unwrap();
    let options = TokenizeOptions {
        lowercase: true,
        length: Some(length),
    };
    let samples = doc["samples"].as_array().unwrap();
    let mut inputs = Vec::new();
    for sample in samples {
        let text = sample["text"].as_str().unwrap();
        let encoding = tokenize(&vocab, text, &options).unwrap();
        let ids: Vec<u32> = sample["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(encoding.ids, ids, "{text}");
        assert_eq!(
            &encoding.tokens[..sample["tokens"].as_array().unwrap().len()],
            sample["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect::<Vec<_>>(),
            "{text}"
        );
        inputs.push(ids.iter().map(|&id| id as f32).collect());
    }
    let labels: Vec<usize> = samples
        .iter()
        .map(|s| s["label"].as_u64().unwrap() as usize)
        .collect();
    assert!(labels.contains(&0) && labels.contains(&1));
    check("text", doc, &graph, &inputs, &labels);
    // Readable attention: in the last layer, [CLS] (averaged over heads) looks most at a word
    // that occurs twice when the sentence has one.
    for (sample, input) in samples.iter().zip(&inputs) {
        if sample["label"] != 1 {
            continue;
        }
        let maps = attention(&graph, input).unwrap();
        let last = maps.last().unwrap();
        let (heads, tokens) = (last.shape[0], last.shape[2]);
        let cls_row: Vec<f32> = (0..tokens)
            .map(|k| {
                (0..heads)
                    .map(|h| last.values[h * tokens * tokens + k])
                    .sum()
            })
            .collect();
        let looked_at = argmax(&cls_row);
        let occurrences = input.iter().filter(|&&id| id == input[looked_at]).count();
        let token = vocab.token(input[looked_at] as u32).unwrap();
        assert!(
            occurrences >= 2 && !token.starts_with("##") && !token.starts_with('['),
            "{}: [CLS] looks most at '{token}'",
            sample["text"]
        );
    }
    assert!(doc["heldout_accuracy"].as_f64().unwrap() > 0.95);
}

#[test]
fn built_in_files_are_small() {
    for file in [
        "www/models/vit.onnx",
        "www/models/text.onnx",
        "www/models/text-vocab.txt",
    ] {
        let bytes = read(file).len();
        assert!(bytes < 500_000, "{file}: {bytes} bytes");
    }
}
