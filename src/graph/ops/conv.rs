//! 2-D convolution (placeholder header; the implementing session rewrites this file).

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// 2-D convolution over NCHW input with PyTorch/ONNX semantics.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    /// `[out_channels, in_channels / groups, kernel_h, kernel_w]`.
    pub weight: Tensor,
    /// `[out_channels]`.
    pub bias: Option<Tensor>,
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]` zero padding (ONNX `pads` order is `[top, left, bottom, right]`).
    pub padding: [usize; 4],
    /// `[dilation_h, dilation_w]`.
    pub dilation: [usize; 2],
    /// Number of groups; in and out channels must both divide by it.
    pub groups: usize,
}

impl Kernel for Conv2d {
    fn output_shape(&self, _inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Err(Error::shape("PLACEHOLDER conv"))
    }
    fn forward(&self, _inputs: &[&Tensor]) -> Result<Tensor> {
        Err(Error::shape("PLACEHOLDER conv"))
    }
    fn backward(&self, _i: &[&Tensor], _o: &Tensor, _g: &Tensor, _w: bool) -> Result<Grads> {
        Err(Error::shape("PLACEHOLDER conv"))
    }
}
