//! One function per subcommand. These turn parsed arguments into calls on the
//! library modules; the modules themselves know nothing of the command line.

pub mod classify;
pub mod compare;
pub mod embed;
pub mod evaluate;
pub mod train;

use crate::cli::{InputArgs, RunArgs};
use crate::data::table::read_rows;
use crate::data::{index_labels, named, BadRows, Dataset, Split, SplitName};
use crate::embed::{device_name, embed_texts, EmbedOptions, Encoder, Matrix};
use crate::features::Features;
use anyhow::Result;
use std::path::PathBuf;

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
            .map(|r| r.label.clone().unwrap_or_default())
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
/// after applying `--threads`.
pub fn load_encoder(dir: Option<&PathBuf>, run: &RunArgs) -> Result<Encoder> {
    if let Some(n) = run.threads {
        tch::set_num_threads(n as i32);
    }
    let device = run.device.resolve()?;
    let dir = dir.cloned().unwrap_or_else(crate::paths::default_model);
    let precision = run.precision.resolve(device)?;
    let mut encoder = Encoder::load(&dir, device)?;
    encoder.set_precision(precision);
    Ok(encoder)
}

/// Embedding options from the run flags and a cache folder (`None`: no cache).
pub fn embed_options(run: &RunArgs, cache_dir: Option<PathBuf>) -> EmbedOptions {
    EmbedOptions {
        batch_size: run.batch_size as usize,
        cache_dir,
        ..EmbedOptions::default()
    }
}

/// Embeds every split of `dataset` in one pass (one progress bar, one cache
/// lookup) and returns one [`Features`] per split, in the dataset's order.
pub fn embed_splits(
    dataset: &Dataset,
    encoder: &Encoder,
    opts: &EmbedOptions,
) -> Result<Vec<Features>> {
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
