//! Softmax `e^{x_i - m} / Σ e^{x_j - m}` along an axis (max-shifted for stability, as
//! PyTorch's `torch.softmax`), backward `s ⊙ (g - Σ g s)`; LogSoftmax `x - m - log Σ e^{x_j - m}`,
//! backward `g - softmax Σ g`. Softmax's exponentials are the branch-free ones of
//! `logistic.rs` (relative error below 4·10⁻⁷, 0 where `e^{x_i - m}` is below 10⁻³⁸), which the
//! compiler vectorises; log-softmax's sum takes libm's `expf`.

use super::super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::graph::ops::logistic::exp_nonpositive;
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

    /// Every lane along the axis replaced by its softmax (or log-softmax). The lanes along the
    /// last axis of a standard-layout tensor (attention's) are consecutive runs of its buffer,
    /// taken one after the other without ndarray's lane iterator; a lane of another axis is
    /// computed where it lies when contiguous, else copied out and back.
    fn normalise_lanes(&self, y: &mut Tensor) {
        let len = y.shape()[self.axis];
        if self.axis + 1 == y.ndim() && len > 0 {
            if let Some(values) = y.as_slice_mut() {
                values
                    .chunks_exact_mut(len)
                    .for_each(|lane| self.normalise(lane));
                return;
            }
        }
        let mut scratch = Vec::new();
        for mut lane in y.lanes_mut(Axis(self.axis)) {
            match lane.as_slice_mut() {
                Some(values) => self.normalise(values),
                None => {
                    scratch.clear();
                    scratch.extend(lane.iter().copied());
                    self.normalise(&mut scratch);
                    lane.iter_mut().zip(&scratch).for_each(|(v, &s)| *v = s);
                }
            }
        }
    }

    /// One lane's softmax (or log-softmax), in place. Softmax stores each exponential and
    /// divides it by the sum: one exponential per value (computing them again for the division
    /// spent a fifth of the transformer fixture's forward pass at batch 16 in Chromium in the
    /// second `expf`), the branch-free one of `logistic.rs`, which the compiler vectorises.
    fn normalise(&self, lane: &mut [f32]) {
        let max = lane.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        if self.log {
            lane.iter_mut().for_each(|v| *v -= max);
            let log_sum = lane.iter().map(|v| v.exp()).sum::<f32>().ln();
            lane.iter_mut().for_each(|v| *v -= log_sum);
        } else {
            lane.iter_mut().for_each(|v| *v = exp_nonpositive(*v - max));
            let sum: f32 = lane.iter().sum();
            lane.iter_mut().for_each(|v| *v /= sum);
        }
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
        self.normalise_lanes(&mut y);
        Ok(y)
    }

    /// [`Kernel::forward`] over the input's own buffer (attention scores, read by their
    /// softmax alone).
    fn forward_in_place(&self, x: &mut Tensor) -> Option<Result<()>> {
        Some(
            self.output_shape(&[x.shape()])
                .map(|_| self.normalise_lanes(x)),
        )
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

    /// Along every axis (contiguous lanes and strided ones), softmax and log-softmax equal
    /// their definition computed per lane in f64 to f32 rounding, and the pass written over its
    /// input equals `forward` bit for bit; a shape the axis does not fit is an error either way.
    #[test]
    fn softmax_equals_its_definition_and_in_place_equals_forward() {
        let x = random_tensor(&[2, 7, 33], -30.0, 30.0, 13);
        for axis in 0..3 {
            for log in [false, true] {
                let op = Softmax::new(axis, log);
                let y = op.forward(&[&x]).unwrap();
                for (lane, out) in x.lanes(Axis(axis)).into_iter().zip(y.lanes(Axis(axis))) {
                    let max = lane.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                    let sum: f64 = lane.iter().map(|&v| (v as f64 - max).exp()).sum();
                    for (&v, &got) in lane.iter().zip(out.iter()) {
                        let want = if log {
                            v as f64 - max - sum.ln()
                        } else {
                            (v as f64 - max).exp() / sum
                        };
                        assert!(
                            (got as f64 - want).abs() <= 1e-6 * want.abs().max(1.0),
                            "axis {axis}, log {log}: {got} against {want}"
                        );
                    }
                }
                let mut in_place = x.clone();
                op.forward_in_place(&mut in_place).unwrap().unwrap();
                assert_eq!(
                    in_place.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "axis {axis}, log {log}"
                );
            }
        }
        // Masked scores (−∞) get exactly 0, the others share 1.
        let masked = Tensor::from_shape_vec(
            vec![1, 4],
            vec![0.5, f32::NEG_INFINITY, -1.0, f32::NEG_INFINITY],
        )
        .unwrap();
        let y = Softmax::new(1, false).forward(&[&masked]).unwrap();
        assert_eq!((y[[0, 1]], y[[0, 3]]), (0.0, 0.0));
        assert!((y[[0, 0]] + y[[0, 2]] - 1.0).abs() < 1e-6);
        let mut small = random_tensor(&[2, 3], -1.0, 1.0, 14);
        assert!(Softmax::new(2, false)
            .forward_in_place(&mut small)
            .unwrap()
            .is_err());
    }
}
