//! The number of nodes in an ONNX file, read before the file is decoded.
//!
//! Decoding builds every message of the file at once, and a node costs far more decoded than on
//! the wire: a file of a million `Relu` nodes, 40 MB, took 480 MB as `NodeProto`s.
//! [`count_nodes`] decodes the file as [`ModelNodes`], which declares only the fields that hold
//! nodes (`ModelProto.graph` → `GraphProto.node`, `ModelProto.functions` → `FunctionProto.node`)
//! and reads each node as an empty message. Protobuf skips every other field by its length, and
//! a node read as the zero-sized [`Skipped`] allocates nothing, so the count costs one pass over
//! the bytes and no memory that grows with the nodes (beyond one small struct per function).
//! Repeated occurrences of the graph field are merged as a full decode merges them, so the
//! count is the full decode's.

use prost::Message;

/// The fields of `ModelProto` that hold nodes.
#[derive(Clone, PartialEq, Message)]
struct ModelNodes {
    /// `ModelProto.graph`.
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphNodes>,
    /// `ModelProto.functions`.
    #[prost(message, repeated, tag = "25")]
    functions: Vec<FunctionNodes>,
}

/// `GraphProto.node`.
#[derive(Clone, PartialEq, Message)]
struct GraphNodes {
    #[prost(message, repeated, tag = "1")]
    node: Vec<Skipped>,
}

/// `FunctionProto.node`.
#[derive(Clone, PartialEq, Message)]
struct FunctionNodes {
    #[prost(message, repeated, tag = "7")]
    node: Vec<Skipped>,
}

/// A message read for its presence only: every field skipped.
#[derive(Clone, PartialEq, Message)]
struct Skipped {}

/// The nodes of the model's graph and of its functions (each function counted as a node too,
/// since it costs as much to decode). Fails with the decoder's error when the bytes are not
/// protobuf.
pub(super) fn count_nodes(bytes: &[u8]) -> Result<usize, prost::DecodeError> {
    let model = ModelNodes::decode(bytes)?;
    let graph = model.graph.map_or(0, |g| g.node.len());
    let functions: usize = model.functions.iter().map(|f| 1 + f.node.len()).sum();
    Ok(graph.saturating_add(functions))
}

#[cfg(test)]
mod tests {
    use super::count_nodes;
    use crate::io::onnx::proto::{FunctionProto, GraphProto, ModelProto, NodeProto};
    use prost::Message;

    fn nodes(n: usize) -> Vec<NodeProto> {
        (0..n)
            .map(|i| NodeProto {
                op_type: Some("Relu".into()),
                input: vec![format!("v{i}")],
                output: vec![format!("v{}", i + 1)],
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn counts_the_graph_and_function_nodes_a_full_decode_would_hold() {
        let model = ModelProto {
            graph: Some(GraphProto {
                node: nodes(7),
                ..Default::default()
            }),
            functions: vec![FunctionProto {
                node: nodes(3),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut bytes = model.encode_to_vec();
        assert_eq!(count_nodes(&bytes).unwrap(), 7 + 1 + 3);
        // A second graph field is merged into the first, its nodes appended.
        bytes.extend(
            ModelProto {
                graph: Some(GraphProto {
                    node: nodes(5),
                    ..Default::default()
                }),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        let decoded = ModelProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.graph.unwrap().node.len(), 12);
        assert_eq!(count_nodes(&bytes).unwrap(), 12 + 1 + 3);
    }

    #[test]
    fn bytes_that_are_not_protobuf_fail_as_the_full_decode_does() {
        let bytes = [0x3a, 0x05, 0x0a];
        assert!(ModelProto::decode(&bytes[..]).is_err());
        assert!(count_nodes(&bytes).is_err());
    }
}
