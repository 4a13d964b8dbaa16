//! Attention maps of transformers and attention rollout.
//!
//! An **attention layer** is a softmax over the last axis of query-key scores: a `Softmax`
//! node whose input is reached from a product of two run-time values ([`Op::MatMul`], `q kᵀ`)
//! through ops that keep it elementwise (scaling, an added mask, reshapes, dropout). Its output
//! per sample is `[..., queries, keys]`; the leading axes are the heads (one head when there are
//! none), whichever exporter wrote the graph (`[heads, L, L]`, or `[1, heads, L, L]` where
//! the batch was moved, see `io::onnx::import::forms`).
//!
//! **Attention rollout** (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"):
//! each layer's attention averaged over its heads plus the identity (the residual connection),
//! `A_l = mean_h(P_l) + I`, each row divided by its sum, multiplied through the layers in order:
//! `R = A_n ⋯ A_2 A_1`. Row `i` of `R` is how much each input token flows into token `i` at the
//! last layer; for a ViT the classification (cls) token's row 0 is the map.

use crate::error::{Error, Result};
use crate::graph::ops::Op;
use crate::graph::{Graph, ValueId};
use crate::tensor::Tensor;

/// One attention layer's probabilities for one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionMap {
    /// The softmax node's name.
    pub layer: String,
    /// `[heads, queries, keys]`.
    pub shape: [usize; 3],
    /// Row-major values, each row summing to 1.
    pub values: Vec<f32>,
}

/// Attention rollout of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// Tokens `L`: `matrix` is `[L, L]`.
    pub tokens: usize,
    /// `R = A_n ⋯ A_1`, row-major.
    pub matrix: Vec<f32>,
}

impl Rollout {
    /// Row `i` of the rollout (row 0 is a ViT's cls token).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.matrix[i * self.tokens..(i + 1) * self.tokens]
    }
}

/// The attention layers of `graph`, in graph order.
pub fn attention_layers(graph: &Graph) -> Vec<ValueId> {
    graph
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, node)| match &node.op {
            Op::Softmax(s) => {
                let rank = node.shape.len() + 1;
                !s.log()
                    && s.axis() + 1 == rank
                    && rank >= 3
                    && scores_of_product(graph, node.inputs[0], 8)
            }
            _ => false,
        })
        .map(|(i, _)| ValueId(i + 1))
        .collect()
}

/// Whether `id` is a product of two run-time values, up to elementwise steps (at most
/// `depth` of them: a chain of scaling, masking and reshaping is short, and the bound keeps a
/// crafted graph cheap).
fn scores_of_product(graph: &Graph, id: ValueId, depth: usize) -> bool {
    let Some(node) = graph.node_of(id) else {
        return false;
    };
    if depth == 0 {
        return false;
    }
    match &node.op {
        Op::MatMul(_) => true,
        Op::Binary(_) | Op::Reshape(_) | Op::Dropout(_) => node
            .inputs
            .iter()
            .any(|&input| scores_of_product(graph, input, depth - 1)),
        _ => false,
    }
}

/// The attention probabilities of every attention layer for one sample `input` (the model's
/// input shape), in graph order. Fails when the model has no attention layer.
pub fn attention(graph: &Graph, input: &[f32]) -> Result<Vec<AttentionMap>> {
    let layers = attention_layers(graph);
    if layers.is_empty() {
        return Err(no_attention(graph));
    }
    let trace = graph.trace(graph.input_tensor(input.to_vec(), 1)?)?;
    layers
        .into_iter()
        .map(|id| {
            let value: &Tensor = trace.value(id);
            let sample = &value.shape()[1..];
            let keys = sample[sample.len() - 1];
            let queries = sample[sample.len() - 2];
            let heads = sample[..sample.len() - 2].iter().product();
            Ok(AttentionMap {
                layer: graph.value_name(id).to_string(),
                shape: [heads, queries, keys],
                values: value.iter().copied().collect(),
            })
        })
        .collect()
}

/// Attention rollout for one sample `input`. Fails when the model has no attention layer or
/// its layers attend over different token counts or are not square (queries ≠ keys).
pub fn attention_rollout(graph: &Graph, input: &[f32]) -> Result<Rollout> {
    let maps = attention(graph, input)?;
    let tokens = maps[0].shape[2];
    if let Some(bad) = maps
        .iter()
        .find(|m| m.shape[1] != tokens || m.shape[2] != tokens)
    {
        return Err(Error::invalid(
            "attention rollout",
            format!(
                "layer '{}' attends with shape {:?} [heads, queries, keys], but rollout needs every \
                 layer square over the same {tokens} tokens",
                bad.layer, bad.shape
            ),
        ));
    }
    let mut rollout = identity(tokens);
    for map in &maps {
        let layer = mean_heads_plus_identity(map, tokens);
        rollout = multiply(&layer, &rollout, tokens);
    }
    Ok(Rollout {
        tokens,
        matrix: rollout.into_iter().map(|v| v as f32).collect(),
    })
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

/// `mean_h(P) + I`, each row divided by its sum (in f64).
fn mean_heads_plus_identity(map: &AttentionMap, n: usize) -> Vec<f64> {
    let heads = map.shape[0];
    let mut a = identity(n);
    for head in map.values.chunks_exact(n * n) {
        for (acc, &p) in a.iter_mut().zip(head) {
            *acc += f64::from(p) / heads as f64;
        }
    }
    for row in a.chunks_exact_mut(n) {
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
    }
    a
}

/// `a · b` for `n × n` row-major matrices.
fn multiply(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                out[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    out
}

fn no_attention(graph: &Graph) -> Error {
    let softmaxes = graph
        .nodes()
        .iter()
        .filter(|n| matches!(n.op, Op::Softmax(_)))
        .count();
    Error::invalid(
        "attention",
        format!(
            "the model has no attention layer (a softmax over the last axis of a product of two \
             computed values, q·kᵀ); it has {softmaxes} softmax node(s) of another kind"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::activation::Softmax;
    use crate::graph::ops::matmul::MatMul;
    use crate::graph::ops::shape::Transpose;

    /// Self-attention scores of the input with itself: `softmax(x xᵀ)` over 3 tokens.
    fn self_attention() -> Graph {
        let mut g = Graph::new(&[3, 2]).unwrap();
        let t = Transpose::new(vec![0, 2, 1]).unwrap();
        let xt = g
            .push("keys", "Transpose", Op::Transpose(t), &[ValueId::INPUT])
            .unwrap();
        let scores = g
            .push(
                "scores",
                "MatMul",
                Op::MatMul(MatMul),
                &[ValueId::INPUT, xt],
            )
            .unwrap();
        let soft = Op::Softmax(Softmax::new(2, false));
        g.push("attn", "Softmax", soft, &[scores]).unwrap();
        g
    }

    #[test]
    fn attention_is_the_softmax_of_query_key_scores() {
        let g = self_attention();
        assert_eq!(attention_layers(&g), vec![ValueId(3)]);
        let x = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let maps = attention(&g, &x).unwrap();
        assert_eq!(maps.len(), 1);
        assert_eq!(maps[0].layer, "attn");
        assert_eq!(maps[0].shape, [1, 3, 3]);
        // Row 0: scores x0·x = [1, 0, 1].
        let e = std::f32::consts::E;
        let row0 = [
            e / (2.0 * e + 1.0),
            1.0 / (2.0 * e + 1.0),
            e / (2.0 * e + 1.0),
        ];
        for (a, b) in maps[0].values[..3].iter().zip(row0) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // One layer: rollout is (P + I) with rows normalised, i.e. (P + I) / 2.
        let rollout = attention_rollout(&g, &x).unwrap();
        assert_eq!(rollout.tokens, 3);
        for i in 0..3 {
            for j in 0..3 {
                let expect = (maps[0].values[i * 3 + j] + f32::from(i == j)) / 2.0;
                assert!((rollout.row(i)[j] - expect).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn a_model_without_attention_says_so() {
        let mut g = Graph::new(&[4]).unwrap();
        g.push(
            "p",
            "Softmax",
            Op::Softmax(Softmax::new(1, false)),
            &[ValueId::INPUT],
        )
        .unwrap();
        let e = attention(&g, &[0.0; 4]).unwrap_err().to_string();
        assert!(
            e.contains("no attention layer") && e.contains("1 softmax"),
            "{e}"
        );
    }
}
