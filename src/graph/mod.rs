//! The model: a directed acyclic graph of [`Node`]s over f32 tensors.
//!
//! Value 0 is the graph input; node `i` produces value `i + 1`. Nodes are stored in execution
//! order and may only read earlier values, so the node list is a topological order by
//! construction and residual adds and concatenations are plain multi-input nodes. Every node's
//! per-sample output shape is inferred when the node is added, so a graph that exists is a
//! graph whose shapes fit.

pub mod backward;
pub mod forward;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod madd;
pub mod ops;
#[cfg(any(target_arch = "wasm32", test))]
mod sgemm;
pub mod training;

use crate::error::{Error, Result};
use crate::tensor::{checked_elements, with_batch};
use ops::{Kernel, Op};
use std::collections::HashSet;

pub use backward::Gradients;
pub use forward::Trace;
pub use training::TrainingRecord;

/// Identifies a value of the graph: `ValueId(0)` is the input, `ValueId(i + 1)` node `i`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub usize);

impl ValueId {
    /// The graph input.
    pub const INPUT: ValueId = ValueId(0);
}

/// One computation of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique name, used by `trace().get(name)` and in error messages.
    pub name: String,
    /// The label shown in layer lists: the ONNX `op_type` for imported models, the nnlens JSON
    /// layer type otherwise.
    pub label: String,
    /// What the node computes.
    pub op: Op,
    /// The values it reads, `op.arity()` of them.
    pub inputs: Vec<ValueId>,
    /// Output shape of one sample (without the batch dimension).
    pub shape: Vec<usize>,
}

/// A summary of one node for layer lists.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerInfo {
    /// The node's unique name.
    pub name: String,
    /// The op label (ONNX op_type for imported models, the JSON layer type otherwise).
    pub op: String,
    /// Per-sample output shape.
    pub output_shape: Vec<usize>,
    /// Number of scalar parameters.
    pub params: usize,
    /// The names of the layers it reads (`"input"` for the model input).
    pub inputs: Vec<String>,
}

crate::names::named_enum! {
    /// What a model's input holds: numbers, or integer ids (token ids for an embedding lookup,
    /// ONNX `int64` inputs). Ids are carried as f32, exact far beyond any vocabulary size.
    #[derive(Default)]
    pub enum InputType: "input type" {
        /// Real numbers (images, features), the default.
        #[default]
        Float32 = "float32",
        /// Integer ids, such as the token ids of a text model.
        Int64 = "int64",
    }
}

/// A neural network as a DAG of ops.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    input_shape: Vec<usize>,
    input_type: InputType,
    nodes: Vec<Node>,
    output: ValueId,
}

impl Graph {
    /// An empty graph whose input has the per-sample shape `input_shape` (no batch dimension).
    pub fn new(input_shape: &[usize]) -> Result<Self> {
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Err(Error::shape(format!(
                "input shape must have at least one dimension and no zero dimension, got {input_shape:?}"
            )));
        }
        checked_elements("input", input_shape)?;
        Ok(Graph {
            input_shape: input_shape.to_vec(),
            input_type: InputType::Float32,
            nodes: Vec::new(),
            output: ValueId::INPUT,
        })
    }

    /// Appends a node reading `inputs`, infers its output shape, and makes it the graph output.
    ///
    /// Fails when the name is taken, an input does not exist yet, the op's arity differs from
    /// the number of inputs, or the shapes do not fit; the error names the node.
    pub fn push(
        &mut self,
        name: impl Into<String>,
        label: impl Into<String>,
        op: Op,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        let name = name.into();
        let label = label.into();
        if name.is_empty() {
            return Err(Error::invalid("layer name", "names must not be empty"));
        }
        if self.nodes.iter().any(|n| n.name == name) {
            return Err(Error::invalid(
                "layer name",
                format!("'{name}' is used by two layers; names must be unique"),
            ));
        }
        let fail = |e: Error| e.at_node(&name, &label);
        if inputs.len() != op.arity() {
            return Err(fail(Error::shape(format!(
                "takes {} input(s), got {}",
                op.arity(),
                inputs.len()
            ))));
        }
        let next = self.nodes.len() + 1;
        let mut shapes = Vec::with_capacity(inputs.len());
        for id in inputs {
            if id.0 >= next {
                return Err(fail(Error::invalid(
                    "graph",
                    format!(
                        "input value {} does not exist yet (the graph has {next} values)",
                        id.0
                    ),
                )));
            }
            shapes.push(with_batch(1, self.value_shape(*id)));
        }
        let refs: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
        let full = op.output_shape(&refs).map_err(fail)?;
        if full.first() != Some(&1) {
            return Err(fail(Error::shape(format!(
                "the output {full:?} must keep the batch dimension first"
            ))));
        }
        checked_elements(&format!("output of '{name}'"), &full)?;
        for p in op.params() {
            crate::error::ensure_finite(
                &format!("parameters of layer '{name}'"),
                p.iter().copied(),
            )?;
        }
        self.nodes.push(Node {
            name,
            label,
            op,
            inputs: inputs.to_vec(),
            shape: full[1..].to_vec(),
        });
        self.output = ValueId(next);
        Ok(self.output)
    }

    /// Chooses which value is the graph output (the last pushed node by default).
    pub fn set_output(&mut self, id: ValueId) -> Result<()> {
        if id.0 > self.nodes.len() {
            return Err(Error::invalid(
                "graph output",
                format!(
                    "value {} does not exist (the graph has {} values)",
                    id.0,
                    self.nodes.len() + 1
                ),
            ));
        }
        self.output = id;
        Ok(())
    }

    /// Per-sample input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// What the input holds: numbers or integer ids.
    pub fn input_type(&self) -> InputType {
        self.input_type
    }

    /// Declares what the input holds (the ONNX importer sets ids for an `int64` input).
    pub fn set_input_type(&mut self, input_type: InputType) {
        self.input_type = input_type;
    }

    /// Per-sample output shape.
    pub fn output_shape(&self) -> &[usize] {
        self.value_shape(self.output)
    }

    /// The output value.
    pub fn output(&self) -> ValueId {
        self.output
    }

    /// Per-sample shape of a value.
    pub fn value_shape(&self, id: ValueId) -> &[usize] {
        if id.0 == 0 {
            &self.input_shape
        } else {
            &self.nodes[id.0 - 1].shape
        }
    }

    /// Nodes in execution order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Mutable nodes (for training and weight edits; the shapes of parameters must not change).
    pub fn nodes_mut(&mut self) -> &mut [Node] {
        &mut self.nodes
    }

    /// The value a node produces, by node name.
    pub fn find(&self, name: &str) -> Result<ValueId> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(|i| ValueId(i + 1))
            .ok_or_else(|| {
                let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
                Error::unknown("layer", name, &names)
            })
    }

    /// The name of a value: its node's name, or `"input"` for the graph input.
    pub fn value_name(&self, id: ValueId) -> &str {
        self.node_of(id).map_or("input", |n| n.name.as_str())
    }

    /// The node that produces `id` (`None` for the input).
    pub fn node_of(&self, id: ValueId) -> Option<&Node> {
        id.0.checked_sub(1).and_then(|i| self.nodes.get(i))
    }

    /// The weight of the layer named `layer`, its first parameter (PyTorch layouts: dense
    /// `[out, in]`, conv `[filters, in / groups, kh, kw]`). Errors: an unknown layer (listing the
    /// names) or a layer without parameters.
    pub fn weight(&self, layer: &str) -> Result<&crate::Tensor> {
        let node = self
            .node_of(self.find(layer)?)
            .ok_or_else(|| Error::invalid("layer", "the graph input has no weights"))?;
        node.op.params().into_iter().next().ok_or_else(|| {
            Error::invalid(
                "layer",
                format!("'{layer}' ({}) has no weights", node.label),
            )
        })
    }

    /// One summary per node, in execution order.
    pub fn layers(&self) -> Vec<LayerInfo> {
        self.nodes
            .iter()
            .map(|n| LayerInfo {
                name: n.name.clone(),
                op: n.label.clone(),
                output_shape: n.shape.clone(),
                params: n.op.param_count(),
                inputs: n
                    .inputs
                    .iter()
                    .map(|&v| self.value_name(v).to_string())
                    .collect(),
            })
            .collect()
    }

    /// Total number of scalar parameters.
    pub fn param_count(&self) -> usize {
        self.nodes.iter().map(|n| n.op.param_count()).sum()
    }

    /// Every parameter of every node, flattened in node order then [`Kernel::params`] order:
    /// the point in weight space that training moves (used by weight-trajectory projections).
    pub fn flat_params(&self) -> Vec<f32> {
        let mut flat = Vec::with_capacity(self.param_count());
        for node in &self.nodes {
            for p in node.op.params() {
                flat.extend(p.iter().copied());
            }
        }
        flat
    }

    /// Sets every parameter from a vector laid out as [`Graph::flat_params`] returns it.
    pub fn set_flat_params(&mut self, flat: &[f32]) -> Result<()> {
        let expected = self.param_count();
        if flat.len() != expected {
            return Err(Error::shape(format!(
                "parameter vector has {} values, expected {expected} (the model's parameter count)",
                flat.len()
            )));
        }
        crate::error::ensure_finite("parameter vector", flat.iter().copied())?;
        let mut offset = 0;
        for node in &mut self.nodes {
            for p in node.op.params_mut() {
                for (dst, src) in p.iter_mut().zip(&flat[offset..]) {
                    *dst = *src;
                }
                offset += p.len();
            }
        }
        Ok(())
    }

    /// Removes nodes whose values the output does not depend on, keeping names and order.
    pub fn prune(&mut self) {
        let mut live = HashSet::new();
        live.insert(self.output);
        for (i, node) in self.nodes.iter().enumerate().rev() {
            if live.contains(&ValueId(i + 1)) {
                live.extend(node.inputs.iter().copied());
            }
        }
        let mut remap = vec![ValueId::INPUT; self.nodes.len() + 1];
        let mut kept = Vec::with_capacity(live.len());
        for (i, mut node) in std::mem::take(&mut self.nodes).into_iter().enumerate() {
            if live.contains(&ValueId(i + 1)) {
                node.inputs = node.inputs.iter().map(|v| remap[v.0]).collect();
                kept.push(node);
                remap[i + 1] = ValueId(kept.len());
            }
        }
        self.output = remap[self.output.0];
        self.nodes = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::activation::Activation;
    use crate::graph::ops::dense::Dense;
    use crate::graph::ops::gradcheck::random_tensor;

    fn dense(out: usize, inp: usize, seed: u64) -> Op {
        Op::Dense(Dense::new(random_tensor(&[out, inp], -1., 1., seed), None).unwrap())
    }

    #[test]
    fn push_infers_shapes_and_rejects_misfits() {
        let mut g = Graph::new(&[4]).unwrap();
        let a = g
            .push("fc1", "dense", dense(3, 4, 1), &[ValueId::INPUT])
            .unwrap();
        assert_eq!(g.value_shape(a), &[3]);
        let err = g
            .push("fc2", "dense", dense(2, 5, 2), &[a])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fc2") && err.contains("5 input features"),
            "{err}"
        );
        assert!(
            g.push("fc1", "dense", dense(2, 3, 3), &[a]).is_err(),
            "duplicate name"
        );
        assert!(g
            .push("x", "relu", Op::Activation(Activation::Relu), &[ValueId(9)])
            .is_err());
        assert_eq!(g.find("fc1").unwrap(), a);
        let err = g.find("nope").unwrap_err().to_string();
        assert!(err.contains("fc1"), "{err}");
    }

    #[test]
    fn weight_is_a_layers_first_parameter() {
        let mut g = Graph::new(&[4]).unwrap();
        let a = g
            .push("fc", "dense", dense(3, 4, 1), &[ValueId::INPUT])
            .unwrap();
        g.push("act", "relu", Op::Activation(Activation::Relu), &[a])
            .unwrap();
        assert_eq!(g.weight("fc").unwrap(), g.nodes()[0].op.params()[0]);
        let err = g.weight("act").unwrap_err().to_string();
        assert_eq!(err, "invalid layer: 'act' (relu) has no weights");
        let err = g.weight("nope").unwrap_err().to_string();
        assert!(err.contains("'nope'") && err.contains("fc, act"), "{err}");
    }

    #[test]
    fn flat_params_round_trip() {
        let mut g = Graph::new(&[4]).unwrap();
        let a = g
            .push("a", "dense", dense(3, 4, 1), &[ValueId::INPUT])
            .unwrap();
        g.push("b", "dense", dense(2, 3, 2), &[a]).unwrap();
        let flat = g.flat_params();
        assert_eq!(flat.len(), 12 + 6);
        let doubled: Vec<f32> = flat.iter().map(|v| v * 2.0).collect();
        g.set_flat_params(&doubled).unwrap();
        assert_eq!(g.flat_params(), doubled);
        assert!(g.set_flat_params(&flat[1..]).is_err());
        assert!(g.set_flat_params(&[f32::NAN; 18]).is_err());
    }

    #[test]
    fn prune_drops_dead_nodes() {
        let mut g = Graph::new(&[4]).unwrap();
        let a = g
            .push("a", "dense", dense(3, 4, 1), &[ValueId::INPUT])
            .unwrap();
        g.push("dead", "relu", Op::Activation(Activation::Relu), &[a])
            .unwrap();
        g.push("b", "relu", Op::Activation(Activation::Sigmoid), &[a])
            .unwrap();
        g.prune();
        let names: Vec<_> = g.nodes().iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(g.nodes()[1].inputs, vec![ValueId(1)]);
        assert_eq!(g.output(), ValueId(2));
    }
}
