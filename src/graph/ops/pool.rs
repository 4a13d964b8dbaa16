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
use ndarray::IxDyn;
use std::ops::Range;

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

/// The flat index within `plane` (rows of `width`) of the maximum over `rows × cols`: the first
/// in row-major order among equals, and a NaN over any number (PyTorch's
/// `val > max || isnan(val)` rule).
fn argmax(plane: &[f32], width: usize, rows: &Range<usize>, cols: &Range<usize>) -> usize {
    let mut best = rows.start * width + cols.start;
    let mut best_value = plane[best];
    for y in rows.clone() {
        let start = y * width + cols.start;
        for (index, &value) in (start..).zip(&plane[start..y * width + cols.end]) {
            if value > best_value || value.is_nan() {
                best = index;
                best_value = value;
            }
        }
    }
    best
}

/// `values` (row-major, `shape`) as a tensor; `what` names it in the (unexpected) error.
fn tensor(what: &str, shape: &[usize], values: Vec<f32>) -> Result<Tensor> {
    Tensor::from_shape_vec(IxDyn(shape), values).map_err(|e| Error::shape(format!("{what}: {e}")))
}

/// The cell [`argmax`] picks in a window whose maximum is `max`, found by looking for it: the
/// last NaN when `max` is NaN, else the first cell equal to `max` (every cell before it is
/// smaller, so it is where [`argmax`]'s running maximum last rose). `None` when no cell holds
/// `max` (it was not this window's maximum). SqueezeNet 1.1's input gradient spent 18% of its
/// time in [`argmax`] over every cell of every window.
fn cell_of(
    plane: &[f32],
    width: usize,
    rows: &Range<usize>,
    cols: &Range<usize>,
    max: f32,
) -> Option<usize> {
    let row_cells = |y: usize| y * width + cols.start..y * width + cols.end;
    if max.is_nan() {
        rows.clone()
            .rev()
            .find_map(|y| row_cells(y).rev().find(|&i| plane[i].is_nan()))
    } else {
        rows.clone().find_map(|y| {
            let cells = row_cells(y);
            let start = cells.start;
            plane[cells]
                .iter()
                .position(|&v| v == max)
                .map(|at| start + at)
        })
    }
}

/// `d_plane[w] += grads[k]` for the winner `w` of every window `k` of one plane, found by
/// looking for the window's forward maximum `maxima[k]` ([`cell_of`]; [`argmax`] where it is
/// not there).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn add_to_winners_of_maxima(
    geo: &PoolGeometry,
    plane: &[f32],
    maxima: &[f32],
    grads: &[f32],
    d_plane: &mut [f32],
) {
    for (((row, col), &max), &g) in geo.windows().zip(maxima).zip(grads) {
        d_plane[winner_of(geo, plane, row, col, max)] += g;
    }
}

/// The winner of the window `row × col` of `plane` whose forward maximum is `max`: the cell
/// [`cell_of`] finds, or [`argmax`]'s where `max` is not there.
fn winner_of(geo: &PoolGeometry, plane: &[f32], row: &Span, col: &Span, max: f32) -> usize {
    cell_of(plane, geo.width, &row.cells, &col.cells, max)
        .unwrap_or_else(|| argmax(plane, geo.width, &row.cells, &col.cells))
}

/// [`add_to_winners_of_maxima`] with wasm SIMD128, four whole windows of an output row at a
/// time (the others one by one, as there): each of their cells is compared with the four
/// maxima at once, from the last cell to the first, so that the first equal cell in row-major
/// order is what remains, without a branch per cell. A lane that finds nothing (a NaN maximum)
/// falls back to [`argmax`]. The search by [`cell_of`] stops at the winner but branches on
/// every cell, which random values mispredict: it took 4.0 of SqueezeNet 1.1's 30.4 ms input
/// gradient in Chromium (13%).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn add_to_winners_of_maxima(
    geo: &PoolGeometry,
    plane: &[f32],
    maxima: &[f32],
    grads: &[f32],
    d_plane: &mut [f32],
) {
    use core::arch::wasm32::{u32x4_extract_lane, v128, v128_load};
    let whole = geo.cols.iter().map(|c| c.cells.len()).max().unwrap_or(0);
    let out_w = geo.cols.len();
    for (row, (row_maxima, row_grads)) in geo
        .rows
        .iter()
        .zip(maxima.chunks_exact(out_w).zip(grads.chunks_exact(out_w)))
    {
        let mut j = 0;
        while j < out_w {
            let group = &geo.cols[j..out_w.min(j + 4)];
            if group.len() == 4 && group.iter().all(|c| c.cells.len() == whole) {
                let starts = [0, 1, 2, 3].map(|l| group[l].cells.start);
                let four = &row_maxima[j..j + 4];
                // SAFETY: `four` holds 4 f32 (checked by the slice), one unaligned 16-byte load.
                let max = unsafe { v128_load(four.as_ptr() as *const v128) };
                let found = first_cells_equal(plane, geo.width, &row.cells, starts, whole, max);
                let found = [
                    u32x4_extract_lane::<0>(found),
                    u32x4_extract_lane::<1>(found),
                    u32x4_extract_lane::<2>(found),
                    u32x4_extract_lane::<3>(found),
                ];
                for (lane, (&cell, col)) in found.iter().zip(group).enumerate() {
                    let winner = if cell == u32::MAX {
                        argmax(plane, geo.width, &row.cells, &col.cells)
                    } else {
                        cell as usize
                    };
                    d_plane[winner] += row_grads[j + lane];
                }
                j += 4;
            } else {
                d_plane[winner_of(geo, plane, row, &geo.cols[j], row_maxima[j])] += row_grads[j];
                j += 1;
            }
        }
    }
}

/// For four windows over the rows `rows` of `plane` (rows of `width`), each `len` cells wide
/// from column `starts[lane]`: the flat index of the first cell in row-major order equal to the
/// lane's `max`, or `u32::MAX` where none is. Windows `starts` one or two cells apart (stride
/// 1 or 2) load their cells as vectors (two and a shuffle for stride 2); others lane by lane.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn first_cells_equal(
    plane: &[f32],
    width: usize,
    rows: &Range<usize>,
    starts: [usize; 4],
    len: usize,
    max: core::arch::wasm32::v128,
) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::{
        f32x4, f32x4_eq, i32x4_shuffle, u32x4, u32x4_add, u32x4_splat, v128, v128_bitselect,
        v128_load,
    };
    let offsets = starts.map(|s| (s - starts[0]) as u32);
    let step = offsets[1];
    let evenly = offsets == [0, step, 2 * step, 3 * step];
    let lane_offsets = u32x4(offsets[0], offsets[1], offsets[2], offsets[3]);
    // Four f32 from the start of `cells` (checked by the slice), one unaligned 16-byte load.
    let load = |cells: &[f32]| {
        let four = &cells[..4];
        // SAFETY: `four` holds 4 f32.
        unsafe { v128_load(four.as_ptr() as *const v128) }
    };
    let nine_cells_fit = |y: usize| y * width + starts[0] + 9 <= plane.len();
    if evenly && step == 2 && len == 3 && rows.clone().last().is_some_and(nine_cells_fit) {
        return first_of_three_cells_two_apart(plane, width, rows, starts[0], max);
    }
    let mut found = u32x4_splat(u32::MAX);
    for y in rows.clone().rev() {
        for t in (0..len).rev() {
            let first = y * width + starts[0] + t;
            let cells = if evenly && step == 1 && first + 4 <= plane.len() {
                load(&plane[first..])
            } else if evenly && step == 2 && first + 8 <= plane.len() {
                i32x4_shuffle::<0, 2, 4, 6>(load(&plane[first..]), load(&plane[first + 4..]))
            } else {
                f32x4(
                    plane[first],
                    plane[first + offsets[1] as usize],
                    plane[first + offsets[2] as usize],
                    plane[first + offsets[3] as usize],
                )
            };
            let here = u32x4_add(u32x4_splat(first as u32), lane_offsets);
            found = v128_bitselect(here, found, f32x4_eq(cells, max));
        }
    }
    found
}

/// [`first_cells_equal`] for four windows of three columns, two apart (a 3-wide kernel with
/// stride 2: the max pooling of ResNet-18, SqueezeNet 1.1 and DenseNet-121): each row's nine
/// cells are read by three loads, from which the windows' first, second and third cells are
/// shuffled, where the general search loads two vectors for each of the three. The caller
/// checks that the last row's nine cells lie inside `plane`. In Chromium ResNet-18's max
/// pooling backward went 1.64 → 1.15 ms (its forward pass takes 0.99), SqueezeNet 1.1's three
/// 2.52 → 1.87 ms (1.83).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn first_of_three_cells_two_apart(
    plane: &[f32],
    width: usize,
    rows: &Range<usize>,
    start: usize,
    max: core::arch::wasm32::v128,
) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::{
        f32x4_eq, i32x4_shuffle, u32x4, u32x4_add, u32x4_splat, v128, v128_bitselect, v128_load,
        v128_load32_zero,
    };
    let lane_offsets = u32x4(0, 2, 4, 6);
    let (one, two) = (u32x4_splat(1), u32x4_splat(2));
    let mut found = u32x4_splat(u32::MAX);
    for y in rows.clone().rev() {
        let first = y * width + start;
        let row = &plane[first..first + 9];
        // SAFETY: `row` holds 9 f32: two unaligned 16-byte loads and one 4-byte load.
        let (a, b, c) = unsafe {
            let p = row.as_ptr();
            (
                v128_load(p as *const v128),
                v128_load(p.add(4) as *const v128),
                v128_load32_zero(p.add(8) as *const u32),
            )
        };
        let left = i32x4_shuffle::<0, 2, 4, 6>(a, b);
        let middle = i32x4_shuffle::<1, 3, 5, 7>(a, b);
        let right = i32x4_shuffle::<1, 2, 3, 4>(left, c);
        let here = u32x4_add(u32x4_splat(first as u32), lane_offsets);
        found = v128_bitselect(u32x4_add(here, two), found, f32x4_eq(right, max));
        found = v128_bitselect(u32x4_add(here, one), found, f32x4_eq(middle, max));
        found = v128_bitselect(here, found, f32x4_eq(left, max));
    }
    found
}

/// The larger of two values where a NaN wins, as [`argmax`] picks (PyTorch's rule): `b` when
/// it is larger or NaN, otherwise `a` (so a NaN `a` is kept, and equal values keep the first).
#[inline]
fn max_nan(a: f32, b: f32) -> f32 {
    if b > a || b.is_nan() {
        b
    } else {
        a
    }
}

/// 2x2 windows with stride 2 and no padding over one `height x width` plane (floor mode: a last
/// odd row or column is dropped), written to `out` (`(height / 2) · (width / 2)` values). The
/// common LeNet pooling, without the general window iterator: one pass over row pairs.
/// `width` is at least 2 (a validated geometry has at least one window).
fn max_pool_2x2(plane: &[f32], width: usize, out: &mut [f32]) {
    let out_width = width / 2;
    for (pair, out_row) in out.chunks_exact_mut(out_width).enumerate() {
        let top = &plane[2 * pair * width..][..2 * out_width];
        let bottom = &plane[(2 * pair + 1) * width..][..2 * out_width];
        max_pool_row_pair(top, bottom, out_row);
    }
}

/// `out[j]` = the maximum of `top[2j], top[2j + 1], bottom[2j], bottom[2j + 1]` in that order
/// under [`max_nan`], for `out.len()` windows (`top` and `bottom` hold `2 · out.len()` values).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn max_pool_row_pair(top: &[f32], bottom: &[f32], out: &mut [f32]) {
    for ((y, t), b) in out
        .iter_mut()
        .zip(top.chunks_exact(2))
        .zip(bottom.chunks_exact(2))
    {
        *y = max_nan(max_nan(max_nan(t[0], t[1]), b[0]), b[1]);
    }
}

/// [`max_pool_row_pair`] four windows at a time with wasm SIMD128: the even and odd cells of
/// each row are deinterleaved by shuffles and [`max_nan`] becomes a compare and a bit select.
/// Hand-written because the scalar loop does not vectorise (the NaN rule is two compares and a
/// select per cell, which LLVM leaves scalar): the profile of "CNN forward, batch 64" gave the
/// scalar 2x2 loop 408 ms self time against 36 ms for ReLU over an output four times larger.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn max_pool_row_pair(top: &[f32], bottom: &[f32], out: &mut [f32]) {
    use core::arch::wasm32::{i32x4_shuffle, v128, v128_load, v128_store};
    /// The windows' left and right cells of the eight values from `row[2j]` on.
    #[inline(always)]
    fn pairs(row: &[f32], j: usize) -> (v128, v128) {
        let cells = &row[2 * j..2 * j + 8];
        // SAFETY: `cells` holds 8 f32 (checked by the slice above), two unaligned 16-byte loads.
        let (low, high) = unsafe {
            (
                v128_load(cells.as_ptr() as *const v128),
                v128_load(cells.as_ptr().add(4) as *const v128),
            )
        };
        (
            i32x4_shuffle::<0, 2, 4, 6>(low, high),
            i32x4_shuffle::<1, 3, 5, 7>(low, high),
        )
    }
    let simd_len = out.len() / 4 * 4;
    for j in (0..simd_len).step_by(4) {
        let (top_left, top_right) = pairs(top, j);
        let (bottom_left, bottom_right) = pairs(bottom, j);
        let m = max_nan4(
            max_nan4(max_nan4(top_left, top_right), bottom_left),
            bottom_right,
        );
        let dst = &mut out[j..j + 4];
        // SAFETY: `dst` holds 4 f32, one unaligned 16-byte store.
        unsafe { v128_store(dst.as_mut_ptr() as *mut v128, m) };
    }
    for j in simd_len..out.len() {
        out[j] = max_nan(
            max_nan(max_nan(top[2 * j], top[2 * j + 1]), bottom[2 * j]),
            bottom[2 * j + 1],
        );
    }
}

/// Max pooling of one plane through any window geometry, separably: each input row's maximum
/// over every column window (`row_max`, `height · out_w` values), then each output row the
/// maximum of those rows over its row window. Equal to [`argmax`] per window, bit for bit: the
/// first among equals in a row and then the first such row is the first in row-major order,
/// and the last NaN of each row and then the last row holding one is its last NaN. It costs
/// `k_w + k_h` compares per output cell instead of `k_w · k_h` through a window iterator (3x3
/// stride-2 pooling took 24% of SqueezeNet 1.1's profile that way).
fn max_pool_separable(geo: &PoolGeometry, plane: &[f32], row_max: &mut [f32], out: &mut [f32]) {
    let out_w = geo.cols.len();
    for (row, maxima) in plane
        .chunks_exact(geo.width)
        .zip(row_max.chunks_exact_mut(out_w))
    {
        row_maxima(row, &geo.cols, maxima);
    }
    for (out_row, span) in out.chunks_exact_mut(out_w).zip(&geo.rows) {
        out_row.copy_from_slice(&row_max[span.cells.start * out_w..][..out_w]);
        for y in span.cells.start + 1..span.cells.end {
            max_nan_into(out_row, &row_max[y * out_w..][..out_w]);
        }
    }
}

/// The maximum under [`max_nan`] of one window's cells of a row, in order.
#[inline]
fn window_max(row: &[f32], col: &Span) -> f32 {
    let cells = &row[col.cells.clone()];
    cells[1..].iter().fold(cells[0], |a, &b| max_nan(a, b))
}

/// `maxima[j]` = the maximum of `row` over column window `cols[j]`, for every window.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn row_maxima(row: &[f32], cols: &[Span], maxima: &mut [f32]) {
    for (m, col) in maxima.iter_mut().zip(cols) {
        *m = window_max(row, col);
    }
}

/// [`row_maxima`] four windows at a time with wasm SIMD128 where four consecutive windows are
/// all whole (not clipped by padding: the same number of cells), each lane gathering its
/// window's `t`-th cell; the others one by one. V8 turns a scalar f32 select into a branch,
/// which random data mispredicts half of the time: the scalar row pass kept 3x3 pooling at
/// 20% of SqueezeNet 1.1's profile.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn row_maxima(row: &[f32], cols: &[Span], maxima: &mut [f32]) {
    use core::arch::wasm32::{f32x4, v128_store};
    let whole = cols.iter().map(|c| c.cells.len()).max().unwrap_or(0);
    let mut j = 0;
    while j < cols.len() {
        let group = &cols[j..cols.len().min(j + 4)];
        if group.len() == 4 && group.iter().all(|c| c.cells.len() == whole) {
            let [a, b, c, d] = [0, 1, 2, 3].map(|i| group[i].cells.start);
            let mut m = f32x4(row[a], row[b], row[c], row[d]);
            for t in 1..whole {
                m = max_nan4(m, f32x4(row[a + t], row[b + t], row[c + t], row[d + t]));
            }
            let dst = &mut maxima[j..j + 4];
            // SAFETY: `dst` holds 4 f32, one unaligned 16-byte store.
            unsafe { v128_store(dst.as_mut_ptr() as *mut core::arch::wasm32::v128, m) };
            j += 4;
        } else {
            maxima[j] = window_max(row, &cols[j]);
            j += 1;
        }
    }
}

/// [`max_nan`] on four lanes: `b` where it is larger or NaN, otherwise `a`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn max_nan4(a: core::arch::wasm32::v128, b: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::{f32x4_gt, f32x4_ne, v128_bitselect, v128_or};
    v128_bitselect(b, a, v128_or(f32x4_gt(b, a), f32x4_ne(b, b)))
}

/// `acc[j] = max_nan(acc[j], row[j])` for every `j` (`row` at least as long as `acc`).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn max_nan_into(acc: &mut [f32], row: &[f32]) {
    for (a, &b) in acc.iter_mut().zip(row) {
        *a = max_nan(*a, b);
    }
}

/// [`max_nan_into`] four lanes at a time with wasm SIMD128 (the scalar loop stays scalar, as
/// in [`max_pool_row_pair`]).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn max_nan_into(acc: &mut [f32], row: &[f32]) {
    use core::arch::wasm32::{v128, v128_load, v128_store};
    let row = &row[..acc.len()];
    let simd_len = acc.len() / 4 * 4;
    for j in (0..simd_len).step_by(4) {
        let (a, b) = (&mut acc[j..j + 4], &row[j..j + 4]);
        // SAFETY: `a` and `b` hold 4 f32 each (checked by the slices), unaligned 16-byte loads
        // and store.
        unsafe {
            let (va, vb) = (
                v128_load(a.as_ptr() as *const v128),
                v128_load(b.as_ptr() as *const v128),
            );
            v128_store(a.as_mut_ptr() as *mut v128, max_nan4(va, vb));
        }
    }
    for j in simd_len..acc.len() {
        acc[j] = max_nan(acc[j], row[j]);
    }
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
mod fast_path_tests {
    use super::*;
    use crate::graph::ops::gradcheck::random_tensor;
    // Run in wasm32 too (`make test-wasm`), where they check the SIMD128 row pass.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The 2x2 fast path gives exactly what the general window path gives, NaN (which wins
    /// anywhere in its window) and infinity included, on rows whose window count is below and
    /// above the four lanes of the SIMD128 pass and not a multiple of them, with a last odd row
    /// and column dropped.
    /// The max pooling of `x` by [`argmax`] per window, the backward pass's winner.
    fn by_argmax(op: &MaxPool2d, x: &Tensor) -> Vec<f32> {
        let geo = op.geometry(x.shape()).unwrap();
        let xs = x.as_slice().unwrap();
        let mut expected = Vec::new();
        for plane in xs.chunks_exact(geo.in_plane()) {
            expected.extend(
                geo.windows()
                    .map(|(r, c)| plane[argmax(plane, geo.width, &r.cells, &c.cells)]),
            );
        }
        expected
    }

    /// The separable pass gives exactly the value [`argmax`] picks, over strides, paddings,
    /// ceil mode and non-square windows, with ties of zeros of both signs (the first wins), NaN
    /// and infinity, on rows shorter and longer than the four SIMD128 lanes.
    #[test]
    fn separable_pass_matches_argmax() {
        let cases = [
            ([3, 3], [2, 2], [0; 4], true),
            ([3, 3], [1, 1], [1; 4], false),
            ([2, 3], [1, 2], [1, 0, 0, 2], true),
            ([3, 2], [3, 1], [0, 1, 2, 0], false),
        ];
        for (i, (kernel, stride, padding, ceil)) in cases.into_iter().enumerate() {
            let op = MaxPool2d::new(kernel, stride, padding, ceil).unwrap();
            assert!(!op.is_plain_2x2());
            // The last shape is large enough for the threaded build to split its planes.
            for shape in [[2, 2, 7, 5], [1, 3, 9, 23], [2, 24, 96, 64]] {
                let mut x = random_tensor(&shape, -1.0, 1.0, 7 + i as u64);
                x.iter_mut().step_by(5).for_each(|v| *v = 0.0);
                x.iter_mut().skip(2).step_by(7).for_each(|v| *v = -0.0);
                x[[0, 1, 2, 3]] = f32::NAN;
                x[[0, 0, 4, 1]] = f32::INFINITY;
                let got = op.forward(&[&x]).unwrap();
                let expected = by_argmax(&op, &x);
                assert_eq!(got.len(), expected.len());
                for (g, e) in got.iter().zip(&expected) {
                    assert!(
                        g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
                        "case {i} {shape:?}: {g} vs {e}"
                    );
                }
                assert!(got.iter().any(|v| v.is_nan()), "case {i} {shape:?}");
            }
        }
    }

    /// Looking for the forward pass's maximum in each window picks the cell `argmax` picks,
    /// with ties of zeros of both signs, NaN (the last wins) and infinity, over strides 1, 2
    /// and 3 (the SIMD128 search's vector loads and its lane-by-lane gather), padded windows
    /// (taken one by one) and rows of windows below and above the four lanes.
    #[test]
    fn max_pool_backward_by_the_maxima_matches_argmax() {
        for (i, (kernel, stride, pad, ceil)) in [
            (3, 2, 0, true),
            (3, 1, 1, false),
            (2, 2, 0, false),
            (3, 3, 1, true),
            (3, 2, 1, false),
        ]
        .into_iter()
        .enumerate()
        {
            let op = MaxPool2d::new([kernel; 2], [stride; 2], [pad; 4], ceil).unwrap();
            let mut x = random_tensor(&[2, 3, 9, 23], -1.0, 1.0, 30 + i as u64);
            x.iter_mut().step_by(5).for_each(|v| *v = 0.0);
            x.iter_mut().skip(2).step_by(7).for_each(|v| *v = -0.0);
            x[[0, 1, 2, 3]] = f32::NAN;
            x[[0, 1, 3, 4]] = f32::NAN;
            x[[1, 0, 4, 1]] = f32::INFINITY;
            let y = op.forward(&[&x]).unwrap();
            let g = random_tensor(y.shape(), -1.0, 1.0, 40 + i as u64);
            let by_maxima = op.backward(&[&x], &y, &g, false).unwrap().inputs.remove(0);
            // An output of another shape is not the forward pass's: every window by argmax.
            let other = Tensor::zeros(IxDyn(&[1]));
            let by_argmax = op
                .backward(&[&x], &other, &g, false)
                .unwrap()
                .inputs
                .remove(0);
            assert_eq!(
                by_maxima.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                by_argmax.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "case {i}"
            );
        }
    }

    #[test]
    fn plain_2x2_matches_the_general_path() {
        let fast = MaxPool2d::new([2, 2], [2, 2], [0; 4], false).unwrap();
        assert!(fast.is_plain_2x2());
        // The last shape is large enough for the threaded build to split its planes.
        for (seed, shape) in [[2, 3, 7, 6], [2, 3, 7, 19], [2, 3, 448, 200]]
            .into_iter()
            .enumerate()
        {
            let mut x = random_tensor(&shape, -1.0, 1.0, 41 + seed as u64);
            let last = shape[3] - 3;
            x[[1, 2, 3, 4]] = f32::NAN;
            x[[0, 1, 2, last]] = f32::NAN;
            x[[1, 0, 1, last + 1]] = f32::INFINITY;
            let got = fast.forward(&[&x]).unwrap();
            let expected = by_argmax(&fast, &x);
            assert_eq!(got.shape(), &[2, 3, shape[2] / 2, shape[3] / 2]);
            for (g, e) in got.iter().zip(&expected) {
                assert!(
                    g == e || (g.is_nan() && e.is_nan()),
                    "{shape:?}: {g} vs {e}"
                );
            }
            assert_eq!(got.iter().filter(|v| v.is_nan()).count(), 2, "{shape:?}");
            assert!(got.iter().any(|v| *v == f32::INFINITY), "{shape:?}");
        }
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
