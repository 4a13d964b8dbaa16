//! The gradient of t-SNE's objective `KL(P‖Q)` with respect to the embedding, and the KL
//! divergence itself, for both methods of [`super::Method`].
//!
//! `∂KL/∂y_i = c Σ_j (p_ij - q_ij) g_ij (y_i - y_j)` with `c = 2 (α + 1) / α`,
//! `g_ij = (1 + ‖y_i - y_j‖² / α)^(-1)`, `w_ij = (1 + ‖y_i - y_j‖² / α)^(-(α + 1) / 2)` and
//! `q_ij = w_ij / Z`, `Z = Σ_{k≠l} w_kl`, written as `c (attraction_i - repulsion_i / Z)` with
//! `attraction_i = Σ_j p_ij g_ij (y_i - y_j)` and `repulsion_i = Σ_j w_ij g_ij (y_i - y_j)`
//! (van der Maaten & Hinton 2008; van der Maaten 2009 for `α ≠ 1`):
//!
//! * **exact** ([`exact_gradient`]): one pass over the pairs `i < j` of the condensed `P`
//!   accumulates both sums and `Z`, with a dedicated loop for 2 components (`α = 1`,
//!   `w = g`) that keeps one record per row and runs over L1-sized column blocks;
//! * **Barnes-Hut** ([`barnes_hut_gradient`], van der Maaten 2014): attraction over the sparse
//!   `P` exactly, repulsion and `Z` from the space-partitioning tree (`tree.rs`), the KL
//!   divergence estimated over the stored `p_ij` with that `Z`, as scikit-learn's
//!   `_barnes_hut_tsne.pyx` computes it.

use super::affinity::Csr;
use super::tree::{self, Tree};
use crate::parallel;

/// The Student-t similarity `w = (1 + d² / α)^(-(α + 1) / 2)` and the weight of `y_i - y_j` in
/// its gradient, `g = (1 + d² / α)^(-1)` (equal for `α = 1`).
#[inline(always)]
fn student_t(dist2: f64, dof: f64) -> (f64, f64) {
    let g = dof / (dof + dist2);
    if dof == 1.0 {
        (g, g)
    } else {
        (g.powf((dof + 1.0) / 2.0), g)
    }
}

/// Exact gradient (see the module documentation) into `grad`; `repulsion` is scratch of the
/// same length. Returns the KL divergence when `compute_error`.
#[allow(clippy::too_many_arguments)]
pub(super) fn exact_gradient(
    p: &[f32],
    factor: f64,
    y: &[f64],
    n: usize,
    dims: usize,
    dof: f64,
    grad: &mut [f64],
    repulsion: &mut [f64],
    compute_error: bool,
) -> Option<f64> {
    // A dedicated loop for the usual 2-D map; a specialised copy of the generic body for 3-D.
    match dims {
        2 if compute_error => Some(exact_gradient_2d::<true>(p, factor, y, n, grad)),
        2 => {
            exact_gradient_2d::<false>(p, factor, y, n, grad);
            None
        }
        3 => exact_gradient_body(p, factor, y, n, 3, dof, grad, repulsion, compute_error),
        _ => exact_gradient_body(p, factor, y, n, dims, dof, grad, repulsion, compute_error),
    }
}

/// Pairs per step of the 2-D exact loop (independent partial sums).
const LANES: usize = 4;
/// Rows `j` per column block of the 2-D exact loop: their coordinates and sums take
/// 48 × 512 bytes = 24 KiB, within a 32 KiB L1 data cache.
const BLOCK: usize = 512;

/// Per row of the 2-D exact loop: coordinates, then the attraction and repulsion sums (x, y).
/// One record per row keeps each row's loads and stores on one cache line, away from the
/// false store-to-load dependencies (4K aliasing) that separate arrays can hit.
#[derive(Clone, Copy, Default)]
struct Row2 {
    x: f64,
    y: f64,
    ax: f64,
    ay: f64,
    rx: f64,
    ry: f64,
}

/// One pair `(i, j)` of the 2-D exact loop: the contributions to `j` are subtracted in place,
/// those to `i` (attraction x/y, repulsion x/y, `w`) and to the KL terms go to lane `l`.
#[inline(always)]
fn pair_2d<const ERROR: bool>(
    factor: f64,
    (xi, yi): (f64, f64),
    p: f32,
    j: &mut Row2,
    sums: &mut [[f64; LANES]; 5],
    errors: &mut [[f64; LANES]; 3],
    l: usize,
) {
    let dx = xi - j.x;
    let dy = yi - j.y;
    let dist2 = dx * dx + dy * dy;
    let w = 1.0 / (1.0 + dist2);
    let pij = factor * p as f64;
    let pw = pij * w;
    let ww = w * w;
    sums[0][l] += pw * dx;
    sums[1][l] += pw * dy;
    sums[2][l] += ww * dx;
    sums[3][l] += ww * dy;
    sums[4][l] += w;
    j.ax -= pw * dx;
    j.ay -= pw * dy;
    j.rx -= ww * dx;
    j.ry -= ww * dy;
    if ERROR {
        errors[0][l] += pij * pij.max(f64::EPSILON).ln();
        errors[1][l] -= pij * dist2.ln_1p();
        errors[2][l] += pij;
    }
}

/// [`exact_gradient_body`] for 2 components (`α = 1`, `w = g = 1 / (1 + d²)`), over one
/// record per row so the inner loop runs over plain slices without bounds checks, in column
/// blocks that stay in L1. Returns the KL divergence when `ERROR` (0 otherwise).
fn exact_gradient_2d<const ERROR: bool>(
    p: &[f32],
    factor: f64,
    y: &[f64],
    n: usize,
    grad: &mut [f64],
) -> f64 {
    let mut rows: Vec<Row2> = y
        .chunks_exact(2)
        .map(|c| Row2 {
            x: c[0],
            y: c[1],
            ..Row2::default()
        })
        .collect();
    let (mut half_z, mut p_log_p, mut p_log_w, mut p_sum) = (0.0, 0.0, 0.0, 0.0);
    for j_start in (0..n).step_by(BLOCK) {
        let j_end = (j_start + BLOCK).min(n);
        for i in 0..j_end.saturating_sub(1) {
            let j0 = j_start.max(i + 1);
            let len = j_end - j0;
            // Condensed index of the pair (i, j0).
            let start = i * (2 * n - i - 1) / 2 + (j0 - i - 1);
            let p_row = &p[start..start + len];
            let (head, tail) = rows.split_at_mut(j0);
            let point_i = (head[i].x, head[i].y);
            let block = &mut tail[..len];
            // LANES independent partial sums, so the compiler can keep them in SIMD registers.
            let mut sums = [[0.0f64; LANES]; 5];
            let mut errors = [[0.0f64; LANES]; 3];
            let mut p_chunks = p_row.chunks_exact(LANES);
            let mut j_chunks = block.chunks_exact_mut(LANES);
            for (pc, jc) in (&mut p_chunks).zip(&mut j_chunks) {
                for l in 0..LANES {
                    pair_2d::<ERROR>(
                        factor,
                        point_i,
                        pc[l],
                        &mut jc[l],
                        &mut sums,
                        &mut errors,
                        l,
                    );
                }
            }
            for (&pk, jk) in p_chunks.remainder().iter().zip(j_chunks.into_remainder()) {
                pair_2d::<ERROR>(factor, point_i, pk, jk, &mut sums, &mut errors, 0);
            }
            let total = |lanes: &[f64; LANES]| lanes.iter().sum::<f64>();
            let row_i = &mut head[i];
            row_i.ax += total(&sums[0]);
            row_i.ay += total(&sums[1]);
            row_i.rx += total(&sums[2]);
            row_i.ry += total(&sums[3]);
            half_z += total(&sums[4]);
            if ERROR {
                p_log_p += total(&errors[0]);
                p_log_w += total(&errors[1]);
                p_sum += total(&errors[2]);
            }
        }
    }
    let z = (2.0 * half_z).max(f64::MIN_POSITIVE);
    for (g, r) in grad.chunks_exact_mut(2).zip(&rows) {
        g[0] = 4.0 * (r.ax - r.rx / z);
        g[1] = 4.0 * (r.ay - r.ry / z);
    }
    if ERROR {
        2.0 * (p_log_p - p_log_w + p_sum * z.ln())
    } else {
        0.0
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn exact_gradient_body(
    p: &[f32],
    factor: f64,
    y: &[f64],
    n: usize,
    dims: usize,
    dof: f64,
    grad: &mut [f64],
    repulsion: &mut [f64],
    compute_error: bool,
) -> Option<f64> {
    grad.fill(0.0);
    repulsion.fill(0.0);
    let mut half_z = 0.0;
    // KL = 2 Σ_{i<j} p (ln max(p, eps) - ln w) + 2 (Σ_{i<j} p) ln Z, with p = factor·p_ij.
    let mut p_log_p = 0.0;
    let mut p_log_w = 0.0;
    let mut p_sum = 0.0;
    let exponent = (dof + 1.0) / 2.0;
    let mut delta = [0.0f64; tree::MAX_DIMS];
    let mut delta_dyn = vec![0.0f64; if dims > tree::MAX_DIMS { dims } else { 0 }];
    for i in 0..n {
        let yi = &y[i * dims..(i + 1) * dims];
        // Row i of the condensed triangle starts at the index of the pair (i, i + 1).
        let row = &p[i * (2 * n - i - 1) / 2..];
        for (offset, j) in (i + 1..n).enumerate() {
            let yj = &y[j * dims..(j + 1) * dims];
            let d: &mut [f64] = if dims <= tree::MAX_DIMS {
                &mut delta[..dims]
            } else {
                &mut delta_dyn
            };
            let mut dist2 = 0.0;
            for a in 0..dims {
                d[a] = yi[a] - yj[a];
                dist2 += d[a] * d[a];
            }
            let (w, g) = student_t(dist2, dof);
            half_z += w;
            let pij = factor * row[offset] as f64;
            let attract = pij * g;
            let repel = w * g;
            for a in 0..dims {
                grad[i * dims + a] += attract * d[a];
                grad[j * dims + a] -= attract * d[a];
                repulsion[i * dims + a] += repel * d[a];
                repulsion[j * dims + a] -= repel * d[a];
            }
            if compute_error {
                p_log_p += pij * pij.max(f64::EPSILON).ln();
                // ln w = -exponent · ln(1 + d² / dof)
                p_log_w -= pij * exponent * (dist2 / dof).ln_1p();
                p_sum += pij;
            }
        }
    }
    let z = (2.0 * half_z).max(f64::MIN_POSITIVE);
    let c = 2.0 * (dof + 1.0) / dof;
    for (g, r) in grad.iter_mut().zip(repulsion.iter()) {
        *g = c * (*g - r / z);
    }
    compute_error.then(|| 2.0 * (p_log_p - p_log_w + p_sum * z.ln()))
}

/// Points per piece of work of the Barnes-Hut loops (each point's tree walk or edges are
/// independent; the threaded build runs the pieces on its pool).
const POINTS_PER_PIECE: usize = 64;
/// Rough multiply-adds of one point's tree walk, for [`parallel`]'s decision.
const TREE_WALK_WORK: usize = 400;

/// Barnes-Hut gradient (see the module documentation) into `grad`; `repulsion` is scratch of
/// the same length. Returns the estimated KL divergence when `compute_error`.
///
/// Each point's repulsion (a tree walk) and attraction (its edges of `P`) is computed on its
/// own, in pieces of [`POINTS_PER_PIECE`] points that the threaded build runs on its pool; `Z`
/// and the KL divergence are summed over the points in order afterwards (the KL divergence, every
/// [`super::CHECK_EVERY`] iterations, in one pass), so every build gives the same bits.
#[allow(clippy::too_many_arguments)]
pub(super) fn barnes_hut_gradient(
    p: &Csr,
    factor: f64,
    y: &[f64],
    dims: usize,
    dof: f64,
    angle: f64,
    tree: &mut Tree,
    grad: &mut [f64],
    repulsion: &mut [f64],
    compute_error: bool,
) -> Option<f64> {
    tree.build(y, dims);
    let tree: &Tree = tree;
    let n = y.len() / dims;
    let squared_theta = angle * angle;
    // `grad` holds each point's term of `Z` until the attraction overwrites it.
    let point_sums = &mut grad[..n];
    parallel::for_each_chunk_pair(
        repulsion,
        POINTS_PER_PIECE * dims,
        point_sums,
        POINTS_PER_PIECE,
        POINTS_PER_PIECE * TREE_WALK_WORK,
        |piece, forces, sums| {
            let first = piece * POINTS_PER_PIECE;
            for (k, (force, sum)) in forces.chunks_exact_mut(dims).zip(sums).enumerate() {
                let point = &y[(first + k) * dims..][..dims];
                force.fill(0.0);
                *sum = tree.repulsion(point, squared_theta, |d2| student_t(d2, dof), force);
            }
        },
    );
    let sum_q = grad[..n].iter().fold(0.0, |total, s| total + s);
    let sum_q = sum_q.max(f64::EPSILON);
    let tiny = f32::MIN_POSITIVE as f64;
    let attract = |i: usize, out: &mut [f64], error: &mut f64| {
        let yi = &y[i * dims..][..dims];
        out.fill(0.0);
        for e in p.indptr[i]..p.indptr[i + 1] {
            let j = p.indices[e] as usize;
            let yj = &y[j * dims..(j + 1) * dims];
            let mut dist2 = 0.0;
            for a in 0..dims {
                let d = yi[a] - yj[a];
                dist2 += d * d;
            }
            let (w, g) = student_t(dist2, dof);
            let pij = factor * p.values[e];
            if compute_error {
                *error += pij * (pij.max(tiny) / (w / sum_q).max(tiny)).ln();
            }
            let attract = pij * g;
            for a in 0..dims {
                out[a] += attract * (yi[a] - yj[a]);
            }
        }
    };
    let mut error = 0.0;
    if compute_error {
        // The KL divergence is one running sum over every edge in order.
        for (i, out) in grad.chunks_exact_mut(dims).enumerate() {
            attract(i, out, &mut error);
        }
    } else {
        parallel::for_each_chunk(
            grad,
            POINTS_PER_PIECE * dims,
            POINTS_PER_PIECE * (p.indices.len() / n.max(1) + 1) * dims * 4,
            || 0.0,
            |unused_error, piece, out| {
                for (k, point) in out.chunks_exact_mut(dims).enumerate() {
                    attract(piece * POINTS_PER_PIECE + k, point, unused_error);
                }
            },
        );
    }
    let c = 2.0 * (dof + 1.0) / dof;
    for (g, r) in grad.iter_mut().zip(repulsion.iter()) {
        *g = c * (*g - r / sum_q);
    }
    compute_error.then_some(error)
}
