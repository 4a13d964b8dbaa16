//! Learning-rate schedules with PyTorch's formulas, advanced once per optimiser step (as
//! `scheduler.step()` after every `optimizer.step()`).
//!
//! With the initial rate `η_0` and `t` the number of steps taken:
//!
//! ```text
//! constant:  η_t = η_0
//! step:      η_t = η_0 · γ^⌊t / stepSize⌋                       (torch.optim.lr_scheduler.StepLR)
//! cosine:    η_t = η_min + (η_0 - η_min) · (1 + cos(π t / T_max)) / 2   (CosineAnnealingLR)
//! ```
//!
//! Like PyTorch's `get_lr`, the rates are computed recursively from the previous one, in f64:
//! StepLR multiplies by `γ` when `t` is a multiple of `stepSize`; CosineAnnealingLR sets
//! `η_t = (1 + cos(π t / T)) / (1 + cos(π (t-1) / T)) · (η_{t-1} - η_min) + η_min`, except when
//! `(t - 1 - T) mod 2T = 0`, where it adds `(η_0 - η_min)(1 - cos(π / T)) / 2`. The cosine
//! therefore reaches `η_min` at `t = T_max` and, as PyTorch's does, rises again after it
//! (period `2 T_max`).

use crate::error::{Error, Result};
use crate::names::named_enum;

named_enum! {
    /// How the learning rate changes over the steps.
    #[derive(Default)]
    pub enum ScheduleKind: "learning-rate schedule" {
        /// The same rate at every step; the default.
        #[default]
        Constant = "constant",
        /// Multiplied by `gamma` every `stepSize` steps (PyTorch's `StepLR`).
        Step = "step",
        /// Cosine annealing from the initial rate to `etaMin` over `tMax` steps (PyTorch's
        /// `CosineAnnealingLR`).
        Cosine = "cosine",
    }
}

/// A schedule with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// `η_t = η_0`.
    Constant,
    /// `η_t = η_0 · gamma^⌊t / step_size⌋`.
    Step {
        /// Steps between decays, at least 1.
        step_size: usize,
        /// The decay factor, positive.
        gamma: f64,
    },
    /// `η_t = eta_min + (η_0 - eta_min)(1 + cos(π t / t_max)) / 2`.
    Cosine {
        /// Steps of the half period, at least 1.
        t_max: usize,
        /// The smallest rate, at least 0.
        eta_min: f64,
    },
}

impl Schedule {
    /// Checks the parameters' ranges.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { step_size, gamma } => {
                if step_size == 0 {
                    return Err(Error::invalid(
                        "stepSize",
                        "0 is not a number of steps >= 1",
                    ));
                }
                if !(gamma.is_finite() && gamma > 0.0) {
                    return Err(Error::invalid(
                        "gamma",
                        format!("{gamma} is not a positive finite number"),
                    ));
                }
                Ok(())
            }
            Schedule::Cosine { t_max, eta_min } => {
                if t_max == 0 {
                    return Err(Error::invalid("tMax", "0 is not a number of steps >= 1"));
                }
                if !(eta_min.is_finite() && eta_min >= 0.0) {
                    return Err(Error::invalid(
                        "etaMin",
                        format!("{eta_min} is not a finite number >= 0"),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The learning rate of the next step under a [`Schedule`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearningRate {
    schedule: Schedule,
    initial: f64,
    current: f64,
    steps: usize,
}

impl LearningRate {
    /// A schedule starting at `initial` (positive and finite, checked by the optimiser).
    pub fn new(initial: f32, schedule: Schedule) -> Result<Self> {
        schedule.validate()?;
        Ok(LearningRate {
            schedule,
            initial: f64::from(initial),
            current: f64::from(initial),
            steps: 0,
        })
    }

    /// The rate the next step uses.
    pub fn current(&self) -> f32 {
        self.current as f32
    }

    /// Replaces the current rate, as assigning a PyTorch parameter group's `lr` does: the
    /// schedule goes on from it (its recursive form), the other state is kept.
    pub fn set_current(&mut self, rate: f32) -> Result<()> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Error::invalid(
                "learningRate",
                format!("{rate} is not a positive finite number"),
            ));
        }
        self.current = f64::from(rate);
        Ok(())
    }

    /// Moves on by one step (PyTorch's `scheduler.step()`).
    pub fn advance(&mut self) {
        self.steps += 1;
        let t = self.steps;
        match self.schedule {
            Schedule::Constant => {}
            Schedule::Step { step_size, gamma } => {
                if t % step_size == 0 {
                    self.current *= gamma;
                }
            }
            Schedule::Cosine { t_max, eta_min } => {
                let period = t_max as f64;
                let t_f = t as f64;
                self.current = if (t as i128 - 1 - t_max as i128).rem_euclid(2 * t_max as i128) == 0
                {
                    self.current
                        + (self.initial - eta_min) * (1.0 - (std::f64::consts::PI / period).cos())
                            / 2.0
                } else {
                    (1.0 + (std::f64::consts::PI * t_f / period).cos())
                        / (1.0 + (std::f64::consts::PI * (t_f - 1.0) / period).cos())
                        * (self.current - eta_min)
                        + eta_min
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(schedule: Schedule, steps: usize) -> Vec<f64> {
        let mut lr = LearningRate::new(0.5, schedule).unwrap();
        (0..steps)
            .map(|_| {
                let now = lr.current;
                lr.advance();
                now
            })
            .collect()
    }

    #[test]
    fn step_decays_by_gamma_every_step_size_steps() {
        let r = rates(
            Schedule::Step {
                step_size: 2,
                gamma: 0.1,
            },
            5,
        );
        let expected = [0.5, 0.5, 0.05, 0.05, 0.005];
        for (a, e) in r.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{r:?}");
        }
        assert_eq!(rates(Schedule::Constant, 3), [0.5; 3]);
    }

    /// The recursive form equals the closed form, reaches `eta_min` at `t_max` and comes back
    /// up over the next half period, as PyTorch's does.
    #[test]
    fn cosine_follows_the_closed_form_over_two_periods() {
        let (t_max, eta_min) = (4, 0.1);
        let r = rates(Schedule::Cosine { t_max, eta_min }, 17);
        for (t, &a) in r.iter().enumerate() {
            let closed = eta_min
                + (0.5 - eta_min) * (1.0 + (std::f64::consts::PI * t as f64 / t_max as f64).cos())
                    / 2.0;
            assert!((a - closed).abs() < 1e-12, "step {t}: {a} vs {closed}");
        }
        assert!((r[4] - eta_min).abs() < 1e-12 && (r[8] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_new_rate_is_where_the_schedule_goes_on_from() {
        let mut lr = LearningRate::new(
            0.5,
            Schedule::Step {
                step_size: 2,
                gamma: 0.1,
            },
        )
        .unwrap();
        lr.advance();
        lr.set_current(0.2).unwrap();
        assert_eq!(lr.current(), 0.2);
        lr.advance();
        assert!((lr.current - 0.02).abs() < 1e-9, "{}", lr.current);
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let err = lr.set_current(bad).unwrap_err().to_string();
            assert!(err.contains("learningRate"), "{err}");
        }
        assert!(
            (lr.current - 0.02).abs() < 1e-9,
            "a refused rate changes nothing"
        );
    }

    #[test]
    fn rejects_bad_parameters_by_name() {
        for (schedule, word) in [
            (
                Schedule::Step {
                    step_size: 0,
                    gamma: 0.1,
                },
                "stepSize",
            ),
            (
                Schedule::Step {
                    step_size: 1,
                    gamma: -1.0,
                },
                "gamma",
            ),
            (
                Schedule::Cosine {
                    t_max: 0,
                    eta_min: 0.0,
                },
                "tMax",
            ),
            (
                Schedule::Cosine {
                    t_max: 3,
                    eta_min: f64::NAN,
                },
                "etaMin",
            ),
        ] {
            let err = LearningRate::new(0.1, schedule).unwrap_err().to_string();
            assert!(err.contains(word), "{err}");
        }
    }
}
