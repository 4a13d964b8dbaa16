//! Quadrature rules for the path integral of Integrated Gradients: the points `α_k` in
//! `[0, 1]` where the gradient is evaluated and the weights `w_k` of the sum
//! `∫₀¹ f(α) dα ≈ Σ_k w_k f(α_k)`.
//!
//! Identical to Captum 0.9 `captum/attr/_utils/approximation_methods.py`:
//!
//! - Riemann rules (`riemann_builders`) use `n ≥ 2` equal steps `w_k = 1/n`; the trapezoid rule
//!   halves the first and last weight. The points are `torch.linspace` in float32:
//!   left `linspace(0, 1 - 1/n, n)`, right `linspace(1/n, 1, n)`,
//!   middle `linspace(1/(2n), 1 - 1/(2n), n)`, trapezoid `linspace(0, 1, n)`.
//! - Gauss-Legendre (`gauss_legendre_builders`, `n ≥ 1`) maps NumPy's
//!   `np.polynomial.legendre.leggauss(n)` nodes `x_k` and weights `v_k` on `[-1, 1]` to
//!   `α_k = (1 + x_k) / 2`, `w_k = v_k / 2`. The nodes are the roots of the Legendre polynomial
//!   `P_n`, found here by Newton's method on the three-term recurrence in f64 (Golub & Welsch
//!   1969 give the same nodes as eigenvalues; NumPy uses its companion matrix and one Newton
//!   step), with `v_k = 2 / ((1 - x_k²) P'_n(x_k)²)`; like NumPy the nodes are symmetrised and
//!   the weights rescaled to sum to exactly 2. Results agree with NumPy to about 1e-15.
//!
//! Captum multiplies float32 tensors by the points and weights, so [`Quadrature`] stores the
//! f64 values and callers round them to f32 where Captum does.

use crate::error::{Error, Result};
use crate::names::named_enum;

/// The most steps a rule accepts (the Gauss-Legendre nodes cost O(steps²) to compute).
pub const MAX_STEPS: usize = 4096;

named_enum! {
    /// An integration rule of Integrated Gradients (Captum's `method` argument, in camelCase).
    #[derive(Default)]
    pub enum Rule: "integration rule" {
        /// Gauss-Legendre quadrature (Captum `"gausslegendre"`, the default).
        #[default]
        GaussLegendre = "gaussLegendre",
        /// Left Riemann sum (Captum `"riemann_left"`).
        RiemannLeft = "riemannLeft",
        /// Right Riemann sum (Captum `"riemann_right"`).
        RiemannRight = "riemannRight",
        /// Midpoint Riemann sum (Captum `"riemann_middle"`).
        RiemannMiddle = "riemannMiddle",
        /// Trapezoid rule (Captum `"riemann_trapezoid"`).
        RiemannTrapezoid = "riemannTrapezoid",
    }
}

impl Rule {
    /// The smallest number of steps the rule accepts (Captum asserts `n > 1` for Riemann
    /// sums and `n > 0` for Gauss-Legendre).
    pub fn min_steps(self) -> usize {
        match self {
            Rule::GaussLegendre => 1,
            _ => 2,
        }
    }
}

/// Points and weights of a rule with a given number of steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Quadrature {
    /// The points `α_k` in `[0, 1]`, ascending.
    pub alphas: Vec<f64>,
    /// The weights `w_k` (Captum's `step_sizes`).
    pub weights: Vec<f64>,
}

/// The points and weights of `rule` with `steps` steps.
pub fn quadrature(rule: Rule, steps: usize) -> Result<Quadrature> {
    if steps < rule.min_steps() || steps > MAX_STEPS {
        return Err(Error::invalid(
            "steps",
            format!(
                "the {} rule needs {}..={MAX_STEPS} steps, got {steps}",
                rule.name(),
                rule.min_steps()
            ),
        ));
    }
    let n = steps as f64;
    let linspace = |start: f64, end: f64| linspace_f32(start as f32, end as f32, steps);
    Ok(match rule {
        Rule::GaussLegendre => {
            let (x, v) = leggauss(steps);
            Quadrature {
                alphas: x.iter().map(|x| 0.5 * (1.0 + x)).collect(),
                weights: v.iter().map(|v| 0.5 * v).collect(),
            }
        }
        riemann => {
            let alphas = match riemann {
                Rule::RiemannLeft => linspace(0.0, 1.0 - 1.0 / n),
                Rule::RiemannRight => linspace(1.0 / n, 1.0),
                Rule::RiemannMiddle => linspace(1.0 / (2.0 * n), 1.0 - 1.0 / (2.0 * n)),
                _ => linspace(0.0, 1.0),
            };
            let mut weights = vec![1.0 / n; steps];
            if riemann == Rule::RiemannTrapezoid {
                weights[0] /= 2.0;
                weights[steps - 1] /= 2.0;
            }
            Quadrature { alphas, weights }
        }
    })
}

/// `torch.linspace(start, end, steps)` in float32 (`steps ≥ 2`), as PyTorch's CPU kernel
/// computes it: the first half counts up from `start`, the second half down from `end`.
fn linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f64> {
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| {
            let v = if i < halfway {
                start + step * i as f32
            } else {
                end - step * (steps - i - 1) as f32
            };
            f64::from(v)
        })
        .collect()
}

/// `P_n(x)` and `P'_n(x)` by the recurrence `k P_k = (2k - 1) x P_{k-1} - (k - 1) P_{k-2}`.
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    for k in 2..=n {
        let k = k as f64;
        let p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
    }
    if n == 0 {
        return (1.0, 0.0);
    }
    // P'_n(x) = n (x P_n - P_{n-1}) / (x² - 1), valid inside (-1, 1) where the roots are.
    let dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, dp)
}

/// Gauss-Legendre nodes (ascending) and weights on `[-1, 1]`, as NumPy's `leggauss(n)`.
fn leggauss(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    for i in 0..n {
        // Root i counted from +1 (Tricomi's initial guess), refined by Newton's method. The
        // cosine is libm's, the one the projections use: `f64::cos` would link a second copy of
        // the same routine (compiler-builtins', about 7 KB of wasm with its argument reduction).
        let mut r = libm::cos(std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5));
        for _ in 0..100 {
            let (p, dp) = legendre(n, r);
            let dr = p / dp;
            r -= dr;
            if dr.abs() <= 1e-16 * r.abs().max(1.0) {
                break;
            }
        }
        let (_, dp) = legendre(n, r);
        x[n - 1 - i] = r;
        w[n - 1 - i] = 2.0 / ((1.0 - r * r) * dp * dp);
    }
    // Symmetrise and normalise as NumPy does: x = (x - x[::-1]) / 2, w = (w + w[::-1]) / 2,
    // w *= 2 / sum(w).
    let xs: Vec<f64> = (0..n).map(|k| (x[k] - x[n - 1 - k]) / 2.0).collect();
    let ws: Vec<f64> = (0..n).map(|k| (w[k] + w[n - 1 - k]) / 2.0).collect();
    let total: f64 = ws.iter().sum();
    (xs, ws.iter().map(|v| v * 2.0 / total).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_small_orders_match_closed_forms() {
        let (x, w) = leggauss(1);
        assert_eq!((x[0], w[0]), (0.0, 2.0));
        let (x, w) = leggauss(2);
        let r = 1.0 / 3f64.sqrt();
        assert!((x[0] + r).abs() < 1e-15 && (x[1] - r).abs() < 1e-15);
        assert!((w[0] - 1.0).abs() < 1e-15 && (w[1] - 1.0).abs() < 1e-15);
        let (x, w) = leggauss(3);
        let r = 0.6f64.sqrt();
        assert!((x[0] + r).abs() < 1e-15 && x[1].abs() < 1e-15 && (x[2] - r).abs() < 1e-15);
        assert!((w[0] - 5.0 / 9.0).abs() < 1e-15 && (w[1] - 8.0 / 9.0).abs() < 1e-15);
    }

    /// Reference values printed by NumPy 2.4 `np.polynomial.legendre.leggauss(n)`.
    #[test]
    fn gauss_legendre_matches_numpy() {
        let (x, w) = leggauss(50);
        assert!((x[0] - -0.998_866_404_420_071).abs() < 1e-14, "{}", x[0]);
        assert!(
            (w[0] - 0.002_908_622_553_157_926_6).abs() < 1e-14,
            "{}",
            w[0]
        );
        assert!(
            (x[24] - -0.031_098_338_327_188_876).abs() < 1e-14,
            "{}",
            x[24]
        );
        assert!(
            (w[24] - 0.062_176_616_655_347_03).abs() < 1e-14,
            "{}",
            w[24]
        );
        let (x, w) = leggauss(7);
        assert!((x[6] - 0.949_107_912_342_758_6).abs() < 1e-14, "{}", x[6]);
        assert!((w[3] - 0.417_959_183_673_469_3).abs() < 1e-14, "{}", w[3]);
    }

    /// Gauss-Legendre with n points integrates polynomials of degree 2n - 1 exactly.
    #[test]
    fn gauss_legendre_is_exact_for_polynomials() {
        for n in [1usize, 2, 5, 50, 300] {
            let q = quadrature(Rule::GaussLegendre, n).unwrap();
            let deg = 2 * n - 1;
            let integral: f64 = q
                .alphas
                .iter()
                .zip(&q.weights)
                .map(|(a, w)| w * a.powi(deg as i32))
                .sum();
            assert!(
                (integral - 1.0 / (deg as f64 + 1.0)).abs() < 1e-12,
                "n {n}: {integral}"
            );
            assert!(q.alphas.windows(2).all(|p| p[0] < p[1]));
        }
    }

    #[test]
    fn riemann_rules_match_captum() {
        let q = quadrature(Rule::RiemannLeft, 4).unwrap();
        assert_eq!(q.alphas, vec![0.0, 0.25, 0.5, 0.75]);
        assert_eq!(q.weights, vec![0.25; 4]);
        let q = quadrature(Rule::RiemannRight, 4).unwrap();
        assert_eq!(q.alphas, vec![0.25, 0.5, 0.75, 1.0]);
        let q = quadrature(Rule::RiemannMiddle, 4).unwrap();
        assert_eq!(q.alphas, vec![0.125, 0.375, 0.625, 0.875]);
        let q = quadrature(Rule::RiemannTrapezoid, 5).unwrap();
        assert_eq!(q.alphas, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(q.weights, vec![0.1, 0.2, 0.2, 0.2, 0.1]);
        // torch.linspace(0, 1 - 1/3, 3) in float32: [0, 0.3333333432674408, 0.6666666865348816]
        let q = quadrature(Rule::RiemannLeft, 3).unwrap();
        assert_eq!(
            q.alphas,
            vec![0.0, 0.333_333_343_267_440_8, 0.666_666_686_534_881_6]
        );
        // More float32 values printed by torch 2.15 `torch.linspace(...).tolist()`, where the
        // second half counting down from the end shows.
        let q = quadrature(Rule::RiemannTrapezoid, 7).unwrap();
        assert_eq!(q.alphas[4], 0.666_666_626_930_236_8);
        let q = quadrature(Rule::RiemannMiddle, 7).unwrap();
        assert_eq!(
            &q.alphas[..2],
            &[0.071_428_574_621_677_4, 0.214_285_701_513_290_4]
        );
        assert_eq!(q.alphas[6], 0.928_571_403_026_580_8);
        let q = quadrature(Rule::RiemannMiddle, 100).unwrap();
        assert_eq!(q.alphas[2], 0.024_999_998_509_883_88);
        assert_eq!(q.alphas[97], 0.975_000_023_841_857_9);
        let q = quadrature(Rule::RiemannRight, 50).unwrap();
        assert_eq!(q.alphas[47], 0.959_999_978_542_327_9);
    }

    #[test]
    fn steps_are_validated() {
        assert!(quadrature(Rule::RiemannLeft, 1)
            .unwrap_err()
            .to_string()
            .contains("2..=4096"));
        assert!(quadrature(Rule::GaussLegendre, 0).is_err());
        assert!(quadrature(Rule::GaussLegendre, MAX_STEPS + 1).is_err());
    }
}
