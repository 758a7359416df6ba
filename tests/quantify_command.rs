//! `emo quantify` through the binary with the real encoder: shares that are
//! what classify's labels count (cc) or a distribution (single-label), each
//! inside its interval; groups estimated as if each were quantified alone
//! (the bootstrap draws by text id, so a part resamples as the whole does);
//! every output format; and bad input refused with exit 2.

use crate::common::{self, emo, shared_multilabel, shared_small_carer, write};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// 240 CARER test texts with ids, in two groups of 120.
fn corpus(dir: &Path) -> PathBuf {
    use std::fmt::Write as _;
    let text = std::fs::read_to_string(common::datasets_root().join("carer/test.txt")).unwrap();
    let mut out = String::from("id,text,week\n");
    for (i, line) in text.lines().skip(1).take(240).enumerate() {
        let (t, _) = line.rsplit_once(';').unwrap();
        let week = if i < 120 { "w1" } else { "w2" };
        writeln!(out, "t{i},\"{}\",{week}", t.replace('"', "\"\"")).unwrap();
    }
    write(dir, "corpus.csv", out.as_bytes())
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = emo().arg("quantify").args(args).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn json_run(args: &[&str]) -> Value {
    let (code, out, err) = run(args);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).unwrap()
}

/// (label, share, low, high) of one JSON shares object.
fn shares(v: &Value) -> Vec<(String, f64, f64, f64)> {
    v["shares"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(l, s)| {
            let f = |k: &str| s[k].as_f64().unwrap();
            (l.clone(), f("share"), f("low"), f("high"))
        })
        .collect()
}

#[test]
fn single_label_shares_count_classify_and_groups_stand_alone() {
    let dir = tempfile::tempdir().unwrap();
    let model = shared_small_carer("ib");
    let input = corpus(dir.path());
    let m = model.to_str().unwrap();
    let i = input.to_str().unwrap();

    // The default (sld): a distribution, each share inside its interval.
    let all = json_run(&[
        "--model",
        m,
        "--input",
        i,
        "--output-format",
        "json",
        "--bootstrap",
        "200",
    ]);
    assert_eq!(all["estimator"], "sld");
    assert_eq!(all["texts"], 240);
    let s = shares(&all);
    assert_eq!(s.len(), 6);
    assert!(
        (s.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-9,
        "{all}"
    );
    for (l, p, lo, hi) in &s {
        assert!(lo <= p && p <= hi && lo < hi, "{l}: {p} [{lo}, {hi}]");
    }

    // cc counts exactly the labels classify gives.
    let cc = json_run(&[
        "--model",
        m,
        "--input",
        i,
        "--estimator",
        "cc",
        "--output-format",
        "json",
        "--bootstrap",
        "0",
    ]);
    let o = emo()
        .args([
            "classify",
            "--model",
            m,
            "--input",
            i,
            "--output-format",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let labels: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["label"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(labels.len(), 240);
    for (l, p, lo, hi) in shares(&cc) {
        let counted = labels.iter().filter(|x| **x == l).count() as f64 / 240.0;
        assert!(
            (p - counted).abs() < 1e-12,
            "{l}: cc {p} vs classify {counted}"
        );
        assert_eq!((lo, hi), (p, p), "--bootstrap 0 gives no interval");
    }
    // The estimators differ: the adjustment does something.
    assert_ne!(shares(&cc), shares(&all));

    // Per group, each group's estimate and interval are those of the group
    // quantified alone (its rows, its ids).
    let by = json_run(&[
        "--model",
        m,
        "--input",
        i,
        "--by",
        "week",
        "--output-format",
        "json",
        "--bootstrap",
        "200",
    ]);
    let groups = by.as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        (groups[0]["group"].as_str(), groups[0]["texts"].as_u64()),
        (Some("w1"), Some(120))
    );
    let text = std::fs::read_to_string(&input).unwrap();
    let w2: String = text
        .lines()
        .take(1)
        .chain(text.lines().filter(|l| l.ends_with(",w2")))
        .map(|l| format!("{l}\n"))
        .collect();
    let alone = write(dir.path(), "w2.csv", w2.as_bytes());
    let w2_alone = json_run(&[
        "--model",
        m,
        "--input",
        alone.to_str().unwrap(),
        "--output-format",
        "json",
        "--bootstrap",
        "200",
    ]);
    // To float rounding: a text's logits may differ in the last bit with the
    // batch it is embedded in.
    for (a, b) in shares(&groups[1]).iter().zip(shares(&w2_alone)) {
        assert_eq!(a.0, b.0);
        for (x, y) in [(a.1, b.1), (a.2, b.2), (a.3, b.3)] {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    // CSV (long: a row per group and label), Markdown, the table and a picture.
    let pic = dir.path().join("shares.png");
    let (code, csv, err) = run(&[
        "--model",
        m,
        "--input",
        i,
        "--by",
        "week",
        "--output-format",
        "csv",
        "--bootstrap",
        "50",
        "--picture",
        pic.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["group", "label", "share", "low", "high", "texts"]
    );
    assert_eq!(r.records().count(), 12);
    assert!(std::fs::read(&pic).unwrap().starts_with(b"\x89PNG"));
    let (code, md, _) = run(&[
        "--model",
        m,
        "--input",
        i,
        "--output-format",
        "markdown",
        "--bootstrap",
        "50",
    ]);
    assert_eq!(code, Some(0));
    assert!(
        md.starts_with("| emotion | share of 240 texts [95% interval] |"),
        "{md}"
    );
    assert_eq!(md.lines().count(), 8);
}

#[test]
fn multi_label_shares_are_per_label_prevalences() {
    let model = shared_multilabel();
    let m = model.to_str().unwrap();
    let input = common::multilabel_fixture("multilabel_small_test.csv");
    let i = input.to_str().unwrap();
    let cc = json_run(&[
        "--model",
        m,
        "--input",
        i,
        "--estimator",
        "cc",
        "--output-format",
        "json",
        "--bootstrap",
        "0",
    ]);
    // cc: the share of texts where the label passes its threshold.
    let o = emo()
        .args([
            "classify",
            "--model",
            m,
            "--input",
            i,
            "--output-format",
            "jsonl",
            "--top-k",
            "4",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let answers: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let n = answers.len() as f64;
    for (l, p, _, _) in shares(&cc) {
        let passed = answers
            .iter()
            .filter(|a| {
                a["top"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["label"] == l.as_str() && s["passed"] == true)
            })
            .count() as f64;
        assert!(
            (p - passed / n).abs() < 1e-12,
            "{l}: cc {p} vs {passed}/{n}"
        );
    }
    for e in ["pcc", "acc", "pacc", "sld"] {
        let v = json_run(&[
            "--model",
            m,
            "--input",
            i,
            "--estimator",
            e,
            "--output-format",
            "json",
            "--bootstrap",
            "100",
        ]);
        for (l, p, lo, hi) in shares(&v) {
            assert!((0.0..=1.0).contains(&p), "{e} {l}: {p}");
            assert!(
                lo <= p + 1e-12 && p <= hi + 1e-12,
                "{e} {l}: {p} [{lo}, {hi}]"
            );
        }
    }
}

/// A corpus quantified in parts (Spark's partitions) and the parts' tallies
/// added: the same shares and intervals as the whole read at once, for an
/// estimator read through sums (pacc) and one through posteriors (sld), with
/// groups; and tallies of another model or other settings refused.
#[test]
fn tallies_of_parts_add_up_to_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let model = shared_small_carer("ib");
    let m = model.to_str().unwrap();
    let input = corpus(dir.path());
    let text = std::fs::read_to_string(&input).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    // Three parts, each holding texts of both weeks, in another order.
    let parts: Vec<PathBuf> = (0..3)
        .map(|p| {
            let mut part = format!("{header}\n");
            for r in rows.iter().skip(p).step_by(3).rev() {
                part += r;
                part.push('\n');
            }
            write(dir.path(), &format!("part{p}.csv"), part.as_bytes())
        })
        .collect();
    // One embedding cache: each text's vector is the same bits in the whole
    // and in its part (embedded in other batches, vectors differ in their
    // last bits, and the shares by about 1e-7).
    let cache = dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    for e in ["pacc", "sld"] {
        let common = [
            "--model",
            m,
            "--estimator",
            e,
            "--bootstrap",
            "60",
            "--seed",
            "3",
            "--by",
            "week",
            "--cache-dir",
            cache,
        ];
        let whole = json_run(
            &[
                &common[..],
                &[
                    "--input",
                    input.to_str().unwrap(),
                    "--output-format",
                    "json",
                ],
            ]
            .concat(),
        );
        let mut tallies = String::new();
        for p in &parts {
            let (code, out, err) = run(&[
                &common[..],
                &["--input", p.to_str().unwrap(), "--output-format", "tally"],
            ]
            .concat());
            assert_eq!(code, Some(0), "{err}");
            assert_eq!(out.lines().count(), 2, "one tally per group: {out}");
            tallies += &out;
        }
        let t = write(
            dir.path(),
            &format!("tallies-{e}.jsonl"),
            tallies.as_bytes(),
        );
        let added = json_run(&[
            "--model",
            m,
            "--tallies",
            t.to_str().unwrap(),
            "--output-format",
            "json",
        ]);
        let (w, a) = (whole.as_array().unwrap(), added.as_array().unwrap());
        assert_eq!(w.len(), 2);
        for g in w {
            let other = a.iter().find(|x| x["group"] == g["group"]).unwrap();
            assert_eq!(other["texts"], g["texts"]);
            assert_eq!(other["estimator"], e);
            for ((l, p, lo, hi), (l2, p2, lo2, hi2)) in shares(g).into_iter().zip(shares(other)) {
                assert_eq!(l, l2);
                // Sums added in another order differ in their last bits, which
                // ACC/PACC's least squares (on a small validation) magnifies.
                assert!(
                    (p - p2).abs() < 1e-7 && (lo - lo2).abs() < 1e-7 && (hi - hi2).abs() < 1e-7,
                    "{e} {l}: whole {p} [{lo}, {hi}], parts {p2} [{lo2}, {hi2}]"
                );
            }
        }
    }
    // Refused: another estimator asked of the tallies, a damaged line, and
    // tallies made with different settings.
    let t = dir.path().join("tallies-sld.jsonl");
    let (code, _, err) = run(&[
        "--model",
        m,
        "--tallies",
        t.to_str().unwrap(),
        "--estimator",
        "cc",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("line 1: a tally of sld, not of --estimator cc"),
        "{err}"
    );
    let lines = std::fs::read_to_string(dir.path().join("tallies-pacc.jsonl")).unwrap();
    let mut first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    first["seed"] = 4.into();
    let mixed = format!("{}\n{first}\n", lines.lines().next().unwrap());
    let bad = write(dir.path(), "mixed.jsonl", mixed.as_bytes());
    let (code, _, err) = run(&["--model", m, "--tallies", bad.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("line 2: its seed differs from the first tally's") && err.lines().count() == 1,
        "{err}"
    );
    first["seed"] = 3.into();
    first["sums"][1][0]["counts"] = serde_json::json!([1.0]);
    let bad = write(dir.path(), "short.jsonl", format!("{first}\n").as_bytes());
    let (code, _, err) = run(&["--model", m, "--tallies", bad.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("line 1: its sums are not 61 replicates"),
        "{err}"
    );
}

#[test]
fn bad_requests_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = shared_small_carer("ib");
    let m = model.to_str().unwrap();
    let input = corpus(dir.path());
    let i = input.to_str().unwrap();
    let refused = |args: &[&str], needle: &str| {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(out.is_empty(), "{out}");
    };
    refused(&["--model", m, "--input", i, "--by", "month"], "'month'");
    refused(
        &["--model", m, "--by", "week", "a text"],
        "--by 'week': texts given as arguments have no columns",
    );
    let txt = write(dir.path(), "plain.txt", b"one\ntwo\n");
    refused(
        &[
            "--model",
            m,
            "--input",
            txt.to_str().unwrap(),
            "--by",
            "week",
        ],
        "plain text lines have no column",
    );
    refused(&["--model", m], "nothing to quantify");
    // A model saved before emo kept its validation outputs.
    let old = common::model_without_validation(dir.path(), model);
    refused(
        &["--model", old.to_str().unwrap(), "--input", i],
        "keeps no validation outputs",
    );
}
