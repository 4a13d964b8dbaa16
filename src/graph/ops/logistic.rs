//! The exponential in a form the compiler vectorises, and the logistic function
//! `σ(x) = 1 / (1 + e^-x)` on it (Sigmoid, and SiLU's `x · σ(x)` in EfficientNets, where the
//! per-element libm `expf` call took 15% of the forward pass in Chromium), and softmax's
//! `e^{x - max}` (`activation/softmax.rs`; libm's `expf` took 15% of the transformer fixture's
//! forward pass at batch 16).
//!
//! `e^t` for `t` clamped to `[-87, 88]` follows Cephes' `expf` (Moshier, *Methods and
//! Programs for Mathematical Functions*, 1989): `n = round(t·log₂e)` (by adding and
//! subtracting `1.5·2²³`), `r = t − n·ln 2` with `ln 2` split in two parts (Cody and Waite), so
//! `|r| ≤ ln 2 / 2`, then `e^r ≈ 1 + r + r²·P(r)` with Cephes' degree-5 polynomial and `2^n`
//! built from its exponent bits. Every step is branch-free (compares and selects), so a loop
//! of it becomes SIMD. Its relative error is below 4·10⁻⁷ (tested against `f64`). For the
//! logistic function (`t = -x`) the clamp only changes `σ` where it is below 10⁻³⁸ or rounds
//! to 1; [`exp_nonpositive`] gives 0 below the clamp, where `e^t` is below 10⁻³⁸. A NaN stays
//! NaN.

/// `1.5 · 2²³`: adding and subtracting it rounds an `f32` below `2²²` in magnitude to an integer.
const ROUND: f32 = 12_582_912.0;
/// `ln 2` in two parts: `LN2_HIGH` exact in few bits, `LN2_LOW` the rest (Cephes' `C1`, `C2`).
const LN2_HIGH: f32 = 0.693_359_4;
const LN2_LOW: f32 = -2.121_944_4e-4;
/// Cephes' polynomial `P` of `e^r ≈ 1 + r + r²·P(r)`, highest degree first (Horner's order).
const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];
/// Where `t = -x` is clamped: `e^88` is finite in f32, `e^-87` normal.
const T_MAX: f32 = 88.0;
const T_MIN: f32 = -87.0;

/// `e^t` for `t` in `[-87, 88]` (a NaN gives a NaN), relative error below 4·10⁻⁷.
#[inline(always)]
fn exp_reduced(t: f32) -> f32 {
    let n = (t * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = t - n * LN2_HIGH - n * LN2_LOW;
    let p = EXP_POLY[1..].iter().fold(EXP_POLY[0], |p, &c| p * r + c);
    let e_r = p * (r * r) + r + 1.0;
    // n is an integer in [-126, 127], so n + 127 is a normal exponent field.
    e_r * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `e^t` for `t ≤ 0` (softmax's shifted values), relative error below 4·10⁻⁷: 0 below −87
/// (where `e^t < 1.7·10⁻³⁸`, and for −∞, a masked score), NaN for NaN.
#[inline(always)]
pub fn exp_nonpositive(t: f32) -> f32 {
    // A compare, not `max`, so a NaN passes through.
    let clamped = if t < T_MIN { T_MIN } else { t };
    let e = exp_reduced(clamped);
    if t < T_MIN {
        0.0
    } else {
        e
    }
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub fn logistic(x: f32) -> f32 {
    let t = -x;
    // Compares, not `clamp`, so a NaN passes through (both compares are false).
    let t = if t > T_MAX { T_MAX } else { t };
    let t = if t < T_MIN { T_MIN } else { t };
    1.0 / (1.0 + exp_reduced(t))
}

/// [`logistic`] of four lanes, its steps in SIMD128 with every `a·b + c` a `madd`
/// (`graph/madd.rs`): in the plain build the same roundings as [`logistic`] (the
/// same result bit for bit), in the relaxed-SIMD build fused, nine instructions fewer of about
/// thirty (EfficientNet-B0's sigmoids are a quarter of its forward pass).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
pub fn logistic_x4(x: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
    use crate::graph::madd::madd;
    use core::arch::wasm32::{
        f32x4_add, f32x4_div, f32x4_gt, f32x4_lt, f32x4_mul, f32x4_neg, f32x4_splat, f32x4_sub,
        i32x4_add, i32x4_shl, i32x4_splat, i32x4_trunc_sat_f32x4, v128_bitselect,
    };
    let splat = f32x4_splat;
    let t = f32x4_neg(x);
    let t = v128_bitselect(splat(T_MAX), t, f32x4_gt(t, splat(T_MAX)));
    let t = v128_bitselect(splat(T_MIN), t, f32x4_lt(t, splat(T_MIN)));
    let n = f32x4_sub(
        madd(t, splat(std::f32::consts::LOG2_E), splat(ROUND)),
        splat(ROUND),
    );
    let r = madd(n, splat(-LN2_LOW), madd(n, splat(-LN2_HIGH), t));
    let p = EXP_POLY[1..]
        .iter()
        .fold(splat(EXP_POLY[0]), |p, &c| madd(p, r, splat(c)));
    let e_r = f32x4_add(madd(p, f32x4_mul(r, r), r), splat(1.0));
    let two_n = i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23);
    f32x4_div(splat(1.0), f32x4_add(splat(1.0), f32x4_mul(e_r, two_n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    // Run in wasm32 too (`make test-wasm`), where the loop is SIMD.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Within 4·10⁻⁷ relative of `f64` over [-100, 100] in steps of 2⁻⁸ and at random points.
    #[test]
    fn logistic_matches_f64() {
        let mut worst = 0.0f64;
        let grid = (-25_600..=25_600).map(|i| i as f32 / 256.0);
        let odd = (0..10_000).map(|i| ((i as f32) * 0.618_034).sin() * 95.0);
        for x in grid.chain(odd) {
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            let got = logistic(x) as f64;
            if want > 1e-37 {
                worst = worst.max((got - want).abs() / want);
            } else {
                assert!(got < 1e-37, "{x}: {got} vs {want}");
            }
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
    }

    /// The four-lane form equals the scalar one bit for bit (the plain SIMD128 build, where the
    /// wasm tests run), edges and a grid included.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[test]
    fn four_lanes_equal_the_scalar_form() {
        use core::arch::wasm32::{f32x4, f32x4_extract_lane};
        let edges = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            88.5,
            -88.5,
            1e-40,
        ];
        let grid = (-12_800..12_800).map(|i| i as f32 / 64.0);
        let values: Vec<f32> = edges.into_iter().chain(grid).collect();
        for four in values.chunks_exact(4) {
            let y = logistic_x4(f32x4(four[0], four[1], four[2], four[3]));
            let lanes = [
                f32x4_extract_lane::<0>(y),
                f32x4_extract_lane::<1>(y),
                f32x4_extract_lane::<2>(y),
                f32x4_extract_lane::<3>(y),
            ];
            for (&x, got) in four.iter().zip(lanes) {
                let want = logistic(x);
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{x}: {got} vs {want}"
                );
            }
        }
    }

    /// Within 4·10⁻⁷ relative of `f64` over [-87, 0] in steps of 2⁻⁸ and at random points;
    /// 0 below −87 and at −∞, NaN for NaN, 1 at 0.
    #[test]
    fn exp_nonpositive_matches_f64() {
        let mut worst = 0.0f64;
        let grid = (-87 * 256..=0).map(|i| i as f32 / 256.0);
        let odd = (0..10_000).map(|i| -((i as f32) * 0.618_034).sin().abs() * 87.0);
        for t in grid.chain(odd) {
            let want = (t as f64).exp();
            worst = worst.max((exp_nonpositive(t) as f64 - want).abs() / want);
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
        for t in [-87.01, -100.0, -1e30, f32::NEG_INFINITY] {
            assert_eq!(exp_nonpositive(t), 0.0, "{t}");
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }

    /// 0.5 at 0, 1 and (below 10⁻³⁸) 0 at the infinities, NaN for NaN.
    #[test]
    fn logistic_edges() {
        assert_eq!(logistic(0.0), 0.5);
        assert_eq!(logistic(f32::INFINITY), 1.0);
        assert_eq!(logistic(20.0), 1.0 / (1.0 + (-20.0f32).exp()));
        assert!((0.0..1e-38).contains(&logistic(f32::NEG_INFINITY)));
        assert!(logistic(f32::NAN).is_nan());
    }
}
