//! Pooling (placeholder header; the implementing session rewrites this file).

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// 2-D max pooling over NCHW input (PyTorch `MaxPool2d` / ONNX `MaxPool`).
#[derive(Debug, Clone, PartialEq)]
pub struct MaxPool2d {
    /// `[kernel_h, kernel_w]`.
    pub kernel: [usize; 2],
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`; padded cells never win the max.
    pub padding: [usize; 4],
    /// Output size rounds up instead of down (windows starting in the padding are dropped).
    pub ceil_mode: bool,
}

/// 2-D average pooling over NCHW input (PyTorch `AvgPool2d` / ONNX `AveragePool`).
#[derive(Debug, Clone, PartialEq)]
pub struct AvgPool2d {
    /// `[kernel_h, kernel_w]`.
    pub kernel: [usize; 2],
    /// `[stride_h, stride_w]`.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    /// Output size rounds up instead of down.
    pub ceil_mode: bool,
    /// Padded cells count in the divisor.
    pub count_include_pad: bool,
}

/// Mean over the spatial axes 2.., keeping them with size 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlobalAvgPool;

macro_rules! placeholder {
    ($t:ty) => {
        impl Kernel for $t {
            fn output_shape(&self, _inputs: &[&[usize]]) -> Result<Vec<usize>> {
                Err(Error::shape("PLACEHOLDER pool"))
            }
            fn forward(&self, _inputs: &[&Tensor]) -> Result<Tensor> {
                Err(Error::shape("PLACEHOLDER pool"))
            }
            fn backward(&self, _i: &[&Tensor], _o: &Tensor, _g: &Tensor, _w: bool) -> Result<Grads> {
                Err(Error::shape("PLACEHOLDER pool"))
            }
        }
    };
}
placeholder!(MaxPool2d);
placeholder!(AvgPool2d);
placeholder!(GlobalAvgPool);
