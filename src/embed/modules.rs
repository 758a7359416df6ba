//! What a sentence-transformers folder does after its transformer, read from
//! `modules.json`: Pooling (any of its six modes; several are concatenated),
//! Dense layers, Normalize; and the prompts of `config_sentence_transformers.json`.
//!
//! A folder either runs here exactly as sentence-transformers runs it or is refused:
//! a module type, an option or an activation emo does not implement is an input
//! error naming it, because a module skipped or approximated would give vectors
//! that look fine and are wrong.

use super::{read_json, sha256_file};
use crate::input_error;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// How token vectors become one sentence vector (sentence-transformers' Pooling module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    Mean,
    Cls,
    Max,
    MeanSqrtLen,
    /// Token i (from 1) weighs i: later tokens count more.
    WeightedMean,
    /// The last real token (decoder-style embedders).
    LastToken,
}

impl std::str::FromStr for Pooling {
    type Err = String;

    /// By the name emo writes it (`mean`, `cls`, `max`, `mean-sqrt-len`,
    /// `weighted-mean`, `last-token`): `--pooling`'s values.
    fn from_str(s: &str) -> Result<Pooling, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            format!("'{s}' is not a pooling: mean, cls, max, mean-sqrt-len, weighted-mean or last-token")
        })
    }
}

impl Pooling {
    /// As emo writes it (and `--pooling` takes it).
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean-sqrt-len",
            Pooling::WeightedMean => "weighted-mean",
            Pooling::LastToken => "last-token",
        }
    }

    /// By the name `pooling_mode` gives it.
    fn from_name(name: &str) -> Option<Pooling> {
        Some(match name {
            "cls" => Pooling::Cls,
            "max" => Pooling::Max,
            "mean" => Pooling::Mean,
            "mean_sqrt_len_tokens" => Pooling::MeanSqrtLen,
            "weightedmean" => Pooling::WeightedMean,
            "lasttoken" => Pooling::LastToken,
            _ => return None,
        })
    }
}

/// The modes of a Pooling `config.json`: `pooling_mode` (a name or a list, as
/// sentence-transformers 5.4+ writes it), else the older `pooling_mode_*` flags, in
/// the order sentence-transformers concatenates them.
#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode: Option<OneOrMany>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default = "yes")]
    include_prompt: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn yes() -> bool {
    true
}

impl PoolingConfig {
    fn modes(&self, path: &Path) -> Result<Vec<Pooling>> {
        let modes = match &self.pooling_mode {
            Some(m) => {
                let names = match m {
                    OneOrMany::One(n) => std::slice::from_ref(n),
                    OneOrMany::Many(v) => v.as_slice(),
                };
                names
                    .iter()
                    .map(|n| {
                        Pooling::from_name(n).ok_or_else(|| {
                            input_error!(
                                "{}: pooling mode '{n}' is not supported (emo runs cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken)",
                                path.display()
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            None => [
                (self.pooling_mode_cls_token, Pooling::Cls),
                (self.pooling_mode_max_tokens, Pooling::Max),
                (self.pooling_mode_mean_tokens, Pooling::Mean),
                (self.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
                (self.pooling_mode_weightedmean_tokens, Pooling::WeightedMean),
                (self.pooling_mode_lasttoken, Pooling::LastToken),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, m)| *m)
            .collect(),
        };
        // sentence-transformers 6 reads "no mode on" as mean.
        Ok(if modes.is_empty() {
            vec![Pooling::Mean]
        } else {
            modes
        })
    }
}

/// A Dense module's activation: a `torch.nn` class built without arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    Identity,
    Tanh,
    Relu,
    Gelu,
    Sigmoid,
}

impl Activation {
    /// From `activation_function` (`torch.nn.modules.activation.Tanh`, …).
    /// sentence-transformers builds anything outside `torch.` only with
    /// `trust_remote_code` (and otherwise silently uses Tanh): emo refuses it.
    fn from_config(name: &str, path: &Path) -> Result<Activation> {
        let class = name.rsplit('.').next().unwrap_or(name);
        let known = match class {
            "Identity" => Some(Activation::Identity),
            "Tanh" => Some(Activation::Tanh),
            "ReLU" => Some(Activation::Relu),
            "GELU" => Some(Activation::Gelu),
            "Sigmoid" => Some(Activation::Sigmoid),
            _ => None,
        };
        match known {
            Some(a) if name.starts_with("torch.nn.") => Ok(a),
            _ => Err(input_error!(
                "{}: activation_function '{name}' is not supported (emo runs torch.nn Identity, Tanh, ReLU, GELU, Sigmoid)",
                path.display()
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Activation::Identity => "Identity",
            Activation::Tanh => "Tanh",
            Activation::Relu => "ReLU",
            Activation::Gelu => "GELU",
            Activation::Sigmoid => "Sigmoid",
        }
    }

    fn apply(self, x: Tensor) -> Tensor {
        match self {
            Activation::Identity => x,
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.relu(),
            Activation::Gelu => x.gelu("none"),
            Activation::Sigmoid => x.sigmoid(),
        }
    }
}

/// What a Dense module adds to the encoder's identity: its weights and activation
/// (its sizes come with the weights).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenseIdentity {
    pub weights_sha256: String,
    pub activation: String,
    pub out_features: usize,
}

#[derive(Deserialize)]
struct DenseConfig {
    in_features: i64,
    out_features: i64,
    #[serde(default = "yes")]
    bias: bool,
    /// sentence-transformers' default when the key is missing is Tanh.
    #[serde(default)]
    activation_function: Option<String>,
    #[serde(default)]
    module_input_name: Option<String>,
    #[serde(default)]
    module_output_name: Option<String>,
    #[serde(default)]
    use_residual: bool,
}

#[derive(Deserialize)]
struct NormalizeConfig {
    #[serde(default)]
    module_input_name: Option<String>,
    #[serde(default)]
    module_output_name: Option<String>,
}

/// Refuses a module that reads or writes anything but the sentence embedding
/// (token-level modules of multi-vector models).
fn check_sentence_embedding(
    path: &Path,
    input: &Option<String>,
    output: &Option<String>,
    module: &str,
) -> Result<()> {
    for (key, value) in [("module_input_name", input), ("module_output_name", output)] {
        if let Some(v) = value.as_deref().filter(|v| *v != "sentence_embedding") {
            return Err(input_error!(
                "{}: {key} '{v}' is not supported (emo's {module} works on the sentence embedding)",
                path.display()
            ));
        }
    }
    Ok(())
}

/// A linear layer and its activation over sentence vectors.
struct Dense {
    weight: Tensor,
    bias: Option<Tensor>,
    activation: Activation,
}

impl Dense {
    /// Reads a Dense folder whose input has `in_dim` features.
    fn load(dir: &Path, in_dim: i64, device: Device) -> Result<(Dense, DenseIdentity)> {
        let config_path = dir.join("config.json");
        let c: DenseConfig = read_json(&config_path)?;
        check_sentence_embedding(
            &config_path,
            &c.module_input_name,
            &c.module_output_name,
            "Dense",
        )?;
        if c.use_residual {
            return Err(input_error!(
                "{}: use_residual is not supported",
                config_path.display()
            ));
        }
        let activation = match &c.activation_function {
            Some(name) => Activation::from_config(name, &config_path)?,
            None => Activation::Tanh,
        };
        if c.in_features != in_dim || c.out_features <= 0 {
            return Err(input_error!(
                "{}: in_features {} and out_features {}, but the vectors reaching it have {in_dim} dimensions",
                config_path.display(),
                c.in_features,
                c.out_features
            ));
        }
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            let bin = dir.join("pytorch_model.bin");
            return Err(if bin.is_file() {
                input_error!(
                    "{}: emo reads Dense weights from model.safetensors only (save the module again with safe_serialization, or convert the file)",
                    bin.display()
                )
            } else {
                input_error!("{}: missing", weights.display())
            });
        }
        let tensors: BTreeMap<String, Tensor> = Tensor::read_safetensors(&weights)
            .map_err(|e| input_error!("{}: cannot read safetensors: {e}", weights.display()))?
            .into_iter()
            .collect();
        let take = |name: &str, shape: &[i64]| -> Result<Tensor> {
            let t = tensors
                .get(name)
                .ok_or_else(|| input_error!("{}: no tensor {name}", weights.display()))?;
            if t.size() != shape {
                return Err(input_error!(
                    "{}: tensor {name} has shape {:?}, config.json implies {shape:?}",
                    weights.display(),
                    t.size()
                ));
            }
            Ok(t.to_kind(Kind::Float).to(device))
        };
        let weight = take("linear.weight", &[c.out_features, c.in_features])?;
        let bias = c
            .bias
            .then(|| take("linear.bias", &[c.out_features]))
            .transpose()?;
        let identity = DenseIdentity {
            weights_sha256: sha256_file(&weights)?,
            activation: activation.name().to_string(),
            out_features: c.out_features as usize,
        };
        Ok((
            Dense {
                weight,
                bias,
                activation,
            },
            identity,
        ))
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        self.activation
            .apply(x.linear(&self.weight, self.bias.as_ref()))
    }
}

/// The prompts of `config_sentence_transformers.json`, by name.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    pub by_name: BTreeMap<String, String>,
    /// `default_prompt_name`: what sentence-transformers' `encode` uses when told nothing.
    pub default: Option<String>,
    /// The file, for errors.
    source: PathBuf,
}

#[derive(Deserialize)]
struct StConfig {
    #[serde(default)]
    prompts: BTreeMap<String, Option<String>>,
    #[serde(default)]
    default_prompt_name: Option<String>,
}

impl Prompts {
    fn read(dir: &Path) -> Result<Prompts> {
        let source = dir.join("config_sentence_transformers.json");
        if !source.is_file() {
            return Ok(Prompts {
                source,
                ..Prompts::default()
            });
        }
        let c: StConfig = read_json(&source)?;
        let prompts = Prompts {
            by_name: c
                .prompts
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
            default: c.default_prompt_name,
            source,
        };
        if let Some(d) = &prompts.default {
            prompts.get(d)?;
        }
        Ok(prompts)
    }

    /// The text of prompt `name`, or an input error listing the folder's prompts.
    pub fn get(&self, name: &str) -> Result<&str> {
        self.by_name.get(name).map(String::as_str).ok_or_else(|| {
            let names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            input_error!(
                "{}: no prompt named '{name}' (the folder's prompts: {})",
                self.source.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
    }
}

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

/// The module types emo runs, by class name (the last part of `type`).
const RUNS: &str = "Transformer, Pooling, Dense and Normalize, in that order";

/// A folder's modules after the transformer.
pub(super) struct Modules {
    /// Concatenated in this order; never empty.
    pub pooling: Vec<Pooling>,
    /// Pooling's `include_prompt`: false leaves the prompt's tokens out of pooling.
    pub include_prompt: bool,
    dense: Vec<Dense>,
    pub dense_identity: Vec<DenseIdentity>,
    pub normalize: bool,
    /// The sentence vector's size after every module.
    pub dim: usize,
    pub prompts: Prompts,
}

impl Modules {
    /// Reads `modules.json` (and what its modules point to) for a transformer with
    /// `hidden` features. A folder without `modules.json` is a plain transformer,
    /// which sentence-transformers mean-pools.
    pub(super) fn read(dir: &Path, hidden: usize, device: Device) -> Result<Modules> {
        let list_path = dir.join("modules.json");
        let entries: Vec<ModuleEntry> = if list_path.is_file() {
            read_json(&list_path)?
        } else {
            Vec::new()
        };
        let mut modules = Modules {
            pooling: vec![Pooling::Mean],
            include_prompt: true,
            dense: Vec::new(),
            dense_identity: Vec::new(),
            normalize: false,
            dim: hidden,
            prompts: Prompts::read(dir)?,
        };
        if entries.is_empty() {
            return Ok(modules);
        }
        // Each module may only follow the ones before it in RUNS.
        let mut stage = 0;
        for (i, m) in entries.iter().enumerate() {
            let class = m
                .kind
                .strip_prefix("sentence_transformers.")
                .and_then(|k| k.rsplit('.').next())
                .unwrap_or("");
            let at = match class {
                "Transformer" if i == 0 && m.path.is_empty() => 1,
                "Transformer" if i == 0 => {
                    return Err(input_error!(
                        "{}: the Transformer module's path is '{}'; emo reads the transformer from the folder itself",
                        list_path.display(),
                        m.path
                    ))
                }
                "Pooling" if stage == 1 => 2,
                "Dense" if stage == 2 || stage == 3 => 3,
                "Normalize" if stage == 2 || stage == 3 => 4,
                "Transformer" | "Pooling" | "Dense" | "Normalize" => {
                    return Err(input_error!(
                        "{}: module {} at position {i} is not supported there (emo runs {RUNS})",
                        list_path.display(),
                        m.kind
                    ))
                }
                _ => {
                    return Err(input_error!(
                        "{}: module {} is not supported (emo runs {RUNS})",
                        list_path.display(),
                        m.kind
                    ))
                }
            };
            let folder = dir.join(&m.path);
            match at {
                2 => {
                    let path = folder.join("config.json");
                    if path.is_file() {
                        let p: PoolingConfig = read_json(&path)?;
                        modules.pooling = p.modes(&path)?;
                        modules.include_prompt = p.include_prompt;
                    }
                    modules.dim = hidden * modules.pooling.len();
                }
                3 => {
                    let (dense, id) = Dense::load(&folder, modules.dim as i64, device)?;
                    modules.dim = id.out_features;
                    modules.dense.push(dense);
                    modules.dense_identity.push(id);
                }
                4 => {
                    let path = folder.join("config.json");
                    if path.is_file() {
                        let c: NormalizeConfig = read_json(&path)?;
                        check_sentence_embedding(
                            &path,
                            &c.module_input_name,
                            &c.module_output_name,
                            "Normalize",
                        )?;
                    }
                    modules.normalize = true;
                }
                _ => {}
            }
            stage = at;
        }
        if stage < 2 {
            return Err(input_error!(
                "{}: no Pooling module after the Transformer (emo runs {RUNS})",
                list_path.display()
            ));
        }
        Ok(modules)
    }

    /// Token vectors `[batch, width, hidden]` (zeros at padding, `mask` true at real
    /// tokens) to sentence vectors: pooled, through the Dense layers, normalised.
    /// The first `prompt_tokens` tokens of every text are left out of pooling (0:
    /// none), as sentence-transformers does for `include_prompt: false`.
    pub(super) fn apply(&self, hidden: &Tensor, mask: &Tensor, prompt_tokens: i64) -> Tensor {
        let mask = if prompt_tokens > 0 {
            let width = mask.size()[1];
            let after = Tensor::arange(width, (Kind::Int64, mask.device())).ge(prompt_tokens);
            mask.logical_and(&after.unsqueeze(0))
        } else {
            mask.shallow_clone()
        };
        let mut parts: Vec<Tensor> = self
            .pooling
            .iter()
            .map(|&m| pool(hidden, &mask, m))
            .collect();
        let mut x = if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Tensor::cat(&parts, 1)
        };
        for d in &self.dense {
            x = d.forward(&x);
        }
        if self.normalize {
            // As torch.nn.functional.normalize(p=2, eps=1e-12).
            let norm = x.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
            x /= norm;
        }
        x
    }
}

/// One pooling mode over the tokens where `mask` is true, as sentence-transformers'
/// Pooling computes it (a text with no such token gets what it gets there too).
fn pool(hidden: &Tensor, mask: &Tensor, pooling: Pooling) -> Tensor {
    let kind = hidden.kind();
    let mask_f = mask.unsqueeze(-1).to_kind(kind);
    let (batch, width, dim) = hidden.size3().expect("[batch, width, hidden]");
    // Per text, one token's vector by position `[batch]`.
    let pick = |at: &Tensor| {
        hidden
            .gather(
                1,
                &at.view([batch, 1, 1]).expand([batch, 1, dim], false),
                false,
            )
            .squeeze_dim(1)
    };
    match pooling {
        // The first token pooling sees: [CLS], or the first after the prompt.
        Pooling::Cls => pick(&mask.to_kind(Kind::Int).argmax(1, false)),
        Pooling::LastToken => {
            let positions = Tensor::arange(width, (Kind::Int64, hidden.device()));
            let last =
                (mask.to_kind(Kind::Int64) * positions.unsqueeze(0)).amax([1].as_slice(), false);
            let real = mask_f
                .gather(1, &last.view([batch, 1, 1]), false)
                .squeeze_dim(1);
            pick(&last) * real
        }
        Pooling::Max => {
            let masked = hidden.masked_fill(&mask_f.eq(0.0), -1e9);
            masked.amax([1].as_slice(), false)
        }
        Pooling::Mean | Pooling::MeanSqrtLen => {
            let sum = (hidden * &mask_f).sum_dim_intlist([1].as_slice(), false, kind);
            let count = mask_f
                .sum_dim_intlist([1].as_slice(), false, kind)
                .clamp_min(1e-9);
            if pooling == Pooling::Mean {
                sum / count
            } else {
                sum / count.sqrt()
            }
        }
        Pooling::WeightedMean => {
            // Weights are positions from 1 in the whole text, prompt included, as
            // sentence-transformers keeps them when it leaves the prompt out.
            let weights =
                Tensor::arange_start(1, width + 1, (kind, hidden.device())).view([1, width, 1]);
            let w = &mask_f * weights;
            let sum = (hidden * &w).sum_dim_intlist([1].as_slice(), false, kind);
            let total = w
                .sum_dim_intlist([1].as_slice(), false, kind)
                .clamp_min(1e-9);
            sum / total
        }
    }
}
