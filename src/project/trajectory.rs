//! Training trajectories projected on their principal plane, as in Li, Xu, Taylor, Studer and
//! Goldstein 2018, "Visualizing the Loss Landscape of Neural Nets" (section 7 and their code's
//! `setup_PCA_directions` / `project_trajectory`).
//!
//! Given `k` parameter snapshots `θ_0 … θ_{k-1}` (rows of a `k × p` matrix, the last one the
//! final weights `θ*`), the rows `d_i = θ_i - θ*` (the last row is zero) go through
//! scikit-learn's `PCA(n_components=2)` — which centres them — and its two components
//! `δ_1, δ_2` (unit vectors) span the plane. Each snapshot's coordinates are the projections
//! of `d_i` (not centred) on the directions, `(⟨d_i, δ_1⟩/‖δ_1‖, ⟨d_i, δ_2⟩/‖δ_2‖)`, so the
//! final weights sit at the origin. The explained variance ratio tells how much of the path
//! the plane captures. [`plane_grid`] then lays out parameter vectors `θ* + α δ_1 + β δ_2` on
//! which a caller evaluates the loss to draw contours under the trajectory.
//!
//! The PCA here uses the exact [`Solver::Full`] (a thin SVD costing `O(p k²)` for `k ≪ p`
//! snapshots), which equals what scikit-learn's solvers compute up to rounding.
//!
//! ```
//! use ndarray::{array, Array1};
//! use nnlens::project::{project_trajectory, plane_grid, Linspace};
//! // Four snapshots of 3 parameters, ending at the final weights [1, 1, 1].
//! let snapshots = array![[3.0f32, 2.0, 1.0], [2.0, 0.5, 1.0], [1.5, 1.5, 1.0], [1.0, 1.0, 1.0]];
//! let path = project_trajectory(snapshots.view()).unwrap();
//! assert_eq!(path.coordinates.dim(), (4, 2));
//! // The path lies in a plane, so the two directions explain all of its variance.
//! assert!((path.explained_variance_ratio[0] + path.explained_variance_ratio[1] - 1.0).abs() < 1e-5);
//! let last = path.coordinates.row(3);
//! assert!(last[0].abs() < 1e-6 && last[1].abs() < 1e-6);
//! let final_params = Array1::from(vec![1.0f32, 1.0, 1.0]);
//! let axis = Linspace { start: -1.0, end: 1.0, steps: 5 };
//! let grid = path.grid(final_params.view(), &axis, &axis).unwrap();
//! assert_eq!((grid.len(), grid.dim()), (25, 3));
//! ```

use super::pca::{Pca, PcaOptions, Solver};
use crate::error::{ensure_finite, Error, Result};
use ndarray::{Array2, ArrayView1, ArrayView2};

/// A training trajectory projected on the plane of its two principal directions.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryProjection {
    /// The two unit directions `δ_1, δ_2`, `2 × p` (PCA components of `θ_i - θ*`).
    pub directions: Array2<f32>,
    /// Coordinates of every snapshot in the plane, `k × 2`; the last (final weights) is `(0, 0)`.
    pub coordinates: Array2<f32>,
    /// Fraction of the variance of the differences `θ_i - θ*` along each direction.
    pub explained_variance_ratio: [f32; 2],
}

/// Projects a training trajectory (snapshots as rows of `snapshots`, `k × p` with `k ≥ 3`,
/// `p ≥ 2`, the last row the final weights) on its principal plane; see the module
/// documentation.
pub fn project_trajectory(snapshots: ArrayView2<f32>) -> Result<TrajectoryProjection> {
    let (k, p) = snapshots.dim();
    if k < 3 || p < 2 {
        return Err(Error::shape(format!(
            "trajectory has {k} snapshots of {p} parameters; expected at least 3 snapshots (rows, \
             the last one the final weights) of at least 2 parameters to span a plane"
        )));
    }
    ensure_finite("trajectory snapshots", snapshots.iter().copied())?;
    let last = snapshots.row(k - 1);
    let differences = Array2::from_shape_fn((k, p), |(i, j)| snapshots[[i, j]] - last[j]);
    if differences.iter().all(|&d| d == 0.0) {
        return Err(Error::invalid(
            "trajectory snapshots",
            format!("all {k} snapshots are equal, so the trajectory has no direction"),
        ));
    }
    let options = PcaOptions {
        components: 2,
        whiten: false,
        solver: Solver::Full,
        ..PcaOptions::default()
    };
    let pca = Pca::fit(differences.view(), &options)?;
    let directions = pca.components;
    let norms: Vec<f64> = directions
        .rows()
        .into_iter()
        .map(|d| {
            d.iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let coordinates = Array2::from_shape_fn((k, 2), |(i, c)| {
        let dot: f64 = differences
            .row(i)
            .iter()
            .zip(directions.row(c).iter())
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        (dot / norms[c]) as f32
    });
    Ok(TrajectoryProjection {
        directions,
        coordinates,
        explained_variance_ratio: [
            pca.explained_variance_ratio[0],
            pca.explained_variance_ratio[1],
        ],
    })
}

impl TrajectoryProjection {
    /// [`plane_grid`] over this projection's two directions.
    pub fn grid(
        &self,
        final_params: ArrayView1<f32>,
        alphas: &Linspace,
        betas: &Linspace,
    ) -> Result<ParameterGrid> {
        plane_grid(
            final_params,
            self.directions.row(0),
            self.directions.row(1),
            alphas,
            betas,
        )
    }
}

/// `steps` evenly spaced values from `start` to `end` inclusive (NumPy's `linspace`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linspace {
    /// First value.
    pub start: f32,
    /// Last value (equal to `start` when `steps` is 1).
    pub end: f32,
    /// Number of values, at least 1.
    pub steps: usize,
}

impl Linspace {
    /// The values `start + i (end - start) / (steps - 1)`, the last exactly `end`.
    pub fn values(&self) -> Result<Vec<f32>> {
        if self.steps == 0 {
            return Err(Error::invalid(
                "grid range",
                "steps is 0; expected at least 1",
            ));
        }
        if !self.start.is_finite() || !self.end.is_finite() {
            return Err(Error::invalid(
                "grid range",
                format!("start {} and end {} must be finite", self.start, self.end),
            ));
        }
        if self.steps == 1 {
            return Ok(vec![self.start]);
        }
        let (start, end) = (f64::from(self.start), f64::from(self.end));
        let step = (end - start) / (self.steps - 1) as f64;
        Ok((0..self.steps)
            .map(|i| {
                if i + 1 == self.steps {
                    self.end
                } else {
                    (start + i as f64 * step) as f32
                }
            })
            .collect())
    }
}

/// Parameter vectors on a plane through `θ*`: point `(i, j)` is `θ* + alphas[i] δ_1 + betas[j] δ_2`.
/// Points are produced one at a time ([`ParameterGrid::point`]), so a grid over a model of `p`
/// parameters costs `3p` values of memory, not `p` per point.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterGrid {
    /// Coefficients along the first direction.
    pub alphas: Vec<f32>,
    /// Coefficients along the second direction.
    pub betas: Vec<f32>,
    base: Vec<f32>,
    d1: Vec<f32>,
    d2: Vec<f32>,
}

impl ParameterGrid {
    /// Number of points, `alphas.len() · betas.len()`; point `i · betas.len() + j` is
    /// `(alphas[i], betas[j])`.
    pub fn len(&self) -> usize {
        self.alphas.len() * self.betas.len()
    }

    /// Whether the grid has no point (never, for a grid made by [`plane_grid`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of parameters of each point.
    pub fn dim(&self) -> usize {
        self.base.len()
    }

    /// Writes point `index` (see [`ParameterGrid::len`]) into `out` (`dim()` values).
    pub fn point(&self, index: usize, out: &mut [f32]) -> Result<()> {
        if index >= self.len() || out.len() != self.dim() {
            return Err(Error::shape(format!(
                "grid point {index} into {} values; the grid has {} points of {} parameters",
                out.len(),
                self.len(),
                self.dim()
            )));
        }
        let (a, b) = (
            f64::from(self.alphas[index / self.betas.len()]),
            f64::from(self.betas[index % self.betas.len()]),
        );
        for (c, o) in out.iter_mut().enumerate() {
            *o = (f64::from(self.base[c]) + a * f64::from(self.d1[c]) + b * f64::from(self.d2[c]))
                as f32;
        }
        ensure_finite("grid point", out.iter().copied())
    }
}

/// The grid `θ* + α δ_1 + β δ_2` for `α` in `alphas` and `β` in `betas` (`final_params`, `d1`,
/// `d2` of equal length, finite).
pub fn plane_grid(
    final_params: ArrayView1<f32>,
    d1: ArrayView1<f32>,
    d2: ArrayView1<f32>,
    alphas: &Linspace,
    betas: &Linspace,
) -> Result<ParameterGrid> {
    let p = final_params.len();
    if d1.len() != p || d2.len() != p {
        return Err(Error::shape(format!(
            "plane grid: final parameters have {p} values but the directions have {} and {}",
            d1.len(),
            d2.len()
        )));
    }
    ensure_finite("final parameters", final_params.iter().copied())?;
    ensure_finite("first direction", d1.iter().copied())?;
    ensure_finite("second direction", d2.iter().copied())?;
    // Checked on the requested steps, before their values are allocated.
    let points = alphas.steps.saturating_mul(betas.steps);
    if points > MAX_GRID_POINTS {
        return Err(Error::TooLarge {
            what: "loss grid".into(),
            shape: vec![alphas.steps, betas.steps],
            elements: (alphas.steps as u128 * betas.steps as u128).to_string(),
            limit: MAX_GRID_POINTS,
        });
    }
    let alpha_values = alphas.values()?;
    let beta_values = betas.values()?;
    Ok(ParameterGrid {
        alphas: alpha_values,
        betas: beta_values,
        base: final_params.to_vec(),
        d1: d1.to_vec(),
        d2: d2.to_vec(),
    })
}

/// Most points a [`ParameterGrid`] may have (each point is one pass over a dataset).
pub const MAX_GRID_POINTS: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    /// A path in the plane spanned by two orthonormal vectors through `final`, plus the final.
    fn planar_path() -> (Array2<f32>, Array1<f32>, Array1<f32>, Array1<f32>) {
        let u = Array1::from(vec![0.6f32, 0.8, 0.0, 0.0, 0.0]);
        let w = Array1::from(vec![0.0f32, 0.0, 0.0, 1.0, 0.0]);
        let fin = Array1::from(vec![0.5f32, -1.0, 2.0, 0.25, 3.0]);
        let coefficients = [
            (4.0f32, 1.0f32),
            (3.0, -1.5),
            (2.0, 0.5),
            (1.0, -0.25),
            (0.0, 0.0),
        ];
        let mut snapshots = Array2::<f32>::zeros((coefficients.len(), 5));
        for (i, (a, b)) in coefficients.iter().enumerate() {
            let row = &fin + &(&u * *a) + &(&w * *b);
            snapshots.row_mut(i).assign(&row);
        }
        (snapshots, fin, u, w)
    }

    #[test]
    fn planar_path_is_reproduced_exactly() {
        let (snapshots, fin, _, _) = planar_path();
        let path = project_trajectory(snapshots.view()).unwrap();
        let ratio = path.explained_variance_ratio;
        assert!((ratio[0] + ratio[1] - 1.0).abs() < 1e-5, "{ratio:?}");
        assert!(ratio[0] >= ratio[1]);
        // Every snapshot is final + x d1 + y d2 with its coordinates.
        for (i, snapshot) in snapshots.rows().into_iter().enumerate() {
            let (x, y) = (path.coordinates[[i, 0]], path.coordinates[[i, 1]]);
            let rebuilt = &fin + &(&path.directions.row(0) * x) + &(&path.directions.row(1) * y);
            for (a, b) in rebuilt.iter().zip(snapshot.iter()) {
                assert!((a - b).abs() < 1e-5, "snapshot {i}: {a} vs {b}");
            }
        }
        assert_eq!(path.coordinates.row(4).to_vec(), vec![0.0, 0.0]);
    }

    #[test]
    fn directions_are_orthonormal() {
        let (snapshots, ..) = planar_path();
        let d = project_trajectory(snapshots.view()).unwrap().directions;
        let g = d.dot(&d.t());
        assert!((g[[0, 0]] - 1.0).abs() < 1e-6 && (g[[1, 1]] - 1.0).abs() < 1e-6);
        assert!(g[[0, 1]].abs() < 1e-6);
    }

    #[test]
    fn grid_hits_snapshots_at_their_coordinates() {
        let (snapshots, fin, u, w) = planar_path();
        let alphas = Linspace {
            start: 0.0,
            end: 4.0,
            steps: 5,
        };
        let betas = Linspace {
            start: -1.0,
            end: 1.0,
            steps: 3,
        };
        let grid = plane_grid(fin.view(), u.view(), w.view(), &alphas, &betas).unwrap();
        assert_eq!(grid.alphas, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(grid.betas, vec![-1.0, 0.0, 1.0]);
        assert_eq!((grid.len(), grid.dim()), (15, 5));
        // alpha = 4, beta = 1 is point 4 * 3 + 2; snapshot 0 is final + 4u + 1w.
        let mut point = vec![0.0; 5];
        grid.point(14, &mut point).unwrap();
        for (a, b) in point.iter().zip(snapshots.row(0).iter()) {
            assert!((a - b).abs() < 1e-6);
        }
        // alpha = 0, beta = 0 is the final weights.
        grid.point(1, &mut point).unwrap();
        assert_eq!(point, fin.to_vec());
        assert!(grid.point(15, &mut point).is_err());
    }

    #[test]
    fn linspace_matches_numpy() {
        let l = Linspace {
            start: -1.0,
            end: 1.0,
            steps: 5,
        };
        assert_eq!(l.values().unwrap(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(
            Linspace {
                start: 2.0,
                end: 9.0,
                steps: 1
            }
            .values()
            .unwrap(),
            vec![2.0]
        );
        assert!(Linspace {
            start: 0.0,
            end: 1.0,
            steps: 0
        }
        .values()
        .is_err());
        assert!(Linspace {
            start: f32::NAN,
            end: 1.0,
            steps: 3
        }
        .values()
        .is_err());
    }

    #[test]
    fn rejects_bad_trajectories_and_grids() {
        let two = array![[1.0f32, 2.0], [0.0, 0.0]];
        assert!(project_trajectory(two.view())
            .unwrap_err()
            .to_string()
            .contains("at least 3 snapshots"));
        let still = Array2::<f32>::from_elem((4, 3), 1.5);
        assert!(project_trajectory(still.view())
            .unwrap_err()
            .to_string()
            .contains("all 4 snapshots are equal"));
        let fin = Array1::<f32>::zeros(3);
        let short = Array1::<f32>::zeros(2);
        let axis = Linspace {
            start: -1.0,
            end: 1.0,
            steps: 3,
        };
        let e = plane_grid(fin.view(), short.view(), fin.view(), &axis, &axis).unwrap_err();
        assert!(e.to_string().contains("directions have 2 and 3"), "{e}");
        let huge = Linspace {
            start: -1.0,
            end: 1.0,
            steps: 1 << 14,
        };
        let e = plane_grid(fin.view(), fin.view(), fin.view(), &huge, &huge).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    }

    /// An axis of `usize::MAX / 4` steps (in wasm32 2^30 - 1, 4 GiB of values; `lossSurface`
    /// took up to 2^32 - 1 steps, 16 GiB) was allocated before the grid's size was checked (seen
    /// while writing the `options` fuzz target). It is refused from the steps, naming the limit.
    #[test]
    fn a_grid_axis_of_huge_steps_is_refused_before_its_values_are_allocated() {
        let fin = Array1::<f32>::zeros(3);
        let one = Linspace {
            start: 0.0,
            end: 0.0,
            steps: 1,
        };
        let long = Linspace {
            start: -1.0,
            end: 1.0,
            steps: usize::MAX / 4,
        };
        for (alphas, betas) in [(&long, &one), (&one, &long), (&long, &long)] {
            let e = plane_grid(fin.view(), fin.view(), fin.view(), alphas, betas).unwrap_err();
            assert!(e.to_string().contains(&MAX_GRID_POINTS.to_string()), "{e}");
        }
    }
}
