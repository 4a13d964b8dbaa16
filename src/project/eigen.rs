//! The largest eigenpairs of a real symmetric matrix, for PCA's covariance solver, which needs
//! all eigenvalues (the total and the discarded variance) but only `k` eigenvectors.
//!
//! `A = Q T Qᵀ` by faer's Householder tridiagonalisation; all eigenvalues of the tridiagonal
//! `T` by faer's implicit QR algorithm (no vectors, `O(p²)`); the eigenvectors `z` of `T` for
//! the `k` largest eigenvalues by inverse iteration, as LAPACK's `dstein` computes them
//! (Dhillon, "Current inverse iteration software can fail", BIT 38, 1998, describes the
//! algorithm and its limits): each `(T - λ I) x = b` is solved by Gaussian elimination with
//! partial pivoting for tridiagonal matrices (LAPACK `dlagtf`, and `dlagts` with its
//! perturbation of tiny pivots); iterates whose eigenvalues lie within `10⁻³ ‖T‖₁` of the
//! previous one are reorthogonalised against the vectors of that cluster by modified
//! Gram–Schmidt; an iteration stops two steps after the iterate's growth shows convergence,
//! at most five steps. The vectors are mapped back as `Q z` by faer's blocked Householder
//! sequence.
//!
//! Why not faer's full `self_adjoint_eigen`: it computes all `p` eigenvectors (divide and
//! conquer, then `Q` applied to `p` columns); for the PCA benchmark's 784 × 784 covariance with
//! `k = 50` this path costs about a quarter of that in wasm (BENCHMARKS.md, Kernel decisions ›
//! PCA).
//!
//! When more than half of the spectrum is asked for, or when an inverse iteration does not
//! meet its convergence test within five steps (LAPACK then reports failure), the full faer
//! eigendecomposition runs instead.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{
    self, tridiag::tridiag_in_place, tridiag::tridiag_in_place_scratch, ComputeEigenvectors,
    EvdError,
};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::recommended_block_size;
use faer::{ColRef, Conj, Mat, MatRef, Par, Side};
use rand::{Rng, SeedableRng};

/// Steps of one inverse iteration before it is declared not converged (`MAXITS` in `dstein`).
const MAX_STEPS: usize = 5;
/// Steps run after the convergence test first passes (`EXTRA` in `dstein`).
const EXTRA_STEPS: usize = 2;

/// All eigenvalues of a symmetric matrix and the eigenvectors of the largest ones.
pub(crate) struct TopEigen {
    /// All eigenvalues, in decreasing order.
    pub values: Vec<f64>,
    /// `p × k`: column `i` is a unit eigenvector of `values[i]`.
    pub vectors: Mat<f64>,
}

/// The eigenvalues of the symmetric matrix whose lower triangle is `a`, and the eigenvectors
/// of its `k` largest (`1 ≤ k ≤ p`).
pub(crate) fn top_eigen(a: MatRef<'_, f64>, k: usize) -> Result<TopEigen, EvdError> {
    let p = a.nrows();
    assert!(
        a.ncols() == p && (1..=p).contains(&k),
        "top_eigen: {p}x{} with k={k}",
        a.ncols()
    );
    if 2 * k <= p {
        if let Some(top) = partial(a, k) {
            return Ok(top);
        }
    }
    let eigen = a.self_adjoint_eigen(Side::Lower)?;
    let values = eigen.S().column_vector();
    let vectors = eigen.U();
    Ok(TopEigen {
        values: (0..p).rev().map(|i| values[i]).collect(),
        vectors: Mat::from_fn(p, k, |i, j| vectors[(i, p - 1 - j)]),
    })
}

/// The tridiagonal path; `None` when an inverse iteration does not converge (or faer's QR
/// algorithm does not), so that the caller falls back to the full eigendecomposition.
fn partial(a: MatRef<'_, f64>, k: usize) -> Option<TopEigen> {
    let p = a.nrows();
    let mut reduced = Mat::<f64>::zeros(p, p);
    reduced.copy_from_triangular_lower(a);
    let block = recommended_block_size::<f64>(p, p);
    let mut householder = Mat::<f64>::zeros(block, p - 1);
    let mut stack = MemBuffer::new(
        tridiag_in_place_scratch::<f64>(p, Par::Seq, Default::default())
            .or(evd::self_adjoint_evd_scratch::<f64>(
                p,
                ComputeEigenvectors::No,
                Par::Seq,
                Default::default(),
            ))
            .or(
                apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
                    p - 1,
                    block,
                    k,
                ),
            ),
    );
    tridiag_in_place(
        reduced.as_mut(),
        householder.as_mut(),
        Par::Seq,
        MemStack::new(&mut stack),
        Default::default(),
    );
    let diagonal: Vec<f64> = (0..p).map(|i| reduced[(i, i)]).collect();
    let off_diagonal: Vec<f64> = (0..p)
        .map(|i| if i + 1 < p { reduced[(i + 1, i)] } else { 0.0 })
        .collect();
    let mut ascending = faer::diag::Diag::<f64>::zeros(p);
    evd::tridiagonal_self_adjoint_evd(
        ColRef::from_slice(&diagonal).as_diagonal(),
        ColRef::from_slice(&off_diagonal).as_diagonal(),
        ascending.as_mut(),
        None,
        Par::Seq,
        MemStack::new(&mut stack),
        Default::default(),
    )
    .ok()?;
    let ascending: Vec<f64> = ascending.column_vector().iter().copied().collect();
    let mut vectors =
        tridiagonal_eigenvectors(&diagonal, &off_diagonal[..p - 1], &ascending[p - k..])?;
    apply_block_householder_sequence_on_the_left_in_place_with_conj(
        reduced.as_ref().submatrix(1, 0, p - 1, p - 1),
        householder.as_ref(),
        Conj::No,
        vectors.as_mut().subrows_mut(1, p - 1),
        Par::Seq,
        MemStack::new(&mut stack),
    );
    // Largest first: `vectors` follows the increasing order of `ascending[p - k..]`.
    Some(TopEigen {
        values: ascending.into_iter().rev().collect(),
        vectors: Mat::from_fn(p, k, |i, j| vectors[(i, k - 1 - j)]),
    })
}

/// Unit eigenvectors (columns, `p × m`) of the symmetric tridiagonal matrix with `diagonal`
/// (`p`) and `off_diagonal` (`p - 1`) for the increasing eigenvalues `values` (`m`), by
/// LAPACK `dstein`'s inverse iteration; `None` when one does not converge.
fn tridiagonal_eigenvectors(
    diagonal: &[f64],
    off_diagonal: &[f64],
    values: &[f64],
) -> Option<Mat<f64>> {
    let p = diagonal.len();
    let mut vectors = Mat::<f64>::zeros(p, values.len());
    // LAPACK's dlamch("Precision") as dstein uses it.
    let eps = f64::EPSILON;
    let norm = (0..p)
        .map(|i| {
            let left = if i > 0 {
                off_diagonal[i - 1].abs()
            } else {
                0.0
            };
            let right = if i + 1 < p {
                off_diagonal[i].abs()
            } else {
                0.0
            };
            diagonal[i].abs() + left + right
        })
        .fold(0.0, f64::max);
    let cluster_gap = 1e-3 * norm;
    let converged_growth = (0.1 / p as f64).sqrt();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut cluster_start = 0;
    let mut previous = f64::NEG_INFINITY;
    let mut x = vec![0.0f64; p];
    for (j, &value) in values.iter().enumerate() {
        // Separate (numerically) equal eigenvalues so that the factorisations differ.
        let mut shift = value;
        if j > 0 {
            let separation = 10.0 * (eps * shift).abs();
            if shift - previous < separation {
                shift = previous + separation;
            }
            if (shift - previous).abs() > cluster_gap {
                cluster_start = j;
            }
        }
        for xi in x.iter_mut() {
            *xi = rng.random_range(-1.0..1.0);
        }
        let lu = TridiagonalLu::new(diagonal, off_diagonal, shift);
        let tolerance = lu.perturbation();
        let mut steps = 0;
        let mut checks = 0;
        loop {
            steps += 1;
            if steps > MAX_STEPS {
                return None;
            }
            let largest = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let scale = p as f64 * norm * eps.max(lu.last_pivot().abs()) / largest;
            x.iter_mut().for_each(|v| *v *= scale);
            lu.solve_perturbed(&mut x, tolerance);
            for i in cluster_start..j {
                let z = vectors.col(i);
                let dot: f64 = x.iter().zip(z.iter()).map(|(a, b)| a * b).sum();
                x.iter_mut().zip(z.iter()).for_each(|(a, b)| *a -= dot * b);
            }
            let growth = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if !growth.is_finite() {
                return None;
            }
            if growth < converged_growth {
                continue;
            }
            checks += 1;
            if checks > EXTRA_STEPS {
                break;
            }
        }
        let length = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let largest = x
            .iter()
            .fold(0.0f64, |m, &v| if v.abs() > m.abs() { v } else { m });
        let scale = if largest < 0.0 {
            -1.0 / length
        } else {
            1.0 / length
        };
        for (i, v) in x.iter().enumerate() {
            vectors[(i, j)] = v * scale;
        }
        previous = shift;
    }
    Some(vectors)
}

/// `T - λ I = P L U` for a symmetric tridiagonal `T`, by Gaussian elimination with partial
/// pivoting (LAPACK `dlagtf`): `U` has the diagonal `u0` and two super-diagonals `u1`, `u2`;
/// `L` is unit lower bidiagonal with the multipliers `l`; `swapped[k]` says whether rows `k`
/// and `k + 1` were interchanged at step `k`.
struct TridiagonalLu {
    u0: Vec<f64>,
    u1: Vec<f64>,
    u2: Vec<f64>,
    l: Vec<f64>,
    swapped: Vec<bool>,
}

impl TridiagonalLu {
    fn new(diagonal: &[f64], off_diagonal: &[f64], shift: f64) -> Self {
        let n = diagonal.len();
        let mut u0: Vec<f64> = diagonal.iter().map(|d| d - shift).collect();
        let mut u1 = off_diagonal.to_vec();
        let mut l = off_diagonal.to_vec();
        let mut u2 = vec![0.0; n.saturating_sub(2)];
        let mut swapped = vec![false; n.saturating_sub(1)];
        let mut scale1 = u0[0].abs() + u1.first().map_or(0.0, |b| b.abs());
        for k in 0..n - 1 {
            let mut scale2 = l[k].abs() + u0[k + 1].abs();
            if k + 2 < n {
                scale2 += u1[k + 1].abs();
            }
            let pivot1 = if u0[k] == 0.0 {
                0.0
            } else {
                u0[k].abs() / scale1
            };
            if l[k] == 0.0 {
                scale1 = scale2;
                continue;
            }
            let pivot2 = l[k].abs() / scale2;
            if pivot2 <= pivot1 {
                scale1 = scale2;
                l[k] /= u0[k];
                u0[k + 1] -= l[k] * u1[k];
            } else {
                swapped[k] = true;
                let multiplier = u0[k] / l[k];
                u0[k] = l[k];
                let next = u0[k + 1];
                u0[k + 1] = u1[k] - multiplier * next;
                if k + 2 < n {
                    u2[k] = u1[k + 1];
                    u1[k + 1] = -multiplier * u2[k];
                }
                u1[k] = next;
                l[k] = multiplier;
            }
        }
        TridiagonalLu {
            u0,
            u1,
            u2,
            l,
            swapped,
        }
    }

    /// The last diagonal entry of `U`, small when the shift is close to an eigenvalue.
    fn last_pivot(&self) -> f64 {
        self.u0[self.u0.len() - 1]
    }

    /// `dlagts`' perturbation size: `ε` (dlamch("Epsilon"), `2⁻⁵³`) times the largest entry of
    /// `U`, or `ε` if `U` is zero.
    fn perturbation(&self) -> f64 {
        let largest = self
            .u0
            .iter()
            .chain(&self.u1)
            .chain(&self.u2)
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let tolerance = largest * f64::EPSILON / 2.0;
        if tolerance == 0.0 {
            f64::EPSILON / 2.0
        } else {
            tolerance
        }
    }

    /// Solves `(T - λ I) x = y` in place (LAPACK `dlagts` with `job = -1`): a pivot that would
    /// make the solution overflow is perturbed by `tolerance`, doubled until it does not.
    fn solve_perturbed(&self, y: &mut [f64], tolerance: f64) {
        let n = y.len();
        for k in 1..n {
            if self.swapped[k - 1] {
                y.swap(k - 1, k);
                y[k] -= self.l[k - 1] * y[k - 1];
            } else {
                y[k] -= self.l[k - 1] * y[k - 1];
            }
        }
        let safe_min = f64::MIN_POSITIVE;
        let big = 1.0 / safe_min;
        for k in (0..n).rev() {
            let mut value = y[k];
            if k + 1 < n {
                value -= self.u1[k] * y[k + 1];
            }
            if k + 2 < n {
                value -= self.u2[k] * y[k + 2];
            }
            let mut pivot = self.u0[k];
            let mut step = tolerance.copysign(pivot);
            loop {
                let size = pivot.abs();
                if size < 1.0 {
                    if size < safe_min {
                        if size == 0.0 || value.abs() * safe_min > size {
                            pivot += step;
                            step *= 2.0;
                            continue;
                        }
                        value *= big;
                        pivot *= big;
                    } else if value.abs() > size * big {
                        pivot += step;
                        step *= 2.0;
                        continue;
                    }
                }
                break;
            }
            y[k] = value / pivot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Σ λ_i v_i v_iᵀ` for an orthonormal basis from the QR of a pseudo-random matrix.
    fn with_spectrum(values: &[f64], seed: u64) -> Mat<f64> {
        let p = values.len();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let g = Mat::<f64>::from_fn(p, p, |_, _| rng.random_range(-1.0..1.0));
        let q = g.qr().compute_Q();
        Mat::from_fn(p, p, |i, j| {
            (0..p).map(|t| values[t] * q[(i, t)] * q[(j, t)]).sum()
        })
    }

    /// Checks `top` against faer's full eigendecomposition of `a`: equal eigenvalues, unit
    /// orthogonal vectors with small residuals `‖A v - λ v‖`.
    fn check(a: &Mat<f64>, top: &TopEigen, label: &str) {
        let p = a.nrows();
        let k = top.vectors.ncols();
        let reference = a.self_adjoint_eigenvalues(Side::Lower).unwrap();
        let norm = reference
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(1e-300);
        for (i, v) in top.values.iter().enumerate() {
            let expected = reference[p - 1 - i];
            assert!(
                (v - expected).abs() <= 1e-13 * norm,
                "{label}: value {i} {v} vs {expected}"
            );
        }
        let v = &top.vectors;
        for i in 0..k {
            for j in 0..k {
                let dot: f64 = (0..p).map(|t| v[(t, i)] * v[(t, j)]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (dot - expected).abs() < 1e-12,
                    "{label}: <v{i}, v{j}> = {dot}"
                );
            }
            for r in 0..p {
                let av: f64 = (0..p).map(|t| a[(r, t)] * v[(t, i)]).sum();
                let residual = (av - top.values[i] * v[(r, i)]).abs();
                assert!(
                    residual < 1e-12 * norm,
                    "{label}: residual {residual} of vector {i}"
                );
            }
        }
    }

    #[test]
    fn partial_path_matches_the_full_eigendecomposition() {
        let decaying: Vec<f64> = (0..60).map(|i| 100.0 * 0.8f64.powi(i)).collect();
        // Exact multiplicities (3 at the top, a block of zeros) and a tight cluster.
        let mut repeated = vec![5.0, 5.0, 5.0, 4.0, 4.0 + 1e-12, 4.0 - 1e-12, 1.0];
        repeated.extend(std::iter::repeat_n(0.0, 33));
        let negative: Vec<f64> = (0..30).map(|i| (i as f64 - 10.0) * 0.5).collect();
        for (values, label) in [
            (&decaying, "decaying"),
            (&repeated, "repeated"),
            (&negative, "indefinite"),
        ] {
            let a = with_spectrum(values, 7);
            let p = values.len();
            for k in [1, 3, 7, p / 2] {
                let top = partial(a.as_ref(), k)
                    .unwrap_or_else(|| panic!("{label} k={k} did not converge"));
                assert_eq!(top.vectors.ncols(), k);
                check(&a, &top, &format!("{label} k={k}"));
            }
        }
    }

    #[test]
    fn split_and_tiny_matrices() {
        // Already tridiagonal with zero off-diagonals (independent blocks), identity, 1 x 1, 2 x 2.
        let mut blocks = Mat::<f64>::zeros(8, 8);
        for i in 0..8 {
            blocks[(i, i)] = [3.0, 1.0, 3.0, 2.0, 3.0, 0.5, 1.0, 3.0][i];
        }
        blocks[(1, 0)] = 0.5;
        blocks[(0, 1)] = 0.5;
        blocks[(6, 5)] = 1e-300;
        blocks[(5, 6)] = 1e-300;
        let identity = Mat::<f64>::identity(6, 6);
        let pair = Mat::<f64>::from_fn(2, 2, |i, j| [[2.0, 1.0], [1.0, 2.0]][i][j]);
        for (a, label) in [
            (&blocks, "blocks"),
            (&identity, "identity"),
            (&pair, "pair"),
        ] {
            let p = a.nrows();
            for k in 1..=p / 2 {
                check(
                    a,
                    &partial(a.as_ref(), k).unwrap(),
                    &format!("{label} k={k}"),
                );
            }
        }
        let one = Mat::<f64>::from_fn(1, 1, |_, _| 2.5);
        let top = top_eigen(one.as_ref(), 1).unwrap();
        assert_eq!((top.values[0], top.vectors[(0, 0)].abs()), (2.5, 1.0));
    }

    #[test]
    fn wilkinson_matrix_close_pairs() {
        // W21+: eigenvalue pairs agreeing to 14+ digits, the classic hard case for inverse
        // iteration; the cluster reorthogonalisation must keep the vectors orthogonal.
        let p = 21;
        let a = Mat::<f64>::from_fn(p, p, |i, j| {
            if i == j {
                (i as f64 - 10.0).abs()
            } else if i.abs_diff(j) == 1 {
                1.0
            } else {
                0.0
            }
        });
        for k in [2, 4, 10] {
            check(&a, &partial(a.as_ref(), k).unwrap(), &format!("W21+ k={k}"));
        }
    }

    #[test]
    fn more_than_half_uses_the_full_decomposition() {
        let a = with_spectrum(&[4.0, 3.0, 2.0, 1.0, 0.5], 3);
        for k in 1..=5 {
            check(&a, &top_eigen(a.as_ref(), k).unwrap(), &format!("k={k}"));
        }
    }
}
