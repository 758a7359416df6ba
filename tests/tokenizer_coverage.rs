//! emo's tokenizer against Hugging Face's `tokenizers` (Python) on every text
//! of the named datasets — GoEmotions' three splits and XED's five languages,
//! as emo reads them — for every installed encoder's tokenizer.json: not a
//! sample, every text, id for id, truncated as the encoder truncates.
//!
//! One difference is allowed, and checked to be only that: where a Unigram
//! model has two segmentations of exactly equal score, the Rust crate emo
//! links (tokenizers 0.23.2) and the Python package (0.23.3) may break the tie
//! differently ("damnnnn" as n+nn or nn+n). Such a text must have the same
//! length and the same total score both ways, and is counted in the message.

use crate::common;
use emo::data::named;
use emo::embed::tokenizer::Tokenizer;

fn every_text() -> Vec<String> {
    let root = common::datasets_root();
    let mut texts = Vec::new();
    for name in [
        "goemotions-multi",
        "xed-en",
        "xed-fi",
        "xed-de",
        "xed-es",
        "xed-fr",
    ] {
        let ds = named::load_multi(name, &root).unwrap();
        for (_, s) in ds.splits {
            texts.extend(s.texts);
        }
    }
    texts
}

#[test]
fn every_dataset_text_tokenises_as_hugging_face_does() {
    let texts = every_text();
    assert!(texts.len() > 100_000, "{}", texts.len());
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("texts.jsonl");
    let lines: Vec<String> = texts
        .iter()
        .map(|t| serde_json::to_string(t).unwrap())
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let encoders: Vec<_> = emo::paths::installed_encoders()
        .into_iter()
        .map(|n| emo::paths::home().join("models").join(n))
        .filter(|d| d.join("tokenizer.json").is_file())
        .collect();
    assert!(
        !encoders.is_empty(),
        "no installed encoder; run `make setup`"
    );
    for model in encoders {
        let max_length = 256;
        let tok = Tokenizer::load(&model, max_length).unwrap();
        let out = dir.path().join("ids.jsonl");
        let status = std::process::Command::new(common::python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/tokenize_texts.py"
            ))
            .arg(model.join("tokenizer.json"))
            .arg(max_length.to_string())
            .arg(&input)
            .arg(&out)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "{}: tokenize_texts.py failed",
            model.display()
        );
        let theirs = std::fs::read_to_string(&out).unwrap();
        let mut n = 0;
        let mut bad = Vec::new();
        let mut differ = 0;
        let mut ties = 0;
        let scores = unigram_scores(&model.join("tokenizer.json"));
        for (text, line) in texts.iter().zip(theirs.lines()) {
            n += 1;
            let want: Vec<i64> = serde_json::from_str(line).unwrap();
            let ours = tok.encode(text).unwrap();
            if ours != want && is_tie(&scores, &ours, &want) {
                ties += 1;
            } else if ours != want {
                differ += 1;
                if bad.len() < 10 {
                    bad.push(format!("{text:?}: python {want:?} emo {ours:?}"));
                }
            }
        }
        assert_eq!(
            n,
            texts.len(),
            "{}: python answered {n} texts",
            model.display()
        );
        eprintln!(
            "{}: {n} texts, {ties} equal-score Unigram ties broken the other way",
            model.display()
        );
        assert!(
            ties * 10_000 <= n,
            "{ties} ties of {n} texts: more than ties can explain"
        );
        assert!(
            bad.is_empty(),
            "{}: {differ} of {n} texts tokenised differently (the first 10):\n{}",
            model.display(),
            bad.join("\n")
        );
    }
}

/// A Unigram tokenizer's piece scores by id (None: not a Unigram model).
fn unigram_scores(path: &std::path::Path) -> Option<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let model = &v["model"];
    (model["type"] == "Unigram").then(|| {
        model["vocab"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_f64().unwrap())
            .collect()
    })
}

/// Two segmentations of one text by a Unigram model, equal in length and in
/// total score: a tie the two implementations may break differently.
fn is_tie(scores: &Option<Vec<f64>>, a: &[i64], b: &[i64]) -> bool {
    let Some(s) = scores else {
        return false;
    };
    let total = |ids: &[i64]| ids.iter().map(|&i| s[i as usize]).sum::<f64>();
    let (mut x, mut y) = (a.to_vec(), b.to_vec());
    x.sort_unstable();
    y.sort_unstable();
    a.len() == b.len() && x == y && (total(a) - total(b)).abs() < 1e-6
}
