//! Numbers for people: "nice" 1-2-5 steps and labels with as many digits as a step needs,
//! shared by colorbar ticks ([`super::raster::ticks`]) and chart axes ([`super::chart`]).
//!
//! The step rule is that of d3-array's `tickIncrement` (Bostock): the 1, 2 or 5 × 10^k
//! nearest to the raw step on a log scale, with the thresholds √2, √10 and √50.

/// `floor(log10(x))` for finite `x > 0`, robust to `log10(1000) = 2.9999…`; 0 otherwise.
pub(crate) fn floor_log10(x: f64) -> i32 {
    if x > 0.0 && x.is_finite() {
        (x.log10() + 1e-9).floor() as i32
    } else {
        0
    }
}

/// The 1, 2 or 5 × 10^k nearest to `raw` (> 0) on a log scale.
pub(crate) fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powi(floor_log10(raw));
    let error = raw / power;
    let factor = if error >= 50f64.sqrt() {
        10.0
    } else if error >= 10f64.sqrt() {
        5.0
    } else if error >= 2f64.sqrt() {
        2.0
    } else {
        1.0
    };
    factor * power
}

/// The nice step below `step` (a 1, 2 or 5 × 10^k): 5 → 2 → 1 → 0.5.
pub(crate) fn smaller_nice_step(step: f64) -> f64 {
    let power = 10f64.powi(floor_log10(step));
    match (step / power).round() as i64 {
        5 => 2.0 * power,
        2 => power,
        _ => 0.5 * power,
    }
}

/// How the labels of one axis are printed, chosen once so that all of them look alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LabelFormat {
    /// Scientific (`2.5e6`) rather than fixed point (`0.25`).
    scientific: bool,
    /// Decimals of the fixed-point number or of the mantissa.
    digits: usize,
    /// Values smaller than this in magnitude are printed as `0` (rounding residue).
    zero: f64,
}

impl LabelFormat {
    /// For multiples of `step` between `lo` and `hi`: scientific when the range reaches 1e6
    /// in magnitude or the step is below 1e-4, else fixed point; as many digits as the step
    /// needs.
    pub(crate) fn new(lo: f64, hi: f64, step: f64) -> Self {
        let step_exp = floor_log10(step);
        let magnitude = floor_log10(lo.abs().max(hi.abs()));
        let scientific = magnitude >= 6 || step_exp < -4;
        let digits = if scientific {
            magnitude - step_exp
        } else {
            -step_exp
        };
        LabelFormat {
            scientific,
            digits: digits.max(0) as usize,
            zero: step.abs() * 1e-6,
        }
    }

    /// For the axis labels of a chart over `[lo, hi]`, whose label step the chart library
    /// chooses: at least `(hi - lo) / 9` for at most 10 labels, hence enough digits for it.
    pub(crate) fn axis(lo: f64, hi: f64) -> Self {
        Self::new(lo, hi, (hi - lo) / 9.0)
    }

    /// `value` printed in this format; never `-0`.
    pub(crate) fn label(self, value: f64) -> String {
        let digits = self.digits;
        if value.abs() <= self.zero {
            if self.scientific {
                "0".to_string()
            } else {
                format!("{:.digits$}", 0.0)
            }
        } else if self.scientific {
            format!("{value:.digits$e}")
        } else {
            format!("{value:.digits$}")
        }
    }

    /// [`LabelFormat::label`] without trailing zeros (`0.50` → `0.5`, `1.0e6` → `1e6`), for
    /// labels whose step is only estimated.
    pub(crate) fn label_trimmed(self, value: f64) -> String {
        let text = self.label(value);
        let (number, exponent) = match text.find('e') {
            Some(at) => text.split_at(at),
            None => (text.as_str(), ""),
        };
        let number = if number.contains('.') {
            number.trim_end_matches('0').trim_end_matches('.')
        } else {
            number
        };
        let number = if number == "-0" { "0" } else { number };
        format!("{number}{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_follow_1_2_5() {
        assert_eq!(nice_step(0.26), 0.2);
        assert_eq!(nice_step(0.4), 0.5);
        assert_eq!(nice_step(8.0), 10.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(333.0), 500.0);
        assert_eq!(smaller_nice_step(5.0), 2.0);
        assert_eq!(smaller_nice_step(2.0), 1.0);
        assert_eq!(smaller_nice_step(1.0), 0.5);
        assert_eq!(floor_log10(1000.0), 3);
        assert_eq!(floor_log10(0.001), -3);
        assert_eq!(floor_log10(0.0), 0);
    }

    #[test]
    fn labels_have_the_digits_of_the_step() {
        let f = LabelFormat::new(-1.0, 1.0, 0.05);
        assert_eq!(f.label(0.5), "0.50");
        assert_eq!(f.label(-2.2e-16), "0.00");
        assert_eq!(f.label_trimmed(0.5), "0.5");
        assert_eq!(f.label_trimmed(-1.0), "-1");
        assert_eq!(f.label_trimmed(-2.2e-16), "0");

        let big = LabelFormat::new(0.0, 3.0e6, 5.0e5);
        assert_eq!(big.label(1.5e6), "1.5e6");
        assert_eq!(big.label(0.0), "0");
        assert_eq!(big.label_trimmed(1.0e6), "1e6");

        let small = LabelFormat::axis(0.0, 9.0e-6);
        assert_eq!(small.label_trimmed(2.0e-6), "2e-6");
        assert_eq!(LabelFormat::axis(0.0, 90.0).label_trimmed(40.0), "40");
    }
}
