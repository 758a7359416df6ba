//! A saved classifier: the head's tensors in `head.safetensors` and a JSON
//! `manifest.json` saying what they mean — labels in order, the method and its
//! settings, and the exact encoder identity. Loading refuses anything it cannot
//! trust: a missing or corrupt file, an unknown format version, tensors whose
//! shapes disagree with the manifest, or (in [`SavedModel::check_encoder`]) an
//! encoder other than the one the head was trained on.
//!
//! A multi-label model (format 2) also carries what turns its scores into
//! labels: each class's threshold, chosen on validation when it was trained,
//! and the rule for a text no class passes. A model is only as good as the
//! decision saved with it, so classify and evaluate read both from here.

use crate::embed::EncoderIdentity;
use crate::head::Head;
use crate::input_error;
use anyhow::{Context as _, Result};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{Device, Tensor};

/// The version this emo writes. 2 added the task and the multi-label decision;
/// version 1 folders (single-label, from before) still load.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest version this emo reads.
const OLDEST_VERSION: u32 = 1;

/// How a multi-label model decides: what `emo train` chose on validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiLabelDecision {
    /// One per label, in label order, each with the validation F1 it scored and
    /// the validation texts that carry the class (none: the fixed 0.5 was kept).
    pub thresholds: Vec<crate::decision::Threshold>,
    /// A text no class passes: no emotion, or its most probable label
    /// (`emo train --at-least-one`; `emo classify --at-least-one` overrides).
    pub when_none: crate::decision::WhenNonePasses,
    /// Training texts: all, with no label, with two or more — what the
    /// evaluate report says of the training data it never sees.
    pub train_texts: [usize; 3],
    /// `[a][b]`: training texts carrying both a and b.
    pub cooccurrence: Vec<Vec<usize>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub emo_version: String,
    pub created: String,
    pub labels: Vec<String>,
    pub train_counts: Vec<usize>,
    pub method: String,
    pub method_summary: String,
    /// What the method chose on validation (τ, LWS scales, …).
    pub chosen: serde_json::Value,
    pub config: crate::train::TrainConfig,
    pub seed: u64,
    pub encoder: EncoderIdentity,
    /// Where the encoder was loaded from when training (a hint, not an identity).
    pub encoder_dir: String,
    pub dim: usize,
    /// "linear" or "nearest-mean".
    pub head: String,
    pub validation: serde_json::Value,
    pub training_data: String,
    /// Where the training embeddings were computed and the head trained (`cpu`,
    /// `cuda:0`): CPU and GPU numbers agree to rounding, not bit for bit. Empty in
    /// models saved before emo recorded it.
    #[serde(default)]
    pub device: String,
    /// The precision of the encoder that made the training embeddings (models
    /// saved before precisions existed were fp32).
    #[serde(default)]
    pub precision: crate::embed::precision::Precision,
    /// Single- or multi-label. Version 1 models predate the field and are
    /// single-label, which is what the default says.
    #[serde(default)]
    pub task: crate::data::Task,
    /// Multi-label models only: the thresholds and the no-label rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_label: Option<MultiLabelDecision>,
}

impl Manifest {
    /// Each class's threshold, in label order (multi-label models).
    pub fn threshold_values(&self) -> Option<Vec<f32>> {
        self.multi_label
            .as_ref()
            .map(|m| m.thresholds.iter().map(|t| t.value).collect())
    }
}

pub struct SavedModel {
    pub manifest: Manifest,
    pub head: Head,
}

fn f32_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let v: Vec<f32> = Vec::try_from(
        t.to_device(Device::Cpu)
            .to_kind(tch::Kind::Float)
            .flatten(0, -1),
    )?;
    Ok(v.iter().flat_map(|f| f.to_le_bytes()).collect())
}

fn tensor(
    st: &SafeTensors,
    file: &Path,
    name: &str,
    shape: &[usize],
    device: Device,
) -> Result<Tensor> {
    let t = st
        .tensor(name)
        .map_err(|e| input_error!("{}: no tensor '{name}' ({e})", file.display()))?;
    if t.dtype() != Dtype::F32 || t.shape() != shape {
        return Err(input_error!(
            "{}: tensor '{name}' is {:?} {:?}, the manifest implies F32 {shape:?}",
            file.display(),
            t.dtype(),
            t.shape()
        ));
    }
    let v: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    if v.iter().any(|x| !x.is_finite()) {
        return Err(input_error!(
            "{}: tensor '{name}' holds NaN or infinite values",
            file.display()
        ));
    }
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Ok(Tensor::from_slice(&v).view(dims.as_slice()).to(device))
}

impl SavedModel {
    /// Writes `dir/manifest.json` and `dir/head.safetensors`, both appearing at
    /// once: the folder is built under a temporary name and renamed.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let tensors: Vec<(&str, Vec<usize>, Vec<u8>)> = match &self.head {
            Head::Linear { weight, bias } => vec![
                (
                    "weight",
                    weight.size().iter().map(|&d| d as usize).collect(),
                    f32_bytes(weight)?,
                ),
                (
                    "bias",
                    bias.size().iter().map(|&d| d as usize).collect(),
                    f32_bytes(bias)?,
                ),
            ],
            Head::NearestMean { mean, centroids } => vec![
                (
                    "mean",
                    mean.size().iter().map(|&d| d as usize).collect(),
                    f32_bytes(mean)?,
                ),
                (
                    "centroids",
                    centroids.size().iter().map(|&d| d as usize).collect(),
                    f32_bytes(centroids)?,
                ),
            ],
        };
        let views = tensors
            .iter()
            .map(|(n, shape, data)| Ok((*n, TensorView::new(Dtype::F32, shape.clone(), data)?)))
            .collect::<Result<Vec<_>>>()?;
        let bytes = safetensors::serialize(views, &None)?;
        let manifest = serde_json::to_string_pretty(&self.manifest)? + "\n";

        let parent = crate::atomic::parent_of(dir);
        std::fs::create_dir_all(&parent)
            .map_err(|e| input_error!("{}: cannot create folder: {e}", parent.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(".emo-model-")
            .tempdir_in(&parent)
            .map_err(|e| input_error!("{}: cannot write a model here: {e}", parent.display()))?;
        crate::atomic::set_mode(tmp.path(), 0o755)?;
        crate::atomic::write(&tmp.path().join("head.safetensors"), &bytes)?;
        crate::atomic::write(&tmp.path().join("manifest.json"), manifest.as_bytes())?;
        if dir.exists() {
            if !dir.join("manifest.json").is_file() {
                return Err(input_error!(
                    "{}: exists and is not an emo model; refusing to replace it",
                    dir.display()
                ));
            }
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot replace {}", dir.display()))?;
        }
        std::fs::rename(tmp.keep(), dir)
            .with_context(|| format!("cannot move the model to {}", dir.display()))?;
        Ok(())
    }

    /// Loads and validates a model folder.
    pub fn load(dir: &Path, device: Device) -> Result<SavedModel> {
        if !dir.is_dir() {
            return Err(input_error!("{}: no such model folder", dir.display()));
        }
        let mpath = dir.join("manifest.json");
        let text = std::fs::read_to_string(&mpath)
            .map_err(|e| input_error!("{}: cannot read: {e}", mpath.display()))?;
        let raw: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| input_error!("{}: not valid JSON: {e}", mpath.display()))?;
        if raw.get("format").and_then(|v| v.as_str()) != Some("emo-model") {
            return Err(input_error!(
                "{}: not an emo model manifest",
                mpath.display()
            ));
        }
        match raw.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if (OLDEST_VERSION as u64..=FORMAT_VERSION as u64).contains(&v) => {}
            other => {
                return Err(input_error!(
                    "{}: model format version {} is not supported (this emo reads versions {OLDEST_VERSION} to {FORMAT_VERSION})",
                    mpath.display(),
                    other.map(|v| v.to_string()).unwrap_or_else(|| "missing".into())
                ))
            }
        }
        let manifest: Manifest = serde_json::from_value(raw)
            .map_err(|e| input_error!("{}: malformed manifest: {e}", mpath.display()))?;
        let c = manifest.labels.len();
        let d = manifest.dim;
        if c < 2 || d == 0 || manifest.train_counts.len() != c {
            return Err(input_error!(
                "{}: inconsistent manifest ({c} labels, {} training counts, dimension {d})",
                mpath.display(),
                manifest.train_counts.len()
            ));
        }
        match (manifest.task, &manifest.multi_label) {
            (crate::data::Task::SingleLabel, None) => {}
            (crate::data::Task::MultiLabel, Some(m)) if m.thresholds.len() == c => {}
            (crate::data::Task::MultiLabel, Some(m)) => {
                return Err(input_error!(
                    "{}: inconsistent manifest ({c} labels, {} thresholds)",
                    mpath.display(),
                    m.thresholds.len()
                ))
            }
            (task, _) => {
                return Err(input_error!(
                    "{}: inconsistent manifest (a {} model {} multi_label thresholds)",
                    mpath.display(),
                    task.name(),
                    if task == crate::data::Task::MultiLabel {
                        "without"
                    } else {
                        "with"
                    }
                ))
            }
        }
        let hpath = dir.join("head.safetensors");
        let bytes = std::fs::read(&hpath)
            .map_err(|e| input_error!("{}: cannot read: {e}", hpath.display()))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| {
            input_error!(
                "{}: corrupt or truncated safetensors file ({e})",
                hpath.display()
            )
        })?;
        let head = match manifest.head.as_str() {
            "linear" => Head::Linear {
                weight: tensor(&st, &hpath, "weight", &[c, d], device)?,
                bias: tensor(&st, &hpath, "bias", &[c], device)?,
            },
            "nearest-mean" => Head::NearestMean {
                mean: tensor(&st, &hpath, "mean", &[d], device)?,
                centroids: tensor(&st, &hpath, "centroids", &[c, d], device)?,
            },
            other => {
                return Err(input_error!(
                    "{}: unknown head kind '{other}'",
                    mpath.display()
                ))
            }
        };
        Ok(SavedModel { manifest, head })
    }

    /// Refuses an encoder that differs from the one the head was trained on in
    /// anything that changes the vectors (weights, max length, pooling, Dense
    /// layers, normalisation, casing, prompt, dimension).
    pub fn check_encoder(&self, encoder: &EncoderIdentity, model_dir: &Path) -> Result<()> {
        let want = &self.manifest.encoder;
        if want == encoder {
            return Ok(());
        }
        // By characters: the manifest's value is whatever the file says, and
        // slicing bytes would panic inside a multi-byte character.
        let short = |sha: &str| sha.chars().take(12).collect::<String>();
        let what = if want.weights_sha256 != encoder.weights_sha256 {
            format!(
                "weights sha256 {}… but the model was trained with {}…",
                short(&encoder.weights_sha256),
                short(&want.weights_sha256)
            )
        } else if want.prompt != encoder.prompt {
            let say = |p: &Option<String>| match p {
                Some(p) => format!("prompt {p:?}"),
                None => "no prompt".to_string(),
            };
            format!(
                "{} but the model was trained with {} (--prompt)",
                say(&encoder.prompt),
                say(&want.prompt)
            )
        } else if want.dim != encoder.dim {
            format!(
                "dimension {} but the model expects {}",
                encoder.dim, want.dim
            )
        } else {
            format!("settings {encoder:?} but the model was trained with {want:?}")
        };
        Err(input_error!(
            "{}: the encoder {} has {what}; use the encoder the model was trained with ({})",
            model_dir.display(),
            encoder.name,
            self.manifest.encoder_dir
        ))
    }

    pub fn kind_of(head: &Head) -> &'static str {
        match head {
            Head::Linear { .. } => "linear",
            Head::NearestMean { .. } => "nearest-mean",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::Pooling;

    fn manifest(head: &str, c: usize, d: usize) -> Manifest {
        Manifest {
            format: "emo-model".into(),
            format_version: FORMAT_VERSION,
            emo_version: "test".into(),
            created: "2026-01-01T00:00:00Z".into(),
            labels: (0..c).map(|i| format!("c{i}")).collect(),
            train_counts: vec![10; c],
            method: "lws".into(),
            method_summary: String::new(),
            chosen: serde_json::Value::Null,
            config: crate::train::TrainConfig::default(),
            seed: 0,
            encoder: EncoderIdentity {
                name: "e".into(),
                weights_sha256: "ab".repeat(32),
                max_seq_length: 256,
                pooling: Pooling::Mean,
                normalize: true,
                lower_case: true,
                strip_accents: true,
                dim: d,
                tokenizer_sha256: None,
                pooling_concat: Vec::new(),
                dense: Vec::new(),
                prompt: None,
                pooling_excludes_prompt: false,
            },
            encoder_dir: "e".into(),
            dim: d,
            head: head.into(),
            validation: serde_json::Value::Null,
            device: "cpu".into(),
            precision: Default::default(),
            training_data: "t".into(),
            task: Default::default(),
            multi_label: None,
        }
    }

    /// Saving and loading changes no logit, for both head kinds.
    #[test]
    fn round_trip_keeps_every_logit() {
        tch::manual_seed(1);
        let x = Tensor::randn([20, 8], (tch::Kind::Float, Device::Cpu));
        let heads = [
            (
                "linear",
                Head::Linear {
                    weight: Tensor::randn([5, 8], (tch::Kind::Float, Device::Cpu)),
                    bias: Tensor::randn([5], (tch::Kind::Float, Device::Cpu)),
                },
            ),
            (
                "nearest-mean",
                Head::NearestMean {
                    mean: Tensor::randn([8], (tch::Kind::Float, Device::Cpu)),
                    centroids: Tensor::randn([5, 8], (tch::Kind::Float, Device::Cpu)),
                },
            ),
        ];
        for (kind, head) in heads {
            let before = head.logits(&x).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m");
            SavedModel {
                manifest: manifest(kind, 5, 8),
                head,
            }
            .save(&path)
            .unwrap();
            let loaded = SavedModel::load(&path, Device::Cpu).unwrap();
            assert!(loaded.head.logits(&x).unwrap().equal(&before), "{kind}");
            assert_eq!(loaded.manifest, manifest(kind, 5, 8));
            // Saving again over it works; over a folder that is not a model does not.
            loaded.save(&path).unwrap();
            let other = dir.path().join("other");
            std::fs::create_dir(&other).unwrap();
            assert!(loaded
                .save(&other)
                .unwrap_err()
                .to_string()
                .contains("not an emo model"));
        }
    }
}
