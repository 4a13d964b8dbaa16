//! The mean cross-entropy of one labelled batch and its gradient with respect to every parameter.
//!
//! With logits `z` (per sample a row of `C` class scores), labels `y` and batch size `N`,
//! `L = (1/N) Σ_i (log Σ_c exp z_ic - z_i,y_i)` (PyTorch `nn.CrossEntropyLoss`, mean reduction)
//! and `dL/dz_ic = (softmax(z_i)_c - [c = y_i]) / N`. When the graph ends in a softmax or
//! log-softmax over the classes, `z` is that node's input: the loss is the same number (the
//! cross-entropy of the probabilities), and seeding the backward pass at the logits avoids
//! dividing by a vanishing probability. The backward pass ([`Graph::backward_from`]) then gives
//! `dL/dθ` for every parameter. The log-sum-exp is max-shifted and summed in f64.

use super::loss::{argmax, check_labels, class_count};
use crate::error::{ensure_finite, Error, Result};
use crate::graph::ops::Op;
use crate::graph::{Graph, ValueId};
use crate::tensor::{from_vec, Tensor};

/// The loss of one batch, how many samples the model got right, and the parameter gradients.
#[derive(Debug, Clone)]
pub struct BatchGradient {
    /// Mean cross-entropy over the batch.
    pub loss: f32,
    /// Samples whose largest class score is at their label (ties go to the lower class).
    pub correct: usize,
    /// `dL/dθ` per node, in [`crate::graph::ops::Kernel::params`] order (empty for nodes
    /// without parameters).
    pub params: Vec<Vec<Tensor>>,
}

/// The value holding the class scores the loss is taken of: the graph output, or the input of
/// a final softmax / log-softmax over the classes.
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

/// The mean cross-entropy of `graph` on the batch `inputs` (`[labels.len(), ...input shape]`)
/// and its parameter gradients.
pub fn batch_gradient(graph: &Graph, inputs: Tensor, labels: &[usize]) -> Result<BatchGradient> {
    let classes = class_count(graph)?;
    check_labels(labels, classes)?;
    if inputs.shape().first() != Some(&labels.len()) {
        return Err(Error::shape(format!(
            "the batch has {} labels for inputs of shape {:?}; expected one label per sample",
            labels.len(),
            inputs.shape()
        )));
    }
    let logits_id = logits_value(graph)?;
    let trace = graph.trace(inputs)?;
    let logits = trace.value(logits_id).as_standard_layout();
    let logits = logits.as_slice().expect("standard layout");
    ensure_finite("class scores (the model diverged)", logits.iter().copied())?;
    let n = labels.len() as f64;
    let mut seed = vec![0.0f32; logits.len()];
    let mut total = 0.0f64;
    let mut correct = 0;
    for ((row, grad), &label) in logits
        .chunks(classes)
        .zip(seed.chunks_mut(classes))
        .zip(labels)
    {
        correct += usize::from(argmax(row) == label);
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let max = f64::from(max);
        let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
        total += sum.ln() + max - f64::from(row[label]);
        for (c, (g, &v)) in grad.iter_mut().zip(row).enumerate() {
            let p = (f64::from(v) - max).exp() / sum;
            *g = ((p - f64::from(u8::from(c == label))) / n) as f32;
        }
    }
    let seed = from_vec("loss gradient", trace.value(logits_id).shape(), seed)?;
    let grads = graph.backward_from(&trace, logits_id, seed, true)?;
    Ok(BatchGradient {
        loss: (total / n) as f32,
        correct,
        params: grads.params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::activation::Softmax;
    use crate::graph::ops::Kernel;
    use crate::io::json::from_json;
    use crate::train::loss::mean_cross_entropy;

    fn model(tail: &str) -> Graph {
        from_json(&format!(
            r#"{{"format":"nnlens","version":1,"input":[3],"seed":4,"layers":[
            {{"type":"dense","units":5,"activation":"tanh"}},{{"type":"dense","units":4}}{tail}]}}"#
        ))
        .unwrap()
    }

    fn batch() -> (Vec<f32>, Vec<usize>) {
        let x = (0..18).map(|i| (i as f32 * 0.61).sin()).collect();
        (x, vec![0, 3, 1, 2, 3, 0])
    }

    /// The loss equals `mean_cross_entropy`, and every parameter's gradient matches central
    /// finite differences of that loss.
    #[test]
    fn gradient_matches_finite_differences_of_the_loss() {
        let g = model("");
        let (x, labels) = batch();
        let input = g.input_tensor(x.clone(), 6).unwrap();
        let result = batch_gradient(&g, input, &labels).unwrap();
        let own = mean_cross_entropy(&g, &x, &labels).unwrap();
        assert!((result.loss - own).abs() < 1e-6, "{} vs {own}", result.loss);
        let analytic: Vec<f32> = result
            .params
            .iter()
            .flatten()
            .flat_map(|t| t.iter().copied().collect::<Vec<_>>())
            .collect();
        let base = g.flat_params();
        assert_eq!(analytic.len(), base.len());
        let eps = 1e-2f32;
        let mut moved = g.clone();
        for k in 0..base.len() {
            let mut p = base.clone();
            p[k] += eps;
            moved.set_flat_params(&p).unwrap();
            let plus = mean_cross_entropy(&moved, &x, &labels).unwrap();
            p[k] -= 2.0 * eps;
            moved.set_flat_params(&p).unwrap();
            let minus = mean_cross_entropy(&moved, &x, &labels).unwrap();
            let numeric = (plus - minus) / (2.0 * eps);
            assert!(
                (numeric - analytic[k]).abs() < 2e-3,
                "parameter {k}: {numeric} vs {}",
                analytic[k]
            );
        }
    }

    /// A trailing softmax or log-softmax gives the same loss and gradients as the logits model.
    #[test]
    fn trailing_softmax_is_seen_through() {
        let (x, labels) = batch();
        let plain = model("");
        let reference =
            batch_gradient(&plain, plain.input_tensor(x.clone(), 6).unwrap(), &labels).unwrap();
        for tail in [
            r#",{"type":"activation","fn":"softmax"}"#,
            r#",{"type":"activation","fn":"logSoftmax"}"#,
        ] {
            let g = model(tail);
            let r = batch_gradient(&g, g.input_tensor(x.clone(), 6).unwrap(), &labels).unwrap();
            assert_eq!(r.loss, reference.loss);
            assert_eq!(r.correct, reference.correct);
            assert_eq!(r.params[..3], reference.params[..3]);
            assert!(r.params[3].is_empty(), "softmax has no parameters");
        }
        assert_eq!(
            plain.nodes()[0].op.params().len(),
            reference.params[0].len()
        );
    }

    #[test]
    fn counts_correct_predictions_and_rejects_bad_batches() {
        let g = from_json(
            r#"{"format":"nnlens","version":1,"input":[2],"layers":[{"type":"dense","units":2,"bias":false}],
            "weights":{"dense_1":{"weight":{"shape":[2,2],"data":"AACAPwAAAAAAAAAAAACAPw=="}}}}"#,
        )
        .unwrap();
        // Identity weights: the class is the larger input.
        let x = g
            .input_tensor(vec![1.0, 0.0, 0.0, 1.0, 2.0, 1.0], 3)
            .unwrap();
        let r = batch_gradient(&g, x.clone(), &[0, 1, 1]).unwrap();
        assert_eq!(r.correct, 2);
        let err = batch_gradient(&g, x.clone(), &[0, 2, 1]).unwrap_err();
        assert!(err.to_string().contains("label 2 of sample 1"), "{err}");
        let err = batch_gradient(&g, x, &[0, 1]).unwrap_err();
        assert!(err.to_string().contains("2 labels"), "{err}");
        let mut over_batch = g.clone();
        let out = over_batch.output();
        over_batch
            .push(
                "softmax",
                "softmax",
                Op::Softmax(Softmax::new(0, false)),
                &[out],
            )
            .unwrap();
        let x = over_batch.input_tensor(vec![0.0; 2], 1).unwrap();
        let err = batch_gradient(&over_batch, x, &[0]).unwrap_err();
        assert!(err.to_string().contains("axis 0"), "{err}");
    }
}
