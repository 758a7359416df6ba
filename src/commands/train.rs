//! `emo train`: fit one method and save it as a model folder that `classify`
//! and `evaluate` load.

use super::load::{embed_study, load_study_data, task_of};
use super::task::TaskLabel;
use crate::calibration::{self, Calibrator};
use crate::cli::TrainCmdArgs;
use crate::data::{LabelSet, SplitName, Task};
use crate::features::Features;
use crate::head::Head;
use crate::input_error;
use crate::methods::{self, Context};
use crate::model::{Manifest, SavedModel, ValidationOutputs, FORMAT_VERSION};
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

/// The head's logits on the validation texts and their labels, kept with the
/// model: the calibration map is fitted on them, and quantification learns
/// from them how the head errs.
fn validation_outputs<L: TaskLabel>(head: &Head, valid: &Features<L>) -> Result<ValidationOutputs> {
    let c = valid.n_classes;
    let z = head.logits(&valid.x)?;
    let logits = Vec::<f32>::try_from(z.to_device(tch::Device::Cpu).flatten(0, -1))?;
    let mut truth = vec![false; valid.len() * c];
    for (r, label) in valid.labels.iter().enumerate() {
        for &k in label.classes() {
            truth[r * c + k] = true;
        }
    }
    Ok(ValidationOutputs {
        rows: valid.len(),
        logits,
        truth,
    })
}

/// One line on the fitted map, for the person who trained it.
fn describe(m: &Calibrator) -> String {
    match m {
        Calibrator::Temperature { t } => format!(
            "temperature {t:.3} ({})",
            if *t > 1.0 {
                "the head was over-confident"
            } else {
                "the head was under-confident"
            }
        ),
        Calibrator::Platt { .. } => "Platt scaling, one map per label".into(),
        Calibrator::Isotonic { .. } => "isotonic, one map per label".into(),
    }
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
        // The task's stage 1, the first method it lists.
        (None, None) => match task {
            Task::SingleLabel => methods::names::<usize>()[0].into(),
            Task::MultiLabel => methods::names::<LabelSet>()[0].into(),
        },
    })
}

pub fn run(args: &TrainCmdArgs) -> Result<()> {
    match task_of(&args.data) {
        Task::SingleLabel => train::<usize>(args),
        Task::MultiLabel => train::<LabelSet>(args),
    }
}

/// Fits one method and saves it with what it decides by (multi-label: its
/// per-class thresholds and the no-label rule) and its validation scores.
fn train<L: TaskLabel>(args: &TrainCmdArgs) -> Result<()> {
    let rule = L::rule(args.at_least_one)?;
    let config = args.train.config(L::TASK)?;
    let method = method_name(args, L::TASK)?;
    let variant = methods::lookup::<L>(&method)?;
    let (mut dataset, notes) = load_study_data::<L>(&args.data, args.seed)?;
    // Training never looks at a test split: do not spend time embedding it.
    dataset.splits.retain(|(name, _)| *name != SplitName::Test);
    for n in &notes {
        eprintln!("emo: {n}");
    }
    let c = dataset.classes.len();
    for w in L::check_splits(&dataset)? {
        eprintln!("emo: {w}");
    }
    // Fail on an unwritable destination before the long part.
    crate::atomic::check_dir_writable(&crate::atomic::parent_of(&args.out))?;
    let (encoder, feats) = embed_study(&dataset, &args.encoder)?;
    let [train, valid] =
        <[Features<L>; 2]>::try_from(feats).map_err(|_| anyhow::anyhow!("two splits expected"))?;
    let ctx = Context::new(&train, &valid, &config, args.seed);
    let fitted = (variant.build)(&config).fit(&ctx)?;
    let (validation, said) = L::validation(&fitted, train.len(), &valid, rule)?;
    let extra = L::extra(&train.labels, c);
    let outputs = validation_outputs(&fitted.head, &valid)?;
    let kind = args
        .calibration
        .unwrap_or_else(|| calibration::Kind::default_for(L::TASK));
    let logits: Vec<f64> = outputs.logits.iter().map(|&z| f64::from(z)).collect();
    let calibrator = Calibrator::fit(kind, L::TASK, &logits, c, &outputs.truth)
        .map_err(|e| input_error!("--calibration {}: {e}", kind.name()))?;

    let model = SavedModel {
        manifest: Manifest {
            format: "emo-model".into(),
            format_version: FORMAT_VERSION,
            emo_version: env!("CARGO_PKG_VERSION").into(),
            created: utc_timestamp(),
            labels: dataset.classes.clone(),
            train_counts: train.counts(),
            method: variant.name.into(),
            method_summary: variant.summary.into(),
            chosen: fitted.chosen.clone(),
            config,
            seed: args.seed,
            encoder: encoder.identity().clone(),
            encoder_dir: encoder.dir().display().to_string(),
            encoder_hub: crate::hub::source_of(encoder.dir()),
            dim: encoder.identity().dim,
            head: SavedModel::kind_of(&fitted.head).into(),
            validation,
            training_data: dataset.name.clone(),
            device: crate::embed::device_name(encoder.device()),
            precision: encoder.precision(),
            task: L::TASK,
            multi_label: L::decision(fitted.thresholds, rule, extra),
            calibration: calibrator,
            validation_texts: Some(outputs.rows),
        },
        head: fitted.head,
        validation: Some(outputs),
    };
    model.save(&args.out)?;
    println!("trained {}{said}", variant.name);
    if let Some(m) = &model.manifest.calibration {
        println!(
            "calibrated: {} on {} validation texts",
            describe(m),
            valid.len()
        );
    }
    println!("model: {}", args.out.display());
    Ok(())
}
