//! Attribution for models of token ids, at the output of their embedding lookup, numerically as
//! Captum 0.9's layer methods with `layer = model.embedding`:
//!
//! | method | Captum | attribution `[tokens, dim]` |
//! | --- | --- | --- |
//! | `gradient` | `LayerGradientXActivation(multiply_by_inputs=False)` | `∂F/∂e`, by default its absolute value |
//! | `inputXGradient` | `LayerGradientXActivation` | `e ⊙ ∂F/∂e` |
//! | `integratedGradients` | `LayerIntegratedGradients` | `(e - e') ⊙ Σ_k w_k ∂F/∂e(e' + α_k (e - e'))` |
//!
//! with `e = E[ids]` the embeddings of the ids and `e' = E[baseline ids]` those of the baseline
//! (each id the baseline token, 0 by default, or one baseline id per position). Integrated
//! Gradients interpolates the embedding *outputs*, not the ids (which have no gradient): the
//! path points replace the lookup's output ([`Graph::trace_replacing`]) and run as one batch;
//! the convergence delta is `Σ attribution - (F(ids) - F(baseline ids))`. A token's score is its
//! row's sum over the embedding dimension.

use super::quadrature::quadrature;
use super::{Attribution, Method, Objective, Passes};
use crate::error::{Error, Result};
use crate::graph::ops::Op;
use crate::graph::{Graph, InputType, ValueId};
use crate::tensor::{from_vec, into_vec, with_batch};

/// The embedding lookup that reads the model's input: the layer token attribution explains.
pub fn embedding_layer(graph: &Graph) -> Result<ValueId> {
    graph
        .nodes()
        .iter()
        .position(|n| matches!(n.op, Op::Embedding(_)) && n.inputs == [ValueId::INPUT])
        .map(|i| ValueId(i + 1))
        .ok_or_else(|| {
            Error::invalid(
                "token attribution",
                "the model takes ids but no embedding lookup reads them; attribution of ids is \
                 taken at the output of the embedding that reads the input",
            )
        })
}

/// Whether `method` explains `graph` at its embedding output: for a model of ids, every
/// method but Grad-CAM (a layer method already) and occlusion (which sets windows of ids to
/// the baseline id).
pub fn at_embedding(graph: &Graph, method: &Method) -> bool {
    graph.input_type() == InputType::Int64
        && !matches!(method, Method::GradCam { .. } | Method::Occlusion { .. })
}

/// The per-token scores of an attribution `[tokens, ...]`: each token's sum.
pub fn token_scores(attribution: &Attribution) -> Vec<f32> {
    let tokens = attribution.shape.first().copied().unwrap_or(0).max(1);
    let per_token = attribution.values.len() / tokens;
    attribution
        .values
        .chunks(per_token.max(1))
        .map(|row| row.iter().map(|&v| f64::from(v)).sum::<f64>() as f32)
        .collect()
}

/// Attribution of `objective` for the ids `input` at the embedding output; Integrated
/// Gradients' path points in `passes`, reported.
pub(super) fn attribute(
    graph: &Graph,
    input: &[f32],
    method: &Method,
    objective: &Objective,
    passes: &mut Passes,
) -> Result<Attribution> {
    let layer = embedding_layer(graph)?;
    let shape = graph.value_shape(layer).to_vec();
    let ids = graph.input_tensor(input.to_vec(), 1)?;
    let trace = graph.trace(ids.clone())?;
    let embedded = into_vec(trace.value(layer).clone());
    let plain = |values| Attribution {
        values,
        shape: shape.clone(),
        delta: None,
    };
    Ok(match method {
        Method::Gradient { abs } => {
            let g = layer_gradient(graph, objective, &trace, layer)?;
            plain(if *abs {
                g.iter().map(|v| v.abs()).collect()
            } else {
                g
            })
        }
        Method::InputXGradient => {
            let g = layer_gradient(graph, objective, &trace, layer)?;
            plain(embedded.iter().zip(&g).map(|(e, g)| e * g).collect())
        }
        Method::IntegratedGradients {
            steps,
            rule,
            baseline,
        } => {
            let base_ids = baseline.expand(input.len())?;
            let base_trace = graph.trace(graph.input_tensor(base_ids, 1)?)?;
            let base = into_vec(base_trace.value(layer).clone());
            let q = quadrature(*rule, *steps)?;
            let diff: Vec<f32> = embedded.iter().zip(&base).map(|(e, b)| e - b).collect();
            let mut total = vec![0.0f64; diff.len()];
            let points: Vec<(f32, f32)> = q
                .alphas
                .iter()
                .zip(&q.weights)
                .map(|(&a, &w)| (a as f32, w as f32))
                .collect();
            for range in passes.ranges(points.len(), true) {
                let part = &points[range.clone()];
                let mut path = Vec::with_capacity(part.len() * diff.len());
                for &(alpha, _) in part {
                    path.extend(base.iter().zip(&diff).map(|(b, d)| b + alpha * d));
                }
                let batch = part.len();
                let repeated = input.repeat(batch);
                let value = from_vec("path points", &with_batch(batch, &shape), path)?;
                let trace =
                    graph.trace_replacing(graph.input_tensor(repeated, batch)?, layer, value)?;
                let g = layer_gradient(graph, objective, &trace, layer)?;
                for (&(_, w), g) in part.iter().zip(g.chunks_exact(diff.len())) {
                    total
                        .iter_mut()
                        .zip(g)
                        .for_each(|(t, g)| *t += f64::from(w * g));
                }
                passes.report(range.end, points.len())?;
            }
            let values: Vec<f32> = total
                .iter()
                .zip(&diff)
                .map(|(t, d)| *t as f32 * d)
                .collect();
            let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
            let f = objective.scores(&trace)[0];
            let f_base = objective.scores(&base_trace)[0];
            Attribution {
                values,
                shape,
                delta: Some((sum - (f64::from(f) - f64::from(f_base))) as f32),
            }
        }
        other => {
            return Err(Error::invalid(
                "method",
                format!(
                    "{} is not defined for a model of token ids (it changes the input by \
                     amounts that are not ids); use gradient, inputXGradient, \
                     integratedGradients or occlusion",
                    other.kind().name()
                ),
            ))
        }
    })
}

/// `∂F/∂value` of every sample of `trace`, flat.
fn layer_gradient(
    graph: &Graph,
    objective: &Objective,
    trace: &crate::graph::Trace,
    at: ValueId,
) -> Result<Vec<f32>> {
    let grads = objective.backward(graph, trace, at)?;
    Ok(grads.value(graph, at, trace.batch()).into_iter().collect())
}
