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
use crate::model::SavedModel;
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
/// loads must also compute logits of the promised shape and be checked
/// against an encoder, as `classify` does next (valid seeds name the encoder
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
    let model = SavedModel::load(dir.path(), tch::Device::Cpu)?;
    let (c, d) = (model.manifest.labels.len(), model.manifest.dim);
    let x = tch::Tensor::zeros([2, d as i64], (tch::Kind::Float, tch::Device::Cpu));
    assert_eq!(model.head.logits(&x)?.size(), [2, c as i64]);
    model.check_encoder(&encoder_identity(d), dir.path())
}
