//! The model's `metadata_props` (ONNX `ModelProto` field 14): the key/value strings an exporter
//! or a user attached to the file (`onnx.helper.set_model_props`), e.g. class labels.
//!
//! Only that field is decoded: [`ModelMetadata`] declares field 14 alone, so protobuf skips the
//! graph and its weights without copying them (unknown fields are skipped by length).

use super::proto::StringStringEntryProto;
use crate::error::{Error, Result};
use prost::Message;

/// The part of `ModelProto` read here.
#[derive(Clone, PartialEq, Message)]
struct ModelMetadata {
    #[prost(message, repeated, tag = "14")]
    metadata_props: Vec<StringStringEntryProto>,
}

/// The `metadata_props` of ONNX model bytes as (key, value) pairs in file order (a missing key
/// or value reads as the empty string). Fails with [`Error::Onnx`] when the bytes are not a
/// protobuf message.
pub fn metadata(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let decoded = ModelMetadata::decode(bytes).map_err(|e| {
        Error::Onnx(format!(
            "the {} bytes are not a valid ONNX model (protobuf decoding failed: {e})",
            bytes.len()
        ))
    })?;
    Ok(decoded
        .metadata_props
        .into_iter()
        .map(|entry| {
            (
                entry.key.unwrap_or_default(),
                entry.value.unwrap_or_default(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::onnx::proto::{GraphProto, ModelProto};

    fn entry(key: &str, value: &str) -> StringStringEntryProto {
        StringStringEntryProto {
            key: Some(key.into()),
            value: Some(value.into()),
        }
    }

    #[test]
    fn reads_the_props_in_file_order_past_the_graph() {
        let model = ModelProto {
            graph: Some(GraphProto {
                name: Some("g".into()),
                ..Default::default()
            }),
            metadata_props: vec![entry("labels", "[\"cat\",\"dog\"]"), entry("author", "me")],
            ..Default::default()
        };
        let props = metadata(&model.encode_to_vec()).unwrap();
        assert_eq!(
            props,
            vec![
                ("labels".to_string(), "[\"cat\",\"dog\"]".to_string()),
                ("author".to_string(), "me".to_string())
            ]
        );
    }

    #[test]
    fn a_model_without_props_has_none() {
        assert!(metadata(&ModelProto::default().encode_to_vec())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bytes_that_are_not_protobuf_are_an_error_naming_their_length() {
        let error = metadata(&[0xff, 0xff, 0xff]).unwrap_err().to_string();
        assert!(
            error.contains("the 3 bytes are not a valid ONNX model"),
            "{error}"
        );
    }
}
