//! What the commands build from their arguments before any work: datasets (one
//! input file, or train/validation/test for a study), encoders (fresh, or the one
//! a saved model was trained with) and their embeddings. It sits below the
//! command modules so that each command uses it and none imports another.

use super::task::TaskLabel;
use crate::cli::{EncoderArgs, InputArgs, RunArgs, StudyDataArgs, TextsArgs};
use crate::data::table::{read_rows, Column, Record, Row, RowReader, TableSpec};
use crate::data::{index_labels, named, BadRows, Dataset, Split, SplitName, Task};
use crate::decision::WhenNonePasses;
use crate::embed::{
    device_name, embed_texts, EmbedOptions, Encoder, LayerSpec, Matrix, VectorPrecision,
};
use crate::features::{Features, Targets};
use crate::input_error;
use crate::model::SavedModel;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Reads `--dataset` or `--input` into a [`Dataset`]. A file becomes one split
/// (`train`), labelled when `--label-col` is given. Skipped rows are reported
/// on stderr.
pub fn load_input(args: &InputArgs) -> Result<Dataset> {
    if let Some(name) = &args.dataset {
        return named::load(name, &crate::paths::datasets());
    }
    let path = args
        .input
        .as_ref()
        .expect("clap requires --dataset or --input");
    let spec = args.table.spec(false);
    let mut bad = BadRows::skipping(args.table.skip_bad_rows);
    let rows = read_rows(path, &spec, &mut bad)?;
    for line in bad.summary() {
        eprintln!("emo: {line}");
    }
    let (classes, labels) = if spec.label_col.is_some() {
        let names: Vec<String> = rows
            .iter()
            .map(|r| r.single_label().unwrap_or_default().to_string())
            .collect();
        index_labels(&names)
    } else {
        (Vec::new(), Vec::new())
    };
    let split = Split::from_rows(path, &rows, labels);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    Ok(Dataset {
        name,
        classes,
        splits: vec![(SplitName::Train, split)],
    })
}

/// Loads the encoder (`dir`, default all-MiniLM-L6-v2) on the chosen device,
/// after applying `--threads`, with `--prompt` (else the folder's default prompt,
/// which is said on stderr: the user did not ask for it).
pub fn load_encoder(args: &EncoderArgs) -> Result<Encoder> {
    let run = &args.run;
    let mut encoder = load_bare(args.encoder.as_ref(), run)?;
    if let Some(pooling) = args.pooling {
        encoder.set_pooling(pooling)?;
    }
    encoder.set_layers(&args.layers)?;
    // A concatenation is several vectors' worth of cache: kept in 16 bits unless
    // asked otherwise, as the feature study found that costs no macro-F1.
    let vectors = args
        .vector_precision
        .unwrap_or(if encoder.layers().blocks() > 1 {
            VectorPrecision::Fp16
        } else {
            VectorPrecision::Fp32
        });
    encoder.set_vector_precision(vectors);
    match &run.prompt {
        Some(name) => encoder.use_prompt(name)?,
        None => {
            if let (Some(name), Some(text)) =
                (&encoder.prompts().default, &encoder.identity().prompt)
            {
                eprintln!(
                    "emo: every text gets the encoder's default prompt '{name}' ({text:?}); --prompt \"\" for none"
                );
            }
        }
    }
    Ok(encoder)
}

/// The encoder at `dir` on the chosen device and precision, its prompt the folder's default.
fn load_bare(dir: Option<&PathBuf>, run: &RunArgs) -> Result<Encoder> {
    if let Some(n) = run.threads {
        tch::set_num_threads(n as i32);
    }
    let device = run.device.resolve()?;
    let dir = dir
        .map(|d| crate::paths::encoder_dir(d))
        .transpose()?
        .unwrap_or_else(crate::paths::default_model);
    let precision = run.precision.resolve(device)?;
    let mut encoder = Encoder::load(&dir, device)?;
    encoder.set_precision(precision);
    Ok(encoder)
}

/// Embedding options from the run flags and a cache folder (`None`: no cache).
/// The texts `from` names, row by row: a file or standard input (each row's
/// id carried, and its `group` column read when asked), or the arguments.
/// `verb` says in the error what there was nothing to do.
pub fn text_records<'a>(
    from: &'a TextsArgs,
    bad: &'a mut BadRows,
    group: Option<&Column>,
    verb: &str,
) -> Result<Box<dyn Iterator<Item = Result<Record>> + 'a>> {
    let spec = TableSpec {
        format: from.input_format,
        text_col: from.text_col.clone(),
        label_col: None,
        labels: Default::default(),
        has_header: !from.no_header,
        id_col: None,
        id_required: false,
        group_col: group.cloned(),
    }
    .with_ids(from.id_col.as_ref());
    Ok(match &from.input {
        Some(path) => Box::new(RowReader::open(path, &spec, bad)?.records()),
        None if !from.texts.is_empty() => {
            if let Some(c) = group {
                return Err(input_error!(
                    "--by {c}: texts given as arguments have no columns; give --input FILE"
                ));
            }
            Box::new(from.texts.iter().enumerate().map(|(i, t)| {
                if t.trim().is_empty() {
                    Err(input_error!("argument {}: empty text", i + 1))
                } else {
                    Ok(Record::Row(Row {
                        line: i + 1,
                        text: t.clone(),
                        label: None,
                        id: None,
                        group: None,
                    }))
                }
            }))
        }
        None => {
            return Err(input_error!(
                "nothing to {verb}: give texts, --input FILE, or --input - for standard input"
            ))
        }
    })
}

/// How a command that reads texts to answer them (classify, quantify) embeds:
/// no progress bar (their output may be a pipe's), and the cache only when
/// asked for (`--cache`, or a `--cache-dir`), since such texts are rarely
/// seen twice.
pub fn answering_embed_options(with: &crate::cli::AnswerArgs) -> EmbedOptions {
    let dir = (with.cache || with.cache_dir.is_some())
        .then(|| with.cache_dir.clone().unwrap_or_else(crate::paths::cache));
    EmbedOptions {
        progress: false,
        ..embed_options(&with.run, dir)
    }
}

pub fn embed_options(run: &RunArgs, cache_dir: Option<PathBuf>) -> EmbedOptions {
    EmbedOptions {
        batch_size: run.batch_size as usize,
        cache_dir,
        ..EmbedOptions::default()
    }
}

/// Embeds every split of `dataset` in one pass (one progress bar, one cache
/// lookup) and returns one [`Features`] per split, in the dataset's order.
pub fn embed_splits<L: Targets>(
    dataset: &Dataset<L>,
    encoder: &Encoder,
    opts: &EmbedOptions,
) -> Result<Vec<Features<L>>> {
    let all: Vec<String> = dataset
        .splits
        .iter()
        .flat_map(|(_, s)| s.texts.iter().cloned())
        .collect();
    let (matrix, stats) = embed_texts(encoder, &all, opts)?;
    eprintln!(
        "emo: {} texts embedded on {} ({} from cache, {} computed, {:.1} s)",
        stats.texts,
        device_name(encoder.device()),
        stats.cache_hits,
        stats.computed,
        stats.seconds
    );
    let mut feats = Vec::new();
    let mut offset = 0;
    for (name, split) in &dataset.splits {
        let rows = Matrix {
            rows: split.len(),
            cols: matrix.cols,
            data: matrix.data[offset * matrix.cols..(offset + split.len()) * matrix.cols].to_vec(),
        };
        offset += split.len();
        feats.push(Features::new(
            &format!("{} {name} split", dataset.name),
            &rows,
            &split.labels,
            dataset.classes.len(),
            encoder.device(),
        )?);
    }
    Ok(feats)
}

/// The encoder `--encoder` and its run flags ask for, and `dataset`'s splits
/// embedded with it (through the cache unless `--no-cache`).
pub fn embed_study<L: Targets>(
    dataset: &Dataset<L>,
    args: &EncoderArgs,
) -> Result<(Encoder, Vec<Features<L>>)> {
    let encoder = load_encoder(args)?;
    let feats = embed_splits(
        dataset,
        &encoder,
        &embed_options(&args.run, args.cache.folder()),
    )?;
    Ok((encoder, feats))
}

/// The encoder a model needs: `--encoder`, else the folder recorded at
/// training, else the default one; with `--prompt`, else the prompt the model was
/// trained with (so a model trained with a prompt needs no flag to get it again).
/// Its identity is checked against the model.
pub fn encoder_for(
    model: &SavedModel,
    model_dir: &Path,
    explicit: Option<&PathBuf>,
    run: &crate::cli::RunArgs,
) -> Result<Encoder> {
    let recorded = PathBuf::from(&model.manifest.encoder_dir);
    let dir = match (explicit, &model.manifest.encoder_hub) {
        (Some(d), _) => crate::paths::encoder_dir(d)?,
        (None, _) if recorded.is_dir() => recorded,
        // Another machine: the same commit from its cache or the Hub.
        (None, Some(hub)) => {
            crate::paths::encoder_dir(&PathBuf::from(format!("{}@{}", hub.id, hub.commit)))?
        }
        (None, None) => crate::paths::default_model(),
    };
    let mut encoder = load_bare(Some(&dir), run)?;
    match &run.prompt {
        Some(name) => encoder.use_prompt(name)?,
        None => encoder.set_prompt_text(model.manifest.encoder.prompt.as_deref())?,
    }
    // The pooling and layers the model was trained on (checked with the rest of
    // the identity below).
    let want = &model.manifest.encoder;
    if want.pooling_concat.is_empty() {
        encoder.set_pooling(want.pooling)?;
    }
    if let Some(layers) = &want.layers {
        let spec: LayerSpec = layers.parse().map_err(|e| {
            input_error!(
                "{}: encoder.layers: {e}",
                model_dir.join("manifest.json").display()
            )
        })?;
        encoder.set_layers(&spec)?;
    }
    let vectors = want.vector_precision().map_err(|e| {
        input_error!(
            "{}: encoder.vector_precision: {e}",
            model_dir.join("manifest.json").display()
        )
    })?;
    encoder.set_vector_precision(vectors);
    model.check_encoder(encoder.identity(), model_dir)?;
    if encoder.precision() != model.manifest.precision {
        eprintln!(
            "emo: warning: the model was trained on {} embeddings and these are computed in {}: labels can differ on close calls (use --precision {})",
            model.manifest.precision.name(),
            encoder.precision().name(),
            model.manifest.precision.name()
        );
    }
    Ok(encoder)
}

/// What `--at-least-one` asks of a saved model's decision: its top label when
/// no label passes, overriding what the model was trained with. A single-label
/// model always answers its top label, so the flag there is a mistake worth
/// saying rather than ignoring.
pub fn when_none_for(
    model: &SavedModel,
    model_dir: &Path,
    at_least_one: bool,
) -> Result<Option<WhenNonePasses>> {
    if at_least_one && model.manifest.task != Task::MultiLabel {
        return Err(input_error!(
            "{}: --at-least-one is for multi-label models; this one is single-label (it always answers its top label)",
            model_dir.display()
        ));
    }
    Ok(at_least_one.then_some(WhenNonePasses::TopLabel))
}

/// Whether a study's data is multi-label — decided here, once, from the named
/// dataset or `--multi-label`, and carried by the label type from then on.
pub fn task_of(args: &StudyDataArgs) -> Task {
    let named_multi = args
        .dataset
        .as_deref()
        .is_some_and(|n| named::MULTI_NAMES.contains(&n));
    if named_multi || args.table.multi_label {
        Task::MultiLabel
    } else {
        Task::SingleLabel
    }
}

/// Reads a named dataset, or the user's files with labels, into train,
/// validation and test splits (carving missing ones out of --train,
/// stratified and seeded — multi-label data by each text's rarest label; a
/// test split only when given or split off). Returns notes for stderr (skipped
/// rows, classes too small to split).
pub fn load_study_data<L: TaskLabel>(
    args: &StudyDataArgs,
    seed: u64,
) -> Result<(Dataset<L>, Vec<String>)> {
    if let Some(name) = &args.dataset {
        return Ok((L::named(name, &crate::paths::datasets())?, Vec::new()));
    }
    load_study_files(args, seed)
}

fn load_study_files<L: TaskLabel>(
    args: &StudyDataArgs,
    seed: u64,
) -> Result<(Dataset<L>, Vec<String>)> {
    let train_path = args
        .train
        .as_ref()
        .expect("clap requires --dataset or --train");
    let spec = args.table.spec(true);
    let mut bad = BadRows::skipping(args.table.skip_bad_rows);
    let train_rows = read_rows(train_path, &spec, &mut bad)?;
    let (classes, train_labels) = L::index(&train_rows);
    let train = Split::from_rows(train_path, &train_rows, train_labels);
    let mut read_other = |path: &Path| -> Result<Split<L>> {
        let rows = read_rows(path, &spec, &mut bad)?;
        let mut ys = Vec::with_capacity(rows.len());
        for r in &rows {
            let y = L::lookup(r, &classes).map_err(|label| {
                input_error!(
                    "{}: line {}: label '{label}' does not occur in the training data {}",
                    path.display(),
                    r.line,
                    train_path.display()
                )
            })?;
            ys.push(y);
        }
        Ok(Split::from_rows(path, &rows, ys))
    };
    let valid = args.valid.as_deref().map(&mut read_other).transpose()?;
    let test = args.test.as_deref().map(&mut read_other).transpose()?;
    let c = classes.len();
    let mut notes: Vec<String> = bad.summary();
    let (train, valid, test) = match (valid, test, &args.split) {
        (_, _, Some(fr)) => {
            let [tr, va, te] =
                <[Split<L>; 3]>::try_from(crate::data::split::stratified(&train, c, &fr.0, seed))
                    .map_err(|_| anyhow::anyhow!("three parts"))?;
            (tr, va, Some(te))
        }
        (Some(v), t, None) => (train, v, t),
        (None, t, None) => {
            let f = args.valid_fraction;
            if !(f > 0.0 && f < 1.0) {
                return Err(input_error!("--valid-fraction must be in (0, 1), got {f}"));
            }
            let [tr, va] = <[Split<L>; 2]>::try_from(crate::data::split::stratified(
                &train,
                c,
                &[1.0 - f, f],
                seed,
            ))
            .map_err(|_| anyhow::anyhow!("two parts"))?;
            notes.push(format!(
                "validation: a stratified {:.0}% of {} (seed {seed})",
                f * 100.0,
                train_path.display()
            ));
            (tr, va, t)
        }
    };
    let name = train_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    Ok((
        Dataset {
            name,
            classes,
            splits: [
                Some((SplitName::Train, train)),
                Some((SplitName::Validation, valid)),
                test.map(|t| (SplitName::Test, t)),
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        notes,
    ))
}
