//! Ops that repeat values: tiling, broadcasting, and a constant repeated for every sample.
//!
//! - Tile (ONNX `Tile`, `np.tile`, `torch.Tensor.repeat`): output axis `a` is the input axis
//!   repeated `repeats[a]` times (`[1, 2]` tiled twice is `[1, 2, 1, 2]`). The batch is never
//!   repeated. Backward: each input element's gradient is the sum over its copies.
//! - Expand (ONNX `Expand`, `torch.Tensor.expand`): the input broadcast (NumPy rules) with a
//!   per-sample target shape; the output shape is the broadcast of both, as ONNX defines.
//!   Backward: the gradient summed over the broadcast axes (the adjoint of broadcasting).
//! - BatchConstant: a constant value (its one, trainable, parameter) produced for every sample,
//!   e.g. a class token `cls.expand(x.shape[0], -1, -1)`. It reads its input only for the batch
//!   size: the gradient to the input is zero and the parameter's gradient is the sum over the
//!   batch of the output gradient.

use super::elementwise::sum_to_shape;
use super::index::check_gradient;
use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::{checked_elements, Tensor};
use ndarray::{Axis, CowArray, IxDyn};

/// Repeats every axis a number of times (the batch once).
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// Repeats per axis of the full shape; `repeats[0] == 1`.
    repeats: Vec<usize>,
}

impl Tile {
    /// Repeats axis `a` `repeats[a]` times; fails unless `repeats[0]` is 1 (the batch is not
    /// repeated). Whether the length is the input's rank is checked by [`Kernel::output_shape`].
    pub fn new(repeats: Vec<usize>) -> Result<Self> {
        if repeats.first() != Some(&1) {
            return Err(Error::invalid(
                "tile repeats",
                format!("{repeats:?} repeats the batch axis; expected repeats[0] = 1"),
            ));
        }
        Ok(Tile { repeats })
    }

    /// Repeats per axis of the full shape.
    pub fn repeats(&self) -> &[usize] {
        &self.repeats
    }
}

/// `[outer, block]` around `axis` of `shape`: `outer` the product before it, `block` from it on.
fn outer_block(shape: &[usize], axis: usize) -> (usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis..].iter().product(),
    )
}

impl Kernel for Tile {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        if x.len() != self.repeats.len() {
            return Err(Error::invalid(
                "tile repeats",
                format!(
                    "{:?} has {} entries, but input shape {x:?} has {} axes",
                    self.repeats,
                    self.repeats.len(),
                    x.len()
                ),
            ));
        }
        let out: Vec<usize> = x
            .iter()
            .zip(&self.repeats)
            .map(|(&d, &r)| d.saturating_mul(r))
            .collect();
        checked_elements("tiled output", &out)?;
        Ok(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let out_shape = self.output_shape(&[x.shape()])?;
        let mut shape = x.shape().to_vec();
        let mut data = x
            .as_standard_layout()
            .into_owned()
            .into_raw_vec_and_offset()
            .0;
        // One axis at a time: each block from the axis on is copied `r` times in a row.
        for (axis, &r) in self.repeats.iter().enumerate().skip(1) {
            if r == 1 {
                continue;
            }
            let (outer, block) = outer_block(&shape, axis);
            let mut next = Vec::with_capacity(data.len() * r);
            for o in 0..outer {
                let piece = &data[o * block..(o + 1) * block];
                for _ in 0..r {
                    next.extend_from_slice(piece);
                }
            }
            data = next;
            shape[axis] *= r;
        }
        Tensor::from_shape_vec(IxDyn(&out_shape), data).map_err(|e| Error::shape(e.to_string()))
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
        check_gradient("tile", grad_output, &expected)?;
        let mut shape = expected;
        let mut data = grad_output
            .as_standard_layout()
            .into_owned()
            .into_raw_vec_and_offset()
            .0;
        for (axis, &r) in self.repeats.iter().enumerate().skip(1).rev() {
            if r == 1 {
                continue;
            }
            shape[axis] /= r;
            let (outer, block) = outer_block(&shape, axis);
            let mut next = vec![0.0f32; outer * block];
            for (o, sum) in next.chunks_exact_mut(block.max(1)).enumerate() {
                for k in 0..r {
                    let at = (o * r + k) * block;
                    for (s, &v) in sum.iter_mut().zip(&data[at..at + block]) {
                        *s += v;
                    }
                }
            }
            data = next;
        }
        Ok(Grads {
            inputs: vec![Tensor::from_shape_vec(x.raw_dim(), data)
                .map_err(|e| Error::shape(e.to_string()))?],
            params: Vec::new(),
        })
    }
}

/// Broadcasts every sample to a target shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    /// The per-sample target shape, of the input's per-sample rank.
    shape: Vec<usize>,
}

impl Expand {
    /// Broadcasts every sample with `shape` (of the input's per-sample rank, checked by
    /// [`Kernel::output_shape`]).
    pub fn new(shape: Vec<usize>) -> Self {
        Expand { shape }
    }

    /// The per-sample target shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
}

impl Kernel for Expand {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let x = inputs[0];
        if x.len() != self.shape.len() + 1 {
            return Err(Error::shape(format!(
                "expand to the per-sample shape {:?} needs samples of rank {}, got input shape {x:?}",
                self.shape,
                self.shape.len()
            )));
        }
        let mut out = vec![x[0]];
        for (&d, &t) in x[1..].iter().zip(&self.shape) {
            out.push(match (d, t) {
                (d, t) if d == t || t == 1 => d,
                (1, t) => t,
                _ => {
                    return Err(Error::shape(format!(
                        "cannot expand samples of shape {:?} to {:?}: sizes must be equal or 1",
                        &x[1..],
                        self.shape
                    )))
                }
            });
        }
        checked_elements("expanded output", &out)?;
        Ok(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let out = self.output_shape(&[x.shape()])?;
        x.broadcast(IxDyn(&out))
            .map(|v| v.to_owned())
            .ok_or_else(|| Error::shape(format!("cannot expand {:?} to {out:?}", x.shape())))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        check_gradient("expand", grad_output, &self.output_shape(&[x.shape()])?)?;
        Ok(Grads {
            inputs: vec![sum_to_shape(CowArray::from(grad_output.view()), x.shape())?],
            params: Vec::new(),
        })
    }
}

/// A constant produced for every sample of the input's batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchConstant {
    /// The value of every sample (per-sample shape).
    value: Tensor,
}

impl BatchConstant {
    /// Produces `value` (a per-sample tensor) for every sample.
    pub fn new(value: Tensor) -> Self {
        BatchConstant { value }
    }

    /// The value of every sample.
    pub fn value(&self) -> &Tensor {
        &self.value
    }
}

impl Kernel for BatchConstant {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let batch = *inputs[0].first().ok_or_else(|| {
            Error::shape("a batch constant reads the batch of an input of rank >= 1")
        })?;
        let out = crate::tensor::with_batch(batch, self.value.shape());
        checked_elements("batch constant", &out)?;
        Ok(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let out = self.output_shape(&[inputs[0].shape()])?;
        self.value
            .broadcast(IxDyn(&out))
            .map(|v| v.to_owned())
            .ok_or_else(|| {
                Error::shape(format!("cannot repeat {:?} as {out:?}", self.value.shape()))
            })
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        check_gradient(
            "batch constant",
            grad_output,
            &self.output_shape(&[x.shape()])?,
        )?;
        Ok(Grads {
            inputs: vec![Tensor::zeros(x.raw_dim())],
            params: if want_params {
                vec![grad_output.sum_axis(Axis(0))]
            } else {
                Vec::new()
            },
        })
    }

    fn params(&self) -> Vec<&Tensor> {
        vec![&self.value]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.value]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, iota, random_tensor, values, Tolerance};

    #[test]
    fn tile_matches_numpy() {
        let x = iota(&[2, 1, 2]);
        let op = Tile::new(vec![1, 2, 3]).unwrap();
        let y = op.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[2, 2, 6]);
        assert_eq!(
            values(&y)[..12],
            [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
        );
        assert_eq!(values(&y)[12..14], [2.0, 3.0]);
        assert!(Tile::new(vec![2, 1]).is_err());
        assert!(op.output_shape(&[&[2, 2]]).is_err());
        let huge = Tile::new(vec![1, 1 << 20, 1 << 20]).unwrap();
        assert!(huge.output_shape(&[&[1, 2, 2]]).is_err());
    }

    #[test]
    fn tile_gradients_match_finite_differences() {
        let op = Tile::new(vec![1, 3, 1, 2]).unwrap();
        check(
            &op,
            &[random_tensor(&[2, 2, 3, 2], -1.0, 1.0, 4)],
            Tolerance::default(),
        );
    }

    #[test]
    fn expand_broadcasts_both_ways() {
        let x = iota(&[2, 3, 1]);
        let op = Expand::new(vec![1, 2]);
        let y = op.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[2, 3, 2]);
        assert_eq!(values(&y)[..6], [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
        assert!(Expand::new(vec![2, 2]).output_shape(&[&[2, 3, 1]]).is_err());
        assert!(Expand::new(vec![2]).output_shape(&[&[2, 3, 1]]).is_err());
        check(
            &Expand::new(vec![4, 3, 1]),
            &[random_tensor(&[2, 1, 3, 1], -1.0, 1.0, 5)],
            Tolerance::default(),
        );
    }

    #[test]
    fn batch_constant_repeats_its_trainable_value() {
        let op = BatchConstant::new(iota(&[1, 2]));
        let x = random_tensor(&[3, 4], -1.0, 1.0, 6);
        let y = op.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[3, 1, 2]);
        assert_eq!(values(&y), [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
        assert_eq!(op.params().len(), 1);
        check(&op, &[x], Tolerance::default());
    }
}
