//! Contour lines of a function sampled on a regular grid, as polylines in the grid's coordinates.
//!
//! Marching squares (Lorensen and Cline's marching cubes in two dimensions): each cell of four
//! neighbouring samples is classified by which corners lie above the level, and the line crosses
//! the cell's edges where linear interpolation between the corner values meets the level. The
//! algorithm is the `contour` crate's (a maintained port of d3-contour by Bostock), used instead
//! of a hand-written one; it closes every line into a ring by running along the outside of the
//! grid, and those border runs are cut off here, so a line that leaves the grid ends at the last
//! cell it crosses.
//!
//! The grid is the layout of [`crate::project::landscape::loss_surface`]: `xs.steps × ys.steps`
//! values, row-major with one row per `x`, value `(i, j)` at `(xs[i], ys[j])`.
//!
//! ```
//! use nnlens::project::trajectory::Linspace;
//! use nnlens::render::contour::contour_lines;
//! // f(x, y) = x on a 3 x 3 grid over [0, 2]²: the level 0.5 is the vertical line x = 0.5.
//! let axis = Linspace { start: 0.0, end: 2.0, steps: 3 };
//! let values = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0];
//! let lines = contour_lines(&values, &axis, &axis, &[0.5]).unwrap();
//! let polyline = &lines[0].polylines[0];
//! assert!(polyline.iter().all(|&(x, _)| (x - 0.5).abs() < 1e-6));
//! assert_eq!(polyline.len(), 3);
//! ```

use crate::error::{ensure_finite, Error, Result};
use crate::project::trajectory::Linspace;
use contour::ContourBuilder;

/// The contour of one level: open or closed polylines of `(x, y)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct ContourLine {
    /// The value along the line.
    pub level: f32,
    /// The pieces of the line; a closed one repeats its first point at the end.
    pub polylines: Vec<Vec<(f32, f32)>>,
}

/// The contour lines of `values` (see the module docs for the layout) at each of `levels`.
pub fn contour_lines(
    values: &[f32],
    xs: &Linspace,
    ys: &Linspace,
    levels: &[f32],
) -> Result<Vec<ContourLine>> {
    let (rows, cols) = (xs.steps, ys.steps);
    if rows < 2 || cols < 2 {
        return Err(Error::invalid(
            "contour grid",
            format!("{rows} x {cols} points; expected at least 2 x 2"),
        ));
    }
    if rows.checked_mul(cols) != Some(values.len()) {
        return Err(Error::shape(format!(
            "contour grid of {rows} x {cols} points holds {} values, expected {}",
            values.len(),
            rows.saturating_mul(cols)
        )));
    }
    xs.values()?;
    ys.values()?;
    ensure_finite("contour grid values", values.iter().copied())?;
    ensure_finite("contour levels", levels.iter().copied())?;
    let grid: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
    let thresholds: Vec<f64> = levels.iter().map(|&v| f64::from(v)).collect();
    // The crate's x runs along a row (our columns, y), its y down the rows (our x); sample
    // (row r, column c) sits at its point (c + 0.5, r + 0.5).
    let lines = ContourBuilder::new(cols, rows, true)
        .lines(&grid, &thresholds)
        .map_err(|e| Error::Render(format!("contour lines: {e:?}")))?;
    let step = |axis: &Linspace| f64::from(axis.end - axis.start) / (axis.steps - 1) as f64;
    let (hx, hy) = (step(xs), step(ys));
    let to_plane = |column: f64, row: f64| {
        (
            (f64::from(xs.start) + (row - 0.5) * hx) as f32,
            (f64::from(ys.start) + (column - 0.5) * hy) as f32,
        )
    };
    let on_border = |column: f64, row: f64| {
        column <= 0.0 || row <= 0.0 || column >= cols as f64 || row >= rows as f64
    };
    Ok(lines
        .into_iter()
        .map(|line| {
            let (geometry, level) = line.into_inner();
            let mut polylines = Vec::new();
            for ring in geometry.0 {
                let points: Vec<(f64, f64)> = ring.0.iter().map(|c| (c.x, c.y)).collect();
                for piece in inside_pieces(&points, |&(c, r)| on_border(c, r)) {
                    polylines.push(piece.into_iter().map(|(c, r)| to_plane(c, r)).collect());
                }
            }
            ContourLine {
                level: level as f32,
                polylines,
            }
        })
        .collect())
}

/// Splits a closed ring (first point repeated at the end) into the runs of at least two points
/// between points that `outside` rejects; a ring with no such point is returned whole.
fn inside_pieces<P: Copy>(ring: &[P], outside: impl Fn(&P) -> bool) -> Vec<Vec<P>> {
    let Some(first_out) = ring.iter().position(&outside) else {
        return if ring.len() >= 2 {
            vec![ring.to_vec()]
        } else {
            Vec::new()
        };
    };
    let open = &ring[..ring.len() - 1];
    let mut pieces = Vec::new();
    let mut run: Vec<P> = Vec::new();
    for k in 1..=open.len() {
        let p = open[(first_out + k) % open.len()];
        if outside(&p) {
            if run.len() >= 2 {
                pieces.push(std::mem::take(&mut run));
            }
            run.clear();
        } else {
            run.push(p);
        }
    }
    pieces
}

/// The most contour levels [`contour_levels`] draws (each is a labelled line).
pub const MAX_LEVELS: usize = 50;

/// `count` contour levels strictly between the smallest and largest of `values`: evenly spaced
/// on a log scale when all values are positive (a loss surface spans orders of magnitude from
/// its minimum to its rim), evenly spaced otherwise. `count` is at most [`MAX_LEVELS`].
pub fn contour_levels(values: &[f32], count: usize) -> Result<Vec<f32>> {
    if count > MAX_LEVELS {
        return Err(Error::invalid(
            "levels",
            format!("{count} is more than {MAX_LEVELS} contour levels"),
        ));
    }
    if values.is_empty() {
        return Err(Error::invalid(
            "contour grid values",
            "none given; there is nothing to draw",
        ));
    }
    ensure_finite("contour grid values", values.iter().copied())?;
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(f64::from(v)), hi.max(f64::from(v)))
        });
    if hi <= lo {
        return Ok(Vec::new());
    }
    let fraction = |k: usize| k as f64 / (count + 1) as f64;
    Ok((1..=count)
        .map(|k| {
            if lo > 0.0 {
                (lo * (hi / lo).powf(fraction(k))) as f32
            } else {
                (lo + (hi - lo) * fraction(k)) as f32
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(start: f32, end: f32, steps: usize) -> Linspace {
        Linspace { start, end, steps }
    }

    /// A paraboloid's level sets are circles: every contour point lies at radius √level (up to
    /// the linear interpolation between grid points), and each level is one closed ring.
    #[test]
    fn circles_of_a_paraboloid() {
        let (xs, ys) = (axis(-2.0, 2.0, 41), axis(-2.0, 2.0, 41));
        let (xv, yv) = (xs.values().unwrap(), ys.values().unwrap());
        let values: Vec<f32> = xv
            .iter()
            .flat_map(|&x| yv.iter().map(move |&y| x * x + y * y))
            .collect();
        let lines = contour_lines(&values, &xs, &ys, &[0.5, 1.0, 2.0]).unwrap();
        assert_eq!(lines.len(), 3);
        for line in &lines {
            assert_eq!(line.polylines.len(), 1, "level {}", line.level);
            let ring = &line.polylines[0];
            assert_eq!(ring.first(), ring.last(), "closed");
            for &(x, y) in ring {
                let r = (x * x + y * y).sqrt();
                assert!(
                    (r - line.level.sqrt()).abs() < 0.01,
                    "{r} at level {}",
                    line.level
                );
            }
        }
    }

    /// Axes are mapped independently: f(x, y) = y on a grid whose x and y ranges differ gives a
    /// horizontal line spanning the x range, open at both ends (the border runs are cut off).
    #[test]
    fn lines_leaving_the_grid_are_open_and_in_plane_coordinates() {
        let (xs, ys) = (axis(10.0, 14.0, 5), axis(-1.0, 1.0, 3));
        let yv = ys.values().unwrap();
        let values: Vec<f32> = (0..5).flat_map(|_| yv.iter().copied()).collect();
        let lines = contour_lines(&values, &xs, &ys, &[0.25, 5.0]).unwrap();
        assert_eq!(lines[0].polylines.len(), 1);
        let line = &lines[0].polylines[0];
        assert!(
            line.iter().all(|&(_, y)| (y - 0.25).abs() < 1e-6),
            "{line:?}"
        );
        let mut x: Vec<f32> = line.iter().map(|p| p.0).collect();
        x.sort_by(f32::total_cmp);
        assert_eq!(x, [10.0, 11.0, 12.0, 13.0, 14.0]);
        assert!(lines[1].polylines.is_empty(), "a level above every value");
    }

    #[test]
    fn rejects_bad_grids() {
        let a = axis(0.0, 1.0, 2);
        assert!(contour_lines(&[0.0; 3], &a, &a, &[0.5]).is_err());
        assert!(contour_lines(&[0.0; 2], &axis(0.0, 1.0, 1), &a, &[0.5]).is_err());
        let err = contour_lines(&[0.0, f32::NAN, 0.0, 0.0], &a, &a, &[0.5]).unwrap_err();
        assert!(err.to_string().contains("contour grid values"), "{err}");
        assert!(contour_lines(&[0.0; 4], &a, &a, &[f32::INFINITY]).is_err());
    }

    #[test]
    fn levels_are_logarithmic_for_positive_values_and_linear_otherwise() {
        let log = contour_levels(&[1.0, 1000.0, 10.0], 2).unwrap();
        assert!(
            (log[0] - 10.0).abs() < 1e-3 && (log[1] - 100.0).abs() < 1e-2,
            "{log:?}"
        );
        assert_eq!(contour_levels(&[-1.0, 2.0], 2).unwrap(), [0.0, 1.0]);
        assert!(contour_levels(&[3.0, 3.0], 4).unwrap().is_empty());
        assert!(contour_levels(&[], 4).is_err());
        assert_eq!(contour_levels(&[1.0, 2.0], MAX_LEVELS).unwrap().len(), 50);
        let err = contour_levels(&[1.0, 2.0], 51).unwrap_err().to_string();
        assert_eq!(err, "invalid levels: 51 is more than 50 contour levels");
    }

    #[test]
    fn pieces_of_a_ring_cut_at_outside_points() {
        let ring = [0, 1, 2, -1, 3, 4, -1, 5, 0];
        let pieces = inside_pieces(&ring, |&p| p < 0);
        assert_eq!(pieces, vec![vec![3, 4], vec![5, 0, 1, 2]]);
        assert_eq!(inside_pieces(&[1, 2, 1], |&p| p < 0), vec![vec![1, 2, 1]]);
    }
}
