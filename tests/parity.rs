//! emo's vectors against Python sentence-transformers' on the same model, text by
//! text: same token ids, cosine ≥ 0.99999, for the default all-MiniLM-L6-v2 (BERT,
//! WordPiece) and for all-mpnet-base-v2 (MPNet, its own tokenizer.json; `make test`
//! installs it). The fixtures were made once, offline, by
//! scripts/make_parity_fixture.py (its docstring has the exact versions).

use crate::common::cosine;
use emo::embed::{embed_texts, EmbedOptions, Encoder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    model_safetensors_sha256: String,
    max_seq_length: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    input_ids: Vec<i64>,
    embedding: Vec<f32>,
}

/// The two encoders with a fixture: (installed name, fixture file).
const MINILM: (&str, &str) = ("all-MiniLM-L6-v2", "parity_minilm.json");
const MPNET: (&str, &str) = ("all-mpnet-base-v2", "parity_mpnet.json");

fn fixture(model: (&str, &str)) -> Fixture {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(model.1);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Fails, never skips, when the encoder is not installed: `make test` installs both.
fn encoder(model: (&str, &str)) -> Encoder {
    let dir = emo::paths::home().join("models").join(model.0);
    assert!(
        dir.is_dir(),
        "{}: missing; run `EMO_ENCODERS=all-mpnet-base-v2 make setup` (make test does)",
        dir.display()
    );
    Encoder::load(&dir, tch::Device::Cpu).expect("the installed encoder loads")
}

#[test]
fn fixture_is_the_installed_model() {
    fixture_is_installed(MINILM);
}

#[test]
fn mpnet_fixture_is_the_installed_model() {
    fixture_is_installed(MPNET);
}

fn fixture_is_installed(model: (&str, &str)) {
    let fx = fixture(model);
    let enc = encoder(model);
    assert_eq!(enc.identity().weights_sha256, fx.model_safetensors_sha256);
    assert_eq!(enc.identity().max_seq_length, fx.max_seq_length);
    assert!(fx.items.len() >= 30);
    assert!(
        fx.items
            .iter()
            .any(|i| i.input_ids.len() == fx.max_seq_length),
        "the fixture must exercise truncation"
    );
}

#[test]
fn token_ids_match_sentence_transformers() {
    token_ids_match(MINILM);
}

#[test]
fn mpnet_token_ids_match_sentence_transformers() {
    token_ids_match(MPNET);
}

fn token_ids_match(model: (&str, &str)) {
    let fx = fixture(model);
    let enc = encoder(model);
    let mismatches: Vec<String> = fx
        .items
        .iter()
        .filter_map(|item| {
            let ours = enc.tokenize(&item.text).unwrap();
            (ours != item.input_ids).then(|| {
                format!(
                    "{:?}: python {:?}… ours {:?}…",
                    item.text.chars().take(40).collect::<String>(),
                    &item.input_ids[..item.input_ids.len().min(12)],
                    &ours[..ours.len().min(12)]
                )
            })
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} texts tokenised differently:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn embed_fixture(model: (&str, &str), batch_size: usize) -> emo::embed::Matrix {
    let fx = fixture(model);
    let texts: Vec<String> = fx.items.iter().map(|i| i.text.clone()).collect();
    let opts = EmbedOptions {
        batch_size,
        cache_dir: None,
        progress: false,
        ..EmbedOptions::default()
    };
    let (m, stats) = embed_texts(&encoder(model), &texts, &opts).unwrap();
    assert_eq!(stats.computed, stats.unique);
    m
}

#[test]
fn vectors_match_sentence_transformers() {
    check_against_fixture(MINILM, 8);
}

/// The real all-mpnet-base-v2: relative position buckets, positions past the
/// padding index, a 30,527-piece tokenizer.json, truncation at 384 tokens.
#[test]
fn mpnet_vectors_match_sentence_transformers() {
    check_against_fixture(MPNET, 8);
}

/// Batch-mates must not change a vector: one text per batch against the whole
/// fixture in one batch (its texts run from 2 to 256 tokens, so most rows are
/// mostly padding there).
#[test]
fn vectors_do_not_depend_on_batch_mates() {
    let alone = embed_fixture(MINILM, 1);
    let together = embed_fixture(MINILM, 64);
    for i in 0..alone.rows {
        let c = cosine(alone.row(i), together.row(i));
        // False for NaN too.
        assert!(c > 0.999999, "row {i}: cosine {c}");
    }
}

/// The whole fixture as one batch in an order that alternates long and short
/// texts, as a server's pass in arrival order holds them: the encoder sorts
/// them, cuts them into attention groups of similar lengths (several here:
/// 2 to 256 tokens) and puts every vector back in its text's place. Each must
/// still be sentence-transformers' vector for that text.
#[test]
fn one_batch_in_arrival_order_matches_sentence_transformers() {
    arrival_order_matches(MINILM);
}

/// The same for MPNet, whose relative position bias is built per group.
#[test]
fn mpnet_one_batch_in_arrival_order_matches_sentence_transformers() {
    arrival_order_matches(MPNET);
}

fn arrival_order_matches(model: (&str, &str)) {
    let fx = fixture(model);
    let mut by_length: Vec<usize> = (0..fx.items.len()).collect();
    by_length.sort_by_key(|&i| fx.items[i].input_ids.len());
    // Shortest, longest, second shortest, second longest, ...
    let (mut lo, mut hi) = (0, by_length.len());
    let mut order = Vec::new();
    while lo < hi {
        order.push(by_length[lo]);
        lo += 1;
        if lo < hi {
            hi -= 1;
            order.push(by_length[hi]);
        }
    }
    let batch: Vec<Vec<i64>> = order
        .iter()
        .map(|&i| fx.items[i].input_ids.clone())
        .collect();
    let (_, packing) = emo::embed::packing::Packing::new(&batch, tch::Device::Cpu);
    assert!(
        packing.groups.len() >= 3,
        "{}: the fixture's lengths should make several attention groups, not {}",
        model.0,
        packing.groups.len()
    );
    let out = encoder(model).embed_tokens(&batch).unwrap();
    let rows: Vec<Vec<f32>> = Vec::try_from(&out).unwrap();
    for (row, &i) in order.iter().enumerate() {
        let c = cosine(&rows[row], &fx.items[i].embedding);
        assert!(
            c > 0.99999,
            "{}: {:?} at row {row}: cosine {c}",
            model.0,
            fx.items[i].text.chars().take(40).collect::<String>()
        );
    }
}

fn check_against_fixture(model: (&str, &str), batch_size: usize) {
    let fx = fixture(model);
    let m = embed_fixture(model, batch_size);
    let mut worst = (1.0f64, String::new());
    let mut failures = Vec::new();
    for (i, item) in fx.items.iter().enumerate() {
        let c = cosine(m.row(i), &item.embedding);
        // A NaN cosine (a zero or non-finite vector, as a pooling bug gives on
        // "" or a zero-width space) is the worst and fails: `c < t` alone is
        // false for NaN.
        if c.is_nan() || c < worst.0 {
            worst = (c, item.text.chars().take(40).collect());
        }
        if c.is_nan() || c < 0.99999 {
            failures.push(format!(
                "{:?}: cosine {c:.7}",
                item.text.chars().take(40).collect::<String>()
            ));
        }
    }
    eprintln!("{}: lowest cosine {:.8} on {:?}", model.0, worst.0, worst.1);
    assert!(
        failures.is_empty(),
        "below 0.99999:\n{}",
        failures.join("\n")
    );
}
