//! Emotion in another language, end to end on real data: a head trained on English XED lines
//! with each installed encoder, then `emo evaluate --dataset xed-fi` (Finnish subtitles, a
//! language MiniLM was not trained for). The multilingual encoder must carry the English
//! labels over to Finnish and MiniLM must not: the committed study measures 0.39 against
//! 0.12 macro-F1 with every English line; here 3,000 lines keep the test near a minute.

use crate::common::{datasets_root, emo, write};
use emo::data::named::XED_CLASSES;
use std::path::Path;

/// Every fifth English line (films are contiguous in the file) up to `n`, as JSONL.
fn english_sample(dir: &Path, n: usize) -> std::path::PathBuf {
    let file = std::fs::read_to_string(datasets_root().join("xed/en-annotated.tsv")).unwrap();
    let mut out = String::new();
    for line in file.lines().step_by(5).take(n) {
        let (text, ids) = line.trim_end_matches('\r').split_once('\t').unwrap();
        let labels: Vec<&str> = ids
            .split(',')
            .map(|i| XED_CLASSES[i.trim().parse::<usize>().unwrap() - 1])
            .collect();
        out += &serde_json::json!({"text": text, "labels": labels}).to_string();
        out.push('\n');
    }
    write(dir, "en.jsonl", out.as_bytes())
}

/// Test macro-F1 on Finnish of a head trained on `train` with `encoder`, and the report folder.
fn english_to_finnish(dir: &Path, train: &Path, encoder: &str) -> (f64, std::path::PathBuf) {
    let model = dir.join(format!("model-{encoder}"));
    let cache = dir.join("cache");
    let t = emo()
        .args([
            "train",
            "--multi-label",
            "--label-col",
            "labels",
            "--method",
            "ovr-logreg",
            "--seed",
            "1",
        ])
        .args(["--encoder", encoder, "--train"])
        .arg(train)
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        t.status.success(),
        "{encoder}: {}",
        String::from_utf8_lossy(&t.stderr)
    );
    let report = dir.join(format!("fi-{encoder}"));
    let e = emo()
        .args([
            "evaluate",
            "--dataset",
            "xed-fi",
            "--bootstrap",
            "200",
            "--model",
        ])
        .arg(&model)
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        e.status.success(),
        "{encoder}: {}",
        String::from_utf8_lossy(&e.stderr)
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        m["dataset"].as_str().unwrap().split(' ').next(),
        Some("xed-fi-test")
    );
    let f1 = m["methods"]["ovr-logreg"]["bootstrap"]["intervals"]["macro-f1"]["estimate"]
        .as_f64()
        .unwrap();
    (f1, report)
}

#[test]
fn english_labels_reach_finnish_through_the_multilingual_encoder_only() {
    let dir = tempfile::tempdir().unwrap();
    let train = english_sample(dir.path(), 3000);
    let (e5, report) = english_to_finnish(dir.path(), &train, "multilingual-e5-small-q4");
    let (minilm, _) = english_to_finnish(dir.path(), &train, "all-MiniLM-L6-v2");
    for f in ["summary.md", "index.html", "label-confusion-ovr-logreg.png"] {
        assert!(
            report.join(f).is_file(),
            "{f} missing from the Finnish report"
        );
    }
    assert!(
        e5 > 0.30,
        "multilingual encoder, English → Finnish macro-F1 {e5:.4}"
    );
    eprintln!("English → Finnish macro-F1: multilingual {e5:.4}, MiniLM {minilm:.4}");
    assert!(
        e5 > minilm + 0.10,
        "multilingual {e5:.4} vs MiniLM {minilm:.4}"
    );
}
