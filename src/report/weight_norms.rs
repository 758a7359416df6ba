//! `weight-norms.png`, the paper's figure 2: the L2 norm of each class's weight
//! vector, classes ordered by training count, one line per linear method, and
//! the training counts as a dashed line on a second axis. Under instance-balanced
//! training the norms follow the counts; the rebalancing methods flatten them.

use super::plot::{class_axis_mesh, png, rotated_x_labels, text_area, FONT, PALETTE};
use super::{Study, Writer};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

pub struct WeightNormsPng;

/// The methods drawn, when present, in this order (the paper's figure).
const SHOWN: [&str; 4] = ["ib", "crt", "tau", "lws"];

impl Writer for WeightNormsPng {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        let order = study.order();
        let lines: Vec<(&str, Vec<f64>)> = SHOWN
            .iter()
            .filter_map(|&name| {
                let norms = study.method(name)?.shown().weight_norms.as_ref()?;
                Some((name, order.iter().map(|&c| norms[c]).collect()))
            })
            .collect();
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let c = order.len();
        let max_norm = lines
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0, f64::max)
            * 1.1;
        let max_count = study.train_counts.iter().copied().max().unwrap_or(1) as f64 * 1.1;
        let labels: Vec<String> = order.iter().map(|&i| study.classes[i].clone()).collect();
        let width = (240 + 34 * c as u32).max(900);
        png(&dir.join("weight-norms.png"), (width, 640), |root| {
            let err = |e: String| anyhow::anyhow!("drawing weight norms: {e}");
            let mut chart = ChartBuilder::on(root)
                .caption(
                    "Classifier weight norm per class (classes by training count)",
                    (FONT, 20),
                )
                .margin(16)
                .x_label_area_size(text_area(&labels))
                .y_label_area_size(70)
                .right_y_label_area_size(80)
                .build_cartesian_2d(-0.5f64..(c as f64 - 0.5), 0f64..max_norm)
                .map_err(|e| err(e.to_string()))?
                .set_secondary_coord(-0.5f64..(c as f64 - 0.5), 0f64..max_count);
            class_axis_mesh(&mut chart, "‖W_j‖")?;
            chart
                .configure_secondary_axes()
                .y_label_formatter(&|v| format!("{v:.0}"))
                .y_desc("training examples (dashed)")
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 15))
                .draw()
                .map_err(|e| err(e.to_string()))?;
            chart
                .draw_secondary_series(DashedLineSeries::new(
                    order
                        .iter()
                        .enumerate()
                        .map(|(x, &i)| (x as f64, study.train_counts[i] as f64)),
                    8,
                    6,
                    BLACK.stroke_width(2),
                ))
                .map_err(|e| err(e.to_string()))?;
            // Drawn widest first so that coinciding lines (τ = 0 equals ib) both show.
            for (k, (name, norms)) in lines.iter().enumerate().rev() {
                let color = PALETTE[k % PALETTE.len()];
                let width = match *name {
                    "tau" => 7,
                    "ib" => 2,
                    _ => 4,
                };
                chart
                    .draw_series(LineSeries::new(
                        norms.iter().enumerate().map(|(x, &v)| (x as f64, v)),
                        color.stroke_width(width),
                    ))
                    .map_err(|e| err(e.to_string()))?
                    .label(*name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(width))
                    });
                chart
                    .draw_series(
                        norms
                            .iter()
                            .enumerate()
                            .map(|(x, &v)| Circle::new((x as f64, v), 3, color.filled())),
                    )
                    .map_err(|e| err(e.to_string()))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font((FONT, 14))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| err(e.to_string()))?;
            rotated_x_labels(root, |x| chart.backend_coord(&(x, 0.0)), &labels, 13.0)
        })?;
        Ok(vec!["weight-norms.png".into()])
    }
}
