//! Training mode against PyTorch's `model.train()` (tests/fixtures/train/make_train_mode_fixtures.py):
//! one training-mode pass of an MLP with BatchNorm1d and a CNN with BatchNorm2d (outputs, input
//! and parameter gradients of `L = Σ output ⊙ cotangent`, running statistics after the update),
//! and a CNN with both trained by SGD with momentum in training mode, replayed by the `Trainer`
//! (losses, final parameters, running statistics and the `eval()` outputs afterwards). The CNN's
//! one pass is also checked on its ONNX export, imported.
//!
//! Tolerance: every value within `1e-5 · max(1, |reference|)`, as tests/train.rs. Both sides
//! compute in f32 with different summation orders (nnlens accumulates the batch statistics in
//! f64), so results agree to a few ulps per operation; the largest deviation is printed (about
//! 4e-7 here).

use nnlens::graph::ops::norm::BatchNorm;
use nnlens::graph::ops::Op;
use nnlens::graph::Graph;
use nnlens::io::json::from_json;
use nnlens::io::onnx::from_onnx;
use nnlens::train::loss::Targets;
use nnlens::train::trainer::{Trainer, TrainerOptions};
use nnlens::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const TOLERANCE: f32 = 1e-5;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("an array of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/train/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Compares values against PyTorch's, keeping the largest relative deviation.
struct Comparison<'a> {
    name: &'a str,
    worst: f32,
}

impl Comparison<'_> {
    fn values(&mut self, what: &str, actual: impl IntoIterator<Item = f32>, expected: &[f32]) {
        let actual: Vec<f32> = actual.into_iter().collect();
        assert_eq!(
            actual.len(),
            expected.len(),
            "{}: length of {what}",
            self.name
        );
        for (k, (&a, &e)) in actual.iter().zip(expected).enumerate() {
            let deviation = (a - e).abs() / e.abs().max(1.0);
            self.worst = self.worst.max(deviation);
            assert!(
                deviation <= TOLERANCE,
                "{}: {what}[{k}] is {a}, PyTorch {e}",
                self.name
            );
        }
    }

    /// The running statistics of each batch norm named in `expected`, found in `graph` under
    /// the name `rename` gives it.
    fn running_stats(&mut self, graph: &Graph, expected: &Value, rename: &dyn Fn(&str) -> String) {
        let expected = expected.as_object().expect("running_stats by layer");
        for (layer, stats) in expected {
            let norm = batch_norm(graph, &rename(layer));
            self.values(
                &format!("running mean of {layer}"),
                norm.mean().iter().copied(),
                &floats(&stats["mean"]),
            );
            self.values(
                &format!("running var of {layer}"),
                norm.var().iter().copied(),
                &floats(&stats["var"]),
            );
        }
    }
}

fn batch_norm<'g>(graph: &'g Graph, layer: &str) -> &'g BatchNorm {
    match &graph.node_of(graph.find(layer).unwrap()).unwrap().op {
        Op::BatchNorm(b) => b,
        other => panic!("{layer} is {}, not a batch norm", other.kind()),
    }
}

/// Checks one training-mode pass of `graph` (the fixture's model, from its JSON document or its
/// ONNX export, whose batch norms `rename` maps the JSON names to).
fn one_pass(name: &str, mut graph: Graph, rename: &dyn Fn(&str) -> String) {
    let doc = fixture(name);
    let batch = doc["batch"].as_u64().unwrap() as usize;
    let input = graph.input_tensor(floats(&doc["inputs"]), batch).unwrap();
    let trace = graph
        .trace_training(input, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap();
    let mut compare = Comparison { name, worst: 0.0 };
    compare.values(
        "outputs",
        trace.output().iter().copied(),
        &floats(&doc["outputs"]),
    );
    let cotangent =
        Tensor::from_shape_vec(trace.output().shape(), floats(&doc["cotangent"])).unwrap();
    let grads = graph.backward(&trace, cotangent, true).unwrap();
    compare.values(
        "input gradient",
        grads.input(&graph, batch).iter().copied(),
        &floats(&doc["input_gradient"]),
    );
    compare.values(
        "parameter gradients",
        grads.params.iter().flatten().flatten().copied(),
        &floats(&doc["param_gradients"]),
    );
    graph.update_running_statistics(&trace).unwrap();
    compare.running_stats(&graph, &doc["running_stats"], rename);
    println!("{name}: largest relative deviation {:.2e}", compare.worst);
}

fn json_model(name: &str) -> Graph {
    from_json(&fixture(name)["model"].to_string()).unwrap()
}

#[test]
fn mlp_with_batch_norm_1d_in_training_mode_matches_pytorch() {
    let name = "mode_mlp_batchnorm1d";
    one_pass(name, json_model(name), &str::to_string);
}

#[test]
fn cnn_with_batch_norm_2d_in_training_mode_matches_pytorch() {
    let name = "mode_cnn_batchnorm2d";
    one_pass(name, json_model(name), &str::to_string);
}

/// The same CNN exported to ONNX: the import keeps the batch norm's scale, bias and running
/// statistics apart (not folded into the convolution), so it trains as the original does.
#[test]
fn cnn_with_batch_norm_imported_from_onnx_trains_as_in_pytorch() {
    let name = "mode_cnn_batchnorm2d";
    let path = format!(
        "{}/tests/fixtures/train/{name}.onnx",
        env!("CARGO_MANIFEST_DIR")
    );
    let graph = from_onnx(&std::fs::read(path).unwrap()).unwrap();
    let norms: Vec<String> = graph
        .nodes()
        .iter()
        .filter(|n| matches!(n.op, Op::BatchNorm(_)))
        .map(|n| n.name.clone())
        .collect();
    assert_eq!(norms.len(), 1, "one batch norm: {norms:?}");
    one_pass(name, graph, &|_| norms[0].clone());
}

/// `torch.optim.SGD` with momentum and coupled weight decay on `CrossEntropyLoss`, replayed by the
/// `Trainer`, which takes each step in training form.
#[test]
fn cnn_with_batch_norm_trained_by_the_trainer_matches_pytorch() {
    let name = "cnn_batchnorm_momentum";
    let doc = fixture(name);
    let graph = from_json(&doc["model"].to_string()).unwrap();
    let options: TrainerOptions = serde_json::from_value(doc["options"].clone()).unwrap();
    let mut trainer = Trainer::new(graph, options).unwrap();
    let mut compare = Comparison { name, worst: 0.0 };
    let losses = floats(&doc["losses"]);
    for (step, batch) in doc["batches"].as_array().unwrap().iter().enumerate() {
        let labels: Vec<usize> = batch["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_u64().unwrap() as usize)
            .collect();
        let stats = trainer
            .step(&floats(&batch["inputs"]), Targets::Classes(&labels))
            .unwrap();
        compare.values(
            &format!("loss of step {step}"),
            [stats.loss],
            &[losses[step]],
        );
    }
    let graph = trainer.graph();
    compare.values(
        "final parameters",
        graph.flat_params(),
        &floats(&doc["final_params"]),
    );
    compare.running_stats(graph, &doc["running_stats"], &str::to_string);
    let eval_inputs = floats(&doc["eval_inputs"]);
    let samples = eval_inputs.len() / graph.input_shape().iter().product::<usize>();
    let outputs = graph
        .forward(graph.input_tensor(eval_inputs, samples).unwrap())
        .unwrap();
    compare.values(
        "eval() outputs",
        outputs.iter().copied(),
        &floats(&doc["eval_outputs"]),
    );
    println!("{name}: largest relative deviation {:.2e}", compare.worst);
}
