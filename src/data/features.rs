//! The feature inputs of TensorFlow Playground: functions of a point `(x1, x2)` that a network
//! can take instead of the raw coordinates (reference: `INPUTS` in `src/playground.ts` of
//! github.com/tensorflow/playground, whose `x`, `y` are `x1`, `x2` here):
//!
//! `x1`, `x2`, `x1Squared = x1²`, `x2Squared = x2²`, `x1TimesX2 = x1·x2`, `sinX1 = sin x1`,
//! `sinX2 = sin x2`.
//!
//! [`feature_matrix`] maps `n` points to the `[n, k]` row-major matrix of `k` chosen features,
//! computed in f64 (the sine by `libm`, the same on every platform) and rounded to f32.

use crate::error::{ensure_finite, Error, Result};
use crate::names::named_enum;

named_enum! {
    /// A feature input of a 2-D point, as Playground offers them.
    pub enum PlaygroundFeature: "playground feature" {
        /// `x1` (Playground's X₁).
        X1 = "x1",
        /// `x2` (Playground's X₂).
        X2 = "x2",
        /// `x1²`.
        X1Squared = "x1Squared",
        /// `x2²`.
        X2Squared = "x2Squared",
        /// `x1·x2`.
        X1TimesX2 = "x1TimesX2",
        /// `sin x1`.
        SinX1 = "sinX1",
        /// `sin x2`.
        SinX2 = "sinX2",
    }
}

impl PlaygroundFeature {
    /// The feature's value at the point `(x1, x2)`.
    pub fn value(self, x1: f64, x2: f64) -> f64 {
        match self {
            PlaygroundFeature::X1 => x1,
            PlaygroundFeature::X2 => x2,
            PlaygroundFeature::X1Squared => x1 * x1,
            PlaygroundFeature::X2Squared => x2 * x2,
            PlaygroundFeature::X1TimesX2 => x1 * x2,
            PlaygroundFeature::SinX1 => libm::sin(x1),
            PlaygroundFeature::SinX2 => libm::sin(x2),
        }
    }
}

/// The features called `names`, in order: each must be one of [`PlaygroundFeature::NAMES`]
/// and appear once, and there must be at least one.
pub fn parse_features<S: AsRef<str>>(names: &[S]) -> Result<Vec<PlaygroundFeature>> {
    if names.is_empty() {
        return Err(Error::invalid(
            "features",
            format!(
                "the list is empty; choose at least one of: {}",
                PlaygroundFeature::NAMES.join(", ")
            ),
        ));
    }
    let mut features = Vec::with_capacity(names.len());
    for name in names {
        let feature: PlaygroundFeature = name.as_ref().parse()?;
        if features.contains(&feature) {
            return Err(Error::invalid(
                "features",
                format!(
                    "'{feature}' appears twice; each of {} may appear once",
                    PlaygroundFeature::NAMES.join(", ")
                ),
            ));
        }
        features.push(feature);
    }
    Ok(features)
}

/// The `[n, features.len()]` row-major matrix of `features` at the `n` points of `points`
/// (`[n, 2]` row-major: `x1, x2`). Fails on an odd length, a non-finite coordinate or an
/// empty feature list.
pub fn feature_matrix(points: &[f32], features: &[PlaygroundFeature]) -> Result<Vec<f32>> {
    if features.is_empty() {
        return Err(Error::invalid("features", "the list is empty"));
    }
    if points.len() % 2 != 0 {
        return Err(Error::shape(format!(
            "points has {} values, expected pairs (x1, x2): an even number",
            points.len()
        )));
    }
    ensure_finite("points", points.iter().copied())?;
    let mut out = Vec::with_capacity(points.len() / 2 * features.len());
    for point in points.chunks_exact(2) {
        let (x1, x2) = (f64::from(point[0]), f64::from(point[1]));
        out.extend(features.iter().map(|f| f.value(x1, x2) as f32));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PlaygroundFeature as F;

    #[test]
    fn every_feature_has_its_formula_in_the_order_given() {
        let points = [2.0, -3.0, 0.5, 1.5];
        let out = feature_matrix(&points, F::ALL).unwrap();
        let expected = [
            [2.0, -3.0, 4.0, 9.0, -6.0, 2f64.sin(), (-3f64).sin()],
            [0.5, 1.5, 0.25, 2.25, 0.75, 0.5f64.sin(), 1.5f64.sin()],
        ];
        let expected: Vec<f32> = expected.iter().flatten().map(|&v| v as f32).collect();
        assert_eq!(out, expected);
        let out = feature_matrix(&points, &[F::SinX2, F::X1]).unwrap();
        assert_eq!(out, [(-3f32).sin(), 2.0, 1.5f32.sin(), 0.5]);
        assert_eq!(feature_matrix(&[], &[F::X1]).unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn names_parse_in_order_and_bad_lists_are_errors() {
        assert_eq!(
            parse_features(&["x1TimesX2", "x1"]).unwrap(),
            [F::X1TimesX2, F::X1]
        );
        let all = "x1, x2, x1Squared, x2Squared, x1TimesX2, sinX1, sinX2";
        let err = parse_features(&["x1", "x3"]).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("unknown playground feature 'x3'; expected one of: {all}")
        );
        let err = parse_features(&["x1", "sinX1", "x1"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("invalid features: 'x1' appears twice; each of {all} may appear once")
        );
        let err = parse_features::<&str>(&[]).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("invalid features: the list is empty; choose at least one of: {all}")
        );
    }

    #[test]
    fn bad_points_are_errors() {
        let err = feature_matrix(&[1.0, 2.0, 3.0], &[F::X1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape mismatch: points has 3 values, expected pairs (x1, x2): an even number"
        );
        let err = feature_matrix(&[1.0, f32::NAN], &[F::X1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "points contains a non-finite value (NaN) at index 1"
        );
        let err = feature_matrix(&[1.0, 2.0], &[]).unwrap_err();
        assert_eq!(err.to_string(), "invalid features: the list is empty");
    }
}
