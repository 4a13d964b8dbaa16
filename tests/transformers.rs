//! Transformers from both PyTorch exporters against onnxruntime, PyTorch and Captum 0.9: the
//! fixtures of `tests/fixtures/transformers/` (written by
//! `tests/fixtures/make_transformer_fixtures.py`, described in its README): a small ViT and a
//! small text classifier taking int64 token ids, each exported by `torch.onnx` legacy (opset
//! 17, dynamic batch) and dynamo (opset 20). Every number must match within
//! `1e-4 + 1e-3 · |expected|`:
//! outputs at batch 2 and 1, attention maps, attention rollout, Captum's token attribution
//! (`LayerIntegratedGradients`, `LayerGradientXActivation` on the embedding) and its image
//! attribution and Grad-CAM on a block's patch grid.

use nnlens::explain::attention::{attention, attention_rollout};
use nnlens::explain::tokens::token_scores;
use nnlens::explain::{saliency, Baseline, Method, MethodKind, Rule, SaliencyOptions};
use nnlens::graph::InputType;
use nnlens::Graph;
use serde_json::Value;
use std::path::PathBuf;

const ATOL: f64 = 1e-4;
const RTOL: f64 = 1e-3;
const EXPORTS: [&str; 2] = ["legacy", "dynamo"];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transformers")
}

fn doc(model: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join(format!("{model}.json"))).unwrap())
        .unwrap()
}

fn graph(doc: &Value, export: &str) -> Graph {
    let file = doc["exports"][export]["file"].as_str().unwrap();
    nnlens::io::onnx::from_onnx(&std::fs::read(dir().join(file)).unwrap())
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn floats(v: &Value) -> Vec<f32> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn flat(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Sample `s` of a batch-2 array.
fn sample(all: &[f32], s: usize) -> &[f32] {
    let n = all.len() / 2;
    &all[s * n..(s + 1) * n]
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = ATOL + RTOL * f64::from(w).abs();
        assert!(
            (f64::from(g) - f64::from(w)).abs() <= tol,
            "{what}[{i}]: nnlens {g} vs reference {w}"
        );
    }
}

#[test]
fn outputs_match_onnxruntime_at_batch_two_and_one() {
    for model in ["vit", "text"] {
        let doc = doc(model);
        let input = floats(&doc["input"]);
        for export in EXPORTS {
            let g = graph(&doc, export);
            let expected = floats(&doc["exports"][export]["ort_output"]);
            let both = g
                .forward(g.input_tensor(input.clone(), 2).unwrap())
                .unwrap();
            assert_close(
                &format!("{model} {export} batch 2"),
                both.as_slice().unwrap(),
                &expected,
            );
            for s in 0..2 {
                let one = g
                    .forward(g.input_tensor(sample(&input, s).to_vec(), 1).unwrap())
                    .unwrap();
                assert_close(
                    &format!("{model} {export} sample {s}"),
                    one.as_slice().unwrap(),
                    sample(&expected, s),
                );
            }
            let want = if model == "text" {
                InputType::Int64
            } else {
                InputType::Float32
            };
            assert_eq!(g.input_type(), want, "{model} {export}");
        }
    }
}

#[test]
fn attention_and_rollout_match_pytorch() {
    for model in ["vit", "text"] {
        let doc = doc(model);
        let input = floats(&doc["input"]);
        let layers = doc["attention"].as_array().unwrap();
        for export in EXPORTS {
            let g = graph(&doc, export);
            for s in 0..2 {
                let maps = attention(&g, sample(&input, s)).unwrap();
                assert_eq!(
                    maps.len(),
                    layers.len(),
                    "{model} {export}: one map per layer"
                );
                for (map, layer) in maps.iter().zip(layers) {
                    let shape: Vec<usize> = layer["shape"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_u64().unwrap() as usize)
                        .collect();
                    assert_eq!(map.shape.to_vec(), shape, "{model} {export} {}", map.layer);
                    assert_close(
                        &format!("{model} {export} attention {} sample {s}", map.layer),
                        &map.values,
                        &flat(&layer["samples"][s]),
                    );
                }
                let rollout = attention_rollout(&g, sample(&input, s)).unwrap();
                assert_close(
                    &format!("{model} {export} rollout sample {s}"),
                    &rollout.matrix,
                    &flat(&doc["rollout"]["samples"][s]),
                );
                if model == "vit" {
                    assert_close(
                        &format!("vit {export} cls row sample {s}"),
                        rollout.row(0),
                        &flat(&doc["rollout"]["cls_row"][s]),
                    );
                }
            }
        }
    }
}

/// The nnlens method of a fixture case.
fn method(case: &Value) -> Method {
    let kind: MethodKind = case["method"].as_str().unwrap().parse().unwrap();
    let options = &case["options"];
    let mut method = kind.defaults();
    match &mut method {
        Method::Gradient { abs } => *abs = options["abs"].as_bool().unwrap_or(true),
        Method::IntegratedGradients {
            steps,
            rule,
            baseline,
        } => {
            *steps = options["steps"].as_u64().unwrap() as usize;
            *rule = options["rule"].as_str().unwrap().parse::<Rule>().unwrap();
            let start = options["baselineToken"]
                .as_f64()
                .or(options["baseline"].as_f64())
                .unwrap();
            *baseline = Baseline::Scalar(start as f32);
        }
        Method::GradCam { upsample, grid, .. } => {
            *upsample = options["upsample"].as_bool().unwrap();
            let g: Vec<usize> = options["grid"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            *grid = Some([g[0], g[1]]);
        }
        _ => {}
    }
    method
}

/// The nnlens layer holding the ONNX node's output: the node itself, or its batch-first copy.
fn layer_of(g: &Graph, node: &str) -> String {
    let lowered = format!("{node}.batch_first");
    if g.find(&lowered).is_ok() {
        lowered
    } else {
        g.find(node).map(|_| node.to_string()).unwrap()
    }
}

#[test]
fn token_attribution_matches_captum_layer_methods() {
    let doc = doc("text");
    let input = floats(&doc["input"]);
    for export in EXPORTS {
        let g = graph(&doc, export);
        for case in doc["captum_cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let target = case["target"].as_u64().unwrap() as usize;
            let options = SaliencyOptions::new(method(case), target);
            let want = floats(&case["attribution"]);
            let scores = floats(&case["token_scores"]);
            for s in 0..2 {
                let a = saliency(&g, sample(&input, s), &options).unwrap();
                assert_eq!(a.shape, vec![12, 32], "{name}");
                let what = format!("text {export} {name} sample {s}");
                assert_close(&what, &a.values, sample(&want, s));
                assert_close(
                    &format!("{what} token scores"),
                    &token_scores(&a),
                    sample(&scores, s),
                );
                if let Some(deltas) = case["delta"].as_array() {
                    let want = deltas[s].as_f64().unwrap();
                    let got = f64::from(a.delta.unwrap());
                    assert!((got - want).abs() <= 1e-3, "{what}: delta {got} vs {want}");
                }
            }
        }
    }
}

#[test]
fn image_attribution_and_grid_grad_cam_match_captum() {
    let doc = doc("vit");
    let input = floats(&doc["input"]);
    for export in EXPORTS {
        let g = graph(&doc, export);
        let values = &doc["exports"][export]["values"];
        for case in doc["captum_cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let mut m = method(case);
            if let Method::GradCam { layer, .. } = &mut m {
                let block = case["options"]["block"].as_u64().unwrap();
                let node = values[format!("block{block}_output")][0]["node"]
                    .as_str()
                    .unwrap();
                *layer = layer_of(&g, node);
            }
            let options = SaliencyOptions::new(m, case["target"].as_u64().unwrap() as usize);
            let want = floats(&case["attribution"]);
            for s in 0..2 {
                let a = saliency(&g, sample(&input, s), &options).unwrap();
                let what = format!("vit {export} {name} sample {s}");
                assert_close(&what, &a.values, sample(&want, s));
                if let Some(deltas) = case["delta"].as_array() {
                    let want = deltas[s].as_f64().unwrap();
                    let got = f64::from(a.delta.unwrap());
                    assert!((got - want).abs() <= 1e-3, "{what}: delta {got} vs {want}");
                }
            }
        }
    }
}

#[test]
fn token_ids_outside_the_table_are_errors_and_the_model_keeps_working() {
    let doc = doc("text");
    let input = floats(&doc["input"]);
    for export in EXPORTS {
        let g = graph(&doc, export);
        let mut bad = sample(&input, 0).to_vec();
        bad[4] = 50.0;
        let e = g
            .forward(g.input_tensor(bad, 1).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("id 50 at position 4") && e.contains("0..50"),
            "{export}: {e}"
        );
        assert!(g
            .forward(g.input_tensor(sample(&input, 0).to_vec(), 1).unwrap())
            .is_ok());
    }
}

/// The other existing functions on both models: SmoothGrad and occlusion on the ViT's image,
/// occlusion of token windows on the text model, a block's outputs over the batch and their PCA.
#[test]
fn the_other_methods_layer_outputs_and_pca_work_on_transformers() {
    use nnlens::project::pca::{Pca, PcaOptions};
    let vit = doc("vit");
    let text = doc("text");
    for export in EXPORTS {
        let g = graph(&vit, export);
        let x = floats(&vit["input"]);
        for kind in ["smoothGrad", "occlusion"] {
            let mut m = kind.parse::<MethodKind>().unwrap().defaults();
            if let Method::Occlusion {
                window, strides, ..
            } = &mut m
            {
                *window = vec![3, 8, 8];
                *strides = vec![3, 8, 8];
            }
            let a = saliency(&g, sample(&x, 0), &SaliencyOptions::new(m, 3)).unwrap();
            assert_eq!(a.shape, vec![3, 32, 32], "vit {export} {kind}");
            assert!(a.values.iter().all(|v| v.is_finite()));
            assert!(a.values.iter().any(|&v| v != 0.0), "vit {export} {kind}");
        }
        let node = vit["exports"][export]["values"]["block1_output"][0]["node"]
            .as_str()
            .unwrap();
        let block = g.find(&layer_of(&g, node)).unwrap();
        let outputs = g.value_over(block, &x, 2).unwrap();
        assert_eq!(outputs.len(), 2 * 17 * 32);
        let rows = outputs.into_shape_with_order((2, 17 * 32)).unwrap();
        let options = PcaOptions {
            components: 1,
            ..PcaOptions::default()
        };
        let fit = Pca::fit(rows.view(), &options).unwrap();
        assert_eq!(fit.transformed.shape(), &[2, 1]);

        let g = graph(&text, export);
        let ids = floats(&text["input"]);
        let mut m = MethodKind::Occlusion.defaults();
        if let Method::Occlusion { window, .. } = &mut m {
            *window = vec![1];
        }
        let a = saliency(&g, sample(&ids, 0), &SaliencyOptions::new(m, 2)).unwrap();
        assert_eq!(a.shape, vec![12], "text {export}: one score per token");
        assert!(a.values.iter().any(|&v| v != 0.0));
        let noisy = SaliencyOptions::new(MethodKind::SmoothGrad.defaults(), 2);
        let e = saliency(&g, sample(&ids, 0), &noisy)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not defined for a model of token ids"), "{e}");
    }
}
