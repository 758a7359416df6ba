//! What a report concludes, computed once from the study's predictions: the
//! method validation recommends (and by how much), and the bootstrap intervals
//! of every test number. Writers only format these.

use super::Study;
use crate::metrics::{thirds, Stat};
use crate::uncertainty::{bootstrap, Input, Interval, MethodIntervals};
use serde::Serialize;

/// The method chosen on validation: by `by`, its mean over seeds, against the
/// runner-up, with the interval of the margin (a paired bootstrap of the
/// validation rows). Test data never enters the choice.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub method: &'static str,
    pub by: Stat,
    pub validation: f64,
    pub runner_up: Option<RunnerUp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunnerUp {
    pub method: &'static str,
    pub validation: f64,
    /// Recommended minus runner-up on validation; `None` without bootstrap.
    pub margin: Option<Interval>,
}

/// Everything a report concludes beyond the raw metrics.
pub struct Analysis {
    pub recommendation: Option<Recommendation>,
    /// Test intervals per method (study order); `None` with `--bootstrap 0`.
    pub intervals: Option<Vec<MethodIntervals>>,
    /// Index of the method differences are taken against (`ib`), if present.
    pub baseline: Option<usize>,
    pub resamples: usize,
    pub seed: u64,
    /// The most and least frequent third of the classes by training count.
    pub frequent: Vec<usize>,
    pub rare: Vec<usize>,
}

/// Classes with fewer test examples than this get their per-class numbers
/// flagged as unreliable: one example moves their recall by 5 points or more.
pub const FEW_TEST_EXAMPLES: usize = 20;

impl Analysis {
    /// Selects on validation by `select`, then bootstraps the test rows
    /// `resamples` times (0: no intervals) with `seed`.
    pub fn of(study: &Study, select: Stat, resamples: usize, seed: u64) -> Analysis {
        let (frequent, rare) = thirds(&study.train_counts);
        let baseline = study.methods.iter().position(|m| m.name == "ib");
        let runs = |i: usize, validation: bool| -> Vec<&[usize]> {
            study.methods[i]
                .runs
                .iter()
                .map(|r| {
                    if validation {
                        r.validation_predictions.as_slice()
                    } else {
                        r.test_predictions.as_slice()
                    }
                })
                .collect()
        };
        let intervals = (resamples > 0).then(|| {
            bootstrap(
                &Input {
                    labels: &study.test_labels,
                    n_classes: study.classes.len(),
                    methods: (0..study.methods.len()).map(|i| runs(i, false)).collect(),
                    rare: &rare,
                    baseline,
                    present_only: false,
                },
                resamples,
                seed,
            )
        });
        let recommendation = recommend(study, select, &rare).map(|(best, second)| {
            let m = &study.methods[best];
            Recommendation {
                method: m.name,
                by: select,
                validation: validation_score(study, best, select, &rare),
                runner_up: second.map(|s| RunnerUp {
                    method: study.methods[s].name,
                    validation: validation_score(study, s, select, &rare),
                    margin: (resamples > 0).then(|| {
                        bootstrap(
                            &Input {
                                labels: &study.validation_labels,
                                n_classes: study.classes.len(),
                                methods: vec![runs(s, true), runs(best, true)],
                                rare: &rare,
                                baseline: Some(0),
                                present_only: true,
                            },
                            resamples,
                            seed,
                        )[1]
                        .diff(select)
                        .expect("a baseline was given")
                    }),
                }),
            }
        });
        Analysis {
            recommendation,
            intervals,
            baseline,
            resamples,
            seed,
            frequent,
            rare,
        }
    }

    /// The intervals of the method at `index`, if bootstrapped.
    pub fn method(&self, index: usize) -> Option<&MethodIntervals> {
        self.intervals.as_ref().map(|v| &v[index])
    }
}

/// Mean over seeds of a method's validation score; NaN counts as the worst.
fn validation_score(study: &Study, i: usize, s: Stat, rare: &[usize]) -> f64 {
    let runs = &study.methods[i].runs;
    runs.iter()
        .map(|r| s.value(&r.validation, rare, true))
        .sum::<f64>()
        / runs.len() as f64
}

/// Indices of the best and second-best methods by validation score; the
/// earlier method in the study wins a tie.
fn recommend(study: &Study, s: Stat, rare: &[usize]) -> Option<(usize, Option<usize>)> {
    if study.validation_labels.is_empty() {
        return None;
    }
    let mut ranked: Vec<(usize, f64)> = (0..study.methods.len())
        .map(|i| {
            let v = validation_score(study, i, s, rare);
            (i, if v.is_nan() { f64::NEG_INFINITY } else { v })
        })
        .collect();
    ranked.sort_by(|a, b| b.1.partial_cmp(&a.1).expect("no NaN").then(a.0.cmp(&b.0)));
    ranked
        .first()
        .map(|&(best, _)| (best, ranked.get(1).map(|&(i, _)| i)))
}
