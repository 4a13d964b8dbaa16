//! The patch matrix of a convolution (im2col) and its transpose (col2im).
//!
//! For one group `g` and a range of samples, the patch matrix `cols[Cg·kh·kw, samples·Ho·Wo]`
//! holds in row `(c, p, q)` and column `(sample, i, j)` the input element
//! `x[sample, g·Cg + c, i·sh + p·dh − pad_top, j·sw + q·dw − pad_left]`, zero in the padding
//! (Chellapilla, Puri and Simard 2006). [`im2col`] writes the matrix row by row, each output
//! row of a patch row as its zero padding around one run of the input.
//! [`ConvGeometry::for_each_run`] walks the entries that read inside the input as maximal runs
//! along an output row, so [`col2im`] scatter-adds whole runs; the index arithmetic of
//! [`AxisWindow`] is done once per run in both.

use super::AxisWindow;
use crate::parallel;
use std::cell::RefCell;
use std::ops::Range;

/// The longest patch buffer [`with_patch_buffer`] keeps between calls (16 Mi values, 64 MiB);
/// a longer one is allocated for its call alone.
const KEPT_PATCH_VALUES: usize = 1 << 24;

thread_local! {
    /// The buffer of [`with_patch_buffer`], kept between calls on this thread.
    static PATCH_BUFFER: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Calls `fill` with a buffer of `len` values for a patch matrix, or for a product into one,
/// that writes every value before it reads any: the values it starts with are left from an
/// earlier call (or zero). The buffer is kept between calls on the thread, up to
/// [`KEPT_PATCH_VALUES`], so a convolution's patch matrix is neither allocated nor zeroed on
/// every call: a fresh zeroed buffer of ResNet-18's largest (7.4 MB) and the others took 2.6%
/// of its forward pass on one thread and 7% of the page's thread with two (Chromium profiles,
/// BENCHMARKS.md › Threads).
pub(super) fn with_patch_buffer<R>(len: usize, fill: impl FnOnce(&mut [f32]) -> R) -> R {
    PATCH_BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut kept) if len <= KEPT_PATCH_VALUES => {
            if kept.len() < len {
                kept.resize(len, 0.0);
            }
            fill(&mut kept[..len])
        }
        _ => fill(&mut vec![0.0; len]),
    })
}

/// All sizes of one convolution applied to one input shape.
#[derive(Debug, Clone)]
pub(super) struct ConvGeometry {
    pub(super) batch: usize,
    pub(super) channels: usize,
    pub(super) out_channels: usize,
    pub(super) groups: usize,
    pub(super) kernel: [usize; 2],
    pub(super) height: usize,
    pub(super) width: usize,
    pub(super) rows: AxisWindow,
    pub(super) cols: AxisWindow,
}

impl ConvGeometry {
    /// Input channels per group, `Cg`.
    pub(super) fn group_channels(&self) -> usize {
        self.channels / self.groups
    }

    /// Output channels per group, `Og`.
    pub(super) fn group_outputs(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Length of one patch, `Cg·kh·kw`: the rows of the patch matrix.
    pub(super) fn patch_len(&self) -> usize {
        self.group_channels() * self.kernel[0] * self.kernel[1]
    }

    /// Samples per chunk so that one chunk's patch matrix stays within [`super::PATCH_BUDGET`].
    pub(super) fn chunk_len(&self) -> usize {
        let per_sample = self.patch_len() * self.out_plane();
        (super::PATCH_BUDGET / per_sample).clamp(1, self.batch.max(1))
    }

    /// Whether the patch matrix of a sample and group is that sample's input block `[Cg, H·W]`:
    /// a 1×1 kernel with stride 1 and no padding.
    pub(super) fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && [&self.rows, &self.cols]
                .iter()
                .all(|axis| axis.stride == 1 && axis.pad_begin == 0 && axis.output == axis.input)
    }

    /// Output positions per sample and channel, `Ho·Wo`.
    pub(super) fn out_plane(&self) -> usize {
        self.rows.output * self.cols.output
    }

    /// The full output shape `[N, O, Ho, Wo]`.
    pub(super) fn output_shape(&self) -> Vec<usize> {
        vec![
            self.batch,
            self.out_channels,
            self.rows.output,
            self.cols.output,
        ]
    }

    /// Calls `visit` for every maximal run of patch-matrix entries that read inside the input,
    /// for group `group` and the chunk `samples` (patch matrix `[patch_len, samples · out_plane]`).
    /// Entries not visited read the zero padding.
    fn for_each_run(&self, group: usize, samples: Range<usize>, mut visit: impl FnMut(Run)) {
        let [kh, kw] = self.kernel;
        let plane = self.out_plane();
        let row_len = samples.len() * plane;
        let out_w = self.cols.output;
        for c in 0..self.group_channels() {
            let channel = group * self.group_channels() + c;
            for ky in 0..kh {
                let ys = self.rows.valid_outputs(ky);
                for kx in 0..kw {
                    let xs = self.cols.valid_outputs(kx);
                    if ys.is_empty() || xs.is_empty() {
                        continue;
                    }
                    let row_start = ((c * kh + ky) * kw + kx) * row_len;
                    let ix = self.cols.input_index(xs.start, kx);
                    for (i, sample) in samples.clone().enumerate() {
                        let input_plane =
                            (sample * self.channels + channel) * self.height * self.width;
                        for oy in ys.clone() {
                            let iy = self.rows.input_index(oy, ky);
                            visit(Run {
                                patch: row_start + i * plane + oy * out_w + xs.start,
                                input: input_plane + iy * self.width + ix,
                                len: xs.len(),
                                step: self.cols.stride,
                            });
                        }
                    }
                }
            }
        }
    }
}

/// A run of `len` consecutive patch-matrix entries from index `patch` on that read the input
/// elements `input, input + step, input + 2·step, …` (flat indices).
#[derive(Debug, Clone, Copy)]
struct Run {
    patch: usize,
    input: usize,
    len: usize,
    step: usize,
}

/// Unfolds the patches of group `group` for `samples` into `cols` (`[Cg·kh·kw, samples · Ho·Wo]`,
/// row-major); entries in the padding are zero. Each entry is written once, row by row of the
/// patch matrix, and the rows are independent: in the threaded build they are shared out on the
/// pool (`crate::parallel`), so that the unfolding does not leave the second thread idle before
/// each product (ResNet-18's stem unfolds 1.8 million entries).
pub(super) fn im2col(
    geo: &ConvGeometry,
    x: &[f32],
    group: usize,
    samples: Range<usize>,
    cols: &mut [f32],
) {
    let (rows, row_len) = (geo.patch_len(), samples.len() * geo.out_plane());
    debug_assert_eq!(cols.len(), rows * row_len);
    // As many pieces as the pool would give a product of this size (a copy counted as one
    // multiply-add), each a run of whole rows.
    let rows_per_piece = rows.div_ceil(parallel::pieces(rows, cols.len()));
    let piece_len = rows_per_piece * row_len;
    parallel::for_each_chunk(
        cols,
        piece_len,
        piece_len,
        || (),
        |(), piece, block| {
            for (offset, cols_row) in block.chunks_exact_mut(row_len).enumerate() {
                unfold_row(
                    geo,
                    x,
                    group,
                    samples.clone(),
                    piece * rows_per_piece + offset,
                    cols_row,
                );
            }
        },
    );
}

/// Row `row` of the patch matrix of [`im2col`] into `cols_row`.
fn unfold_row(
    geo: &ConvGeometry,
    x: &[f32],
    group: usize,
    samples: Range<usize>,
    row: usize,
    cols_row: &mut [f32],
) {
    let [kh, kw] = geo.kernel;
    let (plane, out_w) = (geo.out_plane(), geo.cols.output);
    let (c, ky, kx) = (row / (kh * kw), row / kw % kh, row % kw);
    let channel = group * geo.group_channels() + c;
    let (ys, xs) = (geo.rows.valid_outputs(ky), geo.cols.valid_outputs(kx));
    for (sample, sample_row) in samples.zip(cols_row.chunks_exact_mut(plane)) {
        let input_plane = &x[(sample * geo.channels + channel) * geo.height * geo.width..]
            [..geo.height * geo.width];
        for (oy, line) in sample_row.chunks_exact_mut(out_w).enumerate() {
            if !ys.contains(&oy) || xs.is_empty() {
                line.fill(0.0);
                continue;
            }
            line[..xs.start].fill(0.0);
            line[xs.end..].fill(0.0);
            let input_row = &input_plane[geo.rows.input_index(oy, ky) * geo.width..][..geo.width];
            let first = geo.cols.input_index(xs.start, kx);
            let inside = &mut line[xs.clone()];
            if geo.cols.stride == 1 {
                inside.copy_from_slice(&input_row[first..first + inside.len()]);
            } else {
                let taps = input_row[first..].iter().step_by(geo.cols.stride);
                for (d, &v) in inside.iter_mut().zip(taps) {
                    *d = v;
                }
            }
        }
    }
}

/// Adds every entry of the patch matrix `cols` of group `group` and `samples` to the input
/// element it was read from (the transpose of [`im2col`]); entries in the padding are dropped.
pub(super) fn col2im(
    geo: &ConvGeometry,
    cols: &[f32],
    group: usize,
    samples: Range<usize>,
    dx: &mut [f32],
) {
    geo.for_each_run(group, samples, |run| {
        let src = &cols[run.patch..run.patch + run.len];
        if run.step == 1 {
            for (d, &v) in dx[run.input..run.input + run.len].iter_mut().zip(src) {
                *d += v;
            }
        } else {
            for (k, &v) in src.iter().enumerate() {
                dx[run.input + k * run.step] += v;
            }
        }
    });
}
