//! What `emo quantify` writes: each emotion's estimated share of a corpus (or
//! of each group of it) with its 95% interval, as a table for people, JSON,
//! CSV/TSV or Markdown, and as a picture.

use super::plot::{png, text_width, FONT, PALETTE};
use crate::quantify::Share;
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde_json::{json, Map, Value};
use std::path::Path;

/// The shares of one group of texts (`group: None`: the whole input).
pub struct GroupShares {
    pub group: Option<String>,
    pub texts: usize,
    pub shares: Vec<Share>,
}

/// The JSON document: one object, or with groups an array of them, each
/// `{"group", "estimator", "texts", "shares": {LABEL: {"share", "low", "high"}}}`.
pub fn json(estimator: &str, labels: &[String], groups: &[GroupShares]) -> Value {
    let one = |g: &GroupShares| {
        let shares: Map<String, Value> = labels
            .iter()
            .zip(&g.shares)
            .map(|(l, s)| {
                (
                    l.clone(),
                    json!({"share": s.share, "low": s.low, "high": s.high}),
                )
            })
            .collect();
        let mut v = json!({"estimator": estimator, "texts": g.texts, "shares": shares});
        if let Some(name) = &g.group {
            v["group"] = json!(name);
        }
        v
    };
    match groups {
        [g] if g.group.is_none() => one(g),
        _ => Value::Array(groups.iter().map(one).collect()),
    }
}

/// Long rows for CSV/TSV: group (when grouped), label, share, low, high, texts.
pub fn records(labels: &[String], groups: &[GroupShares]) -> (Vec<String>, Vec<Vec<String>>) {
    let grouped = groups.iter().any(|g| g.group.is_some());
    let mut header: Vec<String> = Vec::new();
    if grouped {
        header.push("group".into());
    }
    header.extend(["label", "share", "low", "high", "texts"].map(String::from));
    let mut rows = Vec::new();
    for g in groups {
        for (l, s) in labels.iter().zip(&g.shares) {
            let mut r = Vec::new();
            if grouped {
                r.push(g.group.clone().unwrap_or_default());
            }
            r.extend([
                l.clone(),
                format!("{:.6}", s.share),
                format!("{:.6}", s.low),
                format!("{:.6}", s.high),
                g.texts.to_string(),
            ]);
            rows.push(r);
        }
    }
    (header, rows)
}

/// `0.123 [0.101, 0.145]`.
fn cell(s: &Share) -> String {
    format!("{:.3} [{:.3}, {:.3}]", s.share, s.low, s.high)
}

/// The table people read: a row per label, most common first (by the first
/// group), a column per group.
pub fn wide(labels: &[String], groups: &[GroupShares]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    if let Some(first) = groups.first() {
        order.sort_by(|&a, &b| {
            first.shares[b]
                .share
                .total_cmp(&first.shares[a].share)
                .then(a.cmp(&b))
        });
    }
    let mut header = vec!["emotion".to_string()];
    for g in groups {
        header.push(match &g.group {
            Some(name) => format!("{name} ({} texts)", g.texts),
            None => format!("share of {} texts [95% interval]", g.texts),
        });
    }
    let rows = order
        .iter()
        .map(|&k| {
            std::iter::once(labels[k].clone())
                .chain(groups.iter().map(|g| cell(&g.shares[k])))
                .collect()
        })
        .collect();
    (header, rows)
}

/// The picture: one group, bars of the shares (most common first) with their
/// intervals; several groups, a panel per emotion with its share across the
/// groups, in the order they are listed.
pub fn picture(path: &Path, title: &str, labels: &[String], groups: &[GroupShares]) -> Result<()> {
    if groups.len() <= 1 {
        bars(path, title, labels, groups.first())
    } else {
        panels(path, title, labels, groups)
    }
}

fn bars(path: &Path, title: &str, labels: &[String], g: Option<&GroupShares>) -> Result<()> {
    let Some(g) = g else { return Ok(()) };
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| {
        g.shares[b]
            .share
            .total_cmp(&g.shares[a].share)
            .then(a.cmp(&b))
    });
    let n = order.len();
    let top = g
        .shares
        .iter()
        .map(|s| s.high)
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.1;
    let label_w = labels
        .iter()
        .map(|l| text_width(l, 14.0))
        .max()
        .unwrap_or(40)
        + 24;
    png(path, (900, 90 + 26 * n as u32), |root| {
        let err = |e: String| anyhow::anyhow!("drawing shares: {e}");
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(14)
            .x_label_area_size(36)
            .y_label_area_size(label_w)
            .build_cartesian_2d(0f64..top, -0.5f64..(n as f64 - 0.5))
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("share of texts (95% interval)")
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let color = PALETTE[0];
        for (row, &k) in order.iter().enumerate() {
            // Most common at the top.
            let y = (n - 1 - row) as f64;
            let s = &g.shares[k];
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y - 0.35), (s.share, y + 0.35)],
                    color.mix(0.6).filled(),
                )))
                .map_err(|e| err(e.to_string()))?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(s.low, y), (s.high, y)],
                    BLACK.stroke_width(2),
                )))
                .map_err(|e| err(e.to_string()))?;
            let (px, py) = chart.backend_coord(&(0.0, y));
            root.draw(&Text::new(
                labels[k].clone(),
                (px - 8, py),
                super::plot::text_style(14.0, HPos::Right, VPos::Center),
            ))
            .map_err(|e| err(e.to_string()))?;
        }
        Ok(())
    })
}

fn panels(path: &Path, title: &str, labels: &[String], groups: &[GroupShares]) -> Result<()> {
    let c = labels.len();
    let cols = c.min(4);
    let rows = c.div_ceil(cols);
    let (w, h) = (320u32, 220u32);
    let g = groups.len();
    png(path, (w * cols as u32, h * rows as u32 + 40), |root| {
        let err = |e: String| anyhow::anyhow!("drawing shares: {e}");
        let (head, body) = root.split_vertically(40);
        head.draw(&Text::new(title.to_string(), (10, 12), (FONT, 16)))
            .map_err(|e| err(e.to_string()))?;
        for (k, area) in (0..c).zip(body.split_evenly((rows, cols))) {
            let top = groups
                .iter()
                .map(|x| x.shares[k].high)
                .fold(0.0, f64::max)
                .max(1e-3)
                * 1.15;
            let mut chart = ChartBuilder::on(&area)
                .caption(&labels[k], (FONT, 14))
                .margin(8)
                .x_label_area_size(24)
                .y_label_area_size(44)
                .build_cartesian_2d(-0.5f64..(g as f64 - 0.5), 0f64..top)
                .map_err(|e| err(e.to_string()))?;
            chart
                .configure_mesh()
                .x_labels(g.min(6))
                .x_label_formatter(&|v| {
                    let i = v.round();
                    if (v - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < g {
                        groups[i as usize].group.clone().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_labels(4)
                .label_style((FONT, 11))
                .draw()
                .map_err(|e| err(e.to_string()))?;
            let color = PALETTE[k % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    groups
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (i as f64, x.shares[k].share)),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(e.to_string()))?;
            for (i, x) in groups.iter().enumerate() {
                let s = &x.shares[k];
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(i as f64, s.low), (i as f64, s.high)],
                        color.stroke_width(2),
                    )))
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (i as f64, s.share),
                        3,
                        color.filled(),
                    )))
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        Ok(())
    })
}
