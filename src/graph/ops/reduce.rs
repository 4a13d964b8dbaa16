//! Reductions (placeholder header; the implementing session rewrites this file).

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Mean over `axes` (full-shape indices, never 0, the batch), keeping them as size 1 when `keepdims`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceMean {
    pub axes: Vec<usize>,
    pub keepdims: bool,
}

impl Kernel for ReduceMean {
    fn output_shape(&self, _inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Err(Error::shape("PLACEHOLDER reduce"))
    }
    fn forward(&self, _inputs: &[&Tensor]) -> Result<Tensor> {
        Err(Error::shape("PLACEHOLDER reduce"))
    }
    fn backward(&self, _i: &[&Tensor], _o: &Tensor, _g: &Tensor, _w: bool) -> Result<Grads> {
        Err(Error::shape("PLACEHOLDER reduce"))
    }
}
