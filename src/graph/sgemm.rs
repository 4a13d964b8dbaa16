//! Single-precision matrix product `C += A · B` for the wasm forward pass, with the right-hand
//! side either prepacked once (a dense layer's weight) or read in place (an im2col matrix).
//!
//! `A` is `[m, k]` and `C` is `[m, n]`, both with contiguous rows; every `C[i, j]` becomes
//! `s + A[i, 0]·B[0, j] + A[i, 1]·B[1, j] + …` summed in that order in f32, where the start `s`
//! is `C[i, j]` itself, zero, or a bias (per row of `C` for a convolution, per column for a dense
//! layer) loaded into the accumulators instead of `C`, so the bias costs no pass of its own. The loop structure is GotoBLAS's (Goto and van
//! de Geijn, "Anatomy of High-Performance Matrix Multiplication", ACM TOMS 2008): blocks of
//! [`KC`] along `k` and [`MC`] rows of `A`, inside them panels of [`NR`] columns of `B` and a
//! register tile of [`MR`] × [`NR`] outputs. The micro-kernel is XNNPACK's "splat" form: one
//! row of the `B` panel is two f32x4 loads, each `A[i, k]` is broadcast (`v128.load32_splat`)
//! and multiplied into the two accumulators of row `i`; `MR · 2 = 8` accumulators, two `B`
//! vectors and one broadcast fit the 16 vector registers V8 has on x86 without spilling. A
//! block of a single row (a dense layer at batch 1) takes [`WIDE`] panels per tile instead, so
//! that its one broadcast feeds eight accumulators too. An epilogue runs over each row run of
//! `C` once its sums are final; when it is ReLU or Clip (a convolution's fused activation) the
//! tiles of the last `k` block apply it to their accumulators before they store them instead,
//! with the activation's own compares.
//!
//! Hand-written rather than matrixmultiply (which the native build keeps, with its x86 FMA
//! kernels) because in the browser matrixmultiply's wasm kernel computes 8 × 8 tiles, 16
//! accumulators that exceed the register file, and packs both operands on every call, which
//! for a dense layer repacks the same weight each time and for a convolution copies an im2col
//! matrix that is already laid out row by row. The MLP, GEMM and CNN rows of the browser
//! benchmark got faster with it (BENCHMARKS.md, Kernel decisions › Matrix products in the
//! browser).
//!
//! In the threaded build (`crate::parallel`) a large product is split into ranges of panels
//! (columns of `C`: a convolution's pixels, a dense layer's outputs) that run on the pool; each
//! element's sum is the same as on one thread, so the results are equal bit for bit.
//!
//! [`kernel`] is SIMD128 on wasm32 and plain arrays elsewhere (where only the tests use this
//! module): both follow the same packing, blocking and summation order.

use crate::graph::ops::{Clamp, Epilogue};
use crate::parallel;
use ndarray::{ArrayView2, ArrayViewMut2};
use std::ops::Range;

/// Columns of `B` per panel: two f32x4 vectors.
pub(crate) const NR: usize = 8;
/// Rows of `A` per register tile.
pub(crate) const MR: usize = 4;
/// Panels per register tile when `C` has a single row (a dense layer at batch 1): `2 · WIDE = 8`
/// accumulators take every broadcast of `A`, where a one-row [`MR`] tile would give it two, whose
/// dependent additions would then bound the loop.
const WIDE: usize = 4;
/// Block length along `k`: a `KC × NR` panel of `B` (8 KiB) stays in L1 while it is reused
/// for every row tile of the block.
const KC: usize = 256;
/// Rows of `A` per block: `MC × KC` values of `A` (64 KiB) stay in L2 across all panels.
const MC: usize = 64;

/// `B` (`[k, n]`) packed into panels of [`NR`] columns: panel `p` holds `B[r, p·NR + t]` at
/// `p·k·NR + r·NR + t`, the last panel padded with zeros.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PackedB {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl PackedB {
    /// Packs `B = Wᵀ` from `w` (`[n, k]`), e.g. a dense layer's weight `[out, in]`.
    pub(crate) fn from_transposed(w: ArrayView2<'_, f32>) -> Self {
        let (n, k) = w.dim();
        let mut data = vec![0.0; n.div_ceil(NR) * k * NR];
        for (j, row) in w.rows().into_iter().enumerate() {
            let panel = &mut data[(j / NR) * k * NR..][..k * NR];
            for (value, &w) in panel.iter_mut().skip(j % NR).step_by(NR).zip(row) {
                *value = w;
            }
        }
        PackedB { k, n, data }
    }
}

/// The right-hand side of a product.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rhs<'a> {
    /// Packed once, reused across calls.
    Packed(&'a PackedB),
    /// A matrix with contiguous rows, read in place (only a last partial panel is copied).
    Rows(ArrayView2<'a, f32>),
}

impl Rhs<'_> {
    fn dim(&self) -> (usize, usize) {
        match self {
            Rhs::Packed(b) => (b.k, b.n),
            Rhs::Rows(b) => b.dim(),
        }
    }
}

/// The row stride of a `[rows, cols]` view with `strides`, whose rows must be contiguous;
/// `what` names it in the panic.
fn row_stride(strides: &[isize], (rows, cols): (usize, usize), what: &str) -> usize {
    assert!(
        rows == 0 || cols == 0 || ((cols == 1 || strides[1] == 1) && (rows == 1 || strides[0] > 0)),
        "sgemm: the rows of {what} must be contiguous, got strides {strides:?}"
    );
    strides[0].max(0) as usize
}

/// What `C` starts from before `A · B` is added.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start<'a> {
    /// Its current values (`C += A · B`).
    Current,
    /// Zeros (`C = A · B`); `C` is only written.
    Zero,
    /// `bias[i]` in every column of row `i` (a convolution's bias, `C = [O, H·W]`); `C` is
    /// only written. One value per row of `C`.
    RowBias(&'a [f32]),
    /// `bias[j]` in every row of column `j` (a dense layer's bias, `C = [batch, out]`); `C`
    /// is only written. One value per column of `C`.
    ColumnBias(&'a [f32]),
}

/// The start of one register tile: see [`Start`]; pointers at the tile's first row or column.
#[derive(Debug, Clone, Copy)]
enum TileStart {
    Current,
    Zero,
    RowBias(*const f32),
    ColumnBias(*const f32),
}

/// `C = start + A · B` (see the module documentation), then `epilogue` over every row run of
/// `C`'s final values (by the piece that computed them, after its last `k` block, while its
/// rows are in cache), given the run's offset from `C`'s first element (its row times `C`'s
/// row stride plus its first column). `A` (`[m, k]`), `B` and `C` (`[m, n]`) must have contiguous rows;
/// panics when the shapes do not fit (a caller bug).
pub(crate) fn gemm(
    a: ArrayView2<'_, f32>,
    b: Rhs<'_>,
    start: Start<'_>,
    c: ArrayViewMut2<'_, f32>,
    epilogue: Option<Epilogue<'_>>,
) {
    let ((m, k), n) = (a.dim(), b.dim().1);
    let units = split_units(m, n).1;
    let pieces = parallel::pieces(units, m.saturating_mul(n).saturating_mul(k));
    gemm_in_pieces(a, b, start, c, epilogue, pieces)
}

/// How a product of `m` rows and `n` columns is split between threads: by rows of `A` and `C`
/// (`true`, in [`MR`]-row tiles) when `m > n`, else by columns of `B` and `C` (in [`NR`]-column
/// panels); and how many such units there are. Each piece reads all of the operand it does not
/// split, so splitting the larger one keeps the traffic down: ResNet-18's last convolutions
/// (512 rows of weights, 49 pixels) split by columns read their 9 MB weight once per
/// one-panel piece, seven times in all, where split by rows each thread reads its half once.
fn split_units(m: usize, n: usize) -> (bool, usize) {
    if m > n {
        (true, m.div_ceil(MR))
    } else {
        (false, n.div_ceil(NR))
    }
}

/// [`gemm`] split into `pieces` ranges of rows or columns (see [`Product::in_pieces`]).
fn gemm_in_pieces(
    a: ArrayView2<'_, f32>,
    b: Rhs<'_>,
    start: Start<'_>,
    mut c: ArrayViewMut2<'_, f32>,
    epilogue: Option<Epilogue<'_>>,
    pieces: usize,
) {
    let (m, k) = a.dim();
    let (kb, n) = b.dim();
    let bias_len = match start {
        Start::Current | Start::Zero => None,
        Start::RowBias(bias) => Some((bias.len(), m)),
        Start::ColumnBias(bias) => Some((bias.len(), n)),
    };
    assert!(
        kb == k && c.dim() == (m, n) && bias_len.is_none_or(|(len, want)| len == want),
        "sgemm: A {:?} · B {:?} with {start:?} does not fit C {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    if m == 0 || n == 0 {
        return;
    }
    let b_rows = match b {
        Rhs::Packed(packed) => RhsRows::Packed(packed.data.as_ptr()),
        Rhs::Rows(rows) => RhsRows::Rows(rows.as_ptr(), row_stride(rows.strides(), (k, n), "B")),
    };
    let product = Product {
        m,
        n,
        k,
        a: a.as_ptr(),
        lda: row_stride(a.strides(), (m, k), "A"),
        b: b_rows,
        start,
        c: c.as_mut_ptr(),
        ldc: row_stride(c.strides(), (m, n), "C"),
        epilogue,
    };
    // SAFETY: the views were checked to fit `m`, `n`, `k` and the start; each piece writes only
    // its own rows or columns of C.
    unsafe { product.in_pieces(pieces) }
}

/// Where a product's right-hand side is read: packed panels, or rows with their stride.
#[derive(Debug, Clone, Copy)]
enum RhsRows {
    Packed(*const f32),
    Rows(*const f32, usize),
}

/// One product `C = start + A · B` as raw parts, so that pieces of it can run on several
/// threads; each piece is a range of [`MR`]-row tiles of `A` and `C` or of [`NR`]-column
/// panels of `B` and `C` ([`split_units`]).
#[derive(Clone, Copy)]
struct Product<'a> {
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    lda: usize,
    b: RhsRows,
    start: Start<'a>,
    c: *mut f32,
    ldc: usize,
    epilogue: Option<Epilogue<'a>>,
}

// SAFETY: a `Product` is made by `gemm` from views it borrows for the whole call, and its
// pieces write disjoint row or column ranges of C, so sharing it between the pool's threads
// while `in_pieces` runs is sound.
unsafe impl Send for Product<'_> {}
unsafe impl Sync for Product<'_> {}

impl Product<'_> {
    /// Runs the product as `pieces` (1 or more) ranges of row tiles or column panels
    /// ([`split_units`]) of about equal length, on the pool when there are several
    /// (`crate::parallel`). Every element of C gets the same sum in the same order whatever
    /// `pieces` is.
    ///
    /// # Safety
    /// The parts describe views as `gemm` checks them.
    unsafe fn in_pieces(&self, pieces: usize) {
        let (by_rows, units) = split_units(self.m, self.n);
        let pieces = pieces.clamp(1, units.max(1));
        if pieces == 1 {
            return self.block(0..self.m, 0..self.n);
        }
        parallel::for_each_index(pieces, |piece| {
            let (first, end) = (units * piece / pieces, units * (piece + 1) / pieces);
            // SAFETY: as for the whole product; the pieces' ranges are disjoint.
            unsafe {
                if by_rows {
                    self.block(first * MR..(end * MR).min(self.m), 0..self.n)
                } else {
                    self.block(0..self.m, first * NR..(end * NR).min(self.n))
                }
            }
        });
    }

    /// Rows `rows` and columns `columns` of C (`columns.start` a multiple of [`NR`]) in
    /// GotoBLAS's loop order.
    ///
    /// # Safety
    /// As [`Product::in_pieces`]; no other thread writes this block meanwhile.
    unsafe fn block(&self, rows: Range<usize>, columns: Range<usize>) {
        let Product {
            m: _,
            n,
            k,
            a: a_ptr,
            lda,
            b,
            start,
            c: c_ptr,
            ldc,
            epilogue,
        } = *self;
        // ReLU and Clip are applied by the tiles of the last `k` block as they store their sums;
        // any other epilogue runs over the block's rows once they are stored.
        let clamp = epilogue.and_then(|epilogue| epilogue.in_registers());
        // A partial last panel of an unpacked `B` is copied into `edge` (zero padded), one `KC`
        // block at a time.
        let mut edge = Vec::new();
        // With k = 0 the product is empty and C is its start: one block of zero length.
        for k0 in (0..k.max(1)).step_by(KC) {
            let kc = KC.min(k - k0.min(k));
            let last_block = k0 + KC >= k;
            for i0 in rows.clone().step_by(MC) {
                let mc = MC.min(rows.end - i0);
                // A single row (a dense layer at batch 1) takes its full panels [`WIDE`] at a
                // time; the rest, and every block of several rows, one panel at a time.
                let wide_end = if mc == 1 {
                    columns.start + columns.len() / (WIDE * NR) * (WIDE * NR)
                } else {
                    columns.start
                };
                for j0 in (columns.start..wide_end).step_by(WIDE * NR) {
                    // The first panel's row k0, the distance to the next panel, the row stride.
                    // SAFETY (both arms): row k0 < k, column j0 < n of B, as for one panel below.
                    let (panels, panel_stride, ldb) = match b {
                        RhsRows::Packed(b_ptr) => {
                            (unsafe { b_ptr.add(j0 * k + k0 * NR) }, k * NR, NR)
                        }
                        RhsRows::Rows(b_ptr, ldb_rows) => {
                            (unsafe { b_ptr.add(k0 * ldb_rows + j0) }, NR, ldb_rows)
                        }
                    };
                    // SAFETY: row i0 < m of A holds columns k0..k0 + kc <= k; the WIDE panels
                    // hold kc rows of NR values each (columns j0..j0 + WIDE·NR <= n, all full);
                    // row i0 of C holds those columns, and a column bias holds them too.
                    unsafe {
                        wide_row(
                            kc,
                            tile_start(start, k0, i0, j0),
                            clamp.filter(|_| last_block),
                            a_ptr.add(i0 * lda + k0),
                            panels,
                            panel_stride,
                            ldb,
                            c_ptr.add(i0 * ldc + j0),
                        );
                    }
                }
                for j0 in (wide_end..columns.end).step_by(NR) {
                    let nr = NR.min(n - j0);
                    // The panel of `B` the tiles read: its first row and row stride.
                    let (panel, ldb): (*const f32, usize) = match b {
                        // SAFETY: panel j0 / NR starts at (j0 / NR)·k·NR = j0·k, its row k0 at
                        // k0·NR further, inside the packed data.
                        RhsRows::Packed(b_ptr) => (unsafe { b_ptr.add(j0 * k + k0 * NR) }, NR),
                        // SAFETY: row k0 < k, column j0 < n of B.
                        RhsRows::Rows(b_ptr, ldb_rows) if nr == NR => {
                            (unsafe { b_ptr.add(k0 * ldb_rows + j0) }, ldb_rows)
                        }
                        RhsRows::Rows(b_ptr, ldb_rows) => {
                            edge.clear();
                            edge.resize(kc * NR, 0.0);
                            for (r, dst) in edge.chunks_exact_mut(NR).enumerate() {
                                // SAFETY: row k0 + r < k holds columns j0..j0 + nr = n.
                                let src = unsafe {
                                    std::slice::from_raw_parts(
                                        b_ptr.add((k0 + r) * ldb_rows + j0),
                                        nr,
                                    )
                                };
                                dst[..nr].copy_from_slice(src);
                            }
                            (edge.as_ptr(), NR)
                        }
                    };
                    for i in (i0..i0 + mc).step_by(MR) {
                        let mr = MR.min(i0 + mc - i);
                        // SAFETY: rows i..i + mr <= m of A hold columns k0..k0 + kc <= k
                        // (stride lda); the panel holds kc rows of NR values at stride ldb
                        // (full panels of an unpacked B: columns j0..j0 + NR <= n of rows
                        // k0..k0 + kc; packed and edge panels: zero padded to NR); rows
                        // i..i + mr of C hold columns j0..j0 + nr <= n (stride ldc); a row bias
                        // holds mr values from row i, a column bias nr values from column j0.
                        unsafe {
                            tile(
                                Tile {
                                    mr,
                                    nr,
                                    kc,
                                    start: tile_start(start, k0, i, j0),
                                    clamp: clamp.filter(|_| last_block),
                                },
                                a_ptr.add(i * lda + k0),
                                lda,
                                panel,
                                ldb,
                                c_ptr.add(i * ldc + j0),
                                ldc,
                            );
                        }
                    }
                }
                if let (true, Some(epilogue), None) = (last_block, epilogue, clamp) {
                    for i in i0..i0 + mc {
                        let offset = i * ldc + columns.start;
                        // SAFETY: row i < m of C holds columns `columns` (stride ldc), which
                        // only this piece writes.
                        let run = unsafe {
                            std::slice::from_raw_parts_mut(c_ptr.add(offset), columns.len())
                        };
                        epilogue.apply(run, offset);
                    }
                }
            }
        }
    }
}

/// What the tile of `C` at row `i`, column `j` starts from in the `k` block from `k0`: the
/// product's start in the first block, the sums so far after it.
fn tile_start(start: Start<'_>, k0: usize, i: usize, j: usize) -> TileStart {
    match start {
        _ if k0 > 0 => TileStart::Current,
        Start::Current => TileStart::Current,
        Start::Zero => TileStart::Zero,
        Start::RowBias(bias) => TileStart::RowBias(bias[i..].as_ptr()),
        Start::ColumnBias(bias) => TileStart::ColumnBias(bias[j..].as_ptr()),
    }
}

/// The extent of one register tile: `mr <= MR` rows, `nr <= NR` columns, `kc` steps of `k`,
/// what its accumulators start from, and the activation applied to them before they are stored
/// (the last `k` block's, when the epilogue is one).
#[derive(Debug, Clone, Copy)]
struct Tile {
    mr: usize,
    nr: usize,
    kc: usize,
    start: TileStart,
    clamp: Option<Clamp>,
}

/// One tile of `C`: its start plus `A[.., ..kc] · panel`, then its clamp (if any). A partial
/// tile goes through a full-width buffer so that the kernel always loads and stores NR columns.
///
/// # Safety
/// `a` is readable for `mr` rows of `kc` (stride `lda`), `b` for `kc` rows of [`NR`]
/// (stride `ldb`), `c` readable and writable for `mr` rows of `nr` (stride `ldc`), a row bias
/// readable for `mr` values and a column bias for `nr`.
unsafe fn tile(
    t: Tile,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    if t.nr == NR {
        dispatch(t.mr, t.kc, t.start, t.clamp, a, lda, b, ldb, c, ldc);
    } else {
        let mut partial = [0.0f32; MR * NR];
        for (i, row) in partial.chunks_exact_mut(NR).take(t.mr).enumerate() {
            let row = &mut row[..t.nr];
            match t.start {
                TileStart::Current => {
                    row.copy_from_slice(std::slice::from_raw_parts(c.add(i * ldc), t.nr))
                }
                TileStart::Zero => row.fill(0.0),
                TileStart::RowBias(bias) => row.fill(*bias.add(i)),
                TileStart::ColumnBias(bias) => {
                    row.copy_from_slice(std::slice::from_raw_parts(bias, t.nr))
                }
            }
        }
        let start = TileStart::Current;
        dispatch(
            t.mr,
            t.kc,
            start,
            t.clamp,
            a,
            lda,
            b,
            ldb,
            partial.as_mut_ptr(),
            NR,
        );
        for (i, row) in partial.chunks_exact(NR).take(t.mr).enumerate() {
            std::ptr::copy_nonoverlapping(row.as_ptr(), c.add(i * ldc), t.nr);
        }
    }
}

/// [`kernel`] for `mr` (1..=MR) rows.
///
/// # Safety
/// As [`tile`] with `nr = NR`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn dispatch(
    mr: usize,
    kc: usize,
    start: TileStart,
    clamp: Option<Clamp>,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    match mr {
        4 => kernel::<4>(kc, start, clamp, a, lda, b, ldb, c, ldc),
        3 => kernel::<3>(kc, start, clamp, a, lda, b, ldb, c, ldc),
        2 => kernel::<2>(kc, start, clamp, a, lda, b, ldb, c, ldc),
        _ => kernel::<1>(kc, start, clamp, a, lda, b, ldb, c, ldc),
    }
}

/// `C[1 × WIDE·NR] = start + A[1 × kc] · B[kc × WIDE·NR]`, summing over `k` in order (each
/// value's sum is [`kernel`]'s, bit for bit), then `clamp` (if any); `b` is the first of [`WIDE`]
/// full panels `panel_stride` values apart, each with row stride `ldb`. With wasm SIMD128 one
/// broadcast of `A` feeds all `2 · WIDE` accumulators; elsewhere (the native tests of the
/// blocking around it) it is [`WIDE`] one-row tiles of [`kernel`], one panel after the other.
///
/// # Safety
/// `a` is readable for `kc` values, each panel for `kc` rows of [`NR`], `c` readable and
/// writable for `WIDE · NR` values, and a column bias readable for as many (a row bias for one).
#[allow(clippy::too_many_arguments)]
unsafe fn wide_row(
    kc: usize,
    start: TileStart,
    clamp: Option<Clamp>,
    a: *const f32,
    b: *const f32,
    panel_stride: usize,
    ldb: usize,
    c: *mut f32,
) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use crate::graph::madd::madd;
        use core::arch::wasm32::{f32x4_splat, v128, v128_load, v128_load32_splat, v128_store};
        let load_pair = |from: *const f32| {
            [
                v128_load(from as *const v128),
                v128_load(from.add(4) as *const v128),
            ]
        };
        let mut acc = [[f32x4_splat(0.0); 2]; WIDE];
        for (p, pair) in acc.iter_mut().enumerate() {
            *pair = match start {
                TileStart::Current => load_pair(c.add(p * NR)),
                TileStart::Zero => [f32x4_splat(0.0); 2],
                TileStart::RowBias(bias) => [f32x4_splat(*bias); 2],
                TileStart::ColumnBias(bias) => load_pair(bias.add(p * NR)),
            };
        }
        for r in 0..kc {
            let a = v128_load32_splat(a.add(r) as *const u32);
            for (p, pair) in acc.iter_mut().enumerate() {
                let [b0, b1] = load_pair(b.add(p * panel_stride + r * ldb));
                pair[0] = madd(a, b0, pair[0]);
                pair[1] = madd(a, b1, pair[1]);
            }
        }
        for (p, pair) in acc.iter().enumerate() {
            let pair = clamp.map_or(*pair, |clamp| pair.map(|sums| clamped(sums, clamp)));
            v128_store(c.add(p * NR) as *mut v128, pair[0]);
            v128_store(c.add(p * NR + 4) as *mut v128, pair[1]);
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    for p in 0..WIDE {
        let start = match start {
            TileStart::ColumnBias(bias) => TileStart::ColumnBias(bias.add(p * NR)),
            other => other,
        };
        kernel::<1>(
            kc,
            start,
            clamp,
            a,
            0,
            b.add(p * panel_stride),
            ldb,
            c.add(p * NR),
            0,
        );
    }
}

/// `C[R × NR] = start + A[R × kc] · B[kc × NR]` with wasm SIMD128, summing over `k` in order,
/// then `clamp` (if any) on the sums before they are stored.
///
/// # Safety
/// As [`tile`] with `mr = R`, `nr = NR`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn kernel<const R: usize>(
    kc: usize,
    start: TileStart,
    clamp: Option<Clamp>,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    use crate::graph::madd::madd;
    use core::arch::wasm32::{f32x4_splat, v128, v128_load, v128_load32_splat, v128_store};
    let mut acc = [[f32x4_splat(0.0); 2]; R];
    for (i, row) in acc.iter_mut().enumerate() {
        *row = match start {
            TileStart::Current => [
                v128_load(c.add(i * ldc) as *const v128),
                v128_load(c.add(i * ldc + 4) as *const v128),
            ],
            TileStart::Zero => [f32x4_splat(0.0); 2],
            TileStart::RowBias(bias) => [f32x4_splat(*bias.add(i)); 2],
            TileStart::ColumnBias(bias) => [
                v128_load(bias as *const v128),
                v128_load(bias.add(4) as *const v128),
            ],
        };
    }
    for r in 0..kc {
        let b0 = v128_load(b.add(r * ldb) as *const v128);
        let b1 = v128_load(b.add(r * ldb + 4) as *const v128);
        for (i, row) in acc.iter_mut().enumerate() {
            let a = v128_load32_splat(a.add(i * lda + r) as *const u32);
            row[0] = madd(a, b0, row[0]);
            row[1] = madd(a, b1, row[1]);
        }
    }
    if let Some(clamp) = clamp {
        for row in acc.iter_mut() {
            *row = row.map(|sums| clamped(sums, clamp));
        }
    }
    for (i, row) in acc.iter().enumerate() {
        v128_store(c.add(i * ldc) as *mut v128, row[0]);
        v128_store(c.add(i * ldc + 4) as *mut v128, row[1]);
    }
}

/// `clamp` on four sums, as [`Clamp::activation`] computes it element by element (equal bit for
/// bit): ReLU `v > 0 ? v : 0`, Clip `above = v >= min ? v : min`, then `above > max ? max :
/// above`, as compares and selects (a NaN becomes 0, or `min`).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn clamped(v: core::arch::wasm32::v128, clamp: Clamp) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::{f32x4_ge, f32x4_gt, f32x4_splat, v128_and, v128_bitselect};
    match clamp {
        Clamp::Relu => v128_and(v, f32x4_gt(v, f32x4_splat(0.0))),
        Clamp::Clip { min, max } => {
            let (min, max) = (f32x4_splat(min), f32x4_splat(max));
            let above = v128_bitselect(v, min, f32x4_ge(v, min));
            v128_bitselect(max, above, f32x4_gt(above, max))
        }
    }
}

/// `C[R × NR] = start + A[R × kc] · B[kc × NR]` on plain arrays, summing over `k` in order,
/// then `clamp` (if any) on the sums before they are stored.
///
/// # Safety
/// As [`tile`] with `mr = R`, `nr = NR`.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn kernel<const R: usize>(
    kc: usize,
    start: TileStart,
    clamp: Option<Clamp>,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[0.0f32; NR]; R];
    for (i, row) in acc.iter_mut().enumerate() {
        match start {
            TileStart::Current => {
                std::ptr::copy_nonoverlapping(c.add(i * ldc), row.as_mut_ptr(), NR)
            }
            TileStart::Zero => *row = [0.0; NR],
            TileStart::RowBias(bias) => *row = [*bias.add(i); NR],
            TileStart::ColumnBias(bias) => {
                std::ptr::copy_nonoverlapping(bias, row.as_mut_ptr(), NR)
            }
        }
    }
    for r in 0..kc {
        let b_row = std::slice::from_raw_parts(b.add(r * ldb), NR);
        for (i, row) in acc.iter_mut().enumerate() {
            let a = *a.add(i * lda + r);
            for (y, &b) in row.iter_mut().zip(b_row) {
                *y += a * b;
            }
        }
    }
    if let Some(clamp) = clamp {
        let activation = clamp.activation();
        for row in acc.iter_mut() {
            activation.apply_in_place(row);
        }
    }
    for (i, row) in acc.iter().enumerate() {
        std::ptr::copy_nonoverlapping(row.as_ptr(), c.add(i * ldc), NR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::activation::Activation;
    use crate::graph::ops::gradcheck::random_tensor;
    use ndarray::{s, Array2, Ix2};
    // Run in wasm32 too (`make test-wasm`), where they check the SIMD128 kernel.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn random(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        random_tensor(&[rows, cols], -1.0, 1.0, seed)
            .into_dimensionality::<Ix2>()
            .unwrap()
    }

    /// `c + a · b` summed over `k` in order, the order the kernel promises: equal bit for bit.
    fn reference(a: &Array2<f32>, b: &Array2<f32>, c: &Array2<f32>) -> Array2<f32> {
        Array2::from_shape_fn(c.dim(), |(i, j)| {
            (0..a.ncols()).fold(c[[i, j]], |sum, r| sum + a[[i, r]] * b[[r, j]])
        })
    }

    /// Shapes around every blocking boundary: partial row tiles and panels, `k` over `KC`,
    /// `m` over `MC`, and the degenerate sizes.
    const SHAPES: [(usize, usize, usize); 13] = [
        (1, 1, 1),
        (1, 784, 256),
        (1, 300, 45),
        (1, 70, 97),
        (3, 5, 7),
        (4, 9, 8),
        (5, 17, 9),
        (7, 300, 13),
        (64, 784, 256),
        (67, 257, 31),
        (130, 70, 17),
        (2, 0, 5),
        (0, 3, 4),
    ];

    #[test]
    fn packed_and_unpacked_products_match_the_definition_and_ndarray() {
        for (index, &(m, k, n)) in SHAPES.iter().enumerate() {
            let seed = 10 * index as u64;
            let a = random(m, k, seed + 1);
            let b = random(k, n, seed + 2);
            let c = random(m, n, seed + 3);
            let expected = reference(&a, &b, &c);
            let by_ndarray = &c + &a.dot(&b);
            let packed = PackedB::from_transposed(b.t());
            assert_eq!(Rhs::Packed(&packed).dim(), (k, n));
            for rhs in [Rhs::Packed(&packed), Rhs::Rows(b.view())] {
                let mut got = c.clone();
                gemm(a.view(), rhs, Start::Current, got.view_mut(), None);
                assert_eq!(got, expected, "{m}x{k}x{n} with {rhs:?}");
                for (g, e) in got.iter().zip(&by_ndarray) {
                    assert!(
                        (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                        "{m}x{k}x{n}: {g} vs {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_zero_or_bias_start_replaces_the_values_of_c() {
        for (index, &(m, k, n)) in SHAPES.iter().enumerate() {
            let seed = 10 * index as u64;
            let a = random(m, k, seed + 1);
            let b = random(k, n, seed + 2);
            let row_bias = random(1, m, seed + 4).into_raw_vec_and_offset().0;
            let column_bias = random(1, n, seed + 5).into_raw_vec_and_offset().0;
            let rows = Array2::from_shape_fn((m, n), |(i, _)| row_bias[i]);
            let columns = Array2::from_shape_fn((m, n), |(_, j)| column_bias[j]);
            let zeros = Array2::zeros((m, n));
            let packed = PackedB::from_transposed(b.t());
            for (start, from) in [
                (Start::Zero, &zeros),
                (Start::RowBias(&row_bias), &rows),
                (Start::ColumnBias(&column_bias), &columns),
            ] {
                let expected = reference(&a, &b, from);
                for rhs in [Rhs::Packed(&packed), Rhs::Rows(b.view())] {
                    let mut got = Array2::from_elem((m, n), f32::NAN);
                    gemm(a.view(), rhs, start, got.view_mut(), None);
                    assert_eq!(got, expected, "{m}x{k}x{n} with {start:?}, {rhs:?}");
                }
            }
        }
    }

    #[test]
    fn products_split_into_pieces_equal_the_whole() {
        // The threaded build's split (pieces of row tiles where `m > n`, else of column panels,
        // on the pool with `threads`): the same sums in the same order, so equal bit for bit,
        // with every start, both right sides and an epilogue.
        for (index, &(m, k, n)) in SHAPES.iter().enumerate() {
            let seed = 10 * index as u64;
            let a = random(m, k, seed + 1);
            let b = random(k, n, seed + 2);
            let c = random(m, n, seed + 3);
            let row_bias = random(1, m, seed + 4).into_raw_vec_and_offset().0;
            let column_bias = random(1, n, seed + 5).into_raw_vec_and_offset().0;
            let packed = PackedB::from_transposed(b.t());
            let starts = [
                Start::Current,
                Start::Zero,
                Start::RowBias(&row_bias),
                Start::ColumnBias(&column_bias),
            ];
            for start in starts {
                let halve = Epilogue::Map(&|run, _| run.iter_mut().for_each(|v| *v *= 0.5));
                for (rhs, epilogue) in [
                    (Rhs::Packed(&packed), None),
                    (Rhs::Rows(b.view()), None),
                    (Rhs::Rows(b.view()), Some(halve)),
                ] {
                    let mut whole = c.clone();
                    gemm_in_pieces(a.view(), rhs, start, whole.view_mut(), epilogue, 1);
                    for pieces in [2, 3, 7, 1000] {
                        let mut split = c.clone();
                        gemm_in_pieces(a.view(), rhs, start, split.view_mut(), epilogue, pieces);
                        assert_eq!(split, whole, "{m}x{k}x{n}, {pieces} pieces, {start:?}");
                    }
                }
            }
        }
        // Large enough for `gemm` itself to use the pool when there is one, split by columns
        // and by rows.
        for (m, k, n) in [(64, 300, 200), (200, 300, 64)] {
            let (a, b, c) = (random(m, k, 1), random(k, n, 2), random(m, n, 3));
            let product = |epilogue| {
                let mut got = c.clone();
                gemm(
                    a.view(),
                    Rhs::Rows(b.view()),
                    Start::Current,
                    got.view_mut(),
                    epilogue,
                );
                got
            };
            let got = product(None);
            assert_eq!(got, reference(&a, &b, &c), "{m}x{k}x{n}");
            // An epilogue runs once over every value, after its whole sum, and is told where
            // each run starts.
            let finished = product(Some(Epilogue::Map(&|run, at| {
                for (index, v) in (at..).zip(run) {
                    *v = 2.0 * *v + index as f32;
                }
            })));
            let expected =
                Array2::from_shape_fn((m, n), |(i, j)| 2.0 * got[[i, j]] + (i * n + j) as f32);
            assert_eq!(finished, expected, "{m}x{k}x{n}");
        }
    }

    /// ReLU and Clip run in the register tiles (`Clamp`), the other activations over the
    /// stored runs: either way the result is the product with the activation applied after it,
    /// bit for bit, on every shape and on the values where the activations' compares decide
    /// (NaN, signed zeros, the bounds themselves, infinities), which an empty product (`k = 0`)
    /// passes through from `C` unchanged. The one exception is the sign of a zero that Clip
    /// keeps at a bound of zero: the activation's own loop, vectorised by LLVM in wasm, gives
    /// +0 for −0 where its scalar remainder keeps −0, so zeros compare as values.
    #[test]
    fn activations_in_the_epilogue_equal_the_activation_after_the_product() {
        let activations = [
            Activation::Relu,
            Activation::Clip { min: 0.0, max: 6.0 },
            Activation::Clip {
                min: -0.25,
                max: 0.5,
            },
            Activation::Tanh,
        ];
        let special = [
            f32::NAN,
            -f32::NAN,
            0.0,
            -0.0,
            6.0,
            -0.25,
            0.5,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-30,
            -1e-30,
            0.3,
            -3.0,
        ];
        let special_c = Array2::from_shape_fn((5, 13), |(i, j)| special[(i + j) % 13]);
        for activation in &activations {
            let in_registers = Epilogue::Activation(activation).in_registers();
            assert_eq!(
                in_registers.is_some(),
                !matches!(activation, Activation::Tanh)
            );
            let epilogue = Some(Epilogue::Activation(activation));
            let bits = |c: Array2<f32>| c.mapv(|v| if v == 0.0 { 0 } else { v.to_bits() });
            let after = |mut c: Array2<f32>| {
                activation.apply_in_place(c.as_slice_mut().unwrap());
                bits(c)
            };
            let empty = Array2::<f32>::zeros((5, 0));
            let mut got = special_c.clone();
            gemm(
                empty.view(),
                Rhs::Rows(Array2::zeros((0, 13)).view()),
                Start::Current,
                got.view_mut(),
                epilogue,
            );
            assert_eq!(bits(got), after(special_c.clone()), "{activation:?}");
            for (index, &(m, k, n)) in SHAPES.iter().enumerate() {
                let seed = 10 * index as u64;
                let a = random(m, k, seed + 1);
                let b = random(k, n, seed + 2);
                let bias = random(1, m, seed + 4).into_raw_vec_and_offset().0;
                for pieces in [1, 3] {
                    let product = |epilogue| {
                        let mut c = Array2::from_elem((m, n), f32::NAN);
                        let start = Start::RowBias(&bias);
                        let rhs = Rhs::Rows(b.view());
                        gemm_in_pieces(a.view(), rhs, start, c.view_mut(), epilogue, pieces);
                        c
                    };
                    assert_eq!(
                        bits(product(epilogue)),
                        after(product(None)),
                        "{m}x{k}x{n} in {pieces} pieces with {activation:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn strided_views_are_read_and_written_in_place() {
        // A, B and C as column ranges of wider matrices: row strides larger than the widths.
        let (m, k, n) = (6, 11, 13);
        let a_wide = random(m, k + 5, 1);
        let b_wide = random(k, n + 19, 2);
        let mut c_wide = random(m, n + 3, 3);
        let (a, b) = (
            a_wide.slice(s![.., 2..2 + k]),
            b_wide.slice(s![.., 4..4 + n]),
        );
        let expected = reference(
            &a.to_owned(),
            &b.to_owned(),
            &c_wide.slice(s![.., 1..1 + n]).to_owned(),
        );
        let untouched = c_wide.column(0).to_owned();
        gemm(
            a,
            Rhs::Rows(b),
            Start::Current,
            c_wide.slice_mut(s![.., 1..1 + n]),
            None,
        );
        assert_eq!(c_wide.slice(s![.., 1..1 + n]), expected);
        assert_eq!(c_wide.column(0), untouched);
        assert_eq!(c_wide.column(n + 1), random(m, n + 3, 3).column(n + 1));
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn mismatched_shapes_panic() {
        let (a, b) = (random(2, 3, 1), random(4, 5, 2));
        let mut c = Array2::zeros((2, 5));
        gemm(
            a.view(),
            Rhs::Rows(b.view()),
            Start::Current,
            c.view_mut(),
            None,
        );
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn a_bias_of_the_wrong_length_panics() {
        let (a, b) = (random(2, 3, 1), random(3, 5, 2));
        let mut c = Array2::zeros((2, 5));
        gemm(
            a.view(),
            Rhs::Rows(b.view()),
            Start::ColumnBias(&[0.0; 2]),
            c.view_mut(),
            None,
        );
    }
}
