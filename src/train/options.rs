//! The options of a [`super::trainer::Trainer`], read from JavaScript or JSON in camelCase, and
//! their checks.
//!
//! Defaults are PyTorch's: `torch.optim.SGD(lr=0.01, momentum=0, weight_decay=0,
//! nesterov=False)`, `torch.optim.Adam(betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
//! amsgrad=False)`, `torch.optim.AdamW(..., weight_decay=0.01)`, `StepLR(gamma=0.1)`,
//! `CosineAnnealingLR(eta_min=0)`. An option of another optimiser or schedule than the chosen
//! one is an error naming both, so a misspelt choice is not silently ignored; so is a schedule
//! without its required length (`stepSize`, `tMax`).

use super::adam::AdamOptions;
use super::loss::Loss;
use super::optimizer::{OptimizerKind, OptimizerOptions};
use super::penalty::Penalty;
use super::schedule::{Schedule, ScheduleKind};
use super::sgd::SgdOptions;
use crate::error::{Error, Result};

/// Options of a [`super::trainer::Trainer`]: the optimiser's, the loss and penalties, the
/// learning-rate schedule, the minibatch size and the shuffling seed. An absent optional field
/// takes its default for the chosen optimiser or schedule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainerOptions {
    /// Initial step size. Default 0.01.
    pub learning_rate: f32,
    /// SGD momentum in `[0, 1)`. Default 0.
    pub momentum: Option<f32>,
    /// Weight decay `>= 0`: added to the gradient for sgd and adam, decoupled for adamw.
    /// Default 0 (sgd, adam) or 0.01 (adamw).
    pub weight_decay: Option<f32>,
    /// SGD Nesterov momentum. Default false.
    pub nesterov: Option<bool>,
    /// Samples per minibatch of [`super::trainer::Trainer::train`], `1..=MAX_BATCH`. Default 32.
    pub batch_size: usize,
    /// Seed of the minibatch order. Default 0.
    pub seed: u64,
    /// The optimiser. Default sgd.
    pub optimizer: OptimizerKind,
    /// Adam's first-moment decay in `[0, 1)`. Default 0.9.
    pub beta1: Option<f32>,
    /// Adam's second-moment decay in `[0, 1)`. Default 0.999.
    pub beta2: Option<f32>,
    /// Adam's denominator term `>= 0`. Default 1e-8.
    pub epsilon: Option<f32>,
    /// Adam's AMSGrad variant. Default false.
    pub amsgrad: Option<bool>,
    /// The loss. Default crossEntropy.
    pub loss: Loss,
    /// The rate of the L1 penalty on the weights, `>= 0`. Default 0.
    pub l1: f32,
    /// The rate of the L2 penalty `½ Σ w²` on the weights, `>= 0`. Default 0.
    pub l2: f32,
    /// The learning-rate schedule. Default constant.
    pub schedule: ScheduleKind,
    /// Steps between decays of the step schedule, `>= 1`; required by it.
    pub step_size: Option<usize>,
    /// The step schedule's decay factor, positive. Default 0.1.
    pub gamma: Option<f32>,
    /// Steps of the cosine schedule's half period, `>= 1`; required by it.
    pub t_max: Option<usize>,
    /// The cosine schedule's smallest rate, `>= 0`. Default 0.
    pub eta_min: Option<f32>,
}

impl Default for TrainerOptions {
    fn default() -> Self {
        TrainerOptions {
            learning_rate: SgdOptions::default().learning_rate,
            momentum: None,
            weight_decay: None,
            nesterov: None,
            batch_size: 32,
            seed: 0,
            optimizer: OptimizerKind::Sgd,
            beta1: None,
            beta2: None,
            epsilon: None,
            amsgrad: None,
            loss: Loss::CrossEntropy,
            l1: 0.0,
            l2: 0.0,
            schedule: ScheduleKind::Constant,
            step_size: None,
            gamma: None,
            t_max: None,
            eta_min: None,
        }
    }
}

/// An error for an option given with a choice it does not apply to.
fn not_for(option: &str, value: impl std::fmt::Display, choice: &str, applies: &str) -> Error {
    Error::invalid(
        option,
        format!("{value} was given, but {option} applies to {applies} only, not to {choice}"),
    )
}

impl TrainerOptions {
    /// The optimiser's hyper-parameters, checked: options of the other optimiser family are
    /// errors, absent ones take PyTorch's defaults.
    pub fn optimizer_options(&self) -> Result<OptimizerOptions> {
        let kind = self.optimizer;
        let choice = format!("optimizer '{kind}'");
        let options = match kind {
            OptimizerKind::Sgd => {
                let adam_only = [
                    ("beta1", self.beta1.map(|v| v.to_string())),
                    ("beta2", self.beta2.map(|v| v.to_string())),
                    ("epsilon", self.epsilon.map(|v| v.to_string())),
                    ("amsgrad", self.amsgrad.map(|v| v.to_string())),
                ];
                if let Some((name, Some(value))) = adam_only.into_iter().find(|(_, v)| v.is_some())
                {
                    return Err(not_for(
                        name,
                        value,
                        &choice,
                        "optimizers 'adam' and 'adamw'",
                    ));
                }
                let defaults = SgdOptions::default();
                let sgd = SgdOptions {
                    learning_rate: self.learning_rate,
                    momentum: self.momentum.unwrap_or(defaults.momentum),
                    weight_decay: self.weight_decay.unwrap_or(defaults.weight_decay),
                    nesterov: self.nesterov.unwrap_or(defaults.nesterov),
                };
                sgd.validate()?;
                OptimizerOptions::Sgd(sgd)
            }
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                if let Some(momentum) = self.momentum {
                    return Err(not_for("momentum", momentum, &choice, "optimizer 'sgd'"));
                }
                if let Some(nesterov) = self.nesterov {
                    return Err(not_for("nesterov", nesterov, &choice, "optimizer 'sgd'"));
                }
                let decoupled = kind == OptimizerKind::AdamW;
                let adam = AdamOptions {
                    learning_rate: self.learning_rate,
                    beta1: self.beta1.unwrap_or(0.9),
                    beta2: self.beta2.unwrap_or(0.999),
                    epsilon: self.epsilon.unwrap_or(1e-8),
                    weight_decay: self
                        .weight_decay
                        .unwrap_or(if decoupled { 0.01 } else { 0.0 }),
                    amsgrad: self.amsgrad.unwrap_or(false),
                    decoupled,
                };
                adam.validate()?;
                OptimizerOptions::Adam(adam)
            }
        };
        Ok(options)
    }

    /// The learning-rate schedule, checked: options of another schedule are errors, a missing
    /// length is an error, absent ones take PyTorch's defaults.
    pub fn schedule(&self) -> Result<Schedule> {
        let kind = self.schedule;
        let choice = format!("schedule '{kind}'");
        let step_only = [
            ("stepSize", self.step_size.map(|v| v.to_string())),
            ("gamma", self.gamma.map(|v| v.to_string())),
        ];
        let cosine_only = [
            ("tMax", self.t_max.map(|v| v.to_string())),
            ("etaMin", self.eta_min.map(|v| v.to_string())),
        ];
        let misplaced = |options: [(&'static str, Option<String>); 2], applies: &str| match options
            .into_iter()
            .find(|(_, v)| v.is_some())
        {
            Some((name, Some(value))) => Err(not_for(name, value, &choice, applies)),
            _ => Ok(()),
        };
        if kind != ScheduleKind::Step {
            misplaced(step_only, "schedule 'step'")?;
        }
        if kind != ScheduleKind::Cosine {
            misplaced(cosine_only, "schedule 'cosine'")?;
        }
        let required = |name: &str, value: Option<usize>| {
            value.ok_or_else(|| {
                Error::invalid(
                    name,
                    format!("none given; {choice} needs {name}, a number of steps >= 1"),
                )
            })
        };
        let schedule = match kind {
            ScheduleKind::Constant => Schedule::Constant,
            ScheduleKind::Step => Schedule::Step {
                step_size: required("stepSize", self.step_size)?,
                gamma: f64::from(self.gamma.unwrap_or(0.1)),
            },
            ScheduleKind::Cosine => Schedule::Cosine {
                t_max: required("tMax", self.t_max)?,
                eta_min: f64::from(self.eta_min.unwrap_or(0.0)),
            },
        };
        schedule.validate()?;
        Ok(schedule)
    }

    /// The penalty rates, checked.
    pub fn penalty(&self) -> Result<Penalty> {
        let penalty = Penalty {
            l1: self.l1,
            l2: self.l2,
        };
        penalty.validate()?;
        Ok(penalty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(options: TrainerOptions) -> String {
        options
            .optimizer_options()
            .and(options.schedule())
            .and(options.penalty())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_are_pytorchs_per_optimizer() {
        let adam = |optimizer| match (TrainerOptions {
            optimizer,
            ..TrainerOptions::default()
        })
        .optimizer_options()
        .unwrap()
        {
            OptimizerOptions::Adam(o) => o,
            other => panic!("{other:?}"),
        };
        let (a, w) = (adam(OptimizerKind::Adam), adam(OptimizerKind::AdamW));
        assert_eq!(
            (a.beta1, a.beta2, a.epsilon, a.amsgrad, a.weight_decay),
            (0.9, 0.999, 1e-8, false, 0.0)
        );
        assert_eq!(
            (w.weight_decay, w.decoupled, a.decoupled),
            (0.01, true, false)
        );
        assert_eq!(
            TrainerOptions::default().optimizer_options().unwrap(),
            OptimizerOptions::Sgd(SgdOptions::default())
        );
        let step: TrainerOptions =
            serde_json::from_str(r#"{"schedule":"step","stepSize":3}"#).unwrap();
        assert_eq!(
            step.schedule().unwrap(),
            Schedule::Step {
                step_size: 3,
                gamma: f64::from(0.1f32)
            }
        );
    }

    #[test]
    fn every_bad_option_is_named_with_its_value_and_what_is_expected() {
        let json = |text: &str| -> TrainerOptions { serde_json::from_str(text).unwrap() };
        for (text, expected) in [
            (
                r#"{"optimizer":"adam","momentum":0.9}"#,
                "invalid momentum: 0.9 was given, but momentum applies to optimizer 'sgd' only, \
                 not to optimizer 'adam'",
            ),
            (
                r#"{"optimizer":"adamw","nesterov":false}"#,
                "invalid nesterov: false was given, but nesterov applies to optimizer 'sgd' only, \
                 not to optimizer 'adamw'",
            ),
            (
                r#"{"beta2":0.99}"#,
                "invalid beta2: 0.99 was given, but beta2 applies to optimizers 'adam' and \
                 'adamw' only, not to optimizer 'sgd'",
            ),
            (r#"{"amsgrad":true}"#, "invalid amsgrad: true was given"),
            (
                r#"{"optimizer":"adam","beta1":1}"#,
                "invalid beta1: 1 is outside [0, 1)",
            ),
            (
                r#"{"optimizer":"adam","epsilon":-1e-8}"#,
                "invalid epsilon: -0.00000001 is not a finite number >= 0",
            ),
            (
                r#"{"optimizer":"adamw","weightDecay":-0.5}"#,
                "invalid weightDecay: -0.5 is not a finite number >= 0",
            ),
            (r#"{"l2":-2}"#, "invalid l2: -2 is not a finite number >= 0"),
            (
                r#"{"gamma":0.5}"#,
                "invalid gamma: 0.5 was given, but gamma applies to schedule 'step' only, not to \
                 schedule 'constant'",
            ),
            (
                r#"{"schedule":"step","stepSize":2,"tMax":9}"#,
                "invalid tMax: 9 was given, but tMax applies to schedule 'cosine' only, not to \
                 schedule 'step'",
            ),
            (
                r#"{"schedule":"cosine"}"#,
                "invalid tMax: none given; schedule 'cosine' needs tMax, a number of steps >= 1",
            ),
            (
                r#"{"schedule":"step"}"#,
                "invalid stepSize: none given; schedule 'step' needs stepSize",
            ),
            (
                r#"{"schedule":"cosine","tMax":0}"#,
                "invalid tMax: 0 is not a number of steps >= 1",
            ),
            (
                r#"{"schedule":"step","stepSize":2,"gamma":0}"#,
                "invalid gamma: 0 is not a positive finite number",
            ),
            (
                r#"{"schedule":"cosine","tMax":5,"etaMin":-1}"#,
                "invalid etaMin: -1 is not a finite number >= 0",
            ),
        ] {
            let err = error(json(text));
            assert!(err.starts_with(expected), "{text}: {err}");
        }
        for (text, expected) in [
            (
                r#"{"optimizer":"adagrad"}"#,
                "unknown optimizer 'adagrad'; expected one of: sgd, adam, adamw",
            ),
            (
                r#"{"loss":"hinge"}"#,
                "unknown loss 'hinge'; expected one of: crossEntropy, mse, bce",
            ),
            (
                r#"{"schedule":"linear"}"#,
                "unknown learning-rate schedule 'linear'; expected one of: constant, step, cosine",
            ),
        ] {
            let err = serde_json::from_str::<TrainerOptions>(text)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{text}: {err}");
        }
    }
}
