//! Batch normalisation in inference form (ONNX `BatchNormalization` with `training_mode = 0`,
//! PyTorch `nn.BatchNorm{1,2,3}d` in `eval()` mode).
//!
//! With the running statistics of channel `c` (axis 1):
//! `y = scale_c (x - mean_c) / √(var_c + ε) + bias_c`, computed as the per-channel affine map
//! `y = m_c x + o_c` with multiplier `m_c = scale_c / √(var_c + ε)` and offset
//! `o_c = bias_c - m_c mean_c`, precomputed once per call and broadcast over the other axes.
//!
//! Backward, with sums over every axis but the channel axis:
//! `dx = m_c g`, `dscale_c = Σ g (x - mean_c) / √(var_c + ε)`, `dbias_c = Σ g`.
//! The running mean and variance are buffers, not parameters, so they get no gradient.

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{Array1, ArrayView1, Axis, Ix1, IxDyn, Zip};

/// Batch normalisation over axis 1 with running statistics (inference form):
/// `y = scale * (x - mean) / sqrt(var + epsilon) + bias`. Built by [`BatchNorm::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    /// `[C]`, trainable.
    scale: Tensor,
    /// `[C]`, trainable.
    bias: Tensor,
    /// `[C]` running mean (not trainable).
    mean: Tensor,
    /// `[C]` running variance (not trainable).
    var: Tensor,
    /// Added to the variance.
    epsilon: f32,
}

/// A `[C]` tensor as a 1-D view (the shapes are checked by [`BatchNorm::check_shapes`] first).
fn channels(t: &Tensor) -> Result<ArrayView1<'_, f32>> {
    t.view()
        .into_dimensionality::<Ix1>()
        .map_err(|e| Error::shape(format!("batch norm vector of shape {:?}: {e}", t.shape())))
}

impl BatchNorm {
    /// A batch norm from its four `[C]` vectors and `epsilon`, checked for consistency.
    pub fn new(
        scale: Tensor,
        bias: Tensor,
        mean: Tensor,
        var: Tensor,
        epsilon: f32,
    ) -> Result<Self> {
        let norm = BatchNorm {
            scale,
            bias,
            mean,
            var,
            epsilon,
        };
        norm.check_shapes(norm.channels())?;
        norm.check_values()?;
        Ok(norm)
    }

    /// The `[C]` scale (trainable).
    pub fn scale(&self) -> &Tensor {
        &self.scale
    }

    /// The `[C]` bias (trainable).
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// The `[C]` running mean.
    pub fn mean(&self) -> &Tensor {
        &self.mean
    }

    /// The `[C]` running variance.
    pub fn var(&self) -> &Tensor {
        &self.var
    }

    /// The constant added to the variance.
    pub fn epsilon(&self) -> f32 {
        self.epsilon
    }

    /// The number of channels `C` (the length of `scale`).
    pub fn channels(&self) -> usize {
        self.scale.len()
    }

    /// Checks that all four vectors are `[channels]` (the parameters can be replaced through
    /// [`Kernel::params_mut`], so [`Kernel::output_shape`] checks this again).
    fn check_shapes(&self, channels: usize) -> Result<()> {
        for (name, v) in [
            ("scale", &self.scale),
            ("bias", &self.bias),
            ("mean", &self.mean),
            ("var", &self.var),
        ] {
            if v.shape() != [channels] {
                return Err(Error::shape(format!(
                    "batch norm {name} has shape {:?}, expected [{channels}] (one value per channel of axis 1)",
                    v.shape()
                )));
            }
        }
        Ok(())
    }

    /// Checks that `epsilon` is finite and >= 0, the statistics are finite and every
    /// `var + epsilon` is positive.
    fn check_values(&self) -> Result<()> {
        if !self.epsilon.is_finite() || self.epsilon < 0.0 {
            return Err(Error::invalid(
                "batch norm epsilon",
                format!("expected a finite number >= 0, got {}", self.epsilon),
            ));
        }
        crate::error::ensure_finite("batch norm mean", self.mean.iter().copied())?;
        crate::error::ensure_finite("batch norm var", self.var.iter().copied())?;
        if let Some((c, &v)) = self
            .var
            .iter()
            .enumerate()
            .find(|(_, &v)| v + self.epsilon <= 0.0)
        {
            return Err(Error::invalid(
                "batch norm variance",
                format!(
                    "var + epsilon must be positive, but channel {c} has var {v} and epsilon {}",
                    self.epsilon
                ),
            ));
        }
        Ok(())
    }

    /// The per-channel `1 / √(var + ε)`.
    fn inv_std(&self) -> Result<Array1<f32>> {
        let eps = self.epsilon;
        Ok(channels(&self.var)?.mapv(|v| 1.0 / (v + eps).sqrt()))
    }

    /// The per-channel multiplier `m = scale / √(var + ε)` and offset `o = bias - m mean`,
    /// so that `y = m x + o`.
    pub fn affine(&self) -> Result<(Array1<f32>, Array1<f32>)> {
        let multiplier = &self.inv_std()? * &channels(&self.scale)?;
        let mut offset = channels(&self.bias)?.to_owned();
        Zip::from(&mut offset)
            .and(&multiplier)
            .and(channels(&self.mean)?)
            .for_each(|o, &m, &mean| *o -= m * mean);
        Ok((multiplier, offset))
    }

    /// `v` reshaped to `[1, C, 1, ..]` for an input of `rank`, so it broadcasts along axis 1.
    fn along_channels(v: Array1<f32>, rank: usize) -> Result<Tensor> {
        let mut shape = vec![1; rank];
        shape[1] = v.len();
        v.into_shape_with_order(IxDyn(&shape))
            .map_err(|e| Error::shape(format!("batch norm channel vector to {shape:?}: {e}")))
    }
}

impl Kernel for BatchNorm {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        if x.len() < 2 {
            return Err(Error::shape(format!(
                "batch norm expects input [batch, channels, ...] with {} channels, got {x:?}",
                self.channels()
            )));
        }
        if x[1] != self.channels() {
            return Err(Error::shape(format!(
                "batch norm has {} channels, but input {x:?} has {} on axis 1",
                self.channels(),
                x[1]
            )));
        }
        self.check_shapes(x[1])?;
        Ok(x.to_vec())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        self.output_shape(&[x.shape()])?;
        let (multiplier, offset) = self.affine()?;
        let multiplier = Self::along_channels(multiplier, x.ndim())?;
        let offset = Self::along_channels(offset, x.ndim())?;
        let mut y = x.to_owned();
        Zip::from(&mut y)
            .and_broadcast(&multiplier)
            .and_broadcast(&offset)
            .for_each(|y, &m, &o| *y = m * *y + o);
        Ok(y)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        self.output_shape(&[x.shape()])?;
        if grad_output.shape() != x.shape() {
            return Err(Error::shape(format!(
                "batch norm gradient has shape {:?}, expected the output shape {:?}",
                grad_output.shape(),
                x.shape()
            )));
        }
        let inv_std = self.inv_std()?;
        let multiplier = &inv_std * &channels(&self.scale)?;
        let mut dx = grad_output.to_owned();
        Zip::from(&mut dx)
            .and_broadcast(&Self::along_channels(multiplier, x.ndim())?)
            .for_each(|g, &m| *g *= m);
        let mut params = Vec::new();
        if want_params {
            let (sum_g, sum_g_centered) = channel_sums(x, grad_output, channels(&self.mean)?);
            params.push((sum_g_centered * &inv_std).into_dyn());
            params.push(sum_g.into_dyn());
        }
        Ok(Grads {
            inputs: vec![dx],
            params,
        })
    }

    fn params(&self) -> Vec<&Tensor> {
        vec![&self.scale, &self.bias]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.scale, &mut self.bias]
    }
}

/// Per channel (axis 1), `Σ g` and `Σ g (x - mean)` over all other axes.
fn channel_sums(x: &Tensor, g: &Tensor, mean: ArrayView1<'_, f32>) -> (Array1<f32>, Array1<f32>) {
    let mut sum_g = Array1::zeros(mean.len());
    let mut sum_g_centered = Array1::zeros(mean.len());
    for (x_n, g_n) in x.axis_iter(Axis(0)).zip(g.axis_iter(Axis(0))) {
        Zip::from(x_n.axis_iter(Axis(0)))
            .and(g_n.axis_iter(Axis(0)))
            .and(&mean)
            .and(&mut sum_g)
            .and(&mut sum_g_centered)
            .for_each(|x_c, g_c, &mu, s, sc| {
                let (total, centered) = Zip::from(&x_c)
                    .and(&g_c)
                    .fold((0.0, 0.0), |(t, c), &x, &g| (t + g, c + g * (x - mu)));
                *s += total;
                *sc += centered;
            });
    }
    (sum_g, sum_g_centered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};

    fn norm(channels: usize, seed: u64) -> BatchNorm {
        BatchNorm::new(
            random_tensor(&[channels], 0.5, 2.0, seed),
            random_tensor(&[channels], -1.0, 1.0, seed + 1),
            random_tensor(&[channels], -1.0, 1.0, seed + 2),
            random_tensor(&[channels], 0.2, 2.0, seed + 3),
            1e-5,
        )
        .unwrap()
    }

    fn vector(values: &[f32]) -> Tensor {
        Tensor::from_shape_vec(vec![values.len()], values.to_vec()).unwrap()
    }

    #[test]
    fn forward_matches_formula() {
        let bn = BatchNorm::new(
            vector(&[2.0, 1.0]),
            vector(&[0.5, -1.0]),
            vector(&[1.0, -2.0]),
            vector(&[4.0, 0.25]),
            0.0,
        )
        .unwrap();
        let x = Tensor::from_shape_vec(vec![1, 2, 2], vec![3.0, 5.0, -2.0, -1.0]).unwrap();
        let y = bn.forward(&[&x]).unwrap();
        // Channel 0: 2 (x - 1) / 2 + 0.5; channel 1: (x + 2) / 0.5 - 1.
        assert_eq!(y.as_slice().unwrap(), &[2.5, 4.5, -1.0, 1.0]);
    }

    #[test]
    fn forward_matches_formula_on_nchw() {
        let bn = norm(3, 21);
        let x = random_tensor(&[2, 3, 4, 5], -2.0, 2.0, 25);
        let y = bn.forward(&[&x]).unwrap();
        for ((index, &v), &out) in x.indexed_iter().zip(y.iter()) {
            let c = index[1];
            let expected =
                bn.scale[c] * (v - bn.mean[c]) / (bn.var[c] + bn.epsilon).sqrt() + bn.bias[c];
            assert!(
                (out - expected).abs() < 1e-5,
                "at {index:?}: {out} vs {expected}"
            );
        }
    }

    #[test]
    fn rejects_inconsistent_vectors_and_inputs() {
        let bn = norm(3, 31);
        let err = bn.output_shape(&[&[2, 4, 5]]).unwrap_err().to_string();
        assert!(
            err.contains("3 channels") && err.contains("[2, 4, 5]"),
            "{err}"
        );
        assert!(bn.output_shape(&[&[2]]).is_err());
        let build = |var: &[f32], mean: &[f32], epsilon: f32| {
            BatchNorm::new(
                vector(&[1.0, 1.0, 1.0]),
                vector(&[0.0, 0.0, 0.0]),
                vector(mean),
                vector(var),
                epsilon,
            )
            .unwrap_err()
            .to_string()
        };
        let err = build(&[1.0, 1.0], &[0.0; 3], 1e-5);
        assert!(
            err.contains("var") && err.contains("[2]") && err.contains("[3]"),
            "{err}"
        );
        let err = build(&[1.0, 0.0, 1.0], &[0.0; 3], 0.0);
        assert!(err.contains("channel 1"), "{err}");
        let err = build(&[1.0; 3], &[0.0, f32::NAN, 0.0], 1e-5);
        assert!(err.contains("mean") && err.contains("NaN"), "{err}");
        assert!(BatchNorm::new(
            vector(&[1.0]),
            vector(&[0.0]),
            vector(&[0.0]),
            vector(&[-1.0]),
            1e-5
        )
        .is_err());
        let mut replaced = bn;
        *replaced.params_mut()[1] = vector(&[0.0, 0.0]);
        let err = replaced.output_shape(&[&[2, 3]]).unwrap_err().to_string();
        assert!(err.contains("bias") && err.contains("[2]"), "{err}");
    }

    #[test]
    fn rejects_bad_epsilon() {
        for epsilon in [-1e-5, f32::NAN, f32::INFINITY] {
            let err = BatchNorm::new(
                vector(&[1.0]),
                vector(&[0.0]),
                vector(&[0.0]),
                vector(&[1.0]),
                epsilon,
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("epsilon") && err.contains(&epsilon.to_string()),
                "{err}"
            );
        }
    }

    #[test]
    fn params_are_scale_and_bias() {
        let mut bn = norm(2, 41);
        assert_eq!(bn.params(), vec![bn.scale(), bn.bias()]);
        bn.params_mut()[0].fill(0.0);
        let y = bn
            .forward(&[&random_tensor(&[3, 2], -1.0, 1.0, 42)])
            .unwrap();
        for row in y.outer_iter() {
            assert_eq!(row, bn.bias().view(), "zero scale leaves the bias");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        check(
            &norm(3, 51),
            &[random_tensor(&[4, 3], -2.0, 2.0, 52)],
            Tolerance::default(),
        );
        check(
            &norm(2, 53),
            &[random_tensor(&[2, 2, 3, 4], -2.0, 2.0, 54)],
            Tolerance::default(),
        );
        check(
            &norm(3, 55),
            &[random_tensor(&[2, 3, 5], -2.0, 2.0, 56)],
            Tolerance::default(),
        );
    }
}
