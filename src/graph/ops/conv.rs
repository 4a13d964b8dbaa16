//! 2-D convolution over NCHW tensors (PyTorch `nn.Conv2d`, ONNX `Conv`). The sliding-window
//! arithmetic it shares with pooling is in `window.rs`, the patch matrix in `conv/unfold.rs`.
//!
//! With `C` input channels, `O` output channels, `G` groups, `Cg = C / G`, `Og = O / G` and
//! output channel `o` in group `g = o / Og`:
//!
//! `y[n, o, i, j] = b[o] + Σ_{c < Cg, p < kh, q < kw} W[o, c, p, q] · x[n, g·Cg + c, i·sh + p·dh − pad_top, j·sw + q·dw − pad_left]`
//!
//! where `x` is zero outside the input (zero padding). Along each spatial axis the output length
//! is `⌊(H + pad_begin + pad_end − d·(k − 1) − 1) / s⌋ + 1` (PyTorch `Conv2d` documentation,
//! ONNX `Conv` operator specification). Like both, this is a cross-correlation: the kernel is
//! not flipped.
//!
//! The computation is im2col + GEMM (Chellapilla, Puri and Simard, "High Performance
//! Convolutional Neural Networks for Document Processing", 2006). For a sample (forward) or a
//! chunk of samples (backward) and one group, the patches are unfolded into a matrix
//! `cols[Cg·kh·kw, chunk·Ho·Wo]` (row `(c, p, q)`, column `(sample, i, j)`), so that
//! `Y_g = W_g · cols` is one matrix product per sample, each writing that sample's
//! `[Og, Ho·Wo]` block of the NCHW output directly, starting from the bias
//! (matrixmultiply's sgemm natively; in wasm the crate's sgemm (`graph/sgemm.rs`), which
//! reads `cols` in place). The backward pass (matrixmultiply, over the whole chunk) is
//! `dW_g += G_g · colsᵀ`, `dcols = W_gᵀ · G_g` folded back into `dx` by scatter-adding every
//! patch entry to the input element it was read from (col2im), and `db[o] = Σ_{n,i,j} G[n, o, i, j]`.
//! In wasm, `dcols` is the crate's sgemm reading `Wᵀ` and `G_g` in place. The input gradient
//! alone (attribution) of a dilation-1 convolution is instead the forward pass of its adjoint
//! convolution (flipped, transposed weight, complementary padding), one per phase of the stride
//! (`conv/adjoint.rs`), on the forward kernels below, except for a strided image stem and a
//! convolution that widens its channels (`Conv2d::input_gradient_by_patch_matrix`), which keep
//! the patch matrix, and a depthwise convolution with stride 2, whose input gradient has a pass
//! of its own (`conv/depthwise_adjoint.rs`).
//!
//! The input gradient alone skips the channels that cannot contribute: an output channel whose
//! gradient is zero in every sample (every class but the one attributed, or a channel dead
//! behind a ReLU), and an input channel whose derivative mask (ReLU or Clip, fused as
//! [`Epilogue::Masked`]) is zero everywhere. When few enough pairs are live, the product is
//! `Wᵀ` restricted to them (`Conv2d::input_gradient_of_live_channels`); the depthwise passes skip
//! such a channel's taps. The terms skipped are products with zero, so the sums are unchanged.
//!
//! In wasm, stride 1 and dilation 1 (both convolutions of the built-in CNN) skip the patch
//! matrix: `conv/direct.rs` keeps output row segments in SIMD registers and reads a
//! zero-bordered copy of each sample's input, summing in the same order as the product.
//! Depthwise convolutions (one input channel per group, MobileNet's and EfficientNet's) skip
//! it on every target: `conv/depthwise.rs` reads a zero-bordered, stride-phase-split copy of
//! each channel, also in the product's order.
//!
//! Hand-written rather than taken from a crate: no maintained crate provides grouped, dilated,
//! asymmetrically padded NCHW convolution together with its vector-Jacobian product on ndarray
//! tensors, and the arithmetic-heavy part is delegated to sgemm anyway.
//!
//! `conv/transpose.rs` holds the transposed convolution, this convolution's adjoint, which reuses
//! the patch matrix.

mod adjoint;
mod depthwise;
mod depthwise_adjoint;
#[cfg(any(target_arch = "wasm32", test))]
mod direct;
#[cfg(test)]
mod reference;
mod transpose;
mod unfold;

use super::window::{check_window_param, output_len, AxisWindow};
use super::{product_into, Epilogue, GradientReads, Grads, Kernel};
use crate::error::{Error, Result};
#[cfg(target_arch = "wasm32")]
use crate::graph::sgemm::{gemm, Rhs, Start};
use crate::tensor::{checked_elements, Tensor};
use adjoint::InputGradient;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewD, ArrayViewMut2, IxDyn};
use std::sync::OnceLock;
pub use transpose::ConvTranspose2d;
use unfold::{col2im, im2col, with_patch_buffer, ConvGeometry};

/// A forward kernel over the NCHW input, the standard-layout weight and the bias, writing every
/// element of the NCHW output and handing each finished block of it to the epilogue, if any
/// (`depthwise::forward`, `direct::forward`).
type DirectKernel =
    fn(&ConvGeometry, &[f32], &[f32], Option<&[f32]>, &mut [f32], Option<Epilogue<'_>>);

/// How many elements of the patch matrix the backward pass builds at once: 2^22 f32 (16 MiB).
/// A batch is processed in chunks of as many samples as fit (at least one), so that small
/// samples share one matrix product while a large batch does not multiply the memory.
const PATCH_BUDGET: usize = 1 << 22;

/// The input gradient alone is computed from the live channels alone
/// ([`Conv2d::input_gradient_of_live_channels`]) when the products of live output and live
/// input channels are at most `LIVE_SHARE.0 / LIVE_SHARE.1` of all.
const LIVE_SHARE: (usize, usize) = (3, 4);

/// A 2-D convolution over NCHW input with PyTorch/ONNX semantics, built by [`Conv2d::new`],
/// which validates it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    /// `[out_channels, in_channels / groups, kernel_h, kernel_w]`.
    weight: Tensor,
    /// `[out_channels]`.
    bias: Option<Tensor>,
    /// `[stride_h, stride_w]`.
    stride: [usize; 2],
    /// `[top, left, bottom, right]` zero padding (ONNX `pads` order is `[top, left, bottom, right]`).
    padding: [usize; 4],
    /// `[dilation_h, dilation_w]`.
    dilation: [usize; 2],
    /// Number of groups; in and out channels must both divide by it.
    groups: usize,
    /// The convolutions whose forward passes give this one's input gradient (`conv/adjoint.rs`),
    /// made by the first input gradient and kept until the weight may change.
    adjoint: Adjoint,
}

/// A [`Conv2d`]'s adjoint, made once: its flipped weight cost ResNet-18's input gradient a copy
/// of every stride-1 weight per call, and the patch-matrix gradient's transposed weight 0.7 ms
/// of SqueezeNet 1.1's 43 (a Chromium profile). [`Kernel::params_mut`] drops it (the weight may
/// change through the references it gives out), so a later input gradient makes it again. It
/// is derived from the weight, so it plays no part in equality.
#[derive(Debug, Clone, Default)]
struct Adjoint {
    /// The convolutions whose forward passes give the input gradient (`conv/adjoint.rs`).
    convolutions: OnceLock<Option<Box<InputGradient>>>,
    /// `Wᵀ` `[Cg·kh·kw, O]` with contiguous rows, the left operand of the patch-matrix product
    /// `dcols = W_gᵀ · G_g` ([`Conv2d::backward_chunked`]).
    transposed_weight: OnceLock<Array2<f32>>,
}

impl PartialEq for Adjoint {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Conv2d {
    /// A convolution from its weight `[out, in / groups, kh, kw]`, optional bias `[out]`, stride
    /// `[h, w]`, padding `[top, left, bottom, right]`, dilation `[h, w]` and group count; fails
    /// with a message naming the offending value when they do not fit together.
    pub fn new(
        weight: Tensor,
        bias: Option<Tensor>,
        stride: [usize; 2],
        padding: [usize; 4],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Self> {
        let conv = Conv2d {
            weight,
            bias,
            stride,
            padding,
            dilation,
            groups,
            adjoint: Adjoint::default(),
        };
        check_window_param("conv2d stride", &conv.stride, 1)?;
        check_window_param("conv2d dilation", &conv.dilation, 1)?;
        check_window_param("conv2d padding", &conv.padding, 0)?;
        conv.check_params()?;
        Ok(conv)
    }

    /// The `[out_channels, in_channels / groups, kernel_h, kernel_w]` weight.
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

    /// `[top, left, bottom, right]` zero padding.
    pub fn padding(&self) -> [usize; 4] {
        self.padding
    }

    /// `[dilation_h, dilation_w]`.
    pub fn dilation(&self) -> [usize; 2] {
        self.dilation
    }

    /// The number of groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Number of output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.shape().first().copied().unwrap_or(0)
    }

    /// Number of input channels the convolution expects (`groups` times the weight's axis 1).
    pub fn in_channels(&self) -> usize {
        self.weight.shape().get(1).copied().unwrap_or(0) * self.groups
    }

    /// Checks the weight and bias against each other and the group count (the parameters can
    /// be replaced through [`Kernel::params_mut`], so every use checks them again; the stride,
    /// dilation and padding are checked once, by [`Conv2d::new`]).
    fn check_params(&self) -> Result<()> {
        let w = self.weight.shape();
        if w.len() != 4 || w.contains(&0) {
            return Err(Error::shape(format!(
                "conv2d weight must be 4-D [out_channels, in_channels / groups, kernel_h, kernel_w] \
                 with no zero dimension, got shape {w:?}"
            )));
        }
        check_window_param("conv2d kernel size", &w[2..], 1)?;
        if self.groups == 0 || w[0] % self.groups != 0 {
            return Err(Error::invalid(
                "conv2d groups",
                format!(
                    "expected a positive divisor of the {} output channels of weight {w:?}, got {}",
                    w[0], self.groups
                ),
            ));
        }
        if let Some(b) = &self.bias {
            if b.shape() != [w[0]] {
                return Err(Error::shape(format!(
                    "conv2d bias must have shape [{}] to match weight {w:?}, got {:?}",
                    w[0],
                    b.shape()
                )));
            }
        }
        Ok(())
    }

    /// Validates the op against an input shape and returns the sizes the kernels work with.
    fn geometry(&self, input: &[usize]) -> Result<ConvGeometry> {
        self.check_params()?;
        let w = self.weight.shape();
        let [batch, channels, height, width] = *input else {
            return Err(Error::shape(format!(
                "conv2d expects NCHW input [batch, channels, height, width], got {input:?}"
            )));
        };
        if channels != self.in_channels() {
            return Err(Error::shape(format!(
                "conv2d weight {w:?} with {} group(s) expects {} input channels, got input shape {input:?}",
                self.groups,
                self.in_channels()
            )));
        }
        let [top, left, bottom, right] = self.padding;
        let extent = |axis: usize| (w[2 + axis] as u64 - 1) * self.dilation[axis] as u64 + 1;
        let out_h = output_len(height, extent(0), self.stride[0], top, bottom, false);
        let out_w = output_len(width, extent(1), self.stride[1], left, right, false);
        let (Some(out_h), Some(out_w)) = (out_h, out_w) else {
            return Err(Error::shape(format!(
                "conv2d kernel {}x{} with dilation {:?} spans {}x{} cells, more than the padded input \
                 {}x{} (input {input:?}, padding [top, left, bottom, right] {:?})",
                w[2],
                w[3],
                self.dilation,
                extent(0),
                extent(1),
                height as u64 + top as u64 + bottom as u64,
                width as u64 + left as u64 + right as u64,
                self.padding
            )));
        };
        let geometry = ConvGeometry {
            batch,
            channels,
            out_channels: w[0],
            groups: self.groups,
            kernel: [w[2], w[3]],
            height,
            width,
            rows: AxisWindow {
                input: height,
                output: out_h,
                stride: self.stride[0],
                dilation: self.dilation[0],
                pad_begin: top,
            },
            cols: AxisWindow {
                input: width,
                output: out_w,
                stride: self.stride[1],
                dilation: self.dilation[1],
                pad_begin: left,
            },
        };
        // Checked on the separate axes: the products may overflow `usize` on wasm32 otherwise.
        checked_elements("conv2d output", &geometry.output_shape())?;
        checked_elements(
            "conv2d patch matrix (im2col) of one sample",
            &[geometry.patch_len(), out_h, out_w],
        )?;
        Ok(geometry)
    }

    /// The forward pass on the kernel the geometry picks, with `epilogue` (if any) over every
    /// output value ([`Kernel::forward_then`]).
    fn forward_finished(&self, x: &Tensor, epilogue: Option<Epilogue<'_>>) -> Result<Tensor> {
        let geo = self.geometry(x.shape())?;
        let mut out = vec![0.0; geo.batch * geo.out_channels * geo.out_plane()];
        self.forward_on(&geo, x, epilogue, &mut out);
        Tensor::from_shape_vec(IxDyn(&geo.output_shape()), out)
            .map_err(|e| Error::shape(format!("conv2d output: {e}")))
    }

    /// [`Self::forward_finished`] written into `out`, which holds exactly the output's values
    /// ([`Kernel::forward_into`]).
    fn forward_finished_into(
        &self,
        x: &Tensor,
        epilogue: Option<Epilogue<'_>>,
        out: &mut [f32],
    ) -> Result<()> {
        let geo = self.geometry(x.shape())?;
        let expected = geo.batch * geo.out_channels * geo.out_plane();
        if out.len() != expected {
            return Err(Error::shape(format!(
                "conv2d output buffer holds {} values, expected {expected} for the output shape {:?}",
                out.len(),
                geo.output_shape()
            )));
        }
        self.forward_on(&geo, x, epilogue, out);
        Ok(())
    }

    /// The forward pass over an input of geometry `geo` into `out` (the output's length) on the
    /// kernel the geometry picks.
    fn forward_on(
        &self,
        geo: &ConvGeometry,
        x: &Tensor,
        epilogue: Option<Epilogue<'_>>,
        out: &mut [f32],
    ) {
        if depthwise::applies(geo) {
            return self.forward_by(geo, x, depthwise::forward, epilogue, out);
        }
        #[cfg(target_arch = "wasm32")]
        if direct::applies(geo) && !geo.is_pointwise() {
            return self.forward_by(geo, x, direct::forward, epilogue, out);
        }
        self.forward_per_sample(geo, x, epilogue, out)
    }

    /// The forward pass over an input of geometry `geo`, one sample at a time: its patch
    /// matrix is unfolded right before its products, so that they read it from cache (one
    /// sample of LeNet's second convolution is 56 KiB, the whole batch of 64 is 3.5 MiB);
    /// faster than unfolding the whole batch at once (BENCHMARKS.md, Kernel decisions ›
    /// Convolution).
    fn forward_per_sample(
        &self,
        geo: &ConvGeometry,
        x: &Tensor,
        epilogue: Option<Epilogue<'_>>,
        out: &mut [f32],
    ) {
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout is contiguous");
        let weight = self.weight.as_standard_layout();
        let weight = weight_matrix(weight.view(), geo);
        let bias = self.bias.as_ref().map(|b| b.as_standard_layout());
        let bias = bias
            .as_ref()
            .map(|b| b.as_slice().expect("standard layout is contiguous"));
        let (patch, plane, group_out) = (geo.patch_len(), geo.out_plane(), geo.group_outputs());

        // Each sample's output block `[Og, Ho·Wo]` of a group is a row-major matrix inside the
        // NCHW output, so the products are written in place, starting from the bias, with no
        // reshuffle of a separate product matrix.
        // A pointwise convolution's patch matrix is the sample's input block `[Cg, H·W]`
        // itself: the products read it in place (BENCHMARKS.md, Kernel decisions › Convolution).
        let pointwise = geo.is_pointwise();
        with_patch_buffer(if pointwise { 0 } else { patch * plane }, |cols| {
            for sample in 0..geo.batch {
                for group in 0..geo.groups {
                    let patches = if pointwise {
                        &xs[(sample * geo.groups + group) * patch * plane..][..patch * plane]
                    } else {
                        im2col(geo, xs, group, sample..sample + 1, cols);
                        &*cols
                    };
                    let channels = group * group_out..(group + 1) * group_out;
                    let start = (sample * geo.out_channels + group * group_out) * plane;
                    // The product's runs start from its block; a map's from the output.
                    let map = |run: &mut [f32], at: usize| {
                        if let Some(epilogue) = epilogue {
                            epilogue.apply(run, start + at);
                        }
                    };
                    let shifted = match epilogue {
                        Some(Epilogue::Activation(activation)) => {
                            Some(Epilogue::Activation(activation))
                        }
                        Some(_) => Some(Epilogue::Map(&map)),
                        None => None,
                    };
                    product_with_bias(
                        weight.slice(s![channels.clone(), ..]),
                        matrix(patches, patch, plane),
                        bias.map(|b| &b[channels]),
                        matrix_mut(&mut out[start..], group_out, plane),
                        shifted,
                    );
                }
            }
        });
    }

    /// The forward pass over an input of geometry `geo` into `out` by a kernel that reads the NCHW input,
    /// the standard-layout weight and the bias and writes every element of the NCHW output:
    /// `depthwise::forward`, or in wasm `direct::forward`.
    fn forward_by(
        &self,
        geo: &ConvGeometry,
        x: &Tensor,
        kernel: DirectKernel,
        epilogue: Option<Epilogue<'_>>,
        out: &mut [f32],
    ) {
        let x = x.as_standard_layout();
        let weight = self.weight.as_standard_layout();
        let bias = self.bias.as_ref().map(|b| b.as_standard_layout());
        let contiguous = "standard layout is contiguous";
        kernel(
            geo,
            x.as_slice().expect(contiguous),
            weight.as_slice().expect(contiguous),
            bias.as_ref().map(|b| b.as_slice().expect(contiguous)),
            out,
            epilogue,
        );
    }

    /// The input gradient alone for an input of `input_shape`, from the output gradient and the
    /// weight: from the live channels alone where [`Self::input_gradient_of_live_channels`]
    /// finds few enough, through the stride-2 depthwise pass
    /// (`conv/depthwise_adjoint.rs`) where it applies, else the adjoint (`conv/adjoint.rs`), or
    /// the patch matrix where [`Self::input_gradient_by_patch_matrix`] says so; `None` for any
    /// other dilated convolution (its gradient takes the patch matrix with the parameters').
    /// `epilogue` (if any) runs over every value of it: as the stride-1 adjoint's blocks are
    /// final, else over the whole gradient at the end.
    fn input_gradient_alone(
        &self,
        input_shape: &[usize],
        grad_output: &Tensor,
        epilogue: Option<Epilogue<'_>>,
    ) -> Option<Result<Tensor>> {
        let mask = epilogue.and_then(|epilogue| epilogue.mask());
        if let Some(dx) = self.input_gradient_of_live_channels(input_shape, grad_output, epilogue) {
            return Some(dx);
        }
        let checked = |geo: ConvGeometry| {
            let expected = geo.output_shape();
            if grad_output.shape() != expected.as_slice() {
                return Err(Error::shape(format!(
                    "conv2d output gradient has shape {:?}, expected the output shape {expected:?}",
                    grad_output.shape()
                )));
            }
            Ok(geo)
        };
        let finished = |dx: Result<Tensor>| dx.map(|dx| finish(dx, epilogue));
        if depthwise_adjoint::applies(self) {
            return Some(finished(
                self.geometry(input_shape)
                    .and_then(checked)
                    .and_then(|geo| self.depthwise_stride_two_gradient(&geo, grad_output, mask)),
            ));
        }
        if self.input_gradient_by_patch_matrix() {
            return Some(finished(self.geometry(input_shape).and_then(|geo| {
                let mut grads = self.backward_chunked(&geo, None, grad_output, geo.chunk_len())?;
                Ok(grads.inputs.remove(0))
            })));
        }
        let adjoint = self
            .adjoint
            .convolutions
            .get_or_init(|| InputGradient::of(self).map(Box::new))
            .as_ref()?;
        Some(
            self.geometry(input_shape)
                .and_then(checked)
                .and_then(|_| adjoint.run(grad_output, input_shape, epilogue)),
        )
    }

    /// The input gradient from the live channels alone, when the convolution has one group and
    /// the live output channels times the live input channels are at most [`LIVE_SHARE`] of
    /// all pairs (a convolution that is not pointwise counts all its input channels there).
    /// An output channel is live where its gradient is not zero in some sample; an input
    /// channel where the mask of an [`Epilogue::Masked`] (the derivative mask the gradient is
    /// multiplied by next, indexed like the input) is not zero in some sample, or always
    /// without one. The product is `Wᵀ` restricted to those rows and columns times the live
    /// gradient rows, then col2im into the live input channels, one sample at a time; the
    /// other input channels are 0, as the mask would leave them.
    ///
    /// An attribution's gradient starts as one class's logit, so the convolution that computes
    /// the class scores (SqueezeNet 1.1's last, 512 → 1000 channels, a quarter of its
    /// multiply-adds) receives a gradient in that class's channel alone, and its input
    /// gradient is a product with one row instead of a thousand. Behind a ReLU or a Clip, the
    /// channels that are 0 (or saturated) over the whole input have no gradient either: 36%
    /// of MobileNetV2's backward multiply-adds on the bench's random weights (BENCHMARKS.md,
    /// Eighteenth pass). The terms skipped are products with zero, so the sums are the full
    /// product's. `None` when the live pairs are many (each search stops at a channel's first
    /// live value, and the output channels' at the first channel past the share) or the
    /// shapes do not fit (the other paths report them).
    fn input_gradient_of_live_channels(
        &self,
        input_shape: &[usize],
        grad_output: &Tensor,
        epilogue: Option<Epilogue<'_>>,
    ) -> Option<Result<Tensor>> {
        if self.groups != 1 {
            return None;
        }
        let geo = self.geometry(input_shape).ok()?;
        if grad_output.shape() != geo.output_shape().as_slice() {
            return None;
        }
        let input_plane = geo.height * geo.width;
        let live_inputs = || match epilogue.and_then(|epilogue| epilogue.mask()) {
            Some(mask) if mask.len() == geo.batch * geo.channels * input_plane => {
                live_channels(mask, geo.batch, input_plane, usize::MAX, |&m| m != 0)
            }
            _ => Some((0..geo.channels).collect()),
        };
        // Only a pointwise convolution chooses this path by its live input channels: its
        // adjoint is the same product (`Wᵀ · G`, summed over the output channels in order), so
        // the choice does not change the live channels' sums, and a gradient trace's input
        // gradient (which has the mask) stays the full trace's bit for bit. Any other searches
        // its input channels only once its output channels have chosen the path.
        let deciding = if geo.is_pointwise() {
            Some(live_inputs()?)
        } else {
            None
        };
        let deciding_count = deciding.as_ref().map_or(geo.channels, Vec::len);
        let (share, whole) = LIVE_SHARE;
        let limit = share * geo.out_channels * geo.channels / (whole * deciding_count.max(1));
        let grad = grad_output.as_standard_layout();
        let gs = grad.as_slice().expect("standard layout is contiguous");
        let outputs = live_channels(gs, geo.batch, geo.out_plane(), limit, |&g| g != 0.0)?;
        let inputs = match deciding {
            Some(inputs) => inputs,
            None => live_inputs()?,
        };
        Some(self.input_gradient_of_channels(&geo, gs, &outputs, &inputs, epilogue))
    }

    /// The input gradient over an input of geometry `geo` (one group) from the output gradient
    /// `gs` of the output channels `outputs` alone (the others' gradient is zero), into the
    /// input channels `inputs` alone (the others are left 0), with `epilogue` (if any) run over
    /// those input channels: a [`Epilogue::Masked`] leaves the others 0. The left operand is
    /// `Wᵀ` (made once) restricted by row copies, or by gathers when some output channels are
    /// dead; the right is the sample's gradient in place when every output channel is live; a
    /// pointwise convolution's product is the gradient itself (copied into the live channels,
    /// or written in place when all are).
    fn input_gradient_of_channels(
        &self,
        geo: &ConvGeometry,
        gs: &[f32],
        outputs: &[usize],
        inputs: &[usize],
        epilogue: Option<Epilogue<'_>>,
    ) -> Result<Tensor> {
        let (plane, kept) = (geo.out_plane(), outputs.len());
        let taps = geo.kernel[0] * geo.kernel[1];
        let rows = inputs.len() * taps;
        let (all_outputs, all_inputs) = (kept == geo.out_channels, inputs.len() == geo.channels);
        let weight_t = self.transposed_weight(geo);
        let mut left = vec![0.0; rows * kept];
        let patch_rows = inputs
            .iter()
            .flat_map(|&input| input * taps..(input + 1) * taps);
        for (dst, row) in left.chunks_exact_mut(kept.max(1)).zip(patch_rows) {
            let src = weight_t.row(row);
            let src = src.as_slice().expect("Wᵀ has contiguous rows");
            if all_outputs {
                dst.copy_from_slice(src);
            } else {
                for (d, &output) in dst.iter_mut().zip(outputs) {
                    *d = src[output];
                }
            }
        }
        // col2im of one input channel at a time: the geometry of one channel per group.
        let per_channel = ConvGeometry {
            groups: geo.channels,
            ..geo.clone()
        };
        let pointwise = geo.is_pointwise();
        let input_plane = geo.height * geo.width;
        let mut grad_rows = vec![0.0; if all_outputs { 0 } else { kept * plane }];
        let input_shape = [geo.batch, geo.channels, geo.height, geo.width];
        let mut dx = vec![0.0; input_shape.iter().product()];
        let in_place = pointwise && all_inputs;
        with_patch_buffer(if in_place { 0 } else { rows * plane }, |cols| {
            if rows * kept == 0 {
                return;
            }
            for sample in 0..geo.batch {
                let block = sample * geo.out_channels * plane;
                let right = if all_outputs {
                    &gs[block..][..kept * plane]
                } else {
                    for (row, &output) in grad_rows.chunks_exact_mut(plane).zip(outputs) {
                        row.copy_from_slice(&gs[block + output * plane..][..plane]);
                    }
                    &grad_rows[..]
                };
                if in_place {
                    product_into(
                        matrix(&left, rows, kept),
                        matrix(right, kept, plane),
                        matrix_mut(&mut dx[sample * rows * plane..], rows, plane),
                    );
                    continue;
                }
                product_into(
                    matrix(&left, rows, kept),
                    matrix(right, kept, plane),
                    matrix_mut(cols, rows, plane),
                );
                for (block, &input) in cols.chunks_exact(taps * plane).zip(inputs) {
                    if pointwise {
                        dx[(sample * geo.channels + input) * plane..][..plane]
                            .copy_from_slice(block);
                    } else {
                        col2im(&per_channel, block, input, sample..sample + 1, &mut dx);
                    }
                }
            }
        });
        if let Some(epilogue) = epilogue {
            for sample in 0..geo.batch {
                for &input in inputs {
                    let at = (sample * geo.channels + input) * input_plane;
                    epilogue.apply(&mut dx[at..][..input_plane], at);
                }
            }
        }
        Tensor::from_shape_vec(IxDyn(&input_shape), dx)
            .map_err(|e| Error::shape(format!("conv2d input gradient: {e}")))
    }

    /// `Wᵀ` `[Cg·kh·kw, O]` with contiguous rows, made by the first call
    /// ([`Adjoint::transposed_weight`]).
    fn transposed_weight(&self, geo: &ConvGeometry) -> &Array2<f32> {
        self.adjoint.transposed_weight.get_or_init(|| {
            let weight = self.weight.as_standard_layout();
            let weight = weight_matrix(weight.view(), geo);
            weight.t().as_standard_layout().into_owned()
        })
    }

    /// The input gradient of a depthwise convolution with stride 2
    /// (`conv/depthwise_adjoint.rs`) over an input of geometry `geo`.
    fn depthwise_stride_two_gradient(
        &self,
        geo: &ConvGeometry,
        grad_output: &Tensor,
        mask: Option<&[u8]>,
    ) -> Result<Tensor> {
        let grad = grad_output.as_standard_layout();
        let weight = self.weight.as_standard_layout();
        let contiguous = "standard layout is contiguous";
        let shape = [geo.batch, geo.channels, geo.height, geo.width];
        let mut dx = vec![0.0; shape.iter().product()];
        depthwise_adjoint::input_gradient(
            geo,
            grad.as_slice().expect(contiguous),
            weight.as_slice().expect(contiguous),
            mask.filter(|mask| mask.len() == dx.len()),
            &mut dx,
        );
        Tensor::from_shape_vec(IxDyn(&shape), dx)
            .map_err(|e| Error::shape(format!("conv2d input gradient: {e}")))
    }

    /// Whether the input gradient alone takes the patch matrix (`Wᵀ · G`, then col2im) rather
    /// than the adjoint, measured per node in Chromium on SqueezeNet 1.1 (SIMD128 build):
    ///
    /// - A strided convolution from fewer than 4 channels per group (an image stem) whose
    ///   stride phases hold fewer than 4 taps each on average. The adjoint copies the whole
    ///   output gradient into a padded buffer once per phase, for a handful of taps per copied
    ///   value, and its tile for 3 channels loads an input vector for every 3 multiply-adds.
    ///   SqueezeNet 1.1's stem (3x3, stride 2, 3 → 64 channels) took about 1.5 ms less this
    ///   way (2.9 ms against its forward pass's 2.9), MobileNetV2's (32 channels) the same
    ///   time; ResNet-18's 7x7 stem (12 taps per phase) was faster on the adjoint.
    /// - A stride-1 convolution with a kernel wider than 1x1 that widens at least 32 channels
    ///   per group to twice as many or more (SqueezeNet's 3x3 expand convolutions). Its
    ///   adjoint narrows them back, so its patch matrix unfolds the many output channels,
    ///   where col2im scatters the few input ones: 32 → 128 channels at 27 × 27 took 2.12 →
    ///   1.88 ms, 48 → 192 at 13 × 13 1.26 → 0.96 ms, 64 → 256 at 13 × 13 2.29 → 1.85 ms. From
    ///   16 channels (55 × 55) the adjoint, on the direct kernel, stays faster (2.16 against
    ///   2.6–2.8 ms).
    fn input_gradient_by_patch_matrix(&self) -> bool {
        let w = self.weight.shape();
        let (group_out, group_channels, taps) = (w[0] / self.groups, w[1], w[2] * w[3]);
        let phases = self.stride[0] * self.stride[1];
        let stem = phases > 1 && group_channels < 4 && taps < 4 * phases;
        let widening =
            phases == 1 && taps > 1 && group_channels >= 32 && group_out >= 2 * group_channels;
        stem || widening
    }

    /// The backward pass over an input of geometry `geo`, `chunk` samples per matrix product:
    /// the input gradient (which reads the output gradient and the weight), and the parameter
    /// gradients when `params_from` holds the input.
    fn backward_chunked(
        &self,
        geo: &ConvGeometry,
        params_from: Option<&Tensor>,
        grad_output: &Tensor,
        chunk: usize,
    ) -> Result<Grads> {
        let out_shape = geo.output_shape();
        if grad_output.shape() != out_shape.as_slice() {
            return Err(Error::shape(format!(
                "conv2d output gradient has shape {:?}, expected the output shape {out_shape:?}",
                grad_output.shape()
            )));
        }
        let x = params_from.map(|x| x.as_standard_layout());
        let xs = x
            .as_ref()
            .map(|x| x.as_slice().expect("standard layout is contiguous"));
        let grad_output = grad_output.as_standard_layout();
        let gs = grad_output
            .as_slice()
            .expect("standard layout is contiguous");
        let (patch, plane, group_out) = (geo.patch_len(), geo.out_plane(), geo.group_outputs());
        let weight_t = self.transposed_weight(geo);

        let input_shape = [geo.batch, geo.channels, geo.height, geo.width];
        let mut dx = vec![0.0; input_shape.iter().product()];
        let mut dw = xs.map(|xs| (xs, Array2::<f32>::zeros((geo.out_channels, patch))));
        // One sample's output gradient is already the matrix [out_channels, plane]; several
        // are gathered into this buffer.
        let mut grad_rows = vec![
            0.0;
            if chunk > 1 {
                geo.out_channels * chunk * plane
            } else {
                0
            }
        ];
        with_patch_buffer(patch * chunk * plane, |cols| {
            for first in (0..geo.batch).step_by(chunk) {
                let samples = first..(first + chunk).min(geo.batch);
                let columns = samples.len() * plane;
                let grad_matrix = if samples.len() == 1 {
                    matrix(
                        &gs[first * geo.out_channels * plane..][..geo.out_channels * plane],
                        geo.out_channels,
                        plane,
                    )
                } else {
                    // The chunk's output gradient as a matrix [out_channels, samples · plane].
                    let grad_rows = &mut grad_rows[..geo.out_channels * columns];
                    for (channel, row) in grad_rows.chunks_exact_mut(columns).enumerate() {
                        for (sample, dst) in samples.clone().zip(row.chunks_exact_mut(plane)) {
                            let start = (sample * geo.out_channels + channel) * plane;
                            dst.copy_from_slice(&gs[start..start + plane]);
                        }
                    }
                    matrix(grad_rows, geo.out_channels, columns)
                };
                for group in 0..geo.groups {
                    let channels = group * group_out..(group + 1) * group_out;
                    let grads_g = grad_matrix.slice(s![channels.clone(), ..]);
                    let cols = &mut cols[..patch * columns];
                    if let Some((xs, dw)) = &mut dw {
                        im2col(geo, xs, group, samples.clone(), cols);
                        general_mat_mul(
                            1.0,
                            &grads_g,
                            &matrix(cols, patch, columns).t(),
                            1.0,
                            &mut dw.slice_mut(s![channels.clone(), ..]),
                        );
                    }
                    product_into(
                        weight_t.slice(s![.., channels]),
                        grads_g,
                        matrix_mut(cols, patch, columns),
                    );
                    col2im(geo, cols, group, samples.clone(), &mut dx);
                }
            }
        });

        let mut params = Vec::new();
        if let Some((_, dw)) = dw {
            params.push(
                dw.into_shape_with_order(IxDyn(self.weight.shape()))
                    .map_err(|e| Error::shape(format!("conv2d weight gradient: {e}")))?,
            );
            if self.bias.is_some() {
                let mut db = vec![0.0; geo.out_channels];
                for (index, values) in gs.chunks_exact(plane).enumerate() {
                    db[index % geo.out_channels] += values.iter().sum::<f32>();
                }
                params.push(
                    Tensor::from_shape_vec(IxDyn(&[geo.out_channels]), db)
                        .map_err(|e| Error::shape(format!("conv2d bias gradient: {e}")))?,
                );
            }
        }
        let dx = Tensor::from_shape_vec(IxDyn(&input_shape), dx)
            .map_err(|e| Error::shape(format!("conv2d input gradient: {e}")))?;
        Ok(Grads {
            inputs: vec![dx],
            params,
        })
    }
}

/// `c = bias + a · b` (`bias[i]` on row `i`; `c = a · b` without a bias: `c`'s values are never
/// read), then the epilogue over `c`, with the wasm sgemm (`graph/sgemm.rs`), which reads the
/// im2col matrix in place and starts its accumulators from the bias or zero; matrixmultiply
/// would pack the matrix (and the weight) again on every call (see ARCHITECTURE.md, "Matrix
/// products in the browser").
#[cfg(target_arch = "wasm32")]
fn product_with_bias(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    bias: Option<&[f32]>,
    c: ArrayViewMut2<'_, f32>,
    epilogue: Option<Epilogue<'_>>,
) {
    let start = bias.map_or(Start::Zero, Start::RowBias);
    gemm(a, Rhs::Rows(b), start, c, epilogue);
}

/// `c = bias + a · b` (`bias[i]` on row `i`; `c = a · b` without a bias: `c`'s values are never
/// read), then the epilogue over `c`, with matrixmultiply (its x86 FMA kernels natively): the
/// bias is written first and the product added onto it.
#[cfg(not(target_arch = "wasm32"))]
fn product_with_bias(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    bias: Option<&[f32]>,
    mut c: ArrayViewMut2<'_, f32>,
    epilogue: Option<Epilogue<'_>>,
) {
    if let Some(bias) = bias {
        for (mut row, &value) in c.rows_mut().into_iter().zip(bias) {
            row.fill(value);
        }
    }
    // With β = 0 matrixmultiply overwrites `c` without reading it.
    let beta = if bias.is_some() { 1.0 } else { 0.0 };
    general_mat_mul(1.0, &a, &b, beta, &mut c);
    if let Some(epilogue) = epilogue {
        epilogue.apply(
            c.as_slice_mut()
                .expect("the output block has contiguous rows"),
            0,
        );
    }
}

/// The channels of `values` (NCHW, `batch` samples of planes of `plane` values) where `live`
/// holds for some value of some sample, in order; `None` once there are more than `limit`. A
/// channel's search stops at its first live value.
fn live_channels<T>(
    values: &[T],
    batch: usize,
    plane: usize,
    limit: usize,
    live: impl Fn(&T) -> bool,
) -> Option<Vec<usize>> {
    let channels = values.len() / (batch * plane).max(1);
    let mut found = Vec::new();
    for channel in 0..channels {
        let is_live = (0..batch).any(|sample| {
            any_live(
                &values[(sample * channels + channel) * plane..][..plane],
                &live,
            )
        });
        if is_live {
            if found.len() == limit {
                return None;
            }
            found.push(channel);
        }
    }
    Some(found)
}

/// Whether `live` holds for some value of `values`. Blocks of 64 values are tested without a
/// branch per value, so the compiler vectorises the test, and the search stops at the first
/// block with a live value: most channels have one among their first values, a dead channel is
/// read whole.
pub(super) fn any_live<T>(values: &[T], live: impl Fn(&T) -> bool) -> bool {
    values
        .chunks(64)
        .any(|block| block.iter().fold(false, |any, value| any | live(value)))
}

/// `values` with `epilogue` (if any) run over all of them, from their first index.
fn finish(mut values: Tensor, epilogue: Option<Epilogue<'_>>) -> Tensor {
    if let Some(epilogue) = epilogue {
        if !values.is_standard_layout() {
            values = values.as_standard_layout().into_owned();
        }
        epilogue.apply(
            values
                .as_slice_mut()
                .expect("standard layout is contiguous"),
            0,
        );
    }
    values
}

/// The weight `[O, Cg, kh, kw]` (standard layout) viewed as the matrix `[O, Cg·kh·kw]`.
fn weight_matrix<'a>(weight: ArrayViewD<'a, f32>, geo: &ConvGeometry) -> ArrayView2<'a, f32> {
    weight
        .into_shape_with_order((geo.out_channels, geo.patch_len()))
        .expect("a standard-layout weight [O, Cg, kh, kw] is a matrix [O, Cg·kh·kw]")
}

/// `values` (exactly `rows · cols` long) as a row-major matrix.
fn matrix(values: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), values).expect("buffer length is rows · cols")
}

/// `values` (exactly `rows · cols` long, or longer: the prefix is used) as a mutable row-major matrix.
fn matrix_mut(values: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((rows, cols), &mut values[..rows * cols])
        .expect("buffer length is at least rows · cols")
}

impl Kernel for Conv2d {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(self.geometry(inputs[0])?.output_shape())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        self.forward_finished(inputs[0], None)
    }

    fn forward_then(&self, inputs: &[&Tensor], epilogue: Epilogue<'_>) -> Option<Result<Tensor>> {
        Some(self.forward_finished(inputs[0], Some(epilogue)))
    }

    fn forward_into(
        &self,
        inputs: &[&Tensor],
        epilogue: Option<Epilogue<'_>>,
        out: &mut [f32],
    ) -> Option<Result<()>> {
        Some(self.forward_finished_into(inputs[0], epilogue, out))
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        want_params: bool,
    ) -> Result<Grads> {
        // The input gradient alone (attribution) runs on the forward kernels
        // (`conv/adjoint.rs`).
        if !want_params {
            if let Some(dx) = self.input_gradient_alone(inputs[0].shape(), grad_output, None) {
                return Ok(Grads {
                    inputs: vec![dx?],
                    params: Vec::new(),
                });
            }
        }
        let geo = self.geometry(inputs[0].shape())?;
        let params_from = want_params.then_some(inputs[0]);
        self.backward_chunked(&geo, params_from, grad_output, geo.chunk_len())
    }

    fn gradient_reads(&self) -> GradientReads {
        // The adjoint reads the weight alone; a dilated convolution's patch matrix reads `x`.
        if self.dilation == [1, 1] {
            GradientReads::Shapes
        } else {
            GradientReads::Values
        }
    }

    fn lean_input_gradients(
        &self,
        input_shapes: &[&[usize]],
        _output: Option<&Tensor>,
        grad: Tensor,
    ) -> Option<Result<Vec<Tensor>>> {
        self.input_gradient_alone(input_shapes[0], &grad, None)
            .map(|dx| dx.map(|dx| vec![dx]))
    }

    fn lean_input_gradient_then(
        &self,
        input_shape: &[usize],
        grad: &Tensor,
        epilogue: Epilogue<'_>,
    ) -> Option<Result<Tensor>> {
        self.input_gradient_alone(input_shape, grad, Some(epilogue))
    }

    fn params(&self) -> Vec<&Tensor> {
        std::iter::once(&self.weight).chain(&self.bias).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        self.adjoint = Adjoint::default();
        std::iter::once(&mut self.weight)
            .chain(&mut self.bias)
            .collect()
    }
}

#[cfg(test)]
mod tests;
