//! `summary.md`: the table a person reads first — one row per method, headline
//! test metrics and the shot groups — plus the run's settings.

use super::{Study, Writer};
use crate::metrics::{Group, Metrics};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

pub struct SummaryMd;

/// Reads one number out of a run's metrics.
pub type Metric = fn(&Metrics) -> f64;

/// The headline metrics, in table order.
pub const HEADLINE: [(&str, Metric); 5] = [
    ("accuracy", |m| m.accuracy),
    ("macro-F1", |m| m.macro_f1),
    ("weighted-F1", |m| m.weighted_f1),
    ("balanced acc.", |m| m.balanced_accuracy),
    ("macro precision", |m| m.macro_precision),
];

/// `0.4321`, or `0.4321 ± 0.0050` over several seeds; `≈` marks a value whose
/// difference from the instance-balanced head is within the seed spread.
pub fn cell(study: &Study, name: &str, f: impl Fn(&Metrics) -> f64 + Copy) -> String {
    let m = study.method(name).expect("method in study");
    let (mean, sd) = m.spread(f);
    if m.runs.len() < 2 {
        return format!("{mean:.4}");
    }
    let within = study
        .method("ib")
        .filter(|ib| ib.name != name && ib.runs.len() > 1)
        .map(|ib| {
            let (ib_mean, ib_sd) = ib.spread(f);
            (mean - ib_mean).abs() <= sd.max(ib_sd)
        })
        .unwrap_or(false);
    format!("{}{mean:.4} ± {sd:.4}", if within { "≈ " } else { "" })
}

/// Group cell: mean per-class recall of the group's classes (first seed's run).
pub fn group_cell(study: &Study, name: &str, g: Group) -> String {
    let m = study.method(name).expect("method in study");
    let (mean, sd) = super::mean_sd(m.runs.iter().map(|r| {
        study
            .groups(&r.test)
            .iter()
            .find(|s| s.group == g)
            .map(|s| s.recall)
            .unwrap_or(f64::NAN)
    }));
    if mean.is_nan() {
        "—".into()
    } else if m.runs.len() > 1 {
        format!("{mean:.4} ± {sd:.4}")
    } else {
        format!("{mean:.4}")
    }
}

/// The class-count line of the groups, e.g. "many (>100): 9 classes".
pub fn group_legend(study: &Study) -> String {
    let t = study.thresholds;
    Group::ALL
        .iter()
        .map(|&g| {
            let n = study
                .train_counts
                .iter()
                .filter(|&&c| Group::of(c, t) == g)
                .count();
            let range = match g {
                Group::Many => format!(">{}", t.many),
                Group::Medium => format!("{}–{}", t.few, t.many),
                Group::Few => format!("<{}", t.few),
            };
            format!("{} ({range} training examples): {n} classes", g.label())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The summary table as (header, rows of cells), shared by summary.md, index.html
/// and the terminal so the three always agree.
pub fn table(study: &Study) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["method".to_string()];
    header.extend(HEADLINE.iter().map(|(n, _)| n.to_string()));
    header.extend(Group::ALL.iter().map(|g| format!("{} recall", g.label())));
    let rows = study
        .methods
        .iter()
        .map(|m| {
            let mut row = vec![m.name.to_string()];
            row.extend(HEADLINE.iter().map(|(_, f)| cell(study, m.name, *f)));
            row.extend(Group::ALL.iter().map(|&g| group_cell(study, m.name, g)));
            row
        })
        .collect();
    (header, rows)
}

impl Writer for SummaryMd {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        let mut s = String::new();
        let max = study.train_counts.iter().max().copied().unwrap_or(0);
        let min = study.train_counts.iter().min().copied().unwrap_or(0);
        writeln!(s, "# emo compare-sampling: {}\n", study.dataset)?;
        writeln!(
            s,
            "{} classes; training examples per class {max} … {min} (imbalance ×{:.1}); \
             {} test examples. Test metrics; every method chose its hyper-parameters on \
             the validation split only.\n",
            study.classes.len(),
            max as f64 / min.max(1) as f64,
            study.test_labels.len()
        )?;
        if study.seeds.len() > 1 {
            writeln!(
                s,
                "Mean ± standard deviation over seeds {:?}. `≈` marks a value within the seed spread of `ib`'s (not a real difference).\n",
                study.seeds
            )?;
        }
        let (header, rows) = table(study);
        writeln!(s, "| {} |", header.join(" | "))?;
        writeln!(s, "|{}", "---|".repeat(header.len()))?;
        for mut row in rows {
            row[0] = format!("`{}`", row[0]);
            writeln!(s, "| {} |", row.join(" | "))?;
        }
        if let Some((m, v)) = study.recommended() {
            writeln!(s, "\nRecommended by validation macro-F1 (test never chooses): `{m}` ({v:.4} on validation).")?;
        }
        writeln!(s, "\nShot groups by training count — {}. Group recall is the mean recall of the group's classes.\n", group_legend(study))?;
        writeln!(s, "Methods:\n")?;
        for m in &study.methods {
            writeln!(s, "- `{}`: {}", m.name, m.summary)?;
        }
        writeln!(
            s,
            "\nEncoder {} (sha256 {}…), device {}, seed(s) {:?}.\n\nCommand: `{}`",
            study.encoder.name,
            &study.encoder.weights_sha256[..12],
            study.device,
            study.seeds,
            study.command
        )?;
        crate::atomic::write(&dir.join("summary.md"), s.as_bytes())?;
        Ok(vec!["summary.md".into()])
    }
}
