//! Tensors: `ndarray` f32 arrays of any rank, batch dimension first, images NCHW.
//!
//! Also the size limits nnlens enforces before it allocates anything, so that a hostile
//! or mistaken shape becomes an [`Error::TooLarge`] instead of an out-of-memory abort.

use crate::error::{Error, Result};
use ndarray::{ArrayD, IxDyn};

/// The tensor type of nnlens: a dynamically ranked f32 array.
pub type Tensor = ArrayD<f32>;

/// Size limits, checked before allocation.
pub mod limits {
    /// Largest number of elements one tensor may hold: 2^27 f32 values (512 MiB).
    /// A wasm32 module addresses at most 4 GiB, and a forward pass keeps every layer's output.
    pub const MAX_ELEMENTS: usize = 1 << 27;
    /// Largest rank of a tensor.
    pub const MAX_RANK: usize = 8;
    /// Largest batch a single forward pass accepts.
    pub const MAX_BATCH: usize = 1 << 16;
    /// Largest number of values one forward trace keeps together (the input and every layer's
    /// output): 2^28 f32 values (1 GiB), so that a trace plus the gradients of a backward pass
    /// stay inside wasm32's 4 GiB. `Graph::forward` splits a larger batch into passes.
    pub const MAX_TRACE_ELEMENTS: usize = 1 << 28;
    /// Most rows (samples) of a dataset nnlens generates or reads (`crate::data`): 2^20.
    pub const MAX_DATA_ROWS: usize = 1 << 20;
    /// Most columns of a CSV dataset: 2^12.
    pub const MAX_DATA_COLUMNS: usize = 1 << 12;
    /// Most classes of a classification dataset: 2^10.
    pub const MAX_CLASSES: usize = 1 << 10;
}

/// The number of elements of `shape`, or [`Error::TooLarge`] when the product overflows
/// or exceeds [`limits::MAX_ELEMENTS`]. `what` names the tensor in the message.
pub fn checked_elements(what: &str, shape: &[usize]) -> Result<usize> {
    let too_large = |elements: String| Error::TooLarge {
        what: what.to_string(),
        shape: shape.to_vec(),
        elements,
        limit: limits::MAX_ELEMENTS,
    };
    if shape.len() > limits::MAX_RANK {
        return Err(Error::shape(format!(
            "{what} has rank {} (shape {shape:?}); at most {} dimensions are supported",
            shape.len(),
            limits::MAX_RANK
        )));
    }
    let mut product: usize = 1;
    for &dim in shape {
        product = product
            .checked_mul(dim)
            .ok_or_else(|| too_large("more than usize::MAX".to_string()))?;
    }
    if product > limits::MAX_ELEMENTS {
        return Err(too_large(product.to_string()));
    }
    Ok(product)
}

/// Prepends the batch dimension to a per-sample shape.
pub fn with_batch(batch: usize, sample_shape: &[usize]) -> Vec<usize> {
    let mut shape = Vec::with_capacity(sample_shape.len() + 1);
    shape.push(batch);
    shape.extend_from_slice(sample_shape);
    shape
}

/// A tensor of the given shape from a flat row-major buffer, checking the length.
pub fn from_vec(what: &str, shape: &[usize], data: Vec<f32>) -> Result<Tensor> {
    let expected = checked_elements(what, shape)?;
    if data.len() != expected {
        return Err(Error::shape(format!(
            "{what} has {} values, expected {expected} for shape {shape:?}",
            data.len()
        )));
    }
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| Error::shape(format!("{what}: {e}")))
}

/// The values of a tensor in row-major order as a new vector (no copy when already standard).
pub fn into_vec(tensor: Tensor) -> Vec<f32> {
    let len = tensor.len();
    if tensor.is_standard_layout() {
        let (data, offset) = tensor.into_raw_vec_and_offset();
        match offset {
            Some(0) | None if data.len() == len => data,
            Some(start) => data[start..start + len].to_vec(),
            None => data,
        }
    } else {
        tensor.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_elements_rejects_overflow_and_limit() {
        assert_eq!(checked_elements("x", &[2, 3, 4]).unwrap(), 24);
        assert!(matches!(
            checked_elements("x", &[usize::MAX, 2]),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            checked_elements("x", &[limits::MAX_ELEMENTS + 1]),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn from_vec_checks_length() {
        assert!(from_vec("x", &[2, 2], vec![0.0; 3]).is_err());
        let t = from_vec("x", &[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(into_vec(t), vec![1.0, 2.0, 3.0, 4.0]);
    }
}
