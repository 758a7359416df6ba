//! `emo evaluate`: a saved model on fresh labelled data, with the same report
//! (pictures, metrics, summary, index.html) as compare-sampling, for one model.
//! A multi-label model is scored at the thresholds it saved (never re-chosen on
//! the data it is evaluated on) and gets the multi-label study's report.

use super::load::{embed_options, embed_splits, encoder_for};
use crate::cli::EvaluateArgs;
use crate::data::table::read_rows;
use crate::data::{named, BadRows, Dataset, Label, LabelSet, Split, SplitName, Task};
use crate::embed::device_name;
use crate::input_error;
use crate::metrics::Metrics;
use crate::model::SavedModel;
use crate::report::{self, MethodRuns, Run, Study};
use anyhow::Result;
use std::path::Path;

/// The labelled data, with labels mapped onto the model's. A label the model
/// does not know is an error naming the line: no silent drops.
fn load(args: &EvaluateArgs, labels: &[String]) -> Result<Dataset> {
    let index = |label: &str| labels.iter().position(|l| l == label);
    if let Some(name) = &args.dataset {
        let ds = named::load(name, &crate::paths::datasets())?;
        let test = ds
            .split(SplitName::Test)
            .expect("named datasets have a test split");
        let mut split = Split::default();
        for i in 0..test.len() {
            let name = &ds.classes[test.labels[i]];
            let y = index(name).ok_or_else(|| {
                input_error!(
                    "dataset {}: class '{name}' is not one of the model's labels",
                    ds.name
                )
            })?;
            split.texts.push(test.texts[i].clone());
            split.labels.push(y);
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
        .expect("clap requires --dataset or --data");
    let mut bad = BadRows::skipping(args.table.skip_bad_rows);
    let rows = read_rows(path, &args.table.spec(true), &mut bad)?;
    for line in bad.summary() {
        eprintln!("emo: {line}");
    }
    let mut ys = Vec::with_capacity(rows.len());
    for r in &rows {
        let label = r.single_label().unwrap_or_default();
        ys.push(index(label).ok_or_else(|| {
            input_error!(
                "{}: line {}: label '{label}' is not one of the model's labels ({})",
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

/// The multi-label data, each text's labels mapped onto the model's; a label
/// the model does not know is an error naming the file and line.
fn load_multi(args: &EvaluateArgs, labels: &[String]) -> Result<Dataset<LabelSet>> {
    let index = |label: &str| labels.iter().position(|l| l == label);
    let set = |names: &mut dyn Iterator<Item = &str>, whence: &dyn Fn(&str) -> String| {
        let classes = names
            .map(|n| index(n).ok_or_else(|| input_error!("{}", whence(n))))
            .collect::<Result<Vec<usize>>>()?;
        Ok::<_, anyhow::Error>(LabelSet::new(classes).expect("the readers refuse repeats"))
    };
    if let Some(name) = &args.dataset {
        let ds = named::load_multi(name, &crate::paths::datasets())?;
        let test = ds
            .split(SplitName::Test)
            .expect("named datasets have a test split");
        let mut split = Split::default();
        for i in 0..test.len() {
            let y = set(
                &mut test.labels[i]
                    .classes()
                    .iter()
                    .map(|&c| ds.classes[c].as_str()),
                &|n| {
                    format!(
                        "dataset {}: class '{n}' is not one of the model's labels",
                        ds.name
                    )
                },
            )?;
            split.texts.push(test.texts[i].clone());
            split.labels.push(y);
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
        .expect("clap requires --dataset or --data");
    let mut bad = BadRows::skipping(args.table.skip_bad_rows);
    let rows = read_rows(path, &args.table.spec(true), &mut bad)?;
    for line in bad.summary() {
        eprintln!("emo: {line}");
    }
    let mut ys = Vec::with_capacity(rows.len());
    for r in &rows {
        ys.push(set(
            &mut r.label_set().unwrap_or_default().iter().map(String::as_str),
            &|n| {
                format!(
                    "{}: line {}: label '{n}' is not one of the model's labels ({})",
                    path.display(),
                    r.line,
                    labels.join(", ")
                )
            },
        )?);
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
        Task::SingleLabel => run_single(args, model, device),
        Task::MultiLabel => run_multi(args, model),
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

fn run_single(args: &EvaluateArgs, model: SavedModel, device: tch::Device) -> Result<()> {
    let thresholds = args.groups.thresholds()?;
    let m = &model.manifest;
    let dataset = load(args, &m.labels)?;
    let model_name = model_name(args);
    let out = out_folder(args)?;
    let encoder = encoder_for(&model, &args.model, args.encoder.as_ref(), &args.run)?;
    let feats = embed_splits(
        &dataset,
        &encoder,
        &embed_options(&args.run, args.cache.folder()),
    )?;
    let test = &feats[0];
    let pred = model.head.predict(&test.x)?;
    let metrics = Metrics::compute(&test.labels, &pred, m.labels.len());
    let method = crate::methods::find(&m.method);
    let split = &dataset.splits[0].1;
    let mut study = Study {
        dataset: format!("{} (model {model_name})", dataset.name),
        classes: m.labels.clone(),
        train_counts: m.train_counts.clone(),
        validation_counts: vec![0; m.labels.len()],
        test_counts: test.counts(),
        test_ids: split.ids.clone(),
        test_labels: split.labels.clone(),
        validation_labels: Vec::new(),
        thresholds,
        config: m.config.clone(),
        seeds: vec![m.seed],
        encoder: encoder.identity().clone(),
        device: device_name(device),
        precision: encoder.precision().name(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        methods: vec![MethodRuns {
            name: method.map(|e| e.name).unwrap_or("model"),
            title: method.map(|e| e.title).unwrap_or("the saved model"),
            summary: method.map(|e| e.summary).unwrap_or("saved model"),
            runs: vec![Run {
                seed: m.seed,
                subsample: 0,
                // The model's own validation scores live in its manifest; here validation = the evaluated data.
                validation: metrics.clone(),
                test: metrics,
                test_predictions: pred,
                validation_predictions: Vec::new(),
                chosen: m.chosen.clone(),
                weight_norms: model.head.weight_norms(),
                seconds: 0.0,
            }],
        }],
        subsamples: None,
        analysis: None,
    };
    // One model: no selection; `--select` does not apply.
    study.analyse(crate::metrics::Stat::MacroF1, args.bootstrap, args.seed);
    report::write(&study, &out)?;
    print!("{}", report::terminal_table(&study));
    println!("\nreport: {}", out.join("index.html").display());
    Ok(())
}

/// A multi-label model on multi-label data: scored at its saved thresholds and
/// no-label rule (and, as compare-sampling does, at 0.5 and 0.3 everywhere),
/// reported as a multi-label study of one method. The model's training counts
/// and co-occurrence come from its manifest; the report's validation numbers
/// are those of the evaluated data, as in the single-label evaluate report.
fn run_multi(args: &EvaluateArgs, model: SavedModel) -> Result<()> {
    use crate::compare::multilabel::score;
    use crate::decision::{self, FIXED, PAPER};
    use crate::report::multilabel::{self, MultiMethodRuns, MultiRun, MultiStudy};
    let thresholds = args.groups.thresholds()?;
    let m = &model.manifest;
    let saved = m
        .multi_label
        .as_ref()
        .expect("SavedModel::load checks that a multi-label model has its decision");
    let dataset = load_multi(args, &m.labels)?;
    let out = out_folder(args)?;
    let encoder = encoder_for(&model, &args.model, args.encoder.as_ref(), &args.run)?;
    let feats = embed_splits(
        &dataset,
        &encoder,
        &embed_options(&args.run, args.cache.folder()),
    )?;
    let test = &feats[0];
    let c = m.labels.len();
    let th: Vec<f32> = saved.thresholds.iter().map(|t| t.value).collect();
    let probs = crate::methods::multi::probabilities(&model.head, test)?;
    let (metrics, predictions) = score(&probs, &test.labels, &th, saved.when_none);
    let at = |v: f32| {
        score(
            &probs,
            &test.labels,
            &decision::uniform(v, c),
            saved.when_none,
        )
        .0
    };
    let method = crate::methods::multi::find(&m.method);
    let split = &dataset.splits[0].1;
    let mut study = MultiStudy {
        dataset: format!("{} (model {})", dataset.name, model_name(args)),
        classes: m.labels.clone(),
        train_counts: m.train_counts.clone(),
        validation_counts: saved
            .thresholds
            .iter()
            .map(|t| t.validation_positives)
            .collect(),
        // Not known here (the model's manifest keeps per-class counts only).
        validation_texts: 0,
        test_counts: test.counts(),
        train_texts: saved.train_texts,
        cooccurrence: saved.cooccurrence.clone(),
        test_ids: split.ids.clone(),
        test_labels: split.labels.clone(),
        when_none: saved.when_none,
        thresholds,
        config: m.config.clone(),
        seeds: vec![m.seed],
        encoder: encoder.identity().clone(),
        device: device_name(encoder.device()),
        precision: encoder.precision().name(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        methods: vec![MultiMethodRuns {
            name: method.map(|e| e.name).unwrap_or("model"),
            title: method.map(|e| e.title).unwrap_or("the saved model"),
            summary: method.map(|e| e.summary).unwrap_or("saved model"),
            runs: vec![MultiRun {
                seed: m.seed,
                thresholds: saved.thresholds.clone(),
                // The model's own validation scores live in its manifest; here validation = the evaluated data.
                validation: metrics.clone(),
                // Nothing is chosen here: no held-out validation score.
                validation_score: f64::NAN,
                test: metrics,
                test_fixed: at(FIXED),
                test_paper: at(PAPER),
                test_predictions: predictions,
                test_probabilities: probs,
                chosen: m.chosen.clone(),
                weight_norms: model.head.weight_norms(),
                seconds: 0.0,
            }],
        }],
        analysis: None,
    };
    study.analyse(args.bootstrap, args.seed);
    multilabel::write(&study, &out)?;
    print!("{}", multilabel::terminal_table(&study));
    println!("\nreport: {}", out.join("index.html").display());
    Ok(())
}
