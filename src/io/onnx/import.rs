//! ONNX -> [`Graph`]: decoding a `ModelProto` and mapping its nodes onto nnlens ops.
//!
//! Nodes are visited in file order (ONNX requires a topological order). Each ONNX tensor name
//! is bound to a [`Val`]: compute nodes whose main input is a run-time value become one graph
//! node each (named after the ONNX node, labelled with its `op_type`); nodes on constants are
//! folded ([`super::fold`]); `Constant`, `Identity`, `Cast` and the `Shape` plumbing disappear.
//!
//! The batch dimension is kept symbolic: `Shape` of a run-time value yields `[N, d1, ...]` with
//! `N` a [`Sym`], and reshape targets must keep it in front (as `N`, `0`, `-1`, or the fixed
//! batch the model was exported with), so a model exported at batch 1 runs at any batch.

use super::data::{decode_tensor, dims_to_shape, type_name, Sym, Val};
use super::fold;
use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension,
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
};
use super::{MAX_IMPORT_BYTES, MAX_NODES, SUPPORTED_OPS};
use crate::error::{Error, Result};
use crate::graph::ops::activation::{Activation, Dropout, Softmax};
use crate::graph::ops::conv::Conv2d;
use crate::graph::ops::dense::Dense;
use crate::graph::ops::elementwise::{Binary, BinaryKind, Side};
use crate::graph::ops::matmul::MatMul;
use crate::graph::ops::norm::BatchNorm;
use crate::graph::ops::pool::{AvgPool2d, GlobalAvgPool, MaxPool2d};
use crate::graph::ops::reduce::ReduceMean;
use crate::graph::ops::shape::{Concat, Flatten, Pad, PadMode, Reshape, Transpose};
use crate::graph::ops::Op;
use crate::graph::{Graph, ValueId};
use crate::tensor::Tensor;
use ndarray::{ArrayD, IxDyn};
use prost::Message;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// The oldest default-domain opset the importer reads.
const MIN_OPSET: i64 = 7;

/// Decodes ONNX bytes and builds the graph.
pub fn import(bytes: &[u8]) -> Result<Graph> {
    import_with_budget(bytes, MAX_IMPORT_BYTES)
}

/// [`import`] with `budget` bytes for materialised constants instead of [`MAX_IMPORT_BYTES`].
fn import_with_budget(bytes: &[u8], budget: usize) -> Result<Graph> {
    let model = ModelProto::decode(bytes).map_err(|e| {
        Error::Onnx(format!(
            "the {} bytes are not a valid ONNX model (protobuf decoding failed: {e})",
            bytes.len()
        ))
    })?;
    let graph = model.graph.as_ref().ok_or_else(|| {
        Error::Onnx("the model has no graph (ModelProto.graph is missing)".into())
    })?;
    let opset = default_opset(&model)?;
    if graph.node.len() > MAX_NODES {
        return Err(Error::Onnx(format!(
            "the graph has {} nodes, more than the limit of {MAX_NODES}",
            graph.node.len()
        )));
    }
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
    let mut importer = Importer::new(graph, opset, budget)?;
    for (index, node) in graph.node.iter().enumerate() {
        importer.node(index, node)?;
    }
    importer.finish(graph)
}

/// The version of the default (`ai.onnx`) operator set the model imports.
fn default_opset(model: &ModelProto) -> Result<i64> {
    let version = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain(), "" | "ai.onnx"))
        .map(|o| o.version())
        .ok_or_else(|| {
            Error::Onnx(
                "the model imports no version of the default ONNX operator set (opset_import has \
                 no entry for domain '' or 'ai.onnx')"
                    .into(),
            )
        })?;
    if version < MIN_OPSET {
        return Err(Error::Onnx(format!(
            "the model uses ONNX opset {version}; nnlens reads opset {MIN_OPSET} and newer"
        )));
    }
    Ok(version)
}

/// One node being imported, for attribute access and messages.
struct NodeCtx<'a> {
    node: &'a NodeProto,
    index: usize,
    op: &'a str,
    name: String,
}

impl<'a> NodeCtx<'a> {
    fn new(index: usize, node: &'a NodeProto) -> Self {
        let op = node.op_type();
        let name = if !node.name().is_empty() {
            node.name().to_string()
        } else if let Some(out) = node.output.first().filter(|o| !o.is_empty()) {
            out.clone()
        } else if !op.is_empty() {
            op.to_string()
        } else {
            format!("node{index}")
        };
        NodeCtx {
            node,
            index,
            op,
            name,
        }
    }

    fn err(&self, message: impl std::fmt::Display) -> Error {
        Error::Onnx(format!(
            "node {} '{}' ({}): {message}",
            self.index, self.name, self.op
        ))
    }

    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name() == name)
    }

    /// The attribute `name` if present, after checking its declared type.
    fn typed(&self, name: &str, ty: AttributeType) -> Result<Option<&'a AttributeProto>> {
        let Some(a) = self.attr(name) else {
            return Ok(None);
        };
        if !a.ref_attr_name().is_empty() {
            return Err(self.err(format!("attribute '{name}' refers to a function attribute")));
        }
        match a.r#type {
            Some(t) if t != ty as i32 => Err(self.err(format!(
                "attribute '{name}' has type {}, expected {}",
                AttributeType::try_from(t)
                    .map(|t| t.as_str_name())
                    .unwrap_or("unknown"),
                ty.as_str_name()
            ))),
            _ => Ok(Some(a)),
        }
    }

    fn int(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self
            .typed(name, AttributeType::Int)?
            .and_then(|a| a.i)
            .unwrap_or(default))
    }

    fn float(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self
            .typed(name, AttributeType::Float)?
            .and_then(|a| a.f)
            .unwrap_or(default))
    }

    fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self
            .typed(name, AttributeType::Ints)?
            .map(|a| a.ints.clone()))
    }

    fn floats(&self, name: &str) -> Result<Option<Vec<f32>>> {
        Ok(self
            .typed(name, AttributeType::Floats)?
            .map(|a| a.floats.clone()))
    }

    fn string(&self, name: &str, default: &str) -> Result<String> {
        match self
            .typed(name, AttributeType::String)?
            .and_then(|a| a.s.as_ref())
        {
            Some(bytes) => String::from_utf8(bytes.clone())
                .map_err(|_| self.err(format!("attribute '{name}' is not valid UTF-8"))),
            None => Ok(default.to_string()),
        }
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool> {
        match self.int(name, i64::from(default))? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.err(format!("attribute '{name}' must be 0 or 1, got {v}"))),
        }
    }

    /// A non-negative integer attribute as `usize`.
    fn usizes(&self, name: &str, values: &[i64], min: i64) -> Result<Vec<usize>> {
        values
            .iter()
            .map(|&v| {
                if v < min {
                    Err(self.err(format!(
                        "attribute '{name}' values must be >= {min}, got {values:?}"
                    )))
                } else {
                    usize::try_from(v)
                        .map_err(|_| self.err(format!("attribute '{name}' value {v} is too large")))
                }
            })
            .collect()
    }
}

struct Importer {
    graph: Graph,
    values: HashMap<String, Val>,
    /// Outputs nnlens does not compute (a Dropout mask, MaxPool indices), with the reason.
    unavailable: HashMap<String, String>,
    names: HashSet<String>,
    opset: i64,
    /// The batch size the input was declared with, when fixed (torch's default export).
    declared_batch: Option<i64>,
    /// Bytes of constants materialised so far: folded results and copies into layers.
    spent: Cell<usize>,
    /// The most `spent` may reach.
    budget: usize,
}

impl Importer {
    fn new(graph: &GraphProto, opset: i64, budget: usize) -> Result<Self> {
        let mut values = HashMap::new();
        for (i, init) in graph.initializer.iter().enumerate() {
            let val = decode_tensor(init, "initializer")?;
            let name = init.name();
            if name.is_empty() {
                return Err(Error::Onnx(format!("initializer {i} has no name")));
            }
            values.insert(name.to_string(), val);
        }
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !values.contains_key(i.name()))
            .collect();
        let [input] = inputs.as_slice() else {
            let names: Vec<_> = inputs.iter().map(|i| format!("'{}'", i.name())).collect();
            return Err(Error::Onnx(format!(
                "the graph has {} inputs ({}) besides its initializers; nnlens runs models with \
                 exactly one input",
                inputs.len(),
                names.join(", ")
            )));
        };
        let name = input.name();
        let tensor = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => t,
            _ => return Err(Error::Onnx(format!("graph input '{name}' is not a tensor"))),
        };
        let elem = tensor.elem_type();
        let float_types = [
            DataType::Float,
            DataType::Double,
            DataType::Float16,
            DataType::Bfloat16,
        ];
        if !float_types.iter().any(|t| *t as i32 == elem) {
            return Err(Error::Onnx(format!(
                "graph input '{name}' has element type {}; nnlens feeds float inputs",
                type_name(elem)
            )));
        }
        let dims = tensor
            .shape
            .as_ref()
            .map(|s| s.dim.as_slice())
            .ok_or_else(|| {
                Error::Onnx(format!(
                    "graph input '{name}' has no shape; nnlens needs its rank and sizes"
                ))
            })?;
        if dims.len() < 2 {
            return Err(Error::Onnx(format!(
                "graph input '{name}' has rank {}; nnlens expects a batch dimension followed by at \
                 least one more",
                dims.len()
            )));
        }
        let declared_batch = match dims[0].value {
            Some(dimension::Value::DimValue(v)) if v > 0 => Some(v),
            Some(dimension::Value::DimValue(v)) if v < 0 => {
                return Err(Error::Onnx(format!(
                    "graph input '{name}' has a negative batch size {v}"
                )))
            }
            _ => None,
        };
        let mut sample = Vec::with_capacity(dims.len() - 1);
        for (i, d) in dims.iter().enumerate().skip(1) {
            match &d.value {
                Some(dimension::Value::DimValue(v)) if *v > 0 => sample.push(*v),
                Some(dimension::Value::DimValue(v)) => {
                    return Err(Error::Onnx(format!(
                        "dimension {i} of graph input '{name}' is {v}; sizes after the batch must be positive"
                    )))
                }
                Some(dimension::Value::DimParam(p)) => {
                    return Err(Error::Onnx(format!(
                        "dimension {i} of graph input '{name}' is the symbol '{p}'; nnlens needs fixed \
                         sizes after the batch dimension (export with a fixed input size)"
                    )))
                }
                None => {
                    return Err(Error::Onnx(format!(
                        "dimension {i} of graph input '{name}' has no size; nnlens needs fixed sizes \
                         after the batch dimension"
                    )))
                }
            }
        }
        let sample = dims_to_shape(&format!("graph input '{name}'"), &sample)?;
        values.insert(name.to_string(), Val::Runtime(ValueId::INPUT));
        Ok(Importer {
            graph: Graph::new(&sample)?,
            values,
            unavailable: HashMap::new(),
            names: HashSet::new(),
            opset,
            declared_batch,
            spent: Cell::new(0),
            budget,
        })
    }

    fn finish(self, graph: &GraphProto) -> Result<Graph> {
        let [output] = graph.output.as_slice() else {
            let names: Vec<_> = graph
                .output
                .iter()
                .map(|o| format!("'{}'", o.name()))
                .collect();
            return Err(Error::Onnx(format!(
                "the graph has {} outputs ({}); nnlens runs models with exactly one output",
                graph.output.len(),
                names.join(", ")
            )));
        };
        let mut g = self.graph;
        match self.values.get(output.name()) {
            Some(Val::Runtime(id)) => g.set_output(*id)?,
            Some(other) => {
                return Err(Error::Onnx(format!(
                    "the graph output '{}' is {}, it does not depend on the input",
                    output.name(),
                    other.describe()
                )))
            }
            None => {
                return Err(Error::Onnx(format!(
                    "the graph output '{}' is not produced by any node",
                    output.name()
                )))
            }
        }
        Ok(g)
    }

    /// Input `i` of the node, `None` when absent or named "" (an omitted optional input).
    fn input(&self, ctx: &NodeCtx, i: usize) -> Result<Option<Val>> {
        let Some(name) = ctx.node.input.get(i).filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        if let Some(v) = self.values.get(name) {
            return Ok(Some(v.clone()));
        }
        if let Some(reason) = self.unavailable.get(name) {
            return Err(ctx.err(format!(
                "input '{name}' is {reason}, which nnlens does not compute"
            )));
        }
        Err(ctx.err(format!(
            "input '{name}' is not produced by an earlier node, an initializer or the graph input \
             (nodes must be in topological order)"
        )))
    }

    fn required(&self, ctx: &NodeCtx, i: usize) -> Result<Val> {
        self.input(ctx, i)?.ok_or_else(|| {
            ctx.err(format!(
                "input {i} is missing (the node has {} inputs)",
                ctx.node.input.len()
            ))
        })
    }

    /// The node's main input `i`, which must be computed at run time.
    fn runtime(&self, ctx: &NodeCtx, i: usize) -> Result<ValueId> {
        match self.required(ctx, i)? {
            Val::Runtime(id) => Ok(id),
            other => Err(ctx.err(format!(
                "input {i} is {}; nnlens runs {} on values computed from the model input only",
                other.describe(),
                ctx.op
            ))),
        }
    }

    /// Input `i` as a float constant.
    fn float_const(&self, ctx: &NodeCtx, i: usize, what: &str) -> Result<Option<ArrayD<f32>>> {
        match self.input(ctx, i)? {
            None => Ok(None),
            Some(v) => {
                self.spend(ctx, v.bytes())?;
                to_float(v)
                    .map(Some)
                    .map_err(|m| ctx.err(format!("{what} (input {i}) {m}")))
            }
        }
    }

    /// Input `i` as integer constants that do not depend on the batch size.
    fn int_const(&self, ctx: &NodeCtx, i: usize, what: &str) -> Result<Option<Vec<i64>>> {
        match self.input(ctx, i)? {
            None => Ok(None),
            Some(Val::Int(a)) => a
                .iter()
                .map(|s| {
                    s.as_int().ok_or_else(|| {
                        ctx.err(format!(
                            "{what} (input {i}) holds {s}, which depends on the batch size"
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(other) => Err(ctx.err(format!(
                "{what} (input {i}) is {}; nnlens needs integer constants here (a shape computed \
                 from tensor values at run time cannot be resolved at import)",
                other.describe()
            ))),
        }
    }

    /// Axes given as attribute `axes` (older opsets) or as input `i` (newer ones).
    fn axes_list(&self, ctx: &NodeCtx, i: usize) -> Result<Option<Vec<i64>>> {
        match ctx.ints("axes")? {
            Some(a) => Ok(Some(a)),
            None => self.int_const(ctx, i, "axes"),
        }
    }

    /// Counts `bytes` of newly materialised constants against [`MAX_IMPORT_BYTES`], so that a
    /// small file cannot make the importer copy its constants without bound.
    fn spend(&self, ctx: &NodeCtx, bytes: usize) -> Result<()> {
        let total = self.spent.get().saturating_add(bytes);
        if total > self.budget {
            return Err(ctx.err(format!(
                "the constants and weights computed or copied so far take more than {} bytes, \
                 the importer's limit",
                self.budget
            )));
        }
        self.spent.set(total);
        Ok(())
    }

    /// Binds a newly computed value to the node's first output, counting its size.
    fn bind(&mut self, ctx: &NodeCtx, val: Val) -> Result<()> {
        self.spend(ctx, val.bytes())?;
        self.alias(ctx, val)
    }

    /// Binds an existing value (shared, not copied) to the node's first output.
    fn alias(&mut self, ctx: &NodeCtx, val: Val) -> Result<()> {
        let Some(out) = ctx.node.output.first().filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        if self.values.contains_key(out) {
            return Err(ctx.err(format!(
                "output '{out}' is already defined by an earlier node or initializer"
            )));
        }
        self.values.insert(out.clone(), val);
        for extra in ctx.node.output.iter().skip(1).filter(|o| !o.is_empty()) {
            self.unavailable.insert(
                extra.clone(),
                format!("the extra output of {} node '{}'", ctx.op, ctx.name),
            );
        }
        Ok(())
    }

    /// Adds one graph node for the ONNX node and binds its first output.
    fn push(&mut self, ctx: &NodeCtx, op: Op, inputs: &[ValueId]) -> Result<()> {
        let mut name = ctx.name.clone();
        let mut k = 1;
        while self.names.contains(&name) {
            name = format!("{}_{k}", ctx.name);
            k += 1;
        }
        let id = self.graph.push(name.clone(), ctx.op, op, inputs)?;
        self.names.insert(name);
        self.bind(ctx, Val::Runtime(id))
    }

    fn sample_shape(&self, id: ValueId) -> Vec<usize> {
        self.graph.value_shape(id).to_vec()
    }

    /// Full rank (batch included) of a run-time value.
    fn rank(&self, id: ValueId) -> usize {
        self.graph.value_shape(id).len() + 1
    }

    fn node(&mut self, index: usize, node: &NodeProto) -> Result<()> {
        let ctx = NodeCtx::new(index, node);
        check_supported(&ctx)?;
        match ctx.op {
            "Constant" => self.constant(&ctx),
            "Identity" => {
                let v = self.required(&ctx, 0)?;
                self.alias(&ctx, v)
            }
            "Cast" => self.cast(&ctx),
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
            "MaxPool" | "AveragePool" => self.pool(&ctx),
            "GlobalAveragePool" => {
                let x = self.runtime(&ctx, 0)?;
                self.push(&ctx, Op::GlobalAvgPool(GlobalAvgPool), &[x])
            }
            "BatchNormalization" => self.batch_norm(&ctx),
            "Relu" => self.activation(&ctx, Activation::Relu),
            "LeakyRelu" => {
                let alpha = ctx.float("alpha", 0.01)?;
                self.activation(&ctx, Activation::LeakyRelu { alpha })
            }
            "Sigmoid" => self.activation(&ctx, Activation::Sigmoid),
            "Tanh" => self.activation(&ctx, Activation::Tanh),
            "Erf" => self.activation(&ctx, Activation::Erf),
            "Gelu" => {
                let approximate = ctx.string("approximate", "none")?;
                if approximate != "none" {
                    return Err(ctx.err(format!(
                        "approximate='{approximate}' is not supported; nnlens computes the exact \
                         (erf) GELU, approximate='none'"
                    )));
                }
                self.activation(&ctx, Activation::Gelu)
            }
            "Clip" => self.clip(&ctx),
            "Softmax" | "LogSoftmax" => self.softmax(&ctx),
            "Dropout" => self.dropout(&ctx),
            "ReduceMean" => self.reduce_mean(&ctx),
            "Pad" => self.pad(&ctx),
            other => Err(ctx.err(format!(
                "unsupported op type '{other}'; nnlens supports: {}",
                SUPPORTED_OPS.join(", ")
            ))),
        }
    }

    fn constant(&mut self, ctx: &NodeCtx) -> Result<()> {
        let val = if let Some(a) = ctx.typed("value", AttributeType::Tensor)? {
            let t =
                a.t.as_ref()
                    .ok_or_else(|| ctx.err("attribute 'value' holds no tensor"))?;
            decode_tensor(t, "the value").map_err(|e| match e {
                Error::Onnx(m) => ctx.err(m),
                other => other,
            })?
        } else if let Some(a) = ctx.typed("value_float", AttributeType::Float)? {
            Val::float(ArrayD::from_elem(IxDyn(&[]), a.f.unwrap_or(0.0)))
        } else if let Some(v) = ctx.floats("value_floats")? {
            Val::float(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).map_err(|e| ctx.err(e))?)
        } else if let Some(a) = ctx.typed("value_int", AttributeType::Int)? {
            Val::int(ArrayD::from_elem(IxDyn(&[]), Sym::int(a.i.unwrap_or(0))))
        } else if let Some(v) = ctx.ints("value_ints")? {
            let v: Vec<Sym> = v.into_iter().map(Sym::int).collect();
            Val::int(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).map_err(|e| ctx.err(e))?)
        } else {
            let names: Vec<_> = ctx.node.attribute.iter().map(|a| a.name()).collect();
            return Err(ctx.err(format!(
                "needs a 'value', 'value_float(s)' or 'value_int(s)' attribute, found {names:?} \
                 (sparse and string constants are not supported)"
            )));
        };
        self.bind(ctx, val)
    }

    fn cast(&mut self, ctx: &NodeCtx) -> Result<()> {
        let to = ctx.int("to", 0)?;
        let to = i32::try_from(to).map_err(|_| ctx.err(format!("'to' {to} is not a type code")))?;
        let is_float = [
            DataType::Float,
            DataType::Double,
            DataType::Float16,
            DataType::Bfloat16,
        ]
        .iter()
        .any(|t| *t as i32 == to);
        let is_int = [
            DataType::Int64,
            DataType::Int32,
            DataType::Int16,
            DataType::Int8,
            DataType::Uint8,
            DataType::Uint16,
            DataType::Uint32,
            DataType::Uint64,
        ]
        .iter()
        .any(|t| *t as i32 == to);
        let is_bool = to == DataType::Bool as i32;
        let val = match (self.required(ctx, 0)?, is_float, is_int || is_bool) {
            (Val::Runtime(id), true, _) => Val::Runtime(id),
            (Val::Runtime(_), false, _) => {
                return Err(ctx.err(format!(
                    "casts a run-time tensor to {}; nnlens computes in float only",
                    type_name(to)
                )))
            }
            (v @ Val::Float(_), true, _) => return self.alias(ctx, v),
            (Val::Int(a), true, _) => {
                Val::float(to_float(Val::Int(a)).map_err(|m| ctx.err(format!("input {m}")))?)
            }
            (Val::Float(a), false, true) => {
                if let Some(bad) = a.iter().find(|v| !v.is_finite()) {
                    return Err(ctx.err(format!(
                        "cannot cast the non-finite value {bad} to {}",
                        type_name(to)
                    )));
                }
                let cast = fold::map(&a, &|v: f32| {
                    Sym::int(if is_bool {
                        i64::from(v != 0.0)
                    } else {
                        v.trunc() as i64
                    })
                });
                Val::int(cast.map_err(|e| ctx.err(e))?)
            }
            (Val::Int(a), false, true) => {
                if is_bool {
                    let a = a
                        .iter()
                        .map(|s| s.as_int().map(|v| Sym::int(i64::from(v != 0))))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| ctx.err("cannot cast a batch-dependent integer to BOOL"))?;
                    Val::int(ArrayD::from_shape_vec(IxDyn(&[a.len()]), a).map_err(|e| ctx.err(e))?)
                } else {
                    return self.alias(ctx, Val::Int(a));
                }
            }
            (_, false, false) => {
                return Err(ctx.err(format!(
                    "casts to {}, which nnlens does not handle",
                    type_name(to)
                )))
            }
        };
        self.bind(ctx, val)
    }

    fn shape(&mut self, ctx: &NodeCtx) -> Result<()> {
        let full: Vec<Sym> = match self.required(ctx, 0)? {
            Val::Runtime(id) => std::iter::once(Sym::BATCH)
                .chain(
                    self.sample_shape(id)
                        .into_iter()
                        .map(|d| Sym::int(d as i64)),
                )
                .collect(),
            Val::Float(a) => a.shape().iter().map(|&d| Sym::int(d as i64)).collect(),
            Val::Int(a) => a.shape().iter().map(|&d| Sym::int(d as i64)).collect(),
        };
        let r = full.len() as i64;
        let clamp = |v: i64| {
            if v < 0 {
                (v.saturating_add(r)).max(0)
            } else {
                v.min(r)
            }
        };
        let start = clamp(ctx.int("start", 0)?) as usize;
        let end = (clamp(ctx.int("end", r)?) as usize).max(start);
        let dims = full[start..end].to_vec();
        let n = dims.len();
        self.bind(
            ctx,
            Val::int(ArrayD::from_shape_vec(IxDyn(&[n]), dims).map_err(|e| ctx.err(e))?),
        )
    }

    fn gather(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let indices = match self.required(ctx, 1)? {
            Val::Int(a) => a
                .iter()
                .map(|s| s.as_int())
                .collect::<Option<Vec<_>>>()
                .and_then(|v| ArrayD::from_shape_vec(a.raw_dim(), v).ok())
                .ok_or_else(|| ctx.err("indices depend on the batch size"))?,
            other => {
                return Err(ctx.err(format!(
                    "indices are {}, expected integer constants",
                    other.describe()
                )))
            }
        };
        let wrap = |e: Error| match e {
            Error::Onnx(m) => ctx.err(m),
            other => other,
        };
        let val = match data {
            Val::Float(a) => {
                let ax = fold::axis(ctx.int("axis", 0)?, a.ndim(), "axis").map_err(wrap)?;
                Val::float(fold::gather(&a, &indices, ax).map_err(wrap)?)
            }
            Val::Int(a) => {
                let ax = fold::axis(ctx.int("axis", 0)?, a.ndim(), "axis").map_err(wrap)?;
                Val::int(fold::gather(&a, &indices, ax).map_err(wrap)?)
            }
            Val::Runtime(_) => return Err(ctx.err(
                "gathers from a run-time tensor; nnlens folds Gather on constants and shapes only",
            )),
        };
        self.bind(ctx, val)
    }

    fn slice(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let runtime_error =
            || ctx.err("slices a run-time tensor; nnlens folds Slice on constants and shapes only");
        let rank = match &data {
            Val::Float(a) => a.ndim(),
            Val::Int(a) => a.ndim(),
            Val::Runtime(_) => return Err(runtime_error()),
        };
        // Opset < 10 takes starts/ends/axes as attributes; later opsets take inputs 1..=4.
        let (starts, ends, axes, steps) = match ctx.ints("starts")? {
            Some(starts) => (
                starts,
                ctx.ints("ends")?
                    .ok_or_else(|| ctx.err("attribute 'ends' is missing"))?,
                ctx.ints("axes")?,
                None,
            ),
            None => (
                self.int_const(ctx, 1, "starts")?
                    .ok_or_else(|| ctx.err("input 'starts' is missing"))?,
                self.int_const(ctx, 2, "ends")?
                    .ok_or_else(|| ctx.err("input 'ends' is missing"))?,
                self.int_const(ctx, 3, "axes")?,
                self.int_const(ctx, 4, "steps")?,
            ),
        };
        let raw_axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len()
            || raw_axes.len() != starts.len()
            || steps.len() != starts.len()
        {
            return Err(ctx.err(format!(
                "starts {starts:?}, ends {ends:?}, axes {raw_axes:?} and steps {steps:?} must have the same length"
            )));
        }
        let wrap = |e: Error| match e {
            Error::Onnx(m) => ctx.err(m),
            other => other,
        };
        let axes: Vec<usize> = raw_axes
            .iter()
            .map(|&a| fold::axis(a, rank, "axis"))
            .collect::<Result<_>>()
            .map_err(wrap)?;
        fold::axes(&raw_axes, rank, "axis").map_err(wrap)?;
        let val = match data {
            Val::Float(a) => {
                Val::float(fold::slice(&a, &starts, &ends, &axes, &steps).map_err(wrap)?)
            }
            Val::Int(a) => Val::int(fold::slice(&a, &starts, &ends, &axes, &steps).map_err(wrap)?),
            Val::Runtime(_) => return Err(runtime_error()),
        };
        self.bind(ctx, val)
    }

    fn unsqueeze(&mut self, ctx: &NodeCtx) -> Result<()> {
        let axes_raw = self
            .axes_list(ctx, 1)?
            .ok_or_else(|| ctx.err("needs axes"))?;
        let data = self.required(ctx, 0)?;
        let in_shape = match &data {
            Val::Runtime(id) => with_batch_placeholder(&self.sample_shape(*id)),
            Val::Float(a) => a.shape().to_vec(),
            Val::Int(a) => a.shape().to_vec(),
        };
        let out_rank = in_shape.len() + axes_raw.len();
        let axes = fold::axes(&axes_raw, out_rank, "axis").map_err(|e| ctx.err(e))?;
        let mut out = Vec::with_capacity(out_rank);
        let mut rest = in_shape.iter();
        for i in 0..out_rank {
            if axes.binary_search(&i).is_ok() {
                out.push(1);
            } else {
                out.push(
                    *rest
                        .next()
                        .ok_or_else(|| ctx.err("axes do not fit the input rank"))?,
                );
            }
        }
        self.reshaped(ctx, data, out, &axes, "inserts an axis before")
    }

    fn squeeze(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let in_shape = match &data {
            Val::Runtime(id) => with_batch_placeholder(&self.sample_shape(*id)),
            Val::Float(a) => a.shape().to_vec(),
            Val::Int(a) => a.shape().to_vec(),
        };
        let axes = match self.axes_list(ctx, 1)? {
            Some(raw) => {
                let axes = fold::axes(&raw, in_shape.len(), "axis").map_err(|e| ctx.err(e))?;
                let runtime = matches!(data, Val::Runtime(_));
                if let Some(&a) = axes
                    .iter()
                    .find(|&&a| (a != 0 || !runtime) && in_shape[a] != 1)
                {
                    return Err(ctx.err(format!(
                        "cannot squeeze axis {a} of size {} (input shape {})",
                        in_shape[a],
                        shape_text(&data, &in_shape)
                    )));
                }
                axes
            }
            // Without axes every size-1 axis goes; for a run-time value the batch is kept.
            None => (0..in_shape.len())
                .filter(|&a| in_shape[a] == 1 && !(a == 0 && matches!(data, Val::Runtime(_))))
                .collect(),
        };
        let out: Vec<usize> = (0..in_shape.len())
            .filter(|a| axes.binary_search(a).is_err())
            .map(|a| in_shape[a])
            .collect();
        self.reshaped(ctx, data, out, &axes, "removes")
    }

    /// Binds `data` reshaped to the full shape `out`; for run-time values a [`Reshape`] node
    /// (refusing `axes` that touch the batch dimension).
    fn reshaped(
        &mut self,
        ctx: &NodeCtx,
        data: Val,
        out: Vec<usize>,
        axes: &[usize],
        verb: &str,
    ) -> Result<()> {
        match data {
            Val::Runtime(id) => {
                if axes.contains(&0) {
                    return Err(ctx.err(format!(
                        "{verb} the batch dimension (axis 0); nnlens keeps the batch first"
                    )));
                }
                self.push(
                    ctx,
                    Op::Reshape(Reshape {
                        shape: out[1..].to_vec(),
                    }),
                    &[id],
                )
            }
            Val::Float(a) => {
                let v = fold::reshape(&a, &out).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::float(v))
            }
            Val::Int(a) => {
                let v = fold::reshape(&a, &out).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::int(v))
            }
        }
    }

    fn concat(&mut self, ctx: &NodeCtx) -> Result<()> {
        let parts = (0..ctx.node.input.len())
            .filter_map(|i| self.input(ctx, i).transpose())
            .collect::<Result<Vec<_>>>()?;
        let axis_attr = ctx
            .typed("axis", AttributeType::Int)?
            .and_then(|a| a.i)
            .ok_or_else(|| ctx.err("attribute 'axis' is missing"))?;
        let wrap = |e: Error| match e {
            Error::Onnx(m) => ctx.err(m),
            other => other,
        };
        if parts.is_empty() {
            return Err(ctx.err("has no inputs"));
        }
        if parts.iter().all(|p| matches!(p, Val::Runtime(_))) {
            let ids: Vec<ValueId> = parts
                .iter()
                .map(|p| match p {
                    Val::Runtime(id) => *id,
                    _ => ValueId::INPUT,
                })
                .collect();
            let axis = fold::axis(axis_attr, self.rank(ids[0]), "axis").map_err(wrap)?;
            if axis == 0 {
                return Err(ctx.err("concatenates along the batch dimension (axis 0); nnlens keeps samples independent"));
            }
            return self.push(
                ctx,
                Op::Concat(Concat {
                    axis,
                    inputs: ids.len(),
                }),
                &ids,
            );
        }
        if parts.iter().all(|p| matches!(p, Val::Int(_))) {
            let arrays: Vec<&ArrayD<Sym>> = parts
                .iter()
                .filter_map(|p| {
                    if let Val::Int(a) = p {
                        Some(&**a)
                    } else {
                        None
                    }
                })
                .collect();
            let axis = fold::axis(axis_attr, arrays[0].ndim(), "axis").map_err(wrap)?;
            let v = fold::concat(&arrays, axis).map_err(wrap)?;
            return self.bind(ctx, Val::int(v));
        }
        if parts.iter().any(|p| matches!(p, Val::Runtime(_))) {
            return Err(ctx.err(
                "concatenates run-time tensors with constants; nnlens concatenates values computed \
                 from the input only",
            ));
        }
        let floats = parts
            .into_iter()
            .map(to_float)
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|m| ctx.err(format!("an input {m}")))?;
        let refs: Vec<&ArrayD<f32>> = floats.iter().collect();
        let axis = fold::axis(axis_attr, refs[0].ndim(), "axis").map_err(wrap)?;
        let v = fold::concat(&refs, axis).map_err(wrap)?;
        self.bind(ctx, Val::float(v))
    }

    fn reshape(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let target: Vec<Sym> = match ctx.ints("shape")? {
            // Opset < 5 took the shape as an attribute.
            Some(s) => s.into_iter().map(Sym::int).collect(),
            None => match self.required(ctx, 1)? {
                Val::Int(a) => a.iter().copied().collect(),
                other => {
                    return Err(ctx.err(format!(
                        "the target shape is {}; nnlens needs it as integers known at import \
                         (constants or shape arithmetic)",
                        other.describe()
                    )))
                }
            },
        };
        let allowzero = ctx.bool("allowzero", false)?;
        match data {
            Val::Runtime(id) => {
                let shape = self.reshape_target(ctx, &self.sample_shape(id), &target, allowzero)?;
                self.push(ctx, Op::Reshape(Reshape { shape }), &[id])
            }
            Val::Float(a) => {
                let shape = const_target(ctx, a.shape(), &target, allowzero)?;
                self.bind(
                    ctx,
                    Val::float(fold::reshape(&a, &shape).map_err(|e| ctx.err(e))?),
                )
            }
            Val::Int(a) => {
                let shape = const_target(ctx, a.shape(), &target, allowzero)?;
                self.bind(
                    ctx,
                    Val::int(fold::reshape(&a, &shape).map_err(|e| ctx.err(e))?),
                )
            }
        }
    }

    /// Resolves a reshape target of a run-time value to a per-sample shape, requiring the batch
    /// dimension to stay first: as `N`, `0` (copy), `-1` (inferred from the other dimensions) or
    /// the fixed batch size the model was exported with.
    fn reshape_target(
        &self,
        ctx: &NodeCtx,
        sample: &[usize],
        target: &[Sym],
        allowzero: bool,
    ) -> Result<Vec<usize>> {
        let text = format!(
            "[{}]",
            target
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let input = format!(
            "[N, {}]",
            sample
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let fail = |why: &str| {
            ctx.err(format!(
                "cannot reshape the input of shape {input} to {text}: {why}"
            ))
        };
        let Some((&first, rest)) = target.split_first() else {
            return Err(fail("the target has no batch dimension"));
        };
        let count: usize = sample.iter().product();
        let mut out = Vec::with_capacity(rest.len());
        let mut infer = None;
        for (i, s) in rest.iter().enumerate() {
            let v = s.as_int().ok_or_else(|| {
                fail(&format!(
                    "dimension {} ({s}) depends on the batch size",
                    i + 1
                ))
            })?;
            match v {
                -1 => {
                    if infer.replace(i).is_some() {
                        return Err(fail("more than one dimension is -1"));
                    }
                    out.push(1);
                }
                0 if !allowzero => out.push(*sample.get(i).ok_or_else(|| {
                    fail(&format!(
                        "dimension {} is 0 (copy) but the input has no such dimension",
                        i + 1
                    ))
                })?),
                v if v < 0 => return Err(fail(&format!("dimension {} is {v}", i + 1))),
                v => out.push(usize::try_from(v).map_err(|_| fail("a dimension is too large"))?),
            }
        }
        let known = out
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != infer)
            .try_fold(1usize, |acc, (_, &d)| acc.checked_mul(d))
            .ok_or_else(|| fail("the dimensions overflow"))?;
        let first_is_batch = first == Sym::BATCH
            || (first == Sym::int(0) && !allowzero)
            || (first.as_int().is_some() && first.as_int() == self.declared_batch);
        if first == Sym::int(-1) {
            if infer.is_some() {
                return Err(fail("more than one dimension is -1"));
            }
            if known != count {
                return Err(fail(&format!(
                    "with -1 first, the other dimensions must hold one sample ({count} values), \
                     they hold {known}; the batch dimension would be mixed with the others"
                )));
            }
        } else if !first_is_batch {
            let why = match self.declared_batch {
                Some(b) => format!(
                    "the first dimension {first} is not the batch (N, 0, -1 or the exported batch size {b})"
                ),
                None => format!("the first dimension {first} is not the batch (N, 0 or -1)"),
            };
            return Err(fail(&why));
        } else if let Some(i) = infer {
            if known == 0 || count % known != 0 {
                return Err(fail(&format!(
                    "{count} values per sample do not divide into dimensions of {known}"
                )));
            }
            out[i] = count / known;
        } else if known != count {
            return Err(fail(&format!(
                "one sample has {count} values, the target {known}"
            )));
        }
        Ok(out)
    }

    fn flatten(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let attr = ctx.int("axis", 1)?;
        match data {
            Val::Runtime(id) => {
                // ONNX Flatten is always 2-D, [d0 * .. * d(axis-1), rest]: only axis 1 keeps
                // the batch dimension apart.
                let r = self.rank(id) as i64;
                let axis = if attr < 0 { attr + r } else { attr };
                if axis != 1 {
                    return Err(ctx.err(format!(
                        "axis {attr} of a rank-{r} input would merge the batch dimension with \
                         others (the output is 2-D); nnlens flattens with axis 1"
                    )));
                }
                self.push(ctx, Op::Flatten(Flatten { axis: 1 }), &[id])
            }
            Val::Float(a) => {
                let shape = flat2(ctx, a.shape(), attr)?;
                self.bind(
                    ctx,
                    Val::float(fold::reshape(&a, &shape).map_err(|e| ctx.err(e))?),
                )
            }
            Val::Int(a) => {
                let shape = flat2(ctx, a.shape(), attr)?;
                self.bind(
                    ctx,
                    Val::int(fold::reshape(&a, &shape).map_err(|e| ctx.err(e))?),
                )
            }
        }
    }

    fn transpose(&mut self, ctx: &NodeCtx) -> Result<()> {
        let data = self.required(ctx, 0)?;
        let rank = match &data {
            Val::Runtime(id) => self.rank(*id),
            Val::Float(a) => a.ndim(),
            Val::Int(a) => a.ndim(),
        };
        let perm: Vec<usize> = match ctx.ints("perm")? {
            Some(p) => p
                .iter()
                .map(|&v| {
                    usize::try_from(v)
                        .map_err(|_| ctx.err(format!("perm {p:?} has a negative entry")))
                })
                .collect::<Result<_>>()?,
            None => (0..rank).rev().collect(),
        };
        fold::check_perm(&perm, rank).map_err(|e| ctx.err(e))?;
        match data {
            Val::Runtime(id) => {
                if perm[0] != 0 {
                    return Err(ctx.err(format!(
                        "perm {perm:?} moves the batch dimension; nnlens keeps it first (perm[0] = 0)"
                    )));
                }
                self.push(ctx, Op::Transpose(Transpose { perm }), &[id])
            }
            Val::Float(a) => self.bind(
                ctx,
                Val::float(fold::transpose(&a, &perm).map_err(|e| ctx.err(e))?),
            ),
            Val::Int(a) => self.bind(
                ctx,
                Val::int(fold::transpose(&a, &perm).map_err(|e| ctx.err(e))?),
            ),
        }
    }

    fn binary(&mut self, ctx: &NodeCtx, kind: BinaryKind) -> Result<()> {
        let a = self.required(ctx, 0)?;
        let b = self.required(ctx, 1)?;
        let constant = |v: Val, side: Side| -> Result<Op> {
            self.spend(ctx, v.bytes())?;
            let c = to_float(v).map_err(|m| ctx.err(format!("the constant operand {m}")))?;
            Ok(Op::Binary(Binary {
                kind,
                constant: Some((c, side)),
            }))
        };
        match (a, b) {
            (Val::Runtime(x), Val::Runtime(y)) => self.push(
                ctx,
                Op::Binary(Binary {
                    kind,
                    constant: None,
                }),
                &[x, y],
            ),
            (Val::Runtime(x), c) => {
                let op = constant(c, Side::Right)?;
                self.push(ctx, op, &[x])
            }
            (c, Val::Runtime(y)) => {
                let op = constant(c, Side::Left)?;
                self.push(ctx, op, &[y])
            }
            (Val::Int(x), Val::Int(y)) => {
                let f = match kind {
                    BinaryKind::Add => Sym::add,
                    BinaryKind::Sub => Sym::sub,
                    BinaryKind::Mul => Sym::mul,
                    BinaryKind::Div => Sym::div,
                };
                let v = fold::broadcast_with(&x, &y, f).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::int(v))
            }
            (x, y) => {
                let x = to_float(x).map_err(|m| ctx.err(format!("input 0 {m}")))?;
                let y = to_float(y).map_err(|m| ctx.err(format!("input 1 {m}")))?;
                let v = fold::broadcast_with(&x, &y, |p, q| {
                    Ok(match kind {
                        BinaryKind::Add => p + q,
                        BinaryKind::Sub => p - q,
                        BinaryKind::Mul => p * q,
                        BinaryKind::Div => p / q,
                    })
                })
                .map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::float(v))
            }
        }
    }

    fn gemm(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        if self.rank(x) != 2 {
            return Err(ctx.err(format!(
                "input A has shape [N, {:?}]; Gemm takes a 2-D input",
                self.sample_shape(x)
            )));
        }
        if ctx.bool("transA", false)? {
            return Err(
                ctx.err("transA=1 would transpose the batch dimension away; nnlens needs transA=0")
            );
        }
        let b = match self.required(ctx, 1)? {
            Val::Runtime(_) => return Err(ctx.err(
                "input B is computed at run time; nnlens maps Gemm with a constant weight B only",
            )),
            v => {
                self.spend(ctx, v.bytes())?;
                to_float(v).map_err(|m| ctx.err(format!("input B {m}")))?
            }
        };
        if b.ndim() != 2 {
            return Err(ctx.err(format!("weight B has shape {:?}, expected 2-D", b.shape())));
        }
        let alpha = ctx.float("alpha", 1.0)?;
        let beta = ctx.float("beta", 1.0)?;
        // Dense wants [out, in]: B is [K, M] unless transB, when it already is [M, K].
        let w = if ctx.bool("transB", false)? {
            b
        } else {
            fold::transpose(&b, &[1, 0]).map_err(|e| ctx.err(e))?
        };
        let w = if alpha == 1.0 {
            w
        } else {
            fold::map(&w, &|v| alpha * v).map_err(|e| ctx.err(e))?
        };
        let out = w.shape()[0];
        let bias = match self.float_const(ctx, 2, "bias C")? {
            None => None,
            Some(c) => {
                let ok = c.len() == out && (c.ndim() == 1 || (c.ndim() == 2 && c.shape()[0] == 1));
                let scalar = c.len() == 1 && c.ndim() <= 2;
                if !ok && !scalar {
                    return Err(ctx.err(format!(
                        "bias C has shape {:?}; nnlens needs one bias per output ([{out}], [1, {out}] or a scalar)",
                        c.shape()
                    )));
                }
                let values: Vec<f32> = if ok {
                    c.iter().map(|&v| beta * v).collect()
                } else {
                    vec![beta * c.iter().next().copied().unwrap_or(0.0); out]
                };
                Some(ArrayD::from_shape_vec(IxDyn(&[out]), values).map_err(|e| ctx.err(e))?)
            }
        };
        let dense = Dense::new(w, bias).map_err(|e| ctx.err(e))?;
        self.push(ctx, Op::Dense(dense), &[x])
    }

    fn matmul(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let b = match self.required(ctx, 1)? {
            Val::Runtime(y) => return self.push(ctx, Op::MatMul(MatMul), &[x, y]),
            v => {
                self.spend(ctx, v.bytes())?;
                to_float(v).map_err(|m| ctx.err(format!("input B {m}")))?
            }
        };
        if b.ndim() != 2 {
            return Err(ctx.err(format!(
                "weight B has shape {:?}; nnlens maps a 2-D [in, out] weight only",
                b.shape()
            )));
        }
        let w = fold::transpose(&b, &[1, 0]).map_err(|e| ctx.err(e))?;
        let dense = Dense::new(w, None).map_err(|e| ctx.err(e))?;
        self.push(ctx, Op::Dense(dense), &[x])
    }

    /// The `[top, left, bottom, right]` padding from `pads` / `auto_pad` for a 2-D window.
    fn window_padding(
        &self,
        ctx: &NodeCtx,
        input: &[usize],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<[usize; 4]> {
        let auto = ctx.string("auto_pad", "NOTSET")?;
        match auto.as_str() {
            "NOTSET" => {
                let pads = ctx.ints("pads")?.unwrap_or_else(|| vec![0; 4]);
                if pads.len() != 4 {
                    return Err(ctx.err(format!(
                        "pads {pads:?} must have 4 entries for a 2-D window"
                    )));
                }
                let p = ctx.usizes("pads", &pads, 0)?;
                Ok([p[0], p[1], p[2], p[3]])
            }
            "VALID" => Ok([0; 4]),
            "SAME_UPPER" | "SAME_LOWER" => {
                let mut pads = [0; 4];
                for i in 0..2 {
                    let size = input[input.len() - 2 + i];
                    let out = size.div_ceil(stride[i]);
                    let span = kernel[i]
                        .checked_sub(1)
                        .and_then(|k| k.checked_mul(dilation[i]))
                        .and_then(|s| s.checked_add(1))
                        .and_then(|s| out.saturating_sub(1).checked_mul(stride[i]).and_then(|o| o.checked_add(s)))
                        .ok_or_else(|| {
                            ctx.err(format!(
                                "cannot pad for kernel {kernel:?}, strides {stride:?}, dilations {dilation:?}"
                            ))
                        })?;
                    let total = span.saturating_sub(size);
                    let small = total / 2;
                    let (begin, end) = if auto == "SAME_UPPER" {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                    pads[i] = begin;
                    pads[i + 2] = end;
                }
                Ok(pads)
            }
            other => Err(ctx.err(format!(
                "auto_pad '{other}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER"
            ))),
        }
    }

    fn pair(&self, ctx: &NodeCtx, name: &str, default: usize) -> Result<[usize; 2]> {
        match ctx.ints(name)? {
            None => Ok([default; 2]),
            Some(v) if v.len() == 2 => {
                let v = ctx.usizes(name, &v, 1)?;
                Ok([v[0], v[1]])
            }
            Some(v) => Err(ctx.err(format!("{name} {v:?} must have 2 entries for a 2-D window"))),
        }
    }

    fn spatial_input(&self, ctx: &NodeCtx) -> Result<(ValueId, Vec<usize>)> {
        let x = self.runtime(ctx, 0)?;
        let sample = self.sample_shape(x);
        if sample.len() != 3 {
            return Err(ctx.err(format!(
                "input has shape [N, {}]; nnlens supports 2-D {} over [N, C, H, W] inputs only",
                sample
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                ctx.op
            )));
        }
        Ok((x, sample))
    }

    fn conv(&mut self, ctx: &NodeCtx) -> Result<()> {
        let (x, sample) = self.spatial_input(ctx)?;
        let weight = match self.required(ctx, 1)? {
            Val::Runtime(_) => {
                return Err(
                    ctx.err("the weight is computed at run time; nnlens needs a constant weight")
                )
            }
            v => {
                self.spend(ctx, v.bytes())?;
                to_float(v).map_err(|m| ctx.err(format!("weight {m}")))?
            }
        };
        if weight.ndim() != 4 {
            return Err(ctx.err(format!(
                "weight has shape {:?}, expected [M, C/group, kH, kW]",
                weight.shape()
            )));
        }
        let kernel = [weight.shape()[2], weight.shape()[3]];
        if let Some(k) = ctx.ints("kernel_shape")? {
            if k.len() != 2 || k[0] != kernel[0] as i64 || k[1] != kernel[1] as i64 {
                return Err(ctx.err(format!(
                    "kernel_shape {k:?} does not match the weight shape {:?}",
                    weight.shape()
                )));
            }
        }
        let bias = self.float_const(ctx, 2, "bias")?;
        let stride = self.pair(ctx, "strides", 1)?;
        let dilation = self.pair(ctx, "dilations", 1)?;
        let groups = ctx.usizes("group", &[ctx.int("group", 1)?], 1)?[0];
        let padding = self.window_padding(ctx, &sample, kernel, stride, dilation)?;
        let op = Conv2d {
            weight,
            bias,
            stride,
            padding,
            dilation,
            groups,
        };
        self.push(ctx, Op::Conv2d(op), &[x])
    }

    fn pool(&mut self, ctx: &NodeCtx) -> Result<()> {
        let (x, sample) = self.spatial_input(ctx)?;
        let k = ctx
            .ints("kernel_shape")?
            .ok_or_else(|| ctx.err("attribute 'kernel_shape' is missing"))?;
        if k.len() != 2 {
            return Err(ctx.err(format!(
                "kernel_shape {k:?} must have 2 entries for a 2-D window"
            )));
        }
        let k = ctx.usizes("kernel_shape", &k, 1)?;
        let kernel = [k[0], k[1]];
        let stride = self.pair(ctx, "strides", 1)?;
        if self.pair(ctx, "dilations", 1)? != [1, 1] {
            return Err(ctx.err("dilated pooling is not supported (dilations must be [1, 1])"));
        }
        let padding = self.window_padding(ctx, &sample, kernel, stride, [1, 1])?;
        let ceil_mode = ctx.bool("ceil_mode", false)?;
        let op = if ctx.op == "MaxPool" {
            if ctx.int("storage_order", 0)? != 0
                && ctx.node.output.get(1).is_some_and(|o| !o.is_empty())
            {
                return Err(ctx.err("column-major indices (storage_order=1) are not supported"));
            }
            Op::MaxPool2d(MaxPool2d {
                kernel,
                stride,
                padding,
                ceil_mode,
            })
        } else {
            let count_include_pad = ctx.bool("count_include_pad", false)?;
            Op::AvgPool2d(AvgPool2d {
                kernel,
                stride,
                padding,
                ceil_mode,
                count_include_pad,
            })
        };
        self.push(ctx, op, &[x])
    }

    fn batch_norm(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        if ctx.bool("training_mode", false)? {
            return Err(
                ctx.err("training_mode=1 is not supported; export the model in eval() mode")
            );
        }
        let channels = self.sample_shape(x).first().copied().unwrap_or(0);
        let mut params = Vec::with_capacity(4);
        for (i, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "var")] {
            let p = self
                .float_const(ctx, i, what)?
                .ok_or_else(|| ctx.err(format!("input {what} is missing")))?;
            if p.shape() != [channels] {
                return Err(ctx.err(format!(
                    "{what} has shape {:?}, expected [{channels}] (one value per channel of the input [N, {channels}, ...])",
                    p.shape()
                )));
            }
            params.push(p);
        }
        let epsilon = ctx.float("epsilon", 1e-5)?;
        let [scale, bias, mean, var]: [Tensor; 4] = params
            .try_into()
            .map_err(|_| ctx.err("expected four parameters"))?;
        self.push(
            ctx,
            Op::BatchNorm(BatchNorm {
                scale,
                bias,
                mean,
                var,
                epsilon,
            }),
            &[x],
        )
    }

    fn activation(&mut self, ctx: &NodeCtx, act: Activation) -> Result<()> {
        match self.required(ctx, 0)? {
            Val::Runtime(x) => self.push(ctx, Op::Activation(act), &[x]),
            Val::Float(a) => {
                let applied = fold::map(&a, &|v| act.apply(v)).map_err(|e| ctx.err(e))?;
                self.bind(ctx, Val::float(applied))
            }
            Val::Int(_) => Err(ctx.err("input is an integer constant; expected floats")),
        }
    }

    fn clip(&mut self, ctx: &NodeCtx) -> Result<()> {
        let bound = |i: usize, attr: &str, default: f32| -> Result<f32> {
            if let Some(a) = ctx.typed(attr, AttributeType::Float)? {
                return Ok(a.f.unwrap_or(default));
            }
            match self.float_const(ctx, i, attr)? {
                None => Ok(default),
                Some(c) if c.len() == 1 => Ok(c.iter().next().copied().unwrap_or(default)),
                Some(c) => Err(ctx.err(format!(
                    "{attr} has shape {:?}, expected a scalar",
                    c.shape()
                ))),
            }
        };
        // An absent bound is the ONNX default, the lowest / largest finite f32.
        let min = bound(1, "min", f32::MIN)?;
        let max = bound(2, "max", f32::MAX)?;
        self.activation(ctx, Activation::Clip { min, max })
    }

    fn softmax(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let rank = self.rank(x);
        let legacy = self.opset < 13;
        let raw = ctx.int("axis", if legacy { 1 } else { -1 })?;
        let axis = fold::axis(raw, rank, "axis").map_err(|e| ctx.err(e))?;
        if legacy && axis + 1 < rank {
            // Opset < 13 normalises over all axes from `axis` on; that equals a softmax along
            // `axis` only when the later axes have size 1.
            let sample = self.sample_shape(x);
            if sample[axis..].iter().any(|&d| d != 1) {
                return Err(ctx.err(format!(
                    "opset {} {} over axes {axis}.. of a rank-{rank} input (flattened) is not \
                     supported; export with opset 13 or newer, or apply it to the last axis",
                    self.opset, ctx.op
                )));
            }
        }
        let log = ctx.op == "LogSoftmax";
        self.push(ctx, Op::Softmax(Softmax { axis, log }), &[x])
    }

    fn dropout(&mut self, ctx: &NodeCtx) -> Result<()> {
        if let Some(training) = self.int_const(ctx, 2, "training_mode")? {
            if training.iter().any(|&t| t != 0) {
                return Err(ctx.err("training_mode is true; export the model in eval() mode"));
            }
        }
        let rate = match self.float_const(ctx, 1, "ratio")? {
            Some(r) if r.len() == 1 => r.iter().next().copied().unwrap_or(0.5),
            Some(r) => {
                return Err(ctx.err(format!(
                    "ratio has shape {:?}, expected a scalar",
                    r.shape()
                )))
            }
            None => ctx.float("ratio", 0.5)?,
        };
        match self.required(ctx, 0)? {
            Val::Runtime(x) => self.push(ctx, Op::Dropout(Dropout { rate }), &[x]),
            v => self.alias(ctx, v),
        }
    }

    fn reduce_mean(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let rank = self.rank(x);
        let keepdims = ctx.bool("keepdims", true)?;
        let axes = match self.axes_list(ctx, 1)? {
            Some(a) if !a.is_empty() => fold::axes(&a, rank, "axis").map_err(|e| ctx.err(e))?,
            _ => {
                if ctx.bool("noop_with_empty_axes", false)? {
                    return self.bind(ctx, Val::Runtime(x));
                }
                (0..rank).collect()
            }
        };
        if axes.contains(&0) {
            return Err(ctx.err(format!(
                "reduces over the batch dimension (axes {axes:?}); nnlens keeps samples independent"
            )));
        }
        self.push(ctx, Op::ReduceMean(ReduceMean { axes, keepdims }), &[x])
    }

    fn pad(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let rank = self.rank(x);
        let mode = ctx.string("mode", "constant")?;
        let (raw, value) = match ctx.ints("pads")? {
            // Opset < 11: pads and value are attributes.
            Some(p) => (p, ctx.float("value", 0.0)?),
            None => {
                let pads = self
                    .int_const(ctx, 1, "pads")?
                    .ok_or_else(|| ctx.err("input 'pads' is missing"))?;
                let value = match self.float_const(ctx, 2, "constant_value")? {
                    None => 0.0,
                    Some(v) if v.len() == 1 => v.iter().next().copied().unwrap_or(0.0),
                    Some(v) => {
                        return Err(ctx.err(format!(
                            "constant_value has shape {:?}, expected a scalar",
                            v.shape()
                        )))
                    }
                };
                (pads, value)
            }
        };
        let axes = match self.int_const(ctx, 3, "axes")? {
            Some(a) => a
                .iter()
                .map(|&v| fold::axis(v, rank, "axis"))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| ctx.err(e))?,
            None => (0..rank).collect(),
        };
        if raw.len() != 2 * axes.len() {
            return Err(ctx.err(format!(
                "pads {raw:?} must have {} entries (begin and end for each of {} axes)",
                2 * axes.len(),
                axes.len()
            )));
        }
        let given = ctx.usizes("pads", &raw, 0)?;
        let mut pads = vec![0; 2 * rank];
        let mut seen = vec![false; rank];
        for (k, &a) in axes.iter().enumerate() {
            if std::mem::replace(&mut seen[a], true) {
                return Err(ctx.err(format!("axes {axes:?} name axis {a} twice")));
            }
            pads[a] = given[k];
            pads[rank + a] = given[axes.len() + k];
        }
        if pads[0] != 0 || pads[rank] != 0 {
            return Err(ctx.err(format!(
                "pads {raw:?} pad the batch dimension; nnlens pads within samples only"
            )));
        }
        let mode = match mode.as_str() {
            "constant" => PadMode::Constant(value),
            "reflect" => PadMode::Reflect,
            "edge" => PadMode::Edge,
            other => {
                return Err(ctx.err(format!(
                    "mode '{other}' is not supported (constant, reflect or edge)"
                )))
            }
        };
        self.push(ctx, Op::Pad(Pad { pads, mode }), &[x])
    }
}

/// Fails unless the node is a default-domain op of [`SUPPORTED_OPS`].
fn check_supported(ctx: &NodeCtx) -> Result<()> {
    let domain = ctx.node.domain();
    if !matches!(domain, "" | "ai.onnx") {
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

/// A full shape with batch 1 in front, for shape arithmetic on run-time values.
fn with_batch_placeholder(sample: &[usize]) -> Vec<usize> {
    crate::tensor::with_batch(1, sample)
}

fn shape_text(data: &Val, shape: &[usize]) -> String {
    match data {
        Val::Runtime(_) => format!(
            "[N, {}]",
            shape[1..]
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("{shape:?}"),
    }
}

/// A constant as floats; integer constants are converted when they do not depend on the batch.
fn to_float(v: Val) -> std::result::Result<ArrayD<f32>, String> {
    match v {
        Val::Float(a) => Ok(Rc::unwrap_or_clone(a)),
        Val::Int(a) => {
            let data = a
                .iter()
                .map(|s| s.as_int().map(|v| v as f32))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    "depends on the batch size and cannot be used as a float constant".to_string()
                })?;
            ArrayD::from_shape_vec(a.raw_dim(), data).map_err(|e| e.to_string())
        }
        Val::Runtime(_) => Err("is computed at run time, a constant is needed".to_string()),
    }
}

/// Resolves a reshape target for a constant (no batch symbol allowed).
fn const_target(
    ctx: &NodeCtx,
    shape: &[usize],
    target: &[Sym],
    allowzero: bool,
) -> Result<Vec<usize>> {
    let count: usize = shape.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, s) in target.iter().enumerate() {
        let v = s.as_int().ok_or_else(|| {
            ctx.err(format!(
                "a constant cannot be reshaped to a batch-dependent size {s}"
            ))
        })?;
        match v {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*shape.get(i).ok_or_else(|| {
                ctx.err(format!(
                    "target dimension {i} is 0 (copy) beyond the input rank"
                ))
            })?),
            v if v < 0 => return Err(ctx.err(format!("invalid target dimension {v} at {i}"))),
            v => out.push(usize::try_from(v).map_err(|_| ctx.err("target dimension too large"))?),
        }
    }
    if let Some(i) = infer {
        let known = out
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .try_fold(1usize, |acc, (_, &d)| acc.checked_mul(d))
            .ok_or_else(|| ctx.err("target dimensions overflow"))?;
        if known == 0 || count % known != 0 {
            return Err(ctx.err(format!("cannot reshape {count} values to {target:?}")));
        }
        out[i] = count / known;
    }
    Ok(out)
}

/// `Flatten` of a constant to 2-D at `axis`.
fn flat2(ctx: &NodeCtx, shape: &[usize], axis: i64) -> Result<Vec<usize>> {
    let r = shape.len() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a > r {
        return Err(ctx.err(format!("axis {axis} is out of range for rank {r}")));
    }
    let a = a as usize;
    Ok(vec![
        shape[..a].iter().product(),
        shape[a..].iter().product(),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::data::{float_tensor, int_tensor};
    use super::super::export::{attr_float, attr_int, attr_ints, attr_string, node, value_info};
    use super::super::from_onnx;
    use super::super::proto::{
        tensor_shape_proto, OperatorSetIdProto, TensorProto, ValueInfoProto,
    };
    use super::*;
    use crate::tensor::limits;

    /// A model with input `x` of `[batch, ...sample]` (batch `None`: symbolic) and output `y`.
    fn model_with(
        nodes: Vec<NodeProto>,
        inits: Vec<TensorProto>,
        sample: &[usize],
        batch: Option<i64>,
        opset: i64,
    ) -> Vec<u8> {
        let mut input = value_info("x", sample);
        if let (Some(b), Some(type_proto::Value::TensorType(t))) =
            (batch, input.r#type.as_mut().and_then(|t| t.value.as_mut()))
        {
            if let Some(shape) = t.shape.as_mut() {
                shape.dim[0].value = Some(tensor_shape_proto::dimension::Value::DimValue(b));
            }
        }
        ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(opset),
            }],
            graph: Some(GraphProto {
                node: nodes,
                initializer: inits,
                input: vec![input],
                output: vec![ValueInfoProto {
                    name: Some("y".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn model(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, sample: &[usize]) -> Vec<u8> {
        model_with(nodes, inits, sample, None, 17)
    }

    fn n(
        op: &str,
        name: &str,
        inputs: &[&str],
        out: &str,
        attrs: Vec<AttributeProto>,
    ) -> NodeProto {
        node(
            op,
            name,
            inputs.iter().map(|s| s.to_string()).collect(),
            out,
            attrs,
        )
    }

    fn err(bytes: &[u8]) -> String {
        from_onnx(bytes).unwrap_err().to_string()
    }

    fn run(g: &Graph, batch: usize) -> Tensor {
        let len = batch * g.input_shape().iter().product::<usize>();
        let data = (0..len).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
        g.forward(g.input_tensor(data, batch).unwrap()).unwrap()
    }

    #[test]
    fn unsupported_op_names_the_op_the_node_and_the_supported_list() {
        let e = err(&model(
            vec![n("LSTM", "rnn", &["x"], "y", vec![])],
            vec![],
            &[4],
        ));
        assert!(
            e.contains("node 0 'rnn' (LSTM)") && e.contains("unsupported op type 'LSTM'"),
            "{e}"
        );
        assert!(e.contains("Conv, Div") && e.contains("Unsqueeze"), "{e}");
        let mut custom = n("FusedConv", "", &["x"], "y", vec![]);
        custom.domain = Some("com.microsoft".into());
        let e = err(&model(vec![custom], vec![], &[4]));
        assert!(
            e.contains("'y' (FusedConv)") && e.contains("domain 'com.microsoft'"),
            "{e}"
        );
    }

    #[test]
    fn names_come_from_nodes_or_outputs_and_are_unique() {
        let nodes = vec![
            n("Relu", "act", &["x"], "a", vec![]),
            n("Sigmoid", "", &["a"], "b", vec![]),
            n("Tanh", "act", &["b"], "y", vec![]),
        ];
        let g = from_onnx(&model(nodes, vec![], &[3])).unwrap();
        let layers: Vec<(String, String)> =
            g.layers().into_iter().map(|l| (l.name, l.op)).collect();
        let expect = [("act", "Relu"), ("b", "Sigmoid"), ("act_1", "Tanh")];
        assert_eq!(layers, expect.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    #[test]
    fn input_shapes_must_be_static_after_the_batch() {
        let mut bytes_model = ModelProto::decode(
            model(vec![n("Relu", "r", &["x"], "y", vec![])], vec![], &[3, 4]).as_slice(),
        )
        .unwrap();
        if let Some(type_proto::Value::TensorType(t)) = bytes_model.graph.as_mut().unwrap().input[0]
            .r#type
            .as_mut()
            .and_then(|t| t.value.as_mut())
        {
            t.shape.as_mut().unwrap().dim[2].value =
                Some(tensor_shape_proto::dimension::Value::DimParam("W".into()));
        }
        let e = err(&bytes_model.encode_to_vec());
        assert!(
            e.contains("dimension 2 of graph input 'x' is the symbol 'W'"),
            "{e}"
        );
        let e = err(&model(
            vec![n("Relu", "r", &["x"], "y", vec![])],
            vec![],
            &[limits::MAX_ELEMENTS, 2],
        ));
        assert!(e.contains("more than the limit"), "{e}");
    }

    #[test]
    fn fixed_batch_reshape_targets_run_at_any_batch() {
        let nodes = vec![n("Reshape", "r", &["x", "shape"], "y", vec![])];
        let bytes = model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[1, -1])],
            &[2, 3],
            Some(1),
            13,
        );
        let g = from_onnx(&bytes).unwrap();
        assert_eq!(g.output_shape(), &[6]);
        assert_eq!(run(&g, 4).shape(), &[4, 6]);
        // With a symbolic batch, a constant 1 in front is not the batch.
        let e = err(&model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[1, -1])],
            &[2, 3],
            None,
            13,
        ));
        assert!(
            e.contains("cannot reshape the input of shape [N, 2, 3] to [1, -1]")
                && e.contains("not the batch"),
            "{e}"
        );
        // -1 first must leave exactly one sample for the rest.
        let e = err(&model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[-1, 3])],
            &[2, 3],
            None,
            13,
        ));
        assert!(e.contains("mixed with the others"), "{e}");
        let g = from_onnx(&model_with(
            nodes.clone(),
            vec![int_tensor("shape", &[-1, 3, 2])],
            &[2, 3],
            None,
            13,
        ))
        .unwrap();
        assert_eq!(g.output_shape(), &[3, 2]);
        let g = from_onnx(&model_with(
            nodes,
            vec![int_tensor("shape", &[0, 0, -1, 1])],
            &[2, 3],
            None,
            13,
        ))
        .unwrap();
        assert_eq!(g.output_shape(), &[2, 3, 1]);
    }

    #[test]
    fn run_time_reshape_targets_are_refused() {
        let nodes = vec![
            n("Relu", "r", &["x"], "a", vec![]),
            n("Reshape", "bad", &["x", "a"], "y", vec![]),
        ];
        let e = err(&model(nodes, vec![], &[2]));
        assert!(
            e.contains("node 1 'bad' (Reshape)") && e.contains("known at import"),
            "{e}"
        );
    }

    #[test]
    fn ops_that_touch_the_batch_are_refused() {
        let cases: Vec<(NodeProto, Vec<TensorProto>, &str)> = vec![
            (
                n("Flatten", "f", &["x"], "y", vec![attr_int("axis", 2)]),
                vec![],
                "merge the batch",
            ),
            (
                n(
                    "Transpose",
                    "t",
                    &["x"],
                    "y",
                    vec![attr_ints("perm", &[1, 0, 2])],
                ),
                vec![],
                "moves the batch",
            ),
            (
                n("Concat", "c", &["x", "x"], "y", vec![attr_int("axis", 0)]),
                vec![],
                "along the batch",
            ),
            (
                n("ReduceMean", "m", &["x"], "y", vec![]),
                vec![],
                "over the batch",
            ),
            (
                n("Unsqueeze", "u", &["x", "ax"], "y", vec![]),
                vec![int_tensor("ax", &[0])],
                "inserts an axis before the batch",
            ),
            (
                n("Squeeze", "s", &["x", "ax"], "y", vec![]),
                vec![int_tensor("ax", &[1])],
                "cannot squeeze axis 1 of size 2",
            ),
            (
                n("Pad", "p", &["x", "pads"], "y", vec![]),
                vec![int_tensor("pads", &[1, 0, 0, 0, 0, 0])],
                "pad the batch",
            ),
            (
                n(
                    "Gelu",
                    "g",
                    &["x"],
                    "y",
                    vec![attr_string("approximate", "tanh")],
                ),
                vec![],
                "approximate='tanh'",
            ),
            (
                n("Relu", "r", &["nope"], "y", vec![]),
                vec![],
                "input 'nope' is not produced",
            ),
            (
                n("LeakyRelu", "l", &["x"], "y", vec![attr_int("alpha", 1)]),
                vec![],
                "attribute 'alpha' has type INT, expected FLOAT",
            ),
        ];
        for (node, inits, expect) in cases {
            let e = err(&model_with(vec![node], inits, &[2, 3], None, 13));
            assert!(e.contains(expect), "expected '{expect}' in: {e}");
        }
    }

    #[test]
    fn gemm_forms_and_errors() {
        let b = float_tensor("B", &[3, 2], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let c = float_tensor("C", &[2], [0.5, -0.5]);
        let gemm = |attrs| vec![n("Gemm", "fc", &["x", "B", "C"], "y", attrs)];
        let g = from_onnx(&model(
            gemm(vec![attr_float("alpha", 2.0), attr_float("beta", 3.0)]),
            vec![b.clone(), c.clone()],
            &[3],
        ))
        .unwrap();
        let x = g.input_tensor(vec![1.0, 0.0, -1.0], 1).unwrap();
        // alpha * [1, 0, -1] B = 2 * [-4, -4]; beta * C = [1.5, -1.5].
        assert_eq!(g.forward(x).unwrap().as_slice().unwrap(), &[-6.5, -9.5]);
        let e = err(&model(
            gemm(vec![attr_int("transA", 1)]),
            vec![b.clone(), c.clone()],
            &[3],
        ));
        assert!(e.contains("transA=1"), "{e}");
        let wide = float_tensor("C", &[2, 2], [0.0; 4]);
        let e = err(&model(gemm(vec![]), vec![b, wide], &[3]));
        assert!(e.contains("bias C has shape [2, 2]"), "{e}");
    }

    #[test]
    fn squeeze_without_axes_keeps_the_batch() {
        let nodes = vec![
            n(
                "Unsqueeze",
                "u",
                &["x"],
                "a",
                vec![attr_ints("axes", &[1, 3])],
            ),
            n("Squeeze", "s", &["a"], "y", vec![]),
        ];
        let g = from_onnx(&model_with(nodes, vec![], &[2], Some(1), 11)).unwrap();
        assert_eq!(g.output_shape(), &[2]);
        assert_eq!(run(&g, 1).shape(), &[1, 2]);
    }

    #[test]
    fn graph_inputs_and_outputs_are_checked() {
        let e = err(&model(
            vec![n("Relu", "r", &["x"], "z", vec![])],
            vec![],
            &[2],
        ));
        assert!(e.contains("the graph output 'y' is not produced"), "{e}");
        let e = err(&model(
            vec![n(
                "Constant",
                "c",
                &[],
                "y",
                vec![attr_float("value_float", 1.0)],
            )],
            vec![],
            &[2],
        ));
        assert!(e.contains("does not depend on the input"), "{e}");
        let e = err(&model(
            vec![n("Relu", "r", &["x"], "x", vec![])],
            vec![],
            &[2],
        ));
        assert!(e.contains("output 'x' is already defined"), "{e}");
        let mut two = ModelProto::decode(model(vec![], vec![], &[2]).as_slice()).unwrap();
        let g = two.graph.as_mut().unwrap();
        g.input.push(value_info("x2", &[2]));
        let e = err(&two.encode_to_vec());
        assert!(e.contains("2 inputs ('x', 'x2')"), "{e}");
        let e = err(&model_with(
            vec![n("Relu", "r", &["x"], "y", vec![])],
            vec![],
            &[2],
            None,
            5,
        ));
        assert!(e.contains("opset 5"), "{e}");
        assert!(err(&[0xff, 0xff, 0xff]).contains("not a valid ONNX model"));
    }

    #[test]
    fn bad_initializers_fail_before_allocation() {
        let mut raw = float_tensor("B", &[3, 2], [0.0; 6]);
        raw.raw_data.as_mut().unwrap().truncate(20);
        let nodes = vec![n("MatMul", "m", &["x", "B"], "y", vec![])];
        let e = err(&model(nodes.clone(), vec![raw], &[3]));
        assert!(
            e.contains("initializer 'B': raw_data has 20 bytes but dims [3, 2]")
                && e.contains("need 24"),
            "{e}"
        );
        let mut huge = float_tensor("B", &[], []);
        huge.dims = vec![1 << 20, 1 << 20];
        assert!(matches!(
            from_onnx(&model(nodes.clone(), vec![huge], &[3])),
            Err(Error::TooLarge { .. })
        ));
        let mut overflow = float_tensor("B", &[], []);
        overflow.dims = vec![i64::MAX, i64::MAX];
        assert!(err(&model(nodes, vec![overflow], &[3])).contains("more than usize::MAX"));
    }

    #[test]
    fn constants_fold_through_shape_plumbing() {
        // y = x * (Gather(Concat(c, c), [1]) cast to float) computed entirely at import.
        let nodes = vec![
            n(
                "Constant",
                "c",
                &[],
                "c",
                vec![attr_ints("value_ints", &[2, 3])],
            ),
            n(
                "Concat",
                "cat",
                &["c", "c"],
                "cc",
                vec![attr_int("axis", 0)],
            ),
            n(
                "Gather",
                "g",
                &["cc", "idx"],
                "k",
                vec![attr_int("axis", 0)],
            ),
            n(
                "Cast",
                "f",
                &["k"],
                "kf",
                vec![attr_int("to", DataType::Float as i64)],
            ),
            n("Mul", "scale", &["x", "kf"], "y", vec![]),
        ];
        let g = from_onnx(&model(nodes, vec![int_tensor("idx", &[-1])], &[2])).unwrap();
        assert_eq!(g.layers().len(), 1, "only the Mul is a graph node");
        let x = g.input_tensor(vec![1.0, 2.0], 1).unwrap();
        assert_eq!(g.forward(x).unwrap().as_slice().unwrap(), &[3.0, 6.0]);
    }
}

#[cfg(test)]
mod op_list_tests {
    use super::*;

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
}

#[cfg(test)]
mod hardening_tests {
    use super::super::data::{float_tensor, int_tensor};
    use super::super::export::{attr_int, attr_string, node, value_info};
    use super::super::from_onnx;
    use super::super::proto::{OperatorSetIdProto, TensorProto, ValueInfoProto};
    use super::*;

    fn model(
        nodes: Vec<NodeProto>,
        inits: Vec<TensorProto>,
        sample: &[usize],
        opset: i64,
    ) -> Vec<u8> {
        ModelProto {
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(opset),
            }],
            graph: Some(GraphProto {
                node: nodes,
                initializer: inits,
                input: vec![value_info("x", sample)],
                output: vec![ValueInfoProto {
                    name: Some("y".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn n(op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
        node(
            op,
            op,
            inputs.iter().map(|s| s.to_string()).collect(),
            "y",
            attrs,
        )
    }

    /// Sharing one weight between many layers copies it each time and is counted; aliasing it
    /// through Identity nodes is free.
    #[test]
    fn materialised_constants_are_budgeted() {
        let w = float_tensor("W", &[64, 64], vec![0.01; 64 * 64]);
        let chain: Vec<NodeProto> = (0..100)
            .map(|i| {
                let input = if i == 0 {
                    "x".to_string()
                } else {
                    format!("h{}", i - 1)
                };
                let out = if i == 99 {
                    "y".to_string()
                } else {
                    format!("h{i}")
                };
                node(
                    "MatMul",
                    &format!("m{i}"),
                    vec![input, "W".into()],
                    &out,
                    vec![],
                )
            })
            .collect();
        let bytes = model(chain, vec![w.clone()], &[64], 13);
        let e = import_with_budget(&bytes, 1 << 20).unwrap_err().to_string();
        assert!(
            e.contains("node 64 'm64' (MatMul)") && e.contains("more than 1048576 bytes"),
            "{e}"
        );
        assert_eq!(
            import_with_budget(&bytes, 2 << 20).unwrap().nodes().len(),
            100
        );
        let mut aliases: Vec<NodeProto> = (0..1000)
            .map(|i| {
                let input = if i == 0 {
                    "W".to_string()
                } else {
                    format!("w{}", i - 1)
                };
                node(
                    "Identity",
                    &format!("i{i}"),
                    vec![input],
                    &format!("w{i}"),
                    vec![],
                )
            })
            .collect();
        aliases.push(node(
            "MatMul",
            "m",
            vec!["x".into(), "w999".into()],
            "y",
            vec![],
        ));
        let g = import_with_budget(&model(aliases, vec![w], &[64], 13), 1 << 20).unwrap();
        assert_eq!(g.nodes().len(), 1);
    }

    /// Hostile parameters that would overflow or underflow index arithmetic give errors.
    #[test]
    fn hostile_parameters_are_errors() {
        let empty_kernel = float_tensor("W", &[1, 1, 0, 3], []);
        let e = from_onnx(&model(
            vec![n(
                "Conv",
                &["x", "W"],
                vec![attr_string("auto_pad", "SAME_UPPER")],
            )],
            vec![empty_kernel],
            &[1, 4, 4],
            17,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot pad for kernel [0, 3]"), "{e}");
        let e = from_onnx(&model(
            vec![n("Pad", &["x", "p", "", "ax"], vec![])],
            vec![
                int_tensor("p", &[i64::MAX, i64::MAX, 0, 0]),
                int_tensor("ax", &[1, 1]),
            ],
            &[2, 2],
            18,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("name axis 1 twice"), "{e}");
        let e = from_onnx(&model(
            vec![n("Pad", &["x", "p"], vec![])],
            vec![int_tensor("p", &[0, i64::MAX, 0, 0])],
            &[2],
            13,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("overflows") || e.contains("more than"), "{e}");
        let e = from_onnx(&model(
            vec![
                n("Squeeze", &["c", "ax"], vec![]),
                n("Add", &["x", "y"], vec![]),
            ],
            vec![
                float_tensor("c", &[2, 1], [1.0, 2.0]),
                int_tensor("ax", &[0]),
            ],
            &[1],
            13,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot squeeze axis 0 of size 2"), "{e}");
        let e = from_onnx(&model(
            vec![n("Slice", &["s", "b", "e", "a", "st"], vec![])],
            vec![
                int_tensor("s", &[1, 2]),
                int_tensor("b", &[0]),
                int_tensor("e", &[2]),
                int_tensor("a", &[0]),
                int_tensor("st", &[0]),
            ],
            &[1],
            13,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("step must not be 0"), "{e}");
        let e = from_onnx(&model(
            vec![n("Softmax", &["x"], vec![attr_int("axis", i64::MIN)])],
            vec![],
            &[3],
            13,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("out of range"), "{e}");
    }
}
