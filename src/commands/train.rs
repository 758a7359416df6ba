//! `emo train`: fit one method and save it as a model folder that `classify`
//! and `evaluate` load.

use super::load::{embed_options, embed_splits, load_encoder, load_study_data};
use crate::cli::TrainCmdArgs;
use crate::data::SplitName;
use crate::input_error;
use crate::methods::{self, check_splits, Context};
use crate::metrics::Metrics;
use crate::model::{Manifest, SavedModel, FORMAT_VERSION};
use anyhow::Result;
use std::path::Path;

/// The method a compare-sampling report recommends (chosen on validation).
fn recommended(report: &Path) -> Result<String> {
    let path = if report.is_dir() {
        report.join("metrics.json")
    } else {
        report.to_path_buf()
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| input_error!("{}: cannot read: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| input_error!("{}: not valid JSON: {e}", path.display()))?;
    v["recommended"]["method"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| {
            input_error!(
                "{}: no recommended method (is it an emo compare-sampling report?)",
                path.display()
            )
        })
}

/// Seconds since the epoch as an RFC 3339 UTC timestamp, for the manifest.
pub fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn run(args: &TrainCmdArgs) -> Result<()> {
    let config = args.train.config()?;
    let method = match &args.method_from {
        Some(report) => recommended(report)?,
        None => args.method.clone(),
    };
    let entry = methods::lookup(&method)?;
    let (mut dataset, notes) = load_study_data(&args.data, args.seed)?;
    // Training never looks at a test split: do not spend time embedding it.
    dataset.splits.retain(|(name, _)| *name != SplitName::Test);
    for n in &notes {
        eprintln!("emo: {n}");
    }
    let c = dataset.classes.len();
    let counts = |i: usize| dataset.splits[i].1.class_counts(c);
    for w in check_splits(&dataset.classes, &counts(0), &counts(1))? {
        eprintln!("emo: {w}");
    }
    // Fail on an unwritable destination before the long part.
    crate::atomic::check_dir_writable(&crate::atomic::parent_of(&args.out))?;
    let encoder = load_encoder(args.encoder.encoder.as_ref(), &args.encoder.run)?;
    let feats = embed_splits(
        &dataset,
        &encoder,
        &embed_options(&args.encoder.run, args.encoder.cache.folder()),
    )?;
    let (train, valid) = (&feats[0], &feats[1]);
    let ctx = Context::new(train, valid, &config, args.seed);
    let fitted = (entry.build)(&config).fit(&ctx)?;
    let vpred = fitted.head.predict(&valid.x)?;
    let vm = Metrics::compute(&valid.labels, &vpred, c);

    let model = SavedModel {
        manifest: Manifest {
            format: "emo-model".into(),
            format_version: FORMAT_VERSION,
            emo_version: env!("CARGO_PKG_VERSION").into(),
            created: utc_timestamp(),
            labels: dataset.classes.clone(),
            train_counts: train.counts(),
            method: entry.name.into(),
            method_summary: entry.summary.into(),
            chosen: fitted.chosen.clone(),
            config,
            seed: args.seed,
            encoder: encoder.identity().clone(),
            encoder_dir: encoder.dir().display().to_string(),
            dim: encoder.identity().dim,
            head: SavedModel::kind_of(&fitted.head).into(),
            validation: serde_json::json!({
                "accuracy": vm.accuracy,
                "macro_f1": vm.macro_f1,
                "macro_f1_present_classes": vm.macro_f1_present(),
                "balanced_accuracy": vm.balanced_accuracy,
            }),
            training_data: dataset.name.clone(),
            device: crate::embed::device_name(encoder.device()),
            precision: encoder.precision(),
        },
        head: fitted.head,
    };
    model.save(&args.out)?;
    println!(
        "trained {} on {} examples of {} classes; validation macro-F1 {:.4}, accuracy {:.4}",
        entry.name,
        train.len(),
        c,
        vm.macro_f1,
        vm.accuracy
    );
    println!("model: {}", args.out.display());
    Ok(())
}
