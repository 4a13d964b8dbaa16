//! The randomized solver of [`super::Pca`]: Halko, Martinsson and Tropp 2011, "Finding
//! structure with randomness", Algorithm 4.3/4.4, as `sklearn.utils.extmath.randomized_svd`
//! runs it for PCA.
//!
//! With `M = Xc` (or `M = Xcᵀ` when `n < p`, scikit-learn's `transpose="auto"`) and
//! `l = k + `[`OVERSAMPLES`] Gaussian test vectors `Ω` (one row per column of `M`), the range of
//! `M` is captured by `n_iter` power iterations `Q ← normalise(M Q)`, `Q ← normalise(Mᵀ Q)`
//! starting from `Q = Ω`, then `Q = qr(M Q)`; the SVD of the small `B = Qᵀ M = Û S V̂ᵀ` gives the
//! singular values `S` and the right singular vectors `V̂` of `M` (for `M = Xcᵀ` the components
//! are `Q Û`). `n_iter` is 7 when `k < 0.1 · min(n, p)` else 4 ([`auto_power_iterations`]), and
//! the normaliser follows `power_iteration_normalizer="auto"`: none when `n_iter ≤ 2`, else the
//! `P L` factor of an LU factorisation with partial pivoting after every product (SciPy's
//! `lu(permute_l=True)`, [`lu_permuted`]).
//!
//! The test vectors come from ChaCha8 seeded with [`super::PcaOptions::seed`] (Box–Muller
//! normals), so results are reproducible but cannot equal NumPy's draws. The power iterations
//! run in f32 on a centred copy scaled to unit maximum (scikit-learn also works in f32 for f32
//! input; the scale does not change the subspace); `B`, its SVD and the projections are f64.

use super::{
    centred_times, flip_signs, for_centred_blocks, not_converged, Decomposition, PcaOptions,
    OVERSAMPLES,
};
use crate::error::{Error, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};

/// The most power iterations the randomized solver runs (scikit-learn's `"auto"` is 4 or 7;
/// each one is two products with the data, so a caller's `powerIterations: 1000000` would run
/// for hours: refused before the first).
pub const MAX_POWER_ITERATIONS: usize = 100;

/// The default number of power iterations of scikit-learn's `randomized_svd` (`n_iter="auto"`).
pub fn auto_power_iterations(rows: usize, cols: usize, components: usize) -> usize {
    if (components as f64) < 0.1 * rows.min(cols) as f64 {
        7
    } else {
        4
    }
}

/// Randomized truncated SVD (scikit-learn's `svd_solver="randomized"`).
pub(super) fn randomized(
    data: ArrayView2<f32>,
    mean: &[f64],
    k: usize,
    sum_squares: f64,
    max_abs: f64,
    options: &PcaOptions,
) -> Result<Decomposition> {
    let (n, p) = data.dim();
    let total_variance = sum_squares / (n - 1) as f64;
    let n_iter = options
        .power_iterations
        .unwrap_or_else(|| auto_power_iterations(n, p, k));
    if n_iter > MAX_POWER_ITERATIONS {
        return Err(Error::invalid(
            "PCA power iterations",
            format!(
                "got {n_iter}; expected at most {MAX_POWER_ITERATIONS} (scikit-learn's \"auto\" \
                 is 4 or 7)"
            ),
        ));
    }

    // Centred copy in f32 scaled to unit maximum, column-major for the products.
    let scale = 1.0 / max_abs;
    let a = Mat::<f32>::from_fn(n, p, |i, j| {
        ((f64::from(data[[i, j]]) - mean[j]) * scale) as f32
    });
    let transpose = n < p;
    let m = if transpose { a.transpose() } else { a.as_ref() };

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(options.seed);
    let mut q = gaussian_matrix(&mut rng, m.ncols(), k + OVERSAMPLES);
    let lu = n_iter > 2;
    for _ in 0..n_iter {
        let y = product(m, q.as_ref());
        q = if lu { permuted_l(y.as_ref()) } else { y };
        let z = product(m.transpose(), q.as_ref());
        q = if lu { permuted_l(z.as_ref()) } else { z };
    }
    let y = product(m, q.as_ref());
    drop(a);
    let y64 = Mat::<f64>::from_fn(y.nrows(), y.ncols(), |i, j| f64::from(y[(i, j)]));
    let basis = y64.qr().compute_thin_Q();

    // Bᵀ = Mᵀ Q, from the f64 centred data: Xcᵀ Q (not transposed) or Xc Q (transposed).
    let b_t = if transpose {
        centred_times(data, mean, basis.as_ref())
    } else {
        centred_transpose_times(data, mean, basis.as_ref())
    };
    let svd = b_t
        .thin_svd()
        .map_err(|e| not_converged("randomized", "SVD", n, p, e))?;
    let singular: Vec<f64> = svd.S().column_vector().iter().take(k).copied().collect();
    // Bᵀ = V̂ S Ûᵀ with B = Û S V̂ᵀ: the right singular vectors of M are the columns of V̂
    // = svd.U(); when M = Xcᵀ the components are the left ones, Q Û = Q svd.V().
    let mut components = if transpose {
        let mut left = Mat::<f64>::zeros(p, k);
        matmul(
            left.as_mut(),
            Accum::Replace,
            basis.as_ref(),
            svd.V().subcols(0, k),
            1.0,
            Par::Seq,
        );
        left.transpose().to_owned()
    } else {
        svd.U().subcols(0, k).transpose().to_owned()
    };
    flip_signs(&mut components);
    let explained_variance: Vec<f64> = singular.iter().map(|s| s * s / (n - 1) as f64).collect();
    let size = n.min(p);
    let noise_variance = (k < size)
        .then(|| (total_variance - explained_variance.iter().sum::<f64>()) / (size - k) as f64);
    Ok(Decomposition {
        components,
        singular_values: singular,
        explained_variance,
        total_variance,
        noise_variance,
        power_iterations: Some(n_iter),
    })
}

/// `(X - mean)ᵀ R` for `R` of shape `rows × c`, in f64 (`cols × c`).
fn centred_transpose_times(
    data: ArrayView2<f32>,
    mean: &[f64],
    right: MatRef<'_, f64>,
) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(data.ncols(), right.ncols());
    for_centred_blocks(data, mean, |start, block| {
        matmul(
            out.as_mut(),
            Accum::Add,
            block.transpose(),
            right.subrows(start, block.nrows()),
            1.0,
            Par::Seq,
        );
    });
    out
}

/// `a b` in f32.
fn product(a: MatRef<'_, f32>, b: MatRef<'_, f32>) -> Mat<f32> {
    let mut out = Mat::<f32>::zeros(a.nrows(), b.ncols());
    matmul(out.as_mut(), Accum::Replace, a, b, 1.0, Par::Seq);
    out
}

/// A `rows × cols` matrix of standard normal draws (Box–Muller over `rng`, with `libm` so
/// native and wasm32 draw the same numbers).
pub(super) fn gaussian_matrix(rng: &mut impl Rng, rows: usize, cols: usize) -> Mat<f32> {
    let mut values = Vec::with_capacity(rows * cols + 1);
    while values.len() < rows * cols {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        let radius = libm::sqrt(-2.0 * libm::log(u1));
        let angle = 2.0 * std::f64::consts::PI * u2;
        values.push((radius * libm::cos(angle)) as f32);
        values.push((radius * libm::sin(angle)) as f32);
    }
    Mat::<f32>::from_fn(rows, cols, |i, j| values[i * cols + j])
}

/// The LU factorisation with partial pivoting `A = P L U` as LAPACK's `getrf` computes it
/// (SciPy's `lu(a, permute_l=True)` returns `(P L, U)`): `P L` is `rows × min(rows, cols)`,
/// `U` is `min(rows, cols) × cols`.
///
/// Written out rather than taken from faer because an exactly zero pivot column, which exact
/// (e.g. integer, rank-deficient) data produces in the randomized solver, must be skipped as
/// LAPACK does, while faer divides by it and fills the factor with NaN.
fn lu_permuted(a: MatRef<'_, f32>) -> (Mat<f32>, Mat<f32>) {
    let (m, n) = a.shape();
    let size = m.min(n);
    // Column-major working copy: the elimination updates whole columns.
    let mut w: Vec<f32> = Vec::with_capacity(m * n);
    for j in 0..n {
        w.extend((0..m).map(|i| a[(i, j)]));
    }
    let mut rows: Vec<usize> = (0..m).collect();
    for j in 0..size {
        // Pivot: the first entry of largest magnitude at or below the diagonal (LAPACK's
        // i_amax).
        let column = &w[j * m..(j + 1) * m];
        let mut pivot_row = j;
        for i in j + 1..m {
            if column[i].abs() > column[pivot_row].abs() {
                pivot_row = i;
            }
        }
        if pivot_row != j {
            for c in 0..n {
                w.swap(c * m + j, c * m + pivot_row);
            }
            rows.swap(j, pivot_row);
        }
        let pivot = w[j * m + j];
        if pivot == 0.0 {
            // The column is zero from the diagonal down: nothing to eliminate.
            continue;
        }
        let (done, trailing) = w.split_at_mut((j + 1) * m);
        let multipliers = &mut done[j * m + j + 1..];
        if pivot.abs() >= f32::MIN_POSITIVE {
            let inverse = 1.0 / pivot;
            multipliers.iter_mut().for_each(|x| *x *= inverse);
        } else {
            multipliers.iter_mut().for_each(|x| *x /= pivot);
        }
        for column in trailing.chunks_exact_mut(m) {
            let u = column[j];
            if u != 0.0 {
                for (x, &l) in column[j + 1..].iter_mut().zip(multipliers.iter()) {
                    *x -= l * u;
                }
            }
        }
    }
    let mut pl = Mat::<f32>::zeros(m, size);
    for j in 0..size {
        pl[(rows[j], j)] = 1.0;
        for i in j + 1..m {
            pl[(rows[i], j)] = w[j * m + i];
        }
    }
    let u = Mat::<f32>::from_fn(size, n, |i, j| if i <= j { w[j * m + i] } else { 0.0 });
    (pl, u)
}

/// `P L` of [`lu_permuted`], the power-iteration normaliser of scikit-learn's LU mode.
fn permuted_l(a: MatRef<'_, f32>) -> Mat<f32> {
    lu_permuted(a).0
}

#[cfg(test)]
mod tests {
    use super::super::tests::{options, structured};
    use super::super::{Pca, Solver};
    use super::*;
    use ndarray::array;

    /// The options fuzz target's timeout: a million power iterations ran for hours.
    #[test]
    fn too_many_power_iterations_are_refused_before_the_first() {
        let data = ndarray::Array2::from_shape_fn((6, 3), |(i, j)| (i * 3 + j * j) as f32);
        let options = PcaOptions {
            solver: Solver::Randomized,
            power_iterations: Some(1_433_333),
            ..PcaOptions::default()
        };
        let e = Pca::fit(data.view(), &options).unwrap_err();
        assert!(
            e.to_string().contains("got 1433333; expected at most 100"),
            "{e}"
        );
        let fine = PcaOptions {
            power_iterations: Some(MAX_POWER_ITERATIONS),
            ..options
        };
        assert!(Pca::fit(data.view(), &fine).is_ok());
    }

    #[test]
    fn auto_power_iterations_rule() {
        assert_eq!(auto_power_iterations(10_000, 784, 50), 7);
        assert_eq!(auto_power_iterations(10_000, 784, 79), 4);
        assert_eq!(auto_power_iterations(100, 30, 2), 7);
        assert_eq!(auto_power_iterations(100, 30, 3), 4);
    }

    fn assert_rebuilds(a: &Mat<f32>, label: &str) {
        let (pl, u) = lu_permuted(a.as_ref());
        let (rows, cols) = a.shape();
        assert_eq!(pl.shape(), (rows, rows.min(cols)), "{label}");
        assert_eq!(u.shape(), (rows.min(cols), cols), "{label}");
        let rebuilt = product(pl.as_ref(), u.as_ref());
        for i in 0..rows {
            for j in 0..cols {
                assert!(
                    (rebuilt[(i, j)] - a[(i, j)]).abs() < 1e-5,
                    "{label}: {rows}x{cols} at {i},{j}: {} vs {}",
                    rebuilt[(i, j)],
                    a[(i, j)]
                );
            }
        }
    }

    #[test]
    fn lu_matches_faer_and_rebuilds_the_matrix() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for (rows, cols) in [(9, 4), (4, 9), (6, 6), (200, 30)] {
            let a = gaussian_matrix(&mut rng, rows, cols);
            assert_rebuilds(&a, "gaussian");
            // Same pivots as faer's partial-pivoting LU (P A = L U), so the same P L.
            let reference = a.partial_piv_lu();
            let (forward, _) = reference.P().arrays();
            let (pl, _) = lu_permuted(a.as_ref());
            for (i, &row) in forward.iter().enumerate() {
                for j in 0..rows.min(cols) {
                    assert!((pl[(row, j)] - reference.L()[(i, j)]).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn lu_skips_zero_pivots_like_lapack() {
        // Rank one with a zero column: faer's LU gives NaN here; LAPACK (and this) does not.
        let a = Mat::<f32>::from_fn(4, 3, |i, j| {
            [
                [1.0, 0.0, 2.0],
                [2.0, 0.0, 4.0],
                [0.0, 0.0, 0.0],
                [3.0, 0.0, 6.0],
            ][i][j]
        });
        let (pl, u) = lu_permuted(a.as_ref());
        assert!(pl.col_iter().all(|c| c.iter().all(|x| x.is_finite())));
        assert!(u.col_iter().all(|c| c.iter().all(|x| x.is_finite())));
        assert_rebuilds(&a, "rank one");
        assert_rebuilds(&Mat::<f32>::zeros(3, 2), "zero");
    }

    #[test]
    fn randomized_survives_exact_rank_deficient_data() {
        // Integer data of rank one with zero columns: the sketch meets exactly zero pivots.
        let data = array![
            [1.0f32, 2.0, 0.0, 0.0],
            [3.0, 6.0, 0.0, 0.0],
            [5.0, 10.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0]
        ];
        let exact = Pca::fit(data.view(), &options(1, Solver::Full)).unwrap();
        for seed in 0..20 {
            for k in 1..=4 {
                let opts = PcaOptions {
                    seed,
                    ..options(k, Solver::Randomized)
                };
                let pca = Pca::fit(data.view(), &opts).unwrap();
                assert!(pca.components.iter().all(|v| v.is_finite()), "seed {seed}");
                let c = pca.components.row(0);
                assert!(
                    (c[0] - exact.components[[0, 0]]).abs() < 1e-5,
                    "seed {seed}"
                );
                assert!(
                    (c[1] - exact.components[[0, 1]]).abs() < 1e-5,
                    "seed {seed}"
                );
                let ev = pca.explained_variance[0] / exact.explained_variance[0];
                assert!((ev - 1.0).abs() < 1e-5, "seed {seed} k {k}");
            }
        }
    }

    #[test]
    fn randomized_is_reproducible_per_seed() {
        let data = structured(200, 40, 7);
        let opts = PcaOptions {
            components: 3,
            solver: Solver::Randomized,
            seed: 11,
            power_iterations: Some(1),
            ..PcaOptions::default()
        };
        let a = Pca::fit(data.view(), &opts).unwrap();
        let b = Pca::fit(data.view(), &opts).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.power_iterations, Some(1));
    }
}
