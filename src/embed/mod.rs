//! Text → vectors. [`Encoder`] runs the frozen transformer; [`embed_texts`] adds
//! what makes it practical: the content-addressed [`cache`], de-duplication,
//! length-sorted batching and a progress bar.

pub mod bert;
pub mod cache;
pub mod device;
pub mod distilbert;
pub mod encoder;
pub mod layers;
pub mod modules;
pub mod mpnet;
pub mod packing;
pub mod precision;
pub mod roberta;
pub mod storage;
pub mod tokenizer;

pub use device::{device_name, DeviceChoice};
pub use encoder::{Encoder, EncoderIdentity, TextTokenizer};
pub use layers::LayerSpec;
pub use modules::Pooling;
pub use storage::VectorPrecision;

use anyhow::Result;
use cache::{text_key, Cache, Key};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// A row-major `[rows, cols]` matrix of f32: embeddings as they leave this module.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    pub fn to_tensor(&self) -> tch::Tensor {
        tch::Tensor::from_slice(&self.data).view([self.rows as i64, self.cols as i64])
    }
}

/// A model folder's JSON file, or an input error naming it.
fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::input_error!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| crate::input_error!("{}: not a valid settings file: {e}", path.display()))
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &std::path::Path) -> Result<String> {
    use anyhow::Context as _;
    use sha2::Digest as _;
    let mut file = std::fs::File::open(path)
        .map_err(|e| crate::input_error!("{}: cannot open: {e}", path.display()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut file, &mut h).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex::encode(h.finalize()))
}

/// How [`embed_texts`] runs.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    pub batch_size: usize,
    /// `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Vectors computed between two cache writes, so an interrupted run keeps its work.
    pub flush_every: usize,
    pub progress: bool,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            batch_size: 64,
            cache_dir: Some(crate::paths::cache()),
            flush_every: 4096,
            progress: true,
        }
    }
}

/// What one call did, for the user and the output sidecar.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EmbedStats {
    pub texts: usize,
    pub unique: usize,
    pub cache_hits: usize,
    pub computed: usize,
    pub seconds: f64,
}

/// Embeds texts with one encoder and one open cache, call after call: `emo
/// embed` and `emo classify` feed it a large input chunk by chunk, so memory
/// holds one chunk's vectors, not the whole input's. The progress bar spans all
/// calls.
pub struct Embedder<'a> {
    encoder: &'a Encoder,
    cache: Option<Cache>,
    opts: EmbedOptions,
    bar: ProgressBar,
    /// Whether the bar's length was given up front ([`Embedder::expect`]).
    total_known: bool,
}

impl<'a> Embedder<'a> {
    pub fn new(encoder: &'a Encoder, opts: &EmbedOptions) -> Result<Embedder<'a>> {
        let cache = match &opts.cache_dir {
            Some(dir) => {
                let c = Cache::open_at(dir, encoder.identity(), encoder.precision())?;
                for w in &c.warnings {
                    eprintln!("{w}");
                }
                Some(c)
            }
            None => None,
        };
        let bar = if opts.progress {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "embedding {bar:30} {pos}/{len} texts  {per_sec}  eta {eta}",
                )
                .expect("valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        Ok(Embedder {
            encoder,
            cache,
            opts: opts.clone(),
            bar,
            total_known: false,
        })
    }

    /// Announces how many texts all calls together will bring, for an honest ETA.
    pub fn expect(&mut self, texts: usize) {
        self.bar.set_length(texts as u64);
        self.total_known = true;
    }

    /// Embeds `texts` in order. Each distinct text is computed at most once, and
    /// not at all when the cache has it. Texts are batched by token length (order
    /// restored at the end) so that little time goes into padding.
    pub fn embed(&mut self, texts: &[String]) -> Result<(Matrix, EmbedStats)> {
        let start = Instant::now();
        let encoder = self.encoder;
        let dim = encoder.identity().dim;
        let keys: Vec<Key> = texts.iter().map(|t| text_key(t)).collect();
        // First position of each distinct text.
        let mut first: HashMap<Key, usize> = HashMap::with_capacity(texts.len());
        for (i, k) in keys.iter().enumerate() {
            first.entry(*k).or_insert(i);
        }
        let mut todo: Vec<usize> = first
            .values()
            .copied()
            .filter(|&i| self.cache.as_ref().is_none_or(|c| !c.contains(&keys[i])))
            .collect();
        todo.sort_unstable();
        let stats_hits = first.len() - todo.len();

        if !self.total_known {
            self.bar.inc_length(texts.len() as u64);
        }
        // Cached and repeated texts cost nothing: count them done at once.
        self.bar.inc((texts.len() - todo.len()) as u64);
        let mut computed: HashMap<Key, Vec<f32>> = HashMap::with_capacity(todo.len());
        if !todo.is_empty() {
            let mut tokens: Vec<(usize, Vec<i64>)> = todo
                .iter()
                .map(|&i| Ok((i, encoder.tokenize(&texts[i])?)))
                .collect::<Result<_>>()?;
            // Longest first: the slowest batches come early, so the ETA is honest.
            tokens.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
            let mut pending_keys: Vec<Key> = Vec::new();
            let mut pending: Vec<f32> = Vec::new();
            for chunk in tokens.chunks(self.opts.batch_size.max(1)) {
                let batch: Vec<Vec<i64>> = chunk.iter().map(|(_, t)| t.clone()).collect();
                let out = encoder.embed_tokens(&batch)?;
                let flat: Vec<f32> = Vec::<f32>::try_from(out.flatten(0, -1))?;
                for (r, (i, _)) in chunk.iter().enumerate() {
                    let v = flat[r * dim..(r + 1) * dim].to_vec();
                    if self.cache.is_some() {
                        pending_keys.push(keys[*i]);
                        pending.extend_from_slice(&v);
                    }
                    computed.insert(keys[*i], v);
                }
                self.bar.inc(chunk.len() as u64);
                if let Some(c) = self.cache.as_mut() {
                    if pending_keys.len() >= self.opts.flush_every {
                        c.insert(&pending_keys, &pending)?;
                        pending_keys.clear();
                        pending.clear();
                    }
                }
            }
            if let Some(c) = self.cache.as_mut() {
                c.insert(&pending_keys, &pending)?;
            }
        }

        let mut data = vec![0f32; texts.len() * dim];
        for (k, row) in keys.iter().zip(data.chunks_exact_mut(dim)) {
            match computed.get(k) {
                Some(v) => row.copy_from_slice(v),
                None => {
                    let found = self
                        .cache
                        .as_ref()
                        .map(|c| c.read(k, row))
                        .transpose()?
                        .unwrap_or(false);
                    assert!(found, "every text is computed or cached");
                }
            }
        }
        let stats = EmbedStats {
            texts: texts.len(),
            unique: first.len(),
            cache_hits: stats_hits,
            computed: todo.len(),
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok((
            Matrix {
                rows: texts.len(),
                cols: dim,
                data,
            },
            stats,
        ))
    }
}

impl Drop for Embedder<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Embeds `texts` in one call: [`Embedder::embed`] with a fresh embedder.
pub fn embed_texts(
    encoder: &Encoder,
    texts: &[String],
    opts: &EmbedOptions,
) -> Result<(Matrix, EmbedStats)> {
    Embedder::new(encoder, opts)?.embed(texts)
}
