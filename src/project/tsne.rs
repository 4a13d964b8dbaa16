//! t-distributed stochastic neighbour embedding (t-SNE) with the semantics of scikit-learn 1.9's
//! [`sklearn.manifold.TSNE`](https://scikit-learn.org/stable/modules/generated/sklearn.manifold.TSNE.html).
//!
//! t-SNE (van der Maaten & Hinton 2008, "Visualizing Data using t-SNE", JMLR 9) places `n`
//! points `y_i` in a few dimensions so that the Student-t similarities
//! `q_ij = w_ij / Σ_{k≠l} w_kl`, `w_ij = (1 + ‖y_i - y_j‖² / α)^(-(α + 1) / 2)`, match the
//! Gaussian input affinities `p_ij` (`tsne/affinity.rs`), by gradient descent on
//! `KL(P‖Q) = Σ_{i≠j} p_ij ln(p_ij / q_ij)`, whose gradient is
//! `∂KL/∂y_i = (2 (α + 1) / α) Σ_j (p_ij - q_ij) (1 + ‖y_i - y_j‖² / α)^(-1) (y_i - y_j)`.
//! The degrees of freedom are `α = max(components - 1, 1)` (van der Maaten 2009, "Learning a
//! Parametric Embedding by Preserving Local Structure"), so for the usual 2-D map `α = 1`, the
//! factor is 4 and `(1 + d²)^(-1) = w_ij`. scikit-learn multiplies by `w_ij` for every `α`,
//! which is not the gradient of its KL divergence when `α ≠ 1` (3 or more components); nnlens
//! uses the gradient, so 3-D and higher embeddings differ from scikit-learn's. They are better:
//! on the two 4-D blobs of the unit test `one_three_and_four_components_separate_groups`,
//! scikit-learn 1.9 reaches trustworthiness 0.86 in 3-D (Barnes-Hut) and 0.57 in 4-D (exact),
//! nnlens 0.97 and 0.98.
//!
//! Everything follows scikit-learn's `_t_sne.py` (and `_utils.pyx`, `_barnes_hut_tsne.pyx`,
//! `neighbors/_quad_tree.pyx`):
//!
//! * affinities from squared euclidean distances, the perplexity binary search (tolerance 1e-5,
//!   100 steps) and `P = (P_cond + P_condᵀ) / Σ` — over all pairs for the exact method, over the
//!   `k = min(n - 1, ⌊3·perplexity + 1⌋)` nearest neighbours for Barnes-Hut;
//! * initialisation `"pca"`: the first `components` principal components of the data
//!   ([`crate::project::pca`], scikit-learn's automatic solver, seeded with
//!   [`TsneOptions::seed`]), scaled so that the first has standard deviation `1e-4`; or
//!   `"random"`: independent normals of standard deviation `1e-4` (ChaCha8 seeded with
//!   [`TsneOptions::seed`]; the draws cannot equal NumPy's);
//! * two runs of `_gradient_descent`: 250 iterations with `P` multiplied by
//!   `early_exaggeration` (12) and momentum 0.5, then up to `max_iter` (1000) in all with
//!   momentum 0.8. Each run starts with zero update and unit gains; the gains follow
//!   delta-bar-delta (`+0.2` where the update and the gradient disagree in sign, `×0.8`
//!   elsewhere, at least 0.01); `update = momentum·update - learning_rate·gains·gradient`.
//!   The learning rate `"auto"` is `max(n / early_exaggeration / 4, 50)`;
//! * every 50 iterations (and on a run's last iteration) the KL divergence is evaluated (with
//!   the exaggerated `P` during the first run, as scikit-learn reports it); a run stops when the
//!   norm of the gain-scaled gradient is at most `min_grad_norm`, or when the KL divergence has
//!   not improved for more than `n_iter_without_progress` iterations (250 in the first run). The
//!   reported KL divergence is the one of the last evaluation, which (as in scikit-learn) is of
//!   the embedding before the last update. [`TsneResult::iterations`] counts the iterations run;
//!   scikit-learn's `n_iter_` is the index of the last one (999 for 1000). With
//!   `max_iter = 250` nnlens ends after the first run; scikit-learn then runs an empty second
//!   one and reports `kl_divergence_ = 1.8e308`, nnlens the last (exaggerated) evaluation.
//!
//! Methods ([`Method`]; their gradients are in `tsne/gradient.rs`):
//!
//! * **Exact**: `O(n²)` per iteration over the condensed f32 `P`. One pass over the pairs
//!   accumulates `Σ p_ij g_ij (y_i - y_j)`, `Σ w_ij g_ij (y_i - y_j)` and `Z = Σ w_ij`
//!   (`g_ij = (1 + d²/α)^(-1)`), so the gradient is `c (attraction_i - repulsion_i / Z)`.
//!   scikit-learn also clips `q_ij` below at machine epsilon (2.2e-16); that is left out,
//!   which changes nothing unless `w_ij < 2.2e-16 · Z`. Memory: `n (n - 1) / 2` f32 values,
//!   at most [`crate::tensor::limits::MAX_ELEMENTS`] (about 16,000 rows).
//! * **Barnes-Hut** (van der Maaten 2014, "Accelerating t-SNE using Tree-Based Algorithms",
//!   JMLR 15): attraction over the sparse `P` exactly, repulsion and `Z` from a quadtree
//!   (octree in 3-D, `tsne/tree.rs`) with cells summarised when `side² / dist² < angle²`
//!   (`angle` 0.5); the KL divergence is estimated over the stored `p_ij` with that `Z`.
//!   At most 3 components.
//! * **Auto** (nnlens's default; scikit-learn's is Barnes-Hut): exact for at most
//!   [`AUTO_EXACT_MAX_ROWS`] rows (where it takes at most about 1.5 times as long and has no
//!   approximation error) or more than 3 components, Barnes-Hut otherwise.
//!
//! Numbers: the input is f32; distances, probabilities during the search, the embedding and
//! the optimiser state are f64 (scikit-learn keeps the embedding in f32), the exact `P` is
//! stored in f32. Results are returned as f32. Optimisation amplifies rounding differences, so
//! embeddings are not bit-equal to scikit-learn's; the tests compare quality (trustworthiness,
//! neighbour accuracy) on the fixtures of `tests/fixtures/tsne`, and the affinities, the KL
//! divergence and the gradients of a fixed embedding against scikit-learn's (to 1e-6 for the
//! exact method, 1e-5 for Barnes-Hut, which scikit-learn computes in f32).
//!
//! [`Tsne`] is a stepper: [`Tsne::new`] computes the affinities and the initial embedding, and
//! each [`Tsne::step`] runs one iteration, so a caller (a Web Worker) can show
//! [`Tsne::embedding`] as it evolves. [`tsne`] runs to the end with a progress callback.
//!
//! ```
//! use ndarray::Array2;
//! use nnlens::project::tsne::{tsne, trustworthiness, Method, TsneOptions};
//! // Two well separated groups of 20 points in 5 dimensions.
//! let data = Array2::from_shape_fn((40, 5), |(i, c)| {
//!     (i / 20) as f32 * 10.0 + ((i * 7 + c * 3) % 5) as f32 * 0.2
//! });
//! let options = TsneOptions { perplexity: 5.0, method: Method::Exact, ..TsneOptions::default() };
//! let mut checkpoints = 0;
//! let result = tsne(data.view(), &options, &mut |p| {
//!     checkpoints += p.is_checkpoint() as usize;
//!     true // keep going
//! })
//! .unwrap();
//! assert_eq!(result.embedding.dim(), (40, 2));
//! assert!(result.iterations <= 1000 && checkpoints >= 1);
//! assert!(trustworthiness(data.view(), result.embedding.view(), 5).unwrap() > 0.9);
//! ```

mod affinity;
mod gradient;
mod tree;
mod trustworthiness;

pub use trustworthiness::trustworthiness;

use crate::error::{ensure_finite, Error, Result};
use crate::names::named_enum;
use crate::project::pca::{matrix_view, Pca, PcaOptions, Solver};
use crate::tensor::checked_elements;
use affinity::Csr;
use gradient::{barnes_hut_gradient, exact_gradient};
use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use tree::Tree;

/// Rows up to which [`Method::Auto`] runs the exact method, which has no approximation error.
/// Measured natively with `examples/tsne_bench.rs` (1,000 iterations, 50 features, CPU time):
/// exact is faster at 500 rows (0.4 s against 0.5 s), 1.5× slower at 1,000 (1.8 s against
/// 1.2 s) and 2.2× slower at 2,000 (7.4 s against 3.3 s), growing as `n²` against `n log n`.
pub const AUTO_EXACT_MAX_ROWS: usize = 1_000;
/// Iterations with early exaggeration (scikit-learn's `_EXPLORATION_MAX_ITER`).
pub const EXPLORATION_ITER: usize = 250;
/// Iterations between two evaluations of the KL divergence (scikit-learn's `_N_ITER_CHECK`).
pub const CHECK_EVERY: usize = 50;
/// Smallest gain of the delta-bar-delta rule.
const MIN_GAIN: f64 = 0.01;
/// Standard deviation of the initial embedding (first component for PCA initialisation).
const INIT_STD: f64 = 1e-4;

named_enum! {
    /// How the gradient is computed: scikit-learn's `method` in camelCase (`"barnesHut"` is
    /// scikit-learn's `"barnes_hut"`), plus `"auto"`.
    #[derive(Default)]
    pub enum Method: "t-SNE method" {
        /// Exact up to [`AUTO_EXACT_MAX_ROWS`] rows or with more than 3 components, else
        /// Barnes-Hut; the default.
        #[default]
        Auto = "auto",
        /// All pairs, `O(n²)` time and memory.
        Exact = "exact",
        /// Sparse nearest-neighbour affinities and a space-partitioning tree, `O(n log n)` per
        /// iteration; 1 to 3 components.
        BarnesHut = "barnesHut",
    }
}

impl Method {
    /// The method that runs for `rows` rows and `components` output dimensions: itself, or for
    /// [`Method::Auto`] exact when `rows <= AUTO_EXACT_MAX_ROWS` or `components > 3`.
    pub fn resolve(self, rows: usize, components: usize) -> Method {
        match self {
            Method::Auto if rows <= AUTO_EXACT_MAX_ROWS || components > tree::MAX_DIMS => {
                Method::Exact
            }
            Method::Auto => Method::BarnesHut,
            other => other,
        }
    }
}

named_enum! {
    /// The initial embedding (scikit-learn's `init`).
    #[derive(Default)]
    pub enum Init: "t-SNE init" {
        /// Principal components scaled to standard deviation 1e-4 along the first; the default.
        #[default]
        Pca = "pca",
        /// Independent normals with standard deviation 1e-4.
        Random = "random",
    }
}

/// Options of [`Tsne::new`] and [`tsne`]; defaults are scikit-learn 1.9's (except `method`,
/// see [`Method::Auto`]). Missing fields take the [`Default`] values when deserialised.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TsneOptions {
    /// Dimensions of the embedding, at least 1 (at most 3 for Barnes-Hut). Default 2.
    pub components: usize,
    /// Effective number of neighbours, `0 < perplexity < rows`. Default 30.
    pub perplexity: f64,
    /// Factor on `P` during the first 250 iterations, at least 1. Default 12.
    pub early_exaggeration: f64,
    /// Step size, positive; `None` for `"auto"`: `max(rows / early_exaggeration / 4, 50)`.
    pub learning_rate: Option<f64>,
    /// Total iterations, at least 250 (the early exaggeration phase). Default 1000.
    pub max_iter: usize,
    /// Iterations without a better KL divergence after which the second phase stops (checked
    /// every 50 iterations). Default 300.
    pub n_iter_without_progress: usize,
    /// Stop when the norm of the gain-scaled gradient is at most this, at least 0. Default 1e-7.
    pub min_grad_norm: f64,
    /// Initial embedding. Default [`Init::Pca`].
    pub init: Init,
    /// Gradient algorithm. Default [`Method::Auto`].
    pub method: Method,
    /// Barnes-Hut accuracy θ in `[0, 1]`; 0 summarises nothing. Default 0.5.
    pub angle: f64,
    /// Seed of the random parts (randomized PCA solver, random initialisation). Default 0.
    pub seed: u64,
}

impl Default for TsneOptions {
    fn default() -> Self {
        TsneOptions {
            components: 2,
            perplexity: 30.0,
            early_exaggeration: 12.0,
            learning_rate: None,
            max_iter: 1000,
            n_iter_without_progress: 300,
            min_grad_norm: 1e-7,
            init: Init::Pca,
            method: Method::Auto,
            angle: 0.5,
            seed: 0,
        }
    }
}

/// Why the optimisation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    /// `max_iter` iterations ran.
    MaxIter,
    /// The KL divergence did not improve for more than `n_iter_without_progress` iterations.
    NoProgress,
    /// The gradient norm fell to `min_grad_norm`.
    GradientNorm,
    /// The caller stopped it ([`Tsne::cancel`], or the callback of [`tsne`] returned false).
    Cancelled,
}

/// An evaluation of the KL divergence (every 50 iterations and at the end of each phase).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Iterations completed when it was taken (1-based: 50, 100, ...).
    pub iteration: usize,
    /// KL divergence of the embedding before that iteration's update; with `P` exaggerated
    /// during the first 250 iterations (as scikit-learn reports it). Barnes-Hut estimates it.
    pub kl_divergence: f64,
    /// Norm of the gain-scaled gradient of that iteration.
    pub gradient_norm: f64,
    /// Whether `P` was exaggerated.
    pub exaggerated: bool,
}

/// Where the optimisation is, after a [`Tsne::step`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Iterations completed.
    pub iteration: usize,
    /// The iteration budget (`max_iter`).
    pub max_iter: usize,
    /// Whether the next iteration (if any) uses early exaggeration.
    pub exaggerating: bool,
    /// The latest KL evaluation, `None` before the first.
    pub checkpoint: Option<Checkpoint>,
    /// Why it ended, `None` while running.
    pub stop: Option<StopReason>,
}

impl Progress {
    /// Whether the KL divergence was evaluated on the iteration just completed.
    pub fn is_checkpoint(&self) -> bool {
        self.checkpoint
            .is_some_and(|c| c.iteration == self.iteration && self.iteration > 0)
    }

    /// Whether the optimisation has ended.
    pub fn is_finished(&self) -> bool {
        self.stop.is_some()
    }
}

/// The outcome of a t-SNE run.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneResult {
    /// The embedding, `rows × components`.
    pub embedding: Array2<f32>,
    /// KL divergence of the last evaluation (scikit-learn's `kl_divergence_`); for a cancelled
    /// run, of the embedding returned, with `P` as exaggerated as it was then.
    pub kl_divergence: f64,
    /// Iterations run; scikit-learn's `n_iter_` is this minus one.
    pub iterations: usize,
    /// Why the optimisation ended.
    pub stop: StopReason,
    /// The method that ran ([`Method::Auto`] resolved).
    pub method: Method,
    /// The learning rate used (scikit-learn's `learning_rate_`).
    pub learning_rate: f64,
}

/// The input affinities of either method.
#[derive(Debug, Clone)]
enum Affinities {
    /// Condensed upper triangle of `P` (`i < j`).
    Dense(Vec<f32>),
    /// Symmetric sparse `P` over nearest neighbours.
    Sparse(Csr),
}

/// A t-SNE optimisation that runs one iteration per [`Tsne::step`].
///
/// ```
/// use ndarray::Array2;
/// use nnlens::project::tsne::{Tsne, TsneOptions};
/// let data = Array2::from_shape_fn((30, 3), |(i, c)| (i % 3) as f32 * 5.0 + (i * c % 7) as f32 * 0.1);
/// let options = TsneOptions { perplexity: 5.0, max_iter: 300, ..TsneOptions::default() };
/// let mut t = Tsne::new(data.view(), &options).unwrap();
/// while !t.step().unwrap().is_finished() {
///     if t.iteration() % 100 == 0 {
///         let frame = t.embedding(); // draw it
///         assert_eq!(frame.dim(), (30, 2));
///     }
/// }
/// let result = t.result();
/// assert_eq!(result.iterations, 300);
/// ```
#[derive(Debug, Clone)]
pub struct Tsne {
    rows: usize,
    dims: usize,
    dof: f64,
    method: Method,
    options: TsneOptions,
    learning_rate: f64,
    affinities: Affinities,
    embedding: Vec<f64>,
    update: Vec<f64>,
    gains: Vec<f64>,
    gradient: Vec<f64>,
    scratch: Vec<f64>,
    tree: Tree,
    /// Next iteration index (0-based, scikit-learn's loop variable `i`).
    next: usize,
    phase: Phase,
    best_error: f64,
    best_iter: usize,
    checkpoint: Option<Checkpoint>,
    stop: Option<StopReason>,
}

/// One call of scikit-learn's `_gradient_descent`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Phase {
    exaggerated: bool,
    /// Exclusive end of this phase's iteration indices.
    end: usize,
    momentum: f64,
    /// `n_iter_without_progress` of this phase.
    patience: usize,
}

impl Phase {
    /// The early-exaggeration phase (`exaggerated`) or the final one, as `TSNE._tsne` sets them.
    fn new(exaggerated: bool, options: &TsneOptions) -> Phase {
        if exaggerated {
            Phase {
                exaggerated,
                end: EXPLORATION_ITER,
                momentum: 0.5,
                patience: EXPLORATION_ITER,
            }
        } else {
            Phase {
                exaggerated,
                end: options.max_iter,
                momentum: 0.8,
                patience: options.n_iter_without_progress,
            }
        }
    }
}

impl Tsne {
    /// Validates the input, computes the affinities and the initial embedding.
    ///
    /// Fails on an empty matrix, fewer than 2 rows, more elements than the tensor limit, NaN or
    /// infinity in the data, an option out of range (each message names the option, its value
    /// and the valid range), `perplexity >= rows`, more than 3 components with Barnes-Hut,
    /// PCA initialisation with fewer columns (or rows) than components, or PCA failing (all
    /// rows identical).
    pub fn new(data: ArrayView2<f32>, options: &TsneOptions) -> Result<Tsne> {
        let (rows, cols) = data.dim();
        if rows == 0 || cols == 0 {
            return Err(Error::shape(format!(
                "t-SNE data is empty ({rows} rows x {cols} columns); expected at least 2 rows and 1 column"
            )));
        }
        checked_elements("t-SNE data", &[rows, cols])?;
        if rows < 2 {
            return Err(Error::invalid(
                "t-SNE data",
                format!("it has {rows} row; t-SNE needs at least 2 rows (samples)"),
            ));
        }
        validate(options, rows)?;
        let dims = options.components;
        let method = options.method.resolve(rows, dims);
        if method == Method::BarnesHut && dims > tree::MAX_DIMS {
            return Err(Error::invalid(
                "t-SNE components",
                format!("got {dims}; the barnesHut method supports 1..=3 (use method 'exact')"),
            ));
        }
        ensure_finite("t-SNE data", data.iter().copied())?;
        checked_elements("t-SNE embedding", &[rows, dims])?;

        let affinities = match method {
            Method::Exact => Affinities::Dense(affinity::exact_joint_probabilities(
                data,
                options.perplexity,
            )?),
            Method::BarnesHut => {
                let k = neighbour_count(rows, options.perplexity);
                Affinities::Sparse(affinity::knn_joint_probabilities(
                    data,
                    options.perplexity,
                    k,
                )?)
            }
            Method::Auto => unreachable!("Method::resolve never returns Auto"),
        };
        let embedding = initial_embedding(data, options)?;
        let learning_rate = options
            .learning_rate
            .unwrap_or_else(|| (rows as f64 / options.early_exaggeration / 4.0).max(50.0));
        let len = rows * dims;
        let mut t = Tsne {
            rows,
            dims,
            dof: dims.saturating_sub(1).max(1) as f64,
            method,
            options: options.clone(),
            learning_rate,
            affinities,
            embedding,
            update: vec![0.0; len],
            gains: vec![1.0; len],
            gradient: vec![0.0; len],
            scratch: vec![0.0; len],
            tree: Tree::new(),
            next: 0,
            phase: Phase::new(true, options),
            best_error: f64::MAX,
            best_iter: 0,
            checkpoint: None,
            stop: None,
        };
        t.start_phase(0, true);
        Ok(t)
    }

    /// [`Tsne::new`] on a flat row-major buffer of `rows × cols` values (as JavaScript passes
    /// a `Float32Array`); fails with [`Error::Shape`] when the length is not `rows · cols`.
    pub fn from_slice(
        data: &[f32],
        rows: usize,
        cols: usize,
        options: &TsneOptions,
    ) -> Result<Tsne> {
        Tsne::new(matrix_view("t-SNE data", data, rows, cols)?, options)
    }

    /// Sets up a `_gradient_descent` run starting at iteration index `start`.
    fn start_phase(&mut self, start: usize, exaggerated: bool) {
        self.phase = Phase::new(exaggerated, &self.options);
        self.next = start;
        self.best_error = f64::MAX;
        self.best_iter = start;
        self.update.fill(0.0);
        self.gains.fill(1.0);
    }

    /// Runs one iteration and returns the progress; does nothing once finished.
    ///
    /// Fails when a coordinate leaves the f32 range (a learning rate far too large), with the
    /// iteration in the message; the run is then over.
    pub fn step(&mut self) -> Result<Progress> {
        if self.stop.is_some() {
            return Ok(self.progress());
        }
        let i = self.next;
        let check = (i + 1) % CHECK_EVERY == 0;
        let compute_error = check || i + 1 == self.phase.end;
        let (mut gradient, mut scratch, mut tree) = (
            std::mem::take(&mut self.gradient),
            std::mem::take(&mut self.scratch),
            std::mem::take(&mut self.tree),
        );
        let error = self.objective(
            self.factor(),
            compute_error,
            &mut gradient,
            &mut scratch,
            &mut tree,
        );
        (self.gradient, self.scratch, self.tree) = (gradient, scratch, tree);

        let mut squared_norm = 0.0;
        let momentum = self.phase.momentum;
        for (((g, gain), u), y) in self
            .gradient
            .iter_mut()
            .zip(&mut self.gains)
            .zip(&mut self.update)
            .zip(&mut self.embedding)
        {
            if *u * *g < 0.0 {
                *gain += 0.2;
            } else {
                *gain *= 0.8;
            }
            *gain = gain.max(MIN_GAIN);
            *g *= *gain;
            squared_norm += *g * *g;
            *u = momentum * *u - self.learning_rate * *g;
            *y += *u;
        }
        if let Some(index) = self
            .embedding
            .iter()
            .position(|v| v.is_nan() || v.abs() > f32::MAX as f64)
        {
            self.stop = Some(StopReason::Cancelled);
            return Err(Error::invalid(
                "t-SNE optimisation",
                format!(
                    "the embedding diverged at iteration {}: row {} has coordinate {:?}, outside the \
                     f32 range; expected a bounded embedding (lower the learning rate, now {:?})",
                    i + 1,
                    index / self.dims,
                    self.embedding[index],
                    self.learning_rate
                ),
            ));
        }
        if let Some(kl) = error {
            self.checkpoint = Some(Checkpoint {
                iteration: i + 1,
                kl_divergence: kl,
                gradient_norm: squared_norm.sqrt(),
                exaggerated: self.phase.exaggerated,
            });
        }
        let mut phase_over = i + 1 >= self.phase.end;
        let mut stop = None;
        if check {
            let kl = error.expect("the error is computed at every check");
            if kl < self.best_error {
                self.best_error = kl;
                self.best_iter = i;
            } else if i - self.best_iter > self.phase.patience {
                phase_over = true;
                stop = Some(StopReason::NoProgress);
            }
            if stop.is_none() && squared_norm.sqrt() <= self.options.min_grad_norm {
                phase_over = true;
                stop = Some(StopReason::GradientNorm);
            }
        }
        self.next = i + 1;
        if phase_over {
            if self.phase.exaggerated && i + 1 < self.options.max_iter {
                self.start_phase(i + 1, false);
            } else {
                self.stop = Some(stop.unwrap_or(StopReason::MaxIter));
            }
        }
        Ok(self.progress())
    }

    /// Runs up to `iterations` iterations (fewer when it finishes) and returns the progress.
    ///
    /// Fails as [`Tsne::step`] does.
    pub fn run(&mut self, iterations: usize) -> Result<Progress> {
        let mut progress = self.progress();
        for _ in 0..iterations {
            if progress.is_finished() {
                break;
            }
            progress = self.step()?;
        }
        Ok(progress)
    }

    /// Ends the optimisation now ([`StopReason::Cancelled`]) unless it has already ended.
    pub fn cancel(&mut self) {
        if self.stop.is_none() {
            self.stop = Some(StopReason::Cancelled);
        }
    }

    /// Where the optimisation is.
    pub fn progress(&self) -> Progress {
        Progress {
            iteration: self.next,
            max_iter: self.options.max_iter,
            exaggerating: self.phase.exaggerated && self.stop.is_none(),
            checkpoint: self.checkpoint,
            stop: self.stop,
        }
    }

    /// Iterations completed.
    pub fn iteration(&self) -> usize {
        self.next
    }

    /// Whether the optimisation has ended.
    pub fn is_finished(&self) -> bool {
        self.stop.is_some()
    }

    /// The current embedding, `rows × components` (the initial one before the first step).
    pub fn embedding(&self) -> Array2<f32> {
        Array2::from_shape_fn((self.rows, self.dims), |(i, a)| {
            self.embedding[i * self.dims + a] as f32
        })
    }

    /// The method that runs ([`Method::Auto`] resolved).
    pub fn method(&self) -> Method {
        self.method
    }

    /// The learning rate in use.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    /// The result so far: for a finished run, scikit-learn's outputs; for a cancelled or
    /// unfinished one, the current embedding with the KL divergence of that embedding (with
    /// `P` exaggerated if the run is still in its first phase).
    pub fn result(&self) -> TsneResult {
        let kl_divergence = match (self.stop, self.checkpoint) {
            (Some(stop), Some(c)) if stop != StopReason::Cancelled => c.kl_divergence,
            _ => {
                let len = self.embedding.len();
                let (mut grad, mut scratch) = (vec![0.0; len], vec![0.0; len]);
                self.objective(
                    self.factor(),
                    true,
                    &mut grad,
                    &mut scratch,
                    &mut Tree::new(),
                )
                .unwrap_or(f64::NAN)
            }
        };
        TsneResult {
            embedding: self.embedding(),
            kl_divergence,
            iterations: self.next,
            stop: self.stop.unwrap_or(StopReason::Cancelled),
            method: self.method,
            learning_rate: self.learning_rate,
        }
    }

    /// The factor on `P` in the current phase.
    fn factor(&self) -> f64 {
        if self.phase.exaggerated {
            self.options.early_exaggeration
        } else {
            1.0
        }
    }

    /// Writes the gradient of the embedding into `grad` (`scratch` is a buffer of the same
    /// length) and returns the KL divergence when `compute_error`.
    fn objective(
        &self,
        factor: f64,
        compute_error: bool,
        grad: &mut [f64],
        scratch: &mut [f64],
        tree: &mut Tree,
    ) -> Option<f64> {
        match &self.affinities {
            Affinities::Dense(p) => exact_gradient(
                p,
                factor,
                &self.embedding,
                self.rows,
                self.dims,
                self.dof,
                grad,
                scratch,
                compute_error,
            ),
            Affinities::Sparse(p) => barnes_hut_gradient(
                p,
                factor,
                &self.embedding,
                self.dims,
                self.dof,
                self.options.angle,
                tree,
                grad,
                scratch,
                compute_error,
            ),
        }
    }
}

/// Runs t-SNE to the end. `progress` is called after every KL evaluation (every 50 iterations
/// and at the end of each phase) and once more at the end; when it returns `false` the run
/// stops and the result holds the embedding reached ([`StopReason::Cancelled`]).
///
/// Fails as [`Tsne::new`] and [`Tsne::step`] do.
pub fn tsne(
    data: ArrayView2<f32>,
    options: &TsneOptions,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<TsneResult> {
    let mut t = Tsne::new(data, options)?;
    loop {
        let p = t.step()?;
        if p.is_finished() {
            progress(p);
            break;
        }
        if p.is_checkpoint() && !progress(p) {
            t.cancel();
            break;
        }
    }
    Ok(t.result())
}

/// Sklearn's constraints on the options, with messages naming the value and the range.
fn validate(o: &TsneOptions, rows: usize) -> Result<()> {
    let bad = |what: &str, message: String| Err(Error::invalid(format!("t-SNE {what}"), message));
    if o.components == 0 {
        return bad("components", "got 0; expected at least 1".into());
    }
    if !(o.perplexity.is_finite() && o.perplexity > 0.0) {
        return bad(
            "perplexity",
            format!("got {}; expected a finite number > 0", o.perplexity),
        );
    }
    if o.perplexity >= rows as f64 {
        return bad(
            "perplexity",
            format!(
                "got {}; it must be less than the number of rows ({rows})",
                o.perplexity
            ),
        );
    }
    if !(o.early_exaggeration.is_finite() && o.early_exaggeration >= 1.0) {
        return bad(
            "earlyExaggeration",
            format!(
                "got {}; expected a finite number >= 1",
                o.early_exaggeration
            ),
        );
    }
    if let Some(lr) = o.learning_rate {
        if !(lr.is_finite() && lr > 0.0) {
            return bad(
                "learningRate",
                format!("got {lr}; expected a finite number > 0, or none for \"auto\""),
            );
        }
    }
    if o.max_iter < EXPLORATION_ITER {
        return bad(
            "maxIter",
            format!(
                "got {}; expected at least {EXPLORATION_ITER} (the early exaggeration phase)",
                o.max_iter
            ),
        );
    }
    if !(o.min_grad_norm.is_finite() && o.min_grad_norm >= 0.0) {
        return bad(
            "minGradNorm",
            format!("got {}; expected a finite number >= 0", o.min_grad_norm),
        );
    }
    if !(o.angle.is_finite() && (0.0..=1.0).contains(&o.angle)) {
        return bad(
            "angle",
            format!("got {}; expected a number in [0, 1]", o.angle),
        );
    }
    Ok(())
}

/// `min(n - 1, ⌊3·perplexity + 1⌋)`, the neighbours of the Barnes-Hut affinities.
pub fn neighbour_count(rows: usize, perplexity: f64) -> usize {
    let k = (3.0 * perplexity + 1.0).floor();
    if k >= (rows - 1) as f64 {
        rows - 1
    } else {
        k as usize
    }
}

/// The starting embedding, row-major f64.
fn initial_embedding(data: ArrayView2<f32>, options: &TsneOptions) -> Result<Vec<f64>> {
    let (rows, cols) = data.dim();
    let dims = options.components;
    match options.init {
        Init::Pca => {
            if dims > rows.min(cols) {
                return Err(Error::invalid(
                    "t-SNE init",
                    format!(
                        "'pca' needs components ({dims}) <= min(rows, columns) = {} for {rows} x {cols} data; use init 'random'",
                        rows.min(cols)
                    ),
                ));
            }
            let pca = Pca::fit(
                data,
                &PcaOptions {
                    components: dims,
                    whiten: false,
                    solver: Solver::Auto,
                    seed: options.seed,
                    power_iterations: None,
                },
            )?;
            let first: Vec<f64> = pca
                .transformed
                .column(0)
                .iter()
                .map(|&v| v as f64)
                .collect();
            let mean = first.iter().sum::<f64>() / rows as f64;
            let std =
                (first.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / rows as f64).sqrt();
            if std.is_nan() || std <= 0.0 {
                return Err(Error::invalid(
                    "t-SNE init",
                    format!("'pca': the first principal component has standard deviation {std}; use init 'random'"),
                ));
            }
            let scale = INIT_STD / std;
            Ok(pca.transformed.iter().map(|&v| v as f64 * scale).collect())
        }
        Init::Random => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(options.seed);
            let mut out = Vec::with_capacity(rows * dims);
            while out.len() < rows * dims {
                let (a, b) = standard_normal_pair(&mut rng);
                out.push(INIT_STD * a);
                if out.len() < rows * dims {
                    out.push(INIT_STD * b);
                }
            }
            Ok(out)
        }
    }
}

/// Two independent standard normals (Box–Muller, with `libm` so every platform agrees).
fn standard_normal_pair(rng: &mut impl Rng) -> (f64, f64) {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    let r = libm::sqrt(-2.0 * libm::log(u));
    let angle = 2.0 * std::f64::consts::PI * v;
    (r * libm::cos(angle), r * libm::sin(angle))
}

#[cfg(test)]
mod tests;
