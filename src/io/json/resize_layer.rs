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

#[cfg(test)]
mod tests {
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::io::json::{from_json, to_json};
    use serde_json::{json, Value};

    const RESIZES: &str = r#"{ "format": "nnlens", "version": 1, "input": [2, 4, 5],
     "layers": [
      { "type": "resize", "scale": [2, 1.6], "coordinates": "asymmetric", "nearest": "floor" },
      { "type": "resize", "size": [3, 7], "mode": "linear", "coordinates": "align_corners", "name": "down" },
      { "type": "resize", "scale": [0.5, 0.3], "mode": "linear", "inputs": ["down"] },
      { "type": "flatten" } ] }"#;

    /// The layers read, run, are written with their options (`size` when it gives the same op,
    /// as `[2, 1.6]` of `[4, 5]` does; `scale` otherwise) and read back to the same model.
    #[test]
    fn resize_layers_round_trip() {
        let g = from_json(RESIZES).unwrap();
        assert_eq!(g.output_shape(), &[4]);
        let text = to_json(&g).unwrap();
        let again = from_json(&text).unwrap();
        let x = random_tensor(&[2, 2, 4, 5], -1.0, 1.0, 3);
        assert_eq!(g.forward(x.clone()).unwrap(), again.forward(x).unwrap());
        let written: Value = serde_json::from_str(&text).unwrap();
        let layers = written["layers"].as_array().unwrap();
        let fields = |i: usize| {
            let mut l = layers[i].clone();
            let o = l.as_object_mut().unwrap();
            o.remove("name");
            o.remove("inputs");
            l
        };
        assert_eq!(
            fields(0),
            json!({ "type": "resize", "size": [8, 8], "coordinates": "asymmetric",
                    "nearest": "floor" })
        );
        assert_eq!(
            fields(1),
            json!({ "type": "resize", "size": [3, 7], "mode": "linear",
                    "coordinates": "align_corners" })
        );
        assert_eq!(
            fields(2),
            json!({ "type": "resize", "scale": [0.5, 0.30000001192092896], "mode": "linear" })
        );
    }

    #[test]
    fn resize_field_errors_say_what_is_wrong() {
        let with = |fields: &str| {
            let text = format!(
                r#"{{ "format": "nnlens", "version": 1, "input": [2, 4, 5],
                 "layers": [ {{ "type": "resize", {fields} }} ] }}"#
            );
            from_json(&text).unwrap_err().to_string()
        };
        let e = with(r#""scale": [2, 2], "size": [8, 10]"#);
        assert!(e.contains("exactly one of 'scale'"), "{e}");
        let e = with(r#""scale": [2, 2], "mode": "cubic""#);
        assert!(
            e.contains("'cubic'") && e.contains("nearest, linear"),
            "{e}"
        );
        let e = with(r#""scale": [2, 2], "mode": "linear", "nearest": "floor""#);
        assert!(e.contains("option of mode"), "{e}");
        let e = with(r#""size": [8], "coordinates": "tf_crop_and_resize""#);
        assert!(e.contains("tf_crop_and_resize"), "{e}");
        let e = with(r#""size": [8]"#);
        assert!(
            e.contains("1 spatial scales or sizes") && e.contains("resize_1"),
            "{e}"
        );
    }
}
