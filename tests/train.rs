//! Training against PyTorch: `torch.optim.SGD` steps on fixed batches with mean cross-entropy
//! (tests/fixtures/train/make_train_fixtures.py), replayed with `Trainer::step` from the same
//! initial weights.
//!
//! Tolerance: every loss and every final parameter within `1e-5 · max(1, |reference|)`. Both
//! sides compute in f32 with different summation orders in the matrix products, so results agree
//! to a few ulps per operation; five steps keep the drift far below this bound (the largest
//! deviation is printed).

use nnlens::io::json::from_json;
use nnlens::train::loss::{Loss, Targets};
use nnlens::train::trainer::{Trainer, TrainerOptions};
use serde_json::Value;

const TOLERANCE: f32 = 1e-5;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("an array of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

fn check(name: &str) {
    let path = format!(
        "{}/tests/fixtures/train/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let graph = from_json(&doc["model"].to_string()).unwrap();
    let options: TrainerOptions = serde_json::from_value(doc["options"].clone()).unwrap();
    let mut trainer = Trainer::new(graph, options).unwrap();
    let mut worst = 0.0f32;
    let mut compare = |what: String, actual: f32, expected: f32| {
        let deviation = (actual - expected).abs() / expected.abs().max(1.0);
        worst = worst.max(deviation);
        assert!(
            deviation <= TOLERANCE,
            "{name}: {what} is {actual}, PyTorch {expected}"
        );
    };
    let losses = floats(&doc["losses"]);
    let rates = doc.get("learning_rates").map(floats);
    for (step, batch) in doc["batches"].as_array().unwrap().iter().enumerate() {
        if let Some(rates) = &rates {
            compare(
                format!("the learning rate of step {step}"),
                trainer.learning_rate(),
                rates[step],
            );
        }
        let inputs = floats(&batch["inputs"]);
        let stats = if options.loss == Loss::CrossEntropy {
            let labels: Vec<usize> = batch["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_u64().unwrap() as usize)
                .collect();
            trainer.step(&inputs, Targets::Classes(&labels))
        } else {
            trainer.step(&inputs, Targets::Values(&floats(&batch["targets"])))
        }
        .unwrap();
        compare(format!("the loss of step {step}"), stats.loss, losses[step]);
    }
    let expected = floats(&doc["final_params"]);
    let actual = trainer.graph().flat_params();
    assert_eq!(actual.len(), expected.len(), "{name}: parameter count");
    for (k, (&a, &e)) in actual.iter().zip(&expected).enumerate() {
        compare(format!("final parameter {k}"), a, e);
    }
    println!("{name}: largest relative deviation {worst:.2e}");
}

#[test]
fn mlp_with_momentum_and_weight_decay_matches_pytorch() {
    check("mlp_momentum");
}

#[test]
fn mlp_with_nesterov_momentum_through_a_final_softmax_matches_pytorch() {
    check("mlp_nesterov_softmax");
}

#[test]
fn plain_sgd_through_a_final_log_softmax_matches_pytorch() {
    check("mlp_plain_logsoftmax");
}

#[test]
fn cnn_with_momentum_matches_pytorch() {
    check("cnn_momentum");
}
