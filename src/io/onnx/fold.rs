//! Constant folding: the ONNX shape-plumbing ops evaluated on import-time constants.
//!
//! Exporters compute reshape targets, axes and similar small tensors with ordinary ops
//! (`Shape`, `Gather`, `Slice`, `Concat`, `Unsqueeze`, arithmetic...). The importer evaluates
//! those on constants ([`super::data::Val::Float`] and [`super::data::Val::Int`]) with the
//! functions here, generic over the element type. Every index, axis and permutation is checked
//! first, so no ndarray call can panic on a hostile model, and every result size is checked
//! against the tensor limits before it is allocated.

use crate::error::{Error, Result};
use crate::graph::ops::index::slice_range;
use crate::tensor::{checked_elements, limits};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};
use std::cmp::Ordering;

/// Checks a folded tensor of `shape` before it is allocated: at most
/// [`limits::MAX_ELEMENTS`] elements and at most as many bytes as that many f32 values (integer
/// constants take 16 bytes per element).
pub fn check_size<T>(what: &str, shape: &[usize]) -> Result<usize> {
    let n = checked_elements(what, shape)?;
    let limit = limits::MAX_ELEMENTS * std::mem::size_of::<f32>();
    match n.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) if bytes <= limit => Ok(n),
        _ => Err(Error::Onnx(format!(
            "{what} of shape {shape:?} would take more than {limit} bytes"
        ))),
    }
}

/// Normalises a possibly negative ONNX axis for a tensor of rank `rank`.
pub fn axis(axis: i64, rank: usize, what: &str) -> Result<usize> {
    let r = rank as i64;
    if axis < -r || axis >= r {
        return Err(Error::Onnx(format!(
            "{what} {axis} is out of range for rank {rank} (expected {} ..= {})",
            -r,
            r - 1
        )));
    }
    Ok(if axis < 0 {
        (axis + r) as usize
    } else {
        axis as usize
    })
}

/// Normalises a list of axes, refusing duplicates; the result is sorted (marked per axis, not
/// sorted: no slice sort is instantiated for so short a list).
pub fn axes(list: &[i64], rank: usize, what: &str) -> Result<Vec<usize>> {
    let normalised = list
        .iter()
        .map(|&a| axis(a, rank, what))
        .collect::<Result<Vec<_>>>()?;
    let mut named = vec![false; rank];
    for a in normalised {
        if std::mem::replace(&mut named[a], true) {
            return Err(Error::Onnx(format!(
                "{what}s {list:?} name the same axis twice"
            )));
        }
    }
    Ok((0..rank).filter(|&a| named[a]).collect())
}

/// Copies `a` into a new array of `shape` (same element count), row-major.
pub fn reshape<T: Clone>(a: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>> {
    check_size::<T>("reshaped constant", shape)?;
    let n: usize = shape.iter().product();
    if n != a.len() {
        return Err(Error::Onnx(format!(
            "cannot reshape a constant of shape {:?} ({} elements) to {shape:?} ({n} elements)",
            a.shape(),
            a.len()
        )));
    }
    let data: Vec<T> = a.iter().cloned().collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| Error::Onnx(e.to_string()))
}

/// `f` applied to each element of a constant, as a new row-major array. `f` is a trait object
/// so that every element-wise fold shares one copy of the loop: ndarray's `mapv` is
/// instantiated per closure, about 5 KB of wasm each (`node benches/wasm-sizes.mjs`), for code
/// that runs once per imported constant.
pub fn map<A: Copy, B>(a: &ArrayD<A>, f: &dyn Fn(A) -> B) -> Result<ArrayD<B>> {
    let data: Vec<B> = a.iter().map(|&v| f(v)).collect();
    ArrayD::from_shape_vec(a.raw_dim(), data).map_err(|e| Error::Onnx(e.to_string()))
}

/// Checks that `perm` is a permutation of `0..rank`.
pub fn check_perm(perm: &[usize], rank: usize) -> Result<()> {
    let mut seen = vec![false; rank];
    if perm.len() != rank {
        return Err(Error::Onnx(format!(
            "perm {perm:?} has {} entries, the input has rank {rank}",
            perm.len()
        )));
    }
    for &p in perm {
        if p >= rank || std::mem::replace(&mut seen[p], true) {
            return Err(Error::Onnx(format!(
                "perm {perm:?} is not a permutation of 0..{rank}"
            )));
        }
    }
    Ok(())
}

/// Permutes the axes of `a`.
pub fn transpose<T: Clone>(a: &ArrayD<T>, perm: &[usize]) -> Result<ArrayD<T>> {
    check_perm(perm, a.ndim())?;
    let permuted = a.view().permuted_axes(IxDyn(perm));
    let shape = permuted.shape().to_vec();
    let data: Vec<T> = permuted.iter().cloned().collect();
    ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| Error::Onnx(e.to_string()))
}

/// Concatenates constants along `axis` (already normalised).
pub fn concat<T: Clone>(parts: &[&ArrayD<T>], axis: usize) -> Result<ArrayD<T>> {
    let shapes: Vec<&[usize]> = parts.iter().map(|p| p.shape()).collect();
    let shape = concat_shape(&shapes, axis)?;
    check_size::<T>("concatenated constant", &shape)?;
    join_along(parts.iter().map(|p| p.view()), axis, &shape)
}

/// The shape of `Concat` of parts of `shapes` along `axis`, after checking that they agree
/// outside it. (The checks that do not depend on the element type live outside the generic
/// folds, so that they are compiled once, not once per element type.)
fn concat_shape(shapes: &[&[usize]], axis: usize) -> Result<Vec<usize>> {
    let first = shapes
        .first()
        .ok_or_else(|| Error::Onnx("Concat needs at least one input".into()))?;
    let mut shape = first.to_vec();
    if axis >= shape.len() {
        return Err(Error::Onnx(format!(
            "Concat axis {axis} is out of range for shape {shape:?}"
        )));
    }
    shape[axis] = 0;
    for p in shapes {
        let mut s = p.to_vec();
        if s.len() != shape.len() || {
            s[axis] = 0;
            s != shape
        } {
            return Err(Error::Onnx(format!(
                "Concat inputs {shapes:?} differ outside axis {axis}"
            )));
        }
    }
    shape[axis] = shapes.iter().map(|p| p[axis]).sum();
    Ok(shape)
}

/// Joins `pieces` (views whose shapes differ only along `axis`) along `axis` into an array of
/// `shape`: each piece is copied with `axis` moved to the front, where joining is appending, and
/// the result is moved back with [`transpose`]. `ndarray::concatenate` (and `select`, built on
/// it) does this in one call, but its IxDyn instantiation measured 22 KB of wasm code per
/// element type (`node benches/wasm-sizes.mjs`), on a path that only folds small constants.
fn join_along<'a, T: Clone + 'a>(
    pieces: impl Iterator<Item = ArrayViewD<'a, T>>,
    axis: usize,
    shape: &[usize],
) -> Result<ArrayD<T>> {
    let rank = shape.len();
    let front: Vec<usize> = std::iter::once(axis)
        .chain((0..rank).filter(|&i| i != axis))
        .collect();
    let mut data = Vec::with_capacity(shape.iter().product());
    for piece in pieces {
        data.extend(piece.permuted_axes(IxDyn(&front)).iter().cloned());
    }
    let front_shape: Vec<usize> = front.iter().map(|&i| shape[i]).collect();
    let joined = ArrayD::from_shape_vec(IxDyn(&front_shape), data)
        .map_err(|e| Error::Onnx(e.to_string()))?;
    let back: Vec<usize> = (0..rank)
        .map(|i| match i.cmp(&axis) {
            Ordering::Less => i + 1,
            Ordering::Equal => 0,
            Ordering::Greater => i,
        })
        .collect();
    transpose(&joined, &back)
}

/// `Gather`: picks `indices` (negative ones count from the end) along `axis` of `data`.
pub fn gather<T: Clone>(data: &ArrayD<T>, indices: &ArrayD<i64>, axis: usize) -> Result<ArrayD<T>> {
    let (picks, shape) = gather_picks(data.shape(), indices, axis)?;
    check_size::<T>("gathered constant", &shape)?;
    let mut picked_shape = data.shape().to_vec();
    picked_shape[axis] = picks.len();
    let pieces = picks
        .iter()
        .map(|&j| data.slice_axis(Axis(axis), Slice::from(j..j + 1)));
    let picked = join_along(pieces, axis, &picked_shape)?;
    reshape(&picked, &shape)
}

/// The checked positions `indices` pick along `axis` of data of `shape`, and the shape of the
/// gathered result.
fn gather_picks(
    shape: &[usize],
    indices: &ArrayD<i64>,
    axis: usize,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if axis >= shape.len() {
        return Err(Error::Onnx(format!(
            "Gather axis {axis} is out of range for data of shape {shape:?}"
        )));
    }
    let len = shape[axis];
    let picks = indices
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + len as i64 } else { i };
            if j < 0 || j >= len as i64 {
                Err(Error::Onnx(format!(
                    "Gather index {i} is out of range for axis {axis} of length {len}"
                )))
            } else {
                Ok(j as usize)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut gathered = shape[..axis].to_vec();
    gathered.extend_from_slice(indices.shape());
    gathered.extend_from_slice(&shape[axis + 1..]);
    Ok((picks, gathered))
}

/// `Slice` with NumPy semantics: per axis `start`, `end`, `step` (clamped, negative allowed).
pub fn slice<T: Clone>(
    data: &ArrayD<T>,
    starts: &[i64],
    ends: &[i64],
    axes_list: &[usize],
    steps: &[i64],
) -> Result<ArrayD<T>> {
    let mut view = data.view();
    for (ax, range) in slice_ranges(data.shape(), starts, ends, axes_list, steps)? {
        view.slice_axis_inplace(Axis(ax), range);
    }
    Ok(view.to_owned())
}

/// The `(axis, range)` pairs of a `Slice` of data of `shape`, by the graph's slicing rule
/// ([`slice_range`]).
fn slice_ranges(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes_list: &[usize],
    steps: &[i64],
) -> Result<Vec<(usize, Slice)>> {
    let mut ranges = Vec::with_capacity(axes_list.len());
    for (k, &ax) in axes_list.iter().enumerate() {
        let (lo, hi, step) = slice_range(shape[ax], starts[k], ends[k], steps[k])
            .map_err(|_| Error::Onnx(format!("Slice step must not be 0 (axis {ax})")))?;
        ranges.push((ax, Slice::new(lo as isize, Some(hi as isize), step)));
    }
    Ok(ranges)
}

/// `Expand`: `data` broadcast with `target` (NumPy rules; the output shape is the broadcast of
/// both, as ONNX defines).
pub fn expand<T: Clone>(data: &ArrayD<T>, target: &[usize]) -> Result<ArrayD<T>> {
    let shape = broadcast_shape(data.shape(), target)?;
    check_size::<T>("expanded constant", &shape)?;
    data.broadcast(IxDyn(&shape))
        .map(|v| v.to_owned())
        .ok_or_else(|| {
            Error::Onnx(format!(
                "cannot expand a constant of shape {:?} to {target:?}",
                data.shape()
            ))
        })
}

/// `Tile`: axis `a` of `data` repeated `repeats[a]` times (`np.tile`).
pub fn tile<T: Clone>(data: &ArrayD<T>, repeats: &[usize]) -> Result<ArrayD<T>> {
    if repeats.len() != data.ndim() {
        return Err(Error::Onnx(format!(
            "Tile repeats {repeats:?} have {} entries, the input of shape {:?} has rank {}",
            repeats.len(),
            data.shape(),
            data.ndim()
        )));
    }
    let shape: Vec<usize> = data
        .shape()
        .iter()
        .zip(repeats)
        .map(|(&d, &r)| d.saturating_mul(r))
        .collect();
    check_size::<T>("tiled constant", &shape)?;
    let in_shape = data.shape();
    let mut source = vec![0; shape.len()];
    let picked: Vec<T> = ndarray::indices(IxDyn(&shape))
        .into_iter()
        .map(|at| {
            for (a, s) in source.iter_mut().enumerate() {
                *s = at[a] % in_shape[a];
            }
            data[IxDyn(&source)].clone()
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), picked).map_err(|e| Error::Onnx(e.to_string()))
}

/// `Where`: `x` where `condition` holds, else `y`, the three broadcast together.
pub fn select<T: Clone>(
    condition: &ArrayD<bool>,
    x: &ArrayD<T>,
    y: &ArrayD<T>,
) -> Result<ArrayD<T>> {
    let shape = broadcast_shape(&broadcast_shape(condition.shape(), x.shape())?, y.shape())?;
    check_size::<T>("selected constant", &shape)?;
    let spread = |s: &[usize]| Error::Onnx(format!("cannot broadcast shape {s:?} to {shape:?}"));
    let c = condition
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| spread(condition.shape()))?;
    let vx = x
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| spread(x.shape()))?;
    let vy = y
        .broadcast(IxDyn(&shape))
        .ok_or_else(|| spread(y.shape()))?;
    let data: Vec<T> = c
        .iter()
        .zip(vx.iter().zip(vy.iter()))
        .map(|(&c, (x, y))| if c { x.clone() } else { y.clone() })
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| Error::Onnx(e.to_string()))
}

/// NumPy broadcasting of two shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::Onnx(format!(
                    "shapes {a:?} and {b:?} do not broadcast (axis {i}: {da} vs {db})"
                )))
            }
        };
    }
    Ok(out)
}

/// Applies `f` element-wise with NumPy broadcasting.
pub fn broadcast_with<A: Clone, B: Clone, C>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    mut f: impl FnMut(A, B) -> Result<C>,
) -> Result<ArrayD<C>> {
    let shape = broadcast_shape(a.shape(), b.shape())?;
    check_size::<C>("broadcast constant", &shape)?;
    let (Some(va), Some(vb)) = (a.broadcast(IxDyn(&shape)), b.broadcast(IxDyn(&shape))) else {
        return Err(Error::Onnx(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape(),
            b.shape()
        )));
    };
    let data = va
        .iter()
        .zip(vb.iter())
        .map(|(x, y)| f(x.clone(), y.clone()))
        .collect::<Result<Vec<C>>>()?;
    ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| Error::Onnx(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(shape: &[usize], data: &[i64]) -> ArrayD<i64> {
        ArrayD::from_shape_vec(IxDyn(shape), data.to_vec()).unwrap()
    }

    #[test]
    fn axes_normalise_and_reject() {
        assert_eq!(axis(-1, 3, "axis").unwrap(), 2);
        assert!(axis(3, 3, "axis").is_err());
        assert!(axis(i64::MIN, 3, "axis").is_err());
        assert_eq!(axes(&[-1, 0], 3, "axis").unwrap(), [0, 2]);
        assert!(axes(&[1, -2], 3, "axis").is_err());
    }

    #[test]
    fn gather_slice_concat_transpose() {
        let a = arr(&[2, 3], &[0, 1, 2, 3, 4, 5]);
        let g = gather(&a, &arr(&[], &[-1]), 1).unwrap();
        assert_eq!(g, arr(&[2], &[2, 5]));
        let g = gather(&a, &arr(&[1, 2], &[1, 0]), 0).unwrap();
        assert_eq!(g.shape(), &[1, 2, 3]);
        assert_eq!(g.iter().copied().collect::<Vec<_>>(), [3, 4, 5, 0, 1, 2]);
        assert!(gather(&a, &arr(&[1], &[2]), 0).is_err());
        let v = arr(&[5], &[0, 1, 2, 3, 4]);
        assert_eq!(
            slice(&v, &[1], &[i64::MAX], &[0], &[2]).unwrap(),
            arr(&[2], &[1, 3])
        );
        assert_eq!(
            slice(&v, &[-1], &[i64::MIN], &[0], &[-1]).unwrap(),
            arr(&[5], &[4, 3, 2, 1, 0])
        );
        assert_eq!(
            slice(&v, &[4], &[1], &[0], &[-2]).unwrap(),
            arr(&[2], &[4, 2])
        );
        assert_eq!(slice(&v, &[3], &[1], &[0], &[1]).unwrap().len(), 0);
        assert!(slice(&v, &[0], &[1], &[0], &[0]).is_err());
        let c = concat(&[&arr(&[1], &[7]), &v], 0).unwrap();
        assert_eq!(c.len(), 6);
        assert!(concat(&[&a, &v], 0).is_err());
        let c = concat(&[&a, &arr(&[2, 1], &[6, 7])], 1).unwrap();
        assert_eq!(c, arr(&[2, 4], &[0, 1, 2, 6, 3, 4, 5, 7]));
        let t = transpose(&a, &[1, 0]).unwrap();
        assert_eq!(
            map(&a, &|v| v * 10).unwrap(),
            arr(&[2, 3], &[0, 10, 20, 30, 40, 50])
        );
        assert_eq!(t, arr(&[3, 2], &[0, 3, 1, 4, 2, 5]));
        assert!(transpose(&a, &[0, 0]).is_err());
        assert!(transpose(&a, &[0, 2]).is_err());
    }

    #[test]
    fn gather_and_concat_along_a_middle_axis() {
        let a = arr(&[2, 3, 2], &(0..12).collect::<Vec<_>>());
        let g = gather(&a, &arr(&[2], &[2, 0]), 1).unwrap();
        assert_eq!(g, arr(&[2, 2, 2], &[4, 5, 0, 1, 10, 11, 6, 7]));
        let c = concat(&[&a, &g], 1).unwrap();
        assert_eq!(c.shape(), &[2, 5, 2]);
        assert_eq!(
            c.iter().copied().collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5, 4, 5, 0, 1, 6, 7, 8, 9, 10, 11, 10, 11, 6, 7]
        );
    }

    #[test]
    fn expand_tile_and_select() {
        let a = arr(&[2, 1], &[1, 2]);
        assert_eq!(
            expand(&a, &[1, 3]).unwrap(),
            arr(&[2, 3], &[1, 1, 1, 2, 2, 2])
        );
        assert_eq!(expand(&a, &[3, 1, 1]).unwrap().shape(), &[3, 2, 1]);
        assert!(expand(&a, &[3, 3]).is_err());
        assert!(expand(&a, &[1 << 20, 1 << 20]).is_err());
        let t = tile(&arr(&[1, 2], &[1, 2]), &[2, 2]).unwrap();
        assert_eq!(t, arr(&[2, 4], &[1, 2, 1, 2, 1, 2, 1, 2]));
        assert!(tile(&a, &[2]).is_err());
        assert!(tile(&a, &[1 << 30, 1 << 30]).is_err());
        let c = ArrayD::from_shape_vec(IxDyn(&[2]), vec![true, false]).unwrap();
        assert_eq!(
            select(&c, &arr(&[2, 1], &[1, 2]), &arr(&[], &[0])).unwrap(),
            arr(&[2, 2], &[1, 0, 2, 0])
        );
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shape(&[2, 1], &[3]).unwrap(), [2, 3]);
        assert!(broadcast_shape(&[2], &[3]).is_err());
        let s = broadcast_with(&arr(&[2, 1], &[1, 2]), &arr(&[3], &[10, 20, 30]), |x, y| {
            Ok(x + y)
        })
        .unwrap();
        assert_eq!(s, arr(&[2, 3], &[11, 21, 31, 12, 22, 32]));
        assert!(broadcast_with(
            &arr(&[1 << 14, 1], &vec![0; 1 << 14]),
            &arr(&[1 << 14], &vec![0; 1 << 14]),
            |x, y| Ok(x + y)
        )
        .is_err());
    }
}
