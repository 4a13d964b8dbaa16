//! Named colormaps, value scales and the lookup table that turns a value into an RGBA colour.
//!
//! The colours are those of the `colorous` crate, which implements the d3-scale-chromatic
//! schemes (viridis, magma and inferno by van der Walt and Smith, after matplotlib; Greys,
//! Blues and RdBu from ColorBrewer by Brewer and Harrower). Two of them are reversed here:
//!
//! * `greys` runs from black (low) to white (high), the way a greyscale image is shown, so a
//!   bright input pixel or a strong activation looks bright;
//! * `rdbu` runs from blue (negative) through near-white (zero) to red (positive), the usual
//!   convention of saliency and attribution maps; colorous' `RED_BLUE` runs the other way.
//!
//! A [`Scale`] maps values to the unit interval. Sequential maps use the data range
//! `[min, max]` (or a given one); diverging maps use a symmetric range `[-m, m]` with
//! `m = max |v|`, so that zero always lands on the centre colour. A constant sequential input
//! maps to the low end of the colormap (as matplotlib does), an all-zero diverging input to the
//! centre; neither divides by zero. NaN and infinite values are not mapped: they are drawn in
//! [`NON_FINITE_RGBA`], a colour none of the maps contains.
//!
//! A [`Lut`] samples a colormap once at [`LUT_LEN`] evenly spaced points; rasterisers look
//! colours up in it instead of evaluating the colormap's splines per pixel.
//!
//! ```
//! use nnlens::render::colormap::{Colormap, Scale};
//! let map: Colormap = "rdbu".parse().unwrap();
//! let scale = Scale::fit(map, &[-1.0, 0.0, 4.0], None).unwrap();
//! assert_eq!(scale.range(), (-4.0, 4.0));
//! assert_eq!(scale.normalize(0.0), Some(0.5));
//! let lut = map.lut();
//! let centre = lut.map(&scale, 0.0);
//! assert!(centre[..3].iter().all(|&c| c > 230)); // near-white
//! ```

use crate::error::{Error, Result};
use crate::names::named_enum;

/// The colour of NaN and infinite values: opaque magenta, absent from every colormap.
pub const NON_FINITE_RGBA: [u8; 4] = [255, 0, 255, 255];

/// Number of entries of a [`Lut`]. Odd, so that the centre `t = 0.5` of a diverging map is
/// an exact entry and zero gets the true centre colour.
pub const LUT_LEN: usize = 257;

named_enum! {
    /// A named colormap (lower-case names, matched exactly like every other name).
    #[derive(Default)]
    pub enum Colormap: "colormap" {
        /// Sequential, dark purple to yellow, perceptually uniform; the default of every
        /// drawing.
        #[default]
        Viridis = "viridis",
        /// Sequential, black to light yellow through purple and orange.
        Magma = "magma",
        /// Sequential, black to pale yellow through red and orange.
        Inferno = "inferno",
        /// Sequential, black (low) to white (high).
        Greys = "greys",
        /// Sequential, white (low) to dark blue (high).
        Blues = "blues",
        /// Diverging, blue (negative) to near-white (zero) to red (positive).
        RdBu = "rdbu",
    }
}

impl Colormap {
    /// Whether the map is diverging (centred on zero) rather than sequential.
    pub fn is_diverging(self) -> bool {
        matches!(self, Colormap::RdBu)
    }

    /// The colour at position `t` of the map, `0` the low end and `1` the high end; `t` is
    /// clamped to `[0, 1]` and a NaN `t` gives [`NON_FINITE_RGBA`]. Opaque.
    pub fn eval(self, t: f32) -> [u8; 4] {
        if t.is_nan() {
            return NON_FINITE_RGBA;
        }
        let t = f64::from(t.clamp(0.0, 1.0));
        let color = match self {
            Colormap::Viridis => colorous::VIRIDIS.eval_continuous(t),
            Colormap::Magma => colorous::MAGMA.eval_continuous(t),
            Colormap::Inferno => colorous::INFERNO.eval_continuous(t),
            Colormap::Greys => colorous::GREYS.eval_continuous(1.0 - t),
            Colormap::Blues => colorous::BLUES.eval_continuous(t),
            Colormap::RdBu => colorous::RED_BLUE.eval_continuous(1.0 - t),
        };
        [color.r, color.g, color.b, 255]
    }

    /// The map sampled at [`LUT_LEN`] evenly spaced points.
    pub fn lut(self) -> Lut {
        let last = (LUT_LEN - 1) as f32;
        let mut colors = [[0u8; 4]; LUT_LEN];
        for (i, color) in colors.iter_mut().enumerate() {
            *color = self.eval(i as f32 / last);
        }
        Lut {
            colormap: self,
            colors,
        }
    }
}

/// A linear map from values to the unit interval `[0, 1]` of a colormap.
///
/// Built with [`Scale::new`] (sequential), [`Scale::symmetric`] (diverging) or fitted to data
/// with [`Scale::fit`]. Values outside the range are clamped to its ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    lo: f32,
    hi: f32,
    symmetric: bool,
    /// `1 / (hi - lo)` in f64 (no overflow for any pair of finite f32), 0 when `lo == hi`.
    inv_span: f64,
}

impl Scale {
    /// A sequential scale from `lo` to `hi`. Both must be finite and `lo <= hi`; `lo == hi` is
    /// allowed: every value at or below it maps to 0, every value above it to 1.
    pub fn new(lo: f32, hi: f32) -> Result<Self> {
        if !lo.is_finite() || !hi.is_finite() || lo > hi {
            return Err(Error::invalid(
                "scale range",
                format!("({lo}, {hi}); expected finite bounds with low <= high"),
            ));
        }
        Ok(Self::unchecked(lo, hi, false))
    }

    /// A symmetric scale `[-m, m]` for a diverging colormap: zero maps to 0.5. `m` must be
    /// finite and non-negative; with `m == 0`, negative values map to 0, zero to 0.5 and
    /// positive values to 1.
    pub fn symmetric(m: f32) -> Result<Self> {
        if !m.is_finite() || m < 0.0 {
            return Err(Error::invalid(
                "symmetric scale half-width",
                format!("{m}; expected a finite value >= 0"),
            ));
        }
        // `0.0 - m` rather than `-m`: no negative zero in the range for m == 0.
        Ok(Self::unchecked(0.0 - m, m, true))
    }

    fn unchecked(lo: f32, hi: f32, symmetric: bool) -> Self {
        let span = f64::from(hi) - f64::from(lo);
        let inv_span = if span > 0.0 { 1.0 / span } else { 0.0 };
        Scale {
            lo,
            hi,
            symmetric,
            inv_span,
        }
    }

    /// The scale `colormap` should use for `values`.
    ///
    /// Sequential maps: the given `range`, or else the minimum and maximum of the finite
    /// values. Diverging maps: symmetric, `m = max(|low|, |high|)` of the given range, or else
    /// the largest finite `|v|`. Without finite values and range the scale is `[0, 0]`.
    ///
    /// ```
    /// use nnlens::render::colormap::{Colormap, Scale};
    /// let s = Scale::fit(Colormap::Viridis, &[3.0, f32::NAN, -1.0], None).unwrap();
    /// assert_eq!(s.range(), (-1.0, 3.0));
    /// let d = Scale::fit(Colormap::RdBu, &[], Some((-0.5, 2.0))).unwrap();
    /// assert_eq!(d.range(), (-2.0, 2.0));
    /// ```
    pub fn fit(colormap: Colormap, values: &[f32], range: Option<(f32, f32)>) -> Result<Self> {
        let (lo, hi) = match range {
            Some((lo, hi)) => {
                // Validate the given range the same way for both kinds of map.
                let given = Scale::new(lo, hi)?;
                (given.lo, given.hi)
            }
            None => finite_min_max(values).unwrap_or((0.0, 0.0)),
        };
        if colormap.is_diverging() {
            Scale::symmetric(lo.abs().max(hi.abs()))
        } else {
            Scale::new(lo, hi)
        }
    }

    /// The low and high ends of the scale.
    pub fn range(&self) -> (f32, f32) {
        (self.lo, self.hi)
    }

    /// Whether the scale is symmetric around zero (made for a diverging map).
    pub fn is_symmetric(&self) -> bool {
        self.symmetric
    }

    /// The position of `v` in `[0, 1]`, or `None` when `v` is NaN or infinite.
    pub fn normalize(&self, v: f32) -> Option<f32> {
        if !v.is_finite() {
            return None;
        }
        let t = if self.inv_span > 0.0 {
            ((f64::from(v) - f64::from(self.lo)) * self.inv_span).clamp(0.0, 1.0) as f32
        } else if self.symmetric {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                0.0
            } else {
                0.5
            }
        } else if v > self.hi {
            1.0
        } else {
            0.0
        };
        Some(t)
    }
}

/// The smallest and largest finite value, or `None` when there is none.
pub(crate) fn finite_min_max(values: &[f32]) -> Option<(f32, f32)> {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A colormap sampled at [`LUT_LEN`] points, for fast value-to-colour lookups.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut {
    colormap: Colormap,
    colors: [[u8; 4]; LUT_LEN],
}

impl Lut {
    /// The colormap this table samples.
    pub fn colormap(&self) -> Colormap {
        self.colormap
    }

    /// The entry nearest to position `t` in `[0, 1]` (clamped); NaN gives
    /// [`NON_FINITE_RGBA`].
    #[inline]
    pub fn at(&self, t: f32) -> [u8; 4] {
        if t.is_nan() {
            return NON_FINITE_RGBA;
        }
        let index = (t.clamp(0.0, 1.0) * (LUT_LEN - 1) as f32).round() as usize;
        self.colors[index.min(LUT_LEN - 1)]
    }

    /// The colour of value `v` under `scale`; [`NON_FINITE_RGBA`] for NaN and infinities.
    #[inline]
    pub fn map(&self, scale: &Scale, v: f32) -> [u8; 4] {
        match scale.normalize(v) {
            Some(t) => self.at(t),
            None => NON_FINITE_RGBA,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_valid_ones() {
        match "jet".parse::<Colormap>() {
            Err(Error::Unknown {
                kind,
                name,
                expected,
            }) => {
                assert_eq!(kind, "colormap");
                assert_eq!(name, "jet");
                assert_eq!(expected, "viridis, magma, inferno, greys, blues, rdbu");
            }
            other => panic!("expected Unknown, got {other:?}"),
        }
    }

    #[test]
    fn only_rdbu_is_diverging() {
        let diverging: Vec<_> = Colormap::ALL
            .iter()
            .copied()
            .filter(|m| m.is_diverging())
            .collect();
        assert_eq!(diverging, vec![Colormap::RdBu]);
    }

    #[test]
    fn rdbu_negative_is_blue_positive_is_red() {
        let low = Colormap::RdBu.eval(0.0);
        let high = Colormap::RdBu.eval(1.0);
        assert!(low[2] > low[0], "low end should be blue: {low:?}");
        assert!(high[0] > high[2], "high end should be red: {high:?}");
        // colorous' spline through ColorBrewer's RdBu gives (241, 239, 237) at the centre.
        let mid = Colormap::RdBu.eval(0.5);
        let (lo, hi) = (
            mid[..3].iter().min().unwrap(),
            mid[..3].iter().max().unwrap(),
        );
        assert!(
            *lo >= 230 && hi - lo <= 8,
            "centre should be near-white and grey: {mid:?}"
        );
    }

    #[test]
    fn greys_runs_black_to_white_and_blues_light_to_dark() {
        assert!(Colormap::Greys.eval(0.0)[..3].iter().all(|&c| c < 10));
        assert!(Colormap::Greys.eval(1.0)[..3].iter().all(|&c| c > 245));
        let (light, dark) = (Colormap::Blues.eval(0.0), Colormap::Blues.eval(1.0));
        assert!(light[0] > dark[0] && dark[2] > dark[0]);
    }

    #[test]
    fn viridis_ends_match_reference() {
        // d3 / matplotlib viridis: #440154 at 0 and #fde725 at 1.
        assert_eq!(Colormap::Viridis.eval(0.0), [0x44, 0x01, 0x54, 255]);
        assert_eq!(Colormap::Viridis.eval(1.0), [0xfd, 0xe7, 0x25, 255]);
    }

    #[test]
    fn non_finite_colour_is_not_in_any_lut() {
        for map in Colormap::ALL {
            let lut = map.lut();
            assert!(lut.colors.iter().all(|c| *c != NON_FINITE_RGBA), "{map}");
            assert_eq!(lut.at(f32::NAN), NON_FINITE_RGBA);
        }
    }

    #[test]
    fn lut_matches_eval_at_its_sample_points() {
        let lut = Colormap::Magma.lut();
        assert_eq!(lut.at(0.0), Colormap::Magma.eval(0.0));
        assert_eq!(lut.at(0.5), Colormap::Magma.eval(0.5));
        assert_eq!(lut.at(1.0), Colormap::Magma.eval(1.0));
        assert_eq!(lut.at(7.0), Colormap::Magma.eval(1.0));
        assert_eq!(lut.at(-7.0), Colormap::Magma.eval(0.0));
    }

    #[test]
    fn sequential_fit_uses_finite_min_max() {
        let s = Scale::fit(
            Colormap::Viridis,
            &[2.0, f32::INFINITY, 6.0, f32::NAN],
            None,
        )
        .unwrap();
        assert_eq!(s.range(), (2.0, 6.0));
        assert!(!s.is_symmetric());
        assert_eq!(s.normalize(4.0), Some(0.5));
        assert_eq!(s.normalize(100.0), Some(1.0));
        assert_eq!(s.normalize(-100.0), Some(0.0));
        assert_eq!(s.normalize(f32::NEG_INFINITY), None);
    }

    #[test]
    fn diverging_fit_is_symmetric_with_zero_at_centre() {
        let s = Scale::fit(Colormap::RdBu, &[-0.25, 1.0, 0.5], None).unwrap();
        assert_eq!(s.range(), (-1.0, 1.0));
        assert!(s.is_symmetric());
        assert_eq!(s.normalize(0.0), Some(0.5));
        assert_eq!(s.normalize(-1.0), Some(0.0));
        let lut = Colormap::RdBu.lut();
        assert_eq!(lut.map(&s, 0.0), Colormap::RdBu.eval(0.5));
    }

    #[test]
    fn constant_and_all_zero_data_do_not_produce_nan() {
        let s = Scale::fit(Colormap::Viridis, &[3.0; 5], None).unwrap();
        assert_eq!(s.range(), (3.0, 3.0));
        assert_eq!(s.normalize(3.0), Some(0.0));
        assert_eq!(s.normalize(4.0), Some(1.0));

        let z = Scale::fit(Colormap::RdBu, &[0.0; 5], None).unwrap();
        assert_eq!(z.range(), (0.0, 0.0));
        assert_eq!(z.normalize(0.0), Some(0.5));
        assert_eq!(z.normalize(-2.0), Some(0.0));
        assert_eq!(z.normalize(2.0), Some(1.0));

        let empty = Scale::fit(Colormap::Magma, &[f32::NAN], None).unwrap();
        assert_eq!(empty.range(), (0.0, 0.0));
    }

    #[test]
    fn extreme_ranges_do_not_overflow() {
        let s = Scale::new(f32::MIN, f32::MAX).unwrap();
        assert_eq!(s.normalize(0.0), Some(0.5));
        assert_eq!(s.normalize(f32::MAX), Some(1.0));
    }

    #[test]
    fn invalid_ranges_are_errors() {
        assert!(Scale::new(1.0, 0.0).is_err());
        assert!(Scale::new(f32::NAN, 1.0).is_err());
        assert!(Scale::symmetric(-1.0).is_err());
        assert!(Scale::symmetric(f32::INFINITY).is_err());
        let err = Scale::fit(Colormap::RdBu, &[], Some((2.0, 1.0))).unwrap_err();
        assert!(err.to_string().contains("(2, 1)"), "{err}");
    }
}
