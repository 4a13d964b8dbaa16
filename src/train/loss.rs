//! The training losses, their value over a dataset and their gradient with respect to the
//! value they are taken of. With `N` samples:
//!
//! - `crossEntropy` (PyTorch `nn.CrossEntropyLoss`, mean reduction): with class labels `y` and
//!   class scores `z`, `L = -(1/N) Σ_i log softmax(z_i)[y_i]`, `dL/dz_ic = (softmax(z_i)_c -
//!   [c = y_i]) / N`. Over a dataset ([`evaluate`]) what the output is depends on the graph's last
//!   node: a Softmax output already holds probabilities, a LogSoftmax output log-probabilities,
//!   and any other output is taken as logits and passed through a max-shifted log-softmax.
//!   Probabilities are clamped at `1e-12` before the logarithm so a confident wrong answer costs
//!   a large finite loss rather than infinity. Accuracy: the largest score is at the label.
//! - `mse` (`nn.MSELoss`, mean over every element): with outputs `y` and targets `t`, `K`
//!   values per sample, `L = (1/(N K)) Σ (y - t)²`, `dL/dy = 2 (y - t) / (N K)`. No accuracy.
//! - `bce` (`nn.BCEWithLogitsLoss`, mean): one logit `z` per sample (the input of a final
//!   Sigmoid, else the output) and a target `t` in `[0, 1]`, `L = (1/N) Σ max(z, 0) - z t +
//!   log(1 + e^-|z|)` (the stable form), `dL/dz = (σ(z) - t) / N`. Accuracy: `(z > 0) = (t >=
//!   0.5)`.
//!
//! Sums run in f64.

use crate::error::{ensure_finite, Error, Result};
use crate::graph::ops::activation::Activation;
use crate::graph::ops::Op;
use crate::graph::{Graph, ValueId};
use crate::names::named_enum;
use crate::tensor::{checked_elements, from_vec, limits, with_batch};

named_enum! {
    /// The loss a trainer minimises.
    #[derive(Default)]
    pub enum Loss: "loss" {
        /// Cross-entropy of class scores against class labels; the default.
        #[default]
        CrossEntropy = "crossEntropy",
        /// Mean squared error against target values, every output element.
        Mse = "mse",
        /// Binary cross-entropy of one logit against a target in `[0, 1]`.
        Bce = "bce",
    }
}

/// What a batch or dataset is trained towards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Targets<'a> {
    /// One class index per sample (`crossEntropy`).
    Classes(&'a [usize]),
    /// Target values, row-major: the output size per sample (`mse`) or one per sample (`bce`).
    Values(&'a [f32]),
}

impl Loss {
    /// Checks that `graph`'s output suits the loss and returns its values per sample:
    /// cross-entropy needs a vector of at least two class scores, bce a single unit.
    pub fn check_model(self, graph: &Graph) -> Result<usize> {
        match self {
            Loss::CrossEntropy => class_count(graph),
            Loss::Mse => checked_elements("output", graph.output_shape()),
            Loss::Bce => {
                if graph.output_shape().iter().product::<usize>() != 1 {
                    return Err(Error::shape(format!(
                        "loss 'bce' needs a single output unit (one logit, or a final sigmoid), \
                         the model's output is {:?}",
                        graph.output_shape()
                    )));
                }
                Ok(1)
            }
        }
    }

    /// Checks `targets` against the loss and the model (their form, count, range and
    /// finiteness) and returns the number of samples they are for.
    pub fn check_targets(self, graph: &Graph, targets: Targets) -> Result<usize> {
        let per_sample = self.check_model(graph)?;
        match (self, targets) {
            (Loss::CrossEntropy, Targets::Classes(labels)) => {
                check_labels(labels, per_sample)?;
                Ok(labels.len())
            }
            (Loss::Mse | Loss::Bce, Targets::Values(values)) => {
                if values.is_empty() || values.len() % per_sample != 0 {
                    return Err(Error::invalid(
                        "targets",
                        format!(
                            "{} values for an output of {per_sample} per sample; loss '{self}' \
                             needs {per_sample} target value{} per sample, at least one sample",
                            values.len(),
                            if per_sample == 1 { "" } else { "s" }
                        ),
                    ));
                }
                ensure_finite("targets", values.iter().copied())?;
                if self == Loss::Bce {
                    if let Some((i, t)) = values
                        .iter()
                        .enumerate()
                        .find(|(_, t)| !(0.0..=1.0).contains(*t))
                    {
                        return Err(Error::invalid(
                            "targets",
                            format!("target {t} of sample {i} is outside [0, 1] (loss 'bce')"),
                        ));
                    }
                }
                Ok(values.len() / per_sample)
            }
            (Loss::CrossEntropy, Targets::Values(_)) => Err(Error::invalid(
                "targets",
                "loss 'crossEntropy' takes class labels, not target values",
            )),
            (_, Targets::Classes(_)) => Err(Error::invalid(
                "targets",
                format!("loss '{self}' takes target values, not class labels"),
            )),
        }
    }

    /// The value the loss is taken of: for cross-entropy the class scores before a final
    /// softmax / log-softmax ([`logits_value`]), for bce the logit before a final sigmoid, for
    /// mse the output.
    pub fn value(self, graph: &Graph) -> Result<ValueId> {
        match self {
            Loss::CrossEntropy => logits_value(graph),
            Loss::Mse => Ok(graph.output()),
            Loss::Bce => Ok(match graph.node_of(graph.output()) {
                Some(node) if node.op == Op::Activation(Activation::Sigmoid) => node.inputs[0],
                _ => graph.output(),
            }),
        }
    }

    /// The number of terms the loss is the mean of: `samples`, or every output element
    /// (`samples × per_sample`) for mse.
    pub fn terms(self, samples: usize, per_sample: usize) -> usize {
        match self {
            Loss::Mse => samples * per_sample,
            Loss::CrossEntropy | Loss::Bce => samples,
        }
    }

    /// Whether the loss reports an accuracy (every one but mse).
    pub fn has_accuracy(self) -> bool {
        self != Loss::Mse
    }
}

/// The value holding the class scores the cross-entropy is taken of: the graph output, or the
/// input of a final softmax / log-softmax over the classes.
pub fn logits_value(graph: &Graph) -> Result<ValueId> {
    match graph.node_of(graph.output()) {
        Some(node) => {
            match &node.op {
                Op::Softmax(softmax) if softmax.axis() != 1 => Err(Error::shape(format!(
                "the final {} of layer '{}' runs over axis {}; cross-entropy needs it over the \
                 classes (axis 1 of [batch, classes])",
                if softmax.log() { "log-softmax" } else { "softmax" },
                node.name,
                softmax.axis()
            ))),
                Op::Softmax(_) => Ok(node.inputs[0]),
                _ => Ok(graph.output()),
            }
        }
        None => Ok(graph.output()),
    }
}

/// The summed loss of a batch's `values` (of [`Loss::value`], row-major) against checked
/// `targets`, how many samples were right (0 for mse), and, when `seed` is given (as long as
/// `values`), `dL/dvalue` of the mean loss over `mean_over` terms ([`Loss::terms`]) written
/// into it.
pub(crate) fn loss_terms(
    loss: Loss,
    values: &[f32],
    targets: Targets,
    mean_over: usize,
    mut seed: Option<&mut [f32]>,
) -> (f64, usize) {
    let n = mean_over as f64;
    let mut total = 0.0f64;
    let mut correct = 0;
    match (loss, targets) {
        (Loss::CrossEntropy, Targets::Classes(labels)) => {
            let classes = values.len() / labels.len().max(1);
            for (i, (row, &label)) in values.chunks(classes).zip(labels).enumerate() {
                correct += usize::from(argmax(row) == label);
                let max = f64::from(row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)));
                let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
                total += sum.ln() + max - f64::from(row[label]);
                if let Some(seed) = seed.as_deref_mut() {
                    let grad = &mut seed[i * classes..(i + 1) * classes];
                    for (c, (g, &v)) in grad.iter_mut().zip(row).enumerate() {
                        let p = (f64::from(v) - max).exp() / sum;
                        *g = ((p - f64::from(u8::from(c == label))) / n) as f32;
                    }
                }
            }
        }
        (Loss::Mse, Targets::Values(targets)) => {
            for (k, (&y, &t)) in values.iter().zip(targets).enumerate() {
                let d = f64::from(y) - f64::from(t);
                total += d * d;
                if let Some(seed) = seed.as_deref_mut() {
                    seed[k] = (2.0 * d / n) as f32;
                }
            }
        }
        (Loss::Bce, Targets::Values(targets)) => {
            for (k, (&z, &t)) in values.iter().zip(targets).enumerate() {
                let (z, t) = (f64::from(z), f64::from(t));
                total += z.max(0.0) - z * t + (-z.abs()).exp().ln_1p();
                correct += usize::from((z > 0.0) == (t >= 0.5));
                if let Some(seed) = seed.as_deref_mut() {
                    seed[k] = ((1.0 / (1.0 + (-z).exp()) - t) / n) as f32;
                }
            }
        }
        // check_targets rejects the other pairs before any values are computed.
        _ => {}
    }
    (total, correct)
}

/// How the graph's output relates to class probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// The output is a softmax: probabilities.
    Probabilities,
    /// The output is a log-softmax: log-probabilities.
    LogProbabilities,
    /// Anything else: unnormalised scores.
    Logits,
}

/// Reads what the graph's output node produces.
pub fn output_kind(graph: &Graph) -> OutputKind {
    match graph.node_of(graph.output()).map(|n| &n.op) {
        Some(Op::Softmax(s)) if s.log() => OutputKind::LogProbabilities,
        Some(Op::Softmax(_)) => OutputKind::Probabilities,
        _ => OutputKind::Logits,
    }
}

/// `-log p[label]` of one row of outputs.
fn row_loss(row: &[f32], label: usize, kind: OutputKind) -> f64 {
    match kind {
        OutputKind::Probabilities => -(row[label] as f64).max(1e-12).ln(),
        OutputKind::LogProbabilities => -(row[label] as f64),
        OutputKind::Logits => {
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
            let log_sum = row
                .iter()
                .map(|&v| (v as f64 - max).exp())
                .sum::<f64>()
                .ln();
            -(row[label] as f64 - max - log_sum)
        }
    }
}

/// The number of classes of a classifier: its per-sample output must be a vector of at least two
/// class scores.
pub fn class_count(graph: &Graph) -> Result<usize> {
    let classes: usize = graph.output_shape().iter().product();
    if graph.output_shape().len() != 1 || classes < 2 {
        return Err(Error::shape(format!(
            "cross-entropy needs an output of class scores [classes >= 2], the model's is {:?}",
            graph.output_shape()
        )));
    }
    Ok(classes)
}

/// Checks that there is at least one label and every label is a class index below `classes`.
pub fn check_labels(labels: &[usize], classes: usize) -> Result<()> {
    if labels.is_empty() {
        return Err(Error::invalid(
            "labels",
            "none given; expected one label per sample",
        ));
    }
    if let Some((i, &bad)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(Error::invalid(
            "labels",
            format!("label {bad} of sample {i} is out of range; the model has {classes} classes (0..={})", classes - 1),
        ));
    }
    Ok(())
}

/// Mean cross-entropy of `graph` over `inputs` (`labels.len()` samples of the input shape,
/// row-major) and their class `labels`, evaluated in batches.
///
/// ```
/// use nnlens::io::json::from_json;
/// use nnlens::train::loss::mean_cross_entropy;
/// let g = from_json(r#"{"format":"nnlens","version":1,"input":[2],"layers":[{"type":"dense","units":3}]}"#).unwrap();
/// let loss = mean_cross_entropy(&g, &[0.0; 4], &[0, 2]).unwrap();
/// assert!((loss - 3f32.ln()).abs() < 1e-6); // zero input, zero bias: uniform over 3 classes
/// ```
pub fn mean_cross_entropy(graph: &Graph, inputs: &[f32], labels: &[usize]) -> Result<f32> {
    evaluate(graph, inputs, labels).map(|e| e.loss)
}

/// The mean loss and accuracy of a model over a dataset.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// The mean loss.
    pub loss: f32,
    /// The fraction of samples predicted right: for cross-entropy those whose largest output is
    /// at their label (ties go to the lower class), for bce those whose logit is on their
    /// target's side of 0 (`(z > 0) = (t >= 0.5)`); `None` for mse.
    pub accuracy: Option<f32>,
}

/// [`mean_cross_entropy`] and the accuracy, from the same forward passes.
pub fn evaluate(graph: &Graph, inputs: &[f32], labels: &[usize]) -> Result<Evaluation> {
    let classes = class_count(graph)?;
    check_labels(labels, classes)?;
    let per_sample = checked_elements("input", graph.input_shape())?;
    let expected = per_sample
        .checked_mul(labels.len())
        .ok_or_else(|| Error::shape("too many samples"))?;
    if inputs.len() != expected {
        return Err(Error::InputLength {
            actual: inputs.len(),
            expected,
            batch: labels.len(),
            shape: graph.input_shape().to_vec(),
        });
    }
    let kind = output_kind(graph);
    let largest: usize = graph
        .nodes()
        .iter()
        .map(|n| n.shape.iter().product::<usize>())
        .chain([per_sample])
        .max()
        .unwrap_or(1);
    let batch = (limits::MAX_ELEMENTS / 8 / largest.max(1)).clamp(1, 256);
    let mut total = 0.0f64;
    let mut correct = 0usize;
    for (chunk, chunk_labels) in inputs.chunks(batch * per_sample).zip(labels.chunks(batch)) {
        let n = chunk_labels.len();
        let x = from_vec("input", &with_batch(n, graph.input_shape()), chunk.to_vec())?;
        crate::error::ensure_finite("input", chunk.iter().copied())?;
        let out = graph.forward(x)?;
        let flat = out.as_standard_layout();
        let flat = flat.as_slice().expect("standard layout");
        for (row, &label) in flat.chunks(classes).zip(chunk_labels) {
            total += row_loss(row, label, kind);
            correct += usize::from(argmax(row) == label);
        }
    }
    Ok(Evaluation {
        loss: (total / labels.len() as f64) as f32,
        accuracy: Some(correct as f32 / labels.len() as f32),
    })
}

/// The mean `loss` of `graph` over a dataset (`inputs`, row-major, and the `targets` for them)
/// and its accuracy ([`Evaluation::accuracy`]). Cross-entropy is [`evaluate`]'s; the other
/// losses are taken of [`Loss::value`] computed in chunks ([`Graph::value_over`]).
pub fn evaluate_loss(
    graph: &Graph,
    inputs: &[f32],
    targets: Targets,
    loss: Loss,
) -> Result<Evaluation> {
    let samples = loss.check_targets(graph, targets)?;
    if let Targets::Classes(labels) = targets {
        return evaluate(graph, inputs, labels);
    }
    ensure_finite("input", inputs.iter().copied())?;
    let values = graph.value_over(loss.value(graph)?, inputs, samples)?;
    let values = values.as_standard_layout();
    let values = values.as_slice().expect("standard layout");
    let per_sample = values.len() / samples;
    let (total, correct) = loss_terms(loss, values, targets, 1, None);
    Ok(Evaluation {
        loss: (total / loss.terms(samples, per_sample) as f64) as f32,
        accuracy: loss.has_accuracy().then(|| correct as f32 / samples as f32),
    })
}

/// The index of the largest value of a row (the first of equal ones).
pub(crate) fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::json::from_json;

    fn model(last: &str) -> Graph {
        from_json(&format!(
            r#"{{"format":"nnlens","version":1,"input":[3],"seed":5,"layers":[{{"type":"dense","units":4}}{last}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn logits_probabilities_and_log_probabilities_agree() {
        let x: Vec<f32> = (0..15).map(|i| (i as f32 * 0.7).sin()).collect();
        let labels = [0, 3, 1, 2, 3];
        let logits = mean_cross_entropy(&model(""), &x, &labels).unwrap();
        let probs = mean_cross_entropy(
            &model(r#",{"type":"activation","fn":"softmax"}"#),
            &x,
            &labels,
        )
        .unwrap();
        let logp = mean_cross_entropy(
            &model(r#",{"type":"activation","fn":"logSoftmax"}"#),
            &x,
            &labels,
        )
        .unwrap();
        assert!(
            (logits - probs).abs() < 1e-5 && (logits - logp).abs() < 1e-5,
            "{logits} {probs} {logp}"
        );
        assert!(logits > 0.0);
    }

    #[test]
    fn accuracy_counts_the_largest_output() {
        // Identity weights: the class is the larger of the two inputs.
        let g = from_json(
            r#"{"format":"nnlens","version":1,"input":[2],"layers":[{"type":"dense","units":2,"bias":false}],
            "weights":{"dense_1":{"weight":{"shape":[2,2],"data":"AACAPwAAAAAAAAAAAACAPw=="}}}}"#,
        )
        .unwrap();
        let e = evaluate(&g, &[1.0, 0.0, 0.0, 1.0, 2.0, 1.0, 0.5, 0.5], &[0, 1, 1, 1]).unwrap();
        assert_eq!(e.accuracy, Some(0.5), "right, right, wrong, tie to class 0");
        assert_eq!(
            e.loss,
            mean_cross_entropy(&g, &[1.0, 0.0, 0.0, 1.0, 2.0, 1.0, 0.5, 0.5], &[0, 1, 1, 1])
                .unwrap()
        );
    }

    #[test]
    fn bad_labels_and_lengths() {
        let g = model("");
        assert!(mean_cross_entropy(&g, &[0.0; 3], &[4])
            .unwrap_err()
            .to_string()
            .contains("label 4"));
        assert!(mean_cross_entropy(&g, &[0.0; 4], &[0]).is_err());
        assert!(mean_cross_entropy(&g, &[], &[]).is_err());
    }
}
