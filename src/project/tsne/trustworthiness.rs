//! Trustworthiness of an embedding (Venna & Kaski 2001, "Neighborhood preservation in
//! nonlinear projection methods"), as scikit-learn's `sklearn.manifold.trustworthiness` defines
//! it:
//!
//! `T(k) = 1 - 2 / (n k (2n - 3k - 1)) Σ_i Σ_{j ∈ N_i^k} max(0, r(i, j) - k)`,
//!
//! where `N_i^k` are the `k` nearest neighbours of `i` in the embedding and `r(i, j)` is the
//! rank of `j` among the neighbours of `i` in the input space (1 for the nearest). It is 1 when
//! every embedded neighbourhood consists of true neighbours, and penalises intruders by how far
//! away they really are. Distances are euclidean (computed in f64); ties are broken by the
//! lower row index (scikit-learn's `argsort` leaves their order unspecified).

use crate::error::{ensure_finite, Error, Result};
use ndarray::ArrayView2;

/// `T(n_neighbors)` of `embedding` (rows × components) for `data` (rows × features).
///
/// Fails when the row counts differ, either matrix is empty or not finite, or `n_neighbors`
/// is not in `1..n/2` (scikit-learn's condition for `T` to lie in `[0, 1]`).
///
/// ```
/// use ndarray::array;
/// use nnlens::project::tsne::trustworthiness;
/// let data = array![[0.0f32], [1.0], [2.0], [3.0], [4.0], [5.0]];
/// assert_eq!(trustworthiness(data.view(), data.view(), 2).unwrap(), 1.0);
/// // Rows placed at 0, 3, 1, 4, 2, 5: neighbours 3 rows apart in the data now sit together.
/// let shuffled = array![[0.0f32], [3.0], [1.0], [4.0], [2.0], [5.0]];
/// let t = trustworthiness(data.view(), shuffled.view(), 2).unwrap();
/// assert!((t - 0.4666666666666667).abs() < 1e-12);
/// ```
pub fn trustworthiness(
    data: ArrayView2<f32>,
    embedding: ArrayView2<f32>,
    n_neighbors: usize,
) -> Result<f64> {
    let n = data.nrows();
    if embedding.nrows() != n {
        return Err(Error::shape(format!(
            "trustworthiness: the embedding has {} rows, expected {n} (one per data row)",
            embedding.nrows()
        )));
    }
    if n == 0 || data.ncols() == 0 || embedding.ncols() == 0 {
        return Err(Error::shape(format!(
            "trustworthiness: empty input (data {n} x {}, embedding {n} x {}); expected at least 3 rows and 1 column each",
            data.ncols(),
            embedding.ncols()
        )));
    }
    if n_neighbors == 0 || 2 * n_neighbors >= n {
        return Err(Error::invalid(
            "trustworthiness n_neighbors",
            format!(
                "got {n_neighbors}; expected 1 <= n_neighbors < rows / 2 = {}",
                n as f64 / 2.0
            ),
        ));
    }
    ensure_finite("trustworthiness data", data.iter().copied())?;
    ensure_finite("trustworthiness embedding", embedding.iter().copied())?;
    let x = rows_f64(data);
    let e = rows_f64(embedding);
    let (dx, de) = (data.ncols(), embedding.ncols());
    let k = n_neighbors;

    let mut order: Vec<(f64, usize)> = Vec::with_capacity(n);
    let mut rank = vec![0usize; n];
    let mut penalty: u64 = 0;
    for i in 0..n {
        order.clear();
        order.extend((0..n).filter(|&j| j != i).map(|j| (sq(&x, dx, i, j), j)));
        order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (r, &(_, j)) in order.iter().enumerate() {
            rank[j] = r + 1;
        }
        order.clear();
        order.extend((0..n).filter(|&j| j != i).map(|j| (sq(&e, de, i, j), j)));
        order.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, j) in &order[..k] {
            penalty += rank[j].saturating_sub(k) as u64;
        }
    }
    let (n, k) = (n as f64, k as f64);
    Ok(1.0 - penalty as f64 * 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))
}

fn rows_f64(m: ArrayView2<f32>) -> Vec<f64> {
    m.iter().map(|&v| v as f64).collect()
}

#[inline]
fn sq(rows: &[f64], d: usize, i: usize, j: usize) -> f64 {
    rows[i * d..(i + 1) * d]
        .iter()
        .zip(&rows[j * d..(j + 1) * d])
        .map(|(a, b)| (a - b) * (a - b))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn a_reversed_line_is_fully_trustworthy_and_a_scramble_is_not() {
        let line = Array2::from_shape_fn((20, 1), |(i, _)| i as f32);
        let reversed = Array2::from_shape_fn((20, 1), |(i, _)| -(i as f32) * 3.0);
        assert_eq!(
            trustworthiness(line.view(), reversed.view(), 3).unwrap(),
            1.0
        );
        let scrambled = Array2::from_shape_fn((20, 1), |(i, _)| ((i * 7) % 20) as f32);
        let t = trustworthiness(line.view(), scrambled.view(), 3).unwrap();
        assert!((0.0..0.8).contains(&t), "{t}");
    }

    #[test]
    fn matches_a_hand_computed_value() {
        // Points 0..4 on a line, embedded at 0, 4, 2, 3, 1; k = 1. Nearest embedded neighbour
        // (ties to the lower index) and its input rank: 0 -> 4 (rank 4), 1 -> 3 (rank 3, after
        // 0 and 2), 2 -> 3 (rank 2), 3 -> 1 (rank 3), 4 -> 0 (rank 4). Penalties
        // 3 + 2 + 1 + 2 + 3 = 11, so T = 1 - 11 * 2 / (5 * 1 * (10 - 3 - 1)) = 1 - 22 / 30.
        let data = array![[0.0f32], [1.0], [2.0], [3.0], [4.0]];
        let embedding = array![[0.0f32], [4.0], [2.0], [3.0], [1.0]];
        let t = trustworthiness(data.view(), embedding.view(), 1).unwrap();
        assert!((t - (1.0 - 22.0 / 30.0)).abs() < 1e-15, "{t}");
    }

    #[test]
    fn rejects_bad_input() {
        let a = Array2::<f32>::zeros((10, 2));
        let b = Array2::<f32>::zeros((9, 2));
        assert!(matches!(
            trustworthiness(a.view(), b.view(), 2),
            Err(Error::Shape(_))
        ));
        let e = trustworthiness(a.view(), a.view(), 5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rows / 2 = 5"), "{e}");
        assert!(trustworthiness(a.view(), a.view(), 0).is_err());
        let mut c = a.clone();
        c[[3, 1]] = f32::NAN;
        assert!(matches!(
            trustworthiness(a.view(), c.view(), 2),
            Err(Error::NonFinite { .. })
        ));
    }
}
