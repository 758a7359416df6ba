//! Quantification under shift (`compare-sampling --shift-samples N`): per
//! method, each estimator's mean absolute error of the shares over shifted
//! test samples, with its interval, a sentence on which head and estimator to
//! use when the shares are what is wanted, and a `shift` entry per run in
//! metrics.json. One writer for both tasks, as for calibration.

use super::{Studied, Study};
use crate::quantify::shift::ShiftScores;
use crate::quantify::{Method, DEFAULT_ESTIMATOR};
use crate::uncertainty::Interval;
use serde_json::{json, Value};

/// Each method's first-run scores, in report order.
fn scored<L: Studied>(study: &Study<L>) -> Vec<(&'static str, &ShiftScores)> {
    study
        .methods
        .iter()
        .filter_map(|m| Some((m.name, m.runs.first()?.shift.as_ref()?)))
        .collect()
}

fn cell(i: &Interval) -> String {
    format!("{:.4} [{:.4}, {:.4}]", i.estimate, i.lo, i.hi)
}

/// The table: a row per method, a column per estimator (mean absolute error
/// of the shares over the samples, 95% interval), the row's best in bold.
pub fn table<L: Studied>(study: &Study<L>) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let runs = scored(study);
    if runs.is_empty() {
        return None;
    }
    let mut header = vec!["method".to_string()];
    header.extend(Method::ALL.iter().map(|m| m.name().to_string()));
    header.push(format!("{} / cc", DEFAULT_ESTIMATOR.name()));
    let rows = runs
        .iter()
        .map(|(name, s)| {
            let best = s
                .estimators
                .iter()
                .min_by(|a, b| a.mae.estimate.total_cmp(&b.mae.estimate))
                .map(|e| e.estimator);
            let mut row = vec![format!("`{name}`")];
            for m in Method::ALL {
                let c = s.of(m).map(|e| cell(&e.mae)).unwrap_or_default();
                row.push(if Some(m) == best {
                    format!("**{c}**")
                } else {
                    c
                });
            }
            row.push(
                s.ratio(DEFAULT_ESTIMATOR, Method::Cc, 1000, study.seeds[0])
                    .map(|r| format!("{:.2} [{:.2}, {:.2}]", r.estimate, r.lo, r.hi))
                    .unwrap_or_default(),
            );
            row
        })
        .collect();
    Some((header, rows))
}

/// What the numbers say, in sentences: the pair with the least error, and
/// what rebalancing does to it.
pub fn verdict<L: Studied>(study: &Study<L>) -> Vec<String> {
    let runs = scored(study);
    let Some(&(_, first)) = runs.first() else {
        return Vec::new();
    };
    let best = runs
        .iter()
        .flat_map(|(name, s)| s.estimators.iter().map(move |e| (*name, e)))
        .min_by(|a, b| a.1.mae.estimate.total_cmp(&b.1.mae.estimate));
    let mut out = Vec::new();
    if let Some((name, e)) = best {
        out.push(format!(
            "For shares rather than labels, `{name}` with {} came closest: mean absolute error {} over {} samples of {} texts whose label mix is far from training's.",
            e.estimator.name(),
            cell(&e.mae),
            first.samples,
            first.size
        ));
    }
    // The study's first method is its plain head (`ib`, or `bce` for
    // multi-label); every head is scored on the same samples, so heads
    // compare paired.
    let (plain_name, plain) = runs[0];
    fn default_of(s: &ShiftScores) -> Option<&Vec<f64>> {
        s.of(DEFAULT_ESTIMATOR).map(|e| &e.per_sample)
    }
    let others = runs
        .iter()
        .skip(1)
        .filter_map(|(n, s)| Some((*n, default_of(s)?)))
        .min_by(|a, b| mean(a.1).total_cmp(&mean(b.1)));
    if let (Some(base), Some((other, theirs))) = (default_of(plain), others) {
        let r = crate::quantify::shift::paired_ratio(theirs, base, 1000, study.seeds[0]);
        out.push(format!(
            "With {d} (emo's default), the plain head (`{plain_name}`) has mean absolute error {:.4} and the best other head (`{other}`) {:.4}: {:.1}% of the plain head's (95% interval {:.1}–{:.1}%, paired over the same samples), so choosing another head {} when the shares are what you want.",
            mean(base),
            mean(theirs),
            100.0 * r.estimate,
            100.0 * r.lo,
            100.0 * r.hi,
            if r.hi < 1.0 && r.estimate < 0.9 {
                "helps"
            } else if r.hi < 1.0 {
                "helps a little (beyond chance, by less than a tenth)"
            } else if r.lo > 1.0 {
                "hurts"
            } else {
                "makes no difference beyond chance"
            },
            d = DEFAULT_ESTIMATOR.name(),
        ));
    }
    if let Some(r) = plain.ratio(DEFAULT_ESTIMATOR, Method::Cc, 1000, study.seeds[0]) {
        out.push(format!(
            "On `{plain_name}`, {} has {:.0}% of counting's error (95% interval {:.0}–{:.0}%).",
            DEFAULT_ESTIMATOR.name(),
            100.0 * r.estimate,
            100.0 * r.lo,
            100.0 * r.hi
        ));
    }
    out
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

pub fn note<L: Studied>(study: &Study<L>) -> String {
    let Some(&(_, s)) = scored(study).first() else {
        return String::new();
    };
    match L::TASK {
        crate::data::Task::SingleLabel => format!(
            "{} samples of {} test texts each, their label mix drawn uniformly from the simplex \
             (far from training's long tail). Each cell: the mean over samples of the mean over \
             labels of |estimated share − true share|, with a 95% interval over samples. The \
             estimators read probabilities from bias-corrected temperature scaling fitted on \
             validation, as `emo quantify` does. Lower is better; the row's best in bold.",
            s.samples, s.size
        ),
        crate::data::Task::MultiLabel => format!(
            "{} draws; in each, every label gets a sample of {} test texts in which its prevalence \
             is drawn uniformly from 0.05–0.95. Each cell: the mean over draws of the mean over \
             labels of |estimated prevalence − true prevalence|, with a 95% interval over draws. \
             The estimators read the probabilities of the Platt maps `emo train` fits on \
             validation. Lower is better; the row's best in bold.",
            s.samples, s.size
        ),
    }
}

pub fn markdown<L: Studied>(study: &Study<L>) -> String {
    let Some((header, rows)) = table(study) else {
        return String::new();
    };
    let mut s = format!("## Quantification under shift\n\n{}\n\n", note(study));
    for v in verdict(study) {
        s.push_str(&v);
        s.push_str("\n\n");
    }
    s.push_str(&super::markdown(&header, &rows));
    s.push('\n');
    s
}

pub fn json(s: Option<&ShiftScores>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => json!({
            "samples": s.samples,
            "size": s.size,
            "estimators": s.estimators,
        }),
    }
}
