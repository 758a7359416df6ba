//! A saved classifier: the head's tensors in `head.safetensors` and a JSON
//! `manifest.json` saying what they mean — labels in order, the method and its
//! settings, the exact encoder identity, the calibration map — and, in
//! `validation.safetensors`, the head's logits on its validation texts with
//! their labels, from which `emo quantify` learns how the head errs. Loading refuses anything it cannot
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
/// 3 the calibration map and the validation outputs (`validation.safetensors`)
/// that quantification adjusts by. Older folders still load: their
/// probabilities are the head's raw ones and they cannot quantify. An emo that
/// predates version 3 refuses such a folder rather than print uncalibrated
/// probabilities as if they were the model's.
pub const FORMAT_VERSION: u32 = 3;

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
    /// The Hub id and commit of that folder when it was a snapshot of the
    /// Hugging Face cache: how another machine gets the same encoder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder_hub: Option<crate::hub::Source>,
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
    /// The map from the head's logits to the probabilities the model reports,
    /// fitted on validation (absent: none was fitted, or the model predates
    /// calibration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::calibration::Calibrator>,
    /// How many validation texts `validation.safetensors` holds (their logits
    /// and labels): what the adjusted quantification methods learn the head's
    /// errors from. Absent in models saved before quantification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_texts: Option<usize>,
}

/// A saved model's outputs on its validation split: row-major `n × C` logits
/// and whether each text carries each label.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationOutputs {
    pub rows: usize,
    pub logits: Vec<f32>,
    pub truth: Vec<bool>,
}

impl Manifest {
    /// Refuses a manifest that parses but contradicts itself, before anything
    /// reads it: labels are named and distinct (at least two), every field kept
    /// per class has one entry per label (training counts, thresholds, the
    /// co-occurrence matrix), the encoder's dimension is the head's, the head
    /// kind is known, the task agrees with the decision saved, and every
    /// threshold and F1 is a number in [0, 1]. Classify, evaluate and serve
    /// index these fields without checking again, so a folder edited by hand
    /// or damaged stops here with one line naming `path` and the field (exit
    /// 2), not with a panic later. The head's tensors are checked against
    /// `labels` and `dim` when [`SavedModel::load`] reads them.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |field: &str, problem: String| {
            Err(input_error!("{}: {field}: {problem}", path.display()))
        };
        let c = self.labels.len();
        if c < 2 {
            return bad(
                "labels",
                format!("{c} listed; a model has at least 2 labels"),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, label) in self.labels.iter().enumerate() {
            if label.trim().is_empty() {
                return bad(&format!("labels[{i}]"), "is empty".into());
            }
            if !seen.insert(label.as_str()) {
                return bad(
                    &format!("labels[{i}]"),
                    format!("{label:?} is listed twice"),
                );
            }
        }
        if self.train_counts.len() != c {
            return bad(
                "train_counts",
                format!("{} counts for {c} labels", self.train_counts.len()),
            );
        }
        if self.dim == 0 {
            return bad("dim", "is 0".into());
        }
        if self.encoder.dim != self.dim {
            return bad(
                "encoder.dim",
                format!("is {} but the head's dim is {}", self.encoder.dim, self.dim),
            );
        }
        if !matches!(self.head.as_str(), "linear" | "nearest-mean") {
            return bad(
                "head",
                format!("unknown head kind {:?} (linear or nearest-mean)", self.head),
            );
        }
        // After the task's own fields, which say what the model is.
        let calibration = || -> Result<()> {
            if let Some(m) = &self.calibration {
                m.validate(self.task, c)
                    .or_else(|problem| bad("calibration", problem))?;
            }
            if self.validation_texts == Some(0) {
                return bad("validation_texts", "is 0".into());
            }
            Ok(())
        };
        let multi = match (self.task, &self.multi_label) {
            (crate::data::Task::SingleLabel, None) => return calibration(),
            (crate::data::Task::MultiLabel, Some(m)) => m,
            (crate::data::Task::MultiLabel, None) => {
                return bad(
                    "multi_label",
                    "missing; a multi-label model needs its thresholds".into(),
                )
            }
            (crate::data::Task::SingleLabel, Some(_)) => {
                return bad(
                    "multi_label",
                    "present, but task says single-label (which has no thresholds)".into(),
                )
            }
        };
        if multi.thresholds.len() != c {
            return bad(
                "multi_label.thresholds",
                format!("{} thresholds for {c} labels", multi.thresholds.len()),
            );
        }
        for (i, t) in multi.thresholds.iter().enumerate() {
            for (field, v) in [
                ("value", f64::from(t.value)),
                ("validation_f1", t.validation_f1),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return bad(
                        &format!("multi_label.thresholds[{i}].{field}"),
                        format!("{v} is not a number from 0 to 1"),
                    );
                }
            }
        }
        let rows = multi.cooccurrence.len();
        if rows != c {
            return bad(
                "multi_label.cooccurrence",
                format!("{rows} rows; {c} labels need a {c}×{c} matrix"),
            );
        }
        if let Some((i, row)) = multi
            .cooccurrence
            .iter()
            .enumerate()
            .find(|(_, row)| row.len() != c)
        {
            return bad(
                "multi_label.cooccurrence",
                format!(
                    "row {i} has {} entries; {c} labels need a {c}×{c} matrix",
                    row.len()
                ),
            );
        }
        let [n, none, several] = multi.train_texts;
        if none.checked_add(several).is_none_or(|k| k > n) {
            return bad(
                "multi_label.train_texts",
                format!("{none} texts with no label and {several} with several, of {n} in all"),
            );
        }
        calibration()
    }

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
    /// What `validation.safetensors` holds (models since format 3).
    pub validation: Option<ValidationOutputs>,
}

fn f32_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let v: Vec<f32> = Vec::try_from(
        t.to_device(Device::Cpu)
            .to_kind(tch::Kind::Float)
            .flatten(0, -1),
    )?;
    Ok(v.iter().flat_map(|f| f.to_le_bytes()).collect())
}

/// The tensor `name` of `file`, which must be F32 of `shape`; `why` names
/// the manifest fields that give it that shape.
fn tensor(
    st: &SafeTensors,
    file: &Path,
    name: &str,
    (shape, why): (&[usize], &str),
    device: Device,
) -> Result<Tensor> {
    let t = st
        .tensor(name)
        .map_err(|e| input_error!("{}: no tensor '{name}' ({e})", file.display()))?;
    if t.dtype() != Dtype::F32 || t.shape() != shape {
        return Err(input_error!(
            "{}: tensor '{name}' is {:?} {:?}, not F32 {shape:?} (manifest.json: {why})",
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

/// `dir/validation.safetensors`: `rows × c` logits and 0/1 labels.
fn read_validation(dir: &Path, rows: usize, c: usize) -> Result<ValidationOutputs> {
    let path = dir.join("validation.safetensors");
    let bytes =
        std::fs::read(&path).map_err(|e| input_error!("{}: cannot read: {e}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        input_error!(
            "{}: corrupt or truncated safetensors file ({e})",
            path.display()
        )
    })?;
    let why = format!("validation_texts {rows}, {c} labels");
    let read = |name: &str| -> Result<Vec<f32>> {
        Ok(Vec::<f32>::try_from(
            tensor(&st, &path, name, (&[rows, c], &why), Device::Cpu)?.flatten(0, -1),
        )?)
    };
    let logits = read("logits")?;
    let truth = read("truth")?;
    if truth.iter().any(|&t| t != 0.0 && t != 1.0) {
        return Err(input_error!(
            "{}: tensor 'truth' holds values other than 0 and 1",
            path.display()
        ));
    }
    Ok(ValidationOutputs {
        rows,
        logits,
        truth: truth.into_iter().map(|t| t == 1.0).collect(),
    })
}

impl SavedModel {
    /// Writes `dir/manifest.json`, `dir/head.safetensors` and (when kept)
    /// `dir/validation.safetensors`, all appearing at once: the folder is built under a temporary name and renamed.
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
        let validation = match &self.validation {
            None => None,
            Some(v) => {
                let c = self.manifest.labels.len();
                let logits: Vec<u8> = v.logits.iter().flat_map(|f| f.to_le_bytes()).collect();
                let truth: Vec<u8> = v
                    .truth
                    .iter()
                    .flat_map(|&t| f32::from(u8::from(t)).to_le_bytes())
                    .collect();
                Some(safetensors::serialize(
                    [
                        (
                            "logits",
                            TensorView::new(Dtype::F32, vec![v.rows, c], &logits)?,
                        ),
                        (
                            "truth",
                            TensorView::new(Dtype::F32, vec![v.rows, c], &truth)?,
                        ),
                    ],
                    &None,
                )?)
            }
        };

        let parent = crate::atomic::parent_of(dir);
        std::fs::create_dir_all(&parent)
            .map_err(|e| input_error!("{}: cannot create folder: {e}", parent.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(".emo-model-")
            .tempdir_in(&parent)
            .map_err(|e| input_error!("{}: cannot write a model here: {e}", parent.display()))?;
        crate::atomic::set_mode(tmp.path(), 0o755)?;
        crate::atomic::write(&tmp.path().join("head.safetensors"), &bytes)?;
        if let Some(v) = &validation {
            crate::atomic::write(&tmp.path().join("validation.safetensors"), v)?;
        }
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
        manifest.validate(&mpath)?;
        let (c, d) = (manifest.labels.len(), manifest.dim);
        let labels = format!("{c} labels");
        let dim = format!("dim {d}");
        let both = format!("{labels}, {dim}");
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
                weight: tensor(&st, &hpath, "weight", (&[c, d], &both), device)?,
                bias: tensor(&st, &hpath, "bias", (&[c], &labels), device)?,
            },
            "nearest-mean" => Head::NearestMean {
                mean: tensor(&st, &hpath, "mean", (&[d], &dim), device)?,
                centroids: tensor(&st, &hpath, "centroids", (&[c, d], &both), device)?,
            },
            other => {
                return Err(input_error!(
                    "{}: head: unknown head kind {other:?}",
                    mpath.display()
                ))
            }
        };
        let validation = match manifest.validation_texts {
            None => None,
            Some(n) => Some(read_validation(dir, n, c)?),
        };
        Ok(SavedModel {
            manifest,
            head,
            validation,
        })
    }

    /// Probabilities of `logits` (`[n, C]`) as the model reports them,
    /// row-major: through its calibration map, or the head's own softmax or
    /// sigmoids when it has none or `raw` is asked for.
    pub fn probabilities(&self, logits: &Tensor, raw: bool) -> Result<Vec<f64>> {
        let z: Vec<f64> = Vec::<f32>::try_from(
            logits
                .to_device(Device::Cpu)
                .to_kind(tch::Kind::Float)
                .flatten(0, -1),
        )?
        .into_iter()
        .map(f64::from)
        .collect();
        let map = if raw {
            None
        } else {
            self.manifest.calibration.as_ref()
        };
        // Reported at f32's precision, the logits' own: a logit one ulp off
        // (the same text embedded in another batch) must not change an answer.
        Ok(crate::calibration::probabilities(
            map,
            self.manifest.task,
            &z,
            self.manifest.labels.len(),
        )
        .into_iter()
        .map(|p| f64::from(p as f32))
        .collect())
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
                layers: None,
                vector_precision: None,
            },
            encoder_dir: "e".into(),
            encoder_hub: None,
            dim: d,
            head: head.into(),
            validation: serde_json::Value::Null,
            device: "cpu".into(),
            precision: Default::default(),
            training_data: "t".into(),
            task: Default::default(),
            multi_label: None,
            calibration: None,
            validation_texts: None,
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
            let mut m = manifest(kind, 5, 8);
            m.validation_texts = Some(2);
            let validation = ValidationOutputs {
                rows: 2,
                logits: (0..10).map(|i| i as f32 - 4.5).collect(),
                truth: (0..10).map(|i| i % 5 == i / 5).collect(),
            };
            SavedModel {
                manifest: m.clone(),
                head,
                validation: Some(validation.clone()),
            }
            .save(&path)
            .unwrap();
            let loaded = SavedModel::load(&path, Device::Cpu).unwrap();
            assert!(loaded.head.logits(&x).unwrap().equal(&before), "{kind}");
            assert_eq!(loaded.manifest, m);
            assert_eq!(loaded.validation.as_ref(), Some(&validation));
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

    /// A multi-label version of [`manifest`] that passes validation.
    fn multi(mut m: Manifest) -> Manifest {
        let c = m.labels.len();
        let t = crate::decision::Threshold {
            value: 0.5,
            validation_f1: 0.5,
            validation_positives: 1,
            source: Default::default(),
        };
        m.task = crate::data::Task::MultiLabel;
        m.multi_label = Some(MultiLabelDecision {
            thresholds: vec![t; c],
            when_none: Default::default(),
            train_texts: [10, 2, 3],
            cooccurrence: vec![vec![1; c]; c],
        });
        m
    }

    /// Every field indexed per class or per dimension is checked, and the
    /// refusal is one line that names the manifest and the field.
    #[test]
    fn validate_names_the_file_and_the_field() {
        type Edit = fn(&mut Manifest);
        fn ml(m: &mut Manifest) -> &mut MultiLabelDecision {
            m.multi_label.as_mut().unwrap()
        }
        let cases: [(&str, Edit); 17] = [
            ("labels: 1 listed", |m| m.labels.truncate(1)),
            ("labels[1]: is empty", |m| m.labels[1] = " ".into()),
            ("labels[2]: \"c0\" is listed twice", |m| {
                m.labels[2] = "c0".into()
            }),
            ("train_counts: 2 counts for 3 labels", |m| {
                m.train_counts.pop();
            }),
            ("dim: is 0", |m| {
                m.dim = 0;
                m.encoder.dim = 0
            }),
            ("encoder.dim: is 5 but the head's dim is 4", |m| {
                m.encoder.dim = 5
            }),
            ("head: unknown head kind \"tree\"", |m| {
                m.head = "tree".into()
            }),
            ("multi_label: missing", |m| m.multi_label = None),
            ("multi_label: present, but task says single-label", |m| {
                m.task = crate::data::Task::SingleLabel
            }),
            ("multi_label.thresholds: 2 thresholds for 3 labels", |m| {
                ml(m).thresholds.pop();
            }),
            (
                "multi_label.thresholds[1].value: NaN is not a number from 0 to 1",
                |m| ml(m).thresholds[1].value = f32::NAN,
            ),
            (
                "multi_label.thresholds[2].value: inf is not a number from 0 to 1",
                |m| ml(m).thresholds[2].value = f32::INFINITY,
            ),
            (
                "multi_label.thresholds[0].value: -0.5 is not a number from 0 to 1",
                |m| ml(m).thresholds[0].value = -0.5,
            ),
            (
                "multi_label.thresholds[0].validation_f1: 1.5 is not a number from 0 to 1",
                |m| ml(m).thresholds[0].validation_f1 = 1.5,
            ),
            (
                "multi_label.cooccurrence: 2 rows; 3 labels need a 3×3 matrix",
                |m| {
                    ml(m).cooccurrence.pop();
                },
            ),
            (
                "multi_label.cooccurrence: row 1 has 4 entries; 3 labels need a 3×3 matrix",
                |m| ml(m).cooccurrence[1].push(0),
            ),
            ("multi_label.train_texts: 9 texts with no label", |m| {
                ml(m).train_texts = [10, 9, 2]
            }),
        ];
        let path = Path::new("/models/m/manifest.json");
        multi(manifest("linear", 3, 4)).validate(path).unwrap();
        manifest("nearest-mean", 3, 4).validate(path).unwrap();
        for (needle, edit) in cases {
            let mut m = multi(manifest("linear", 3, 4));
            edit(&mut m);
            let err = m.validate(path).unwrap_err();
            let line = err.to_string();
            assert_eq!(crate::error::exit_code(&err), 2, "{line}");
            assert!(
                line.starts_with("/models/m/manifest.json: ") && line.contains(needle),
                "expected {needle:?} in {line:?}"
            );
            assert!(!line.contains('\n'), "{line}");
        }
    }

    /// A head whose rows disagree with the labels is refused naming both
    /// files and the field.
    #[test]
    fn a_head_that_disagrees_with_the_labels_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        SavedModel {
            manifest: manifest("linear", 3, 4),
            head: Head::Linear {
                weight: Tensor::zeros([4, 4], (tch::Kind::Float, Device::Cpu)),
                bias: Tensor::zeros([4], (tch::Kind::Float, Device::Cpu)),
            },
            validation: None,
        }
        .save(&path)
        .unwrap();
        let err = SavedModel::load(&path, Device::Cpu).err().unwrap();
        let line = err.to_string();
        assert_eq!(crate::error::exit_code(&err), 2);
        assert!(
            line.ends_with(
                "head.safetensors: tensor 'weight' is F32 [4, 4], not F32 [3, 4] (manifest.json: 3 labels, dim 4)"
            ),
            "{line}"
        );
    }
}
