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
            CoordinateMode::from_name(&name).map_err(|_| {
                ctx.err(format!(
                    "coordinate_transformation_mode '{name}' is not supported (half_pixel, \
                     pytorch_half_pixel, align_corners or asymmetric)"
                ))
            })?
        };
        let mode = match ctx.string("mode", "nearest")?.as_str() {
            "nearest" if old => ResizeMode::Nearest(NearestRounding::Floor),
            "nearest" => {
                let name = ctx.string("nearest_mode", "round_prefer_floor")?;
                ResizeMode::Nearest(NearestRounding::from_name(&name).map_err(|_| {
                    ctx.err(format!(
                        "nearest_mode '{name}' is not supported (round_prefer_floor, \
                         round_prefer_ceil, floor or ceil)"
                    ))
                })?)
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
        if let (true, ResizeMode::Nearest(_), Target::Scales(s)) = (old, mode, &target) {
            if let Some(s) = s.iter().find(|&&s| s < 1.0) {
                return Err(ctx.err(format!(
                    "nearest downsampling at opset 10 (scale {s}) is not supported: opset 10 \
                     does not say how to round it"
                )));
            }
        }
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
        &mut self,
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
        let x = self.runtime(ctx, 0)?;
        let sample = self.sample_shape(x);
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

    /// Refuses scales whose outputs `n · s` are not whole where the coordinate transformation
    /// reads the output length: the ONNX reference uses `n · s` there, onnxruntime `⌊n · s⌋`
    /// (`align_corners`, and `pytorch_half_pixel` where `⌊n · s⌋ = 1`).
    fn check_unambiguous(
        &self,
        ctx: &NodeCtx,
        sample: &[usize],
        scales: &[f32],
        coordinates: CoordinateMode,
    ) -> Result<()> {
        for (&n, &s) in sample[1..].iter().zip(scales) {
            let exact = n as f32 * s;
            let whole = exact == exact.floor();
            let ambiguous = match coordinates {
                CoordinateMode::AlignCorners => !whole,
                CoordinateMode::PytorchHalfPixel => !whole && exact.floor() == 1.0,
                CoordinateMode::HalfPixel | CoordinateMode::Asymmetric => false,
            };
            if ambiguous {
                return Err(ctx.err(format!(
                    "{} with scale {s} of an axis of {n} ({exact} outputs, not a whole number) \
                     is not supported: the ONNX reference and onnxruntime disagree on it (give \
                     sizes instead)",
                    coordinates.name()
                )));
            }
        }
        Ok(())
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
                self.check_unambiguous(ctx, &sample, &s[2..], coordinates)?;
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
                            .ok_or_else(|| ctx.err(format!("size {d} in {s:?} depends on the batch size or is negative; nnlens needs fixed spatial sizes")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Resize::with_sizes(&sample, &spatial, mode, coordinates)
            }
        }
        .map_err(|e| ctx.at_node(e))?;
        self.push(ctx, Op::Resize(resize), &[x])
    }
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::test_model::{
        attr_int, attr_ints, attr_string, err, float_tensor, int_tensor, model_with, node,
    };

    /// What nnlens does not resize or does not compute is refused with a message saying so.
    #[test]
    fn resizes_nnlens_does_not_run_are_refused() {
        let scales = |v: &[f32]| float_tensor("s", &[v.len()], v.iter().copied());
        let by_scales = |attrs| node("Resize", "r", &["x", "", "s"], "y", attrs);
        let by_sizes = |attrs| node("Resize", "r", &["x", "", "", "z"], "y", attrs);
        let mode = |m: &str| vec![attr_string("mode", m)];
        let coords = |c: &str| vec![attr_string("coordinate_transformation_mode", c)];
        let cases = vec![
            (by_scales(vec![]), scales(&[2., 1., 2., 2.]), None, 19, "scale the batch"),
            (by_scales(vec![]), scales(&[1., 2., 2., 2.]), None, 19, "scale the channel axis"),
            (by_scales(mode("cubic")), scales(&[1., 1., 2., 2.]), None, 19, "mode 'cubic' is not supported"),
            (
                by_scales(coords("tf_crop_and_resize")),
                scales(&[1., 1., 2., 2.]),
                None,
                19,
                "coordinate_transformation_mode 'tf_crop_and_resize' is not supported",
            ),
            (
                by_scales(vec![attr_int("antialias", 1)]),
                scales(&[1., 1., 0.5, 0.5]),
                None,
                18,
                "antialias=1 is not supported",
            ),
            (
                by_sizes(vec![attr_string("keep_aspect_ratio_policy", "not_larger")]),
                int_tensor("z", &[1, 2, 4, 4]),
                Some(1),
                18,
                "keep_aspect_ratio_policy 'not_larger' is not supported",
            ),
            (
                by_scales(coords("align_corners")),
                scales(&[1., 1., 0.6, 0.6]),
                None,
                19,
                "align_corners with scale 0.6 of an axis of 3 (1.8000001 outputs, not a whole number) is not supported",
            ),
            (by_sizes(vec![]), int_tensor("z", &[2, 2, 4, 4]), Some(1), 13, "resize the batch"),
            (by_sizes(vec![]), int_tensor("z", &[1, 3, 4, 4]), Some(1), 13, "resize the channel axis of 2"),
            (
                by_sizes(vec![attr_ints("axes", &[1])]),
                int_tensor("z", &[4]),
                None,
                18,
                "resize the channel axis",
            ),
            (
                node("Resize", "r", &["x", "s"], "y", mode("nearest")),
                scales(&[1., 1., 0.5, 0.5]),
                None,
                10,
                "nearest downsampling at opset 10 (scale 0.5) is not supported",
            ),
        ];
        for (node, init, batch, opset, expect) in cases {
            let e = err(&model_with(
                vec![node],
                vec![init],
                &[2, 3, 3],
                batch,
                opset,
            ));
            assert!(e.contains(expect), "expected '{expect}' in: {e}");
        }
    }
}
