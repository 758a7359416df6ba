//! Per-class pictures: `per-class-f1.png`, a methods × classes grid of F1 (classes
//! by training count, so what each method does to the tail reads left to right),
//! and `precision-ib-cb.png`, per-class precision of instance- against
//! class-balanced sampling — where rebalancing buys recall with precision.

use super::plot::{class_axis_mesh, png, rotated_x_labels, text_area, Grid, FONT, PALETTE};
use super::{Study, Writer};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

pub struct PerClassPngs;

impl Writer for PerClassPngs {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        let order = study.order();
        let cols: Vec<String> = study.axis_names(&order);
        let rows: Vec<String> = study.methods.iter().map(|m| m.name.to_string()).collect();
        let values: Vec<Vec<f64>> = study
            .methods
            .iter()
            .map(|m| {
                order
                    .iter()
                    .map(|&c| m.shown().test.per_class[c].f1)
                    .collect()
            })
            .collect();
        let texts = values
            .iter()
            .map(|r| r.iter().map(|v| format!("{:.0}", v * 100.0)).collect())
            .collect();
        let grid = Grid {
            title: "Test F1 per class (×100), classes by training count",
            row_title: "method",
            col_title: "class (training count)",
            rows: &rows,
            cols: &cols,
            values,
            texts,
            cell: super::confusion::cell_size(order.len()).max(30),
        };
        let mut files = vec!["per-class-f1.png".to_string()];
        png(&dir.join(&files[0]), grid.size(), |root| grid.draw(root))?;

        if let (Some(ib), Some(cb)) = (study.method("ib"), study.method("cb")) {
            let c = order.len();
            let labels: Vec<String> = order.iter().map(|&i| study.classes[i].clone()).collect();
            let width = (240 + 40 * c as u32).max(900);
            png(&dir.join("precision-ib-cb.png"), (width, 600), |root| {
                let err = |e: String| anyhow::anyhow!("drawing precision bars: {e}");
                let mut chart = ChartBuilder::on(root)
                    .caption(
                        "Test precision per class: instance- vs class-balanced sampling",
                        (FONT, 20),
                    )
                    .margin(16)
                    .x_label_area_size(text_area(&labels))
                    .y_label_area_size(60)
                    .build_cartesian_2d(-0.5f64..(c as f64 - 0.5), 0f64..1.05f64)
                    .map_err(|e| err(e.to_string()))?;
                class_axis_mesh(&mut chart, "precision")?;
                for (k, (m, offset)) in [(ib, -0.4), (cb, 0.0)].into_iter().enumerate() {
                    let color = PALETTE[k];
                    chart
                        .draw_series(order.iter().enumerate().map(|(x, &cl)| {
                            let p = m.shown().test.per_class[cl].precision;
                            Rectangle::new(
                                [(x as f64 + offset, 0.0), (x as f64 + offset + 0.38, p)],
                                color.filled(),
                            )
                        }))
                        .map_err(|e| err(e.to_string()))?
                        .label(m.name)
                        .legend(move |(x, y)| {
                            Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled())
                        });
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
            files.push("precision-ib-cb.png".into());
        }
        Ok(files)
    }
}
