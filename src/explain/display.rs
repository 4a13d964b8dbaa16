//! Turning an attribution into a heat map, as Captum 0.9 `captum.attr.visualization` does.
//!
//! - [`reduce_channels`] collapses the channels of a `[C, H, W]` attribution: the maximum of
//!   `|·|` over channels (Simonyan et al. 2014, §3.1) or their sum (what
//!   `visualize_image_attr` does with `np.sum(attr, axis=2)`).
//! - [`normalize`] is `visualization._normalize_attr(attr, sign, outlier_perc)`: keep the values
//!   of the requested sign (`absolute_value`: `|a|`, `positive`: `max(a, 0)`, `negative`:
//!   `min(a, 0)`, `all`: `a`), find the threshold `t` of `_cumulative_sum_threshold(|a|,
//!   100 - outlier_perc)`, the smallest sorted `|a|` whose cumulative sum reaches
//!   `(100 - outlier_perc)%` of the total, and return `clip(a / t, -1, 1)` (`a / -t` for
//!   `negative`, so its values lie in `[0, 1]`). Computed in f32 with sequential cumulative
//!   sums as NumPy does on float32 arrays.

use crate::error::{ensure_finite, Error, Result};

/// How [`reduce_channels`] combines channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// `max_c |a_c|` (Simonyan et al.).
    #[default]
    MaxAbs,
    /// `Σ_c a_c` (Captum `visualize_image_attr`).
    Sum,
}

impl Reduction {
    /// Every name [`Reduction::from_name`] accepts.
    pub const NAMES: &'static [&'static str] = &["maxAbs", "sum"];

    /// The reduction called `name` (one of [`Reduction::NAMES`]).
    pub fn from_name(name: &str) -> Result<Reduction> {
        match name {
            "maxAbs" => Ok(Reduction::MaxAbs),
            "sum" => Ok(Reduction::Sum),
            other => Err(Error::unknown("channel reduction", other, Reduction::NAMES)),
        }
    }
}

/// Which values [`normalize`] shows (Captum `VisualizeSign`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sign {
    /// `|a|` (`"absolute_value"`, Captum's default).
    #[default]
    AbsoluteValue,
    /// Both signs, in `[-1, 1]` (`"all"`).
    All,
    /// `max(a, 0)` (`"positive"`).
    Positive,
    /// `min(a, 0)`, shown as magnitudes in `[0, 1]` (`"negative"`).
    Negative,
}

impl Sign {
    /// Every name [`Sign::from_name`] accepts (Captum's names).
    pub const NAMES: &'static [&'static str] = &["absolute_value", "all", "positive", "negative"];

    /// The sign called `name` (one of [`Sign::NAMES`]).
    pub fn from_name(name: &str) -> Result<Sign> {
        match name {
            "absolute_value" => Ok(Sign::AbsoluteValue),
            "all" => Ok(Sign::All),
            "positive" => Ok(Sign::Positive),
            "negative" => Ok(Sign::Negative),
            other => Err(Error::unknown("sign", other, Sign::NAMES)),
        }
    }
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
/// (Captum's default `outlier_percent` is 2): the largest `outlier_percent`% of the total
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
        assert!(Reduction::from_name("mean")
            .unwrap_err()
            .to_string()
            .contains("maxAbs"));
        assert_eq!(Reduction::from_name("sum").unwrap(), Reduction::Sum);
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
        for name in Sign::NAMES {
            assert!(Sign::from_name(name).is_ok());
        }
        assert!(Sign::from_name("abs")
            .unwrap_err()
            .to_string()
            .contains("absolute_value"));
    }
}
