//! The report of a multi-label study: the same folder as a single-label one
//! (summary.md, metrics.json, predictions.csv, pictures, index.html), with what
//! multi-label answers need — metrics at the chosen per-class thresholds and at
//! the fixed 0.5 and 0.3, the thresholds themselves, which labels each method
//! predicts for each true label beside how the labels co-occur in training, and
//! micro- against macro-F1 as the trade-off. Built in a temporary folder and
//! moved into place when complete, as [`super::write`].

mod html;
mod json;
mod pictures;
mod summary;
pub mod verdict;

use super::Studied;
use super::Study;
use crate::data::{Label, LabelSet};
use crate::decision::{Threshold, WhenNonePasses};
use crate::metrics::multilabel::{MultiLabelMetrics, MultiStat};
use crate::metrics::{thirds, Stat};
use crate::uncertainty::{Input, Interval, MethodIntervals};
use anyhow::Result;
use std::path::Path;

/// What a multi-label run holds beyond [`super::Run`]'s common part: the
/// thresholds validation chose and the scores around them.
pub struct ThresholdFit {
    /// Per class, chosen on validation.
    pub thresholds: Vec<Threshold>,
    /// Validation macro-F1 held out from the thresholds: the mean over the two
    /// halves of validation of the macro-F1 on one half at thresholds chosen
    /// without it ([`crate::decision::pick_source`]). Thresholds fitted on all
    /// of validation flatter `validation`; this is what recommends a method.
    pub validation_score: f64,
    /// Test at every threshold 0.5 ([`crate::decision::FIXED`]).
    pub test_fixed: MultiLabelMetrics,
    /// Test at every threshold 0.3 ([`crate::decision::PAPER`]).
    pub test_paper: MultiLabelMetrics,
}

/// What multi-label training labels add to a report.
pub struct TrainingLabels {
    /// Training texts, those with no label, and those with two or more.
    pub texts: [usize; 3],
    /// `[a][b]`: training texts carrying both a and b (`[a][a]`: carrying a).
    pub cooccurrence: Vec<Vec<usize>>,
}

impl TrainingLabels {
    pub fn of(labels: &[LabelSet], n_classes: usize) -> TrainingLabels {
        let (texts, cooccurrence) = cooccurrence(labels, n_classes);
        TrainingLabels {
            texts,
            cooccurrence,
        }
    }
}

/// What is computed from the runs once, for every writer.
pub struct MultiAnalysis {
    /// The rarest third of the classes by training count.
    pub rare: Vec<usize>,
    /// The stage-1 head (`bce`) when it ran: differences are taken against it.
    pub baseline: Option<usize>,
    /// The method with the best mean held-out validation macro-F1
    /// ([`ThresholdFit::validation_score`]; test never chooses).
    pub recommended: Option<usize>,
    /// Per method; `None` when `--bootstrap 0`.
    pub intervals: Option<Vec<MethodIntervals<LabelSet>>>,
    pub resamples: usize,
}

impl MultiAnalysis {
    pub fn method(&self, m: usize) -> Option<&MethodIntervals<LabelSet>> {
        self.intervals.as_ref().map(|v| &v[m])
    }
}

/// Training texts, empty ones and ones with two or more labels, and the label
/// co-occurrence counts.
pub fn cooccurrence(labels: &[LabelSet], n_classes: usize) -> ([usize; 3], Vec<Vec<usize>>) {
    let mut co = vec![vec![0; n_classes]; n_classes];
    let (mut none, mut several) = (0, 0);
    for set in labels {
        none += set.is_empty() as usize;
        several += (set.len() > 1) as usize;
        for &a in set.classes() {
            for &b in set.classes() {
                co[a][b] += 1;
            }
        }
    }
    ([labels.len(), none, several], co)
}

impl Studied for LabelSet {
    type Metrics = MultiLabelMetrics;
    type Fit = ThresholdFit;
    type Rule = WhenNonePasses;
    type Analysis = MultiAnalysis;
    type Extra = TrainingLabels;

    fn headline(study: &Study<LabelSet>) -> Option<super::Headline> {
        let a = study.analysis();
        let index = a.recommended?;
        let m = &study.methods[index];
        let mean = m
            .spread_by(|r| MultiStat::MacroF1.value(&r.test, &a.rare))
            .0;
        Some(super::Headline {
            method: m.name,
            index,
            validation: m.spread_by(|r| r.fit.validation_score).0,
            test_macro_f1: a
                .method(index)
                .map(|iv| iv.stat(MultiStat::MacroF1))
                .unwrap_or(Interval::point(mean)),
        })
    }

    /// The recommended method is the one with the best held-out validation
    /// macro-F1 (multi-label studies choose by nothing else: `select` is
    /// macro-F1 here).
    fn analyse(study: &mut Study<LabelSet>, _: Stat, resamples: usize, seed: u64) {
        let rare = thirds(&study.train_counts).1;
        let baseline = study.methods.iter().position(|m| m.name == "bce");
        let recommended = (0..study.methods.len()).max_by(|&a, &b| {
            let v = |i: usize| study.methods[i].spread_by(|r| r.fit.validation_score).0;
            v(a).total_cmp(&v(b)).then(b.cmp(&a))
        });
        let intervals = (resamples > 0).then(|| {
            let input = Input {
                labels: &study.test_labels,
                n_classes: study.classes.len(),
                methods: study
                    .methods
                    .iter()
                    .map(|m| m.runs.iter().map(|r| &r.test_predictions[..]).collect())
                    .collect(),
                rare: &rare,
                baseline,
                present_only: false,
            };
            crate::uncertainty::bootstrap(&input, resamples, seed)
        });
        study.analysis = Some(MultiAnalysis {
            rare,
            baseline,
            recommended,
            intervals,
            resamples,
        });
    }

    fn write(study: &Study<LabelSet>, out: &Path) -> Result<Vec<String>> {
        super::write_folder(out, |dir| {
            let mut files = Vec::new();
            files.extend(summary::write(study, dir)?);
            files.extend(json::write(study, dir)?);
            files.extend(super::predictions::write(study, dir)?);
            files.extend(pictures::write(study, dir)?);
            files.extend(super::calibration::picture(study, dir)?);
            files.extend(html::write(study, dir)?);
            Ok(files)
        })
    }

    fn terminal_table(study: &Study<LabelSet>) -> String {
        let (header, rows) = summary::table(study);
        let mut out = String::new();
        for v in verdict::verdict(study) {
            out.push_str(&v);
            out.push_str("\n\n");
        }
        out.push_str(&super::aligned(&header, &rows));
        out
    }
}

impl Study<LabelSet> {
    /// Mean over the runs of a statistic on test at the chosen thresholds.
    pub fn test_mean(&self, m: usize, s: MultiStat) -> f64 {
        let rare = &self.analysis().rare;
        self.methods[m].spread_by(|r| s.value(&r.test, rare)).0
    }
}
