//! The normalisation and reduction layers of the nnlens JSON format (the layer table's rows for
//! them; see `layers.rs`): `layerNorm`, `groupNorm`, `instanceNorm` with their `scale` (default
//! one) and `bias` (default zero), `reduceMean`, `reduceSum`, `reduceMax` over per-sample axes,
//! and `globalMaxPool`.

use super::fields::{dim, finite, ints, is_false, yes};
use super::layers::Site;
use super::{encode_tensor, full_axis, Init};
use crate::error::Result;
use crate::graph::ops::group_norm::GroupNorm;
use crate::graph::ops::layer_norm::LayerNorm;
use crate::graph::ops::reduce::{GlobalMaxPool, ReduceMax, ReduceMean, ReduceSum};
use crate::graph::ops::Op;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const fn norm_epsilon() -> f32 {
    1e-5
}

const fn last() -> i64 {
    -1
}

/// Takes `scale` (one) and `bias` (zero) of `shape` from the layer's parameters.
fn affine(at: &mut Site, shape: &[usize]) -> Result<(Tensor, Tensor)> {
    Ok((
        at.params.take("scale", shape, Init::Constant(1.0))?,
        at.params.take("bias", shape, Init::Constant(0.0))?,
    ))
}

/// Writes `scale` and `bias` into the layer's weights.
fn write_affine(scale: &Tensor, bias: &Tensor, weights: &mut Map<String, Value>) {
    weights.insert("scale".into(), encode_tensor(scale));
    weights.insert("bias".into(), encode_tensor(bias));
}

/// `layerNorm` over the per-sample axes from `axis` (default −1, the last) on: `nn.LayerNorm`,
/// `scale` (PyTorch's `weight`) and `bias` of those axes' shape.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LayerNormLayer {
    #[serde(default = "last")]
    axis: i64,
    #[serde(default = "norm_epsilon", deserialize_with = "finite")]
    epsilon: f32,
}

impl LayerNormLayer {
    pub(super) fn op(&self, at: &mut Site) -> Result<Op> {
        let first = full_axis(self.axis, at.in_shape.len(), "layerNorm axis")? - 1;
        let in_shape = at.in_shape;
        let (scale, bias) = affine(at, &in_shape[first..])?;
        Ok(Op::LayerNorm(
            LayerNorm::new(scale, bias, self.epsilon).map_err(|e| at.at_node(e))?,
        ))
    }

    pub(super) fn write(l: &LayerNorm, in_rank: usize, weights: &mut Map<String, Value>) -> Self {
        write_affine(l.scale(), l.bias(), weights);
        LayerNormLayer {
            axis: (in_rank - l.normalized_shape().len()) as i64,
            epsilon: l.epsilon(),
        }
    }
}

/// `groupNorm` of `groups` groups of the channels (the first per-sample axis): `nn.GroupNorm`,
/// per-channel `scale` and `bias`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupNormLayer {
    #[serde(deserialize_with = "dim")]
    groups: usize,
    #[serde(default = "norm_epsilon", deserialize_with = "finite")]
    epsilon: f32,
}

impl GroupNormLayer {
    pub(super) fn op(&self, at: &mut Site) -> Result<Op> {
        let (scale, bias) = affine(at, &[at.in_shape[0]])?;
        Ok(Op::GroupNorm(
            GroupNorm::new(self.groups, scale, bias, self.epsilon).map_err(|e| at.at_node(e))?,
        ))
    }

    pub(super) fn write(g: &GroupNorm, weights: &mut Map<String, Value>) -> Self {
        write_affine(g.scale(), g.bias(), weights);
        GroupNormLayer {
            groups: g.groups(),
            epsilon: g.epsilon(),
        }
    }
}

/// `instanceNorm`: each channel (the first per-sample axis) over its other axes,
/// `nn.InstanceNorm2d(affine=True)`, per-channel `scale` and `bias`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstanceNormLayer {
    #[serde(default = "norm_epsilon", deserialize_with = "finite")]
    epsilon: f32,
}

impl InstanceNormLayer {
    pub(super) fn op(&self, at: &mut Site) -> Result<Op> {
        let (scale, bias) = affine(at, &[at.in_shape[0]])?;
        Ok(Op::InstanceNorm(
            GroupNorm::instance(scale, bias, self.epsilon).map_err(|e| at.at_node(e))?,
        ))
    }

    pub(super) fn write(g: &GroupNorm, weights: &mut Map<String, Value>) -> Self {
        write_affine(g.scale(), g.bias(), weights);
        InstanceNormLayer {
            epsilon: g.epsilon(),
        }
    }
}

/// Which reduction a [`ReduceLayer`] is.
#[derive(Clone, Copy)]
pub(super) enum ReduceKind {
    Mean,
    Sum,
    Max,
}

/// `reduceMean`, `reduceSum`, `reduceMax` over the per-sample `axes`, keeping them with size 1
/// unless `keepDims` is false.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ReduceLayer {
    #[serde(deserialize_with = "ints")]
    pub(super) axes: Vec<i64>,
    #[serde(default = "yes")]
    pub(super) keep_dims: bool,
}

impl ReduceLayer {
    pub(super) fn op(&self, kind: ReduceKind, at: &Site) -> Result<Op> {
        let axes = self
            .axes
            .iter()
            .map(|&a| full_axis(a, at.in_shape.len(), &format!("{} axes", at.kind)))
            .collect::<Result<Vec<_>>>()?;
        let keep = self.keep_dims;
        match kind {
            ReduceKind::Mean => ReduceMean::new(axes, keep).map(Op::ReduceMean),
            ReduceKind::Sum => ReduceSum::new(axes, keep).map(Op::ReduceSum),
            ReduceKind::Max => ReduceMax::new(axes, keep).map(Op::ReduceMax),
        }
        .map_err(|e| at.at_node(e))
    }

    /// The layer of a reduction over the full-shape `axes`.
    pub(super) fn write(axes: &[usize], keep_dims: bool) -> Self {
        ReduceLayer {
            axes: axes.iter().map(|&a| a as i64 - 1).collect(),
            keep_dims,
        }
    }
}

/// `globalMaxPool`: the maximum over height and width, dropping them (`ReduceMax`), or keeping
/// them with size 1 (`keepDims`, ONNX `GlobalMaxPool`); `keepDims` is written when true.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GlobalMaxPoolLayer {
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) keep_dims: bool,
}

impl GlobalMaxPoolLayer {
    pub(super) fn op(&self, at: &Site) -> Result<Op> {
        if self.keep_dims {
            return Ok(Op::GlobalMaxPool(GlobalMaxPool));
        }
        if at.in_shape.len() != 3 {
            return Err(at.shape_error(format!(
                "globalMaxPool expects a per-sample input [channels, height, width], got {:?}",
                at.in_shape
            )));
        }
        Ok(Op::ReduceMax(
            ReduceMax::new(vec![2, 3], false).map_err(|e| at.at_node(e))?,
        ))
    }
}
