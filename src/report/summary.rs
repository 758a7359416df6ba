//! `summary.md`: the table a person reads first — one row per method, headline
//! test metrics and the shot groups — plus the run's settings.

use super::analysis::FEW_TEST_EXAMPLES;
use super::{Study, Writer};
use crate::metrics::{Group, Metrics, Stat};
use crate::uncertainty::{Interval, CONFIDENCE};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

pub struct SummaryMd;

/// Reads one number out of a run's metrics.
pub type Metric = fn(&Metrics) -> f64;

/// The headline metrics, in table order.
pub const HEADLINE: [(&str, Metric); 5] = [
    ("accuracy", |m| m.accuracy),
    ("macro-F1", |m| m.macro_f1),
    ("weighted-F1", |m| m.weighted_f1),
    ("balanced acc.", |m| m.balanced_accuracy),
    ("macro precision", |m| m.macro_precision),
];

/// `0.4321`, or `0.4321 ± 0.0050` over several seeds; `≈` marks a value whose
/// difference from the instance-balanced head is within the seed spread.
pub fn cell(study: &Study, name: &str, f: impl Fn(&Metrics) -> f64 + Copy) -> String {
    let m = study.method(name).expect("method in study");
    let (mean, sd) = m.spread(f);
    if m.runs.len() < 2 {
        return format!("{mean:.4}");
    }
    let within = study
        .method("ib")
        .filter(|ib| ib.name != name && ib.runs.len() > 1)
        .map(|ib| {
            let (ib_mean, ib_sd) = ib.spread(f);
            (mean - ib_mean).abs() <= sd.max(ib_sd)
        })
        .unwrap_or(false);
    format!("{}{mean:.4} ± {sd:.4}", if within { "≈ " } else { "" })
}

/// Group cell: mean per-class recall of the group's classes (first seed's run).
pub fn group_cell(study: &Study, name: &str, g: Group) -> String {
    let m = study.method(name).expect("method in study");
    let (mean, sd) = super::mean_sd(m.runs.iter().map(|r| {
        study
            .groups(&r.test)
            .iter()
            .find(|s| s.group == g)
            .map(|s| s.recall)
            .unwrap_or(f64::NAN)
    }));
    if mean.is_nan() {
        "—".into()
    } else if m.runs.len() > 1 {
        format!("{mean:.4} ± {sd:.4}")
    } else {
        format!("{mean:.4}")
    }
}

/// The class-count line of the groups, e.g. "many (>100): 9 classes".
pub fn group_legend(study: &Study) -> String {
    let t = study.thresholds;
    Group::ALL
        .iter()
        .map(|&g| {
            let n = study
                .train_counts
                .iter()
                .filter(|&&c| Group::of(c, t) == g)
                .count();
            let range = match g {
                Group::Many => format!(">{}", t.many),
                Group::Medium => format!("{}–{}", t.few, t.many),
                Group::Few => format!("<{}", t.few),
            };
            format!("{} ({range} training examples): {n} classes", g.label())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The shot groups that have at least one class. A group with none would be a
/// column of dashes for every method (on GoEmotions and CARER no class has
/// fewer than 20 training examples), so the tables leave it out and say why.
pub fn shown_groups<L: super::Studied>(study: &Study<L>) -> Vec<Group> {
    Group::ALL
        .iter()
        .copied()
        .filter(|&g| {
            study
                .train_counts
                .iter()
                .any(|&c| Group::of(c, study.thresholds) == g)
        })
        .collect()
}

/// The sentence naming the group columns left out of the tables, if any.
pub fn omitted_groups_note(study: &Study) -> Option<String> {
    let shown = shown_groups(study);
    let t = study.thresholds;
    let missing: Vec<String> = Group::ALL
        .iter()
        .filter(|g| !shown.contains(g))
        .map(|&g| {
            let range = match g {
                Group::Many => format!("more than {}", t.many),
                Group::Medium => format!("{} to {}", t.few, t.many),
                Group::Few => format!("fewer than {}", t.few),
            };
            format!(
                "“{} recall” (no class has {range} training examples)",
                g.label()
            )
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "Left out of the table, empty for every method: {}.",
            missing.join(", ")
        )
    })
}

/// The summary table as (header, rows of cells), shared by summary.md, index.html
/// and the terminal so the three always agree.
pub fn table(study: &Study) -> (Vec<String>, Vec<Vec<String>>) {
    let groups = shown_groups(study);
    let mut header = vec!["method".to_string()];
    header.extend(HEADLINE.iter().map(|(n, _)| n.to_string()));
    header.extend(groups.iter().map(|g| format!("{} recall", g.label())));
    let rows = study
        .methods
        .iter()
        .map(|m| {
            let mut row = vec![m.name.to_string()];
            row.extend(HEADLINE.iter().map(|(_, f)| cell(study, m.name, *f)));
            row.extend(groups.iter().map(|&g| group_cell(study, m.name, g)));
            row
        })
        .collect();
    (header, rows)
}

impl Writer for SummaryMd {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        let mut s = String::new();
        let max = study.train_counts.iter().max().copied().unwrap_or(0);
        let min = study.train_counts.iter().min().copied().unwrap_or(0);
        writeln!(s, "# emo compare-sampling: {}\n", study.dataset)?;
        writeln!(s, "## Verdict\n")?;
        for v in super::verdict::verdict(study, study.analysis()) {
            writeln!(s, "{v}\n")?;
        }
        writeln!(s, "## Test metrics\n")?;
        writeln!(
            s,
            "{} classes; training examples per class {max} … {min} (imbalance ×{:.1}); \
             {} test examples. Test metrics; every method chose its hyper-parameters on \
             the validation split only.\n",
            study.classes.len(),
            max as f64 / min.max(1) as f64,
            study.test_labels.len()
        )?;
        if let Some(sub) = &study.subsamples {
            writeln!(
                s,
                "Mean ± standard deviation over {} training subsamples of the profile {} (seeds {:?}). `≈` marks a value within the spread of `ib`'s (not a real difference).\n",
                sub.seeds.len(),
                sub.profile,
                sub.seeds
            )?;
        } else if study.seeds.len() > 1 {
            writeln!(
                s,
                "Mean ± standard deviation over seeds {:?}. `≈` marks a value within the seed spread of `ib`'s (not a real difference).\n",
                study.seeds
            )?;
        }
        let (header, mut rows) = table(study);
        for row in &mut rows {
            row[0] = format!("`{}`", row[0]);
        }
        s.push_str(&markdown(&header, &rows));
        writeln!(s, "\nShot groups by training count — {}. Group recall is the mean recall of the group's classes.\n", group_legend(study))?;
        if let Some(note) = omitted_groups_note(study) {
            writeln!(s, "{note}\n")?;
        }
        for (title, note, (header, rows)) in sections(study) {
            writeln!(s, "## {title}\n\n{note}\n")?;
            s.push_str(&markdown(&header, &rows));
            s.push('\n');
        }
        s.push_str(&super::calibration::markdown(study));
        s.push_str(&super::shift::markdown(study));
        writeln!(s, "Methods:\n")?;
        for m in &study.methods {
            writeln!(s, "- `{}`: {}", m.name, m.summary)?;
        }
        writeln!(
            s,
            "\nEncoder {} (sha256 {}…), device {}, precision {}, seed(s) {:?}.\n\nCommand: `{}`",
            study.encoder.name,
            &study.encoder.weights_sha256[..12],
            study.device,
            study.precision,
            study.seeds,
            study.command
        )?;
        crate::atomic::write(&dir.join("summary.md"), s.as_bytes())?;
        Ok(vec!["summary.md".into()])
    }
}

/// A table as Markdown.
pub fn markdown(header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

/// `0.4321 [0.4100, 0.4500]`.
pub(super) fn with_interval(i: &Interval) -> String {
    format!("{:.4} [{:.4}, {:.4}]", i.estimate, i.lo, i.hi)
}

/// `+0.0123 [−0.0010, +0.0250]`, in bold when the interval excludes zero.
pub(super) fn difference(i: &Interval) -> String {
    let f = |x: f64| {
        let x = if x == 0.0 { 0.0 } else { x };
        format!("{}{:.4}", if x < 0.0 { "−" } else { "+" }, x.abs())
    };
    let text = format!("{} [{}, {}]", f(i.estimate), f(i.lo), f(i.hi));
    if i.sign() != 0 {
        format!("**{text}**")
    } else {
        text
    }
}

type Table = (Vec<String>, Vec<Vec<String>>);

/// The report's sections after the summary table, as (title, explanation,
/// table), shared by summary.md and index.html.
pub fn sections(study: &Study) -> Vec<(String, String, Table)> {
    let a = study.analysis();
    let mut out = Vec::new();
    let level = format!("{:.0}%", CONFIDENCE * 100.0);
    let rare_names: Vec<&str> = a.rare.iter().map(|&c| study.classes[c].as_str()).collect();
    if let (Some(sub), Some((header, mut rows))) = (
        study.subsamples.as_ref(),
        super::subsamples::table(study, &a.rare),
    ) {
        for row in &mut rows {
            row[0] = format!("`{}`", row[0]);
        }
        out.push((
            format!("Over {} training subsamples", sub.seeds.len()),
            format!(
                "Every method trained (and tuned on validation) on each of {} subsamples of the training split drawn to the profile {} (seeds {}–{}){}; test data the same for all. \
                 Mean ± standard deviation over subsamples; the difference from `ib` (in points) is paired by subsample, with a 95% Student-t interval over subsamples; \
                 \"beat ib\" counts the subsamples where the method scored higher. This is the question \"does it win on data of this shape\", not only on one draw.",
                sub.seeds.len(),
                sub.profile,
                sub.seeds[0],
                sub.seeds[sub.seeds.len() - 1],
                match &sub.validation {
                    Some(v) => format!("; validation cut down once ({v})"),
                    None => String::new(),
                }
            ),
            (header, rows),
        ));
    }
    if let Some(ivs) = &a.intervals {
        let mut header = vec!["method".to_string()];
        header.extend(Stat::ALL.iter().map(|s| s.label().to_string()));
        let rows = study
            .methods
            .iter()
            .zip(ivs)
            .map(|(m, iv)| {
                let mut row = vec![format!("`{}`", m.name)];
                row.extend(Stat::ALL.iter().map(|&s| with_interval(&iv.stat(s))));
                row
            })
            .collect();
        let seeds = if study.seeds.len() > 1 {
            " Each redraw scores every seed's predictions and averages them: the interval is the test-sampling spread of the seed-mean; the summary table's ± is the spread over seeds (training randomness)."
        } else {
            ""
        };
        out.push((
            format!("{level} confidence intervals"),
            format!(
                "Paired bootstrap: the {} test rows redrawn with replacement {} times (seed {}), every method scored on the same redraws; percentile intervals.{seeds} \
                 Rare-third recall is the mean recall of the {} least frequent classes in training ({}).",
                study.test_labels.len(),
                a.resamples,
                a.seed,
                a.rare.len(),
                rare_names.join(", ")
            ),
            (header, rows),
        ));
        if let Some(b) = a.baseline {
            let base = study.methods[b].name;
            let mut header = vec!["method".to_string()];
            header.extend(Stat::ALL.iter().map(|s| format!("Δ {}", s.label())));
            let rows = study
                .methods
                .iter()
                .zip(ivs)
                .filter_map(|(m, iv)| {
                    iv.vs_baseline.as_ref()?;
                    let mut row = vec![format!("`{}`", m.name)];
                    row.extend(
                        Stat::ALL
                            .iter()
                            .map(|&s| difference(&iv.diff(s).expect("checked"))),
                    );
                    Some(row)
                })
                .collect();
            out.push((
                format!("Difference from `{base}`"),
                format!(
                    "Method minus `{base}` on the same redraws, with its {level} interval. \
                     **Bold**: the interval excludes zero (a difference the test data supports); otherwise the two are not distinguishable on this test set."
                ),
                (header, rows),
            ));
        }
    }
    for name in shown_per_class(study) {
        let i = study
            .methods
            .iter()
            .position(|m| m.name == name)
            .expect("in study");
        out.push((
            format!("Per class: `{name}`"),
            format!(
                "Test recall, precision and F1 per class{}. `predicted`: how often the first seed's head predicted the class. ⚠: fewer than {FEW_TEST_EXAMPLES} test examples — unreliable.",
                match (a.intervals.is_some(), study.methods[i].runs.len() > 1) {
                    (true, true) => format!(", mean over seeds with its {level} interval"),
                    (true, false) => format!(" with its {level} interval"),
                    (false, _) => " of the first seed's run (no intervals: --bootstrap 0)".to_string(),
                }
            ),
            class_table(study, i),
        ));
    }
    out.push((
        "Classes never predicted".to_string(),
        "A class a method never predicts gets precision 0 (scikit-learn's zero_division=0), which pulls macro precision down and widens its spread across classes; \
         both are shown with and without such classes (first seed's run)."
            .to_string(),
        never_predicted(study),
    ));
    out
}

/// The methods whose per-class table a report shows: the baseline, `cb` and the
/// recommended method (or the only one).
fn shown_per_class(study: &Study) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for m in &study.methods {
        let recommended = study
            .analysis()
            .recommendation
            .as_ref()
            .is_some_and(|r| r.method == m.name);
        if m.name == "ib" || m.name == "cb" || recommended || study.methods.len() == 1 {
            names.push(m.name);
        }
    }
    names
}

/// Per-class rows of one method, classes by training count.
pub fn class_table(study: &Study, i: usize) -> Table {
    let header = [
        "class",
        "train",
        "test",
        "predicted",
        "recall",
        "precision",
        "F1",
    ]
    .map(String::from)
    .to_vec();
    let run = study.methods[i].shown();
    let iv = study.analysis().method(i);
    let rows = study
        .order()
        .into_iter()
        .map(|c| {
            let pc = &run.test.per_class[c];
            let flag = if pc.support < FEW_TEST_EXAMPLES {
                " ⚠"
            } else {
                ""
            };
            // With intervals, the estimate is the seed mean the interval belongs to.
            let cell = |v: f64, f: fn(&crate::uncertainty::ClassIntervals) -> Interval| match iv {
                Some(iv) => {
                    let i = f(&iv.per_class[c]);
                    if i.lo.is_nan() {
                        format!("{:.4}", i.estimate)
                    } else {
                        with_interval(&i)
                    }
                }
                None => format!("{v:.4}"),
            };
            vec![
                format!("{}{flag}", study.classes[c]),
                study.train_counts[c].to_string(),
                pc.support.to_string(),
                pc.predicted.to_string(),
                cell(pc.recall, |x| x.recall),
                cell(pc.precision, |x| x.precision),
                cell(pc.f1, |x| x.f1),
            ]
        })
        .collect();
    (header, rows)
}

/// Per method: the classes it never predicts, and macro precision and the
/// standard deviation of per-class precision with and without them.
pub fn never_predicted(study: &Study) -> Table {
    let header = [
        "method",
        "never predicted",
        "macro precision (all)",
        "macro precision (without)",
        "precision s.d. (all)",
        "precision s.d. (without)",
    ]
    .map(String::from)
    .to_vec();
    let rows = study
        .methods
        .iter()
        .map(|m| {
            let pcs = &m.shown().test.per_class;
            let never: Vec<&str> = pcs
                .iter()
                .enumerate()
                .filter(|(_, c)| c.predicted == 0)
                .map(|(i, _)| study.classes[i].as_str())
                .collect();
            let all = super::mean_sd(pcs.iter().map(|c| c.precision));
            let kept: Vec<f64> = pcs
                .iter()
                .filter(|c| c.predicted > 0)
                .map(|c| c.precision)
                .collect();
            let without = if kept.is_empty() {
                (f64::NAN, f64::NAN)
            } else {
                super::mean_sd(kept.into_iter())
            };
            vec![
                format!("`{}`", m.name),
                if never.is_empty() {
                    "none".to_string()
                } else {
                    format!("{}: {}", never.len(), never.join(", "))
                },
                format!("{:.4}", all.0),
                format!("{:.4}", without.0),
                format!("{:.4}", all.1),
                format!("{:.4}", without.1),
            ]
        })
        .collect();
    (header, rows)
}
