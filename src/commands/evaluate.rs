//! `emo evaluate`: a saved model on fresh labelled data, with the same report
//! (pictures, metrics, summary, index.html) as compare-sampling, for one model.

use super::load::{embed_options, embed_splits, encoder_for};
use crate::cli::EvaluateArgs;
use crate::data::table::read_rows;
use crate::data::{named, BadRows, Dataset, Split, SplitName};
use crate::embed::device_name;
use crate::input_error;
use crate::metrics::Metrics;
use crate::model::SavedModel;
use crate::report::{self, MethodRuns, Run, Study};
use anyhow::Result;

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
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    Ok(Dataset {
        name,
        classes: labels.to_vec(),
        splits: vec![(SplitName::Test, Split::from_rows(path, &rows, ys))],
    })
}

pub fn run(args: &EvaluateArgs) -> Result<()> {
    let thresholds = args.groups.thresholds()?;
    let device = args.run.device.resolve()?;
    let model = SavedModel::load(&args.model, device)?;
    let m = &model.manifest;
    let dataset = load(args, &m.labels)?;
    let model_name = args
        .model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::default_folder(&format!("evaluate-{model_name}")));
    report::check_writable(&out)?;
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
