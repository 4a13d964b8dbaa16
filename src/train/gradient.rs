//! The mean loss of one batch ([`Loss`]: cross-entropy, mean squared error or binary
//! cross-entropy with logits) and its gradient with respect to every parameter.
//!
//! The loss is taken of [`Loss::value`]: the class scores before a final softmax or
//! log-softmax for cross-entropy, the logit before a final sigmoid for bce, the output for mse.
//! Seeding the backward pass there with `dL/dvalue` (the formulas of [`super::loss`]) gives the
//! same loss and gradients as through the final layer and avoids dividing by a vanishing
//! probability. The backward pass ([`Graph::backward_from`]) then gives `dL/dθ` for every
//! parameter. The log-sum-exp is max-shifted and every sum runs in f64.
//!
//! The forward pass is the training form ([`Graph::trace_training`], PyTorch's `model.train()`):
//! BatchNorm normalises with the batch's statistics and Dropout drops with a mask drawn from the
//! caller's generator; the gradient is that function's. The trace is returned so that the caller
//! can update the running statistics ([`Graph::update_running_statistics`]) once the step is
//! taken.

use super::loss::{loss_terms, Loss, Targets};
use crate::error::{ensure_finite, Error, Result};
use crate::graph::{Graph, Trace};
use crate::tensor::{from_vec, Tensor};
use rand_chacha::ChaCha8Rng;

/// The loss of one batch, how many samples the model got right, and the parameter gradients.
#[derive(Debug, Clone)]
pub struct BatchGradient {
    /// The mean loss over the batch.
    pub loss: f32,
    /// Samples predicted right ([`super::loss::Evaluation::accuracy`]); `None` for mse.
    pub correct: Option<usize>,
    /// `dL/dθ` per node, in [`crate::graph::ops::Kernel::params`] order (empty for nodes
    /// without parameters).
    pub params: Vec<Vec<Tensor>>,
    /// The training-mode forward pass, holding each BatchNorm's batch statistics.
    pub trace: Trace,
}

/// The mean `loss` of `graph` in training form on the batch `inputs` (`[samples, ...input
/// shape]`) against `targets`, and its parameter gradients; Dropout masks come from `rng`.
pub fn batch_gradient(
    graph: &Graph,
    inputs: Tensor,
    targets: Targets,
    loss: Loss,
    rng: &mut ChaCha8Rng,
) -> Result<BatchGradient> {
    let samples = loss.check_targets(graph, targets)?;
    if inputs.shape().first() != Some(&samples) {
        return Err(Error::shape(format!(
            "the batch has targets for {samples} samples for inputs of shape {:?}; expected \
             one sample's targets per input",
            inputs.shape()
        )));
    }
    let value_id = loss.value(graph)?;
    let trace = graph.trace_training(inputs, rng)?;
    let values = trace.value(value_id).as_standard_layout();
    let values = values.as_slice().expect("standard layout");
    ensure_finite("outputs (the model diverged)", values.iter().copied())?;
    let terms = loss.terms(samples, values.len() / samples);
    let mut seed = vec![0.0f32; values.len()];
    let (total, correct) = loss_terms(loss, values, targets, terms, Some(&mut seed));
    let seed = from_vec("loss gradient", trace.value(value_id).shape(), seed)?;
    let grads = graph.backward_from(&trace, value_id, seed, true)?;
    Ok(BatchGradient {
        loss: (total / terms as f64) as f32,
        correct: loss.has_accuracy().then_some(correct),
        params: grads.params,
        trace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The generator of the Dropout masks (none of these models has a Dropout).
    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(0)
    }
    use crate::graph::ops::activation::Softmax;
    use crate::graph::ops::Kernel;
    use crate::graph::ops::Op;
    use crate::io::json::from_json;
    use crate::train::loss::{evaluate, evaluate_loss};

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

    /// The batch loss equals [`evaluate_loss`]'s, and every parameter's gradient matches central
    /// finite differences of that loss.
    fn check_against_finite_differences(g: &Graph, x: &[f32], targets: Targets, loss: Loss) {
        let input = g.input_tensor(x.to_vec(), 6).unwrap();
        let result = batch_gradient(g, input, targets, loss, &mut rng()).unwrap();
        let own = evaluate_loss(g, x, targets, loss).unwrap().loss;
        assert!(
            (result.loss - own).abs() < 1e-6,
            "{loss}: {} vs {own}",
            result.loss
        );
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
            let plus = evaluate_loss(&moved, x, targets, loss).unwrap().loss;
            p[k] -= 2.0 * eps;
            moved.set_flat_params(&p).unwrap();
            let minus = evaluate_loss(&moved, x, targets, loss).unwrap().loss;
            let numeric = (plus - minus) / (2.0 * eps);
            assert!(
                (numeric - analytic[k]).abs() < 2e-3,
                "{loss}, parameter {k}: {numeric} vs {}",
                analytic[k]
            );
        }
    }

    #[test]
    fn gradients_of_every_loss_match_finite_differences() {
        let (x, labels) = batch();
        let g = model("");
        assert_eq!(
            evaluate_loss(&g, &x, Targets::Classes(&labels), Loss::CrossEntropy).unwrap(),
            evaluate(&g, &x, &labels).unwrap()
        );
        check_against_finite_differences(&g, &x, Targets::Classes(&labels), Loss::CrossEntropy);
        let values: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).cos()).collect();
        check_against_finite_differences(&g, &x, Targets::Values(&values), Loss::Mse);
        let single = from_json(
            r#"{"format":"nnlens","version":1,"input":[3],"seed":4,"layers":[
            {"type":"dense","units":5,"activation":"tanh"},{"type":"dense","units":1}]}"#,
        )
        .unwrap();
        let probabilities = [0.0, 1.0, 0.25, 1.0, 0.0, 0.5];
        check_against_finite_differences(&single, &x, Targets::Values(&probabilities), Loss::Bce);
    }

    /// A trailing sigmoid is seen through by bce; accuracy is the logit's side of 0 against the
    /// target's side of 0.5, and mse has none.
    #[test]
    fn bce_sees_through_a_final_sigmoid_and_mse_has_no_accuracy() {
        let (x, _) = batch();
        let json = |tail: &str| {
            from_json(&format!(
                r#"{{"format":"nnlens","version":1,"input":[3],"seed":4,"layers":[
                {{"type":"dense","units":1}}{tail}]}}"#
            ))
            .unwrap()
        };
        let (plain, sigmoid) = (json(""), json(r#",{"type":"activation","fn":"sigmoid"}"#));
        let targets = [0.0, 1.0, 0.25, 1.0, 0.0, 0.5];
        let run = |g: &Graph| {
            batch_gradient(
                g,
                g.input_tensor(x.clone(), 6).unwrap(),
                Targets::Values(&targets),
                Loss::Bce,
                &mut rng(),
            )
            .unwrap()
        };
        let (a, b) = (run(&plain), run(&sigmoid));
        assert_eq!((a.loss, a.correct), (b.loss, b.correct));
        assert_eq!(a.params[0], b.params[0]);
        let logits = plain
            .forward(plain.input_tensor(x.clone(), 6).unwrap())
            .unwrap();
        let right = logits
            .iter()
            .zip(targets)
            .filter(|(&z, t)| (z > 0.0) == (*t >= 0.5))
            .count();
        assert_eq!(a.correct, Some(right));
        let mse = batch_gradient(
            &plain,
            plain.input_tensor(x.clone(), 6).unwrap(),
            Targets::Values(&targets),
            Loss::Mse,
            &mut rng(),
        )
        .unwrap();
        assert_eq!(mse.correct, None);
        let err = batch_gradient(
            &plain,
            plain.input_tensor(x, 6).unwrap(),
            Targets::Values(&[0.0, 1.0, 0.5, 2.0, 0.0, 1.0]),
            Loss::Bce,
            &mut rng(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("target 2 of sample 3 is outside [0, 1]"),
            "{err}"
        );
    }

    /// A trailing softmax or log-softmax gives the same loss and gradients as the logits model.
    #[test]
    fn trailing_softmax_is_seen_through() {
        let (x, labels) = batch();
        let plain = model("");
        let reference = batch_gradient(
            &plain,
            plain.input_tensor(x.clone(), 6).unwrap(),
            Targets::Classes(&labels),
            Loss::CrossEntropy,
            &mut rng(),
        )
        .unwrap();
        for tail in [
            r#",{"type":"activation","fn":"softmax"}"#,
            r#",{"type":"activation","fn":"logSoftmax"}"#,
        ] {
            let g = model(tail);
            let r = batch_gradient(
                &g,
                g.input_tensor(x.clone(), 6).unwrap(),
                Targets::Classes(&labels),
                Loss::CrossEntropy,
                &mut rng(),
            )
            .unwrap();
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
        let r = batch_gradient(
            &g,
            x.clone(),
            Targets::Classes(&[0, 1, 1]),
            Loss::CrossEntropy,
            &mut rng(),
        )
        .unwrap();
        assert_eq!(r.correct, Some(2));
        let err = batch_gradient(
            &g,
            x.clone(),
            Targets::Classes(&[0, 2, 1]),
            Loss::CrossEntropy,
            &mut rng(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("label 2 of sample 1"), "{err}");
        let err = batch_gradient(
            &g,
            x,
            Targets::Classes(&[0, 1]),
            Loss::CrossEntropy,
            &mut rng(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("targets for 2 samples"), "{err}");
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
        let err = batch_gradient(
            &over_batch,
            x,
            Targets::Classes(&[0]),
            Loss::CrossEntropy,
            &mut rng(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("axis 0"), "{err}");
    }
}
