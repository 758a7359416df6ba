//! `index.html` of a multi-label study: the whole report on one page, with no
//! script and no outside resource, as the single-label page.

use super::{summary, verdict};
use crate::data::LabelSet;
use crate::report::html::{esc, inline, page_start};
use crate::report::Study;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

fn table(h: &mut String, header: &[String], rows: &[Vec<String>]) -> Result<()> {
    write!(h, "<table><tr>")?;
    for c in header {
        write!(h, "<th>{}</th>", esc(c))?;
    }
    writeln!(h, "</tr>")?;
    for row in rows {
        write!(h, "<tr>")?;
        for c in row {
            write!(h, "<td>{}</td>", inline(c))?;
        }
        writeln!(h, "</tr>")?;
    }
    writeln!(h, "</table>")?;
    Ok(())
}

pub fn write(study: &Study<LabelSet>, dir: &Path) -> Result<Vec<String>> {
    let mut h = String::new();
    page_start(&mut h, &format!("emo: {} (multi-label)", study.dataset))?;
    let [n, none, several] = study.extra.texts;
    writeln!(
        h,
        "<h1>emo compare-sampling: {} (multi-label)</h1><p>{} labels; {n} training texts ({none} with no label, {several} with two or more); {} test texts. \
         A text gets every label whose probability passes that label's threshold, chosen on validation. Seeds {:?}.</p>",
        esc(&study.dataset),
        study.classes.len(),
        study.test_labels.len(),
        study.seeds
    )?;
    writeln!(h, "<h2>Verdict</h2>")?;
    for v in verdict::verdict(study) {
        writeln!(h, "<p>{}</p>", inline(&v))?;
    }
    writeln!(h, "<h2>Test metrics</h2>")?;
    let (header, rows) = summary::table(study);
    table(&mut h, &header, &rows)?;
    writeln!(
        h,
        "<h2>Trade-off: micro-F1 against macro-F1</h2><img src=\"tradeoff.png\" alt=\"micro-F1 against macro-F1\">"
    )?;
    for (title, note, (header, rows)) in summary::sections(study) {
        writeln!(
            h,
            "<h2>{}</h2><p class=\"note\">{}</p>",
            inline(&title),
            inline(&note)
        )?;
        table(&mut h, &header, &rows)?;
    }
    writeln!(
        h,
        "<h2>Labels that come together in training</h2><img src=\"cooccurrence.png\" alt=\"label co-occurrence in training\">"
    )?;
    writeln!(
        h,
        "<h2>Which labels each method predicts for each true label</h2>"
    )?;
    for m in &study.methods {
        writeln!(
            h,
            "<details{}><summary><b>{}</b> — {}</summary><img src=\"label-confusion-{}.png\" alt=\"label confusion of {}\"></details>",
            if m.name == "bce" { " open" } else { "" },
            m.name,
            esc(m.summary),
            m.name,
            m.name
        )?;
    }
    h.push_str(&crate::report::html::probability_sections(study));
    h.push_str(&crate::report::html::footer(study));
    crate::atomic::write(&dir.join("index.html"), h.as_bytes())?;
    Ok(vec!["index.html".into()])
}
