//! `emo compare-features` through the binary on real CARER texts: one study per
//! feature set, written beside the summary; features.json with every field the
//! docs promise; the recommended set chosen on validation alone (test labels
//! scrambled, the same choice); multi-label data through the same command; bad
//! feature lists refused in one line before any work.

use crate::common::{datasets_root, emo, write};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `per` texts of each emotion from CARER's `file`, as a CSV; with `scramble`,
/// the labels are rotated among the rows (each row gets another's label).
fn carer(dir: &Path, file: &str, per: usize, scramble: bool) -> PathBuf {
    let text = std::fs::read_to_string(datasets_root().join("carer").join(file)).unwrap();
    let mut taken = std::collections::HashMap::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    for line in text.lines().skip(1) {
        let (t, label) = line.rsplit_once(';').unwrap();
        let n = taken.entry(label.to_string()).or_insert(0);
        if *n < per {
            *n += 1;
            rows.push((t.replace('"', "\"\""), label.to_string()));
        }
    }
    if scramble {
        let labels: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
        for (i, r) in rows.iter_mut().enumerate() {
            r.1 = labels[(i + 7) % labels.len()].clone();
        }
    }
    let mut out = String::from("text,label\n");
    for (t, l) in &rows {
        writeln!(out, "\"{t}\",{l}").unwrap();
    }
    let name = format!(
        "{}{}.csv",
        file.trim_end_matches(".txt"),
        if scramble { "-scrambled" } else { "" }
    );
    write(dir, &name, out.as_bytes())
}

fn compare(dir: &Path, test: &Path, out: &Path) -> Value {
    let o = emo()
        .args(["compare-features", "--features"])
        .arg("minilm:last,minilm:-3,minilm:concat:4,6")
        .arg("--train")
        .arg(carer(dir, "train.txt", 25, false))
        .arg("--valid")
        .arg(carer(dir, "val.txt", 10, false))
        .arg("--test")
        .arg(test)
        .args(["--methods", "ib,ncm", "--bootstrap", "200", "--cache-dir"])
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.starts_with("Validation recommends "), "{stdout}");
    serde_json::from_str(&std::fs::read_to_string(out.join("features.json")).unwrap()).unwrap()
}

#[test]
fn each_feature_set_is_a_study_and_validation_alone_recommends_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("features");
    let test = carer(d, "test.txt", 10, false);
    let fj = compare(d, &test, &out);

    let sets = fj["features"].as_array().unwrap();
    let names: Vec<&str> = sets.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["minilm:last", "minilm:-3", "minilm:concat:4,6"]);
    let layers: Vec<&str> = sets.iter().map(|s| s["layers"].as_str().unwrap()).collect();
    assert_eq!(layers, ["last", "-3", "concat:4,6"]);
    let dims: Vec<u64> = sets.iter().map(|s| s["dim"].as_u64().unwrap()).collect();
    assert_eq!(dims, [384, 384, 768]);
    for s in sets {
        assert!(
            s["encoder"].as_str().unwrap().ends_with("all-MiniLM-L6-v2"),
            "{s}"
        );
        assert!(
            ["ib", "ncm"].contains(&s["best_method"].as_str().unwrap()),
            "{s}"
        );
        let f1 = s["test_macro_f1"].as_f64().unwrap();
        let iv = s["interval"].as_array().unwrap();
        let (lo, hi) = (iv[0].as_f64().unwrap(), iv[1].as_f64().unwrap());
        assert!(lo <= f1 && f1 <= hi && lo < hi, "{s}");
        assert!(s["texts_per_s"].as_f64().unwrap() > 0.0, "{s}");
        // The set's own study, complete, where the row says.
        let report = out.join(s["report"].as_str().unwrap());
        assert!(
            report.join("metrics.json").is_file(),
            "{}",
            report.display()
        );
        // Its headline is the study's own recommendation.
        let m: Value =
            serde_json::from_str(&std::fs::read_to_string(report.join("metrics.json")).unwrap())
                .unwrap();
        assert_eq!(m["recommended"]["method"], s["best_method"], "{s}");
    }
    assert!(sets[0]["difference_to_first"].is_null());
    for s in &sets[1..] {
        let d = &s["difference_to_first"];
        let (lo, hi) = (d["lo"].as_f64().unwrap(), d["hi"].as_f64().unwrap());
        assert!(lo <= d["estimate"].as_f64().unwrap() && d["estimate"].as_f64().unwrap() <= hi);
    }
    // The recommended set has the best validation score of all.
    let best = sets
        .iter()
        .max_by(|a, b| {
            a["validation_score"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["validation_score"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(fj["recommended"], best["name"]);
    for f in ["summary.md", "index.html", "features.png"] {
        assert!(out.join(f).is_file(), "{f}");
    }

    // Test labels scrambled: every test number changes, the choice does not.
    let scrambled = carer(d, "test.txt", 10, true);
    let fs = compare(d, &scrambled, &d.join("scrambled"));
    assert_eq!(fs["recommended"], fj["recommended"]);
    let f1 = |v: &Value| v["features"][0]["test_macro_f1"].as_f64().unwrap();
    assert!(f1(&fs) < f1(&fj), "scrambled labels should score lower");
}

#[test]
fn multi_label_data_and_bad_lists() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("multi");
    let o = emo()
        .args([
            "compare-features",
            "--features",
            "minilm,minilm:mean:-2..-1",
        ])
        .arg("--train")
        .arg(crate::common::multilabel_fixture("multilabel_small.csv"))
        .args([
            "--multi-label",
            "--label-col",
            "labels",
            "--split",
            "0.5,0.25,0.25",
        ])
        .args([
            "--methods",
            "bce,crt",
            "--tune",
            "none",
            "--bootstrap",
            "100",
        ])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fj: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("features.json")).unwrap()).unwrap();
    assert_eq!(fj["task"], "multi-label");
    assert_eq!(fj["features"][1]["layers_resolved"], "mean:5..6");

    for (list, needle) in [
        ("nosuch:last", "no encoder 'nosuch'"),
        ("minilm:mean:4..2", "runs backwards"),
        ("minilm:last,minilm:last", "named twice"),
        ("minilm:sum:1,2", "not a layer choice"),
    ] {
        let o = emo()
            .args(["compare-features", "--features", list, "--dataset", "carer"])
            .arg("--out")
            .arg(dir.path().join("never"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{list}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{list}: {err}");
        assert!(err.contains(needle), "{list}: {err}");
        assert!(!dir.path().join("never").exists(), "{list}");
    }
}
