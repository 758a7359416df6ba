//! `emo quantify`: how many texts of a corpus carry each emotion. The texts are
//! embedded and scored chunk by chunk (memory holds their logits, not their
//! vectors), then each group's shares are estimated at once, so that every
//! estimator sees the whole group and the bootstrap resamples it whole.

use super::load::{embed_options, encoder_for, text_records};
use crate::cli::{QuantifyArgs, SharesFormat};
use crate::data::table::Record;
use crate::data::BadRows;
use crate::model::SavedModel;
use crate::predict::Predictor;
use crate::quantify::{key_of, Method, Quantifier, DEFAULT_ESTIMATOR};
use crate::report::shares::{self, GroupShares};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;

/// Texts embedded and scored per step.
const CHUNK: usize = 2048;

pub fn run(args: &QuantifyArgs) -> Result<()> {
    let device = args.run.device.resolve()?;
    let model = SavedModel::load(&args.model, device)?;
    let quantifier = Quantifier::of(&model, &args.model)?;
    let estimator = args.estimator.unwrap_or(DEFAULT_ESTIMATOR);
    // A picture that cannot be written is found before the long part.
    if let Some(p) = &args.picture {
        crate::atomic::check_dir_writable(&crate::atomic::parent_of(p))?;
    }
    let encoder = encoder_for(&model, &args.model, args.encoder.as_ref(), &args.run)?;
    let cache = (args.cache || args.cache_dir.is_some())
        .then(|| args.cache_dir.clone().unwrap_or_else(crate::paths::cache));
    let opts = crate::embed::EmbedOptions {
        progress: false,
        ..embed_options(&args.run, cache)
    };
    let mut bad = BadRows::skipping(args.from.skip_bad_rows);
    let rows = text_records(&args.from, &mut bad, args.by.as_ref(), "quantify")?;
    let mut predictor = Predictor::new(&model, &encoder, &opts, 1, None, false)?;

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

    // The groups in the order their first text came, or the whole input.
    let mut order: Vec<String> = Vec::new();
    let mut members: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, g) in group_of.iter().enumerate() {
        members
            .entry(g.as_str())
            .or_insert_with(|| {
                order.push(g.clone());
                Vec::new()
            })
            .push(i);
    }
    let estimate = |rows: &[usize]| {
        let part = said.rows(rows);
        let k: Vec<u64> = rows.iter().map(|&r| keys[r]).collect();
        quantifier.estimate(estimator, &part, &k, args.bootstrap, args.seed)
    };
    let groups: Vec<GroupShares> = match &args.by {
        None => vec![GroupShares {
            group: None,
            texts: keys.len(),
            shares: estimate(&(0..keys.len()).collect::<Vec<_>>()),
        }],
        Some(_) => order
            .iter()
            .map(|g| {
                let rows = &members[g.as_str()];
                GroupShares {
                    group: Some(g.clone()),
                    texts: rows.len(),
                    shares: estimate(rows),
                }
            })
            .collect(),
    };
    let labels = &quantifier.labels;
    let text = match args.output_format {
        SharesFormat::Json => {
            serde_json::to_string_pretty(&shares::json(estimator.name(), labels, &groups))? + "\n"
        }
        SharesFormat::Csv | SharesFormat::Tsv => {
            let (header, rows) = shares::records(labels, &groups);
            let delim = if args.output_format == SharesFormat::Tsv {
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
            let (header, rows) = shares::wide(labels, &groups);
            crate::report::markdown(&header, &rows)
        }
        SharesFormat::Table => {
            let (header, rows) = shares::wide(labels, &groups);
            format!(
                "{}\n{}",
                describe(estimator, &quantifier, model.manifest.task),
                crate::report::aligned(&header, &rows)
            )
        }
    };
    let mut sink = crate::stream::Sink::open(args.out.as_deref())?;
    sink.w.write_all(text.as_bytes())?;
    if let Some(path) = sink.finish()? {
        eprintln!(
            "emo: shares of {} texts into {}",
            keys.len(),
            path.display()
        );
    }
    if let Some(p) = &args.picture {
        let title = format!(
            "Share of texts per emotion ({}, 95% intervals)",
            estimator.name()
        );
        shares::picture(p, &title, labels, &groups)?;
    }
    Ok(())
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
