//! The pictures of a multi-label report. `label-confusion-<method>.png`: for
//! each true label, which labels the method predicts on the test texts that
//! carry it (counts, and as a share of those texts; the last column is the
//! texts given no label at all) — a multi-label answer has no single
//! "predicted class", so this is the confusion matrix's counterpart, and its
//! off-diagonal cells are partly legitimate co-occurrence. Hence
//! `cooccurrence.png` beside it: how often the labels come together in the
//! training data. `tradeoff.png`: micro-F1 against macro-F1 per method, with
//! intervals and rare-third recall as colour.

use crate::data::Label;
use crate::data::LabelSet;
use crate::metrics::multilabel::MultiStat;
use crate::report::confusion::two_panels;
use crate::report::tradeoff::{scatter, Labels, Point};
use crate::report::Study;
use crate::uncertainty::Interval;
use anyhow::Result;
use std::path::Path;

/// What the right-hand panels show.
const SHARE: &str = "% of the texts carrying the row's label";

pub fn write(study: &Study<LabelSet>, dir: &Path) -> Result<Vec<String>> {
    let order = study.order();
    let names: Vec<String> = study.axis_names(&order);
    let mut files = Vec::new();

    let co: Vec<Vec<usize>> = order
        .iter()
        .map(|&a| {
            order
                .iter()
                .map(|&b| study.extra.cooccurrence[a][b])
                .collect()
        })
        .collect();
    let totals: Vec<usize> = order
        .iter()
        .map(|&a| study.extra.cooccurrence[a][a])
        .collect();
    two_panels(
        &dir.join("cooccurrence.png"),
        "Training labels that come together",
        SHARE,
        "label (training count)",
        "also carries",
        &names,
        &names,
        &co,
        &totals,
    )?;
    files.push("cooccurrence.png".to_string());

    let mut cols = names.clone();
    cols.push("(no label)".into());
    let truth_totals: Vec<usize> = order.iter().map(|&c| study.test_counts[c]).collect();
    for m in &study.methods {
        let run = m.shown();
        let c = study.classes.len();
        let mut counts = vec![vec![0usize; c + 1]; c];
        for (truth, pred) in study.test_labels.iter().zip(&run.test_predictions) {
            for &t in truth.classes() {
                if pred.is_empty() {
                    counts[t][c] += 1;
                }
                for &p in pred.classes() {
                    counts[t][p] += 1;
                }
            }
        }
        let mut col_order = order.clone();
        col_order.push(c);
        let ordered: Vec<Vec<usize>> = order
            .iter()
            .map(|&t| col_order.iter().map(|&p| counts[t][p]).collect())
            .collect();
        let file = format!("label-confusion-{}.png", m.name);
        two_panels(
            &dir.join(&file),
            m.name,
            SHARE,
            "true label (training count)",
            "predicted labels",
            &names,
            &cols,
            &ordered,
            &truth_totals,
        )?;
        files.push(file);
    }

    let a = study.analysis();
    let stat = |i: usize, s: MultiStat| match a.method(i) {
        Some(iv) => iv.stat(s),
        None => Interval::point(study.test_mean(i, s)),
    };
    let pts: Vec<Point> = (0..study.methods.len())
        .map(|i| Point {
            name: study.methods[i].name.to_string(),
            x: stat(i, MultiStat::MicroF1),
            y: stat(i, MultiStat::MacroF1),
            colour: study.test_mean(i, MultiStat::RareRecall),
        })
        .collect();
    let bars = if a.intervals.is_some() {
        "bars: 95% bootstrap intervals"
    } else {
        "no intervals (--bootstrap 0)"
    };
    scatter(
        &dir.join("tradeoff.png"),
        &Labels {
            title: "Micro-F1 against macro-F1 per method (test, thresholds chosen on validation)",
            x: "micro-F1 (every label decision counts the same: the frequent labels dominate)",
            y: "macro-F1 (every label counts the same)",
            note: &format!(
                "Orange ring and line: Pareto front (no method is better on both axes); {bars}."
            ),
            colour: &format!("recall of the {} rarest labels", a.rare.len()),
        },
        &pts,
        true,
    )?;
    files.push("tradeoff.png".into());
    Ok(files)
}
