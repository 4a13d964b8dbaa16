//! Max, average and global average pooling over NCHW tensors (PyTorch `MaxPool2d`,
//! `AvgPool2d`, `AdaptiveAvgPool2d(1)`; ONNX `MaxPool`, `AveragePool`, `GlobalAveragePool`).
//!
//! Along each spatial axis, output position `o` covers the padded positions
//! `o·stride − pad_begin .. o·stride − pad_begin + kernel`; the number of positions is
//! `⌊(H + pad_begin + pad_end − kernel) / stride⌋ + 1`, or the ceiling with `ceil_mode`, where
//! a last window starting in the end padding is dropped (`window.rs`).
//! Each padding must be smaller than the kernel, so every window covers at least one input cell.
//!
//! - Max pooling: `y = max` over the window's input cells (padding never wins, as if it were
//!   −∞). The gradient flows to the cell that won: the first in row-major order among equals,
//!   and a NaN wins over any number, as in PyTorch's CPU kernel. The winner is recomputed in the
//!   backward pass rather than stored.
//! - Average pooling: `y = Σ window cells / divisor`; the divisor counts the input cells
//!   (`count_include_pad = false`) or the cells of the window clipped to the padded input
//!   (`count_include_pad = true`: padding counts, the overhang of a ceil-mode window past the
//!   end padding does not), the rule of PyTorch's `avg_pool2d` and ONNX Runtime. Backward:
//!   every cell of the window receives `g / divisor`.
//! - Global average pooling: the mean over all axes from 2 on, kept with size 1; backward
//!   spreads `g / count` over them.
//!
//! In the threaded build the planes of a max pooling's forward and backward passes run on the
//! pool (`crate::parallel`), each computed as on one thread.

use super::window::{check_window_param, output_len};
use super::{Grads, Kernel};
use crate::error::{Error, Result};
use crate::parallel;
use crate::tensor::{checked_elements, Tensor};
use max_plane::{add_to_winners_of_maxima, argmax, max_pool_2x2, max_pool_separable};
use ndarray::IxDyn;
use std::ops::Range;

mod max_plane;

/// The window of a pooling op: its size, step, padding and rounding, shared by [`MaxPool2d`]
/// and [`AvgPool2d`] and checked on its own when the op is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolWindow {
    /// `[kernel_h, kernel_w]`.
    kernel: [usize; 2],
    /// `[stride_h, stride_w]`.
    stride: [usize; 2],
    /// `[top, left, bottom, right]` padding.
    padding: [usize; 4],
    /// Output size rounds up instead of down (windows starting in the padding are dropped).
    ceil_mode: bool,
}

impl PoolWindow {
    /// The window of the pooling op `op`, checked on its own: kernel and stride positive, every
    /// value within the window limits, and each padding smaller than the kernel.
    fn checked(
        op: &str,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
        ceil_mode: bool,
    ) -> Result<Self> {
        check_window_param(&format!("{op} kernel size"), &kernel, 1)?;
        check_window_param(&format!("{op} stride"), &stride, 1)?;
        check_window_param(&format!("{op} padding"), &padding, 0)?;
        let [top, left, bottom, right] = padding;
        if top.max(bottom) >= kernel[0] || left.max(right) >= kernel[1] {
            return Err(Error::invalid(
                format!("{op} padding"),
                format!(
                    "expected every side smaller than the kernel {}x{} so that each window \
                     covers part of the input, got [top, left, bottom, right] {padding:?}",
                    kernel[0], kernel[1]
                ),
            ));
        }
        Ok(PoolWindow {
            kernel,
            stride,
            padding,
            ceil_mode,
        })
    }

    /// `[kernel_h, kernel_w]`.
    pub fn kernel(&self) -> [usize; 2] {
        self.kernel
    }

    /// `[stride_h, stride_w]`.
    pub fn stride(&self) -> [usize; 2] {
        self.stride
    }

    /// `[top, left, bottom, right]` padding.
    pub fn padding(&self) -> [usize; 4] {
        self.padding
    }

    /// Whether the output size rounds up.
    pub fn ceil_mode(&self) -> bool {
        self.ceil_mode
    }
}

/// 2-D max pooling over NCHW input (PyTorch `MaxPool2d` / ONNX `MaxPool`), built by
/// [`MaxPool2d::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct MaxPool2d {
    window: PoolWindow,
}

/// 2-D average pooling over NCHW input (PyTorch `AvgPool2d` / ONNX `AveragePool`), built by
/// [`AvgPool2d::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct AvgPool2d {
    window: PoolWindow,
    /// Padded cells count in the divisor.
    count_include_pad: bool,
}

/// Mean over the spatial axes 2.., keeping them with size 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlobalAvgPool;

/// The stretch of one spatial axis that a pooling window covers.
#[derive(Debug, Clone)]
struct Span {
    /// The input cells inside the window, never empty.
    cells: Range<usize>,
    /// How many cells of the padded axis the window covers.
    padded: usize,
}

/// The windows of a pooling op applied to one input shape.
#[derive(Debug, Clone)]
struct PoolGeometry {
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    /// Input row length.
    width: usize,
    /// One window per output row, then one per output column.
    rows: Vec<Span>,
    cols: Vec<Span>,
}

impl PoolGeometry {
    /// Validates the window of the pooling op `op` (checked on its own by its constructor)
    /// against `input` and lays out its windows.
    fn new(op: &str, window: &PoolWindow, input: &[usize]) -> Result<Self> {
        let PoolWindow {
            kernel,
            stride,
            padding,
            ceil_mode,
        } = *window;
        let [top, left, bottom, right] = padding;
        let &[batch, channels, height, width] = input else {
            return Err(Error::shape(format!(
                "{op} expects NCHW input [batch, channels, height, width], got {input:?}"
            )));
        };
        let out_h = output_len(height, kernel[0] as u64, stride[0], top, bottom, ceil_mode);
        let out_w = output_len(width, kernel[1] as u64, stride[1], left, right, ceil_mode);
        let (Some(out_h), Some(out_w)) = (out_h, out_w) else {
            return Err(Error::shape(format!(
                "{op} kernel {}x{} is larger than the padded input {}x{} (input {input:?}, \
                 padding [top, left, bottom, right] {padding:?})",
                kernel[0],
                kernel[1],
                height as u64 + top as u64 + bottom as u64,
                width as u64 + left as u64 + right as u64
            )));
        };
        let output_shape = vec![batch, channels, out_h, out_w];
        checked_elements(&format!("{op} output"), &output_shape)?;
        let spans = |out: usize, len: usize, k: usize, s: usize, begin: usize, end: usize| {
            (0..out)
                .map(|o| {
                    // Exact in i64: check_window (at construction) bounds every term by 2^27, products by 2^54.
                    let start = o as i64 * s as i64 - begin as i64;
                    let end = (start + k as i64).min(len as i64 + end as i64);
                    Span {
                        cells: start.max(0) as usize..end.min(len as i64) as usize,
                        padded: (end - start) as usize,
                    }
                })
                .collect()
        };
        Ok(PoolGeometry {
            input_shape: input.to_vec(),
            output_shape,
            width,
            rows: spans(out_h, height, kernel[0], stride[0], top, bottom),
            cols: spans(out_w, width, kernel[1], stride[1], left, right),
        })
    }

    /// Cells of one input plane (`H·W`).
    fn in_plane(&self) -> usize {
        self.input_shape[2] * self.input_shape[3]
    }

    /// Cells of one output plane (`Ho·Wo`).
    fn out_plane(&self) -> usize {
        self.rows.len() * self.cols.len()
    }

    /// The windows of one plane in output (row-major) order.
    fn windows(&self) -> impl Iterator<Item = (&Span, &Span)> {
        self.rows
            .iter()
            .flat_map(move |row| self.cols.iter().map(move |col| (row, col)))
    }

    /// Fails unless `grad_output` has the output shape.
    fn check_grad(&self, op: &str, grad_output: &Tensor) -> Result<()> {
        if grad_output.shape() != self.output_shape.as_slice() {
            return Err(Error::shape(format!(
                "{op} output gradient has shape {:?}, expected the output shape {:?}",
                grad_output.shape(),
                self.output_shape
            )));
        }
        Ok(())
    }
}

/// `values` (row-major, `shape`) as a tensor; `what` names it in the (unexpected) error.
fn tensor(what: &str, shape: &[usize], values: Vec<f32>) -> Result<Tensor> {
    Tensor::from_shape_vec(IxDyn(shape), values).map_err(|e| Error::shape(format!("{what}: {e}")))
}

impl MaxPool2d {
    /// Max pooling with windows `kernel` `[h, w]` moved by `stride` `[h, w]` over the input
    /// padded by `padding` `[top, left, bottom, right]`, rounding the output size up with
    /// `ceil_mode`; fails when a kernel or stride is 0, a value exceeds the window limits or a
    /// padding is not smaller than the kernel.
    pub fn new(
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
        ceil_mode: bool,
    ) -> Result<Self> {
        let window = PoolWindow::checked("maxpool2d", kernel, stride, padding, ceil_mode)?;
        Ok(MaxPool2d { window })
    }

    /// The pooling window.
    pub fn window(&self) -> &PoolWindow {
        &self.window
    }

    /// 2x2 windows, stride 2, no padding, floor mode: the case [`max_pool_2x2`] computes.
    fn is_plain_2x2(&self) -> bool {
        let w = &self.window;
        w.kernel == [2, 2] && w.stride == [2, 2] && w.padding == [0; 4] && !w.ceil_mode
    }

    fn geometry(&self, input: &[usize]) -> Result<PoolGeometry> {
        PoolGeometry::new("maxpool2d", &self.window, input)
    }
}

impl Kernel for MaxPool2d {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(self.geometry(inputs[0])?.output_shape)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let geo = self.geometry(inputs[0].shape())?;
        let x = inputs[0].as_standard_layout();
        let xs = x.as_slice().expect("standard layout is contiguous");
        let (in_plane, out_plane) = (geo.in_plane(), geo.out_plane());
        let mut out = vec![0.0; xs.len() / in_plane * out_plane];
        // One plane per piece, on the pool in the threaded build (about one compare per input
        // cell and one per output cell and window row).
        let work_per_plane = in_plane + out_plane * self.window.kernel()[0];
        let plain_2x2 = self.is_plain_2x2();
        let row_max_len = if plain_2x2 {
            0
        } else {
            geo.input_shape[2] * geo.cols.len()
        };
        parallel::for_each_chunk(
            &mut out,
            out_plane,
            work_per_plane,
            || vec![0.0; row_max_len],
            |row_max, index, out_plane| {
                let plane = &xs[index * in_plane..][..in_plane];
                if plain_2x2 {
                    max_pool_2x2(plane, geo.width, out_plane);
                } else {
                    max_pool_separable(&geo, plane, row_max, out_plane);
                }
            },
        );
        tensor("maxpool2d output", &geo.output_shape, out)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let geo = self.geometry(inputs[0].shape())?;
        geo.check_grad("maxpool2d", grad_output)?;
        let x = inputs[0].as_standard_layout();
        let xs = x.as_slice().expect("standard layout is contiguous");
        let g = grad_output.as_standard_layout();
        let gs = g.as_slice().expect("standard layout is contiguous");
        // The forward pass's maxima, when `output` is that (it is in a trace), tell each window
        // which value to look for; otherwise every window is searched by `argmax`.
        let y = output.as_standard_layout();
        let maxima = (output.shape() == grad_output.shape())
            .then(|| y.as_slice().expect("standard layout is contiguous"));
        let (in_plane, out_plane) = (geo.in_plane(), geo.out_plane());
        let mut dx = vec![0.0; xs.len()];
        // One plane per piece, on the pool in the threaded build (each window's cells compared).
        let [kh, kw] = self.window.kernel();
        parallel::for_each_chunk(
            &mut dx,
            in_plane,
            out_plane * kh * kw,
            || (),
            |(), index, d_plane| {
                let plane = &xs[index * in_plane..][..in_plane];
                let grads = &gs[index * out_plane..][..out_plane];
                match maxima {
                    Some(y) => {
                        let maxima = &y[index * out_plane..][..out_plane];
                        add_to_winners_of_maxima(&geo, plane, maxima, grads, d_plane);
                    }
                    None => {
                        for ((row, col), &g) in geo.windows().zip(grads) {
                            d_plane[argmax(plane, geo.width, &row.cells, &col.cells)] += g;
                        }
                    }
                }
            },
        );
        Ok(Grads {
            inputs: vec![tensor("maxpool2d input gradient", &geo.input_shape, dx)?],
            params: Vec::new(),
        })
    }
}

impl AvgPool2d {
    /// Average pooling with windows `kernel` `[h, w]` moved by `stride` `[h, w]` over the input
    /// padded by `padding` `[top, left, bottom, right]`, rounding the output size up with
    /// `ceil_mode` and counting padded cells in the divisor with `count_include_pad`; fails as
    /// [`MaxPool2d::new`] does.
    pub fn new(
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Result<Self> {
        let window = PoolWindow::checked("avgpool2d", kernel, stride, padding, ceil_mode)?;
        Ok(AvgPool2d {
            window,
            count_include_pad,
        })
    }

    /// The pooling window.
    pub fn window(&self) -> &PoolWindow {
        &self.window
    }

    /// Whether padded cells count in the divisor.
    pub fn count_include_pad(&self) -> bool {
        self.count_include_pad
    }

    fn geometry(&self, input: &[usize]) -> Result<PoolGeometry> {
        PoolGeometry::new("avgpool2d", &self.window, input)
    }

    /// The divisor of a window (never 0: every window covers an input cell).
    fn divisor(&self, row: &Span, col: &Span) -> f32 {
        let count = if self.count_include_pad {
            row.padded * col.padded
        } else {
            row.cells.len() * col.cells.len()
        };
        count as f32
    }
}

impl Kernel for AvgPool2d {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(self.geometry(inputs[0])?.output_shape)
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let geo = self.geometry(inputs[0].shape())?;
        let x = inputs[0].as_standard_layout();
        let xs = x.as_slice().expect("standard layout is contiguous");
        let mut out = Vec::with_capacity(xs.len() / geo.in_plane() * geo.out_plane());
        for plane in xs.chunks_exact(geo.in_plane()) {
            out.extend(geo.windows().map(|(row, col)| {
                let sum: f32 = row
                    .cells
                    .clone()
                    .map(|y| {
                        plane[y * geo.width + col.cells.start..y * geo.width + col.cells.end]
                            .iter()
                            .sum::<f32>()
                    })
                    .sum();
                sum / self.divisor(row, col)
            }));
        }
        tensor("avgpool2d output", &geo.output_shape, out)
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let geo = self.geometry(inputs[0].shape())?;
        geo.check_grad("avgpool2d", grad_output)?;
        let g = grad_output.as_standard_layout();
        let gs = g.as_slice().expect("standard layout is contiguous");
        let mut dx = vec![0.0; inputs[0].len()];
        for (d_plane, grads) in dx
            .chunks_exact_mut(geo.in_plane())
            .zip(gs.chunks_exact(geo.out_plane()))
        {
            for ((row, col), &g) in geo.windows().zip(grads) {
                let share = g / self.divisor(row, col);
                for y in row.cells.clone() {
                    let cells = y * geo.width + col.cells.start..y * geo.width + col.cells.end;
                    d_plane[cells].iter_mut().for_each(|d| *d += share);
                }
            }
        }
        Ok(Grads {
            inputs: vec![tensor("avgpool2d input gradient", &geo.input_shape, dx)?],
            params: Vec::new(),
        })
    }
}

impl GlobalAvgPool {
    /// The number of cells averaged per channel (the product of the axes from 2 on).
    fn checked_count(input: &[usize]) -> Result<usize> {
        if input.len() < 3 || input[2..].contains(&0) {
            return Err(Error::shape(format!(
                "global average pooling expects input [batch, channels, spatial...] with at least \
                 one non-empty spatial axis, got {input:?}"
            )));
        }
        Ok(input[2..].iter().product())
    }
}

impl Kernel for GlobalAvgPool {
    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = inputs[0];
        Self::checked_count(input)?;
        Ok(input[..2]
            .iter()
            .copied()
            .chain(input[2..].iter().map(|_| 1))
            .collect())
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        let x = inputs[0].as_standard_layout();
        let count = Self::checked_count(x.shape())?;
        let xs = x.as_slice().expect("standard layout is contiguous");
        // Accumulated in f64: a plane can hold hundreds of thousands of values.
        let means = xs
            .chunks_exact(count)
            .map(|plane| (plane.iter().map(|&v| v as f64).sum::<f64>() / count as f64) as f32)
            .collect();
        tensor(
            "global average pool output",
            &self.output_shape(&[x.shape()])?,
            means,
        )
    }

    fn backward(
        &self,
        inputs: &[&Tensor],
        _output: &Tensor,
        grad_output: &Tensor,
        _want_params: bool,
    ) -> Result<Grads> {
        let shape = inputs[0].shape();
        let count = Self::checked_count(shape)?;
        let expected = self.output_shape(&[shape])?;
        if grad_output.shape() != expected.as_slice() {
            return Err(Error::shape(format!(
                "global average pool output gradient has shape {:?}, expected the output shape {expected:?}",
                grad_output.shape()
            )));
        }
        let mut dx = Vec::with_capacity(inputs[0].len());
        for &g in grad_output.as_standard_layout().iter() {
            dx.extend(std::iter::repeat_n(g / count as f32, count));
        }
        Ok(Grads {
            inputs: vec![tensor("global average pool input gradient", shape, dx)?],
            params: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::{check, random_tensor, Tolerance};

    fn arange(shape: &[usize]) -> Tensor {
        Tensor::from_shape_fn(shape, {
            let mut next = -1.0;
            move |_| {
                next += 1.0;
                next
            }
        })
    }

    /// Distinct values at least 0.05 apart in scrambled order, so that the finite-difference
    /// steps (0.01) never change which cell wins a max.
    fn distinct(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let values = (0..n)
            .map(|i| ((i * 7919) % n) as f32 * 0.05 - 1.0)
            .collect();
        Tensor::from_shape_vec(shape, values).unwrap()
    }

    fn max_pool(kernel: usize, stride: usize, pad: usize, ceil_mode: bool) -> MaxPool2d {
        MaxPool2d::new([kernel; 2], [stride; 2], [pad; 4], ceil_mode).unwrap()
    }

    fn avg_pool(
        kernel: usize,
        stride: usize,
        pad: usize,
        ceil_mode: bool,
        include: bool,
    ) -> AvgPool2d {
        AvgPool2d::new([kernel; 2], [stride; 2], [pad; 4], ceil_mode, include).unwrap()
    }

    fn values(op: &impl Kernel, x: &Tensor) -> Vec<f32> {
        op.forward(&[x]).unwrap().iter().copied().collect()
    }

    #[test]
    fn max_pool_matches_hand_computation() {
        let x = arange(&[1, 1, 4, 4]);
        assert_eq!(values(&max_pool(2, 2, 0, false), &x), [5., 7., 13., 15.]);
        // All inputs negative: padding must not win (a zero pad would give 0 everywhere).
        let negative = x.mapv(|v| -v - 1.0);
        assert_eq!(
            values(&max_pool(3, 2, 1, false), &negative),
            [-1., -2., -5., -6.]
        );
        // 5x5 with kernel 2, stride 2: ceil mode adds the partial last row and column.
        let x = arange(&[1, 1, 5, 5]);
        assert_eq!(values(&max_pool(2, 2, 0, false), &x), [6., 8., 16., 18.]);
        let y = max_pool(2, 2, 0, true).forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        assert_eq!(
            y.iter().copied().collect::<Vec<_>>(),
            [6., 8., 9., 16., 18., 19., 21., 23., 24.]
        );
    }

    #[test]
    fn max_pool_asymmetric_windows() {
        // Kernel 2x3, stride 1x2, padding top 1, right 2: 4x5 input gives (4+1-2)/1+1 = 4 rows
        // and (5+2-3)/2+1 = 3 columns.
        let pool = MaxPool2d::new([2, 3], [1, 2], [1, 0, 0, 2], false).unwrap();
        let x = arange(&[1, 1, 4, 5]);
        let y = pool.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[1, 1, 4, 3]);
        assert_eq!(
            y.iter().copied().collect::<Vec<_>>(),
            [2., 4., 4., 7., 9., 9., 12., 14., 14., 17., 19., 19.]
        );
    }

    #[test]
    fn max_pool_ties_and_nan() {
        // Equal values: the first cell of the window in row-major order takes the gradient.
        let x = Tensor::ones(vec![1, 1, 2, 2]);
        let pool = max_pool(2, 2, 0, false);
        let g = Tensor::from_elem(vec![1, 1, 1, 1], 3.0);
        let dx = pool
            .backward(&[&x], &g, &g, false)
            .unwrap()
            .inputs
            .remove(0);
        assert_eq!(dx.iter().copied().collect::<Vec<_>>(), [3., 0., 0., 0.]);
        // A NaN wins the max and takes the gradient.
        let x = Tensor::from_shape_vec(vec![1, 1, 2, 2], vec![1., 5., f32::NAN, 2.]).unwrap();
        assert!(values(&pool, &x)[0].is_nan());
        let dx = pool
            .backward(&[&x], &g, &g, false)
            .unwrap()
            .inputs
            .remove(0);
        assert_eq!(dx.iter().copied().collect::<Vec<_>>(), [0., 0., 3., 0.]);
    }

    #[test]
    fn avg_pool_matches_hand_computation() {
        let x = arange(&[1, 1, 4, 4]);
        // Windows of the padded 6x6 grid: sums 10, 24, 51, 90 over 4, 6, 6, 9 input cells.
        let include = values(&avg_pool(3, 2, 1, false, true), &x);
        let exclude = values(&avg_pool(3, 2, 1, false, false), &x);
        for (a, e) in include.iter().zip([10. / 9., 24. / 9., 51. / 9., 90. / 9.]) {
            assert!((a - e).abs() < 1e-6, "{include:?}");
        }
        for (a, e) in exclude.iter().zip([10. / 4., 24. / 6., 51. / 6., 90. / 9.]) {
            assert!((a - e).abs() < 1e-6, "{exclude:?}");
        }
        // Ceil mode: the last window hangs past the end padding. With count_include_pad it
        // counts the padding it covers but not the overhang (PyTorch): the corner window covers
        // cell 15 and three padded cells, so 15 / 4.
        let ceil_include = avg_pool(3, 2, 1, true, true).forward(&[&x]).unwrap();
        assert_eq!(ceil_include.shape(), &[1, 1, 3, 3]);
        assert!((ceil_include[[0, 0, 2, 2]] - 15. / 4.).abs() < 1e-6);
        assert!((ceil_include[[0, 0, 0, 2]] - 10. / 6.).abs() < 1e-6);
        let ceil_exclude = avg_pool(3, 2, 1, true, false).forward(&[&x]).unwrap();
        assert_eq!(ceil_exclude[[0, 0, 2, 2]], 15.);
        assert_eq!(ceil_exclude[[0, 0, 0, 2]], 5.);
        // Without padding the overhang never counts: mean(4, 9) for the last column of 5x5.
        let y = avg_pool(2, 2, 0, true, true)
            .forward(&[&arange(&[1, 1, 5, 5])])
            .unwrap();
        assert_eq!(y[[0, 0, 0, 2]], 6.5);
    }

    /// Large enough for the threaded build to split the planes: each plane's gradient lands in
    /// its own plane, as when the planes are taken one by one.
    #[test]
    fn max_pool_backward_of_many_planes_matches_plane_by_plane() {
        let op = max_pool(3, 2, 1, false);
        let x = random_tensor(&[2, 16, 96, 96], -1.0, 1.0, 3);
        let y = op.forward(&[&x]).unwrap();
        let g = random_tensor(y.shape(), -1.0, 1.0, 4);
        let got = op.backward(&[&x], &y, &g, false).unwrap().inputs.remove(0);
        let geo = op.geometry(x.shape()).unwrap();
        let (xs, gs) = (x.as_slice().unwrap(), g.as_slice().unwrap());
        let mut want = vec![0.0; xs.len()];
        for p in 0..2 * 16 {
            let plane = &xs[p * geo.in_plane()..][..geo.in_plane()];
            let grads = &gs[p * geo.out_plane()..][..geo.out_plane()];
            for ((row, col), &g) in geo.windows().zip(grads) {
                want[p * geo.in_plane() + argmax(plane, geo.width, &row.cells, &col.cells)] += g;
            }
        }
        assert_eq!(got.as_slice().unwrap(), &want[..]);
    }

    #[test]
    fn max_pool_gradients_match_finite_differences() {
        let tol = Tolerance::default();
        for (pool, shape) in [
            (max_pool(2, 2, 0, false), [2, 3, 4, 4]),
            (max_pool(3, 1, 1, false), [1, 2, 5, 4]),
            (max_pool(3, 2, 1, true), [2, 1, 6, 5]),
            (
                MaxPool2d::new([2, 3], [3, 1], [1, 2, 0, 1], true).unwrap(),
                [1, 2, 7, 5],
            ),
        ] {
            check(&pool, &[distinct(&shape)], tol);
        }
    }

    #[test]
    fn avg_pool_gradients_match_finite_differences() {
        let tol = Tolerance::default();
        for include in [false, true] {
            for ceil_mode in [false, true] {
                let x = random_tensor(&[2, 2, 5, 6], -1., 1., 5);
                check(&avg_pool(3, 2, 1, ceil_mode, include), &[x], tol);
            }
            let asymmetric = AvgPool2d::new([3, 2], [1, 2], [2, 0, 1, 1], true, include).unwrap();
            check(
                &asymmetric,
                &[random_tensor(&[1, 3, 4, 5], -1., 1., 6)],
                tol,
            );
        }
    }

    #[test]
    fn pooling_rejects_bad_parameters_and_inputs() {
        let err = |r: Result<Vec<usize>>| r.unwrap_err().to_string();
        let refused = |r: Result<MaxPool2d>| r.unwrap_err().to_string();
        let e = refused(MaxPool2d::new([2; 2], [2; 2], [2; 4], false));
        assert!(
            e.contains("maxpool2d padding") && e.contains("smaller than the kernel 2x2"),
            "{e}"
        );
        let e = refused(MaxPool2d::new([2; 2], [0; 2], [0; 4], false));
        assert!(
            e.contains("maxpool2d stride") && e.contains("[0, 0]"),
            "{e}"
        );
        let e = AvgPool2d::new([0; 2], [1; 2], [0; 4], false, true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("avgpool2d kernel size") && e.contains("[0, 0]"),
            "{e}"
        );
        let e = refused(MaxPool2d::new([usize::MAX, 2], [1, 1], [0; 4], false));
        assert!(
            e.contains("maxpool2d kernel size") && e.contains(&usize::MAX.to_string()),
            "{e}"
        );
        let e = err(avg_pool(5, 1, 1, false, true).output_shape(&[&[1, 1, 2, 8]]));
        assert!(
            e.contains("kernel 5x5") && e.contains("padded input 4x10"),
            "{e}"
        );
        let e = err(max_pool(2, 2, 0, false).output_shape(&[&[1, 8, 8]]));
        assert!(e.contains("NCHW") && e.contains("[1, 8, 8]"), "{e}");
        // Kernel and padding both near the limit: 2^27 windows per axis, refused by size
        // before any window is laid out.
        let k = crate::graph::ops::window::MAX_WINDOW_PARAM;
        let e = max_pool(k, 1, k - 1, false)
            .output_shape(&[&[1, 1, 1, 1]])
            .unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        let x = arange(&[1, 1, 4, 4]);
        let wrong = Tensor::zeros(vec![1, 1, 3, 2]);
        let e = max_pool(2, 2, 0, false)
            .backward(&[&x], &wrong, &wrong, false)
            .unwrap_err();
        assert!(
            e.to_string().contains("[1, 1, 3, 2]") && e.to_string().contains("[1, 1, 2, 2]"),
            "{e}"
        );
        assert!(avg_pool(2, 2, 0, false, false)
            .backward(&[&x], &wrong, &wrong, false)
            .is_err());
    }

    #[test]
    fn global_avg_pool_means_over_spatial_axes() {
        let x = arange(&[2, 3, 2, 2]);
        let y = GlobalAvgPool.forward(&[&x]).unwrap();
        assert_eq!(y.shape(), &[2, 3, 1, 1]);
        assert_eq!(
            y.iter().copied().collect::<Vec<_>>(),
            [1.5, 5.5, 9.5, 13.5, 17.5, 21.5]
        );
        assert_eq!(
            GlobalAvgPool.output_shape(&[&[4, 5, 7]]).unwrap(),
            vec![4, 5, 1]
        );
        assert_eq!(
            GlobalAvgPool.output_shape(&[&[1, 2, 3, 4, 5]]).unwrap(),
            vec![1, 2, 1, 1, 1]
        );
        let e = GlobalAvgPool
            .output_shape(&[&[4, 5]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[4, 5]") && e.contains("spatial"), "{e}");
        let tol = Tolerance::default();
        check(
            &GlobalAvgPool,
            &[random_tensor(&[2, 3, 4, 5], -1., 1., 7)],
            tol,
        );
        check(
            &GlobalAvgPool,
            &[random_tensor(&[2, 2, 6], -1., 1., 8)],
            tol,
        );
        let wrong = Tensor::zeros(vec![2, 3, 1]);
        assert!(GlobalAvgPool
            .backward(&[&x], &wrong, &wrong, false)
            .is_err());
    }

    #[test]
    fn non_contiguous_input_gives_the_same_result() {
        let transposed = distinct(&[2, 3, 6, 5]).permuted_axes(vec![0, 1, 3, 2]);
        let standard = transposed.as_standard_layout().into_owned();
        let ops: [&dyn Kernel; 3] = [
            &max_pool(3, 2, 1, true),
            &avg_pool(2, 1, 1, false, false),
            &GlobalAvgPool,
        ];
        for op in ops {
            assert_eq!(
                op.forward(&[&transposed]).unwrap(),
                op.forward(&[&standard]).unwrap()
            );
        }
    }
}
