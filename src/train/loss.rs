//! Cross-entropy of a classifier over a labelled dataset.
//!
//! `L = -(1/N) Σ_i log p_i[y_i]` (PyTorch `nn.CrossEntropyLoss` with mean reduction). What `p`
//! is depends on the graph's last node: a Softmax output already holds probabilities, a
//! LogSoftmax output log-probabilities, and any other output is taken as logits and passed
//! through a max-shifted log-softmax. Probabilities are clamped at `1e-12` before the logarithm so
//! a confident wrong answer costs a large finite loss rather than infinity.

use crate::error::{Error, Result};
use crate::graph::ops::Op;
use crate::graph::Graph;
use crate::tensor::{checked_elements, from_vec, limits, with_batch};

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

/// The mean cross-entropy and accuracy of a classifier over a labelled dataset.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f32,
    /// Fraction of samples whose largest output is at their label (ties go to the lower class).
    pub accuracy: f32,
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
        accuracy: correct as f32 / labels.len() as f32,
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
        assert_eq!(e.accuracy, 0.5, "right, right, wrong, tie to class 0");
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
