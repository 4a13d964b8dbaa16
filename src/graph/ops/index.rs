//! Indexing ops: strided slices and gathers along non-batch axes.
//!
//! - Slice (ONNX `Slice`, NumPy `x[start:end:step]`): per axis a start, an end and a non-zero
//!   step, negative starts and ends counting from the end, both clamped to the axis as ONNX
//!   specifies (<https://onnx.ai/onnx/operators/onnx__Slice.html>): for a positive step the
//!   elements `start, start + step, ...` below `end`, with start and end clamped to
//!   `[0, len]`; for a negative step the elements `start, start + step, ...` above `end`,
//!   with start clamped to `[0, len - 1]` and end to `[-1, len - 1]`. The rule is
//!   [`slice_range`], shared with the ONNX importer's constant folding. Its backward writes the
//!   output gradient into the sliced positions of a zero gradient (each input element is read
//!   at most once).
//! - Gather (ONNX `Gather`, `np.take(x, indices, axis)`): picks the positions `indices` along
//!   one axis, which is replaced by the indices' shape (a scalar index removes it: `x[:, 0]`).
//!   Its backward adds each output gradient to the position it was read from (an index that
//!   repeats gets the sum).
//!
//! Both keep the batch axis 0 first and untouched.

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::{checked_elements, Tensor};
use ndarray::{ArrayD, Axis, IxDyn};

/// The positions an ONNX/NumPy slice `start:end:step` picks on an axis of length `len`, as a
/// half-open range `lo..hi` walked with `step` (ndarray's convention: from `lo` upwards for a
/// positive step, from the last element of the range downwards for a negative one), after
/// ONNX's clamping. Fails on a zero step.
pub fn slice_range(len: usize, start: i64, end: i64, step: i64) -> Result<(usize, usize, isize)> {
    if step == 0 {
        return Err(Error::invalid("slice step", "step must not be 0"));
    }
    let step_len = isize::try_from(step)
        .map_err(|_| Error::invalid("slice step", format!("step {step} is too large")))?;
    let dim = i64::try_from(len).unwrap_or(i64::MAX);
    let wrap = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
    let (lo, hi) = if dim == 0 {
        (0, 0)
    } else if step > 0 {
        let s = wrap(start).clamp(0, dim);
        let e = wrap(end).clamp(0, dim);
        (s, e.max(s))
    } else {
        // Elements start, start + step, ... while > end; as a range: (end, start].
        let s = wrap(start).clamp(0, dim - 1);
        let e = wrap(end).clamp(-1, dim - 1);
        (e + 1, (s + 1).max(e + 1))
    };
    Ok((lo as usize, hi as usize, step_len))
}

/// How many elements a range `lo..hi` walked with `step` holds.
fn range_len(lo: usize, hi: usize, step: isize) -> usize {
    (hi - lo).div_ceil(step.unsigned_abs())
}

/// A slice `start:end:step` of one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisSlice {
    /// The axis, an index into the full shape (never 0, the batch).
    pub axis: usize,
    /// The first position (negative counts from the end; clamped).
    pub start: i64,
    /// The position the slice stops before (negative counts from the end; clamped).
    pub end: i64,
    /// The stride, never 0; negative walks backwards.
    pub step: i64,
}

/// Strided slices of some non-batch axes (the others are kept whole).
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// One slice per sliced axis, each axis at most once.
    axes: Vec<AxisSlice>,
}

impl Slice {
    /// The slices `axes`; fails when an axis is 0 (the batch) or named twice, or a step is 0.
    /// Whether the axes exist is checked against the input by [`Kernel::output_shape`].
    pub fn new(axes: Vec<AxisSlice>) -> Result<Self> {
        for (i, a) in axes.iter().enumerate() {
            if a.axis == 0 {
                return Err(Error::invalid(
                    "slice axis",
                    "axis 0 is the batch; expected an axis >= 1",
                ));
            }
            if a.step == 0 {
                return Err(Error::invalid(
                    "slice step",
                    format!("axis {} has step 0; steps must not be 0", a.axis),
                ));
            }
            if axes[..i].iter().any(|b| b.axis == a.axis) {
                return Err(Error::invalid(
                    "slice axes",
                    format!("axis {} is sliced twice", a.axis),
                ));
            }
        }
        Ok(Slice { axes })
    }

    /// The sliced axes with their start, end and step.
    pub fn axes(&self) -> &[AxisSlice] {
        &self.axes
    }

    /// `(axis, lo, hi, step)` of each sliced axis of an input of `shape`.
    fn ranges(&self, shape: &[usize]) -> Result<Vec<(usize, usize, usize, isize)>> {
        self.axes
            .iter()
            .map(|a| {
                let len = *shape.get(a.axis).ok_or_else(|| {
                    Error::invalid(
                        "slice axis",
                        format!("axis {} is out of range for input shape {shape:?}", a.axis),
                    )
                })?;
                let (lo, hi, step) = slice_range(len, a.start, a.end, a.step)?;
                Ok((a.axis, lo, hi, step))
            })
            .collect()
    }
}

fn ndarray_slice(lo: usize, hi: usize, step: isize) -> ndarray::Slice {
    ndarray::Slice::new(lo as isize, Some(hi as isize), step)
}

impl Kernel for Slice {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        let mut out = x.to_vec();
        for (axis, lo, hi, step) in self.ranges(x)? {
            out[axis] = range_len(lo, hi, step);
        }
        Ok(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let mut view = x.view();
        for (axis, lo, hi, step) in self.ranges(x.shape())? {
            view.slice_axis_inplace(Axis(axis), ndarray_slice(lo, hi, step));
        }
        Ok(view.to_owned())
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        let expected = self.output_shape(&[x.shape()])?;
        check_gradient("slice", grad_output, &expected)?;
        let mut grad = Tensor::zeros(x.raw_dim());
        let mut view = grad.view_mut();
        for (axis, lo, hi, step) in self.ranges(x.shape())? {
            view.slice_axis_inplace(Axis(axis), ndarray_slice(lo, hi, step));
        }
        view.assign(grad_output);
        Ok(Grads {
            inputs: vec![grad],
            params: Vec::new(),
        })
    }
}

/// Fails unless the gradient has the output's shape.
pub(super) fn check_gradient(op: &str, grad_output: &Tensor, expected: &[usize]) -> Result<()> {
    if grad_output.shape() != expected {
        return Err(Error::shape(format!(
            "{op} gradient has shape {:?}, expected the output shape {expected:?}",
            grad_output.shape()
        )));
    }
    Ok(())
}

/// Picks positions along one non-batch axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Gather {
    /// The axis, an index into the full shape (never 0, the batch).
    axis: usize,
    /// The positions picked, row-major over `index_shape`.
    indices: ArrayD<usize>,
}

impl Gather {
    /// Picks `indices` (non-negative positions; their shape replaces the axis) along `axis`;
    /// fails when `axis` is 0 (the batch). Whether the positions fit the axis is checked
    /// against the input by [`Kernel::output_shape`].
    pub fn new(axis: usize, indices: ArrayD<usize>) -> Result<Self> {
        if axis == 0 {
            return Err(Error::invalid(
                "gather axis",
                "axis 0 is the batch; expected an axis >= 1",
            ));
        }
        Ok(Gather { axis, indices })
    }

    /// The axis positions are picked along.
    pub fn axis(&self) -> usize {
        self.axis
    }

    /// The positions picked (their shape replaces the axis).
    pub fn indices(&self) -> &ArrayD<usize> {
        &self.indices
    }

    /// `(outer, len, inner)`: the input seen as `[outer, len, inner]` around the axis.
    fn blocks(&self, x: &[usize]) -> (usize, usize, usize) {
        let outer = x[..self.axis].iter().product();
        let inner = x[self.axis + 1..].iter().product();
        (outer, x[self.axis], inner)
    }
}

impl Kernel for Gather {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        let Some(&len) = x.get(self.axis) else {
            return Err(Error::invalid(
                "gather axis",
                format!("axis {} is out of range for input shape {x:?}", self.axis),
            ));
        };
        if let Some(bad) = self.indices.iter().find(|&&i| i >= len) {
            return Err(Error::invalid(
                "gather indices",
                format!(
                    "index {bad} is out of range for axis {} of length {len} (input shape {x:?})",
                    self.axis
                ),
            ));
        }
        let mut out = x[..self.axis].to_vec();
        out.extend_from_slice(self.indices.shape());
        out.extend_from_slice(&x[self.axis + 1..]);
        checked_elements("gathered output", &out)?;
        Ok(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let out_shape = self.output_shape(&[x.shape()])?;
        let (outer, len, inner) = self.blocks(x.shape());
        let x = x.as_standard_layout();
        let data = x
            .as_slice()
            .ok_or_else(|| Error::shape("gather input is not contiguous"))?;
        let mut out = Vec::with_capacity(outer * self.indices.len() * inner);
        for o in 0..outer {
            for &i in &self.indices {
                let at = (o * len + i) * inner;
                out.extend_from_slice(&data[at..at + inner]);
            }
        }
        Tensor::from_shape_vec(IxDyn(&out_shape), out).map_err(|e| Error::shape(e.to_string()))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        let expected = self.output_shape(&[x.shape()])?;
        check_gradient("gather", grad_output, &expected)?;
        let (outer, len, inner) = self.blocks(x.shape());
        let g = grad_output.as_standard_layout();
        let g = g
            .as_slice()
            .ok_or_else(|| Error::shape("gather gradient is not contiguous"))?;
        let mut grad = vec![0.0f32; x.len()];
        let mut read = g.chunks_exact(inner.max(1));
        for o in 0..outer {
            for &i in &self.indices {
                let at = (o * len + i) * inner;
                if inner == 0 {
                    continue;
                }
                let chunk = read
                    .next()
                    .ok_or_else(|| Error::shape("gather gradient is too short"))?;
                for (d, s) in grad[at..at + inner].iter_mut().zip(chunk) {
                    *d += s;
                }
            }
        }
        Ok(Grads {
            inputs: vec![Tensor::from_shape_vec(x.raw_dim(), grad)
                .map_err(|e| Error::shape(e.to_string()))?],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, iota, random_tensor, values, Tolerance};

    #[test]
    fn slice_ranges_follow_onnx_clamping() {
        assert_eq!(slice_range(5, 1, i64::MAX, 2).unwrap(), (1, 5, 2));
        assert_eq!(slice_range(5, -1, i64::MIN, -1).unwrap(), (0, 5, -1));
        assert_eq!(slice_range(5, 4, 1, -2).unwrap(), (2, 5, -2));
        assert_eq!(slice_range(5, 3, 1, 1).unwrap(), (3, 3, 1));
        assert_eq!(slice_range(5, 9, 12, 1).unwrap(), (5, 5, 1));
        assert_eq!(slice_range(0, 0, 3, -1).unwrap(), (0, 0, -1));
        assert!(slice_range(5, 0, 1, 0).is_err());
    }

    #[test]
    fn slice_forward_matches_numpy() {
        let x = iota(&[1, 4, 5]);
        let s = |start, end, step| AxisSlice {
            axis: 2,
            start,
            end,
            step,
        };
        let op = Slice::new(vec![
            s(-1, i64::MIN, -2),
            AxisSlice {
                axis: 1,
                start: 1,
                end: 3,
                step: 1,
            },
        ])
        .unwrap();
        // x[:, 1:3, ::-2]
        let y = op.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[1, 2, 3]);
        assert_eq!(values(&y), [9.0, 7.0, 5.0, 14.0, 12.0, 10.0]);
        assert_eq!(op.output_shape(&[&[3, 4, 5]]).unwrap(), [3, 2, 3]);
        let empty = Slice::new(vec![s(7, 9, 1)]).unwrap();
        assert_eq!(empty.forward(&[&x]).unwrap().shape(), &[1, 4, 0]);
        assert!(Slice::new(vec![AxisSlice {
            axis: 0,
            ..s(0, 1, 1)
        }])
        .is_err());
        assert!(Slice::new(vec![s(0, 1, 0)]).is_err());
        assert!(Slice::new(vec![s(0, 1, 1), s(1, 2, 1)]).is_err());
        let far = Slice::new(vec![AxisSlice {
            axis: 3,
            ..s(0, 1, 1)
        }])
        .unwrap();
        assert!(far.output_shape(&[&[1, 4, 5]]).is_err());
    }

    #[test]
    fn slice_gradients_match_finite_differences() {
        let op = Slice::new(vec![
            AxisSlice {
                axis: 1,
                start: -1,
                end: 0,
                step: -2,
            },
            AxisSlice {
                axis: 2,
                start: 1,
                end: 100,
                step: 2,
            },
        ])
        .unwrap();
        check(
            &op,
            &[random_tensor(&[2, 5, 4], -1.0, 1.0, 1)],
            Tolerance::default(),
        );
    }

    #[test]
    fn gather_picks_and_removes_axes() {
        let x = iota(&[2, 3, 2]);
        // x[:, 0] with a scalar index removes the axis.
        let first = Gather::new(1, ArrayD::from_elem(IxDyn(&[]), 0)).unwrap();
        let y = first.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[2, 2]);
        assert_eq!(values(&y), [0.0, 1.0, 6.0, 7.0]);
        let picks = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![2, 0, 2, 2]).unwrap();
        let op = Gather::new(1, picks).unwrap();
        let y = op.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[2, 2, 2, 2]);
        assert_eq!(values(&y)[..8], [4.0, 5.0, 0.0, 1.0, 4.0, 5.0, 4.0, 5.0]);
        let last = Gather::new(2, ArrayD::from_shape_vec(IxDyn(&[1]), vec![1]).unwrap()).unwrap();
        assert_eq!(
            values(&last.forward(&[&x]).unwrap()),
            [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
        );
        let e = Gather::new(1, ArrayD::from_elem(IxDyn(&[1]), 3))
            .unwrap()
            .output_shape(&[&[2, 3, 2]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("index 3") && e.contains("length 3"), "{e}");
        assert!(Gather::new(0, ArrayD::from_elem(IxDyn(&[]), 0)).is_err());
    }

    #[test]
    fn gather_gradients_match_finite_differences_with_repeats() {
        let picks = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, 1, 0]).unwrap();
        let op = Gather::new(2, picks).unwrap();
        check(
            &op,
            &[random_tensor(&[2, 3, 2, 2], -1.0, 1.0, 2)],
            Tolerance::default(),
        );
        let scalar = Gather::new(1, ArrayD::from_elem(IxDyn(&[]), 2)).unwrap();
        check(
            &scalar,
            &[random_tensor(&[2, 3, 4], -1.0, 1.0, 3)],
            Tolerance::default(),
        );
    }
}
