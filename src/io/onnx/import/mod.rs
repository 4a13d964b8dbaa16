//! ONNX -> [`Graph`]: decoding a `ModelProto` and mapping its nodes onto nnlens ops.
//!
//! Nodes are visited in file order (ONNX requires a topological order). Each ONNX tensor name
//! is bound to a [`Val`]: compute nodes whose main input is a run-time value become one graph
//! node each (named after the ONNX node, labelled with its `op_type`); nodes on constants are
//! folded ([`super::fold`]); `Constant`, `Identity`, `Cast` and the `Shape` plumbing disappear.
//!
//! The batch dimension is kept symbolic: `Shape` of a run-time value yields `[N, d1, ...]` with
//! `N` a [`Sym`](super::data::Sym), and reshape targets must keep it in front (as `N`, `0`,
//! `-1`, or the fixed batch the model was exported with), so a model exported at batch 1 runs
//! at any batch.
//!
//! This file drives the import (the node count read before decoding ([`node_count`]), decoding, the supported-op check, one [`Importer`] visiting the
//! nodes) and dispatches each node to its handler:
//!
//! - [`endpoints`]: the opset, initializers, the graph input and output;
//! - [`attributes`]: [`NodeCtx`], a node's attributes and its error messages;
//! - [`constant_reads`]: the bytes of constants the nodes would copy, checked against the
//!   budget before any is copied;
//! - [`values`]: reading a node's inputs (run-time or constant), binding its outputs, adding
//!   graph nodes, and the budget for materialised constants;
//! - [`plumbing`]: `Constant`, `Identity`, `Cast`, `Shape`, `Gather`, `Slice`, folded on
//!   constants;
//! - [`indexing`]: `Gather` and `Slice` of run-time values, `Split`, `Expand`, `Tile`;
//! - [`select`]: `Where`, `Equal`, `Less`, `Greater`, `Mod`;
//! - [`generate`]: `ConstantOfShape`, `Range`, folded;
//! - [`layout`]: `Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`, `Transpose`, `Concat`, folded on
//!   constants and graph nodes on run-time values;
//! - [`elementwise`]: `Add`, `Sub`, `Mul`, `Div`, `Pow`, `Max`, `Min`, `PRelu`;
//! - [`linear`]: `Gemm`, `MatMul`;
//! - [`spatial`]: `Conv`, `MaxPool`, `AveragePool`, `GlobalAveragePool`, `Pad`;
//! - [`norm`]: `BatchNormalization`, `LayerNormalization`, `InstanceNormalization`,
//!   `GroupNormalization`;
//! - [`reduce`]: `ReduceMean`, `ReduceSum`, `ReduceMax`, `GlobalMaxPool`;
//! - [`activation`]: `Relu`, `LeakyRelu`, `Sigmoid`, `Tanh`, `Erf`, `Gelu`, `Clip`, `HardSwish`,
//!   `HardSigmoid`, `Elu`, `Selu`, `Softplus`, `Mish`, `Sqrt`, `Exp`, `Log`, `Neg`, `Abs`,
//!   `Softmax`, `LogSoftmax`, `Dropout`;
//! - [`resize`]: `Resize` (opsets 10-19) and `Upsample` (opsets 7-9) as one resize op.

mod activation;
mod attributes;
mod constant_reads;
mod elementwise;
mod embedding;
mod endpoints;
mod forms;
mod generate;
mod indexing;
mod layout;
mod linear;
mod node_count;
mod norm;
mod plumbing;
mod reduce;
mod resize;
mod select;
mod spatial;
mod values;

use super::data::Val;
use super::proto::{GraphProto, ModelProto, NodeProto};
use super::{MAX_IMPORT_BYTES, MAX_NODES, SUPPORTED_OPS};
use crate::error::{Error, Result};
use crate::graph::ops::activation::Activation;
use crate::graph::ops::elementwise::BinaryKind;
use crate::graph::ops::select::CompareKind;
use crate::graph::{Graph, ValueId};
use attributes::NodeCtx;
use endpoints::default_opset;
use prost::Message;
use reduce::Reduce;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

/// Decodes ONNX bytes and builds the graph.
pub fn import(bytes: &[u8]) -> Result<Graph> {
    import_with_budget(bytes, MAX_IMPORT_BYTES)
}

/// [`import`] with `budget` bytes for materialised constants instead of [`MAX_IMPORT_BYTES`].
fn import_with_budget(bytes: &[u8], budget: usize) -> Result<Graph> {
    let not_protobuf = |e: prost::DecodeError| {
        Error::Onnx(format!(
            "the {} bytes are not a valid ONNX model (protobuf decoding failed: {e})",
            bytes.len()
        ))
    };
    // Counted on the wire first: decoding a million tiny nodes would take most of a gigabyte.
    let nodes = node_count::count_nodes(bytes).map_err(not_protobuf)?;
    if nodes > MAX_NODES {
        return Err(Error::Onnx(format!(
            "the model has {nodes} nodes (in its graph and functions), more than the limit of \
             {MAX_NODES}; refused before decoding"
        )));
    }
    let model = ModelProto::decode(bytes).map_err(not_protobuf)?;
    let graph = model.graph.as_ref().ok_or_else(|| {
        Error::Onnx("the model has no graph (ModelProto.graph is missing)".into())
    })?;
    let opset = default_opset(&model)?;
    if !graph.sparse_initializer.is_empty() {
        return Err(Error::Onnx(format!(
            "the graph has {} sparse initializers; nnlens reads dense initializers only",
            graph.sparse_initializer.len()
        )));
    }
    // Name the unsupported ops before any other problem a node would hit because of them.
    let unsupported: Vec<(Error, &str, String)> = graph
        .node
        .iter()
        .enumerate()
        .filter_map(|(index, node)| {
            let ctx = NodeCtx::new(index, node);
            check_supported(&ctx).err().map(|e| {
                (
                    e,
                    node.op_type(),
                    format!("'{}' at node {index} '{}'", ctx.op, ctx.name),
                )
            })
        })
        .collect();
    if let Some((first, op, _)) = unsupported.first() {
        let mut seen: HashSet<&str> = HashSet::from([*op]);
        let others: Vec<&str> = unsupported
            .iter()
            .filter(|(_, op, _)| seen.insert(op))
            .map(|(_, _, what)| what.as_str())
            .collect();
        return Err(match (first, others.is_empty()) {
            (Error::Onnx(m), false) => {
                Error::Onnx(format!("{m}; also unsupported: {}", others.join(", ")))
            }
            (e, _) => e.clone(),
        });
    }
    // A model that will not run sample by sample (an op reaches across its first dimension, or
    // its input has no axis after it) runs as a whole when its input has a fixed size.
    endpoints::check_one_output(graph)?;
    // When the batched import refused the input's rank, the whole import's refusal says more.
    run(graph, opset, budget, false).or_else(|batched| {
        run(graph, opset, budget, true).map_err(|whole| {
            if batched
                .to_string()
                .contains("expects a batch dimension followed by")
            {
                whole
            } else {
                batched
            }
        })
    })
}

/// One import of `graph`, its input a batch of samples or (`whole_input`) one whole sample.
fn run(graph: &GraphProto, opset: i64, budget: usize, whole_input: bool) -> Result<Graph> {
    let mut importer = Importer::new(graph, opset, budget, whole_input)?;
    importer.silu_pairs = activation::silu_pairs(graph);
    for (index, node) in graph.node.iter().enumerate() {
        importer.node(index, node)?;
    }
    importer.finish(graph)
}

/// Whether an operator set domain is ONNX's default one (`""` or `"ai.onnx"`).
fn is_default_domain(domain: &str) -> bool {
    matches!(domain, "" | "ai.onnx")
}

/// Fails unless the node is a default-domain op of [`SUPPORTED_OPS`].
fn check_supported(ctx: &NodeCtx) -> Result<()> {
    let domain = ctx.node.domain();
    if !is_default_domain(domain) {
        return Err(ctx.err(format!(
            "unsupported op '{}' from domain '{domain}'; nnlens supports these default-domain ops: {}",
            ctx.op,
            SUPPORTED_OPS.join(", ")
        )));
    }
    if !SUPPORTED_OPS.contains(&ctx.op) {
        return Err(ctx.err(format!(
            "unsupported op type '{}'; nnlens supports: {}",
            ctx.op,
            SUPPORTED_OPS.join(", ")
        )));
    }
    Ok(())
}

/// The state of one import: the graph built so far and what each ONNX tensor name stands for.
struct Importer {
    graph: Graph,
    values: HashMap<String, Val>,
    /// Outputs nnlens does not compute (a Dropout mask, MaxPool indices), with the reason.
    unavailable: HashMap<String, String>,
    names: HashSet<String>,
    opset: i64,
    /// The batch size the input was declared with, when fixed (torch's default export).
    declared_batch: Option<i64>,
    /// Whether one sample is the whole declared input ([`Importer::new`]).
    whole_input: bool,
    /// The run-time values that hold integer ids: the input of a model of ids and its
    /// rearrangements ([`Importer::push_named`]).
    ids: HashSet<ValueId>,
    /// The form of each run-time value that is not batch-first ([`forms`]).
    forms: HashMap<ValueId, forms::Form>,
    /// The lifted copy of a batch-first value, made once.
    lifted_copies: HashMap<ValueId, ValueId>,
    /// The batch-first copy of a lifted value, made once.
    lowered_copies: HashMap<ValueId, ValueId>,
    /// Bytes of constants materialised so far: folded results and copies into layers.
    spent: Cell<usize>,
    /// The most `spent` may reach.
    budget: usize,
    /// `Sigmoid` node index → the `Mul` that with it is a SiLU ([`activation::silu_pairs`]).
    silu_pairs: HashMap<usize, usize>,
    /// `Mul` node index → the run-time value whose SiLU it adds (its `Sigmoid` added nothing).
    silu_inputs: HashMap<usize, ValueId>,
}

impl Importer {
    /// Imports one node: dispatches on its `op_type` to the handler of its family.
    fn node(&mut self, index: usize, node: &NodeProto) -> Result<()> {
        let ctx = NodeCtx::new(index, node);
        check_supported(&ctx)?;
        if self.silu_step(&ctx)? {
            return Ok(());
        }
        match ctx.op {
            "Constant" => self.constant(&ctx),
            "Identity" => self.identity(&ctx),
            "Cast" => self.cast(&ctx),
            "CastLike" => self.cast_like(&ctx),
            "Size" => self.size(&ctx),
            "Shape" => self.shape(&ctx),
            "Gather" => self.gather(&ctx),
            "Slice" => self.slice(&ctx),
            "Unsqueeze" => self.unsqueeze(&ctx),
            "Squeeze" => self.squeeze(&ctx),
            "Concat" => self.concat(&ctx),
            "Reshape" => self.reshape(&ctx),
            "Flatten" => self.flatten(&ctx),
            "Transpose" => self.transpose(&ctx),
            "Add" => self.binary(&ctx, BinaryKind::Add),
            "Sub" => self.binary(&ctx, BinaryKind::Sub),
            "Mul" => self.binary(&ctx, BinaryKind::Mul),
            "Div" => self.binary(&ctx, BinaryKind::Div),
            "Gemm" => self.gemm(&ctx),
            "MatMul" => self.matmul(&ctx),
            "Conv" => self.conv(&ctx),
            "ConvTranspose" => self.conv_transpose(&ctx),
            "MaxPool" | "AveragePool" => self.pool(&ctx),
            "GlobalAveragePool" => self.global_average_pool(&ctx),
            "BatchNormalization" => self.batch_norm(&ctx),
            "Relu" => self.activation(&ctx, Activation::Relu),
            "LeakyRelu" => self.leaky_relu(&ctx),
            "Sigmoid" => self.activation(&ctx, Activation::Sigmoid),
            "Tanh" => self.activation(&ctx, Activation::Tanh),
            "Erf" => self.activation(&ctx, Activation::Erf),
            "Gelu" => self.gelu(&ctx),
            "Clip" => self.clip(&ctx),
            "Softmax" | "LogSoftmax" => self.softmax(&ctx),
            "Dropout" => self.dropout(&ctx),
            "Pad" => self.pad(&ctx),
            // Elementwise math and activations of issue 15.
            "Pow" => self.binary(&ctx, BinaryKind::Pow),
            "PRelu" => self.binary(&ctx, BinaryKind::PRelu),
            "Max" => self.variadic(&ctx, BinaryKind::Max),
            "Sum" => self.variadic(&ctx, BinaryKind::Add),
            "Min" => self.variadic(&ctx, BinaryKind::Min),
            "Sqrt" => self.activation(&ctx, Activation::Sqrt),
            "Reciprocal" => self.activation(&ctx, Activation::Reciprocal),
            "Exp" => self.activation(&ctx, Activation::Exp),
            "Log" => self.activation(&ctx, Activation::Log),
            "Neg" => self.activation(&ctx, Activation::Neg),
            "Abs" => self.activation(&ctx, Activation::Abs),
            "HardSwish" => self.activation(&ctx, Activation::HardSwish),
            "HardSigmoid" => self.hard_sigmoid(&ctx),
            "Elu" => self.elu(&ctx),
            "Selu" => self.selu(&ctx),
            "Softplus" => self.activation(&ctx, Activation::Softplus),
            "Mish" => self.activation(&ctx, Activation::Mish),
            // Normalisations and reductions of issue 15.
            "ReduceMean" => self.reduce(&ctx, Reduce::Mean),
            "ReduceSum" => self.reduce(&ctx, Reduce::Sum),
            "ReduceMax" => self.reduce(&ctx, Reduce::Max),
            "GlobalMaxPool" => self.global_max_pool(&ctx),
            "LayerNormalization" => self.layer_norm(&ctx),
            "InstanceNormalization" => self.instance_norm(&ctx),
            "GroupNormalization" => self.group_norm(&ctx),
            "Resize" => self.resize(&ctx),
            // Opsets 7-9.
            "Upsample" => self.upsample(&ctx),
            // Indexing, repetition and selection of issue 15.
            "Split" => self.split(&ctx),
            "Expand" => self.expand(&ctx),
            "Tile" => self.tile(&ctx),
            "Where" => self.where_(&ctx),
            "Equal" => self.compare(&ctx, CompareKind::Equal),
            "Less" => self.compare(&ctx, CompareKind::Less),
            "Greater" => self.compare(&ctx, CompareKind::Greater),
            "ConstantOfShape" => self.constant_of_shape(&ctx),
            "Range" => self.range(&ctx),
            "Mod" => self.modulo(&ctx),
            other => Err(ctx.err(format!(
                "unsupported op type '{other}'; nnlens supports: {}",
                SUPPORTED_OPS.join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::onnx::proto::TensorProto;
    use crate::io::onnx::test_model::{
        attr_int, attr_ints, attr_string, err, float_tensor, int_tensor, model, model_with, node,
    };

    #[test]
    fn op_constructor_messages_name_the_node() {
        let pool = node(
            "MaxPool",
            "pool",
            &["x"],
            "y",
            vec![
                attr_ints("kernel_shape", &[2, 2]),
                attr_ints("pads", &[2, 0, 0, 0]),
            ],
        );
        let e = err(&model(vec![pool], vec![], &[1, 4, 4]));
        assert!(
            e.contains("'pool' (MaxPool)")
                && e.contains("maxpool2d padding")
                && e.contains("[2, 0, 0, 0]"),
            "{e}"
        );
    }

    #[test]
    fn unsupported_op_names_the_op_the_node_and_the_supported_list() {
        let e = err(&model(
            vec![node("LSTM", "rnn", &["x"], "y", vec![])],
            vec![],
            &[4],
        ));
        assert!(
            e.contains("node 0 'rnn' (LSTM)") && e.contains("unsupported op type 'LSTM'"),
            "{e}"
        );
        assert!(
            e.contains("Conv, ConvTranspose, Div") && e.contains("Unsqueeze"),
            "{e}"
        );
        let e = err(&model(
            vec![
                node("LSTM", "rnn", &["x"], "h", vec![]),
                node("Einsum", "sum", &["h"], "y", vec![]),
            ],
            vec![],
            &[4],
        ));
        assert!(
            e.contains("'rnn' (LSTM)") && e.contains("also unsupported: 'Einsum' at node 1 'sum'"),
            "{e}"
        );
        let mut custom = node("FusedConv", "", &["x"], "y", vec![]);
        custom.domain = Some("com.microsoft".into());
        let e = err(&model(vec![custom], vec![], &[4]));
        assert!(
            e.contains("'y' (FusedConv)") && e.contains("domain 'com.microsoft'"),
            "{e}"
        );
    }

    /// Every op in [`SUPPORTED_OPS`] is dispatched (a bare node fails on its inputs or
    /// attributes, never as an unknown op), and an op outside the list is refused.
    #[test]
    fn supported_ops_are_all_dispatched() {
        for op in SUPPORTED_OPS {
            let mut importer = Importer {
                graph: Graph::new(&[1]).unwrap(),
                values: HashMap::new(),
                unavailable: HashMap::new(),
                names: HashSet::new(),
                opset: 17,
                declared_batch: None,
                whole_input: false,
                ids: HashSet::new(),
                forms: HashMap::new(),
                lifted_copies: HashMap::new(),
                lowered_copies: HashMap::new(),
                silu_pairs: HashMap::new(),
                silu_inputs: HashMap::new(),
                spent: Cell::new(0),
                budget: MAX_IMPORT_BYTES,
            };
            let node = NodeProto {
                op_type: Some(op.to_string()),
                ..Default::default()
            };
            if let Err(e) = importer.node(0, &node) {
                assert!(!e.to_string().contains("unsupported"), "{op}: {e}");
            }
        }
        let node = NodeProto {
            op_type: Some("Loop".into()),
            ..Default::default()
        };
        assert!(check_supported(&NodeCtx::new(0, &node))
            .unwrap_err()
            .to_string()
            .contains("'Loop'"));
    }

    #[test]
    fn ops_that_touch_the_batch_are_refused() {
        let cases: Vec<(NodeProto, Vec<TensorProto>, &str)> = vec![
            (
                node("Flatten", "f", &["x"], "y", vec![attr_int("axis", 2)]),
                vec![],
                "the graph output 'y' has shape [2, 3] at batch 1",
            ),
            (
                node(
                    "Transpose",
                    "t",
                    &["x"],
                    "y",
                    vec![attr_ints("perm", &[1, 0, 2])],
                ),
                vec![],
                "the graph output 'y' has shape [2, 1, 3] at batch 1",
            ),
            (
                node("Concat", "c", &["x", "x"], "y", vec![attr_int("axis", 0)]),
                vec![],
                "along the batch",
            ),
            (
                node("ReduceMean", "m", &["x"], "y", vec![]),
                vec![],
                "over the batch",
            ),
            (
                node("Unsqueeze", "u", &["x", "ax"], "y", vec![]),
                vec![int_tensor("ax", &[0])],
                "the graph output 'y' has shape [1, 1, 2, 3] at batch 1",
            ),
            (
                node("Squeeze", "s", &["x", "ax"], "y", vec![]),
                vec![int_tensor("ax", &[1])],
                "cannot squeeze axis 1 of size 2",
            ),
            (
                node("Pad", "p", &["x", "pads"], "y", vec![]),
                vec![int_tensor("pads", &[1, 0, 0, 0, 0, 0])],
                "pad the batch",
            ),
            (
                node(
                    "Gelu",
                    "g",
                    &["x"],
                    "y",
                    vec![attr_string("approximate", "erf")],
                ),
                vec![],
                "approximate='erf' is not a GELU form",
            ),
            (
                node("Relu", "r", &["nope"], "y", vec![]),
                vec![],
                "input 'nope' is not produced",
            ),
            (
                node("LeakyRelu", "l", &["x"], "y", vec![attr_int("alpha", 1)]),
                vec![],
                "attribute 'alpha' has type INT, expected FLOAT",
            ),
        ];
        for (node, inits, expect) in cases {
            let e = err(&model_with(vec![node], inits, &[2, 3], None, 13));
            assert!(e.contains(expect), "expected '{expect}' in: {e}");
        }
    }

    /// Hostile parameters that would overflow or underflow index arithmetic give errors.
    #[test]
    fn hostile_parameters_are_errors() {
        let empty_kernel = float_tensor("W", &[1, 1, 0, 3], []);
        let e = err(&model_with(
            vec![node(
                "Conv",
                "Conv",
                &["x", "W"],
                "y",
                vec![attr_string("auto_pad", "SAME_UPPER")],
            )],
            vec![empty_kernel],
            &[1, 4, 4],
            None,
            17,
        ));
        assert!(e.contains("cannot pad for kernel [0, 3]"), "{e}");
        let e = err(&model_with(
            vec![node("Pad", "Pad", &["x", "p", "", "ax"], "y", vec![])],
            vec![
                int_tensor("p", &[i64::MAX, i64::MAX, 0, 0]),
                int_tensor("ax", &[1, 1]),
            ],
            &[2, 2],
            None,
            18,
        ));
        assert!(e.contains("name axis 1 twice"), "{e}");
        let e = err(&model_with(
            vec![node("Pad", "Pad", &["x", "p"], "y", vec![])],
            vec![int_tensor("p", &[0, i64::MAX, 0, 0])],
            &[2],
            None,
            13,
        ));
        assert!(e.contains("overflows") || e.contains("more than"), "{e}");
        let e = err(&model_with(
            vec![
                node("Squeeze", "Squeeze", &["c", "ax"], "y", vec![]),
                node("Add", "Add", &["x", "y"], "y", vec![]),
            ],
            vec![
                float_tensor("c", &[2, 1], [1.0, 2.0]),
                int_tensor("ax", &[0]),
            ],
            &[1],
            None,
            13,
        ));
        assert!(e.contains("cannot squeeze axis 0 of size 2"), "{e}");
        let e = err(&model_with(
            vec![node(
                "Slice",
                "Slice",
                &["s", "b", "e", "a", "st"],
                "y",
                vec![],
            )],
            vec![
                int_tensor("s", &[1, 2]),
                int_tensor("b", &[0]),
                int_tensor("e", &[2]),
                int_tensor("a", &[0]),
                int_tensor("st", &[0]),
            ],
            &[1],
            None,
            13,
        ));
        assert!(e.contains("step must not be 0"), "{e}");
        let e = err(&model_with(
            vec![node(
                "Softmax",
                "Softmax",
                &["x"],
                "y",
                vec![attr_int("axis", i64::MIN)],
            )],
            vec![],
            &[3],
            None,
            13,
        ));
        assert!(e.contains("out of range"), "{e}");
    }
}
