//! What an ONNX model declares around its nodes: the default-domain opset it imports, its
//! initializers (bound as constants), its one float input `[batch, d1, ...]` with fixed sizes
//! after the batch (which becomes the graph input), and its one output, which must be computed
//! from the input (`ModelProto`/`GraphProto`, <https://onnx.ai/onnx/repo-docs/IR.html#graphs>).

use super::constant_reads::check_constant_reads;
use super::forms::{Batch, Form};
use super::Importer;
use crate::error::{Error, Result};
use crate::graph::{Graph, InputType, ValueId};
use crate::io::onnx::data::{decode_tensor, dims_to_shape, type_name, Val};
use crate::io::onnx::proto::{
    tensor_proto::DataType, tensor_shape_proto::dimension, type_proto, GraphProto, ModelProto,
    ValueInfoProto,
};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

/// The oldest default-domain opset the importer reads.
const MIN_OPSET: i64 = 6;

/// The version of the default (`ai.onnx`) operator set the model imports.
pub(super) fn default_opset(model: &ModelProto) -> Result<i64> {
    let version = model
        .opset_import
        .iter()
        .find(|o| super::is_default_domain(o.domain()))
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

impl Importer {
    /// An importer for `graph`: its initializers decoded and bound, its one input declared as
    /// the graph input (fixed sizes after the batch). With `whole_input`, for an input of fixed
    /// size in every dimension, one sample is the whole declared input (its first dimension
    /// included) and the graph's values are lifted ([`forms`](super::forms)): the model then
    /// computes exactly what ONNX defines, also where its ops reach across the first dimension.
    pub(super) fn new(
        graph: &GraphProto,
        opset: i64,
        budget: usize,
        whole_input: bool,
    ) -> Result<Self> {
        let mut values = HashMap::new();
        for (i, init) in graph.initializer.iter().enumerate() {
            let val = decode_tensor(init, "initializer")?;
            let name = init.name();
            if name.is_empty() {
                return Err(Error::Onnx(format!("initializer {i} has no name")));
            }
            values.insert(name.to_string(), val);
        }
        check_constant_reads(graph, &values, budget)?;
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
        let id_types = [DataType::Int64, DataType::Int32];
        let input_type = if float_types.iter().any(|t| *t as i32 == elem) {
            InputType::Float32
        } else if id_types.iter().any(|t| *t as i32 == elem) {
            InputType::Int64
        } else {
            return Err(Error::Onnx(format!(
                "graph input '{name}' has element type {}; nnlens feeds float inputs or integer \
                 ids (INT64, INT32)",
                type_name(elem)
            )));
        };
        let dims = tensor
            .shape
            .as_ref()
            .map(|s| s.dim.as_slice())
            .ok_or_else(|| {
                Error::Onnx(format!(
                    "graph input '{name}' has no shape; nnlens needs its rank and sizes"
                ))
            })?;
        if dims.len() < 2 - usize::from(whole_input) {
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
        if whole_input && declared_batch.is_none() {
            return Err(Error::Onnx(format!(
                "graph input '{name}' has a symbolic first dimension and no other; nnlens expects \
                 a batch dimension followed by at least one more, or an input of fixed size, which \
                 runs as one whole sample"
            )));
        }
        let first = usize::from(!whole_input);
        let mut sample = Vec::with_capacity(dims.len());
        for (i, d) in dims.iter().enumerate().skip(first) {
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
        let mut graph = Graph::new(&sample)?;
        graph.set_input_type(input_type);
        let mut forms = HashMap::new();
        if whole_input {
            let batch = Batch::Unknown;
            forms.insert(ValueId::INPUT, Form::Lifted { batch });
        }
        Ok(Importer {
            graph,
            values,
            unavailable: HashMap::new(),
            names: HashSet::new(),
            opset,
            declared_batch: declared_batch.filter(|_| !whole_input),
            whole_input,
            ids: if input_type == InputType::Int64 {
                HashSet::from([ValueId::INPUT])
            } else {
                HashSet::new()
            },
            forms,
            lifted_copies: HashMap::new(),
            lowered_copies: HashMap::new(),
            silu_pairs: HashMap::new(),
            silu_inputs: HashMap::new(),
            spent: Cell::new(0),
            budget,
        })
    }

    /// The built graph, its output set to the value bound to the graph output.
    pub(super) fn finish(mut self, graph: &GraphProto) -> Result<Graph> {
        let output = check_one_output(graph)?;
        match self.values.get(output.name()).cloned() {
            Some(Val::Runtime(id)) => {
                let id = if self.whole_input {
                    id
                } else {
                    self.lower_output(id, output.name())?
                };
                self.graph.set_output(id)?
            }
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
        Ok(self.graph)
    }
}

/// The graph's one output; an error naming them when it has several or none.
pub(super) fn check_one_output(graph: &GraphProto) -> Result<&ValueInfoProto> {
    match graph.output.as_slice() {
        [output] => Ok(output),
        outputs => {
            let names: Vec<_> = outputs.iter().map(|o| format!("'{}'", o.name())).collect();
            Err(Error::Onnx(format!(
                "the graph has {} outputs ({}); nnlens runs models with exactly one output",
                outputs.len(),
                names.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::onnx::export::value_info;
    use crate::io::onnx::proto::attribute_proto::AttributeType;
    use crate::io::onnx::proto::{tensor_shape_proto, AttributeProto, NodeProto, TensorProto};
    use crate::io::onnx::test_model::{
        attr_float, attr_int, err, float_tensor, from_onnx, model, model_with, node,
    };
    use crate::tensor::limits;
    use prost::Message;

    #[test]
    fn input_shapes_must_be_static_after_the_batch() {
        let mut bytes_model = ModelProto::decode(
            model(
                vec![node("Relu", "r", &["x"], "y", vec![])],
                vec![],
                &[3, 4],
            )
            .as_slice(),
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
            vec![node("Relu", "r", &["x"], "y", vec![])],
            vec![],
            &[limits::MAX_ELEMENTS, 2],
        ));
        assert!(e.contains("more than the limit"), "{e}");
    }

    #[test]
    fn graph_inputs_and_outputs_are_checked() {
        let e = err(&model(
            vec![node("Relu", "r", &["x"], "z", vec![])],
            vec![],
            &[2],
        ));
        assert!(e.contains("the graph output 'y' is not produced"), "{e}");
        let e = err(&model(
            vec![node(
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
            vec![node("Relu", "r", &["x"], "x", vec![])],
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
            vec![node("Relu", "r", &["x"], "y", vec![])],
            vec![],
            &[2],
            None,
            5,
        ));
        assert!(
            e.contains("opset 5") && e.contains("opset 6 and newer"),
            "{e}"
        );
        assert!(err(&[0xff, 0xff, 0xff]).contains("not a valid ONNX model"));
    }

    /// Opset 6's training forms (`is_test` absent or 0), a `spatial=0` BatchNormalization with
    /// per-channel statistics, an old-style broadcast of a run-time value and Upsample without
    /// scales, scaling the batch or downsampling are refused with what nnlens does not do.
    #[test]
    fn old_opset_forms_nnlens_cannot_run_are_refused() {
        let stats: Vec<TensorProto> = ["s", "b", "m", "v"]
            .iter()
            .map(|n| float_tensor(n, &[2], [1.0, 1.0]))
            .collect();
        let scales = |v: &[f32]| AttributeProto {
            name: Some("scales".into()),
            r#type: Some(AttributeType::Floats as i32),
            floats: v.to_vec(),
            ..Default::default()
        };
        let bn = |attrs| {
            node(
                "BatchNormalization",
                "bn",
                &["x", "s", "b", "m", "v"],
                "y",
                attrs,
            )
        };
        let cases: Vec<(NodeProto, Vec<TensorProto>, i64, &str)> = vec![
            (
                bn(vec![]),
                stats.clone(),
                6,
                "is_test=0 (opset 6 training mode",
            ),
            (
                bn(vec![attr_int("is_test", 1), attr_int("spatial", 0)]),
                stats.clone(),
                6,
                "scale has shape [2]; spatial=0 needs one value per element of the sample [2, 3]",
            ),
            (
                bn(vec![attr_int("training_mode", 1)]),
                stats,
                15,
                "training_mode=1 is not supported",
            ),
            (
                node("Dropout", "d", &["x"], "y", vec![]),
                vec![],
                6,
                "is_test=0 (opset 6 training mode",
            ),
            (
                node(
                    "Add",
                    "a",
                    &["x", "x"],
                    "y",
                    vec![attr_int("broadcast", 1), attr_int("axis", 1)],
                ),
                vec![],
                6,
                "does not fit in input A's rank 3",
            ),
            (
                node("Upsample", "u", &["x"], "y", vec![]),
                vec![],
                7,
                "has neither a 'scales' attribute nor a scales input",
            ),
            (
                node("Upsample", "u", &["x"], "y", vec![scales(&[2.0, 1.0, 1.0])]),
                vec![],
                7,
                "scale the batch dimension",
            ),
            (
                node("Upsample", "u", &["x"], "y", vec![scales(&[1.0, 1.0, 0.5])]),
                vec![],
                7,
                "scale 0.5 in [1.0, 1.0, 0.5] is not a finite number of at least 1",
            ),
        ];
        for (node, inits, opset, expect) in cases {
            let e = err(&model_with(vec![node], inits, &[2, 3], None, opset));
            assert!(e.contains(expect), "expected '{expect}' in: {e}");
        }
    }

    #[test]
    fn bad_initializers_fail_before_allocation() {
        let mut raw = float_tensor("B", &[3, 2], [0.0; 6]);
        raw.raw_data.as_mut().unwrap().truncate(20);
        let nodes = vec![node("MatMul", "m", &["x", "B"], "y", vec![])];
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
}
