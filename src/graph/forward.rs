//! The forward pass: runs the nodes in order and keeps every value (the [`Trace`]).
//!
//! The trace is what activation views, attribution (which needs each node's input and output
//! for the backward pass) and Grad-CAM (which needs an inner layer's output) are built on. The
//! training-mode pass that fills a trace is in `training.rs`.

use super::ops::{Epilogue, GradientReads, Kernel, Op};
use super::training::TrainingRecord;
use super::{Graph, ValueId};
use crate::error::{ensure_finite, Error, Result};
use crate::tensor::{checked_elements, from_vec, limits, with_batch, Tensor};
use ndarray::{Axis, IxDyn};
use std::ops::Range;

/// One derivative mask (`Activation::output_mask`) or none per value of a pass.
type DerivativeMasks = Vec<Option<Vec<u8>>>;

/// Every value of one forward pass: the input, then each node's output, batch first; for a
/// training-mode pass ([`Graph::trace_training`]) also what each node's mode fixed. A gradient
/// trace ([`Graph::gradient_trace`]) keeps only the values its input gradient reads.
#[derive(Debug, Clone)]
pub struct Trace {
    values: Vec<Tensor>,
    output: ValueId,
    /// `None` for an inference pass; for a training-mode pass one entry per node.
    training: Option<Vec<Option<TrainingRecord>>>,
    /// For a gradient trace, whether each value was kept (the others hold an empty tensor).
    kept: Option<Vec<bool>>,
    /// For a gradient trace, the derivative masks (`Activation::output_mask`) kept in place of
    /// ReLU and Clip outputs that only their own backward reads, by value; empty otherwise.
    masks: DerivativeMasks,
}

impl Trace {
    /// A trace from its values, its output and, for a training-mode pass, one record per node.
    pub(super) fn new(
        values: Vec<Tensor>,
        output: ValueId,
        training: Option<Vec<Option<TrainingRecord>>>,
    ) -> Self {
        Trace {
            values,
            output,
            training,
            kept: None,
            masks: Vec::new(),
        }
    }

    /// Whether the pass kept value `id` (every value but those a gradient trace dropped).
    pub fn is_kept(&self, id: ValueId) -> bool {
        self.kept.as_ref().is_none_or(|kept| kept[id.0])
    }

    /// Value `id` where the pass kept it.
    pub fn kept_value(&self, id: ValueId) -> Option<&Tensor> {
        self.is_kept(id).then(|| &self.values[id.0])
    }

    /// The derivative mask a gradient trace kept in place of value `id`, the output of a ReLU or
    /// Clip that only its own backward reads ([`Graph::gradient_trace`]).
    pub(super) fn derivative_mask(&self, id: ValueId) -> Option<&[u8]> {
        self.masks.get(id.0)?.as_deref()
    }

    /// Whether the pass ran in training mode ([`Graph::trace_training`]).
    pub fn is_training(&self) -> bool {
        self.training.is_some()
    }

    /// What training mode fixed for the node producing `id` (its batch statistics or dropout
    /// mask); `None` for an inference trace, the input, and nodes that behave the same in both
    /// modes.
    pub fn training_record(&self, id: ValueId) -> Option<&TrainingRecord> {
        self.training.as_ref()?.get(id.0.checked_sub(1)?)?.as_ref()
    }

    /// The per-node records of a training-mode trace (`None` for an inference trace).
    pub(super) fn training_records(&self) -> Option<&[Option<TrainingRecord>]> {
        self.training.as_deref()
    }

    /// The batch size of the pass.
    pub fn batch(&self) -> usize {
        self.values[0].shape()[0]
    }

    /// A value by id. Panics on a value a gradient trace dropped ([`Trace::kept_value`] asks).
    pub fn value(&self, id: ValueId) -> &Tensor {
        assert!(
            self.is_kept(id),
            "value {} was dropped by the gradient trace: Graph::trace keeps every value",
            id.0
        );
        &self.values[id.0]
    }

    /// The graph input.
    pub fn input(&self) -> &Tensor {
        &self.values[0]
    }

    /// The graph output.
    pub fn output(&self) -> &Tensor {
        &self.values[self.output.0]
    }

    /// Consumes the trace, returning the graph output.
    pub fn into_output(mut self) -> Tensor {
        self.values.swap_remove(self.output.0)
    }

    /// All values: index 0 is the input, index `i + 1` node `i`'s output (an empty tensor where
    /// a gradient trace dropped the value).
    pub fn values(&self) -> &[Tensor] {
        &self.values
    }

    /// Consumes the trace, returning all values as [`Trace::values`] orders them.
    pub fn into_values(self) -> Vec<Tensor> {
        self.values
    }
}

impl Graph {
    /// Checks that a batch of `batch` samples fits under the size limits before anything is
    /// allocated: every value of the graph on its own, and the whole trace together.
    pub fn check_batch(&self, batch: usize) -> Result<()> {
        check_batch_range(batch)?;
        checked_elements("input", &with_batch(batch, self.input_shape()))?;
        for node in self.nodes() {
            checked_elements(
                &format!("output of layer '{}'", node.name),
                &with_batch(batch, &node.shape),
            )?;
        }
        let per_sample = self.trace_elements_per_sample();
        let total = per_sample.saturating_mul(batch);
        if total > limits::MAX_TRACE_ELEMENTS {
            return Err(Error::TooLarge {
                what: format!(
                    "the forward trace of a batch of {batch} (the input and every layer's \
                     output, kept together; use a smaller batch)"
                ),
                shape: vec![batch, per_sample],
                elements: total.to_string(),
                limit: limits::MAX_TRACE_ELEMENTS,
            });
        }
        Ok(())
    }

    /// How many values one sample keeps in a trace: its input and every node's output.
    pub fn trace_elements_per_sample(&self) -> usize {
        (0..=self.nodes().len())
            .map(|i| self.value_shape(ValueId(i)).iter().product::<usize>())
            .fold(0, usize::saturating_add)
    }

    /// Turns a flat buffer of `batch` samples into the input tensor, checking its length and
    /// that every value is finite.
    pub fn input_tensor(&self, data: Vec<f32>, batch: usize) -> Result<Tensor> {
        check_batch_range(batch)?;
        let shape = with_batch(batch, self.input_shape());
        let expected = checked_elements("input", &shape)?;
        if data.len() != expected {
            return Err(Error::InputLength {
                actual: data.len(),
                expected,
                batch,
                shape: self.input_shape().to_vec(),
            });
        }
        ensure_finite("input", data.iter().copied())?;
        from_vec("input", &shape, data)
    }

    /// Runs the graph on `input` (`[batch, ...input_shape]`) and keeps every value.
    pub fn trace(&self, input: Tensor) -> Result<Trace> {
        let values = self.run_keeping(input, &vec![true; self.nodes().len() + 1], &[], None)?;
        Ok(Trace::new(values.0, self.output(), None))
    }

    /// Runs the graph on `input` keeping only what the input gradient (no parameter gradients)
    /// of value `objective` reads: the input, the output, `objective`, and the values some
    /// node's backward reads ([`Kernel::gradient_reads`]: a sigmoid its output, a max pooling
    /// its input; a convolution, a batch norm, a concatenation or a sum only their shapes). The
    /// output of a ReLU or Clip that only its own backward reads is kept as its derivative mask
    /// instead, one byte per value, 1 where the derivative is 1 (MobileNetV2's clipped ReLUs
    /// took 6% of its input gradient in Chromium, most of it reading their outputs back from
    /// memory). The others are dropped once their last reader has run, as in
    /// [`Graph::forward`], so the pass works in warm buffers instead of writing every value to
    /// fresh memory: ResNet-18's convolution outputs, DenseNet-121's concatenations and batch
    /// norms. The kept values equal [`Graph::trace`]'s, and [`Graph::backward_to`] on it gives
    /// the same input gradient bit for bit.
    pub fn gradient_trace(&self, input: Tensor, objective: ValueId) -> Result<Trace> {
        let values = self.nodes().len() + 1;
        // Values some node's backward reads as values, and those their own node's backward
        // reads.
        let (mut read, mut own) = (vec![false; values], vec![false; values]);
        for id in [ValueId::INPUT, self.output(), objective] {
            read[id.0] = true;
        }
        for (index, node) in self.nodes().iter().enumerate() {
            let reads = node.op.gradient_reads();
            for id in &node.inputs {
                read[id.0] |= reads == GradientReads::Values;
            }
            own[index + 1] = reads != GradientReads::Shapes;
        }
        let masked: Vec<bool> = (0..values)
            .map(|id| {
                own[id]
                    && !read[id]
                    && matches!(
                        &self.nodes()[id - 1].op,
                        Op::Activation(activation) if activation.has_output_mask()
                    )
            })
            .collect();
        let kept: Vec<bool> = (0..values)
            .map(|id| (read[id] || own[id]) && !masked[id])
            .collect();
        let (values, masks) = self.run_keeping(input, &kept, &masked, None)?;
        let mut trace = Trace::new(values, self.output(), None);
        trace.kept = Some(kept);
        trace.masks = masks;
        Ok(trace)
    }

    /// How many times each value is read by the nodes (an input listed twice counts twice).
    pub(super) fn read_counts(&self) -> Vec<usize> {
        let mut reads = vec![0; self.nodes().len() + 1];
        for id in self.nodes().iter().flat_map(|node| &node.inputs) {
            reads[id.0] += 1;
        }
        reads
    }

    /// Runs the graph on `input`, dropping each value not marked in `kept` once its last reader
    /// has run (an empty tensor takes its place, which allocates nothing) and keeping the
    /// derivative mask of each value marked in `masked` (ReLU and Clip outputs; an empty
    /// `masked` marks none): the allocator hands the freed buffers to the next nodes, so a pass works in a few warm buffers instead of one
    /// fresh allocation per node kept to the end (the ViT at batch 16 took 2.9 ms per pass while
    /// its nodes run alone summed to 1.1 ms). A one-input node that is the last reader of a
    /// value not kept writes its output over that value where its op can
    /// ([`Kernel::forward_in_place`]: the activations, softmax, inference batch norm and
    /// reshapes), without a new buffer at all; a convolution whose value only the element-wise
    /// activation right after it reads, and which is not kept, runs that activation as its
    /// epilogue
    /// ([`Kernel::forward_then`]) and its own value stays empty; the parts of a concatenation
    /// that only it reads are computed in its output where each is one run of it
    /// ([`Graph::concatenation_parts`], [`Kernel::forward_into`]; a part no op can write there
    /// is copied there), and their own values stay empty. The values kept equal
    /// [`Graph::trace`]'s. With `replacing` (a value id and a value of its shape), the node
    /// computing that value is skipped and its readers see the given value
    /// ([`Graph::trace_replacing`]).
    fn run_keeping(
        &self,
        input: Tensor,
        kept: &[bool],
        masked: &[bool],
        replacing: Option<(ValueId, Tensor)>,
    ) -> Result<(Vec<Tensor>, DerivativeMasks)> {
        self.check_input(&input)?;
        // The index of the last node reading each value, and how many times it is read.
        let mut last_read = vec![None; self.nodes().len() + 1];
        for (index, node) in self.nodes().iter().enumerate() {
            for id in &node.inputs {
                last_read[id.0] = Some(index);
            }
        }
        let reads = self.read_counts();
        let (replaced, mut replacement) = replacing.unzip();
        let batch = input.shape()[0];
        let parts = self.concatenation_parts(batch, kept, &reads, replaced);
        // The outputs of the concatenations whose parts are being computed in place.
        let mut joined: Vec<Option<Vec<f32>>> = vec![None; self.nodes().len() + 1];
        let mut masks = vec![None; masked.len()];
        let mut values = Vec::with_capacity(self.nodes().len() + 1);
        values.push(input);
        for (index, node) in self.nodes().iter().enumerate() {
            if values.len() > index + 1 {
                // An activation fused into the node before it: its value is there already.
                continue;
            }
            let (value, next_value) = (ValueId(index + 1), ValueId(index + 2));
            // An element-wise activation that alone reads this node's value, right after it,
            // with the value not kept and neither replaced, runs as the node's epilogue.
            let fusable = match self.nodes().get(index + 1) {
                Some(next)
                    if next.inputs == [value]
                        && reads[value.0] == 1
                        && !kept[value.0]
                        && replaced.is_none_or(|id| id != value && id != next_value) =>
                {
                    match &next.op {
                        Op::Activation(activation) => Some(activation),
                        _ => None,
                    }
                }
                _ => None,
            };
            let epilogue = fusable.map(Epilogue::Activation);
            // A part of a concatenation is computed in its place there, where the op can.
            let target = if fusable.is_some() { next_value } else { value };
            let written = parts[target.0].as_ref().and_then(|part| {
                let inputs: Vec<&Tensor> = node.inputs.iter().map(|id| &values[id.0]).collect();
                let buffer = joined[part.joined.0].get_or_insert_with(|| vec![0.0; part.len]);
                node.op
                    .forward_into(&inputs, epilogue, &mut buffer[part.range.clone()])
            });
            if let Some(done) = written {
                done.map_err(|e| e.at_node(&node.name, &node.label))?;
                // The node's value, and its activation's where that ran as the epilogue, stay
                // empty: the concatenation holds them.
                while values.len() <= target.0 {
                    values.push(Tensor::zeros(IxDyn(&[0])));
                }
            } else {
                let fused = epilogue.and_then(|epilogue| {
                    let inputs: Vec<&Tensor> = node.inputs.iter().map(|id| &values[id.0]).collect();
                    node.op.forward_then(&inputs, epilogue)
                });
                let out = match (fused, replacement.take_if(|_| replaced == Some(value))) {
                    (Some(out), _) => {
                        // The node's own value is never read: it stays empty.
                        values.push(Tensor::zeros(IxDyn(&[0])));
                        out.map_err(|e| e.at_node(&node.name, &node.label))?
                    }
                    (None, Some(given)) => given,
                    (None, None) => match joined[value.0].take() {
                        // A concatenation whose parts were computed in place.
                        Some(buffer) => from_vec(
                            "concat output",
                            &with_batch(batch, self.value_shape(value)),
                            buffer,
                        )?,
                        None => self
                            .forward_node(index, &mut values, kept, &last_read)
                            .map_err(|e| e.at_node(&node.name, &node.label))?,
                    },
                };
                values.push(out);
                // A part the op could not compute in place is copied there.
                let computed = values.len() - 1;
                if let Some(part) = &parts[computed] {
                    let buffer = joined[part.joined.0].get_or_insert_with(|| vec![0.0; part.len]);
                    let out = std::mem::replace(&mut values[computed], Tensor::zeros(IxDyn(&[0])));
                    buffer[part.range.clone()]
                        .iter_mut()
                        .zip(out.iter())
                        .for_each(|(slot, &v)| *slot = v);
                }
            }
            // The value just computed: the activation's, where it ran as this node's epilogue.
            let computed = values.len() - 1;
            if masked.get(computed) == Some(&true) {
                if let Op::Activation(activation) = &self.nodes()[computed - 1].op {
                    masks[computed] = match &parts[computed] {
                        Some(part) => activation.output_mask(
                            &joined[part.joined.0]
                                .as_ref()
                                .expect("the part was written")[part.range.clone()],
                        ),
                        None => {
                            let y = values[computed].as_standard_layout();
                            activation
                                .output_mask(y.as_slice().expect("standard layout is contiguous"))
                        }
                    };
                }
            }
            for id in &node.inputs {
                if last_read[id.0] == Some(index) && !kept[id.0] {
                    values[id.0] = Tensor::zeros(IxDyn(&[0]));
                }
            }
        }
        Ok((values, masks))
    }

    /// Node `index`'s output from `values`: written over its single input where no later node
    /// reads that input, the pass does not keep it and the op can
    /// ([`Kernel::forward_in_place`]), else by [`Kernel::forward`].
    fn forward_node(
        &self,
        index: usize,
        values: &mut [Tensor],
        kept: &[bool],
        last_read: &[Option<usize>],
    ) -> Result<Tensor> {
        let node = &self.nodes()[index];
        if let [id] = node.inputs[..] {
            if last_read[id.0] == Some(index) && !kept[id.0] {
                let mut x = std::mem::replace(&mut values[id.0], Tensor::zeros(IxDyn(&[0])));
                match node.op.forward_in_place(&mut x) {
                    Some(done) => return done.map(|()| x),
                    None => values[id.0] = x,
                }
            }
        }
        let inputs: Vec<&Tensor> = node.inputs.iter().map(|id| &values[id.0]).collect();
        node.op.forward(&inputs)
    }

    /// For each value, the place in a concatenation's output where a pass computes it
    /// ([`Kernel::forward_into`]), if any. A concatenation qualifies when each of its parts is
    /// one run of its output (a batch of 1 and every axis before the joined one of length 1,
    /// as for the channels of an image) and each part is a node's value that no other node
    /// reads and the pass does not keep, with neither the parts nor the concatenation
    /// `replaced`.
    fn concatenation_parts(
        &self,
        batch: usize,
        kept: &[bool],
        reads: &[usize],
        replaced: Option<ValueId>,
    ) -> Vec<Option<ConcatenationPart>> {
        let mut parts = vec![None; self.nodes().len() + 1];
        for (index, node) in self.nodes().iter().enumerate() {
            let Op::Concat(concat) = &node.op else {
                continue;
            };
            let joined = ValueId(index + 1);
            let shape = self.value_shape(joined);
            // The shapes lack the batch: the joined axis `a` is `a - 1` in them.
            let runs = batch * shape[..concat.axis() - 1].iter().product::<usize>();
            let in_place = runs == 1
                && replaced != Some(joined)
                && node.inputs.iter().all(|&id| {
                    id != ValueId::INPUT && reads[id.0] == 1 && !kept[id.0] && replaced != Some(id)
                });
            if !in_place {
                continue;
            }
            let len = shape.iter().product();
            let mut start = 0;
            for &id in &node.inputs {
                let end = start + self.value_shape(id).iter().product::<usize>();
                parts[id.0] = Some(ConcatenationPart {
                    joined,
                    range: start..end,
                    len,
                });
                start = end;
            }
        }
        parts
    }

    /// Runs the graph on `input` with value `at` replaced by `value` (`[batch, ...value shape]`,
    /// the batch of `input`): the node that computes `at` is skipped and its readers see
    /// `value`. Layer attribution uses it to move along a path at an inner layer (Captum's
    /// `LayerIntegratedGradients` interpolates an embedding's outputs this way).
    pub fn trace_replacing(&self, input: Tensor, at: ValueId, value: Tensor) -> Result<Trace> {
        self.check_input(&input)?;
        let expected = with_batch(input.shape()[0], self.value_shape(at));
        if at == ValueId::INPUT || at.0 > self.nodes().len() || value.shape() != expected {
            return Err(Error::shape(format!(
                "the replacement of value {} has shape {:?}, expected {expected:?} (an inner value \
                 of the graph)",
                at.0,
                value.shape()
            )));
        }
        let kept = vec![true; self.nodes().len() + 1];
        let values = self.run_keeping(input, &kept, &[], Some((at, value)))?;
        Ok(Trace::new(values.0, self.output(), None))
    }

    /// Checks that `input` is `[batch, ...input_shape]` and that the batch fits the limits
    /// ([`Graph::check_batch`]).
    pub(super) fn check_input(&self, input: &Tensor) -> Result<()> {
        let shape = input.shape();
        if shape.len() != self.input_shape().len() + 1 || &shape[1..] != self.input_shape() {
            return Err(Error::shape(format!(
                "input tensor has shape {shape:?}, expected [batch, {}]",
                self.input_shape()
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.check_batch(shape[0])
    }

    /// One value (a layer's output, by id) for every sample of a dataset (`samples` inputs,
    /// row-major), computed in chunks so memory holds one chunk's trace at a time. The result is
    /// `[samples, ...value shape]`.
    pub fn value_over(&self, id: ValueId, data: &[f32], samples: usize) -> Result<Tensor> {
        if id.0 > self.nodes().len() {
            return Err(Error::invalid(
                "layer",
                format!("value {} does not exist", id.0),
            ));
        }
        let per_sample = checked_elements("input", self.input_shape())?;
        if samples == 0 || per_sample.checked_mul(samples) != Some(data.len()) {
            return Err(Error::InputLength {
                actual: data.len(),
                expected: per_sample.saturating_mul(samples),
                batch: samples,
                shape: self.input_shape().to_vec(),
            });
        }
        let out_shape = with_batch(samples, self.value_shape(id));
        let out_per_sample = checked_elements("layer output", self.value_shape(id))?;
        checked_elements("layer outputs over the dataset", &out_shape)?;
        let widest = self
            .nodes()
            .iter()
            .map(|n| n.shape.iter().product::<usize>())
            .sum::<usize>()
            .max(1);
        let chunk = (limits::MAX_ELEMENTS / 16 / widest).clamp(1, 256);
        let mut values = Vec::with_capacity(samples * out_per_sample);
        for part in data.chunks(chunk * per_sample) {
            let n = part.len() / per_sample;
            let trace = self.trace(self.input_tensor(part.to_vec(), n)?)?;
            values.extend(trace.value(id).iter().copied());
        }
        from_vec("layer outputs", &out_shape, values)
    }

    /// Runs the graph on `input` and returns only its output, dropping every other value once
    /// its last reader has run ([`Graph::run_keeping`]). Computes exactly what [`Graph::trace`]
    /// computes.
    fn output_only(&self, input: Tensor) -> Result<Tensor> {
        let output = self.output().0;
        let mut kept = vec![false; self.nodes().len() + 1];
        kept[output] = true;
        Ok(self
            .run_keeping(input, &kept, &[], None)?
            .0
            .swap_remove(output))
    }

    /// Runs the graph and returns only its output. A batch whose trace would exceed
    /// [`limits::MAX_TRACE_ELEMENTS`] runs in several passes, whose outputs equal one pass's up
    /// to the rounding of the matrix products (their blocking depends on the batch size).
    pub fn forward(&self, input: Tensor) -> Result<Tensor> {
        self.forward_in_passes(input, limits::MAX_TRACE_ELEMENTS)
    }

    /// [`Graph::forward`] in passes whose traces keep at most `budget` values each.
    fn forward_in_passes(&self, input: Tensor, budget: usize) -> Result<Tensor> {
        let batch = input.shape().first().copied().unwrap_or(0);
        let pass = (budget / self.trace_elements_per_sample().max(1)).max(1);
        if batch <= pass {
            return self.output_only(input);
        }
        check_batch_range(batch)?;
        let out_shape = with_batch(batch, self.value_shape(self.output()));
        let mut values = Vec::with_capacity(checked_elements("output", &out_shape)?);
        for part in input.axis_chunks_iter(Axis(0), pass) {
            let output = self.output_only(part.to_owned())?;
            values.extend(output.iter().copied());
        }
        from_vec("output", &out_shape, values)
    }
}

/// Where a pass computes a value in place: `range` of the output of the concatenation `joined`,
/// which holds `len` values.
#[derive(Debug, Clone)]
struct ConcatenationPart {
    joined: ValueId,
    range: Range<usize>,
    len: usize,
}

/// A batch size must lie in `1..=MAX_BATCH`.
fn check_batch_range(batch: usize) -> Result<()> {
    if batch == 0 || batch > limits::MAX_BATCH {
        return Err(Error::invalid(
            "batch",
            format!("expected 1..={}, got {batch}", limits::MAX_BATCH),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::activation::Activation;
    use crate::graph::ops::dense::Dense;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::Op;
    // Run in wasm32 too (`make test-wasm`), where the fused convolutions run the wasm kernels.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Input `[3]`, a seeded dense layer of `units`, then `activation`; returns the dense id.
    fn dense_then(
        units: usize,
        seed: u64,
        label: &str,
        activation: Activation,
    ) -> (Graph, ValueId) {
        let mut g = Graph::new(&[3]).unwrap();
        let weight = random_tensor(&[units, 3], -1., 1., seed);
        let dense = Op::Dense(Dense::new(weight, None).unwrap());
        let a = g.push("fc", "dense", dense, &[ValueId::INPUT]).unwrap();
        g.push("act", label, Op::Activation(activation), &[a])
            .unwrap();
        (g, a)
    }

    /// Asserts that every derivative mask the gradient trace `lean` kept is the mask of that
    /// activation's output in the full trace `full`, and returns how many there were.
    fn masks_of_the_outputs(g: &Graph, lean: &Trace, full: &Trace) -> usize {
        let mut count = 0;
        for (index, node) in g.nodes().iter().enumerate() {
            let id = ValueId(index + 1);
            if let (Op::Activation(activation), Some(mask)) = (&node.op, lean.derivative_mask(id)) {
                let y = full.value(id).as_standard_layout();
                let expected = activation.output_mask(y.as_slice().unwrap());
                assert_eq!(Some(mask), expected.as_deref(), "{}", node.name);
                count += 1;
            }
        }
        count
    }

    /// The output alone, with values dropped after their last reader, equals the trace's on a
    /// residual graph (a value read twice, by its activation and by the sum) and when the
    /// output is an earlier value that a later node still reads.
    #[test]
    fn output_only_equals_the_trace() {
        use crate::graph::ops::elementwise::{Binary, BinaryKind};
        let (mut g, a) = dense_then(4, 3, "relu", Activation::Relu);
        let relu = ValueId(2);
        let sum = Op::Binary(Binary::between_values(BinaryKind::Add));
        let c = g.push("add", "Add", sum, &[a, relu]).unwrap();
        g.push("act2", "tanh", Op::Activation(Activation::Tanh), &[c])
            .unwrap();
        let x = g
            .input_tensor((0..12).map(|v| v as f32 - 5.5).collect(), 4)
            .unwrap();
        assert_eq!(
            g.output_only(x.clone()).unwrap(),
            g.trace(x.clone()).unwrap().into_output()
        );
        g.set_output(c).unwrap();
        assert_eq!(
            g.output_only(x.clone()).unwrap(),
            *g.trace(x).unwrap().value(c)
        );
    }

    /// Convolutions followed by the element-wise activation that alone reads them run it as
    /// their epilogue in `output_only` and the gradient trace (the direct, depthwise, pointwise
    /// and patch-matrix kernels in wasm), and the input gradients of those that read such an
    /// activation run its derivative as theirs (stride-1 adjoints, the strided and depthwise
    /// stride-2 adjoints, the patch matrix), and on through the batch norm before a ReLU; the
    /// output and the input gradient equal the trace's, which keeps every value and so fuses
    /// nothing, bit for bit, and a convolution read twice is left alone. The derivative masks
    /// the gradient trace keeps are those of the trace's outputs.
    #[test]
    fn activations_fused_into_convolutions_equal_the_trace() {
        use crate::graph::ops::conv::Conv2d;
        use crate::graph::ops::elementwise::{Binary, BinaryKind};
        use crate::graph::ops::norm::BatchNorm;
        let mut g = Graph::new(&[3, 9, 8]).unwrap();
        let conv = |cin, out, kernel, stride, padding, groups, seed| {
            let weight = random_tensor(&[out, cin / groups, kernel, kernel], -0.5, 0.5, seed);
            let bias = Some(random_tensor(&[out], -0.2, 0.2, seed + 1));
            let conv = Conv2d::new(weight, bias, [stride; 2], [padding; 4], [1, 1], groups);
            Op::Conv2d(conv.unwrap())
        };
        let layers = [
            (conv(3, 4, 3, 1, 1, 1, 1), Activation::Relu),
            (
                conv(4, 4, 3, 2, 1, 4, 3),
                Activation::Clip { min: 0.0, max: 0.3 },
            ),
            (
                conv(4, 8, 1, 1, 0, 1, 5),
                Activation::LeakyRelu { alpha: 0.1 },
            ),
            (conv(8, 70, 3, 1, 1, 1, 7), Activation::Relu),
            (conv(70, 32, 3, 2, 1, 1, 13), Activation::Tanh),
            (conv(32, 64, 3, 1, 1, 1, 15), Activation::Sigmoid),
        ];
        let mut last = ValueId::INPUT;
        for (index, (conv, activation)) in layers.into_iter().enumerate() {
            let c = g.push(format!("c{index}"), "Conv", conv, &[last]).unwrap();
            last = g
                .push(format!("a{index}"), "act", Op::Activation(activation), &[c])
                .unwrap();
        }
        let norm = BatchNorm::new(
            random_tensor(&[64], 0.5, 2.0, 16),
            random_tensor(&[64], -0.5, 0.5, 17),
            random_tensor(&[64], 0.3, 0.7, 18),
            random_tensor(&[64], 0.5, 2.0, 19),
            1e-5,
        )
        .unwrap();
        let normed = g
            .push("bn", "BatchNormalization", Op::BatchNorm(norm), &[last])
            .unwrap();
        let normed = g
            .push("a_bn", "Relu", Op::Activation(Activation::Relu), &[normed])
            .unwrap();
        let c = g
            .push("c6", "Conv", conv(64, 5, 3, 1, 1, 1, 9), &[normed])
            .unwrap();
        let relu = g
            .push("a6", "Relu", Op::Activation(Activation::Relu), &[c])
            .unwrap();
        let sum = Op::Binary(Binary::between_values(BinaryKind::Add));
        let out = g.push("add", "Add", sum, &[c, relu]).unwrap();
        for batch in [1, 2] {
            let x = random_tensor(&[batch, 3, 9, 8], -2., 2., 11 + batch as u64);
            let full = g.trace(x.clone()).unwrap();
            assert_eq!(g.output_only(x.clone()).unwrap(), *full.value(out));
            let lean = g.gradient_trace(x, out).unwrap();
            assert_eq!(lean.kept_value(out), Some(full.value(out)));
            // The masks of a0, a1 and a3, after the direct, depthwise and patch-matrix kernels
            // ran them as their epilogues, and of a_bn and a6, which ran as their own nodes
            // (after a batch norm; after a convolution read twice).
            assert_eq!(masks_of_the_outputs(&g, &lean, &full), 5);
            assert_eq!(
                g.input_gradient(&lean, 0).unwrap(),
                g.input_gradient(&full, 0).unwrap()
            );
        }
    }

    /// The parts of a concatenation that only it reads are computed in its output at batch 1
    /// (a convolution with its activation as the epilogue, a convolution alone, and an average
    /// pooling, which cannot and is copied there), the derivative mask of the ReLU among them
    /// taken from there; at batch 2 they are not. The output and the input gradient equal the
    /// full trace's bit for bit either way.
    #[test]
    fn concatenation_parts_computed_in_place_equal_the_trace() {
        use crate::graph::ops::conv::Conv2d;
        use crate::graph::ops::pool::AvgPool2d;
        use crate::graph::ops::shape::Concat;
        let mut g = Graph::new(&[3, 9, 8]).unwrap();
        let conv = |cin, out, kernel, seed| {
            let weight = random_tensor(&[out, cin, kernel, kernel], -0.5, 0.5, seed);
            let bias = Some(random_tensor(&[out], -0.2, 0.2, seed + 1));
            let pad = kernel / 2;
            Op::Conv2d(Conv2d::new(weight, bias, [1; 2], [pad; 4], [1, 1], 1).unwrap())
        };
        let relu = || Op::Activation(Activation::Relu);
        let squeeze = g
            .push("squeeze", "Conv", conv(3, 4, 1, 1), &[ValueId::INPUT])
            .unwrap();
        let squeezed = g.push("s_relu", "Relu", relu(), &[squeeze]).unwrap();
        let wide = g
            .push("expand1", "Conv", conv(4, 5, 1, 3), &[squeezed])
            .unwrap();
        let wide = g.push("e_relu", "Relu", relu(), &[wide]).unwrap();
        let plain = g
            .push("expand3", "Conv", conv(4, 3, 3, 5), &[squeezed])
            .unwrap();
        let pool = AvgPool2d::new([3, 3], [1, 1], [1; 4], false, true).unwrap();
        let pooled = g
            .push("pool", "AveragePool", Op::AvgPool2d(pool), &[squeezed])
            .unwrap();
        let concat = Op::Concat(Concat::new(1, 3).unwrap());
        let joined = g
            .push("concat", "Concat", concat, &[wide, plain, pooled])
            .unwrap();
        let out = g
            .push("head", "Conv", conv(12, 2, 1, 7), &[joined])
            .unwrap();
        let only_output: Vec<bool> = (0..=g.nodes().len()).map(|id| id == out.0).collect();
        let reads = g.read_counts();
        for batch in [1, 2] {
            let parts = g.concatenation_parts(batch, &only_output, &reads, None);
            let placed: Vec<_> = parts
                .iter()
                .enumerate()
                .filter_map(|(id, part)| part.as_ref().map(|p| (id, p.joined, p.range.clone())))
                .collect();
            let plane = 9 * 8;
            if batch == 1 {
                assert_eq!(
                    placed,
                    [
                        (wide.0, joined, 0..5 * plane),
                        (plain.0, joined, 5 * plane..8 * plane),
                        (pooled.0, joined, 8 * plane..12 * plane),
                    ]
                );
            } else {
                assert!(placed.is_empty(), "{placed:?}");
            }
            let x = random_tensor(&[batch, 3, 9, 8], -2., 2., 21 + batch as u64);
            let full = g.trace(x.clone()).unwrap();
            assert_eq!(g.output_only(x.clone()).unwrap(), *full.value(out));
            let lean = g.gradient_trace(x, out).unwrap();
            assert!(lean.derivative_mask(wide).is_some());
            // e_relu's (the average pooling reads s_relu's values).
            assert_eq!(masks_of_the_outputs(&g, &lean, &full), 1);
            assert_eq!(
                g.input_gradient(&lean, 1).unwrap(),
                g.input_gradient(&full, 1).unwrap()
            );
        }
        // A part replaced, read twice or kept leaves the concatenation as it is.
        let none = |parts: Vec<Option<ConcatenationPart>>| parts.iter().all(Option::is_none);
        assert!(none(g.concatenation_parts(
            1,
            &only_output,
            &reads,
            Some(plain)
        )));
        let mut twice = reads.clone();
        twice[plain.0] = 2;
        assert!(none(g.concatenation_parts(1, &only_output, &twice, None)));
        let mut kept = only_output.clone();
        kept[pooled.0] = true;
        assert!(none(g.concatenation_parts(1, &kept, &reads, None)));
    }

    /// A replaced value reaches its readers in place of its node's output; the values before
    /// it are the trace's, and a replacement of another shape or of the input is refused.
    #[test]
    fn trace_replacing_feeds_the_value_to_its_readers() {
        let (g, a) = dense_then(4, 5, "tanh", Activation::Tanh);
        let x = g
            .input_tensor((0..6).map(|v| v as f32 - 2.5).collect(), 2)
            .unwrap();
        let value = random_tensor(&[2, 4], -2., 2., 6);
        let replaced = g.trace_replacing(x.clone(), a, value.clone()).unwrap();
        assert_eq!(replaced.input(), &x);
        assert_eq!(replaced.value(a), &value);
        assert_eq!(replaced.output(), &value.mapv(f32::tanh));
        let wrong = random_tensor(&[2, 3], -2., 2., 7);
        let err = g.trace_replacing(x.clone(), a, wrong).unwrap_err();
        assert!(err.to_string().contains("expected [2, 4]"), "{err}");
        assert!(g.trace_replacing(x.clone(), ValueId::INPUT, x).is_err());
    }

    #[test]
    fn trace_keeps_every_value() {
        let (g, _) = dense_then(2, 1, "relu", Activation::Relu);
        let x = g.input_tensor(vec![1., 2., 3., 4., 5., 6.], 2).unwrap();
        let t = g.trace(x).unwrap();
        assert_eq!(t.values().len(), 3);
        assert_eq!(t.output().shape(), &[2, 2]);
        assert!(t.output().iter().all(|&v| v >= 0.0));
        assert_eq!(t.batch(), 2);
    }

    #[test]
    fn value_over_a_dataset_equals_one_big_trace() {
        let (g, a) = dense_then(2, 1, "relu", Activation::Relu);
        let data: Vec<f32> = (0..3 * 300).map(|i| (i as f32 * 0.13).sin()).collect();
        let over = g.value_over(a, &data, 300).unwrap();
        let whole = g.trace(g.input_tensor(data.clone(), 300).unwrap()).unwrap();
        assert_eq!(&over, whole.value(a));
        assert!(g.value_over(a, &data[1..], 300).is_err());
        assert!(g.value_over(ValueId(7), &data, 300).is_err());
    }

    #[test]
    fn forward_in_passes_equals_one_pass() {
        let (g, _) = dense_then(4, 2, "tanh", Activation::Tanh);
        assert_eq!(g.trace_elements_per_sample(), 3 + 4 + 4);
        let data: Vec<f32> = (0..3 * 37).map(|i| (i as f32 * 0.37).cos()).collect();
        let x = g.input_tensor(data, 37).unwrap();
        let whole = g.trace(x.clone()).unwrap().into_output();
        // 11 values per sample: a budget of 60 gives passes of 5 samples (7 passes, the last of 2).
        let passes = g.forward_in_passes(x, 60).unwrap();
        let worst = passes
            .iter()
            .zip(whole.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert_eq!(passes.shape(), whole.shape());
        assert!(worst <= 1e-6, "passes differ from one pass by {worst}");
    }

    #[test]
    fn check_batch_limits_the_whole_trace() {
        let mut g = Graph::new(&[1 << 20]).unwrap();
        let mut last = ValueId::INPUT;
        for i in 0..10 {
            last = g
                .push(
                    format!("relu{i}"),
                    "relu",
                    Op::Activation(Activation::Relu),
                    &[last],
                )
                .unwrap();
        }
        // 11 values of 2^20 per sample: at batch 16 the trace holds 11 * 2^24 < 2^28 values.
        g.check_batch(16).unwrap();
        // At batch 64 every value (2^26) fits on its own, but not the trace (11 * 2^26).
        let err = g.check_batch(64).unwrap_err().to_string();
        assert!(
            err.contains("forward trace of a batch of 64")
                && err.contains("738197504")
                && err.contains("268435456"),
            "{err}"
        );
    }

    #[test]
    fn input_tensor_checks_length_nan_and_batch() {
        let g = Graph::new(&[3]).unwrap();
        let err = g.input_tensor(vec![0.0; 5], 2).unwrap_err().to_string();
        assert!(err.contains("5 values, expected 6"), "{err}");
        assert!(g.input_tensor(vec![f32::NAN, 0., 0.], 1).is_err());
        assert!(g.input_tensor(vec![], 0).is_err());
    }
}
