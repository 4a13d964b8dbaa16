//! NumPy `.npy` files: one array, as written by `numpy.save`.
//!
//! Format (NEP 1, <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>):
//! the magic string `\x93NUMPY`, a version byte pair (1.0, 2.0 or 3.0), the header length
//! (u16 little-endian in 1.0, u32 in 2.0 and 3.0), the header (a Python dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, ASCII in 1.0/2.0, UTF-8 in 3.0,
//! ending in a newline), then the raw elements.
//!
//! Read: float16/32/64, bool and the 8- to 64-bit signed and unsigned integers, in either byte
//! order, converted to f32 as [`crate::io::array`] describes. A Fortran-order array
//! (`fortran_order: True`, first axis fastest) is transposed to C order, so the values always
//! come back row-major whatever order the file used. Structured, complex, string, datetime and
//! pickled object arrays are refused.
//!
//! The header dict is read by `header.rs`, a small parser of the one dict literal NumPy writes,
//! rather than by a crate: `ndarray-npy` 0.10 and `npyz` 0.9 both parse it as a general Python
//! literal with `py_literal`, which brings `pest` and `num-bigint` into the wasm. Measured with
//! `make pkg` (wasm-opt -Oz), `safetensors` in both builds: the package's wasm was 2,083,877
//! bytes (787,760 gzip -9) reading the header with `ndarray-npy` and 1,860,512 bytes (716,144
//! gzip -9) with this parser, so the crate would add 223 kB (72 kB gzip), a tenth of the package.
//! (Both readers with this parser add 87 kB, 35 kB gzip, to the package without them.) `npyz` also multiplies the
//! declared shape unchecked (a panic in debug builds on `shape: (2**40, 2**40)`). The element
//! data is converted here, after the declared size is checked against
//! [`crate::tensor::limits::MAX_ELEMENTS`] and the bytes present.

mod header;

use super::array::{ArrayDtype, LoadedArray};
use crate::error::{Error, Result};
use crate::tensor::checked_elements;
use ndarray::{ArrayD, IxDyn, ShapeBuilder};

/// The magic string every `.npy` file starts with.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The dtypes read, as NumPy type strings without the byte-order character.
const TYPE_CODES: [(&str, ArrayDtype); 12] = [
    ("b1", ArrayDtype::Bool),
    ("i1", ArrayDtype::Int8),
    ("u1", ArrayDtype::Uint8),
    ("i2", ArrayDtype::Int16),
    ("u2", ArrayDtype::Uint16),
    ("i4", ArrayDtype::Int32),
    ("u4", ArrayDtype::Uint32),
    ("i8", ArrayDtype::Int64),
    ("u8", ArrayDtype::Uint64),
    ("f2", ArrayDtype::Float16),
    ("f4", ArrayDtype::Float32),
    ("f8", ArrayDtype::Float64),
];

fn npy_error(message: impl std::fmt::Display) -> Error {
    Error::invalid(".npy file", message)
}

/// Reads a whole `.npy` file from memory. Fails with [`Error::Invalid`] on bytes that are not a
/// `.npy` file of a supported version and dtype or whose data does not match the header, and
/// with [`Error::TooLarge`] when the declared shape has more than
/// [`crate::tensor::limits::MAX_ELEMENTS`] elements.
pub fn from_npy(bytes: &[u8]) -> Result<LoadedArray> {
    let header_end = check_preamble(bytes)?;
    let header = header::parse(&bytes[..header_end])?;
    let data = &bytes[header_end..];
    let (dtype, big_endian) = dtype_of(&header.descr)?;
    let shape = header.shape;
    let elements = checked_elements(".npy array", &shape)?;
    let expected = elements * dtype.byte_size();
    if data.len() != expected {
        return Err(npy_error(format!(
            "the header declares shape {shape:?} ({elements} {} values, {expected} bytes) but {} data bytes follow",
            dtype.name(),
            data.len()
        )));
    }
    let mut values = dtype.to_f32(data, big_endian);
    if header.fortran_order && shape.len() > 1 {
        let fortran = ArrayD::from_shape_vec(IxDyn(&shape).f(), values)
            .map_err(|e| npy_error(format!("shape {shape:?}: {e}")))?;
        values = fortran.iter().copied().collect();
    }
    Ok(LoadedArray {
        shape,
        dtype,
        values,
    })
}

/// Checks the magic string, version and header length; returns the offset of the first data
/// byte.
fn check_preamble(bytes: &[u8]) -> Result<usize> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(npy_error(format!(
            "it does not start with the magic string \\x93NUMPY (a file of {} bytes starting {:02x?})",
            bytes.len(),
            &bytes[..bytes.len().min(8)]
        )));
    }
    let (length_bytes, header_len) = match (bytes[6], bytes[7]) {
        (1, 0) => (2, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        (2, 0) | (3, 0) => {
            let Some(&[a, b, c, d]) = bytes.get(8..12) else {
                return Err(npy_error(format!(
                    "the file ends after {} bytes, inside the 4-byte header length",
                    bytes.len()
                )));
            };
            (4, u32::from_le_bytes([a, b, c, d]) as usize)
        }
        (major, minor) => {
            return Err(npy_error(format!(
                "format version {major}.{minor} is not supported; expected 1.0, 2.0 or 3.0"
            )))
        }
    };
    let start = 8 + length_bytes;
    let available = bytes.len() - start;
    if header_len > available {
        return Err(npy_error(format!(
            "the header length is {header_len} bytes but only {available} bytes follow it"
        )));
    }
    Ok(start + header_len)
}

/// The dtype and byte order (true for big-endian) of a header's `descr`.
fn dtype_of(descr: &str) -> Result<(ArrayDtype, bool)> {
    let expected = || {
        TYPE_CODES
            .iter()
            .map(|(code, dtype)| format!("{} ('<{code}')", dtype.name()))
            .collect::<Vec<_>>()
    };
    let (big_endian, code) = match descr.as_bytes().first() {
        Some(b'<' | b'|') => (false, &descr[1..]),
        Some(b'>') => (true, &descr[1..]),
        _ => return Err(Error::unknown(".npy dtype", descr, &expected())),
    };
    TYPE_CODES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|&(_, dtype)| (dtype, big_endian))
        .ok_or_else(|| Error::unknown(".npy dtype", descr, &expected()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 1.0 file with the given header dict text and data bytes.
    fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn dict(descr: &str, fortran: bool, shape: &str) -> String {
        let fortran = if fortran { "True" } else { "False" };
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
    }

    fn message(bytes: &[u8]) -> String {
        from_npy(bytes).unwrap_err().to_string()
    }

    #[test]
    fn reads_a_small_array() {
        let data: Vec<u8> = [1.0f32, 2.0, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let array = from_npy(&npy(&dict("<f4", false, "(3,)"), &data)).unwrap();
        assert_eq!(array.shape, vec![3]);
        assert_eq!(array.dtype, ArrayDtype::Float32);
        assert_eq!(array.values, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn transposes_fortran_order() {
        // [[0, 1, 2], [3, 4, 5]] stored column by column.
        let data = [0u8, 3, 1, 4, 2, 5];
        let array = from_npy(&npy(&dict("|u1", true, "(2, 3)"), &data)).unwrap();
        assert_eq!(array.values, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn data_shorter_or_longer_than_declared() {
        let bytes = npy(&dict("<f4", false, "(3, 4)"), &[0; 40]);
        assert_eq!(
            message(&bytes),
            "invalid .npy file: the header declares shape [3, 4] (12 float32 values, 48 bytes) but 40 data bytes follow"
        );
        let bytes = npy(&dict("<f4", false, "(3, 4)"), &[0; 52]);
        assert!(message(&bytes).ends_with("but 52 data bytes follow"));
    }

    #[test]
    fn shape_products_that_overflow_or_exceed_the_limit() {
        let bytes = npy(&dict("<f4", false, "(4294967296, 4294967296, 16)"), &[]);
        assert!(matches!(from_npy(&bytes), Err(Error::TooLarge { .. })));
        let bytes = npy(&dict("<f8", false, "(100000, 100000)"), &[]);
        let err = message(&bytes);
        assert!(
            err.contains("10000000000 elements, more than the limit"),
            "{err}"
        );
        let bytes = npy(&dict("<f4", false, "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), &[0; 4]);
        assert!(message(&bytes).contains("rank 9"));
        let bytes = npy(&dict("<f4", false, "(-1,)"), &[]);
        assert!(message(&bytes).contains("where a dimension (a non-negative integer) was expected"));
    }

    #[test]
    fn header_length_past_the_end() {
        let mut bytes = npy(&dict("<f4", false, "()"), &[0; 4]);
        bytes[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            message(&bytes),
            format!(
                "invalid .npy file: the header length is 65535 bytes but only {} bytes follow it",
                bytes.len() - 10
            )
        );
        let mut v2 = MAGIC.to_vec();
        v2.extend_from_slice(&[2, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(message(&v2).contains("the header length is 4294967295 bytes but only 0"));
        assert!(message(&v2[..11]).contains("inside the 4-byte header length"));
    }

    #[test]
    fn bad_magic_version_and_truncation() {
        assert!(message(b"").contains("does not start with the magic string"));
        assert!(message(b"PK\x03\x04 zip file").contains("starting [50, 4b, 03, 04"));
        let mut bytes = npy(&dict("<f4", false, "()"), &[0; 4]);
        bytes[6] = 4;
        assert_eq!(
            message(&bytes),
            "invalid .npy file: format version 4.0 is not supported; expected 1.0, 2.0 or 3.0"
        );
    }

    #[test]
    fn unsupported_and_malformed_headers() {
        let err = message(&npy(&dict("<c8", false, "(1,)"), &[0; 8]));
        assert!(err.starts_with("unknown .npy dtype '<c8'; expected one of: bool ('<b1')"));
        assert!(message(&npy(&dict("|O", false, "(1,)"), &[0; 8])).contains("'|O'"));
        let structured = "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }";
        assert!(message(&npy(structured, &[0; 4])).contains("(a structured dtype)"));
        let nested = format!(
            "{{'descr': '<f4', 'shape': {}1{}, }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert!(message(&npy(&nested, &[])).contains("where a dimension"));
        assert!(message(&npy("{'descr': '<f4'}", &[])).contains("no 'fortran_order' key"));
        assert!(message(&npy("not python", &[])).contains("where '{' was expected"));
    }
}
