//! `emo train`: fit one method and save it as a model folder that `classify`
//! and `evaluate` load.

use super::load::{
    embed_options, embed_splits, load_encoder, load_study_data, load_study_data_multi, task_of,
};
use crate::cli::TrainCmdArgs;
use crate::data::{LabelSet, SplitName, Task};
use crate::decision::WhenNonePasses;
use crate::features::Features;
use crate::input_error;
use crate::methods::multi::{self, MultiContext};
use crate::methods::{self, check_splits, Context};
use crate::metrics::Metrics;
use crate::model::{Manifest, MultiLabelDecision, SavedModel, FORMAT_VERSION};
use anyhow::Result;
use std::path::Path;

/// The method a compare-sampling report recommends (chosen on validation),
/// refused when the report studied the other task: a single-label method
/// cannot be trained on multi-label data, nor the other way round.
fn recommended(report: &Path, task: Task) -> Result<String> {
    let path = if report.is_dir() {
        report.join("metrics.json")
    } else {
        report.to_path_buf()
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| input_error!("{}: cannot read: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| input_error!("{}: not valid JSON: {e}", path.display()))?;
    // Single-label reports predate the field.
    let theirs = match v["task"].as_str() {
        Some("multi-label") => Task::MultiLabel,
        _ => Task::SingleLabel,
    };
    if theirs != task {
        return Err(input_error!(
            "{}: a {} report cannot choose the method for {} data (run compare-sampling on data of the same kind)",
            path.display(),
            theirs.name(),
            task.name()
        ));
    }
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

/// The method to train: `--method-from`'s recommendation, `--method`, or the
/// task's stage-1 default.
fn method_name(args: &TrainCmdArgs, task: Task) -> Result<String> {
    Ok(match (&args.method_from, &args.method) {
        (Some(report), _) => recommended(report, task)?,
        (None, Some(m)) => m.clone(),
        (None, None) if task == Task::MultiLabel => "bce".into(),
        (None, None) => "ib".into(),
    })
}

pub fn run(args: &TrainCmdArgs) -> Result<()> {
    match task_of(&args.data) {
        Task::SingleLabel => run_single(args),
        Task::MultiLabel => run_multi(args),
    }
}

fn run_single(args: &TrainCmdArgs) -> Result<()> {
    if args.at_least_one {
        return Err(input_error!(
            "--at-least-one is for multi-label data (--multi-label or a *-multi dataset)"
        ));
    }
    let config = args.train.config(Task::SingleLabel)?;
    let method = method_name(args, Task::SingleLabel)?;
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
            task: Task::SingleLabel,
            multi_label: None,
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

/// Training on multi-label data: a multi-label method, its per-class
/// thresholds chosen on validation, and the no-label rule, saved together.
fn run_multi(args: &TrainCmdArgs) -> Result<()> {
    let config = args.train.config(Task::MultiLabel)?;
    let method = method_name(args, Task::MultiLabel)?;
    let entry = multi::lookup(&method)?;
    let (mut dataset, notes) = load_study_data_multi(&args.data, args.seed)?;
    dataset.splits.retain(|(name, _)| *name != SplitName::Test);
    for n in &notes {
        eprintln!("emo: {n}");
    }
    let c = dataset.classes.len();
    if c < 2 {
        return Err(input_error!(
            "{}: the training data names {c} label(s); a model needs at least two",
            dataset.name
        ));
    }
    let train_split = dataset.split(SplitName::Train).expect("a training split");
    let valid_split = dataset
        .split(SplitName::Validation)
        .expect("a validation split");
    let missing: Vec<&str> = valid_split
        .class_counts(c)
        .iter()
        .enumerate()
        .filter(|(_, &n)| n == 0)
        .map(|(k, _)| dataset.classes[k].as_str())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "emo: warning: no validation text carries {}: their thresholds stay at 0.5",
            missing.join(", ")
        );
    }
    let (train_texts, cooccurrence) =
        crate::report::multilabel::cooccurrence(&train_split.labels, c);
    crate::atomic::check_dir_writable(&crate::atomic::parent_of(&args.out))?;
    let encoder = load_encoder(args.encoder.encoder.as_ref(), &args.encoder.run)?;
    let feats = embed_splits(
        &dataset,
        &encoder,
        &embed_options(&args.encoder.run, args.encoder.cache.folder()),
    )?;
    let [train, valid] = <[Features<LabelSet>; 2]>::try_from(feats)
        .map_err(|_| anyhow::anyhow!("two splits expected"))?;
    let when_none = if args.at_least_one {
        WhenNonePasses::TopLabel
    } else {
        WhenNonePasses::NoEmotion
    };
    let ctx = MultiContext::new(&train, &valid, &config, args.seed);
    let fitted = (entry.build)(&config).fit(&ctx)?;
    let th: Vec<f32> = fitted.thresholds.iter().map(|t| t.value).collect();
    let vprobs = multi::probabilities(&fitted.head, &valid)?;
    let (vm, _) = crate::compare::multilabel::score(&vprobs, &valid.labels, &th, when_none);

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
                "macro_f1": vm.macro_avg.f1,
                "micro_f1": vm.micro_avg.f1,
                "samples_f1": vm.samples_avg.f1,
                "hamming_loss": vm.hamming_loss,
                "subset_accuracy": vm.subset_accuracy,
            }),
            training_data: dataset.name.clone(),
            device: crate::embed::device_name(encoder.device()),
            precision: encoder.precision(),
            task: Task::MultiLabel,
            multi_label: Some(MultiLabelDecision {
                thresholds: fitted.thresholds,
                when_none,
                train_texts,
                cooccurrence,
            }),
        },
        head: fitted.head,
    };
    model.save(&args.out)?;
    println!(
        "trained {} (multi-label) on {} texts with {} labels; validation macro-F1 {:.4}, micro-F1 {:.4} at the per-label thresholds",
        entry.name,
        train.len(),
        c,
        vm.macro_avg.f1,
        vm.micro_avg.f1
    );
    println!("model: {}", args.out.display());
    Ok(())
}
