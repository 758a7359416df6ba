//! `emo evaluate`: a saved model on fresh labelled data, with the same report
//! (pictures, metrics, summary, index.html) as compare-sampling, for one model.
//! A multi-label model is scored at the thresholds it saved (never re-chosen on
//! the data it is evaluated on) and gets the multi-label study's report.

use super::load::{embed_options, embed_splits, encoder_for};
use super::task::TaskLabel;
use crate::cli::EvaluateArgs;
use crate::data::table::read_rows;
use crate::data::{named, BadRows, Dataset, LabelSet, Split, SplitName, Task};
use crate::embed::device_name;
use crate::input_error;
use crate::model::SavedModel;
use crate::report::{self, MethodRuns, Study};
use anyhow::Result;
use std::path::Path;

/// The labelled data, with labels mapped onto the model's. A label the model
/// does not know is an error naming the line: no silent drops.
fn load<L: TaskLabel>(args: &EvaluateArgs, labels: &[String]) -> Result<Dataset<L>> {
    let relabel = |names: Vec<&str>, whence: &dyn Fn(&str) -> String| {
        let classes = names
            .into_iter()
            .map(|n| {
                labels
                    .iter()
                    .position(|l| l == n)
                    .ok_or_else(|| input_error!("{}", whence(n)))
            })
            .collect::<Result<Vec<usize>>>()?;
        Ok::<_, anyhow::Error>(L::from_classes(classes))
    };
    if let Some(name) = &args.dataset {
        let ds = L::named(name, &crate::paths::datasets())?;
        let test = ds
            .split(SplitName::Test)
            .expect("named datasets have a test split");
        let mut split = Split::default();
        for i in 0..test.len() {
            let names = test.labels[i]
                .classes()
                .iter()
                .map(|&c| ds.classes[c].as_str())
                .collect();
            split.labels.push(relabel(names, &|n| {
                format!(
                    "dataset {}: class '{n}' is not one of the model's labels",
                    ds.name
                )
            })?);
            split.texts.push(test.texts[i].clone());
            split.ids.push(test.ids[i].clone());
        }
        return Ok(Dataset {
            name: format!("{name}-test"),
            classes: labels.to_vec(),
            splits: vec![(SplitName::Test, split)],
        });
    }
    let path = args
        .data
        .as_ref()
        .expect("clap requires --dataset or --input");
    let mut bad = BadRows::skipping(args.table.skip_bad_rows);
    let rows = read_rows(path, &args.table.spec(true), &mut bad)?;
    for line in bad.summary() {
        eprintln!("emo: {line}");
    }
    let mut ys = Vec::with_capacity(rows.len());
    for r in &rows {
        ys.push(relabel(L::label_names(r), &|n| {
            format!(
                "{}: line {}: label '{n}' is not one of the model's labels ({})",
                path.display(),
                r.line,
                labels.join(", ")
            )
        })?);
    }
    Ok(Dataset {
        name: stem(path),
        classes: labels.to_vec(),
        splits: vec![(SplitName::Test, Split::from_rows(path, &rows, ys))],
    })
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into())
}

pub fn run(args: &EvaluateArgs) -> Result<()> {
    let device = args.run.device.resolve()?;
    let model = SavedModel::load(&args.model, device)?;
    let data_multi = args
        .dataset
        .as_deref()
        .is_some_and(|n| named::MULTI_NAMES.contains(&n))
        || args.table.multi_label;
    let data_task = if data_multi {
        Task::MultiLabel
    } else {
        Task::SingleLabel
    };
    if data_task != model.manifest.task {
        return Err(input_error!(
            "{}: a {} model cannot be evaluated on {} data ({})",
            args.model.display(),
            model.manifest.task.name(),
            data_task.name(),
            if model.manifest.task == Task::MultiLabel {
                "give --multi-label, or a *-multi dataset"
            } else {
                "leave out --multi-label, or name a single-label dataset"
            }
        ));
    }
    match data_task {
        Task::SingleLabel => evaluate::<usize>(args, model),
        Task::MultiLabel => evaluate::<LabelSet>(args, model),
    }
}
/// The model's folder name, for the report's title and default folder.
fn model_name(args: &EvaluateArgs) -> String {
    args.model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}

/// `--out`, or a fresh folder under reports/; refused early if unwritable.
fn out_folder(args: &EvaluateArgs) -> Result<std::path::PathBuf> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::default_folder(&format!("evaluate-{}", model_name(args))));
    report::check_writable(&out)?;
    Ok(out)
}

/// The model on the data, as a study of one method with one run: the same
/// report as compare-sampling's. The model's training counts (and multi-label
/// co-occurrence) come from its manifest; the report's validation numbers are
/// those of the evaluated data.
fn evaluate<L: TaskLabel>(args: &EvaluateArgs, model: SavedModel) -> Result<()> {
    let thresholds = args.groups.thresholds()?;
    let m = &model.manifest;
    let dataset = load::<L>(args, &m.labels)?;
    let out = out_folder(args)?;
    let encoder = encoder_for(&model, &args.model, args.encoder.as_ref(), &args.run)?;
    let feats = embed_splits(
        &dataset,
        &encoder,
        &embed_options(&args.run, args.cache.folder()),
    )?;
    let test = &feats[0];
    let scored = L::score_model(&model, test)?;
    let method = crate::methods::find::<L>(&m.method);
    let split = &dataset.splits[0].1;
    let mut study = Study::<L> {
        dataset: format!("{} (model {})", dataset.name, model_name(args)),
        classes: m.labels.clone(),
        train_counts: m.train_counts.clone(),
        validation_counts: scored.validation_counts,
        test_counts: test.counts(),
        test_ids: split.ids.clone(),
        test_labels: split.labels.clone(),
        validation_labels: Vec::new(),
        thresholds,
        config: m.config.clone(),
        seeds: vec![m.seed],
        encoder: encoder.identity().clone(),
        device: device_name(encoder.device()),
        precision: encoder.precision().name(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        methods: vec![MethodRuns {
            name: method.map(|e| e.name).unwrap_or("model"),
            title: method.map(|e| e.title).unwrap_or("the saved model"),
            summary: method.map(|e| e.summary).unwrap_or("saved model"),
            runs: vec![scored.run],
        }],
        rule: scored.rule,
        extra: scored.extra,
        subsamples: None,
        analysis: None,
    };
    // One model: no selection; `--select` does not apply.
    study.analyse(crate::metrics::Stat::MacroF1, args.bootstrap, args.seed);
    L::write(&study, &out)?;
    print!("{}", L::terminal_table(&study));
    println!("\nreport: {}", out.join("index.html").display());
    Ok(())
}
