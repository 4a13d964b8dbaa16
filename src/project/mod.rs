//! Projections of high-dimensional data to a few dimensions for display.
//!
//! * [`pca`]: principal component analysis with scikit-learn's semantics (full SVD,
//!   covariance eigendecomposition and randomized solvers), and PCA of a layer's weight rows.
//! * `gram`: the f64 Gram matrix of centred data (PCA's covariance), with a SIMD128 kernel
//!   for the browser.
//! * [`trajectory`]: a training trajectory on the plane of its principal directions and the
//!   parameter grid around the final weights (Li et al. 2018).
//! * [`landscape`]: the loss over that grid, for contour lines under the trajectory.
//! * [`tsne`]: t-SNE with scikit-learn's semantics (exact and Barnes-Hut), as a stepper for
//!   animation, and the trustworthiness of an embedding.

mod eigen;
#[cfg(any(target_arch = "wasm32", test))]
mod gram;
pub mod landscape;
pub mod pca;
pub mod trajectory;
pub mod tsne;

pub use landscape::loss_surface;
pub use pca::{weight_rows_pca, Pca, PcaOptions, PcaResult, Solver};
pub use trajectory::{
    plane_grid, project_trajectory, Linspace, ParameterGrid, TrajectoryProjection,
};
pub use tsne::{Tsne, TsneOptions, TsneResult};
