//! Shape ops (placeholder header; the implementing session rewrites this file).

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Concatenation of `inputs` values along `axis`.
#[derive(Debug, Clone, PartialEq)]
pub struct Concat {
    pub axis: usize,
    pub inputs: usize,
}

/// `[d0, ..., d_{axis-1}, prod(rest)]`; `axis >= 1` so the batch stays first.
#[derive(Debug, Clone, PartialEq)]
pub struct Flatten {
    pub axis: usize,
}

/// Reshape every sample to `shape` (the batch dimension is kept in front).
#[derive(Debug, Clone, PartialEq)]
pub struct Reshape {
    pub shape: Vec<usize>,
}

/// Permutes axes; `perm[0] == 0` so the batch stays first.
#[derive(Debug, Clone, PartialEq)]
pub struct Transpose {
    pub perm: Vec<usize>,
}

/// Padding mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PadMode {
    Constant(f32),
    Reflect,
    Edge,
}

/// Pads every axis: `pads` holds the begin counts of all axes, then the end counts (ONNX order).
#[derive(Debug, Clone, PartialEq)]
pub struct Pad {
    pub pads: Vec<usize>,
    pub mode: PadMode,
}

macro_rules! placeholder {
    ($t:ty) => {
        impl Kernel for $t {
            fn output_shape(&self, _inputs: &[&[usize]]) -> Result<Vec<usize>> {
                Err(Error::shape("PLACEHOLDER shape"))
            }
            fn forward(&self, _inputs: &[&Tensor]) -> Result<Tensor> {
                Err(Error::shape("PLACEHOLDER shape"))
            }
            fn backward(&self, _i: &[&Tensor], _o: &Tensor, _g: &Tensor, _w: bool) -> Result<Grads> {
                Err(Error::shape("PLACEHOLDER shape"))
            }
        }
    };
}
placeholder!(Concat);
placeholder!(Flatten);
placeholder!(Reshape);
placeholder!(Transpose);
placeholder!(Pad);
