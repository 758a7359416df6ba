//! `emo quantify`: how many texts of a corpus carry each emotion. The texts are
//! embedded and scored chunk by chunk (memory holds their logits, not their
//! vectors), then each group's shares are estimated at once, so that every
//! estimator sees the whole group and the bootstrap resamples it whole.

use super::load::{answering_embed_options, encoder_for, text_records};
use crate::cli::{QuantifyArgs, SharesFormat};
use crate::data::table::Record;
use crate::data::BadRows;
use crate::model::SavedModel;
use crate::predict::Predictor;
use crate::quantify::{key_of, tally::Tally, Method, Quantifier, DEFAULT_ESTIMATOR};
use crate::report::shares::{self, GroupShares};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, Write};
use std::path::Path;

/// Texts embedded and scored per step.
const CHUNK: usize = 2048;

pub fn run(args: &QuantifyArgs) -> Result<()> {
    let device = args.with.run.device.resolve()?;
    let model = SavedModel::load(&args.model, device)?;
    let quantifier = Quantifier::of(&model, &args.model)?;
    let estimator = args.estimator.unwrap_or(DEFAULT_ESTIMATOR);
    // A picture that cannot be written is found before the long part.
    if let Some(p) = &args.picture {
        crate::atomic::check_dir_writable(&crate::atomic::parent_of(p))?;
    }
    let tallies = match &args.tallies {
        Some(path) => read_tallies(path, &quantifier, args)?,
        None => tally_texts(args, &model, &quantifier, estimator)?,
    };
    let estimator = tallies.first().map_or(estimator, |t| t.estimator);
    let texts: usize = tallies.iter().map(|t| t.texts).sum();
    let labels = &quantifier.labels;
    let text = if args.output_format == SharesFormat::Tally {
        let mut out = String::new();
        for t in &tallies {
            out += &serde_json::to_string(t)?;
            out.push('\n');
        }
        out
    } else {
        let groups: Vec<GroupShares> = tallies
            .iter()
            .map(|t| GroupShares {
                group: t.group.clone(),
                texts: t.texts,
                shares: quantifier.shares(t),
            })
            .collect();
        if let Some(p) = &args.picture {
            let title = format!(
                "Share of texts per emotion ({}, 95% intervals)",
                estimator.name()
            );
            shares::picture(p, &title, labels, &groups)?;
        }
        shares_text(args.output_format, estimator, &quantifier, &groups)?
    };
    let mut sink = crate::stream::Sink::open(args.out.as_deref())?;
    sink.w.write_all(text.as_bytes())?;
    if let Some(path) = sink.finish()? {
        eprintln!("emo: shares of {texts} texts into {}", path.display());
    }
    Ok(())
}

/// Embeds and scores the input's texts chunk by chunk (memory holds their
/// logits, not their vectors) and tallies each group (or the whole input),
/// so that every estimator sees a group whole.
fn tally_texts(
    args: &QuantifyArgs,
    model: &SavedModel,
    quantifier: &Quantifier,
    estimator: Method,
) -> Result<Vec<Tally>> {
    let encoder = encoder_for(
        model,
        &args.model,
        args.with.encoder.as_ref(),
        &args.with.run,
    )?;
    let opts = answering_embed_options(&args.with);
    let mut bad = BadRows::skipping(args.from.skip_bad_rows);
    let rows = text_records(&args.from, &mut bad, args.by.as_ref(), "quantify")?;
    let mut predictor = Predictor::new(model, &encoder, &opts, 1, None, false)?;

    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("scoring {pos} texts  {per_sec}").expect("valid template"),
    );
    let mut logits: Vec<f64> = Vec::new();
    let mut keys: Vec<u64> = Vec::new();
    let mut group_of: Vec<String> = Vec::new();
    for chunk in crate::stream::chunks(rows, CHUNK) {
        let chunk = chunk?;
        let good: Vec<_> = chunk.iter().filter_map(Record::row).collect();
        if good.is_empty() {
            continue;
        }
        let texts: Vec<String> = good.iter().map(|r| r.text.clone()).collect();
        logits.extend(predictor.logits(&texts)?);
        for r in &good {
            keys.push(key_of(r.id.as_deref(), r.line));
            group_of.push(r.group.clone().unwrap_or_default());
        }
        bar.inc(good.len() as u64);
    }
    bar.finish_and_clear();
    for line in bad.summary() {
        eprintln!("emo: {line}");
    }
    if keys.is_empty() {
        return Err(crate::input_error!("no texts to quantify"));
    }
    let said = quantifier.said(&logits);
    let tally = |rows: &[usize], group: Option<String>| {
        let part = said.rows(rows);
        let k: Vec<u64> = rows.iter().map(|&r| keys[r]).collect();
        quantifier.tally(estimator, &part, &k, args.bootstrap, args.seed, group)
    };
    Ok(match &args.by {
        None => vec![tally(&(0..keys.len()).collect::<Vec<_>>(), None)],
        Some(_) => in_order_of_first(&group_of)
            .into_iter()
            .map(|(g, rows)| tally(&rows, Some(g)))
            .collect(),
    })
}

/// The groups' members, the groups in the order their first member came.
fn in_order_of_first(group_of: &[String]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = Default::default();
    for (i, g) in group_of.iter().enumerate() {
        let at = *index.entry(g.as_str()).or_insert_with(|| {
            groups.push((g.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(i);
    }
    groups
}

/// Tallies written by `--output-format tally` (one JSON object a line), each
/// group's added up, the groups in the order their first tally came. A tally
/// of another model, of other settings or damaged stops with exit 2, naming
/// its line.
fn read_tallies(path: &Path, q: &Quantifier, args: &QuantifyArgs) -> Result<Vec<Tally>> {
    let name = if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(path)
            .map_err(|e| crate::input_error!("{name}: cannot read: {e}"))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut groups: Vec<Tally> = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let at = |what: String| crate::input_error!("{name}: line {}: {what}", i + 1);
        let line = line.map_err(|e| at(format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let t: Tally = serde_json::from_str(&line).map_err(|e| at(format!("not a tally: {e}")))?;
        t.check(&q.labels, q.task).map_err(&at)?;
        if let Some(e) = args.estimator.filter(|&e| e != t.estimator) {
            return Err(at(format!(
                "a tally of {}, not of --estimator {}",
                t.estimator.name(),
                e.name()
            )));
        }
        // Groups of one corpus share its settings.
        if let Some(first) = groups.first() {
            first.same_settings(&t).map_err(&at)?;
        }
        match groups.iter_mut().find(|g| g.group == t.group) {
            Some(g) => g.add(t).map_err(&at)?,
            None => groups.push(t),
        }
    }
    if groups.is_empty() {
        return Err(crate::input_error!("{name}: no tallies"));
    }
    Ok(groups)
}

/// The shares as text in `format` (every format but `tally`).
fn shares_text(
    format: SharesFormat,
    estimator: Method,
    quantifier: &Quantifier,
    groups: &[GroupShares],
) -> Result<String> {
    let labels = &quantifier.labels;
    Ok(match format {
        SharesFormat::Json | SharesFormat::Tally => {
            serde_json::to_string_pretty(&shares::json(estimator.name(), labels, groups))? + "\n"
        }
        SharesFormat::Csv | SharesFormat::Tsv => {
            let (header, rows) = shares::records(labels, groups);
            let delim = if format == SharesFormat::Tsv {
                b'\t'
            } else {
                b','
            };
            let mut w = csv::WriterBuilder::new()
                .delimiter(delim)
                .from_writer(Vec::new());
            w.write_record(&header)?;
            for r in &rows {
                w.write_record(r)?;
            }
            String::from_utf8(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?
        }
        SharesFormat::Markdown => {
            let (header, rows) = shares::wide(labels, groups);
            crate::report::markdown(&header, &rows)
        }
        SharesFormat::Table => {
            let (header, rows) = shares::wide(labels, groups);
            format!(
                "{}\n{}",
                describe(estimator, quantifier, quantifier.task),
                crate::report::aligned(&header, &rows)
            )
        }
    })
}

/// The line above the table: what was estimated and how.
fn describe(estimator: Method, q: &Quantifier, task: crate::data::Task) -> String {
    let what = match task {
        crate::data::Task::SingleLabel => "each text's one emotion (shares sum to 1)",
        crate::data::Task::MultiLabel => "each emotion's prevalence (a text may carry several)",
    };
    format!(
        "{what}, estimated by {} from the model's calibrated outputs and its {} validation texts",
        estimator.name(),
        q.validation_texts()
    )
}
