//! The report of `emo compare-features`: one row per feature set (an encoder and
//! its layers), with the method its own validation recommended, that method's
//! test macro-F1 and interval, the paired difference to the first set, the vector
//! size and the embedding speed. `features.json`, `summary.md`, `index.html` and
//! `features.png` (macro-F1 against embedding speed, with the Pareto front); each
//! set's full study is in the folder its row names.

use super::html::{esc, page_start};
use super::tradeoff::{scatter, Labels, Point};
use crate::uncertainty::Interval;
use anyhow::Result;
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// One feature set's result.
#[derive(Debug, Clone)]
pub struct FeatureRow {
    /// As `--features` named it.
    pub name: String,
    /// The encoder folder.
    pub encoder: String,
    /// `--layers` as given, and with absolute layer numbers.
    pub layers: String,
    pub layers_resolved: String,
    pub dim: usize,
    /// What this set's validation recommended, and the score that chose it.
    pub best_method: String,
    pub validation: f64,
    pub test_macro_f1: Interval,
    /// Test macro-F1 minus the first set's (paired); `None` for the first.
    pub difference: Option<Interval>,
    /// Texts embedded per second, without the cache.
    pub texts_per_s: f64,
    /// The folder of this set's full report, inside the features report.
    pub report: String,
}

pub struct FeatureStudy {
    pub dataset: String,
    pub task: &'static str,
    pub rows: Vec<FeatureRow>,
    /// Index of the set with the best validation score: test never chooses.
    pub recommended: usize,
    pub bootstrap: usize,
    pub seeds: usize,
    /// How many texts timed each set's embedding.
    pub speed_texts: usize,
    pub command: String,
}

fn pct(v: f64) -> String {
    format!("{:.1}", 100.0 * v)
}

fn interval(iv: &Interval) -> String {
    if iv.hi > iv.lo {
        format!("{} [{}, {}]", pct(iv.estimate), pct(iv.lo), pct(iv.hi))
    } else {
        pct(iv.estimate)
    }
}

fn signed(iv: &Interval) -> String {
    let s = |v: f64| format!("{:+.1}", 100.0 * v);
    if iv.hi > iv.lo {
        format!("{} [{}, {}]", s(iv.estimate), s(iv.lo), s(iv.hi))
    } else {
        s(iv.estimate)
    }
}

/// The table's rows as text cells (shared by the terminal and summary.md).
fn cells(fs: &FeatureStudy) -> Vec<Vec<String>> {
    fs.rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                format!("{}{}", r.name, if i == fs.recommended { " *" } else { "" }),
                r.dim.to_string(),
                r.best_method.clone(),
                pct(r.validation),
                interval(&r.test_macro_f1),
                r.difference
                    .as_ref()
                    .map(signed)
                    .unwrap_or_else(|| "(first)".into()),
                format!("{:.0}", r.texts_per_s),
            ]
        })
        .collect()
}

const HEADER: [&str; 7] = [
    "features",
    "dim",
    "best method (validation)",
    "validation",
    "test macro-F1 [95% CI]",
    "vs first (paired)",
    "texts/s",
];

fn verdict(fs: &FeatureStudy) -> String {
    let r = &fs.rows[fs.recommended];
    let mut v = format!(
        "Validation recommends {} ({}, {} dimensions): test macro-F1 {}",
        r.name,
        r.best_method,
        r.dim,
        interval(&r.test_macro_f1)
    );
    if let Some(d) = &r.difference {
        let _ = write!(v, ", {} points against {}", signed(d), fs.rows[0].name);
        if d.hi > d.lo {
            v.push_str(if d.lo > 0.0 {
                " (the interval is above zero)"
            } else if d.hi < 0.0 {
                " (the interval is below zero)"
            } else {
                " (the interval includes zero)"
            });
        }
    }
    v.push('.');
    v
}

/// What the terminal shows: the verdict and the table.
pub fn terminal(fs: &FeatureStudy) -> String {
    let header: Vec<String> = HEADER.iter().map(|s| s.to_string()).collect();
    format!("{}\n\n{}", verdict(fs), super::aligned(&header, &cells(fs)))
}

fn json(fs: &FeatureStudy) -> serde_json::Value {
    let iv = |i: &Interval| json!({"estimate": i.estimate, "lo": i.lo, "hi": i.hi});
    json!({
        "dataset": fs.dataset,
        "task": fs.task,
        "command": fs.command,
        "seeds": fs.seeds,
        "bootstrap": fs.bootstrap,
        "speed_texts": fs.speed_texts,
        "recommended": fs.rows[fs.recommended].name,
        "rule": "the feature set whose recommended method has the best validation score; test never chooses",
        "features": fs.rows.iter().map(|r| json!({
            "name": r.name,
            "encoder": r.encoder,
            "layers": r.layers,
            "layers_resolved": r.layers_resolved,
            "dim": r.dim,
            "best_method": r.best_method,
            "validation_score": r.validation,
            "test_macro_f1": r.test_macro_f1.estimate,
            "interval": [r.test_macro_f1.lo, r.test_macro_f1.hi],
            "difference_to_first": r.difference.as_ref().map(iv),
            "texts_per_s": r.texts_per_s,
            "report": r.report,
        })).collect::<Vec<_>>(),
    })
}

fn summary(fs: &FeatureStudy) -> String {
    let mut s = format!(
        "# emo compare-features: {} ({})\n\n{}\n\n",
        fs.dataset,
        fs.task,
        verdict(fs)
    );
    let _ = writeln!(s, "| {} |", HEADER.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(HEADER.len()));
    for (r, row) in cells(fs).iter().zip(&fs.rows) {
        let mut r = r.clone();
        r[0] = format!("[{}]({}/summary.md)", r[0], row.report);
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    let _ = write!(
        s,
        "\n`*` the set validation recommends. Each set's method is the one its own validation \
         recommends among the methods compared (its full study is in the linked folder). Test \
         macro-F1 is the mean over {} seed(s); intervals are 95% bootstrap intervals over the \
         test texts ({} redraws; none with --bootstrap 0), the difference paired on the same \
         texts. texts/s: the data's first {} texts embedded without the cache, the fastest of three passes after one untimed batch.\n\n\
         ![macro-F1 against embedding speed](features.png)\n\nCommand: `{}`\n",
        fs.seeds, fs.bootstrap, fs.speed_texts, fs.command
    );
    s
}

fn html(fs: &FeatureStudy) -> Result<String> {
    let mut h = String::new();
    page_start(&mut h, &format!("emo compare-features: {}", fs.dataset))?;
    write!(
        h,
        "<h1>emo compare-features: {} ({})</h1>\n<p>{}</p>\n<table>\n<tr>",
        esc(&fs.dataset),
        fs.task,
        esc(&verdict(fs))
    )?;
    for c in HEADER {
        write!(h, "<th>{}</th>", esc(c))?;
    }
    h.push_str("</tr>\n");
    for (cells, row) in cells(fs).iter().zip(&fs.rows) {
        h.push_str("<tr>");
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                write!(
                    h,
                    "<td><a href=\"{}/index.html\">{}</a></td>",
                    esc(&row.report),
                    esc(c)
                )?;
            } else {
                write!(h, "<td>{}</td>", esc(c))?;
            }
        }
        h.push_str("</tr>\n");
    }
    write!(
        h,
        "</table>\n<p><img src=\"features.png\" alt=\"macro-F1 against embedding speed\"></p>\n\
         <p>Command: <code>{}</code></p>\n</body></html>\n",
        esc(&fs.command)
    )?;
    Ok(h)
}

fn picture(fs: &FeatureStudy, path: &Path) -> Result<()> {
    let fastest = fs
        .rows
        .iter()
        .map(|r| r.texts_per_s)
        .fold(f64::MIN, f64::max);
    let largest = fs.rows.iter().map(|r| r.dim).max().unwrap_or(1) as f64;
    let pts: Vec<Point> = fs
        .rows
        .iter()
        .map(|r| Point {
            name: r.name.clone(),
            x: Interval::point(r.texts_per_s / fastest),
            y: r.test_macro_f1,
            colour: r.dim as f64 / largest,
        })
        .collect();
    let words = Labels {
        title: &format!("{}: test macro-F1 against embedding speed", fs.dataset),
        x: "embedding speed, relative to the fastest set (1 = fastest)",
        y: "test macro-F1 of the method validation chose",
        note: "Ringed: the Pareto front (no other set is both faster and better). Bars: 95% intervals.",
        colour: "vector size relative to the largest,",
    };
    scatter(path, &words, &pts, true)
}

/// Writes the report's own files into `out` (each set's study is already in
/// its folder there); each file appears complete or not at all.
pub fn write(fs: &FeatureStudy, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)?;
    crate::atomic::write(
        &out.join("features.json"),
        (serde_json::to_string_pretty(&json(fs))? + "\n").as_bytes(),
    )?;
    crate::atomic::write(&out.join("summary.md"), summary(fs).as_bytes())?;
    crate::atomic::write(&out.join("index.html"), html(fs)?.as_bytes())?;
    let tmp = out.join(".features.png.partial");
    picture(fs, &tmp)?;
    std::fs::rename(&tmp, out.join("features.png"))?;
    Ok(())
}
