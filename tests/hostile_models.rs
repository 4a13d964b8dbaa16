//! Model files built to exhaust memory or time: huge declared dimensions, cyclic graphs, a
//! million tiny nodes, a Resize to 10⁶ x 10⁶, a Range of 10¹² elements, Tile / Expand /
//! ConstantOfShape bombs, a 2^31-element initializer declared without its data, and nnlens JSON
//! files asking for the same. Each is refused with an error that names the limit it hits (so the
//! refusal comes from the check, before anything is allocated or looped over). The files are
//! built in memory; none is committed. Where a refusal used to come only after the cost (a
//! million nodes decoded, a shared weight copied into every layer), the peak memory of the
//! import is measured with a counting allocator and bounded.

use nnlens::io::json::from_json;
use nnlens::io::onnx::proto::{
    attribute_proto, tensor_proto, tensor_shape_proto, type_proto, AttributeProto, GraphProto,
    ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use nnlens::io::onnx::{from_onnx, MAX_IMPORT_BYTES, MAX_NODES};
use nnlens::tensor::limits::{MAX_ELEMENTS, MAX_RANK};
use prost::Message;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the bytes each thread holds and the most it held (tests run
/// on several threads; each measures its own allocations).
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    let _ = HELD.try_with(|held| {
        let now = held.get() + bytes;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are const-initialised
// thread-locals without destructors, so touching them never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `f`'s result and the most bytes this thread held during it beyond what it held before.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = HELD.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get) - start;
    (out, peak.max(0) as usize)
}

const MIB: usize = 1 << 20;

/// A symbolic dimension in [`model`]'s input dimensions.
const BATCH: i64 = -1;

/// A float tensor's declaration with these dimensions ([`BATCH`]: symbolic).
fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    let dims = dims.iter().map(|&d| tensor_shape_proto::Dimension {
        value: Some(if d == BATCH {
            tensor_shape_proto::dimension::Value::DimParam("batch".into())
        } else {
            tensor_shape_proto::dimension::Value::DimValue(d)
        }),
        ..Default::default()
    });
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(tensor_proto::DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: dims.collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attributes: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(format!("{op}_{}", outputs.first().copied().unwrap_or(""))),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attributes,
        ..Default::default()
    }
}

fn int64s(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(tensor_proto::DataType::Int64 as i32),
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

fn floats(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(tensor_proto::DataType::Float as i32),
        float_data: values.to_vec(),
        ..Default::default()
    }
}

/// An opset-17 model with input `x` of dimensions `input` and output `y`.
fn model(input: &[i64], nodes: Vec<NodeProto>, initializers: Vec<TensorProto>) -> Vec<u8> {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(GraphProto {
            node: nodes,
            initializer: initializers,
            input: vec![value_info("x", input)],
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

/// `bytes` is refused by the ONNX importer with a message containing every one of `named`.
fn refused(what: &str, bytes: &[u8], named: &[&str]) {
    let message = match from_onnx(bytes) {
        Ok(_) => panic!("{what}: imported"),
        Err(e) => e.to_string(),
    };
    for needle in named {
        assert!(
            message.contains(needle),
            "{what}: the error does not name {needle:?}: {message}"
        );
    }
}

/// `text` is refused by the JSON reader with a message containing every one of `named`.
fn refused_json(what: &str, text: &str, named: &[&str]) {
    let message = match from_json(text) {
        Ok(_) => panic!("{what}: loaded"),
        Err(e) => e.to_string(),
    };
    for needle in named {
        assert!(
            message.contains(needle),
            "{what}: the error does not name {needle:?}: {message}"
        );
    }
}

fn max_elements() -> String {
    MAX_ELEMENTS.to_string()
}

#[test]
fn huge_declared_input_dimensions_are_refused() {
    let identity = || vec![node("Relu", &["x"], &["y"], vec![])];
    refused(
        "input [batch, 10^9, 10^9]",
        &model(&[BATCH, 1_000_000_000, 1_000_000_000], identity(), vec![]),
        &[&max_elements()],
    );
    refused(
        "input of 9 dimensions after the batch",
        &model(&[BATCH, 1, 1, 1, 1, 1, 1, 1, 1, 1], identity(), vec![]),
        &[&MAX_RANK.to_string()],
    );
    refused(
        "input dimension 2^62",
        &model(&[BATCH, 1 << 62], identity(), vec![]),
        &[&max_elements()],
    );
}

#[test]
fn an_initializer_declaring_2_31_elements_without_data_is_refused() {
    let bytes = model(
        &[BATCH, 4],
        vec![node("Add", &["x", "w"], &["y"], vec![])],
        vec![floats("w", &[1 << 31], &[])],
    );
    refused("2^31-element initializer", &bytes, &[&max_elements()]);
}

#[test]
fn cyclic_graphs_are_refused() {
    refused(
        "a node reading its own output",
        &model(
            &[BATCH, 4],
            vec![node("Relu", &["y"], &["y"], vec![])],
            vec![],
        ),
        &["'y'"],
    );
    refused(
        "a node reading a later node's output",
        &model(
            &[BATCH, 4],
            vec![
                node("Add", &["x", "b"], &["a"], vec![]),
                node("Relu", &["a"], &["b"], vec![]),
                node("Relu", &["b"], &["y"], vec![]),
            ],
            vec![],
        ),
        &["'b'"],
    );
}

#[test]
fn a_million_tiny_nodes_are_refused_before_decoding() {
    let names: Vec<String> = (0..1_000_000).map(|i| format!("v{i}")).collect();
    let nodes = (0..names.len())
        .map(|i| {
            let input = if i == 0 { "x" } else { &names[i - 1] };
            let output = if i + 1 == names.len() { "y" } else { &names[i] };
            node("Relu", &[input], &[output], vec![])
        })
        .collect();
    let bytes = model(&[BATCH, 4], nodes, vec![]);
    // Decoded, the 40 MB file took 480 MB at the peak; counted on the wire, 316 bytes.
    let ((), peak) = peak_during(|| {
        refused(
            "a million Relu nodes",
            &bytes,
            &[&MAX_NODES.to_string(), "1000000 nodes", "before decoding"],
        )
    });
    assert!(peak < MIB, "the refusal took {peak} bytes");
}

#[test]
fn a_weight_shared_by_300_layers_is_refused_before_it_is_copied() {
    // A 4 MB weight read by 300 MatMuls: 1.2 GB of copies, over MAX_IMPORT_BYTES (1 GiB).
    let side = 1000;
    let weight = floats("w", &[side, side], &vec![0.5; (side * side) as usize]);
    let nodes = (0..300)
        .map(|i| {
            let input = if i == 0 {
                "x".to_string()
            } else {
                format!("h{}", i - 1)
            };
            let output = if i == 299 {
                "y".to_string()
            } else {
                format!("h{i}")
            };
            node("MatMul", &[&input, "w"], &[&output], vec![])
        })
        .collect();
    let bytes = model(&[BATCH, side], nodes, vec![weight]);
    // Counted node by node, 1.09 GB was held before the budget refused; now 8.4 MB.
    let ((), peak) = peak_during(|| {
        refused(
            "a weight shared by 300 MatMuls",
            &bytes,
            &[&MAX_IMPORT_BYTES.to_string(), "counted before copying"],
        )
    });
    assert!(peak < 32 * MIB, "the refusal took {peak} bytes");
}

#[test]
fn resize_to_a_million_by_a_million_is_refused() {
    let bytes = model(
        &[1, 1, 4, 4],
        vec![node("Resize", &["x", "", "", "sizes"], &["y"], vec![])],
        vec![int64s("sizes", &[4], &[1, 1, 1_000_000, 1_000_000])],
    );
    refused("Resize to 10^6 x 10^6 (sizes)", &bytes, &[&max_elements()]);
    let bytes = model(
        &[BATCH, 1, 4, 4],
        vec![node("Resize", &["x", "", "scales"], &["y"], vec![])],
        vec![floats("scales", &[4], &[1.0, 1.0, 250_000.0, 250_000.0])],
    );
    refused("Resize by 250,000 (scales)", &bytes, &[&max_elements()]);
}

#[test]
fn a_range_of_10_12_elements_is_refused() {
    let bytes = model(
        &[BATCH, 4],
        vec![
            node("Range", &["start", "limit", "delta"], &["r"], vec![]),
            node("Cast", &["r"], &["rf"], vec![int_attribute("to", 1)]),
            node("Add", &["x", "rf"], &["y"], vec![]),
        ],
        vec![
            int64s("start", &[], &[0]),
            int64s("limit", &[], &[1_000_000_000_000]),
            int64s("delta", &[], &[1]),
        ],
    );
    refused("Range of 10^12 elements", &bytes, &[&max_elements()]);
}

fn int_attribute(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_proto::AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

#[test]
fn tile_expand_and_constant_of_shape_bombs_are_refused() {
    let bytes = model(
        &[BATCH, 4],
        vec![node("Tile", &["x", "repeats"], &["y"], vec![])],
        vec![int64s("repeats", &[2], &[1, 1_000_000_000])],
    );
    refused("Tile by 10^9", &bytes, &[&max_elements()]);
    let bytes = model(
        &[BATCH, 1],
        vec![node("Expand", &["x", "shape"], &["y"], vec![])],
        vec![int64s("shape", &[3], &[1_000_000, 1, 1_000_000])],
    );
    refused("Expand to 10^12", &bytes, &[&max_elements()]);
    let bytes = model(
        &[BATCH, 4],
        vec![
            node("ConstantOfShape", &["shape"], &["c"], vec![]),
            node("Add", &["x", "c"], &["y"], vec![]),
        ],
        vec![int64s("shape", &[2], &[1_000_000, 1_000_000])],
    );
    refused("ConstantOfShape of 10^12", &bytes, &[&max_elements()]);
}

#[test]
fn json_models_asking_for_huge_sizes_are_refused() {
    let model = |input: &str, layers: &str| {
        format!(
            r#"{{"format": "nnlens", "version": 1, "input": {input}, "layers": [{layers}], "weights": {{}}}}"#
        )
    };
    refused_json(
        "input [10^9, 10^9]",
        &model(
            "[1000000000, 1000000000]",
            r#"{"type": "flatten", "name": "f"}"#,
        ),
        &[&max_elements()],
    );
    refused_json(
        "a dense layer of 10^9 units",
        &model(
            "[1000]",
            r#"{"type": "dense", "name": "d", "units": 1000000000}"#,
        ),
        &[&max_elements()],
    );
    refused_json(
        "a conv layer of 10^6 filters of 10^3 x 10^3",
        &model(
            "[1, 28, 28]",
            r#"{"type": "conv2d", "name": "c", "filters": 1000000, "kernel": [1000, 1000]}"#,
        ),
        &[&max_elements()],
    );
    // Each tensor under the per-tensor limit, together 103 million seeded weights (the fuzzer's
    // slow input): refused by the budget of initialised weights.
    refused_json(
        "a dense layer of 32 x 3.2 million seeded weights",
        &model(
            "[32]",
            r#"{"type": "dense", "name": "d", "units": 3200000}"#,
        ),
        &[
            &nnlens::io::json::MAX_SEEDED_PARAMS.to_string(),
            "initialised weights",
        ],
    );
    refused_json(
        "dense layers that together pass the budget",
        &model(
            "[4096]",
            r#"{"type": "dense", "name": "a", "units": 4096}, {"type": "dense", "name": "b", "units": 4096},
               {"type": "dense", "name": "c", "units": 4096}"#,
        ),
        &["layer 'b'", "initialised weights"],
    );
}

#[test]
fn json_nested_too_deep_and_too_many_layers_are_refused() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    refused_json("100,000 nested arrays", &deep, &["recursion limit"]);
    let layers = vec![r#"{"type": "activation", "fn": "relu"}"#; MAX_NODES + 1].join(", ");
    refused_json(
        "more layers than the node limit",
        &format!(
            r#"{{"format": "nnlens", "version": 1, "input": [4], "layers": [{layers}], "weights": {{}}}}"#
        ),
        &[&MAX_NODES.to_string()],
    );
}
