//! Entry points for fuzzing every reader of bytes that come from outside: the
//! user's tables, the named datasets, the embedding cache and saved models.
//!
//! Each takes arbitrary bytes, lays them out as the files that reader expects
//! (in a fresh scratch folder) and calls it. Returning `Ok` or `Err` is correct;
//! a panic, a hang, or a broken invariant asserted here is a bug. The cargo-fuzz
//! targets in `fuzz/` and `tests/fuzz_regressions.rs` both call these, so a
//! crashing input the fuzzer saves replays through exactly the same code under
//! `cargo test`.

use crate::data::table::{read_rows, Column, Format, TableSpec};
use crate::data::{named, BadRows};
use crate::embed::cache::Cache;
use crate::embed::{EncoderIdentity, Pooling};
use crate::model::{Manifest, SavedModel};
use anyhow::{anyhow, Result};
use sha2::{Digest, Sha256};
use std::path::Path;
use tempfile::TempDir;

/// A folder that disappears with the input; in memory when `/dev/shm` exists,
/// so that writing a file per input does not touch a disk.
fn scratch() -> Result<TempDir> {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    Ok(tempfile::Builder::new()
        .prefix("emo-fuzz-")
        .tempdir_in(base)?)
}

/// The first byte chooses how the file is named and read, the rest is the file:
/// bits 0-2 the extension (the last one unknown), bit 3 `--skip-bad-rows`,
/// bit 4 with labels, bit 5 no header, bit 6 columns by index, bit 7 label
/// before text.
pub fn table(data: &[u8]) -> Result<()> {
    let Some((&opts, body)) = data.split_first() else {
        return Ok(());
    };
    const EXTS: [&str; 8] = ["csv", "tsv", "tab", "jsonl", "ndjson", "txt", "TEXT", "dat"];
    let dir = scratch()?;
    let path = dir
        .path()
        .join(format!("input.{}", EXTS[usize::from(opts & 7)]));
    std::fs::write(&path, body)?;
    let (text_at, label_at) = if opts & 0x80 == 0 { (0, 1) } else { (1, 0) };
    let col = |name: &str, at: usize| {
        if opts & 0x40 != 0 {
            Column::Index(at)
        } else {
            Column::Name(name.into())
        }
    };
    let spec = TableSpec {
        format: None,
        text_col: col("text", text_at),
        label_col: (opts & 0x10 != 0).then(|| col("label", label_at)),
        has_header: opts & 0x20 == 0,
        id_col: (opts & 0x80 != 0).then(|| col("id", 0)),
        id_required: false,
        group_col: None,
        labels: Default::default(),
    };
    // Every input is read both ways, single- and multi-label, so that the label
    // parsers of both see it without changing what the option byte means. The
    // seeds are single-label files: only that reading's verdict is returned (a
    // multi-label reading may refuse them, e.g. a number where a list belongs),
    // while the multi-label one must not panic either.
    let multi = TableSpec {
        labels: crate::data::table::LabelMode {
            multi: true,
            ..Default::default()
        },
        ..spec.clone()
    };
    let _ = read_table(&path, &multi, opts);
    read_table(&path, &spec, opts)
}

fn read_table(path: &std::path::Path, spec: &TableSpec, opts: u8) -> Result<()> {
    use crate::data::table::RawLabel;
    let mut bad = BadRows::skipping(opts & 0x08 != 0);
    let rows = read_rows(path, spec, &mut bad)?;
    bad.summary();
    // Plain text has no labels to ask for.
    let labelled = spec.label_col.is_some() && Format::from_path(path)? != Format::Txt;
    for row in rows {
        assert!(!row.text.trim().is_empty(), "blank text accepted: {row:?}");
        assert_eq!(row.label.is_some(), labelled, "{row:?}");
        match &row.label {
            Some(RawLabel::Set(names)) => {
                assert!(spec.labels.multi, "{row:?}");
                for (i, n) in names.iter().enumerate() {
                    assert!(!n.trim().is_empty(), "empty label accepted: {row:?}");
                    assert!(!names[..i].contains(n), "repeated label accepted: {row:?}");
                }
            }
            Some(RawLabel::One(l)) => {
                assert!(!spec.labels.multi, "{row:?}");
                assert!(!l.is_empty() && !l.contains(','), "{row:?}");
            }
            None => {}
        }
    }
    Ok(())
}

/// The first byte picks the dataset; the rest is split at NUL bytes into its
/// files, most fuzzed first. Files the input does not reach get a small valid
/// default, so that one part alone already reaches the parser behind it.
pub fn named(data: &[u8]) -> Result<()> {
    let Some((&pick, body)) = data.split_first() else {
        return Ok(());
    };
    const TSV: &[u8] = b"so happy for you\t2\tc1\nugh, again?\t0,1\tc2\n";
    const CARER: &[u8] = b"text;label\ni feel fine today;joy\n";
    let name = named::NAMES[usize::from(pick) % named::NAMES.len()];
    let (folder, files): (&str, &[(&str, &[u8])]) = if name == "carer" {
        let files: &[(&str, &[u8])] = &[
            ("train.txt", CARER),
            ("val.txt", CARER),
            ("test.txt", CARER),
        ];
        ("carer", files)
    } else {
        let files: &[(&str, &[u8])] = &[
            ("train.tsv", TSV),
            ("emotions.txt", b"anger\nannoyance\njoy\nfear\nneutral\n"),
            (
                "ekman_mapping.json",
                br#"{"anger": ["anger", "annoyance"], "joy": ["joy"], "fear": ["fear"]}"#,
            ),
            ("dev.tsv", TSV),
            ("test.tsv", TSV),
        ];
        ("goemotions", files)
    };
    let root = scratch()?;
    let dir = root.path().join(folder);
    std::fs::create_dir(&dir)?;
    let mut parts = body.splitn(files.len(), |&b| b == 0);
    for (file, default) in files {
        std::fs::write(dir.join(file), parts.next().unwrap_or(default))?;
    }
    let dataset = named::load(name, root.path())?;
    for (split, s) in &dataset.splits {
        assert_eq!(s.texts.len(), s.labels.len(), "{split}");
        assert_eq!(s.texts.len(), s.ids.len(), "{split}");
        assert!(
            s.labels.iter().all(|&y| y < dataset.classes.len()),
            "{split}"
        );
    }
    Ok(())
}

/// The encoder the fuzzed cache and models belong to (and unit tests' stand-in
/// identity: no real encoder has these weights).
pub fn encoder_identity(dim: usize) -> EncoderIdentity {
    EncoderIdentity {
        name: "fuzz".into(),
        weights_sha256: "00".repeat(32),
        max_seq_length: 8,
        pooling: Pooling::Mean,
        normalize: false,
        lower_case: false,
        strip_accents: false,
        dim,
        tokenizer_sha256: None,
        pooling_concat: Vec::new(),
        dense: Vec::new(),
        prompt: None,
        pooling_excludes_prompt: false,
        layers: None,
        vector_precision: None,
    }
}

/// The cache target's vector size: small, so that valid shards are short
/// enough for the fuzzer to mutate.
pub const CACHE_DIM: usize = 4;

/// The input is one shard file. A shard the cache rejects must be removed; one
/// it accepts must serve only what its checksum vouches for. `Err` means the
/// shard was rejected.
pub fn cache(data: &[u8]) -> Result<()> {
    let root = scratch()?;
    let identity = encoder_identity(CACHE_DIM);
    let dir = root.path().join(identity.cache_key());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("shard.safetensors");
    std::fs::write(&path, data)?;
    let cache = Cache::open(root.path(), &identity)?;
    if !cache.warnings.is_empty() {
        assert!(!path.exists(), "a rejected shard was left in place");
        return Err(anyhow!(cache.warnings.join("; ")));
    }
    check_accepted(&cache, data);
    Ok(())
}

/// Reads an accepted shard again, whole and with checked arithmetic, apart from
/// the cache's streaming reader: keys U8 [n, 32] and vectors F32 [n, dim] lie
/// inside the file, the metadata holds the sha256 of both, and every key is
/// served with its own row (the first, when a key repeats).
fn check_accepted(cache: &Cache, data: &[u8]) {
    let header_len = u64::from_le_bytes(data[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&data[8..8 + header_len]).expect("accepted header is JSON");
    let body = &data[8 + header_len..];
    let tensor = |name: &str, width: usize| -> (usize, &[u8]) {
        let t = &header[name];
        let rows = t["shape"][0].as_u64().expect("rows") as usize;
        let size = rows
            .checked_mul(width)
            .expect("accepted a size that overflows");
        let at = |i: usize| t["data_offsets"][i].as_u64().expect("offset") as usize;
        let bytes = body
            .get(at(0)..at(1))
            .expect("accepted a tensor outside the file");
        assert_eq!(bytes.len(), size, "accepted {name} of the wrong size");
        (rows, bytes)
    };
    let (n, keys) = tensor("keys", 32);
    let (n_vectors, vectors) = tensor("embeddings", CACHE_DIM * 4);
    assert_eq!(n, n_vectors, "accepted {n} keys for {n_vectors} vectors");
    let mut h = Sha256::new();
    h.update(keys);
    h.update(vectors);
    assert_eq!(
        header["__metadata__"]["checksum"].as_str(),
        Some(hex::encode(h.finalize()).as_str()),
        "accepted a shard whose checksum does not match"
    );
    let mut seen = std::collections::HashSet::new();
    let mut out = [0f32; CACHE_DIM];
    for (key, row) in keys
        .chunks_exact(32)
        .zip(vectors.chunks_exact(CACHE_DIM * 4))
    {
        let key: [u8; 32] = key.try_into().expect("32 bytes");
        if seen.insert(key) {
            assert!(
                cache.read(&key, &mut out).expect("readable"),
                "key not served"
            );
            let served: Vec<u8> = out.iter().flat_map(|f| f.to_le_bytes()).collect();
            assert_eq!(served, row, "served a vector other than the stored one");
        }
    }
    assert_eq!(
        cache.len(),
        seen.len(),
        "serves keys the shard does not hold"
    );
}

/// Separates `manifest.json` from `head.safetensors` in a model input: 0xFF
/// never occurs in UTF-8, so a manifest needs no escaping.
pub const MODEL_SEPARATOR: u8 = 0xFF;

/// The input is `manifest.json`, then [`MODEL_SEPARATOR`] and
/// `head.safetensors` (without one, the head file is missing). A model that
/// loads goes through [`check_loaded`]: everything emo does with a model's
/// fields before it needs the encoder (valid seeds name the encoder
/// [`encoder_identity`] of their dimension; mutants mostly do not).
pub fn model(data: &[u8]) -> Result<()> {
    let dir = scratch()?;
    let (manifest, head) = match data.iter().position(|&b| b == MODEL_SEPARATOR) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    std::fs::write(dir.path().join("manifest.json"), manifest)?;
    if let Some(head) = head {
        std::fs::write(dir.path().join("head.safetensors"), head)?;
    }
    check_loaded(dir.path())
}

/// Loads the model in `dir` and, when it loads, holds it to what
/// [`crate::model::Manifest::validate`] promises the code after it, which
/// indexes these fields unchecked (classify, evaluate's reports, serve):
/// labels distinct and named, one training count, threshold and
/// co-occurrence row and column per label, thresholds in [0, 1], the head
/// `[labels, dim]` and the encoder's dimension `dim`. Then answers two
/// texts' worth of zero vectors every way classify and serve do, and checks
/// the encoder as classify does next.
pub fn check_loaded(dir: &Path) -> Result<()> {
    use crate::data::Task;
    use crate::decision::WhenNonePasses;
    use crate::predict::{Answer, Decider};
    let model = SavedModel::load(dir, tch::Device::Cpu)?;
    let m = &model.manifest;
    let (c, d) = (m.labels.len(), m.dim);
    assert!(c >= 2, "accepted {c} labels");
    for (i, l) in m.labels.iter().enumerate() {
        assert!(!l.trim().is_empty(), "accepted an empty label");
        assert!(!m.labels[..i].contains(l), "accepted label {l:?} twice");
    }
    assert_eq!(m.train_counts.len(), c, "accepted train_counts");
    assert_eq!((model.head.n_classes(), model.head.dim()), (c, d), "head");
    assert_eq!(m.encoder.dim, d, "accepted encoder.dim");
    assert_eq!(m.multi_label.is_some(), m.task == Task::MultiLabel, "task");
    if let Some(ml) = &m.multi_label {
        assert_eq!(ml.thresholds.len(), c, "accepted thresholds");
        for t in &ml.thresholds {
            assert!((0.0..=1.0).contains(&t.value), "accepted threshold {t:?}");
            assert!((0.0..=1.0).contains(&t.validation_f1), "accepted {t:?}");
        }
        assert_eq!(ml.cooccurrence.len(), c, "accepted cooccurrence");
        assert!(
            ml.cooccurrence.iter().all(|row| row.len() == c),
            "cooccurrence"
        );
        let [n, none, several] = ml.train_texts;
        assert!(
            none.checked_add(several).is_some_and(|k| k <= n),
            "train_texts"
        );
    }
    let x = tch::Tensor::zeros([2, d as i64], (tch::Kind::Float, tch::Device::Cpu));
    let logits = model.head.logits(&x)?;
    assert_eq!(logits.size(), [2, c as i64]);
    let rules = [None, Some(WhenNonePasses::TopLabel)];
    for (top_k, when_none) in [0, 1, c, c + 1]
        .into_iter()
        .flat_map(|k| rules.map(|r| (k, r)))
    {
        for answer in Decider::new(&model, top_k, when_none, false).answers(&logits)? {
            let (listed, top) = match &answer {
                Answer::Single { top } => (top, top),
                Answer::Multi { labels, top } => (labels, top),
            };
            assert!(
                listed
                    .iter()
                    .chain(top)
                    .all(|s| m.labels.contains(&s.label)),
                "answered a label the model does not have: {answer:?}"
            );
            answer.to_json(top_k);
        }
    }
    model.check_encoder(&encoder_identity(d), dir)
}

/// The model the `manifest` target edits: labels joy, anger and fear,
/// dimension 4, the encoder [`encoder_identity`]; multi-label (thresholds,
/// co-occurrence and all) unless `single`; `head` "linear" or "nearest-mean".
pub fn sample_manifest(head: &str, single: bool) -> Manifest {
    use crate::decision::{Threshold, ThresholdSource, WhenNonePasses};
    use crate::model::{MultiLabelDecision, FORMAT_VERSION};
    let threshold = |value: f32| Threshold {
        value,
        validation_f1: 0.5,
        validation_positives: 2,
        source: ThresholdSource::Validation,
    };
    Manifest {
        format: "emo-model".into(),
        format_version: FORMAT_VERSION,
        emo_version: "fuzz-seed".into(),
        created: "2026-01-01T00:00:00Z".into(),
        labels: ["joy", "anger", "fear"].map(String::from).to_vec(),
        train_counts: vec![5, 3, 1],
        method: if single { "ib" } else { "bce" }.into(),
        method_summary: String::new(),
        chosen: serde_json::Value::Null,
        config: crate::train::TrainConfig::default(),
        seed: 1,
        encoder: encoder_identity(4),
        encoder_dir: "fuzz".into(),
        encoder_hub: None,
        dim: 4,
        head: head.into(),
        validation: serde_json::Value::Null,
        training_data: "fuzz".into(),
        device: "cpu".into(),
        precision: Default::default(),
        task: if single {
            crate::data::Task::SingleLabel
        } else {
            crate::data::Task::MultiLabel
        },
        multi_label: (!single).then(|| MultiLabelDecision {
            thresholds: vec![threshold(0.5), threshold(0.3), threshold(0.7)],
            when_none: WhenNonePasses::NoEmotion,
            train_texts: [8, 1, 2],
            cooccurrence: vec![vec![5, 1, 1], vec![1, 3, 0], vec![1, 0, 1]],
        }),
        calibration: Some(if single {
            crate::calibration::Calibrator::Temperature { t: 1.5 }
        } else {
            crate::calibration::Calibrator::Platt {
                a: vec![-1.2, -0.8, -1.0],
                b: vec![0.1, -0.2, 0.0],
            }
        }),
        validation_texts: None,
    }
}

/// The fields the `manifest` target edits; `#` is an index the edit picks.
const MANIFEST_PATHS: [&str; 34] = [
    "/labels",
    "/labels/#",
    "/train_counts",
    "/train_counts/#",
    "/dim",
    "/encoder/dim",
    "/head",
    "/task",
    "/multi_label",
    "/multi_label/thresholds",
    "/multi_label/thresholds/#",
    "/multi_label/thresholds/#/value",
    "/multi_label/thresholds/#/validation_f1",
    "/multi_label/thresholds/#/validation_positives",
    "/multi_label/cooccurrence",
    "/multi_label/cooccurrence/#",
    "/multi_label/cooccurrence/#/#",
    "/multi_label/train_texts",
    "/multi_label/train_texts/#",
    "/multi_label/when_none",
    "/format_version",
    "/encoder/weights_sha256",
    "/encoder/prompt",
    "/method",
    "/chosen",
    "/validation",
    "/config/batch_size",
    "/precision",
    "/seed",
    "/calibration",
    "/calibration/t",
    "/calibration/a/#",
    "/calibration/kind",
    "/validation_texts",
];

/// A value that breaks something somewhere: bounds of counts and
/// probabilities, numbers an f32 or a usize cannot hold, empty and
/// repeated names, the wrong types.
fn awkward_value(pick: u8) -> serde_json::Value {
    use serde_json::json;
    match pick % 16 {
        0 => json!(0),
        1 => json!(1),
        2 => json!(2),
        3 => json!(-1),
        4 => json!(0.5),
        5 => json!(1.5),
        6 => json!(1e39),
        7 => json!(-1e39),
        8 => json!(u64::MAX),
        9 => json!(1e-45),
        10 => json!(""),
        11 => json!("joy"),
        12 => serde_json::Value::Null,
        13 => json!([]),
        14 => json!([0, 1]),
        _ => json!(" \u{e9}\u{1F600}"),
    }
}

/// One edit of the manifest's JSON: `path` picks a field of
/// [`MANIFEST_PATHS`] (`at` its `#`s), `action` what happens to it (removed,
/// replaced by an [`awkward_value`], an array grown by a copy of one of its
/// elements or a new one, cut short, set to the number `arg`). An edit
/// whose field is missing does nothing.
fn edit_manifest(v: &mut serde_json::Value, [path, at, action, arg]: [u8; 4]) {
    use serde_json::{json, Value};
    let path = MANIFEST_PATHS[usize::from(path) % MANIFEST_PATHS.len()];
    // Two `#`s take the low and high nibble; most labels are 0 to 2, so most
    // indices land, and the rest reach one past the end.
    let mut nibbles = [usize::from(at & 15) % 4, usize::from(at >> 4) % 4].into_iter();
    let path: String = path
        .split('/')
        .map(|p| match p {
            "#" => nibbles.next().unwrap_or(0).to_string(),
            p => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    let (parent, key) = path.rsplit_once('/').unwrap_or(("", ""));
    match action % 5 {
        0 => match v.pointer_mut(parent) {
            Some(Value::Array(a)) => {
                if let Ok(i) = key.parse::<usize>() {
                    if i < a.len() {
                        a.remove(i);
                    }
                }
            }
            Some(Value::Object(o)) => {
                o.remove(key);
            }
            _ => {}
        },
        1 => {
            if let Some(t) = v.pointer_mut(&path) {
                *t = awkward_value(arg);
            }
        }
        2 => {
            if let Some(Value::Array(a)) = v.pointer_mut(&path) {
                let new = match a.get(usize::from(arg) % a.len().max(1)) {
                    Some(Value::String(s)) if arg & 0x80 != 0 => json!(format!("{s}{arg}")),
                    Some(e) => e.clone(),
                    None => json!(arg),
                };
                a.push(new);
            }
        }
        3 => {
            if let Some(Value::Array(a)) = v.pointer_mut(&path) {
                let n = usize::from(arg) % (a.len() + 1);
                a.truncate(n);
            }
        }
        _ => {
            if let Some(t) = v.pointer_mut(&path) {
                *t = json!(arg);
            }
        }
    }
}

/// A structured mutation of a valid model: the first byte picks the model
/// ([`sample_manifest`]: bit 0 single-label, bit 1 a nearest-mean head; bit 2
/// keeps the head at the sample's 3 labels × 4 dimensions, else it follows
/// the edited `labels` and `dim` where they are small), every further 4 bytes
/// are one [`edit_manifest`]. Raw bytes (the `model` target) seldom keep a
/// manifest's JSON valid while changing what it says; edits of the parsed
/// JSON reach every check of [`crate::model::Manifest::validate`] and the
/// code behind it ([`check_loaded`]).
pub fn manifest(data: &[u8]) -> Result<()> {
    let (opts, edits) = data.split_first().map_or((0, &[][..]), |(&o, e)| (o, e));
    let kind = if opts & 2 == 0 {
        "linear"
    } else {
        "nearest-mean"
    };
    let mut v = serde_json::to_value(sample_manifest(kind, opts & 1 != 0))?;
    for edit in edits.chunks_exact(4) {
        edit_manifest(&mut v, edit.try_into().expect("4 bytes"));
    }
    let (c, d) = if opts & 4 != 0 {
        (3, 4)
    } else {
        let c = v["labels"].as_array().map_or(3, Vec::len);
        let d = v["dim"].as_u64().filter(|&d| d <= 64).unwrap_or(4) as usize;
        (c.min(64), d)
    };
    let values = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|i| ((i * 37 % 11) as f32 / 10.0 - 0.5).to_le_bytes())
            .collect()
    };
    let tensors = if kind == "linear" {
        [("weight", vec![c, d]), ("bias", vec![c])]
    } else {
        [("mean", vec![d]), ("centroids", vec![c, d])]
    };
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, shape)| values(shape.iter().product()))
        .collect();
    let views = tensors
        .iter()
        .zip(&data)
        .map(|((name, shape), bytes)| {
            Ok((
                *name,
                safetensors::tensor::TensorView::new(
                    safetensors::tensor::Dtype::F32,
                    shape.clone(),
                    bytes,
                )?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let dir = scratch()?;
    std::fs::write(
        dir.path().join("head.safetensors"),
        safetensors::serialize(views, &None)?,
    )?;
    std::fs::write(
        dir.path().join("manifest.json"),
        serde_json::to_vec_pretty(&v)?,
    )?;
    check_loaded(dir.path())
}
