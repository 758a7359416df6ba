//! Quantification: how many texts of a corpus carry each emotion, estimated
//! from a model's outputs and corrected for what validation says about its
//! errors, rather than counted from its labels.
//!
//! A single-label model is one problem over its `C` classes (the shares sum
//! to 1); a multi-label model is `C` yes/no problems, one per label (each
//! share is that label's prevalence). Decided once here, by the model's task;
//! the estimators in [`estimators`] see only problems.
//!
//! Intervals come from a Poisson bootstrap (each text counted Poisson(1) times
//! in each replicate; Hanley & MacGibbon 2006) over both the corpus and the
//! validation texts the adjustments are learnt from, so that the interval
//! carries the uncertainty of the misclassification rates too. SLD reads no
//! misclassification rates, only the mix its probabilities were calibrated
//! for, which stays the whole validation set's: its intervals resample the
//! corpus. A text's
//! weights are drawn from its key (its id, or its line) and the replicate's
//! number alone, so the same texts get the same replicates however they are
//! read, in one pass or in parts.

pub mod estimators;
pub mod shift;
pub mod tally;

use crate::calibration::{
    self,
    bias_temperature::{self, BiasTemperature},
};
use crate::data::Task;
use crate::model::SavedModel;
use anyhow::Result;
use estimators::{Adjustment, Outputs, Sums};
use serde::{Deserialize, Serialize};
use tally::Corpus;

/// An estimator, as `emo quantify --method` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Classify and count: the share of texts given each label.
    Cc,
    /// Probabilistic classify and count: the mean calibrated probability.
    Pcc,
    /// Adjusted classify and count: counts corrected by validation's
    /// misclassification rates.
    Acc,
    /// Probabilistic adjusted classify and count.
    Pacc,
    /// Saerens–Latinne–Decaestecker expectation-maximisation.
    Sld,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Cc,
        Method::Pcc,
        Method::Acc,
        Method::Pacc,
        Method::Sld,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Cc => "cc",
            Method::Pcc => "pcc",
            Method::Acc => "acc",
            Method::Pacc => "pacc",
            Method::Sld => "sld",
        }
    }
}

/// The estimator `emo quantify` uses unless told: SLD, which the shift study
/// (docs/quantify.md) found closest to the true shares on shifted samples.
pub const DEFAULT_ESTIMATOR: Method = Method::Sld;

/// One problem's outputs on some texts: posteriors (`n × k`) and predictions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Problem {
    pub k: usize,
    pub posteriors: Vec<f64>,
    pub predicted: Vec<usize>,
}

impl Problem {
    fn outputs<'a>(&'a self, weights: Option<&'a [f64]>) -> Outputs<'a> {
        Outputs {
            k: self.k,
            posteriors: &self.posteriors,
            predicted: &self.predicted,
            weights,
        }
    }
}

/// What a model says of some texts, as quantification reads it: per text,
/// each label's calibrated probability and whether the model gives it the
/// label (single-label: its answer; multi-label: the label passes its own
/// threshold, whatever the no-label rule adds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Said {
    pub c: usize,
    pub probabilities: Vec<f64>,
    pub given: Vec<bool>,
}

impl Said {
    pub fn len(&self) -> usize {
        self.given.len() / self.c.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.given.is_empty()
    }

    /// From a head's logits (`n × c`): `posteriors` as quantification reads
    /// them, and what the model gives each text by its own map (`map`;
    /// single-label: its most probable class) or (multi-label) its
    /// thresholds on the raw sigmoids.
    fn new(
        task: Task,
        map: Option<&calibration::Calibrator>,
        thresholds: Option<&[f32]>,
        logits: &[f64],
        c: usize,
        posteriors: Vec<f64>,
    ) -> Said {
        let given = match task {
            Task::SingleLabel => calibration::probabilities(map, task, logits, c)
                .chunks(c)
                .flat_map(|p| {
                    let best = (0..c)
                        .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
                        .expect("at least two labels");
                    (0..c).map(move |k| k == best)
                })
                .collect(),
            Task::MultiLabel => {
                let t = thresholds.expect("a multi-label head has thresholds");
                logits
                    .iter()
                    .enumerate()
                    .map(|(i, &z)| calibration::platt::sigmoid(z) as f32 >= t[i % c])
                    .collect()
            }
        };
        Said {
            c,
            probabilities: posteriors,
            given,
        }
    }

    /// Keeps the rows `rows`, in that order.
    pub fn rows(&self, rows: &[usize]) -> Said {
        let c = self.c;
        Said {
            c,
            probabilities: rows
                .iter()
                .flat_map(|&r| self.probabilities[r * c..(r + 1) * c].iter().copied())
                .collect(),
            given: rows
                .iter()
                .flat_map(|&r| self.given[r * c..(r + 1) * c].iter().copied())
                .collect(),
        }
    }

    /// Label `k`'s yes/no problem.
    fn label_problem(&self, k: usize) -> Problem {
        let c = self.c;
        Problem {
            k: 2,
            posteriors: self
                .probabilities
                .iter()
                .skip(k)
                .step_by(c)
                .flat_map(|&p| [1.0 - p, p])
                .collect(),
            predicted: self
                .given
                .iter()
                .skip(k)
                .step_by(c)
                .map(|&g| usize::from(g))
                .collect(),
        }
    }

    /// The problems of `task`: one over all labels, or one per label.
    fn problems(&self, task: Task) -> Vec<Problem> {
        let c = self.c;
        match task {
            Task::SingleLabel => vec![Problem {
                k: c,
                posteriors: self.probabilities.clone(),
                predicted: self
                    .given
                    .chunks(c)
                    .map(|g| g.iter().position(|&x| x).unwrap_or(0))
                    .collect(),
            }],
            Task::MultiLabel => (0..c).map(|k| self.label_problem(k)).collect(),
        }
    }
}

/// What a model learnt from validation for quantifying: per problem, its
/// outputs on the validation texts and their true classes.
pub struct Quantifier {
    pub task: Task,
    pub labels: Vec<String>,
    /// The model's own map and thresholds: what it gives each text.
    map: Option<calibration::Calibrator>,
    thresholds: Option<Vec<f32>>,
    /// Single-label: the posteriors the estimators read, bias-corrected
    /// temperature scaling fitted on validation ([`bias_temperature`]);
    /// multi-label models' Platt maps already carry each label's offset.
    posteriors: Option<BiasTemperature>,
    validation: Vec<(Problem, Vec<usize>)>,
    /// Each problem's validation class mix, unweighted: SLD's prior in every
    /// bootstrap replicate, so computed once here.
    priors: Vec<Vec<f64>>,
}

/// A label's estimated share with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    pub share: f64,
    pub low: f64,
    pub high: f64,
}

impl Quantifier {
    /// From a saved model's validation outputs; refused (exit 2) for a model
    /// saved before emo kept them.
    pub fn of(model: &SavedModel, dir: &std::path::Path) -> Result<Quantifier> {
        let m = &model.manifest;
        let v = model.validation.as_ref().ok_or_else(|| {
            crate::input_error!(
                "{}: the model keeps no validation outputs (an emo older than quantification saved it); train it again to quantify with it",
                dir.display()
            )
        })?;
        let logits: Vec<f64> = v.logits.iter().map(|&z| f64::from(z)).collect();
        Ok(Quantifier::fit(
            m.task,
            m.labels.clone(),
            m.calibration.clone(),
            m.threshold_values(),
            &logits,
            &v.truth,
        ))
    }

    /// From a head's validation logits (`n × C`) and labels (`n × C`), its
    /// calibration map and (multi-label) its thresholds.
    pub fn fit(
        task: Task,
        labels: Vec<String>,
        map: Option<calibration::Calibrator>,
        thresholds: Option<Vec<f32>>,
        logits: &[f64],
        truth: &[bool],
    ) -> Quantifier {
        let c = labels.len();
        // Each problem's true classes: the truth read as if a model had said it.
        let per_problem: Vec<Vec<usize>> = Said {
            c,
            probabilities: vec![0.0; truth.len()],
            given: truth.to_vec(),
        }
        .problems(task)
        .into_iter()
        .map(|p| p.predicted)
        .collect();
        let posteriors = (task == Task::SingleLabel && !truth.is_empty())
            .then(|| bias_temperature::fit(logits, c, &per_problem[0]));
        let mut q = Quantifier {
            task,
            labels,
            map,
            thresholds,
            posteriors,
            validation: Vec::new(),
            priors: Vec::new(),
        };
        q.validation = q
            .said(logits)
            .problems(task)
            .into_iter()
            .zip(per_problem)
            .collect();
        q.priors = q
            .validation
            .iter()
            .map(|(valid, truth)| Adjustment::fit(valid.outputs(None), truth).prior)
            .collect();
        q
    }

    /// What quantification reads of texts whose logits (`n × C`) are these.
    pub fn said(&self, logits: &[f64]) -> Said {
        let c = self.labels.len();
        let posteriors = match &self.posteriors {
            Some(m) => m.probabilities(logits, c),
            None => calibration::probabilities(self.map.as_ref(), self.task, logits, c),
        };
        Said::new(
            self.task,
            self.map.as_ref(),
            self.thresholds.as_deref(),
            logits,
            c,
            posteriors,
        )
    }

    /// Validation texts the adjustments were learnt from.
    pub fn validation_texts(&self) -> usize {
        self.validation.first().map_or(0, |(_, t)| t.len())
    }

    /// Problem `p`'s mix in `corpus` by `method`, with validation counted with
    /// `valid_weights` (`None`: once each).
    fn solve(
        &self,
        method: Method,
        p: usize,
        corpus: Corpus,
        valid_weights: Option<&[f64]>,
    ) -> Vec<f64> {
        let (valid, truth) = &self.validation[p];
        let adjustment = || Adjustment::fit(valid.outputs(valid_weights), truth);
        let sums = || match &corpus {
            Corpus::Sums(s) => (*s).clone(),
            Corpus::Outputs(out) => Sums::of(*out),
        };
        match method {
            Method::Cc => sums().cc(),
            Method::Pcc => sums().pcc(),
            Method::Acc => sums().acc(&adjustment()),
            Method::Pacc => sums().pacc(&adjustment()),
            // SLD's prior is the mix the probabilities were calibrated for:
            // the whole validation set's, in every replicate. A replicate's
            // reweighted validation mix, beside probabilities calibrated on
            // the whole, would read as a shift that is not there (a rare
            // emotion drawn at a third of its count triples at each EM step).
            Method::Sld => match &corpus {
                Corpus::Outputs(out) => estimators::sld(*out, &self.priors[p]),
                Corpus::Sums(_) => unreachable!("an SLD tally keeps posteriors"),
            },
        }
    }

    /// The shares from each problem's mix (`of(p)`): a single-label model's
    /// one mix, or each label's "yes" share.
    fn answer(&self, of: impl Fn(usize) -> Vec<f64>) -> Vec<f64> {
        match self.task {
            Task::SingleLabel => of(0),
            Task::MultiLabel => (0..self.labels.len()).map(|p| of(p)[1]).collect(),
        }
    }

    /// How many times each validation text counts in replicate `b`.
    fn validation_weights(&self, seed: u64, b: u64) -> Vec<f64> {
        // Validation's keys live apart from the corpus's.
        (0..self.validation_texts() as u64)
            .map(|r| poisson_weight(seed ^ VALIDATION_STREAM, b, r))
            .collect()
    }

    /// One label's share (multi-label models: its own yes/no problem only),
    /// by `method`, with no interval: what the shift study asks per label.
    pub fn estimate_label(&self, method: Method, said: &Said, label: usize) -> f64 {
        let (problem, p) = match self.task {
            Task::SingleLabel => (said.problems(self.task).swap_remove(0), 0),
            Task::MultiLabel => (said.label_problem(label), label),
        };
        self.solve(method, p, Corpus::Outputs(problem.outputs(None)), None)[1]
    }

    /// Each label's share in the texts of `said` (keys: one per text, what
    /// its bootstrap weights are drawn from), by `method`, with a 95%
    /// interval from `resamples` Poisson-bootstrap replicates (0: none): the
    /// tally of the whole, estimated.
    pub fn estimate(
        &self,
        method: Method,
        said: &Said,
        keys: &[u64],
        resamples: usize,
        seed: u64,
    ) -> Vec<Share> {
        self.shares(&self.tally(method, said, keys, resamples, seed, None))
    }
}

/// Keeps the validation texts' bootstrap weights apart from the corpus's.
const VALIDATION_STREAM: u64 = 0x5641_4c49_4441_5445;

/// A text's key from its id (or, without one, its line number).
pub fn key_of(id: Option<&str>, line: usize) -> u64 {
    match id {
        Some(id) => splitmix(id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })),
        None => splitmix(line as u64 ^ 0x4c49_4e45),
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How many times the text `key` counts in replicate `b`: Poisson(1), drawn by
/// inverting its distribution at a uniform made from (seed, b, key) alone.
pub fn poisson_weight(seed: u64, b: u64, key: u64) -> f64 {
    let u = (splitmix(splitmix(seed ^ b.wrapping_mul(0xd6e8_feb8_6659_fd93)) ^ key) >> 11) as f64
        / (1u64 << 53) as f64;
    // P(X ≤ j) for Poisson(1): e⁻¹ Σ_{i ≤ j} 1/i!.
    let mut term = (-1.0f64).exp();
    let mut cumulative = term;
    let mut j = 0.0;
    while u > cumulative && j < 20.0 {
        j += 1.0;
        term /= j;
        cumulative += term;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_weights_have_mean_and_variance_one_and_depend_on_the_key_only() {
        let w: Vec<f64> = (0..200_000u64).map(|k| poisson_weight(7, 3, k)).collect();
        let n = w.len() as f64;
        let mean = w.iter().sum::<f64>() / n;
        let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        assert!(
            (mean - 1.0).abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        assert_eq!(poisson_weight(7, 3, 42), w[42]);
        assert_ne!(
            (0..50)
                .map(|b| poisson_weight(7, b, 42))
                .collect::<Vec<_>>(),
            (0..50)
                .map(|b| poisson_weight(8, b, 42))
                .collect::<Vec<_>>()
        );
    }

    /// A corpus whose mix differs from validation's: the adjusted estimators
    /// land nearer the truth than counting, and the interval holds the point.
    #[test]
    fn adjusted_estimates_beat_counting_under_shift() {
        // A 2-class classifier right 80% of the time on either class, with
        // posteriors 0.8 / 0.2 (calibrated for a 50/50 validation).
        // Logits whose softmax is 0.8 / 0.2 toward the predicted class.
        let logits = |preds: &[usize]| -> Vec<f64> {
            preds
                .iter()
                .flat_map(|&p| {
                    if p == 0 {
                        [0.8f64.ln(), 0.2f64.ln()]
                    } else {
                        [0.2f64.ln(), 0.8f64.ln()]
                    }
                })
                .collect()
        };
        // Validation: 50 of each class, 40 of each predicted right.
        let mut vpred = Vec::new();
        let mut vtruth = Vec::new();
        for class in 0..2 {
            for i in 0..50 {
                vpred.push(if i < 40 { class } else { 1 - class });
                vtruth.extend([class == 0, class == 1]);
            }
        }
        let q = Quantifier::fit(
            Task::SingleLabel,
            vec!["a".into(), "b".into()],
            None,
            None,
            &logits(&vpred),
            &vtruth,
        );
        // Corpus: 90 of class 0, 10 of class 1 → predicted 0: 72 + 2 = 74.
        let mut cpred = vec![0; 72];
        cpred.extend(vec![1; 18]);
        cpred.extend(vec![1; 8]);
        cpred.extend(vec![0; 2]);
        let said = q.said(&logits(&cpred));
        let keys: Vec<u64> = (0..100).map(|i| key_of(None, i)).collect();
        let cc = q.estimate(Method::Cc, &said, &keys, 0, 0)[0].share;
        let acc = q.estimate(Method::Acc, &said, &keys, 200, 1)[0];
        assert!((cc - 0.74).abs() < 1e-12);
        assert!((acc.share - 0.9).abs() < 1e-9, "{acc:?}");
        assert!(
            acc.low <= acc.share && acc.share <= acc.high && acc.low < acc.high,
            "{acc:?}"
        );
        let sld = q.estimate(Method::Sld, &said, &keys, 0, 0)[0].share;
        assert!((sld - 0.9).abs() < (cc - 0.9).abs(), "SLD {sld} vs CC {cc}");
    }
}
