//! Batch normalisation (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network
//! Training by Reducing Internal Covariate Shift"): the inference form (ONNX
//! `BatchNormalization` with `training_mode = 0`, PyTorch `nn.BatchNorm{1,2,3}d` in `eval()`
//! mode) as the [`Kernel`], and the training form (PyTorch's `train()` mode) beside it.
//!
//! **Inference.**
//! With the running statistics of channel `c` (axis 1):
//! `y = scale_c (x - mean_c) / √(var_c + ε) + bias_c`, computed as the per-channel affine map
//! `y = m_c x + o_c` with multiplier `m_c = scale_c / √(var_c + ε)` and offset
//! `o_c = bias_c - m_c mean_c`, precomputed once per call and broadcast over the other axes.
//!
//! Backward, with sums over every axis but the channel axis:
//! `dx = m_c g`, `dscale_c = Σ g (x - mean_c) / √(var_c + ε)`, `dbias_c = Σ g`.
//! The running mean and variance are buffers, not parameters, so they get no gradient.
//!
//! **Training** ([`BatchNorm::forward_training`]). Channel `c` is normalised with the statistics
//! of the batch itself, over its `n` values (every axis but axis 1: batch and spatial):
//! `μ_c = Σ x / n`, the biased `σ²_c = Σ (x - μ_c)² / n`, `x̂ = (x - μ_c) / √(σ²_c + ε)`,
//! `y = scale_c x̂ + bias_c`. `n = 1` is refused, as PyTorch does ("Expected more than 1 value per
//! channel when training"). The output depends on every value of the channel through `μ` and
//! `σ²`, so the backward ([`BatchNorm::backward_training`]) is (Ioffe & Szegedy, section 3)
//! `dx = scale_c / √(σ²_c + ε) · (g - Σ g / n - x̂ Σ (g x̂) / n)`, `dscale_c = Σ g x̂`,
//! `dbias_c = Σ g`.
//!
//! After the step the running statistics move towards the batch's as PyTorch's do
//! ([`BatchNorm::update_running_statistics`], momentum `m = 0.1`):
//! `mean ← (1 - m) mean + m μ`, `var ← (1 - m) var + m σ² n / (n - 1)` (the unbiased estimate).
//! Batch statistics are accumulated in f64.

use super::{GradientReads, Grads, Kernel};
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

/// PyTorch's default `momentum` of batch norm: the weight of the batch in the running statistics.
pub const MOMENTUM: f32 = 0.1;

/// The statistics of one batch that training-mode batch norm normalises with, per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStatistics {
    /// `[C]` mean over every axis but axis 1.
    pub mean: Array1<f32>,
    /// `[C]` biased variance (the mean squared deviation) that the batch is normalised with.
    pub var: Array1<f32>,
    /// `[C]` unbiased variance (`Σ (x - μ)² / (n - 1)`), the running variance's estimate.
    pub unbiased_var: Array1<f32>,
    /// Values per channel, `n`: the batch size times the spatial size.
    pub count: usize,
}

impl BatchStatistics {
    /// The mean and variances of each channel (axis 1) of `x` over all other axes; errors when
    /// a channel has a single value, which has no variance to normalise with.
    pub fn of(x: &Tensor) -> Result<Self> {
        if x.ndim() < 2 {
            return Err(Error::shape(format!(
                "batch norm expects input [batch, channels, ...], got {:?}",
                x.shape()
            )));
        }
        let channels = x.shape()[1];
        let count = x.len() / channels.max(1);
        if count <= 1 {
            return Err(Error::invalid(
                "batch norm in training mode",
                format!(
                    "expected more than 1 value per channel when training, got input size {:?}",
                    x.shape()
                ),
            ));
        }
        let mut sum = vec![0.0f64; channels];
        for x_n in x.axis_iter(Axis(0)) {
            for (s, x_c) in sum.iter_mut().zip(x_n.axis_iter(Axis(0))) {
                *s += x_c.iter().map(|&v| f64::from(v)).sum::<f64>();
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / count as f64).collect();
        let mut squares = vec![0.0f64; channels];
        for x_n in x.axis_iter(Axis(0)) {
            for ((s, &mu), x_c) in squares.iter_mut().zip(&mean).zip(x_n.axis_iter(Axis(0))) {
                *s += x_c
                    .iter()
                    .map(|&v| (f64::from(v) - mu).powi(2))
                    .sum::<f64>();
            }
        }
        let per_channel = |f: &dyn Fn(usize) -> f64| -> Array1<f32> {
            (0..channels).map(|c| f(c) as f32).collect()
        };
        Ok(BatchStatistics {
            mean: per_channel(&|c| mean[c]),
            var: per_channel(&|c| squares[c] / count as f64),
            unbiased_var: per_channel(&|c| squares[c] / (count - 1) as f64),
            count,
        })
    }
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

    /// The per-channel `1 / √(var + ε)` of the running variance.
    fn inv_std(&self) -> Result<Array1<f32>> {
        Ok(self.inv_std_of(channels(&self.var)?))
    }

    /// The per-channel `1 / √(var + ε)` of a variance `var`.
    fn inv_std_of(&self, var: ArrayView1<'_, f32>) -> Array1<f32> {
        let eps = self.epsilon;
        var.mapv(|v| 1.0 / (v + eps).sqrt())
    }

    /// The per-channel multiplier `m = scale / √(var + ε)` and offset `o = bias - m mean`,
    /// so that `y = m x + o`.
    pub fn affine(&self) -> Result<(Array1<f32>, Array1<f32>)> {
        self.affine_with(channels(&self.mean)?, channels(&self.var)?)
    }

    /// [`BatchNorm::affine`] with the statistics `mean` and `var` in place of the running ones.
    fn affine_with(
        &self,
        mean: ArrayView1<'_, f32>,
        var: ArrayView1<'_, f32>,
    ) -> Result<(Array1<f32>, Array1<f32>)> {
        let multiplier = &self.inv_std_of(var) * &channels(&self.scale)?;
        let mut offset = channels(&self.bias)?.to_owned();
        Zip::from(&mut offset)
            .and(&multiplier)
            .and(mean)
            .for_each(|o, &m, &mean| *o -= m * mean);
        Ok((multiplier, offset))
    }

    /// `y = m x + o` per channel of `x`.
    fn apply_affine(x: &Tensor, multiplier: Array1<f32>, offset: Array1<f32>) -> Result<Tensor> {
        if let (Some(m), Some(o)) = (multiplier.as_slice(), offset.as_slice()) {
            if let Some(y) = map_planes(x, |c, v| m[c] * v + o[c]) {
                return Ok(y);
            }
        }
        let multiplier = Self::along_channels(multiplier, x.ndim())?;
        let offset = Self::along_channels(offset, x.ndim())?;
        let mut y = x.to_owned();
        Zip::from(&mut y)
            .and_broadcast(&multiplier)
            .and_broadcast(&offset)
            .for_each(|y, &m, &o| *y = m * *y + o);
        Ok(y)
    }

    /// Checks `x` against the layer and `grad_output` against `x`.
    fn check_gradient(&self, input_shape: &[usize], grad_output: &Tensor) -> Result<()> {
        self.output_shape(&[input_shape])?;
        if grad_output.shape() != input_shape {
            return Err(Error::shape(format!(
                "batch norm gradient has shape {:?}, expected the output shape {input_shape:?}",
                grad_output.shape(),
            )));
        }
        Ok(())
    }

    /// The inference-mode input gradient written over the output gradient `grad`: each
    /// channel's plane times `scale / √(var + ε)`.
    fn scale_gradient(&self, input_shape: &[usize], grad: &mut Tensor) -> Result<()> {
        self.check_gradient(input_shape, grad)?;
        let multiplier = self.gradient_multiplier()?;
        let multiplier = multiplier
            .as_slice()
            .expect("a fresh 1-D array is contiguous");
        if !grad.is_standard_layout() {
            *grad = grad.as_standard_layout().into_owned();
        }
        map_planes_in_place(grad, |c, g| multiplier[c] * g);
        Ok(())
    }

    /// The inference-mode input gradient's per-channel multiplier `scale / √(var + ε)`: the
    /// input gradient is the output gradient times it.
    pub fn gradient_multiplier(&self) -> Result<Array1<f32>> {
        Ok(&self.inv_std()? * &channels(&self.scale)?)
    }

    /// The training-mode output: `x` normalised with its own batch statistics, which are
    /// returned too (for the backward and the running-statistics update).
    pub fn forward_training(&self, x: &Tensor) -> Result<(Tensor, BatchStatistics)> {
        self.output_shape(&[x.shape()])?;
        let stats = BatchStatistics::of(x)?;
        let (multiplier, offset) = self.affine_with(stats.mean.view(), stats.var.view())?;
        Ok((Self::apply_affine(x, multiplier, offset)?, stats))
    }

    /// The vector-Jacobian product of the training-mode output at `x`, whose batch statistics
    /// `stats` [`BatchNorm::forward_training`] returned: the gradient flows through `μ` and `σ²`.
    pub fn backward_training(
        &self,
        x: &Tensor,
        stats: &BatchStatistics,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        self.check_gradient(x.shape(), grad_output)?;
        if stats.mean.len() != self.channels() || stats.var.len() != self.channels() {
            return Err(Error::shape(format!(
                "batch statistics of {} channels for a batch norm of {}",
                stats.mean.len(),
                self.channels()
            )));
        }
        let inv_std = self.inv_std_of(stats.var.view());
        let (sum_g, sum_g_centered) = channel_sums(x, grad_output, stats.mean.view());
        let n = stats.count as f32;
        // dx = k (g - mean_g - (x - μ) c) with k = scale / σ, c = Σ g (x - μ) / (n σ²).
        let gain = &inv_std * &channels(&self.scale)?;
        let mean_g = &sum_g / n;
        let centered_coefficient = &sum_g_centered * &inv_std * &inv_std / n;
        let rank = x.ndim();
        let mut dx = grad_output.to_owned();
        Zip::from(&mut dx)
            .and(x)
            .and_broadcast(&Self::along_channels(gain, rank)?)
            .and_broadcast(&Self::along_channels(mean_g, rank)?)
            .and_broadcast(&Self::along_channels(stats.mean.clone(), rank)?)
            .and_broadcast(&Self::along_channels(centered_coefficient, rank)?)
            .for_each(|g, &x, &k, &mg, &mu, &c| *g = k * (*g - mg - (x - mu) * c));
        let params = if want_params {
            vec![(sum_g_centered * &inv_std).into_dyn(), sum_g.into_dyn()]
        } else {
            Vec::new()
        };
        Ok(Grads {
            inputs: vec![dx],
            params,
        })
    }

    /// Moves the running statistics towards a batch's, as PyTorch does after a training-mode
    /// forward: `running ← (1 - MOMENTUM) running + MOMENTUM batch`, with the unbiased variance.
    pub fn update_running_statistics(&mut self, stats: &BatchStatistics) -> Result<()> {
        if stats.mean.len() != self.channels() || stats.unbiased_var.len() != self.channels() {
            return Err(Error::shape(format!(
                "batch statistics of {} channels for a batch norm of {}",
                stats.mean.len(),
                self.channels()
            )));
        }
        let blend = |running: &Tensor, batch: &Array1<f32>| -> Tensor {
            let mut next = running.to_owned();
            Zip::from(&mut next)
                .and(&batch.view().into_dyn())
                .for_each(|r, &b| *r = (1.0 - MOMENTUM) * *r + MOMENTUM * b);
            next
        };
        let mean = blend(&self.mean, &stats.mean);
        let var = blend(&self.var, &stats.unbiased_var);
        crate::error::ensure_finite("batch norm running mean", mean.iter().copied())?;
        crate::error::ensure_finite("batch norm running var", var.iter().copied())?;
        self.mean = mean;
        self.var = var;
        Ok(())
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
        Self::apply_affine(x, multiplier, offset)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        self.check_gradient(x.shape(), grad_output)?;
        let inv_std = self.inv_std()?;
        let multiplier = &inv_std * &channels(&self.scale)?;
        let by_planes = multiplier
            .as_slice()
            .and_then(|m| map_planes(grad_output, |c, g| g * m[c]));
        let dx = match by_planes {
            Some(dx) => dx,
            None => {
                let mut dx = grad_output.to_owned();
                Zip::from(&mut dx)
                    .and_broadcast(&Self::along_channels(multiplier, x.ndim())?)
                    .for_each(|g, &m| *g *= m);
                dx
            }
        };
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

    /// The inference-mode output over a standard-layout input's own buffer (DenseNet-121's
    /// batch norms, each its concatenation's only reader).
    fn forward_in_place(&self, x: &mut Tensor) -> Option<Result<()>> {
        if !x.is_standard_layout() {
            return None;
        }
        Some(self.output_shape(&[x.shape()]).and_then(|_| {
            let (multiplier, offset) = self.affine()?;
            let (m, o) = (multiplier.as_slice(), offset.as_slice());
            let (m, o) = m.zip(o).expect("fresh 1-D arrays are contiguous");
            map_planes_in_place(x, |c, v| m[c] * v + o[c]);
            Ok(())
        }))
    }

    fn backward_in_place(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad: &mut Tensor,
    ) -> Option<Result<()>> {
        Some(self.scale_gradient(inputs[0].shape(), grad))
    }

    fn gradient_reads(&self) -> GradientReads {
        GradientReads::Shapes
    }

    fn lean_input_gradients(
        &self,
        input_shapes: &[&[usize]],
        _output: Option<&Tensor>,
        mut grad: Tensor,
    ) -> Option<Result<Vec<Tensor>>> {
        Some(
            self.scale_gradient(input_shapes[0], &mut grad)
                .map(|()| vec![grad]),
        )
    }

    fn params(&self) -> Vec<&Tensor> {
        vec![&self.scale, &self.bias]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.scale, &mut self.bias]
    }
}

/// `f(channel, value)` for every value of `x` (`[N, C, ...]`, channels on axis 1) in one loop
/// per plane, or `None` unless `x` is in standard layout: the affine maps of the forward and
/// backward passes, which ndarray's broadcasting `Zip` took element by element (DenseNet-121's
/// 120 batch norms, 12% of its input gradient).
fn map_planes(x: &Tensor, f: impl Fn(usize, f32) -> f32) -> Option<Tensor> {
    let values = x.as_slice()?;
    let channels = *x.shape().get(1)?;
    let plane: usize = x.shape()[2..].iter().product();
    let mut out = Vec::with_capacity(values.len());
    if plane > 0 {
        for (index, plane_values) in values.chunks_exact(plane).enumerate() {
            let channel = index % channels;
            out.extend(plane_values.iter().map(|&v| f(channel, v)));
        }
    }
    Tensor::from_shape_vec(x.raw_dim(), out).ok()
}

/// [`map_planes`] over `x`'s own values; `x` (`[N, C, ...]`) must be in standard layout.
fn map_planes_in_place(x: &mut Tensor, f: impl Fn(usize, f32) -> f32) {
    let channels = x.shape()[1];
    let plane: usize = x.shape()[2..].iter().product();
    let values = x.as_slice_mut().expect("standard layout is contiguous");
    if plane > 0 {
        for (index, plane_values) in values.chunks_exact_mut(plane).enumerate() {
            let channel = index % channels;
            plane_values.iter_mut().for_each(|v| *v = f(channel, *v));
        }
    }
}

/// `g ← multiplier[c] · g` over `run`, the values from flat index `at` of a gradient whose
/// channels (axis 1, `multiplier.len()` of them) hold `plane` values each: the inference batch
/// norm's input gradient as an epilogue ([`BatchNorm::gradient_multiplier`]), equal to its
/// backward pass bit for bit.
pub fn scale_run_by_channel(multiplier: &[f32], plane: usize, run: &mut [f32], at: usize) {
    let mut index = at;
    let mut rest = run;
    while !rest.is_empty() {
        let len = (plane - index % plane).min(rest.len());
        let m = multiplier[(index / plane) % multiplier.len()];
        let (head, tail) = rest.split_at_mut(len);
        head.iter_mut().for_each(|g| *g *= m);
        (index, rest) = (index + len, tail);
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
    use ndarray::ShapeBuilder;

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

    /// The epilogue form of the inference input gradient, over runs that start and end inside
    /// planes and cross several, equals the backward pass on the whole gradient.
    #[test]
    fn gradient_runs_scaled_by_channel_equal_the_backward_pass() {
        let bn = norm(3, 40);
        let x = random_tensor(&[2, 3, 2, 3], -1.0, 1.0, 44);
        let g = random_tensor(&[2, 3, 2, 3], -1.0, 1.0, 45);
        let expected = bn.backward(&[&x], &x, &g, false).unwrap().inputs.remove(0);
        let multiplier = bn.gradient_multiplier().unwrap();
        let mut runs = g.as_slice().unwrap().to_vec();
        for (start, end) in [(0, 4), (4, 5), (5, 20), (20, 36)] {
            scale_run_by_channel(
                multiplier.as_slice().unwrap(),
                6,
                &mut runs[start..end],
                start,
            );
        }
        assert_eq!(runs, expected.as_slice().unwrap());
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

    /// The per-plane loops (standard layout) give bit for bit what the broadcasting `Zip`
    /// gives on the same values in another layout, forward and backward (allocating and in
    /// place), for NCHW and [N, C].
    #[test]
    fn plane_loops_equal_the_broadcast() {
        let bn = norm(3, 41);
        for shape in [vec![2, 3, 4, 5], vec![4, 3]] {
            let x = random_tensor(&shape, -2.0, 2.0, 42);
            let g = random_tensor(&shape, -1.0, 1.0, 43);
            let column_major = |t: &Tensor| {
                let mut copy = Tensor::zeros(IxDyn(&shape).f());
                copy.assign(t);
                copy
            };
            let (x_other, g_other) = (column_major(&x), column_major(&g));
            assert_eq!(x_other, x);
            assert!(x_other.as_slice().is_none(), "another layout");
            let y = bn.forward(&[&x]).unwrap();
            assert_eq!(y, bn.forward(&[&x_other]).unwrap(), "{shape:?}");
            let dx = bn.backward(&[&x], &y, &g, false).unwrap().inputs.remove(0);
            let dx_other = bn
                .backward(&[&x_other], &y, &g_other, false)
                .unwrap()
                .inputs
                .remove(0);
            assert_eq!(dx, dx_other, "{shape:?}");
            // Written over the output gradient, in either layout, it is the same again.
            for mut grad in [g.clone(), g_other] {
                bn.backward_in_place(&[&x], &y, &mut grad)
                    .expect("inference batch norm has the in-place form")
                    .unwrap();
                assert_eq!(grad, dx, "{shape:?} in place");
            }
            // The forward pass over its input equals `forward`'s; another layout is left to it.
            let mut over_x = x.clone();
            bn.forward_in_place(&mut over_x)
                .expect("a standard-layout input is written in place")
                .unwrap();
            assert_eq!(over_x, y, "{shape:?} forward in place");
            let mut other = column_major(&x);
            assert!(bn.forward_in_place(&mut other).is_none());
            assert_eq!(other, x);
        }
        let (x, mut wrong) = (
            random_tensor(&[2, 3, 4], -1.0, 1.0, 44),
            random_tensor(&[2, 3, 5], -1.0, 1.0, 45),
        );
        let err = bn
            .backward_in_place(&[&x], &x, &mut wrong)
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("[2, 3, 5]"), "{err}");
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

    /// Batch norm in training form as a [`Kernel`], so that [`check`] differentiates the
    /// training-mode function (the batch statistics recomputed from each perturbed input).
    #[derive(Clone)]
    struct TrainingForm(BatchNorm);

    impl Kernel for TrainingForm {
        fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
            self.0.output_shape(inputs)
        }
        fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
            Ok(self.0.forward_training(inputs[0])?.0)
        }
        fn backward(
            &self,
            inputs: &[&Tensor],
            _output: &Tensor,
            grad_output: &Tensor,
            want_params: bool,
        ) -> Result<Grads> {
            let stats = BatchStatistics::of(inputs[0])?;
            self.0
                .backward_training(inputs[0], &stats, grad_output, want_params)
        }
        fn params(&self) -> Vec<&Tensor> {
            self.0.params()
        }
        fn params_mut(&mut self) -> Vec<&mut Tensor> {
            self.0.params_mut()
        }
    }

    #[test]
    fn training_forward_normalises_with_the_batch_statistics() {
        let bn = norm(3, 61);
        let x = random_tensor(&[4, 3, 2, 5], -2.0, 3.0, 62);
        let (y, stats) = bn.forward_training(&x).unwrap();
        assert_eq!(stats.count, 4 * 2 * 5);
        for c in 0..3 {
            let values: Vec<f64> = x
                .index_axis(Axis(1), c)
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
            assert!((f64::from(stats.mean[c]) - mean).abs() < 1e-6);
            assert!((f64::from(stats.var[c]) - squares / n).abs() < 1e-6);
            assert!((f64::from(stats.unbiased_var[c]) - squares / (n - 1.0)).abs() < 1e-6);
            // Normalised, each channel of the output has mean `bias` and variance `scale²`
            // (up to epsilon).
            let out: Vec<f64> = y
                .index_axis(Axis(1), c)
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let out_mean = out.iter().sum::<f64>() / n;
            let out_var = out.iter().map(|v| (v - out_mean).powi(2)).sum::<f64>() / n;
            let scale = f64::from(bn.scale()[c]);
            assert!(
                (out_mean - f64::from(bn.bias()[c])).abs() < 1e-5,
                "{out_mean}"
            );
            assert!(
                (out_var - scale * scale).abs() < 1e-3 * scale * scale,
                "{out_var}"
            );
        }
        // The running statistics play no part in training mode.
        let mut other = bn.clone();
        other
            .update_running_statistics(&BatchStatistics::of(&(&x * 3.0)).unwrap())
            .unwrap();
        assert_ne!(other.mean(), bn.mean());
        assert_eq!(other.forward_training(&x).unwrap().0, y);
    }

    #[test]
    fn training_gradients_match_finite_differences() {
        check(
            &TrainingForm(norm(3, 71)),
            &[random_tensor(&[5, 3], -2.0, 2.0, 72)],
            Tolerance::default(),
        );
        check(
            &TrainingForm(norm(2, 73)),
            &[random_tensor(&[3, 2, 3, 4], -2.0, 2.0, 74)],
            Tolerance::default(),
        );
        // Two samples of one value per channel: the smallest batch that has a variance.
        check(
            &TrainingForm(norm(2, 75)),
            &[random_tensor(&[2, 2], -2.0, 2.0, 76)],
            Tolerance::default(),
        );
    }

    #[test]
    fn training_refuses_one_value_per_channel() {
        let bn = norm(3, 81);
        let err = bn
            .forward_training(&random_tensor(&[1, 3], -1.0, 1.0, 82))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("more than 1 value per channel") && err.contains("[1, 3]"),
            "{err}"
        );
        // One sample with spatial axes has several values per channel.
        assert!(bn
            .forward_training(&random_tensor(&[1, 3, 2, 2], -1.0, 1.0, 83))
            .is_ok());
        assert!(bn
            .forward_training(&random_tensor(&[4, 2], -1.0, 1.0, 84))
            .is_err());
    }

    #[test]
    fn running_statistics_move_with_momentum_and_the_unbiased_variance() {
        let mut bn = BatchNorm::new(
            vector(&[1.0, 1.0]),
            vector(&[0.0, 0.0]),
            vector(&[1.0, -1.0]),
            vector(&[2.0, 0.5]),
            1e-5,
        )
        .unwrap();
        // Channel 0 holds 1, 3, 5, 7 (mean 4, biased variance 5, unbiased 20/3); channel 1
        // holds 2 everywhere (variance 0).
        let x = Tensor::from_shape_vec(vec![2, 2, 2], vec![1.0, 3.0, 2.0, 2.0, 5.0, 7.0, 2.0, 2.0])
            .unwrap();
        let (_, stats) = bn.forward_training(&x).unwrap();
        assert_eq!(stats.mean.to_vec(), vec![4.0, 2.0]);
        assert_eq!(stats.var.to_vec(), vec![5.0, 0.0]);
        bn.update_running_statistics(&stats).unwrap();
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(close(bn.mean()[0], 0.9 * 1.0 + 0.1 * 4.0), "{}", bn.mean());
        assert!(close(bn.mean()[1], -0.9 + 0.1 * 2.0), "{}", bn.mean());
        assert!(
            close(bn.var()[0], 0.9 * 2.0 + 0.1 * 20.0 / 3.0),
            "{}",
            bn.var()
        );
        assert!(close(bn.var()[1], 0.9 * 0.5), "{}", bn.var());
        let wrong = BatchStatistics::of(&random_tensor(&[2, 3], -1.0, 1.0, 85)).unwrap();
        assert!(bn.update_running_statistics(&wrong).is_err());
    }
}
