//! Calibration maps: fitted on validation logits after a head is trained, so that
//! a probability of 0.8 means right about eight times in ten. Corpus-level shares
//! estimated from probabilities (quantification) need this more than labels do.
//!
//! A single-label head's scores become one distribution over its classes: by
//! temperature (one number; the ranking of classes never changes), or, as
//! scikit-learn's `CalibratedClassifierCV` does for several classes, by a Platt
//! or isotonic map per class, one-vs-rest, renormalised to sum to 1. A
//! multi-label head's labels are separate yes/no questions: each label gets its
//! own Platt or isotonic map and nothing is renormalised.

pub mod bias_temperature;
pub mod isotonic;
pub mod platt;
pub mod temperature;

use crate::data::Task;
use crate::metrics::calibration::{scores, Reliability, Scores};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Which map `emo train --calibration` fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Temperature,
    Platt,
    Isotonic,
    /// No map: softmax (single-label) or sigmoid (multi-label) of the logits.
    None,
}

impl Kind {
    /// What a task gets unless asked otherwise: temperature scaling for a
    /// softmax head (Guo et al. 2017: one parameter, cannot overfit a rare
    /// class, keeps the ranking), Platt per label for a multi-label head (each
    /// label's sigmoid is off by its own slope and offset).
    pub fn default_for(task: Task) -> Kind {
        match task {
            Task::SingleLabel => Kind::Temperature,
            Task::MultiLabel => Kind::Platt,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Temperature => "temperature",
            Kind::Platt => "platt",
            Kind::Isotonic => "isotonic",
            Kind::None => "none",
        }
    }
}

/// A fitted map, as a saved model keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Calibrator {
    /// softmax(z / t).
    Temperature { t: f64 },
    /// Per class: 1 / (1 + exp(a·z + b)).
    Platt { a: Vec<f64>, b: Vec<f64> },
    /// Per class: a non-decreasing step map, linear between its knots.
    Isotonic { maps: Vec<isotonic::Isotonic> },
}

/// Probabilities of `logits` (`n × c`, row-major) with no map: softmax rows
/// for a single-label head, per-label sigmoids for a multi-label one.
pub fn raw(task: Task, logits: &[f64], c: usize) -> Vec<f64> {
    match task {
        Task::SingleLabel => temperature::Temperature { t: 1.0 }.probabilities(logits, c),
        Task::MultiLabel => logits.iter().map(|&z| platt::sigmoid(z)).collect(),
    }
}

impl Calibrator {
    /// Fits `kind` to validation `logits` (`n × c`) and `truth` (`n × c`, whether
    /// each text carries each class; single-label: one per row). `None` for
    /// [`Kind::None`]. Temperature is a softmax map and is refused for a
    /// multi-label head.
    pub fn fit(
        kind: Kind,
        task: Task,
        logits: &[f64],
        c: usize,
        truth: &[bool],
    ) -> Result<Option<Calibrator>> {
        assert_eq!(logits.len(), truth.len(), "one truth per logit");
        let column = |k: usize| -> (Vec<f64>, Vec<bool>) {
            (
                logits.iter().skip(k).step_by(c).copied().collect(),
                truth.iter().skip(k).step_by(c).copied().collect(),
            )
        };
        Ok(Some(match kind {
            Kind::None => return Ok(None),
            Kind::Temperature => {
                if task == Task::MultiLabel {
                    bail!("temperature scaling calibrates a softmax; a multi-label model takes --calibration platt or isotonic");
                }
                let labels: Vec<usize> = truth
                    .chunks(c)
                    .map(|row| row.iter().position(|&t| t).expect("one class per text"))
                    .collect();
                Calibrator::Temperature {
                    t: temperature::fit(logits, c, &labels).t,
                }
            }
            Kind::Platt => {
                let (a, b) = (0..c)
                    .map(|k| {
                        let (s, o) = column(k);
                        let m = platt::fit(&s, &o);
                        (m.a, m.b)
                    })
                    .unzip();
                Calibrator::Platt { a, b }
            }
            Kind::Isotonic => Calibrator::Isotonic {
                maps: (0..c)
                    .map(|k| {
                        let (s, o) = column(k);
                        isotonic::fit(&s, &o)
                    })
                    .collect(),
            },
        }))
    }

    pub fn kind(&self) -> Kind {
        match self {
            Calibrator::Temperature { .. } => Kind::Temperature,
            Calibrator::Platt { .. } => Kind::Platt,
            Calibrator::Isotonic { .. } => Kind::Isotonic,
        }
    }

    /// Classes the map was fitted for (`None`: temperature, any number).
    pub fn classes(&self) -> Option<usize> {
        match self {
            Calibrator::Temperature { .. } => None,
            Calibrator::Platt { a, b } => Some(a.len().min(b.len())),
            Calibrator::Isotonic { maps } => Some(maps.len()),
        }
    }

    /// Refuses a map that cannot be what a model of `task` with `c` classes
    /// saved (a hand-edited or damaged manifest): a wrong class count, a
    /// temperature that is not a positive number, knots out of order.
    pub fn validate(&self, task: Task, c: usize) -> std::result::Result<(), String> {
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        match self {
            Calibrator::Temperature { t } => {
                if task == Task::MultiLabel {
                    return Err("temperature scaling is for single-label models".into());
                }
                if !(t.is_finite() && *t > 0.0) {
                    return Err(format!("temperature {t} is not a positive number"));
                }
            }
            Calibrator::Platt { a, b } => {
                if a.len() != c || b.len() != c {
                    return Err(format!(
                        "{} and {} Platt parameters for {c} labels",
                        a.len(),
                        b.len()
                    ));
                }
                if !finite(a) || !finite(b) {
                    return Err("a Platt parameter is not a number".into());
                }
            }
            Calibrator::Isotonic { maps } => {
                if maps.len() != c {
                    return Err(format!("{} isotonic maps for {c} labels", maps.len()));
                }
                for (k, m) in maps.iter().enumerate() {
                    let ordered =
                        m.x.windows(2).all(|w| w[0] < w[1]) && m.y.windows(2).all(|w| w[0] <= w[1]);
                    let probabilities = m.y.iter().all(|p| (0.0..=1.0).contains(p));
                    if m.x.is_empty()
                        || m.x.len() != m.y.len()
                        || !finite(&m.x)
                        || !ordered
                        || !probabilities
                    {
                        return Err(format!(
                            "isotonic map {k} is not an increasing map to [0, 1]"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Calibrated probabilities of `logits` (`n × c`, row-major) for a head of
    /// `task`: rows summing to 1 for single-label, per-label for multi-label.
    pub fn probabilities(&self, task: Task, logits: &[f64], c: usize) -> Vec<f64> {
        let per_class = |f: &dyn Fn(usize, f64) -> f64| -> Vec<f64> {
            let mut p: Vec<f64> = logits
                .iter()
                .enumerate()
                .map(|(i, &z)| f(i % c, z))
                .collect();
            if task == Task::SingleLabel {
                normalise(&mut p, c);
            }
            p
        };
        match self {
            Calibrator::Temperature { t } => {
                temperature::Temperature { t: *t }.probabilities(logits, c)
            }
            Calibrator::Platt { a, b } => {
                per_class(&|k, z| platt::Platt { a: a[k], b: b[k] }.probability(z))
            }
            Calibrator::Isotonic { maps } => per_class(&|k, z| maps[k].probability(z)),
        }
    }
}

/// A map judged on labelled texts it was not fitted on: the scores and
/// reliability curves of the head's own probabilities and of the map's.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub kind: Kind,
    pub before: Scores,
    pub after: Scores,
    pub curve_before: Reliability,
    pub curve_after: Reliability,
}

impl Assessment {
    /// `raw` and `calibrated`: row-major `n × c` probabilities of the same
    /// texts, whose labels are `truth`.
    pub fn measure(
        kind: Kind,
        task: Task,
        raw: &[f64],
        calibrated: &[f64],
        truth: &[bool],
        c: usize,
    ) -> Assessment {
        let (before, curve_before) = scores(task, raw, truth, c);
        let (after, curve_after) = scores(task, calibrated, truth, c);
        Assessment {
            kind,
            before,
            after,
            curve_before,
            curve_after,
        }
    }
}

/// One-vs-rest probabilities to one distribution per row, as scikit-learn
/// does: divided by their sum, or uniform where every class got 0; a value
/// rounding just above 1 is 1.
fn normalise(p: &mut [f64], c: usize) {
    for row in p.chunks_mut(c) {
        let sum: f64 = row.iter().sum();
        for v in row.iter_mut() {
            *v = if sum != 0.0 { *v / sum } else { 1.0 / c as f64 };
            if *v > 1.0 && *v <= 1.0 + 1e-5 {
                *v = 1.0;
            }
        }
    }
}

/// Applies the model's map, or none (`calibrator` absent or `raw` asked for).
pub fn probabilities(
    calibrator: Option<&Calibrator>,
    task: Task,
    logits: &[f64],
    c: usize,
) -> Vec<f64> {
    match calibrator {
        Some(m) => m.probabilities(task, logits, c),
        None => raw(task, logits, c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_is_refused_for_multi_label_and_none_fits_nothing() {
        let z = [1.0, -1.0, -2.0, 2.0];
        let truth = [true, false, false, true];
        assert!(Calibrator::fit(Kind::Temperature, Task::MultiLabel, &z, 2, &truth).is_err());
        assert!(
            Calibrator::fit(Kind::None, Task::SingleLabel, &z, 2, &truth)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn single_label_rows_sum_to_one_whatever_the_map() {
        let z = [2.0, 0.5, -1.0, 0.1, 1.5, 0.3, -0.5, 0.2, 2.5, 1.0, 1.1, 0.9];
        let truth = [
            true, false, false, false, true, false, false, false, true, true, false, false,
        ];
        for kind in [Kind::Temperature, Kind::Platt, Kind::Isotonic] {
            let m = Calibrator::fit(kind, Task::SingleLabel, &z, 3, &truth)
                .unwrap()
                .unwrap();
            assert_eq!(m.validate(Task::SingleLabel, 3), Ok(()));
            for row in m.probabilities(Task::SingleLabel, &z, 3).chunks(3) {
                assert!(
                    (row.iter().sum::<f64>() - 1.0).abs() < 1e-12,
                    "{kind:?}: {row:?}"
                );
            }
        }
    }

    #[test]
    fn a_damaged_map_is_refused() {
        let bad = Calibrator::Platt {
            a: vec![-1.0],
            b: vec![0.0, 0.0],
        };
        assert!(bad.validate(Task::MultiLabel, 2).is_err());
        let bad = Calibrator::Temperature { t: -1.0 };
        assert!(bad.validate(Task::SingleLabel, 2).is_err());
        let bad = Calibrator::Isotonic {
            maps: vec![isotonic::Isotonic {
                x: vec![1.0, 0.0],
                y: vec![0.0, 1.0],
            }],
        };
        assert!(bad.validate(Task::MultiLabel, 1).is_err());
    }
}
