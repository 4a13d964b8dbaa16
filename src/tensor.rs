//! Tensors: `ndarray` f32 arrays of any rank, batch dimension first, images NCHW.
//!
//! Also the size limits nnlens enforces before it allocates anything, so that a hostile
//! or mistaken shape becomes an [`Error::TooLarge`] instead of an out-of-memory abort.

use crate::error::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// The tensor type of nnlens: a dynamically ranked f32 array.
pub type Tensor = ArrayD<f32>;

/// Size limits, checked before allocation.
pub mod limits {
    /// Largest number of elements one tensor may hold: 2^27 f32 values (512 MiB).
    /// A wasm32 module addresses at most 4 GiB, and a forward pass keeps every layer's output.
    pub const MAX_ELEMENTS: usize = 1 << 27;
    /// Largest rank of a tensor.
    pub const MAX_RANK: usize = 8;
    /// Largest batch a single forward pass accepts.
    pub const MAX_BATCH: usize = 1 << 16;
    /// Largest number of values one forward trace keeps together (the input and every layer's
    /// output): 2^28 f32 values (1 GiB), so that a trace plus the gradients of a backward pass
    /// stay inside wasm32's 4 GiB. `Graph::forward` splits a larger batch into passes.
    pub const MAX_TRACE_ELEMENTS: usize = 1 << 28;
    /// Most rows (samples) of a dataset nnlens generates or reads (`crate::data`): 2^20.
    pub const MAX_DATA_ROWS: usize = 1 << 20;
    /// Most columns of a CSV dataset: 2^12.
    pub const MAX_DATA_COLUMNS: usize = 1 << 12;
    /// Most classes of a classification dataset: 2^10.
    pub const MAX_CLASSES: usize = 1 << 10;
}

/// The number of elements of `shape`, or [`Error::TooLarge`] when the product overflows
/// or exceeds [`limits::MAX_ELEMENTS`]. `what` names the tensor in the message.
pub fn checked_elements(what: &str, shape: &[usize]) -> Result<usize> {
    let too_large = |elements: String| Error::TooLarge {
        what: what.to_string(),
        shape: shape.to_vec(),
        elements,
        limit: limits::MAX_ELEMENTS,
    };
    if shape.len() > limits::MAX_RANK {
        return Err(Error::shape(format!(
            "{what} has rank {} (shape {shape:?}); at most {} dimensions are supported",
            shape.len(),
            limits::MAX_RANK
        )));
    }
    let mut product: usize = 1;
    for &dim in shape {
        product = product
            .checked_mul(dim)
            .ok_or_else(|| too_large("more than usize::MAX".to_string()))?;
    }
    if product > limits::MAX_ELEMENTS {
        return Err(too_large(product.to_string()));
    }
    Ok(product)
}

/// Prepends the batch dimension to a per-sample shape.
pub fn with_batch(batch: usize, sample_shape: &[usize]) -> Vec<usize> {
    let mut shape = Vec::with_capacity(sample_shape.len() + 1);
    shape.push(batch);
    shape.extend_from_slice(sample_shape);
    shape
}

/// A tensor of the given shape from a flat row-major buffer, checking the length.
pub fn from_vec(what: &str, shape: &[usize], data: Vec<f32>) -> Result<Tensor> {
    let expected = checked_elements(what, shape)?;
    if data.len() != expected {
        return Err(Error::shape(format!(
            "{what} has {} values, expected {expected} for shape {shape:?}",
            data.len()
        )));
    }
    ArrayD::from_shape_vec(IxDyn(shape), data).map_err(|e| Error::shape(format!("{what}: {e}")))
}

/// The values of a tensor in row-major order as a new vector (no copy when already standard).
pub fn into_vec(tensor: Tensor) -> Vec<f32> {
    let len = tensor.len();
    if tensor.is_standard_layout() {
        let (data, offset) = tensor.into_raw_vec_and_offset();
        match offset {
            Some(0) | None if data.len() == len => data,
            Some(start) => data[start..start + len].to_vec(),
            None => data,
        }
    } else {
        tensor.iter().copied().collect()
    }
}

/// The values of `view` as a new tensor in standard (row-major) layout.
///
/// A permuted view of a contiguous tensor (a transpose) is copied run by run along its last
/// axis, as whole slices where that axis is contiguous; other views go through ndarray's
/// `as_standard_layout`, whose iterator visits a permuted view element by element with the
/// index arithmetic of any rank: that took 16% of the transformer fixture's forward pass at
/// batch 16 in Chromium, whose 17 transposes per pass now cost a copy each.
pub fn standard_layout(view: ArrayViewD<'_, f32>) -> Tensor {
    let shape = view.shape().to_vec();
    let rank = shape.len();
    let strides: Option<Vec<usize>> = view
        .strides()
        .iter()
        .zip(&shape)
        .map(|(&stride, &len)| usize::try_from(stride).ok().filter(|&s| s > 0 || len == 1))
        .collect();
    let (Some(strides), Some(data)) = (strides, view.as_slice_memory_order()) else {
        return view.as_standard_layout().into_owned();
    };
    if view.is_standard_layout() || view.is_empty() {
        return view.to_owned();
    }
    // Non-negative strides over contiguous memory: index 0 is the slice's first value.
    let (run, step) = (shape[rank - 1], strides[rank - 1].max(1));
    let mut values = Vec::with_capacity(view.len());
    let mut index = vec![0; rank - 1];
    let mut start = 0;
    'runs: loop {
        if step == 1 {
            values.extend_from_slice(&data[start..start + run]);
        } else {
            values.extend(data[start..].iter().step_by(step).take(run));
        }
        // The next run: the axes before the last count up like an odometer.
        for axis in (0..rank - 1).rev() {
            index[axis] += 1;
            start += strides[axis];
            if index[axis] < shape[axis] {
                continue 'runs;
            }
            start -= strides[axis] * shape[axis];
            index[axis] = 0;
        }
        break;
    }
    ArrayD::from_shape_vec(IxDyn(&shape), values).expect("one value per element of the view")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_elements_rejects_overflow_and_limit() {
        assert_eq!(checked_elements("x", &[2, 3, 4]).unwrap(), 24);
        assert!(matches!(
            checked_elements("x", &[usize::MAX, 2]),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            checked_elements("x", &[limits::MAX_ELEMENTS + 1]),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn from_vec_checks_length() {
        assert!(from_vec("x", &[2, 2], vec![0.0; 3]).is_err());
        let t = from_vec("x", &[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(into_vec(t), vec![1.0, 2.0, 3.0, 4.0]);
    }

    /// Every permutation of tensors of rank 1 to 5 (axes of length 1 and 0 among them), and
    /// views that are not permutations of contiguous memory (a stepped slice, a reversed axis,
    /// a broadcast), equal ndarray's own standard-layout copy in shape and values.
    #[test]
    fn standard_layout_equals_ndarrays_copy_for_any_view() {
        use ndarray::{s, Axis};
        fn permutations(rank: usize) -> Vec<Vec<usize>> {
            if rank == 0 {
                return vec![Vec::new()];
            }
            let mut all = Vec::new();
            for rest in permutations(rank - 1) {
                for at in 0..rank {
                    let mut perm = rest.clone();
                    perm.insert(at, rank - 1);
                    all.push(perm);
                }
            }
            all
        }
        let check = |view: ArrayViewD<'_, f32>, what: &str| {
            let copy = standard_layout(view.clone());
            assert!(copy.is_standard_layout(), "{what}");
            assert_eq!(copy.shape(), view.shape(), "{what}");
            let want: Vec<u32> = view.iter().map(|v| v.to_bits()).collect();
            let got: Vec<u32> = copy.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "{what}");
        };
        for shape in [
            vec![7],
            vec![3, 5],
            vec![2, 1, 4],
            vec![2, 3, 4, 5],
            vec![2, 3, 1, 4, 2],
            vec![3, 0, 2],
        ] {
            let len: usize = shape.iter().product();
            let t =
                ArrayD::from_shape_vec(IxDyn(&shape), (0..len).map(|i| i as f32 - 0.5).collect())
                    .unwrap();
            for perm in permutations(shape.len()) {
                check(
                    t.view().permuted_axes(IxDyn(&perm)),
                    &format!("{shape:?} {perm:?}"),
                );
            }
        }
        let t =
            ArrayD::from_shape_vec(IxDyn(&[4, 6]), (0..24).map(|i| i as f32).collect()).unwrap();
        check(t.slice(s![.., ..;2]).into_dyn(), "stepped slice");
        let mut reversed = t.view();
        reversed.invert_axis(Axis(1));
        check(reversed, "reversed axis");
        check(
            t.slice(s![..1, ..]).broadcast(IxDyn(&[3, 6])).unwrap(),
            "broadcast",
        );
    }
}
