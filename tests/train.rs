//! Training against PyTorch: `torch.optim.SGD`, `Adam` and `AdamW` steps on fixed batches with
//! `CrossEntropyLoss`, `MSELoss` or `BCEWithLogitsLoss`, L1/L2 penalties on the weights and the
//! `StepLR` / `CosineAnnealingLR` schedules (tests/fixtures/train/make_train_fixtures.py),
//! replayed with `Trainer::step` from the same initial weights; with a schedule, the learning
//! rate of every step is compared too.
//!
//! Tolerance: every loss and every final parameter within `1e-5 · max(1, |reference|)`. Both
//! sides compute in f32 with different summation orders in the matrix products, so results agree
//! to a few ulps per operation; five to ten steps keep the drift far below this bound (the largest
//! deviation is printed). A scheduled rate is compared relative to itself (`RATE_TOLERANCE`).

use nnlens::io::json::from_json;
use nnlens::train::loss::{Loss, Targets};
use nnlens::train::trainer::{Trainer, TrainerOptions};
use serde_json::Value;

const TOLERANCE: f32 = 1e-5;
/// Relative tolerance of a scheduled learning rate: a few f32 ulps.
const RATE_TOLERANCE: f32 = 5e-7;

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
            // Both sides compute the rate in f64 and round it to f32 once: relative to the rate.
            let (actual, expected) = (trainer.learning_rate(), rates[step]);
            assert!(
                (actual - expected).abs() <= RATE_TOLERANCE * expected.abs(),
                "{name}: the learning rate of step {step} is {actual}, PyTorch {expected}"
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

#[test]
fn adam_with_pytorchs_defaults_matches_pytorch() {
    check("adam_mlp");
}

#[test]
fn adam_with_amsgrad_and_every_option_set_on_a_cnn_matches_pytorch() {
    check("adam_amsgrad_cnn");
}

#[test]
fn adam_with_coupled_weight_decay_matches_pytorch() {
    check("adam_weight_decay");
}

#[test]
fn adamw_with_its_default_weight_decay_through_a_final_softmax_matches_pytorch() {
    check("adamw_default_softmax");
}

#[test]
fn adamw_with_explicit_weight_decay_and_amsgrad_matches_pytorch() {
    check("adamw_amsgrad");
}

#[test]
fn sgd_under_a_step_schedule_matches_pytorch() {
    check("sgd_step_schedule");
}

#[test]
fn sgd_under_a_cosine_schedule_past_t_max_matches_pytorch() {
    check("sgd_cosine_schedule");
}

#[test]
fn adam_under_a_cosine_schedule_matches_pytorch() {
    check("adam_cosine_schedule");
}

#[test]
fn mse_on_a_multi_output_regression_matches_pytorch() {
    check("mse_regression");
}

#[test]
fn bce_on_a_single_logit_matches_pytorch() {
    check("bce_logit");
}

#[test]
fn bce_through_a_final_sigmoid_with_adam_matches_pytorch() {
    check("bce_sigmoid_adam");
}

#[test]
fn an_l1_penalty_matches_pytorch() {
    check("l1_sgd");
}

#[test]
fn an_l2_penalty_on_a_cnn_matches_pytorch() {
    check("l2_cnn");
}

#[test]
fn l1_and_l2_penalties_with_adam_match_pytorch() {
    check("l1_l2_adam");
}
