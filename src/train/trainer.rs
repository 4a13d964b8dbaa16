//! A training loop: a model, an [`Sgd`] optimiser and, optionally, a labelled dataset drawn from
//! in seeded minibatches.
//!
//! [`Trainer::step`] takes one SGD step on a batch the caller gives. [`Trainer::train`] takes
//! steps on minibatches of `batch_size` samples of the dataset set with [`Trainer::set_data`], in
//! the order of a random permutation that is drawn anew for every pass (epoch) over the data;
//! the last minibatch of an epoch holds the samples left over (PyTorch's
//! `DataLoader(shuffle=True, drop_last=False)`). Permutations are Fisher-Yates shuffles from a
//! ChaCha8 generator seeded with `seed`, so a run is the same on every platform.
//!
//! Each step evaluates the batch's mean cross-entropy and its gradient ([`batch_gradient`]) and
//! updates the parameters in place. The graph runs in its inference form: BatchNorm uses its
//! running statistics and Dropout is the identity.

use super::gradient::batch_gradient;
use super::loss::{check_labels, class_count, evaluate, Evaluation};
use super::sgd::{Sgd, SgdOptions};
use crate::error::{ensure_finite, Error, Result};
use crate::graph::Graph;
use crate::tensor::{checked_elements, limits};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Options of a [`Trainer`]: the optimiser's, the minibatch size and the shuffling seed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainerOptions {
    /// Step size. Default 0.01.
    pub learning_rate: f32,
    /// Momentum in `[0, 1)`. Default 0.
    pub momentum: f32,
    /// L2 penalty added to the gradient. Default 0.
    pub weight_decay: f32,
    /// Nesterov momentum. Default false.
    pub nesterov: bool,
    /// Samples per minibatch of [`Trainer::train`], `1..=MAX_BATCH`. Default 32.
    pub batch_size: usize,
    /// Seed of the minibatch order. Default 0.
    pub seed: u64,
}

impl Default for TrainerOptions {
    fn default() -> Self {
        let sgd = SgdOptions::default();
        TrainerOptions {
            learning_rate: sgd.learning_rate,
            momentum: sgd.momentum,
            weight_decay: sgd.weight_decay,
            nesterov: sgd.nesterov,
            batch_size: 32,
            seed: 0,
        }
    }
}

impl TrainerOptions {
    fn sgd(&self) -> SgdOptions {
        SgdOptions {
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            nesterov: self.nesterov,
        }
    }
}

/// What one step measured on its batch, before its update.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct StepStats {
    /// Mean cross-entropy.
    pub loss: f32,
    /// Fraction of the batch classified correctly.
    pub accuracy: f32,
}

/// A labelled dataset held for minibatch sampling.
#[derive(Debug, Clone)]
struct Dataset {
    inputs: Vec<f32>,
    labels: Vec<usize>,
    per_sample: usize,
}

/// A model being trained.
#[derive(Debug, Clone)]
pub struct Trainer {
    graph: Graph,
    sgd: Sgd,
    batch_size: usize,
    rng: ChaCha8Rng,
    data: Option<Dataset>,
    order: Vec<usize>,
    cursor: usize,
    steps: usize,
}

impl Trainer {
    /// Starts training `graph` (a classifier whose output is a vector of class scores).
    pub fn new(graph: Graph, options: TrainerOptions) -> Result<Self> {
        class_count(&graph)?;
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
        let sgd = Sgd::new(&graph, options.sgd())?;
        Ok(Trainer {
            graph,
            sgd,
            batch_size: options.batch_size,
            rng: ChaCha8Rng::seed_from_u64(options.seed),
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
    pub fn optimizer(&self) -> &Sgd {
        &self.sgd
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Minibatch size of [`Trainer::train`].
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// One SGD step on exactly this batch: `labels.len()` samples of the input shape in
    /// `inputs`, row-major. Returns the batch's loss and accuracy before the update. On an
    /// error nothing changes.
    pub fn step(&mut self, inputs: &[f32], labels: &[usize]) -> Result<StepStats> {
        check_labels(labels, class_count(&self.graph)?)?;
        let x = self.graph.input_tensor(inputs.to_vec(), labels.len())?;
        let result = batch_gradient(&self.graph, x, labels)?;
        self.sgd.step(&mut self.graph, &result.params)?;
        self.steps += 1;
        Ok(StepStats {
            loss: result.loss,
            accuracy: result.correct as f32 / labels.len() as f32,
        })
    }

    /// Sets the dataset that [`Trainer::train`] draws minibatches from (`labels.len()` samples
    /// in `inputs`, row-major), checking it once; a new epoch starts.
    pub fn set_data(&mut self, inputs: Vec<f32>, labels: Vec<usize>) -> Result<()> {
        check_labels(&labels, class_count(&self.graph)?)?;
        let per_sample = checked_elements("input", self.graph.input_shape())?;
        if per_sample.checked_mul(labels.len()) != Some(inputs.len()) {
            return Err(Error::InputLength {
                actual: inputs.len(),
                expected: per_sample.saturating_mul(labels.len()),
                batch: labels.len(),
                shape: self.graph.input_shape().to_vec(),
            });
        }
        ensure_finite("training inputs", inputs.iter().copied())?;
        self.order = (0..labels.len()).collect();
        self.cursor = labels.len();
        self.data = Some(Dataset {
            inputs,
            labels,
            per_sample,
        });
        Ok(())
    }

    /// The current model's mean cross-entropy and accuracy over a labelled dataset, e.g. a
    /// held-out set between steps.
    pub fn evaluate(&self, inputs: &[f32], labels: &[usize]) -> Result<Evaluation> {
        evaluate(&self.graph, inputs, labels)
    }

    /// Samples in the dataset set with [`Trainer::set_data`] (0 without one).
    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.labels.len())
    }

    /// Takes `steps` SGD steps on successive minibatches of the dataset. Stops at the first
    /// error, keeping the steps already taken.
    pub fn train(&mut self, steps: usize) -> Result<Vec<StepStats>> {
        if self.data.is_none() {
            return Err(Error::invalid(
                "training data",
                "none set; call setData(inputs, labels) first",
            ));
        }
        let mut stats = Vec::with_capacity(steps);
        for _ in 0..steps {
            let (inputs, labels) = self.next_batch();
            stats.push(self.step(&inputs, &labels)?);
        }
        Ok(stats)
    }

    /// The next minibatch in the current epoch's order, starting a new epoch when it is used up.
    fn next_batch(&mut self) -> (Vec<f32>, Vec<usize>) {
        let Some(data) = &self.data else {
            return (Vec::new(), Vec::new());
        };
        if self.cursor >= self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.cursor = 0;
        }
        let end = (self.cursor + self.batch_size).min(self.order.len());
        let picked = &self.order[self.cursor..end];
        self.cursor = end;
        let mut inputs = Vec::with_capacity(picked.len() * data.per_sample);
        for &i in picked {
            inputs.extend_from_slice(&data.inputs[i * data.per_sample..(i + 1) * data.per_sample]);
        }
        (inputs, picked.iter().map(|&i| data.labels[i]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::json::from_json;
    use crate::train::loss::mean_cross_entropy;

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
            momentum: 0.9,
            batch_size: 8,
            seed: 7,
            ..TrainerOptions::default()
        }
    }

    #[test]
    fn training_on_minibatches_lowers_the_loss_and_is_reproducible() {
        let (x, y) = clusters();
        let before = mean_cross_entropy(&graph(), &x, &y).unwrap();
        let run = || {
            let mut t = Trainer::new(graph(), options()).unwrap();
            t.set_data(x.clone(), y.clone()).unwrap();
            let stats = t.train(25).unwrap();
            (t, stats)
        };
        let (trained, stats) = run();
        assert_eq!((stats.len(), trained.steps()), (25, 25));
        let after = trained.evaluate(&x, &y).unwrap();
        assert_eq!(
            after.loss,
            mean_cross_entropy(trained.graph(), &x, &y).unwrap()
        );
        assert!(after.accuracy > 0.9, "{after:?}");
        let after = after.loss;
        assert!(after < 0.5 * before, "{before} -> {after}");
        assert!(stats.iter().all(|s| (0.0..=1.0).contains(&s.accuracy)));
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
        other.set_data(x.clone(), y.clone()).unwrap();
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
        t.set_data(x, y).unwrap();
        for _ in 0..2 {
            let mut seen = Vec::new();
            for expected in [16, 16, 8] {
                let (inputs, labels) = t.next_batch();
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
        assert!(t.step(&[0.0, 1.0], &[2]).is_err());
        assert!(t.step(&[0.0, f32::NAN], &[1]).is_err());
        assert!(t.step(&[0.0, 1.0, 2.0], &[1]).is_err());
        assert!(t.set_data(vec![0.0; 3], vec![0, 1]).is_err());
        assert!(t.set_data(vec![0.0, f32::INFINITY], vec![0]).is_err());
        assert_eq!((t.graph().flat_params(), t.steps()), (start, 0));
        t.step(&[0.5, -0.5], &[1]).unwrap();
        assert_eq!(t.steps(), 1);
    }
}
