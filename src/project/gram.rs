//! The Gram matrix `G = Xcᵀ Xc` of centred data in f64 (lower triangle), the covariance
//! product of PCA's covariance_eigh solver in the browser.
//!
//! For `n × p` f32 data `X` and f64 column means `m`, `G[i, j] = Σ_r (X[r, i] - m[i]) ·
//! (X[r, j] - m[j])` for `i ≥ j`, computed in f64. The rows are taken in blocks of
//! [`BLOCK_ROWS`]; each block's sum starts at zero, adds the products of its rows in order, and
//! is then added to `G`:
//!
//! `G[i, j] = (…((0 + S₀[i, j]) + S₁[i, j]) + …)`, `S_b[i, j] = (…((0 + x_{r₀ i} x_{r₀ j}) +
//! x_{r₀+1, i} x_{r₀+1, j}) + …)` over the rows `r` of block `b`,
//!
//! with every product and sum rounded (no fused multiply-add), so the result is the same bit
//! for bit on every target. The loop structure is the symmetric rank-k update (BLAS `syrk`)
//! of GotoBLAS (Goto and van de Geijn, "Anatomy of High-Performance Matrix Multiplication",
//! ACM TOMS 2008): each block of centred rows is packed once into panels of [`PANEL`]
//! features (`X[r, 4g..4g+4] - m` at `g·rows·4 + r·4`, the centring fused into the packing,
//! the last panel zero padded), and register tiles of 4 × 4 entries of `G` (two f64x2
//! accumulators per column, the four columns broadcast from the same panels) run over the block
//! for every tile that touches the lower triangle.
//!
//! Hand-written rather than faer's triangular product, which the native build keeps (its
//! x86 kernels use FMA and wide vectors), because in wasm32 faer runs the `gemm` crate's
//! SIMD128 6 × 4 tile, whose 12 f64x2 accumulators spill V8's vector registers; the 4 × 4 tile
//! was the fastest candidate in Chromium (about 1.4× faer). wasm-opt must not inline [`tile`]
//! into its caller (the Makefile's `NO_INLINE`): inlined, it ran at faer's speed again. See
//! BENCHMARKS.md, Kernel decisions › PCA.
//!
//! [`tile`] is SIMD128 on wasm32 and plain arrays elsewhere (where only the tests use this
//! module): both follow the same packing, blocking and summation order. In the threaded build
//! the groups of four columns of a block run on the pool ([`crate::parallel`]); each column's
//! sums keep their order, so the result is the same bit for bit.

use crate::parallel;
use faer::Mat;
use ndarray::ArrayView2;

/// Rows of data per block: each block's products are summed from zero, then added to `G`.
pub(crate) const BLOCK_ROWS: usize = 256;
/// Features per packed panel: the four rows of a register tile (two f64x2 vectors).
const PANEL: usize = 4;
/// Columns of `G` per register tile: one panel's features, broadcast one at a time.
const TILE_COLS: usize = 4;

/// The Gram matrix of `data - mean` (`cols × cols`, f64) with the lower triangle filled in the
/// order of the module documentation and zeros above the diagonal. Panics when `mean` does not
/// have one value per column (a caller bug).
pub(crate) fn centred_gram(data: ArrayView2<f32>, mean: &[f64]) -> Mat<f64> {
    let (n, p) = data.dim();
    assert_eq!(
        mean.len(),
        p,
        "centred_gram: {p} columns but {} means",
        mean.len()
    );
    if n == 0 || p == 0 {
        return Mat::zeros(p, p);
    }
    // Rows read as slices: a view of another layout is copied once.
    let data = data.as_standard_layout();
    let values = data
        .as_slice()
        .expect("a standard-layout array is one slice");
    let padded = p.div_ceil(PANEL) * PANEL;
    // Column-major `padded × padded`: the f64x2 accumulators run down a column.
    let mut gram = vec![0.0f64; padded * padded];
    let mut packed = vec![0.0f64; padded * BLOCK_ROWS.min(n)];
    for start in (0..n).step_by(BLOCK_ROWS) {
        let rows = BLOCK_ROWS.min(n - start);
        pack_centred(
            &values[start * p..(start + rows) * p],
            mean,
            padded,
            &mut packed,
        );
        // Each group of TILE_COLS columns of the Gram matrix is its own piece of work (on the
        // threaded build's pool when the block is large enough): the sums, and their order,
        // are the same whichever thread runs it.
        let packed = &packed;
        let work_per_columns = rows * TILE_COLS * padded / 2;
        parallel::for_each_chunk(
            &mut gram,
            TILE_COLS * padded,
            work_per_columns,
            || (),
            |_, index, columns| {
                let first_col = index * TILE_COLS;
                // The columns of the tile: the panel holding them.
                let b = &packed[(first_col / PANEL) * rows * PANEL..][..rows * PANEL];
                // Panels from the one holding the diagonal down: every tile touching i >= j.
                for panel in first_col / PANEL..padded / PANEL {
                    let a = &packed[panel * rows * PANEL..][..rows * PANEL];
                    let c = &mut columns[panel * PANEL..];
                    // SAFETY: `a` and `b` hold rows × PANEL values (PANEL = TILE_COLS); `c`
                    // starts at row panel·PANEL of the first of this piece's TILE_COLS columns
                    // (stride `padded`), and PANEL rows of TILE_COLS columns stay inside it.
                    unsafe { tile(rows, a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), padded) };
                }
            },
        );
    }
    Mat::from_fn(p, p, |i, j| if i >= j { gram[j * padded + i] } else { 0.0 })
}

/// Packs `rows` (row-major, `mean.len()` columns) minus `mean` into `packed` (at least
/// `padded · rows` values, `padded` a multiple of [`PANEL`] ≥ the columns): panel `g` holds
/// the centred features `4g..4g + 4` of row `r` at `g·rows·4 + r·4`, zero beyond the last
/// column.
fn pack_centred(rows: &[f32], mean: &[f64], padded: usize, packed: &mut [f64]) {
    let n = rows.len() / mean.len().max(1);
    let panels = &mut packed[..padded * n];
    for (r, row) in rows.chunks_exact(mean.len()).enumerate() {
        let mut sources = row.chunks(PANEL).zip(mean.chunks(PANEL));
        for panel in panels.chunks_exact_mut(n * PANEL) {
            let out = &mut panel[r * PANEL..(r + 1) * PANEL];
            let (xs, ms) = sources.next().unwrap_or((&[], &[]));
            for ((o, &x), m) in out.iter_mut().zip(xs).zip(ms) {
                *o = f64::from(x) - m;
            }
            out[xs.len()..].fill(0.0);
        }
    }
}

/// `C[4 × 4] += A[4 × rows]·B[rows × 4]` where row `r` of the tile's `A` is `a[4r..4r + 4]`
/// and of its `B` is `b[4r..4r + 4]`; `C` is column-major with column stride `ldc`. The sum
/// over `r` starts at zero and runs in order, and is then added to `C`.
///
/// # Safety
/// `a` and `b` are readable for `4·rows` values, and `c` readable and writable for 4 columns
/// of 4 values at stride `ldc`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
unsafe fn tile(rows: usize, mut a: *const f64, mut b: *const f64, c: *mut f64, ldc: usize) {
    use core::arch::wasm32::{
        f64x2_add, f64x2_mul, f64x2_splat, v128, v128_load, v128_load64_splat, v128_store,
    };
    let mut acc = [[f64x2_splat(0.0); PANEL / 2]; TILE_COLS];
    for _ in 0..rows {
        let column = [
            v128_load(a as *const v128),
            v128_load(a.add(2) as *const v128),
        ];
        for (j, sums) in acc.iter_mut().enumerate() {
            let bj = v128_load64_splat(b.add(j) as *const u64);
            for (sum, &ai) in sums.iter_mut().zip(&column) {
                *sum = f64x2_add(*sum, f64x2_mul(ai, bj));
            }
        }
        a = a.add(PANEL);
        b = b.add(PANEL);
    }
    for (j, sums) in acc.iter().enumerate() {
        for (half, &sum) in sums.iter().enumerate() {
            let out = c.add(j * ldc + 2 * half) as *mut v128;
            v128_store(out, f64x2_add(v128_load(out), sum));
        }
    }
}

/// As the SIMD128 [`tile`], on plain arrays in the same order.
///
/// # Safety
/// As the SIMD128 [`tile`].
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
unsafe fn tile(rows: usize, a: *const f64, b: *const f64, c: *mut f64, ldc: usize) {
    let mut acc = [[0.0f64; PANEL]; TILE_COLS];
    for r in 0..rows {
        let column = std::slice::from_raw_parts(a.add(r * PANEL), PANEL);
        for (j, sums) in acc.iter_mut().enumerate() {
            let bj = *b.add(r * PANEL + j);
            for (sum, &ai) in sums.iter_mut().zip(column) {
                *sum += ai * bj;
            }
        }
    }
    for (j, sums) in acc.iter().enumerate() {
        for (i, &sum) in sums.iter().enumerate() {
            *c.add(j * ldc + i) += sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    // Run in wasm32 too (`make test-wasm`), where they check the SIMD128 kernel.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn data(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((rows, cols), |(_, j)| {
            rng.random_range(-1.0f32..1.0) * (j % 5 + 1) as f32 + j as f32
        })
    }

    fn means(data: &Array2<f32>) -> Vec<f64> {
        data.columns()
            .into_iter()
            .map(|c| c.iter().map(|&x| f64::from(x)).sum::<f64>() / data.nrows() as f64)
            .collect()
    }

    /// The definition in the documented order: block sums from zero, added to `G`.
    fn in_order(data: &Array2<f32>, mean: &[f64]) -> Array2<f64> {
        let (n, p) = data.dim();
        let x = |r: usize, i: usize| f64::from(data[[r, i]]) - mean[i];
        Array2::from_shape_fn((p, p), |(i, j)| {
            if i < j {
                return 0.0;
            }
            (0..n).step_by(BLOCK_ROWS).fold(0.0, |g, start| {
                let end = (start + BLOCK_ROWS).min(n);
                g + (start..end).fold(0.0, |s, r| s + x(r, i) * x(r, j))
            })
        })
    }

    /// Shapes around the blocking: columns not a multiple of the panel or the tile, rows
    /// under, at and over the block length.
    const SHAPES: [(usize, usize); 7] = [
        (2, 1),
        (3, 5),
        (7, 6),
        (256, 7),
        (300, 13),
        (513, 19),
        (40, 64),
    ];

    #[test]
    fn equals_the_definition_in_order_bit_for_bit() {
        for (index, &(n, p)) in SHAPES.iter().enumerate() {
            let x = data(n, p, index as u64);
            let mean = means(&x);
            let gram = centred_gram(x.view(), &mean);
            let expected = in_order(&x, &mean);
            assert_eq!((gram.nrows(), gram.ncols()), (p, p));
            for i in 0..p {
                for j in 0..p {
                    assert_eq!(
                        gram[(i, j)].to_bits(),
                        expected[[i, j]].to_bits(),
                        "{n}x{p} at ({i}, {j}): {} vs {}",
                        gram[(i, j)],
                        expected[[i, j]]
                    );
                }
            }
        }
    }

    #[test]
    fn matches_faer_on_the_lower_triangle() {
        let (n, p) = (700, 31);
        let x = data(n, p, 9);
        let mean = means(&x);
        let centred = Mat::<f64>::from_fn(n, p, |r, i| f64::from(x[[r, i]]) - mean[i]);
        let full = centred.transpose() * &centred;
        let gram = centred_gram(x.view(), &mean);
        for j in 0..p {
            for i in j..p {
                let e = full[(i, j)];
                assert!(
                    (gram[(i, j)] - e).abs() <= 1e-12 * (1.0 + e.abs()),
                    "({i}, {j}): {} vs {e}",
                    gram[(i, j)]
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "means")]
    fn a_mean_per_column_is_required() {
        centred_gram(data(3, 4, 1).view(), &[0.0; 3]);
    }
}
