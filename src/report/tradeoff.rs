//! The trade-off pictures: `tradeoff.png`, every method at (accuracy, macro-F1)
//! with bootstrap error bars, rare-class recall as the marker's colour, and the
//! Pareto front (methods no other method beats on both axes) joined and ringed;
//! and `rare-vs-frequent.png`, recall of the rarest third of the classes against
//! that of the most frequent third — what rebalancing moves from one to the other.

use super::plot::{heat, png, FONT, PALETTE};
use super::{Study, Writer};
use crate::metrics::Stat;
use crate::uncertainty::Interval;
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

pub struct TradeoffPngs;

/// One method's point: estimates (seed means) and intervals when bootstrapped.
struct Point {
    name: &'static str,
    x: Interval,
    y: Interval,
    colour: f64,
}

/// Indices of the points no other point beats on both coordinates (ties kept).
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            let (xi, yi) = points[i];
            !points
                .iter()
                .any(|&(x, y)| x >= xi && y >= yi && (x > xi || y > yi))
        })
        .collect()
}

fn points(
    study: &Study,
    x: &dyn Fn(usize) -> Interval,
    y: &dyn Fn(usize) -> Interval,
) -> Vec<Point> {
    let a = study.analysis();
    (0..study.methods.len())
        .map(|i| Point {
            name: study.methods[i].name,
            x: x(i),
            y: y(i),
            colour: study.methods[i].test_mean(Stat::FewRecall, &a.rare),
        })
        .collect()
}

/// A stat's interval for method `i`, or a zero-width one at the seed mean.
fn stat(study: &Study, i: usize, s: Stat) -> Interval {
    let a = study.analysis();
    match a.method(i) {
        Some(iv) => iv.stat(s),
        None => Interval::point(study.methods[i].test_mean(s, &a.rare)),
    }
}

fn padded_range(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let pad = ((hi - lo) * 0.12).max(0.02);
    (lo - pad).max(0.0)..(hi + pad).min(1.05)
}

/// The words of one scatter picture.
struct Labels<'a> {
    title: &'a str,
    x: &'a str,
    y: &'a str,
    note: &'a str,
    colour: &'a str,
}

/// Draws a scatter of `pts` with error bars, labels and (optionally) the front.
fn scatter(path: &Path, words: &Labels, pts: &[Point], front: bool) -> Result<()> {
    let Labels {
        title,
        x: x_desc,
        y: y_desc,
        note,
        colour: colour_desc,
    } = *words;
    let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
    let xs = pts
        .iter()
        .flat_map(|p| [p.x.lo, p.x.hi, p.x.estimate])
        .filter_map(finite);
    let ys = pts
        .iter()
        .flat_map(|p| [p.y.lo, p.y.hi, p.y.estimate])
        .filter_map(finite);
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (y0, y1) = ys.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let on_front: Vec<usize> = if front {
        pareto_front(
            &pts.iter()
                .map(|p| (p.x.estimate, p.y.estimate))
                .collect::<Vec<_>>(),
        )
    } else {
        Vec::new()
    };
    png(path, (1000, 760), |root| {
        let err = |e: String| anyhow::anyhow!("drawing {}: {e}", path.display());
        let (main, legend) = root.split_vertically(720);
        let mut chart = ChartBuilder::on(&main)
            .caption(title, (FONT, 20))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(padded_range(x0, x1), padded_range(y0, y1))
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .max_light_lines(0)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        if on_front.len() > 1 {
            let mut line: Vec<(f64, f64)> = on_front
                .iter()
                .map(|&i| (pts[i].x.estimate, pts[i].y.estimate))
                .collect();
            line.sort_by(|a, b| a.0.partial_cmp(&b.0).expect("finite"));
            chart
                .draw_series(LineSeries::new(line, PALETTE[1].stroke_width(2)))
                .map_err(|e| err(e.to_string()))?;
        }
        let grey = RGBColor(90, 90, 90);
        // Colours span the observed range, so that small differences show.
        let (c0, c1) = pts
            .iter()
            .map(|p| p.colour)
            .filter(|v| v.is_finite())
            .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        let shade = |v: f64| {
            if !v.is_finite() {
                0.0
            } else if c1 > c0 {
                0.1 + 0.9 * (v - c0) / (c1 - c0)
            } else {
                0.5
            }
        };
        for (i, p) in pts.iter().enumerate() {
            let (x, y) = (p.x.estimate, p.y.estimate);
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            if p.x.hi > p.x.lo {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(p.x.lo, y), (p.x.hi, y)],
                        grey.stroke_width(1),
                    )))
                    .map_err(|e| err(e.to_string()))?;
            }
            if p.y.hi > p.y.lo {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, p.y.lo), (x, p.y.hi)],
                        grey.stroke_width(1),
                    )))
                    .map_err(|e| err(e.to_string()))?;
            }
            let fill = heat(shade(p.colour));
            chart
                .draw_series(std::iter::once(Circle::new((x, y), 8, fill.filled())))
                .map_err(|e| err(e.to_string()))?;
            let ring = if on_front.contains(&i) {
                PALETTE[1].stroke_width(3)
            } else {
                BLACK.stroke_width(1)
            };
            chart
                .draw_series(std::iter::once(Circle::new((x, y), 9, ring)))
                .map_err(|e| err(e.to_string()))?;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x, y))
                        + Text::new(
                            p.name.to_string(),
                            (12, -18),
                            (FONT, 14).into_font().color(&BLACK),
                        ),
                ))
                .map_err(|e| err(e.to_string()))?;
        }
        let range = if c1 >= c0 {
            format!(
                " Colour: {} {:.0}% (lightest) … {:.0}% (darkest).",
                colour_desc,
                100.0 * c0,
                100.0 * c1
            )
        } else {
            String::new()
        };
        legend
            .draw(&Text::new(
                format!("{note}{range}"),
                (20, 12),
                (FONT, 13).into_font().color(&BLACK),
            ))
            .map_err(|e| err(format!("{e:?}")))?;
        Ok(())
    })
}

impl Writer for TradeoffPngs {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        let a = study.analysis();
        let bars = if a.intervals.is_some() {
            "bars: 95% bootstrap intervals"
        } else {
            "no intervals (--bootstrap 0)"
        };
        let pts = points(study, &|i| stat(study, i, Stat::Accuracy), &|i| {
            stat(study, i, Stat::MacroF1)
        });
        scatter(
            &dir.join("tradeoff.png"),
            &Labels {
                title: "Accuracy against macro-F1 per method (test)",
                x: "accuracy",
                y: "macro-F1",
                note: &format!(
                    "Orange ring and line: Pareto front (no method is better on both axes); {bars}."
                ),
                colour: &format!("recall of the {} rarest classes", a.rare.len()),
            },
            &pts,
            true,
        )?;
        // Frequent-third recall has no interval of its own: a zero-width bar.
        let frequent =
            |i: usize| Interval::point(study.methods[i].test_mean(Stat::FewRecall, &a.frequent));
        let pts = points(study, &frequent, &|i| stat(study, i, Stat::FewRecall));
        scatter(
            &dir.join("rare-vs-frequent.png"),
            &Labels {
                title: "Recall: rarest third of classes against the most frequent third (test)",
                x: &format!("mean recall of the {} most frequent classes", a.frequent.len()),
                y: &format!("mean recall of the {} rarest classes", a.rare.len()),
                note: "Vertical bars: 95% bootstrap intervals of the rare classes' recall, where computed.",
                colour: "the y value",
            },
            &pts,
            false,
        )?;
        Ok(vec!["tradeoff.png".into(), "rare-vs-frequent.png".into()])
    }
}

#[cfg(test)]
mod tests {
    use super::pareto_front;

    #[test]
    fn front_keeps_only_undominated_points() {
        // (0.5,0.3) dominates (0.4,0.2); (0.3,0.35) trades accuracy for macro-F1.
        let pts = [(0.5, 0.3), (0.4, 0.2), (0.3, 0.35), (0.5, 0.3)];
        assert_eq!(pareto_front(&pts), vec![0, 2, 3]);
    }
}
