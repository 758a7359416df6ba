//! MPNet (Song et al., NeurIPS 2020), the architecture of all-mpnet-base-v2, the
//! strongest classic sentence-transformers model: its configuration, weights and
//! forward pass, laid out as [`super::bert`]'s (Q, K and V as one product, fused
//! attention, padding only where attention needs it).
//!
//! Two things differ from BERT, both from Hugging Face's `modeling_mpnet.py`:
//!
//! - positions count from `pad_token_id + 1` (RoBERTa's convention: position ids
//!   are the running count of non-pad tokens offset past the padding index), and there
//!   is no token-type table;
//! - every layer adds the same relative position bias to its attention scores: the
//!   distance between key and query is put in one of 32 buckets (exact up to 8 in
//!   each direction, logarithmic up to 128, clipped beyond), and a learned
//!   `[buckets, heads]` table gives each head's bias. The bias is computed once per
//!   batch width and passed to fused attention as an additive mask, with the
//!   padding keys masked by the most negative number, as Hugging Face does.

use super::bert::{Activation, Dims, Embeddings, LayerNames, Stack, Weights};
use super::packing::{Group, Packing};
use crate::input_error;
use anyhow::Result;
use serde::Deserialize;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// What emo reads of an MPNet `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct MpnetConfig {
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub max_position_embeddings: i64,
    pub vocab_size: i64,
    #[serde(default = "default_activation")]
    pub hidden_act: Activation,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_pad")]
    pub pad_token_id: i64,
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: i64,
}

fn default_activation() -> Activation {
    Activation::Gelu
}
fn default_eps() -> f64 {
    1e-5
}
fn default_pad() -> i64 {
    1
}
fn default_buckets() -> i64 {
    32
}

/// The distance beyond which every relative position shares the last bucket
/// (Hugging Face's `max_distance`, not in config.json).
const MAX_DISTANCE: i64 = 128;

impl MpnetConfig {
    pub fn from_file(path: &Path) -> Result<MpnetConfig> {
        let config: MpnetConfig = super::read_json(path)?;
        if config.num_attention_heads <= 0
            || config.hidden_size % config.num_attention_heads != 0
            || config.relative_attention_num_buckets < 4
        {
            return Err(input_error!(
                "{}: hidden_size {} does not split into {} attention heads, or fewer than 4 relative buckets",
                path.display(),
                config.hidden_size,
                config.num_attention_heads
            ));
        }
        Ok(config)
    }
}

/// The bucket of a key `memory - context` positions away from its query, as
/// Hugging Face's `relative_position_bucket` computes it (in f32, as torch does,
/// so that a distance on a bucket boundary lands where it lands there).
pub fn relative_bucket(relative: i64, buckets: i64) -> i64 {
    let half = buckets / 2;
    let n = -relative;
    let mut bucket = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        bucket += n;
    } else {
        let scale = (MAX_DISTANCE as f32 / max_exact as f32).ln();
        let large = max_exact
            + ((n as f32 / max_exact as f32).ln() / scale * (half - max_exact) as f32) as i64;
        bucket += large.min(half - 1);
    }
    bucket
}

/// The frozen MPNet encoder's weights, laid out for inference.
pub struct Mpnet {
    embeddings: Embeddings,
    /// `[buckets, heads]`, shared by every layer.
    relative_bias: Tensor,
    stack: Stack,
    pad: i64,
    buckets: i64,
}

impl Mpnet {
    /// Loads `model.safetensors` for `config`; every tensor the pass uses must be
    /// there with the shape the config implies (a pooler or an LM head is ignored).
    pub fn load(path: &Path, config: &MpnetConfig, device: Device) -> Result<Mpnet> {
        let w = Weights::read(path, "mpnet.", device)?;
        let names = LayerNames {
            q: "attention.attn.q",
            k: "attention.attn.k",
            v: "attention.attn.v",
            o: "attention.attn.o",
            attn_ln: "attention.LayerNorm",
            ..LayerNames::BERT
        };
        let dims = Dims {
            heads: config.num_attention_heads,
            hidden: config.hidden_size,
            eps: config.layer_norm_eps,
            activation: config.hidden_act,
            compute: Kind::Float,
        };
        let stack = Stack::load(
            &w,
            &names,
            config.num_hidden_layers,
            config.intermediate_size,
            dims,
        )?;
        Ok(Mpnet {
            embeddings: Embeddings::load(
                &w,
                config.vocab_size,
                config.max_position_embeddings,
                None,
                config.hidden_size,
            )?,
            relative_bias: w.take(
                "encoder.relative_attention_bias.weight",
                &[
                    config.relative_attention_num_buckets,
                    config.num_attention_heads,
                ],
            )?,
            stack,
            pad: config.pad_token_id,
            buckets: config.relative_attention_num_buckets,
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

    /// `[batch, heads, width, width]` for one group: each head's relative
    /// position bias, and the most negative number where the key is padding.
    fn attention_bias(&self, group: &Group) -> Tensor {
        let l = group.width;
        let buckets: Vec<i64> = (0..l)
            .flat_map(|q| (0..l).map(move |k| (q, k)))
            .map(|(q, k)| relative_bucket(k - q, self.buckets))
            .collect();
        let device = self.embeddings.device();
        let idx = Tensor::from_slice(&buckets).to(device);
        // [l*l, heads] → [1, heads, l, l]
        let bias = self
            .relative_bias
            .index_select(0, &idx)
            .view([l, l, self.stack.dims.heads])
            .permute([2, 0, 1])
            .unsqueeze(0);
        let blocked = Tensor::full([1], f32::MIN as f64, (Kind::Float, device));
        let zero = Tensor::zeros([1], (Kind::Float, device));
        let mask = zero.where_self(&group.attention_mask, &blocked);
        (bias + mask).to_kind(self.stack.dims.compute)
    }

    /// The hidden states `keep` names of the real tokens of a batch, packed as
    /// [`Packing::new`] laid out `ids`. Call it under `tch::no_grad`.
    pub fn forward_packed(&self, ids: &Tensor, packed: &Packing, keep: &[usize]) -> Vec<Tensor> {
        // Hugging Face counts only non-pad tokens (a literal `<pad>` in a text keeps
        // position `pad` and does not advance the count), as RoBERTa does; the
        // relative bias below uses plain indices.
        let positions = packed.positions_past_pad(ids, self.pad);
        let x = self.embeddings.forward(ids, &positions, &self.stack.dims);
        let biases: Vec<Tensor> = packed
            .groups
            .iter()
            .map(|g| self.attention_bias(g))
            .collect();
        self.stack.forward(x, packed, &biases, keep)
    }

    pub fn n_layers(&self) -> usize {
        self.stack.len()
    }
}

#[cfg(test)]
mod tests {
    use super::relative_bucket;

    /// Hugging Face's buckets for 32 buckets and max distance 128, printed by
    /// `MPNetEncoder.relative_position_bucket` (transformers 5.x, .deps/py) at
    /// distances on and around every bucket boundary.
    #[test]
    fn buckets_match_hugging_face() {
        let want: &[(i64, i64)] = &[
            (0, 0),
            (-1, 1),
            (-7, 7),
            (-8, 8),
            (-11, 8),
            (-12, 9),
            (-16, 10),
            (-22, 10),
            (-32, 12),
            (-45, 12),
            (-64, 14),
            (-90, 14),
            (-128, 15),
            (-500, 15),
            (1, 17),
            (7, 23),
            (8, 24),
            (64, 30),
            (500, 31),
            (-10, 8),
            (-13, 9),
            (-15, 9),
            (-17, 10),
            (-19, 10),
            (-23, 11),
            (-26, 11),
            (-31, 11),
            (-38, 12),
            (-44, 12),
            (-46, 13),
            (-53, 13),
            (-63, 13),
            (-76, 14),
            (-89, 14),
            (-91, 15),
            (-107, 15),
            (-127, 15),
            (10, 24),
            (13, 25),
            (15, 25),
            (17, 26),
            (19, 26),
            (23, 27),
            (26, 27),
            (31, 27),
            (38, 28),
            (44, 28),
            (46, 29),
            (53, 29),
            (63, 29),
            (76, 30),
            (89, 30),
            (91, 31),
            (107, 31),
            (127, 31),
            (128, 31),
        ];
        for &(rel, bucket) in want {
            assert_eq!(relative_bucket(rel, 32), bucket, "relative {rel}");
        }
    }
}
