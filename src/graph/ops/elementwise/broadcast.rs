//! NumPy / ONNX multidirectional broadcasting (NumPy "General broadcasting rules", ONNX
//! `Broadcasting.md`): shapes are aligned from the right, a missing leading axis counts as size
//! 1, and on every axis the sizes must be equal or one of them 1; the result takes the larger
//! size. An operand that was broadcast was read once for every element along the broadcast
//! axes, so its gradient is the sum of those partials over them ([`sum_to_shape`], the adjoint
//! of broadcasting). The common broadcasts of CNNs (equal shapes, per-channel scales and biases)
//! are block patterns that one loop covers ([`block_pattern`], [`contiguous`]).

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{ArrayView, Axis, CowArray, IxDyn};

/// The NumPy broadcast of two shapes, or `None` when some axis has two sizes that differ and
/// are both not 1.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let size = |shape: &[usize], axis: usize| {
        (axis + shape.len())
            .checked_sub(rank)
            .map_or(1, |i| shape[i])
    };
    (0..rank)
        .map(|axis| match (size(a, axis), size(b, axis)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

/// `[outer, mid, inner]` when `small`, aligned from the right to `shape`, is 1 on its leading
/// and trailing axes and equal to `shape` between them: a tensor of `shape` is then `outer`
/// repeats of `mid` blocks of `inner` values, block `m` meeting `small[m]` (a per-channel
/// scale `[N, C, 1, 1]`, a bias row, or equal shapes, where `inner` is 1).
pub(super) fn block_pattern(small: &[usize], shape: &[usize]) -> Option<[usize; 3]> {
    let padded: Vec<usize> = std::iter::repeat_n(1, shape.len().checked_sub(small.len())?)
        .chain(small.iter().copied())
        .collect();
    let lead = padded.iter().take_while(|&&d| d == 1).count();
    let equal = padded[lead..]
        .iter()
        .zip(&shape[lead..])
        .take_while(|(p, s)| p == s)
        .count();
    let trail = lead + equal;
    padded[trail..].iter().all(|&d| d == 1).then(|| {
        [
            shape[..lead].iter().product(),
            shape[lead..trail].iter().product(),
            shape[trail..].iter().product(),
        ]
    })
}

/// `op(full, small)` element by element, `small` repeated by the block pattern
/// `[outer, mid, inner]` of [`block_pattern`] (`full` holds `outer · mid · inner` values).
#[inline(always)]
fn blocks(
    op: impl Fn(f32, f32) -> f32,
    full: &[f32],
    small: &[f32],
    pattern: [usize; 3],
) -> Vec<f32> {
    let [_, mid, inner] = pattern;
    let mut out = Vec::with_capacity(full.len());
    if inner == 1 {
        for repeat in full.chunks_exact(mid) {
            out.extend(repeat.iter().zip(small).map(|(&x, &s)| op(x, s)));
        }
    } else {
        for (block, &s) in full.chunks_exact(inner).zip(small.iter().cycle()) {
            out.extend(block.iter().map(|&x| op(x, s)));
        }
    }
    out
}

/// `op(a, b)` as one loop when both operands are contiguous and one has the output's `shape`
/// while the other repeats by a [`block_pattern`]; `None` otherwise. The one loop of
/// [`contiguous_forward`](super::contiguous_forward) for one operation.
#[inline(always)]
pub(super) fn contiguous(
    op: impl Fn(f32, f32) -> f32 + Copy,
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
) -> Option<Vec<f32>> {
    let (a_values, b_values) = (a.as_slice()?, b.as_slice()?);
    let len: usize = shape.iter().product();
    if len == 0 {
        None
    } else if a_values.len() == len {
        let pattern = block_pattern(b.shape(), shape)?;
        Some(blocks(op, a_values, b_values, pattern))
    } else if b_values.len() == len {
        let pattern = block_pattern(a.shape(), shape)?;
        Some(blocks(move |x, y| op(y, x), b_values, a_values, pattern))
    } else {
        None
    }
}

/// `tensor` viewed with the (broadcast) shape `shape`.
pub(in crate::graph::ops) fn spread<'a>(
    tensor: &'a Tensor,
    shape: &[usize],
) -> Result<ArrayView<'a, f32, IxDyn>> {
    tensor.broadcast(IxDyn(shape)).ok_or_else(|| {
        Error::shape(format!(
            "cannot broadcast shape {:?} to {shape:?}",
            tensor.shape()
        ))
    })
}

/// Sums `grad` over the axes that broadcasting added or stretched, giving `shape`.
pub(in crate::graph::ops) fn sum_to_shape(
    grad: CowArray<'_, f32, IxDyn>,
    shape: &[usize],
) -> Result<Tensor> {
    if grad.shape() == shape {
        return Ok(grad.into_owned());
    }
    let lead = grad.ndim().checked_sub(shape.len()).ok_or_else(|| {
        Error::shape(format!(
            "gradient of shape {:?} has fewer axes than its operand {shape:?}",
            grad.shape()
        ))
    })?;
    let summed: Vec<usize> = (0..grad.ndim())
        .filter(|&axis| axis < lead || (shape[axis - lead] == 1 && grad.len_of(Axis(axis)) != 1))
        .collect();
    let mut highest_first = summed.iter().rev();
    let mut reduced = match highest_first.next() {
        Some(&axis) => grad.sum_axis(Axis(axis)),
        None => grad.into_owned(),
    };
    for &axis in highest_first {
        reduced = reduced.sum_axis(Axis(axis));
    }
    reduced.into_shape_clone(IxDyn(shape)).map_err(|e| {
        Error::shape(format!(
            "cannot reduce a gradient to operand shape {shape:?}: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(broadcast_shapes(&[2, 3, 4], &[3, 1]), Some(vec![2, 3, 4]));
        assert_eq!(
            broadcast_shapes(&[2, 1, 4], &[2, 3, 1]),
            Some(vec![2, 3, 4])
        );
        assert_eq!(broadcast_shapes(&[5, 1], &[]), Some(vec![5, 1]));
        assert_eq!(broadcast_shapes(&[2, 1], &[7]), Some(vec![2, 7]));
        assert_eq!(broadcast_shapes(&[2, 3], &[2]), None);
    }
}
