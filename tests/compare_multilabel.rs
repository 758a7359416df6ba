//! `emo compare-sampling` on multi-label data end to end, real encoder on real
//! text: a user's CSV files cut from GoEmotions (several labels per text, some
//! texts with none), the whole report, and a test whose labels are poisoned
//! leaving every choice — settings, thresholds, their source — unchanged.

mod common;
use common::{datasets_root, emo};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The emotions kept (GoEmotions ids) and how many rows to take.
const KEPT: [(usize, &str); 6] = [
    (0, "admiration"),
    (2, "anger"),
    (15, "gratitude"),
    (18, "love"),
    (25, "sadness"),
    (27, "neutral"),
];

/// Rows of GoEmotions' training file as (text, label names): the kept
/// emotions a row carries, or none (a tenth of the rows with none of them are
/// kept as texts with no emotion).
fn rows(n: usize) -> Vec<(String, Vec<&'static str>)> {
    let text = std::fs::read_to_string(datasets_root().join("goemotions/train.tsv")).unwrap();
    let mut out = Vec::new();
    let mut without = 0;
    for line in text.lines() {
        let mut f = line.split('\t');
        let (t, ids) = (f.next().unwrap(), f.next().unwrap());
        let labels: Vec<&str> = ids
            .split(',')
            .filter_map(|i| {
                let i: usize = i.parse().unwrap();
                KEPT.iter().find(|(k, _)| *k == i).map(|(_, n)| *n)
            })
            .collect();
        if labels.is_empty() {
            without += 1;
            if without % 10 != 0 {
                continue;
            }
        }
        out.push((t.to_string(), labels));
        if out.len() == n {
            break;
        }
    }
    out
}

fn csv(dir: &Path, name: &str, rows: &[(String, Vec<&str>)]) -> PathBuf {
    let mut s = String::from("text,emotions\n");
    for (t, labels) in rows {
        writeln!(s, "\"{}\",{}", t.replace('"', "\"\""), labels.join("|")).unwrap();
    }
    common::write(dir, name, s.as_bytes())
}

fn compare(dir: &Path, test: &Path, out: &Path) -> serde_json::Value {
    let o = emo()
        .args(["compare-sampling", "--multi-label", "--label-sep", "|"])
        .args(["--label-col", "emotions"])
        .arg("--train")
        .arg(dir.join("train.csv"))
        .arg("--valid")
        .arg(dir.join("valid.csv"))
        .arg("--test")
        .arg(test)
        .args([
            "--methods",
            "bce,class-aware,ovr-logreg",
            "--seeds",
            "2",
            "--bootstrap",
            "200",
        ])
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("Recommended by validation macro-F1"),
        "{stdout}"
    );
    assert!(stdout.contains("Against plain BCE"), "{stdout}");
    let json = std::fs::read_to_string(out.join("metrics.json")).unwrap();
    serde_json::from_str(&json).unwrap()
}

/// What a method chose on each run: settings, thresholds (and their source).
fn choices(m: &serde_json::Value) -> Vec<(serde_json::Value, serde_json::Value)> {
    m["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["chosen"].clone(), r["thresholds"].clone()))
        .collect()
}

#[test]
fn a_multi_label_study_reports_every_method_and_test_labels_choose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let all = rows(1500);
    let (train, rest) = all.split_at(900);
    let (valid, test) = rest.split_at(300);
    csv(dir.path(), "train.csv", train);
    csv(dir.path(), "valid.csv", valid);
    let test_path = csv(dir.path(), "test.csv", test);
    let out = dir.path().join("report");
    let m = compare(dir.path(), &test_path, &out);

    assert_eq!(m["task"], "multi-label");
    let classes: Vec<&str> = m["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = KEPT.iter().map(|(_, n)| *n).collect();
    want.sort();
    assert_eq!(classes, want);
    assert!(m["train_texts"]["no_label"].as_u64().unwrap() > 0);
    assert!(m["train_texts"]["several_labels"].as_u64().unwrap() > 0);
    for name in ["bce", "class-aware", "ovr-logreg"] {
        let method = &m["methods"][name];
        let runs = method["runs"].as_array().unwrap();
        // ovr-logreg is deterministic: one run; the SGD heads one per seed.
        assert_eq!(
            runs.len(),
            if name == "ovr-logreg" { 1 } else { 2 },
            "{name}"
        );
        for r in runs {
            let th = r["thresholds"].as_object().unwrap();
            assert_eq!(th.len(), classes.len(), "{name}");
            for t in th.values() {
                let v = t["value"].as_f64().unwrap();
                assert!(v > 0.0 && v <= 1.0, "{name}: {t}");
            }
            for key in ["test", "test_at_0.5", "test_at_0.3", "validation"] {
                let f1 = r[key]["macro avg"]["f1-score"].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&f1), "{name} {key}");
            }
            assert!(r["test"]["samples avg"]["f1-score"].is_number());
            assert_eq!(
                r["test"]["multilabel_confusion_matrix"]
                    .as_array()
                    .unwrap()
                    .len(),
                classes.len()
            );
        }
        let iv = &method["bootstrap"]["intervals"]["macro-f1"];
        assert!(
            iv["lo"].as_f64().unwrap() <= iv["hi"].as_f64().unwrap(),
            "{name}"
        );
    }
    assert!(m["methods"]["bce"]["bootstrap"]["difference_from_baseline"].is_null());
    assert!(
        m["methods"]["ovr-logreg"]["bootstrap"]["difference_from_baseline"]["micro-f1"].is_object()
    );
    let files = common::listing(&out);
    for f in [
        "summary.md",
        "metrics.json",
        "timings.json",
        "predictions.csv",
        "index.html",
        "tradeoff.png",
        "cooccurrence.png",
        "label-confusion-bce.png",
        "label-confusion-class-aware.png",
        "label-confusion-ovr-logreg.png",
    ] {
        assert!(files.contains(&f.to_string()), "{f} missing: {files:?}");
    }
    let predictions = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(predictions.lines().count(), test.len() + 1);
    assert!(predictions
        .lines()
        .next()
        .unwrap()
        .ends_with("bce,class-aware,ovr-logreg"));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    for section in [
        "## Verdict",
        "## Intervals",
        "## Per class",
        "macro-F1 @0.3",
    ] {
        assert!(summary.contains(section), "{section}");
    }

    // The same study with the test labels shuffled among the test texts: no
    // choice may change (test never chooses), every test score may.
    let mut poisoned: Vec<(String, Vec<&str>)> = test.to_vec();
    let labels: Vec<Vec<&str>> = poisoned.iter().map(|(_, l)| l.clone()).collect();
    for (i, row) in poisoned.iter_mut().enumerate() {
        row.1 = labels[(i + 7) % labels.len()].clone();
    }
    let poisoned_path = csv(dir.path(), "poisoned.csv", &poisoned);
    let p = compare(dir.path(), &poisoned_path, &dir.path().join("poisoned"));
    for name in ["bce", "class-aware", "ovr-logreg"] {
        assert_eq!(
            choices(&m["methods"][name]),
            choices(&p["methods"][name]),
            "{name}: a choice depended on the test labels"
        );
        let f1 = |v: &serde_json::Value| {
            v["methods"][name]["runs"][0]["test"]["micro avg"]["f1-score"]
                .as_f64()
                .unwrap()
        };
        assert_ne!(
            f1(&m),
            f1(&p),
            "{name}: the poison did not reach the test scores"
        );
    }
    assert_eq!(m["recommended"], p["recommended"]);
}

#[test]
fn multi_label_only_options_are_refused_on_single_label_data_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let single = common::write(dir.path(), "s.csv", b"text,label\na,x\nb,y\n");
    let o = emo()
        .args(["compare-sampling", "--at-least-one", "--train"])
        .arg(&single)
        .arg("--out")
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--at-least-one is for multi-label data"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for (args, says) in [
        (
            vec!["--methods", "bce,cb"],
            "unknown multi-label method 'cb'",
        ),
        (vec!["--train-profile", "3,2"], "single-label only"),
        (vec!["--select", "few-recall"], "validation macro-F1 only"),
    ] {
        let o = emo()
            .args(["compare-sampling", "--dataset", "goemotions-multi"])
            .args(&args)
            .arg("--out")
            .arg(dir.path().join("r"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!dir.path().join("r").exists());
    }
}
