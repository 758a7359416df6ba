//! The parts of the GPU check (scripts/gpu_check.py) that need no GPU, run on the CPU:
//! the MiniLM-shaped encoder with random weights that the check builds on the GPU
//! machine loads in emo, and emo's vectors equal Python sentence-transformers' for the
//! same folder, text by text (cosine ≥ 0.99999). Every other architecture emo runs is
//! held to Python the same way, with random weights of MiniLM's sizes, so that none
//! needs a checkpoint downloaded. Python comes from `make pyenv`.

use crate::common::{cosine, gpu_check_many, read_npy, write};
use emo::embed::{embed_texts, EmbedOptions, Encoder};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The architectures, each a random folder of MiniLM's sizes.
const ARCHES: [&str; 5] = ["bert", "mpnet", "distilbert", "roberta", "xlm-roberta"];

/// Every folder and sentence-transformers' vectors of the texts under each, made
/// once for all tests in one Python process (most of a small job's time is
/// Python and torch starting).
struct Fixture {
    root: PathBuf,
    texts: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("random_encoder");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let texts = texts();
        let txt = write(&root, "texts.txt", (texts.join("\n") + "\n").as_bytes());
        let r = |p: String| root.join(p).to_string_lossy().into_owned();
        let shape = emo::paths::default_model().to_string_lossy().into_owned();
        let mut jobs: Vec<Vec<String>> = Vec::new();
        for arch in ARCHES {
            jobs.push(vec![
                "make-model".into(),
                shape.clone(),
                r(format!("{arch}-random")),
                arch.into(),
            ]);
            jobs.push(vec![
                "st-embed".into(),
                r(format!("{arch}-random")),
                txt.to_string_lossy().into_owned(),
                r(format!("{arch}.npy")),
                "cpu".into(),
                "8".into(),
            ]);
        }
        gpu_check_many(&root, &jobs);
        Fixture { root, texts }
    })
}

#[test]
fn random_minilm_shaped_encoder_matches_sentence_transformers_on_cpu() {
    matches_sentence_transformers("bert");
}

/// MPNet (all-mpnet-base-v2's architecture) with MiniLM's sizes and tokenizer:
/// positions past the padding index and the shared relative position bias, on
/// the parity texts, whose longest reach 256 tokens (relative distances past the
/// last bucket boundary, 128).
#[test]
fn random_mpnet_shaped_encoder_matches_sentence_transformers_on_cpu() {
    matches_sentence_transformers("mpnet");
}

/// DistilBERT with MiniLM's sizes and WordPiece tokenizer: its own tensor names and
/// config keys, no token types.
#[test]
fn random_distilbert_shaped_encoder_matches_sentence_transformers_on_cpu() {
    matches_sentence_transformers("distilbert");
}

/// RoBERTa with MiniLM's sizes and a trained byte-level BPE tokenizer (the fixture
/// of tests/tokenizer.rs): positions past the padding index up to the last one, and
/// a text holding the literal `<pad>`, which moves the positions after it.
#[test]
fn random_roberta_shaped_encoder_matches_sentence_transformers_on_cpu() {
    matches_sentence_transformers("roberta");
}

/// XLM-R with MiniLM's sizes and a trained Unigram tokenizer, under which most
/// Chinese, Arabic and emoji characters are the unknown token.
#[test]
fn random_xlm_roberta_shaped_encoder_matches_sentence_transformers_on_cpu() {
    matches_sentence_transformers("xlm-roberta");
}

/// The texts of tests/fixtures/tokenizers/minilm_ids.json: the parity texts and
/// German, Chinese, Arabic, emoji and long texts that truncate; one a line, so
/// without those holding a newline, and without blank ones (emo refuses them).
fn texts() -> Vec<String> {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tokenizers/minilm_ids.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let texts: Vec<String> = fixture["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_string())
        .filter(|t| !t.contains('\n') && !t.trim().is_empty())
        .collect();
    assert!(texts.len() >= 50);
    for needed in ["ü", "天", "ح", "😭", "<pad>"] {
        assert!(
            texts.iter().any(|t| t.contains(needed)),
            "no text holds {needed}"
        );
    }
    texts
}

fn matches_sentence_transformers(arch: &str) {
    let fx = fixture();
    let model = fx.root.join(format!("{arch}-random"));
    let shape = emo::paths::default_model();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(written["model_type"], arch);
    // Not MiniLM's weights: a different identity, so no cached vector can stand in.
    let enc = Encoder::load(&model, tch::Device::Cpu).expect("the random folder loads in emo");
    let minilm = emo::embed::bert::BertConfig::from_file(&shape.join("config.json")).unwrap();
    assert_eq!(enc.identity().dim, minilm.hidden_size as usize);
    assert_ne!(
        enc.identity().weights_sha256,
        emo::embed::encoder::sha256_file(&shape.join("model.safetensors")).unwrap()
    );

    let texts = &fx.texts;
    let tokens: Vec<Vec<i64>> = texts.iter().map(|t| enc.tokenize(t).unwrap()).collect();
    let max_len = enc.identity().max_seq_length;
    assert!(
        tokens.iter().any(|t| t.len() == max_len),
        "no text reaches max_seq_length {max_len}: truncation untested"
    );
    let npy = fx.root.join(format!("{arch}.npy"));
    let (rows, cols, st) = read_npy(&npy);
    assert_eq!((rows, cols), (texts.len(), enc.identity().dim));

    let opts = EmbedOptions {
        batch_size: 8,
        cache_dir: None,
        progress: false,
        ..EmbedOptions::default()
    };
    let (ours, _) = embed_texts(&enc, texts, &opts).unwrap();
    assert_eq!((ours.rows, ours.cols), (rows, cols));
    let st_row = |i: usize| &st[i * cols..(i + 1) * cols];
    let mut worst = 1.0f64;
    for (i, text) in texts.iter().enumerate() {
        let c = cosine(ours.row(i), st_row(i));
        worst = worst.min(c);
        assert!(c >= 0.99999, "text {i} {text:?}: cosine {c:.7}");
    }
    eprintln!("random {arch} encoder: lowest cosine emo vs sentence-transformers {worst:.8}");
    // The check could fail: random weights still tell token sequences apart, so a
    // vector for the wrong text (or a wrong forward pass) would be below 0.99999.
    let mut closest_other = -1.0f64;
    for i in 0..rows {
        for j in 0..rows {
            if tokens[i] != tokens[j] {
                closest_other = closest_other.max(cosine(ours.row(i), st_row(j)));
            }
        }
    }
    eprintln!("random {arch} encoder: closest pair of different texts {closest_other:.6}");
    assert!(
        closest_other < 0.999,
        "different texts are too alike under the random encoder ({closest_other})"
    );
}
