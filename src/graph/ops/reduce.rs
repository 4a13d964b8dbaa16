//! Reductions: the mean over a set of axes (ONNX `ReduceMean`, NumPy `mean(axis=..., keepdims=...)`).
//!
//! For reduced axes `R` with `n = Π_{a ∈ R} d_a` elements per output value,
//! `y = (1/n) Σ_{R} x`. Every input element contributes `1/n` to its output value, so the
//! backward broadcasts the gradient back over the reduced axes: `dx = broadcast(g) / n`.
//! The batch axis 0 is never reduced, so samples stay independent.

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{Axis, IxDyn};

/// Mean over `axes` (full-shape indices, never 0, the batch), keeping them as size 1 when
/// `keepdims`. Empty `axes` means every axis but the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceMean {
    /// The axes to average over, as indices into the full batch-first shape.
    axes: Vec<usize>,
    /// Keep the reduced axes with size 1 instead of removing them.
    keepdims: bool,
}

impl ReduceMean {
    /// The mean over `axes` (indices into the full shape; empty for every axis but the batch),
    /// keeping them with size 1 when `keepdims`; fails when an axis is 0 (the batch) or appears
    /// twice. Whether the axes exist is checked against the input by [`Kernel::output_shape`].
    pub fn new(axes: Vec<usize>, keepdims: bool) -> Result<Self> {
        if axes.contains(&0) {
            return Err(Error::invalid(
                "reduce axes",
                format!("axis 0 in {axes:?} is not allowed; axis 0 is the batch"),
            ));
        }
        if let Some(twice) = axes
            .iter()
            .enumerate()
            .find_map(|(i, a)| axes[..i].contains(a).then_some(*a))
        {
            return Err(Error::invalid(
                "reduce axes",
                format!("axis {twice} appears twice in {axes:?}; expected distinct axes"),
            ));
        }
        Ok(ReduceMean { axes, keepdims })
    }

    /// The axes averaged over (empty for every axis but the batch).
    pub fn axes(&self) -> &[usize] {
        &self.axes
    }

    /// Whether the reduced axes are kept with size 1.
    pub fn keepdims(&self) -> bool {
        self.keepdims
    }

    /// The reduced axes for an input of shape `input`, sorted, after checking that they are in
    /// range (the constructor checked that they are distinct and not the batch axis).
    fn resolved_axes(&self, input: &[usize]) -> Result<Vec<usize>> {
        let rank = input.len();
        if self.axes.is_empty() {
            return Ok((1..rank).collect());
        }
        if let Some(bad) = self.axes.iter().copied().filter(|&a| a >= rank).min() {
            return Err(Error::invalid(
                "reduce axes",
                format!(
                    "axis {bad} in {:?} is not allowed for input shape {input:?}; expected axes 1..={} (axis 0 is the batch)",
                    self.axes,
                    rank.saturating_sub(1)
                ),
            ));
        }
        Ok((1..rank).filter(|a| self.axes.contains(a)).collect())
    }

    /// The output shape with the reduced axes kept as size 1.
    fn keepdims_shape(input: &[usize], axes: &[usize]) -> Vec<usize> {
        input
            .iter()
            .enumerate()
            .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
            .collect()
    }

    /// The output shape requested by `keepdims`.
    fn result_shape(&self, input: &[usize], axes: &[usize]) -> Vec<usize> {
        if self.keepdims {
            Self::keepdims_shape(input, axes)
        } else {
            input
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect()
        }
    }
}

/// The number of input elements averaged into each output value.
fn reduced_count(input: &[usize], axes: &[usize]) -> usize {
    axes.iter().map(|&a| input[a]).product()
}

impl Kernel for ReduceMean {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        let axes = self.resolved_axes(x)?;
        Ok(self.result_shape(x, &axes))
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let axes = self.resolved_axes(x.shape())?;
        let out_shape = self.result_shape(x.shape(), &axes);
        // Summing the highest axis first keeps the lower axis indices valid.
        let mut highest_first = axes.iter().rev();
        let mut sum = match highest_first.next() {
            Some(&a) => x.sum_axis(Axis(a)),
            None => x.to_owned(),
        };
        for &a in highest_first {
            sum = sum.sum_axis(Axis(a));
        }
        let scale = 1.0 / reduced_count(x.shape(), &axes) as f32;
        sum.mapv_inplace(|v| v * scale);
        sum.into_shape_clone(IxDyn(&out_shape))
            .map_err(|e| Error::shape(format!("reduce mean to {out_shape:?}: {e}")))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        let axes = self.resolved_axes(x.shape())?;
        let expected = self.result_shape(x.shape(), &axes);
        if grad_output.shape() != expected.as_slice() {
            return Err(Error::shape(format!(
                "reduce mean gradient has shape {:?}, expected {expected:?} for input {:?}",
                grad_output.shape(),
                x.shape()
            )));
        }
        let kept = Self::keepdims_shape(x.shape(), &axes);
        let g = grad_output
            .to_shape(IxDyn(&kept))
            .map_err(|e| Error::shape(format!("reduce mean gradient to {kept:?}: {e}")))?;
        let spread = g.broadcast(x.raw_dim()).ok_or_else(|| {
            Error::shape(format!(
                "cannot broadcast gradient {kept:?} to input {:?}",
                x.shape()
            ))
        })?;
        let scale = 1.0 / reduced_count(x.shape(), &axes) as f32;
        Ok(Grads {
            inputs: vec![spread.mapv(|v| v * scale)],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};

    #[test]
    fn forward_matches_hand_computation() {
        let x = Tensor::from_shape_vec(vec![1, 2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let rows = ReduceMean::new(vec![2], false)
            .unwrap()
            .forward(&[&x])
            .unwrap();
        assert_eq!(rows.shape(), &[1, 2]);
        assert_eq!(rows.as_slice().unwrap(), &[2.0, 5.0]);
        let cols = ReduceMean::new(vec![1], true)
            .unwrap()
            .forward(&[&x])
            .unwrap();
        assert_eq!(cols.shape(), &[1, 1, 3]);
        assert_eq!(cols.as_slice().unwrap(), &[2.5, 3.5, 4.5]);
        let all = ReduceMean::new(vec![], false)
            .unwrap()
            .forward(&[&x])
            .unwrap();
        assert_eq!(all.shape(), &[1]);
        assert_eq!(all.as_slice().unwrap(), &[3.5]);
    }

    #[test]
    fn forward_accepts_non_standard_layout() {
        let x = random_tensor(&[2, 3, 4], -1.0, 1.0, 33);
        let t = x.view().permuted_axes(IxDyn(&[0, 2, 1])).to_owned();
        for axes in [vec![], vec![1], vec![2]] {
            let op = ReduceMean::new(axes, false).unwrap();
            let expected = op.forward(&[&t.as_standard_layout().into_owned()]).unwrap();
            assert_eq!(op.forward(&[&t]).unwrap(), expected);
        }
    }

    #[test]
    fn output_shapes() {
        let shape: &[usize] = &[2, 3, 4, 5];
        let op = |axes: Vec<usize>, keepdims| {
            ReduceMean::new(axes, keepdims)
                .unwrap()
                .output_shape(&[shape])
                .unwrap()
        };
        assert_eq!(op(vec![2, 3], true), vec![2, 3, 1, 1]);
        assert_eq!(op(vec![3, 1], false), vec![2, 4]);
        assert_eq!(op(vec![], false), vec![2]);
        assert_eq!(op(vec![], true), vec![2, 1, 1, 1]);
    }

    #[test]
    fn rejects_batch_out_of_range_and_repeated_axes() {
        let refused = |axes: Vec<usize>| ReduceMean::new(axes, false).unwrap_err().to_string();
        let batch = refused(vec![0, 1]);
        assert!(
            batch.contains("axis 0") && batch.contains("batch"),
            "{batch}"
        );
        let twice = refused(vec![2, 1, 2]);
        assert!(
            twice.contains("axis 2 appears twice") && twice.contains("[2, 1, 2]"),
            "{twice}"
        );
        let range = ReduceMean::new(vec![3], false)
            .unwrap()
            .output_shape(&[&[2, 3, 4]])
            .unwrap_err()
            .to_string();
        assert!(
            range.contains("axis 3") && range.contains("[2, 3, 4]"),
            "{range}"
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = random_tensor(&[2, 3, 4, 5], -1.0, 1.0, 31);
        for (axes, keepdims) in [
            (vec![2, 3], true),
            (vec![3, 1], false),
            (vec![2], false),
            (vec![], false),
            (vec![], true),
        ] {
            check(
                &ReduceMean::new(axes, keepdims).unwrap(),
                std::slice::from_ref(&x),
                Tolerance::default(),
            );
        }
    }

    #[test]
    fn backward_rejects_wrong_gradient_shape() {
        let x = random_tensor(&[2, 3], -1.0, 1.0, 32);
        let op = ReduceMean::new(vec![1], false).unwrap();
        let y = op.forward(&[&x]).unwrap();
        assert!(op
            .backward(&[&x], &y, &Tensor::zeros(vec![2, 3]), false)
            .is_err());
    }
}
