//! Classification metrics with scikit-learn's definitions, so that emo's numbers
//! can be checked against `sklearn.metrics` to the last digit:
//! per class precision tp/(tp+fp), recall tp/(tp+fn), F1 2tp/(2tp+fp+fn), each 0
//! when its denominator is 0 (scikit-learn's `zero_division=0`); macro = plain
//! mean over classes; weighted = mean weighted by support; balanced accuracy =
//! mean recall over the classes that occur in `y_true`.

use serde::Serialize;

pub mod calibration;
pub mod multilabel;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// True examples of the class.
    pub support: usize,
    /// Times the class was predicted.
    pub predicted: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub per_class: Vec<ClassMetrics>,
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub weighted_precision: f64,
    pub weighted_recall: f64,
    pub weighted_f1: f64,
    pub balanced_accuracy: f64,
    /// `confusion[true][predicted]`: rows are true classes, as scikit-learn's `confusion_matrix`.
    pub confusion: Vec<Vec<usize>>,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

impl Metrics {
    /// Metrics over all `n_classes` classes (scikit-learn's `labels=range(n_classes)`).
    pub fn compute(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Metrics {
        assert_eq!(y_true.len(), y_pred.len(), "one prediction per example");
        let mut confusion = vec![vec![0usize; n_classes]; n_classes];
        for (&t, &p) in y_true.iter().zip(y_pred) {
            confusion[t][p] += 1;
        }
        Metrics::from_confusion(confusion)
    }

    /// Metrics of a confusion matrix (`confusion[true][predicted]`): the bootstrap
    /// builds one per resample from row weights instead of repeated rows.
    pub fn from_confusion(confusion: Vec<Vec<usize>>) -> Metrics {
        let n_classes = confusion.len();
        let per_class: Vec<ClassMetrics> = (0..n_classes)
            .map(|c| {
                let tp = confusion[c][c];
                let support: usize = confusion[c].iter().sum();
                let predicted: usize = confusion.iter().map(|row| row[c]).sum();
                ClassMetrics {
                    precision: ratio(tp, predicted),
                    recall: ratio(tp, support),
                    f1: ratio(2 * tp, support + predicted),
                    support,
                    predicted,
                }
            })
            .collect();
        let total: usize = per_class.iter().map(|m| m.support).sum();
        let correct: usize = (0..n_classes).map(|c| confusion[c][c]).sum();
        let weighted = |f: fn(&ClassMetrics) -> f64| support_weighted(&per_class, f);
        Metrics {
            accuracy: ratio(correct, total),
            macro_precision: mean(per_class.iter().map(|m| m.precision)),
            macro_recall: mean(per_class.iter().map(|m| m.recall)),
            macro_f1: mean(per_class.iter().map(|m| m.f1)),
            weighted_precision: weighted(|m| m.precision),
            weighted_recall: weighted(|m| m.recall),
            weighted_f1: weighted(|m| m.f1),
            balanced_accuracy: mean(per_class.iter().filter(|m| m.support > 0).map(|m| m.recall)),
            per_class,
            confusion,
        }
    }

    /// Macro-F1 over the classes that occur in `y_true` only: the validation
    /// score used to choose τ and the like, so that a class missing from the
    /// validation split neither counts as a zero nor decides anything.
    pub fn macro_f1_present(&self) -> f64 {
        mean(
            self.per_class
                .iter()
                .filter(|m| m.support > 0)
                .map(|m| m.f1),
        )
    }
}

/// The mean of `f` over classes weighted by support, scikit-learn's "weighted"
/// average; 0 when no class has support (scikit-learn then takes a plain mean,
/// and every per-class value is 0 there).
pub(crate) fn support_weighted(per_class: &[ClassMetrics], f: fn(&ClassMetrics) -> f64) -> f64 {
    let total: usize = per_class.iter().map(|m| m.support).sum();
    if total == 0 {
        return 0.0;
    }
    per_class
        .iter()
        .map(|m| f(m) * m.support as f64)
        .sum::<f64>()
        / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_case_by_hand() {
        // true: 0 0 0 1 1 2 ; pred: 0 0 1 1 2 2
        let m = Metrics::compute(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], 4);
        assert_eq!(m.confusion[0], [2, 1, 0, 0]);
        assert!((m.per_class[0].precision - 1.0).abs() < 1e-15);
        assert!((m.per_class[0].recall - 2.0 / 3.0).abs() < 1e-15);
        assert!((m.per_class[1].f1 - 0.5).abs() < 1e-15);
        assert!((m.per_class[2].precision - 0.5).abs() < 1e-15);
        // Class 3 never occurs nor is predicted: zeros, not NaN.
        assert_eq!(m.per_class[3].f1, 0.0);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-15);
        // Balanced accuracy ignores the absent class 3: (2/3 + 1/2 + 1) / 3.
        assert!((m.balanced_accuracy - (2.0 / 3.0 + 0.5 + 1.0) / 3.0).abs() < 1e-15);
        assert!(m.macro_f1_present() > m.macro_f1);
    }
}

/// Training-count thresholds of the paper's shot groups: many-shot > `many`,
/// few-shot < `few`, medium-shot in between (inclusive). Defaults 100 and 20.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct GroupThresholds {
    pub many: usize,
    pub few: usize,
}

impl Default for GroupThresholds {
    fn default() -> Self {
        GroupThresholds { many: 100, few: 20 }
    }
}

/// Which shot group a class with `n` training examples belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    Many,
    Medium,
    Few,
}

impl Group {
    pub const ALL: [Group; 3] = [Group::Many, Group::Medium, Group::Few];

    pub fn of(n: usize, t: GroupThresholds) -> Group {
        if n > t.many {
            Group::Many
        } else if n < t.few {
            Group::Few
        } else {
            Group::Medium
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Group::Many => "many",
            Group::Medium => "medium",
            Group::Few => "few",
        }
    }
}

/// One shot group's scores: the mean per-class recall (the paper's group
/// "accuracy", which on a balanced test set is exactly that) and mean F1 over
/// the group's classes that occur in the test split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupScore {
    pub group: Group,
    pub classes: usize,
    pub recall: f64,
    pub f1: f64,
}

/// Scores per shot group; a group with no class (or no class in test) is left out.
pub fn group_scores(m: &Metrics, train_counts: &[usize], t: GroupThresholds) -> Vec<GroupScore> {
    group_scores_of(&m.per_class, train_counts, t)
}

/// [`group_scores`] of per-class metrics, shared with the multi-label metrics so
/// that both group by one rule.
fn group_scores_of(
    per_class: &[ClassMetrics],
    train_counts: &[usize],
    t: GroupThresholds,
) -> Vec<GroupScore> {
    Group::ALL
        .iter()
        .filter_map(|&g| {
            let members: Vec<&ClassMetrics> = per_class
                .iter()
                .zip(train_counts)
                .filter(|(c, &n)| Group::of(n, t) == g && c.support > 0)
                .map(|(c, _)| c)
                .collect();
            (!members.is_empty()).then(|| GroupScore {
                group: g,
                classes: members.len(),
                recall: mean(members.iter().map(|c| c.recall)),
                f1: mean(members.iter().map(|c| c.f1)),
            })
        })
        .collect()
}

#[cfg(test)]
mod group_tests {
    use super::*;

    #[test]
    fn groups_by_training_count() {
        let t = GroupThresholds::default();
        assert_eq!(Group::of(101, t), Group::Many);
        assert_eq!(Group::of(100, t), Group::Medium);
        assert_eq!(Group::of(20, t), Group::Medium);
        assert_eq!(Group::of(19, t), Group::Few);
        // Classes 0,1 many; 2 medium; 3 few. Class 3 is always missed.
        let m = Metrics::compute(&[0, 0, 1, 2, 2, 3], &[0, 1, 1, 2, 0, 0], 4);
        let g = group_scores(&m, &[500, 200, 50, 10], t);
        assert_eq!(g.len(), 3);
        assert_eq!((g[0].group, g[0].classes), (Group::Many, 2));
        assert!((g[0].recall - 0.75).abs() < 1e-12);
        assert!((g[1].recall - 0.5).abs() < 1e-12);
        assert_eq!((g[2].group, g[2].recall), (Group::Few, 0.0));
    }
}

/// The headline numbers that get confidence intervals, differences, verdicts,
/// and that `--select` may choose a method by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Stat {
    #[value(name = "macro-f1")]
    MacroF1,
    #[value(name = "balanced-accuracy")]
    BalancedAccuracy,
    #[value(name = "accuracy")]
    Accuracy,
    /// Mean recall of the rarest third of the classes (by training count). The
    /// paper's few-shot group (<20 examples) is empty on many datasets; a third
    /// of the classes always exists, so this is what "the rare classes" means in
    /// verdicts and in `--select few-recall`.
    #[value(name = "few-recall")]
    FewRecall,
}

impl Stat {
    pub const ALL: [Stat; 4] = [
        Stat::Accuracy,
        Stat::MacroF1,
        Stat::BalancedAccuracy,
        Stat::FewRecall,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Stat::MacroF1 => "macro-F1",
            Stat::BalancedAccuracy => "balanced accuracy",
            Stat::Accuracy => "accuracy",
            Stat::FewRecall => "rare-third recall",
        }
    }

    /// The statistic of `m`; `rare` lists the rarest third of the classes. With
    /// `present_only`, macro-F1 averages over the classes that occur in the
    /// labels only (how validation scores, so that a class missing from the
    /// validation split decides nothing); otherwise over every class, as the
    /// report's tables. NaN when no rare class occurs.
    pub fn value(self, m: &Metrics, rare: &[usize], present_only: bool) -> f64 {
        match self {
            Stat::MacroF1 if present_only => m.macro_f1_present(),
            Stat::MacroF1 => m.macro_f1,
            Stat::BalancedAccuracy => m.balanced_accuracy,
            Stat::Accuracy => m.accuracy,
            Stat::FewRecall => present_recall(&m.per_class, rare),
        }
    }
}

/// Mean recall of the classes in `classes` that occur (support > 0): a class
/// absent from the scored rows has no recall rather than a recall of 0. NaN
/// when none occurs.
pub fn present_recall(per_class: &[ClassMetrics], classes: &[usize]) -> f64 {
    let present: Vec<f64> = classes
        .iter()
        .map(|&c| &per_class[c])
        .filter(|c| c.support > 0)
        .map(|c| c.recall)
        .collect();
    if present.is_empty() {
        f64::NAN
    } else {
        present.iter().sum::<f64>() / present.len() as f64
    }
}

/// The most and the least frequent third of the classes by training count
/// (ties by class index), at least one class each: `(frequent, rare)`.
pub fn thirds(train_counts: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let c = train_counts.len();
    let mut order: Vec<usize> = (0..c).collect();
    order.sort_by(|&a, &b| train_counts[b].cmp(&train_counts[a]).then(a.cmp(&b)));
    let k = (c / 3).max(1).min(c);
    let frequent = order[..k].to_vec();
    let rare = order[c - k..].to_vec();
    (frequent, rare)
}
