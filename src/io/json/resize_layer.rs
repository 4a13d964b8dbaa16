//! The `resize` layer of the nnlens JSON format (the layer table's row for it; see
//! `layers.rs`): nearest or linear resizing of the spatial axes of `[channels, spatial...]`
//! samples ([`Resize`]), by `scale` (one factor per spatial axis, each axis getting
//! `⌊length · factor⌋` outputs) or to `size` (one length per spatial axis), exactly one of the
//! two. `mode` is `"nearest"` (default) or `"linear"`; `coordinates` is ONNX's
//! `coordinate_transformation_mode` (`"half_pixel"` by default, `"pytorch_half_pixel"`,
//! `"align_corners"`, `"asymmetric"`); `nearest` is ONNX's `nearest_mode`
//! (`"round_prefer_floor"` by default, `"round_prefer_ceil"`, `"floor"`, `"ceil"`). Options are
//! written when they differ from their defaults; `size` is written when it reproduces the op,
//! `scale` otherwise.

use super::layers::Site;
use crate::error::{Error, Result};
use crate::graph::ops::resize::{CoordinateMode, NearestRounding, Resize, ResizeMode};
use crate::graph::ops::Op;
use serde::{Deserialize, Serialize};

/// `resize`: see the module documentation.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ResizeLayer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    coordinates: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nearest: Option<String>,
}

impl ResizeLayer {
    pub(super) fn op(&self, at: &Site) -> Result<Op> {
        self.resize(at.in_shape)
            .map(Op::Resize)
            .map_err(|e| at.at_node(e))
    }

    fn resize(&self, in_shape: &[usize]) -> Result<Resize> {
        let mode = match self.mode.as_deref().unwrap_or("nearest") {
            "nearest" => ResizeMode::Nearest(NearestRounding::from_name(
                self.nearest.as_deref().unwrap_or("round_prefer_floor"),
            )?),
            "linear" if self.nearest.is_some() => {
                return Err(Error::invalid(
                    "resize nearest",
                    "is an option of mode \"nearest\", not \"linear\"",
                ))
            }
            "linear" => ResizeMode::Linear,
            other => return Err(Error::unknown("resize mode", other, &["nearest", "linear"])),
        };
        let coordinates =
            CoordinateMode::from_name(self.coordinates.as_deref().unwrap_or("half_pixel"))?;
        match (&self.scale, &self.size) {
            (Some(scale), None) => Resize::with_scales(in_shape, scale, mode, coordinates),
            (None, Some(size)) => Resize::with_sizes(in_shape, size, mode, coordinates),
            _ => Err(Error::invalid(
                "resize",
                "needs exactly one of 'scale' (factors) and 'size' (lengths)",
            )),
        }
    }

    pub(super) fn write(r: &Resize) -> Self {
        let from_sizes =
            Resize::with_sizes(r.input_shape(), r.sizes(), r.mode(), r.coordinates()).ok();
        let (scale, size) = if from_sizes.as_ref() == Some(r) {
            (None, Some(r.sizes().to_vec()))
        } else {
            (Some(r.scales().to_vec()), None)
        };
        let (mode, nearest) = match r.mode() {
            ResizeMode::Linear => (Some("linear".to_string()), None),
            ResizeMode::Nearest(NearestRounding::RoundPreferFloor) => (None, None),
            ResizeMode::Nearest(rounding) => (None, Some(rounding.name().to_string())),
        };
        let coordinates = (r.coordinates() != CoordinateMode::HalfPixel)
            .then(|| r.coordinates().name().to_string());
        ResizeLayer {
            scale,
            size,
            mode,
            coordinates,
            nearest,
        }
    }
}
