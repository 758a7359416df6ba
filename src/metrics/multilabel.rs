//! Multi-label metrics with scikit-learn's definitions (1.9), so that emo's
//! numbers for texts with several emotions can be checked against
//! `sklearn.metrics` on the same indicator matrices, as the single-label ones are.
//!
//! Every ratio whose denominator is 0 is 0 (scikit-learn's `zero_division=0`),
//! which has consequences worth knowing when reading a report:
//! - a text with no true and no predicted label scores 0 in the samples-average
//!   precision, recall, F1 and in the samples Jaccard (scikit-learn gives them
//!   `zero_division`, not 1), yet counts as exactly right in the subset accuracy
//!   and adds nothing to the Hamming loss. So a perfect prediction has samples F1
//!   below 1 when some texts carry no emotion;
//! - a class no text carries gets precision, recall and F1 0 and still counts in
//!   the macro average (scikit-learn's `labels=range(n_classes)`);
//! - its average precision is 0 too: scikit-learn warns "No positive class found
//!   in y_true", sets the recall to 1 at every threshold, and the step integral
//!   comes out 0 (not NaN), which the macro AP then averages in.

use serde::Serialize;

use super::{group_scores_of, mean, ratio, ClassMetrics, GroupScore, GroupThresholds};

/// Label sets of texts as scikit-learn's label-indicator matrix: `rows()[i][c]` is
/// true when text `i` carries class `c`; a row with no `true` is a text with no
/// emotion. The class count is held rather than inferred from the rows, so a class
/// that no text of a split carries (usual for rare classes in a small split) is
/// still reported, as scikit-learn does for the columns of an indicator matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    n_classes: usize,
    rows: Vec<Vec<bool>>,
}

impl Indicator {
    /// Panics on a row whose length is not `n_classes`: a ragged matrix means the
    /// caller mixed label spaces, and no metric of it would mean anything.
    pub fn new(n_classes: usize, rows: Vec<Vec<bool>>) -> Indicator {
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(
                row.len(),
                n_classes,
                "indicator row {i}: one entry per class"
            );
        }
        Indicator { n_classes, rows }
    }

    /// From each text's list of class indices (the form the data and the
    /// thresholded predictions come in). A repeated index is the same label;
    /// panics on an index `>= n_classes`.
    pub fn from_sets(n_classes: usize, sets: &[Vec<usize>]) -> Indicator {
        let rows = sets
            .iter()
            .enumerate()
            .map(|(i, set)| {
                let mut row = vec![false; n_classes];
                for &c in set {
                    assert!(c < n_classes, "text {i}: class {c} of {n_classes}");
                    row[c] = true;
                }
                row
            })
            .collect();
        Indicator { n_classes, rows }
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn rows(&self) -> &[Vec<bool>] {
        &self.rows
    }

    /// Number of texts.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// One averaged row of scikit-learn's `classification_report`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Average {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Total true labels over all texts and classes: scikit-learn reports this same
    /// number on every average row, the samples one included.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiLabelMetrics {
    /// Per class, each class scored one-vs-rest over all texts.
    pub per_class: Vec<ClassMetrics>,
    /// Pooled counts over every (text, class) cell: dominated by the frequent classes.
    pub micro_avg: Average,
    /// Plain mean over classes: each class counts the same, the rare ones included.
    pub macro_avg: Average,
    /// Mean over classes weighted by support.
    pub weighted_avg: Average,
    /// Per text, then the mean over texts (see the module note on empty texts).
    pub samples_avg: Average,
    /// Per class `[[tn, fp], [fn, tp]]`, as scikit-learn's `multilabel_confusion_matrix`.
    pub confusion: Vec<[[usize; 2]; 2]>,
    /// Fraction of (text, class) cells predicted wrong.
    pub hamming_loss: f64,
    /// Fraction of texts whose predicted set equals the true set exactly
    /// (scikit-learn's `accuracy_score` on indicator matrices).
    pub subset_accuracy: f64,
    /// Mean over texts of |true ∩ predicted| / |true ∪ predicted|, 0 for a text with
    /// both sets empty (`jaccard_score(average="samples", zero_division=0)`).
    pub jaccard_samples: f64,
    /// Per class, the threshold-free ranking quality of the scores
    /// (`average_precision_score(average=None)`); 0 for a class with no positive.
    pub average_precision: Vec<f64>,
    /// scikit-learn's `average_precision_score(average="macro")`: the mean over every
    /// class, a class with no positive counting 0. This is the one reports show.
    pub macro_average_precision: f64,
    /// The mean over the classes that occur in `y_true` only (0 when none does): not
    /// scikit-learn's, for validation, so that a class missing from a small split
    /// neither counts as a 0 nor decides anything (as `Metrics::macro_f1_present`).
    pub macro_average_precision_present: f64,
}

impl MultiLabelMetrics {
    /// Metrics of predicted label sets `y_pred` (and, for average precision, the
    /// scores they were thresholded from: `y_score[i][c]` for text `i`, class `c`,
    /// higher meaning more likely) against the true sets `y_true`. Panics when the
    /// shapes disagree or a score is NaN (scikit-learn refuses NaN scores too).
    pub fn compute(
        y_true: &Indicator,
        y_pred: &Indicator,
        y_score: &[Vec<f32>],
    ) -> MultiLabelMetrics {
        let c = y_true.n_classes();
        assert_eq!(
            y_pred.n_classes(),
            c,
            "the same classes in truth and prediction"
        );
        assert_eq!(y_true.len(), y_pred.len(), "one prediction per text");
        assert_eq!(y_true.len(), y_score.len(), "one score row per text");
        let n = y_true.len();

        let mut confusion = vec![[[0usize; 2]; 2]; c];
        let (mut sample_p, mut sample_r, mut sample_f, mut sample_j) = (0.0, 0.0, 0.0, 0.0);
        let (mut exact, mut wrong_cells) = (0usize, 0usize);
        for (t_row, p_row) in y_true.rows().iter().zip(y_pred.rows()) {
            let (mut both, mut t_count, mut p_count) = (0usize, 0usize, 0usize);
            for (k, (&t, &p)) in t_row.iter().zip(p_row).enumerate() {
                confusion[k][t as usize][p as usize] += 1;
                both += (t && p) as usize;
                t_count += t as usize;
                p_count += p as usize;
            }
            sample_p += ratio(both, p_count);
            sample_r += ratio(both, t_count);
            sample_f += ratio(2 * both, t_count + p_count);
            sample_j += ratio(both, t_count + p_count - both);
            let differing = t_count + p_count - 2 * both;
            exact += (differing == 0) as usize;
            wrong_cells += differing;
        }

        let per_class: Vec<ClassMetrics> = confusion
            .iter()
            .map(|&[[_tn, fp], [fn_, tp]]| ClassMetrics {
                precision: ratio(tp, tp + fp),
                recall: ratio(tp, tp + fn_),
                f1: ratio(2 * tp, 2 * tp + fp + fn_),
                support: tp + fn_,
                predicted: tp + fp,
            })
            .collect();
        let support: usize = per_class.iter().map(|m| m.support).sum();
        let predicted: usize = per_class.iter().map(|m| m.predicted).sum();
        let tp_all: usize = confusion.iter().map(|m| m[1][1]).sum();
        let weighted = |f: fn(&ClassMetrics) -> f64| super::support_weighted(&per_class, f);
        let per_text = |sum: f64| if n == 0 { 0.0 } else { sum / n as f64 };

        let average_precision: Vec<f64> = (0..c)
            .map(|k| {
                let truth: Vec<bool> = y_true.rows().iter().map(|r| r[k]).collect();
                let scores: Vec<f32> = y_score
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        assert_eq!(r.len(), c, "score row {i}: one score per class");
                        r[k]
                    })
                    .collect();
                average_precision(&truth, &scores)
            })
            .collect();

        MultiLabelMetrics {
            micro_avg: Average {
                precision: ratio(tp_all, predicted),
                recall: ratio(tp_all, support),
                f1: ratio(2 * tp_all, support + predicted),
                support,
            },
            macro_avg: Average {
                precision: mean(per_class.iter().map(|m| m.precision)),
                recall: mean(per_class.iter().map(|m| m.recall)),
                f1: mean(per_class.iter().map(|m| m.f1)),
                support,
            },
            weighted_avg: Average {
                precision: weighted(|m| m.precision),
                recall: weighted(|m| m.recall),
                f1: weighted(|m| m.f1),
                support,
            },
            samples_avg: Average {
                precision: per_text(sample_p),
                recall: per_text(sample_r),
                f1: per_text(sample_f),
                support,
            },
            hamming_loss: ratio(wrong_cells, n * c),
            subset_accuracy: ratio(exact, n),
            jaccard_samples: per_text(sample_j),
            macro_average_precision: mean(average_precision.iter().copied()),
            macro_average_precision_present: mean(
                average_precision
                    .iter()
                    .zip(&per_class)
                    .filter(|(_, m)| m.support > 0)
                    .map(|(&ap, _)| ap),
            ),
            average_precision,
            confusion,
            per_class,
        }
    }

    /// Mean per-class recall and F1 of each many / medium / few-shot group, by the
    /// classes' training counts, with exactly the single-label rules
    /// ([`super::group_scores`]): a class absent from `y_true` is left out of its
    /// group, and a group left with no class is omitted.
    pub fn group_scores(&self, train_counts: &[usize], t: GroupThresholds) -> Vec<GroupScore> {
        group_scores_of(&self.per_class, train_counts, t)
    }
}

/// The multi-label headline numbers that get intervals, differences and verdicts.
/// Rare-third F1 is the mean F1 of the rarest third of the classes by training
/// count (every one counted, as macro-F1 counts them); rare-third recall
/// averages over those that occur in the scored texts only, as the
/// single-label [`super::Stat::FewRecall`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MultiStat {
    MacroF1,
    MicroF1,
    SamplesF1,
    RareF1,
    RareRecall,
}

impl MultiStat {
    pub const ALL: [MultiStat; 5] = [
        MultiStat::MacroF1,
        MultiStat::MicroF1,
        MultiStat::SamplesF1,
        MultiStat::RareF1,
        MultiStat::RareRecall,
    ];

    pub fn label(self) -> &'static str {
        match self {
            MultiStat::MacroF1 => "macro-F1",
            MultiStat::MicroF1 => "micro-F1",
            MultiStat::SamplesF1 => "samples-F1",
            MultiStat::RareF1 => "rare-third F1",
            MultiStat::RareRecall => "rare-third recall",
        }
    }

    /// The statistic of `m`; `rare` lists the rarest third of the classes. NaN
    /// for rare-third recall when no rare class occurs.
    pub fn value(self, m: &MultiLabelMetrics, rare: &[usize]) -> f64 {
        match self {
            MultiStat::MacroF1 => m.macro_avg.f1,
            MultiStat::MicroF1 => m.micro_avg.f1,
            MultiStat::SamplesF1 => m.samples_avg.f1,
            MultiStat::RareF1 => {
                rare.iter().map(|&c| m.per_class[c].f1).sum::<f64>() / rare.len().max(1) as f64
            }
            MultiStat::RareRecall => super::present_recall(&m.per_class, rare),
        }
    }
}

/// One class's average precision as scikit-learn's `average_precision_score`:
/// the step integral Σ (Rₖ − Rₖ₋₁)·Pₖ over the distinct scores in decreasing order,
/// texts with equal scores entering together (so a tie between a positive and a
/// negative text costs precision, unlike any order of breaking it). No positive
/// in `y_true` gives 0, as scikit-learn does (with a warning).
pub fn average_precision(y_true: &[bool], y_score: &[f32]) -> f64 {
    assert_eq!(y_true.len(), y_score.len(), "one score per text");
    assert!(
        y_score.iter().all(|s| !s.is_nan()),
        "average precision of NaN scores"
    );
    let positives = y_true.iter().filter(|&&t| t).count();
    if positives == 0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..y_true.len()).collect();
    // partial_cmp, not total_cmp: -0.0 and 0.0 are one threshold to NumPy.
    order.sort_by(|&a, &b| y_score[b].partial_cmp(&y_score[a]).unwrap());
    let (mut tp, mut fp) = (0usize, 0usize);
    let (mut ap, mut last_recall) = (0.0, 0.0);
    for (i, &row) in order.iter().enumerate() {
        if y_true[row] {
            tp += 1;
        } else {
            fp += 1;
        }
        let block_ends = order
            .get(i + 1)
            .is_none_or(|&next| y_score[next] != y_score[row]);
        if block_ends {
            let recall = tp as f64 / positives as f64;
            ap += (recall - last_recall) * (tp as f64 / (tp + fp) as f64);
            last_recall = recall;
        }
    }
    ap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }

    /// Four texts, three classes; row 1 has no label and none predicted, row 3 has
    /// no label but two predicted.
    fn small() -> MultiLabelMetrics {
        let y_true = Indicator::from_sets(3, &[vec![0], vec![], vec![0, 1], vec![]]);
        let y_pred = Indicator::from_sets(3, &[vec![0], vec![], vec![], vec![0, 2]]);
        let scores = vec![
            vec![0.9, 0.1, 0.2],
            vec![0.2, 0.2, 0.2],
            vec![0.4, 0.3, 0.1],
            vec![0.6, 0.3, 0.7],
        ];
        MultiLabelMetrics::compute(&y_true, &y_pred, &scores)
    }

    #[test]
    fn small_case_by_hand() {
        let m = small();
        assert_eq!(m.confusion[0], [[1, 1], [1, 1]]);
        assert_eq!(m.confusion[1], [[3, 0], [1, 0]]);
        assert_eq!(m.confusion[2], [[3, 1], [0, 0]]);
        close(m.per_class[0].precision, 0.5);
        close(m.per_class[0].recall, 0.5);
        // Class 2 is never true: zeros, not NaN.
        assert_eq!((m.per_class[2].support, m.per_class[2].f1), (0, 0.0));
        // Micro: tp 1, predicted 3, true 3.
        close(m.micro_avg.precision, 1.0 / 3.0);
        close(m.micro_avg.f1, 1.0 / 3.0);
        close(m.macro_avg.f1, 0.5 / 3.0);
        // Weighted by support 2, 1, 0: (0.5·2 + 0·1) / 3.
        close(m.weighted_avg.recall, 1.0 / 3.0);
        // Per text F1: 1, 0 (both empty: zero_division), 0, 0.
        close(m.samples_avg.f1, 0.25);
        close(m.samples_avg.precision, 0.25);
        assert_eq!(m.samples_avg.support, 3);
        // Wrong cells: row 2 misses two labels, row 3 adds two: 4 of 12.
        close(m.hamming_loss, 4.0 / 12.0);
        // Rows 0 and 1 (both empty) are exact.
        close(m.subset_accuracy, 0.5);
        close(m.jaccard_samples, 0.25);
    }

    #[test]
    fn average_precision_by_hand() {
        let m = small();
        // Class 0, scores .9 T, .6 F, .4 T, .2 F: 1/2·1 + 1/2·2/3.
        close(m.average_precision[0], 0.5 + 1.0 / 3.0);
        // Class 1: the positive (.3) ties with a negative (.3); taken together they
        // give precision 1/2 at recall 1. Breaking the tie either way would not.
        close(m.average_precision[1], 0.5);
        // Class 2 has no positive: 0, counted in the macro mean, not in the present one.
        assert_eq!(m.average_precision[2], 0.0);
        close(m.macro_average_precision, (5.0 / 6.0 + 0.5) / 3.0);
        close(m.macro_average_precision_present, (5.0 / 6.0 + 0.5) / 2.0);
        // -0.0 and 0.0 are one threshold.
        close(average_precision(&[true, false], &[0.0, -0.0]), 0.5);
        close(
            average_precision(&[true, false, true], &[0.8, 0.5, 0.3]),
            1.0 / 2.0 + 1.0 / 3.0,
        );
    }

    #[test]
    fn perfect_prediction_with_empty_texts() {
        let sets = [vec![1], vec![], vec![0, 1]];
        let t = Indicator::from_sets(2, &sets);
        let m = MultiLabelMetrics::compute(&t, &t.clone(), &vec![vec![0.0, 1.0]; 3]);
        close(m.subset_accuracy, 1.0);
        close(m.hamming_loss, 0.0);
        close(m.micro_avg.f1, 1.0);
        // The empty text scores 0 per text, as scikit-learn with zero_division=0.
        close(m.samples_avg.f1, 2.0 / 3.0);
        close(m.jaccard_samples, 2.0 / 3.0);
    }

    #[test]
    fn groups_reuse_the_single_label_rules() {
        // Class 0 many, 1 medium, 2 few and never true (left out), 3 few.
        let t = Indicator::from_sets(4, &[vec![0, 1], vec![0, 3], vec![1]]);
        let p = Indicator::from_sets(4, &[vec![0], vec![0, 2], vec![1, 3]]);
        let m = MultiLabelMetrics::compute(&t, &p, &vec![vec![0.5; 4]; 3]);
        let g = m.group_scores(&[500, 100, 19, 3], GroupThresholds::default());
        assert_eq!(g.len(), 3);
        assert_eq!((g[1].classes, g[2].classes), (1, 1));
        close(g[0].f1, 1.0);
        close(g[1].recall, 0.5);
        assert_eq!((g[2].recall, g[2].f1), (0.0, 0.0));
    }

    #[test]
    #[should_panic(expected = "class 3 of 3")]
    fn from_sets_rejects_a_class_out_of_range() {
        Indicator::from_sets(3, &[vec![0], vec![3]]);
    }
}
