//! RoBERTa (Liu et al., 2019) and XLM-RoBERTa (Conneau et al., ACL 2020), the
//! architectures of all-distilroberta-v1 and of the multilingual
//! sentence-transformers models (paraphrase-multilingual-*): BERT's network
//! under BERT's tensor names and config keys, so this file holds only what
//! differs. One file serves both `model_type`s because Hugging Face's XLM-R is
//! RoBERTa's code under another name; what makes XLM-R multilingual is its
//! Unigram tokenizer, which [`super::tokenizer`] reads from `tokenizer.json`.
//!
//! The difference, from Hugging Face's `create_position_ids_from_input_ids`:
//! a token's position is the running count of non-padding tokens up to it,
//! offset past `pad_token_id`, and a padding id gets position `pad_token_id`
//! itself. emo never pads, but a text can still hold the padding token (the
//! literal `<pad>` is a special token RoBERTa's and XLM-R's tokenizers match), and then the
//! tokens after it sit one position earlier than their index says.

use super::bert::{Bert, BertConfig, Embeddings, Stack, Weights};
use super::packing::Packing;
use crate::input_error;
use anyhow::Result;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// Hugging Face's `RobertaConfig` default, for a config.json that leaves it out.
const DEFAULT_PAD: i64 = 1;

/// The frozen RoBERTa or XLM-R encoder's weights, laid out for inference.
pub struct Roberta {
    embeddings: Embeddings,
    stack: Stack,
    pad: i64,
}

impl Roberta {
    /// Reads `config.json`: BERT's keys, and positions that must leave room past
    /// the padding index.
    pub fn config(path: &Path) -> Result<BertConfig> {
        let config = BertConfig::read_layout(path)?;
        let pad = config.pad_token_id.unwrap_or(DEFAULT_PAD);
        if pad < 0 || pad + 1 >= config.max_position_embeddings {
            return Err(input_error!(
                "{}: pad_token_id {pad} leaves no position of max_position_embeddings {} for a token",
                path.display(),
                config.max_position_embeddings
            ));
        }
        Ok(config)
    }

    /// Loads `model.safetensors` for `config`; every tensor the pass uses must be
    /// there with the shape the config implies (a pooler or an LM head is ignored).
    /// Task models (`RobertaForX`, `XLMRobertaForX`) keep them under `roberta.`.
    pub fn load(path: &Path, config: &BertConfig, device: Device) -> Result<Roberta> {
        let w = Weights::read(path, "roberta.", device)?;
        let (embeddings, stack) = Bert::parts(&w, config)?;
        Ok(Roberta {
            embeddings,
            stack,
            pad: config.pad_token_id.unwrap_or(DEFAULT_PAD),
        })
    }

    /// The longest input it takes: positions start past the padding index.
    pub fn max_tokens(&self) -> i64 {
        self.embeddings.positions() - self.pad - 1
    }

    /// Runs the matrix products and attention in `kind` from now on.
    pub fn set_compute(&mut self, kind: Kind) {
        self.stack.set_compute(kind);
    }

    /// The hidden states `keep` names of the real tokens of a batch, packed as
    /// [`Packing::new`] laid out `ids`. Call it under `tch::no_grad`.
    pub fn forward_packed(&self, ids: &Tensor, packed: &Packing, keep: &[usize]) -> Vec<Tensor> {
        let positions = packed.positions_past_pad(ids, self.pad);
        let x = self.embeddings.forward(ids, &positions, &self.stack.dims);
        self.stack.forward(x, packed, &packed.masks(), keep)
    }

    pub fn n_layers(&self) -> usize {
        self.stack.len()
    }
}
