//! Arrays read from precomputed files (NumPy `.npy`, `safetensors`): the shape, the element type
//! the file stored, and the values converted to `f32` in C (row-major) order.
//!
//! Conversion to f32 (IEEE 754 binary32, 24-bit significand) is exact for float16, bfloat16,
//! float32, bool and every integer of magnitude at most 2^24 = 16,777,216 (all of int8, uint8,
//! int16, uint16); larger integers (int32, uint32, int64, uint64) round to the nearest f32.
//! float64 values round to nearest and become ±infinity beyond f32's range (about 3.4e38). The
//! readers are [`crate::io::npy`] and [`crate::io::safetensors`].

use crate::error::Result;
use crate::tensor::Tensor;
use ndarray::IxDyn;

/// The element type an array was stored with, before its conversion to f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayDtype {
    /// Booleans (`false` -> 0, `true` -> 1).
    Bool,
    /// Signed 8-bit integers.
    Int8,
    /// Unsigned 8-bit integers.
    Uint8,
    /// Signed 16-bit integers.
    Int16,
    /// Unsigned 16-bit integers.
    Uint16,
    /// Signed 32-bit integers (exact up to magnitude 2^24).
    Int32,
    /// Unsigned 32-bit integers (exact up to 2^24).
    Uint32,
    /// Signed 64-bit integers (exact up to magnitude 2^24).
    Int64,
    /// Unsigned 64-bit integers (exact up to 2^24).
    Uint64,
    /// IEEE 754 half precision.
    Float16,
    /// bfloat16: the upper 16 bits of a float32.
    Bfloat16,
    /// IEEE 754 single precision.
    Float32,
    /// IEEE 754 double precision (rounded to f32).
    Float64,
}

impl ArrayDtype {
    /// The NumPy name of the type (`"float32"`, `"int64"`, `"bool"`, `"bfloat16"`...), the
    /// `dtype` string of the JavaScript API.
    pub fn name(self) -> &'static str {
        match self {
            ArrayDtype::Bool => "bool",
            ArrayDtype::Int8 => "int8",
            ArrayDtype::Uint8 => "uint8",
            ArrayDtype::Int16 => "int16",
            ArrayDtype::Uint16 => "uint16",
            ArrayDtype::Int32 => "int32",
            ArrayDtype::Uint32 => "uint32",
            ArrayDtype::Int64 => "int64",
            ArrayDtype::Uint64 => "uint64",
            ArrayDtype::Float16 => "float16",
            ArrayDtype::Bfloat16 => "bfloat16",
            ArrayDtype::Float32 => "float32",
            ArrayDtype::Float64 => "float64",
        }
    }

    /// Bytes per element in the file.
    pub fn byte_size(self) -> usize {
        match self {
            ArrayDtype::Bool | ArrayDtype::Int8 | ArrayDtype::Uint8 => 1,
            ArrayDtype::Int16 | ArrayDtype::Uint16 | ArrayDtype::Float16 | ArrayDtype::Bfloat16 => {
                2
            }
            ArrayDtype::Int32 | ArrayDtype::Uint32 | ArrayDtype::Float32 => 4,
            ArrayDtype::Int64 | ArrayDtype::Uint64 | ArrayDtype::Float64 => 8,
        }
    }

    /// Converts `bytes` (a whole number of elements of this type, in the given byte order) to
    /// f32. A bool byte other than 0 counts as `true`.
    pub(crate) fn to_f32(self, bytes: &[u8], big_endian: bool) -> Vec<f32> {
        macro_rules! convert {
            ($t:ty, $n:literal, |$x:ident| $to_f32:expr) => {
                bytes
                    .chunks_exact($n)
                    .map(|chunk| {
                        let mut raw = [0u8; $n];
                        raw.copy_from_slice(chunk);
                        let $x = if big_endian {
                            <$t>::from_be_bytes(raw)
                        } else {
                            <$t>::from_le_bytes(raw)
                        };
                        $to_f32
                    })
                    .collect()
            };
        }
        match self {
            ArrayDtype::Bool => bytes.iter().map(|&b| f32::from(u8::from(b != 0))).collect(),
            ArrayDtype::Int8 => bytes.iter().map(|&b| f32::from(b as i8)).collect(),
            ArrayDtype::Uint8 => bytes.iter().map(|&b| f32::from(b)).collect(),
            ArrayDtype::Int16 => convert!(i16, 2, |x| f32::from(x)),
            ArrayDtype::Uint16 => convert!(u16, 2, |x| f32::from(x)),
            ArrayDtype::Int32 => convert!(i32, 4, |x| x as f32),
            ArrayDtype::Uint32 => convert!(u32, 4, |x| x as f32),
            ArrayDtype::Int64 => convert!(i64, 8, |x| x as f32),
            ArrayDtype::Uint64 => convert!(u64, 8, |x| x as f32),
            ArrayDtype::Float16 => convert!(u16, 2, |x| half::f16::from_bits(x).to_f32()),
            ArrayDtype::Bfloat16 => convert!(u16, 2, |x| half::bf16::from_bits(x).to_f32()),
            ArrayDtype::Float32 => convert!(f32, 4, |x| x),
            ArrayDtype::Float64 => convert!(f64, 8, |x| x as f32),
        }
    }
}

/// An array read from a file: its shape, the type it was stored with and its values as f32 in
/// C order (the last axis varies fastest). A 0-d array has shape `[]` and one value.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedArray {
    /// The dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The element type in the file.
    pub dtype: ArrayDtype,
    /// The values converted to f32 (see the module doc for exactness), `shape`'s product long.
    pub values: Vec<f32>,
}

impl LoadedArray {
    /// The values as an nnlens [`Tensor`] of the array's shape.
    pub fn into_tensor(self) -> Result<Tensor> {
        Tensor::from_shape_vec(IxDyn(&self.shape), self.values).map_err(crate::Error::shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_each_type_in_both_byte_orders() {
        assert_eq!(ArrayDtype::Int16.to_f32(&[0xff, 0xfe], false), vec![-257.0]);
        assert_eq!(ArrayDtype::Int16.to_f32(&[0xff, 0xfe], true), vec![-2.0]);
        assert_eq!(
            ArrayDtype::Bool.to_f32(&[0, 1, 7], false),
            vec![0.0, 1.0, 1.0]
        );
        assert_eq!(ArrayDtype::Int8.to_f32(&[0x80], false), vec![-128.0]);
        assert_eq!(ArrayDtype::Float16.to_f32(&[0x3c, 0x00], true), vec![1.0]);
        assert_eq!(ArrayDtype::Bfloat16.to_f32(&[0xc0, 0x3f], false), vec![1.5]);
        assert_eq!(
            ArrayDtype::Float64.to_f32(&(-0.5f64).to_be_bytes(), true),
            vec![-0.5]
        );
        // 2^24 + 1 is the first integer f32 cannot hold: it rounds to 2^24.
        assert_eq!(
            ArrayDtype::Int64.to_f32(&16_777_217i64.to_le_bytes(), false),
            vec![16_777_216.0]
        );
    }

    #[test]
    fn into_tensor_keeps_the_shape() {
        let array = LoadedArray {
            shape: vec![2, 1],
            dtype: ArrayDtype::Float32,
            values: vec![1.0, 2.0],
        };
        assert_eq!(array.into_tensor().unwrap().shape(), &[2, 1]);
        let scalar = LoadedArray {
            shape: vec![],
            dtype: ArrayDtype::Float32,
            values: vec![3.0],
        };
        assert_eq!(scalar.into_tensor().unwrap().ndim(), 0);
    }
}
