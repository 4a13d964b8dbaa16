//! `Trainer` for JavaScript: SGD training of a `Model` with PyTorch's `torch.optim.SGD`
//! semantics, one step at a time or over seeded minibatches of a dataset held in wasm memory.

use super::js_error;
use super::model::Model;
use super::options::{object, read_options};
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

/// `{ losses, accuracies }` as two `Float32Array`s.
fn stats_object(stats: &[StepStats]) -> Result<JsValue, JsError> {
    let column = |f: fn(&StepStats) -> f32| {
        js_sys::Float32Array::from(&stats.iter().map(f).collect::<Vec<_>>()[..]).into()
    };
    object(&[
        ("losses", column(|s| s.loss)),
        ("accuracies", column(|s| s.accuracy)),
    ])
}

#[wasm_bindgen(typescript_custom_section)]
const TRAINING_TYPES: &str = r#"
/** The options of `new Trainer` (PyTorch's `torch.optim.SGD`, in camelCase, plus the minibatches of `train`). */
export interface TrainerOptions {
    /** The step size, positive. Default 0.01. */
    learningRate?: number;
    /** The momentum in `[0, 1)`; 0 is plain SGD. Default 0. */
    momentum?: number;
    /** The L2 penalty added to the gradient, at least 0. Default 0. */
    weightDecay?: number;
    /** Nesterov momentum (needs `momentum > 0`). Default `false`. */
    nesterov?: boolean;
    /** Samples per minibatch of `train`. Default 32. */
    batchSize?: number;
    /** The seed of the minibatch order. Default 0. */
    seed?: number;
}

/** The steps of one `Trainer.train` call, each measured on its minibatch before its update. */
export interface TrainingSteps {
    /** The mean cross-entropy of each step's minibatch. */
    losses: Float32Array;
    /** The accuracy on each step's minibatch. */
    accuracies: Float32Array;
}

/** A classifier's performance over a labelled dataset, returned by `Trainer.evaluate`. */
export interface Evaluation {
    /** The mean cross-entropy. */
    loss: number;
    /** The fraction of samples whose largest output is at their label. */
    accuracy: number;
}
"#;

/// Trains a copy of a model with stochastic gradient descent on the mean cross-entropy
/// (PyTorch's `torch.optim.SGD` and `nn.CrossEntropyLoss`; a final softmax or log-softmax layer
/// is seen through, the loss is taken on the logits before it). The model runs in its inference
/// form: BatchNorm uses its running statistics and Dropout is the identity.
///
/// ```js
/// const trainer = new Trainer(model, { learningRate: 0.05, momentum: 0.9, batchSize: 32, seed: 1 });
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
    /// Starts training a copy of `model` (a classifier with an output of class scores) with
    /// `options = { learningRate = 0.01, momentum = 0, weightDecay = 0, nesterov = false,
    /// batchSize = 32, seed = 0 }`; `batchSize` and `seed` apply to `train`.
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

    /// One SGD step on exactly this batch: `labels.length` samples in `inputs` (row-major) with
    /// their class labels. Returns the batch's mean cross-entropy before the update. On an error
    /// the model is unchanged.
    pub fn step(
        &mut self,
        inputs: &[f32],
        #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] labels: &[f64],
    ) -> Result<f32, JsError> {
        let labels = class_labels(labels)?;
        let stats = self.inner.step(inputs, &labels).map_err(js_error)?;
        self.last = Some(stats);
        Ok(stats.loss)
    }

    /// Sets the training set that `train` draws minibatches from: `labels.length` samples in
    /// `inputs` (row-major), checked once and kept in wasm memory. A new epoch starts.
    #[wasm_bindgen(js_name = setData)]
    pub fn set_data(
        &mut self,
        inputs: &[f32],
        #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] labels: &[f64],
    ) -> Result<(), JsError> {
        let labels = class_labels(labels)?;
        self.inner
            .set_data(inputs.to_vec(), labels)
            .map_err(js_error)
    }

    /// Takes `steps` SGD steps on successive minibatches of `batchSize` samples of the training
    /// set, in a seeded random order drawn anew each epoch. Returns `{ losses, accuracies }`
    /// (`Float32Array`s, one value per step, measured on each minibatch before its update). On
    /// an error the steps before it stay taken.
    #[wasm_bindgen(unchecked_return_type = "TrainingSteps")]
    pub fn train(&mut self, steps: f64) -> Result<JsValue, JsError> {
        if !(steps.fract() == 0.0 && (1.0..=MAX_STEPS_PER_CALL).contains(&steps)) {
            return Err(js_error(crate::Error::invalid(
                "steps",
                format!("{steps} is not a whole number in 1..={MAX_STEPS_PER_CALL}"),
            )));
        }
        let stats = self.inner.train(steps as usize).map_err(js_error)?;
        self.last = stats.last().copied().or(self.last);
        stats_object(&stats)
    }

    /// The current model's mean cross-entropy and accuracy over a labelled dataset (e.g. a
    /// held-out set): `{ loss, accuracy }`.
    #[wasm_bindgen(unchecked_return_type = "Evaluation")]
    pub fn evaluate(
        &self,
        inputs: &[f32],
        #[wasm_bindgen(unchecked_param_type = "ArrayLike<number>")] labels: &[f64],
    ) -> Result<JsValue, JsError> {
        let labels = class_labels(labels)?;
        let evaluation = self.inner.evaluate(inputs, &labels).map_err(js_error)?;
        serde_wasm_bindgen::to_value(&evaluation).map_err(|e| JsError::new(&e.to_string()))
    }

    /// Steps taken so far.
    #[wasm_bindgen(getter)]
    pub fn steps(&self) -> usize {
        self.inner.steps()
    }

    /// The loss of the last step's batch, `undefined` before the first step.
    #[wasm_bindgen(getter)]
    pub fn loss(&self) -> Option<f32> {
        self.last.map(|s| s.loss)
    }

    /// The accuracy on the last step's batch, `undefined` before the first step.
    #[wasm_bindgen(getter)]
    pub fn accuracy(&self) -> Option<f32> {
        self.last.map(|s| s.accuracy)
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
