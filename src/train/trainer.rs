//! A training loop: a model, an optimiser ([`Optimizer`]: SGD, Adam or AdamW), a loss
//! ([`Loss`]) with optional L1/L2 penalties on the weights ([`Penalty`]), a learning-rate
//! schedule ([`LearningRate`]) and, optionally, a dataset drawn from in seeded minibatches.
//!
//! [`Trainer::step`] takes one optimiser step on a batch the caller gives, as a PyTorch loop
//! does:
//!
//! ```text
//! optimizer.zero_grad(); loss = criterion(model(inputs), targets) + penalty(weights)
//! loss.backward(); optimizer.step(); scheduler.step()
//! ```
//!
//! and reports the data loss (without the penalty). [`Trainer::train`] takes steps on
//! minibatches of `batch_size` samples of the dataset set with [`Trainer::set_data`], in the
//! order of a random permutation that is drawn anew for every pass (epoch) over the data; the
//! last minibatch of an epoch holds the samples left over (PyTorch's `DataLoader(shuffle=True,
//! drop_last=False)`). Permutations are Fisher-Yates shuffles from a ChaCha8 generator seeded
//! with `seed`, so a run is the same on every platform.
//!
//! Each step runs the graph in its training form, as PyTorch's `model.train()`
//! ([`Graph::trace_training`]): BatchNorm normalises with the batch's statistics and then
//! updates its running mean and variance (momentum 0.1, unbiased variance), Dropout drops with
//! a mask drawn from a second ChaCha8 stream of `seed` (so the minibatch order does not depend
//! on the model's dropouts) and scales the rest by `1/(1-p)`. [`Trainer::graph`] and
//! [`Trainer::evaluate`] use the inference form with the running statistics, as `model.eval()`.
//! BatchNorm cannot normalise a single sample with its own statistics (PyTorch refuses it), so
//! for a model with a BatchNorm [`Trainer::train`] skips an epoch's last minibatch when it holds
//! one sample (PyTorch's `drop_last` for that batch alone).

use super::gradient::batch_gradient;
use super::loss::{evaluate_loss, Evaluation, Loss, Targets};
use super::optimizer::Optimizer;
pub use super::options::TrainerOptions;
use super::penalty::Penalty;
use super::schedule::LearningRate;
use crate::error::{ensure_finite, Error, Result};
use crate::graph::ops::Op;
use crate::graph::Graph;
use crate::tensor::{checked_elements, limits};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What one step measured on its batch, before its update.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct StepStats {
    /// The mean data loss (without the penalties).
    pub loss: f32,
    /// The fraction of the batch predicted right; `None` for mse.
    pub accuracy: Option<f32>,
}

/// A dataset held for minibatch sampling: class labels or target values, as the loss takes.
#[derive(Debug, Clone)]
struct Dataset {
    inputs: Vec<f32>,
    labels: Vec<usize>,
    values: Vec<f32>,
    per_sample: usize,
    targets_per_sample: usize,
    samples: usize,
}

/// A model being trained.
#[derive(Debug, Clone)]
pub struct Trainer {
    graph: Graph,
    optimizer: Optimizer,
    loss: Loss,
    penalty: Penalty,
    learning_rate: LearningRate,
    batch_size: usize,
    rng: ChaCha8Rng,
    /// The Dropout masks' generator: stream 1 of `seed` (the minibatch order is stream 0).
    masks: ChaCha8Rng,
    data: Option<Dataset>,
    order: Vec<usize>,
    cursor: usize,
    steps: usize,
}

impl Trainer {
    /// Starts training `graph`, whose output must suit the loss ([`Loss::check_model`]).
    pub fn new(graph: Graph, options: TrainerOptions) -> Result<Self> {
        options.loss.check_model(&graph)?;
        if graph.param_count() == 0 {
            return Err(Error::invalid("model", "it has no parameters to train"));
        }
        if options.batch_size == 0 || options.batch_size > limits::MAX_BATCH {
            return Err(Error::invalid(
                "batchSize",
                format!(
                    "{} is outside 1..={}",
                    options.batch_size,
                    limits::MAX_BATCH
                ),
            ));
        }
        graph.check_batch(options.batch_size)?;
        let optimizer = Optimizer::new(&graph, options.optimizer_options()?)?;
        let learning_rate = LearningRate::new(options.learning_rate, options.schedule()?)?;
        Ok(Trainer {
            graph,
            optimizer,
            loss: options.loss,
            penalty: options.penalty()?,
            learning_rate,
            batch_size: options.batch_size,
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            masks: {
                let mut masks = ChaCha8Rng::seed_from_u64(options.seed);
                masks.set_stream(1);
                masks
            },
            data: None,
            order: Vec::new(),
            cursor: 0,
            steps: 0,
        })
    }

    /// The model with its current parameters.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The optimiser.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// The loss being minimised.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The learning rate the next step uses.
    pub fn learning_rate(&self) -> f32 {
        self.learning_rate.current()
    }

    /// Sets the learning rate the next step uses, keeping the optimiser's state (momentum,
    /// Adam's moments) and the schedule, which goes on from the new rate (as assigning
    /// `param_group["lr"]` in PyTorch). A rate that is not positive and finite is an error.
    pub fn set_learning_rate(&mut self, rate: f32) -> Result<()> {
        self.learning_rate.set_current(rate)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Minibatch size of [`Trainer::train`].
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// One optimiser step on exactly this batch: the samples of the input shape in `inputs`,
    /// row-major, and their `targets` (as the loss takes them, [`Loss::check_targets`]). Returns
    /// the batch's data loss and accuracy before the update. On an error nothing changes.
    pub fn step(&mut self, inputs: &[f32], targets: Targets) -> Result<StepStats> {
        let samples = self.loss.check_targets(&self.graph, targets)?;
        let x = self.graph.input_tensor(inputs.to_vec(), samples)?;
        // The masks' generator advances only when the step is taken.
        let mut masks = self.masks.clone();
        let mut result = batch_gradient(&self.graph, x, targets, self.loss, &mut masks)?;
        self.penalty.add_gradient(&self.graph, &mut result.params);
        self.optimizer
            .set_learning_rate(self.learning_rate.current());
        self.optimizer.step(&mut self.graph, &result.params)?;
        self.graph.update_running_statistics(&result.trace)?;
        self.masks = masks;
        self.learning_rate.advance();
        self.steps += 1;
        Ok(StepStats {
            loss: result.loss,
            accuracy: result.correct.map(|c| c as f32 / samples as f32),
        })
    }

    /// Sets the dataset that [`Trainer::train`] draws minibatches from (the samples in
    /// `inputs`, row-major, and their `targets`), checking it once; a new epoch starts.
    pub fn set_data(&mut self, inputs: Vec<f32>, targets: Targets) -> Result<()> {
        let samples = self.loss.check_targets(&self.graph, targets)?;
        let per_sample = checked_elements("input", self.graph.input_shape())?;
        if per_sample.checked_mul(samples) != Some(inputs.len()) {
            return Err(Error::InputLength {
                actual: inputs.len(),
                expected: per_sample.saturating_mul(samples),
                batch: samples,
                shape: self.graph.input_shape().to_vec(),
            });
        }
        ensure_finite("training inputs", inputs.iter().copied())?;
        let (labels, values) = match targets {
            Targets::Classes(labels) => (labels.to_vec(), Vec::new()),
            Targets::Values(values) => (Vec::new(), values.to_vec()),
        };
        self.order = (0..samples).collect();
        self.cursor = samples;
        self.data = Some(Dataset {
            inputs,
            targets_per_sample: values.len() / samples,
            labels,
            values,
            per_sample,
            samples,
        });
        Ok(())
    }

    /// The current model's mean data loss and accuracy over a dataset, e.g. a held-out set
    /// between steps.
    pub fn evaluate(&self, inputs: &[f32], targets: Targets) -> Result<Evaluation> {
        evaluate_loss(&self.graph, inputs, targets, self.loss)
    }

    /// Samples in the dataset set with [`Trainer::set_data`] (0 without one).
    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.samples)
    }

    /// Takes `steps` optimiser steps on successive minibatches of the dataset. Stops at the
    /// first error, keeping the steps already taken.
    pub fn train(&mut self, steps: usize) -> Result<Vec<StepStats>> {
        if self.data.is_none() {
            return Err(Error::invalid(
                "training data",
                "none set; call setData(inputs, targets) first",
            ));
        }
        let has_batch_norm = self
            .graph
            .nodes()
            .iter()
            .any(|node| matches!(node.op, Op::BatchNorm(_)));
        let per_sample = self.data.as_ref().map_or(0, |d| d.per_sample);
        let mut stats = Vec::with_capacity(steps);
        for _ in 0..steps {
            let (mut inputs, mut labels, mut values) = self.next_batch();
            if has_batch_norm && inputs.len() == per_sample {
                (inputs, labels, values) = self.next_batch();
            }
            let targets = if self.loss == Loss::CrossEntropy {
                Targets::Classes(&labels)
            } else {
                Targets::Values(&values)
            };
            stats.push(self.step(&inputs, targets)?);
        }
        Ok(stats)
    }

    /// The next minibatch in the current epoch's order (inputs, class labels, target values),
    /// starting a new epoch when it is used up.
    fn next_batch(&mut self) -> (Vec<f32>, Vec<usize>, Vec<f32>) {
        let Some(data) = &self.data else {
            return (Vec::new(), Vec::new(), Vec::new());
        };
        if self.cursor >= self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.cursor = 0;
        }
        let end = (self.cursor + self.batch_size).min(self.order.len());
        let picked = &self.order[self.cursor..end];
        self.cursor = end;
        let mut inputs = Vec::with_capacity(picked.len() * data.per_sample);
        let mut values = Vec::with_capacity(picked.len() * data.targets_per_sample);
        for &i in picked {
            inputs.extend_from_slice(&data.inputs[i * data.per_sample..(i + 1) * data.per_sample]);
            let per = data.targets_per_sample;
            values.extend_from_slice(&data.values[i * per..(i + 1) * per]);
        }
        let labels = if data.labels.is_empty() {
            Vec::new()
        } else {
            picked.iter().map(|&i| data.labels[i]).collect()
        };
        (inputs, labels, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::json::from_json;
    use crate::train::loss::mean_cross_entropy;
    use crate::train::optimizer::OptimizerKind;
    use crate::train::schedule::ScheduleKind;

    fn graph() -> Graph {
        from_json(
            r#"{"format":"nnlens","version":1,"input":[2],"seed":3,"layers":[
            {"type":"dense","units":8,"activation":"tanh"},{"type":"dense","units":2}]}"#,
        )
        .unwrap()
    }

    /// Two separable clusters: training lowers the loss over the whole set.
    fn clusters() -> (Vec<f32>, Vec<usize>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let class = i % 2;
            let sign = if class == 0 { -1.0 } else { 1.0 };
            x.extend([
                sign + 0.1 * (i as f32).sin(),
                sign * 0.5 + 0.1 * (i as f32).cos(),
            ]);
            y.push(class);
        }
        (x, y)
    }

    fn options() -> TrainerOptions {
        TrainerOptions {
            learning_rate: 0.2,
            momentum: Some(0.9),
            batch_size: 8,
            seed: 7,
            ..TrainerOptions::default()
        }
    }

    /// The BatchNorm's running mean, from its inference-form parameters.
    fn running_mean(graph: &Graph) -> Vec<f32> {
        graph
            .nodes()
            .iter()
            .find_map(|node| match &node.op {
                Op::BatchNorm(norm) => Some(norm.mean().iter().copied().collect()),
                _ => None,
            })
            .expect("a batch norm")
    }

    #[test]
    fn batch_norm_trains_on_batch_statistics_and_skips_a_lone_last_sample() {
        let with_norm = || {
            from_json(
                r#"{"format":"nnlens","version":1,"input":[2],"seed":3,"layers":[
                {"type":"dense","units":4},{"type":"batchNorm"},{"type":"activation","fn":"tanh"},
                {"type":"dense","units":2}]}"#,
            )
            .unwrap()
        };
        let (x, y) = clusters();
        // 5 samples in batches of 2: each epoch ends with a batch of one, which is skipped.
        let (x, y) = (x[..10].to_vec(), y[..5].to_vec());
        let mut trainer = Trainer::new(
            with_norm(),
            TrainerOptions {
                batch_size: 2,
                ..options()
            },
        )
        .unwrap();
        trainer.set_data(x.clone(), Targets::Classes(&y)).unwrap();
        assert_eq!(running_mean(trainer.graph()), vec![0.0; 4]);
        trainer.train(6).unwrap();
        assert_eq!(trainer.steps(), 6);
        assert!(
            running_mean(trainer.graph()).iter().all(|&m| m != 0.0),
            "running mean updated"
        );
        // One sample on its own is refused, as PyTorch refuses it, and nothing changes.
        let before = trainer.graph().flat_params();
        let err = trainer
            .step(&x[..2], Targets::Classes(&y[..1]))
            .unwrap_err();
        assert!(
            err.to_string().contains("more than 1 value per channel"),
            "{err}"
        );
        assert_eq!(
            (trainer.graph().flat_params(), trainer.steps()),
            (before, 6)
        );
    }

    #[test]
    fn dropout_masks_are_seeded_and_drawn_anew_each_step() {
        let with_dropout = |rate: f32| {
            from_json(&format!(
                r#"{{"format":"nnlens","version":1,"input":[2],"seed":3,"layers":[
                {{"type":"dense","units":16,"activation":"tanh"}},{{"type":"dropout","rate":{rate}}},
                {{"type":"dense","units":2}}]}}"#
            ))
            .unwrap()
        };
        let (x, y) = clusters();
        let run = |rate: f32, seed: u64| {
            let mut t =
                Trainer::new(with_dropout(rate), TrainerOptions { seed, ..options() }).unwrap();
            let losses: Vec<f32> = (0..2)
                .map(|_| t.step(&x, Targets::Classes(&y)).unwrap().loss)
                .collect();
            (losses, t.graph().flat_params())
        };
        let (losses, params) = run(0.5, 7);
        assert_eq!(
            (losses.clone(), params.clone()),
            run(0.5, 7),
            "same seed, same masks"
        );
        assert_ne!(params, run(0.5, 8).1, "another seed, other masks");
        let (plain_losses, plain_params) = run(0.0, 7);
        assert_ne!(params, plain_params, "the masks change the gradient");
        // The first loss is the training-form loss: with masks it differs from the plain one.
        assert_ne!(losses[0], plain_losses[0]);
        // The model's own output stays the inference form (Dropout the identity).
        assert_eq!(
            Trainer::new(with_dropout(0.5), options())
                .unwrap()
                .evaluate(&x, Targets::Classes(&y))
                .unwrap(),
            Trainer::new(with_dropout(0.0), options())
                .unwrap()
                .evaluate(&x, Targets::Classes(&y))
                .unwrap()
        );
    }

    #[test]
    fn training_on_minibatches_lowers_the_loss_and_is_reproducible() {
        let (x, y) = clusters();
        let before = mean_cross_entropy(&graph(), &x, &y).unwrap();
        let run = || {
            let mut t = Trainer::new(graph(), options()).unwrap();
            t.set_data(x.clone(), Targets::Classes(&y)).unwrap();
            let stats = t.train(25).unwrap();
            (t, stats)
        };
        let (trained, stats) = run();
        assert_eq!((stats.len(), trained.steps()), (25, 25));
        let after = trained.evaluate(&x, Targets::Classes(&y)).unwrap();
        assert_eq!(
            after.loss,
            mean_cross_entropy(trained.graph(), &x, &y).unwrap()
        );
        assert!(after.accuracy > Some(0.9), "{after:?}");
        let after = after.loss;
        assert!(after < 0.5 * before, "{before} -> {after}");
        assert!(stats
            .iter()
            .all(|s| (0.0..=1.0).contains(&s.accuracy.unwrap())));
        let (again, _) = run();
        assert_eq!(trained.graph().flat_params(), again.graph().flat_params());
        let mut other = Trainer::new(
            graph(),
            TrainerOptions {
                seed: 8,
                ..options()
            },
        )
        .unwrap();
        other.set_data(x.clone(), Targets::Classes(&y)).unwrap();
        other.train(25).unwrap();
        assert_ne!(trained.graph().flat_params(), other.graph().flat_params());
    }

    /// Each epoch visits every sample once: 40 samples in batches of 16 are 16 + 16 + 8.
    #[test]
    fn an_epoch_visits_every_sample_once() {
        let (x, y) = clusters();
        let mut t = Trainer::new(
            graph(),
            TrainerOptions {
                batch_size: 16,
                ..options()
            },
        )
        .unwrap();
        t.set_data(x, Targets::Classes(&y)).unwrap();
        for _ in 0..2 {
            let mut seen = Vec::new();
            for expected in [16, 16, 8] {
                let (inputs, labels, values) = t.next_batch();
                assert!(values.is_empty());
                assert_eq!((inputs.len(), labels.len()), (2 * expected, expected));
                for pair in inputs.chunks(2) {
                    seen.push((pair[0].to_bits(), pair[1].to_bits()));
                }
            }
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 40);
        }
    }

    #[test]
    fn rejects_bad_models_data_and_options_and_keeps_state_on_error() {
        let one_class = from_json(
            r#"{"format":"nnlens","version":1,"input":[2],"layers":[{"type":"dense","units":1}]}"#,
        )
        .unwrap();
        assert!(Trainer::new(one_class, options()).is_err());
        let err = Trainer::new(
            graph(),
            TrainerOptions {
                batch_size: 0,
                ..options()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("batchSize"), "{err}");
        let mut t = Trainer::new(graph(), options()).unwrap();
        let err = t.train(1).unwrap_err().to_string();
        assert!(err.contains("setData"), "{err}");
        let start = t.graph().flat_params();
        assert!(t.step(&[0.0, 1.0], Targets::Classes(&[2])).is_err());
        assert!(t.step(&[0.0, f32::NAN], Targets::Classes(&[1])).is_err());
        assert!(t.step(&[0.0, 1.0, 2.0], Targets::Classes(&[1])).is_err());
        assert!(t.set_data(vec![0.0; 3], Targets::Classes(&[0, 1])).is_err());
        assert!(t
            .set_data(vec![0.0, f32::INFINITY], Targets::Classes(&[0]))
            .is_err());
        assert_eq!((t.graph().flat_params(), t.steps()), (start, 0));
        t.step(&[0.5, -0.5], Targets::Classes(&[1])).unwrap();
        assert_eq!(t.steps(), 1);
        assert!(t.step(&[0.5, -0.5], Targets::Values(&[1.0])).is_err());
        let mse = Trainer::new(
            graph(),
            TrainerOptions {
                loss: Loss::Mse,
                ..options()
            },
        )
        .unwrap();
        let err = mse
            .evaluate(&[0.5, -0.5], Targets::Values(&[1.0]))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("1 values for an output of 2 per sample"),
            "{err}"
        );
        let err = Trainer::new(
            graph(),
            TrainerOptions {
                loss: Loss::Bce,
                ..options()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("single output unit"), "{err}");
    }

    /// Regression with mse and a binary task with bce both train on minibatches; the schedule
    /// moves once per step, a refused step moves nothing.
    #[test]
    fn mse_and_bce_train_on_minibatches_under_a_schedule() {
        let (x, y) = clusters();
        let regression: Vec<f32> = x
            .chunks(2)
            .flat_map(|p| [p[0] + p[1], p[0] - p[1]])
            .collect();
        let mut mse = Trainer::new(
            graph(),
            TrainerOptions {
                loss: Loss::Mse,
                optimizer: OptimizerKind::Adam,
                momentum: None,
                learning_rate: 0.05,
                schedule: ScheduleKind::Cosine,
                t_max: Some(40),
                ..options()
            },
        )
        .unwrap();
        mse.set_data(x.clone(), Targets::Values(&regression))
            .unwrap();
        let before = mse.evaluate(&x, Targets::Values(&regression)).unwrap();
        assert_eq!(before.accuracy, None);
        let stats = mse.train(40).unwrap();
        assert!(stats.iter().all(|s| s.accuracy.is_none()));
        let after = mse.evaluate(&x, Targets::Values(&regression)).unwrap();
        assert!(after.loss < 0.2 * before.loss, "{before:?} -> {after:?}");
        assert!(
            mse.learning_rate().abs() < 1e-9,
            "cosine reaches etaMin 0 at tMax"
        );

        let single = from_json(
            r#"{"format":"nnlens","version":1,"input":[2],"seed":3,"layers":[
            {"type":"dense","units":8,"activation":"tanh"},{"type":"dense","units":1,"activation":"sigmoid"}]}"#,
        )
        .unwrap();
        let binary: Vec<f32> = y.iter().map(|&c| c as f32).collect();
        let mut bce = Trainer::new(
            single,
            TrainerOptions {
                loss: Loss::Bce,
                schedule: ScheduleKind::Step,
                step_size: Some(10),
                gamma: Some(0.5),
                ..options()
            },
        )
        .unwrap();
        bce.set_data(x.clone(), Targets::Values(&binary)).unwrap();
        bce.train(20).unwrap();
        assert_eq!(bce.learning_rate(), 0.2 * 0.25);
        let start = bce.graph().flat_params();
        assert!(bce.step(&[0.0, 1.0], Targets::Values(&[1.5])).is_err());
        assert_eq!((bce.steps(), bce.learning_rate()), (20, 0.05));
        assert_eq!(bce.graph().flat_params(), start);
        let after = bce.evaluate(&x, Targets::Values(&binary)).unwrap();
        assert!(after.accuracy > Some(0.9), "{after:?}");
    }

    /// The penalties change the update but not the reported loss.
    #[test]
    fn penalties_steer_the_weights_and_the_loss_reported_is_the_data_loss() {
        let (x, y) = clusters();
        let run = |l1: f32, l2: f32| {
            let mut t = Trainer::new(
                graph(),
                TrainerOptions {
                    l1,
                    l2,
                    ..options()
                },
            )
            .unwrap();
            let stats = t.step(&x[..16], Targets::Classes(&y[..8])).unwrap();
            (stats, t.graph().flat_params())
        };
        let (plain, plain_params) = run(0.0, 0.0);
        for (l1, l2) in [(0.1, 0.0), (0.0, 0.1)] {
            let (penalised, params) = run(l1, l2);
            assert_eq!(penalised, plain);
            assert_ne!(params, plain_params);
        }
    }
}
