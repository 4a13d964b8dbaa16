//! The multiply-add of the wasm SIMD128 kernels (`sgemm.rs`, `conv/direct.rs`,
//! `conv/depthwise.rs`): `c + a·b` on four f32 lanes.
//!
//! In the package's plain build it is `f32x4.add(c, f32x4.mul(a, b))`, two roundings, which the
//! kernels' bit-for-bit tests against the definition assume. Built with the relaxed-SIMD
//! proposal (`-C target-feature=+simd128,+relaxed-simd`, the package's second wasm file,
//! `nnlens_bg_relaxed.wasm`, chosen by the loader when the browser validates relaxed SIMD) it is
//! `f32x4.relaxed_madd`, which the engine computes fused (one rounding, x86 FMA) where the CPU
//! has it and as the two instructions elsewhere (WebAssembly relaxed-SIMD proposal, "Relaxed
//! fused multiply-add"): one instruction instead of two in the inner loops, and results within
//! one rounding per term of the plain build's.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use core::arch::wasm32::v128;

/// `c + a·b` lane by lane, fused where the build and the CPU allow it.
#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    target_feature = "relaxed-simd"
))]
#[inline(always)]
pub(crate) fn madd(a: v128, b: v128, c: v128) -> v128 {
    core::arch::wasm32::f32x4_relaxed_madd(a, b, c)
}

/// `c + a·b` lane by lane, rounded after the product and after the sum.
#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    not(target_feature = "relaxed-simd")
))]
#[inline(always)]
pub(crate) fn madd(a: v128, b: v128, c: v128) -> v128 {
    core::arch::wasm32::f32x4_add(c, core::arch::wasm32::f32x4_mul(a, b))
}
