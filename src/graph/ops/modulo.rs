//! The remainder `a mod b` (ONNX `Mod`), element-wise with NumPy broadcasting.
//!
//! `fmod = true` is C's `fmod` (`np.fmod`, `torch.fmod`): the remainder of truncated division,
//! with the dividend's sign, `a - b·trunc(a / b)`. `fmod = false` is Python's `%` (`np.mod`,
//! `torch.remainder`): the remainder of floored division, with the divisor's sign,
//! `a - b·floor(a / b)`, computed as NumPy does (from `fmod`, plus `b` when the signs differ;
//! a zero remainder takes the divisor's sign). A zero divisor gives NaN.
//!
//! Gradients as PyTorch's `fmod` and `remainder`: `d/da = g`, `d/db = -g·trunc(a / b)` or
//! `-g·floor(a / b)` (the quotient is piecewise constant, so these hold away from its jumps).
//!
//! Operands are two graph values (equal ranks and batch sizes) or a value and a constant (which
//! must not reach the batch axis), as for [`super::elementwise::Binary`]; the constant is fixed.

use super::elementwise::{spread, sum_to_shape};
use super::index::check_gradient;
use super::select::Operands;
use super::{Grads, Kernel};
use crate::error::Result;
use crate::tensor::Tensor;
use ndarray::{CowArray, Zip};

/// `a mod b` as NumPy computes it: `np.fmod` when `fmod`, else `np.mod`.
pub fn remainder(a: f32, b: f32, fmod: bool) -> f32 {
    let r = a % b;
    if fmod || b == 0.0 || r.is_nan() {
        r
    } else if r == 0.0 {
        0.0f32.copysign(b)
    } else if (r < 0.0) != (b < 0.0) {
        r + b
    } else {
        r
    }
}

/// The quotient whose multiple `remainder` subtracts: `trunc(a / b)` or `floor(a / b)`.
fn quotient(a: f32, b: f32, fmod: bool) -> f32 {
    if fmod {
        (a / b).trunc()
    } else {
        (a / b).floor()
    }
}

/// `a mod b`, element-wise.
#[derive(Debug, Clone, PartialEq)]
pub struct Mod {
    /// C's `fmod` (true) or Python's `%` (false).
    fmod: bool,
    /// `[a, b]`.
    operands: Operands<2>,
}

impl Mod {
    /// `a mod b` of `[a, b]`, each a constant or `None` for a graph value; fails when both
    /// are constants.
    pub fn new(fmod: bool, operands: [Option<Tensor>; 2]) -> Result<Self> {
        Ok(Mod {
            fmod,
            operands: Operands::new("mod", operands)?,
        })
    }

    /// Whether the remainder has the dividend's sign (C's `fmod`).
    pub fn fmod(&self) -> bool {
        self.fmod
    }

    /// `[a, b]`: each a constant, or `None` for a graph value.
    pub fn operands(&self) -> &[Option<Tensor>; 2] {
        self.operands.all()
    }
}

impl Kernel for Mod {
    fn arity(&self) -> usize {
        self.operands.arity()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.operands.output_shape("Mod", inputs)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let [a, b] = self.operands.tensors("mod", inputs)?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out = self.output_shape(&shapes)?;
        let fmod = self.fmod;
        Ok(Zip::from(spread(a, &out)?)
            .and(spread(b, &out)?)
            .map_collect(|&a, &b| remainder(a, b, fmod)))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let [a, b] = self.operands.tensors("mod", inputs)?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out = self.output_shape(&shapes)?;
        check_gradient("mod", grad_output, &out)?;
        let mut grads = Vec::with_capacity(inputs.len());
        if self.operands.is_value(0) {
            grads.push(sum_to_shape(CowArray::from(grad_output.view()), a.shape())?);
        }
        if self.operands.is_value(1) {
            let fmod = self.fmod;
            let full = Zip::from(grad_output)
                .and(spread(a, &out)?)
                .and(spread(b, &out)?)
                .map_collect(|&g, &a, &b| -g * quotient(a, b, fmod));
            grads.push(sum_to_shape(CowArray::from(full), b.shape())?);
        }
        Ok(Grads {
            inputs: grads,
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, Tolerance};
    use ndarray::IxDyn;

    fn tensor(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::from_shape_vec(IxDyn(shape), data.to_vec()).unwrap()
    }

    #[test]
    fn remainders_follow_numpy() {
        assert_eq!(remainder(-4.5, 2.0, false), 1.5);
        assert_eq!(remainder(-4.5, 2.0, true), -0.5);
        assert_eq!(remainder(4.5, -2.0, false), -1.5);
        assert_eq!(remainder(-1.0, f32::INFINITY, false), f32::INFINITY);
        assert_eq!(remainder(-1.0, f32::INFINITY, true), -1.0);
        assert!(remainder(1.0, 0.0, false).is_nan());
        assert!(remainder(-4.0, 2.0, false).is_sign_positive());
        assert!(remainder(4.0, -2.0, false).is_sign_negative());
        let op = Mod::new(false, [None, Some(tensor(&[2], &[3.0, -3.0]))]).unwrap();
        let y = op.forward(&[&tensor(&[1, 2], &[-4.0, 4.0])]).unwrap();
        assert_eq!(y, tensor(&[1, 2], &[2.0, -2.0]));
        assert!(Mod::new(true, [Some(y.clone()), Some(y)]).is_err());
    }

    #[test]
    fn mod_gradients_match_finite_differences() {
        // Values away from the quotient's jumps, so the finite differences see one piece.
        let a = tensor(&[2, 3], &[5.3, -5.3, 2.2, 7.9, -0.4, 3.6]);
        let b = tensor(&[2, 3], &[2.0, 2.0, -1.5, 3.0, 1.1, -1.6]);
        for fmod in [false, true] {
            let op = Mod::new(fmod, [None, None]).unwrap();
            check(&op, &[a.clone(), b.clone()], Tolerance::default());
            let op = Mod::new(fmod, [None, Some(tensor(&[3], &[2.0, 2.5, -3.0]))]).unwrap();
            check(&op, std::slice::from_ref(&a), Tolerance::default());
        }
    }
}
