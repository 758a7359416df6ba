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
pub(crate) struct Point {
    pub name: String,
    pub x: Interval,
    pub y: Interval,
    pub colour: f64,
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
            name: study.methods[i].name.to_string(),
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

/// A pixel rectangle: left, top, width, height.
type Rect = (i32, i32, i32, i32);

fn overlap(a: Rect, b: Rect) -> i64 {
    let w = (a.0 + a.2).min(b.0 + b.2) - a.0.max(b.0);
    let h = (a.1 + a.3).min(b.1 + b.3) - a.1.max(b.1);
    if w > 0 && h > 0 {
        w as i64 * h as i64
    } else {
        0
    }
}

/// Where each point's label goes, as an offset from the point in pixels. Points
/// that sit close together (methods with nearly equal scores) would print their
/// names on top of each other at one fixed offset; this tries places around each
/// point, nearest first (eight around it, then rows further up and down on either
/// side), and takes the first that covers no marker, no label placed before it
/// and nothing outside `area`, or else the one that covers least.
/// `anchors` are the points in pixels, `sizes` the labels' (width, height).
pub fn place_labels(anchors: &[(i32, i32)], sizes: &[(i32, i32)], area: Rect) -> Vec<(i32, i32)> {
    const MARKER: i32 = 10;
    let markers: Vec<Rect> = anchors
        .iter()
        .map(|&(x, y)| (x - MARKER, y - MARKER, 2 * MARKER, 2 * MARKER))
        .collect();
    let mut placed: Vec<Rect> = Vec::new();
    let mut offsets = Vec::with_capacity(anchors.len());
    for (&(x, y), &(w, h)) in anchors.iter().zip(sizes) {
        let g = MARKER + 2;
        let mut candidates = vec![
            (g, -h - 4),
            (g, -h / 2),
            (g, 4),
            (-w - g, -h - 4),
            (-w - g, -h / 2),
            (-w - g, 4),
            (-w / 2, -h - g),
            (-w / 2, g),
        ];
        // Then rows further up and down on either side, for crowded corners.
        for k in 1..=4 {
            let step = k * (h + 3);
            for dx in [g, -w - g] {
                candidates.push((dx, -h / 2 - step));
                candidates.push((dx, -h / 2 + step));
            }
        }
        let cost = |&(dx, dy): &(i32, i32)| -> i64 {
            let r = (x + dx, y + dy, w, h);
            let outside = w as i64 * h as i64 - overlap(r, area);
            let covered: i64 = markers.iter().chain(&placed).map(|&m| overlap(r, m)).sum();
            covered + 4 * outside
        };
        let best = candidates
            .iter()
            .find(|c| cost(c) == 0)
            .or_else(|| candidates.iter().min_by_key(|c| cost(c)))
            .copied()
            .expect("candidates");
        placed.push((x + best.0, y + best.1, w, h));
        offsets.push(best);
    }
    offsets
}

fn padded_range(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let pad = ((hi - lo) * 0.12).max(0.02);
    (lo - pad).max(0.0)..(hi + pad).min(1.05)
}

/// The words of one scatter picture.
pub(crate) struct Labels<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
    pub note: &'a str,
    pub colour: &'a str,
}

/// Draws a scatter of `pts` with error bars, labels and (optionally) the front.
pub(crate) fn scatter(path: &Path, words: &Labels, pts: &[Point], front: bool) -> Result<()> {
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
        let label_font = (FONT, 14).into_font().color(&BLACK);
        let shown: Vec<usize> = (0..pts.len())
            .filter(|&i| pts[i].x.estimate.is_finite() && pts[i].y.estimate.is_finite())
            .collect();
        let anchors: Vec<(i32, i32)> = shown
            .iter()
            .map(|&i| chart.backend_coord(&(pts[i].x.estimate, pts[i].y.estimate)))
            .collect();
        let sizes: Vec<(i32, i32)> = shown
            .iter()
            .map(|&i| {
                let (w, h) = label_font.font.box_size(&pts[i].name).unwrap_or((80, 14));
                (w as i32, h as i32)
            })
            .collect();
        let (px, py) = chart.plotting_area().get_pixel_range();
        let area = (px.start, py.start, px.end - px.start, py.end - py.start);
        let offsets = place_labels(&anchors, &sizes, area);
        for (k, &i) in shown.iter().enumerate() {
            let p = &pts[i];
            let (x, y) = (p.x.estimate, p.y.estimate);
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
                        + Text::new(p.name.clone(), offsets[k], label_font.clone()),
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
    use super::{overlap, pareto_front, place_labels};

    /// Six methods crowded into a few pixels, as on CARER where several score
    /// within a point of each other: no two labels may overlap, and none may
    /// cover a marker, when there is room around them.
    #[test]
    fn crowded_labels_do_not_overlap() {
        let anchors = [
            (300, 300),
            (306, 302),
            (310, 296),
            (298, 310),
            (330, 305),
            (304, 290),
        ];
        let sizes = [(60, 14), (90, 14), (40, 14), (120, 14), (70, 14), (50, 14)];
        let offsets = place_labels(&anchors, &sizes, (0, 0, 1000, 700));
        let rects: Vec<(i32, i32, i32, i32)> = anchors
            .iter()
            .zip(&sizes)
            .zip(&offsets)
            .map(|((&(x, y), &(w, h)), &(dx, dy))| (x + dx, y + dy, w, h))
            .collect();
        for i in 0..rects.len() {
            for j in i + 1..rects.len() {
                assert_eq!(
                    overlap(rects[i], rects[j]),
                    0,
                    "labels {i} and {j}: {rects:?}"
                );
            }
        }
        // The old fixed offset (12, -18) would have put labels 0 and 1 on each other.
        let fixed = |i: usize| (anchors[i].0 + 12, anchors[i].1 - 18, sizes[i].0, sizes[i].1);
        assert!(overlap(fixed(0), fixed(1)) > 0);
    }

    #[test]
    fn a_lone_label_keeps_the_first_place_and_stays_inside() {
        assert_eq!(
            place_labels(&[(100, 100)], &[(50, 14)], (0, 0, 500, 500)),
            vec![(12, -18)]
        );
        // At the right edge it moves to the left of its point.
        let o = place_labels(&[(490, 100)], &[(50, 14)], (0, 0, 500, 500));
        assert!(o[0].0 < 0, "{o:?}");
    }

    #[test]
    fn front_keeps_only_undominated_points() {
        // (0.5,0.3) dominates (0.4,0.2); (0.3,0.35) trades accuracy for macro-F1.
        let pts = [(0.5, 0.3), (0.4, 0.2), (0.3, 0.35), (0.5, 0.3)];
        assert_eq!(pareto_front(&pts), vec![0, 2, 3]);
    }
}
