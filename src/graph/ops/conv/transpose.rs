//! 2-D transposed convolution over NCHW tensors (PyTorch `nn.ConvTranspose2d`, ONNX
//! `ConvTranspose`): the adjoint of [`super::Conv2d`] with the same weight read the other way.
//!
//! With `C` input channels, `O` output channels, `G` groups, `Cg = C / G`, `Og = O / G`, weight
//! `W[C, Og, kh, kw]` and input channel `c` in group `g = c / Cg`, every input element is spread
//! over a window of the output:
//!
//! `y[n, g·Og + o, i·sh + p·dh − pad_top, j·sw + q·dw − pad_left] += W[c, o, p, q] · x[n, c, i, j]`
//!
//! (then `+ b[o]`), where writes outside the output are dropped. Along each axis the output
//! length is `s·(H − 1) + d·(k − 1) + 1 − pad_begin − pad_end + output_padding` (PyTorch
//! `ConvTranspose2d` documentation, ONNX `ConvTranspose` specification); `output_padding`
//! only adds rows and columns at the end that receive the bias alone.
//!
//! This is exactly the input gradient of the convolution with the same weight taking the
//! output `y` to the input `x`, so it reuses that convolution's patch matrix: for a chunk of
//! samples and one group, `cols[Og·kh·kw, chunk·H·W] = W_gᵀ · x_g` (one product per sample,
//! written into the sample's columns) folded into `y` by col2im. The backward pass is that
//! convolution's forward: `cols = im2col(dL/dy)`, `dx_g = W_g · cols`, `dW_g += x_g · colsᵀ`
//! and `db[o] = Σ_{n,i,j} dL/dy[n, o, i, j]`.

use super::super::window::{check_window_param, AxisWindow};
use super::super::{Grads, Kernel};
use super::unfold::{col2im, im2col, ConvGeometry};
use super::{matrix, matrix_mut};
use crate::error::{Error, Result};
use crate::tensor::{checked_elements, Tensor};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewD, IxDyn};

/// A 2-D transposed convolution over NCHW input with PyTorch/ONNX semantics, built by
/// [`ConvTranspose2d::new`], which validates it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTranspose2d {
    /// `[in_channels, out_channels / groups, kernel_h, kernel_w]`.
    weight: Tensor,
    /// `[out_channels]`.
    bias: Option<Tensor>,
    /// `[stride_h, stride_w]`.
    stride: [usize; 2],
    /// `[top, left, bottom, right]`: output rows and columns cropped from each side.
    padding: [usize; 4],
    /// `[h, w]` rows and columns added at the bottom and right of the output.
    output_padding: [usize; 2],
    /// `[dilation_h, dilation_w]`.
    dilation: [usize; 2],
    /// Number of groups; in and out channels must both divide by it.
    groups: usize,
}

impl ConvTranspose2d {
    /// A transposed convolution from its weight `[in, out / groups, kh, kw]`, optional bias
    /// `[out]`, stride `[h, w]`, padding `[top, left, bottom, right]`, output padding `[h, w]`,
    /// dilation `[h, w]` and group count; fails with a message naming the offending value when
    /// they do not fit together. Any output padding up to the window limit is accepted: PyTorch
    /// keeps it below the stride or the dilation, but ONNX's `output_shape` can ask for more.
    pub fn new(
        weight: Tensor,
        bias: Option<Tensor>,
        stride: [usize; 2],
        padding: [usize; 4],
        output_padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Self> {
        let op = ConvTranspose2d {
            weight,
            bias,
            stride,
            padding,
            output_padding,
            dilation,
            groups,
        };
        check_window_param("conv_transpose2d stride", &op.stride, 1)?;
        check_window_param("conv_transpose2d dilation", &op.dilation, 1)?;
        check_window_param("conv_transpose2d padding", &op.padding, 0)?;
        check_window_param("conv_transpose2d output padding", &op.output_padding, 0)?;
        op.check_params()?;
        Ok(op)
    }

    /// The `[in_channels, out_channels / groups, kernel_h, kernel_w]` weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The `[out_channels]` bias, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// `[stride_h, stride_w]`.
    pub fn stride(&self) -> [usize; 2] {
        self.stride
    }

    /// `[top, left, bottom, right]` cropping of the output.
    pub fn padding(&self) -> [usize; 4] {
        self.padding
    }

    /// `[h, w]` rows and columns added at the end of the output.
    pub fn output_padding(&self) -> [usize; 2] {
        self.output_padding
    }

    /// `[dilation_h, dilation_w]`.
    pub fn dilation(&self) -> [usize; 2] {
        self.dilation
    }

    /// The number of groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Number of input channels (the weight's axis 0).
    pub fn in_channels(&self) -> usize {
        self.weight.shape().first().copied().unwrap_or(0)
    }

    /// Number of output channels (`groups` times the weight's axis 1).
    pub fn out_channels(&self) -> usize {
        self.weight.shape().get(1).copied().unwrap_or(0) * self.groups
    }

    /// Checks the weight and bias against each other and the group count (they can be
    /// replaced through [`Kernel::params_mut`], so every use checks them again).
    fn check_params(&self) -> Result<()> {
        let w = self.weight.shape();
        if w.len() != 4 || w.contains(&0) {
            return Err(Error::shape(format!(
                "conv_transpose2d weight must be 4-D [in_channels, out_channels / groups, kernel_h, \
                 kernel_w] with no zero dimension, got shape {w:?}"
            )));
        }
        check_window_param("conv_transpose2d kernel size", &w[2..], 1)?;
        if self.groups == 0 || w[0] % self.groups != 0 {
            return Err(Error::invalid(
                "conv_transpose2d groups",
                format!(
                    "expected a positive divisor of the {} input channels of weight {w:?}, got {}",
                    w[0], self.groups
                ),
            ));
        }
        if let Some(b) = &self.bias {
            if b.shape() != [self.out_channels()] {
                return Err(Error::shape(format!(
                    "conv_transpose2d bias must have shape [{}] to match weight {w:?} and {} group(s), got {:?}",
                    self.out_channels(),
                    self.groups,
                    b.shape()
                )));
            }
        }
        Ok(())
    }

    /// The geometry of the adjoint convolution (from the output `y` to the input `x`) for an
    /// input shape: its "input" is this op's output and its "output" this op's input.
    fn geometry(&self, input: &[usize]) -> Result<ConvGeometry> {
        self.check_params()?;
        let w = self.weight.shape();
        let [batch, channels, height, width] = *input else {
            return Err(Error::shape(format!(
                "conv_transpose2d expects NCHW input [batch, channels, height, width], got {input:?}"
            )));
        };
        if channels != self.in_channels() || height == 0 || width == 0 {
            return Err(Error::shape(format!(
                "conv_transpose2d weight {w:?} expects {} input channels and a non-empty image, \
                 got input shape {input:?}",
                self.in_channels()
            )));
        }
        let [top, left, bottom, right] = self.padding;
        // s·(H − 1) + d·(k − 1) + 1 + output_padding − pads, exact in i64 (every term is at most
        // MAX_WINDOW_PARAM squared).
        let length = |axis: usize, size: usize, begin: usize, end: usize| {
            let full = self.stride[axis] as i64 * (size as i64 - 1)
                + self.dilation[axis] as i64 * (w[2 + axis] as i64 - 1)
                + 1
                + self.output_padding[axis] as i64;
            usize::try_from(full - begin as i64 - end as i64)
                .ok()
                .filter(|&l| l > 0)
        };
        let (Some(out_h), Some(out_w)) = (
            length(0, height, top, bottom),
            length(1, width, left, right),
        ) else {
            return Err(Error::shape(format!(
                "conv_transpose2d padding [top, left, bottom, right] {:?} crops the whole output \
                 (input {input:?}, kernel {}x{}, stride {:?}, dilation {:?}, output padding {:?})",
                self.padding, w[2], w[3], self.stride, self.dilation, self.output_padding
            )));
        };
        checked_elements(
            "conv_transpose2d output",
            &[batch, self.out_channels(), out_h, out_w],
        )?;
        let geometry = ConvGeometry {
            batch,
            channels: self.out_channels(),
            out_channels: channels,
            groups: self.groups,
            kernel: [w[2], w[3]],
            height: out_h,
            width: out_w,
            rows: AxisWindow {
                input: out_h,
                output: height,
                stride: self.stride[0],
                dilation: self.dilation[0],
                pad_begin: top,
            },
            cols: AxisWindow {
                input: out_w,
                output: width,
                stride: self.stride[1],
                dilation: self.dilation[1],
                pad_begin: left,
            },
        };
        checked_elements(
            "conv_transpose2d patch matrix (col2im) of one sample",
            &[geometry.patch_len(), height, width],
        )?;
        Ok(geometry)
    }

    /// This op's output shape `[N, O, Ho, Wo]` (the adjoint convolution's input shape).
    fn output_dims(geo: &ConvGeometry) -> Vec<usize> {
        vec![geo.batch, geo.channels, geo.height, geo.width]
    }

    /// The weight `[C, Og, kh, kw]` (standard layout) as the matrix `[C, Og·kh·kw]`.
    fn weight_matrix<'a>(weight: ArrayViewD<'a, f32>, geo: &ConvGeometry) -> ArrayView2<'a, f32> {
        weight
            .into_shape_with_order((geo.out_channels, geo.patch_len()))
            .expect("a standard-layout weight [C, Og, kh, kw] is a matrix [C, Og·kh·kw]")
    }

    /// The forward pass, `chunk` samples per col2im.
    fn forward_chunked(&self, geo: &ConvGeometry, x: &Tensor, chunk: usize) -> Result<Tensor> {
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout is contiguous");
        let weight = self.weight.as_standard_layout();
        let weight = Self::weight_matrix(weight.view(), geo);
        let (patch, plane, group_in) = (geo.patch_len(), geo.out_plane(), geo.group_outputs());
        let out_plane = geo.height * geo.width;

        let mut out = vec![0.0; geo.batch * geo.channels * out_plane];
        let mut cols = vec![0.0; patch * chunk * plane];
        for first in (0..geo.batch).step_by(chunk) {
            let samples = first..(first + chunk).min(geo.batch);
            let columns = samples.len() * plane;
            for group in 0..geo.groups {
                let channels = group * group_in..(group + 1) * group_in;
                let weight_t = weight.slice(s![channels.clone(), ..]).reversed_axes();
                let mut cols_m = matrix_mut(&mut cols, patch, columns);
                for (i, sample) in samples.clone().enumerate() {
                    let start = (sample * geo.out_channels + channels.start) * plane;
                    general_mat_mul(
                        1.0,
                        &weight_t,
                        &matrix(&xs[start..start + group_in * plane], group_in, plane),
                        0.0,
                        &mut cols_m.slice_mut(s![.., i * plane..(i + 1) * plane]),
                    );
                }
                col2im(
                    geo,
                    &cols[..patch * columns],
                    group,
                    samples.clone(),
                    &mut out,
                );
            }
        }
        if let Some(bias) = &self.bias {
            for (index, values) in out.chunks_exact_mut(out_plane).enumerate() {
                let b = bias[[index % geo.channels]];
                values.iter_mut().for_each(|v| *v += b);
            }
        }
        Tensor::from_shape_vec(IxDyn(&Self::output_dims(geo)), out)
            .map_err(|e| Error::shape(format!("conv_transpose2d output: {e}")))
    }

    /// The backward pass, `chunk` samples per im2col.
    fn backward_chunked(
        &self,
        geo: &ConvGeometry,
        x: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
        chunk: usize,
    ) -> Result<Grads> {
        let out_shape = Self::output_dims(geo);
        if grad_output.shape() != out_shape.as_slice() {
            return Err(Error::shape(format!(
                "conv_transpose2d output gradient has shape {:?}, expected the output shape {out_shape:?}",
                grad_output.shape()
            )));
        }
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout is contiguous");
        let grad_output = grad_output.as_standard_layout();
        let gs = grad_output
            .as_slice()
            .expect("standard layout is contiguous");
        let weight = self.weight.as_standard_layout();
        let weight = Self::weight_matrix(weight.view(), geo);
        let (patch, plane, group_in) = (geo.patch_len(), geo.out_plane(), geo.group_outputs());

        let mut dx = vec![0.0; xs.len()];
        let mut dw = want_params.then(|| ndarray::Array2::<f32>::zeros((geo.out_channels, patch)));
        let mut cols = vec![0.0; patch * chunk * plane];
        for first in (0..geo.batch).step_by(chunk) {
            let samples = first..(first + chunk).min(geo.batch);
            let columns = samples.len() * plane;
            for group in 0..geo.groups {
                let channels = group * group_in..(group + 1) * group_in;
                let cols = &mut cols[..patch * columns];
                im2col(geo, gs, group, samples.clone(), cols);
                let cols_m = matrix(cols, patch, columns);
                for (i, sample) in samples.clone().enumerate() {
                    let sample_cols = cols_m.slice(s![.., i * plane..(i + 1) * plane]);
                    let start = (sample * geo.out_channels + channels.start) * plane;
                    let block = start..start + group_in * plane;
                    general_mat_mul(
                        1.0,
                        &weight.slice(s![channels.clone(), ..]),
                        &sample_cols,
                        0.0,
                        &mut matrix_mut(&mut dx[block.clone()], group_in, plane),
                    );
                    if let Some(dw) = &mut dw {
                        general_mat_mul(
                            1.0,
                            &matrix(&xs[block], group_in, plane),
                            &sample_cols.t(),
                            1.0,
                            &mut dw.slice_mut(s![channels.clone(), ..]),
                        );
                    }
                }
            }
        }

        let mut params = Vec::new();
        if let Some(dw) = dw {
            params.push(
                dw.into_shape_with_order(IxDyn(self.weight.shape()))
                    .map_err(|e| Error::shape(format!("conv_transpose2d weight gradient: {e}")))?,
            );
            if self.bias.is_some() {
                let mut db = vec![0.0; geo.channels];
                for (index, values) in gs.chunks_exact(geo.height * geo.width).enumerate() {
                    db[index % geo.channels] += values.iter().sum::<f32>();
                }
                params.push(
                    Tensor::from_shape_vec(IxDyn(&[geo.channels]), db).map_err(|e| {
                        Error::shape(format!("conv_transpose2d bias gradient: {e}"))
                    })?,
                );
            }
        }
        let dx = Tensor::from_shape_vec(IxDyn(x.shape()), dx)
            .map_err(|e| Error::shape(format!("conv_transpose2d input gradient: {e}")))?;
        Ok(Grads {
            inputs: vec![dx],
            params,
        })
    }
}

impl Kernel for ConvTranspose2d {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(Self::output_dims(&self.geometry(inputs[0])?))
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let geo = self.geometry(inputs[0].shape())?;
        self.forward_chunked(&geo, inputs[0], geo.chunk_len())
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        let geo = self.geometry(inputs[0].shape())?;
        self.backward_chunked(&geo, inputs[0], grad_output, want_params, geo.chunk_len())
    }

    fn params(&self) -> Vec<&Tensor> {
        std::iter::once(&self.weight).chain(&self.bias).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        std::iter::once(&mut self.weight)
            .chain(&mut self.bias)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};
    // Run in wasm32 too (`make test-wasm`), as the convolution's tests.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A transposed convolution with random weights: `channels` in, `out` out.
    #[allow(clippy::too_many_arguments)]
    fn op(
        channels: usize,
        out: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
        output_padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
        bias: bool,
    ) -> ConvTranspose2d {
        let weight = random_tensor(&[channels, out / groups, kernel[0], kernel[1]], -1., 1., 21);
        let bias = bias.then(|| random_tensor(&[out], -1., 1., 22));
        ConvTranspose2d::new(
            weight,
            bias,
            stride,
            padding,
            output_padding,
            dilation,
            groups,
        )
        .unwrap()
    }

    /// The definition: every input element scattered over its output window, in f64.
    fn direct(op: &ConvTranspose2d, x: &Tensor) -> Tensor {
        let &[n, c, h, w] = x.shape() else {
            panic!("4-D input")
        };
        let &[_, og, kh, kw] = op.weight.shape() else {
            panic!("4-D weight")
        };
        let [top, left, bottom, right] = op.padding.map(|p| p as isize);
        let ([sh, sw], [dh, dw], [oph, opw]) = (op.stride, op.dilation, op.output_padding);
        let out_h = (sh * (h - 1) + dh * (kh - 1) + 1 + oph) as isize - top - bottom;
        let out_w = (sw * (w - 1) + dw * (kw - 1) + 1 + opw) as isize - left - right;
        let o = og * op.groups;
        let cg = c / op.groups;
        let mut y = ndarray::ArrayD::<f64>::zeros(vec![n, o, out_h as usize, out_w as usize]);
        for s in 0..n {
            for ci in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        for oc in 0..og {
                            for p in 0..kh {
                                for q in 0..kw {
                                    let yy = (i * sh + p * dh) as isize - top;
                                    let xx = (j * sw + q * dw) as isize - left;
                                    if (0..out_h).contains(&yy) && (0..out_w).contains(&xx) {
                                        y[[s, (ci / cg) * og + oc, yy as usize, xx as usize]] +=
                                            op.weight[[ci, oc, p, q]] as f64
                                                * x[[s, ci, i, j]] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let Some(b) = &op.bias {
            for (index, v) in y.indexed_iter_mut() {
                *v += b[[index[1]]] as f64;
            }
        }
        y.mapv(|v| v as f32)
    }

    fn assert_close(actual: &Tensor, expected: &Tensor, tol: f32) {
        assert_eq!(actual.shape(), expected.shape());
        for (index, (a, e)) in actual.iter().zip(expected.iter()).enumerate() {
            assert!(
                (a - e).abs() <= tol * (1.0 + e.abs()),
                "element {index}: {a} vs {e}"
            );
        }
    }

    #[test]
    fn forward_matches_hand_computation() {
        // A 2x2 input through a 2x2 kernel of ones with stride 2 repeats each value in a 2x2
        // block; with stride 1 overlapping windows add up.
        let x = Tensor::from_shape_vec(vec![1, 1, 2, 2], vec![1., 2., 3., 4.]).unwrap();
        let ones = Tensor::ones(vec![1, 1, 2, 2]);
        let up = ConvTranspose2d::new(ones.clone(), None, [2, 2], [0; 4], [0; 2], [1, 1], 1)
            .unwrap()
            .forward(&[&x])
            .unwrap();
        assert_eq!(up.shape(), &[1, 1, 4, 4]);
        assert_eq!(
            up.as_slice().unwrap(),
            &[1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]
        );
        let bias = Tensor::from_elem(vec![1], 0.5);
        let overlap = ConvTranspose2d::new(ones, Some(bias), [1, 1], [0; 4], [0; 2], [1, 1], 1)
            .unwrap()
            .forward(&[&x])
            .unwrap();
        assert_eq!(
            overlap.as_slice().unwrap(),
            &[1.5, 3.5, 2.5, 4.5, 10.5, 6.5, 3.5, 7.5, 4.5]
        );
    }

    #[test]
    fn forward_matches_the_definition() {
        // (batch, channels, h, w, out, kernel, stride, padding, output padding, dilation, groups, bias)
        type Case = (
            usize,
            usize,
            usize,
            usize,
            usize,
            [usize; 2],
            [usize; 2],
            [usize; 4],
            [usize; 2],
            [usize; 2],
            usize,
            bool,
        );
        let cases: [Case; 8] = [
            (
                2,
                3,
                4,
                5,
                2,
                [3, 3],
                [1, 1],
                [0; 4],
                [0; 2],
                [1, 1],
                1,
                true,
            ),
            (
                3,
                4,
                3,
                3,
                6,
                [3, 2],
                [2, 3],
                [1, 0, 2, 1],
                [1, 2],
                [1, 1],
                2,
                true,
            ),
            (
                2,
                2,
                4,
                3,
                4,
                [2, 3],
                [2, 2],
                [0, 1, 1, 0],
                [1, 0],
                [2, 3],
                2,
                false,
            ),
            (
                1,
                3,
                5,
                4,
                3,
                [3, 3],
                [1, 1],
                [1, 1, 1, 1],
                [0; 2],
                [1, 1],
                3,
                true,
            ),
            (
                2,
                2,
                1,
                1,
                3,
                [4, 5],
                [3, 3],
                [0; 4],
                [2, 2],
                [1, 1],
                1,
                true,
            ),
            // Output padding beyond the stride (ONNX `output_shape` can ask for it).
            (
                1,
                2,
                2,
                2,
                2,
                [2, 2],
                [1, 1],
                [0; 4],
                [3, 1],
                [1, 1],
                1,
                true,
            ),
            // Cropping wider than a kernel: outputs far from the input see only the bias.
            (
                1,
                1,
                3,
                3,
                2,
                [2, 2],
                [2, 2],
                [3, 1, 0, 2],
                [0; 2],
                [1, 1],
                1,
                true,
            ),
            (
                2,
                6,
                3,
                2,
                3,
                [2, 2],
                [3, 2],
                [1, 2, 2, 1],
                [0; 2],
                [3, 2],
                3,
                false,
            ),
        ];
        for (seed, (n, c, h, w, o, k, s, p, op_, d, g, b)) in cases.into_iter().enumerate() {
            let t = op(c, o, k, s, p, op_, d, g, b);
            let x = random_tensor(&[n, c, h, w], -1., 1., 100 + seed as u64);
            let y = t.forward(&[&x]).unwrap();
            assert_eq!(t.output_shape(&[x.shape()]).unwrap(), y.shape());
            assert_close(&y, &direct(&t, &x), 1e-5);
        }
    }

    #[test]
    fn chunking_does_not_change_results() {
        let t = op(4, 6, [3, 3], [2, 1], [1, 2, 0, 1], [1, 0], [1, 2], 2, true);
        let x = random_tensor(&[5, 4, 4, 5], -1., 1., 41);
        let geo = t.geometry(x.shape()).unwrap();
        assert_eq!(geo.chunk_len(), 5);
        let g = random_tensor(&ConvTranspose2d::output_dims(&geo), -1., 1., 42);
        let whole = t.forward_chunked(&geo, &x, 5).unwrap();
        let grads = t.backward_chunked(&geo, &x, &g, true, 5).unwrap();
        for chunk in [1, 2, 3] {
            assert_close(&t.forward_chunked(&geo, &x, chunk).unwrap(), &whole, 1e-5);
            let chunked = t.backward_chunked(&geo, &x, &g, true, chunk).unwrap();
            assert_close(&chunked.inputs[0], &grads.inputs[0], 1e-5);
            for (a, b) in chunked.params.iter().zip(&grads.params) {
                assert_close(a, b, 1e-5);
            }
        }
    }

    #[test]
    fn non_contiguous_input_gives_the_same_result() {
        let t = op(3, 2, [3, 2], [2, 1], [1, 0, 1, 1], [1, 0], [1, 1], 1, true);
        let transposed = random_tensor(&[2, 3, 5, 4], -1., 1., 31).permuted_axes(vec![0, 1, 3, 2]);
        assert!(!transposed.is_standard_layout());
        let standard = transposed.as_standard_layout().into_owned();
        assert_eq!(
            t.forward(&[&transposed]).unwrap(),
            t.forward(&[&standard]).unwrap()
        );
        let g = random_tensor(&t.output_shape(&[standard.shape()]).unwrap(), -1., 1., 32);
        let a = t.backward(&[&transposed], &g, &g, true).unwrap();
        let b = t.backward(&[&standard], &g, &g, true).unwrap();
        assert_eq!(a.inputs[0], b.inputs[0]);
        assert_eq!(a.params, b.params);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let tol = Tolerance::default();
        let plain = op(3, 2, [3, 3], [1, 1], [1, 1, 1, 1], [0; 2], [1, 1], 1, true);
        check(&plain, &[random_tensor(&[2, 3, 3, 4], -1., 1., 51)], tol);
        let strided = op(2, 3, [3, 2], [2, 3], [1, 0, 2, 1], [1, 2], [1, 1], 1, false);
        check(&strided, &[random_tensor(&[2, 2, 3, 3], -1., 1., 52)], tol);
        let dilated_grouped = op(4, 6, [2, 3], [2, 1], [0, 1, 1, 0], [1, 0], [2, 2], 2, true);
        check(
            &dilated_grouped,
            &[random_tensor(&[2, 4, 3, 3], -1., 1., 53)],
            tol,
        );
    }

    #[test]
    fn rejects_what_does_not_fit() {
        let w = |shape: &[usize]| random_tensor(shape, -1., 1., 71);
        let err = |r: Result<ConvTranspose2d>| r.unwrap_err().to_string();
        let e = err(ConvTranspose2d::new(
            w(&[2, 3, 3]),
            None,
            [1, 1],
            [0; 4],
            [0; 2],
            [1, 1],
            1,
        ));
        assert!(e.contains("4-D") && e.contains("[2, 3, 3]"), "{e}");
        let e = err(ConvTranspose2d::new(
            w(&[3, 2, 3, 3]),
            None,
            [1, 1],
            [0; 4],
            [0; 2],
            [1, 1],
            2,
        ));
        assert!(
            e.contains("groups") && e.contains("3 input channels"),
            "{e}"
        );
        let e = err(ConvTranspose2d::new(
            w(&[2, 2, 3, 3]),
            None,
            [2, 2],
            [0; 4],
            [usize::MAX, 0],
            [1, 1],
            1,
        ));
        assert!(e.contains("output padding"), "{e}");
        let e = err(ConvTranspose2d::new(
            w(&[4, 1, 3, 3]),
            Some(w(&[4])),
            [1, 1],
            [0; 4],
            [0; 2],
            [1, 1],
            2,
        ));
        assert!(
            e.contains("bias") && e.contains("[2]") && e.contains("[4]"),
            "{e}"
        );
        let t = op(4, 2, [3, 3], [1, 1], [2, 2, 2, 2], [0; 2], [1, 1], 1, false);
        let e = t.output_shape(&[&[1, 3, 4, 4]]).unwrap_err().to_string();
        assert!(
            e.contains("4 input channels") && e.contains("[1, 3, 4, 4]"),
            "{e}"
        );
        let e = t.output_shape(&[&[1, 4, 1, 1]]).unwrap_err().to_string();
        assert!(e.contains("crops the whole output"), "{e}");
        assert_eq!(t.output_shape(&[&[1, 4, 3, 5]]).unwrap(), vec![1, 2, 1, 3]);
        let x = random_tensor(&[1, 4, 3, 5], -1., 1., 72);
        let wrong = random_tensor(&[1, 2, 1, 4], -1., 1., 73);
        let e = t
            .backward(&[&x], &wrong, &wrong, true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[1, 2, 1, 4]") && e.contains("[1, 2, 1, 3]"),
            "{e}"
        );
    }
}
