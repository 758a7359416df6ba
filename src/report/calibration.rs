//! How trustworthy each method's probabilities are, before and after the
//! calibration map `emo train` would fit (on validation; judged on test): a
//! table for summary.md and index.html, a `calibration` entry per run in
//! metrics.json, and `reliability.png`, one panel per method with the
//! reliability curve of the head's own probabilities and of the calibrated
//! ones. Shares of a corpus estimated from probabilities (`emo quantify`) are
//! only as good as these curves are straight, and single- and multi-label
//! studies read it the same way, so one writer serves both.

use super::plot::{png, FONT};
use super::{Run, Studied, Study};
use crate::calibration::Assessment;
use crate::data::Task;
use crate::metrics::calibration::{Reliability, Scores};
use anyhow::Result;
use plotters::prelude::*;
use serde_json::{json, Value};
use std::path::Path;

/// Each method's first-run assessment, in report order (methods without one
/// left out).
fn assessed<L: Studied>(study: &Study<L>) -> Vec<(&'static str, &Assessment)> {
    study
        .methods
        .iter()
        .filter_map(|m| Some((m.name, m.runs.first()?.calibration.as_ref()?)))
        .collect()
}

/// The mean over a method's runs of each score, before and after.
fn mean_scores<L: Studied>(runs: &[Run<L>]) -> Option<(Scores, Scores, &'static str)> {
    let all: Vec<&Assessment> = runs.iter().filter_map(|r| r.calibration.as_ref()).collect();
    let first = all.first()?;
    let n = all.len() as f64;
    let mean = |f: &dyn Fn(&Assessment) -> Scores| {
        let s: Vec<Scores> = all.iter().map(|a| f(a)).collect();
        Scores {
            ece: s.iter().map(|x| x.ece).sum::<f64>() / n,
            adaptive_ece: s.iter().map(|x| x.adaptive_ece).sum::<f64>() / n,
            brier: s.iter().map(|x| x.brier).sum::<f64>() / n,
            log_loss: s.iter().map(|x| x.log_loss).sum::<f64>() / n,
        }
    };
    Some((mean(&|a| a.before), mean(&|a| a.after), first.kind.name()))
}

/// The table: per method, each score of the head's own probabilities → the
/// calibrated ones.
pub fn table<L: Studied>(study: &Study<L>) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let header = ["method", "map", "ECE", "adaptive ECE", "Brier", "log loss"]
        .map(String::from)
        .to_vec();
    let arrow = |a: f64, b: f64| format!("{a:.4} → {b:.4}");
    let rows: Vec<Vec<String>> = study
        .methods
        .iter()
        .filter_map(|m| {
            let (before, after, kind) = mean_scores::<L>(&m.runs)?;
            Some(vec![
                format!("`{}`", m.name),
                kind.to_string(),
                arrow(before.ece, after.ece),
                arrow(before.adaptive_ece, after.adaptive_ece),
                arrow(before.brier, after.brier),
                arrow(before.log_loss, after.log_loss),
            ])
        })
        .collect();
    (!rows.is_empty()).then_some((header, rows))
}

/// What the table measures, in one paragraph for both pages.
pub fn note(task: Task) -> &'static str {
    match task {
        Task::SingleLabel => {
            "Each cell: the head's own probabilities → after the calibration map fitted on \
             validation, on test. ECE: how far the most probable emotion's probability is from \
             how often it is right (15 equal-width bins; adaptive: 15 bins of equal count); Brier \
             and log loss over all classes. Lower is better. Temperature scaling never changes \
             which emotion is most probable, so the labels and the metrics above are the same."
        }
        Task::MultiLabel => {
            "Each cell: the head's own sigmoid probabilities → after the calibration map fitted \
             on validation, on test, each the mean over labels of that label's own score (a rare \
             label counts as much as a common one): ECE (15 equal-width bins; adaptive: 15 bins of \
             equal count), Brier, binary log loss. Lower is better. Decisions stay at the \
             thresholds chosen on the head's own probabilities, so the labels and the metrics \
             above are the same."
        }
    }
}

/// The Markdown section (empty when no run was assessed).
pub fn markdown<L: Studied>(study: &Study<L>) -> String {
    let Some((header, rows)) = table(study) else {
        return String::new();
    };
    format!(
        "## Calibration\n\n{}\n\n{}\n![reliability](reliability.png)\n\n",
        note(L::TASK),
        super::markdown(&header, &rows)
    )
}

/// A run's entry in metrics.json.
pub fn json(a: Option<&Assessment>) -> Value {
    match a {
        None => Value::Null,
        Some(a) => json!({
            "map": a.kind.name(),
            "before": a.before,
            "after": a.after,
            "bins": crate::metrics::calibration::BINS,
        }),
    }
}

/// `reliability.png`: a panel per method (first run), the diagonal, the head's
/// own curve (grey) and the calibrated one (blue), each point a non-empty bin.
pub fn picture<L: Studied>(study: &Study<L>, dir: &Path) -> Result<Vec<String>> {
    let panels = assessed(study);
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let cols = panels.len().min(4);
    let rows = panels.len().div_ceil(cols);
    let (w, h) = (300u32, 300u32);
    let axis = match L::TASK {
        Task::SingleLabel => "top-label probability",
        Task::MultiLabel => "label probability (all labels)",
    };
    png(
        &dir.join("reliability.png"),
        (w * cols as u32, h * rows as u32 + 40),
        |root| {
            let err = |e: String| anyhow::anyhow!("drawing reliability curves: {e}");
            let (title, body) = root.split_vertically(40);
            title
                .draw(&Text::new(
                    format!(
                        "Reliability on test: observed frequency against {axis} (grey: head, blue: calibrated)"
                    ),
                    (10, 12),
                    (FONT, 15),
                ))
                .map_err(|e| err(e.to_string()))?;
            for ((name, a), area) in panels.iter().zip(body.split_evenly((rows, cols))) {
                let mut chart = ChartBuilder::on(&area)
                    .caption(
                        format!(
                            "{name} ({}): ECE {:.3} → {:.3}",
                            a.kind.name(),
                            a.before.ece,
                            a.after.ece
                        ),
                        (FONT, 13),
                    )
                    .margin(8)
                    .x_label_area_size(28)
                    .y_label_area_size(36)
                    .build_cartesian_2d(0f64..1f64, 0f64..1f64)
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .configure_mesh()
                    .x_labels(6)
                    .y_labels(6)
                    .label_style((FONT, 11))
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .draw_series(LineSeries::new(
                        [(0.0, 0.0), (1.0, 1.0)],
                        BLACK.mix(0.4).stroke_width(1),
                    ))
                    .map_err(|e| err(e.to_string()))?;
                for (curve, color) in [
                    (&a.curve_before, RGBColor(150, 150, 150)),
                    (&a.curve_after, RGBColor(31, 119, 180)),
                ] {
                    let points = points(curve);
                    chart
                        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                        .map_err(|e| err(e.to_string()))?;
                    chart
                        .draw_series(
                            points
                                .into_iter()
                                .map(|p| Circle::new(p, 3, color.filled())),
                        )
                        .map_err(|e| err(e.to_string()))?;
                }
            }
            Ok(())
        },
    )?;
    Ok(vec!["reliability.png".into()])
}

fn points(curve: &Reliability) -> Vec<(f64, f64)> {
    curve
        .prob_pred
        .iter()
        .zip(&curve.prob_true)
        .map(|(&p, &t)| (p, t))
        .collect()
}
