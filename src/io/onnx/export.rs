//! [`Graph`] -> ONNX: one ONNX node per graph node (GELU, which opset 17 lacks, becomes its
//! erf decomposition; a dense layer over a rank > 2 input becomes `MatMul` + `Add`).
//!
//! The model has opset [`super::EXPORT_OPSET`], IR version 8, one input `"input"` and one
//! output `"output"`, both `FLOAT` with the symbolic batch dimension `"batch"`. Weights are
//! little-endian `raw_data` initializers; ONNX node names are the graph's layer names, so
//! importing the file again gives the same layer names.

mod indexing;

use super::data::{float_tensor, int_tensor};
use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use super::EXPORT_OPSET;
use crate::error::{Error, Result};
use crate::graph::ops::activation::{Activation, GELU_CUBIC, SQRT_2_OVER_PI};
use crate::graph::ops::elementwise::Side;
use crate::graph::ops::group_norm::GroupNorm;
use crate::graph::ops::resize::{Resize, ResizeMode};
use crate::graph::ops::shape::PadMode;
use crate::graph::ops::Op;
use crate::graph::{Graph, Node};
use crate::tensor::Tensor;
use prost::Message;
use std::collections::HashSet;

/// IR version matching opset 17.
const IR_VERSION: i64 = 8;
const INPUT: &str = "input";
const OUTPUT: &str = "output";

/// Builds the ONNX model bytes for `graph`.
pub fn export(graph: &Graph) -> Result<Vec<u8>> {
    let mut w = Writer {
        used: [INPUT, OUTPUT].iter().map(|s| s.to_string()).collect(),
        nodes: Vec::new(),
        initializers: Vec::new(),
    };
    let mut value_names = vec![INPUT.to_string()];
    for (i, node) in graph.nodes().iter().enumerate() {
        let out = if graph.output().0 == i + 1 {
            OUTPUT.to_string()
        } else {
            w.fresh(&node.name)
        };
        let inputs: Vec<String> = node
            .inputs
            .iter()
            .map(|v| value_names[v.0].clone())
            .collect();
        w.node(graph, node, &inputs, &out)
            .map_err(|e| e.at_node(&node.name, &node.label))?;
        value_names.push(out);
    }
    if graph.output().0 == 0 {
        w.nodes.push(node(
            "Identity",
            "identity",
            vec![INPUT.into()],
            OUTPUT,
            vec![],
        ));
    }
    let onnx_graph = GraphProto {
        name: Some("nnlens".into()),
        node: w.nodes,
        initializer: w.initializers,
        input: vec![value_info(INPUT, graph.input_shape())],
        output: vec![value_info(OUTPUT, graph.output_shape())],
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(EXPORT_OPSET),
        }],
        producer_name: Some("nnlens".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(onnx_graph),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

/// A `FLOAT` tensor type `[batch, ...sample]`.
pub(super) fn value_info(name: &str, sample: &[usize]) -> ValueInfoProto {
    use tensor_shape_proto::{dimension::Value, Dimension};
    let mut dim = vec![Dimension {
        value: Some(Value::DimParam("batch".into())),
        ..Default::default()
    }];
    dim.extend(sample.iter().map(|&d| Dimension {
        value: Some(Value::DimValue(d as i64)),
        ..Default::default()
    }));
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn node(
    op: &str,
    name: &str,
    input: Vec<String>,
    output: &str,
    attribute: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input,
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

// The attribute builders stay out of line: inlined, each of the ~20 call sites in
// `Writer::node` spelled out a whole `AttributeProto` (measured 20 KB of wasm for that function,
// `node benches/wasm-sizes.mjs`), on a path that runs once per exported node.
#[inline(never)]
fn attr(name: &str, ty: AttributeType) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(ty as i32),
        ..Default::default()
    }
}

#[inline(never)]
pub(super) fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: Some(v),
        ..attr(name, AttributeType::Int)
    }
}

#[inline(never)]
pub(super) fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        f: Some(v),
        ..attr(name, AttributeType::Float)
    }
}

#[inline(never)]
pub(super) fn attr_ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        ints: v.iter().map(|&x| x as i64).collect(),
        ..attr(name, AttributeType::Ints)
    }
}

#[inline(never)]
pub(super) fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: Some(v.as_bytes().to_vec()),
        ..attr(name, AttributeType::String)
    }
}

struct Writer {
    used: HashSet<String>,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Writer {
    /// One step of an activation written as several ONNX nodes: `op` of `input`, as a node
    /// and output named `{name}/{op in lower case}`; returns the output's name.
    fn unary_step(&mut self, name: &str, op: &str, input: String) -> String {
        let step = format!("{name}/{}", op.to_lowercase());
        let out = self.fresh(&step);
        self.push(op, &step, vec![input], &out, vec![]);
        out
    }

    /// A tensor name not used yet, `base` when possible.
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 1;
        while self.used.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.used.insert(name.clone());
        name
    }

    fn float_init(&mut self, base: &str, t: &Tensor) -> String {
        let name = self.fresh(base);
        self.initializers
            .push(float_tensor(&name, t.shape(), t.iter().copied()));
        name
    }

    fn scalar_init(&mut self, base: &str, v: f32) -> String {
        let name = self.fresh(base);
        self.initializers.push(float_tensor(&name, &[], [v]));
        name
    }

    fn int_init(&mut self, base: &str, v: &[i64]) -> String {
        let name = self.fresh(base);
        self.initializers.push(int_tensor(&name, v));
        name
    }

    fn push(
        &mut self,
        op: &str,
        name: &str,
        input: Vec<String>,
        output: &str,
        attrs: Vec<AttributeProto>,
    ) {
        self.nodes.push(node(op, name, input, output, attrs));
    }

    fn node(&mut self, graph: &Graph, n: &Node, inputs: &[String], out: &str) -> Result<()> {
        let name = n.name.as_str();
        let x = || inputs[0].clone();
        match &n.op {
            Op::Dense(d) => {
                let rank = graph.value_shape(n.inputs[0]).len() + 1;
                if rank == 2 {
                    let mut ins = vec![x(), self.float_init(&format!("{name}.weight"), d.weight())];
                    if let Some(b) = d.bias() {
                        ins.push(self.float_init(&format!("{name}.bias"), b));
                    }
                    self.push("Gemm", name, ins, out, vec![attr_int("transB", 1)]);
                } else {
                    // MatMul takes the weight as [in, out], the transpose of nnlens's [out, in].
                    let wt = d.weight().t().as_standard_layout().into_owned();
                    let w = self.float_init(&format!("{name}.weight"), &wt);
                    match d.bias() {
                        None => self.push("MatMul", name, vec![x(), w], out, vec![]),
                        Some(b) => {
                            let mid = self.fresh(&format!("{name}/matmul"));
                            self.push(
                                "MatMul",
                                &format!("{name}/matmul"),
                                vec![x(), w],
                                &mid,
                                vec![],
                            );
                            let b = self.float_init(&format!("{name}.bias"), b);
                            self.push("Add", name, vec![mid, b], out, vec![]);
                        }
                    }
                }
            }
            Op::Conv2d(c) => {
                let mut ins = vec![x(), self.float_init(&format!("{name}.weight"), c.weight())];
                if let Some(b) = c.bias() {
                    ins.push(self.float_init(&format!("{name}.bias"), b));
                }
                let shape = c.weight().shape();
                let attrs = vec![
                    attr_ints("kernel_shape", &shape[2..]),
                    attr_ints("strides", &c.stride()),
                    attr_ints("pads", &c.padding()),
                    attr_ints("dilations", &c.dilation()),
                    attr_int("group", c.groups() as i64),
                ];
                self.push("Conv", name, ins, out, attrs);
            }
            Op::ConvTranspose2d(c) => {
                let mut ins = vec![x(), self.float_init(&format!("{name}.weight"), c.weight())];
                if let Some(b) = c.bias() {
                    ins.push(self.float_init(&format!("{name}.bias"), b));
                }
                let shape = c.weight().shape();
                let attrs = vec![
                    attr_ints("kernel_shape", &shape[2..]),
                    attr_ints("strides", &c.stride()),
                    attr_ints("pads", &c.padding()),
                    attr_ints("output_padding", &c.output_padding()),
                    attr_ints("dilations", &c.dilation()),
                    attr_int("group", c.groups() as i64),
                ];
                self.push("ConvTranspose", name, ins, out, attrs);
            }
            Op::MaxPool2d(p) => {
                let attrs = vec![
                    attr_ints("kernel_shape", &p.window().kernel()),
                    attr_ints("strides", &p.window().stride()),
                    attr_ints("pads", &p.window().padding()),
                    attr_int("ceil_mode", i64::from(p.window().ceil_mode())),
                ];
                self.push("MaxPool", name, vec![x()], out, attrs);
            }
            Op::AvgPool2d(p) => {
                let attrs = vec![
                    attr_ints("kernel_shape", &p.window().kernel()),
                    attr_ints("strides", &p.window().stride()),
                    attr_ints("pads", &p.window().padding()),
                    attr_int("ceil_mode", i64::from(p.window().ceil_mode())),
                    attr_int("count_include_pad", i64::from(p.count_include_pad())),
                ];
                self.push("AveragePool", name, vec![x()], out, attrs);
            }
            Op::GlobalAvgPool(_) => self.push("GlobalAveragePool", name, vec![x()], out, vec![]),
            Op::BatchNorm(b) => {
                let ins = vec![
                    x(),
                    self.float_init(&format!("{name}.scale"), b.scale()),
                    self.float_init(&format!("{name}.bias"), b.bias()),
                    self.float_init(&format!("{name}.mean"), b.mean()),
                    self.float_init(&format!("{name}.var"), b.var()),
                ];
                self.push(
                    "BatchNormalization",
                    name,
                    ins,
                    out,
                    vec![attr_float("epsilon", b.epsilon())],
                );
            }
            Op::Activation(a) => self.activation(name, *a, x(), out),
            Op::Softmax(s) => {
                let op = if s.log() { "LogSoftmax" } else { "Softmax" };
                self.push(
                    op,
                    name,
                    vec![x()],
                    out,
                    vec![attr_int("axis", s.axis() as i64)],
                );
            }
            Op::Dropout(d) => {
                let ratio = self.scalar_init(&format!("{name}.ratio"), d.rate());
                self.push("Dropout", name, vec![x(), ratio], out, vec![]);
            }
            Op::Binary(b) => {
                let ins = match b.constant() {
                    None => inputs.to_vec(),
                    Some((c, side)) => {
                        let c = self.float_init(&format!("{name}.constant"), c);
                        match side {
                            Side::Right => vec![x(), c],
                            Side::Left => vec![c, x()],
                        }
                    }
                };
                self.push(b.kind().name(), name, ins, out, vec![]);
            }
            Op::Concat(c) => self.push(
                "Concat",
                name,
                inputs.to_vec(),
                out,
                vec![attr_int("axis", c.axis() as i64)],
            ),
            Op::Flatten(f) if f.axis() == 1 => {
                self.push("Flatten", name, vec![x()], out, vec![attr_int("axis", 1)])
            }
            // ONNX Flatten is 2-D; nnlens's Flatten at a later axis keeps the leading axes.
            Op::Flatten(_) | Op::Reshape(_) => {
                if n.shape.contains(&0) {
                    return Err(Error::Onnx(format!(
                        "cannot export a reshape to the per-sample shape {:?}: ONNX Reshape reads 0 as 'copy'",
                        n.shape
                    )));
                }
                // 0 first copies the batch size of the input.
                let target: Vec<i64> = std::iter::once(0)
                    .chain(n.shape.iter().map(|&d| d as i64))
                    .collect();
                let shape = self.int_init(&format!("{name}.shape"), &target);
                self.push("Reshape", name, vec![x(), shape], out, vec![]);
            }
            Op::Transpose(t) => self.push(
                "Transpose",
                name,
                vec![x()],
                out,
                vec![attr_ints("perm", t.perm())],
            ),
            Op::Pad(p) => {
                let pads: Vec<i64> = p.pads().iter().map(|&v| v as i64).collect();
                let mut ins = vec![x(), self.int_init(&format!("{name}.pads"), &pads)];
                let mode = match p.mode() {
                    PadMode::Constant(v) => {
                        ins.push(self.scalar_init(&format!("{name}.value"), v));
                        "constant"
                    }
                    PadMode::Reflect => "reflect",
                    PadMode::Edge => "edge",
                };
                self.push("Pad", name, ins, out, vec![attr_string("mode", mode)]);
            }
            Op::ReduceMean(r) => {
                let attrs = vec![
                    attr_ints("axes", &reduced_axes(r.axes(), graph, n)),
                    attr_int("keepdims", i64::from(r.keepdims())),
                ];
                self.push("ReduceMean", name, vec![x()], out, attrs);
            }
            Op::MatMul(_) => self.push("MatMul", name, inputs.to_vec(), out, vec![]),
            Op::LayerNorm(l) => {
                let ins = vec![
                    x(),
                    self.float_init(&format!("{name}.scale"), l.scale()),
                    self.float_init(&format!("{name}.bias"), l.bias()),
                ];
                let attrs = vec![
                    attr_int("axis", -(l.normalized_shape().len() as i64)),
                    attr_float("epsilon", l.epsilon()),
                ];
                self.push("LayerNormalization", name, ins, out, attrs);
            }
            Op::InstanceNorm(g) => {
                let ins = vec![
                    x(),
                    self.float_init(&format!("{name}.scale"), g.scale()),
                    self.float_init(&format!("{name}.bias"), g.bias()),
                ];
                let attrs = vec![attr_float("epsilon", g.epsilon())];
                self.push("InstanceNormalization", name, ins, out, attrs);
            }
            Op::GroupNorm(g) => self.group_norm(g, name, x(), &n.shape, out),
            Op::ReduceSum(r) => {
                // ReduceSum takes its axes as an input from opset 13.
                let axes: Vec<i64> = reduced_axes(r.axes(), graph, n)
                    .iter()
                    .map(|&a| a as i64)
                    .collect();
                let ins = vec![x(), self.int_init(&format!("{name}.axes"), &axes)];
                let attrs = vec![attr_int("keepdims", i64::from(r.keepdims()))];
                self.push("ReduceSum", name, ins, out, attrs);
            }
            Op::ReduceMax(r) => {
                let attrs = vec![
                    attr_ints("axes", &reduced_axes(r.axes(), graph, n)),
                    attr_int("keepdims", i64::from(r.keepdims())),
                ];
                self.push("ReduceMax", name, vec![x()], out, attrs);
            }
            Op::GlobalMaxPool(_) => self.push("GlobalMaxPool", name, vec![x()], out, vec![]),
            Op::Resize(r) => self.resize(r, name, x(), out)?,
            Op::Slice(_)
            | Op::Gather(_)
            | Op::Tile(_)
            | Op::Expand(_)
            | Op::BatchConstant(_)
            | Op::Where(_)
            | Op::Compare(_)
            | Op::Mod(_) => self.indexing(&n.op, name, inputs, out)?,
            Op::Embedding(e) => {
                // The ids travel as floats inside nnlens; Gather takes integer indices.
                let ids = self.fresh(&format!("{name}/ids"));
                let to_int64 = attr_int("to", DataType::Int64 as i64);
                self.push("Cast", &ids, vec![x()], &ids, vec![to_int64]);
                let table = self.float_init(&format!("{name}.weight"), e.table());
                self.push(
                    "Gather",
                    name,
                    vec![table, ids],
                    out,
                    vec![attr_int("axis", 0)],
                );
            }
        }
        Ok(())
    }

    /// `Resize` (opset 13 form). By its scales `[1, 1, s...]` (batch and channels kept) when
    /// they give the op's sizes however a reader computes `⌊n · s⌋` (onnxruntime in f32, ONNX's
    /// shape inference in f64); otherwise, for an op built from sizes (scales `m / n`), by sizes
    /// `[N, C, m...]`, the batch `N` read at run time (`Shape` of the input, first entry).
    fn resize(&mut self, r: &Resize, name: &str, x: String, out: &str) -> Result<()> {
        let spatial_in = &r.input_shape()[1..];
        let floors_agree =
            spatial_in
                .iter()
                .zip(r.scales())
                .zip(r.sizes())
                .all(|((&n, &s), &m)| {
                    (n as f32 * s).floor() == m as f32
                        && (n as f64 * f64::from(s)).floor() == m as f64
                });
        let same = |built: Result<Resize>| built.ok().as_ref() == Some(r);
        let by_scales = floors_agree
            && same(Resize::with_scales(
                r.input_shape(),
                r.scales(),
                r.mode(),
                r.coordinates(),
            ));
        let by_sizes = same(Resize::with_sizes(
            r.input_shape(),
            r.sizes(),
            r.mode(),
            r.coordinates(),
        ));
        let mut attrs = vec![attr_string(
            "coordinate_transformation_mode",
            r.coordinates().name(),
        )];
        match r.mode() {
            ResizeMode::Linear => attrs.push(attr_string("mode", "linear")),
            ResizeMode::Nearest(rounding) => {
                attrs.push(attr_string("mode", "nearest"));
                attrs.push(attr_string("nearest_mode", rounding.name()));
            }
        }
        if by_scales {
            let scales = Tensor::from_shape_fn(vec![r.scales().len() + 2], |i| {
                i[0].checked_sub(2).map_or(1.0, |a| r.scales()[a])
            });
            let scales = self.float_init(&format!("{name}.scales"), &scales);
            self.push("Resize", name, vec![x, String::new(), scales], out, attrs);
        } else if by_sizes {
            let [shape, batch, sizes] =
                ["shape", "batch", "sizes"].map(|s| self.fresh(&format!("{name}/{s}")));
            self.push("Shape", &shape, vec![x.clone()], &shape, vec![]);
            let ins = vec![
                shape,
                self.int_init(&format!("{name}.batch_start"), &[0]),
                self.int_init(&format!("{name}.batch_end"), &[1]),
            ];
            self.push("Slice", &batch, ins, &batch, vec![]);
            let kept: Vec<i64> = r.output_sample_shape().iter().map(|&d| d as i64).collect();
            let kept = self.int_init(&format!("{name}.sizes"), &kept);
            self.push(
                "Concat",
                &sizes,
                vec![batch, kept],
                &sizes,
                vec![attr_int("axis", 0)],
            );
            let ins = vec![x, String::new(), String::new(), sizes];
            self.push("Resize", name, ins, out, attrs);
        } else {
            return Err(Error::Onnx(format!(
                "cannot export a resize of {spatial_in:?} to {:?} by the scales {:?}: ONNX readers compute other sizes from them",
                r.sizes(),
                r.scales()
            )));
        }
        Ok(())
    }

    /// Group norm, which opset 17 lacks, as torch exports it: the groups as channels of an
    /// `InstanceNormalization` without affine map (`[N, G, -1]`), reshaped back to the output
    /// shape, then `Mul` by the per-channel scale and `Add` the bias (the same operations in
    /// order, so the output is bit for bit the same).
    fn group_norm(&mut self, g: &GroupNorm, name: &str, x: String, shape: &[usize], out: &str) {
        let groups = g.groups();
        let grouped_shape =
            self.int_init(&format!("{name}.grouped_shape"), &[0, groups as i64, -1]);
        let ones = self.float_init(&format!("{name}.ones"), &Tensor::ones(vec![groups]));
        let zeros = self.float_init(&format!("{name}.zeros"), &Tensor::zeros(vec![groups]));
        let target: Vec<i64> = std::iter::once(0)
            .chain(shape.iter().map(|&d| d as i64))
            .collect();
        let back_shape = self.int_init(&format!("{name}.shape"), &target);
        let per_channel: Vec<usize> = std::iter::once(g.channels())
            .chain(shape.iter().skip(1).map(|_| 1))
            .collect();
        let along_channels = |t: &Tensor| {
            Tensor::from_shape_vec(per_channel.clone(), t.iter().copied().collect())
                .expect("[C] reshaped to [C, 1, ...]")
        };
        let scale = self.float_init(&format!("{name}.scale"), &along_channels(g.scale()));
        let bias = self.float_init(&format!("{name}.bias"), &along_channels(g.bias()));
        let steps = ["grouped", "normalised", "ungrouped", "scaled"].map(|s| format!("{name}/{s}"));
        let [grouped, normalised, ungrouped, scaled] = steps.clone().map(|s| self.fresh(&s));
        self.push(
            "Reshape",
            &steps[0],
            vec![x, grouped_shape],
            &grouped,
            vec![],
        );
        self.push(
            "InstanceNormalization",
            &steps[1],
            vec![grouped, ones, zeros],
            &normalised,
            vec![attr_float("epsilon", g.epsilon())],
        );
        self.push(
            "Reshape",
            &steps[2],
            vec![normalised, back_shape],
            &ungrouped,
            vec![],
        );
        self.push("Mul", &steps[3], vec![ungrouped, scale], &scaled, vec![]);
        self.push("Add", name, vec![scaled, bias], out, vec![]);
    }

    fn activation(&mut self, name: &str, a: Activation, x: String, out: &str) {
        match a {
            Activation::Relu => self.push("Relu", name, vec![x], out, vec![]),
            Activation::LeakyRelu { alpha } => self.push(
                "LeakyRelu",
                name,
                vec![x],
                out,
                vec![attr_float("alpha", alpha)],
            ),
            Activation::Sigmoid => self.push("Sigmoid", name, vec![x], out, vec![]),
            Activation::Tanh => self.push("Tanh", name, vec![x], out, vec![]),
            Activation::Erf => self.push("Erf", name, vec![x], out, vec![]),
            Activation::Identity => self.push("Identity", name, vec![x], out, vec![]),
            Activation::Clip { min, max } => {
                // f32::MIN / f32::MAX stand for an absent bound (the ONNX defaults).
                let lo = if min != f32::MIN {
                    self.scalar_init(&format!("{name}.min"), min)
                } else {
                    String::new()
                };
                let hi = if max != f32::MAX {
                    self.scalar_init(&format!("{name}.max"), max)
                } else {
                    String::new()
                };
                let mut ins = vec![x, lo, hi];
                while ins.last().is_some_and(|s| s.is_empty()) {
                    ins.pop();
                }
                self.push("Clip", name, ins, out, vec![]);
            }
            Activation::Gelu => {
                // nnlens computes (0.5 x) (1 + erf(x / sqrt 2)); the same operations in order.
                let half = self.scalar_init(&format!("{name}.half"), 0.5);
                let scale = self.scalar_init(
                    &format!("{name}.inv_sqrt2"),
                    std::f32::consts::FRAC_1_SQRT_2,
                );
                let one = self.scalar_init(&format!("{name}.one"), 1.0);
                let h = self.fresh(&format!("{name}/half_x"));
                let s = self.fresh(&format!("{name}/scaled"));
                let e = self.fresh(&format!("{name}/erf"));
                let p = self.fresh(&format!("{name}/one_plus"));
                self.push(
                    "Mul",
                    &format!("{name}/half_x"),
                    vec![x.clone(), half],
                    &h,
                    vec![],
                );
                self.push("Mul", &format!("{name}/scaled"), vec![x, scale], &s, vec![]);
                self.push("Erf", &format!("{name}/erf"), vec![s], &e, vec![]);
                self.push("Add", &format!("{name}/one_plus"), vec![e, one], &p, vec![]);
                self.push("Mul", name, vec![h, p], out, vec![]);
            }
            Activation::Sqrt => self.push("Sqrt", name, vec![x], out, vec![]),
            Activation::Reciprocal => self.push("Reciprocal", name, vec![x], out, vec![]),
            Activation::Exp => self.push("Exp", name, vec![x], out, vec![]),
            Activation::Log => self.push("Log", name, vec![x], out, vec![]),
            Activation::Neg => self.push("Neg", name, vec![x], out, vec![]),
            Activation::Abs => self.push("Abs", name, vec![x], out, vec![]),
            Activation::HardSwish => self.push("HardSwish", name, vec![x], out, vec![]),
            Activation::HardSigmoid { alpha, beta } => self.push(
                "HardSigmoid",
                name,
                vec![x],
                out,
                vec![attr_float("alpha", alpha), attr_float("beta", beta)],
            ),
            Activation::Elu { alpha } => {
                self.push("Elu", name, vec![x], out, vec![attr_float("alpha", alpha)])
            }
            Activation::Selu { alpha, gamma } => self.push(
                "Selu",
                name,
                vec![x],
                out,
                vec![attr_float("alpha", alpha), attr_float("gamma", gamma)],
            ),
            Activation::Softplus => self.push("Softplus", name, vec![x], out, vec![]),
            Activation::Mish => {
                // Mish is opset 18: x · tanh(softplus(x)), the operations nnlens computes.
                let soft = self.unary_step(name, "Softplus", x.clone());
                let tanh = self.unary_step(name, "Tanh", soft);
                self.push("Mul", name, vec![x, tanh], out, vec![]);
            }
            Activation::Silu => {
                // SiLU as PyTorch's exporter writes it: x · Sigmoid(x).
                let sigmoid = self.unary_step(name, "Sigmoid", x.clone());
                self.push("Mul", name, vec![x, sigmoid], out, vec![]);
            }
            Activation::GeluTanh => self.gelu_tanh(name, x, out),
        }
    }

    /// The tanh-approximate GELU, which opset 17 lacks, as the operations nnlens computes in
    /// their order: `(0.5 x) (1 + tanh(√(2/π) (x + 0.044715 (x x) x)))`.
    fn gelu_tanh(&mut self, name: &str, x: String, out: &str) {
        let cubic = self.scalar_init(&format!("{name}.cubic"), GELU_CUBIC);
        let scale = self.scalar_init(&format!("{name}.sqrt_2_over_pi"), SQRT_2_OVER_PI);
        let half = self.scalar_init(&format!("{name}.half"), 0.5);
        let one = self.scalar_init(&format!("{name}.one"), 1.0);
        let mut step = |op: &str, label: &str, inputs: Vec<String>| -> String {
            let t = self.fresh(&format!("{name}/{label}"));
            self.push(op, &format!("{name}/{label}"), inputs, &t, vec![]);
            t
        };
        let square = step("Mul", "square", vec![x.clone(), x.clone()]);
        let cube = step("Mul", "cube", vec![square, x.clone()]);
        let scaled_cube = step("Mul", "scaled_cube", vec![cube, cubic]);
        let sum = step("Add", "sum", vec![x.clone(), scaled_cube]);
        let inner = step("Mul", "inner", vec![sum, scale]);
        let tanh = step("Tanh", "tanh", vec![inner]);
        let one_plus = step("Add", "one_plus", vec![tanh, one]);
        let half_x = step("Mul", "half_x", vec![x, half]);
        self.push("Mul", name, vec![half_x, one_plus], out, vec![]);
    }
}

/// A reduction's axes written out: nnlens's empty list (every axis but the batch) as the axes
/// `1..rank` of the node's input, since ONNX reads no axes as every axis, the batch included.
fn reduced_axes(axes: &[usize], graph: &Graph, n: &Node) -> Vec<usize> {
    if axes.is_empty() {
        (1..=graph.value_shape(n.inputs[0]).len()).collect()
    } else {
        axes.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{from_onnx, to_onnx};
    use super::*;
    use crate::graph::ops::activation::{Dropout, Softmax};
    use crate::graph::ops::dense::Dense;
    use crate::graph::ops::elementwise::{Binary, BinaryKind};
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::matmul::MatMul;
    use crate::graph::ops::reduce::{ReduceMax, ReduceMean, ReduceSum};
    use crate::graph::ops::shape::{Flatten, Pad, Transpose};
    use crate::graph::ValueId;
    use crate::tensor::Tensor;

    /// Exports, re-imports and checks bit-identical outputs at batch 2.
    fn round_trip(g: &Graph) -> Graph {
        let back = from_onnx(&to_onnx(g).unwrap()).unwrap();
        let x = random_tensor(&crate::tensor::with_batch(2, g.input_shape()), -2.0, 2.0, 5);
        let (a, b) = (g.forward(x.clone()).unwrap(), back.forward(x).unwrap());
        assert_eq!(a.shape(), b.shape());
        assert!(
            a.iter()
                .zip(b.iter())
                .all(|(p, q)| p.to_bits() == q.to_bits()),
            "{a:?} vs {b:?}"
        );
        back
    }

    /// The unary math and activations of issue 15 and Pow / Max / Min / PRelu, exported (Mish,
    /// SiLU and the tanh GELU as their decompositions) and read back with the same outputs.
    #[test]
    fn math_and_activations_round_trip_exactly() {
        let mut g = Graph::new(&[3, 4]).unwrap();
        let mut x = ValueId::INPUT;
        for act in [
            Activation::GeluTanh,
            Activation::HardSwish,
            Activation::HardSigmoid {
                alpha: 1.0 / 6.0,
                beta: 0.5,
            },
            Activation::Elu { alpha: 0.5 },
            Activation::Selu {
                alpha: 1.5,
                gamma: 1.25,
            },
            Activation::Mish,
            Activation::Silu,
            Activation::Softplus,
            Activation::Neg,
            Activation::Exp,
            Activation::Log,
            Activation::Abs,
            Activation::Sqrt,
            Activation::Reciprocal,
        ] {
            x = g
                .push(act.kind(), act.kind(), Op::Activation(act), &[x])
                .unwrap();
        }
        let slope = random_tensor(&[3, 1], -0.5, 0.5, 8);
        let prelu = Binary::with_constant(BinaryKind::PRelu, slope, Side::Right);
        let shifted = g
            .push("prelu", "PRelu", Op::Binary(prelu), &[ValueId::INPUT])
            .unwrap();
        let exponent = Tensor::from_elem(vec![], 3.0);
        let pow = Binary::with_constant(BinaryKind::Pow, exponent, Side::Right);
        let cubed = g.push("pow", "Pow", Op::Binary(pow), &[shifted]).unwrap();
        let max = Op::Binary(Binary::between_values(BinaryKind::Max));
        let larger = g.push("max", "Max", max, &[x, cubed]).unwrap();
        let min = Op::Binary(Binary::between_values(BinaryKind::Min));
        g.push("min", "Min", min, &[larger, ValueId::INPUT])
            .unwrap();
        let back = round_trip(&g);
        let x = random_tensor(&[2, 3, 4], -2.0, 2.0, 5);
        assert!(back.forward(x).unwrap().iter().all(|v| v.is_finite()));
        let labels: Vec<&str> = back.nodes().iter().map(|n| n.label.as_str()).collect();
        for op in [
            "HardSwish",
            "HardSigmoid",
            "Elu",
            "Selu",
            "Softplus",
            "Log",
            "Sqrt",
            "Reciprocal",
            "PRelu",
            "Pow",
            "Max",
            "Min",
        ] {
            assert!(labels.contains(&op), "{op} in {labels:?}");
        }
    }

    #[test]
    fn ops_torch_does_not_emit_round_trip_exactly() {
        let mut g = Graph::new(&[3, 4]).unwrap();
        let w = random_tensor(&[5, 4], -1.0, 1.0, 1);
        let b = random_tensor(&[5], -1.0, 1.0, 2);
        let d = g
            .push(
                "fc",
                "Dense",
                Op::Dense(Dense::new(w, Some(b)).unwrap()),
                &[ValueId::INPUT],
            )
            .unwrap();
        let gelu = g
            .push("gelu", "Gelu", Op::Activation(Activation::Gelu), &[d])
            .unwrap();
        let clip = g
            .push(
                "clip",
                "Clip",
                Op::Activation(Activation::Clip {
                    min: f32::MIN,
                    max: 0.5,
                }),
                &[gelu],
            )
            .unwrap();
        let t = g
            .push(
                "t",
                "Transpose",
                Op::Transpose(Transpose::new(vec![0, 2, 1]).unwrap()),
                &[clip],
            )
            .unwrap();
        let m = g
            .push("mm", "MatMul", Op::MatMul(MatMul), &[clip, t])
            .unwrap();
        let pad = Op::Pad(Pad::new(vec![0, 1, 0, 0, 0, 2], PadMode::Reflect).unwrap());
        let p = g.push("pad", "Pad", pad, &[m]).unwrap();
        let f = g
            .push(
                "flat",
                "Flatten",
                Op::Flatten(Flatten::new(2).unwrap()),
                &[p],
            )
            .unwrap();
        let s = g
            .push("soft", "Softmax", Op::Softmax(Softmax::new(1, true)), &[f])
            .unwrap();
        let k = random_tensor(&[1, 5], 0.5, 1.0, 3);
        let bin = Op::Binary(Binary::with_constant(BinaryKind::Div, k, Side::Left));
        let q = g.push("div", "Div", bin, &[s]).unwrap();
        let r = g
            .push(
                "mean",
                "ReduceMean",
                Op::ReduceMean(ReduceMean::new(vec![2], true).unwrap()),
                &[q],
            )
            .unwrap();
        g.push(
            "drop",
            "Dropout",
            Op::Dropout(Dropout::new(0.25).unwrap()),
            &[r],
        )
        .unwrap();
        let back = round_trip(&g);
        let labels: Vec<String> = back.layers().into_iter().map(|l| l.op).collect();
        assert_eq!(
            labels,
            [
                "MatMul",
                "Add",
                "Mul",
                "Mul",
                "Erf",
                "Add",
                "Mul",
                "Clip",
                "Transpose",
                "MatMul",
                "Pad",
                "Reshape",
                "LogSoftmax",
                "Div",
                "ReduceMean",
                "Dropout"
            ]
        );
        assert_eq!(back.nodes()[0].name, "fc/matmul");
        assert_eq!(back.nodes()[1].name, "fc");
    }

    /// nnlens's empty axes (every axis but the batch) are written out: ONNX would read no axes
    /// as every axis, the batch included.
    #[test]
    fn reductions_over_every_sample_axis_round_trip() {
        let reductions = [
            Op::ReduceMean(ReduceMean::new(vec![], true).unwrap()),
            Op::ReduceSum(ReduceSum::new(vec![], false).unwrap()),
            Op::ReduceMax(ReduceMax::new(vec![], true).unwrap()),
        ];
        for op in reductions {
            let mut g = Graph::new(&[3, 4]).unwrap();
            let kind = op.kind();
            g.push("r", kind, op, &[ValueId(0)]).unwrap();
            let back = round_trip(&g);
            assert_eq!(back.output_shape(), g.output_shape(), "{kind}");
        }
    }

    #[test]
    fn an_empty_graph_exports_as_identity() {
        let g = Graph::new(&[2]).unwrap();
        let back = round_trip(&g);
        assert!(back.nodes().is_empty());
        let model = ModelProto::decode(to_onnx(&g).unwrap().as_slice()).unwrap();
        let graph = model.graph.unwrap();
        assert_eq!(graph.node[0].op_type(), "Identity");
        assert_eq!(graph.input[0].name(), "input");
        assert_eq!(graph.output[0].name(), "output");
        assert_eq!(model.opset_import[0].version(), EXPORT_OPSET);
    }

    #[test]
    fn tensor_names_stay_unique() {
        // A layer called "output" that is not the graph output, and one called "input".
        let mut g = Graph::new(&[2]).unwrap();
        let a = g
            .push(
                "output",
                "Relu",
                Op::Activation(Activation::Relu),
                &[ValueId::INPUT],
            )
            .unwrap();
        g.push("input", "Tanh", Op::Activation(Activation::Tanh), &[a])
            .unwrap();
        let back = round_trip(&g);
        let names: Vec<String> = back.layers().into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["output", "input"]);
    }
}
