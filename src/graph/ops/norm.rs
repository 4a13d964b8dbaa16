//! Batch normalisation (placeholder header; the implementing session rewrites this file).

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Batch normalisation over axis 1 with running statistics (inference form):
/// `y = scale * (x - mean) / sqrt(var + epsilon) + bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    /// `[C]`, trainable.
    pub scale: Tensor,
    /// `[C]`, trainable.
    pub bias: Tensor,
    /// `[C]` running mean (not trainable).
    pub mean: Tensor,
    /// `[C]` running variance (not trainable).
    pub var: Tensor,
    /// Added to the variance.
    pub epsilon: f32,
}

impl Kernel for BatchNorm {
    fn output_shape(&self, _inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Err(Error::shape("PLACEHOLDER norm"))
    }
    fn forward(&self, _inputs: &[&Tensor]) -> Result<Tensor> {
        Err(Error::shape("PLACEHOLDER norm"))
    }
    fn backward(&self, _i: &[&Tensor], _o: &Tensor, _g: &Tensor, _w: bool) -> Result<Grads> {
        Err(Error::shape("PLACEHOLDER norm"))
    }
}
