//! Layer normalisation (Ba, Kiros & Hinton 2016, "Layer Normalization"; PyTorch
//! `nn.LayerNorm`, ONNX `LayerNormalization`), and the row standardisation that it, group
//! normalisation and instance normalisation (`group_norm.rs`) share.
//!
//! **Standardising a row** of `n` values: `μ = Σ x / n`, the biased `σ² = Σ (x - μ)² / n`,
//! `r = 1 / √(σ² + ε)`, `x̂ = (x - μ) r` (statistics accumulated in f64). With an element-wise
//! affine map `y = a x̂ + b` after it, the vector-Jacobian product for `g = dL/dy` is, with
//! `ĝ = g a` and means over the row, `dx = r (ĝ - mean(ĝ) - x̂ mean(ĝ x̂))`; `da = Σ g x̂` and
//! `db = Σ g`, summed over every position that shares the parameter.
//!
//! **Layer norm** normalises each sample over its trailing axes, the `normalized_shape` that
//! `scale` and `bias` have (`x[..., normalized_shape]`); the batch axis 0 is never among them.
//! ONNX's `axis` (default −1: the last axis) names the first normalised axis.

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::IxDyn;
use std::borrow::Cow;

/// The standardised rows `x̂` of `x` (rows of `row_len` contiguous values) and each row's
/// `1 / √(σ² + ε)`.
pub(super) fn standardise_rows(x: &[f32], row_len: usize, epsilon: f32) -> (Vec<f32>, Vec<f32>) {
    let mut standardised = Vec::with_capacity(x.len());
    let mut inv_std = Vec::with_capacity(x.len() / row_len.max(1));
    for row in x.chunks_exact(row_len) {
        let n = row_len as f64;
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = row
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let r = 1.0 / (var + f64::from(epsilon)).sqrt();
        standardised.extend(row.iter().map(|&v| ((f64::from(v) - mean) * r) as f32));
        inv_std.push(r as f32);
    }
    (standardised, inv_std)
}

/// The input gradient of standardised rows: `r (ĝ - mean(ĝ) - x̂ mean(ĝ x̂))` per row, where
/// `scaled_grad` holds `ĝ = g a` and `standardised`/`inv_std` come from [`standardise_rows`].
pub(super) fn standardise_rows_backward(
    scaled_grad: &[f32],
    standardised: &[f32],
    inv_std: &[f32],
    row_len: usize,
) -> Vec<f32> {
    let mut dx = Vec::with_capacity(scaled_grad.len());
    for ((g, xh), &r) in scaled_grad
        .chunks_exact(row_len)
        .zip(standardised.chunks_exact(row_len))
        .zip(inv_std)
    {
        let n = row_len as f64;
        let mean_g = g.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let mean_gx = g
            .iter()
            .zip(xh)
            .map(|(&g, &x)| f64::from(g) * f64::from(x))
            .sum::<f64>()
            / n;
        let r = f64::from(r);
        dx.extend(
            g.iter()
                .zip(xh)
                .map(|(&g, &x)| (r * (f64::from(g) - mean_g - f64::from(x) * mean_gx)) as f32),
        );
    }
    dx
}

/// Checks a normalisation's epsilon: finite and >= 0 (ONNX allows 0).
pub(super) fn check_epsilon(what: &str, epsilon: f32) -> Result<()> {
    if !epsilon.is_finite() || epsilon < 0.0 {
        return Err(Error::invalid(
            format!("{what} epsilon"),
            format!("expected a finite number >= 0, got {epsilon}"),
        ));
    }
    Ok(())
}

/// The values of `t` in row-major order, borrowed when its layout is already standard.
pub(super) fn row_major(t: &Tensor) -> Cow<'_, [f32]> {
    match t.as_slice() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(t.iter().copied().collect()),
    }
}

/// `values` (row-major, `shape`) as a tensor.
pub(super) fn tensor(what: &str, shape: &[usize], values: Vec<f32>) -> Result<Tensor> {
    Tensor::from_shape_vec(IxDyn(shape), values).map_err(|e| Error::shape(format!("{what}: {e}")))
}

/// Layer normalisation over the trailing axes that `scale` and `bias` span:
/// `y = scale ⊙ (x - μ) / √(σ² + ε) + bias`, with `μ`, `σ²` over those axes of each sample.
/// Built by [`LayerNorm::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm {
    /// The `normalized_shape`, trainable.
    scale: Tensor,
    /// Same shape as `scale`, trainable.
    bias: Tensor,
    /// Added to the variance.
    epsilon: f32,
}

impl LayerNorm {
    /// A layer norm over trailing axes of the shape of `scale` (at least one axis), with `bias`
    /// of the same shape and `epsilon >= 0`.
    pub fn new(scale: Tensor, bias: Tensor, epsilon: f32) -> Result<Self> {
        check_epsilon("layer norm", epsilon)?;
        if scale.ndim() == 0 || scale.is_empty() {
            return Err(Error::shape(format!(
                "layer norm scale has shape {:?}; expected the normalised shape (at least one axis, no size 0)",
                scale.shape()
            )));
        }
        let norm = LayerNorm {
            scale,
            bias,
            epsilon,
        };
        norm.check_params()?;
        Ok(norm)
    }

    /// The scale, of the normalised shape (trainable).
    pub fn scale(&self) -> &Tensor {
        &self.scale
    }

    /// The bias, of the normalised shape (trainable).
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// The constant added to the variance.
    pub fn epsilon(&self) -> f32 {
        self.epsilon
    }

    /// The trailing axes normalised over (the shape of [`LayerNorm::scale`]).
    pub fn normalized_shape(&self) -> &[usize] {
        self.scale.shape()
    }

    /// Checks that `bias` has the shape of `scale` (parameters can be replaced through
    /// [`Kernel::params_mut`], so [`Kernel::output_shape`] checks this again).
    fn check_params(&self) -> Result<()> {
        if self.bias.shape() != self.scale.shape() {
            return Err(Error::shape(format!(
                "layer norm bias has shape {:?}, expected the scale's shape {:?}",
                self.bias.shape(),
                self.scale.shape()
            )));
        }
        Ok(())
    }

    fn row_len(&self) -> usize {
        self.scale.len()
    }

    /// Checks an input of shape `x` against the layer and `grad_output` against it.
    fn check_gradient(&self, x: &[usize], grad_output: &Tensor) -> Result<()> {
        self.output_shape(&[x])?;
        if grad_output.shape() != x {
            return Err(Error::shape(format!(
                "layer norm gradient has shape {:?}, expected the output shape {x:?}",
                grad_output.shape(),
            )));
        }
        Ok(())
    }
}

impl Kernel for LayerNorm {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        let normalized = self.normalized_shape();
        if x.len() <= normalized.len() || !x.ends_with(normalized) {
            return Err(Error::shape(format!(
                "layer norm over the trailing axes {normalized:?} expects input [batch, ..., {}], got {x:?}",
                normalized
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.check_params()?;
        Ok(x.to_vec())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        self.output_shape(&[x.shape()])?;
        let (mut y, _) = standardise_rows(&row_major(x), self.row_len(), self.epsilon);
        let (scale, bias) = (row_major(&self.scale), row_major(&self.bias));
        for row in y.chunks_exact_mut(self.row_len()) {
            for ((v, &a), &b) in row.iter_mut().zip(scale.iter()).zip(bias.iter()) {
                *v = a * *v + b;
            }
        }
        tensor("layer norm output", x.shape(), y)
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
        let n = self.row_len();
        let (standardised, inv_std) = standardise_rows(&row_major(x), n, self.epsilon);
        let g = row_major(grad_output);
        let scale = row_major(&self.scale);
        let scaled: Vec<f32> = g
            .chunks_exact(n)
            .flat_map(|row| row.iter().zip(scale.iter()).map(|(&g, &a)| g * a))
            .collect();
        let dx = standardise_rows_backward(&scaled, &standardised, &inv_std, n);
        let mut params = Vec::new();
        if want_params {
            let mut d_scale = vec![0.0f64; n];
            let mut d_bias = vec![0.0f64; n];
            for (g_row, x_row) in g.chunks_exact(n).zip(standardised.chunks_exact(n)) {
                for (((ds, db), &g), &xh) in
                    d_scale.iter_mut().zip(&mut d_bias).zip(g_row).zip(x_row)
                {
                    *ds += f64::from(g) * f64::from(xh);
                    *db += f64::from(g);
                }
            }
            let shape = self.normalized_shape();
            let narrow = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
            params.push(tensor("layer norm scale gradient", shape, narrow(d_scale))?);
            params.push(tensor("layer norm bias gradient", shape, narrow(d_bias))?);
        }
        Ok(Grads {
            inputs: vec![tensor("layer norm input gradient", x.shape(), dx)?],
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};

    fn layer_norm(shape: &[usize], seed: u64) -> LayerNorm {
        LayerNorm::new(
            random_tensor(shape, 0.5, 2.0, seed),
            random_tensor(shape, -1.0, 1.0, seed + 1),
            1e-5,
        )
        .unwrap()
    }

    #[test]
    fn forward_matches_formula() {
        let norm = LayerNorm::new(
            Tensor::from_shape_vec(vec![2], vec![2.0, 1.0]).unwrap(),
            Tensor::from_shape_vec(vec![2], vec![0.5, -1.0]).unwrap(),
            0.0,
        )
        .unwrap();
        // Rows (1, 3) and (4, 0): mean 2 and 2, standard deviation 1 and 2.
        let x = Tensor::from_shape_vec(vec![2, 2], vec![1.0, 3.0, 4.0, 0.0]).unwrap();
        let y = norm.forward(&[&x]).unwrap();
        assert_eq!(y.as_slice().unwrap(), &[-1.5, 0.0, 2.5, -2.0]);
    }

    #[test]
    fn normalises_over_the_trailing_axes() {
        let norm = layer_norm(&[3, 4], 11);
        let x = random_tensor(&[2, 5, 3, 4], -2.0, 3.0, 12);
        let y = norm.forward(&[&x]).unwrap();
        for (x_row, y_row) in x
            .as_slice()
            .unwrap()
            .chunks(12)
            .zip(y.as_slice().unwrap().chunks(12))
        {
            let mean = x_row.iter().sum::<f32>() / 12.0;
            let var = x_row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 12.0;
            for (i, (&xv, &yv)) in x_row.iter().zip(y_row).enumerate() {
                let expected = norm.scale().as_slice().unwrap()[i] * (xv - mean)
                    / (var + 1e-5).sqrt()
                    + norm.bias().as_slice().unwrap()[i];
                assert!((yv - expected).abs() < 1e-5, "{yv} vs {expected}");
            }
        }
    }

    #[test]
    fn rejects_bad_shapes_and_epsilon() {
        let norm = layer_norm(&[4], 21);
        let e = norm.output_shape(&[&[2, 3]]).unwrap_err().to_string();
        assert!(e.contains("[4]") && e.contains("[2, 3]"), "{e}");
        assert!(
            norm.output_shape(&[&[4]]).is_err(),
            "the batch is never normalised"
        );
        let e = LayerNorm::new(Tensor::ones(vec![3]), Tensor::zeros(vec![2]), 1e-5)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bias") && e.contains("[2]") && e.contains("[3]"),
            "{e}"
        );
        let e = LayerNorm::new(Tensor::ones(vec![3]), Tensor::zeros(vec![3]), -1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("epsilon") && e.contains("-1"), "{e}");
        assert!(LayerNorm::new(Tensor::ones(vec![]), Tensor::zeros(vec![]), 0.0).is_err());
        let mut replaced = norm;
        *replaced.params_mut()[1] = Tensor::zeros(vec![5]);
        assert!(replaced.output_shape(&[&[2, 4]]).is_err());
    }

    #[test]
    fn gradients_match_finite_differences() {
        check(
            &layer_norm(&[5], 31),
            &[random_tensor(&[3, 5], -2.0, 2.0, 32)],
            Tolerance::default(),
        );
        check(
            &layer_norm(&[3, 4], 33),
            &[random_tensor(&[2, 2, 3, 4], -2.0, 2.0, 34)],
            Tolerance::default(),
        );
    }
}
