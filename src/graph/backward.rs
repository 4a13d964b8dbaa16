//! The backward pass (reverse-mode automatic differentiation over a [`Trace`]).
//!
//! Starting from a cotangent `dL/d output`, nodes are visited in reverse execution order; each
//! node's [`Kernel::backward`] turns the gradient of its output into gradients of its inputs,
//! which are summed into the values they came from (a value read by several nodes receives the
//! sum, as the multivariate chain rule requires). On a training-mode trace, batch norm and
//! dropout take their training-mode backward (`training.rs`).

use super::ops::activation::scale_by_mask;
use super::ops::norm::scale_run_by_channel;
use super::ops::{Epilogue, GradientReads, Kernel, Op};
use super::{training, Graph, Trace, ValueId};
use crate::error::{Error, Result};
use crate::tensor::{with_batch, Tensor};

/// Gradients of one backward pass.
#[derive(Debug, Clone)]
pub struct Gradients {
    /// `dL/d value` for every value (index 0: the input); `None` where no gradient flows.
    pub values: Vec<Option<Tensor>>,
    /// `dL/d param` per node, in [`Kernel::params`] order; empty unless requested.
    pub params: Vec<Vec<Tensor>>,
}

impl Gradients {
    /// `dL/d input`, zeros when the output does not depend on the input.
    pub fn input(&self, graph: &Graph, batch: usize) -> Tensor {
        self.value(graph, ValueId::INPUT, batch)
    }

    /// `dL/d value`, zeros when no gradient reached it.
    pub fn value(&self, graph: &Graph, id: ValueId, batch: usize) -> Tensor {
        match &self.values[id.0] {
            Some(g) => g.clone(),
            None => Tensor::zeros(crate::tensor::with_batch(batch, graph.value_shape(id))),
        }
    }
}

impl Graph {
    /// Back-propagates `grad_output` (`dL/d output`, the output's shape) through `trace`.
    /// Parameter gradients are computed only when `want_params` is set.
    pub fn backward(
        &self,
        trace: &Trace,
        grad_output: Tensor,
        want_params: bool,
    ) -> Result<Gradients> {
        self.backward_from(trace, self.output(), grad_output, want_params)
    }

    /// Back-propagates `grad` (`dL/d value`, the shape of `from` in `trace`) from any value of
    /// the graph, as if `from` were the output: nodes after it receive no gradient. Used to
    /// differentiate an inner value, e.g. the logits before a trailing softmax.
    pub fn backward_from(
        &self,
        trace: &Trace,
        from: ValueId,
        grad: Tensor,
        want_params: bool,
    ) -> Result<Gradients> {
        self.backward_kept(trace, from, grad, want_params, None)
    }

    /// [`Graph::backward_from`] keeping only the gradient of the value `kept`: every other
    /// gradient is dropped once it has been passed on, so the pass works in a few warm buffers
    /// (as [`Graph::forward`] does) instead of holding every gradient to the end. Every entry of
    /// [`Gradients::values`] but `kept` is `None`.
    pub fn backward_to(
        &self,
        trace: &Trace,
        from: ValueId,
        grad: Tensor,
        want_params: bool,
        kept: ValueId,
    ) -> Result<Gradients> {
        self.backward_kept(trace, from, grad, want_params, Some(kept))
    }

    /// The backward pass, keeping every gradient (`kept` is `None`) or only `kept`'s.
    fn backward_kept(
        &self,
        trace: &Trace,
        from: ValueId,
        grad: Tensor,
        want_params: bool,
        kept: Option<ValueId>,
    ) -> Result<Gradients> {
        if from.0 >= trace.values().len() {
            return Err(Error::invalid(
                "gradient source",
                format!(
                    "value {} does not exist (the graph has {} values)",
                    from.0,
                    trace.values().len()
                ),
            ));
        }
        let Some(start) = trace.kept_value(from) else {
            return Err(Error::invalid(
                "gradient source",
                format!(
                    "value {} was dropped by the gradient trace; pass it to \
                     Graph::gradient_trace as the objective",
                    from.0
                ),
            ));
        };
        if grad.shape() != start.shape() {
            return Err(Error::shape(format!(
                "gradient has shape {:?}, expected the shape {:?} of the value it is taken at",
                grad.shape(),
                start.shape()
            )));
        }
        let n = self.nodes().len();
        let reads = self.read_counts();
        let mut values: Vec<Option<Tensor>> = vec![None; n + 1];
        values[from.0] = Some(grad);
        let mut params = vec![Vec::new(); if want_params { n } else { 0 }];
        // Node i produces value i + 1, so nodes from index `from.0` on cannot receive a gradient.
        for (i, node) in self.nodes()[..from.0].iter().enumerate().rev() {
            let Some(mut grad) = values[i + 1].take() else {
                continue;
            };
            let keep_gradient = kept.is_none_or(|kept| kept.0 == i + 1);
            let dropped =
                !trace.is_kept(ValueId(i + 1)) || node.inputs.iter().any(|id| !trace.is_kept(*id));
            if dropped {
                // A gradient trace dropped what this node's backward does not read.
                let passed = if keep_gradient {
                    let passed = grad.clone();
                    values[i + 1] = Some(grad);
                    passed
                } else {
                    grad
                };
                if let Some((source, dx)) =
                    self.gradient_through_activation(trace, i, &passed, kept, &reads)
                {
                    let dx = dx.map_err(|e| e.at_node(&node.name, &node.label))?;
                    accumulate(&mut values, &[source], vec![dx]);
                    continue;
                }
                if let (Op::Concat(concat), false) = (&node.op, want_params || trace.is_training())
                {
                    // Each part is added where its input has a gradient already, copied only
                    // where it has none: DenseNet-121's concatenations join every earlier
                    // feature of their block again.
                    let shapes = self.input_shapes(trace, i);
                    let shapes: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
                    let parts = concat
                        .gradient_parts(&shapes, &passed)
                        .map_err(|e| e.at_node(&node.name, &node.label))?;
                    for (id, part) in node.inputs.iter().zip(parts) {
                        match &mut values[id.0] {
                            Some(acc) => *acc += &part,
                            slot @ None => *slot = Some(part.to_owned()),
                        }
                    }
                    continue;
                }
                let input_grads = self
                    .lean_input_gradients(trace, i, passed, want_params)
                    .map_err(|e| e.at_node(&node.name, &node.label))?;
                accumulate(&mut values, &node.inputs, input_grads);
                continue;
            }
            let inputs: Vec<&Tensor> = node.inputs.iter().map(|id| trace.value(*id)).collect();
            let (output, record) = (
                trace.value(ValueId(i + 1)),
                trace.training_record(ValueId(i + 1)),
            );
            // A gradient that is passed on and dropped can become the input's gradient in its
            // own buffer, where the op allows it.
            let owned = kept.is_some_and(|kept| kept.0 != i + 1)
                && record.is_none()
                && (!want_params || node.op.params().is_empty());
            let in_place = if owned {
                node.op
                    .backward_in_place(&inputs, output, &mut grad)
                    .transpose()
                    .map_err(|e| e.at_node(&node.name, &node.label))?
                    .is_some()
            } else {
                false
            };
            let input_grads = if in_place {
                vec![grad]
            } else {
                let grads =
                    training::backward(&node.op, record, &inputs, output, &grad, want_params)
                        .map_err(|e| e.at_node(&node.name, &node.label))?;
                if keep_gradient {
                    values[i + 1] = Some(grad);
                }
                if want_params {
                    params[i] = grads.params;
                }
                grads.inputs
            };
            accumulate(&mut values, &node.inputs, input_grads);
        }
        if kept.is_some_and(|kept| kept != ValueId::INPUT) {
            // The input is no node's output, so the loop never passes its gradient on.
            values[0] = None;
        }
        Ok(Gradients { values, params })
    }

    /// The input gradients of node `index` from a gradient trace that dropped some of its
    /// values ([`Graph::gradient_trace`]): from the shapes of its inputs and, where kept, its
    /// output ([`Kernel::lean_input_gradients`]).
    fn lean_input_gradients(
        &self,
        trace: &Trace,
        index: usize,
        grad: Tensor,
        want_params: bool,
    ) -> Result<Vec<Tensor>> {
        let node = &self.nodes()[index];
        if want_params || trace.is_training() {
            return Err(Error::invalid(
                "backward pass",
                "a gradient trace keeps only what the input gradient reads; parameter \
                 gradients and training mode need a full trace (Graph::trace)",
            ));
        }
        let shapes = self.input_shapes(trace, index);
        let shapes: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        if let Some(mask) = trace.derivative_mask(ValueId(index + 1)) {
            return masked_gradient(mask, shapes[0], grad).map(|grad| vec![grad]);
        }
        let output = trace.kept_value(ValueId(index + 1));
        node.op
            .lean_input_gradients(&shapes, output, grad)
            .unwrap_or_else(|| {
                Err(Error::invalid(
                    "backward pass",
                    format!(
                        "{} reads values the gradient trace dropped (its gradient_reads and \
                         lean_input_gradients disagree)",
                        node.label
                    ),
                ))
            })
    }

    /// The shapes of node `index`'s inputs in `trace`, batch first.
    fn input_shapes(&self, trace: &Trace, index: usize) -> Vec<Vec<usize>> {
        self.nodes()[index]
            .inputs
            .iter()
            .map(|id| with_batch(trace.batch(), self.value_shape(*id)))
            .collect()
    }

    /// Node `index`'s input gradient carried on through the activation that computes its
    /// input, in one pass ([`Kernel::lean_input_gradient_then`]), when that activation's
    /// derivative is a function of its output (ReLU, Clip, sigmoid, tanh: the trace holds the
    /// output or its derivative mask), no other node reads its output, and the pass drops that
    /// output's gradient (`kept` is another value): the activation's input and its gradient,
    /// which equals the two nodes' lean backward passes bit for bit. Where an inference batch
    /// norm computes that input on the same terms ([`Graph::norm_before`]), on through it too:
    /// its input and gradient. `None` where any of this does not hold, or the node's op cannot
    /// take an epilogue.
    fn gradient_through_activation(
        &self,
        trace: &Trace,
        index: usize,
        grad: &Tensor,
        kept: Option<ValueId>,
        reads: &[usize],
    ) -> Option<(ValueId, Result<Tensor>)> {
        let node = &self.nodes()[index];
        let [value] = node.inputs[..] else {
            return None;
        };
        if value == ValueId::INPUT || kept.is_none_or(|kept| kept == value) || reads[value.0] != 1 {
            return None;
        }
        let producer = &self.nodes()[value.0 - 1];
        let (Op::Activation(activation), [source]) = (&producer.op, &producer.inputs[..]) else {
            return None;
        };
        if activation.gradient_reads() != GradientReads::Output {
            return None;
        }
        let shape = with_batch(trace.batch(), self.value_shape(value));
        // An inference batch norm that alone computes the activation's input passes the
        // gradient on scaled per channel, in the same epilogue (DenseNet-121's 120 batch norms
        // before a ReLU and a convolution).
        let norm = self.norm_before(*source, kept, reads);
        let plane = shape[2..].iter().product::<usize>();
        let through_norm = |run: &mut [f32], at: usize| {
            if let Some((_, multiplier)) = &norm {
                scale_run_by_channel(multiplier, plane, run, at);
            }
        };
        let dx = if let Some(mask) = trace.derivative_mask(value) {
            node.op.lean_input_gradient_then(
                &shape,
                grad,
                Epilogue::Masked {
                    mask,
                    then: &through_norm,
                },
            )
        } else {
            let y = trace.kept_value(value)?.as_slice()?;
            node.op.lean_input_gradient_then(
                &shape,
                grad,
                Epilogue::Map(&|run, at| {
                    activation.scale_by_output_derivative(&y[at..][..run.len()], run);
                    through_norm(run, at);
                }),
            )
        }?;
        Some((norm.map_or(*source, |(input, _)| input), dx))
    }

    /// The input of the batch norm that computes `value` and its gradient multiplier
    /// ([`BatchNorm::gradient_multiplier`](super::ops::norm::BatchNorm::gradient_multiplier)),
    /// when only one node reads `value`, the pass drops its gradient (`kept` is another value),
    /// its channels are on axis 1 of a value of rank 2 or more, and the multiplier is well
    /// formed; `None` otherwise.
    fn norm_before(
        &self,
        value: ValueId,
        kept: Option<ValueId>,
        reads: &[usize],
    ) -> Option<(ValueId, Vec<f32>)> {
        if value == ValueId::INPUT
            || kept.is_none_or(|kept| kept == value)
            || reads[value.0] != 1
            || self.value_shape(value).is_empty()
        {
            return None;
        }
        let producer = &self.nodes()[value.0 - 1];
        let (Op::BatchNorm(norm), [input]) = (&producer.op, &producer.inputs[..]) else {
            return None;
        };
        let multiplier = norm.gradient_multiplier().ok()?;
        (multiplier.len() == self.value_shape(value)[0]).then(|| (*input, multiplier.to_vec()))
    }

    /// `d output[sample, target] / d input` for every sample of `trace`: the gradient of each
    /// sample's selected output element (flat index into the per-sample output).
    pub fn input_gradient(&self, trace: &Trace, target: usize) -> Result<Tensor> {
        let per_sample: usize = self.output_shape().iter().product();
        if target >= per_sample {
            return Err(Error::TargetOutOfRange {
                target,
                len: per_sample,
            });
        }
        let batch = trace.batch();
        let mut seed = Tensor::zeros(trace.output().raw_dim());
        {
            let flat = seed
                .as_slice_mut()
                .expect("freshly allocated tensors are contiguous");
            for b in 0..batch {
                flat[b * per_sample + target] = 1.0;
            }
        }
        let mut grads = self.backward_to(trace, self.output(), seed, false, ValueId::INPUT)?;
        // Moved out, not cloned; zeros (from `input`) when no gradient reached the input.
        Ok(grads.values[ValueId::INPUT.0]
            .take()
            .unwrap_or_else(|| grads.input(self, batch)))
    }
}

/// The input gradient of a ReLU or Clip from its derivative mask ([`Trace::derivative_mask`]),
/// written over `grad`, which must have the input's shape.
fn masked_gradient(mask: &[u8], input_shape: &[usize], mut grad: Tensor) -> Result<Tensor> {
    if grad.shape() != input_shape || mask.len() != grad.len() {
        return Err(Error::shape(format!(
            "activation backward: output gradient {:?} for an input {input_shape:?} with {} \
             derivative values",
            grad.shape(),
            mask.len()
        )));
    }
    if !grad.is_standard_layout() {
        grad = grad.as_standard_layout().into_owned();
    }
    scale_by_mask(
        mask,
        grad.as_slice_mut().expect("standard layout is contiguous"),
    );
    Ok(grad)
}

/// Adds each input's gradient to what its value has received (the chain rule's sum over the
/// value's readers).
fn accumulate(values: &mut [Option<Tensor>], inputs: &[ValueId], grads: Vec<Tensor>) {
    for (id, g) in inputs.iter().zip(grads) {
        match &mut values[id.0] {
            Some(acc) => *acc += &g,
            slot @ None => *slot = Some(g),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::activation::Activation;
    use crate::graph::ops::dense::Dense;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::Op;

    /// `tanh(dense(x))` with its dense and tanh values.
    fn dense_tanh() -> (Graph, ValueId, ValueId) {
        let mut g = Graph::new(&[4]).unwrap();
        let a = g
            .push(
                "fc",
                "dense",
                Op::Dense(Dense::new(random_tensor(&[3, 4], -1., 1., 1), None).unwrap()),
                &[ValueId::INPUT],
            )
            .unwrap();
        let t = g
            .push("t", "tanh", Op::Activation(Activation::Tanh), &[a])
            .unwrap();
        (g, a, t)
    }

    /// `sigmoid(tanh(dense(x)))` with its dense and tanh values.
    fn dense_tanh_sigmoid() -> (Graph, ValueId, ValueId) {
        let (mut g, a, t) = dense_tanh();
        g.push("s", "sigmoid", Op::Activation(Activation::Sigmoid), &[t])
            .unwrap();
        (g, a, t)
    }

    /// A value used twice (x -> a -> relu, x -> a -> sigmoid) receives the sum of gradients;
    /// checked against finite differences of the whole graph.
    #[test]
    fn gradient_of_graph_matches_finite_differences() {
        let (mut g, a, t) = dense_tanh();
        let s = g
            .push("s", "sigmoid", Op::Activation(Activation::Sigmoid), &[a])
            .unwrap();
        let _ = (t, s);
        // Output is s only, so t's branch receives no gradient and is skipped.
        let x = random_tensor(&[1, 4], -1., 1., 2);
        let trace = g.trace(x.clone()).unwrap();
        let grad = g.input_gradient(&trace, 1).unwrap();
        let eps = 1e-2f32;
        for j in 0..4 {
            let mut plus = x.clone();
            plus[[0, j]] += eps;
            let mut minus = x.clone();
            minus[[0, j]] -= eps;
            let fp = g.forward(plus).unwrap()[[0, 1]];
            let fm = g.forward(minus).unwrap()[[0, 1]];
            let numeric = (fp - fm) / (2.0 * eps);
            assert!(
                (numeric - grad[[0, j]]).abs() < 1e-3,
                "{numeric} vs {}",
                grad[[0, j]]
            );
        }
        assert!(matches!(
            g.input_gradient(&trace, 3),
            Err(Error::TargetOutOfRange { .. })
        ));
    }

    /// Keeping one gradient gives it as the full pass does, and drops every other.
    #[test]
    fn backward_to_keeps_only_the_asked_gradient() {
        let (g, a, t) = dense_tanh_sigmoid();
        let trace = g.trace(random_tensor(&[2, 4], -1., 1., 2)).unwrap();
        let seed = random_tensor(&[2, 3], -1., 1., 3);
        let all = g.backward(&trace, seed.clone(), false).unwrap();
        for kept in [ValueId::INPUT, a, t] {
            let one = g
                .backward_to(&trace, g.output(), seed.clone(), false, kept)
                .unwrap();
            assert_eq!(one.values[kept.0], all.values[kept.0]);
            for (id, value) in one.values.iter().enumerate() {
                assert!(id == kept.0 || value.is_none(), "value {id} kept");
            }
        }
    }

    /// The pass that drops gradients writes element-wise ops' input gradients over their output
    /// gradients (`Kernel::backward_in_place`); it gives bit for bit what the pass keeping every
    /// gradient computes through `backward`, with and without parameter gradients, on a graph
    /// where a batch norm's output is read twice (by ReLU and Clip, whose gradients are summed
    /// before the batch norm's) and a dense layer with parameters follows.
    #[test]
    fn gradients_written_in_place_equal_the_allocated_ones() {
        use crate::graph::ops::elementwise::{Binary, BinaryKind};
        use crate::graph::ops::norm::BatchNorm;
        let mut g = Graph::new(&[3, 4]).unwrap();
        let channel = |seed| random_tensor(&[3], 0.5, 2.0, seed);
        let norm = BatchNorm::new(channel(1), channel(2), channel(3), channel(4), 1e-5).unwrap();
        let n = g
            .push(
                "bn",
                "BatchNormalization",
                Op::BatchNorm(norm),
                &[ValueId::INPUT],
            )
            .unwrap();
        let r = g
            .push("relu", "Relu", Op::Activation(Activation::Relu), &[n])
            .unwrap();
        let clip = Activation::Clip {
            min: -0.5,
            max: 1.5,
        };
        let c = g.push("clip", "Clip", Op::Activation(clip), &[n]).unwrap();
        let sum = Op::Binary(Binary::between_values(BinaryKind::Add));
        let s = g.push("add", "Add", sum, &[r, c]).unwrap();
        let dense = Dense::new(random_tensor(&[2, 4], -1., 1., 5), None).unwrap();
        let d = g.push("fc", "Gemm", Op::Dense(dense), &[s]).unwrap();
        g.push("sig", "Sigmoid", Op::Activation(Activation::Sigmoid), &[d])
            .unwrap();
        let trace = g.trace(random_tensor(&[2, 3, 4], -2., 2., 6)).unwrap();
        let seed = random_tensor(&[2, 3, 2], -1., 1., 7);
        for want_params in [false, true] {
            let all = g.backward(&trace, seed.clone(), want_params).unwrap();
            let dropped = g
                .backward_to(
                    &trace,
                    g.output(),
                    seed.clone(),
                    want_params,
                    ValueId::INPUT,
                )
                .unwrap();
            assert_eq!(
                dropped.values[0], all.values[0],
                "want_params {want_params}"
            );
            assert_eq!(dropped.params, all.params, "want_params {want_params}");
            assert!(all.values[0].as_ref().unwrap().iter().any(|&v| v != 0.0));
        }
    }

    /// A small CNN with each kind of reader: a convolution and its ReLU, a second convolution
    /// added to the ReLU, a batch norm and a sigmoid, a concatenation, a Clip, a max pooling,
    /// then global average pooling and a dense layer. Returns it with the values a gradient
    /// trace drops (the first convolution's output, the second's, the sum, the batch norm's,
    /// the concatenation's, which the Clip after it does not read).
    fn small_cnn() -> (Graph, Vec<ValueId>) {
        use crate::graph::ops::conv::Conv2d;
        use crate::graph::ops::elementwise::{Binary, BinaryKind};
        use crate::graph::ops::norm::BatchNorm;
        use crate::graph::ops::pool::{GlobalAvgPool, MaxPool2d};
        use crate::graph::ops::shape::{Concat, Flatten};
        let mut g = Graph::new(&[3, 6, 6]).unwrap();
        let conv = |seed, cin| {
            let weight = random_tensor(&[4, cin, 3, 3], -0.5, 0.5, seed);
            let bias = Some(random_tensor(&[4], -0.2, 0.2, seed + 1));
            Op::Conv2d(Conv2d::new(weight, bias, [1, 1], [1; 4], [1, 1], 1).unwrap())
        };
        let c1 = g.push("c1", "Conv", conv(1, 3), &[ValueId::INPUT]).unwrap();
        let r1 = g
            .push("r1", "Relu", Op::Activation(Activation::Relu), &[c1])
            .unwrap();
        let c2 = g.push("c2", "Conv", conv(3, 4), &[r1]).unwrap();
        let sum = Op::Binary(Binary::between_values(BinaryKind::Add));
        let a = g.push("add", "Add", sum, &[c2, r1]).unwrap();
        let channel = |seed| random_tensor(&[4], 0.5, 2.0, seed);
        let norm = BatchNorm::new(channel(5), channel(6), channel(7), channel(8), 1e-5).unwrap();
        let b = g
            .push("bn", "BatchNormalization", Op::BatchNorm(norm), &[a])
            .unwrap();
        let sig = g
            .push("sig", "Sigmoid", Op::Activation(Activation::Sigmoid), &[b])
            .unwrap();
        let concat = Op::Concat(Concat::new(1, 2).unwrap());
        let cat = g.push("cat", "Concat", concat, &[r1, sig]).unwrap();
        let clip = Activation::Clip { min: 0.0, max: 0.6 };
        let cl = g
            .push("clip", "Clip", Op::Activation(clip), &[cat])
            .unwrap();
        let pool = MaxPool2d::new([2, 2], [2, 2], [0; 4], false).unwrap();
        let p = g
            .push("pool", "MaxPool", Op::MaxPool2d(pool), &[cl])
            .unwrap();
        let gap = g
            .push(
                "gap",
                "GlobalAveragePool",
                Op::GlobalAvgPool(GlobalAvgPool),
                &[p],
            )
            .unwrap();
        let flat = Op::Flatten(Flatten::new(1).unwrap());
        let f = g.push("flat", "Flatten", flat, &[gap]).unwrap();
        let dense = Dense::new(random_tensor(&[3, 8], -1., 1., 9), None).unwrap();
        g.push("fc", "Gemm", Op::Dense(dense), &[f]).unwrap();
        (g, vec![c1, c2, a, b, cat])
    }

    /// A gradient trace drops the values no backward reads, keeps a ReLU's output that only its
    /// own backward reads as its derivative mask, keeps the others equal to the full trace's,
    /// and gives the full trace's input gradient bit for bit, at batch 1 and 3.
    #[test]
    fn gradient_trace_keeps_what_the_input_gradient_reads() {
        let (g, dropped) = small_cnn();
        // r1, read by a convolution, a sum and a concatenation, which read its shape alone.
        let masked = ValueId(2);
        for batch in [1, 3] {
            let x = random_tensor(&[batch, 3, 6, 6], -2., 2., 10 + batch as u64);
            let full = g.trace(x.clone()).unwrap();
            let lean = g.gradient_trace(x, g.output()).unwrap();
            for id in (0..full.values().len()).map(ValueId) {
                if dropped.contains(&id) || id == masked {
                    assert!(!lean.is_kept(id), "value {} kept", id.0);
                    assert!(lean.values()[id.0].is_empty(), "value {} allocated", id.0);
                }
                if id == masked {
                    let derivative: Vec<u8> =
                        full.value(id).iter().map(|&y| u8::from(y > 0.0)).collect();
                    assert_eq!(lean.derivative_mask(id), Some(derivative.as_slice()));
                    assert!(derivative.contains(&0) && derivative.contains(&1));
                } else if !dropped.contains(&id) {
                    assert_eq!(lean.derivative_mask(id), None, "value {}", id.0);
                    assert_eq!(lean.kept_value(id), Some(full.value(id)), "value {}", id.0);
                }
            }
            for target in 0..3 {
                let want = g.input_gradient(&full, target).unwrap();
                assert!(want.iter().any(|&v| v != 0.0), "target {target}");
                assert_eq!(g.input_gradient(&lean, target).unwrap(), want);
            }
        }
    }

    /// A value joined by two concatenations, as DenseNet's features are, gets the later one's
    /// part first and the earlier one's added to it; the input, joined too, gets its part as
    /// is. The gradient trace's input gradient equals the full trace's bit for bit, at batch 1
    /// (whose parts are contiguous) and 3.
    #[test]
    fn concatenation_gradients_add_into_their_inputs() {
        use crate::graph::ops::conv::Conv2d;
        use crate::graph::ops::shape::{Concat, Flatten};
        let mut g = Graph::new(&[2, 5, 5]).unwrap();
        let conv = |seed, cin, out| {
            let weight = random_tensor(&[out, cin, 3, 3], -0.5, 0.5, seed);
            let bias = Some(random_tensor(&[out], -0.2, 0.2, seed + 1));
            Op::Conv2d(Conv2d::new(weight, bias, [1, 1], [1; 4], [1, 1], 1).unwrap())
        };
        let tanh = || Op::Activation(Activation::Tanh);
        let c0 = g
            .push("c0", "Conv", conv(1, 2, 3), &[ValueId::INPUT])
            .unwrap();
        let f0 = g.push("f0", "Tanh", tanh(), &[c0]).unwrap();
        let concat = |inputs| Op::Concat(Concat::new(1, inputs).unwrap());
        let cat1 = g
            .push("cat1", "Concat", concat(2), &[ValueId::INPUT, f0])
            .unwrap();
        let c1 = g.push("c1", "Conv", conv(3, 5, 2), &[cat1]).unwrap();
        let f1 = g.push("f1", "Tanh", tanh(), &[c1]).unwrap();
        let cat2 = g.push("cat2", "Concat", concat(2), &[f0, f1]).unwrap();
        let c2 = g.push("c2", "Conv", conv(5, 5, 4), &[cat2]).unwrap();
        let f = g
            .push(
                "flat",
                "Flatten",
                Op::Flatten(Flatten::new(1).unwrap()),
                &[c2],
            )
            .unwrap();
        let dense = Dense::new(random_tensor(&[2, 4 * 25], -1., 1., 7), None).unwrap();
        g.push("fc", "Gemm", Op::Dense(dense), &[f]).unwrap();
        for batch in [1, 3] {
            let x = random_tensor(&[batch, 2, 5, 5], -2., 2., 8 + batch as u64);
            let full = g.trace(x.clone()).unwrap();
            let lean = g.gradient_trace(x, g.output()).unwrap();
            assert!(!lean.is_kept(cat1) && !lean.is_kept(cat2));
            assert_eq!(
                g.input_gradient(&lean, 1).unwrap(),
                g.input_gradient(&full, 1).unwrap()
            );
        }
    }

    /// A gradient trace refuses parameter gradients and a dropped value as the source, with an
    /// error that says what to use instead, and panics when a dropped value is read.
    #[test]
    fn gradient_trace_refuses_what_it_dropped() {
        let (g, dropped) = small_cnn();
        let lean = g
            .gradient_trace(random_tensor(&[1, 3, 6, 6], -2., 2., 1), g.output())
            .unwrap();
        let seed = random_tensor(&[1, 3], -1., 1., 2);
        let err = g.backward(&lean, seed, true).unwrap_err().to_string();
        assert!(err.contains("need a full trace (Graph::trace)"), "{err}");
        let at = dropped[2];
        let err = g
            .backward_from(&lean, at, random_tensor(&[1, 4, 6, 6], -1., 1., 3), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dropped by the gradient trace"), "{err}");
        let read = std::panic::catch_unwind(|| lean.value(at).len());
        assert!(read.is_err(), "reading a dropped value panics");
    }

    /// Backward from an inner value equals backward of the graph cut at that value.
    #[test]
    fn backward_from_inner_value_matches_the_truncated_graph() {
        let (g, _, t) = dense_tanh_sigmoid();
        let x = random_tensor(&[2, 4], -1., 1., 2);
        let trace = g.trace(x.clone()).unwrap();
        let seed = random_tensor(&[2, 3], -1., 1., 3);
        let inner = g.backward_from(&trace, t, seed.clone(), false).unwrap();
        assert!(
            inner.values[3].is_none(),
            "nodes after the source get no gradient"
        );
        let mut cut = g.clone();
        cut.set_output(t).unwrap();
        let whole = cut.backward(&cut.trace(x).unwrap(), seed, false).unwrap();
        assert_eq!(inner.input(&g, 2), whole.input(&cut, 2));
        let err = g
            .backward_from(&trace, t, random_tensor(&[2, 4], -1., 1., 4), false)
            .unwrap_err();
        assert!(err.to_string().contains("[2, 4]"), "{err}");
        assert!(g
            .backward_from(
                &trace,
                ValueId(9),
                random_tensor(&[2, 3], -1., 1., 4),
                false
            )
            .is_err());
    }
}
