//! emo's own BERT forward pass over the weights rust-bert loads.
//!
//! rust-bert's BERT is written for every use of BERT (decoders, cross-attention,
//! attention outputs) and computes attention and GELU from elementary tensor
//! operations. Embedding sentences needs none of that, and on a CPU the extra
//! operations cost more than the matrix products that do the work. This pass:
//!
//! - runs Q, K and V as one matrix product (the three weights concatenated once,
//!   at load time);
//! - uses libtorch's fused `scaled_dot_product_attention` and native GELU and
//!   layer norm instead of chains of elementwise operations;
//! - keeps padding out of every position-wise operation: the tokens of a batch
//!   are packed into one `[tokens, hidden]` matrix, and only attention sees the
//!   padded `[batch, heads, length, head_dim]` layout it needs.
//!
//! It reads the very tensors rust-bert's `BertModel` was loaded with, so the two
//! engines cannot drift apart in which weights they use; a test checks that they
//! agree with each other and with Python sentence-transformers.

use anyhow::{anyhow, Result};
use rust_bert::bert::BertConfig;
use rust_bert::Activation;
use std::collections::HashMap;
use tch::{nn, Tensor};

struct Layer {
    /// `[3 * hidden, hidden]`: query, key and value weights stacked.
    qkv_w: Tensor,
    qkv_b: Tensor,
    out_w: Tensor,
    out_b: Tensor,
    attn_ln_w: Tensor,
    attn_ln_b: Tensor,
    ff_in_w: Tensor,
    ff_in_b: Tensor,
    ff_out_w: Tensor,
    ff_out_b: Tensor,
    ff_ln_w: Tensor,
    ff_ln_b: Tensor,
}

/// The frozen encoder's weights, laid out for inference.
pub struct Bert {
    word: Tensor,
    position: Tensor,
    /// Row 0 of the token-type table: sentence-transformers feeds one segment.
    token_type0: Tensor,
    emb_ln_w: Tensor,
    emb_ln_b: Tensor,
    layers: Vec<Layer>,
    heads: i64,
    hidden: i64,
    eps: f64,
    activation: Activation,
}

impl Bert {
    /// Takes the weights out of a `VarStore` that holds a rust-bert `BertModel`
    /// (its variable names). `eps` is the config's `layer_norm_eps`.
    pub fn from_vars(vars: &nn::VarStore, config: &BertConfig, eps: f64) -> Result<Bert> {
        let all: HashMap<String, Tensor> = vars.variables();
        let get = |name: &str| -> Result<Tensor> {
            all.get(name)
                .map(|t| t.shallow_clone())
                .ok_or_else(|| anyhow!("the BERT weights have no tensor {name}"))
        };
        let mut layers = Vec::new();
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let w = |s: &str| get(&format!("{p}.{s}"));
            let qkv_w = Tensor::cat(
                &[
                    w("attention.self.query.weight")?,
                    w("attention.self.key.weight")?,
                    w("attention.self.value.weight")?,
                ],
                0,
            );
            let qkv_b = Tensor::cat(
                &[
                    w("attention.self.query.bias")?,
                    w("attention.self.key.bias")?,
                    w("attention.self.value.bias")?,
                ],
                0,
            );
            layers.push(Layer {
                qkv_w,
                qkv_b,
                out_w: w("attention.output.dense.weight")?,
                out_b: w("attention.output.dense.bias")?,
                attn_ln_w: w("attention.output.LayerNorm.weight")?,
                attn_ln_b: w("attention.output.LayerNorm.bias")?,
                ff_in_w: w("intermediate.dense.weight")?,
                ff_in_b: w("intermediate.dense.bias")?,
                ff_out_w: w("output.dense.weight")?,
                ff_out_b: w("output.dense.bias")?,
                ff_ln_w: w("output.LayerNorm.weight")?,
                ff_ln_b: w("output.LayerNorm.bias")?,
            });
        }
        Ok(Bert {
            word: get("embeddings.word_embeddings.weight")?,
            position: get("embeddings.position_embeddings.weight")?,
            token_type0: get("embeddings.token_type_embeddings.weight")?.get(0),
            emb_ln_w: get("embeddings.LayerNorm.weight")?,
            emb_ln_b: get("embeddings.LayerNorm.bias")?,
            layers,
            heads: config.num_attention_heads,
            hidden: config.hidden_size,
            eps,
            activation: config.hidden_act,
        })
    }

    /// In place where libtorch can: the FFN's activations are the largest tensor
    /// of the pass, and a second copy of them costs memory bandwidth.
    fn activate(&self, mut x: Tensor) -> Tensor {
        match self.activation {
            // Hugging Face's "gelu" is the exact (erf) form, "gelu_new" the tanh one.
            Activation::gelu => x.gelu_("none"),
            Activation::gelu_new => x.gelu_("tanh"),
            Activation::relu => x.relu_(),
            other => (other.get_function().get_fn())(&x),
        }
    }

    fn layer_norm(&self, x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
        x.layer_norm([self.hidden], Some(w), Some(b), self.eps, false)
    }

    /// Last hidden states of the real tokens of a batch, packed: row `r` of the
    /// result is token `positions[r]` of sentence `sentence[r]`. `ids` holds the
    /// batch's token ids packed the same way; `lengths` the token count of each
    /// sentence. Call it under `tch::no_grad`.
    pub fn forward_packed(&self, ids: &Tensor, packed: &Packing) -> Tensor {
        let emb = self.word.index_select(0, ids)
            + self.position.index_select(0, &packed.positions)
            + &self.token_type0;
        let mut x = self.layer_norm(&emb, &self.emb_ln_w, &self.emb_ln_b);
        let (b, l) = (packed.batch, packed.width);
        let head_dim = self.hidden / self.heads;
        for layer in &self.layers {
            let qkv = x.linear(&layer.qkv_w, Some(&layer.qkv_b));
            // Packed → padded [b, l, 3, heads, head_dim] for attention only.
            let padded = Tensor::zeros([b * l, 3 * self.hidden], (qkv.kind(), qkv.device()))
                .index_copy(0, &packed.slots, &qkv)
                .view([b, l, 3, self.heads, head_dim])
                .permute([2, 0, 3, 1, 4]);
            let context = Tensor::scaled_dot_product_attention(
                &padded.get(0),
                &padded.get(1),
                &padded.get(2),
                Some(&packed.attention_mask),
                0.0,
                false,
                None,
            );
            // [b, heads, l, head_dim] → [b * l, hidden] → back to packed rows.
            let context = context
                .transpose(1, 2)
                .reshape([b * l, self.hidden])
                .index_select(0, &packed.slots);
            let mut attn = context.linear(&layer.out_w, Some(&layer.out_b));
            let _ = attn.g_add_(&x);
            x = self.layer_norm(&attn, &layer.attn_ln_w, &layer.attn_ln_b);
            let ff = self.activate(x.linear(&layer.ff_in_w, Some(&layer.ff_in_b)));
            let mut ff = ff.linear(&layer.ff_out_w, Some(&layer.ff_out_b));
            let _ = ff.g_add_(&x);
            x = self.layer_norm(&ff, &layer.ff_ln_w, &layer.ff_ln_b);
        }
        x
    }
}

/// Where each real token of a batch sits, packed and padded.
pub struct Packing {
    pub batch: i64,
    /// The longest sentence of the batch, in tokens.
    pub width: i64,
    /// Per packed token: its position within its sentence.
    pub positions: Tensor,
    /// Per packed token: its row in the padded `[batch * width]` layout.
    pub slots: Tensor,
    /// Per packed token: which sentence it belongs to.
    pub sentence: Tensor,
    /// `[batch, 1, 1, width]`, true where a key is a real token.
    pub attention_mask: Tensor,
    /// Tokens per sentence, as f32 `[batch, 1]`.
    pub lengths: Tensor,
}

impl Packing {
    /// Packs a batch of token-id lists; returns the packed ids and the layout.
    pub fn new(batch: &[Vec<i64>], device: tch::Device) -> (Tensor, Packing) {
        let width = batch.iter().map(Vec::len).max().unwrap_or(0);
        let total: usize = batch.iter().map(Vec::len).sum();
        let mut ids = Vec::with_capacity(total);
        let mut positions = Vec::with_capacity(total);
        let mut slots = Vec::with_capacity(total);
        let mut sentence = Vec::with_capacity(total);
        let mut mask = vec![false; batch.len() * width];
        for (row, tokens) in batch.iter().enumerate() {
            for (pos, &id) in tokens.iter().enumerate() {
                ids.push(id);
                positions.push(pos as i64);
                slots.push((row * width + pos) as i64);
                sentence.push(row as i64);
                mask[row * width + pos] = true;
            }
        }
        let lengths: Vec<f32> = batch.iter().map(|t| t.len() as f32).collect();
        let t = |v: &[i64]| Tensor::from_slice(v).to(device);
        let packing = Packing {
            batch: batch.len() as i64,
            width: width as i64,
            positions: t(&positions),
            slots: t(&slots),
            sentence: t(&sentence),
            attention_mask: Tensor::from_slice(&mask)
                .view([batch.len() as i64, 1, 1, width as i64])
                .to(device),
            lengths: Tensor::from_slice(&lengths)
                .view([batch.len() as i64, 1])
                .to(device),
        };
        (t(&ids), packing)
    }

    /// Sum of packed rows per sentence: `[batch, hidden]`.
    pub fn sum(&self, packed: &Tensor) -> Tensor {
        let hidden = packed.size()[1];
        Tensor::zeros([self.batch, hidden], (packed.kind(), packed.device())).index_add(
            0,
            &self.sentence,
            packed,
        )
    }

    /// Packed rows back to the padded `[batch, width, hidden]` layout (zeros for padding).
    pub fn unpack(&self, packed: &Tensor) -> Tensor {
        let hidden = packed.size()[1];
        Tensor::zeros(
            [self.batch * self.width, hidden],
            (packed.kind(), packed.device()),
        )
        .index_copy(0, &self.slots, packed)
        .view([self.batch, self.width, hidden])
    }
}
