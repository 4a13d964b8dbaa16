//! Pad (ONNX `Pad`, `np.pad`) with modes `constant`, `reflect` (mirror without repeating the
//! edge: `[1, 2, 3]` padded by 2 gives `[3, 2, 1, 2, 3]`) and `edge` (repeat the edge value).
//! Reflect and edge pad one axis after the other, as NumPy does, so corners come from already
//! padded axes. The backward pass is the adjoint of that gather: each output gradient is added
//! to the input element it was copied from, axis by axis in reverse order.

use super::check_gradient;
use crate::error::{Error, Result};
use crate::graph::ops::{Grads, Kernel};
use crate::tensor::Tensor;
use ndarray::{ArrayView, Axis, IxDyn, Slice};

/// Padding mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PadMode {
    /// Fill with a constant value.
    Constant(f32),
    /// Mirror the values next to the edge, without repeating the edge (NumPy `reflect`);
    /// each pad must be smaller than its axis.
    Reflect,
    /// Repeat the edge value.
    Edge,
}

/// Pads every axis: `pads` holds the begin counts of all axes, then the end counts (ONNX order).
#[derive(Debug, Clone, PartialEq)]
pub struct Pad {
    /// `[begin_0, .., begin_{r-1}, end_0, .., end_{r-1}]` for an input of rank `r`; the batch
    /// axis 0 must not be padded.
    pads: Vec<usize>,
    /// How the new elements are filled.
    mode: PadMode,
}

impl Pad {
    /// Padding by `pads` (the begin count of every axis, then the end count) filled as `mode`
    /// says; fails when `pads` has an odd length, pads the batch axis 0, or the constant is
    /// not finite. Whether `pads` fits the input's rank and axes is checked by
    /// [`Kernel::output_shape`].
    pub fn new(pads: Vec<usize>, mode: PadMode) -> Result<Self> {
        if pads.len() % 2 != 0 {
            return Err(Error::invalid(
                "pads",
                format!(
                    "expected the begin of each axis, then the end of each (an even count), got {} values ({pads:?})",
                    pads.len()
                ),
            ));
        }
        let rank = pads.len() / 2;
        if rank > 0 && (pads[0] != 0 || pads[rank] != 0) {
            return Err(Error::invalid(
                "pads",
                format!(
                    "{pads:?} pads the batch axis 0 by {} and {}; expected 0 and 0",
                    pads[0], pads[rank]
                ),
            ));
        }
        if let PadMode::Constant(value) = mode {
            if !value.is_finite() {
                return Err(Error::invalid(
                    "pad value",
                    format!("expected a finite number, got {value}"),
                ));
            }
        }
        Ok(Pad { pads, mode })
    }

    /// The begin counts of all axes, then the end counts.
    pub fn pads(&self) -> &[usize] {
        &self.pads
    }

    /// How the new elements are filled.
    pub fn mode(&self) -> PadMode {
        self.mode
    }

    /// The begin and end pads for an input of shape `x`, after checking them against it (the
    /// constructor checked them on their own).
    fn begins_ends(&self, x: &[usize]) -> Result<(&[usize], &[usize])> {
        let rank = x.len();
        if self.pads.len() != 2 * rank {
            return Err(Error::invalid(
                "pads",
                format!(
                    "expected {} values (the begin of each of the {rank} axes of input {x:?}, then the end of each), got {} ({:?})",
                    2 * rank,
                    self.pads.len(),
                    self.pads
                ),
            ));
        }
        let (begins, ends) = self.pads.split_at(rank);
        for (axis, ((&dim, &begin), &end)) in x.iter().zip(begins).zip(ends).enumerate() {
            let padded = begin > 0 || end > 0;
            match self.mode {
                PadMode::Reflect if padded && (begin >= dim || end >= dim) => {
                    return Err(Error::invalid(
                        "pads",
                        format!(
                            "reflect padding needs pads smaller than the axis size, but axis {axis} of input {x:?} has size {dim} and pads {begin} and {end}"
                        ),
                    ));
                }
                PadMode::Edge if padded && dim == 0 => {
                    return Err(Error::invalid(
                        "pads",
                        format!("edge padding needs a non-empty axis, but axis {axis} of input {x:?} is empty"),
                    ));
                }
                _ => {}
            }
        }
        Ok((begins, ends))
    }

    /// For every position along one padded axis, the index of the input element it copies.
    fn sources(&self, begin: usize, dim: usize, end: usize) -> Vec<usize> {
        let last = dim - 1;
        (0..begin + dim + end)
            .map(|j| match self.mode {
                PadMode::Reflect if j < begin => begin - j,
                PadMode::Reflect if j >= begin + dim => 2 * last + begin - j,
                _ => j.saturating_sub(begin).min(last),
            })
            .collect()
    }

    /// The axes with a non-zero pad, with their begin pad, input size and end pad.
    fn padded_axes<'a>(
        x: &'a [usize],
        begins: &'a [usize],
        ends: &'a [usize],
    ) -> impl DoubleEndedIterator<Item = (usize, usize, usize, usize)> + 'a {
        (0..x.len())
            .map(move |a| (a, begins[a], x[a], ends[a]))
            .filter(|&(_, begin, _, end)| begin > 0 || end > 0)
    }
}

/// The positions along a padded axis that lie in the padding, with the input index each copies.
fn outside(
    sources: &[usize],
    begin: usize,
    dim: usize,
) -> impl Iterator<Item = (usize, usize)> + '_ {
    sources
        .iter()
        .copied()
        .enumerate()
        .filter(move |&(j, _)| j < begin || j >= begin + dim)
}

/// `source` padded along `axis`: output position `j` holds input hyperplane `sources[j]`.
/// The interior is copied as one block, the padding one hyperplane at a time.
fn extend_axis(
    source: ArrayView<'_, f32, IxDyn>,
    axis: Axis,
    begin: usize,
    sources: &[usize],
) -> Tensor {
    let dim = source.len_of(axis);
    let mut shape = source.shape().to_vec();
    shape[axis.index()] = sources.len();
    let mut out = Tensor::zeros(IxDyn(&shape));
    out.slice_axis_mut(axis, Slice::from(begin..begin + dim))
        .assign(&source);
    for (j, from) in outside(sources, begin, dim) {
        out.index_axis_mut(axis, j)
            .assign(&source.index_axis(axis, from));
    }
    out
}

impl Kernel for Pad {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        let (begins, ends) = self.begins_ends(x)?;
        x.iter()
            .zip(begins.iter().zip(ends))
            .map(|(&dim, (&begin, &end))| {
                dim.checked_add(begin)
                    .and_then(|d| d.checked_add(end))
                    .ok_or_else(|| {
                        Error::shape(format!("padding {x:?} by {:?} overflows", self.pads))
                    })
            })
            .collect()
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let (begins, ends) = self.begins_ends(x.shape())?;
        if let PadMode::Constant(value) = self.mode {
            let out_shape = self.output_shape(&[x.shape()])?;
            let mut out = Tensor::from_elem(IxDyn(&out_shape), value);
            out.slice_each_axis_mut(|d| {
                let a = d.axis.index();
                Slice::from(begins[a]..begins[a] + x.len_of(d.axis))
            })
            .assign(x);
            return Ok(out);
        }
        let mut padded: Option<Tensor> = None;
        for (a, begin, dim, end) in Self::padded_axes(x.shape(), begins, ends) {
            let sources = self.sources(begin, dim, end);
            let source = padded.as_ref().map_or_else(|| x.view(), |t| t.view());
            padded = Some(extend_axis(source, Axis(a), begin, &sources));
        }
        Ok(padded.unwrap_or_else(|| x.to_owned()))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        check_gradient("pad", grad_output, &self.output_shape(&[x.shape()])?)?;
        let (begins, ends) = self.begins_ends(x.shape())?;
        let dx = if let PadMode::Constant(_) = self.mode {
            grad_output
                .slice_each_axis(|d| {
                    let a = d.axis.index();
                    Slice::from(begins[a]..begins[a] + x.len_of(d.axis))
                })
                .to_owned()
        } else {
            let mut grad: Option<Tensor> = None;
            for (a, begin, dim, end) in Self::padded_axes(x.shape(), begins, ends).rev() {
                let current = grad.as_ref().unwrap_or(grad_output);
                let sources = self.sources(begin, dim, end);
                let mut folded = current
                    .slice_axis(Axis(a), Slice::from(begin..begin + dim))
                    .to_owned();
                for (j, source) in outside(&sources, begin, dim) {
                    let mut target = folded.index_axis_mut(Axis(a), source);
                    target += &current.index_axis(Axis(a), j);
                }
                grad = Some(folded);
            }
            grad.unwrap_or_else(|| grad_output.to_owned())
        };
        Ok(Grads {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};

    fn tensor(shape: &[usize], values: &[f32]) -> Tensor {
        Tensor::from_shape_vec(shape.to_vec(), values.to_vec()).unwrap()
    }

    /// Rows `[1, 2, 3]` and `[4, 5, 6]` padded by one row above and two columns left, one right.
    fn padded(mode: PadMode) -> Tensor {
        let x = tensor(&[1, 2, 3], &[1., 2., 3., 4., 5., 6.]);
        Pad::new(vec![0, 1, 2, 0, 0, 1], mode)
            .unwrap()
            .forward(&[&x])
            .unwrap()
    }

    #[test]
    fn pad_matches_numpy() {
        // np.pad(x, ((1, 0), (2, 1)), mode=...) for x = [[1, 2, 3], [4, 5, 6]].
        let constant = padded(PadMode::Constant(-1.0));
        assert_eq!(constant.shape(), &[1, 3, 6]);
        #[rustfmt::skip]
        assert_eq!(constant.as_slice().unwrap(), &[
            -1., -1., -1., -1., -1., -1.,
            -1., -1., 1., 2., 3., -1.,
            -1., -1., 4., 5., 6., -1.,
        ]);
        #[rustfmt::skip]
        assert_eq!(padded(PadMode::Reflect).as_slice().unwrap(), &[
            6., 5., 4., 5., 6., 5.,
            3., 2., 1., 2., 3., 2.,
            6., 5., 4., 5., 6., 5.,
        ]);
        #[rustfmt::skip]
        assert_eq!(padded(PadMode::Edge).as_slice().unwrap(), &[
            1., 1., 1., 2., 3., 3.,
            1., 1., 1., 2., 3., 3.,
            4., 4., 4., 5., 6., 6.,
        ]);
    }

    #[test]
    fn pad_rejects_bad_pads() {
        let shape: &[usize] = &[1, 2, 3];
        let pad = |pads: Vec<usize>, mode| Pad::new(pads, mode).unwrap().output_shape(&[shape]);
        let count = pad(vec![0, 1, 0, 1], PadMode::Edge)
            .unwrap_err()
            .to_string();
        assert!(count.contains("expected 6 values"), "{count}");
        let batch = Pad::new(vec![1, 0, 0, 0, 0, 0], PadMode::Edge)
            .unwrap_err()
            .to_string();
        assert!(batch.contains("batch"), "{batch}");
        let odd = Pad::new(vec![0, 1, 0], PadMode::Edge)
            .unwrap_err()
            .to_string();
        assert!(odd.contains("pads") && odd.contains("[0, 1, 0]"), "{odd}");
        let reflect = pad(vec![0, 2, 0, 0, 0, 0], PadMode::Reflect)
            .unwrap_err()
            .to_string();
        assert!(
            reflect.contains("axis 1") && reflect.contains("size 2"),
            "{reflect}"
        );
        assert!(pad(vec![0, 1, 2, 0, 1, 2], PadMode::Reflect).is_ok());
        let nan = Pad::new(vec![0, 0, 0, 0, 0, 1], PadMode::Constant(f32::NAN))
            .unwrap_err()
            .to_string();
        assert!(nan.contains("pad value") && nan.contains("NaN"), "{nan}");
        assert_eq!(
            pad(vec![0, 1, 2, 0, 3, 4], PadMode::Constant(0.0)).unwrap(),
            vec![1, 6, 9]
        );
    }

    #[test]
    fn pad_gradients_match_finite_differences() {
        let x = random_tensor(&[2, 3, 4], -1.0, 1.0, 50);
        for mode in [PadMode::Constant(0.5), PadMode::Reflect, PadMode::Edge] {
            for pads in [
                vec![0, 2, 3, 0, 1, 2],
                vec![0, 0, 1, 0, 0, 3],
                vec![0, 2, 0, 0, 2, 0],
                vec![0, 0, 0, 0, 0, 0],
            ] {
                check(
                    &Pad::new(pads, mode).unwrap(),
                    std::slice::from_ref(&x),
                    Tolerance::default(),
                );
            }
        }
        // Edge padding far wider than the axis repeats the edge element many times.
        check(
            &Pad::new(vec![0, 5, 0, 4], PadMode::Edge).unwrap(),
            &[random_tensor(&[2, 2], -1.0, 1.0, 51)],
            Tolerance::default(),
        );
    }
}
