//! `emo compare-sampling`: the whole study in one command — data, embeddings
//! (cached), every method, test metrics — printed as a table and saved with the
//! config that produced it.

use super::load::{
    embed_options, embed_splits, load_encoder, load_study_data, load_study_data_multi, task_of,
};
use crate::cli::CompareArgs;
use crate::compare;
use crate::data::profile;
use crate::data::{Dataset, LabelSet, SplitName, Task};
use crate::decision::WhenNonePasses;
use crate::embed::device_name;
use crate::features::Features;
use crate::input_error;
use crate::methods::check_splits;
use crate::report::{self, Study};
use anyhow::Result;

/// Single- or multi-label is decided here, once, from the data asked for.
pub fn run(args: &CompareArgs) -> Result<()> {
    match task_of(&args.data) {
        Task::SingleLabel => run_single(args),
        Task::MultiLabel => run_multi(args),
    }
}

fn run_single(args: &CompareArgs) -> Result<()> {
    let config = args.train.config(Task::SingleLabel)?;
    let thresholds = args.groups.thresholds()?;
    if args.at_least_one {
        return Err(input_error!(
            "--at-least-one is for multi-label data (--multi-label or a *-multi dataset)"
        ));
    }
    // Refuse unknown method names before any work.
    let default: Vec<String> = crate::methods::DEFAULT_COMPARISON
        .split(',')
        .map(String::from)
        .collect();
    let method_names = crate::methods::expand(args.methods.as_ref().unwrap_or(&default))?;
    let seeds: Vec<u64> = (0..args.seeds.max(1))
        .map(|i| args.seed + i as u64)
        .collect();
    let (mut dataset, notes) = load_study_data(&args.data, args.seed)?;
    for n in &notes {
        eprintln!("emo: {n}");
    }
    let drawn = match &args.train_profile {
        Some(profile) => Some(draw_subsamples(&mut dataset, profile, args)?),
        None => None,
    };
    // Refuse unusable data before spending time on embeddings.
    let counts = |name| {
        dataset
            .split(name)
            .map(|s| s.class_counts(dataset.classes.len()))
            .unwrap_or_default()
    };
    if dataset.split(SplitName::Test).is_none_or(|s| s.is_empty()) {
        return Err(input_error!(
            "{}: no test data: give --test FILE (not empty) or --split 0.8,0.1,0.1",
            dataset.name
        ));
    }
    for w in check_splits(
        &dataset.classes,
        &counts(SplitName::Train),
        &counts(SplitName::Validation),
    )? {
        eprintln!("emo: {w}");
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::default_folder(&dataset.name));
    report::check_writable(&out)?;

    let encoder = load_encoder(args.encoder.encoder.as_ref(), &args.encoder.run)?;
    let device = encoder.device();
    let feats = embed_splits(
        &dataset,
        &encoder,
        &embed_options(&args.encoder.run, args.encoder.cache.folder()),
    )?;
    let [train, valid, test] =
        <[Features; 3]>::try_from(feats).map_err(|_| anyhow::anyhow!("three splits expected"))?;

    // One study per training subsample (one in all without --subsamples); each
    // subsample's runs are tagged with it and its methods tune on it.
    let (methods, train_counts, subsamples, seeds) = match &drawn {
        None => {
            let methods = compare::run(&method_names, &train, &valid, &test, &config, &seeds)?;
            (methods, train.counts(), None, seeds)
        }
        Some(d) => {
            let mut merged: Vec<crate::report::MethodRuns> = Vec::new();
            let mut counts = Vec::new();
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
                let runs = compare::run(&method_names, &sub, &valid, &test, &config, &sub_seeds)?;
                if s == 0 {
                    counts = sub.counts();
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
            (merged, counts, info, seeds)
        }
    };
    let test_split = dataset.split(SplitName::Test).expect("checked above");
    let mut study = Study {
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
        device: device_name(device),
        precision: encoder.precision().name(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        methods,
        subsamples,
        analysis: None,
    };
    study.analyse(study.config.select, args.bootstrap, args.seed);
    report::write(&study, &out)?;
    print!("{}", report::terminal_table(&study));
    println!("\nreport: {}", out.join("index.html").display());
    Ok(())
}

/// The multi-label study: the same flow as [`run_single`] over multi-label
/// features, methods and report.
fn run_multi(args: &CompareArgs) -> Result<()> {
    use crate::report::multilabel::{self, MultiStudy};
    let config = args.train.config(Task::MultiLabel)?;
    let thresholds = args.groups.thresholds()?;
    if config.select != crate::metrics::Stat::MacroF1 {
        return Err(input_error!(
            "--select: multi-label studies choose settings, thresholds and the recommended method by validation macro-F1 only"
        ));
    }
    if args.train_profile.is_some() {
        return Err(input_error!(
            "--train-profile: subsample studies are single-label only"
        ));
    }
    let method_names = crate::methods::multi::expand(args.methods.as_deref())?;
    let seeds: Vec<u64> = (0..args.seeds.max(1))
        .map(|i| args.seed + i as u64)
        .collect();
    let (dataset, notes) = load_study_data_multi(&args.data, args.seed)?;
    for n in &notes {
        eprintln!("emo: {n}");
    }
    let c = dataset.classes.len();
    let split = |name| dataset.split(name);
    if split(SplitName::Test).is_none_or(|s| s.is_empty()) {
        return Err(input_error!(
            "{}: no test data: give --test FILE (not empty) or --split 0.8,0.1,0.1",
            dataset.name
        ));
    }
    let train_split = split(SplitName::Train).expect("a training split");
    let valid_split = split(SplitName::Validation).expect("a validation split");
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
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| report::default_folder(&dataset.name));
    report::check_writable(&out)?;

    let encoder = load_encoder(args.encoder.encoder.as_ref(), &args.encoder.run)?;
    let feats = embed_splits(
        &dataset,
        &encoder,
        &embed_options(&args.encoder.run, args.encoder.cache.folder()),
    )?;
    let [train, valid, test] = <[Features<LabelSet>; 3]>::try_from(feats)
        .map_err(|_| anyhow::anyhow!("three splits expected"))?;
    let when_none = if args.at_least_one {
        WhenNonePasses::TopLabel
    } else {
        WhenNonePasses::NoEmotion
    };
    let methods = compare::multilabel::run(
        &method_names,
        &train,
        &valid,
        &test,
        &config,
        &seeds,
        when_none,
    )?;
    let test_split = split(SplitName::Test).expect("checked above");
    let (train_texts, cooccurrence) = multilabel::cooccurrence(&train_split.labels, c);
    let mut study = MultiStudy {
        dataset: dataset.name.clone(),
        classes: dataset.classes.clone(),
        train_counts: train.counts(),
        validation_counts: valid.counts(),
        validation_texts: valid.len(),
        test_counts: test.counts(),
        train_texts,
        cooccurrence,
        test_ids: test_split.ids.clone(),
        test_labels: test_split.labels.clone(),
        when_none,
        thresholds,
        config,
        seeds,
        encoder: encoder.identity().clone(),
        device: device_name(encoder.device()),
        precision: encoder.precision().name(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        methods,
        analysis: None,
    };
    study.analyse(args.bootstrap, args.seed);
    multilabel::write(&study, &out)?;
    print!("{}", multilabel::terminal_table(&study));
    println!("\nreport: {}", out.join("index.html").display());
    Ok(())
}

/// The training subsamples of a profile study: for subsample s, the rows
/// (into the embedded training split, which is their union) and its seed.
struct Drawn {
    profile: String,
    seeds: Vec<u64>,
    rows: Vec<Vec<usize>>,
}

/// Draws `--subsamples` training subsamples of the profile (seeds seed,
/// seed+1, …), keeps only their union in the training split (all that needs
/// embedding), and cuts validation down once if `--valid-profile` asks.
fn draw_subsamples(
    dataset: &mut Dataset,
    profile: &profile::Profile,
    args: &CompareArgs,
) -> Result<Drawn> {
    let c = dataset.classes.len();
    let train = dataset.split(SplitName::Train).expect("a training split");
    let available = train.class_counts(c);
    let want = profile::targets(profile, &available, &dataset.classes, "--train-profile")?;
    let seeds: Vec<u64> = (0..args.subsamples.max(1) as u64)
        .map(|s| args.seed + s)
        .collect();
    let kept: Vec<Vec<usize>> = seeds
        .iter()
        .map(|&seed| profile::keep(&train.labels, &want, seed))
        .collect();
    let mut union: Vec<usize> = kept.iter().flatten().copied().collect();
    union.sort_unstable();
    union.dedup();
    let rows = kept
        .iter()
        .map(|k| {
            k.iter()
                .map(|i| union.binary_search(i).expect("in the union"))
                .collect()
        })
        .collect();
    eprintln!(
        "emo: training split subsampled to the profile: {} examples ({:?} per class){}",
        want.iter().sum::<usize>(),
        want,
        if seeds.len() > 1 {
            format!(
                ", {} subsamples (seeds {}–{})",
                seeds.len(),
                seeds[0],
                seeds[seeds.len() - 1]
            )
        } else {
            String::new()
        }
    );
    let union_split = profile::rows(train, &union);
    *dataset
        .split_mut(SplitName::Train)
        .expect("a training split") = union_split;
    if let Some(vp) = &args.valid_profile {
        let valid = dataset
            .split(SplitName::Validation)
            .expect("a validation split");
        let have = valid.class_counts(c);
        let vwant = match vp {
            profile::ValidProfile::Proportional => profile::proportional(&want, &available, &have),
            profile::ValidProfile::Profile(p) => {
                profile::targets(p, &have, &dataset.classes, "--valid-profile")?
            }
        };
        let cut = profile::subsample(valid, &vwant, args.seed);
        eprintln!(
            "emo: validation split cut down ({vp}): {} examples ({:?} per class)",
            cut.len(),
            vwant
        );
        *dataset
            .split_mut(SplitName::Validation)
            .expect("a validation split") = cut;
    }
    Ok(Drawn {
        profile: profile.to_string(),
        seeds,
        rows,
    })
}
