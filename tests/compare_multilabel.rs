//! `emo compare-sampling` on multi-label data end to end, real encoder on real
//! text: a user's CSV files cut from GoEmotions (several labels per text, some
//! texts with none), the whole report, and a test whose labels are poisoned
//! leaving every choice — settings, thresholds, their source — unchanged.

use crate::common;
use crate::common::{datasets_root, emo};
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

fn counts(v: &serde_json::Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect()
}

/// Class indices of a field of label names joined by `,` (empty: none).
fn label_indices(field: &str, classes: &[&str]) -> Vec<usize> {
    field
        .split(',')
        .filter(|l| !l.is_empty())
        .map(|l| {
            classes
                .iter()
                .position(|c| *c == l)
                .unwrap_or_else(|| panic!("unknown label {l:?}"))
        })
        .collect()
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn close(what: &str, got: &serde_json::Value, want: f64) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {got} is not a number"));
    assert!(
        (got - want).abs() < 1e-12,
        "{what}: {got}, recomputed {want}"
    );
}

/// A classification report (scikit-learn's layout) agrees with itself: each
/// class's confusion matrix covers every text and its true count, its
/// precision, recall and F1 are those of the matrix, and the micro, macro and
/// weighted averages and the Hamming loss are those of the classes.
fn assert_consistent(
    what: &str,
    report: &serde_json::Value,
    classes: &[&str],
    true_counts: &[u64],
) {
    let matrices = report["multilabel_confusion_matrix"].as_array().unwrap();
    assert_eq!(matrices.len(), classes.len(), "{what}");
    let (mut tp_all, mut fp_all, mut fn_all, mut wrong) = (0, 0, 0, 0);
    let mut n = None;
    let (mut p_sum, mut r_sum, mut f_sum) = (0.0, 0.0, 0.0);
    let (mut p_w, mut r_w, mut f_w) = (0.0, 0.0, 0.0);
    for (k, c) in classes.iter().enumerate() {
        let cell = |row: usize, col: usize| matrices[k][row][col].as_u64().unwrap();
        let (tn, fp, fn_, tp) = (cell(0, 0), cell(0, 1), cell(1, 0), cell(1, 1));
        let texts = tn + fp + fn_ + tp;
        assert_eq!(*n.get_or_insert(texts), texts, "{what}, {c}: texts");
        assert_eq!(tp + fn_, true_counts[k], "{what}, {c}: positives");
        let row = &report[*c];
        assert_eq!(row["support"], tp + fn_, "{what}, {c}");
        let (p, r, f) = (
            ratio(tp, tp + fp),
            ratio(tp, tp + fn_),
            ratio(2 * tp, 2 * tp + fp + fn_),
        );
        close(&format!("{what}, {c} precision"), &row["precision"], p);
        close(&format!("{what}, {c} recall"), &row["recall"], r);
        close(&format!("{what}, {c} F1"), &row["f1-score"], f);
        (p_sum, r_sum, f_sum) = (p_sum + p, r_sum + r, f_sum + f);
        let s = (tp + fn_) as f64;
        (p_w, r_w, f_w) = (p_w + s * p, r_w + s * r, f_w + s * f);
        (tp_all, fp_all, fn_all) = (tp_all + tp, fp_all + fp, fn_all + fn_);
        wrong += fp + fn_;
    }
    let support = tp_all + fn_all;
    let k = classes.len() as f64;
    for (avg, p, r, f) in [
        (
            "micro avg",
            ratio(tp_all, tp_all + fp_all),
            ratio(tp_all, support),
            ratio(2 * tp_all, 2 * tp_all + fp_all + fn_all),
        ),
        ("macro avg", p_sum / k, r_sum / k, f_sum / k),
        (
            "weighted avg",
            p_w / support as f64,
            r_w / support as f64,
            f_w / support as f64,
        ),
    ] {
        close(
            &format!("{what}, {avg} precision"),
            &report[avg]["precision"],
            p,
        );
        close(&format!("{what}, {avg} recall"), &report[avg]["recall"], r);
        close(&format!("{what}, {avg} F1"), &report[avg]["f1-score"], f);
        assert_eq!(report[avg]["support"], support, "{what}, {avg}");
    }
    close(
        &format!("{what}, hamming loss"),
        &report["hamming_loss"],
        ratio(wrong, n.unwrap() * classes.len() as u64),
    );
}

/// The report's numbers recomputed from the predicted and true label sets:
/// each class's confusion matrix, the per-text (samples) averages, subset
/// accuracy and samples Jaccard (0 for a text with both sets empty).
fn assert_recomputed(
    what: &str,
    report: &serde_json::Value,
    classes: &[&str],
    truth: &[Vec<usize>],
    predicted: &[Vec<usize>],
) {
    assert_eq!(truth.len(), predicted.len(), "{what}");
    let n = truth.len();
    for (k, c) in classes.iter().enumerate() {
        let mut m = [[0u64; 2]; 2];
        for (t, p) in truth.iter().zip(predicted) {
            m[t.contains(&k) as usize][p.contains(&k) as usize] += 1;
        }
        assert_eq!(
            report["multilabel_confusion_matrix"][k],
            serde_json::json!(m),
            "{what}, {c}"
        );
    }
    let (mut sp, mut sr, mut sf, mut sj, mut exact) = (0.0, 0.0, 0.0, 0.0, 0);
    for (t, p) in truth.iter().zip(predicted) {
        let both = t.iter().filter(|k| p.contains(k)).count() as u64;
        let (nt, np) = (t.len() as u64, p.len() as u64);
        sp += ratio(both, np);
        sr += ratio(both, nt);
        sf += ratio(2 * both, nt + np);
        sj += ratio(both, nt + np - both);
        exact += (both == nt && both == np) as usize;
    }
    let per_text = |v: f64| v / n as f64;
    let samples = &report["samples avg"];
    close(
        &format!("{what}, samples precision"),
        &samples["precision"],
        per_text(sp),
    );
    close(
        &format!("{what}, samples recall"),
        &samples["recall"],
        per_text(sr),
    );
    close(
        &format!("{what}, samples F1"),
        &samples["f1-score"],
        per_text(sf),
    );
    close(
        &format!("{what}, samples Jaccard"),
        &report["jaccard_samples"],
        per_text(sj),
    );
    close(
        &format!("{what}, subset accuracy"),
        &report["subset_accuracy"],
        exact as f64 / n as f64,
    );
}

/// A bootstrap interval around `estimate`: that point estimate, lo ≤ it ≤ hi,
/// and some width.
fn assert_interval(what: &str, iv: &serde_json::Value, estimate: f64) {
    close(&format!("{what} estimate"), &iv["estimate"], estimate);
    let (lo, hi) = (iv["lo"].as_f64().unwrap(), iv["hi"].as_f64().unwrap());
    assert!(lo <= estimate && estimate <= hi && lo < hi, "{what}: {iv}");
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
    // predictions.csv: a row per test text, in order, its true labels those of
    // the test file; every method's (first-seed) labels beside them.
    let mut reader = csv::Reader::from_path(out.join("predictions.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["id", "true", "bce", "class-aware", "ovr-logreg"]);
    let predictions: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(predictions.len(), test.len());
    let truth: Vec<Vec<usize>> = predictions
        .iter()
        .zip(test)
        .map(|(row, (_, labels))| {
            let mut names = labels.clone();
            names.sort_unstable();
            assert_eq!(&row[1], names.join(","));
            label_indices(&row[1], &classes)
        })
        .collect();
    let test_counts: Vec<u64> = (0..classes.len())
        .map(|k| truth.iter().filter(|t| t.contains(&k)).count() as u64)
        .collect();
    assert_eq!(counts(&m["test_counts"]), test_counts);
    let validation_counts = counts(&m["validation_counts"]);
    assert_eq!(validation_counts.len(), classes.len());
    for name in ["bce", "class-aware", "ovr-logreg"] {
        let method = &m["methods"][name];
        let runs = method["runs"].as_array().unwrap();
        // ovr-logreg is deterministic: one run; the SGD heads one per seed.
        assert_eq!(
            runs.len(),
            if name == "ovr-logreg" { 1 } else { 2 },
            "{name}"
        );
        for (i, r) in runs.iter().enumerate() {
            let what = format!("{name}, run {i}");
            for key in ["test", "test_at_0.5", "test_at_0.3"] {
                assert_consistent(&format!("{what}, {key}"), &r[key], &classes, &test_counts);
            }
            assert_consistent(
                &format!("{what}, validation"),
                &r["validation"],
                &classes,
                &validation_counts,
            );
            // Every threshold at 0.3 accepts what 0.5 accepts, and more.
            for c in &classes {
                let cell = |key: &str, row: usize, col: usize| {
                    let k = classes.iter().position(|x| x == c).unwrap();
                    r[key]["multilabel_confusion_matrix"][k][row][col]
                        .as_u64()
                        .unwrap()
                };
                let predicted = |key: &str| cell(key, 0, 1) + cell(key, 1, 1);
                assert!(
                    predicted("test_at_0.3") >= predicted("test_at_0.5")
                        && cell("test_at_0.3", 1, 1) >= cell("test_at_0.5", 1, 1),
                    "{what}, {c}: 0.3 predicts less than 0.5"
                );
            }
            // Each class's threshold records the validation F1 the run's
            // validation report gives that class at it, and its positives.
            let th = r["thresholds"].as_object().unwrap();
            assert_eq!(th.len(), classes.len(), "{what}");
            for (k, c) in classes.iter().enumerate() {
                let t = &th[*c];
                let f1 = r["validation"][*c]["f1-score"].as_f64().unwrap();
                assert!(
                    (t["validation_f1"].as_f64().unwrap() - f1).abs() < 1e-12,
                    "{what}, {c}: threshold {t} against validation F1 {f1}"
                );
                assert_eq!(
                    t["validation_positives"].as_u64().unwrap(),
                    validation_counts[k],
                    "{what}, {c}"
                );
            }
        }
        // The test report of the first run is what its predictions in
        // predictions.csv score, recomputed here.
        let column = header.iter().position(|h| h == name).unwrap();
        let predicted: Vec<Vec<usize>> = predictions
            .iter()
            .map(|row| label_indices(&row[column], &classes))
            .collect();
        assert_recomputed(name, &runs[0]["test"], &classes, &truth, &predicted);
        // The bootstrap's point estimates are the seed-mean of the runs' test
        // numbers, inside their intervals.
        let boot = &method["bootstrap"];
        let mean = |f: &dyn Fn(&serde_json::Value) -> f64| {
            runs.iter().map(|r| f(&r["test"])).sum::<f64>() / runs.len() as f64
        };
        for (stat, avg) in [
            ("macro-f1", "macro avg"),
            ("micro-f1", "micro avg"),
            ("samples-f1", "samples avg"),
        ] {
            let iv = &boot["intervals"][stat];
            let want = mean(&|t| t[avg]["f1-score"].as_f64().unwrap());
            assert_interval(&format!("{name} {stat}"), iv, want);
        }
        for c in &classes {
            let want = mean(&|t| t[*c]["f1-score"].as_f64().unwrap());
            assert_interval(&format!("{name} {c}"), &boot["per_class_f1"][*c], want);
        }
    }
    // The difference from bce is the difference of the two seed-means.
    let seed_mean = |name: &str, avg: &str| {
        let runs = m["methods"][name]["runs"].as_array().unwrap();
        runs.iter()
            .map(|r| r["test"][avg]["f1-score"].as_f64().unwrap())
            .sum::<f64>()
            / runs.len() as f64
    };
    let diff = &m["methods"]["ovr-logreg"]["bootstrap"]["difference_from_baseline"]["micro-f1"];
    let want = seed_mean("ovr-logreg", "micro avg") - seed_mean("bce", "micro avg");
    assert!(
        (diff["estimate"].as_f64().unwrap() - want).abs() < 1e-12,
        "{diff} against {want}"
    );
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
            vec!["--methods", "bce,lws"],
            "unknown multi-label method 'lws'",
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
