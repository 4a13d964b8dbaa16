//! The space-partitioning tree of Barnes-Hut t-SNE (van der Maaten 2014, §4.2): a quadtree
//! for 2-D embeddings, a binary tree in 1-D and an octree in 3-D.
//!
//! It is built as scikit-learn's `_QuadTree` (`sklearn/neighbors/_quad_tree.pyx`) builds it:
//! the root box spans the data, its upper bound pushed out by `max(1e-3·|M|, 1e-3)` so every
//! point lies strictly inside; a cell splits at its centre; a leaf holds one point, or several
//! that agree within `1e-6` in every coordinate (duplicates); each cell keeps the number of
//! points below it, their centre of mass and its squared largest side.
//!
//! [`Tree::repulsion`] sums the repulsive (negative) t-SNE forces on one point as
//! scikit-learn's `summarize` + `compute_gradient_negative` do: a cell is used as a single body
//! at its centre of mass when it is a leaf, or when `side² / dist² < θ²` (tested as
//! `side² < θ² dist²`); a leaf holding the query point itself (a duplicate of it) is skipped.
//! The cells are visited in scikit-learn's order, but from a depth-first array with skip
//! indices instead of a recursion, which keeps the walk in one contiguous block of memory.
//!
//! Unlike scikit-learn, cells stop splitting at depth 64 (their points then count as
//! duplicates), so that coordinates too large for the halving to separate cannot loop forever.

/// Coordinates beyond this many dimensions are not supported by the tree.
pub(crate) const MAX_DIMS: usize = 3;
/// Two points closer than this in every coordinate share a leaf (scikit-learn's `EPSILON`).
const DUPLICATE: f64 = 1e-6;
const NONE: u32 = u32::MAX;
/// Cells deeper than this are not split: their points are treated as duplicates. Halving a
/// side 64 times takes any embedding extent below the duplicate tolerance, unless rounding
/// stops the halving (coordinates beyond about 1e10), which would otherwise split forever.
const MAX_DEPTH: u32 = 64;

#[derive(Debug, Clone)]
struct Cell {
    children: [u32; 1 << MAX_DIMS],
    is_leaf: bool,
    depth: u32,
    size: usize,
    squared_width: f64,
    center: [f64; MAX_DIMS],
    min: [f64; MAX_DIMS],
    max: [f64; MAX_DIMS],
    barycenter: [f64; MAX_DIMS],
}

impl Cell {
    fn empty() -> Cell {
        Cell {
            children: [NONE; 1 << MAX_DIMS],
            is_leaf: true,
            depth: 0,
            size: 0,
            squared_width: 0.0,
            center: [0.0; MAX_DIMS],
            min: [0.0; MAX_DIMS],
            max: [0.0; MAX_DIMS],
            barycenter: [0.0; MAX_DIMS],
        }
    }
}

/// A cell as the force computation reads it: the cells in depth-first order (children in slot
/// order, as scikit-learn's recursion visits them), each with the index just past its subtree.
#[derive(Debug, Clone, Copy)]
struct Node {
    barycenter: [f64; MAX_DIMS],
    squared_width: f64,
    size: f64,
    /// Index of the next node outside this one's subtree.
    skip: u32,
    is_leaf: bool,
}

/// A Barnes-Hut tree over points of 1 to 3 dimensions. The storage is kept between rebuilds,
/// so rebuilding every iteration does not allocate.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    dims: usize,
    cells: Vec<Cell>,
    nodes: Vec<Node>,
    /// Scratch of the depth-first ordering: subtree sizes, then the stack.
    subtree: Vec<u32>,
    stack: Vec<u32>,
}

impl Tree {
    /// An empty tree.
    pub(crate) fn new() -> Tree {
        Tree::default()
    }

    /// Number of points in the tree.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cells.first().map_or(0, |c| c.size)
    }

    /// Rebuilds the tree over `points` (row-major, `dims` per point, all finite).
    pub(crate) fn build(&mut self, points: &[f64], dims: usize) {
        assert!(
            (1..=MAX_DIMS).contains(&dims),
            "tree dimensions {dims} not in 1..=3"
        );
        debug_assert!(points.iter().all(|v| v.is_finite()));
        self.dims = dims;
        self.cells.clear();
        let mut root = Cell::empty();
        for a in 0..dims {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for p in points.chunks_exact(dims) {
                lo = lo.min(p[a]);
                hi = hi.max(p[a]);
            }
            hi = (hi * (1.0 + 1e-3 * sign(hi))).max(hi + 1e-3);
            root.min[a] = lo;
            root.max[a] = hi;
            root.center[a] = (lo + hi) / 2.0;
            root.squared_width = root.squared_width.max((hi - lo) * (hi - lo));
        }
        self.cells.push(root);
        for p in points.chunks_exact(dims) {
            let mut point = [0.0; MAX_DIMS];
            point[..dims].copy_from_slice(p);
            self.insert(&point);
        }
        self.flatten();
    }

    /// Lays the cells out depth-first in `nodes`, each with the end of its subtree, so the force
    /// computation walks one array front to back: into a cell by `+1`, past it by `skip`.
    fn flatten(&mut self) {
        let children = 1usize << self.dims;
        // Children are created after their parent, so a reverse sweep sees them first.
        self.subtree.clear();
        self.subtree.resize(self.cells.len(), 1);
        for id in (0..self.cells.len()).rev() {
            let below: u32 = self.cells[id].children[..children]
                .iter()
                .filter(|&&c| c != NONE)
                .map(|&c| self.subtree[c as usize])
                .sum();
            self.subtree[id] += below;
        }
        self.nodes.clear();
        self.stack.clear();
        self.stack.push(0);
        while let Some(id) = self.stack.pop() {
            let cell = &self.cells[id as usize];
            let index = self.nodes.len() as u32;
            self.nodes.push(Node {
                barycenter: cell.barycenter,
                squared_width: cell.squared_width,
                size: cell.size as f64,
                skip: index + self.subtree[id as usize],
                is_leaf: cell.is_leaf,
            });
            for &child in cell.children[..children].iter().rev() {
                if child != NONE {
                    self.stack.push(child);
                }
            }
        }
    }

    fn insert(&mut self, point: &[f64; MAX_DIMS]) {
        let dims = self.dims;
        let mut id = 0usize;
        loop {
            let cell = &mut self.cells[id];
            if cell.size == 0 {
                cell.size = 1;
                cell.barycenter = *point;
                return;
            }
            if !cell.is_leaf {
                let n = cell.size as f64;
                for (b, &v) in cell.barycenter[..dims].iter_mut().zip(point) {
                    *b = (n * *b + v) / (n + 1.0);
                }
                cell.size += 1;
                let slot = child_slot(point, &cell.center, dims);
                let child = cell.children[slot];
                if child == NONE {
                    self.new_child(id, point, 1);
                    return;
                }
                id = child as usize;
                continue;
            }
            if cell.depth >= MAX_DEPTH
                || (0..dims).all(|a| (point[a] - cell.barycenter[a]).abs() <= DUPLICATE)
            {
                cell.size += 1;
                return;
            }
            // A leaf that must split: its point(s) move to a child, then insert again here.
            let (barycenter, size) = (cell.barycenter, cell.size);
            self.new_child(id, &barycenter, size);
        }
    }

    fn new_child(&mut self, parent: usize, point: &[f64; MAX_DIMS], size: usize) {
        let dims = self.dims;
        let id = self.cells.len() as u32;
        let cell = &mut self.cells[parent];
        let mut child = Cell::empty();
        let slot = child_slot(point, &cell.center, dims);
        #[allow(clippy::needless_range_loop)] // `a` indexes five arrays
        for a in 0..dims {
            if point[a] >= cell.center[a] {
                child.min[a] = cell.center[a];
                child.max[a] = cell.max[a];
            } else {
                child.min[a] = cell.min[a];
                child.max[a] = cell.center[a];
            }
            child.center[a] = (child.min[a] + child.max[a]) / 2.0;
            let width = child.max[a] - child.min[a];
            child.squared_width = child.squared_width.max(width * width);
        }
        child.barycenter = *point;
        child.size = size;
        child.depth = cell.depth + 1;
        cell.is_leaf = false;
        cell.children[slot] = id;
        self.cells.push(child);
    }

    /// Repulsive forces on `point`: adds `Σ size·w·g·(point - centre)` over the bodies used
    /// to `force` and returns `Σ size·w`, where `(w, g) = kernel(dist²)` are the unnormalised
    /// Student-t similarity and the weight of the distance in its gradient.
    pub(crate) fn repulsion(
        &self,
        point: &[f64],
        squared_theta: f64,
        kernel: impl Fn(f64) -> (f64, f64),
        force: &mut [f64],
    ) -> f64 {
        let dims = self.dims;
        let mut sum = 0.0;
        let mut k = 0;
        while let Some(node) = self.nodes.get(k) {
            let mut delta = [0.0; MAX_DIMS];
            let mut dist2 = 0.0;
            let mut duplicate = true;
            for a in 0..dims {
                delta[a] = point[a] - node.barycenter[a];
                dist2 += delta[a] * delta[a];
                duplicate &= delta[a].abs() <= DUPLICATE;
            }
            if node.is_leaf && duplicate {
                // The query point's own leaf.
                k = node.skip as usize;
            } else if node.is_leaf || node.squared_width < squared_theta * dist2 {
                // One body at the centre of mass (scikit-learn: width² / dist² < θ²).
                let (w, g) = kernel(dist2);
                sum += node.size * w;
                let mult = node.size * w * g;
                for a in 0..dims {
                    force[a] += mult * delta[a];
                }
                k = node.skip as usize;
            } else {
                k += 1;
            }
        }
        sum
    }
}

fn child_slot(point: &[f64; MAX_DIMS], center: &[f64; MAX_DIMS], dims: usize) -> usize {
    let mut slot = 0;
    for a in 0..dims {
        slot *= 2;
        if point[a] >= center[a] {
            slot += 1;
        }
    }
    slot
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cauchy(d2: f64) -> (f64, f64) {
        (1.0 / (1.0 + d2), 1.0 / (1.0 + d2))
    }

    fn brute(points: &[f64], dims: usize, i: usize) -> (f64, Vec<f64>) {
        let mut sum = 0.0;
        let mut force = vec![0.0; dims];
        for (j, q) in points.chunks_exact(dims).enumerate() {
            if j == i {
                continue;
            }
            let p = &points[i * dims..(i + 1) * dims];
            let d2: f64 = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
            let (w, _) = cauchy(d2);
            sum += w;
            for a in 0..dims {
                force[a] += w * w * (p[a] - q[a]);
            }
        }
        (sum, force)
    }

    fn points(n: usize, dims: usize) -> Vec<f64> {
        // Distinct coordinates (fractional parts of multiples of the golden ratio).
        (0..n * dims)
            .map(|k| ((k + 1) as f64 * 0.618_033_988_749_895).fract() * 10.0)
            .collect()
    }

    #[test]
    fn theta_zero_is_exact_in_every_dimension() {
        for dims in 1..=3 {
            let pts = points(60, dims);
            let mut tree = Tree::new();
            tree.build(&pts, dims);
            assert_eq!(tree.len(), 60);
            for i in 0..60 {
                let mut force = vec![0.0; dims];
                let sum = tree.repulsion(&pts[i * dims..(i + 1) * dims], 0.0, cauchy, &mut force);
                let (want_sum, want_force) = brute(&pts, dims, i);
                assert!(
                    (sum - want_sum).abs() < 1e-12 * want_sum.max(1.0),
                    "dims {dims} point {i}: {sum} vs {want_sum}"
                );
                for a in 0..dims {
                    assert!(
                        (force[a] - want_force[a]).abs() < 1e-12,
                        "dims {dims} point {i} axis {a}"
                    );
                }
            }
        }
    }

    #[test]
    fn theta_half_is_close_to_exact() {
        let pts = points(400, 2);
        let mut tree = Tree::new();
        tree.build(&pts, 2);
        let (mut worst, mut mean) = (0.0f64, 0.0);
        for i in 0..400 {
            let mut force = vec![0.0; 2];
            let sum = tree.repulsion(&pts[i * 2..i * 2 + 2], 0.25, cauchy, &mut force);
            let (want, _) = brute(&pts, 2, i);
            let error = (sum - want).abs() / want;
            worst = worst.max(error);
            mean += error / 400.0;
        }
        assert!(
            worst < 0.05 && mean < 0.01,
            "relative error of the normaliser: worst {worst}, mean {mean}"
        );
        assert!(worst > 0.0, "theta 0.5 summarises some cells");
    }

    #[test]
    fn duplicates_share_a_leaf_and_do_not_repel_each_other() {
        let pts = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let mut tree = Tree::new();
        tree.build(&pts, 2);
        assert_eq!(tree.len(), 3);
        let mut force = [0.0; 2];
        let sum = tree.repulsion(&pts[..2], 0.25, cauchy, &mut force);
        assert!(
            (sum - cauchy(2.0).0).abs() < 1e-15,
            "only the point at (1, 1) counts: {sum}"
        );
    }
}
