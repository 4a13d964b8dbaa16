//! `Upsample` (opsets 7-9, deprecated at 10; <https://onnx.ai/onnx/operators/onnx__Upsample.html>):
//! scales as the attribute `scales` (opset 7) or the constant input 1 (9 and 10), one per axis,
//! the batch's 1 and the others at least 1. An axis of size `n` scaled by `s` has
//! `m = floor(n · s)` outputs, output `o` read at the source coordinate `o / s` (asymmetric):
//! `mode="nearest"` takes input `floor(o / s)`, `mode="linear"` interpolates between
//! `floor(o / s)` and the next input (the last repeated). Both are linear maps along each axis,
//! so each scaled axis becomes a [`Dense`] layer by the `[m, n]` interpolation matrix, between
//! two [`Transpose`]s that bring the axis last and back (none for the last axis); the
//! composition along several axes is the separable (bi/tri)linear interpolation. Forward and
//! backward are those of the dense and transpose layers.

use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::dense::Dense;
use crate::graph::ops::shape::Transpose;
use crate::graph::ops::Op;
use crate::graph::ValueId;
use crate::io::onnx::data::Val;
use crate::tensor::Tensor;

impl Importer {
    pub(super) fn upsample(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let rank = self.rank(x);
        let scales: Vec<f32> = match ctx.floats("scales")? {
            Some(s) => s,
            None => self
                .float_const(ctx, 1, "scales")?
                .ok_or_else(|| ctx.err("has neither a 'scales' attribute nor a scales input"))?
                .iter()
                .copied()
                .collect(),
        };
        if scales.len() != rank {
            return Err(ctx.err(format!(
                "scales {scales:?} has {} entries; the input has rank {rank}",
                scales.len()
            )));
        }
        if scales[0] != 1.0 {
            return Err(ctx.err(format!(
                "scales {scales:?} scale the batch dimension; nnlens keeps samples independent"
            )));
        }
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s >= 1.0)) {
            return Err(ctx.err(format!(
                "scale {s} in {scales:?} is not a finite number of at least 1"
            )));
        }
        let linear = match ctx.string("mode", "nearest")?.as_str() {
            "nearest" => false,
            "linear" | "bilinear" => true,
            other => {
                return Err(ctx.err(format!(
                    "mode '{other}' is not supported (nearest or linear)"
                )))
            }
        };
        let sample = self.sample_shape(x);
        let mut current = x;
        for axis in (1..rank).filter(|&a| scales[a] != 1.0) {
            let size = sample[axis - 1];
            if size == 0 {
                return Err(ctx.err(format!("cannot resample axis {axis} of size 0")));
            }
            let scaled = (size as f64 * f64::from(scales[axis])).floor();
            if scaled > (1u64 << 24) as f64 {
                return Err(ctx.err(format!(
                    "scaling axis {axis} of size {size} by {} gives more than 2^24 elements",
                    scales[axis]
                )));
            }
            let matrix = interpolation(size, scaled as usize, scales[axis], linear);
            self.spend(ctx, 4 * matrix.len())?;
            let mut perm: Vec<usize> = (0..rank).collect();
            perm.swap(axis, rank - 1);
            let last = axis == rank - 1;
            if !last {
                current = self.transposed(ctx, current, &perm)?;
            }
            let dense = Dense::new(matrix, None).map_err(|e| ctx.at_node(e))?;
            current = self.push_unbound(ctx, Op::Dense(dense), &[current])?;
            if !last {
                current = self.transposed(ctx, current, &perm)?;
            }
        }
        self.bind(ctx, Val::Runtime(current))
    }

    /// One [`Transpose`] graph node of the ONNX node.
    fn transposed(&mut self, ctx: &NodeCtx, x: ValueId, perm: &[usize]) -> Result<ValueId> {
        let op = Op::Transpose(Transpose::new(perm.to_vec()).map_err(|e| ctx.at_node(e))?);
        self.push_unbound(ctx, op, &[x])
    }
}

/// The `[outputs, inputs]` matrix of nearest or linear resampling by `scale`, output `o` at the
/// source coordinate `o / scale` (in f32, as onnxruntime computes it).
fn interpolation(inputs: usize, outputs: usize, scale: f32, linear: bool) -> Tensor {
    let mut m = Tensor::zeros(vec![outputs, inputs]);
    for o in 0..outputs {
        let source = o as f32 / scale;
        let low = (source.floor() as usize).min(inputs - 1);
        if linear {
            let high = (low + 1).min(inputs - 1);
            let weight = source - low as f32;
            m[[o, low]] += 1.0 - weight;
            m[[o, high]] += weight;
        } else {
            m[[o, low]] = 1.0;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::interpolation;

    #[test]
    fn interpolation_matrices() {
        let nearest = interpolation(2, 5, 2.5, false);
        assert_eq!(
            nearest.iter().copied().collect::<Vec<_>>(),
            [1., 0., 1., 0., 1., 0., 0., 1., 0., 1.]
        );
        let linear = interpolation(2, 4, 2.0, true);
        assert_eq!(
            linear.iter().copied().collect::<Vec<_>>(),
            [1., 0., 0.5, 0.5, 0., 1., 0., 1.]
        );
    }
}
