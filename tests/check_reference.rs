//! scripts/check_reference.py, which `make demo` runs on its fresh report, judges what a
//! result is: float noise across CPUs (iteration counts, confusion cells off by one,
//! metrics moved by 1e-3) matches the committed reference and is summarised; one method's
//! macro-F1 moved by 0.02, or a method missing, differs, is named, and exits 1 under
//! `--strict` (0 without it, as `make demo` runs it). The reports are copies of the
//! committed CARER reference (the smallest complete one); the script needs `python3` with
//! its standard library only.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn reference() -> PathBuf {
    root().join("reports/reference/carer")
}

/// Copies the reference's files into `dir/report`; `edit`, when given, changes its
/// metrics.json (otherwise the copy is byte for byte).
fn report_copy(dir: &Path, edit: Option<&dyn Fn(&mut Value)>) -> PathBuf {
    let out = dir.join("report");
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(reference()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, out.join(path.file_name().unwrap())).unwrap();
        }
    }
    if let Some(edit) = edit {
        let file = out.join("metrics.json");
        let mut metrics: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        edit(&mut metrics);
        std::fs::write(&file, serde_json::to_string_pretty(&metrics).unwrap()).unwrap();
    }
    out
}

/// Runs the check of `report` against the reference: (exit code, stdout).
fn check(report: &Path, strict: bool) -> (Option<i32>, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("scripts/check_reference.py"));
    if strict {
        cmd.arg("--strict");
    }
    let out = cmd
        .arg("--report")
        .arg(report)
        .arg("--reference")
        .arg(reference())
        .output()
        .expect("python3 runs");
    assert!(
        out.stderr.is_empty(),
        "check_reference.py wrote to stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

fn last_line(stdout: &str) -> &str {
    stdout.trim_end().lines().last().unwrap_or("")
}

fn add(v: &mut Value, by: f64) {
    let x = v.as_f64().expect("a number");
    *v = Value::from(x + by);
}

/// Moves one test prediction of a run's row `row` from column `from` to column `to`.
fn move_prediction(m: &mut Value, method: &str, run: usize, row: usize, from: usize, to: usize) {
    let cells = &mut m["methods"][method]["runs"][run]["test_confusion"][row];
    let (a, b) = (cells[from].as_u64().unwrap(), cells[to].as_u64().unwrap());
    assert!(a > 0, "{method} run {run}: cell ({row}, {from}) is empty");
    cells[from] = Value::from(a - 1);
    cells[to] = Value::from(b + 1);
}

#[test]
fn an_identical_copy_matches() {
    let dir = tempfile::tempdir().unwrap();
    let report = report_copy(dir.path(), None);
    let (code, out) = check(&report, true);
    assert_eq!(code, Some(0), "{out}");
    let last = last_line(&out);
    assert!(last.contains("matches the reference"), "{out}");
    assert!(last.contains("identical"), "{out}");
}

#[test]
fn float_noise_across_cpus_matches_and_is_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let noise = |m: &mut Value| {
        // The optimiser stops a few iterations later.
        for method in ["logreg", "logreg-balanced"] {
            for run in m["methods"][method]["runs"].as_array_mut().unwrap() {
                let n = run["chosen"]["iterations"].as_u64().unwrap();
                run["chosen"]["iterations"] = Value::from(n + 6);
            }
        }
        // Three texts near a decision boundary change their label.
        move_prediction(m, "ib", 0, 0, 0, 1);
        move_prediction(m, "cb", 1, 2, 2, 0);
        move_prediction(m, "tau", 2, 5, 5, 1);
        // Metrics move in the third decimal at most.
        let run = &mut m["methods"]["ib"]["runs"][0];
        add(&mut run["test"]["accuracy"], 0.0005);
        add(&mut run["test"]["macro avg"]["f1-score"], -0.0008);
        add(&mut run["test"]["weighted avg"]["f1-score"], 0.0006);
        add(&mut run["test"]["sadness"]["f1-score"], 0.001);
        add(&mut run["test_balanced_accuracy"], 0.0004);
        add(&mut run["validation"]["macro avg"]["f1-score"], 0.0009);
        add(&mut run["weight_norms"][0], 1e-4);
        add(
            &mut m["bootstrap"]["methods"]["ib"]["intervals"]["macro-f1"]["lo"],
            0.0007,
        );
    };
    let report = report_copy(dir.path(), Some(&noise));
    let (code, out) = check(&report, true);
    assert_eq!(code, Some(0), "float noise must match:\n{out}");
    let last = last_line(&out);
    assert!(
        last.contains("matches the reference (differences are float noise across CPUs"),
        "{out}"
    );
    assert!(
        last.contains("6 confusion cells differ by 1 in 3 runs"),
        "{out}"
    );
    assert!(
        last.contains("iterations differ for 2 methods (largest "),
        "{out}"
    );
    assert!(!out.contains("beyond tolerance"), "{out}");
}

#[test]
fn one_macro_f1_moved_by_0_02_differs_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(reference().join("metrics.json")).unwrap())
            .unwrap();
    let before = original["methods"]["logreg"]["runs"][0]["test"]["macro avg"]["f1-score"]
        .as_f64()
        .unwrap();
    let change = |m: &mut Value| {
        add(
            &mut m["methods"]["logreg"]["runs"][0]["test"]["macro avg"]["f1-score"],
            0.02,
        );
    };
    let report = report_copy(dir.path(), Some(&change));

    let (code, out) = check(&report, true);
    assert_eq!(code, Some(1), "--strict exits 1 on a difference:\n{out}");
    let last = last_line(&out);
    assert!(last.contains("differs from the reference"), "{out}");
    assert!(last.contains("logreg seed 0 test macro-F1"), "{out}");
    let values = format!("{:.6} here, {:.6} in the reference", before + 0.02, before);
    assert!(
        last.contains(&values),
        "both values ({values}) named:\n{out}"
    );
    assert!(!last.contains("matches"), "{out}");

    // As `make demo` runs it: the same verdict, and the demo goes on.
    let (code, informative) = check(&report, false);
    assert_eq!(code, Some(0), "{informative}");
    assert_eq!(last_line(&informative), last);
}

#[test]
fn a_missing_method_differs() {
    let dir = tempfile::tempdir().unwrap();
    let drop_ncm = |m: &mut Value| {
        let removed = m["methods"].as_object_mut().unwrap().remove("ncm");
        assert!(removed.is_some(), "the reference has ncm");
    };
    let report = report_copy(dir.path(), Some(&drop_ncm));
    let (code, out) = check(&report, true);
    assert_eq!(code, Some(1), "{out}");
    let last = last_line(&out);
    assert!(last.contains("differs from the reference"), "{out}");
    assert!(
        last.contains("method ncm is in the reference only"),
        "{out}"
    );
}

// ---------------------------------------------------------------------- multi-label

/// A multi-label report: `emo compare-sampling --dataset goemotions-multi --seeds 3`
/// trimmed to two methods (bce, three seeds; ovr-logreg, one run) and four classes
/// (admiration, amusement, grief with 6 test texts, neutral with 1,787).
fn multi_reference() -> PathBuf {
    root().join("tests/fixtures/check_reference_multi")
}

fn multi_copy(dir: &Path, edit: Option<&dyn Fn(&mut Value)>) -> PathBuf {
    let out = dir.join("report");
    std::fs::create_dir_all(&out).unwrap();
    let file = multi_reference().join("metrics.json");
    let Some(edit) = edit else {
        std::fs::copy(&file, out.join("metrics.json")).unwrap();
        return out;
    };
    // serde_json's parse may round a float's last bit: edited copies carry such noise too.
    let mut metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(metrics["task"], "multi-label");
    edit(&mut metrics);
    std::fs::write(
        out.join("metrics.json"),
        serde_json::to_string_pretty(&metrics).unwrap(),
    )
    .unwrap();
    out
}

fn check_multi(report: &Path, strict: bool) -> (Option<i32>, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("scripts/check_reference.py"));
    if strict {
        cmd.arg("--strict");
    }
    let out = cmd
        .arg("--report")
        .arg(report)
        .arg("--reference")
        .arg(multi_reference())
        .output()
        .expect("python3 runs");
    assert!(
        out.stderr.is_empty(),
        "check_reference.py wrote to stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// Index of a class in the fixture's `classes`.
fn class_index(m: &Value, class: &str) -> usize {
    m["classes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == class)
        .unwrap()
}

/// Moves one label decision of `class` in a run's split: a positive text predicted
/// negative (fn -> tp, `to_tp`) or the other way (tp -> fn).
fn move_decision(m: &mut Value, method: &str, run: usize, split: &str, class: &str, to_tp: bool) {
    let k = class_index(m, class);
    let cm = &mut m["methods"][method]["runs"][run][split]["multilabel_confusion_matrix"][k][1];
    let (fneg, tp) = (cells(&cm[0]), cells(&cm[1]));
    let (fneg, tp) = if to_tp {
        (fneg - 1, tp + 1)
    } else {
        (fneg + 1, tp - 1)
    };
    cm[0] = Value::from(fneg);
    cm[1] = Value::from(tp);
}

fn cells(v: &Value) -> i64 {
    v.as_i64().expect("a count")
}

#[test]
fn a_multi_label_identical_copy_matches() {
    let dir = tempfile::tempdir().unwrap();
    let report = multi_copy(dir.path(), None);
    let (code, out) = check_multi(&report, true);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("metrics of a multi-label report"), "{out}");
    let last = last_line(&out);
    assert!(
        last.contains("matches the reference (every metric, count and choice identical)"),
        "{out}"
    );
}

#[test]
fn multi_label_float_noise_matches_and_is_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let noise = |m: &mut Value| {
        // One text near neutral's threshold loses its label (neutral: 1,787 test texts).
        move_decision(m, "bce", 0, "test", "neutral", false);
        // Metrics move by 1e-4; a threshold by 1e-6; a candidate's validation score.
        let run = &mut m["methods"]["bce"]["runs"][0];
        for (group, metric) in [
            ("macro avg", "f1-score"),
            ("micro avg", "f1-score"),
            ("samples avg", "recall"),
            ("weighted avg", "precision"),
            ("neutral", "f1-score"),
        ] {
            add(&mut run["test"][group][metric], 1e-4);
        }
        add(&mut run["test"]["hamming_loss"], 1e-4);
        add(&mut run["test"]["jaccard_samples"], -1e-4);
        add(&mut run["test"]["macro_average_precision"], 1e-4);
        add(&mut run["test"]["average_precision"][0], -1e-4);
        add(&mut run["validation"]["macro avg"]["f1-score"], 1e-4);
        add(&mut run["validation_score"], 1e-4);
        add(&mut run["thresholds"]["neutral"]["value"], 1e-6);
        add(&mut run["thresholds"]["neutral"]["validation_f1"], 1e-4);
        add(&mut run["chosen"]["curve"][0]["validation_macro_f1"], 1e-5);
        add(&mut run["weight_norms"][1], 1e-4);
        add(
            &mut m["methods"]["ovr-logreg"]["bootstrap"]["intervals"]["macro-f1"]["lo"],
            1e-4,
        );
        add(
            &mut m["methods"]["ovr-logreg"]["bootstrap"]["difference_from_baseline"]["micro-f1"]
                ["estimate"],
            -1e-4,
        );
    };
    let report = multi_copy(dir.path(), Some(&noise));
    let (code, out) = check_multi(&report, true);
    assert_eq!(code, Some(0), "float noise must match:\n{out}");
    assert!(!out.contains("beyond tolerance"), "{out}");
    assert!(out.contains("note: bce: "), "{out}");
    assert!(
        out.contains("1 per-class threshold differs in 1 run (largest: seed 0 neutral 0.3006 here"),
        "the thresholds are noted, the largest move named:\n{out}"
    );
    let last = last_line(&out);
    assert!(
        last.contains("matches the reference (differences are float noise across CPUs"),
        "{out}"
    );
    assert!(
        last.contains("2 confusion cells differ by 1 in 1 run"),
        "{out}"
    );
    assert!(
        last.contains("candidates' validation scores differ"),
        "{out}"
    );
    assert!(last.contains("weight norms differ"), "{out}");
    assert!(last.contains("1 tuning choice differs"), "{out}");
}

/// grief has 6 test texts: one changed decision moves its F1 by up to 2/(6 + 9 - 1) = 0.143
/// (9 texts predicted grief), and macro-F1 over four classes by a quarter of that. That
/// excuses the move the decision makes (0.267 -> 0.375), not a larger one.
#[test]
fn multi_label_changed_decisions_of_a_small_class_excuse_only_what_they_can_move() {
    let grief = |m: &mut Value, f1_by: f64| {
        move_decision(m, "bce", 0, "test", "grief", true);
        let run = &mut m["methods"]["bce"]["runs"][0]["test"];
        let before = run["grief"]["f1-score"].as_f64().unwrap();
        assert!(
            (before - 4.0 / 15.0).abs() < 1e-9,
            "grief: tp 2, fp 7, fn 4"
        );
        add(&mut run["grief"]["f1-score"], f1_by);
        add(&mut run["grief"]["recall"], 1.0 / 6.0);
        add(&mut run["macro avg"]["f1-score"], f1_by / 4.0);
    };
    let dir = tempfile::tempdir().unwrap();
    let moved = |m: &mut Value| grief(m, 6.0 / 16.0 - 4.0 / 15.0);
    let report = multi_copy(dir.path(), Some(&moved));
    let (code, out) = check_multi(&report, true);
    assert_eq!(code, Some(0), "one changed decision explains it:\n{out}");
    let last = last_line(&out);
    assert!(
        last.contains("2 confusion cells differ by 1 in 1 run"),
        "{out}"
    );
    assert!(
        last.contains("1 class-averaged metric beyond 0.005 explained"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let too_far = |m: &mut Value| grief(m, 0.2);
    let report = multi_copy(dir.path(), Some(&too_far));
    let (code, out) = check_multi(&report, true);
    assert_eq!(
        code,
        Some(1),
        "one changed decision cannot move F1 by 0.2:\n{out}"
    );
    let last = last_line(&out);
    assert!(
        last.contains("bce seed 0 test grief F1 0.466667 here, 0.266667 in the reference"),
        "{out}"
    );
    assert!(last.contains("bce seed 0 test macro-F1"), "{out}");
}

#[test]
fn multi_label_macro_f1_moved_by_0_02_differs_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string(multi_reference().join("metrics.json")).unwrap(),
    )
    .unwrap();
    let before = original["methods"]["ovr-logreg"]["runs"][0]["test"]["macro avg"]["f1-score"]
        .as_f64()
        .unwrap();
    let change = |m: &mut Value| {
        add(
            &mut m["methods"]["ovr-logreg"]["runs"][0]["test"]["macro avg"]["f1-score"],
            0.02,
        );
    };
    let report = multi_copy(dir.path(), Some(&change));
    let (code, out) = check_multi(&report, true);
    assert_eq!(code, Some(1), "--strict exits 1 on a difference:\n{out}");
    let last = last_line(&out);
    assert!(last.contains("differs from the reference"), "{out}");
    let values = format!(
        "ovr-logreg seed 0 test macro-F1 {:.6} here, {:.6} in the reference",
        before + 0.02,
        before
    );
    assert!(
        last.contains(&values),
        "method, seed, metric and both values ({values}):\n{out}"
    );

    let (code, informative) = check_multi(&report, false);
    assert_eq!(code, Some(0), "{informative}");
    assert_eq!(last_line(&informative), last);
}

#[test]
fn multi_label_missing_method_differs() {
    let dir = tempfile::tempdir().unwrap();
    let drop = |m: &mut Value| {
        let removed = m["methods"].as_object_mut().unwrap().remove("ovr-logreg");
        assert!(removed.is_some(), "the fixture has ovr-logreg");
    };
    let report = multi_copy(dir.path(), Some(&drop));
    let (code, out) = check_multi(&report, true);
    assert_eq!(code, Some(1), "{out}");
    let last = last_line(&out);
    assert!(last.contains("differs from the reference"), "{out}");
    assert!(
        last.contains("method ovr-logreg is in the reference only"),
        "{out}"
    );
}
