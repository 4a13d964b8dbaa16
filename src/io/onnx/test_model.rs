//! The ONNX models the importer's tests are built from: one float input `x` of
//! `[batch, ...sample]`, the given nodes and initializers, one output `y`; with the node,
//! attribute and initializer builders and the calls that import or run a model.

use super::export;
use super::proto::{
    tensor_shape_proto, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, ValueInfoProto,
};
use crate::graph::Graph;
use crate::tensor::Tensor;
use prost::Message;

pub(super) use super::data::{float_tensor, int_tensor};
pub(super) use super::export::{attr_float, attr_int, attr_ints, attr_string};
pub(super) use super::from_onnx;

/// A model with input `x` of `[batch, ...sample]` (batch `None`: symbolic), output `y`, and
/// default-domain opset `opset`.
pub(super) fn model_with(
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    sample: &[usize],
    batch: Option<i64>,
    opset: i64,
) -> Vec<u8> {
    let mut input = export::value_info("x", sample);
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

/// [`model_with`] a symbolic batch at opset 17.
pub(super) fn model(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, sample: &[usize]) -> Vec<u8> {
    model_with(nodes, inits, sample, None, 17)
}

/// A default-domain node `op` named `name`, reading `inputs` and writing `out`.
pub(super) fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    out: &str,
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    export::node(
        op,
        name,
        inputs.iter().map(|s| s.to_string()).collect(),
        out,
        attrs,
    )
}

/// The message of the error importing `bytes` gives (panics when the import succeeds).
pub(super) fn err(bytes: &[u8]) -> String {
    from_onnx(bytes).unwrap_err().to_string()
}

/// Imports `bytes`, runs it on `x` (`batch` samples), checks that the exported model reads back
/// to the same output, and returns the output's shape and values.
pub(super) fn run_exported(bytes: &[u8], x: Vec<f32>, batch: usize) -> (Vec<usize>, Vec<f32>) {
    let g = from_onnx(bytes).unwrap();
    let y = g
        .forward(g.input_tensor(x.clone(), batch).unwrap())
        .unwrap();
    let again = from_onnx(&super::to_onnx(&g).unwrap()).unwrap();
    let z = again
        .forward(again.input_tensor(x, batch).unwrap())
        .unwrap();
    assert_eq!(y, z, "the exported model computes the same");
    (y.shape().to_vec(), y.iter().copied().collect())
}

/// Runs `g` on `batch` samples of a fixed pattern of values.
pub(super) fn run(g: &Graph, batch: usize) -> Tensor {
    let len = batch * g.input_shape().iter().product::<usize>();
    let data = (0..len).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
    g.forward(g.input_tensor(data, batch).unwrap()).unwrap()
}
