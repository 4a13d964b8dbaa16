//! Resizing of the spatial axes by nearest-neighbour or (multi)linear interpolation (ONNX
//! `Resize`, <https://onnx.ai/onnx/operators/onnx__Resize.html>, and the older `Upsample`;
//! PyTorch `nn.Upsample` / `F.interpolate` with `mode="nearest"`, `"bilinear"`, ...).
//!
//! Input `x [N, C, d_1, ..., d_k]` becomes `y [N, C, e_1, ..., e_k]`; batch and channel axes
//! are never resized. Along each spatial axis of length `n` resized to `m` with scale `s`
//! (given, or `m / n` when the sizes are given), output index `o` reads the source coordinate
//! - `half_pixel`: `(o + 0.5) / s − 0.5`;
//! - `pytorch_half_pixel`: the same, or `0` when `m = 1`;
//! - `align_corners`: `o · (n − 1) / (m − 1)`, or `0` when `m = 1`;
//! - `asymmetric`: `o / s`,
//!
//! computed in f32 as onnxruntime does. `nearest` rounds it (ONNX `nearest_mode`:
//! `round_prefer_floor`, `round_prefer_ceil`, `floor`, `ceil`) and clamps it into `0..n`;
//! `linear` clamps it into `[0, n − 1]` and weighs `low = ⌊c⌋` by `1 − (c − low)` and
//! `min(low + 1, n − 1)` by `c − low` (no antialiasing). Several axes combine as the product of
//! their weights (bilinear on 2-D), so `y = A x` with `A` the Kronecker product of the per-axis
//! interpolation matrices; the backward is `dx = Aᵀ g`, a scatter-add over the same taps.
//! The per-axis taps depend only on the shapes and are computed once, in the constructor.

use super::layer_norm::{row_major, tensor};
use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::tensor::{checked_elements, Tensor};

/// How an output position's source coordinate is rounded to an input index in
/// [`ResizeMode::Nearest`] (ONNX `nearest_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearestRounding {
    /// Round, halves down (ONNX's default).
    RoundPreferFloor,
    /// Round, halves up.
    RoundPreferCeil,
    /// Round down.
    Floor,
    /// Round up.
    Ceil,
}

impl NearestRounding {
    /// Every rounding with its ONNX name.
    pub const ALL: [(NearestRounding, &'static str); 4] = [
        (NearestRounding::RoundPreferFloor, "round_prefer_floor"),
        (NearestRounding::RoundPreferCeil, "round_prefer_ceil"),
        (NearestRounding::Floor, "floor"),
        (NearestRounding::Ceil, "ceil"),
    ];

    /// The ONNX name, e.g. `"round_prefer_floor"`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("", |(_, n)| n)
    }

    /// The rounding named `name` (ONNX spelling).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(r, _)| *r)
            .ok_or_else(|| Error::unknown("nearest mode", name, &Self::ALL.map(|(_, n)| n)))
    }

    fn round(self, c: f32) -> f32 {
        match self {
            NearestRounding::RoundPreferFloor if c == c.floor() + 0.5 => c.floor(),
            NearestRounding::RoundPreferFloor => c.round(),
            NearestRounding::RoundPreferCeil => (c + 0.5).floor(),
            NearestRounding::Floor => c.floor(),
            NearestRounding::Ceil => c.ceil(),
        }
    }
}

/// The interpolation of a [`Resize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// The nearest input, by the given rounding.
    Nearest(NearestRounding),
    /// Linear interpolation between the two nearest inputs along each axis.
    Linear,
}

/// How output indices map to source coordinates (ONNX `coordinate_transformation_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinateMode {
    /// `(o + 0.5) / s − 0.5` (ONNX's default; PyTorch's `align_corners=False`).
    HalfPixel,
    /// As `HalfPixel`, but `0` for an output axis of length 1.
    PytorchHalfPixel,
    /// `o · (n − 1) / (m − 1)` (PyTorch's `align_corners=True`).
    AlignCorners,
    /// `o / s` (ONNX `Upsample`, PyTorch's nearest).
    Asymmetric,
}

impl CoordinateMode {
    /// Every mode with its ONNX name.
    pub const ALL: [(CoordinateMode, &'static str); 4] = [
        (CoordinateMode::HalfPixel, "half_pixel"),
        (CoordinateMode::PytorchHalfPixel, "pytorch_half_pixel"),
        (CoordinateMode::AlignCorners, "align_corners"),
        (CoordinateMode::Asymmetric, "asymmetric"),
    ];

    /// The ONNX name, e.g. `"half_pixel"`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("", |(_, n)| n)
    }

    /// The mode named `name` (ONNX spelling).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                Error::unknown(
                    "coordinate transformation mode",
                    name,
                    &Self::ALL.map(|(_, n)| n),
                )
            })
    }

    /// The source coordinate of output `o` of an axis of `input` values resized to `output`
    /// with scale `scale`.
    fn source(self, o: usize, input: usize, output: usize, scale: f32) -> f32 {
        let o = o as f32;
        match self {
            CoordinateMode::PytorchHalfPixel if output == 1 => 0.0,
            CoordinateMode::HalfPixel | CoordinateMode::PytorchHalfPixel => (o + 0.5) / scale - 0.5,
            CoordinateMode::AlignCorners if output == 1 => 0.0,
            CoordinateMode::AlignCorners => o * (input - 1) as f32 / (output - 1) as f32,
            CoordinateMode::Asymmetric => o / scale,
        }
    }
}

/// What one output index of an axis reads: `low` with weight `1 − weight`, `high` with
/// `weight` (nearest: `low = high`, weight 0).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    low: usize,
    high: usize,
    weight: f32,
}

/// Resizing of the spatial axes of `[N, C, spatial...]` input, built for one per-sample input
/// shape by [`Resize::with_scales`] or [`Resize::with_sizes`].
#[derive(Debug, Clone, PartialEq)]
pub struct Resize {
    /// The per-sample input shape `[C, d_1, ..., d_k]`.
    input: Vec<usize>,
    /// The per-sample output shape `[C, e_1, ..., e_k]`.
    output: Vec<usize>,
    /// The scale of each spatial axis, as the coordinate transform uses it.
    scales: Vec<f32>,
    mode: ResizeMode,
    coordinates: CoordinateMode,
    /// Per spatial axis, what each output index reads.
    taps: Vec<Vec<Tap>>,
    /// Bit `a` set when spatial axis `a` interpolates between two inputs somewhere.
    interpolated: usize,
}

impl Resize {
    /// Resizes the spatial axes of per-sample input `input` (`[C, d_1, ...]`) by `scales`, one
    /// positive finite scale per spatial axis; axis `a` gets `⌊d_a · s_a⌋` outputs (ONNX; the
    /// product in f32, as onnxruntime computes it).
    pub fn with_scales(
        input: &[usize],
        scales: &[f32],
        mode: ResizeMode,
        coordinates: CoordinateMode,
    ) -> Result<Self> {
        Self::check_input(input, scales.len())?;
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::invalid(
                "resize scales",
                format!("scale {s} in {scales:?} is not a positive finite number"),
            ));
        }
        let sizes = input[1..]
            .iter()
            .zip(scales)
            .map(|(&n, &s)| {
                // In f32, as onnxruntime computes it (5 · 1.8 is 9 in f32, 8.99... in f64).
                let m = (n as f32 * s).floor();
                if !(1.0..=(1u64 << 27) as f32).contains(&m) {
                    return Err(Error::invalid(
                        "resize scales",
                        format!(
                            "scaling an axis of {n} by {s} gives {m} outputs (1 to 2^27 allowed)"
                        ),
                    ));
                }
                Ok(m as usize)
            })
            .collect::<Result<Vec<_>>>()?;
        Self::build(input, sizes, scales.to_vec(), mode, coordinates)
    }

    /// Resizes the spatial axes of per-sample input `input` (`[C, d_1, ...]`) to `sizes`, one
    /// positive length per spatial axis; the scales are `e_a / d_a` (ONNX).
    pub fn with_sizes(
        input: &[usize],
        sizes: &[usize],
        mode: ResizeMode,
        coordinates: CoordinateMode,
    ) -> Result<Self> {
        Self::check_input(input, sizes.len())?;
        if sizes.contains(&0) {
            return Err(Error::invalid(
                "resize sizes",
                format!("{sizes:?} has an empty axis"),
            ));
        }
        let scales = input[1..]
            .iter()
            .zip(sizes)
            .map(|(&n, &m)| m as f32 / n as f32)
            .collect();
        Self::build(input, sizes.to_vec(), scales, mode, coordinates)
    }

    fn check_input(input: &[usize], axes: usize) -> Result<()> {
        if input.len() < 2 || input.contains(&0) {
            return Err(Error::shape(format!(
                "resize expects a per-sample input [channels, spatial...] with no empty axis, got {input:?}"
            )));
        }
        if axes != input.len() - 1 {
            return Err(Error::shape(format!(
                "resize has {axes} spatial scales or sizes; the per-sample input {input:?} has {} spatial axes",
                input.len() - 1
            )));
        }
        // The rank limit bounds the `2^k` corners each output combines.
        checked_elements("resize input", input).map(|_| ())
    }

    fn build(
        input: &[usize],
        sizes: Vec<usize>,
        scales: Vec<f32>,
        mode: ResizeMode,
        coordinates: CoordinateMode,
    ) -> Result<Self> {
        let output: Vec<usize> = std::iter::once(input[0]).chain(sizes).collect();
        checked_elements("resize output", &output)?;
        let taps: Vec<Vec<Tap>> = (0..scales.len())
            .map(|a| {
                let (n, m) = (input[a + 1], output[a + 1]);
                (0..m)
                    .map(|o| {
                        let c = coordinates.source(o, n, m, scales[a]);
                        let last = (n - 1) as f32;
                        match mode {
                            ResizeMode::Nearest(rounding) => {
                                let index = rounding.round(c).clamp(0.0, last) as usize;
                                Tap {
                                    low: index,
                                    high: index,
                                    weight: 0.0,
                                }
                            }
                            ResizeMode::Linear => {
                                let c = c.clamp(0.0, last);
                                let low = c.floor() as usize;
                                let high = (low + 1).min(n - 1);
                                let weight = if high == low { 0.0 } else { c - low as f32 };
                                Tap { low, high, weight }
                            }
                        }
                    })
                    .collect()
            })
            .collect();
        let interpolated = taps
            .iter()
            .enumerate()
            .filter(|(_, axis)| axis.iter().any(|t| t.weight != 0.0))
            .fold(0, |bits, (a, _)| bits | 1 << a);
        Ok(Resize {
            input: input.to_vec(),
            output,
            scales,
            mode,
            coordinates,
            taps,
            interpolated,
        })
    }

    /// The per-sample input shape `[C, d_1, ...]` the op was built for.
    pub fn input_shape(&self) -> &[usize] {
        &self.input
    }

    /// The per-sample output shape `[C, e_1, ...]`.
    pub fn output_sample_shape(&self) -> &[usize] {
        &self.output
    }

    /// The output length of each spatial axis.
    pub fn sizes(&self) -> &[usize] {
        &self.output[1..]
    }

    /// The scale of each spatial axis, as the coordinate transform uses it.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// The interpolation.
    pub fn mode(&self) -> ResizeMode {
        self.mode
    }

    /// The coordinate transformation.
    pub fn coordinates(&self) -> CoordinateMode {
        self.coordinates
    }

    /// Calls `visit(output offset, input offset, weight)` for every tap of one channel plane,
    /// in row-major output order.
    fn for_each_tap(&self, mut visit: impl FnMut(usize, usize, f32)) {
        let spatial_in = &self.input[1..];
        let axes = spatial_in.len();
        let mut strides = vec![1usize; axes];
        for a in (0..axes.saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * spatial_in[a + 1];
        }
        let plane: usize = self.sizes().iter().product();
        let mut index = vec![0usize; axes];
        for out in 0..plane {
            for corner in 0..1usize << axes {
                if corner & !self.interpolated != 0 {
                    continue;
                }
                let mut offset = 0;
                let mut weight = 1.0f32;
                for (a, (axis, &i)) in self.taps.iter().zip(&index).enumerate() {
                    let tap = &axis[i];
                    if corner >> a & 1 == 1 {
                        offset += tap.high * strides[a];
                        weight *= tap.weight;
                    } else {
                        offset += tap.low * strides[a];
                        if self.interpolated >> a & 1 == 1 {
                            weight *= 1.0 - tap.weight;
                        }
                    }
                }
                visit(out, offset, weight);
            }
            for a in (0..axes).rev() {
                index[a] += 1;
                if index[a] < self.output[a + 1] {
                    break;
                }
                index[a] = 0;
            }
        }
    }

    /// Checks a full input shape against the one the op was built for.
    fn check_shape(&self, x: &[usize]) -> Result<()> {
        if x.len() != self.input.len() + 1 || x[1..] != self.input[..] {
            return Err(Error::shape(format!(
                "resize was built for input [batch, {}], got {x:?}",
                self.input
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(())
    }

    fn full_output(&self, batch: usize) -> Vec<usize> {
        std::iter::once(batch)
            .chain(self.output.iter().copied())
            .collect()
    }
}

impl Kernel for Resize {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.check_shape(inputs[0])?;
        let out = self.full_output(inputs[0][0]);
        checked_elements("resize output", &out)?;
        Ok(out)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0];
        let shape = self.output_shape(&[x.shape()])?;
        let x = row_major(x);
        let in_plane: usize = self.input[1..].iter().product();
        let out_plane: usize = self.sizes().iter().product();
        let mut y = vec![0.0f32; x.len() / in_plane * out_plane];
        for (x_plane, y_plane) in x.chunks_exact(in_plane).zip(y.chunks_exact_mut(out_plane)) {
            self.for_each_tap(|o, i, w| y_plane[o] += w * x_plane[i]);
        }
        tensor("resize output", &shape, y)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let x = inputs[0];
        let shape = self.output_shape(&[x.shape()])?;
        if grad_output.shape() != shape.as_slice() {
            return Err(Error::shape(format!(
                "resize gradient has shape {:?}, expected the output shape {shape:?}",
                grad_output.shape()
            )));
        }
        let g = row_major(grad_output);
        let in_plane: usize = self.input[1..].iter().product();
        let out_plane: usize = self.sizes().iter().product();
        let mut dx = vec![0.0f32; x.len()];
        for (dx_plane, g_plane) in dx.chunks_exact_mut(in_plane).zip(g.chunks_exact(out_plane)) {
            self.for_each_tap(|o, i, w| dx_plane[i] += w * g_plane[o]);
        }
        Ok(Grads {
            inputs: vec![tensor("resize input gradient", x.shape(), dx)?],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::gradcheck::{check, random_tensor, Tolerance};
    use super::*;
    use crate::graph::ops::gradcheck::values;

    fn one_axis(input: &[f32], op: &Resize) -> Vec<f32> {
        let x = tensor("x", &[1, 1, input.len()], input.to_vec()).unwrap();
        values(&op.forward(&[&x]).unwrap())
    }

    #[test]
    fn nearest_roundings_and_coordinates_follow_onnx() {
        let x = [10.0, 20.0, 30.0, 40.0];
        let nearest = |r| ResizeMode::Nearest(r);
        // Downsampling 4 -> 2 with half_pixel: sources 0.5 and 2.5, both ties.
        let down = |r| Resize::with_sizes(&[1, 4], &[2], nearest(r), CoordinateMode::HalfPixel);
        assert_eq!(
            one_axis(&x, &down(NearestRounding::RoundPreferFloor).unwrap()),
            [10.0, 30.0]
        );
        assert_eq!(
            one_axis(&x, &down(NearestRounding::RoundPreferCeil).unwrap()),
            [20.0, 40.0]
        );
        assert_eq!(
            one_axis(&x, &down(NearestRounding::Floor).unwrap()),
            [10.0, 30.0]
        );
        assert_eq!(
            one_axis(&x, &down(NearestRounding::Ceil).unwrap()),
            [20.0, 40.0]
        );
        // Upsample's rule: asymmetric and floor, 2 -> 5 by 2.5.
        let up = Resize::with_scales(
            &[1, 2],
            &[2.5],
            nearest(NearestRounding::Floor),
            CoordinateMode::Asymmetric,
        )
        .unwrap();
        assert_eq!(one_axis(&[1.0, 2.0], &up), [1.0, 1.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn linear_interpolates_and_clamps_at_the_edges() {
        let x = [0.0, 4.0];
        let linear = |c| Resize::with_scales(&[1, 2], &[2.0], ResizeMode::Linear, c).unwrap();
        // half_pixel: sources -0.25, 0.25, 0.75, 1.25, clamped into [0, 1].
        assert_eq!(
            one_axis(&x, &linear(CoordinateMode::HalfPixel)),
            [0.0, 1.0, 3.0, 4.0]
        );
        assert_eq!(
            one_axis(&x, &linear(CoordinateMode::Asymmetric)),
            [0.0, 2.0, 4.0, 4.0]
        );
        let aligned = one_axis(&x, &linear(CoordinateMode::AlignCorners));
        let expected = [0.0, 4.0 / 3.0, 8.0 / 3.0, 4.0];
        assert!(
            aligned
                .iter()
                .zip(expected)
                .all(|(a, e)| (a - e).abs() < 1e-6),
            "{aligned:?}"
        );
        let single = Resize::with_sizes(
            &[1, 2],
            &[1],
            ResizeMode::Linear,
            CoordinateMode::PytorchHalfPixel,
        )
        .unwrap();
        assert_eq!(one_axis(&x, &single), [0.0]);
    }

    #[test]
    fn bilinear_is_the_product_of_the_axes() {
        let op = Resize::with_scales(
            &[1, 2, 2],
            &[2.0, 2.0],
            ResizeMode::Linear,
            CoordinateMode::Asymmetric,
        )
        .unwrap();
        let x = tensor("x", &[1, 1, 2, 2], vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let y = op.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), [1, 1, 4, 4]);
        // Output (1, 1) reads (0.5, 0.5): the mean of the four inputs.
        assert_eq!(y[[0, 0, 1, 1]], 1.5);
        assert_eq!(y[[0, 0, 3, 3]], 3.0);
    }

    #[test]
    fn backward_matches_finite_differences() {
        let coordinate_modes = CoordinateMode::ALL.map(|(c, _)| c);
        for (seed, coordinates) in coordinate_modes.into_iter().enumerate() {
            for mode in [
                ResizeMode::Linear,
                ResizeMode::Nearest(NearestRounding::RoundPreferFloor),
            ] {
                let up = Resize::with_scales(&[2, 3, 2], &[1.5, 2.0], mode, coordinates).unwrap();
                check(
                    &up,
                    &[random_tensor(&[2, 2, 3, 2], -1.0, 1.0, seed as u64)],
                    Tolerance::default(),
                );
                let down =
                    Resize::with_sizes(&[1, 5, 4, 3], &[3, 2, 2], mode, coordinates).unwrap();
                check(
                    &down,
                    &[random_tensor(&[1, 1, 5, 4, 3], -1.0, 1.0, seed as u64 + 9)],
                    Tolerance::default(),
                );
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let linear = ResizeMode::Linear;
        let half = CoordinateMode::HalfPixel;
        let err = Resize::with_scales(&[1, 4], &[0.0], linear, half)
            .unwrap_err()
            .to_string();
        assert!(err.contains("scale 0"), "{err}");
        let err = Resize::with_scales(&[1, 4], &[0.1], linear, half)
            .unwrap_err()
            .to_string();
        assert!(err.contains("gives 0 outputs"), "{err}");
        let err = Resize::with_sizes(&[1, 4], &[2, 2], linear, half)
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 spatial scales or sizes"), "{err}");
        let op = Resize::with_sizes(&[1, 4], &[2], linear, half).unwrap();
        let err = op.output_shape(&[&[1, 2, 4]]).unwrap_err().to_string();
        assert!(err.contains("[batch, 1, 4]"), "{err}");
        let err = CoordinateMode::from_name("tf_crop_and_resize")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tf_crop_and_resize"), "{err}");
    }
}
