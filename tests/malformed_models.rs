//! A model folder whose `manifest.json` parses but contradicts itself or its
//! head (edited by hand, damaged, written by another tool) is refused when it
//! is loaded: exit code 2 and one line naming the manifest and the field,
//! never a panic (exit 1) somewhere later, e.g. in evaluate's report.
//! Each case edits one field of a copy of a real trained model and runs the
//! real binary.

use crate::common::{emo, multilabel_fixture, shared_multilabel, shared_small_carer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A copy of `model` in `dir/name` with its manifest changed by `edit`.
fn damaged(dir: &Path, model: &Path, name: &str, edit: impl Fn(&mut Value)) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(model.join("head.safetensors"), d.join("head.safetensors")).unwrap();
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
            .unwrap();
    edit(&mut m);
    std::fs::write(
        d.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    d
}

/// Exit code 2, nothing on standard output, and one line on standard error
/// that names `file` of the model folder and holds `needle`.
fn refused_in_one_line(o: &std::process::Output, model: &Path, file: &str, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}: expected exit 2 for '{needle}', stderr: {err}",
        model.display()
    );
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let named = format!("{}: ", model.join(file).display());
    assert!(
        err.starts_with("emo: error: ") && err.contains(&named),
        "expected {named:?} in: {err}"
    );
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
}

fn classify(model: &Path) -> std::process::Output {
    emo()
        .args(["classify", "--model"])
        .arg(model)
        .arg("i feel so happy and grateful today")
        .output()
        .unwrap()
}

#[test]
fn a_single_label_manifest_that_contradicts_itself_is_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let model = shared_small_carer("ib");
    type Edit = fn(&mut Value);
    fn pop(v: &mut Value) {
        v.as_array_mut().unwrap().pop();
    }
    let cases: [(&str, &str, &str, Edit); 9] = [
        // A label list shorter than the head's rows (with the counts to match):
        // the head is refused, saying which manifest fields give its shape.
        (
            "fewer-labels",
            "head.safetensors",
            "not F32 [5, 384] (manifest.json: 5 labels, dim 384)",
            |m| {
                pop(&mut m["labels"]);
                pop(&mut m["train_counts"]);
            },
        ),
        (
            "fewer-labels-than-counts",
            "manifest.json",
            "train_counts: 6 counts for 5 labels",
            |m| pop(&mut m["labels"]),
        ),
        (
            "one-label",
            "manifest.json",
            "labels: 1 listed; a model has at least 2 labels",
            |m| {
                m["labels"] = json!(["joy"]);
                m["train_counts"] = json!([25]);
            },
        ),
        (
            "repeated-label",
            "manifest.json",
            "labels[1]: \"anger\" is listed twice",
            |m| m["labels"][1] = m["labels"][0].clone(),
        ),
        ("empty-label", "manifest.json", "labels[3]: is empty", |m| {
            m["labels"][3] = json!("")
        }),
        (
            "encoder-dim",
            "manifest.json",
            "encoder.dim: is 768 but the head's dim is 384",
            |m| m["encoder"]["dim"] = json!(768),
        ),
        (
            "head-kind",
            "manifest.json",
            "head: unknown head kind \"forest\"",
            |m| m["head"] = json!("forest"),
        ),
        (
            "multi-without-thresholds",
            "manifest.json",
            "multi_label: missing; a multi-label model needs its thresholds",
            |m| m["task"] = json!("multi-label"),
        ),
        ("dim-zero", "manifest.json", "dim: is 0", |m| {
            m["dim"] = json!(0);
            m["encoder"]["dim"] = json!(0);
        }),
    ];
    let labels = serde_json::from_str::<Value>(
        &std::fs::read_to_string(model.join("manifest.json")).unwrap(),
    )
    .unwrap()["labels"]
        .clone();
    assert_eq!(
        labels[0], "anger",
        "the cases assume CARER's labels in order"
    );
    for (name, file, needle, edit) in cases {
        let d = damaged(dir.path(), model, name, edit);
        refused_in_one_line(&classify(&d), &d, file, needle);
    }
}

#[test]
fn a_multi_label_manifest_that_contradicts_itself_is_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let model = shared_multilabel();
    type Edit = fn(&mut Value);
    let cases: [(&str, &str, Edit); 7] = [
        // 4 labels (anger, fear, joy, sadness), a 3×4 co-occurrence matrix.
        (
            "cooccurrence-rows",
            "multi_label.cooccurrence: 3 rows; 4 labels need a 4×4 matrix",
            |m| {
                m["multi_label"]["cooccurrence"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            },
        ),
        (
            "cooccurrence-columns",
            "multi_label.cooccurrence: row 2 has 3 entries; 4 labels need a 4×4 matrix",
            |m| {
                m["multi_label"]["cooccurrence"][2]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            },
        ),
        (
            "thresholds-length",
            "multi_label.thresholds: 5 thresholds for 4 labels",
            |m| {
                let t = &mut m["multi_label"]["thresholds"];
                let first = t[0].clone();
                t.as_array_mut().unwrap().push(first);
            },
        ),
        (
            "threshold-value",
            "multi_label.thresholds[1].value: 1.5 is not a number from 0 to 1",
            |m| m["multi_label"]["thresholds"][1]["value"] = json!(1.5),
        ),
        (
            // Too large for an f32: it would be read as infinity.
            "threshold-infinite",
            "multi_label.thresholds[0].value: inf is not a number from 0 to 1",
            |m| m["multi_label"]["thresholds"][0]["value"] = json!(1e39),
        ),
        ("train-texts", "multi_label.train_texts: ", |m| {
            let n = m["multi_label"]["train_texts"][0].clone();
            m["multi_label"]["train_texts"][1] = n;
        }),
        (
            "single-with-thresholds",
            "multi_label: present, but task says single-label",
            |m| m["task"] = json!("single-label"),
        ),
    ];
    for (name, needle, edit) in cases {
        let d = damaged(dir.path(), model, name, edit);
        refused_in_one_line(&classify(&d), &d, "manifest.json", needle);
    }

    // evaluate reads the co-occurrence matrix for its report: refused at
    // load too, before any embedding, leaving no report folder.
    let d = dir.path().join("cooccurrence-rows");
    let out = dir.path().join("report");
    let o = emo()
        .args(["evaluate", "--model"])
        .arg(&d)
        .arg("--input")
        .arg(multilabel_fixture("multilabel_small_test.csv"))
        .args(["--multi-label", "--label-col", "labels"])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    refused_in_one_line(
        &o,
        &d,
        "manifest.json",
        "multi_label.cooccurrence: 3 rows; 4 labels need a 4×4 matrix",
    );
    assert!(!out.exists(), "a report folder was left behind");
}
