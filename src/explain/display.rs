//! Turning an attribution into a heat map, as Captum 0.9 `captum.attr.visualization` does.
//!
//! - [`reduce_channels`] collapses the channels of a `[C, H, W]` attribution: the maximum of
//!   `|·|` over channels (Simonyan et al. 2014, §3.1) or their sum (what
//!   `visualize_image_attr` does with `np.sum(attr, axis=2)`).
//! - [`normalize`] is `visualization._normalize_attr(attr, sign, outlier_perc)`: keep the values
//!   of the requested sign (`absoluteValue`: `|a|`, `positive`: `max(a, 0)`, `negative`:
//!   `min(a, 0)`, `all`: `a`), find the threshold `t` of `_cumulative_sum_threshold(|a|,
//!   100 - outlier_perc)`, the smallest sorted `|a|` whose cumulative sum reaches
//!   `(100 - outlier_perc)%` of the total, and return `clip(a / t, -1, 1)` (`a / -t` for
//!   `negative`, so its values lie in `[0, 1]`). Computed in f32 with sequential cumulative
//!   sums as NumPy does on float32 arrays.

use crate::error::{ensure_finite, Error, Result};
use crate::names::named_enum;

named_enum! {
    /// How [`reduce_channels`] combines channels.
    #[derive(Default)]
    pub enum Reduction: "channel reduction" {
        /// `max_c |a_c|` (Simonyan et al.), the default.
        #[default]
        MaxAbs = "maxAbs",
        /// `Σ_c a_c` (Captum `visualize_image_attr`).
        Sum = "sum",
    }
}

named_enum! {
    /// Which values [`normalize`] shows (Captum `VisualizeSign`, its names in camelCase).
    #[derive(Default)]
    pub enum Sign: "sign" {
        /// `|a|` (Captum `"absolute_value"`, the default).
        #[default]
        AbsoluteValue = "absoluteValue",
        /// Both signs, in `[-1, 1]`.
        All = "all",
        /// `max(a, 0)`.
        Positive = "positive",
        /// `min(a, 0)`, shown as magnitudes in `[0, 1]`.
        Negative = "negative",
    }
}

/// Captum's default `outlier_perc`: the share (in percent) of the total `|·|` mass that
/// saturates at ±1 in [`normalize`].
pub const DEFAULT_OUTLIER_PERCENT: f32 = 2.0;

/// What [`display_map`] does: how channels are reduced, which sign is shown and how much of
/// the mass saturates. Missing fields take the [`Default`] values when deserialised.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct DisplayOptions {
    /// Channel reduction of a `[C, H, W]` map. Default [`Reduction::MaxAbs`].
    pub reduce: Reduction,
    /// Values shown. Default [`Sign::AbsoluteValue`].
    pub sign: Sign,
    /// Percent of the mass clipped, `0..=100`. Default [`DEFAULT_OUTLIER_PERCENT`].
    pub outlier_percent: f32,
}

impl Default for DisplayOptions {
    fn default() -> Self {
        DisplayOptions {
            reduce: Reduction::default(),
            sign: Sign::default(),
            outlier_percent: DEFAULT_OUTLIER_PERCENT,
        }
    }
}

/// What Captum's `visualize_image_attr` shows of a per-sample attribution of shape `shape`: a
/// `[C, H, W]` map reduced over channels ([`reduce_channels`]), any other map as it is, then
/// [`normalize`]d. Returns the map and its shape.
pub fn display_map(
    attr: &[f32],
    shape: &[usize],
    options: &DisplayOptions,
) -> Result<(Vec<f32>, Vec<usize>)> {
    let (reduced, shape) = if shape.len() == 3 {
        reduce_channels(attr, shape, options.reduce)?
    } else {
        (attr.to_vec(), shape.to_vec())
    };
    let map = normalize(&reduced, options.sign, options.outlier_percent)?;
    Ok((map, shape))
}

/// Collapses the channel axis of a per-sample attribution of shape `[C, H, W]` (a `[H, W]`
/// attribution is one channel) into an `[H, W]` map; returns the map and its shape.
pub fn reduce_channels(
    attr: &[f32],
    shape: &[usize],
    reduction: Reduction,
) -> Result<(Vec<f32>, Vec<usize>)> {
    let (c, h, w) = match shape {
        [c, h, w] => (*c, *h, *w),
        [h, w] => (1, *h, *w),
        other => {
            return Err(Error::shape(format!(
                "channel reduction needs an attribution of shape [C, H, W] or [H, W], got {other:?}"
            )))
        }
    };
    let hw = h
        .checked_mul(w)
        .ok_or_else(|| Error::shape(format!("shape {shape:?} overflows")))?;
    if c.checked_mul(hw) != Some(attr.len()) || attr.is_empty() {
        return Err(Error::shape(format!(
            "attribution has {} values, expected a non-empty {shape:?}",
            attr.len()
        )));
    }
    let mut out: Vec<f32> = match reduction {
        Reduction::MaxAbs => attr[..hw].iter().map(|v| v.abs()).collect(),
        Reduction::Sum => attr[..hw].to_vec(),
    };
    for channel in attr.chunks_exact(hw).skip(1) {
        for (o, &v) in out.iter_mut().zip(channel) {
            match reduction {
                Reduction::MaxAbs => *o = o.max(v.abs()),
                Reduction::Sum => *o += v,
            }
        }
    }
    Ok((out, vec![h, w]))
}

/// Captum `_cumulative_sum_threshold(values, percentile)` for non-negative `values`.
fn cumulative_sum_threshold(values: &[f32], percentile: f64) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let mut cum = Vec::with_capacity(sorted.len());
    let mut acc = 0.0f32;
    for &v in &sorted {
        acc += v;
        cum.push(acc);
    }
    let limit = acc * 0.01f32 * percentile as f32;
    let index = cum
        .iter()
        .position(|&c| c >= limit)
        .unwrap_or(sorted.len() - 1);
    sorted[index]
}

/// Scales `values` to `[-1, 1]` as Captum `_normalize_attr(values, sign, outlier_percent)`
/// (Captum's default `outlier_percent` is [`DEFAULT_OUTLIER_PERCENT`]): the largest `outlier_percent`% of the total
/// `|·|` mass saturates at ±1.
///
/// An all-zero selection (e.g. `positive` of a map with no positive value) gives all zeros,
/// where Captum fails its `scale_factor != 0` assertion.
pub fn normalize(values: &[f32], sign: Sign, outlier_percent: f32) -> Result<Vec<f32>> {
    if values.is_empty() {
        return Err(Error::invalid(
            "values",
            "nothing to normalize: the attribution is empty",
        ));
    }
    ensure_finite("attribution", values.iter().copied())?;
    if !(0.0..=100.0).contains(&outlier_percent) {
        return Err(Error::invalid(
            "outlier percent",
            format!("expected 0..=100, got {outlier_percent}"),
        ));
    }
    let kept: Vec<f32> = values
        .iter()
        .map(|&v| match sign {
            Sign::All => v,
            Sign::Positive => v.max(0.0),
            Sign::Negative => v.min(0.0),
            Sign::AbsoluteValue => v.abs(),
        })
        .collect();
    let magnitudes: Vec<f32> = kept.iter().map(|v| v.abs()).collect();
    let threshold = cumulative_sum_threshold(&magnitudes, 100.0 - f64::from(outlier_percent));
    if threshold == 0.0 {
        if magnitudes.iter().all(|&m| m == 0.0) {
            return Ok(vec![0.0; values.len()]);
        }
        return Err(Error::invalid(
            "outlier percent",
            format!(
                "{outlier_percent} makes the scale the smallest magnitude, 0, which cannot divide; use a smaller percent"
            ),
        ));
    }
    let scale = if sign == Sign::Negative {
        -threshold
    } else {
        threshold
    };
    Ok(kept.iter().map(|v| (v / scale).clamp(-1.0, 1.0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_channels_max_abs_and_sum() {
        let attr = [
            1.0, -2.0, 3.0, -4.0, /* channel 2 */ -5.0, 1.0, -1.0, 0.5,
        ];
        let (m, shape) = reduce_channels(&attr, &[2, 2, 2], Reduction::MaxAbs).unwrap();
        assert_eq!((m, shape), (vec![5.0, 2.0, 3.0, 4.0], vec![2, 2]));
        let (s, _) = reduce_channels(&attr, &[2, 2, 2], Reduction::Sum).unwrap();
        assert_eq!(s, vec![-4.0, -1.0, 2.0, -3.5]);
        let (one, shape) = reduce_channels(&attr[..4], &[2, 2], Reduction::MaxAbs).unwrap();
        assert_eq!((one, shape), (vec![1.0, 2.0, 3.0, 4.0], vec![2, 2]));
        assert!(reduce_channels(&attr, &[8], Reduction::Sum).is_err());
        assert!(reduce_channels(&attr, &[3, 2, 2], Reduction::Sum).is_err());
    }

    #[test]
    fn display_map_reduces_only_channel_maps_then_normalizes() {
        let attr = [
            1.0, -2.0, 3.0, -4.0, /* channel 2 */ -5.0, 1.0, -1.0, 0.5,
        ];
        let options = DisplayOptions {
            outlier_percent: 0.0,
            ..DisplayOptions::default()
        };
        let (map, shape) = display_map(&attr, &[2, 2, 2], &options).unwrap();
        assert_eq!(shape, vec![2, 2]);
        assert_eq!(map, vec![1.0, 0.4, 0.6, 0.8]);
        let signed = DisplayOptions {
            sign: Sign::All,
            ..options
        };
        let (map, shape) = display_map(&attr, &[8], &signed).unwrap();
        assert_eq!(shape, vec![8]);
        assert_eq!(map, normalize(&attr, Sign::All, 0.0).unwrap());
        let options: DisplayOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(options.outlier_percent, DEFAULT_OUTLIER_PERCENT);
        assert!(display_map(
            &attr,
            &[2, 2, 2],
            &DisplayOptions {
                outlier_percent: 101.0,
                ..options
            }
        )
        .is_err());
    }

    /// Expected values printed by Captum 0.9 `_normalize_attr(a, sign, outlier_perc)` for
    /// `a = np.array([[0.5, -1.0, 2.0], [-3.0, 0.25, 10.0]], np.float32)`.
    #[test]
    fn normalize_matches_captum() {
        let a = [0.5, -1.0, 2.0, -3.0, 0.25, 10.0];
        let close = |got: Vec<f32>, want: &[f32]| {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
            }
        };
        close(
            normalize(&a, Sign::AbsoluteValue, 2.0).unwrap(),
            &[0.05, 0.1, 0.2, 0.3, 0.025, 1.0],
        );
        close(
            normalize(&a, Sign::All, 2.0).unwrap(),
            &[0.05, -0.1, 0.2, -0.3, 0.025, 1.0],
        );
        close(
            normalize(&a, Sign::All, 50.0).unwrap(),
            &[0.05, -0.1, 0.2, -0.3, 0.025, 1.0],
        );
        close(
            normalize(&a, Sign::AbsoluteValue, 60.0).unwrap(),
            &[
                0.166_666_67,
                0.333_333_34,
                0.666_666_7,
                1.0,
                0.083_333_336,
                1.0,
            ],
        );
        close(
            normalize(&a, Sign::Positive, 2.0).unwrap(),
            &[0.05, 0.0, 0.2, 0.0, 0.025, 1.0],
        );
        close(
            normalize(&a, Sign::Negative, 2.0).unwrap(),
            &[0.0, 0.333_333_34, 0.0, 1.0, 0.0, 0.0],
        );
        close(
            normalize(&a, Sign::Negative, 80.0).unwrap(),
            &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
        );
    }

    #[test]
    fn normalize_edge_cases() {
        assert_eq!(
            normalize(&[0.0, 0.0], Sign::All, 2.0).unwrap(),
            vec![0.0, 0.0]
        );
        assert_eq!(
            normalize(&[1.0, 2.0], Sign::Negative, 2.0).unwrap(),
            vec![0.0, 0.0]
        );
        assert!(normalize(&[], Sign::All, 2.0).is_err());
        assert!(normalize(&[1.0, f32::NAN], Sign::All, 2.0).is_err());
        assert!(normalize(&[1.0], Sign::All, 101.0).is_err());
        let err = normalize(&[0.0, 1.0], Sign::All, 100.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("100"), "{err}");
    }
}
