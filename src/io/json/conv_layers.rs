//! The convolution layers of the nnlens JSON format (the layer table's rows for them; see
//! `layers.rs`): `conv2d`, PyTorch's `nn.Conv2d`, with `weight` `[filters, in / groups, kh, kw]`,
//! and `convTranspose2d`, PyTorch's `nn.ConvTranspose2d`, with `weight`
//! `[in, filters / groups, kh, kw]`; both with `bias` `[filters]`.
//!
//! A weight not given is initialised by nnlens's convolution rule (He-uniform before a ReLU,
//! Xavier-uniform otherwise) with PyTorch's fans of its layout. For `conv2d`, `fan_in` is
//! `in / groups · kh · kw` and `fan_out` `filters / groups · kh · kw`. For `convTranspose2d`,
//! `fan_in` is the weight's axis 1 times the kernel area, `filters / groups · kh · kw` (what
//! `torch.nn.init._calculate_fan_in_and_fan_out` computes for `ConvTranspose2d`), `fan_out` is
//! `in / groups · kh · kw`, as `conv2d` counts its fans per group. The bias starts at zero.

use super::fields::{as_sides, dim, one, ones, padding_sides, pair, yes};
use super::layers::{ActivationFn, Site};
use super::{he_or_xavier, same_padding, write_weight_and_bias, Init};
use crate::error::Result;
use crate::graph::ops::conv::{Conv2d, ConvTranspose2d};
use crate::graph::ops::Op;
use crate::tensor::Tensor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// `conv2d`: `nn.Conv2d`, `weight` `[filters, in / groups, kh, kw]` and `bias` `[filters]`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Conv2dLayer {
    #[serde(deserialize_with = "dim")]
    filters: usize,
    #[serde(deserialize_with = "pair")]
    kernel: [usize; 2],
    #[serde(default = "ones", deserialize_with = "pair")]
    stride: [usize; 2],
    #[serde(default)]
    padding: ConvPadding,
    #[serde(default = "ones", deserialize_with = "pair")]
    dilation: [usize; 2],
    #[serde(default = "one", deserialize_with = "dim")]
    groups: usize,
    /// A fused activation, read as its own node named `<name>.<fn>`; never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) activation: Option<ActivationFn>,
    #[serde(default = "yes")]
    bias: bool,
}

/// A convolution's padding: `"same"` (resolved from the kernel and dilation) or explicit sides.
#[derive(Clone, Copy)]
enum ConvPadding {
    Same,
    /// `[top, left, bottom, right]`.
    Sides([usize; 4]),
}

impl Default for ConvPadding {
    fn default() -> Self {
        ConvPadding::Sides([0; 4])
    }
}

impl<'de> Deserialize<'de> for ConvPadding {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if value.as_str() == Some("same") {
            return Ok(ConvPadding::Same);
        }
        as_sides(&value)
            .map(ConvPadding::Sides)
            .ok_or_else(|| {
                serde::de::Error::custom(format_args!(
                    "expected a non-negative integer, [h, w], [top, left, bottom, right], \"valid\" or \"same\", got {value}"
                ))
            })
    }
}

impl Serialize for ConvPadding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ConvPadding::Same => s.serialize_str("same"),
            ConvPadding::Sides(sides) => sides.serialize(s),
        }
    }
}

impl Conv2dLayer {
    pub(super) fn op(&self, at: &mut Site) -> Result<Op> {
        let in_shape = at.in_shape;
        if in_shape.len() != 3 {
            return Err(at.shape_error(format!(
                "conv2d expects a per-sample input [channels, height, width], got {in_shape:?}"
            )));
        }
        let groups = self.groups;
        let padding = match self.padding {
            ConvPadding::Same => same_padding(self.kernel, self.dilation),
            ConvPadding::Sides(sides) => sides,
        };
        let shape = ConvShape {
            filters: self.filters,
            groups,
            kernel: self.kernel,
            activation: self.activation,
            bias: self.bias,
        };
        let (weight, bias) = shape.params(at, false)?;
        Ok(Op::Conv2d(
            Conv2d::new(weight, bias, self.stride, padding, self.dilation, groups)
                .map_err(|e| at.at_node(e))?,
        ))
    }

    pub(super) fn write(c: &Conv2d, weights: &mut Map<String, Value>) -> Self {
        write_weight_and_bias(c.weight(), c.bias(), weights);
        let shape = c.weight().shape();
        Conv2dLayer {
            filters: shape[0],
            kernel: [shape[2], shape[3]],
            stride: c.stride(),
            padding: ConvPadding::Sides(c.padding()),
            dilation: c.dilation(),
            groups: c.groups(),
            activation: None,
            bias: c.bias().is_some(),
        }
    }
}

/// `outputPadding`: a non-negative integer `n` (meaning `[n, n]`) or a pair `[h, w]`.
fn output_padding<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<[usize; 2], D::Error> {
    let value = Value::deserialize(d)?;
    let single = |v: &Value| {
        v.as_u64()
            .filter(|&n| n <= u32::MAX as u64)
            .map(|n| n as usize)
    };
    let read = if let Some(n) = single(&value) {
        Some([n, n])
    } else {
        match value.as_array().map(Vec::as_slice) {
            Some([h, w]) => single(h).zip(single(w)).map(|(h, w)| [h, w]),
            _ => None,
        }
    };
    read.ok_or_else(|| {
        serde::de::Error::custom(format_args!(
            "expected a non-negative integer or a pair [h, w] of non-negative integers, got {value}"
        ))
    })
}

/// `convTranspose2d`: `nn.ConvTranspose2d`. `padding` crops the output (a number, `[h, w]` or
/// `[top, left, bottom, right]`), `outputPadding` adds rows and columns at its end.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ConvTranspose2dLayer {
    #[serde(deserialize_with = "dim")]
    filters: usize,
    #[serde(deserialize_with = "pair")]
    kernel: [usize; 2],
    #[serde(default = "ones", deserialize_with = "pair")]
    stride: [usize; 2],
    #[serde(default, deserialize_with = "padding_sides")]
    padding: [usize; 4],
    #[serde(default, deserialize_with = "output_padding")]
    output_padding: [usize; 2],
    #[serde(default = "ones", deserialize_with = "pair")]
    dilation: [usize; 2],
    #[serde(default = "one", deserialize_with = "dim")]
    groups: usize,
    /// A fused activation, read as its own node named `<name>.<fn>`; never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) activation: Option<ActivationFn>,
    #[serde(default = "yes")]
    bias: bool,
}

/// What a 2-D convolution layer says about its parameters.
pub(super) struct ConvShape {
    pub filters: usize,
    pub groups: usize,
    pub kernel: [usize; 2],
    pub activation: Option<ActivationFn>,
    pub bias: bool,
}

impl ConvShape {
    /// The weight and optional bias for the input at `at`, given or initialised: the weight
    /// He-uniform before a ReLU, Xavier-uniform otherwise, with PyTorch's fans for its layout
    /// (`[F, C/g, kh, kw]`, or `[C, F/g, kh, kw]` when `transposed`), the bias zero. Fails
    /// unless the groups divide both the input channels and the filters.
    pub(super) fn params(
        &self,
        at: &mut Site,
        transposed: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (filters, groups, kernel) = (self.filters, self.groups, self.kernel);
        let channels = at.in_shape[0];
        if channels % groups != 0 || filters % groups != 0 {
            return Err(at.shape_error(format!(
                "groups {groups} must divide both the input channels {channels} and the filters {filters}"
            )));
        }
        let receptive = kernel[0] * kernel[1];
        let (inputs, outputs) = if transposed {
            (filters, channels)
        } else {
            (channels, filters)
        };
        let (fan_in, fan_out) = (inputs / groups * receptive, outputs / groups * receptive);
        let relu = at.relu_follows || self.activation.is_some_and(ActivationFn::is_relu);
        let weight = at.params.take(
            "weight",
            &[outputs, inputs / groups, kernel[0], kernel[1]],
            he_or_xavier(relu, fan_in, fan_out),
        )?;
        let bias = if self.bias {
            Some(at.params.take("bias", &[filters], Init::Constant(0.0))?)
        } else {
            None
        };
        Ok((weight, bias))
    }
}

impl ConvTranspose2dLayer {
    pub(super) fn op(&self, at: &mut Site) -> Result<Op> {
        let in_shape = at.in_shape;
        if in_shape.len() != 3 {
            return Err(at.shape_error(format!(
                "convTranspose2d expects a per-sample input [channels, height, width], got {in_shape:?}"
            )));
        }
        let groups = self.groups;
        let shape = ConvShape {
            filters: self.filters,
            groups,
            kernel: self.kernel,
            activation: self.activation,
            bias: self.bias,
        };
        let (weight, bias) = shape.params(at, true)?;
        Ok(Op::ConvTranspose2d(
            ConvTranspose2d::new(
                weight,
                bias,
                self.stride,
                self.padding,
                self.output_padding,
                self.dilation,
                groups,
            )
            .map_err(|e| at.at_node(e))?,
        ))
    }

    pub(super) fn write(c: &ConvTranspose2d, weights: &mut Map<String, Value>) -> Self {
        write_weight_and_bias(c.weight(), c.bias(), weights);
        let shape = c.weight().shape();
        ConvTranspose2dLayer {
            filters: c.out_channels(),
            kernel: [shape[2], shape[3]],
            stride: c.stride(),
            padding: c.padding(),
            output_padding: c.output_padding(),
            dilation: c.dilation(),
            groups: c.groups(),
            activation: None,
            bias: c.bias().is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::ops::{Kernel, Op};
    use crate::io::json::{from_json, to_json};

    fn transpose_op(
        g: &crate::graph::Graph,
        index: usize,
    ) -> &crate::graph::ops::conv::ConvTranspose2d {
        match &g.nodes()[index].op {
            Op::ConvTranspose2d(c) => c,
            other => panic!("node {index} is {}", other.kind()),
        }
    }

    /// Every field of `convTranspose2d`, read, written and read again; the seeded weights lie
    /// within the initialisation bound of PyTorch's fans.
    #[test]
    fn conv_transpose_layers_round_trip_with_seeded_weights() {
        let text = r#"{ "format": "nnlens", "version": 1, "input": [4, 3, 5], "seed": 3,
         "layers": [
          { "type": "convTranspose2d", "filters": 6, "kernel": [3, 2], "stride": 2, "padding": [1, 0, 0, 1],
            "outputPadding": [1, 0], "dilation": [1, 2], "groups": 2, "activation": "relu", "name": "up" },
          { "type": "convTranspose2d", "filters": 2, "kernel": 2, "bias": false } ] }"#;
        let g = from_json(text).unwrap();
        // H: 2·2 + 2 + 1 + 1 − 1 = 7; W: 2·4 + 2·1 + 1 − 1 = 10; then a 2x2 kernel adds one.
        assert_eq!(g.output_shape(), &[2, 8, 11]);
        let up = transpose_op(&g, 0);
        assert_eq!(up.weight().shape(), &[4, 3, 3, 2]);
        assert_eq!(up.output_padding(), [1, 0]);
        // He-uniform before the ReLU with fan_in = filters / groups · kh · kw = 3 · 6.
        let bound = (6.0f32 / 18.0).sqrt();
        assert!(up.weight().iter().all(|w| w.abs() <= bound));
        assert!(up.weight().iter().any(|w| w.abs() > bound * 0.8));
        assert!(up.bias().unwrap().iter().all(|&b| b == 0.0));
        let last = transpose_op(&g, 2);
        assert!(last.bias().is_none() && last.params().len() == 1);
        // Xavier-uniform: fan_in = 2 · 4, fan_out = 6 · 4.
        let bound = (6.0f32 / 32.0).sqrt();
        assert!(last.weight().iter().all(|w| w.abs() <= bound));

        let written = to_json(&g).unwrap();
        assert!(written.contains(r#""outputPadding":[1,0]"#), "{written}");
        let back = from_json(&written).unwrap();
        assert_eq!(g, back);
        assert_eq!(to_json(&back).unwrap(), written);
    }

    #[test]
    fn conv_transpose_layer_errors_name_the_field() {
        let model = |layer: &str| {
            format!(
                r#"{{ "format": "nnlens", "version": 1, "input": [4, 3, 3], "layers": [ {layer} ] }}"#
            )
        };
        let e = from_json(&model(
            r#"{ "type": "convTranspose2d", "filters": 2, "kernel": 2, "outputPadding": -1 }"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("outputPadding") && e.contains("-1"), "{e}");
        let e = from_json(&model(
            r#"{ "type": "convTranspose2d", "filters": 3, "kernel": 2, "groups": 2 }"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("groups 2") && e.contains("filters 3"), "{e}");
        let e = from_json(&model(
            r#"{ "type": "convTranspose2d", "filters": 2, "kernel": 2, "padding": 3 }"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("crops the whole output"), "{e}");
    }
}
