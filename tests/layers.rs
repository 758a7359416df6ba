//! `--layers` and `--pooling`: vectors from other hidden states than the last,
//! held to Hugging Face's `output_hidden_states` pooled by the folder's own
//! sentence-transformers Pooling, or one of another mode
//! (scripts/layers_reference.py), at cosine ≥ 0.99999 for every layer (each
//! concatenated block on its own); the last layer unchanged to the bit; the
//! choice in the cache key and in a saved model, which classify, evaluate and
//! serve then use without being told.

use crate::common::{self, cosine, emo};
use emo::embed::{embed_texts, EmbedOptions, Encoder, LayerSpec};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// The specs held to Python, on MiniLM (6 layers) and MPNet (12): every layer
/// at once (one forward pass, each block compared on its own), a mean, and one
/// earlier layer alone (the layers after it are not run).
const SPECS: [&str; 3] = ["concat:0..-1", "mean:-4..-1", "-3"];

fn encoder(name: &str, spec: &str) -> Encoder {
    let dir = emo::paths::home().join("models").join(name);
    assert!(
        dir.is_dir(),
        "{}: missing; run make test-encoders",
        dir.display()
    );
    let mut e = Encoder::load(&dir, tch::Device::Cpu).unwrap();
    e.set_layers(&spec.parse::<LayerSpec>().unwrap()).unwrap();
    e
}

/// Twelve of the parity fixture's texts and its longest (truncated at the
/// encoder's maximum length): a third of the forward passes of all of them.
fn texts(fixture: &str) -> Vec<String> {
    let all: Vec<String> = common::fixture(fixture)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_string())
        .collect();
    let longest = all.iter().max_by_key(|t| t.len()).unwrap().clone();
    let mut some: Vec<String> = all.into_iter().take(12).collect();
    if !some.contains(&longest) {
        some.push(longest);
    }
    some
}

fn embed(e: &Encoder, texts: &[String]) -> emo::embed::Matrix {
    let opts = EmbedOptions {
        batch_size: 8,
        cache_dir: None,
        progress: false,
        ..EmbedOptions::default()
    };
    embed_texts(e, texts, &opts).unwrap().0
}

/// The jobs held to Python: (key, encoder, parity fixture, --pooling, dimension of a block).
const JOBS: [(&str, &str, &str, Option<&str>, usize); 4] = [
    (
        "minilm",
        "all-MiniLM-L6-v2",
        "parity_minilm.json",
        None,
        384,
    ),
    ("mpnet", "all-mpnet-base-v2", "parity_mpnet.json", None, 768),
    (
        "minilm-cls",
        "all-MiniLM-L6-v2",
        "parity_minilm.json",
        Some("cls"),
        384,
    ),
    (
        "minilm-max",
        "all-MiniLM-L6-v2",
        "parity_minilm.json",
        Some("max"),
        384,
    ),
];

/// Python's vectors for every job, from one Python process.
fn reference() -> &'static HashMap<String, Value> {
    static REF: OnceLock<HashMap<String, Value>> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let jobs: Vec<Value> = JOBS
            .iter()
            .map(|(key, name, fx, pooling, _)| {
                serde_json::json!({
                    "model": emo::paths::home().join("models").join(name),
                    "texts": texts(fx),
                    "specs": SPECS,
                    "pooling": pooling,
                    "out": dir.join(format!("{key}.json")),
                })
            })
            .collect();
        let list = common::write(&dir, "jobs.json", Value::from(jobs).to_string().as_bytes());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/layers_reference.py");
        let o = std::process::Command::new(common::python())
            .arg(script)
            .arg(&list)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        JOBS.iter()
            .map(|(key, ..)| {
                let text = std::fs::read_to_string(dir.join(format!("{key}.json"))).unwrap();
                (key.to_string(), serde_json::from_str(&text).unwrap())
            })
            .collect()
    })
}

fn every_layer_matches_python(key: &str) {
    let (_, name, fixture, pooling, block) = *JOBS.iter().find(|j| j.0 == key).unwrap();
    let texts = texts(fixture);
    let reference = &reference()[key];
    let mut worst: Vec<(String, f64)> = Vec::new();
    for spec in SPECS {
        let mut e = encoder(name, spec);
        if let Some(p) = pooling {
            e.set_pooling(p.parse().unwrap()).unwrap();
        }
        let ours = embed(&e, &texts);
        let theirs = reference[spec].as_array().unwrap();
        assert_eq!(theirs.len(), texts.len());
        let mut min = 1.0f64;
        for (i, row) in theirs.iter().enumerate() {
            let row: Vec<f32> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(row.len(), ours.cols, "{spec}: dimension");
            // Block by block: a concatenation is as good as its worst layer.
            for b in 0..row.len() / block {
                let r = b * block..(b + 1) * block;
                min = min.min(cosine(&ours.row(i)[r.clone()], &row[r]));
            }
        }
        worst.push((spec.to_string(), min));
    }
    eprintln!("{key}: lowest cosine per spec {worst:?}");
    for (spec, min) in &worst {
        assert!(*min >= 0.99999, "{key} --layers {spec}: cosine {min}");
    }
}

#[test]
fn minilm_every_layer_matches_hugging_face_hidden_states() {
    every_layer_matches_python("minilm");
}

#[test]
fn mpnet_every_layer_matches_hugging_face_hidden_states() {
    every_layer_matches_python("mpnet");
}

/// `--pooling` against sentence-transformers' Pooling module of that mode, on
/// every layer too.
#[test]
fn other_poolings_match_sentence_transformers_on_every_layer() {
    every_layer_matches_python("minilm-cls");
    every_layer_matches_python("minilm-max");
}

/// `last`, `-1` and `6` are today's vectors to the bit and today's cache; any
/// other choice is a cache of its own, whatever its spelling.
#[test]
fn the_last_layer_is_unchanged_and_other_choices_key_their_own_cache() {
    let name = "all-MiniLM-L6-v2";
    let plain = Encoder::load(
        &emo::paths::home().join("models").join(name),
        tch::Device::Cpu,
    )
    .unwrap();
    let texts = texts("parity_minilm.json")[..8].to_vec();
    let base = embed(&plain, &texts);
    for spec in ["last", "-1", "6"] {
        let e = encoder(name, spec);
        assert_eq!(e.identity(), plain.identity(), "{spec}");
        assert_eq!(embed(&e, &texts), base, "{spec}");
    }
    let key = |spec: &str| encoder(name, spec).identity().cache_key();
    assert_eq!(key("mean:3..-1"), key("mean:-4..6"));
    assert_eq!(key("concat:5,6"), key("concat:-2..-1"));
    let keys: std::collections::HashSet<String> =
        ["last", "5", "mean:5..6", "concat:5..6", "concat:4,6"]
            .iter()
            .map(|s| key(s))
            .collect();
    assert_eq!(keys.len(), 5, "each choice keys its own cache");
    assert_eq!(encoder(name, "concat:-4..-1").identity().dim, 4 * 384);
    assert_eq!(encoder(name, "mean:-4..-1").identity().dim, 384);
    // A layer this encoder does not have is refused before any work.
    let mut e = plain;
    let err = e
        .set_layers(&"-8".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("layers 0 (embeddings) to 6"), "{err}");
}

/// train records the choice; classify, evaluate and serve read it from the
/// model and give the vectors (and so the labels) of the layers it was trained
/// on; a bad spelling is one line and exit 2.
#[test]
fn a_saved_model_remembers_its_layers() {
    let dir = tempfile::tempdir().unwrap();
    let csv = common::small_carer_csv(dir.path());
    let model = dir.path().join("model");
    let o = emo()
        .args(["train", "--train"])
        .arg(&csv)
        .args(["--method", "ib", "--seed", "1", "--layers", "concat:-2..-1"])
        .args(["--pooling", "max"])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["encoder"]["layers"], "concat:5..6");
    assert_eq!(manifest["encoder"]["pooling"], "max");
    // A concatenation is kept in 16 bits unless asked otherwise.
    assert_eq!(manifest["encoder"]["vector_precision"], "fp16");
    assert_eq!(manifest["dim"], 768);

    // classify embeds with the model's layers and pooling: a 768-wide head
    // refuses 384-wide vectors and a model refuses an encoder pooling otherwise,
    // so an answer at all says it read both.
    let text = "i feel so happy and grateful today";
    let o = emo()
        .args(["classify", "--model"])
        .arg(&model)
        .args(["--output-format", "jsonl", text])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let answer: Value = serde_json::from_slice(&o.stdout).unwrap();
    let labels = manifest["labels"].as_array().unwrap();
    assert!(labels.contains(&answer["label"]), "{answer}");

    // A negative layer is a value, not a flag.
    let o = emo()
        .args([
            "embed",
            "--layers",
            "-2",
            "--no-cache",
            "--out",
            "-",
            "--input",
        ])
        .arg(common::write(
            dir.path(),
            "one.txt",
            format!("{text}\n").as_bytes(),
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line: Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["vector"].as_array().unwrap().len(), 384, "{line}");

    // evaluate reads the layers from the model as well.
    let out = dir.path().join("eval");
    let (report, _) =
        common::evaluate_small_carer(dir.path(), &model, &dir.path().join("cache"), &out, &[]);
    let acc = report["methods"]["ib"]["runs"][0]["test"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(acc > 0.5, "on its own training data: {acc}");

    let o = emo()
        .args(["embed", "--layers", "mean:4..2", "--input"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("runs backwards"), "{err}");
}
