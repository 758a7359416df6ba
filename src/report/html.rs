//! `index.html`: the whole report on one page — the summary table, every
//! picture, and per-class tables — with no script and no outside resource, so it
//! opens from disk anywhere.

use super::summary::{group_legend, omitted_groups_note, sections, table};
use super::{Study, Writer};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

pub struct IndexHtml;

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes `s` and turns its Markdown `code` and **bold** spans into HTML, so
/// the sentences and cells shared with summary.md read the same in both.
pub(super) fn inline(s: &str) -> String {
    let mut out = String::new();
    let (mut code, mut bold) = (false, false);
    let e = esc(s);
    let mut rest = e.as_str();
    while let Some(i) = rest.find(['`', '*']) {
        out.push_str(&rest[..i]);
        if rest[i..].starts_with("**") {
            out.push_str(if bold { "</b>" } else { "<b>" });
            bold = !bold;
            rest = &rest[i + 2..];
        } else if rest[i..].starts_with('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[i + 1..];
        } else {
            out.push('*');
            rest = &rest[i + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// The page's head and its one stylesheet (no outside resource), shared by the
/// single- and multi-label pages so that both read alike.
pub(super) fn page_start(h: &mut String, title: &str) -> std::fmt::Result {
    writeln!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>",
        esc(title)
    )?;
    writeln!(
        h,
        "<style>body{{font-family:sans-serif;margin:2em;max-width:1800px}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#eef}}td:first-child,th:first-child{{text-align:left}}\
         img{{max-width:100%;border:1px solid #ddd;margin:0.5em 0}}details{{margin:0.5em 0}}.note{{color:#555}}</style></head><body>"
    )
}

impl Writer for IndexHtml {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        let mut h = String::new();
        page_start(&mut h, &format!("emo: {}", study.dataset))?;
        writeln!(h, "<h1>emo compare-sampling: {}</h1>", esc(&study.dataset))?;
        let max = study.train_counts.iter().max().copied().unwrap_or(0);
        let min = study.train_counts.iter().min().copied().unwrap_or(0);
        writeln!(
            h,
            "<p>{} classes, {max} … {min} training examples per class; {} test examples. \
             Test metrics; hyper-parameters chosen on validation only. {}.</p>",
            study.classes.len(),
            study.test_labels.len(),
            match &study.subsamples {
                Some(sub) => format!(
                    "Mean ± s.d. over {} training subsamples of the profile {} (seeds {:?})",
                    sub.seeds.len(),
                    sub.profile,
                    sub.seeds
                ),
                None => format!("Seeds {:?}", study.seeds),
            }
        )?;
        writeln!(h, "<h2>Verdict</h2>")?;
        for v in super::verdict::verdict(study, study.analysis()) {
            writeln!(h, "<p>{}</p>", inline(&v))?;
        }
        writeln!(h, "<h2>Test metrics</h2>")?;
        let (header, rows) = table(study);
        writeln!(h, "<table><tr>")?;
        for name in &header {
            write!(h, "<th>{}</th>", esc(name))?;
        }
        writeln!(h, "</tr>")?;
        for (m, row) in study.methods.iter().zip(rows) {
            write!(h, "<tr title=\"{}\">", esc(m.summary))?;
            for c in row {
                write!(h, "<td>{}</td>", esc(&c))?;
            }
            writeln!(h, "</tr>")?;
        }
        writeln!(
            h,
            "</table><p class=\"note\">{}</p>",
            esc(&group_legend(study))
        )?;
        if let Some(note) = omitted_groups_note(study) {
            writeln!(h, "<p class=\"note\">{}</p>", esc(&note))?;
        }

        let mut pictures = vec![
            (
                "tradeoff.png",
                "Trade-off: accuracy against macro-F1, rare-class recall as colour",
            ),
            (
                "rare-vs-frequent.png",
                "Recall of the rarest third against the most frequent third",
            ),
            (
                "weight-norms.png",
                "Classifier weight norms (the paper's figure 2)",
            ),
            ("per-class-f1.png", "F1 per class and method"),
            (
                "precision-ib-cb.png",
                "Precision per class, instance- vs class-balanced",
            ),
        ];
        pictures.retain(|(f, _)| dir.join(f).exists());
        for (file, title) in pictures {
            writeln!(h, "<h2>{title}</h2><img src=\"{file}\" alt=\"{title}\">")?;
        }
        for (title, note, (header, rows)) in sections(study) {
            writeln!(
                h,
                "<h2>{}</h2><p class=\"note\">{}</p>",
                inline(&title),
                inline(&note)
            )?;
            write!(h, "<table><tr>")?;
            for c in &header {
                write!(h, "<th>{}</th>", esc(c))?;
            }
            writeln!(h, "</tr>")?;
            for row in rows {
                write!(h, "<tr>")?;
                for c in row {
                    write!(h, "<td>{}</td>", inline(&c))?;
                }
                writeln!(h, "</tr>")?;
            }
            writeln!(h, "</table>")?;
        }
        writeln!(h, "<h2>Confusion matrices</h2>")?;
        let order = study.order();
        for m in &study.methods {
            let run = m.shown();
            writeln!(
                h,
                "<details{}><summary><b>{}</b> — {}</summary><img src=\"confusion-{}.png\" alt=\"confusion matrix of {}\">",
                if m.name == "ib" { " open" } else { "" },
                m.name,
                esc(m.summary),
                m.name,
                m.name
            )?;
            writeln!(h, "<table><tr><th>class</th><th>train</th><th>test support</th><th>predicted</th><th>precision</th><th>recall</th><th>F1</th></tr>")?;
            for &c in &order {
                let pc = &run.test.per_class[c];
                writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td></tr>",
                    esc(&study.classes[c]),
                    study.train_counts[c],
                    pc.support,
                    pc.predicted,
                    pc.precision,
                    pc.recall,
                    pc.f1
                )?;
            }
            writeln!(h, "</table></details>")?;
        }
        h.push_str(&probability_sections(study));
        h.push_str(&footer(study));
        crate::atomic::write(&dir.join("index.html"), h.as_bytes())?;
        Ok(vec!["index.html".into()])
    }
}

/// The page's last line: its files, the encoder and the command, for either task.
pub(super) fn footer<L: super::Studied>(study: &super::Study<L>) -> String {
    let sha = &study.encoder.weights_sha256;
    format!(
        "<p class=\"note\">Files: <a href=\"summary.md\">summary.md</a>, <a href=\"metrics.json\">metrics.json</a>, \
         <a href=\"predictions.csv\">predictions.csv</a>. Encoder {} (sha256 {}…) on {} in {}. Command: <code>{}</code></p></body></html>\n",
        esc(&study.encoder.name),
        &sha[..12.min(sha.len())],
        esc(&study.device),
        study.precision,
        esc(&study.command)
    )
}

/// A titled table section (calibration, quantification under shift) with its
/// note, sentences and an optional picture, for both pages.
pub(super) fn table_section(
    title: &str,
    note: &str,
    sentences: &[String],
    table: Option<(Vec<String>, Vec<Vec<String>>)>,
    picture: Option<&str>,
) -> String {
    let Some((header, rows)) = table else {
        return String::new();
    };
    let cells = |r: &[String], tag: &str| {
        r.iter()
            .map(|c| format!("<{tag}>{}</{tag}>", inline(c)))
            .collect::<String>()
    };
    let mut h = format!("<h2>{}</h2><p class=\"note\">{}</p>", esc(title), esc(note));
    for v in sentences {
        h.push_str(&format!("<p>{}</p>", inline(v)));
    }
    h.push_str(&format!("<table><tr>{}</tr>", cells(&header, "th")));
    for r in &rows {
        h.push_str(&format!("<tr>{}</tr>", cells(r, "td")));
    }
    h.push_str("</table>");
    if let Some(src) = picture {
        h.push_str(&format!("<img src=\"{src}\" alt=\"{}\">", esc(title)));
    }
    h.push('\n');
    h
}

/// The calibration and shift sections of a study's page.
pub(super) fn probability_sections<L: super::Studied>(study: &super::Study<L>) -> String {
    table_section(
        "Calibration",
        super::calibration::note(L::TASK),
        &[],
        super::calibration::table(study),
        Some("reliability.png"),
    ) + &table_section(
        "Quantification under shift",
        &super::shift::note(study),
        &super::shift::verdict(study),
        super::shift::table(study),
        None,
    )
}
