//! One function per subcommand. These turn parsed arguments into calls on the
//! library modules; the modules themselves know nothing of the command line.

pub mod compare;
pub mod embed;

use crate::cli::{EncoderArgs, InputArgs};
use crate::data::table::read_rows;
use crate::data::{index_labels, named, BadRows, Dataset, Split, SplitName};
use crate::embed::{EmbedOptions, Encoder};
use anyhow::Result;

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

/// Loads the encoder on the chosen device, after applying `--threads`.
pub fn load_encoder(args: &EncoderArgs) -> Result<Encoder> {
    if let Some(n) = args.threads {
        tch::set_num_threads(n as i32);
    }
    let device = args.device.resolve()?;
    let dir = args
        .model
        .clone()
        .unwrap_or_else(crate::paths::default_model);
    Encoder::load(&dir, device)
}

/// Embedding options from the encoder flags.
pub fn embed_options(args: &EncoderArgs) -> EmbedOptions {
    EmbedOptions {
        batch_size: args.batch_size as usize,
        cache_dir: if args.no_cache {
            None
        } else {
            Some(args.cache_dir.clone().unwrap_or_else(crate::paths::cache))
        },
        ..EmbedOptions::default()
    }
}
