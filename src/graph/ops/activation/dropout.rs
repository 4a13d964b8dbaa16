//! Dropout: the identity at inference, as `nn.Dropout` in `eval()` mode. In training mode
//! (`train()`, Srivastava et al. 2014, "inverted" dropout as PyTorch's `nn.Dropout`) each
//! element is zeroed with probability `p` and the others scaled by `1 / (1 - p)`:
//! `y = x ⊙ mask` with `mask` `0` or `1 / (1 - p)`, drawn once per pass; backward `g ⊙ mask`.
//! `p = 0` is the identity in both modes and draws nothing.

use super::super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rand::Rng;

/// Dropout with the training-time drop probability `rate`; the identity at inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// The drop probability used in training, kept for export.
    rate: f32,
}

impl Dropout {
    /// Dropout with drop probability `rate`; fails unless `0 <= rate < 1`.
    pub fn new(rate: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::invalid(
                "dropout rate",
                format!("expected 0 <= rate < 1, got {rate}"),
            ));
        }
        Ok(Dropout { rate })
    }

    /// The drop probability used in training.
    pub fn rate(&self) -> f32 {
        self.rate
    }

    /// The training-mode mask for an input of `shape`: each element `0` with probability
    /// `rate`, `1 / (1 - rate)` otherwise; `None` (the identity) when `rate` is 0.
    pub fn draw_mask<R: Rng + ?Sized>(&self, shape: &[usize], rng: &mut R) -> Option<Tensor> {
        if self.rate == 0.0 {
            return None;
        }
        let keep = 1.0 / (1.0 - self.rate);
        let rate = f64::from(self.rate);
        Some(Tensor::from_shape_fn(shape, |_| {
            if rng.random_bool(rate) {
                0.0
            } else {
                keep
            }
        }))
    }

    /// `x ⊙ mask` (the training-mode output, and the backward of a gradient); `x` unchanged
    /// without a mask. Errors when the shapes differ.
    pub fn apply_mask(x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let Some(mask) = mask else {
            return Ok(x.to_owned());
        };
        if mask.shape() != x.shape() {
            return Err(Error::shape(format!(
                "dropout mask has shape {:?}, but the value it applies to has {:?}",
                mask.shape(),
                x.shape()
            )));
        }
        Ok(x * mask)
    }
}

impl Kernel for Dropout {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(inputs[0].to_vec())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        Ok(inputs[0].to_owned())
    }

    fn backward(
        &self,
        _inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        Ok(Grads {
            inputs: vec![grad_output.to_owned()],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};

    #[test]
    fn dropout_is_identity() {
        let x = random_tensor(&[2, 4], -1.0, 1.0, 13);
        let d = Dropout::new(0.5).unwrap();
        assert_eq!(d.forward(&[&x]).unwrap(), x);
        check(&d, &[x], Tolerance::default());
        for rate in [1.0, 1.5, -0.1, f32::NAN] {
            let err = Dropout::new(rate).unwrap_err().to_string();
            assert!(
                err.contains("dropout rate") && err.contains(&rate.to_string()),
                "{err}"
            );
        }
    }

    /// Dropout with a fixed mask as a [`Kernel`], for [`check`].
    #[derive(Clone)]
    struct Masked(Tensor);

    impl Kernel for Masked {
        fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
            Ok(inputs[0].to_vec())
        }
        fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
            Dropout::apply_mask(inputs[0], Some(&self.0))
        }
        fn backward(
            &self,
            _inputs: &[&Tensor],
            _output: &Tensor,
            grad_output: &Tensor,
            _want_params: bool,
        ) -> Result<Grads> {
            Ok(Grads {
                inputs: vec![Dropout::apply_mask(grad_output, Some(&self.0))?],
                params: Vec::new(),
            })
        }
    }

    #[test]
    fn dropout_mask_drops_about_p_and_scales_the_rest() {
        use rand::SeedableRng;
        use rand_chacha::ChaCha8Rng;
        for rate in [0.1f32, 0.5, 0.8] {
            let d = Dropout::new(rate).unwrap();
            let mask = d
                .draw_mask(&[100, 1000], &mut ChaCha8Rng::seed_from_u64(91))
                .unwrap();
            let keep = 1.0 / (1.0 - rate);
            assert!(mask.iter().all(|&m| m == 0.0 || m == keep));
            let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / mask.len() as f64;
            // 100,000 Bernoulli draws: the standard deviation of the fraction is below 0.0016.
            assert!(
                (dropped - f64::from(rate)).abs() < 0.01,
                "{rate}: {dropped}"
            );
            let again = d
                .draw_mask(&[100, 1000], &mut ChaCha8Rng::seed_from_u64(91))
                .unwrap();
            assert_eq!(mask, again, "the same seed draws the same mask");
            let other = d
                .draw_mask(&[100, 1000], &mut ChaCha8Rng::seed_from_u64(92))
                .unwrap();
            assert_ne!(mask, other);
            let x = random_tensor(&[100, 1000], -1.0, 1.0, 93);
            let y = Dropout::apply_mask(&x, Some(&mask)).unwrap();
            for ((&x, &y), &m) in x.iter().zip(&y).zip(&mask) {
                assert_eq!(y, if m == 0.0 { 0.0 } else { x * keep });
            }
        }
        let none = Dropout::new(0.0)
            .unwrap()
            .draw_mask(&[3, 4], &mut ChaCha8Rng::seed_from_u64(94));
        assert!(none.is_none(), "p = 0 draws no mask");
        let x = random_tensor(&[3, 4], -1.0, 1.0, 95);
        assert_eq!(Dropout::apply_mask(&x, None).unwrap(), x);
        let mask = Dropout::new(0.5)
            .unwrap()
            .draw_mask(&[3, 5], &mut ChaCha8Rng::seed_from_u64(96));
        let err = Dropout::apply_mask(&x, mask.as_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("[3, 5]") && err.contains("[3, 4]"), "{err}");
    }

    #[test]
    fn dropout_with_a_fixed_mask_has_the_masked_gradient() {
        use rand::SeedableRng;
        let mask = Dropout::new(0.4)
            .unwrap()
            .draw_mask(&[3, 6], &mut rand_chacha::ChaCha8Rng::seed_from_u64(97))
            .unwrap();
        assert!(mask.iter().any(|&m| m == 0.0) && mask.iter().any(|&m| m > 1.0));
        check(
            &Masked(mask),
            &[random_tensor(&[3, 6], -1.0, 1.0, 98)],
            Tolerance::default(),
        );
    }
}
