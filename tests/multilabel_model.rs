//! A multi-label model through the binary, with the real encoder on a small
//! hand-written fixture (tests/fixtures/multilabel_small*.csv): train saves
//! its thresholds, classify answers with exactly the labels those thresholds
//! pass in every format, evaluate scores at them, `--method-from` reads a
//! multi-label report, and a model saved before multi-label existed loads.

use crate::common;
use crate::common::{
    emo, multilabel_fixture, shared_multilabel, shared_small_carer, train_multilabel,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `emo classify --model MODEL` on the test fixture's texts with `args`;
/// returns stdout (exit 0 checked).
fn classify(model: &Path, args: &[&str]) -> String {
    let o = emo()
        .args(["classify", "--model"])
        .arg(model)
        .arg("--input")
        .arg(multilabel_fixture("multilabel_small_test.csv"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn jsonl(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn train_classify_evaluate_round_trip_at_the_saved_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let model = shared_multilabel();
    let m = json_file(&model.join("manifest.json"));
    assert_eq!(m["format_version"], 3);
    assert_eq!(m["task"], "multi-label");
    assert_eq!(m["method"], "bce");
    let labels: Vec<String> = m["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["anger", "fear", "joy", "sadness"]);
    let decision = &m["multi_label"];
    assert_eq!(decision["when_none"], "NoEmotion");
    let thresholds: Vec<f32> = decision["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert!(t["validation_positives"].as_u64().unwrap() > 0, "{t}");
            assert!(t["validation_f1"].as_f64().is_some(), "{t}");
            t["value"].as_f64().unwrap() as f32
        })
        .collect();
    assert_eq!(thresholds.len(), 4);
    // Chosen on validation, not left at the fixed 0.5 everywhere.
    assert!(thresholds.iter().any(|&t| t != 0.5), "{thresholds:?}");

    // Same seed, same model: byte-identical head and the same thresholds.
    let again = train_multilabel(dir.path(), "again", &[]);
    assert_eq!(
        std::fs::read(model.join("head.safetensors")).unwrap(),
        std::fs::read(again.join("head.safetensors")).unwrap()
    );
    assert_eq!(
        json_file(&again.join("manifest.json"))["multi_label"],
        *decision
    );

    // JSONL with every label's raw probability: the labels are exactly those
    // at or above their saved thresholds (chosen on the raw probabilities),
    // most probable first.
    let answers = jsonl(&classify(
        model,
        &[
            "--output-format",
            "jsonl",
            "--top-k",
            "4",
            "--raw-probabilities",
        ],
    ));
    assert_eq!(answers.len(), 12);
    for a in &answers {
        let top = a["top"].as_array().unwrap();
        assert_eq!(top.len(), 4, "{a}");
        let passing: BTreeSet<String> = top
            .iter()
            .filter(|s| {
                let c = labels.iter().position(|l| l == &s["label"]).unwrap();
                let p = s["probability"].as_f64().unwrap() as f32;
                assert_eq!(s["passed"].as_bool().unwrap(), p >= thresholds[c], "{a}");
                p >= thresholds[c]
            })
            .map(|s| s["label"].as_str().unwrap().to_string())
            .collect();
        let got = names(&a["labels"]);
        assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), passing, "{a}");
        let probs: Vec<f64> = a["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["probability"].as_f64().unwrap())
            .collect();
        assert!(probs.windows(2).all(|w| w[0] >= w[1]), "{a}");
    }
    // The calibrated probabilities (the default) decide nothing: the same
    // labels pass, listed most probable first by the calibrated values, which
    // differ from the raw ones.
    let calibrated = jsonl(&classify(
        model,
        &["--output-format", "jsonl", "--top-k", "4"],
    ));
    assert_eq!(m["calibration"]["kind"], "platt");
    let mut moved = 0;
    for (raw, cal) in answers.iter().zip(&calibrated) {
        let set = |v: &Value| names(&v["labels"]).into_iter().collect::<BTreeSet<_>>();
        assert_eq!(set(raw), set(cal), "{raw} vs {cal}");
        let probs: Vec<f64> = cal["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["probability"].as_f64().unwrap())
            .collect();
        assert!(probs.windows(2).all(|w| w[0] >= w[1]), "{cal}");
        for s in cal["top"].as_array().unwrap() {
            let same = raw["top"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["label"] == s["label"])
                .unwrap();
            assert_eq!(same["passed"], s["passed"], "{raw} vs {cal}");
            let (a, b) = (
                same["probability"].as_f64().unwrap(),
                s["probability"].as_f64().unwrap(),
            );
            moved += usize::from((a - b).abs() > 1e-4);
        }
    }
    assert!(moved > 0, "calibration changed no probability");
    let joy = |i: usize| names(&answers[i]["labels"]);
    assert_eq!(joy(0), ["joy"], "{}", answers[0]);
    assert!(
        answers.iter().any(|a| names(&a["labels"]).is_empty()),
        "a text with no emotion gets an empty list"
    );
    assert!(answers.iter().any(|a| names(&a["labels"]).len() >= 2));

    // CSV and the table say the same, row for row: the same texts in the same
    // order, and in each exactly the labels (and probabilities) of JSONL.
    let plain = jsonl(&classify(model, &["--output-format", "jsonl"]));
    assert_eq!(plain.len(), answers.len());
    assert!(plain.iter().all(|a| a.get("top").is_none()));
    let csv = classify(model, &["--output-format", "csv"]);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        rows.headers().unwrap().iter().collect::<Vec<_>>(),
        ["id", "text", "labels", "probabilities"]
    );
    let records: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    let table = classify(model, &[]);
    let (header, lines) = table.split_once('\n').unwrap();
    assert_eq!(header, format!("{:<60}  labels", "text"));
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(records.len(), plain.len(), "{csv}");
    assert_eq!(lines.len(), plain.len(), "{table}");
    for ((row, a), line) in records.iter().zip(&plain).zip(&lines) {
        let text = a["text"].as_str().unwrap();
        let labels = names(&a["labels"]);
        let probs: Vec<f64> = a["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["probability"].as_f64().unwrap())
            .collect();
        assert_eq!(&row[1], text, "{a}");
        assert_eq!(&row[2], labels.join(","), "{a}");
        let csv_probs: Vec<String> = probs.iter().map(|p| format!("{p:.6}")).collect();
        assert_eq!(&row[3], csv_probs.join(","), "{a}");
        // The table: the text padded to 60 characters, two spaces, then the
        // labels column alone, "label 0.123" joined by ", " or "(no emotion)".
        let column = line
            .strip_prefix(&format!("{text:<60}  "))
            .unwrap_or_else(|| panic!("the row does not start with its text: {line:?} / {a}"));
        let shown: Vec<(String, String)> = if column == "(no emotion)" {
            Vec::new()
        } else {
            column
                .split(", ")
                .map(|cell| {
                    let (l, p) = cell.rsplit_once(' ').unwrap();
                    (l.to_string(), p.to_string())
                })
                .collect()
        };
        let want: Vec<(String, String)> = labels
            .iter()
            .zip(&probs)
            .map(|(l, p)| (l.clone(), format!("{p:.3}")))
            .collect();
        assert_eq!(shown, want, "{line:?} / {a}");
    }

    // --at-least-one at classify time: every text gets a label.
    let forced = jsonl(&classify(
        model,
        &["--output-format", "jsonl", "--at-least-one"],
    ));
    assert!(forced.iter().all(|a| !names(&a["labels"]).is_empty()));

    // evaluate: at the saved thresholds, the same labels as classify.
    let report = dir.path().join("report");
    let o = emo()
        .args(["evaluate", "--model"])
        .arg(model)
        .arg("--input")
        .arg(multilabel_fixture("multilabel_small_test.csv"))
        .args([
            "--multi-label",
            "--label-col",
            "labels",
            "--bootstrap",
            "50",
        ])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("macro-F1"));
    let metrics = json_file(&report.join("metrics.json"));
    assert_eq!(metrics["task"], "multi-label");
    let run = &metrics["methods"]["bce"]["runs"][0];
    for (c, l) in labels.iter().enumerate() {
        assert_eq!(
            run["thresholds"][l]["value"].as_f64().unwrap() as f32,
            thresholds[c]
        );
    }
    let f1 = run["test"]["macro avg"]["f1-score"].as_f64().unwrap();
    assert!(f1 > 0.5, "the fixture's emotions are easy: macro-F1 {f1}");
    let preds: Vec<csv::StringRecord> = csv::Reader::from_path(report.join("predictions.csv"))
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .collect();
    let truth: Vec<csv::StringRecord> =
        csv::Reader::from_path(multilabel_fixture("multilabel_small_test.csv"))
            .unwrap()
            .records()
            .map(|r| r.unwrap())
            .collect();
    assert_eq!(preds.len(), plain.len());
    assert_eq!(truth.len(), plain.len());
    for ((row, a), t) in preds.iter().zip(&plain).zip(&truth) {
        let mut want = names(&a["labels"]);
        want.sort();
        assert_eq!(&row[2], want.join(","), "{a}");
        let mut true_labels: Vec<&str> = t[1].split(',').filter(|l| !l.is_empty()).collect();
        true_labels.sort_unstable();
        assert_eq!(&row[1], true_labels.join(","), "{a}");
    }
}

#[test]
fn at_least_one_is_saved_and_single_label_models_refuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = train_multilabel(dir.path(), "model", &["--at-least-one"]);
    let m = json_file(&model.join("manifest.json"));
    assert_eq!(m["multi_label"]["when_none"], "TopLabel");
    let answers = jsonl(&classify(&model, &["--output-format", "jsonl"]));
    assert!(answers.iter().all(|a| !names(&a["labels"]).is_empty()));

    let single = shared_small_carer("ib");
    let o = emo()
        .args(["classify", "--model"])
        .arg(single)
        .args(["--at-least-one", "hello there"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--at-least-one is for multi-label models"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");

    // A single-label model saved before format 2 (no task, version 1) loads
    // and answers as before.
    let m = json_file(&single.join("manifest.json"));
    assert_eq!(m["task"], "single-label");
    assert!(m.get("multi_label").is_none());
    let before = emo()
        .args(["classify", "--model"])
        .arg(single)
        .args([
            "--output-format",
            "jsonl",
            "--top-k",
            "2",
            "i am so happy",
            "i am scared",
        ])
        .output()
        .unwrap();
    assert!(before.status.success());
    let mut old = m.clone();
    old["format_version"] = 1.into();
    old.as_object_mut().unwrap().remove("task");
    std::fs::write(
        single.join("manifest.json"),
        serde_json::to_string_pretty(&old).unwrap(),
    )
    .unwrap();
    let after = emo()
        .args(["classify", "--model"])
        .arg(single)
        .args([
            "--output-format",
            "jsonl",
            "--top-k",
            "2",
            "i am so happy",
            "i am scared",
        ])
        .output()
        .unwrap();
    assert!(
        after.status.success(),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
    assert_eq!(before.stdout, after.stdout);
    // Evaluating it on multi-label data is refused in one line.
    let o = emo()
        .args(["evaluate", "--model"])
        .arg(single)
        .arg("--input")
        .arg(multilabel_fixture("multilabel_small_test.csv"))
        .args(["--multi-label", "--label-col", "labels"])
        .arg("--out")
        .arg(dir.path().join("never"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("a single-label model cannot be evaluated on multi-label data"),
        "{e}"
    );
    assert!(!dir.path().join("never").exists());
}

#[test]
fn method_from_reads_a_multilabel_report_of_the_same_task_only() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let o = emo()
        .args(["compare-sampling", "--train"])
        .arg(multilabel_fixture("multilabel_small.csv"))
        .args([
            "--multi-label",
            "--label-col",
            "labels",
            "--split",
            "0.6,0.2,0.2",
        ])
        .args([
            "--methods",
            "bce,reweight-bce",
            "--tune",
            "none",
            "--bootstrap",
            "0",
        ])
        .args(["--seed", "1"])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recommended = json_file(&report.join("metrics.json"))["recommended"]["method"]
        .as_str()
        .unwrap()
        .to_string();
    let model = train_multilabel(
        dir.path(),
        "model",
        &["--method-from", report.to_str().unwrap()],
    );
    assert_eq!(
        json_file(&model.join("manifest.json"))["method"],
        recommended
    );

    // A multi-label report for single-label data, and a single-label report
    // (no "task") for multi-label data: one line each, no model written.
    let single_report = common::write(
        dir.path(),
        "single.json",
        br#"{"recommended": {"method": "ib"}}"#,
    );
    for (data, report, needle) in [
        (
            vec![
                "--train".to_string(),
                common::small_carer_csv(dir.path()).display().to_string(),
            ],
            report.clone(),
            "a multi-label report cannot choose the method for single-label data",
        ),
        (
            vec![
                "--train".to_string(),
                multilabel_fixture("multilabel_small.csv")
                    .display()
                    .to_string(),
                "--multi-label".into(),
                "--label-col".into(),
                "labels".into(),
            ],
            single_report,
            "a single-label report cannot choose the method for multi-label data",
        ),
    ] {
        let out = dir.path().join("refused");
        let o = emo()
            .arg("train")
            .args(&data)
            .arg("--method-from")
            .arg(&report)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(needle), "{e}");
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(!out.exists());
    }
    // A single-label method name on multi-label data.
    let o = emo()
        .args(["train", "--train"])
        .arg(multilabel_fixture("multilabel_small.csv"))
        .args(["--multi-label", "--label-col", "labels", "--method", "lws"])
        .arg("--out")
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown multi-label method 'lws'"));
}
