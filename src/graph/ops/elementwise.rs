//! Binary element-wise ops (placeholder header; the implementing session rewrites this file).

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Which arithmetic operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryKind {
    /// The ONNX name of the op.
    pub fn name(&self) -> &'static str {
        match self {
            BinaryKind::Add => "Add",
            BinaryKind::Sub => "Sub",
            BinaryKind::Mul => "Mul",
            BinaryKind::Div => "Div",
        }
    }
}

/// Which operand a constant stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

/// `a op b` with NumPy broadcasting. With `constant`, the op takes one graph value and the
/// constant is the operand on its `Side`; the constant is then the op's (trainable) parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    pub kind: BinaryKind,
    pub constant: Option<(Tensor, Side)>,
}

impl Kernel for Binary {
    fn arity(&self) -> usize {
        if self.constant.is_some() { 1 } else { 2 }
    }
    fn output_shape(&self, _inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Err(Error::shape("PLACEHOLDER binary"))
    }
    fn forward(&self, _inputs: &[&Tensor]) -> Result<Tensor> {
        Err(Error::shape("PLACEHOLDER binary"))
    }
    fn backward(&self, _i: &[&Tensor], _o: &Tensor, _g: &Tensor, _w: bool) -> Result<Grads> {
        Err(Error::shape("PLACEHOLDER binary"))
    }
}
