//! Softmax `e^{x_i - m} / Σ e^{x_j - m}` along an axis (max-shifted for stability, as
//! PyTorch's `torch.softmax`), backward `s ⊙ (g - Σ g s)`; LogSoftmax `x - m - log Σ e^{x_j - m}`,
//! backward `g - softmax Σ g`.

use super::super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{Axis, Zip};

/// Softmax (or log-softmax when `log`) along `axis` of the full, batch-first shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax {
    /// The axis the probabilities sum to one along.
    axis: usize,
    /// Log-softmax instead of softmax.
    log: bool,
}

impl Softmax {
    /// Softmax along `axis` (an index into the full, batch-first shape, checked against the
    /// input by [`Kernel::output_shape`]), or log-softmax when `log`.
    pub fn new(axis: usize, log: bool) -> Self {
        Softmax { axis, log }
    }

    /// The axis the probabilities sum to one along.
    pub fn axis(&self) -> usize {
        self.axis
    }

    /// Whether this is log-softmax.
    pub fn log(&self) -> bool {
        self.log
    }
}

impl Kernel for Softmax {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        if self.axis >= x.len() {
            return Err(Error::shape(format!(
                "softmax axis {} is out of range for input shape {x:?}",
                self.axis
            )));
        }
        Ok(x.to_vec())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let mut y = inputs[0].to_owned();
        for mut lane in y.lanes_mut(Axis(self.axis)) {
            let max = lane.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            lane.mapv_inplace(|v| v - max);
            let sum: f32 = lane.iter().map(|v| v.exp()).sum();
            if self.log {
                let log_sum = sum.ln();
                lane.mapv_inplace(|v| v - log_sum);
            } else {
                lane.mapv_inplace(|v| v.exp() / sum);
            }
        }
        Ok(y)
    }

    fn backward(
        &self,
        _inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let mut dx = grad_output.to_owned();
        let axis = Axis(self.axis);
        for (mut g, y) in dx.lanes_mut(axis).into_iter().zip(output.lanes(axis)) {
            if self.log {
                let total: f32 = g.sum();
                Zip::from(&mut g)
                    .and(&y)
                    .for_each(|g, &y| *g -= y.exp() * total);
            } else {
                let dot: f32 = g.iter().zip(y.iter()).map(|(a, b)| a * b).sum();
                Zip::from(&mut g)
                    .and(&y)
                    .for_each(|g, &y| *g = y * (*g - dot));
            }
        }
        Ok(Grads {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};

    #[test]
    fn softmax_sums_to_one_and_is_stable() {
        let x = Tensor::from_shape_vec(vec![1, 3], vec![1000.0, 1001.0, 1002.0]).unwrap();
        let y = Softmax::new(1, false).forward(&[&x]).unwrap();
        assert!((y.sum() - 1.0).abs() < 1e-6);
        let log = Softmax::new(1, true).forward(&[&x]).unwrap();
        assert!(log.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn softmax_gradients_match_finite_differences() {
        let x = random_tensor(&[2, 5, 3], -2.0, 2.0, 12);
        for axis in 0..3 {
            for log in [false, true] {
                check(
                    &Softmax::new(axis, log),
                    std::slice::from_ref(&x),
                    Tolerance::default(),
                );
            }
        }
        assert!(Softmax::new(3, false).output_shape(&[&[2, 5, 3]]).is_err());
    }
}
