//! Principal component analysis with the semantics of scikit-learn 1.9's
//! [`sklearn.decomposition.PCA`](https://scikit-learn.org/stable/modules/generated/sklearn.decomposition.PCA.html).
//!
//! For data `X` (`n` rows = samples, `p` columns = features) PCA centres the columns,
//! `Xc = X - mean`, and takes the thin SVD `Xc = U S Vᵀ`. With `k` components:
//!
//! * `components` = the first `k` rows of `Vᵀ` (unit vectors in feature space), each with its
//!   sign fixed as scikit-learn ≥ 1.5 does (`svd_flip(u, v, u_based_decision=False)`): in every
//!   component the entry of largest absolute value (the first one on ties) is positive;
//! * `singular_values` = `S[..k]`, `explained_variance` = `S² / (n - 1)`;
//! * `explained_variance_ratio` = `explained_variance / total`, where `total` is the total
//!   variance as scikit-learn computes it for each solver: the sum of all `min(n, p)` values of
//!   `S² / (n - 1)` (full), the sum of all `p` eigenvalues of the covariance clipped at zero
//!   (covariance_eigh), or `Σ Xc² / (n - 1)` (randomized) — equal in exact arithmetic;
//! * `noise_variance` (the probabilistic-PCA σ²): the mean of the discarded explained variances
//!   (full: over `min(n, p) - k` values; covariance_eigh: over the `p - k` eigenvalues, as
//!   scikit-learn does), or `(total - Σ explained_variance) / (min(n, p) - k)` (randomized);
//!   `None` when `k = min(n, p)`, where scikit-learn reports `0.0`;
//! * `transformed` = `Xc V[:, ..k]`, divided column-wise by `sqrt(explained_variance)` when
//!   whitening (scikit-learn's `transform`; the divisor is clipped below at `f32::EPSILON`, the
//!   machine epsilon scikit-learn uses for f32 data, so a zero-variance component stays finite).
//!   `inverse_transform(Y) = Y W + mean` with `W = components`, or `W = sqrt(ev) · components`
//!   when whitening.
//!
//! Solvers ([`Solver`]):
//!
//! * **Full**: LAPACK-style thin SVD of the centred data (f64).
//! * **CovarianceEigh**: `C = Xcᵀ Xc / (n - 1)` accumulated in f64 over blocks of rows (only the
//!   lower triangle, never a full f64 copy of the data), then all eigenvalues of `C` and the
//!   eigenvectors of the `k` largest (`super::eigen`: tridiagonalisation, QR eigenvalues and
//!   inverse iteration, or the full eigendecomposition when `2k > p`); eigenvalues below zero
//!   are clipped and `S = sqrt(eigenvalue · (n - 1))`.
//!   scikit-learn forms `XᵀX - n·mean·meanᵀ`; centring first is the same matrix with less
//!   cancellation.
//! * **Randomized**: Halko, Martinsson and Tropp 2011, "Finding structure with randomness",
//!   exactly as `sklearn.utils.extmath.randomized_svd` runs it for PCA (`pca/randomized.rs`):
//!   `k + 10` Gaussian test vectors, 7 power iterations when `k < 0.1 · min(n, p)` else 4 (or
//!   [`PcaOptions::power_iterations`]), LU-normalised when more than 2, a thin QR and the SVD
//!   of the small projected matrix; test vectors from ChaCha8 seeded with [`PcaOptions::seed`],
//!   power iterations in f32, the rest in f64.
//! * **Auto** resolves as scikit-learn 1.9's `PCA._fit`: covariance_eigh when `p ≤ 1000` and
//!   `n ≥ 10 p`; else full when `max(n, p) ≤ 500`; else randomized when `k < 0.8 · min(n, p)`;
//!   else full.
//!
//! nnlens takes f32 data and computes the means, the covariance, the decompositions and the
//! projections in f64 and returns f32 results, so the exact solvers agree with scikit-learn
//! fitted on a float64 copy of the same f32 data up to the f32 rounding of the results (the
//! fixtures in `tests/fixtures/pca` are made that way; the largest deviation there is 8.5e-6
//! relative, on an `inverse_transform`).
//!
//! Linear algebra: [`faer`] (pure Rust, maintained, builds for wasm32), chosen over nalgebra,
//! which was 1.2 to 14 times slower on every building block of the benchmark case; run
//! sequentially everywhere (threads gained nothing on 2 cores, and native and wasm32 results
//! stay alike); the `gemm` crate's SIMD128 kernels are switched on in wasm32 (Cargo.toml); the
//! covariance keeps an f64 Gram matrix (f32 products moved the fixtures' components by 15× the
//! tolerance), computed in wasm32 by the kernel of `project/gram.rs` and natively by faer;
//! projections stay in f64 (f32 ones saved 5 % and came too close to the tolerance). See
//! BENCHMARKS.md, "Kernel decisions: PCA".
//!
//! ```
//! use ndarray::array;
//! use nnlens::project::{Pca, PcaOptions, Solver};
//! // Points on the line y = 2x: one direction carries all the variance.
//! let data = array![[0.0f32, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
//! let options = PcaOptions { components: 1, solver: Solver::Full, ..PcaOptions::default() };
//! let pca = Pca::fit(data.view(), &options).unwrap();
//! let c = pca.components.row(0);
//! assert!((c[0] - 1.0 / 5f32.sqrt()).abs() < 1e-6 && (c[1] - 2.0 / 5f32.sqrt()).abs() < 1e-6);
//! assert!((pca.explained_variance_ratio[0] - 1.0).abs() < 1e-6);
//! assert_eq!(pca.transformed.dim(), (4, 1));
//! let back = pca.inverse_transform(pca.transformed.view()).unwrap();
//! assert!((back[[3, 1]] - 6.0).abs() < 1e-5);
//! ```

mod randomized;

pub use randomized::auto_power_iterations;

use super::eigen::top_eigen;
use crate::error::{ensure_finite, Error, Result};
use crate::names::named_enum;
use crate::tensor::{checked_elements, Tensor};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::matmul;
use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
use faer::{Accum, Mat, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView2};
use std::fmt;

/// Extra random test vectors of the randomized solver (`n_oversamples` in scikit-learn).
pub const OVERSAMPLES: usize = 10;

named_enum! {
    /// Which algorithm computes the decomposition: scikit-learn's `svd_solver` values in
    /// camelCase (`"covarianceEigh"` is scikit-learn's `"covariance_eigh"`).
    #[derive(Default)]
    pub enum Solver: "PCA solver" {
        /// scikit-learn's selection rule (see the module documentation), the default.
        #[default]
        Auto = "auto",
        /// Thin SVD of the centred data.
        Full = "full",
        /// Eigendecomposition of the covariance matrix (fast when `rows ≫ cols`).
        CovarianceEigh = "covarianceEigh",
        /// Randomized truncated SVD (Halko et al. 2011).
        Randomized = "randomized",
    }
}

impl Solver {
    /// The solver that runs for `rows × cols` data and `components` components: itself, or for
    /// [`Solver::Auto`] the one scikit-learn 1.9 picks.
    pub fn resolve(self, rows: usize, cols: usize, components: usize) -> Solver {
        if self != Solver::Auto {
            return self;
        }
        if cols <= 1_000 && rows >= 10 * cols {
            Solver::CovarianceEigh
        } else if rows.max(cols) <= 500 {
            Solver::Full
        } else if components >= 1 && (components as f64) < 0.8 * rows.min(cols) as f64 {
            Solver::Randomized
        } else {
            Solver::Full
        }
    }
}

/// Options of [`Pca::fit`]. Missing fields take the [`Default`] values when deserialised.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PcaOptions {
    /// Number of components to keep, `1..=min(rows, cols)`. Default 2.
    pub components: usize,
    /// Scale the projections to unit variance. Default false.
    pub whiten: bool,
    /// Algorithm. Default [`Solver::Auto`].
    pub solver: Solver,
    /// Seed of the random test vectors of the randomized solver. Default 0.
    pub seed: u64,
    /// Power iterations of the randomized solver; `None` for scikit-learn's `"auto"`.
    pub power_iterations: Option<usize>,
}

impl Default for PcaOptions {
    fn default() -> Self {
        PcaOptions {
            components: 2,
            whiten: false,
            solver: Solver::Auto,
            seed: 0,
            power_iterations: None,
        }
    }
}

/// Principal component analysis; see the module documentation for the mathematics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pca;

/// A fitted PCA (the attributes of scikit-learn's fitted `PCA` and its `fit_transform` output).
#[derive(Debug, Clone, PartialEq)]
pub struct PcaResult {
    /// Principal axes, `components × cols`, unit rows sorted by decreasing variance.
    pub components: Array2<f32>,
    /// Variance along each component, `S² / (n - 1)`.
    pub explained_variance: Array1<f32>,
    /// Fraction of the total variance along each component.
    pub explained_variance_ratio: Array1<f32>,
    /// Singular values of the centred data for the kept components.
    pub singular_values: Array1<f32>,
    /// Per-column mean of the fitted data.
    pub mean: Array1<f32>,
    /// The fitted rows projected on the components (whitened if asked), `rows × components`.
    pub transformed: Array2<f32>,
    /// Number of rows the PCA was fitted on.
    pub n_samples: usize,
    /// Probabilistic-PCA noise variance; `None` when no direction was discarded
    /// (`components = min(rows, cols)`, where scikit-learn reports 0).
    pub noise_variance: Option<f32>,
    /// Whether [`PcaResult::transformed`] and [`PcaResult::transform`] whiten.
    pub whiten: bool,
    /// The solver that ran ([`Solver::Auto`] resolved).
    pub solver: Solver,
    /// Power iterations run by the randomized solver, `None` for the other solvers.
    pub power_iterations: Option<usize>,
}

/// What a solver produces before projection: components as rows, f64.
struct Decomposition {
    components: Mat<f64>,
    singular_values: Vec<f64>,
    explained_variance: Vec<f64>,
    total_variance: f64,
    noise_variance: Option<f64>,
    power_iterations: Option<usize>,
}

impl Pca {
    /// Fits a PCA to `data` (rows = samples, columns = features).
    ///
    /// Fails when the matrix is empty, has fewer than 2 rows, has more elements than
    /// [`crate::tensor::limits::MAX_ELEMENTS`], contains NaN or infinity, has all rows equal,
    /// when `components` is not in `1..=min(rows, cols)`, or when a decomposition does not
    /// converge.
    pub fn fit(data: ArrayView2<f32>, options: &PcaOptions) -> Result<PcaResult> {
        let (n, p) = data.dim();
        if n == 0 || p == 0 {
            return Err(Error::shape(format!(
                "PCA data is empty ({n} rows x {p} columns); expected at least 2 rows and 1 column"
            )));
        }
        checked_elements("PCA data", &[n, p])?;
        if n < 2 {
            return Err(Error::invalid(
                "PCA data",
                format!(
                    "it has {n} row; PCA needs at least 2 rows (samples) to estimate a variance"
                ),
            ));
        }
        let k = options.components;
        let max_k = n.min(p);
        if k == 0 || k > max_k {
            return Err(Error::invalid(
                "PCA components",
                format!("got {k}; expected 1..={max_k} (min(rows, cols) for {n} x {p} data)"),
            ));
        }
        ensure_finite("PCA data", data.iter().copied())?;

        let mean = column_means(data);
        let (sum_squares, max_abs) = centred_statistics(data, &mean);
        if sum_squares == 0.0 {
            return Err(Error::invalid(
                "PCA data",
                format!("all {n} rows are identical (zero variance), so there are no principal directions"),
            ));
        }
        let solver = options.solver.resolve(n, p, k);
        let decomposition = match solver {
            Solver::Full => full(data, &mean, k)?,
            Solver::CovarianceEigh => covariance_eigh(data, &mean, k)?,
            Solver::Randomized => {
                randomized::randomized(data, &mean, k, sum_squares, max_abs, options)?
            }
            Solver::Auto => unreachable!("Solver::resolve never returns Auto"),
        };
        let Decomposition {
            components,
            singular_values,
            explained_variance,
            total_variance,
            noise_variance,
            power_iterations,
        } = decomposition;

        let mut transformed = centred_times(data, &mean, components.transpose());
        clear_upper_vector_state();
        if options.whiten {
            whiten_columns(&mut transformed, &explained_variance);
        }
        let ratio: Vec<f64> = explained_variance
            .iter()
            .map(|v| v / total_variance)
            .collect();
        Ok(PcaResult {
            components: to_f32("PCA components", components.as_ref())?,
            explained_variance: vec_to_f32("PCA explained variance", &explained_variance)?,
            explained_variance_ratio: vec_to_f32("PCA explained variance ratio", &ratio)?,
            singular_values: vec_to_f32("PCA singular values", &singular_values)?,
            mean: vec_to_f32("PCA mean", &mean)?,
            transformed: to_f32("PCA projections", transformed.as_ref())?,
            n_samples: n,
            noise_variance: noise_variance
                .map(|v| vec_to_f32("PCA noise variance", &[v]).map(|a| a[0]))
                .transpose()?,
            whiten: options.whiten,
            solver,
            power_iterations,
        })
    }

    /// [`Pca::fit`] on a flat row-major buffer of `rows × cols` values (as JavaScript passes a
    /// `Float32Array`); fails when the length does not match.
    pub fn fit_slice(
        data: &[f32],
        rows: usize,
        cols: usize,
        options: &PcaOptions,
    ) -> Result<PcaResult> {
        let view = matrix_view("PCA data", data, rows, cols)?;
        Pca::fit(view, options)
    }
}

/// A row-major `rows × cols` view of `data`, or [`Error::Shape`] naming `what` when the
/// length is not `rows · cols`.
pub fn matrix_view<'a>(
    what: &str,
    data: &'a [f32],
    rows: usize,
    cols: usize,
) -> Result<ArrayView2<'a, f32>> {
    let expected = rows.checked_mul(cols).ok_or_else(|| {
        Error::shape(format!(
            "{what}: {rows} rows x {cols} columns overflows usize"
        ))
    })?;
    if data.len() != expected {
        return Err(Error::shape(format!(
            "{what} has {} values, expected {expected} ({rows} rows x {cols} columns)",
            data.len()
        )));
    }
    ArrayView2::from_shape((rows, cols), data).map_err(|e| Error::shape(format!("{what}: {e}")))
}

impl PcaResult {
    /// Number of components kept.
    pub fn n_components(&self) -> usize {
        self.components.nrows()
    }

    /// Number of features (columns) the PCA was fitted on.
    pub fn n_features(&self) -> usize {
        self.components.ncols()
    }

    /// Projects new rows on the components: `(X - mean) componentsᵀ`, whitened when the PCA
    /// was fitted with `whiten` (scikit-learn's `transform`). Zero rows give an empty result.
    pub fn transform(&self, data: ArrayView2<f32>) -> Result<Array2<f32>> {
        let p = self.n_features();
        if data.ncols() != p {
            return Err(Error::shape(format!(
                "PCA transform: data has {} columns, expected {p} (the features the PCA was fitted on)",
                data.ncols()
            )));
        }
        ensure_finite("PCA transform data", data.iter().copied())?;
        let mean: Vec<f64> = self.mean.iter().map(|&m| f64::from(m)).collect();
        let components = Mat::<f64>::from_fn(self.n_components(), p, |i, j| {
            f64::from(self.components[[i, j]])
        });
        let mut projected = centred_times(data, &mean, components.transpose());
        if self.whiten {
            let variance: Vec<f64> = self
                .explained_variance
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            whiten_columns(&mut projected, &variance);
        }
        to_f32("PCA projections", projected.as_ref())
    }

    /// Maps coordinates (`rows × components`) back to feature space:
    /// `Y components + mean`, or `Y (sqrt(explained_variance) · components) + mean` when
    /// whitening (scikit-learn's `inverse_transform`).
    pub fn inverse_transform(&self, coordinates: ArrayView2<f32>) -> Result<Array2<f32>> {
        let (n, k) = coordinates.dim();
        if k != self.n_components() {
            return Err(Error::shape(format!(
                "PCA inverse_transform: coordinates have {k} columns, expected {} (the components)",
                self.n_components()
            )));
        }
        ensure_finite("PCA coordinates", coordinates.iter().copied())?;
        let p = self.n_features();
        checked_elements("PCA inverse_transform output", &[n, p])?;
        let weights = Mat::<f64>::from_fn(k, p, |i, j| {
            let scale = if self.whiten {
                f64::from(self.explained_variance[i]).sqrt()
            } else {
                1.0
            };
            scale * f64::from(self.components[[i, j]])
        });
        let y = Mat::<f64>::from_fn(n, k, |i, j| f64::from(coordinates[[i, j]]));
        let mut out = Mat::<f64>::zeros(n, p);
        matmul(
            out.as_mut(),
            Accum::Replace,
            y.as_ref(),
            weights.as_ref(),
            1.0,
            Par::Seq,
        );
        for j in 0..p {
            let m = f64::from(self.mean[j]);
            for i in 0..n {
                out[(i, j)] += m;
            }
        }
        to_f32("PCA inverse_transform output", out.as_ref())
    }
}

/// PCA of the rows of a weight tensor: each row (a neuron's incoming weights, or a
/// convolution filter flattened over its trailing axes) is one point. A dense weight
/// `[out, in]` gives `out` points in `in` dimensions; a conv weight `[out, in, kh, kw]`
/// gives `out` points in `in·kh·kw` dimensions.
pub fn weight_rows_pca(weight: &Tensor, options: &PcaOptions) -> Result<PcaResult> {
    let shape = weight.shape();
    if shape.len() < 2 {
        return Err(Error::shape(format!(
            "weight_rows_pca needs a weight of rank >= 2 ([out, in] or [out, in, kh, kw]), got shape {shape:?}"
        )));
    }
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    let standard = weight.as_standard_layout();
    let matrix = standard
        .view()
        .into_shape_with_order((rows, cols))
        .map_err(|e| Error::shape(format!("weight of shape {shape:?}: {e}")))?;
    Pca::fit(matrix, options)
}

// ---------------------------------------------------------------------------------------
// Solvers.

/// Thin SVD of the centred data (scikit-learn's `svd_solver="full"`).
fn full(data: ArrayView2<f32>, mean: &[f64], k: usize) -> Result<Decomposition> {
    let (n, p) = data.dim();
    let size = n.min(p);
    let centred = Mat::<f64>::from_fn(n, p, |i, j| f64::from(data[[i, j]]) - mean[j]);
    let mut s = faer::diag::Diag::<f64>::zeros(size);
    let mut v = Mat::<f64>::zeros(p, size);
    let scratch = svd_scratch::<f64>(
        n,
        p,
        ComputeSvdVectors::No,
        ComputeSvdVectors::Thin,
        Par::Seq,
        Default::default(),
    );
    svd(
        centred.as_ref(),
        s.as_mut(),
        None,
        Some(v.as_mut()),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .map_err(|e| not_converged("full", "SVD", n, p, e))?;
    drop(centred);
    let all_s: Vec<f64> = s.column_vector().iter().copied().collect();
    let all_variance: Vec<f64> = all_s.iter().map(|s| s * s / (n - 1) as f64).collect();
    let total_variance = all_variance.iter().sum();
    let noise_variance = (k < size).then(|| mean_of(&all_variance[k..]));
    let mut components = Mat::<f64>::from_fn(k, p, |i, j| v[(j, i)]);
    flip_signs(&mut components);
    Ok(Decomposition {
        components,
        singular_values: all_s[..k].to_vec(),
        explained_variance: all_variance[..k].to_vec(),
        total_variance,
        noise_variance,
        power_iterations: None,
    })
}

/// Eigendecomposition of the covariance (scikit-learn's `svd_solver="covariance_eigh"`).
fn covariance_eigh(data: ArrayView2<f32>, mean: &[f64], k: usize) -> Result<Decomposition> {
    let (n, p) = data.dim();
    checked_elements("PCA covariance matrix", &[p, p])?;
    let mut covariance = centred_gram_lower(data, mean);
    let denominator = (n - 1) as f64;
    for j in 0..p {
        for i in j..p {
            covariance[(i, j)] /= denominator;
        }
    }
    let eigen = top_eigen(covariance.as_ref(), k)
        .map_err(|e| not_converged("covariance_eigh", "eigendecomposition", n, p, e))?;
    // Negative eigenvalues are rounding noise on a positive semi-definite matrix and are
    // clipped as scikit-learn does.
    let all_variance: Vec<f64> = eigen.values.iter().map(|v| v.max(0.0)).collect();
    let total_variance = all_variance.iter().sum();
    let noise_variance = (k < n.min(p)).then(|| mean_of(&all_variance[k..]));
    let mut components = eigen.vectors.transpose().to_owned();
    flip_signs(&mut components);
    Ok(Decomposition {
        components,
        singular_values: all_variance[..k]
            .iter()
            .map(|v| (v * denominator).sqrt())
            .collect(),
        explained_variance: all_variance[..k].to_vec(),
        total_variance,
        noise_variance,
        power_iterations: None,
    })
}

/// The lower triangle of `Xcᵀ Xc` in f64 by faer's triangular product over blocks of centred
/// rows (natively faer's kernels, with FMA and wide vectors, are the fastest measured).
#[cfg(not(target_arch = "wasm32"))]
fn centred_gram_lower(data: ArrayView2<f32>, mean: &[f64]) -> Mat<f64> {
    use faer::linalg::matmul::triangular::{matmul as triangular_matmul, BlockStructure};
    let p = data.ncols();
    let mut gram = Mat::<f64>::zeros(p, p);
    for_centred_blocks(data, mean, |_, block| {
        triangular_matmul(
            gram.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            block.transpose(),
            BlockStructure::Rectangular,
            block,
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
    });
    gram
}

/// The lower triangle of `Xcᵀ Xc` in f64 by [`super::gram`]'s SIMD128 kernel (faster than
/// faer's triangular product in wasm32; the measurements are there).
#[cfg(target_arch = "wasm32")]
fn centred_gram_lower(data: ArrayView2<f32>, mean: &[f64]) -> Mat<f64> {
    super::gram::centred_gram(data, mean)
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn not_converged(solver: &str, what: &str, n: usize, p: usize, e: impl fmt::Debug) -> Error {
    Error::invalid(
        "PCA data",
        format!(
            "the {solver} solver's {what} of the {n} x {p} centred data did not converge ({e:?})"
        ),
    )
}

fn mean_of(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Per-column means in f64.
fn column_means(data: ArrayView2<f32>) -> Vec<f64> {
    let mut sums = vec![0.0f64; data.ncols()];
    for row in data.rows() {
        for (s, &x) in sums.iter_mut().zip(row.iter()) {
            *s += f64::from(x);
        }
    }
    let n = data.nrows();
    sums.iter().map(|s| s / n as f64).collect()
}

/// `Σ (x - mean)²` over all entries and the largest `|x - mean|`, in f64.
fn centred_statistics(data: ArrayView2<f32>, mean: &[f64]) -> (f64, f64) {
    let mut sum = 0.0;
    let mut max_abs = 0.0f64;
    for row in data.rows() {
        for (&x, m) in row.iter().zip(mean) {
            let d = f64::from(x) - m;
            sum += d * d;
            max_abs = max_abs.max(d.abs());
        }
    }
    (sum, max_abs)
}

/// Rows per block for block-wise f64 work: about 2^18 values (2 MiB), at least 16 rows.
fn block_rows(cols: usize) -> usize {
    ((1usize << 18) / cols.max(1)).clamp(16, 512)
}

/// Calls `f(first_row, block)` for consecutive blocks of centred rows as row-major f64.
fn for_centred_blocks(
    data: ArrayView2<f32>,
    mean: &[f64],
    mut f: impl FnMut(usize, MatRef<'_, f64>),
) {
    let (n, p) = data.dim();
    let block = block_rows(p).min(n);
    let mut buffer = vec![0.0f64; block * p];
    let mut start = 0;
    while start < n {
        let rows = block.min(n - start);
        for r in 0..rows {
            let row = data.row(start + r);
            let out = &mut buffer[r * p..(r + 1) * p];
            for ((o, &x), m) in out.iter_mut().zip(row.iter()).zip(mean) {
                *o = f64::from(x) - m;
            }
        }
        f(
            start,
            MatRef::from_row_major_slice(&buffer[..rows * p], rows, p),
        );
        start += rows;
    }
}

/// `(X - mean) R` for `R` of shape `cols × c`, in f64 (`rows × c`).
fn centred_times(data: ArrayView2<f32>, mean: &[f64], right: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(data.nrows(), right.ncols());
    for_centred_blocks(data, mean, |start, block| {
        matmul(
            out.as_mut().subrows_mut(start, block.nrows()),
            Accum::Replace,
            block,
            right,
            1.0,
            Par::Seq,
        );
    });
    out
}

/// scikit-learn's `svd_flip(u, v, u_based_decision=False)` on the rows of `components`: the
/// entry of largest absolute value (first on ties) becomes positive.
fn flip_signs(components: &mut Mat<f64>) {
    for i in 0..components.nrows() {
        let mut best = 0;
        for j in 1..components.ncols() {
            if components[(i, j)].abs() > components[(i, best)].abs() {
                best = j;
            }
        }
        if components[(i, best)] < 0.0 {
            for j in 0..components.ncols() {
                components[(i, j)] = -components[(i, j)];
            }
        }
    }
}

/// Ends a dirty upper vector-register state left by faer; [`Pca::fit`] calls it after its
/// last faer product.
///
/// faer's x86 matrix kernels (the assembly microkernels of `private-gemm-x86`, AVX2/AVX-512)
/// return without `vzeroupper`. Until one runs, every legacy-SSE instruction of the rest of the
/// program is slowed by the dirty upper state: natively (baseline x86-64 target, SSE2 code)
/// t-SNE's exact 2-D gradient loop ran 2.5× slower after its PCA initialisation (9.1 instead of 3.7 ms per
/// iteration at 1,500 rows). Code built with AVX enabled (VEX encoding) and wasm32 are not
/// affected; elsewhere this is a no-op.
fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        unsafe fn zero_upper() {
            // SAFETY: only called when AVX is available (checked below). The block is needed
            // before Rust 1.86 (rust-version is 1.85), where AVX intrinsics are unsafe to call.
            #[allow(unused_unsafe)]
            unsafe {
                std::arch::x86_64::_mm256_zeroupper()
            }
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX, the only requirement of `vzeroupper`.
            unsafe { zero_upper() }
        }
    }
}

/// Divides column `j` by `sqrt(variance[j])`, clipped below at `f32::EPSILON`.
fn whiten_columns(projected: &mut Mat<f64>, variance: &[f64]) {
    for (j, v) in variance.iter().enumerate() {
        let scale = v.sqrt().max(f64::from(f32::EPSILON));
        for i in 0..projected.nrows() {
            projected[(i, j)] /= scale;
        }
    }
}

/// f64 matrix to an f32 array, failing when a value is outside the f32 range.
fn to_f32(what: &str, m: MatRef<'_, f64>) -> Result<Array2<f32>> {
    let out = Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)] as f32);
    finite_f32(what, out.iter().copied())?;
    Ok(out)
}

fn vec_to_f32(what: &str, values: &[f64]) -> Result<Array1<f32>> {
    let out: Array1<f32> = values.iter().map(|&v| v as f32).collect();
    finite_f32(what, out.iter().copied())?;
    Ok(out)
}

fn finite_f32(what: &str, values: impl Iterator<Item = f32>) -> Result<()> {
    ensure_finite(what, values).map_err(|e| match e {
        Error::NonFinite { index, value, .. } => Error::invalid(
            what,
            format!("value at index {index} is {value} in f32: the data's magnitude exceeds the f32 range of the result; rescale the data"),
        ),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::randomized::gaussian_matrix;
    use super::*;
    use ndarray::{array, Array2};
    use rand::SeedableRng;

    pub(super) fn options(components: usize, solver: Solver) -> PcaOptions {
        PcaOptions {
            components,
            solver,
            ..PcaOptions::default()
        }
    }

    /// Deterministic pseudo-random data with a decaying spectrum: `rows × cols`.
    pub(super) fn structured(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let latent = gaussian_matrix(&mut rng, rows, cols);
        let mix = gaussian_matrix(&mut rng, cols, cols);
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            let mut v = 3.0 + j as f32;
            for t in 0..cols {
                v += latent[(i, t)] * mix[(t, j)] / (1.0 + t as f32).powi(2);
            }
            v
        })
    }

    #[test]
    fn auto_follows_sklearn_rule() {
        assert_eq!(
            Solver::Auto.resolve(10_000, 784, 50),
            Solver::CovarianceEigh
        );
        assert_eq!(Solver::Auto.resolve(7_839, 784, 50), Solver::Randomized);
        assert_eq!(Solver::Auto.resolve(500, 300, 10), Solver::Full);
        assert_eq!(Solver::Auto.resolve(600, 300, 10), Solver::Randomized);
        assert_eq!(Solver::Auto.resolve(600, 300, 240), Solver::Full);
        assert_eq!(Solver::Auto.resolve(600, 300, 239), Solver::Randomized);
        assert_eq!(Solver::Auto.resolve(20_000, 1_001, 5), Solver::Randomized);
        assert_eq!(Solver::Full.resolve(10_000, 784, 50), Solver::Full);
    }

    #[test]
    fn flip_makes_largest_entry_positive() {
        let mut c = Mat::<f64>::from_fn(2, 3, |i, j| [[0.1, -0.9, 0.3], [0.5, 0.2, -0.5]][i][j]);
        flip_signs(&mut c);
        assert_eq!(c[(0, 1)], 0.9);
        assert_eq!(c[(0, 0)], -0.1);
        // Tie between |0.5| and |-0.5|: the first one decides, and it is already positive.
        assert_eq!(c[(1, 0)], 0.5);
        assert_eq!(c[(1, 2)], -0.5);
    }

    #[test]
    fn solvers_agree_with_each_other() {
        let data = structured(120, 9, 1);
        let full = Pca::fit(data.view(), &options(4, Solver::Full)).unwrap();
        let cov = Pca::fit(data.view(), &options(4, Solver::CovarianceEigh)).unwrap();
        let rnd = Pca::fit(data.view(), &options(4, Solver::Randomized)).unwrap();
        for other in [&cov, &rnd] {
            for (a, b) in full.components.iter().zip(other.components.iter()) {
                assert!((a - b).abs() < 1e-4, "{a} vs {b}");
            }
            for (a, b) in full
                .explained_variance
                .iter()
                .zip(other.explained_variance.iter())
            {
                assert!((a - b).abs() < 1e-4 * a.abs(), "{a} vs {b}");
            }
            for (a, b) in full.transformed.iter().zip(other.transformed.iter()) {
                assert!((a - b).abs() < 1e-3, "{a} vs {b}");
            }
        }
        assert_eq!(rnd.power_iterations, Some(4));
        assert_eq!(full.power_iterations, None);
    }

    #[test]
    fn components_are_orthonormal_and_ratios_sum_to_one_at_full_rank() {
        let data = structured(30, 6, 2);
        for solver in [Solver::Full, Solver::CovarianceEigh, Solver::Randomized] {
            let pca = Pca::fit(data.view(), &options(6, solver)).unwrap();
            let gram = pca.components.dot(&pca.components.t());
            for i in 0..6 {
                for j in 0..6 {
                    let expected = if i == j { 1.0 } else { 0.0 };
                    assert!((gram[[i, j]] - expected).abs() < 1e-5, "{solver} {i},{j}");
                }
            }
            assert!(
                (pca.explained_variance_ratio.sum() - 1.0).abs() < 1e-5,
                "{solver}"
            );
            assert_eq!(pca.noise_variance, None);
        }
    }

    #[test]
    fn transform_of_training_data_equals_transformed() {
        let data = structured(50, 7, 3);
        for whiten in [false, true] {
            let opts = PcaOptions {
                components: 3,
                whiten,
                solver: Solver::Full,
                ..PcaOptions::default()
            };
            let pca = Pca::fit(data.view(), &opts).unwrap();
            let again = pca.transform(data.view()).unwrap();
            for (a, b) in pca.transformed.iter().zip(again.iter()) {
                assert!((a - b).abs() < 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
            }
            if whiten {
                // Whitened projections of the training data have unit variance.
                for column in pca.transformed.columns() {
                    let var = column.iter().map(|v| v * v).sum::<f32>() / 49.0;
                    assert!((var - 1.0).abs() < 1e-4, "{var}");
                }
            }
        }
    }

    #[test]
    fn inverse_transform_restores_data_at_full_rank() {
        let data = structured(20, 5, 4);
        for whiten in [false, true] {
            let opts = PcaOptions {
                components: 5,
                whiten,
                solver: Solver::CovarianceEigh,
                ..PcaOptions::default()
            };
            let pca = Pca::fit(data.view(), &opts).unwrap();
            let back = pca.inverse_transform(pca.transformed.view()).unwrap();
            for (a, b) in back.iter().zip(data.iter()) {
                assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn rejects_bad_input_with_precise_errors() {
        let ok = structured(6, 4, 5);
        let err = |data: ArrayView2<f32>, k: usize| {
            Pca::fit(data, &options(k, Solver::Auto))
                .unwrap_err()
                .to_string()
        };
        assert!(err(ok.view(), 0).contains("expected 1..=4"));
        assert!(err(ok.view(), 5).contains("got 5; expected 1..=4"));
        let one_row = array![[1.0f32, 2.0, 3.0]];
        assert!(err(one_row.view(), 1).contains("at least 2 rows"));
        let empty = Array2::<f32>::zeros((0, 3));
        assert!(err(empty.view(), 1).contains("empty"));
        let no_cols = Array2::<f32>::zeros((3, 0));
        assert!(err(no_cols.view(), 1).contains("empty"));
        let mut bad = ok.clone();
        bad[[2, 1]] = f32::NAN;
        assert!(matches!(
            Pca::fit(bad.view(), &options(2, Solver::Full)),
            Err(Error::NonFinite { index: 9, .. })
        ));
        bad[[2, 1]] = f32::INFINITY;
        assert!(matches!(
            Pca::fit(bad.view(), &options(2, Solver::Full)),
            Err(Error::NonFinite { index: 9, .. })
        ));
        let constant = Array2::<f32>::from_elem((5, 3), 2.5);
        assert!(err(constant.view(), 1).contains("identical"));
        let e = Pca::fit_slice(&[1.0; 7], 2, 4, &PcaOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "shape mismatch: PCA data has 7 values, expected 8 (2 rows x 4 columns)"
        );
        let e = Pca::fit_slice(&[], usize::MAX, 2, &PcaOptions::default()).unwrap_err();
        assert!(e.to_string().contains("overflows"), "{e}");
    }

    #[test]
    fn transform_and_inverse_check_shapes() {
        let pca = Pca::fit(structured(10, 4, 6).view(), &options(2, Solver::Full)).unwrap();
        let e = pca
            .transform(Array2::<f32>::zeros((3, 5)).view())
            .unwrap_err();
        assert!(e.to_string().contains("has 5 columns, expected 4"), "{e}");
        let e = pca
            .inverse_transform(Array2::<f32>::zeros((3, 3)).view())
            .unwrap_err();
        assert!(e.to_string().contains("have 3 columns, expected 2"), "{e}");
        assert_eq!(
            pca.transform(Array2::<f32>::zeros((0, 4)).view())
                .unwrap()
                .dim(),
            (0, 2)
        );
    }

    #[test]
    fn huge_values_fail_instead_of_overflowing() {
        let data = array![[3.0e38f32, 0.0], [-3.0e38, 1.0], [0.0, 2.0]];
        let e = Pca::fit(data.view(), &options(1, Solver::Full)).unwrap_err();
        assert!(e.to_string().contains("f32 range"), "{e}");
    }

    #[test]
    fn tiny_shapes_work_with_every_solver() {
        let column = array![[1.0f32], [2.0], [4.0]];
        let two_rows = structured(2, 30, 9);
        let tall = structured(40, 2, 10);
        for solver in [Solver::Full, Solver::CovarianceEigh, Solver::Randomized] {
            let pca = Pca::fit(column.view(), &options(1, solver)).unwrap();
            assert_eq!(pca.components[[0, 0]], 1.0, "{solver}");
            assert!(
                (pca.explained_variance[0] - 7.0 / 3.0).abs() < 1e-5,
                "{solver}"
            );
            let pca = Pca::fit(two_rows.view(), &options(1, solver)).unwrap();
            assert!(
                (pca.explained_variance_ratio[0] - 1.0).abs() < 1e-5,
                "{solver}"
            );
            // Two points: the first component is their normalised difference.
            let diff = &two_rows.row(1) - &two_rows.row(0);
            let norm = diff.dot(&diff).sqrt();
            let cosine = pca.components.row(0).dot(&diff) / norm;
            assert!((cosine.abs() - 1.0).abs() < 1e-5, "{solver}: {cosine}");
            let pca = Pca::fit(two_rows.view(), &options(2, solver)).unwrap();
            assert!(pca.explained_variance[1].abs() < 1e-4, "{solver}");
            let pca = Pca::fit(tall.view(), &options(2, solver)).unwrap();
            assert_eq!(pca.noise_variance, None);
        }
    }

    #[test]
    fn weight_rows_pca_flattens_trailing_axes() {
        let conv = structured(8, 12, 8)
            .into_shape_with_order((8, 3, 2, 2))
            .unwrap();
        let conv = conv.into_dyn();
        let pca = weight_rows_pca(&conv, &options(2, Solver::Full)).unwrap();
        assert_eq!(pca.components.dim(), (2, 12));
        assert_eq!(pca.transformed.dim(), (8, 2));
        let flat = structured(8, 12, 8);
        let direct = Pca::fit(flat.view(), &options(2, Solver::Full)).unwrap();
        assert_eq!(pca, direct);
        let e = weight_rows_pca(&ndarray::ArrayD::zeros(vec![5]), &PcaOptions::default());
        assert!(e.unwrap_err().to_string().contains("rank >= 2"));
    }

    #[test]
    fn options_deserialize_with_defaults_and_reject_unknown_fields() {
        let o: PcaOptions =
            serde_json::from_str(r#"{"components": 3, "solver": "covarianceEigh"}"#).unwrap();
        assert_eq!(o.components, 3);
        assert_eq!(o.solver, Solver::CovarianceEigh);
        assert!(!o.whiten);
        assert!(serde_json::from_str::<PcaOptions>(r#"{"nComponents": 3}"#).is_err());
    }
}
