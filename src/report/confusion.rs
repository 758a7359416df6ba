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
        let names: Vec<String> = order
            .iter()
            .map(|&c| format!("{} ({})", study.classes[c], study.train_counts[c]))
            .collect();
        let mut files = Vec::new();
        for m in &study.methods {
            let conf = &m.shown().test.confusion;
            let max = order
                .iter()
                .flat_map(|&r| order.iter().map(move |&c| conf[r][c]))
                .max()
                .unwrap_or(1)
                .max(1);
            let counts: Vec<Vec<f64>> = order
                .iter()
                .map(|&r| {
                    order
                        .iter()
                        .map(|&c| ((conf[r][c] as f64) + 1.0).ln() / ((max as f64) + 1.0).ln())
                        .collect()
                })
                .collect();
            let count_texts: Vec<Vec<String>> = order
                .iter()
                .map(|&r| {
                    order
                        .iter()
                        .map(|&c| {
                            if conf[r][c] > 0 {
                                conf[r][c].to_string()
                            } else {
                                String::new()
                            }
                        })
                        .collect()
                })
                .collect();
            let norm: Vec<Vec<f64>> = order
                .iter()
                .map(|&r| {
                    let total: usize = conf[r].iter().sum();
                    order
                        .iter()
                        .map(|&c| {
                            if total > 0 {
                                conf[r][c] as f64 / total as f64
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect();
            let norm_texts: Vec<Vec<String>> = norm
                .iter()
                .map(|row| {
                    row.iter()
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
            let cell = cell_size(order.len());
            let title_counts = format!("{} — counts", m.name);
            let title_norm = format!("{} — % of each true class (diagonal = recall)", m.name);
            let left = Grid {
                title: &title_counts,
                row_title: "true class (training count)",
                col_title: "predicted class",
                rows: &names,
                cols: &names,
                values: counts,
                texts: count_texts,
                cell,
            };
            let right = Grid {
                title: &title_norm,
                values: norm,
                texts: norm_texts,
                ..left.labels_only()
            };
            let (w, h) = left.size();
            let file = format!("confusion-{}.png", m.name);
            png(&dir.join(&file), (w * 2, h), |root| {
                let (a, b) = root.split_horizontally(w);
                left.draw(&a)?;
                right.draw(&b)
            })?;
            files.push(file);
        }
        Ok(files)
    }
}
