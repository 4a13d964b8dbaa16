//! The bytes of constants the nodes would copy, counted before any is copied.
//!
//! Each read of a constant by a node that keeps or transforms it (a weight copied into a layer,
//! an operand folded or broadcast) is counted against the importer's budget as the node is
//! imported ([`Importer::spend`](super::Importer::spend)). A weight shared by many layers is
//! copied into each, so a 4 MB file whose one weight feeds 300 `MatMul`s asks for 1.2 GB;
//! counted node by node, the memory is taken before the budget refuses. [`check_constant_reads`]
//! counts the same reads from the node list first: the file's constants are its initializers
//! and the `value` tensors of its `Constant` nodes; `Identity` aliases a constant for free,
//! `Shape` and `Size` read only its shape, and every other node input naming a constant (or an
//! alias of one) counts the constant's bytes, as importing that node would.

use super::attributes::NodeCtx;
use crate::error::Result;
use crate::io::onnx::data::Val;
use crate::io::onnx::proto::{AttributeProto, GraphProto};
use std::collections::HashMap;

/// Fails, naming the node where the total passes `budget`, when the nodes of `graph` read more
/// bytes of constants than `budget`; `initializers` are the graph's decoded initializers.
pub(super) fn check_constant_reads(
    graph: &GraphProto,
    initializers: &HashMap<String, Val>,
    budget: usize,
) -> Result<()> {
    let mut sizes: HashMap<&str, usize> = initializers
        .iter()
        .map(|(name, val)| (name.as_str(), val.bytes()))
        .collect();
    let mut total = 0usize;
    for (index, node) in graph.node.iter().enumerate() {
        let output = node.output.first().map(String::as_str).unwrap_or_default();
        match node.op_type() {
            "Identity" => {
                if let Some(&size) = node.input.first().and_then(|i| sizes.get(i.as_str())) {
                    sizes.insert(output, size);
                }
                continue;
            }
            "Shape" | "Size" => continue,
            "Constant" => {
                let value = node.attribute.iter().find(|a| a.name() == "value");
                sizes.insert(output, value.map_or(0, tensor_bytes));
                continue;
            }
            _ => {}
        }
        for input in &node.input {
            let Some(&size) = sizes.get(input.as_str()) else {
                continue;
            };
            total = total.saturating_add(size);
            if total > budget {
                return Err(NodeCtx::new(index, node).err(format!(
                    "the constants and weights the nodes up to this one copy take more than \
                     {budget} bytes, the importer's limit (counted before copying: a constant \
                     read by several nodes is copied into each)"
                )));
            }
        }
    }
    Ok(())
}

/// The bytes of a `Constant`'s `value` tensor as f32 values (its declared dimensions; the
/// tensor's own data is checked against them when the node is imported).
fn tensor_bytes(attribute: &AttributeProto) -> usize {
    attribute.t.as_ref().map_or(0, |t| {
        t.dims
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(0))
            .fold(std::mem::size_of::<f32>(), usize::saturating_mul)
    })
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::import::import_with_budget;
    use crate::io::onnx::proto::NodeProto;
    use crate::io::onnx::test_model::{float_tensor, model_with, node};

    /// Three MatMuls read one 16 KiB weight, one through an Identity alias; a Shape of it is free.
    fn shared_weight_model() -> Vec<u8> {
        let w = float_tensor("W", &[64, 64], vec![0.01; 64 * 64]);
        let nodes: Vec<NodeProto> = vec![
            node("Identity", "alias", &["W"], "W2", vec![]),
            node("Shape", "shape", &["W2"], "s", vec![]),
            node("MatMul", "m0", &["x", "W"], "h0", vec![]),
            node("MatMul", "m1", &["h0", "W2"], "h1", vec![]),
            node("MatMul", "m2", &["h1", "W"], "y", vec![]),
        ];
        model_with(nodes, vec![w], &[64], None, 13)
    }

    #[test]
    fn reads_through_aliases_count_and_the_refusal_names_the_node() {
        let bytes = shared_weight_model();
        let e = import_with_budget(&bytes, 2 * 16384)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("node 4 'm2' (MatMul)")
                && e.contains("more than 32768 bytes")
                && e.contains("counted before copying"),
            "{e}"
        );
        // The three copies plus the Shape's folded result (counted when it is computed).
        let budget = 3 * 16384 + 1024;
        assert_eq!(import_with_budget(&bytes, budget).unwrap().nodes().len(), 3);
    }
}
