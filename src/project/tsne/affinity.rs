//! Input-space affinities of t-SNE: the joint probabilities `p_ij`.
//!
//! For each row `i` a Gaussian over the squared euclidean distances `d_ij` gives conditional
//! probabilities `p_{j|i} = exp(-β_i d_ij) / Σ_{k≠i} exp(-β_i d_ik)`, with the precision `β_i`
//! found by binary search so that the perplexity `2^H(P_i)` equals the requested one (entropy in
//! nats: `H = ln Σ exp(-β d) + β Σ d p`). This is scikit-learn's `_binary_search_perplexity`
//! (`sklearn/manifold/_utils.pyx`) step for step: β starts at 1, doubles or halves until the
//! target is bracketed and then bisects, at most 100 steps, stopping when the entropy is within
//! `1e-5` of `ln(perplexity)`; a zero normaliser is replaced by `1e-8`; distances enter as f32
//! (scikit-learn casts them) and everything else is f64.
//!
//! * **Exact** ([`exact_joint_probabilities`]): all pairs, `P = (P_cond + P_condᵀ) / Σ`, every
//!   entry clipped below at f64 machine epsilon (scikit-learn's `_joint_probabilities`), kept as
//!   the condensed upper triangle (`i < j`, row-major) in f32.
//! * **Sparse** ([`knn_joint_probabilities`], for Barnes-Hut): the conditional distributions
//!   run over the `k = min(n - 1, ⌊3·perplexity + 1⌋)` nearest neighbours only (van der Maaten
//!   2014, §4.1), then `P = (P_cond + P_condᵀ) / Σ` as a CSR matrix with both `(i, j)` and
//!   `(j, i)` stored (scikit-learn's `_joint_probabilities_nn`, no clipping).
//!
//! Nearest neighbours ([`nearest_neighbours`]) are found by brute force: the squared distances of
//! a block of rows to all rows come from one f32 matrix product of the centred data
//! (`‖a‖² + ‖b‖² - 2 a·b`, ndarray's `dot`); the `k` smallest per row are selected in `O(n)`;
//! every candidate within twice the f32 rounding bound `(d + 8) ε (‖a‖² + max ‖b‖²)` of the
//! `k`-th is then measured exactly in f64 from the coordinate differences, and the `k` nearest
//! of those kept (ties to the lower index). So the result is the exact `k` nearest neighbours,
//! at matrix-product speed. This is `O(n² d)` work, but needs no tree, whose pruning degrades to
//! brute force in the 50 or more dimensions t-SNE is usually fed.

use crate::error::{Error, Result};
use crate::tensor::checked_elements;
use ndarray::{s, Array2, ArrayView2};

/// Binary search steps per row (scikit-learn's `n_steps`).
const SEARCH_STEPS: usize = 100;
/// Entropy tolerance in nats; scikit-learn declares it as a C `float`, hence the cast.
const ENTROPY_TOLERANCE: f64 = 1e-5f32 as f64;
/// Replacement for a zero normaliser; a C `float` in scikit-learn too.
const ZERO_SUM: f64 = 1e-8f32 as f64;
/// Target number of f32 entries in one block of the distance product (16 MiB).
const BLOCK_ENTRIES: usize = 1 << 22;

/// Conditional probabilities of one row: fills `p` from the squared distances `sqdist` (the
/// entry `skip`, the row's own distance in the exact method, gets 0 and is left out of the
/// normaliser) so that its perplexity matches `desired_entropy = ln(perplexity)`.
/// Returns the precision β found.
pub(crate) fn conditional_row(
    sqdist: &[f32],
    skip: Option<usize>,
    desired_entropy: f64,
    p: &mut [f64],
) -> f64 {
    debug_assert_eq!(sqdist.len(), p.len());
    let mut beta_min = f64::NEG_INFINITY;
    let mut beta_max = f64::INFINITY;
    let mut beta = 1.0f64;
    for _ in 0..SEARCH_STEPS {
        let mut sum = 0.0f64;
        for (j, (pj, &d)) in p.iter_mut().zip(sqdist).enumerate() {
            if Some(j) == skip {
                *pj = 0.0;
            } else {
                *pj = (-(d as f64) * beta).exp();
                sum += *pj;
            }
        }
        if sum == 0.0 {
            sum = ZERO_SUM;
        }
        let mut weighted = 0.0f64;
        for (pj, &d) in p.iter_mut().zip(sqdist) {
            *pj /= sum;
            weighted += d as f64 * *pj;
        }
        let entropy = sum.ln() + beta * weighted;
        let diff = entropy - desired_entropy;
        if diff.abs() <= ENTROPY_TOLERANCE {
            break;
        }
        if diff > 0.0 {
            beta_min = beta;
            beta = if beta_max == f64::INFINITY {
                beta * 2.0
            } else {
                (beta + beta_max) / 2.0
            };
        } else {
            beta_max = beta;
            beta = if beta_min == f64::NEG_INFINITY {
                beta / 2.0
            } else {
                (beta + beta_min) / 2.0
            };
        }
    }
    beta
}

/// `ln(perplexity)` as scikit-learn computes it: the perplexity is a C `float` argument.
pub(crate) fn desired_entropy(perplexity: f64) -> f64 {
    (perplexity as f32 as f64).ln()
}

/// Index of the pair `(i, j)`, `i < j < n`, in the condensed upper triangle.
#[inline]
pub(crate) fn condensed_index(n: usize, i: usize, j: usize) -> usize {
    debug_assert!(i < j && j < n);
    i * (2 * n - i - 1) / 2 + (j - i - 1)
}

/// Exact joint probabilities of all pairs (see the module documentation), condensed upper
/// triangle in f32. Fails with [`Error::TooLarge`] when `n (n - 1) / 2` exceeds the tensor limit.
pub(crate) fn exact_joint_probabilities(
    data: ArrayView2<f32>,
    perplexity: f64,
) -> Result<Vec<f32>> {
    let n = data.nrows();
    let pairs = n * (n - 1) / 2;
    checked_elements(
        "t-SNE exact joint probabilities (one per pair of rows, n (n - 1) / 2)",
        &[pairs],
    )?;
    let rows = to_f64_rows(data);
    let d = data.ncols();
    let target = desired_entropy(perplexity);
    let mut joint = vec![0.0f32; pairs];
    let mut sqdist = vec![0.0f32; n];
    let mut p = vec![0.0f64; n];
    for i in 0..n {
        let xi = &rows[i * d..(i + 1) * d];
        for (j, out) in sqdist.iter_mut().enumerate() {
            *out = squared_distance(xi, &rows[j * d..(j + 1) * d]) as f32;
        }
        sqdist[i] = 0.0;
        conditional_row(&sqdist, Some(i), target, &mut p);
        for (j, &pj) in p.iter().enumerate() {
            if j < i {
                joint[condensed_index(n, j, i)] += pj as f32;
            } else if j > i {
                joint[condensed_index(n, i, j)] += pj as f32;
            }
        }
    }
    // P + Pᵀ holds every condensed entry twice.
    let total = (2.0 * joint.iter().map(|&v| v as f64).sum::<f64>()).max(f64::EPSILON);
    for v in &mut joint {
        *v = ((*v as f64 / total).max(f64::EPSILON)) as f32;
    }
    Ok(joint)
}

/// A sparse symmetric matrix in compressed sparse row form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Csr {
    /// Row `i` holds entries `indptr[i]..indptr[i + 1]`.
    pub indptr: Vec<usize>,
    /// Column of each entry, increasing within a row.
    pub indices: Vec<u32>,
    /// Value of each entry.
    pub values: Vec<f64>,
}

/// The `k` nearest neighbours of every row (itself excluded): indices and exact f64 squared
/// distances, `n × k` row-major, each row sorted by distance then index.
pub(crate) fn nearest_neighbours(data: ArrayView2<f32>, k: usize) -> Result<(Vec<u32>, Vec<f64>)> {
    let (n, d) = data.dim();
    if k == 0 || k >= n {
        return Err(Error::invalid(
            "t-SNE neighbour count",
            format!("got {k}; expected 1..={} for {n} rows", n.saturating_sub(1)),
        ));
    }
    checked_elements("t-SNE nearest-neighbour graph (rows x neighbours)", &[n, k])?;
    let rows = to_f64_rows(data);
    // Centre in f64, then rank in f32: centring keeps the norms small, which keeps the
    // cancellation in ‖a‖² + ‖b‖² - 2a·b small.
    let mut mean = vec![0.0f64; d];
    for row in rows.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let centred = Array2::from_shape_fn((n, d), |(i, c)| (rows[i * d + c] - mean[c]) as f32);
    let norms: Vec<f32> = centred
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32)
        .collect();
    let max_norm = norms.iter().fold(0.0f32, |m, &v| m.max(v));
    // Rounding of ‖a‖² + ‖b‖² - 2a·b in f32 (the product of length d, the sums, the centring).
    let rounding = (d as f32 + 8.0) * f32::EPSILON;
    let block = (BLOCK_ENTRIES / n).clamp(1, n);
    let transposed = centred.t();
    let mut indices = Vec::with_capacity(n * k);
    let mut distances = Vec::with_capacity(n * k);
    let mut candidates: Vec<(f32, u32)> = Vec::with_capacity(n);
    let mut chosen: Vec<(f64, u32)> = Vec::with_capacity(k);
    for start in (0..n).step_by(block) {
        let end = (start + block).min(n);
        let products = centred.slice(s![start..end, ..]).dot(&transposed);
        for (r, product_row) in products.rows().into_iter().enumerate() {
            let i = start + r;
            candidates.clear();
            for (j, (&g, &nj)) in product_row.iter().zip(&norms).enumerate() {
                if j != i {
                    candidates.push((norms[i] + nj - 2.0 * g, j as u32));
                }
            }
            candidates
                .select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            // Every f32 distance is within `bound` of the exact one, so the exact k nearest all
            // lie within the k-th f32 distance + 2 bound: recompute those exactly.
            let bound = rounding * (norms[i] + max_norm);
            let cutoff = candidates[k - 1].0 + 2.0 * bound;
            let xi = &rows[i * d..(i + 1) * d];
            chosen.clear();
            for &(approx, j) in candidates.iter() {
                if approx <= cutoff {
                    let j_us = j as usize;
                    chosen.push((squared_distance(xi, &rows[j_us * d..(j_us + 1) * d]), j));
                }
            }
            chosen.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for &(dist, j) in &chosen[..k] {
                indices.push(j);
                distances.push(dist);
            }
        }
    }
    Ok((indices, distances))
}

/// Sparse joint probabilities over the `k` nearest neighbours (see the module documentation).
pub(crate) fn knn_joint_probabilities(
    data: ArrayView2<f32>,
    perplexity: f64,
    k: usize,
) -> Result<Csr> {
    let n = data.nrows();
    let (neighbours, distances) = nearest_neighbours(data, k)?;
    let target = desired_entropy(perplexity);
    let mut sqdist = vec![0.0f32; k];
    let mut p = vec![0.0f64; k];
    // Each conditional p_{j|i} lands at (i, j) and at (j, i) of P + Pᵀ.
    let mut entries: Vec<Vec<(u32, f64)>> = vec![Vec::with_capacity(k); n];
    for i in 0..n {
        for (out, &dist) in sqdist.iter_mut().zip(&distances[i * k..(i + 1) * k]) {
            *out = dist as f32;
        }
        conditional_row(&sqdist, None, target, &mut p);
        for (&j, &pj) in neighbours[i * k..(i + 1) * k].iter().zip(&p) {
            entries[i].push((j, pj));
            entries[j as usize].push((i as u32, pj));
        }
    }
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let mut indices = Vec::new();
    let mut values = Vec::new();
    for row in &mut entries {
        row.sort_unstable_by_key(|&(j, _)| j);
        for &(j, v) in row.iter() {
            if indices.len() > *indptr.last().unwrap_or(&0) && indices.last() == Some(&j) {
                *values.last_mut().expect("values and indices grow together") += v;
            } else {
                indices.push(j);
                values.push(v);
            }
        }
        indptr.push(indices.len());
        *row = Vec::new();
    }
    let total = values.iter().sum::<f64>().max(f64::EPSILON);
    for v in &mut values {
        *v /= total;
    }
    Ok(Csr {
        indptr,
        indices,
        values,
    })
}

/// Squared euclidean distance of two f64 rows.
#[inline]
pub(crate) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The data as one row-major f64 buffer.
pub(crate) fn to_f64_rows(data: ArrayView2<f32>) -> Vec<f64> {
    data.iter().map(|&v| v as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn condensed_index_enumerates_the_upper_triangle_in_order() {
        let n = 6;
        let mut expected = 0;
        for i in 0..n {
            for j in i + 1..n {
                assert_eq!(condensed_index(n, i, j), expected);
                expected += 1;
            }
        }
        assert_eq!(expected, n * (n - 1) / 2);
    }

    #[test]
    fn conditional_row_reaches_the_requested_perplexity() {
        let sqdist: Vec<f32> = (0..50).map(|j| (j as f32 * 0.37).powi(2) + 0.5).collect();
        let mut p = vec![0.0; 50];
        for perplexity in [2.0, 5.0, 20.0] {
            conditional_row(&sqdist, None, desired_entropy(perplexity), &mut p);
            let entropy: f64 = -p
                .iter()
                .filter(|&&v| v > 0.0)
                .map(|v| v * v.ln())
                .sum::<f64>();
            assert!(
                (entropy.exp() - perplexity).abs() < 1e-3 * perplexity,
                "{perplexity}: {}",
                entropy.exp()
            );
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn conditional_row_skips_the_own_entry() {
        let sqdist = [0.0f32, 1.0, 2.0, 3.0];
        let mut p = [0.0; 4];
        conditional_row(&sqdist, Some(0), desired_entropy(2.0), &mut p);
        assert_eq!(p[0], 0.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[1] > p[2] && p[2] > p[3]);
    }

    #[test]
    fn exact_probabilities_are_symmetric_normalised_and_favour_near_pairs() {
        let data = array![
            [0.0f32, 0.0],
            [1.0, 0.0],
            [0.0, 1.0],
            [10.0, 10.0],
            [11.0, 10.0]
        ];
        let p = exact_joint_probabilities(data.view(), 2.0).unwrap();
        assert_eq!(p.len(), 10);
        let total: f64 = 2.0 * p.iter().map(|&v| v as f64).sum::<f64>();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        assert!(p[condensed_index(5, 0, 1)] > p[condensed_index(5, 0, 3)]);
        assert!(p[condensed_index(5, 3, 4)] > p[condensed_index(5, 1, 3)]);
        assert!(p.iter().all(|&v| v >= f64::EPSILON as f32));
    }

    #[test]
    fn nearest_neighbours_match_a_direct_search() {
        let data = Array2::from_shape_fn((40, 3), |(i, c)| {
            ((i * 7 + c * 13) % 17) as f32 * 0.3 + i as f32 * 0.01
        });
        let k = 5;
        let (idx, dist) = nearest_neighbours(data.view(), k).unwrap();
        let rows = to_f64_rows(data.view());
        for i in 0..40 {
            let mut all: Vec<(f64, u32)> = (0..40)
                .filter(|&j| j != i)
                .map(|j| {
                    (
                        squared_distance(&rows[i * 3..i * 3 + 3], &rows[j * 3..j * 3 + 3]),
                        j as u32,
                    )
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for r in 0..k {
                assert_eq!(dist[i * k + r], all[r].0, "row {i} rank {r}");
                assert!((dist[i * k + r] - all[r].0).abs() < 1e-9);
            }
            assert!(!idx[i * k..(i + 1) * k].contains(&(i as u32)));
        }
    }

    #[test]
    fn knn_probabilities_are_symmetric_and_sum_to_one() {
        let data = Array2::from_shape_fn((30, 4), |(i, c)| {
            ((i * 5 + c * 3) % 11) as f32 + (i / 10) as f32 * 20.0
        });
        let p = knn_joint_probabilities(data.view(), 3.0, 10).unwrap();
        let n = 30;
        let mut dense = vec![0.0; n * n];
        for i in 0..n {
            let row = &p.indices[p.indptr[i]..p.indptr[i + 1]];
            assert!(
                row.windows(2).all(|w| w[0] < w[1]),
                "row {i} sorted and unique"
            );
            for e in p.indptr[i]..p.indptr[i + 1] {
                dense[i * n + p.indices[e] as usize] = p.values[e];
            }
        }
        for i in 0..n {
            assert_eq!(dense[i * n + i], 0.0);
            for j in 0..n {
                assert!((dense[i * n + j] - dense[j * n + i]).abs() < 1e-15);
            }
        }
        assert!((p.values.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn nearest_neighbours_reject_bad_counts() {
        let data = array![[0.0f32], [1.0], [2.0]];
        assert!(nearest_neighbours(data.view(), 0).is_err());
        let e = nearest_neighbours(data.view(), 3).unwrap_err().to_string();
        assert!(e.contains("expected 1..=2"), "{e}");
    }
}
