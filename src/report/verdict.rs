//! The plain-language verdict at the top of every report, generated from the
//! report's own numbers. It names a direction ("raised", "lowered") only when
//! the 95% interval of the difference excludes zero and agrees with the
//! estimate's sign; otherwise it says the change is not significant. Without
//! intervals (`--bootstrap 0`) it gives the numbers and no direction words.

use super::analysis::{Analysis, Recommendation, FEW_TEST_EXAMPLES};
use super::format::points;
use super::Study;
use crate::metrics::Stat;
use crate::uncertainty::Interval;

/// A statistic before (baseline) and after (method), with the interval of the
/// difference when one was computed.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    pub before: f64,
    pub after: f64,
    pub diff: Option<Interval>,
}

impl Change {
    /// +1 / −1 when the interval supports that direction, 0 when it does not,
    /// `None` without an interval.
    pub fn direction(&self) -> Option<i8> {
        self.diff.map(|d| {
            let est = d.estimate;
            match d.sign() {
                1 if est > 0.0 => 1,
                -1 if est < 0.0 => -1,
                _ => 0,
            }
        })
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn ci(d: &Interval) -> String {
    format!("95% CI {} to {}", points(d.lo), points(d.hi))
}

/// One clause: "raised accuracy from 40.0% to 50.0% (+10.0 points, 95% CI …)".
pub fn clause(what: &str, c: &Change) -> String {
    let (b, a) = (pct(c.before), pct(c.after));
    match (c.direction(), c.diff) {
        (Some(1), Some(d)) => format!(
            "raised {what} from {b} to {a} ({} points, {})",
            points(d.estimate),
            ci(&d)
        ),
        (Some(-1), Some(d)) => format!(
            "lowered {what} from {b} to {a} ({} points, {})",
            points(d.estimate),
            ci(&d)
        ),
        (_, Some(d)) => format!(
            "did not change {what} significantly ({b} → {a}, {} points, {})",
            points(d.estimate),
            ci(&d)
        ),
        (_, None) => format!("moved {what} from {b} to {a} (no interval computed)"),
    }
}

/// A method against the baseline on the rare classes, accuracy and macro-F1.
pub struct Contrast<'a> {
    pub method: &'a str,
    pub baseline: &'a str,
    pub rare_classes: usize,
    pub rare_recall: Change,
    pub accuracy: Change,
    pub macro_f1: Change,
}

/// How a sentence names the rare-third recall of `n` classes.
fn rare_recall(n: usize) -> String {
    format!(
        "the recall of the {n} rarest {}",
        if n == 1 { "class" } else { "classes" }
    )
}

pub fn contrast_sentence(c: &Contrast) -> String {
    format!(
        "Against {}, {} {}; it {}; and it {}.",
        c.baseline,
        c.method,
        clause(&rare_recall(c.rare_classes), &c.rare_recall),
        clause("accuracy", &c.accuracy),
        clause("macro-F1", &c.macro_f1),
    )
}

/// "Recommended by validation macro-F1: …", with the margin and its interval.
pub fn recommendation_sentence(r: &Recommendation, title: &str) -> String {
    let mut s = format!(
        "Recommended by validation {}: {title} (`{}`, {:.4} on validation)",
        r.by.label(),
        r.method,
        r.validation
    );
    if let Some(ru) = &r.runner_up {
        s.push_str(&format!(", ahead of `{}` ({:.4}", ru.method, ru.validation));
        match ru.margin {
            Some(m) => {
                let clear = m.sign() == 1 && m.estimate > 0.0;
                s.push_str(&format!(
                    "; margin {}, {}: {})",
                    points(m.estimate),
                    ci(&m),
                    if clear {
                        "a clear margin"
                    } else {
                        "not a clear winner"
                    }
                ));
            }
            None => s.push(')'),
        }
    }
    s.push('.');
    if r.method == "ib" && r.runner_up.is_some() {
        s.push_str(" No rebalancing method beat the instance-balanced head on validation.");
    }
    s
}

fn change(study: &Study, a: &Analysis, base: usize, m: usize, s: Stat) -> Change {
    let mean = |i: usize| study.methods[i].test_mean(s, &a.rare);
    Change {
        before: mean(base),
        after: mean(m),
        diff: a.method(m).and_then(|iv| iv.diff(s)),
    }
}

fn title(study: &Study, i: usize) -> String {
    let m = &study.methods[i];
    format!("{} (`{}`)", m.title, m.name)
}

/// The verdict's sentences, in order.
/// The contrast of method `m` with `base` over training subsamples: on each
/// statistic of [`super::subsamples::SHOWN`] (the order of `stats`), how many
/// subsamples it won and the mean paired difference with its t-interval.
fn subsample_sentence(
    study: &Study,
    sub: &super::Subsamples,
    rare: usize,
    base: usize,
    m: usize,
    stats: &[Vec<super::subsamples::OverSubsamples>],
) -> String {
    let n = sub.seeds.len();
    let parts: Vec<String> = super::subsamples::SHOWN
        .iter()
        .zip(stats)
        .map(|(&stat, per_method)| {
            let label = match stat {
                Stat::FewRecall => rare_recall(rare),
                other => other.label().to_string(),
            };
            let (o, b) = (&per_method[m], &per_method[base]);
            let p = o.vs_ib.as_ref().expect("a method other than ib has a difference");
            let sure = if p.low > 0.0 {
                "higher"
            } else if p.high < 0.0 {
                "lower"
            } else {
                "not clearly different"
            };
            format!(
                "on {label} it scored higher in {} of {n} ({} against {} on average, {} points, 95% CI {} to {} over subsamples: {sure})",
                p.won,
                pct(o.mean),
                pct(b.mean),
                points(p.mean),
                points(p.low),
                points(p.high)
            )
        })
        .collect();
    format!(
        "Over {n} training subsamples drawn to the profile {}, against {} (`{}`), {} (`{}`): {}.",
        sub.profile,
        study.methods[base].title,
        study.methods[base].name,
        study.methods[m].title,
        study.methods[m].name,
        parts.join("; ")
    )
}

pub fn verdict(study: &Study, a: &Analysis) -> Vec<String> {
    let mut out = Vec::new();
    let index = |name: &str| study.methods.iter().position(|m| m.name == name);
    let over_subsamples: Option<Vec<Vec<super::subsamples::OverSubsamples>>> =
        super::subsamples::SHOWN
            .iter()
            .map(|&s| super::subsamples::analyse(study, s, &a.rare))
            .collect();
    if let Some(base) = a.baseline {
        let mut shown = Vec::new();
        if let Some(cb) = index("cb") {
            shown.push(cb);
        }
        if let Some(r) = a.recommendation.as_ref().and_then(|r| index(r.method)) {
            if r != base && !shown.contains(&r) {
                shown.push(r);
            }
        }
        for m in shown {
            if let (Some(stats), Some(sub)) = (&over_subsamples, &study.subsamples) {
                out.push(subsample_sentence(study, sub, a.rare.len(), base, m, stats));
                continue;
            }
            out.push(contrast_sentence(&Contrast {
                method: &title(study, m),
                baseline: &title(study, base),
                rare_classes: a.rare.len(),
                rare_recall: change(study, a, base, m, Stat::FewRecall),
                accuracy: change(study, a, base, m, Stat::Accuracy),
                macro_f1: change(study, a, base, m, Stat::MacroF1),
            }));
        }
    }
    if out.is_empty() && study.methods.len() == 1 {
        out.push(single_sentence(study, a));
    }
    if let Some(r) = &a.recommendation {
        let i = index(r.method).expect("recommended method is in the study");
        out.push(recommendation_sentence(r, study.methods[i].title));
    }
    let few: Vec<&str> = study
        .test_counts
        .iter()
        .enumerate()
        .filter(|(_, &n)| n < FEW_TEST_EXAMPLES)
        .map(|(c, _)| study.classes[c].as_str())
        .collect();
    if !few.is_empty() {
        out.push(format!(
            "{} of {} classes {} fewer than {FEW_TEST_EXAMPLES} test examples ({}): {} per-class numbers are unreliable; see the intervals below.",
            few.len(),
            study.classes.len(),
            if few.len() == 1 { "has" } else { "have" },
            few.join(", "),
            if few.len() == 1 { "its" } else { "their" }
        ));
    }
    out
}

/// One model's numbers with their intervals (`emo evaluate`).
fn single_sentence(study: &Study, a: &Analysis) -> String {
    let m = &study.methods[0];
    let with_ci = |s: Stat| -> String {
        let v = m.runs[0].test.clone();
        let point = s.value(&v, &a.rare, false);
        match a.method(0) {
            Some(iv) => {
                let i = iv.stat(s);
                format!("{} (95% CI {} to {})", pct(point), pct(i.lo), pct(i.hi))
            }
            None => pct(point),
        }
    };
    format!(
        "On {} examples, {} scored accuracy {}, macro-F1 {}, and recall {} on the {} rarest classes.",
        study.test_labels.len(),
        title(study, 0),
        with_ci(Stat::Accuracy),
        with_ci(Stat::MacroF1),
        with_ci(Stat::FewRecall),
        a.rare.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(estimate: f64, lo: f64, hi: f64) -> Option<Interval> {
        Some(Interval { estimate, lo, hi })
    }

    fn contrast(rare: Option<Interval>, acc: Option<Interval>, f1: Option<Interval>) -> String {
        contrast_sentence(&Contrast {
            method: "class-balanced sampling (`cb`)",
            baseline: "instance-balanced sampling (`ib`)",
            rare_classes: 4,
            rare_recall: Change {
                before: 0.04,
                after: 0.50,
                diff: rare,
            },
            accuracy: Change {
                before: 0.53,
                after: 0.33,
                diff: acc,
            },
            macro_f1: Change {
                before: 0.346,
                after: 0.343,
                diff: f1,
            },
        })
    }

    #[test]
    fn gain_loss_and_no_difference() {
        let s = contrast(
            iv(0.46, 0.30, 0.60),
            iv(-0.20, -0.22, -0.18),
            iv(-0.003, -0.012, 0.006),
        );
        assert!(s.contains("raised the recall of the 4 rarest classes from 4.0% to 50.0% (+46.0 points, 95% CI +30.0 to +60.0)"), "{s}");
        assert!(
            s.contains(
                "lowered accuracy from 53.0% to 33.0% (−20.0 points, 95% CI −22.0 to −18.0)"
            ),
            "{s}"
        );
        assert!(s.contains("did not change macro-F1 significantly (34.6% → 34.3%, −0.3 points, 95% CI −1.2 to +0.6)"), "{s}");
    }

    #[test]
    fn no_interval_no_direction() {
        let s = contrast(None, None, None);
        assert!(!s.contains("raised") && !s.contains("lowered"), "{s}");
        assert!(s.contains("no interval computed"), "{s}");
    }

    #[test]
    fn never_states_a_direction_the_interval_does_not_support() {
        // Every combination of interval placement, including an interval that
        // excludes zero on the other side of its own estimate.
        let cases = [
            (0.1, 0.05, 0.2),
            (-0.1, -0.2, -0.05),
            (0.01, -0.02, 0.03),
            (-0.01, -0.03, 0.02),
            (0.0, 0.0, 0.0),
            (-0.01, 0.01, 0.02),
            (0.01, -0.03, -0.02),
        ];
        for &(e, lo, hi) in &cases {
            let c = Change {
                before: 0.5,
                after: 0.5 + e,
                diff: iv(e, lo, hi),
            };
            let s = clause("accuracy", &c);
            let up = lo > 0.0 && e > 0.0;
            let down = hi < 0.0 && e < 0.0;
            assert_eq!(s.starts_with("raised"), up, "{s}");
            assert_eq!(s.starts_with("lowered"), down, "{s}");
            assert_eq!(s.starts_with("did not change"), !up && !down, "{s}");
        }
    }

    /// A hand-made report: 3 classes (training counts 100, 50, 5), 60 test and 60
    /// validation rows; `cb` predicts exactly what `ib` does, `sqrt` finds the
    /// rare class that `ib` always misses.
    fn study() -> Study {
        use super::super::{MethodRuns, Run};
        use crate::metrics::Metrics;
        let labels: Vec<usize> = (0..60).map(|i| [0, 0, 0, 1, 1, 2][i % 6]).collect();
        let ib: Vec<usize> = labels.iter().map(|&y| if y == 2 { 0 } else { y }).collect();
        let sqrt: Vec<usize> = labels
            .iter()
            .enumerate()
            .map(|(i, &y)| if y == 0 && i % 12 == 0 { 2 } else { y })
            .collect();
        let method = |name, title, pred: &Vec<usize>| MethodRuns {
            name,
            title,
            summary: "",
            runs: vec![Run {
                seed: 0,
                subsample: 0,
                validation: Metrics::compute(&labels, pred, 3),
                test: Metrics::compute(&labels, pred, 3),
                test_predictions: pred.clone(),
                validation_predictions: pred.clone(),
                chosen: serde_json::Value::Null,
                weight_norms: None,
                seconds: 0.0,
                calibration: None,
                shift: None,
                fit: (),
            }],
        };
        let mut s = Study {
            dataset: "hand-made".into(),
            classes: vec!["joy".into(), "sadness".into(), "grief".into()],
            train_counts: vec![100, 50, 5],
            validation_counts: vec![30, 20, 10],
            test_counts: vec![30, 20, 10],
            test_ids: (0..60).map(|i| i.to_string()).collect(),
            test_labels: labels.clone(),
            validation_labels: labels.clone(),
            thresholds: Default::default(),
            config: Default::default(),
            seeds: vec![0],
            encoder: crate::fuzzing::encoder_identity(4),
            device: "cpu".into(),
            precision: "fp32",
            command: String::new(),
            methods: vec![
                method("ib", "instance-balanced sampling", &ib),
                method("cb", "class-balanced sampling", &ib.clone()),
                method("sqrt", "square-root sampling", &sqrt),
            ],
            rule: (),
            extra: (),
            subsamples: None,
            analysis: None,
        };
        s.analyse(Stat::MacroF1, 500, 1);
        s
    }

    #[test]
    fn verdict_of_a_hand_made_report() {
        let s = study();
        let v = verdict(&s, s.analysis());
        // cb = ib: every difference is exactly zero, so no direction is claimed.
        assert!(v[0].starts_with("Against instance-balanced sampling (`ib`), class-balanced sampling (`cb`) did not change the recall of the 1 rarest class significantly (0.0% → 0.0%, 0.0 points, 95% CI 0.0 to 0.0)"), "{}", v[0]);
        // sqrt finds all 10 grief texts and loses 5 of 30 joy ones.
        assert!(v[1].contains("square-root sampling (`sqrt`) raised the recall of the 1 rarest class from 0.0% to 100.0% (+100.0 points"), "{}", v[1]);
        assert!(v[1].contains("raised macro-F1"), "{}", v[1]);
        assert!(
            v[2].starts_with("Recommended by validation macro-F1: square-root sampling (`sqrt`"),
            "{}",
            v[2]
        );
        assert_eq!(v[3], "1 of 3 classes has fewer than 20 test examples (grief): its per-class numbers are unreliable; see the intervals below.");
    }

    /// A shot group with no class is a column of dashes: every table leaves it
    /// out and says so; a group with a class keeps its column.
    #[test]
    fn empty_group_columns_are_left_out_with_a_sentence() {
        use crate::report::summary::{omitted_groups_note, table};
        let mut s = study();
        // Training counts 100, 50, 5: no class has more than 100 (many-shot).
        let (header, rows) = table(&s);
        assert_eq!(header.len(), 1 + 5 + 2, "{header:?}");
        assert!(!header.contains(&"many recall".to_string()), "{header:?}");
        assert!(header.contains(&"few recall".to_string()));
        assert!(rows.iter().all(|r| r.len() == header.len()));
        let note = omitted_groups_note(&s).expect("a note");
        assert_eq!(note, "Left out of the table, empty for every method: “many recall” (no class has more than 100 training examples).");
        let terminal = crate::report::terminal_table(&s);
        let header_line = terminal.lines().find(|l| l.starts_with("method")).unwrap();
        assert!(terminal.contains(&note) && !header_line.contains("many recall"));
        s.train_counts = vec![300, 50, 25];
        let (header, _) = table(&s);
        assert!(header.contains(&"many recall".to_string()));
        assert!(!header.contains(&"few recall".to_string()));
        assert!(omitted_groups_note(&s)
            .unwrap()
            .contains("“few recall” (no class has fewer than 20"));
    }

    #[test]
    fn recommendation_says_whether_the_margin_is_clear() {
        use super::super::analysis::RunnerUp;
        let mut r = Recommendation {
            method: "sqrt",
            by: Stat::MacroF1,
            validation: 0.389,
            runner_up: Some(RunnerUp {
                method: "logit-adjust",
                validation: 0.385,
                margin: iv(0.004, -0.002, 0.010),
            }),
        };
        let s = recommendation_sentence(&r, "square-root sampling");
        assert!(s.starts_with("Recommended by validation macro-F1: square-root sampling (`sqrt`, 0.3890 on validation), ahead of `logit-adjust` (0.3850; margin +0.4, 95% CI −0.2 to +1.0: not a clear winner)."), "{s}");
        r.runner_up.as_mut().unwrap().margin = iv(0.004, 0.001, 0.010);
        assert!(recommendation_sentence(&r, "x").contains("a clear margin"));
    }
}
