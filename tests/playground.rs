//! Adam learns TensorFlow Playground's tasks: a network trained by the `Trainer` with
//! `optimizer: adam` on the points of `data::playground::generate` (seeded), through the
//! Playground's feature inputs, reaches a stated accuracy on the held-out half within a stated
//! number of steps: xor from x1 and x2 (two hidden layers of 8) at least 0.95 after 500 steps
//! (reached: 1.0), the spiral from all seven features (two hidden layers of 16) at least 0.93
//! after 2,000 steps (reached: 0.968). Each case prints the accuracy it reached.

use nnlens::data::features::{feature_matrix, parse_features};
use nnlens::data::playground::{generate, PlaygroundOptions, PlaygroundTask};
use nnlens::data::Targets as DataTargets;
use nnlens::io::json::from_json;
use nnlens::train::loss::Targets;
use nnlens::train::optimizer::OptimizerKind;
use nnlens::train::trainer::{Trainer, TrainerOptions};

/// Class labels of a classification split.
fn labels(targets: &DataTargets) -> Vec<usize> {
    match targets {
        DataTargets::Classes(labels) => labels.iter().map(|&l| l as usize).collect(),
        DataTargets::Values(_) => panic!("a classification task"),
    }
}

/// Trains a tanh MLP with `hidden` units per layer on `task` (500 points, noise `noise` percent,
/// half held out, seed 0) through `features` for `steps` Adam steps (learning rate 0.03, batches
/// of 10); returns the test accuracy.
fn test_accuracy(
    task: PlaygroundTask,
    noise: f64,
    features: &[&str],
    hidden: &[usize],
    steps: usize,
) -> f32 {
    let data = generate(
        task,
        &PlaygroundOptions {
            noise,
            ..PlaygroundOptions::default()
        },
    )
    .unwrap();
    let features = parse_features(features).unwrap();
    let layers: Vec<String> = hidden
        .iter()
        .map(|units| format!(r#"{{"type":"dense","units":{units},"activation":"tanh"}}"#))
        .chain([r#"{"type":"dense","units":2}"#.to_string()])
        .collect();
    let model = from_json(&format!(
        r#"{{"format":"nnlens","version":1,"input":[{}],"seed":0,"layers":[{}]}}"#,
        features.len(),
        layers.join(",")
    ))
    .unwrap();
    let options = TrainerOptions {
        optimizer: OptimizerKind::Adam,
        learning_rate: 0.03,
        batch_size: 10,
        seed: 0,
        ..TrainerOptions::default()
    };
    let mut trainer = Trainer::new(model, options).unwrap();
    let train_labels = labels(&data.train.targets);
    trainer
        .set_data(
            feature_matrix(&data.train.points, &features).unwrap(),
            Targets::Classes(&train_labels),
        )
        .unwrap();
    trainer.train(steps).unwrap();
    let test_labels = labels(&data.test.targets);
    let evaluation = trainer
        .evaluate(
            &feature_matrix(&data.test.points, &features).unwrap(),
            Targets::Classes(&test_labels),
        )
        .unwrap();
    let accuracy = evaluation.accuracy.unwrap();
    println!("{task}: test accuracy {accuracy} after {steps} steps");
    accuracy
}

#[test]
fn adam_learns_xor_from_x1_and_x2() {
    let accuracy = test_accuracy(PlaygroundTask::Xor, 0.0, &["x1", "x2"], &[8, 8], 500);
    assert!(accuracy >= 0.95, "xor: test accuracy {accuracy}");
}

#[test]
fn adam_learns_the_spiral_from_every_feature() {
    let every = [
        "x1",
        "x2",
        "x1Squared",
        "x2Squared",
        "x1TimesX2",
        "sinX1",
        "sinX2",
    ];
    let accuracy = test_accuracy(PlaygroundTask::Spiral, 0.0, &every, &[16, 16], 2000);
    assert!(accuracy >= 0.93, "spiral: test accuracy {accuracy}");
}
