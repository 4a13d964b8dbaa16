//! Single-precision matrix product `C += A · B` for the wasm forward pass, with the right-hand
//! side either prepacked once (a dense layer's weight) or read in place (an im2col matrix).
//!
//! `A` is `[m, k]` and `C` is `[m, n]`, both with contiguous rows; every `C[i, j]` becomes
//! `C[i, j] + A[i, 0]·B[0, j] + A[i, 1]·B[1, j] + …` summed in that order in f32, so a bias
//! written into `C` beforehand is the epilogue. The loop structure is GotoBLAS's (Goto and van
//! de Geijn, "Anatomy of High-Performance Matrix Multiplication", ACM TOMS 2008): blocks of
//! [`KC`] along `k` and [`MC`] rows of `A`, inside them panels of [`NR`] columns of `B` and a
//! register tile of [`MR`] × [`NR`] outputs. The micro-kernel is XNNPACK's "splat" form: one
//! row of the `B` panel is two f32x4 loads, each `A[i, k]` is broadcast (`v128.load32_splat`)
//! and multiplied into the two accumulators of row `i`; `MR · 2 = 8` accumulators, two `B`
//! vectors and one broadcast fit the 16 vector registers V8 has on x86 without spilling.
//!
//! Hand-written rather than matrixmultiply (which the native build keeps, with its x86 FMA
//! kernels) because in the browser matrixmultiply's wasm kernel computes 8 × 8 tiles, 16
//! accumulators that exceed the register file, and packs both operands on every call, which
//! for a dense layer repacks the same weight each time and for a convolution copies an im2col
//! matrix that is already laid out row by row. Measured in Chromium (`node benches/run.mjs`,
//! same runs, nnlens ms before → after): see the numbers in ARCHITECTURE.md ("Matrix
//! products in the browser").
//!
//! [`kernel`] is SIMD128 on wasm32 and plain arrays elsewhere (where only the tests use this
//! module): both follow the same packing, blocking and summation order.

use ndarray::{ArrayView2, ArrayViewMut2};

/// Columns of `B` per panel: two f32x4 vectors.
pub(crate) const NR: usize = 8;
/// Rows of `A` per register tile.
pub(crate) const MR: usize = 4;
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
        (cols <= 1 || strides[1] == 1) && (rows <= 1 || strides[0] > 0),
        "sgemm: the rows of {what} must be contiguous, got strides {strides:?}"
    );
    strides[0].max(0) as usize
}

/// `C += A · B` (see the module documentation). `A` (`[m, k]`), `B` and `C` (`[m, n]`) must
/// have contiguous rows; panics when the shapes do not match (a caller bug).
pub(crate) fn gemm_acc(a: ArrayView2<'_, f32>, b: Rhs<'_>, mut c: ArrayViewMut2<'_, f32>) {
    let (m, k) = a.dim();
    let (kb, n) = b.dim();
    assert!(
        kb == k && c.dim() == (m, n),
        "sgemm: A {:?} · B {:?} does not fit C {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let lda = row_stride(a.strides(), (m, k), "A");
    let ldc = row_stride(c.strides(), (m, n), "C");
    let a_ptr = a.as_ptr();
    let c_ptr = c.as_mut_ptr();
    // The panel of `B` a tile reads: its first row and row stride. A partial last panel of an
    // unpacked `B` is copied into `edge` (zero padded), one `KC` block at a time.
    let mut edge = Vec::new();
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for i0 in (0..m).step_by(MC) {
            let mc = MC.min(m - i0);
            for j0 in (0..n).step_by(NR) {
                let nr = NR.min(n - j0);
                let (panel, ldb): (*const f32, usize) = match b {
                    Rhs::Packed(packed) => (packed.data[(j0 * k + k0 * NR)..].as_ptr(), NR),
                    Rhs::Rows(rows) if nr == NR => (
                        rows.slice(ndarray::s![k0.., j0..]).as_ptr(),
                        row_stride(rows.strides(), (k, n), "B"),
                    ),
                    Rhs::Rows(rows) => {
                        edge.clear();
                        edge.resize(kc * NR, 0.0);
                        for (dst, src) in edge
                            .chunks_exact_mut(NR)
                            .zip(rows.slice(ndarray::s![k0..k0 + kc, j0..]).rows())
                        {
                            for (d, &s) in dst.iter_mut().zip(src) {
                                *d = s;
                            }
                        }
                        (edge.as_ptr(), NR)
                    }
                };
                for i in (i0..i0 + mc).step_by(MR) {
                    let mr = MR.min(i0 + mc - i);
                    // SAFETY: rows i..i + mr < m of A hold columns k0..k0 + kc < k (stride lda);
                    // the panel holds kc rows of NR values at stride ldb (full panels of an
                    // unpacked B: columns j0..j0 + NR <= n of rows k0..k0 + kc; packed and edge
                    // panels: zero padded to NR); rows i..i + mr of C hold columns
                    // j0..j0 + nr <= n (stride ldc).
                    unsafe {
                        tile(
                            mr,
                            nr,
                            kc,
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
        }
    }
}

/// One `mr × nr` tile of `C` (`mr <= MR`, `nr <= NR`) plus `A[.., ..kc] · panel`. A partial
/// tile goes through a full-width copy so that the kernel always loads and stores NR columns.
///
/// # Safety
/// `a` is readable for `mr` rows of `kc` (stride `lda`), `b` for `kc` rows of [`NR`]
/// (stride `ldb`), `c` readable and writable for `mr` rows of `nr` (stride `ldc`).
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    mr: usize,
    nr: usize,
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    if nr == NR {
        dispatch(mr, kc, a, lda, b, ldb, c, ldc);
    } else {
        let mut partial = [0.0f32; MR * NR];
        for i in 0..mr {
            std::ptr::copy_nonoverlapping(c.add(i * ldc), partial[i * NR..].as_mut_ptr(), nr);
        }
        dispatch(mr, kc, a, lda, b, ldb, partial.as_mut_ptr(), NR);
        for i in 0..mr {
            std::ptr::copy_nonoverlapping(partial[i * NR..].as_ptr(), c.add(i * ldc), nr);
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
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    match mr {
        4 => kernel::<4>(kc, a, lda, b, ldb, c, ldc),
        3 => kernel::<3>(kc, a, lda, b, ldb, c, ldc),
        2 => kernel::<2>(kc, a, lda, b, ldb, c, ldc),
        _ => kernel::<1>(kc, a, lda, b, ldb, c, ldc),
    }
}

/// `C[R × NR] += A[R × kc] · B[kc × NR]` with wasm SIMD128, summing over `k` in order.
///
/// # Safety
/// As [`tile`] with `mr = R`, `nr = NR`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    use core::arch::wasm32::{
        f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load, v128_load32_splat, v128_store,
    };
    let mut acc = [[f32x4_splat(0.0); 2]; R];
    for (i, row) in acc.iter_mut().enumerate() {
        row[0] = v128_load(c.add(i * ldc) as *const v128);
        row[1] = v128_load(c.add(i * ldc + 4) as *const v128);
    }
    for r in 0..kc {
        let b0 = v128_load(b.add(r * ldb) as *const v128);
        let b1 = v128_load(b.add(r * ldb + 4) as *const v128);
        for (i, row) in acc.iter_mut().enumerate() {
            let a = v128_load32_splat(a.add(i * lda + r) as *const u32);
            row[0] = f32x4_add(row[0], f32x4_mul(a, b0));
            row[1] = f32x4_add(row[1], f32x4_mul(a, b1));
        }
    }
    for (i, row) in acc.iter().enumerate() {
        v128_store(c.add(i * ldc) as *mut v128, row[0]);
        v128_store(c.add(i * ldc + 4) as *mut v128, row[1]);
    }
}

/// `C[R × NR] += A[R × kc] · B[kc × NR]` on plain arrays, summing over `k` in order.
///
/// # Safety
/// As [`tile`] with `mr = R`, `nr = NR`.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
) {
    let mut acc = [[0.0f32; NR]; R];
    for (i, row) in acc.iter_mut().enumerate() {
        std::ptr::copy_nonoverlapping(c.add(i * ldc), row.as_mut_ptr(), NR);
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
    for (i, row) in acc.iter().enumerate() {
        std::ptr::copy_nonoverlapping(row.as_ptr(), c.add(i * ldc), NR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ops::gradcheck::random_tensor;
    use ndarray::{s, Array2, Ix2};

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
    const SHAPES: [(usize, usize, usize); 10] = [
        (1, 1, 1),
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
                gemm_acc(a.view(), rhs, got.view_mut());
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
        gemm_acc(a, Rhs::Rows(b), c_wide.slice_mut(s![.., 1..1 + n]));
        assert_eq!(c_wide.slice(s![.., 1..1 + n]), expected);
        assert_eq!(c_wide.column(0), untouched);
        assert_eq!(c_wide.column(n + 1), random(m, n + 3, 3).column(n + 1));
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn mismatched_shapes_panic() {
        let (a, b) = (random(2, 3, 1), random(4, 5, 2));
        let mut c = Array2::zeros((2, 5));
        gemm_acc(a.view(), Rhs::Rows(b.view()), c.view_mut());
    }
}
