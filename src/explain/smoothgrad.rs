//! SmoothGrad (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise") and its
//! variants, as Captum 0.9 `NoiseTunnel(Saliency(model))`:
//!
//! With `a(z) = |∂F/∂x(z)|` (Captum `Saliency`, `abs=True`; the signed gradient when `abs` is
//! off) and `n` samples `z_j = x + ε_j`, `ε_j ~ N(0, σ²)` element-wise,
//!
//! - `smoothgrad`: `(1/n) Σ_j a(z_j)`
//! - `smoothgradSq`: `(1/n) Σ_j a(z_j)²`
//! - `vargrad` (Adebayo et al. 2018): `(1/n) Σ_j a(z_j)² - ((1/n) Σ_j a(z_j))²`
//!
//! Captum's `stdevs` is the absolute `σ`; nnlens's `noise` is the noise level of the paper,
//! `σ = noise · (max(x) - min(x))`. The noise comes from a ChaCha8 generator seeded with
//! `seed` (rand_chacha), drawn with `rand_distr::Normal` sample after sample, element after
//! element in row-major order, so the same seed gives the same map on every platform. All
//! noisy samples are evaluated as one batch; sums are accumulated in f64.

use super::{Objective, Passes, Variant};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::tensor::limits;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// SmoothGrad options (see [`super::Method::SmoothGrad`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Settings {
    pub samples: usize,
    pub noise: f32,
    pub variant: Variant,
    pub seed: u64,
    pub abs: bool,
}

/// The noise standard deviation for the sample `x`: `noise · (max(x) - min(x))`.
pub(super) fn stdev(x: &[f32], noise: f32) -> Result<f32> {
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(Error::invalid(
            "noise",
            format!(
                "expected a finite fraction >= 0 of the input's range (max - min), got {noise}"
            ),
        ));
    }
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let min = x.iter().copied().fold(f32::INFINITY, f32::min);
    let sigma = noise * (max - min);
    if !sigma.is_finite() {
        return Err(Error::invalid(
            "noise",
            format!("{noise} times the input's range {} overflows", max - min),
        ));
    }
    Ok(sigma)
}

/// The noise generator of `seed` and the distribution `N(0, σ²)`.
pub(super) fn noise_source(seed: u64, sigma: f32) -> Result<(ChaCha8Rng, Normal<f32>)> {
    let normal = Normal::new(0.0, sigma)
        .map_err(|e| Error::invalid("noise", format!("standard deviation {sigma}: {e}")))?;
    Ok((ChaCha8Rng::seed_from_u64(seed), normal))
}

/// SmoothGrad of the sample `x` (flat, validated), in `passes` (one report per pass of noisy
/// samples).
pub(super) fn attribute(
    graph: &Graph,
    x: &[f32],
    objective: &Objective,
    settings: &Settings,
    passes: &mut Passes,
) -> Result<Vec<f32>> {
    let samples = settings.samples;
    if samples == 0 || samples > limits::MAX_BATCH {
        return Err(Error::invalid(
            "samples",
            format!(
                "expected 1..={} noisy samples, got {samples}",
                limits::MAX_BATCH
            ),
        ));
    }
    let sigma = stdev(x, settings.noise)?;
    let (mut rng, normal) = noise_source(settings.seed, sigma)?;
    let n = x.len();
    let mut sum = vec![0.0f64; n];
    let mut sum_sq = vec![0.0f64; n];
    passes.gradients(
        graph,
        objective,
        samples,
        |range| {
            let mut batch = Vec::with_capacity(range.len() * n);
            for _ in range {
                batch.extend(x.iter().map(|&v| v + normal.sample(&mut rng)));
            }
            Ok(batch)
        },
        |_, grads, _| {
            for g in grads.chunks_exact(n) {
                for ((s, q), &g) in sum.iter_mut().zip(sum_sq.iter_mut()).zip(g) {
                    let a = f64::from(if settings.abs { g.abs() } else { g });
                    *s += a;
                    *q += a * a;
                }
            }
            Ok(())
        },
    )?;
    let count = samples as f64;
    Ok(sum
        .iter()
        .zip(&sum_sq)
        .map(|(s, q)| {
            let (mean, mean_sq) = (s / count, q / count);
            (match settings.variant {
                Variant::SmoothGrad => mean,
                Variant::SmoothGradSq => mean_sq,
                Variant::VarGrad => mean_sq - mean * mean,
            }) as f32
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{mlp, mlp_input, unreported};
    use super::super::{pass_limit, saliency, Method, SaliencyOptions};
    use super::*;

    fn options(
        samples: usize,
        noise: f32,
        variant: Variant,
        seed: u64,
        abs: bool,
    ) -> SaliencyOptions {
        SaliencyOptions {
            logits: true,
            ..SaliencyOptions::new(
                Method::SmoothGrad {
                    samples,
                    noise,
                    variant,
                    seed,
                    abs,
                },
                0,
            )
        }
    }

    fn gradient(g: &Graph, x: &[f32], abs: bool) -> Vec<f32> {
        saliency(
            g,
            x,
            &SaliencyOptions {
                logits: true,
                ..SaliencyOptions::new(Method::Gradient { abs }, 0)
            },
        )
        .unwrap()
        .values
    }

    #[test]
    fn zero_noise_gives_the_gradient() {
        let g = mlp();
        let x = mlp_input();
        for abs in [true, false] {
            let grad = gradient(&g, &x, abs);
            let sg = saliency(&g, &x, &options(9, 0.0, Variant::SmoothGrad, 3, abs)).unwrap();
            // A batch of 9 runs through sgemm, the single gradient through the dot-product
            // path: equal up to f32 rounding.
            for (s, g) in sg.values.iter().zip(&grad) {
                assert!((s - g).abs() <= 1e-6 * g.abs().max(1.0), "{s} vs {g}");
            }
            let sq = saliency(&g, &x, &options(9, 0.0, Variant::SmoothGradSq, 3, abs)).unwrap();
            for (s, g) in sq.values.iter().zip(&grad) {
                assert!((s - g * g).abs() <= 1e-7 * (g * g).max(1.0));
            }
            let var = saliency(&g, &x, &options(9, 0.0, Variant::VarGrad, 3, abs)).unwrap();
            assert!(
                var.values.iter().all(|v| v.abs() < 1e-7),
                "{:?}",
                var.values
            );
        }
    }

    #[test]
    fn same_seed_same_map_other_seed_other_map() {
        let g = mlp();
        let x = mlp_input();
        let a = saliency(&g, &x, &options(10, 0.2, Variant::SmoothGrad, 42, true)).unwrap();
        let b = saliency(&g, &x, &options(10, 0.2, Variant::SmoothGrad, 42, true)).unwrap();
        let c = saliency(&g, &x, &options(10, 0.2, Variant::SmoothGrad, 43, true)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.values, c.values);
    }

    /// The batched result is the average of single-sample gradients at noise drawn the same
    /// way (same generator, same order), for every variant, with and without splitting the
    /// batch into passes.
    #[test]
    fn equals_the_mean_over_independently_drawn_noise() {
        let g = mlp();
        let x = mlp_input();
        let samples = 12;
        let sigma = stdev(&x, 0.3).unwrap();
        assert_eq!(sigma, 0.3 * (2.0 - -1.25));
        let (mut rng, normal) = noise_source(7, sigma).unwrap();
        let maps: Vec<Vec<f32>> = (0..samples)
            .map(|_| {
                let z: Vec<f32> = x.iter().map(|&v| v + normal.sample(&mut rng)).collect();
                gradient(&g, &z, true)
            })
            .collect();
        let mean = |f: &dyn Fn(f32) -> f32| -> Vec<f32> {
            (0..x.len())
                .map(|i| maps.iter().map(|m| f(m[i])).sum::<f32>() / samples as f32)
                .collect()
        };
        let m = mean(&|a| a);
        let m2 = mean(&|a| a * a);
        let obj = Objective::new(&g, 0, true).unwrap();
        for chunk in [pass_limit(&g, usize::MAX), 5] {
            for (variant, want) in [
                (Variant::SmoothGrad, m.clone()),
                (Variant::SmoothGradSq, m2.clone()),
                (
                    Variant::VarGrad,
                    m2.iter().zip(&m).map(|(q, m)| q - m * m).collect(),
                ),
            ] {
                let settings = Settings {
                    samples,
                    noise: 0.3,
                    variant,
                    seed: 7,
                    abs: true,
                };
                let got = attribute(&g, &x, &obj, &settings, &mut unreported(chunk)).unwrap();
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "{variant:?} chunk {chunk}: {a} vs {b}"
                    );
                }
            }
        }
    }

    /// With many samples the maps of two seeds agree closely (both estimate the same expected
    /// saliency), while single-sample maps of the two seeds differ a lot.
    #[test]
    fn mean_converges_over_many_samples() {
        let g = mlp();
        let x = mlp_input();
        let spread = |n: usize| -> f32 {
            let a = saliency(&g, &x, &options(n, 0.5, Variant::SmoothGrad, 1, true))
                .unwrap()
                .values;
            let b = saliency(&g, &x, &options(n, 0.5, Variant::SmoothGrad, 2, true))
                .unwrap()
                .values;
            a.iter()
                .zip(&b)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max)
        };
        let (one, many) = (spread(1), spread(4000));
        assert!(
            many < 0.1 * one,
            "spread with 1 sample {one}, with 4000 samples {many}"
        );
    }

    #[test]
    fn invalid_settings_are_reported() {
        let g = mlp();
        let x = mlp_input();
        let err = saliency(&g, &x, &options(0, 0.1, Variant::SmoothGrad, 0, true)).unwrap_err();
        assert!(err.to_string().contains("got 0"), "{err}");
        let err = saliency(&g, &x, &options(3, -0.1, Variant::SmoothGrad, 0, true)).unwrap_err();
        assert!(err.to_string().contains("-0.1"), "{err}");
        assert!(saliency(&g, &x, &options(3, f32::NAN, Variant::SmoothGrad, 0, true)).is_err());
    }
}
