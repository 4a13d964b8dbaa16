//! Import-time values of an ONNX graph and the decoding of `TensorProto`s into them.
//!
//! Every ONNX tensor name is bound to a [`Val`]: a value computed by the nnlens graph at run
//! time, a float constant (weights, biases, folded arithmetic), or an integer constant (shape
//! tensors, axes, indices). Integer constants are [`Sym`]s, `n * N + c` in the batch size `N`, so
//! that the `Shape -> Gather -> Unsqueeze -> Concat` chains exporters emit for
//! `x.view(x.size(0), -1)` fold at import while the batch stays free.
//!
//! Tensor data may sit in `raw_data` (little-endian) or in the typed fields (`float_data`,
//! `int32_data` — which also carries the bits of f16/bf16/bool/int8/int16/uint8/uint16 —,
//! `int64_data`, `uint64_data`, `double_data`). f64, f16 and bf16 become f32; every integer
//! type becomes i64. The element count is checked against [`limits::MAX_ELEMENTS`] and against
//! the length of the stored data before anything is allocated.
//!
//! [`limits::MAX_ELEMENTS`]: crate::tensor::limits::MAX_ELEMENTS

use super::proto::{tensor_proto, TensorProto};
use crate::error::{Error, Result};
use crate::graph::ValueId;
use crate::tensor::checked_elements;
use ndarray::{ArrayD, IxDyn};
use std::fmt;
use std::rc::Rc;

/// An integer known at import time up to the batch size `N`: the value `n * N + c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sym {
    /// Coefficient of the batch size.
    pub n: i64,
    /// Constant part.
    pub c: i64,
}

impl Sym {
    /// The batch size itself.
    pub const BATCH: Sym = Sym { n: 1, c: 0 };

    /// A plain integer.
    pub const fn int(c: i64) -> Sym {
        Sym { n: 0, c }
    }

    /// The integer, when it does not depend on the batch size.
    pub fn as_int(self) -> Option<i64> {
        (self.n == 0).then_some(self.c)
    }

    fn overflow(op: &str, a: Sym, b: Sym) -> Error {
        Error::Onnx(format!("integer overflow computing {a} {op} {b}"))
    }

    /// `self + other`.
    pub fn add(self, other: Sym) -> Result<Sym> {
        match (self.n.checked_add(other.n), self.c.checked_add(other.c)) {
            (Some(n), Some(c)) => Ok(Sym { n, c }),
            _ => Err(Sym::overflow("+", self, other)),
        }
    }

    /// `self - other`.
    pub fn sub(self, other: Sym) -> Result<Sym> {
        match (self.n.checked_sub(other.n), self.c.checked_sub(other.c)) {
            (Some(n), Some(c)) => Ok(Sym { n, c }),
            _ => Err(Sym::overflow("-", self, other)),
        }
    }

    /// `self * other`; fails when both depend on the batch size (the result would not be
    /// linear in it).
    pub fn mul(self, other: Sym) -> Result<Sym> {
        let (k, s) = match (self.as_int(), other.as_int()) {
            (Some(k), _) => (k, other),
            (_, Some(k)) => (k, self),
            _ => {
                return Err(Error::Onnx(format!(
                    "cannot multiply {self} by {other}: both depend on the batch size"
                )))
            }
        };
        match (s.n.checked_mul(k), s.c.checked_mul(k)) {
            (Some(n), Some(c)) => Ok(Sym { n, c }),
            _ => Err(Sym::overflow("*", self, other)),
        }
    }

    /// `self / other`, truncating like ONNX integer `Div`; a batch-dependent dividend must be
    /// divisible exactly, a batch-dependent divisor is refused.
    pub fn div(self, other: Sym) -> Result<Sym> {
        let Some(d) = other.as_int() else {
            return Err(Error::Onnx(format!(
                "cannot divide {self} by {other}, which depends on the batch size"
            )));
        };
        if d == 0 {
            return Err(Error::Onnx(format!("integer division of {self} by zero")));
        }
        if self.n != 0 && (self.n % d != 0 || self.c % d != 0) {
            return Err(Error::Onnx(format!(
                "cannot divide {self} by {d} exactly for every batch size"
            )));
        }
        match (self.n.checked_div(d), self.c.checked_div(d)) {
            (Some(n), Some(c)) => Ok(Sym { n, c }),
            _ => Err(Sym::overflow("/", self, other)),
        }
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.n, self.c) {
            (0, c) => write!(f, "{c}"),
            (1, 0) => write!(f, "N"),
            (n, 0) => write!(f, "{n}*N"),
            (1, c) => write!(f, "N{c:+}"),
            (n, c) => write!(f, "{n}*N{c:+}"),
        }
    }
}

/// What an ONNX tensor name stands for during import.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A value the nnlens graph computes at run time.
    Runtime(ValueId),
    /// A float constant (any ONNX float type, converted to f32), shared between the names
    /// bound to it.
    Float(Rc<ArrayD<f32>>),
    /// An integer constant (any ONNX integer or bool type), possibly depending on the batch.
    Int(Rc<ArrayD<Sym>>),
}

impl Val {
    /// A float constant.
    pub fn float(a: ArrayD<f32>) -> Val {
        Val::Float(Rc::new(a))
    }

    /// An integer constant.
    pub fn int(a: ArrayD<Sym>) -> Val {
        Val::Int(Rc::new(a))
    }

    /// The bytes the value's data takes in memory (0 for run-time values).
    pub fn bytes(&self) -> usize {
        match self {
            Val::Runtime(_) => 0,
            Val::Float(a) => a.len().saturating_mul(std::mem::size_of::<f32>()),
            Val::Int(a) => a.len().saturating_mul(std::mem::size_of::<Sym>()),
        }
    }

    /// A short description for messages: "a run-time tensor", "a float constant of shape [2, 3]".
    pub fn describe(&self) -> String {
        match self {
            Val::Runtime(_) => "a tensor computed at run time".to_string(),
            Val::Float(a) => format!("a float constant of shape {:?}", a.shape()),
            Val::Int(a) => format!("an integer constant of shape {:?}", a.shape()),
        }
    }
}

/// The ONNX name of a `TensorProto.DataType` code.
pub fn type_name(code: i32) -> String {
    tensor_proto::DataType::try_from(code)
        .map(|t| t.as_str_name().to_string())
        .unwrap_or_else(|_| format!("unknown type code {code}"))
}

/// Converts ONNX dims to a shape, refusing negative dims and oversized tensors.
pub fn dims_to_shape(what: &str, dims: &[i64]) -> Result<Vec<usize>> {
    let shape = dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                Error::Onnx(format!("{what} has a negative dimension {d} in its dims {dims:?}"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    checked_elements(what, &shape)?;
    Ok(shape)
}

/// Checks that a typed field or raw buffer holds exactly `count` elements.
fn check_len(what: &str, field: &str, len: usize, count: usize, shape: &[usize]) -> Result<()> {
    if len != count {
        return Err(Error::Onnx(format!(
            "{what}: {field} holds {len} values but dims {shape:?} need {count}"
        )));
    }
    Ok(())
}

/// Splits `raw` into `count` little-endian elements of `N` bytes, after checking its length.
fn raw_chunks<'a, const N: usize>(
    what: &str,
    raw: &'a [u8],
    count: usize,
    shape: &[usize],
) -> Result<impl Iterator<Item = [u8; N]> + 'a> {
    let expected = count
        .checked_mul(N)
        .ok_or_else(|| Error::Onnx(format!("{what}: byte size of dims {shape:?} overflows")))?;
    if raw.len() != expected {
        return Err(Error::Onnx(format!(
            "{what}: raw_data has {} bytes but dims {shape:?} of {N}-byte elements need {expected}",
            raw.len()
        )));
    }
    Ok(raw.chunks_exact(N).map(|c| {
        let mut b = [0u8; N];
        b.copy_from_slice(c);
        b
    }))
}

/// Decodes a constant tensor (an initializer or a `Constant` node's value).
pub fn decode_tensor(tensor: &TensorProto, what: &str) -> Result<Val> {
    use tensor_proto::{DataLocation, DataType as T};
    let name = tensor.name();
    let what = if name.is_empty() { what.to_string() } else { format!("{what} '{name}'") };
    if tensor.data_location == Some(DataLocation::External as i32) || !tensor.external_data.is_empty() {
        let location = tensor
            .external_data
            .iter()
            .find(|e| e.key() == "location")
            .map(|e| format!(" (file '{}')", e.value()))
            .unwrap_or_default();
        return Err(Error::Onnx(format!(
            "{what} keeps its data in an external file{location}; nnlens reads self-contained \
             .onnx files only: save the model with onnx.save_model(model, path, \
             save_as_external_data=False)"
        )));
    }
    if tensor.segment.is_some() {
        return Err(Error::Onnx(format!(
            "{what} is a segment of a larger tensor; segmented tensors are not supported"
        )));
    }
    let shape = dims_to_shape(&what, &tensor.dims)?;
    let count: usize = shape.iter().product();
    let code = tensor.data_type.unwrap_or(0);
    let raw = tensor.raw_data.as_deref();
    let typed_fields = [
        ("float_data", tensor.float_data.len()),
        ("int32_data", tensor.int32_data.len()),
        ("int64_data", tensor.int64_data.len()),
        ("uint64_data", tensor.uint64_data.len()),
        ("double_data", tensor.double_data.len()),
        ("string_data", tensor.string_data.len()),
    ];
    if raw.is_some() {
        if let Some((field, _)) = typed_fields.iter().find(|(_, n)| *n > 0) {
            return Err(Error::Onnx(format!(
                "{what} has both raw_data and {field}; a tensor stores its data in one of them"
            )));
        }
    }
    let float = |data: Vec<f32>| -> Result<Val> { Ok(Val::float(array(&what, &shape, data)?)) };
    let int = |data: Vec<i64>| -> Result<Val> {
        Ok(Val::int(array(&what, &shape, data.into_iter().map(Sym::int).collect())?))
    };
    let ty = T::try_from(code).ok();
    match (ty, raw) {
        (Some(T::Float), Some(raw)) => float(raw_chunks::<4>(&what, raw, count, &shape)?.map(f32::from_le_bytes).collect()),
        (Some(T::Float), None) => {
            check_len(&what, "float_data", tensor.float_data.len(), count, &shape)?;
            float(tensor.float_data.clone())
        }
        (Some(T::Double), Some(raw)) => {
            float(raw_chunks::<8>(&what, raw, count, &shape)?.map(|b| f64::from_le_bytes(b) as f32).collect())
        }
        (Some(T::Double), None) => {
            check_len(&what, "double_data", tensor.double_data.len(), count, &shape)?;
            float(tensor.double_data.iter().map(|&v| v as f32).collect())
        }
        (Some(T::Float16 | T::Bfloat16), Some(raw)) => {
            let bf = ty == Some(T::Bfloat16);
            float(raw_chunks::<2>(&what, raw, count, &shape)?.map(|b| half_to_f32(u16::from_le_bytes(b), bf)).collect())
        }
        (Some(T::Float16 | T::Bfloat16), None) => {
            let bf = ty == Some(T::Bfloat16);
            check_len(&what, "int32_data", tensor.int32_data.len(), count, &shape)?;
            let mut data = Vec::with_capacity(count);
            for &bits in &tensor.int32_data {
                let bits = u16::try_from(bits).map_err(|_| {
                    Error::Onnx(format!("{what}: int32_data value {bits} is not a 16-bit pattern"))
                })?;
                data.push(half_to_f32(bits, bf));
            }
            float(data)
        }
        (Some(T::Int64), Some(raw)) => int(raw_chunks::<8>(&what, raw, count, &shape)?.map(i64::from_le_bytes).collect()),
        (Some(T::Int64), None) => {
            check_len(&what, "int64_data", tensor.int64_data.len(), count, &shape)?;
            int(tensor.int64_data.clone())
        }
        (Some(T::Int32), Some(raw)) => int(raw_chunks::<4>(&what, raw, count, &shape)?.map(|b| i64::from(i32::from_le_bytes(b))).collect()),
        (Some(T::Int16), Some(raw)) => int(raw_chunks::<2>(&what, raw, count, &shape)?.map(|b| i64::from(i16::from_le_bytes(b))).collect()),
        (Some(T::Uint16), Some(raw)) => int(raw_chunks::<2>(&what, raw, count, &shape)?.map(|b| i64::from(u16::from_le_bytes(b))).collect()),
        (Some(T::Int8), Some(raw)) => int(raw_chunks::<1>(&what, raw, count, &shape)?.map(|b| i64::from(b[0] as i8)).collect()),
        (Some(T::Uint8), Some(raw)) => int(raw_chunks::<1>(&what, raw, count, &shape)?.map(|b| i64::from(b[0])).collect()),
        (Some(T::Bool), Some(raw)) => int(raw_chunks::<1>(&what, raw, count, &shape)?.map(|b| i64::from(b[0] != 0)).collect()),
        (Some(T::Int32 | T::Int16 | T::Uint16 | T::Int8 | T::Uint8 | T::Bool), None) => {
            check_len(&what, "int32_data", tensor.int32_data.len(), count, &shape)?;
            let bool_type = ty == Some(T::Bool);
            int(tensor
                .int32_data
                .iter()
                .map(|&v| if bool_type { i64::from(v != 0) } else { i64::from(v) })
                .collect())
        }
        (Some(T::Uint32), Some(raw)) => int(raw_chunks::<4>(&what, raw, count, &shape)?.map(|b| i64::from(u32::from_le_bytes(b))).collect()),
        (Some(T::Uint64), Some(raw)) => {
            let values: Vec<u64> = raw_chunks::<8>(&what, raw, count, &shape)?.map(u64::from_le_bytes).collect();
            int(u64_to_i64(&what, &values)?)
        }
        (Some(T::Uint32 | T::Uint64), None) => {
            check_len(&what, "uint64_data", tensor.uint64_data.len(), count, &shape)?;
            int(u64_to_i64(&what, &tensor.uint64_data)?)
        }
        _ => Err(Error::Onnx(format!(
            "{what} has element type {}; nnlens reads FLOAT, DOUBLE, FLOAT16, BFLOAT16, \
             INT8/16/32/64, UINT8/16/32/64 and BOOL tensors",
            type_name(code)
        ))),
    }
}

fn u64_to_i64(what: &str, values: &[u64]) -> Result<Vec<i64>> {
    values
        .iter()
        .map(|&v| {
            i64::try_from(v).map_err(|_| Error::Onnx(format!("{what}: value {v} does not fit in int64")))
        })
        .collect()
}

fn half_to_f32(bits: u16, bfloat: bool) -> f32 {
    if bfloat {
        half::bf16::from_bits(bits).to_f32()
    } else {
        half::f16::from_bits(bits).to_f32()
    }
}

/// An array of `shape` from row-major `data` whose length was already checked.
pub fn array<T>(what: &str, shape: &[usize], data: Vec<T>) -> Result<ArrayD<T>> {
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| Error::Onnx(format!("{what}: {e}")))
}

/// A float initializer holding `values` with `shape`, as `raw_data`.
pub fn float_tensor(name: &str, shape: &[usize], values: impl IntoIterator<Item = f32>) -> TensorProto {
    let mut raw = Vec::new();
    for v in values {
        raw.extend_from_slice(&v.to_le_bytes());
    }
    TensorProto {
        name: Some(name.to_string()),
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: Some(tensor_proto::DataType::Float as i32),
        raw_data: Some(raw),
        ..Default::default()
    }
}

/// A 1-D int64 initializer holding `values`, as `raw_data`.
pub fn int_tensor(name: &str, values: &[i64]) -> TensorProto {
    let mut raw = Vec::with_capacity(values.len() * 8);
    for v in values {
        raw.extend_from_slice(&v.to_le_bytes());
    }
    TensorProto {
        name: Some(name.to_string()),
        dims: vec![values.len() as i64],
        data_type: Some(tensor_proto::DataType::Int64 as i32),
        raw_data: Some(raw),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensor_proto::DataType as T;

    fn tensor(ty: T, dims: &[i64]) -> TensorProto {
        TensorProto {
            name: Some("w".into()),
            dims: dims.to_vec(),
            data_type: Some(ty as i32),
            ..Default::default()
        }
    }

    fn floats(v: Val) -> Vec<f32> {
        match v {
            Val::Float(a) => a.iter().copied().collect(),
            other => panic!("expected floats, got {other:?}"),
        }
    }

    fn ints(v: Val) -> Vec<i64> {
        match v {
            Val::Int(a) => a.iter().map(|s| s.as_int().unwrap()).collect(),
            other => panic!("expected ints, got {other:?}"),
        }
    }

    #[test]
    fn decodes_every_storage_of_floats() {
        let mut t = tensor(T::Float, &[2]);
        t.float_data = vec![1.5, -2.0];
        assert_eq!(floats(decode_tensor(&t, "t").unwrap()), [1.5, -2.0]);
        let t = float_tensor("w", &[2], [1.5, -2.0]);
        assert_eq!(floats(decode_tensor(&t, "t").unwrap()), [1.5, -2.0]);
        let mut t = tensor(T::Double, &[2]);
        t.double_data = vec![0.25, 3.0];
        assert_eq!(floats(decode_tensor(&t, "t").unwrap()), [0.25, 3.0]);
        let mut t = tensor(T::Double, &[1]);
        t.raw_data = Some(0.5f64.to_le_bytes().to_vec());
        assert_eq!(floats(decode_tensor(&t, "t").unwrap()), [0.5]);
        // f16 1.0 = 0x3C00, -2.0 = 0xC000; bf16 1.0 = 0x3F80.
        let mut t = tensor(T::Float16, &[2]);
        t.int32_data = vec![0x3C00, 0xC000];
        assert_eq!(floats(decode_tensor(&t, "t").unwrap()), [1.0, -2.0]);
        let mut t = tensor(T::Float16, &[1]);
        t.raw_data = Some(vec![0x00, 0x3C]);
        assert_eq!(floats(decode_tensor(&t, "t").unwrap()), [1.0]);
        let mut t = tensor(T::Bfloat16, &[1]);
        t.raw_data = Some(vec![0x80, 0x3F]);
        assert_eq!(floats(decode_tensor(&t, "t").unwrap()), [1.0]);
    }

    #[test]
    fn decodes_integers() {
        let t = int_tensor("s", &[-1, 7]);
        assert_eq!(ints(decode_tensor(&t, "t").unwrap()), [-1, 7]);
        let mut t = tensor(T::Int64, &[]);
        t.int64_data = vec![3];
        assert_eq!(ints(decode_tensor(&t, "t").unwrap()), [3]);
        let mut t = tensor(T::Int32, &[2]);
        t.raw_data = Some([(-5i32).to_le_bytes(), 9i32.to_le_bytes()].concat());
        assert_eq!(ints(decode_tensor(&t, "t").unwrap()), [-5, 9]);
        let mut t = tensor(T::Bool, &[2]);
        t.int32_data = vec![0, 4];
        assert_eq!(ints(decode_tensor(&t, "t").unwrap()), [0, 1]);
        let mut t = tensor(T::Uint64, &[1]);
        t.uint64_data = vec![u64::MAX];
        assert!(decode_tensor(&t, "t").unwrap_err().to_string().contains("does not fit"));
    }

    #[test]
    fn rejects_inconsistent_or_unsupported_tensors() {
        let mut t = tensor(T::Float, &[2, 3]);
        t.raw_data = Some(vec![0; 20]);
        let err = decode_tensor(&t, "initializer").unwrap_err().to_string();
        assert!(err.contains("initializer 'w'") && err.contains("20 bytes") && err.contains("24"), "{err}");
        let mut t = tensor(T::Float, &[3]);
        t.float_data = vec![1.0];
        assert!(decode_tensor(&t, "t").unwrap_err().to_string().contains("float_data holds 1 values"));
        let t = tensor(T::Float, &[-1]);
        assert!(decode_tensor(&t, "t").unwrap_err().to_string().contains("negative dimension"));
        let t = tensor(T::Float, &[1 << 40, 1 << 40]);
        assert!(matches!(decode_tensor(&t, "t"), Err(Error::TooLarge { .. })));
        let t = tensor(T::String, &[1]);
        assert!(decode_tensor(&t, "t").unwrap_err().to_string().contains("STRING"));
        let mut t = tensor(T::Float, &[1]);
        t.data_location = Some(tensor_proto::DataLocation::External as i32);
        t.external_data = vec![super::super::proto::StringStringEntryProto {
            key: Some("location".into()),
            value: Some("w.bin".into()),
        }];
        let err = decode_tensor(&t, "t").unwrap_err().to_string();
        assert!(err.contains("external file (file 'w.bin')"), "{err}");
        let mut t = tensor(T::Float, &[1]);
        t.raw_data = Some(vec![0; 4]);
        t.float_data = vec![1.0];
        assert!(decode_tensor(&t, "t").unwrap_err().to_string().contains("both raw_data and float_data"));
    }

    #[test]
    fn sym_arithmetic_tracks_the_batch() {
        let n = Sym::BATCH;
        assert_eq!(n.mul(Sym::int(3)).unwrap().to_string(), "3*N");
        assert_eq!(n.add(Sym::int(-2)).unwrap().to_string(), "N-2");
        assert!(n.mul(n).is_err());
        assert!(n.div(Sym::int(2)).is_err());
        assert_eq!(n.mul(Sym::int(4)).unwrap().div(Sym::int(2)).unwrap(), Sym { n: 2, c: 0 });
        assert_eq!(Sym::int(-7).div(Sym::int(2)).unwrap(), Sym::int(-3));
        assert!(Sym::int(1).div(Sym::int(0)).is_err());
        assert!(Sym::int(i64::MAX).add(Sym::int(1)).is_err());
        assert!(Sym::int(i64::MIN).div(Sym::int(-1)).is_err());
    }
}
