//! `emo embed`: vectors for a dataset or a file, written as safetensors plus a
//! JSON sidecar that says exactly which encoder made them.

use super::{embed_options, load_encoder, load_input};
use crate::cli::EmbedArgs;
use crate::embed::{device_name, embed_texts, EmbedStats, EncoderIdentity};
use anyhow::Result;
use safetensors::tensor::{Dtype, TensorView};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The sidecar: enough to know, later, whether these vectors can be trusted for a use.
#[derive(Serialize)]
struct Sidecar<'a> {
    format: &'static str,
    emo_version: &'static str,
    source: String,
    /// Tensor name prefix per split ("" for a single file).
    splits: Vec<SplitInfo>,
    classes: &'a [String],
    encoder: &'a EncoderIdentity,
    model_dir: String,
    device: String,
    dim: usize,
    count: usize,
    stats: EmbedStats,
}

#[derive(Serialize)]
struct SplitInfo {
    name: String,
    count: usize,
    embeddings: String,
    labels: Option<String>,
}

pub fn run(args: &EmbedArgs) -> Result<()> {
    let dataset = load_input(&args.input)?;
    let encoder = load_encoder(args.encoder.encoder.as_ref(), &args.encoder.run)?;
    let named = args.input.dataset.is_some();

    // Embed all splits in one pass so the progress bar and the cache see everything.
    let texts: Vec<String> = dataset
        .splits
        .iter()
        .flat_map(|(_, s)| s.texts.iter().cloned())
        .collect();
    let (matrix, stats) = embed_texts(
        &encoder,
        &texts,
        &embed_options(&args.encoder.run, args.encoder.cache.folder()),
    )?;
    let dim = matrix.cols;

    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut infos = Vec::new();
    let mut offset = 0;
    for (split, s) in &dataset.splits {
        let prefix = if named {
            format!("{split}.")
        } else {
            String::new()
        };
        let rows = &matrix.data[offset * dim..(offset + s.len()) * dim];
        offset += s.len();
        let emb_name = format!("{prefix}embeddings");
        tensors.push((
            emb_name.clone(),
            Dtype::F32,
            vec![s.len(), dim],
            rows.iter().flat_map(|f| f.to_le_bytes()).collect(),
        ));
        let labels = if s.labels.is_empty() {
            None
        } else {
            let name = format!("{prefix}labels");
            tensors.push((
                name.clone(),
                Dtype::I64,
                vec![s.len()],
                s.labels
                    .iter()
                    .flat_map(|&y| (y as i64).to_le_bytes())
                    .collect(),
            ));
            Some(name)
        };
        infos.push(SplitInfo {
            name: if named {
                split.to_string()
            } else {
                "all".into()
            },
            count: s.len(),
            embeddings: emb_name,
            labels,
        });
    }

    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports")
            .join("embeddings")
            .join(format!("{}.safetensors", dataset.name))
    });
    let sidecar = Sidecar {
        format: "emo-embeddings/1",
        emo_version: env!("CARGO_PKG_VERSION"),
        source: match (&args.input.dataset, &args.input.input) {
            (Some(d), _) => format!("dataset:{d}"),
            (_, Some(p)) => p.display().to_string(),
            _ => unreachable!("clap requires one"),
        },
        splits: infos,
        classes: &dataset.classes,
        encoder: encoder.identity(),
        model_dir: encoder.dir().display().to_string(),
        device: device_name(encoder.device()),
        dim,
        count: texts.len(),
        stats: stats.clone(),
    };
    let sidecar_json = serde_json::to_string_pretty(&sidecar)?;
    write_safetensors(&out, &tensors, &sidecar_json)?;
    let sidecar_path = out.with_extension("json");
    crate::atomic::write(&sidecar_path, format!("{sidecar_json}\n").as_bytes())?;

    let splits: Vec<String> = sidecar
        .splits
        .iter()
        .map(|s| format!("{} {}", s.name, s.count))
        .collect();
    println!(
        "wrote {} ({} texts x {dim}: {}) and {}",
        out.display(),
        texts.len(),
        splits.join(", "),
        sidecar_path.display()
    );
    println!(
        "encoder {} on {}: {} cache hits, {} computed ({} unique texts) in {:.1} s",
        encoder.identity().name,
        sidecar.device,
        stats.cache_hits,
        stats.computed,
        stats.unique,
        stats.seconds
    );
    Ok(())
}

fn write_safetensors(
    path: &Path,
    tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)],
    sidecar: &str,
) -> Result<()> {
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            Ok((name.as_str(), TensorView::new(*dtype, shape.clone(), data)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta: HashMap<String, String> = [("emo".to_string(), sidecar.to_string())].into();
    let bytes = safetensors::serialize(views, &Some(meta))?;
    crate::atomic::write(path, &bytes)
}
