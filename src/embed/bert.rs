//! emo's own BERT: its configuration, its weights and its forward pass.
//!
//! emo once loaded BERT through rust-bert; its last release pins libtorch 2.4,
//! which cannot run on current GPUs, so emo reads `config.json` and
//! `model.safetensors` itself (docs/design.md, why not rust-bert). Embedding sentences needs none of
//! what a general BERT carries (decoders, cross-attention, attention outputs), and
//! on a CPU elementwise chains cost more than the matrix products that do the
//! work. This pass:
//!
//! - runs Q, K and V as one matrix product (the three weights concatenated once,
//!   at load time);
//! - uses libtorch's fused `scaled_dot_product_attention` and native GELU and
//!   layer norm instead of chains of elementwise operations;
//! - keeps padding out of every position-wise operation: the tokens of a batch
//!   are packed into one `[tokens, hidden]` matrix, and only attention sees the
//!   padded `[batch, heads, length, head_dim]` layout it needs, group by group
//!   of texts of similar lengths ([`super::packing`]).
//!
//! Python sentence-transformers is the reference: a test holds the vectors to
//! its own on every fixture text.

use crate::input_error;
use anyhow::Result;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

use super::packing::{Group, Packing};

/// The feed-forward activation, by its Hugging Face name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// The exact (erf) GELU: Hugging Face's "gelu".
    Gelu,
    /// The tanh approximation of GELU.
    GeluNew,
    Relu,
    #[serde(alias = "swish")]
    Silu,
    Mish,
    Tanh,
}

/// What emo reads of a BERT `config.json`. Unknown fields are ignored, as in
/// Hugging Face; a missing one that has no BERT default is an error naming it.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub max_position_embeddings: i64,
    pub vocab_size: i64,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    #[serde(default = "default_activation")]
    pub hidden_act: Activation,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    /// Unused by BERT; RoBERTa's positions count from it ([`super::roberta`]).
    #[serde(default)]
    pub pad_token_id: Option<i64>,
}

fn default_type_vocab() -> i64 {
    2
}
fn default_activation() -> Activation {
    Activation::Gelu
}
fn default_eps() -> f64 {
    1e-12
}

impl BertConfig {
    /// Reads and checks `config.json`: only absolute-position BERT encoders whose
    /// hidden size splits evenly into heads.
    pub fn from_file(path: &Path) -> Result<BertConfig> {
        let config = BertConfig::read_layout(path)?;
        match config.model_type.as_deref() {
            Some("bert") | None => Ok(config),
            Some(other) => Err(input_error!(
                "{}: model_type '{other}' is not supported; emo runs BERT-family encoders",
                path.display()
            )),
        }
    }

    /// Reads and checks the `config.json` of an architecture that shares BERT's
    /// keys and layout (RoBERTa and XLM-R do), whatever its `model_type`: the
    /// caller chose the architecture by it.
    pub(super) fn read_layout(path: &Path) -> Result<BertConfig> {
        let config: BertConfig = super::read_json(path)?;
        if let Some(kind) = config
            .position_embedding_type
            .as_deref()
            .filter(|k| *k != "absolute")
        {
            return Err(input_error!(
                "{}: position_embedding_type '{kind}' is not supported; emo runs absolute positions",
                path.display()
            ));
        }
        let hidden = ("hidden_size", config.hidden_size);
        let heads = ("num_attention_heads", config.num_attention_heads);
        check_sizes(
            path,
            &[
                hidden,
                ("num_hidden_layers", config.num_hidden_layers),
                heads,
                ("intermediate_size", config.intermediate_size),
                ("max_position_embeddings", config.max_position_embeddings),
                ("vocab_size", config.vocab_size),
                ("type_vocab_size", config.type_vocab_size),
            ],
            hidden,
            heads,
        )?;
        Ok(config)
    }
}

/// Checks a config's sizes before any tensor is shaped by them: each of `sizes`
/// positive, and the hidden size a multiple of the number of heads (both named
/// as the config names them, and among `sizes`).
pub(super) fn check_sizes(
    path: &Path,
    sizes: &[(&str, i64)],
    hidden: (&str, i64),
    heads: (&str, i64),
) -> Result<()> {
    if let Some((name, v)) = sizes.iter().find(|(_, v)| *v <= 0) {
        return Err(input_error!(
            "{}: {name} is {v}; it must be positive",
            path.display()
        ));
    }
    if hidden.1 % heads.1 != 0 {
        return Err(input_error!(
            "{}: {} {} is not a multiple of {} {}",
            path.display(),
            hidden.0,
            hidden.1,
            heads.0,
            heads.1
        ));
    }
    Ok(())
}

/// One post-LayerNorm transformer layer's weights, as every architecture here shares them
/// (only their tensor names differ: [`LayerNames`]).
pub(super) struct Layer {
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

/// Where an architecture keeps a layer's tensors: the same network under
/// different names is then the same [`Layer`].
#[derive(Clone, Copy)]
pub(super) struct LayerNames {
    /// The stack's name before a layer's index: layer `i` is below `<stack>.<i>.`.
    pub(super) stack: &'static str,
    /// Query, key, value and output projections, each with `.weight` and `.bias`.
    pub(super) q: &'static str,
    pub(super) k: &'static str,
    pub(super) v: &'static str,
    pub(super) o: &'static str,
    /// The LayerNorm after attention.
    pub(super) attn_ln: &'static str,
    /// The feed-forward's two projections and the LayerNorm after it.
    pub(super) ff_in: &'static str,
    pub(super) ff_out: &'static str,
    pub(super) ff_ln: &'static str,
}

impl LayerNames {
    /// BERT's names, which RoBERTa and XLM-R keep (and MPNet in part).
    pub(super) const BERT: LayerNames = LayerNames {
        stack: "encoder.layer",
        q: "attention.self.query",
        k: "attention.self.key",
        v: "attention.self.value",
        o: "attention.output.dense",
        attn_ln: "attention.output.LayerNorm",
        ff_in: "intermediate.dense",
        ff_out: "output.dense",
        ff_ln: "output.LayerNorm",
    };
}

/// The sizes and settings every layer of a stack runs with.
pub(super) struct Dims {
    pub(super) heads: i64,
    pub(super) hidden: i64,
    pub(super) eps: f64,
    pub(super) activation: Activation,
    /// The type of the matrix products and attention ([`super::precision`]).
    pub(super) compute: Kind,
}

impl Layer {
    /// Layer `i`'s tensors, checked by name and shape.
    pub(super) fn load(w: &Weights, i: i64, names: &LayerNames, h: i64, f: i64) -> Result<Layer> {
        let p = format!("{}.{i}", names.stack);
        let t = |s: &str, shape: &[i64]| w.take(&format!("{p}.{s}"), shape);
        let proj = |name: &str| -> Result<[Tensor; 2]> {
            Ok([
                t(&format!("{name}.weight"), &[h, h])?,
                t(&format!("{name}.bias"), &[h])?,
            ])
        };
        let [qw, qb] = proj(names.q)?;
        let [kw, kb] = proj(names.k)?;
        let [vw, vb] = proj(names.v)?;
        let [out_w, out_b] = proj(names.o)?;
        Ok(Layer {
            qkv_w: Tensor::cat(&[qw, kw, vw], 0),
            qkv_b: Tensor::cat(&[qb, kb, vb], 0),
            out_w,
            out_b,
            attn_ln_w: t(&format!("{}.weight", names.attn_ln), &[h])?,
            attn_ln_b: t(&format!("{}.bias", names.attn_ln), &[h])?,
            ff_in_w: t(&format!("{}.weight", names.ff_in), &[f, h])?,
            ff_in_b: t(&format!("{}.bias", names.ff_in), &[f])?,
            ff_out_w: t(&format!("{}.weight", names.ff_out), &[h, f])?,
            ff_out_b: t(&format!("{}.bias", names.ff_out), &[h])?,
            ff_ln_w: t(&format!("{}.weight", names.ff_ln), &[h])?,
            ff_ln_b: t(&format!("{}.bias", names.ff_ln), &[h])?,
        })
    }

    /// Converts the weights of the matrix products to `kind`: everything else
    /// stays f32.
    pub(super) fn set_compute(&mut self, kind: Kind) {
        for t in [
            &mut self.qkv_w,
            &mut self.qkv_b,
            &mut self.out_w,
            &mut self.out_b,
            &mut self.ff_in_w,
            &mut self.ff_in_b,
            &mut self.ff_out_w,
            &mut self.ff_out_b,
        ] {
            *t = t.to_kind(kind);
        }
    }

    /// The layer over packed rows `x`; `masks`, one per group of `packed`, are
    /// fused attention's masks, boolean (true where a key is a real token) or
    /// additive (MPNet's position bias).
    pub(super) fn forward(
        &self,
        x: Tensor,
        packed: &Packing,
        masks: &[Tensor],
        d: &Dims,
    ) -> Tensor {
        let ln = |x: &Tensor, w: &Tensor, bias: &Tensor| {
            x.layer_norm([d.hidden], Some(w), Some(bias), d.eps, false)
        };
        // Reduced: the products and attention; the residual stream x is f32.
        let qkv = x.to_kind(d.compute).linear(&self.qkv_w, Some(&self.qkv_b));
        let context = packed.per_group(&qkv, |i, g, qkv| attend(g, qkv, &masks[i], d));
        let attn = residual(x, &context, &self.out_w, &self.out_b);
        let x = ln(&attn, &self.attn_ln_w, &self.attn_ln_b);
        let ff = activate(
            d.activation,
            x.to_kind(d.compute)
                .linear(&self.ff_in_w, Some(&self.ff_in_b)),
        );
        let ff = residual(x, &ff, &self.ff_out_w, &self.ff_out_b);
        ln(&ff, &self.ff_ln_w, &self.ff_ln_b)
    }
}

/// `x + input · wᵀ + b`, the projection that ends a sub-layer added to its
/// residual stream `x` (which it consumes). In f32 the product accumulates into
/// `x` itself (bias added first): a `linear` would first copy the bias into a
/// fresh output and a second pass add `x`, two passes over the largest
/// position-wise tensor that the products' own accumulation makes unnecessary.
/// In reduced precision `x` stays f32 and the product does not: then one add
/// widens the product on the way (exactly, so the same numbers) instead of a
/// conversion pass and then an add pass.
fn residual(mut x: Tensor, input: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    if input.kind() != x.kind() {
        return x + input.linear(w, Some(b));
    }
    x += b;
    x.addmm_(input, &w.tr())
}

/// Fused attention over one group's packed `qkv` rows; returns its context rows,
/// packed. Packed → padded `[batch, width, 3, heads, head_dim]` for attention
/// only. A group of equal lengths (long texts cut at the model's limit, mostly)
/// is already that layout: no copy. The mask stays even then: on CUDA no mask
/// lets libtorch pick flash attention, a mask another kernel, and a vector would
/// then depend (by float noise) on its batch-mates' lengths.
fn attend(g: &Group, qkv: &Tensor, mask: &Tensor, d: &Dims) -> Tensor {
    let (b, l) = (g.batch, g.width);
    let head_dim = d.hidden / d.heads;
    let padded = g
        .pad_masked(qkv)
        .view([b, l, 3, d.heads, head_dim])
        .permute([2, 0, 3, 1, 4]);
    let context = Tensor::scaled_dot_product_attention(
        &padded.get(0),
        &padded.get(1),
        &padded.get(2),
        Some(mask),
        0.0,
        false,
        None,
        false,
    );
    // [b, heads, l, head_dim] → [b * l, hidden] → back to packed rows.
    g.unpad(&context.transpose(1, 2).reshape([b * l, d.hidden]))
}

/// In place where libtorch can: the FFN's activations are the largest tensor
/// of the pass, and a second copy of them costs memory bandwidth.
fn activate(activation: Activation, mut x: Tensor) -> Tensor {
    match activation {
        Activation::Gelu => x.gelu_("none"),
        Activation::GeluNew => x.gelu_("tanh"),
        Activation::Relu => x.relu_(),
        Activation::Silu => x.silu_(),
        Activation::Mish => x.mish_(),
        Activation::Tanh => x.tanh_(),
    }
}

/// A stack of layers and the settings they run with: where every architecture's
/// pass ends, so that precision is switched in one place for all of them.
pub(super) struct Stack {
    layers: Vec<Layer>,
    pub(super) dims: Dims,
}

impl Stack {
    /// `count` layers named by `names`, with feed-forward size `f`.
    pub(super) fn load(
        w: &Weights,
        names: &LayerNames,
        count: i64,
        f: i64,
        dims: Dims,
    ) -> Result<Stack> {
        let layers = (0..count)
            .map(|i| Layer::load(w, i, names, dims.hidden, f))
            .collect::<Result<Vec<_>>>()?;
        Ok(Stack { layers, dims })
    }

    /// Runs the matrix products and attention in `kind` from now on: their
    /// weights are converted once here; everything else stays f32.
    pub(super) fn set_compute(&mut self, kind: Kind) {
        if kind == self.dims.compute {
            return;
        }
        self.layers.iter_mut().for_each(|l| l.set_compute(kind));
        self.dims.compute = kind;
    }

    /// The hidden states `keep` names (ascending; 0 is the packed embeddings
    /// `x`, i the output of layer i), with attention's `masks` (one per group of
    /// `packed`). Layers after the last one kept are not run: an earlier layer's
    /// features cost less than the last's.
    pub(super) fn forward(
        &self,
        mut x: Tensor,
        packed: &Packing,
        masks: &[Tensor],
        keep: &[usize],
    ) -> Vec<Tensor> {
        let mut kept = Vec::with_capacity(keep.len());
        let last = keep.last().copied().unwrap_or(self.layers.len());
        // A layer works in place on its input, so a state kept while later
        // layers still run is a copy; the last one kept is the output itself.
        let hold = |x: &Tensor, i: usize| {
            if i == last {
                x.shallow_clone()
            } else {
                x.copy()
            }
        };
        if keep.first() == Some(&0) {
            kept.push(hold(&x, 0));
        }
        for (i, layer) in self.layers.iter().enumerate().take(last) {
            x = layer.forward(x, packed, masks, &self.dims);
            if keep.binary_search(&(i + 1)).is_ok() {
                kept.push(hold(&x, i + 1));
            }
        }
        kept
    }

    /// How many transformer layers: `hidden_states` has one more.
    pub(super) fn len(&self) -> usize {
        self.layers.len()
    }
}

/// Token and position embeddings summed and normalised: the input of every
/// architecture here, which differ only in the position each token takes and in
/// whether a token-type table exists.
pub(super) struct Embeddings {
    word: Tensor,
    position: Tensor,
    /// Row 0 of the token-type table: sentence-transformers feeds one segment.
    token_type0: Option<Tensor>,
    ln_w: Tensor,
    ln_b: Tensor,
}

impl Embeddings {
    /// The `embeddings.` tensors, all architectures' names; `token_types` is the
    /// size of the token-type table, `None` for an architecture without one.
    pub(super) fn load(
        w: &Weights,
        vocab: i64,
        positions: i64,
        token_types: Option<i64>,
        h: i64,
    ) -> Result<Embeddings> {
        Ok(Embeddings {
            word: w.take("embeddings.word_embeddings.weight", &[vocab, h])?,
            position: w.take("embeddings.position_embeddings.weight", &[positions, h])?,
            token_type0: token_types
                .map(|n| {
                    w.take("embeddings.token_type_embeddings.weight", &[n, h])
                        .map(|t| t.get(0))
                })
                .transpose()?,
            ln_w: w.take("embeddings.LayerNorm.weight", &[h])?,
            ln_b: w.take("embeddings.LayerNorm.bias", &[h])?,
        })
    }

    /// Rows of the position table.
    pub(super) fn positions(&self) -> i64 {
        self.position.size()[0]
    }

    pub(super) fn device(&self) -> Device {
        self.word.device()
    }

    /// The packed tokens `ids` at `positions` (one per token), normalised.
    pub(super) fn forward(&self, ids: &Tensor, positions: &Tensor, d: &Dims) -> Tensor {
        let emb = self.word.index_select(0, ids) + self.position.index_select(0, positions);
        let emb = match &self.token_type0 {
            Some(t) => emb + t,
            None => emb,
        };
        emb.layer_norm([d.hidden], Some(&self.ln_w), Some(&self.ln_b), d.eps, false)
    }
}

/// The frozen encoder's weights, laid out for inference.
pub struct Bert {
    embeddings: Embeddings,
    stack: Stack,
}

/// The tensors of a safetensors file by name, checked one by one as they are
/// taken (shared with the other architectures' files).
pub(super) struct Weights<'a> {
    path: &'a Path,
    tensors: HashMap<String, Tensor>,
    /// `bert.` when the file was saved from `BertForX` rather than `BertModel`.
    prefix: &'static str,
    device: Device,
}

impl<'a> Weights<'a> {
    /// Every tensor of `path`. A file saved from a task model (`BertForX`,
    /// `MPNetForX`) names them under the architecture's `prefix`; a bare model's
    /// without one.
    pub(super) fn read(
        path: &'a Path,
        prefix: &'static str,
        device: Device,
    ) -> Result<Weights<'a>> {
        let tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
            .map_err(|e| input_error!("{}: cannot read safetensors: {e}", path.display()))?
            .into_iter()
            .collect();
        let prefix = if tensors.contains_key("embeddings.word_embeddings.weight") {
            ""
        } else {
            prefix
        };
        Ok(Weights {
            path,
            tensors,
            prefix,
            device,
        })
    }

    /// The tensor `name` as f32 on the device; an error names the file, the tensor
    /// and, for a wrong shape, both shapes.
    pub(super) fn take(&self, name: &str, shape: &[i64]) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        let t = self.tensors.get(&full).ok_or_else(|| {
            input_error!(
                "{}: no tensor {full} (does config.json name the right model_type?)",
                self.path.display()
            )
        })?;
        if t.size() != shape {
            return Err(input_error!(
                "{}: tensor {full} has shape {:?}, config.json implies {shape:?}",
                self.path.display(),
                t.size()
            ));
        }
        Ok(t.to_kind(Kind::Float).to(self.device))
    }
}

impl Bert {
    /// Loads `model.safetensors` for `config`. Every tensor the pass uses must be
    /// there with the shape the config implies; others (a pooler, a head) are ignored.
    pub fn load(path: &Path, config: &BertConfig, device: Device) -> Result<Bert> {
        let w = Weights::read(path, "bert.", device)?;
        let (embeddings, stack) = Bert::parts(&w, config)?;
        Ok(Bert { embeddings, stack })
    }

    /// A BERT from parts another architecture's loader read (DistilBERT's).
    pub(super) fn from_parts(embeddings: Embeddings, stack: Stack) -> Bert {
        Bert { embeddings, stack }
    }

    /// The embeddings and layers of a network with BERT's names and config keys
    /// (BERT's, RoBERTa's), read from `w`.
    pub(super) fn parts(w: &Weights, config: &BertConfig) -> Result<(Embeddings, Stack)> {
        let dims = Dims {
            heads: config.num_attention_heads,
            hidden: config.hidden_size,
            eps: config.layer_norm_eps,
            activation: config.hidden_act,
            compute: Kind::Float,
        };
        let stack = Stack::load(
            w,
            &LayerNames::BERT,
            config.num_hidden_layers,
            config.intermediate_size,
            dims,
        )?;
        let embeddings = Embeddings::load(
            w,
            config.vocab_size,
            config.max_position_embeddings,
            Some(config.type_vocab_size),
            config.hidden_size,
        )?;
        Ok((embeddings, stack))
    }

    /// Runs the matrix products and attention in `kind` from now on.
    pub fn set_compute(&mut self, kind: Kind) {
        self.stack.set_compute(kind);
    }

    /// The hidden states `keep` names (see [`Stack::forward`]) of the real
    /// tokens of a batch, packed: sentence after sentence, token after token, as
    /// [`Packing::new`] laid out `ids`. Call it under `tch::no_grad`.
    pub fn forward_packed(&self, ids: &Tensor, packed: &Packing, keep: &[usize]) -> Vec<Tensor> {
        let x = self
            .embeddings
            .forward(ids, &packed.positions, &self.stack.dims);
        self.stack.forward(x, packed, &packed.masks(), keep)
    }

    pub fn n_layers(&self) -> usize {
        self.stack.len()
    }
}
