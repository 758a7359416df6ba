//! `confusion-<method>.png`: the confusion matrix of each method, counts on the
//! left and row-normalised (each row is a true class; the diagonal is its
//! recall) on the right. Classes ordered by training count, so the tail is at
//! the bottom right and its misclassifications into head classes stand out.

use super::plot::{png, Grid};
use super::{Study, Writer};
use anyhow::Result;
use std::path::Path;

pub struct ConfusionPngs;

/// Cell size that keeps 6 classes readable and 28 on a normal screen.
pub fn cell_size(n_classes: usize) -> u32 {
    (720 / n_classes.max(1) as u32).clamp(22, 64)
}

impl Writer for ConfusionPngs {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        let order = study.order();
        let names: Vec<String> = study.axis_names(&order);
        let mut files = Vec::new();
        for m in &study.methods {
            let conf = &m.shown().test.confusion;
            let counts: Vec<Vec<usize>> = order
                .iter()
                .map(|&r| order.iter().map(|&c| conf[r][c]).collect())
                .collect();
            let totals: Vec<usize> = order.iter().map(|&r| conf[r].iter().sum()).collect();
            let file = format!("confusion-{}.png", m.name);
            two_panels(
                &dir.join(&file),
                m.name,
                "% of each true class (diagonal = recall)",
                "true class (training count)",
                "predicted class",
                &names,
                &names,
                &counts,
                &totals,
            )?;
            files.push(file);
        }
        Ok(files)
    }
}

/// One heat-map panel: each cell's colour value and its text.
type Panel = (Vec<Vec<f64>>, Vec<Vec<String>>);

/// Colour by log count (so that a few frequent cells do not wash out the rest),
/// text the count; and the row-normalised share in percent.
fn panels(counts: &[Vec<usize>], row_totals: &[usize]) -> [Panel; 2] {
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let colour: Vec<Vec<f64>> = counts
        .iter()
        .map(|r| {
            r.iter()
                .map(|&v| (v as f64 + 1.0).ln() / (max + 1.0).ln())
                .collect()
        })
        .collect();
    let text: Vec<Vec<String>> = counts
        .iter()
        .map(|r| {
            r.iter()
                .map(|&v| if v > 0 { v.to_string() } else { String::new() })
                .collect()
        })
        .collect();
    let share: Vec<Vec<f64>> = counts
        .iter()
        .zip(row_totals)
        .map(|(r, &t)| {
            r.iter()
                .map(|&v| if t > 0 { v as f64 / t as f64 } else { 0.0 })
                .collect()
        })
        .collect();
    let share_text = share
        .iter()
        .map(|r| {
            r.iter()
                .map(|&v| {
                    if v >= 0.005 {
                        format!("{:.0}", v * 100.0)
                    } else {
                        String::new()
                    }
                })
                .collect()
        })
        .collect();
    [(colour, text), (share, share_text)]
}

/// Two grids side by side: counts (`title — counts`), and each row's counts
/// as a share of `row_totals` (`title — share_title`).
#[allow(clippy::too_many_arguments)]
pub(super) fn two_panels(
    path: &Path,
    title: &str,
    share_title: &str,
    row_title: &str,
    col_title: &str,
    rows: &[String],
    cols: &[String],
    counts: &[Vec<usize>],
    row_totals: &[usize],
) -> Result<()> {
    let [(c_values, c_texts), (s_values, s_texts)] = panels(counts, row_totals);
    let title_counts = format!("{title} — counts");
    let title_share = format!("{title} — {share_title}");
    let left = Grid {
        title: &title_counts,
        row_title,
        col_title,
        rows,
        cols,
        values: c_values,
        texts: c_texts,
        cell: cell_size(rows.len()),
    };
    let right = Grid {
        title: &title_share,
        values: s_values,
        texts: s_texts,
        ..left.labels_only()
    };
    let (w, h) = left.size();
    png(path, (w * 2, h), |root| {
        let (a, b) = root.split_horizontally(w);
        left.draw(&a)?;
        right.draw(&b)
    })
}
