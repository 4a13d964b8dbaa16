//! Max pooling of one plane: the forward pass's maxima and the backward pass's winners, the
//! cell [`argmax`] picks in each window (the first in row-major order among equals, a NaN over
//! any number). The forward pass runs separably, a row pass then a column pass; in wasm with
//! SIMD128 both passes go four windows at a time. The backward pass finds each window's winner
//! by looking for the forward pass's maximum in it.

use super::{PoolGeometry, Span};
use std::ops::Range;

/// The flat index within `plane` (rows of `width`) of the maximum over `rows × cols`: the first
/// in row-major order among equals, and a NaN over any number (PyTorch's
/// `val > max || isnan(val)` rule).
pub(super) fn argmax(
    plane: &[f32],
    width: usize,
    rows: &Range<usize>,
    cols: &Range<usize>,
) -> usize {
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
pub(super) fn add_to_winners_of_maxima(
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
pub(super) fn add_to_winners_of_maxima(
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
pub(super) fn max_pool_2x2(plane: &[f32], width: usize, out: &mut [f32]) {
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
pub(super) fn max_pool_separable(
    geo: &PoolGeometry,
    plane: &[f32],
    row_max: &mut [f32],
    out: &mut [f32],
) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if row_maxima_stride_two_without_nan(geo, plane, row_max) {
        let pmax_into = |acc: &mut [f32], row: &[f32]| {
            max_into(acc, row, |a, b| core::arch::wasm32::f32x4_pmax(a, b));
        };
        column_maxima(geo, row_max, out, pmax_into);
        return;
    }
    let out_w = geo.cols.len();
    for (row, maxima) in plane
        .chunks_exact(geo.width)
        .zip(row_max.chunks_exact_mut(out_w))
    {
        row_maxima(row, &geo.cols, maxima);
    }
    column_maxima(geo, row_max, out, max_nan_into);
}

/// The column pass of [`max_pool_separable`]: each output row the maximum, by `max_into`
/// (`acc[j] = max(acc[j], row[j])`), of the rows of `row_max` in its row window, in order.
#[inline(always)]
fn column_maxima(
    geo: &PoolGeometry,
    row_max: &[f32],
    out: &mut [f32],
    max_into: impl Fn(&mut [f32], &[f32]),
) {
    let out_w = geo.cols.len();
    for (out_row, span) in out.chunks_exact_mut(out_w).zip(&geo.rows) {
        out_row.copy_from_slice(&row_max[span.cells.start * out_w..][..out_w]);
        for y in span.cells.start + 1..span.cells.end {
            max_into(out_row, &row_max[y * out_w..][..out_w]);
        }
    }
}

/// The column windows `first..end` that are whole, `width` cells (2 or 3) wide and two
/// columns apart: the run [`row_maxima_stride_two_without_nan`] takes four at a time. `None` for
/// other geometries.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn whole_windows_two_apart(cols: &[Span]) -> Option<(Range<usize>, usize)> {
    let width = cols.iter().map(|c| c.cells.len()).max()?;
    let first = cols.iter().position(|c| c.cells.len() == width)?;
    let end = first
        + cols[first..]
            .iter()
            .take_while(|c| c.cells.len() == width)
            .count();
    let two_apart = cols[first..end]
        .windows(2)
        .all(|pair| pair[1].cells.start == pair[0].cells.start + 2);
    ((width == 2 || width == 3) && two_apart).then_some((first..end, width))
}

/// The row pass of [`max_pool_separable`] for column windows of 2 or 3 cells moved by 2 (the
/// 3x3 stride-2 pooling of ResNet, SqueezeNet and DenseNet) when the plane holds no NaN: four
/// windows of a row at a time from two vector loads (and one lane of a third) deinterleaved
/// by shuffles, each compare a single `f32x4.pmax` (`b` where `a < b`, otherwise `a`:
/// [`max_nan`] without its NaN rule, so the same bits), which the column pass may then use
/// too. Every cell loaded is checked for NaN on the way; returns false when one was found or
/// the geometry is another (`row_max` then unspecified), and the caller takes the general
/// pass. The gathering row pass with its NaN rule kept SqueezeNet 1.1's first pooling
/// (64 × 111 × 111) at 1.23 ms in Chromium.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn row_maxima_stride_two_without_nan(
    geo: &PoolGeometry,
    plane: &[f32],
    row_max: &mut [f32],
) -> bool {
    use core::arch::wasm32::{
        f32x4_ne, f32x4_pmax, i32x4_shuffle, u32x4_splat, v128, v128_any_true, v128_load,
        v128_load32_zero, v128_or, v128_store,
    };
    let Some((whole, width)) = whole_windows_two_apart(&geo.cols) else {
        return false;
    };
    let out_w = geo.cols.len();
    let groups_end = whole.start + whole.len() / 4 * 4;
    let mut nan = u32x4_splat(0);
    for (row, maxima) in plane
        .chunks_exact(geo.width)
        .zip(row_max.chunks_exact_mut(out_w))
    {
        for j in (0..whole.start).chain(groups_end..out_w) {
            maxima[j] = window_max(row, &geo.cols[j]);
            if maxima[j].is_nan() {
                return false;
            }
        }
        for j in (whole.start..groups_end).step_by(4) {
            let cells = &row[geo.cols[j].cells.start..][..6 + width];
            // SAFETY: `cells` holds at least 8 f32 (6 + width, checked by the slice): two
            // unaligned 16-byte loads, and a 4-byte load of the ninth when it is there.
            let (low, high) = unsafe {
                (
                    v128_load(cells.as_ptr() as *const v128),
                    v128_load(cells.as_ptr().add(4) as *const v128),
                )
            };
            let (first, second) = (
                i32x4_shuffle::<0, 2, 4, 6>(low, high),
                i32x4_shuffle::<1, 3, 5, 7>(low, high),
            );
            let mut m = f32x4_pmax(first, second);
            nan = v128_or(nan, v128_or(f32x4_ne(low, low), f32x4_ne(high, high)));
            if width == 3 {
                // SAFETY: `cells` holds 9 f32 when `width` is 3.
                let ninth = unsafe { v128_load32_zero(cells.as_ptr().add(8) as *const u32) };
                m = f32x4_pmax(m, i32x4_shuffle::<1, 2, 3, 4>(first, ninth));
                nan = v128_or(nan, f32x4_ne(ninth, ninth));
            }
            let dst = &mut maxima[j..j + 4];
            // SAFETY: `dst` holds 4 f32, one unaligned 16-byte store.
            unsafe { v128_store(dst.as_mut_ptr() as *mut v128, m) };
        }
    }
    !v128_any_true(nan)
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
    max_into(acc, row, max_nan4);
}

/// `acc[j] = max(acc[j], row[j])` for every `j` (`row` at least as long as `acc`), four lanes
/// at a time by `max4` ([`max_nan4`], or `f32x4.pmax` where no NaN can occur) and the last
/// few by [`max_nan`].
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn max_into(
    acc: &mut [f32],
    row: &[f32],
    max4: impl Fn(core::arch::wasm32::v128, core::arch::wasm32::v128) -> core::arch::wasm32::v128,
) {
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
            v128_store(a.as_mut_ptr() as *mut v128, max4(va, vb));
        }
    }
    for j in simd_len..acc.len() {
        acc[j] = max_nan(acc[j], row[j]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::random_tensor;
    use crate::graph::ops::pool::MaxPool2d;
    use crate::graph::ops::Kernel;
    use crate::tensor::Tensor;
    use ndarray::IxDyn;
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

    /// Asserts that `op`'s forward pass over `x` (which holds a NaN) gives the bits of the
    /// value [`argmax`] picks in every window (any NaN where it picks a NaN).
    fn pools_as_argmax_picks(op: &MaxPool2d, x: &Tensor, what: &str) {
        let got = op.forward(&[x]).unwrap();
        let expected = by_argmax(op, x);
        assert_eq!(got.len(), expected.len(), "{what}");
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
                "{what}: {g} vs {e}"
            );
        }
        assert!(got.iter().any(|v| v.is_nan()), "{what}");
    }

    /// The separable pass gives exactly the value [`argmax`] picks, over strides, paddings,
    /// ceil mode and non-square windows, with ties of zeros of both signs (the first wins), NaN
    /// and infinity, on rows shorter and longer than the four SIMD128 lanes.
    #[test]
    fn separable_pass_matches_argmax() {
        let cases = [
            ([3, 3], [2, 2], [0; 4], true),
            ([3, 3], [2, 2], [1; 4], false),
            ([2, 2], [2, 2], [0, 1, 1, 0], true),
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
                pools_as_argmax_picks(&op, &x, &format!("case {i} {shape:?}"));
            }
        }
    }

    /// The stride-2 pass (windows of 2 or 3 columns, four at a time where NaN cannot occur)
    /// notices a NaN in any column, read by a vector load, by the lone lane of the ninth
    /// cell or by a window taken on its own, and then gives what [`argmax`] picks.
    #[test]
    fn stride_two_pass_finds_a_nan_in_any_column() {
        for (kernel, padding, width) in [(3, 0, 17), (3, 1, 23), (2, 0, 19)] {
            let op = MaxPool2d::new([kernel; 2], [2, 2], [padding; 4], true).unwrap();
            let clean = random_tensor(&[1, 1, 5, width], -1.0, 1.0, width as u64);
            for column in 0..width {
                let mut x = clean.clone();
                x[[0, 0, 2, column]] = f32::NAN;
                let what = format!("kernel {kernel} width {width} NaN in column {column}");
                pools_as_argmax_picks(&op, &x, &what);
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
