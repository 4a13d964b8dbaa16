//! `Resize` (opsets 10-19, <https://onnx.ai/onnx/operators/onnx__Resize.html>) and `Upsample`
//! (opsets 7-9, deprecated at 10) as one [`Resize`] graph op over the spatial axes.
//!
//! `Resize` takes the scales as input 1 (opset 10) or the scales (input 2) or the sizes
//! (input 3) from opset 11, one per axis or, from opset 18, one per axis of the `axes`
//! attribute; `roi` (input 1 from opset 11) only matters to `tf_crop_and_resize`, which is
//! refused. Modes `nearest` (with `nearest_mode`) and `linear`, coordinate transformations
//! `half_pixel`, `pytorch_half_pixel`, `align_corners` and `asymmetric`; `antialias` must be 0
//! and `keep_aspect_ratio_policy` `stretch`. Opset 10 and `Upsample` read output `o` at the
//! source coordinate `o / s` (`asymmetric`) and take its floor for `nearest`; nearest
//! downsampling is refused there (onnxruntime rounds it differently). The batch and channel
//! axes must keep their sizes: nnlens keeps samples and channels apart.

use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::resize::{CoordinateMode, NearestRounding, Resize, ResizeMode};
use crate::graph::ops::Op;
use crate::io::onnx::data::{Sym, Val};

/// The output of every axis, as the node gives it.
enum Target {
    /// One scale per axis.
    Scales(Vec<f32>),
    /// One size per axis (the batch's possibly symbolic).
    Sizes(Vec<Sym>),
}

impl Importer {
    /// ONNX `Resize`.
    pub(super) fn resize(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let rank = self.rank(x);
        let old = self.opset < 11;
        if ctx.int("antialias", 0)? != 0 {
            return Err(ctx.err("antialias=1 is not supported (plain interpolation only)"));
        }
        let policy = ctx.string("keep_aspect_ratio_policy", "stretch")?;
        if policy != "stretch" {
            return Err(ctx.err(format!(
                "keep_aspect_ratio_policy '{policy}' is not supported (stretch only)"
            )));
        }
        let coordinates = if old {
            CoordinateMode::Asymmetric
        } else {
            let name = ctx.string("coordinate_transformation_mode", "half_pixel")?;
            CoordinateMode::from_name(&name).map_err(|e| ctx.err(e))?
        };
        let mode = match ctx.string("mode", "nearest")?.as_str() {
            "nearest" if old => ResizeMode::Nearest(NearestRounding::Floor),
            "nearest" => {
                let name = ctx.string("nearest_mode", "round_prefer_floor")?;
                ResizeMode::Nearest(NearestRounding::from_name(&name).map_err(|e| ctx.err(e))?)
            }
            "linear" => ResizeMode::Linear,
            other => {
                return Err(ctx.err(format!(
                    "mode '{other}' is not supported (nearest or linear)"
                )))
            }
        };
        let scales_input = if old { 1 } else { 2 };
        let scales = self
            .float_const(ctx, scales_input, "scales")?
            .filter(|s| !s.is_empty());
        let target = match scales {
            Some(s) => Target::Scales(s.iter().copied().collect()),
            None if old => return Err(ctx.err("has no scales input")),
            None => match self.input(ctx, 3)? {
                Some(Val::Int(sizes)) => Target::Sizes(sizes.iter().copied().collect()),
                Some(other) => {
                    return Err(ctx.err(format!(
                        "sizes (input 3) is {}; nnlens needs integer constants here",
                        other.describe()
                    )))
                }
                None => return Err(ctx.err("has neither scales nor sizes")),
            },
        };
        let target = match ctx.ints("axes")? {
            None => target,
            Some(axes) => self.on_all_axes(ctx, target, &axes, rank)?,
        };
        self.build_resize(ctx, x, target, mode, coordinates)
    }

    /// ONNX `Upsample` (opsets 7-9): scales as the attribute `scales` (opset 7) or input 1,
    /// each at least 1, `asymmetric` coordinates.
    pub(super) fn upsample(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime(ctx, 0)?;
        let scales: Vec<f32> = match ctx.floats("scales")? {
            Some(s) => s,
            None => self
                .float_const(ctx, 1, "scales")?
                .ok_or_else(|| ctx.err("has neither a 'scales' attribute nor a scales input"))?
                .iter()
                .copied()
                .collect(),
        };
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s >= 1.0)) {
            return Err(ctx.err(format!(
                "scale {s} in {scales:?} is not a finite number of at least 1"
            )));
        }
        let mode = match ctx.string("mode", "nearest")?.as_str() {
            "nearest" => ResizeMode::Nearest(NearestRounding::Floor),
            "linear" | "bilinear" => ResizeMode::Linear,
            other => {
                return Err(ctx.err(format!(
                    "mode '{other}' is not supported (nearest or linear)"
                )))
            }
        };
        let target = Target::Scales(scales);
        self.build_resize(ctx, x, target, mode, CoordinateMode::Asymmetric)
    }

    /// The scales or sizes of `axes` (opset 18) spread over all `rank` axes, the others kept.
    fn on_all_axes(
        &self,
        ctx: &NodeCtx,
        target: Target,
        axes: &[i64],
        rank: usize,
    ) -> Result<Target> {
        let mut full: Vec<Option<usize>> = vec![None; rank];
        for (i, &a) in axes.iter().enumerate() {
            let axis = if a < 0 { a + rank as i64 } else { a };
            if !(0..rank as i64).contains(&axis) || full[axis as usize].is_some() {
                return Err(ctx.err(format!(
                    "axes {axes:?} are not distinct axes of a rank-{rank} input"
                )));
            }
            full[axis as usize] = Some(i);
        }
        let given = match &target {
            Target::Scales(s) => s.len(),
            Target::Sizes(s) => s.len(),
        };
        if given != axes.len() {
            return Err(ctx.err(format!(
                "has {given} scales or sizes for the {} axes {axes:?}",
                axes.len()
            )));
        }
        let sample = self.sample_shape(self.runtime(ctx, 0)?);
        Ok(match target {
            Target::Scales(s) => {
                Target::Scales(full.iter().map(|i| i.map_or(1.0, |i| s[i])).collect())
            }
            Target::Sizes(s) => Target::Sizes(
                full.iter()
                    .enumerate()
                    .map(|(axis, i)| match (i, axis) {
                        (Some(i), _) => s[*i],
                        (None, 0) => Sym::BATCH,
                        (None, a) => Sym::int(sample[a - 1] as i64),
                    })
                    .collect(),
            ),
        })
    }

    /// Checks that `target` keeps the batch and channel axes, and pushes the [`Resize`].
    fn build_resize(
        &mut self,
        ctx: &NodeCtx,
        x: crate::graph::ValueId,
        target: Target,
        mode: ResizeMode,
        coordinates: CoordinateMode,
    ) -> Result<()> {
        let rank = self.rank(x);
        let sample = self.sample_shape(x);
        let given = match &target {
            Target::Scales(s) => s.len(),
            Target::Sizes(s) => s.len(),
        };
        if given != rank {
            return Err(ctx.err(format!(
                "has {given} scales or sizes; the input has rank {rank}"
            )));
        }
        if rank < 3 {
            return Err(ctx.err(format!(
                "resizes a rank-{rank} input; nnlens resizes the spatial axes of [batch, channels, spatial...]"
            )));
        }
        let resize = match target {
            Target::Scales(s) => {
                if s[0] != 1.0 {
                    return Err(ctx.err(format!(
                        "scales {s:?} scale the batch dimension; nnlens keeps samples independent"
                    )));
                }
                if s[1] != 1.0 {
                    return Err(ctx.err(format!(
                        "scales {s:?} scale the channel axis; nnlens resizes the spatial axes only"
                    )));
                }
                Resize::with_scales(&sample, &s[2..], mode, coordinates)
            }
            Target::Sizes(s) => {
                let batch_kept = s[0] == Sym::BATCH
                    || self.declared_batch.is_some_and(|b| s[0] == Sym::int(b));
                if !batch_kept {
                    return Err(ctx.err(format!(
                        "sizes {s:?} resize the batch dimension; nnlens keeps samples independent"
                    )));
                }
                if s[1] != Sym::int(sample[0] as i64) {
                    return Err(ctx.err(format!(
                        "sizes {s:?} resize the channel axis of {} channels; nnlens resizes the spatial axes only",
                        sample[0]
                    )));
                }
                let spatial = s[2..]
                    .iter()
                    .map(|d| {
                        d.as_int()
                            .and_then(|d| usize::try_from(d).ok())
                            .ok_or_else(|| ctx.err(format!("size {d} in {s:?} is not a size")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Resize::with_sizes(&sample, &spatial, mode, coordinates)
            }
        }
        .map_err(|e| ctx.at_node(e))?;
        self.push(ctx, Op::Resize(resize), &[x])
    }
}
