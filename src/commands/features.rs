//! `emo compare-features`: which frozen features serve this data best. One
//! compare-sampling study per feature set (an encoder and its layers), each
//! written as its own report, then one table across them: the method each
//! set's validation recommends, its test macro-F1 with its interval, the paired
//! difference to the first set, the vector size and what embedding costs. The
//! set recommended is chosen on validation alone.

use super::load::{load_encoder, task_of};
use super::study::study;
use super::task::TaskLabel;
use crate::cli::FeaturesArgs;
use crate::data::{LabelSet, Task};
use crate::embed::{embed_texts, EmbedOptions, LayerSpec};
use crate::input_error;
use crate::report;
use crate::report::features::{FeatureRow, FeatureStudy};
use anyhow::Result;
use std::path::PathBuf;
use std::time::Instant;

/// Texts embedded, without the cache, to time each feature set.
const SPEED_TEXTS: usize = 256;
/// Timed passes over them; the fastest counts.
const SPEED_PASSES: usize = 3;

/// One feature set as `--features` names it.
#[derive(Debug, Clone)]
struct FeatureSet {
    name: String,
    encoder: PathBuf,
    layers: LayerSpec,
}

/// `ENCODER[:LAYERS]` items separated by commas; a comma followed by something
/// without a `:` continues the item before it (`minilm:concat:4,6`).
fn parse_sets(list: &str) -> Result<Vec<FeatureSet>> {
    let mut items: Vec<String> = Vec::new();
    for part in list.split(',').map(str::trim) {
        match items.last_mut() {
            Some(last) if !part.contains(':') && last.contains(':') => {
                last.push(',');
                last.push_str(part);
            }
            _ => items.push(part.to_string()),
        }
    }
    let mut sets: Vec<FeatureSet> = Vec::new();
    for item in items {
        if item.is_empty() {
            return Err(input_error!("--features: an empty feature set in '{list}'"));
        }
        let (enc, layers) = item.split_once(':').unwrap_or((&item, "last"));
        let layers: LayerSpec = layers
            .parse()
            .map_err(|e| input_error!("--features {item}: {e}"))?;
        if sets.iter().any(|s| s.name == item) {
            return Err(input_error!("--features: '{item}' is named twice"));
        }
        sets.push(FeatureSet {
            name: item.clone(),
            encoder: resolve_encoder(enc)?,
            layers,
        });
    }
    if sets.is_empty() {
        return Err(input_error!("--features: no feature set given"));
    }
    Ok(sets)
}

/// A folder, an installed encoder's name, or a part of one name only
/// (`minilm` for all-MiniLM-L6-v2), case aside.
fn resolve_encoder(given: &str) -> Result<PathBuf> {
    let path = crate::paths::encoder_dir(std::path::Path::new(given))?;
    if path.is_dir() {
        return Ok(path);
    }
    let installed = crate::paths::installed_encoders();
    let matches: Vec<&String> = installed
        .iter()
        .filter(|n| n.to_lowercase().contains(&given.to_lowercase()))
        .collect();
    match matches.as_slice() {
        [one] => crate::paths::encoder_dir(std::path::Path::new(one)),
        [] => Err(input_error!(
            "--features: no encoder '{given}' (installed: {}; or give a folder)",
            installed.join(", ")
        )),
        many => Err(input_error!(
            "--features: '{given}' names several installed encoders: {}",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A folder name for a feature set's report.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Single- or multi-label is decided here, once, from the data asked for.
pub fn run(args: &FeaturesArgs) -> Result<()> {
    match task_of(&args.study.data) {
        Task::SingleLabel => compare::<usize>(args),
        Task::MultiLabel => compare::<LabelSet>(args),
    }
}

fn compare<L: TaskLabel>(args: &FeaturesArgs) -> Result<()> {
    if args.study.encoder.encoder.is_some() {
        return Err(input_error!(
            "--encoder: compare-features takes its encoders from --features (ENCODER:LAYERS, …)"
        ));
    }
    let sets = parse_sets(&args.features)?;
    // Each set's study arguments and its encoder, loaded now so that a layer it
    // does not have is refused before any work.
    let mut studies_args = Vec::new();
    let mut encoders = Vec::new();
    for set in &sets {
        let mut a = args.study.clone();
        a.encoder.encoder = Some(set.encoder.clone());
        a.encoder.layers = set.layers.clone();
        encoders.push(
            load_encoder(&a.encoder).map_err(|e| input_error!("--features {}: {e}", set.name))?,
        );
        studies_args.push(a);
    }
    let out = args
        .study
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports/features"));
    report::check_writable(&out)?;

    // What embedding costs, on the data's first texts without the cache, timed
    // for every set before the studies (the machine quiet, each encoder loaded
    // once), then the encoders let go.
    let sample = speed_texts::<L>(&args.study)?;
    let opts = EmbedOptions {
        batch_size: args.study.encoder.run.batch_size as usize,
        cache_dir: None,
        progress: false,
        ..EmbedOptions::default()
    };
    let mut probes = Vec::new();
    for encoder in encoders {
        // One batch first, untimed: libtorch's first pass sets itself up.
        embed_texts(&encoder, &sample[..sample.len().min(16)], &opts)?;
        // The best of three passes: the encoder's speed, not that of whatever
        // else the machine was busy with during one of them.
        let mut seconds = f64::INFINITY;
        for _ in 0..SPEED_PASSES {
            let t0 = Instant::now();
            embed_texts(&encoder, &sample, &opts)?;
            seconds = seconds.min(t0.elapsed().as_secs_f64());
        }
        probes.push((
            sample.len() as f64 / seconds.max(1e-9),
            encoder.layers().canonical(),
            encoder.identity().dim,
        ));
    }

    let mut rows: Vec<FeatureRow> = Vec::new();
    let mut studies = Vec::new();
    for (i, ((set, mut a), (texts_per_s, layers_resolved, dim))) in
        sets.iter().zip(studies_args).zip(probes).enumerate()
    {
        eprintln!("emo: feature set {} of {}: {}", i + 1, sets.len(), set.name);
        a.out = Some(out.join(slug(&set.name)));
        let (study, _) = study::<L>(&a)?;
        let headline = L::headline(&study).ok_or_else(|| {
            input_error!(
                "{}: no validation data to choose a method on",
                study.dataset
            )
        })?;
        rows.push(FeatureRow {
            name: set.name.clone(),
            encoder: set.encoder.display().to_string(),
            layers: set.layers.to_string(),
            layers_resolved,
            dim,
            best_method: headline.method.to_string(),
            validation: headline.validation,
            test_macro_f1: headline.test_macro_f1,
            difference: None,
            texts_per_s,
            report: slug(&set.name),
        });
        studies.push((study, headline.index));
    }
    // Paired differences to the first set, on the same test rows.
    let (first, fi) = &studies[0];
    fn runs<L: TaskLabel>(s: &report::Study<L>, m: usize) -> Vec<&[L]> {
        s.methods[m]
            .runs
            .iter()
            .map(|r| &r.test_predictions[..])
            .collect()
    }
    for (k, (s, m)) in studies.iter().enumerate().skip(1) {
        let d = if args.study.bootstrap > 0 {
            L::paired_macro_f1(
                &first.test_labels,
                first.classes.len(),
                runs(first, *fi),
                runs(s, *m),
                args.study.bootstrap,
                args.study.seed,
            )
        } else {
            crate::uncertainty::Interval::point(
                rows[k].test_macro_f1.estimate - rows[0].test_macro_f1.estimate,
            )
        };
        rows[k].difference = Some(d);
    }
    let recommended = (0..rows.len())
        .max_by(|&a, &b| {
            rows[a]
                .validation
                .total_cmp(&rows[b].validation)
                .then(b.cmp(&a))
        })
        .expect("at least one set");
    let fs = FeatureStudy {
        dataset: first.dataset.clone(),
        task: match L::TASK {
            Task::SingleLabel => "single-label",
            Task::MultiLabel => "multi-label",
        },
        rows,
        recommended,
        bootstrap: args.study.bootstrap,
        seeds: first.seeds.len(),
        speed_texts: SPEED_TEXTS,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    crate::report::features::write(&fs, &out)?;
    print!("{}", crate::report::features::terminal(&fs));
    println!("\nreport: {}", out.join("index.html").display());
    Ok(())
}

/// The first [`SPEED_TEXTS`] texts of the study's data, split after split.
fn speed_texts<L: TaskLabel>(args: &crate::cli::CompareArgs) -> Result<Vec<String>> {
    let (dataset, _) = super::load::load_study_data::<L>(&args.data, args.seed)?;
    Ok(dataset
        .splits
        .iter()
        .flat_map(|(_, s)| s.texts.iter())
        .take(SPEED_TEXTS)
        .cloned()
        .collect())
}
