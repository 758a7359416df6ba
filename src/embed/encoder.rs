//! The frozen sentence encoder: a sentence-transformers folder (an architecture
//! of the BERT family, `model.safetensors`) run by emo's own forward pass, then
//! through the modules its `modules.json` lists (`modules.rs`), so that vectors
//! match Python sentence-transformers.

use super::bert::{Bert, BertConfig};
use super::distilbert::{DistilBert, DistilBertConfig};
use super::layers::{Combine, LayerSpec, Layers};
use super::modules::{DenseIdentity, Modules, Pooling, Prompts};
use super::mpnet::{Mpnet, MpnetConfig};
use super::packing::Packing;
use super::read_json;
use super::roberta::Roberta;
pub use super::sha256_file;
use super::storage::VectorPrecision;
use super::tokenizer::{Tokenizer, TokenizerConfig};
use crate::input_error;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

/// Everything that determines the vectors an encoder produces. Two encoders with
/// equal identities give equal embeddings, which is what the cache keys on and
/// what a saved model checks before it accepts an encoder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderIdentity {
    /// The model folder's name, for people; the sha256 is what identifies it.
    pub name: String,
    pub weights_sha256: String,
    pub max_seq_length: usize,
    pub pooling: Pooling,
    pub normalize: bool,
    pub lower_case: bool,
    pub strip_accents: bool,
    pub dim: usize,
    /// Identifies a tokenizer that casing and accent flags do not describe (anything
    /// but the standard BERT WordPiece); absent for BERT, so that identities and
    /// cache keys made before emo read tokenizer.json stay as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_sha256: Option<String>,
    // The fields below came with sentence-transformers' other modules and prompts.
    // Each is absent at its default, and hashed only when present, so the
    // identities and cache keys of folders without them stay as they were.
    /// Pooling modes concatenated after `pooling`'s, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pooling_concat: Vec<Pooling>,
    /// Dense layers after pooling, in order; `dim` is the last one's output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dense: Vec<DenseIdentity>,
    /// The text put before every text (a prompt of config_sentence_transformers.json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The prompt's tokens are left out of pooling (Pooling's `include_prompt: false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pooling_excludes_prompt: bool,
    /// The hidden states pooled, in [`Layers::canonical`]'s spelling (`mean:3..6`);
    /// absent for the last layer alone, sentence-transformers' vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<String>,
    /// How the vectors are kept (`fp16`, `bf16`: rounded as they leave the
    /// encoder); absent for f32, the vectors as computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_precision: Option<String>,
}

impl EncoderIdentity {
    /// A short hex key over every field that changes the vectors.
    pub fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        // Version 3: libtorch 2.11 and pooling through the padded layout. Vectors
        // agree with version 2's (libtorch 2.4) to about 1e-7, not bit for bit, and
        // a cache must not mix them.
        h.update(b"emo-embedding/3\0");
        h.update(self.weights_sha256.as_bytes());
        h.update(
            format!(
                "\0{}\0{:?}\0{}\0{}\0{}\0{}",
                self.max_seq_length,
                self.pooling,
                self.normalize,
                self.lower_case,
                self.strip_accents,
                self.dim
            )
            .as_bytes(),
        );
        if let Some(t) = &self.tokenizer_sha256 {
            h.update(format!("\0tokenizer\0{t}").as_bytes());
        }
        if !self.pooling_concat.is_empty() {
            h.update(format!("\0pooling-concat\0{:?}", self.pooling_concat).as_bytes());
        }
        for d in &self.dense {
            h.update(
                format!(
                    "\0dense\0{}\0{}\0{}",
                    d.weights_sha256, d.activation, d.out_features
                )
                .as_bytes(),
            );
        }
        if let Some(p) = &self.prompt {
            // Length first: no prompt text can pass for another field.
            h.update(format!("\0prompt\0{}\0{p}", p.len()).as_bytes());
        }
        if self.pooling_excludes_prompt {
            h.update(b"\0pooling-excludes-prompt");
        }
        if let Some(l) = &self.layers {
            h.update(format!("\0layers\0{l}").as_bytes());
        }
        if let Some(v) = &self.vector_precision {
            h.update(format!("\0vectors\0{v}").as_bytes());
        }
        hex::encode(&h.finalize()[..16])
    }

    /// How the vectors are kept; an unknown name (a manifest from a later emo)
    /// is an error, not f32.
    pub fn vector_precision(&self) -> Result<VectorPrecision> {
        match &self.vector_precision {
            None => Ok(VectorPrecision::Fp32),
            Some(name) => name.parse(),
        }
    }
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

/// Reads the folder's sentence-transformers settings and loads its tokenizer and
/// modules: pooling, Dense layers, normalisation, prompts, max length and the
/// tokenizer's identity. Defaults follow sentence-transformers: a folder without
/// `modules.json` gets mean pooling and no normalisation.
fn read_identity(
    dir: &Path,
    weights: &Path,
    shape: &Shape,
    device: Device,
) -> Result<(EncoderIdentity, Tokenizer, Modules)> {
    let modules = Modules::read(dir, shape.hidden, device)?;

    let tok = TokenizerConfig::read(dir)?;
    // sentence-transformers: the configured max_seq_length, else the tokenizer's
    // model_max_length; either capped at the model's position embeddings.
    let max_positions = shape.max_tokens;
    let configured = if dir.join("sentence_bert_config.json").is_file() {
        let s: SentenceBertConfig = read_json(&dir.join("sentence_bert_config.json"))?;
        s.max_seq_length
    } else {
        None
    };
    let max_seq_length = configured
        .or(tok
            .model_max_length
            .filter(|&m| m >= 1.0 && m < max_positions as f64)
            .map(|m| m as usize))
        .unwrap_or(max_positions)
        .min(max_positions);
    let tokenizer = Tokenizer::load(dir, max_seq_length)?;
    // A tokenizer from another model gives ids past the embedding table: libtorch
    // would fail on the first text holding one, deep in a forward pass (a
    // server's inference thread), so the pair is refused here instead.
    if let Some(top) = tokenizer.max_id().filter(|&id| id >= shape.vocab) {
        return Err(input_error!(
            "{}: token ids go up to {top}, but the model's vocab_size is {} ({}): the tokenizer does not belong to these weights",
            tokenizer.source().display(),
            shape.vocab,
            dir.join("config.json").display()
        ));
    }
    let tid = tokenizer.identity().clone();

    let identity = EncoderIdentity {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string()),
        weights_sha256: sha256_file(weights)?,
        max_seq_length,
        pooling: modules.pooling[0],
        normalize: modules.normalize,
        lower_case: tid.lower_case,
        strip_accents: tid.strip_accents,
        dim: modules.dim,
        tokenizer_sha256: tid.sha256,
        pooling_concat: modules.pooling[1..].to_vec(),
        dense: modules.dense_identity.clone(),
        prompt: None,
        pooling_excludes_prompt: false,
        layers: None,
        vector_precision: None,
    };
    Ok((identity, tokenizer, modules))
}

/// What the identity needs of an architecture's configuration.
struct Shape {
    /// The longest input, special tokens included.
    max_tokens: usize,
    hidden: usize,
    /// Rows of the token embedding: every id the tokenizer gives must be below.
    vocab: usize,
}

/// The transformer of a folder, by `config.json`'s `model_type`: one file per
/// architecture, chosen here and nowhere else.
enum Network {
    Bert(Bert),
    Mpnet(Mpnet),
    /// RoBERTa and XLM-R: one network under two names.
    Roberta(Roberta),
}

/// The `model_type`s emo runs, for the error that names an unsupported one.
const SUPPORTED: &str = "bert, distilbert, mpnet, roberta, xlm-roberta";

impl Network {
    fn load(config_path: &Path, weights: &Path, device: Device) -> Result<(Network, Shape)> {
        #[derive(serde::Deserialize)]
        struct Kind {
            #[serde(default)]
            model_type: Option<String>,
        }
        let kind: Kind = read_json(config_path)?;
        match kind.model_type.as_deref() {
            Some("bert") | None => {
                let config = BertConfig::from_file(config_path)?;
                let shape = Shape {
                    max_tokens: config.max_position_embeddings as usize,
                    hidden: config.hidden_size as usize,
                    vocab: config.vocab_size.max(0) as usize,
                };
                Ok((Network::Bert(Bert::load(weights, &config, device)?), shape))
            }
            Some("mpnet") => {
                let config = MpnetConfig::from_file(config_path)?;
                let net = Mpnet::load(weights, &config, device)?;
                let shape = Shape {
                    max_tokens: net.max_tokens().max(0) as usize,
                    hidden: config.hidden_size as usize,
                    vocab: config.vocab_size.max(0) as usize,
                };
                Ok((Network::Mpnet(net), shape))
            }
            Some("distilbert") => {
                let config = DistilBertConfig::from_file(config_path)?;
                let shape = Shape {
                    max_tokens: config.max_position_embeddings as usize,
                    hidden: config.dim as usize,
                    vocab: config.vocab_size.max(0) as usize,
                };
                // BERT's forward pass under DistilBERT's tensor names.
                Ok((
                    Network::Bert(DistilBert::load(weights, &config, device)?),
                    shape,
                ))
            }
            Some("roberta" | "xlm-roberta") => {
                let config = Roberta::config(config_path)?;
                let net = Roberta::load(weights, &config, device)?;
                let shape = Shape {
                    max_tokens: net.max_tokens() as usize,
                    hidden: config.hidden_size as usize,
                    vocab: config.vocab_size.max(0) as usize,
                };
                Ok((Network::Roberta(net), shape))
            }
            Some(other) => Err(input_error!(
                "{}: model_type '{other}' is not supported (emo runs: {SUPPORTED})",
                config_path.display()
            )),
        }
    }

    fn set_compute(&mut self, kind: Kind) {
        match self {
            Network::Bert(n) => n.set_compute(kind),
            Network::Mpnet(n) => n.set_compute(kind),
            Network::Roberta(n) => n.set_compute(kind),
        }
    }

    fn forward_packed(&self, ids: &Tensor, packing: &Packing, keep: &[usize]) -> Vec<Tensor> {
        match self {
            Network::Bert(n) => n.forward_packed(ids, packing, keep),
            Network::Mpnet(n) => n.forward_packed(ids, packing, keep),
            Network::Roberta(n) => n.forward_packed(ids, packing, keep),
        }
    }

    fn n_layers(&self) -> usize {
        match self {
            Network::Bert(n) => n.n_layers(),
            Network::Mpnet(n) => n.n_layers(),
            Network::Roberta(n) => n.n_layers(),
        }
    }
}

/// Texts to the ids an [`Encoder`] takes: its prompt, special tokens and
/// truncation. Cheap to clone; `Send` and `Sync`.
#[derive(Clone)]
pub struct TextTokenizer {
    tokenizer: Arc<Tokenizer>,
    prompt: Option<String>,
}

impl TextTokenizer {
    pub fn tokenize(&self, text: &str) -> Result<Vec<i64>> {
        encode_with_prompt(&self.tokenizer, self.prompt.as_deref(), text)
    }
}

/// The one rule both [`Encoder::tokenize`] and [`TextTokenizer::tokenize`]
/// follow: the prompt written before the text, as sentence-transformers does.
fn encode_with_prompt(tokenizer: &Tokenizer, prompt: Option<&str>, text: &str) -> Result<Vec<i64>> {
    match prompt {
        Some(p) => tokenizer.encode(&format!("{p}{text}")),
        None => tokenizer.encode(text),
    }
}

/// A loaded, frozen encoder on one device.
pub struct Encoder {
    /// Shared with the [`TextTokenizer`]s handed out (a server's request
    /// handlers): the tokenizer holds no tensors, so it may cross threads.
    tokenizer: Arc<Tokenizer>,
    network: Network,
    device: Device,
    identity: EncoderIdentity,
    dir: PathBuf,
    precision: super::precision::Precision,
    modules: Modules,
    /// Tokens at the start of every text that pooling leaves out (the prompt's,
    /// under `include_prompt: false`); 0 for none.
    prompt_tokens: i64,
    /// The hidden states pooled: the last one unless [`Encoder::set_layers`].
    layers: Layers,
    /// How vectors are rounded as they leave: [`Encoder::set_vector_precision`].
    vectors: VectorPrecision,
}

impl Encoder {
    /// Loads a sentence-transformers folder whose transformer is one emo runs
    /// (`model_type` one of `SUPPORTED`); the weights must be `model.safetensors`.
    pub fn load(dir: &Path, device: Device) -> Result<Encoder> {
        if !dir.is_dir() {
            return Err(input_error!(
                "{}: model folder not found (run `make setup` for the default all-MiniLM-L6-v2)",
                dir.display()
            ));
        }
        let config_path = dir.join("config.json");
        let weights = dir.join("model.safetensors");
        for needed in [&config_path, &weights] {
            if !needed.is_file() {
                return Err(input_error!(
                    "{}: missing; a sentence-transformers folder needs config.json, model.safetensors and tokenizer.json (or vocab.txt)",
                    needed.display()
                ));
            }
        }
        let (network, shape) = Network::load(&config_path, &weights, device)?;
        let (identity, tokenizer, modules) = read_identity(dir, &weights, &shape, device)?;
        let layers = LayerSpec::Last.resolve(network.n_layers())?;
        let default_prompt = match &modules.prompts.default {
            Some(name) => Some(modules.prompts.get(name)?.to_string()),
            None => None,
        };
        let mut encoder = Encoder {
            tokenizer: Arc::new(tokenizer),
            network,
            device,
            identity,
            dir: dir.to_path_buf(),
            precision: super::precision::Precision::Fp32,
            modules,
            prompt_tokens: 0,
            layers,
            vectors: VectorPrecision::Fp32,
        };
        encoder.set_prompt_text(default_prompt.as_deref())?;
        Ok(encoder)
    }

    /// The prompts the folder names (`config_sentence_transformers.json`); the one
    /// in use at load is its `default_prompt_name`, if any.
    pub fn prompts(&self) -> &Prompts {
        &self.modules.prompts
    }

    /// Puts the folder's prompt `name` before every text, as sentence-transformers'
    /// `encode(prompt_name=…)`; `""` puts none. An unknown name is an input error
    /// listing the folder's prompts.
    pub fn use_prompt(&mut self, name: &str) -> Result<()> {
        if name.is_empty() {
            return self.set_prompt_text(None);
        }
        let text = self.modules.prompts.get(name)?.to_string();
        self.set_prompt_text(Some(&text))
    }

    /// Puts `text` before every text (a saved model's prompt, which need not be
    /// among the folder's); `None` or `""`: none, as in sentence-transformers.
    pub fn set_prompt_text(&mut self, text: Option<&str>) -> Result<()> {
        let text = text.filter(|t| !t.is_empty()).map(str::to_string);
        // sentence-transformers counts the prompt's tokens alone, less a trailing
        // special token ([SEP], </s>): the text's tokens after them are pooled.
        self.prompt_tokens = match &text {
            Some(t) if !self.modules.include_prompt => {
                let ids = self.tokenizer.encode(t)?;
                let trailing = ids
                    .last()
                    .is_some_and(|id| self.tokenizer.special_ids().binary_search(id).is_ok());
                ids.len() as i64 - i64::from(trailing)
            }
            _ => 0,
        };
        self.identity.pooling_excludes_prompt = self.prompt_tokens > 0;
        self.identity.prompt = text;
        Ok(())
    }

    /// Pools token vectors by `pooling` alone instead of the folder's Pooling
    /// module (which may concatenate several modes). Part of the identity, as the
    /// folder's pooling is. A folder with Dense modules is refused: they were
    /// trained on its own pooling's output.
    pub fn set_pooling(&mut self, pooling: Pooling) -> Result<()> {
        if self.modules.pooling == [pooling] {
            return Ok(());
        }
        if !self.modules.dense_identity.is_empty() {
            return Err(input_error!(
                "--pooling {}: {} has Dense modules after pooling, trained on its own pooling",
                pooling.name(),
                self.dir.display()
            ));
        }
        self.modules.dim /= self.modules.pooling.len();
        self.modules.pooling = vec![pooling];
        self.identity.pooling = pooling;
        self.identity.pooling_concat.clear();
        self.identity.dim = self.modules.dim * self.layers.blocks();
        Ok(())
    }

    /// Pools the hidden states `spec` names instead of the last layer's alone.
    /// The identity (and so the cache key and a saved model) records the choice
    /// with absolute layer numbers, and `dim` grows by the concatenated blocks.
    /// A folder with Dense modules is refused for any other choice than the last
    /// layer: its Dense weights were trained on the last layer's pooled vector.
    pub fn set_layers(&mut self, spec: &LayerSpec) -> Result<()> {
        let layers = spec.resolve(self.network.n_layers())?;
        if !layers.is_last() && !self.modules.dense_identity.is_empty() {
            return Err(input_error!(
                "--layers {spec}: {} has Dense modules after pooling, trained on its last layer; only --layers last applies",
                self.dir.display()
            ));
        }
        self.identity.dim = self.modules.dim * layers.blocks();
        self.identity.layers = (!layers.is_last()).then(|| layers.canonical());
        self.layers = layers;
        Ok(())
    }

    /// Rounds every vector to `precision` as it leaves the encoder (and keeps
    /// it so in the cache).
    pub fn set_vector_precision(&mut self, precision: VectorPrecision) {
        self.identity.vector_precision =
            (precision != VectorPrecision::Fp32).then(|| precision.name().to_string());
        self.vectors = precision;
    }

    /// The hidden states pooled.
    pub fn layers(&self) -> &Layers {
        &self.layers
    }

    /// Runs the forward pass at `precision` (already resolved for the device).
    pub fn set_precision(&mut self, precision: super::precision::Precision) {
        self.network.set_compute(precision.compute_kind());
        self.precision = precision;
    }

    pub fn precision(&self) -> super::precision::Precision {
        self.precision
    }

    pub fn identity(&self) -> &EncoderIdentity {
        &self.identity
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Token ids as sentence-transformers would feed them: the prompt before the
    /// text, the model's special tokens, truncated to `max_seq_length` tokens in all.
    pub fn tokenize(&self, text: &str) -> Result<Vec<i64>> {
        // Not through a `TextTokenizer`: that would clone the prompt for
        // every text `emo embed` tokenises.
        encode_with_prompt(&self.tokenizer, self.identity.prompt.as_deref(), text)
    }

    /// What [`Encoder::tokenize`] does, detached from the network: the
    /// encoder's tensors stay on the thread that runs them, while this may be
    /// sent to others (a server tokenises each request in its own handler, so
    /// a long text delays no one else's forward pass).
    pub fn text_tokenizer(&self) -> TextTokenizer {
        TextTokenizer {
            tokenizer: self.tokenizer.clone(),
            prompt: self.identity.prompt.clone(),
        }
    }

    /// The tokenizer, for its pad and special ids.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Embeds one batch of already tokenised texts. Returns `[n, dim]` f32 on the CPU.
    /// Padding never reaches attention or pooling, so a vector does not depend on
    /// its batch-mates.
    pub fn embed_tokens(&self, batch: &[Vec<i64>]) -> Result<Tensor> {
        if batch.is_empty() {
            return Ok(Tensor::zeros(
                [0, self.identity.dim as i64],
                (Kind::Float, Device::Cpu),
            ));
        }
        let out = tch::no_grad(|| {
            let (ids, packing) = Packing::new(batch, self.device);
            let states = self
                .network
                .forward_packed(&ids, &packing, &self.layers.indices);
            // Pooled group by group in the padded layout (zeros at padding): sums
            // there are plain reductions, which a GPU computes in a fixed order,
            // unlike an `index_add` of packed rows (atomics), so the same input
            // gives the same vector.
            let pool = |hidden: &Tensor| {
                let pooled = packing.per_group(hidden, |_, g, rows| {
                    let padded = g.pad(rows).view([g.batch, g.width, -1]);
                    let mask = g.attention_mask.view([g.batch, g.width]);
                    self.modules.apply(&padded, &mask, self.prompt_tokens)
                });
                packing.unsort(&pooled)
            };
            match (self.layers.combine, states.as_slice()) {
                // One layer (the last, by default): pooled as it comes.
                (_, [one]) => pool(one),
                // Averaged in f32 whatever the forward pass ran in.
                (Combine::Mean, many) => {
                    let sum = many
                        .iter()
                        .map(|s| s.to_kind(Kind::Float))
                        .reduce(|a, b| a + b)
                        .expect("at least one layer");
                    pool(&(sum / many.len() as f64))
                }
                (Combine::Concat, many) => {
                    let blocks: Vec<Tensor> =
                        many.iter().map(|s| pool(s).to_kind(Kind::Float)).collect();
                    Tensor::cat(&blocks, 1)
                }
            }
        });
        Ok(self.vectors.round(out.to_kind(Kind::Float).to(Device::Cpu)))
    }
}

/// Process-wide settings for the encoder's allocations; the `emo` binary calls
/// this first thing, before any thread or tensor exists.
///
/// glibc keeps freed memory for reuse instead of returning it to the kernel.
/// A forward pass allocates activations of tens of megabytes (64 long texts ×
/// 1,536 floats per token) and frees them a moment later. By default glibc serves
/// such blocks with fresh `mmap`s, so every batch pays a page fault per 4 KiB
/// touched: measured here, a fifth of the time on long texts. Without `mmap` the
/// blocks come from the heap and are reused; the trim threshold keeps up to
/// 1 GiB of freed heap for the next batch. Peak memory does not grow: the same
/// blocks are reused, not added to.
///
/// oneDNN (inside libtorch) caches up to 1,024 compiled primitives, one per
/// tensor shape it meets. Packed batches have a different token count nearly
/// every time, so on a long input the cache fills with primitives never used
/// again: measured, `emo classify` on 100,000 texts peaked at 669 MB with the
/// cache and 431 MB without, at the same speed (and embedding speed on MiniLM
/// unchanged). A value the user set is left alone.
pub fn configure_process() {
    const ONEDNN_CACHE: &str = "ONEDNN_PRIMITIVE_CACHE_CAPACITY";
    if std::env::var_os(ONEDNN_CACHE).is_none() {
        std::env::set_var(ONEDNN_CACHE, "0");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; both values are valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
