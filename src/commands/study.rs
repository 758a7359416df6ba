//! A compare-sampling study, from its arguments to its written report: what
//! `emo compare-sampling` runs once and `emo compare-features` once per feature
//! set. Data, embeddings (cached), every method on every seed (and training
//! subsample), the analysis, the report.

use super::load::{embed_study, load_study_data};
use super::task::TaskLabel;
use crate::cli::CompareArgs;
use crate::compare;
use crate::data::SplitName;
use crate::embed::device_name;
use crate::features::Features;
use crate::input_error;
use crate::report::{self, MethodRuns, Run, Study};
use anyhow::Result;
use std::path::PathBuf;

/// Runs the study `args` asks for and writes its report (to `--out`, else the
/// dataset's default folder); returns the study, analysed, and that folder.
pub fn study<L: TaskLabel>(args: &CompareArgs) -> Result<(Study<L>, PathBuf)> {
    let config = args.train.config(L::TASK)?;
    let thresholds = args.groups.thresholds()?;
    let rule = L::rule(args.at_least_one)?;
    L::check_study(&config)?;
    // Refuse unknown method names before any work.
    let method_names = crate::methods::expand::<L>(args.methods.as_deref())?;
    let seeds: Vec<u64> = (0..args.seeds.max(1))
        .map(|i| args.seed + i as u64)
        .collect();
    let (mut dataset, notes) = load_study_data::<L>(&args.data, args.seed)?;
    for n in &notes {
        eprintln!("emo: {n}");
    }
    let drawn = match &args.train_profile {
        Some(profile) => {
            let request = crate::data::profile::Request {
                profile,
                subsamples: args.subsamples,
                seed: args.seed,
                valid: args.valid_profile.as_ref(),
            };
            Some(L::draw(&mut dataset, &request)?)
        }
        None => None,
    };
    // Refuse unusable data before spending time on embeddings.
    if dataset.split(SplitName::Test).is_none_or(|s| s.is_empty()) {
        return Err(input_error!(
            "{}: no test data: give --test FILE (not empty) or --split 0.8,0.1,0.1",
            dataset.name
        ));
    }
    for w in L::check_splits(&dataset)? {
        eprintln!("emo: {w}");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::default_folder(&dataset.name));
    report::check_writable(&out)?;

    let (encoder, feats) = embed_study(&dataset, &args.encoder)?;
    let [train, valid, test] = <[Features<L>; 3]>::try_from(feats)
        .map_err(|_| anyhow::anyhow!("three splits expected"))?;
    // Samples of at most 1000 texts, as many as the test split has below that.
    let shift = (args.shift_samples > 0).then(|| crate::quantify::shift::Plan {
        samples: args.shift_samples,
        size: test.len().min(1000),
        seed: args.seed,
    });

    // One study per training subsample (one in all without --subsamples); each
    // subsample's runs are tagged with it and its methods tune on it.
    let (methods, train_counts, extra, subsamples, seeds) = match &drawn {
        None => {
            let methods = compare::run(
                &method_names,
                &train,
                &valid,
                &test,
                &config,
                &seeds,
                compare::Scoring { rule, shift },
            )?;
            let extra = L::extra(&train.labels, dataset.classes.len());
            (methods, train.counts(), extra, None, seeds)
        }
        Some(d) => {
            let mut merged: Vec<MethodRuns<Run<L>>> = Vec::new();
            let (mut counts, mut extra) = (Vec::new(), None);
            for (s, rows) in d.rows.iter().enumerate() {
                let sub = train.rows(rows);
                let sub_seeds: Vec<u64> = (0..args.seeds.max(1))
                    .map(|i| d.seeds[s] + i as u64)
                    .collect();
                if d.rows.len() > 1 {
                    eprintln!(
                        "emo: subsample {} of {} (seed {})",
                        s + 1,
                        d.rows.len(),
                        d.seeds[s]
                    );
                }
                let runs = compare::run(
                    &method_names,
                    &sub,
                    &valid,
                    &test,
                    &config,
                    &sub_seeds,
                    compare::Scoring { rule, shift },
                )?;
                if s == 0 {
                    counts = sub.counts();
                    extra = Some(L::extra(&sub.labels, dataset.classes.len()));
                    merged = runs;
                } else {
                    for (m, r) in merged.iter_mut().zip(runs) {
                        m.runs.extend(r.runs.into_iter().map(|mut run| {
                            run.subsample = s;
                            run
                        }));
                    }
                }
            }
            let info = (d.rows.len() > 1).then(|| crate::report::Subsamples {
                profile: d.profile.clone(),
                seeds: d.seeds.clone(),
                validation: args.valid_profile.as_ref().map(|v| v.to_string()),
            });
            let seeds = if d.rows.len() > 1 {
                d.seeds.clone()
            } else {
                seeds
            };
            let extra = extra.expect("at least one subsample");
            (merged, counts, extra, info, seeds)
        }
    };
    let test_split = dataset.split(SplitName::Test).expect("checked above");
    let mut study = Study::<L> {
        dataset: dataset.name.clone(),
        classes: dataset.classes.clone(),
        train_counts,
        validation_counts: valid.counts(),
        test_counts: test.counts(),
        test_ids: test_split.ids.clone(),
        test_labels: test_split.labels.clone(),
        validation_labels: valid.labels.clone(),
        thresholds,
        config,
        seeds,
        encoder: encoder.identity().clone(),
        device: device_name(encoder.device()),
        precision: encoder.precision().name(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        methods,
        rule,
        extra,
        subsamples,
        analysis: None,
    };
    study.analyse(study.config.select, args.bootstrap, args.seed);
    L::write(&study, &out)?;
    Ok((study, out))
}
