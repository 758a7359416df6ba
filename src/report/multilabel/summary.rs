//! `summary.md` of a multi-label study, and the tables index.html and the
//! terminal share with it: headline metrics per method, their intervals and
//! differences from plain BCE, the shot groups, and per class each method's F1
//! and the threshold it chose.

use super::verdict;
use crate::data::LabelSet;
use crate::metrics::multilabel::{MultiLabelMetrics, MultiStat};
use crate::metrics::Group;
use crate::report::summary::{difference, markdown, with_interval};
use crate::report::Study;
use crate::uncertainty::CONFIDENCE;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

pub type Table = (Vec<String>, Vec<Vec<String>>);

/// `0.4321`, or `0.4321 ± 0.0050` over several runs.
fn spread_cell(
    study: &Study<LabelSet>,
    m: usize,
    f: impl Fn(&crate::report::Run<LabelSet>) -> f64,
) -> String {
    let method = &study.methods[m];
    let (mean, sd) = method.spread_by(f);
    // A score a run does not have (evaluate's saved model scored on fresh
    // data has no held-out validation score) is NaN: shown as absent.
    if mean.is_nan() {
        "—".into()
    } else if method.runs.len() > 1 {
        format!("{mean:.4} ± {sd:.4}")
    } else {
        format!("{mean:.4}")
    }
}

/// Where a method's runs chose their thresholds ("validation", or
/// "training+validation"; both names when its seeds differ).
fn threshold_sources(m: &crate::report::MethodRuns<crate::report::Run<LabelSet>>) -> String {
    let mut names: Vec<&str> = m
        .runs
        .iter()
        .filter_map(|r| r.fit.thresholds.first().map(|t| t.source.name()))
        .collect();
    names.dedup();
    names.join(" / ")
}

/// The headline table: test metrics at the thresholds each method chose on
/// validation, macro-F1 at the fixed 0.5 and 0.3 beside them.
pub fn table(study: &Study<LabelSet>) -> Table {
    let rare = &study.analysis().rare;
    let header: Vec<String> = [
        "method",
        "macro-F1",
        "micro-F1",
        "samples-F1",
        "rare-third F1",
        "rare-third recall",
        "macro AP",
        "macro-F1 @0.5",
        "macro-F1 @0.3",
        "valid. macro-F1 (held out)",
        "thresholds from",
    ]
    .map(String::from)
    .to_vec();
    let rows = (0..study.methods.len())
        .map(|m| {
            let stat = |s: MultiStat| spread_cell(study, m, |r| s.value(&r.test, rare));
            vec![
                study.methods[m].name.to_string(),
                stat(MultiStat::MacroF1),
                stat(MultiStat::MicroF1),
                stat(MultiStat::SamplesF1),
                stat(MultiStat::RareF1),
                stat(MultiStat::RareRecall),
                spread_cell(study, m, |r| r.test.macro_average_precision),
                spread_cell(study, m, |r| r.fit.test_fixed.macro_avg.f1),
                spread_cell(study, m, |r| r.fit.test_paper.macro_avg.f1),
                spread_cell(study, m, |r| r.fit.validation_score),
                threshold_sources(&study.methods[m]),
            ]
        })
        .collect();
    (header, rows)
}

/// The statistics that get intervals in the tables.
const SHOWN: [MultiStat; 3] = [MultiStat::MacroF1, MultiStat::MicroF1, MultiStat::RareF1];

/// The sections after the headline table, as (title, note, table), shared by
/// summary.md and index.html.
pub fn sections(study: &Study<LabelSet>) -> Vec<(String, String, Table)> {
    let a = study.analysis();
    let mut out = Vec::new();
    let level = format!("{:.0}%", CONFIDENCE * 100.0);
    if a.intervals.is_some() {
        let mut header = vec!["method".to_string()];
        header.extend(SHOWN.iter().map(|s| s.label().to_string()));
        if a.baseline.is_some() {
            header.extend(SHOWN.iter().map(|s| format!("Δ {} vs bce", s.label())));
        }
        let rows = (0..study.methods.len())
            .map(|m| {
                let iv = a.method(m).expect("intervals computed");
                let mut row = vec![study.methods[m].name.to_string()];
                row.extend(SHOWN.iter().map(|&s| with_interval(&iv.stat(s))));
                if a.baseline.is_some() {
                    row.extend(
                        SHOWN
                            .iter()
                            .map(|&s| iv.diff(s).map_or("—".into(), |d| difference(&d))),
                    );
                }
                row
            })
            .collect();
        out.push((
            format!("Intervals ({level}, paired bootstrap over test texts)"),
            format!(
                "{} redraws of the {} test texts, each text with all its labels; every method is scored on the same redraws, \
                 so a difference is in **bold** when its interval excludes zero. Rare third: {}.",
                a.resamples,
                study.test_labels.len(),
                a.rare
                    .iter()
                    .map(|&c| study.classes[c].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (header, rows),
        ));
    }
    let groups: Vec<Group> = crate::report::summary::shown_groups(study);
    let mut header = vec!["method".to_string()];
    header.extend(groups.iter().map(|g| format!("{} F1", g.label())));
    header.extend(groups.iter().map(|g| format!("{} recall", g.label())));
    let group_value = |m: &MultiLabelMetrics, g: Group, f1: bool| {
        m.group_scores(&study.train_counts, study.thresholds)
            .iter()
            .find(|s| s.group == g)
            .map_or(f64::NAN, |s| if f1 { s.f1 } else { s.recall })
    };
    let rows = (0..study.methods.len())
        .map(|m| {
            let mut row = vec![study.methods[m].name.to_string()];
            for f1 in [true, false] {
                row.extend(
                    groups
                        .iter()
                        .map(|&g| spread_cell(study, m, |r| group_value(&r.test, g, f1))),
                );
            }
            row
        })
        .collect();
    let t = study.thresholds;
    out.push((
        "Shot groups".into(),
        format!(
            "Mean per-class F1 and recall of the classes with more than {} training texts (many), {}–{} (medium) and fewer than {} (few).",
            t.many, t.few, t.many, t.few
        ),
        (header, rows),
    ));
    let mut header = vec![
        "class".to_string(),
        "train".to_string(),
        "valid.".to_string(),
        "test".to_string(),
    ];
    header.extend(study.methods.iter().map(|m| m.name.to_string()));
    let rows = study
        .order()
        .into_iter()
        .map(|c| {
            let mut row = vec![
                study.classes[c].clone(),
                study.train_counts[c].to_string(),
                study.validation_counts[c].to_string(),
                study.test_counts[c].to_string(),
            ];
            row.extend(study.methods.iter().map(|m| {
                let r = m.shown();
                format!(
                    "{:.3} @{:.2}",
                    r.test.per_class[c].f1, r.fit.thresholds[c].value
                )
            }));
            row
        })
        .collect();
    out.push((
        "Per class: test F1 @ threshold".into(),
        "Each method's test F1 per class (first seed) and the class's threshold. Thresholds maximise each class's F1 \
         on validation, or on training and validation pooled, whichever of the two gives the better macro-F1 when \
         validation is halved (choose on one half, score the other); a class no such text carries keeps 0.5. \
         Classes from most to least frequent in training."
            .into(),
        (header, rows),
    ));
    out
}

fn settings(study: &Study<LabelSet>) -> String {
    let [n, none, several] = study.extra.texts;
    format!(
        "{} classes; {n} training texts ({none} with no label, {several} with two or more), {} validation, {} test. \
         A text gets every label whose probability passes that label's threshold; when none passes: {}. \
         Seeds {:?}. Encoder {} ({}) on {}. Command: `{}`",
        study.classes.len(),
        study.validation_labels.len(),
        study.test_labels.len(),
        match study.rule {
            crate::decision::WhenNonePasses::NoEmotion => "no emotion",
            crate::decision::WhenNonePasses::TopLabel => "the top label (--at-least-one)",
        },
        study.seeds,
        study.encoder.name,
        study.precision,
        study.device,
        study.command
    )
}

pub fn write(study: &Study<LabelSet>, dir: &Path) -> Result<Vec<String>> {
    let mut s = String::new();
    writeln!(
        s,
        "# emo compare-sampling: {} (multi-label)\n",
        study.dataset
    )?;
    writeln!(s, "{}\n", settings(study))?;
    writeln!(s, "## Verdict\n")?;
    for v in verdict::verdict(study) {
        writeln!(s, "{v}\n")?;
    }
    writeln!(
        s,
        "## Test metrics\n\nAt each method's per-class thresholds chosen on validation (mean ± s.d. over seeds), and macro-F1 with every threshold at 0.5 and at 0.3.\n"
    )?;
    let (header, rows) = table(study);
    writeln!(s, "{}", markdown(&header, &rows))?;
    for (title, note, (header, rows)) in sections(study) {
        writeln!(s, "## {title}\n\n{note}\n\n{}", markdown(&header, &rows))?;
    }
    s.push_str(&crate::report::calibration::markdown(study));
    s.push_str(&crate::report::shift::markdown(study));
    crate::atomic::write(&dir.join("summary.md"), s.as_bytes())?;
    Ok(vec!["summary.md".into()])
}
