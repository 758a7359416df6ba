//! DistilBERT (Sanh et al., 2019), the architecture of several small
//! sentence-transformers models (msmarco-distilbert-*, multi-qa-distilbert-*): a BERT cut to
//! half its layers, run by the shared [`Layer`](super::bert::Layer) because its
//! layer is BERT's post-LayerNorm layer under other tensor names
//! (`transformer.layer.<i>.attention.q_lin`, `sa_layer_norm`, `ffn.lin1`, …) and
//! other config keys (`dim`, `n_layers`, `n_heads`, `hidden_dim`, `activation`).
//! It has no token-type table, and positions count from 0 as in BERT. Its
//! LayerNorms use eps 1e-12 whatever config.json says: Hugging Face hard-codes it.

use super::bert::{check_sizes, Activation, Bert, Dims, Embeddings, LayerNames, Stack, Weights};
use anyhow::Result;
use serde::Deserialize;
use std::path::Path;
use tch::{Device, Kind};

/// What emo reads of a DistilBERT `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct DistilBertConfig {
    pub dim: i64,
    pub n_layers: i64,
    pub n_heads: i64,
    pub hidden_dim: i64,
    pub max_position_embeddings: i64,
    pub vocab_size: i64,
    #[serde(default = "default_activation")]
    pub activation: Activation,
}

fn default_activation() -> Activation {
    Activation::Gelu
}

/// `modeling_distilbert.py`'s LayerNorm epsilon, not a config key.
const EPS: f64 = 1e-12;

impl DistilBertConfig {
    pub fn from_file(path: &Path) -> Result<DistilBertConfig> {
        let config: DistilBertConfig = super::read_json(path)?;
        let hidden = ("dim", config.dim);
        let heads = ("n_heads", config.n_heads);
        check_sizes(
            path,
            &[
                hidden,
                ("n_layers", config.n_layers),
                heads,
                ("hidden_dim", config.hidden_dim),
                ("max_position_embeddings", config.max_position_embeddings),
                ("vocab_size", config.vocab_size),
            ],
            hidden,
            heads,
        )?;
        Ok(config)
    }
}

/// DistilBERT's weights as a [`Bert`]: past loading, its forward pass is BERT's
/// without token types (positions from 0, the same stack), so it needs no
/// network of its own.
pub struct DistilBert;

impl DistilBert {
    /// Loads `model.safetensors` for `config`; every tensor the pass uses must be
    /// there with the shape the config implies. Task models (`DistilBertForX`)
    /// keep them under `distilbert.`.
    pub fn load(path: &Path, config: &DistilBertConfig, device: Device) -> Result<Bert> {
        let w = Weights::read(path, "distilbert.", device)?;
        let names = LayerNames {
            stack: "transformer.layer",
            q: "attention.q_lin",
            k: "attention.k_lin",
            v: "attention.v_lin",
            o: "attention.out_lin",
            attn_ln: "sa_layer_norm",
            ff_in: "ffn.lin1",
            ff_out: "ffn.lin2",
            ff_ln: "output_layer_norm",
        };
        let dims = Dims {
            heads: config.n_heads,
            hidden: config.dim,
            eps: EPS,
            activation: config.activation,
            compute: Kind::Float,
        };
        let stack = Stack::load(&w, &names, config.n_layers, config.hidden_dim, dims)?;
        let embeddings = Embeddings::load(
            &w,
            config.vocab_size,
            config.max_position_embeddings,
            None,
            config.dim,
        )?;
        Ok(Bert::from_parts(embeddings, stack))
    }
}
