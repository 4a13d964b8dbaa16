//! `Trainer` for JavaScript: training of a `Model` with PyTorch's optimisers (`torch.optim.SGD`,
//! `Adam`, `AdamW`), losses (`CrossEntropyLoss`, `MSELoss`, `BCEWithLogitsLoss`) and
//! learning-rate schedules, one step at a time or over seeded minibatches of a dataset held in
//! wasm memory.

use super::inputs::{describe, floats, numbers};
use super::js_error;
use super::model::Model;
use super::options::{object, read_options};
use crate::train::loss::{Evaluation, Loss, Targets};
use crate::train::trainer::{StepStats, Trainer as CoreTrainer};
use wasm_bindgen::prelude::*;

/// Most steps one `train` call may take, so a single call cannot block for long.
const MAX_STEPS_PER_CALL: f64 = 100_000.0;

/// Class labels from JavaScript numbers: each must be a whole number >= 0 (the range is checked
/// against the model's classes by the core).
fn class_labels(labels: &[f64]) -> Result<Vec<usize>, JsError> {
    labels
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            if l.is_finite() && l >= 0.0 && l.fract() == 0.0 && l <= u32::MAX as f64 {
                Ok(l as usize)
            } else {
                Err(js_error(crate::Error::invalid(
                    "labels",
                    format!("label {l} of sample {i} is not a class index (a whole number >= 0)"),
                )))
            }
        })
        .collect()
}

/// Target values from JavaScript numbers (their range is checked by the core).
fn target_values(targets: &[f64]) -> Vec<f32> {
    targets.iter().map(|&t| t as f32).collect()
}

/// `{ losses, accuracies }`: two `Float32Array`s, `accuracies` `null` for a loss without
/// accuracy.
fn stats_object(stats: &[StepStats], loss: Loss) -> Result<JsValue, JsError> {
    let column = |values: Vec<f32>| js_sys::Float32Array::from(&values[..]).into();
    let accuracies = if loss.has_accuracy() {
        column(
            stats
                .iter()
                .map(|s| s.accuracy.unwrap_or(f32::NAN))
                .collect(),
        )
    } else {
        JsValue::NULL
    };
    object(&[
        ("losses", column(stats.iter().map(|s| s.loss).collect())),
        ("accuracies", accuracies),
    ])
}

/// `{ loss, accuracy }`, `accuracy` `null` for a loss without accuracy.
fn evaluation_object(evaluation: Evaluation) -> Result<JsValue, JsError> {
    object(&[
        ("loss", evaluation.loss.into()),
        (
            "accuracy",
            evaluation.accuracy.map_or(JsValue::NULL, JsValue::from),
        ),
    ])
}

#[wasm_bindgen(typescript_custom_section)]
const TRAINING_TYPES: &str = r#"
/** The options of `new Trainer`: PyTorch's optimisers, losses and learning-rate schedules in camelCase, plus the minibatches of `train`. */
export interface TrainerOptions {
    /** The optimiser: `"sgd"` (`torch.optim.SGD`), `"adam"` (`torch.optim.Adam`) or `"adamw"` (`torch.optim.AdamW`). Default `"sgd"`. */
    optimizer?: "sgd" | "adam" | "adamw";
    /** The (initial) step size, positive. Default 0.01. */
    learningRate?: number;
    /** SGD only: the momentum in `[0, 1)`; 0 is plain SGD. Default 0. */
    momentum?: number;
    /** SGD only: Nesterov momentum (needs `momentum > 0`). Default `false`. */
    nesterov?: boolean;
    /** At least 0: added to the gradient (`g + λθ`) for sgd and adam, decoupled (`θ(1 - ηλ)`) for adamw. Default 0 (sgd, adam), 0.01 (adamw). */
    weightDecay?: number;
    /** Adam/AdamW only: the first-moment decay in `[0, 1)`. Default 0.9. */
    beta1?: number;
    /** Adam/AdamW only: the second-moment decay in `[0, 1)`. Default 0.999. */
    beta2?: number;
    /** Adam/AdamW only: the term added to the denominator, at least 0. Default 1e-8. */
    epsilon?: number;
    /** Adam/AdamW only: the AMSGrad variant. Default `false`. */
    amsgrad?: boolean;
    /** The loss: `"crossEntropy"` (class labels), `"mse"` (target values, output size per sample) or `"bce"` (one logit, a target in [0, 1] per sample). Default `"crossEntropy"`. */
    loss?: "crossEntropy" | "mse" | "bce";
    /** The rate of the L1 penalty `l1 · Σ|w|` on the weights (not biases), at least 0. Default 0. */
    l1?: number;
    /** The rate of the L2 penalty `l2 · ½Σw²` on the weights (not biases), at least 0. Default 0. */
    l2?: number;
    /** The learning-rate schedule, advanced once per step: `"constant"`, `"step"` (StepLR) or `"cosine"` (CosineAnnealingLR). Default `"constant"`. */
    schedule?: "constant" | "step" | "cosine";
    /** Schedule `"step"` only (and required by it): steps between decays, a whole number >= 1. */
    stepSize?: number;
    /** Schedule `"step"` only: the decay factor, positive. Default 0.1. */
    gamma?: number;
    /** Schedule `"cosine"` only (and required by it): steps until the rate reaches `etaMin`, a whole number >= 1. */
    tMax?: number;
    /** Schedule `"cosine"` only: the smallest rate, at least 0. Default 0. */
    etaMin?: number;
    /** Samples per minibatch of `train`. Default 32. */
    batchSize?: number;
    /** The seed of the minibatch order. Default 0. */
    seed?: number;
}

/** The steps of one `Trainer.train` call, each measured on its minibatch before its update. */
export interface TrainingSteps {
    /** The mean data loss (without the L1/L2 penalties) of each step's minibatch. */
    losses: Float32Array;
    /** The accuracy on each step's minibatch; `null` for loss `"mse"`. */
    accuracies: Float32Array | null;
}

/** A model's performance over a dataset, returned by `Trainer.evaluate`. */
export interface Evaluation {
    /** The mean data loss. */
    loss: number;
    /** The fraction of samples predicted right; `null` for loss `"mse"`. */
    accuracy: number | null;
}
"#;

/// Targets read from JavaScript numbers as the loss takes them.
pub(super) enum JsTargets {
    Classes(Vec<usize>),
    Values(Vec<f32>),
}

impl JsTargets {
    /// Class labels for cross-entropy, target values for mse and bce.
    pub(super) fn read(loss: Loss, targets: &[f64]) -> Result<Self, JsError> {
        Ok(match loss {
            Loss::CrossEntropy => JsTargets::Classes(class_labels(targets)?),
            Loss::Mse | Loss::Bce => JsTargets::Values(target_values(targets)),
        })
    }

    /// The targets as the core takes them.
    pub(super) fn view(&self) -> Targets<'_> {
        match self {
            JsTargets::Classes(labels) => Targets::Classes(labels),
            JsTargets::Values(values) => Targets::Values(values),
        }
    }
}

/// Trains a copy of a model with PyTorch's optimisers and losses: `torch.optim.SGD` (the
/// default), `Adam` or `AdamW` on `nn.CrossEntropyLoss` (the default; a final softmax or
/// log-softmax layer is seen through, the loss is taken on the logits before it), `nn.MSELoss` or
/// `nn.BCEWithLogitsLoss` (a final sigmoid is seen through), with optional L1/L2 penalties on the
/// weights and a learning-rate schedule. Steps run the model in training form as PyTorch's
/// `model.train()` (BatchNorm on the batch's statistics, updating its running statistics;
/// Dropout with seeded masks); `evaluate` and `model()` use the inference form.
///
/// ```js
/// const trainer = new Trainer(model, { optimizer: "adam", learningRate: 1e-3, batchSize: 32, seed: 1 });
/// trainer.setData(images, labels);           // the training set, copied into wasm once
/// const { losses } = trainer.train(10);      // 10 steps on seeded minibatches
/// const snapshot = trainer.parameters();     // for projectTrajectory
/// ```
#[wasm_bindgen]
pub struct Trainer {
    inner: CoreTrainer,
    last: Option<StepStats>,
}

#[wasm_bindgen]
impl Trainer {
    /// Starts training a copy of `model` with `options` (see `TrainerOptions`: `optimizer`,
    /// `learningRate`, `momentum`, `nesterov`, `weightDecay`, `beta1`, `beta2`, `epsilon`,
    /// `amsgrad`, `loss`, `l1`, `l2`, `schedule`, `stepSize`, `gamma`, `tMax`, `etaMin`,
    /// `batchSize`, `seed`). The model's output must suit the loss: class scores for
    /// crossEntropy, a single unit for bce.
    #[wasm_bindgen(constructor)]
    pub fn new(
        model: &Model,
        #[wasm_bindgen(unchecked_optional_param_type = "TrainerOptions")] options: Option<JsValue>,
    ) -> Result<Trainer, JsError> {
        let options = read_options(options.unwrap_or(JsValue::UNDEFINED), "Trainer options")?;
        CoreTrainer::new(model.graph().clone(), options)
            .map(|inner| Trainer { inner, last: None })
            .map_err(js_error)
    }

    /// One optimiser step on exactly this batch: the samples in `inputs` (row-major) with their
    /// targets: class labels (crossEntropy), the output size of target values per sample (mse),
    /// or one target in [0, 1] per sample (bce). Returns the batch's mean data loss before the
    /// update. On an error the model is unchanged.
    pub fn step(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] inputs: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] targets: JsValue,
    ) -> Result<f32, JsError> {
        let inputs = floats(&inputs, "Trainer.step inputs")?;
        let targets = numbers(&targets, "Trainer.step targets")?;
        let targets = JsTargets::read(self.inner.loss(), &targets)?;
        let stats = self.inner.step(&inputs, targets.view()).map_err(js_error)?;
        self.last = Some(stats);
        Ok(stats.loss)
    }

    /// Sets the training set that `train` draws minibatches from: the samples in `inputs`
    /// (row-major) and their targets (as `step` takes them), checked once and kept in wasm
    /// memory. A new epoch starts.
    #[wasm_bindgen(js_name = setData)]
    pub fn set_data(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] inputs: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] targets: JsValue,
    ) -> Result<(), JsError> {
        let inputs = floats(&inputs, "Trainer.setData inputs")?;
        let targets = numbers(&targets, "Trainer.setData targets")?;
        let targets = JsTargets::read(self.inner.loss(), &targets)?;
        self.inner
            .set_data(inputs, targets.view())
            .map_err(js_error)
    }

    /// Takes `steps` optimiser steps on successive minibatches of `batchSize` samples of the
    /// training set, in a seeded random order drawn anew each epoch. Returns `{ losses,
    /// accuracies }` (`Float32Array`s, one value per step, measured on each minibatch before its
    /// update; `accuracies` is `null` for loss `"mse"`). On an error the steps before it stay
    /// taken.
    #[wasm_bindgen(unchecked_return_type = "TrainingSteps")]
    pub fn train(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] steps: JsValue,
    ) -> Result<JsValue, JsError> {
        let steps = steps.as_f64().ok_or_else(|| {
            JsError::new(&format!(
                "Trainer.train steps: expected a number, got {}",
                describe(&steps)
            ))
        })?;
        if !(steps.fract() == 0.0 && (1.0..=MAX_STEPS_PER_CALL).contains(&steps)) {
            return Err(js_error(crate::Error::invalid(
                "steps",
                format!("{steps} is not a whole number in 1..={MAX_STEPS_PER_CALL}"),
            )));
        }
        let stats = self.inner.train(steps as usize).map_err(js_error)?;
        self.last = stats.last().copied().or(self.last);
        stats_object(&stats, self.inner.loss())
    }

    /// The current model's mean data loss and accuracy over a dataset (e.g. a held-out set;
    /// targets as `step` takes them): `{ loss, accuracy }`, `accuracy` `null` for loss `"mse"`.
    #[wasm_bindgen(unchecked_return_type = "Evaluation")]
    pub fn evaluate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] inputs: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] targets: JsValue,
    ) -> Result<JsValue, JsError> {
        let inputs = floats(&inputs, "Trainer.evaluate inputs")?;
        let targets = numbers(&targets, "Trainer.evaluate targets")?;
        let targets = JsTargets::read(self.inner.loss(), &targets)?;
        let evaluation = self
            .inner
            .evaluate(&inputs, targets.view())
            .map_err(js_error)?;
        evaluation_object(evaluation)
    }

    /// Steps taken so far.
    #[wasm_bindgen(getter)]
    pub fn steps(&self) -> usize {
        self.inner.steps()
    }

    /// The learning rate the next step will use (the schedule's current rate). Assigning it
    /// keeps the optimiser's state (momentum, Adam's moments) and the schedule, which goes on
    /// from the new rate, as assigning a PyTorch parameter group's `lr` does; a rate that is not
    /// positive and finite throws.
    #[wasm_bindgen(getter, js_name = learningRate)]
    pub fn learning_rate(&self) -> f32 {
        self.inner.learning_rate()
    }

    /// Sets the learning rate (see the getter).
    #[wasm_bindgen(setter, js_name = learningRate)]
    pub fn set_learning_rate(&mut self, rate: f32) -> Result<(), JsError> {
        self.inner.set_learning_rate(rate).map_err(js_error)
    }

    /// The data loss of the last step's batch, `undefined` before the first step.
    #[wasm_bindgen(getter)]
    pub fn loss(&self) -> Option<f32> {
        self.last.map(|s| s.loss)
    }

    /// The accuracy on the last step's batch, `undefined` before the first step and for loss
    /// `"mse"`.
    #[wasm_bindgen(getter)]
    pub fn accuracy(&self) -> Option<f32> {
        self.last.and_then(|s| s.accuracy)
    }

    /// The number of parameters being trained.
    #[wasm_bindgen(getter, js_name = paramCount)]
    pub fn param_count(&self) -> usize {
        self.inner.graph().param_count()
    }

    /// Every current parameter as one flat vector in `Model.flatParameters` order: a snapshot
    /// for `projectTrajectory`.
    pub fn parameters(&self) -> Vec<f32> {
        self.inner.graph().flat_params()
    }

    /// A copy of the model with the current parameters.
    pub fn model(&self) -> Model {
        Model::from_graph(self.inner.graph().clone())
    }
}
