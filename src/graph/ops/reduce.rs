//! Reductions over a set of axes: the mean (ONNX `ReduceMean`, NumPy `mean(axis=...,
//! keepdims=...)`), the sum (`ReduceSum`) and the maximum (`ReduceMax`, NumPy `max`).
//!
//! For reduced axes `R` with `n = Π_{a ∈ R} d_a` elements per output value,
//! `sum: y = Σ_{R} x` and `mean: y = (1/n) Σ_{R} x`. Every input element contributes `1` (or
//! `1/n`) to its output value, so the backward broadcasts the gradient back over the reduced
//! axes: `dx = broadcast(g)` (or `broadcast(g) / n`).
//!
//! `max: y = max_{R} x`, where a NaN wins over any number (NumPy's and PyTorch's `max`). The
//! gradient flows to one element, the maximum: the first in row-major order of the reduced axes
//! among equals (the rule of `torch.max(x, dim)` and of max pooling's backward; PyTorch's
//! `amax` instead splits it evenly among ties). The winner is recomputed in the backward pass.
//!
//! Global max pooling (ONNX `GlobalMaxPool`, PyTorch `AdaptiveMaxPool2d(1)`) is the maximum over
//! the axes from 2 on, kept with size 1 ([`GlobalMaxPool`]), with the same tie rule (that of
//! max pooling, `pool.rs`).
//!
//! The batch axis 0 is never reduced, so samples stay independent. The three share their axes,
//! `keepdims` and shape rule ([`Reduction`]).

use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{Axis, IxDyn};

/// The axes a reduction runs over and whether it keeps them, shared by [`ReduceMean`],
/// [`ReduceSum`] and [`ReduceMax`]. Built by [`Reduction::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reduction {
    /// The axes to reduce, as indices into the full batch-first shape.
    axes: Vec<usize>,
    /// Keep the reduced axes with size 1 instead of removing them.
    keepdims: bool,
}

impl Reduction {
    /// A reduction over `axes` (indices into the full shape; empty for every axis but the
    /// batch), keeping them with size 1 when `keepdims`; fails when an axis is 0 (the batch) or
    /// appears twice. Whether the axes exist is checked against the input by
    /// [`Kernel::output_shape`].
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
        Ok(Reduction { axes, keepdims })
    }

    /// The axes reduced over (empty for every axis but the batch).
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

    /// The output shape for an input of shape `input`.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let axes = self.resolved_axes(input)?;
        Ok(self.result_shape(input, &axes))
    }

    /// `scale · Σ` of `x` over the reduced axes. When they are the last ones (a spatial mean,
    /// as the dynamo exporter writes global average pooling), each output value sums one
    /// contiguous run of the input in [`sum_in_lanes`]: ndarray's `sum_axis` over a
    /// `[1, 1000, 13, 13]` input took 0.5 ms of SqueezeNet 1.1's 15 ms forward pass.
    fn scaled_sum(&self, x: &Tensor, scale: impl Fn(usize) -> f32) -> Result<Tensor> {
        let axes = self.resolved_axes(x.shape())?;
        let out_shape = self.result_shape(x.shape(), &axes);
        let count = reduced_count(x.shape(), &axes);
        let scale = scale(count);
        let rank = x.ndim();
        if !axes.is_empty() && axes.iter().copied().eq(rank - axes.len()..rank) {
            let x = x.as_standard_layout();
            let values = x.as_slice().expect("standard layout is contiguous");
            let sums = values
                .chunks_exact(count)
                .map(|run| sum_in_lanes(run) * scale)
                .collect();
            return Tensor::from_shape_vec(IxDyn(&out_shape), sums)
                .map_err(|e| Error::shape(format!("reduce to {out_shape:?}: {e}")));
        }
        // Summing the highest axis first keeps the lower axis indices valid.
        let mut highest_first = axes.iter().rev();
        let mut sum = match highest_first.next() {
            Some(&a) => x.sum_axis(Axis(a)),
            None => x.to_owned(),
        };
        for &a in highest_first {
            sum = sum.sum_axis(Axis(a));
        }
        sum.mapv_inplace(|v| v * scale);
        sum.into_shape_clone(IxDyn(&out_shape))
            .map_err(|e| Error::shape(format!("reduce to {out_shape:?}: {e}")))
    }

    /// Checks `grad_output` against the output shape for input `x`; returns the reduced axes.
    fn check_gradient(&self, what: &str, x: &Tensor, grad_output: &Tensor) -> Result<Vec<usize>> {
        let axes = self.resolved_axes(x.shape())?;
        let expected = self.result_shape(x.shape(), &axes);
        if grad_output.shape() != expected.as_slice() {
            return Err(Error::shape(format!(
                "{what} gradient has shape {:?}, expected {expected:?} for input {:?}",
                grad_output.shape(),
                x.shape()
            )));
        }
        Ok(axes)
    }

    /// The gradient of `scale · Σ`: `g · scale` broadcast back over the reduced axes.
    fn spread(
        &self,
        what: &str,
        x: &Tensor,
        grad_output: &Tensor,
        scale: impl Fn(usize) -> f32,
    ) -> Result<Grads> {
        let axes = self.check_gradient(what, x, grad_output)?;
        let scale = scale(reduced_count(x.shape(), &axes));
        // Reduced axes that are the trailing ones (a mean over each plane, as global average
        // pooling and squeeze-and-excitation take): each gradient value fills its own run.
        let trailing = axes
            .first()
            .is_some_and(|&first| axes.iter().copied().eq(first..x.ndim()));
        if let (true, Some(g)) = (trailing, grad_output.as_slice()) {
            let run = reduced_count(x.shape(), &axes);
            let mut spread = Vec::with_capacity(g.len() * run);
            for &v in g {
                spread.extend(std::iter::repeat_n(v * scale, run));
            }
            return Ok(Grads {
                inputs: vec![Tensor::from_shape_vec(x.raw_dim(), spread)
                    .map_err(|e| Error::shape(format!("{what} gradient: {e}")))?],
                params: Vec::new(),
            });
        }
        let kept = Self::keepdims_shape(x.shape(), &axes);
        let g = grad_output
            .to_shape(IxDyn(&kept))
            .map_err(|e| Error::shape(format!("{what} gradient to {kept:?}: {e}")))?;
        let spread = g.broadcast(x.raw_dim()).ok_or_else(|| {
            Error::shape(format!(
                "cannot broadcast gradient {kept:?} to input {:?}",
                x.shape()
            ))
        })?;
        Ok(Grads {
            inputs: vec![spread.mapv(|v| v * scale)],
            params: Vec::new(),
        })
    }

    /// The axes of `x` reordered as kept axes then reduced ones (each in increasing order),
    /// with the number of reduced elements per output value.
    fn reduced_last(input: &[usize], axes: &[usize]) -> (Vec<usize>, usize) {
        let perm = (0..input.len())
            .filter(|a| !axes.contains(a))
            .chain(axes.iter().copied())
            .collect();
        (perm, reduced_count(input, axes))
    }
}

/// `Σ values` in eight running sums, added together at the end: a loop the compiler turns
/// into SIMD (one running sum would be a chain of dependent additions, in order).
fn sum_in_lanes(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut runs = values.chunks_exact(lanes.len());
    for run in &mut runs {
        for (lane, &v) in lanes.iter_mut().zip(run) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + runs.remainder().iter().sum::<f32>()
}

/// The number of input elements reduced into each output value.
fn reduced_count(input: &[usize], axes: &[usize]) -> usize {
    axes.iter().map(|&a| input[a]).product()
}

/// The index in `values` of the maximum: the first among equals, and a NaN over any number.
fn first_max(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate().skip(1) {
        if v > values[best] || (v.is_nan() && !values[best].is_nan()) {
            best = i;
        }
    }
    best
}

macro_rules! reduction_op {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(Reduction);

        impl $name {
            /// The reduction over `axes` (indices into the full shape; empty for every axis but
            /// the batch), keeping them with size 1 when `keepdims`; see [`Reduction::new`].
            pub fn new(axes: Vec<usize>, keepdims: bool) -> Result<Self> {
                Reduction::new(axes, keepdims).map($name)
            }

            /// The axes reduced over (empty for every axis but the batch).
            pub fn axes(&self) -> &[usize] {
                self.0.axes()
            }

            /// Whether the reduced axes are kept with size 1.
            pub fn keepdims(&self) -> bool {
                self.0.keepdims()
            }
        }
    };
}

reduction_op!(
    /// Mean over `axes` (full-shape indices, never 0, the batch), keeping them as size 1 when
    /// `keepdims`. Empty `axes` means every axis but the batch.
    ReduceMean
);
reduction_op!(
    /// Sum over `axes` (full-shape indices, never 0, the batch), keeping them as size 1 when
    /// `keepdims`. Empty `axes` means every axis but the batch.
    ReduceSum
);
reduction_op!(
    /// Maximum over `axes` (full-shape indices, never 0, the batch), keeping them as size 1 when
    /// `keepdims`; the gradient goes to the first maximum. Empty `axes` means every axis but the
    /// batch.
    ReduceMax
);

impl Kernel for ReduceMean {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.0.output_shape(inputs[0])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        self.0.scaled_sum(inputs[0], |n| 1.0 / n as f32)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        self.0
            .spread("reduce mean", inputs[0], grad_output, |n| 1.0 / n as f32)
    }
}

impl Kernel for ReduceSum {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.0.output_shape(inputs[0])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        self.0.scaled_sum(inputs[0], |_| 1.0)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        self.0.spread("reduce sum", inputs[0], grad_output, |_| 1.0)
    }
}

impl ReduceMax {
    /// `x` with the reduced axes moved last, in standard layout, with its shape and the
    /// permutation used.
    fn reduced_last(&self, x: &Tensor) -> Result<(Tensor, Vec<usize>, usize)> {
        let axes = self.0.resolved_axes(x.shape())?;
        let (perm, count) = Reduction::reduced_last(x.shape(), &axes);
        let moved = x
            .view()
            .permuted_axes(IxDyn(&perm))
            .as_standard_layout()
            .into_owned();
        Ok((moved, perm, count))
    }
}

impl Kernel for ReduceMax {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        let axes = self.0.resolved_axes(x)?;
        if reduced_count(x, &axes) == 0 {
            return Err(Error::shape(format!(
                "reduce max over axes {axes:?} of {x:?} has no elements to take the maximum of"
            )));
        }
        Ok(self.0.result_shape(x, &axes))
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let out_shape = self.output_shape(&[x.shape()])?;
        let (moved, _, count) = self.reduced_last(x)?;
        let values = moved.as_slice().expect("standard layout is contiguous");
        let max = values
            .chunks_exact(count)
            .map(|chunk| chunk[first_max(chunk)])
            .collect();
        Tensor::from_shape_vec(IxDyn(&out_shape), max)
            .map_err(|e| Error::shape(format!("reduce max to {out_shape:?}: {e}")))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        self.output_shape(&[x.shape()])?;
        self.0.check_gradient("reduce max", x, grad_output)?;
        let (moved, perm, count) = self.reduced_last(x)?;
        let values = moved.as_slice().expect("standard layout is contiguous");
        let mut dx = vec![0.0f32; values.len()];
        for ((chunk, d), &g) in values
            .chunks_exact(count)
            .zip(dx.chunks_exact_mut(count))
            .zip(grad_output.as_standard_layout().iter())
        {
            d[first_max(chunk)] = g;
        }
        let moved_dx = Tensor::from_shape_vec(moved.raw_dim(), dx)
            .map_err(|e| Error::shape(format!("reduce max gradient: {e}")))?;
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        Ok(Grads {
            inputs: vec![moved_dx
                .permuted_axes(IxDyn(&inverse))
                .as_standard_layout()
                .into_owned()],
            params: Vec::new(),
        })
    }
}

/// Maximum over the spatial axes 2.., keeping them with size 1 (`[N, C, 1, ...]`); the
/// gradient goes to the first maximum of each plane, as [`ReduceMax`]'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlobalMaxPool;

impl GlobalMaxPool {
    /// The [`ReduceMax`] over the spatial axes of an input of shape `input`.
    fn reduction(input: &[usize]) -> Result<ReduceMax> {
        if input.len() < 3 || input[2..].contains(&0) {
            return Err(Error::shape(format!(
                "global max pooling expects input [batch, channels, spatial...] with at least \
                 one non-empty spatial axis, got {input:?}"
            )));
        }
        ReduceMax::new((2..input.len()).collect(), true)
    }
}

impl Kernel for GlobalMaxPool {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Self::reduction(inputs[0])?.output_shape(inputs)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        Self::reduction(inputs[0].shape())?.forward(inputs)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        Self::reduction(inputs[0].shape())?.backward(inputs, output, grad_output, want_params)
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
            let ops: [&dyn Kernel; 3] = [
                &ReduceMean::new(axes.clone(), false).unwrap(),
                &ReduceSum::new(axes.clone(), false).unwrap(),
                &ReduceMax::new(axes, false).unwrap(),
            ];
            for op in ops {
                let expected = op.forward(&[&t.as_standard_layout().into_owned()]).unwrap();
                assert_eq!(op.forward(&[&t]).unwrap(), expected);
            }
        }
    }

    #[test]
    fn trailing_axes_sum_each_contiguous_run() {
        let x = random_tensor(&[2, 3, 13, 11], -1.0, 1.0, 35);
        for (axes, keepdims, runs) in [
            (vec![2, 3], true, 6),
            (vec![3], false, 78),
            (vec![1, 2, 3], false, 2),
        ] {
            let count = x.len() / runs;
            let values = x.as_slice().unwrap();
            let means: Vec<f64> = values
                .chunks_exact(count)
                .map(|run| run.iter().map(|&v| v as f64).sum::<f64>() / count as f64)
                .collect();
            let op = ReduceMean::new(axes.clone(), keepdims).unwrap();
            let y = op.forward(&[&x]).unwrap();
            assert_eq!(y.shape(), op.output_shape(&[x.shape()]).unwrap().as_slice());
            for (got, want) in y.iter().zip(&means) {
                assert!(
                    (*got as f64 - want).abs() < 1e-6,
                    "axes {axes:?}: {got} vs {want}"
                );
            }
            let sums = ReduceSum::new(axes, keepdims)
                .unwrap()
                .forward(&[&x])
                .unwrap();
            for (got, want) in sums.iter().zip(&means) {
                assert!(
                    (*got as f64 - want * count as f64).abs() < 1e-4,
                    "{got} vs {want}"
                );
            }
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
            (vec![3], false),
            (vec![], false),
            (vec![], true),
        ] {
            // Trailing axes ([2, 3], [3], all) fill runs; the others broadcast.
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

    #[test]
    fn sum_and_max_match_hand_computation() {
        let x = Tensor::from_shape_vec(vec![1, 2, 3], vec![1., 6., 3., 4., 5., 2.]).unwrap();
        let run = |op: &dyn Kernel| {
            let y = op.forward(&[&x]).unwrap();
            (y.shape().to_vec(), y.iter().copied().collect::<Vec<_>>())
        };
        assert_eq!(
            run(&ReduceSum::new(vec![2], false).unwrap()),
            (vec![1, 2], vec![10., 11.])
        );
        assert_eq!(
            run(&ReduceSum::new(vec![1], true).unwrap()),
            (vec![1, 1, 3], vec![5., 11., 5.])
        );
        assert_eq!(
            run(&ReduceMax::new(vec![2], true).unwrap()),
            (vec![1, 2, 1], vec![6., 5.])
        );
        assert_eq!(
            run(&ReduceMax::new(vec![1], false).unwrap()),
            (vec![1, 3], vec![4., 6., 3.])
        );
        assert_eq!(
            run(&ReduceMax::new(vec![], false).unwrap()),
            (vec![1], vec![6.])
        );
        let e = ReduceMax::new(vec![2], false)
            .unwrap()
            .output_shape(&[&[2, 3, 0]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no elements") && e.contains("[2, 3, 0]"), "{e}");
    }

    #[test]
    fn max_gradient_goes_to_the_first_maximum_and_nan_wins() {
        // Ties along axis 2 of [1, 2, 2, 3] reduced over axes 1 and 3: row-major order over the
        // reduced axes (1 then 3) decides.
        let x = Tensor::from_shape_vec(
            vec![1, 2, 2, 3],
            vec![1., 5., 5., 0., 0., 0., 5., 2., 2., f32::NAN, 0., 7.],
        )
        .unwrap();
        let op = ReduceMax::new(vec![1, 3], false).unwrap();
        let y = op.forward(&[&x]).unwrap();
        assert_eq!(y[[0, 0]], 5.0);
        assert!(y[[0, 1]].is_nan());
        let g = Tensor::from_shape_vec(vec![1, 2], vec![1.0, 2.0]).unwrap();
        let dx = op.backward(&[&x], &y, &g, false).unwrap().inputs.remove(0);
        let expected = [0., 1., 0., 0., 0., 0., 0., 0., 0., 2., 0., 0.];
        assert_eq!(dx.iter().copied().collect::<Vec<_>>(), expected);
        let pooled = GlobalMaxPool.forward(&[&x]).unwrap();
        assert_eq!(pooled.shape(), &[1, 2, 1, 1]);
        assert_eq!(pooled[[0, 0, 0, 0]], 5.0);
        let dx = GlobalMaxPool
            .backward(
                &[&x],
                &pooled,
                &g.into_shape_with_order(vec![1, 2, 1, 1]).unwrap(),
                false,
            )
            .unwrap()
            .inputs
            .remove(0);
        assert_eq!(dx.iter().copied().collect::<Vec<_>>(), expected);
        let e = GlobalMaxPool
            .output_shape(&[&[4, 5]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[4, 5]") && e.contains("spatial"), "{e}");
    }

    /// Distinct values at least 0.05 apart, so that the finite-difference steps (0.01) never
    /// change which element is the maximum.
    fn distinct(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let values = (0..n)
            .map(|i| ((i * 7919) % n) as f32 * 0.05 - 1.0)
            .collect();
        Tensor::from_shape_vec(shape, values).unwrap()
    }

    #[test]
    fn sum_and_max_gradients_match_finite_differences() {
        let x = distinct(&[2, 3, 4, 5]);
        for (axes, keepdims) in [
            (vec![2, 3], true),
            (vec![3, 1], false),
            (vec![2], false),
            (vec![], true),
        ] {
            let tol = Tolerance::default();
            check(
                &ReduceSum::new(axes.clone(), keepdims).unwrap(),
                std::slice::from_ref(&x),
                tol,
            );
            check(
                &ReduceMax::new(axes, keepdims).unwrap(),
                std::slice::from_ref(&x),
                tol,
            );
        }
        check(
            &GlobalMaxPool,
            &[distinct(&[2, 3, 4, 5])],
            Tolerance::default(),
        );
        check(
            &GlobalMaxPool,
            &[distinct(&[2, 2, 6])],
            Tolerance::default(),
        );
    }
}
