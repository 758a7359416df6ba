//! emo's tokenizer against Hugging Face's `tokenizers` (Python) on every text
//! of the named datasets — GoEmotions' three splits and XED's five languages,
//! as emo reads them — for every installed encoder's tokenizer.json: not a
//! sample, every text, id for id, truncated as the encoder truncates.

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
        for (text, line) in texts.iter().zip(theirs.lines()) {
            n += 1;
            let want: Vec<i64> = serde_json::from_str(line).unwrap();
            let ours = tok.encode(text).unwrap();
            if ours != want {
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
        assert!(
            bad.is_empty(),
            "{}: {differ} of {n} texts tokenised differently (the first 10):\n{}",
            model.display(),
            bad.join("\n")
        );
    }
}
