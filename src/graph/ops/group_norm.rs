//! Group normalisation (Wu & He 2018, "Group Normalization"; PyTorch `nn.GroupNorm`, ONNX
//! `GroupNormalization`) and instance normalisation (Ulyanov, Vedaldi & Lempitsky 2016; PyTorch
//! `nn.InstanceNorm*d(affine=True)`, ONNX `InstanceNormalization`), its case of one channel per
//! group.
//!
//! The `C` channels (axis 1) of each sample of `x [N, C, spatial...]` are split into `G`
//! consecutive groups of `C / G`; each group is standardised over its channels and spatial
//! positions (the row standardisation of `layer_norm.rs`), then an affine map per channel:
//! `y = scale_c x̂ + bias_c`. The backward is that of the standardisation with `ĝ = g scale_c`,
//! and `dscale_c = Σ g x̂`, `dbias_c = Σ g` over the batch and spatial positions.

use super::layer_norm::{
    check_epsilon, row_major, standardise_rows, standardise_rows_backward, tensor,
};
use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Group normalisation with `groups` groups of channels and a per-channel affine map; with one
/// channel per group, instance normalisation. Built by [`GroupNorm::new`] or
/// [`GroupNorm::instance`].
#[derive(Debug, Clone, PartialEq)]
pub struct GroupNorm {
    /// Channel groups, dividing the channel count.
    groups: usize,
    /// `[C]`, trainable.
    scale: Tensor,
    /// `[C]`, trainable.
    bias: Tensor,
    /// Added to the variance.
    epsilon: f32,
}

impl GroupNorm {
    /// A group norm of `groups` groups over the `[C]` `scale` and `bias`; `groups` must divide
    /// `C` and `epsilon` be >= 0.
    pub fn new(groups: usize, scale: Tensor, bias: Tensor, epsilon: f32) -> Result<Self> {
        check_epsilon("group norm", epsilon)?;
        let norm = GroupNorm {
            groups,
            scale,
            bias,
            epsilon,
        };
        norm.check_params()?;
        Ok(norm)
    }

    /// Instance normalisation: a group norm with one channel per group.
    pub fn instance(scale: Tensor, bias: Tensor, epsilon: f32) -> Result<Self> {
        Self::new(scale.len(), scale, bias, epsilon)
    }

    /// The number of channel groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The `[C]` scale (trainable).
    pub fn scale(&self) -> &Tensor {
        &self.scale
    }

    /// The `[C]` bias (trainable).
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// The constant added to the variance.
    pub fn epsilon(&self) -> f32 {
        self.epsilon
    }

    /// The number of channels `C` (the length of `scale`).
    pub fn channels(&self) -> usize {
        self.scale.len()
    }

    /// Checks that `scale` and `bias` are `[C]` with `C` a positive multiple of `groups`.
    fn check_params(&self) -> Result<()> {
        let channels = self.channels();
        for (name, v) in [("scale", &self.scale), ("bias", &self.bias)] {
            if v.shape() != [channels] {
                return Err(Error::shape(format!(
                    "group norm {name} has shape {:?}, expected [{channels}] (one value per channel)",
                    v.shape()
                )));
            }
        }
        if self.groups == 0 || channels == 0 || channels % self.groups != 0 {
            return Err(Error::invalid(
                "group norm groups",
                format!(
                    "{} groups do not divide {channels} channels into equal non-empty groups",
                    self.groups
                ),
            ));
        }
        Ok(())
    }

    /// Values per spatial plane of one channel of an input of `shape`.
    fn plane(shape: &[usize]) -> usize {
        shape[2..].iter().product()
    }

    /// Values per group: `C / G` channels times the plane.
    fn row_len(&self, shape: &[usize]) -> usize {
        self.channels() / self.groups * Self::plane(shape)
    }

    /// The per-channel `v` repeated over each plane, as one value per element of a sample.
    fn per_element<'a>(v: &'a [f32], plane: usize) -> impl Iterator<Item = f32> + Clone + 'a {
        v.iter().flat_map(move |&c| std::iter::repeat_n(c, plane))
    }
}

impl Kernel for GroupNorm {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        if x.len() < 2 || x[1] != self.channels() || x[2..].contains(&0) {
            return Err(Error::shape(format!(
                "group norm of {} channels expects input [batch, {}, spatial...] with no empty axis, got {x:?}",
                self.channels(),
                self.channels()
            )));
        }
        self.check_params()?;
        Ok(x.to_vec())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        self.output_shape(&[x.shape()])?;
        let (mut y, _) = standardise_rows(&row_major(x), self.row_len(x.shape()), self.epsilon);
        let plane = Self::plane(x.shape());
        let sample = self.channels() * plane;
        let (scale, bias) = (row_major(&self.scale), row_major(&self.bias));
        let scale = Self::per_element(&scale, plane);
        let bias = Self::per_element(&bias, plane);
        for sample_values in y.chunks_exact_mut(sample) {
            for ((v, a), b) in sample_values
                .iter_mut()
                .zip(scale.clone())
                .zip(bias.clone())
            {
                *v = a * *v + b;
            }
        }
        tensor("group norm output", x.shape(), y)
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
                "group norm gradient has shape {:?}, expected the output shape {:?}",
                grad_output.shape(),
                x.shape()
            )));
        }
        let row_len = self.row_len(x.shape());
        let plane = Self::plane(x.shape());
        let sample = self.channels() * plane;
        let (standardised, inv_std) = standardise_rows(&row_major(x), row_len, self.epsilon);
        let g = row_major(grad_output);
        let scale = row_major(&self.scale);
        let scale = Self::per_element(&scale, plane);
        let scaled: Vec<f32> = g
            .chunks_exact(sample)
            .flat_map(|s| s.iter().zip(scale.clone()).map(|(&g, a)| g * a))
            .collect();
        let dx = standardise_rows_backward(&scaled, &standardised, &inv_std, row_len);
        let mut params = Vec::new();
        if want_params {
            let channels = self.channels();
            let mut d_scale = vec![0.0f64; channels];
            let mut d_bias = vec![0.0f64; channels];
            for (i, (g_plane, x_plane)) in g
                .chunks_exact(plane)
                .zip(standardised.chunks_exact(plane))
                .enumerate()
            {
                // Planes run through the channels of each sample in turn.
                let c = i % channels;
                for (&g, &xh) in g_plane.iter().zip(x_plane) {
                    d_scale[c] += f64::from(g) * f64::from(xh);
                    d_bias[c] += f64::from(g);
                }
            }
            let narrow = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect();
            params.push(tensor(
                "group norm scale gradient",
                &[channels],
                narrow(d_scale),
            )?);
            params.push(tensor(
                "group norm bias gradient",
                &[channels],
                narrow(d_bias),
            )?);
        }
        Ok(Grads {
            inputs: vec![tensor("group norm input gradient", x.shape(), dx)?],
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

    fn group_norm(groups: usize, channels: usize, seed: u64) -> GroupNorm {
        GroupNorm::new(
            groups,
            random_tensor(&[channels], 0.5, 2.0, seed),
            random_tensor(&[channels], -1.0, 1.0, seed + 1),
            1e-5,
        )
        .unwrap()
    }

    #[test]
    fn forward_matches_formula() {
        let scale = random_tensor(&[4], 0.5, 2.0, 1);
        let bias = random_tensor(&[4], -1.0, 1.0, 2);
        let norm = GroupNorm::new(2, scale.clone(), bias.clone(), 1e-5).unwrap();
        let x = random_tensor(&[2, 4, 3], -2.0, 2.0, 3);
        let y = norm.forward(&[&x]).unwrap();
        for n in 0..2 {
            for group in 0..2 {
                let values: Vec<f32> = (0..2)
                    .flat_map(|k| (0..3).map(move |s| (2 * group + k, s)))
                    .map(|(c, s)| x[[n, c, s]])
                    .collect();
                let mean = values.iter().sum::<f32>() / 6.0;
                let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 6.0;
                for k in 0..2 {
                    let c = 2 * group + k;
                    for s in 0..3 {
                        let expected =
                            scale[c] * (x[[n, c, s]] - mean) / (var + 1e-5).sqrt() + bias[c];
                        assert!((y[[n, c, s]] - expected).abs() < 1e-5);
                    }
                }
            }
        }
        // Instance norm: each channel of each sample on its own.
        let instance = GroupNorm::instance(scale.clone(), bias.clone(), 1e-5).unwrap();
        assert_eq!(instance.groups(), 4);
        let y = instance.forward(&[&x]).unwrap();
        let mean = (x[[1, 2, 0]] + x[[1, 2, 1]] + x[[1, 2, 2]]) / 3.0;
        let var = (0..3).map(|s| (x[[1, 2, s]] - mean).powi(2)).sum::<f32>() / 3.0;
        let expected = scale[2] * (x[[1, 2, 1]] - mean) / (var + 1e-5).sqrt() + bias[2];
        assert!((y[[1, 2, 1]] - expected).abs() < 1e-5);
    }

    #[test]
    fn rejects_bad_groups_shapes_and_epsilon() {
        let e = GroupNorm::new(3, Tensor::ones(vec![4]), Tensor::zeros(vec![4]), 1e-5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 groups") && e.contains("4 channels"), "{e}");
        assert!(GroupNorm::new(0, Tensor::ones(vec![4]), Tensor::zeros(vec![4]), 1e-5).is_err());
        let e = GroupNorm::new(2, Tensor::ones(vec![4]), Tensor::zeros(vec![2]), 1e-5)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bias") && e.contains("[2]") && e.contains("[4]"),
            "{e}"
        );
        assert!(
            GroupNorm::new(2, Tensor::ones(vec![4]), Tensor::zeros(vec![4]), f32::NAN).is_err()
        );
        let norm = group_norm(2, 4, 5);
        let e = norm.output_shape(&[&[2, 3, 5]]).unwrap_err().to_string();
        assert!(e.contains("4 channels") && e.contains("[2, 3, 5]"), "{e}");
    }

    #[test]
    fn gradients_match_finite_differences() {
        check(
            &group_norm(2, 4, 11),
            &[random_tensor(&[2, 4, 3], -2.0, 2.0, 12)],
            Tolerance::default(),
        );
        check(
            &group_norm(1, 3, 13),
            &[random_tensor(&[2, 3, 2, 2], -2.0, 2.0, 14)],
            Tolerance::default(),
        );
        check(
            &GroupNorm::instance(
                random_tensor(&[3], 0.5, 2.0, 15),
                random_tensor(&[3], -1.0, 1.0, 16),
                1e-5,
            )
            .unwrap(),
            &[random_tensor(&[2, 3, 2, 3], -2.0, 2.0, 17)],
            Tolerance::default(),
        );
    }

    #[test]
    fn non_contiguous_input_gives_the_same_result() {
        use crate::graph::ops::layer_norm::LayerNorm;
        let x = random_tensor(&[2, 4, 3, 5], -2.0, 2.0, 21);
        let transposed = x.view().permuted_axes(vec![0, 1, 3, 2]).to_owned();
        let standard = transposed.as_standard_layout().into_owned();
        let layer_norm = LayerNorm::new(
            random_tensor(&[5, 3], 0.5, 2.0, 22),
            random_tensor(&[5, 3], -1.0, 1.0, 23),
            1e-5,
        )
        .unwrap();
        let ops: [&dyn Kernel; 2] = [&group_norm(2, 4, 24), &layer_norm];
        let g = random_tensor(&[2, 4, 5, 3], -1.0, 1.0, 25);
        let g_transposed = g
            .view()
            .permuted_axes(vec![0, 1, 3, 2])
            .as_standard_layout()
            .permuted_axes(vec![0, 1, 3, 2])
            .to_owned();
        assert!(!transposed.is_standard_layout() && !g_transposed.is_standard_layout());
        for op in ops {
            let y = op.forward(&[&standard]).unwrap();
            assert_eq!(op.forward(&[&transposed]).unwrap(), y);
            let expected = op.backward(&[&standard], &y, &g, true).unwrap();
            let got = op
                .backward(&[&transposed], &y, &g_transposed, true)
                .unwrap();
            assert_eq!(got.inputs, expected.inputs);
            assert_eq!(got.params, expected.params);
        }
    }
}
