//! emo's tokenizer (src/embed/tokenizer.rs) against Python, id for id: MiniLM's
//! tokenizer.json against sentence-transformers on the parity texts and non-English
//! ones; the vocab.txt-only folder against tokenizer.json; a RoBERTa-style BPE and an
//! XLM-R-style Unigram tokenizer against the `tokenizers` package. The fixtures come
//! from scripts/make_tokenizer_fixture.py.

use crate::common::{emo, write};
use emo::embed::tokenizer::Tokenizer;
use emo::embed::Encoder;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Ids {
    max_length: usize,
    #[serde(default)]
    pad_id: Option<i64>,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    input_ids: Vec<i64>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers")
}

fn ids(name: &str) -> Ids {
    let path = fixtures().join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every text whose ids differ, as one readable line each.
fn mismatches(tok: &Tokenizer, fx: &Ids) -> Vec<String> {
    fx.items
        .iter()
        .filter_map(|item| {
            let ours = tok.encode(&item.text).unwrap();
            (ours != item.input_ids).then(|| {
                format!(
                    "{:?}: python {:?} ours {:?}",
                    item.text.chars().take(40).collect::<String>(),
                    item.input_ids,
                    ours
                )
            })
        })
        .collect()
}

fn assert_same_ids(tok: &Tokenizer, fx: &Ids) {
    assert!(fx.items.len() >= 60);
    assert!(
        fx.items.iter().any(|i| i.input_ids.len() == fx.max_length),
        "the fixture must exercise truncation"
    );
    let bad = mismatches(tok, fx);
    assert!(
        bad.is_empty(),
        "{} texts tokenised differently:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// A folder holding links to some of the installed MiniLM's files.
fn minilm_subset(dir: &Path, names: &[&str]) -> PathBuf {
    let model = emo::paths::default_model();
    let out = dir.join("minilm-subset");
    std::fs::create_dir_all(&out).unwrap();
    for name in names {
        std::os::unix::fs::symlink(model.join(name), out.join(name)).unwrap();
    }
    out
}

#[test]
fn minilm_tokenizer_json_matches_sentence_transformers() {
    let fx = ids("minilm_ids.json");
    let model = emo::paths::default_model();
    assert!(
        model.join("tokenizer.json").is_file(),
        "run `make setup` first"
    );
    let tok = Tokenizer::load(&model, fx.max_length).unwrap();
    assert_same_ids(&tok, &fx);
    assert_eq!(tok.pad_id(), Some(0));
    assert_eq!(tok.special_ids(), &[0, 100, 101, 102, 103]);
    assert_eq!(tok.identity().sha256, None);
}

/// The encoder reads tokenizer.json now; its identity, and so the cache key, must be
/// the one emo gave MiniLM when it tokenised from vocab.txt with rust_tokenizers
/// (the key of the caches already on disk; their token ids are the same, as the test
/// above shows).
#[test]
fn minilm_identity_and_cache_key_are_unchanged() {
    let enc = Encoder::load(&emo::paths::default_model(), tch::Device::Cpu).unwrap();
    let id = enc.identity();
    assert_eq!(id.max_seq_length, 256);
    assert!(id.lower_case && id.strip_accents);
    assert_eq!(id.tokenizer_sha256, None);
    assert_eq!(id.cache_key(), "be5c973bc06b5bf4f1046a1665952de8");
    assert!(!serde_json::to_string(id).unwrap().contains("tokenizer"));
}

#[test]
fn vocab_txt_only_folder_gives_the_same_ids_and_identity() {
    let dir = tempfile::tempdir().unwrap();
    let folder = minilm_subset(
        dir.path(),
        &[
            "config.json",
            "model.safetensors",
            "modules.json",
            "1_Pooling",
            "sentence_bert_config.json",
            "tokenizer_config.json",
            "vocab.txt",
        ],
    );
    let fx = ids("minilm_ids.json");
    let tok = Tokenizer::load(&folder, fx.max_length).unwrap();
    assert_same_ids(&tok, &fx);
    assert_eq!(tok.pad_id(), Some(0));
    assert_eq!(tok.special_ids(), &[0, 100, 101, 102, 103]);

    let from_vocab = Encoder::load(&folder, tch::Device::Cpu).unwrap();
    let from_json = Encoder::load(&emo::paths::default_model(), tch::Device::Cpu).unwrap();
    assert_eq!(
        from_vocab.identity().cache_key(),
        from_json.identity().cache_key()
    );
}

/// One of the small trained tokenizers, alone in a folder as its tokenizer.json.
fn small_tokenizer(name: &str) -> (tempfile::TempDir, Tokenizer, Ids) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join(format!("{name}_tokenizer.json")),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let fx = ids(&format!("{name}_ids.json"));
    let tok = Tokenizer::load(dir.path(), fx.max_length).unwrap();
    (dir, tok, fx)
}

#[test]
fn roberta_style_bpe_matches_python() {
    let (_dir, tok, fx) = small_tokenizer("bpe");
    assert_same_ids(&tok, &fx);
    assert_eq!(tok.pad_id(), fx.pad_id);
    assert!(tok.identity().sha256.is_some());
    // <s> … </s> around every text.
    assert!(fx.items.iter().all(|i| i.input_ids[0] == 0));
}

#[test]
fn xlmr_style_unigram_matches_python() {
    let (_dir, tok, fx) = small_tokenizer("unigram");
    assert_same_ids(&tok, &fx);
    assert_eq!(tok.pad_id(), fx.pad_id);
    // A tokenizer.json that is not the standard BERT one is identified by its hash,
    // so two such tokenizers never share a cache key.
    let (_, bpe, _) = small_tokenizer("bpe");
    assert_ne!(tok.identity().sha256, bpe.identity().sha256);
}

#[test]
fn malformed_tokenizer_json_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let folder = minilm_subset(dir.path(), &["config.json", "model.safetensors"]);
    write(
        &folder,
        "tokenizer.json",
        br#"{"version": "1.0", "model": {"type": "#,
    );
    let input = write(dir.path(), "t.txt", b"hello\n");
    let out = emo()
        .arg("embed")
        .arg("--input")
        .arg(&input)
        .arg("--encoder")
        .arg(&folder)
        .arg("--out")
        .arg(dir.path().join("out.safetensors"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let expected = format!(
        "{}: not a valid tokenizer.json",
        folder.join("tokenizer.json").display()
    );
    assert!(errors[0].contains(&expected), "{stderr}");

    // No tokenizer at all names what is missing.
    std::fs::remove_file(folder.join("tokenizer.json")).unwrap();
    let out = emo()
        .arg("embed")
        .arg("--input")
        .arg(&input)
        .arg("--encoder")
        .arg(&folder)
        .arg("--out")
        .arg(dir.path().join("out.safetensors"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tokenizer.json: missing"), "{stderr}");
}
