//! `safetensors` files: named tensors and an optional string-to-string metadata map, as written
//! by `safetensors.torch.save_file` or `safetensors.numpy.save_file`.
//!
//! Format (<https://huggingface.co/docs/safetensors> and the `safetensors` crate, which parses
//! and validates it here): an 8-byte little-endian header length N, N bytes of JSON mapping
//! each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (plus an optional
//! `"__metadata__"` object of strings), then the little-endian data, the tensors' byte ranges
//! covering it exactly.
//!
//! Read: F32, F64, F16, BF16, BOOL and the 8- to 64-bit signed and unsigned integer dtypes,
//! converted to f32 as [`crate::io::array`] describes. The crate checks the header against the
//! buffer (header at most 100 MB and inside the file, offsets contiguous, byte counts matching
//! the shapes with checked arithmetic); each tensor is then held to
//! [`crate::tensor::limits::MAX_ELEMENTS`] before it is converted.

use super::array::{ArrayDtype, LoadedArray};
use crate::error::{Error, Result};
use crate::tensor::checked_elements;
use ::safetensors::{Dtype, SafeTensorError, SafeTensors};
use std::collections::BTreeMap;

/// The contents of a safetensors file.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSafetensors {
    /// The tensors with their names, in the order of their data in the file.
    pub tensors: Vec<(String, LoadedArray)>,
    /// The file's `__metadata__` map (empty when the file has none), sorted by key.
    pub metadata: BTreeMap<String, String>,
}

fn safetensors_error(message: impl std::fmt::Display) -> Error {
    Error::invalid("safetensors file", message)
}

/// Reads a whole safetensors file from memory. Fails with [`Error::Invalid`] on bytes that are
/// not a valid safetensors file or hold a tensor of an unsupported dtype (the message names
/// the tensor), and with [`Error::TooLarge`] for a tensor of more than
/// [`crate::tensor::limits::MAX_ELEMENTS`] elements.
pub fn from_safetensors(bytes: &[u8]) -> Result<LoadedSafetensors> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| describe(e, bytes))?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| describe(e, bytes))?;
    let mut tensors = Vec::with_capacity(file.len());
    for name in header.offset_keys() {
        let view = file
            .tensor(&name)
            .map_err(|e| safetensors_error(format!("tensor '{name}': {e}")))?;
        let dtype = dtype_of(view.dtype()).ok_or_else(|| {
            safetensors_error(format!(
                "tensor '{name}' has dtype {}; expected one of BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64",
                view.dtype()
            ))
        })?;
        let shape = view.shape().to_vec();
        checked_elements(&format!("safetensors tensor '{name}'"), &shape)?;
        let values = dtype.to_f32(view.data(), false);
        tensors.push((
            name,
            LoadedArray {
                shape,
                dtype,
                values,
            },
        ));
    }
    let metadata = header
        .metadata()
        .iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok(LoadedSafetensors { tensors, metadata })
}

/// The message for an error of the `safetensors` crate, with the sizes involved.
fn describe(error: SafeTensorError, bytes: &[u8]) -> Error {
    let declared = bytes
        .get(..8)
        .map(|n| u64::from_le_bytes([n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]]));
    let after_length = bytes.len().saturating_sub(8);
    safetensors_error(match (error, declared) {
        (SafeTensorError::HeaderTooSmall, _) => format!(
            "the file is {} bytes, shorter than the 8-byte header length it starts with",
            bytes.len()
        ),
        (SafeTensorError::HeaderTooLarge, Some(n)) => format!(
            "the header length is {n} bytes, more than the 100,000,000 bytes a safetensors header may have"
        ),
        (SafeTensorError::InvalidHeaderLength, Some(n)) => format!(
            "the header length is {n} bytes but only {after_length} bytes follow it"
        ),
        (SafeTensorError::MetadataIncompleteBuffer, Some(n)) => format!(
            "the tensors' data_offsets do not cover exactly the {} data bytes after the {n}-byte header",
            after_length.saturating_sub(n as usize)
        ),
        (error, _) => format!("{error}"),
    })
}

/// The nnlens dtype of a safetensors dtype, if it is one nnlens reads.
fn dtype_of(dtype: Dtype) -> Option<ArrayDtype> {
    Some(match dtype {
        Dtype::BOOL => ArrayDtype::Bool,
        Dtype::U8 => ArrayDtype::Uint8,
        Dtype::I8 => ArrayDtype::Int8,
        Dtype::U16 => ArrayDtype::Uint16,
        Dtype::I16 => ArrayDtype::Int16,
        Dtype::U32 => ArrayDtype::Uint32,
        Dtype::I32 => ArrayDtype::Int32,
        Dtype::U64 => ArrayDtype::Uint64,
        Dtype::I64 => ArrayDtype::Int64,
        Dtype::F16 => ArrayDtype::Float16,
        Dtype::BF16 => ArrayDtype::Bfloat16,
        Dtype::F32 => ArrayDtype::Float32,
        Dtype::F64 => ArrayDtype::Float64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file from its header JSON and data bytes.
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn message(bytes: &[u8]) -> String {
        from_safetensors(bytes).unwrap_err().to_string()
    }

    #[test]
    fn reads_tensors_in_file_order_and_metadata() {
        let header = r#"{"b":{"dtype":"I16","shape":[2],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"__metadata__":{"source":"test"}}"#;
        let mut data = 2.5f32.to_le_bytes().to_vec();
        data.extend_from_slice(&[0xff, 0xff, 7, 0]);
        let loaded = from_safetensors(&file(header, &data)).unwrap();
        let names: Vec<&str> = loaded.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(loaded.tensors[0].1.values, vec![2.5]);
        assert_eq!(loaded.tensors[1].1.shape, vec![2]);
        assert_eq!(loaded.tensors[1].1.values, vec![-1.0, 7.0]);
        assert_eq!(loaded.metadata["source"], "test");
    }

    #[test]
    fn header_length_too_small_or_past_the_end() {
        assert_eq!(
            message(&[1, 2, 3]),
            "invalid safetensors file: the file is 3 bytes, shorter than the 8-byte header length it starts with"
        );
        let mut bytes = file("{}", &[]);
        bytes[..8].copy_from_slice(&1000u64.to_le_bytes());
        assert_eq!(
            message(&bytes),
            "invalid safetensors file: the header length is 1000 bytes but only 2 bytes follow it"
        );
        bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(message(&bytes).contains("more than the 100,000,000 bytes"));
    }

    #[test]
    fn data_shorter_than_declared_or_overflowing_shapes() {
        let header = r#"{"a":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]}}"#;
        let err = message(&file(header, &[0; 40]));
        assert!(
            err.contains("do not cover exactly the 40 data bytes"),
            "{err}"
        );
        let header = r#"{"a":{"dtype":"F32","shape":[3,4],"data_offsets":[0,40]}}"#;
        let err = message(&file(header, &[0; 40]));
        assert!(err.starts_with("invalid safetensors file: "), "{err}");
        let header = r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}"#;
        assert!(message(&file(header, &[0; 4])).starts_with("invalid safetensors file: "));
        let header =
            r#"{"a":{"dtype":"U8","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#;
        assert!(from_safetensors(&file(header, &[])).is_ok());
        let header = r#"{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}"#;
        assert!(message(&file(header, &[0])).contains("rank 9"));
    }

    #[test]
    fn unsupported_dtype_and_bad_json() {
        let header = r#"{"z":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#;
        let err = message(&file(header, &[0; 8]));
        assert!(
            err.contains("tensor 'z' has dtype C64; expected one of BOOL"),
            "{err}"
        );
        assert!(message(&file("{not json", &[])).contains("invalid JSON in header"));
        assert!(message(&file("\u{0}\u{0}", &[])).starts_with("invalid safetensors file"));
    }
}
