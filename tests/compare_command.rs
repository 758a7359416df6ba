//! `emo compare-sampling` end to end on real text with the real encoder: a small
//! long-tailed CSV cut from CARER, split by emo itself.

use crate::common;
use crate::common::{datasets_root, emo};
use std::fmt::Write as _;

/// 120 … 8 examples per class from CARER's training file, as a user's CSV.
fn long_tailed_csv(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(datasets_root().join("carer/train.txt")).unwrap();
    let quota = [
        ("joy", 120),
        ("sadness", 90),
        ("anger", 45),
        ("fear", 30),
        ("love", 15),
        ("surprise", 8),
    ];
    let mut taken = std::collections::HashMap::new();
    let mut csv = String::from("text,label\n");
    for line in text.lines().skip(1) {
        let (t, label) = line.rsplit_once(';').unwrap();
        let want = quota.iter().find(|(l, _)| *l == label).unwrap().1;
        let n = taken.entry(label.to_string()).or_insert(0);
        if *n < want {
            *n += 1;
            writeln!(csv, "\"{}\",{label}", t.replace('"', "\"\"")).unwrap();
        }
    }
    let path = dir.join("mine.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn compares_methods_on_a_users_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = long_tailed_csv(dir.path());
    let out = dir.path().join("report");
    let o = emo()
        .args(["compare-sampling", "--train"])
        .arg(&csv)
        .args([
            "--split",
            "0.6,0.2,0.2",
            "--methods",
            "ib,cb,crt,tau,lws,ncm,logit-adjust",
            "--epochs",
            "10",
            "--seed",
            "3",
        ])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    for m in ["ib", "cb", "crt", "tau", "lws", "ncm", "logit-adjust"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{m} "))),
            "row for {m}:\n{stdout}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    let classes: Vec<&str> = report["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        ["anger", "fear", "joy", "love", "sadness", "surprise"]
    );
    // Per class, validation and test each take 20% (rounded) and training keeps
    // the rest: 72 of 120 joy … 4 of 8 surprise (2 to validation, 2 to test).
    let train: Vec<u64> = report["train_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(train, [27, 18, 72, 9, 54, 4]);
    assert_eq!(report["config"]["epochs"], 10);
    assert_eq!(report["seeds"], serde_json::json!([3]));
    let methods = report["methods"].as_object().unwrap();
    assert_eq!(methods.len(), 7);
    assert!(methods["tau"]["runs"][0]["chosen"]["tau"]
        .as_f64()
        .is_some());
    for (name, m) in methods {
        let test = &m["runs"][0]["test"];
        // scikit-learn's classification_report layout.
        let f1 = test["macro avg"]["f1-score"].as_f64().unwrap();
        assert!(f1 > 0.2 && f1 <= 1.0, "{name}: macro-F1 {f1}");
        assert_eq!(test["joy"]["support"], 24, "{name}");
        assert!(test["accuracy"].as_f64().is_some());
        assert_eq!(
            m["runs"][0]["test_groups"].as_array().unwrap().len(),
            2,
            "{name}: medium and few"
        );
    }
    // Every picture is a real PNG; the CSV has one row per test example and a column per method.
    for m in ["ib", "cb", "crt", "tau", "lws", "ncm", "logit-adjust"] {
        let png = std::fs::read(out.join(format!("confusion-{m}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{m}");
    }
    for f in [
        "weight-norms.png",
        "per-class-f1.png",
        "precision-ib-cb.png",
        "summary.md",
        "index.html",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let mut rdr = csv::Reader::from_path(out.join("predictions.csv")).unwrap();
    assert_eq!(rdr.headers().unwrap().len(), 2 + 7);
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let test_size: u64 = report["test_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(rows.len() as u64, test_size);
    assert!(rows.iter().all(|r| classes.contains(&&r[1])));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("| `lws` |"), "{summary}");
    verdict_and_intervals(&report, &stdout, &summary, &out);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<img src=\"confusion-ncm.png\""));
    let leftovers: Vec<String> = common::listing(dir.path())
        .into_iter()
        .filter(|n| n.starts_with(".emo-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left: {leftovers:?}"
    );
}

/// Issue 7's report: the verdict on top of the terminal output and summary.md,
/// its numbers taken from metrics.json's intervals, the paired differences,
/// the selection with its margin, the small-data flags, and the trade-off pictures.
fn verdict_and_intervals(
    report: &serde_json::Value,
    stdout: &str,
    summary: &str,
    out: &std::path::Path,
) {
    let boot = &report["bootstrap"];
    assert_eq!(boot["resamples"], 1000);
    assert_eq!(boot["baseline"], "ib");
    let methods = boot["methods"].as_object().unwrap();
    assert_eq!(methods.len(), 7);
    for (name, m) in methods {
        for (stat, iv) in m["intervals"].as_object().unwrap() {
            let (e, lo, hi) = (
                iv["estimate"].as_f64().unwrap(),
                iv["lo"].as_f64().unwrap(),
                iv["hi"].as_f64().unwrap(),
            );
            assert!(lo <= hi && lo >= 0.0 && hi <= 1.0, "{name} {stat}: {iv}");
            assert!(e >= lo - 0.05 && e <= hi + 0.05, "{name} {stat}: {iv}");
        }
        assert_eq!(m["per_class"].as_object().unwrap().len(), 6, "{name}");
        assert_eq!(
            m["difference_from_baseline"].is_null(),
            name == "ib",
            "{name}"
        );
    }
    // The verdict's first sentence compares cb with ib using these very numbers.
    let pct = |method: &str, stat: &str| {
        format!(
            "{:.1}%",
            100.0
                * methods[method]["intervals"][stat]["estimate"]
                    .as_f64()
                    .unwrap()
        )
    };
    let first = report["verdict"][0].as_str().unwrap();
    assert!(
        first.starts_with(
            "Against instance-balanced sampling (`ib`), class-balanced sampling (`cb`) "
        ),
        "{first}"
    );
    for stat in ["few-recall", "accuracy", "macro-f1"] {
        let phrase = format!("from {} to {}", pct("ib", stat), pct("cb", stat));
        let moved = format!("{} → {}", pct("ib", stat), pct("cb", stat));
        assert!(
            first.contains(&phrase) || first.contains(&moved),
            "{stat}: {phrase} in {first}"
        );
    }
    assert!(stdout.starts_with(first), "{stdout}");
    assert!(
        summary.contains(&format!("## Verdict\n\n{first}\n")),
        "{summary}"
    );
    // Selected on validation, with the runner-up and the margin's interval.
    let rec = &report["recommended"];
    assert_eq!(rec["by"], "macro-f1");
    let margin = &rec["runner_up"]["margin"];
    assert!(margin["lo"].as_f64().unwrap() <= margin["hi"].as_f64().unwrap());
    assert!(report["verdict"].as_array().unwrap().iter().any(|v| v
        .as_str()
        .unwrap()
        .starts_with("Recommended by validation macro-F1: ")));
    // Surprise's 8 examples split 60/20/20 leave 2 for test, fewer than 20:
    // flagged, as is every class here but joy (test: 9 anger, 6 fear, 24 joy,
    // 3 love, 18 sadness, 2 surprise).
    assert_eq!(
        report["test_counts"],
        serde_json::json!([9, 6, 24, 3, 18, 2])
    );
    assert_eq!(
        report["unreliable_classes"],
        serde_json::json!(["anger", "fear", "love", "sadness", "surprise"])
    );
    assert!(summary.contains("| surprise ⚠ |"), "{summary}");
    assert!(summary.contains("## Classes never predicted"), "{summary}");
    for f in ["tradeoff.png", "rare-vs-frequent.png"] {
        let png = std::fs::read(out.join(f)).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{f}");
    }
}

#[test]
fn refuses_bad_study_input() {
    let dir = tempfile::tempdir().unwrap();
    let train = common::write(
        dir.path(),
        "t.csv",
        b"text,label\nhappy day,joy\nso sad,sadness\n",
    );
    let test = common::write(dir.path(), "s.csv", b"text,label\nangry,anger\n");
    let o = emo()
        .args(["compare-sampling", "--train"])
        .arg(&train)
        .arg("--test")
        .arg(&test)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("s.csv: line 2: label 'anger' does not occur in the training data"),
        "{stderr}"
    );

    let o = emo()
        .args(["compare-sampling", "--train"])
        .arg(&train)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no test data"));

    let o = emo()
        .args(["compare-sampling", "--dataset", "carer", "--beta", "1.5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--beta must be in (0, 1)"));

    let single = common::write(
        dir.path(),
        "one.csv",
        b"text,label\na,joy\nb,joy\nc,joy\nd,joy\n",
    );
    let o = emo()
        .args(["compare-sampling", "--train"])
        .arg(&single)
        .args(["--split", "0.5,0.25,0.25"])
        .arg("--cache-dir")
        .arg(dir.path().join("c"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("only 1 class"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn compare(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let csv = long_tailed_csv(dir);
    emo()
        .args(["compare-sampling", "--train"])
        .arg(&csv)
        .args(["--split", "0.6,0.2,0.2", "--seed", "3"])
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn seeds_repeat_stochastic_methods_and_profiles_reshape_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = compare(
        dir.path(),
        &[
            "--methods",
            "ib,ncm",
            "--seeds",
            "2",
            "--train-profile",
            "40,30,20,10,5,3",
            "--select",
            "few-recall",
            "--bootstrap",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("subsampled to the profile: 108 examples"),
        "{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    // anger, fear, joy, love, sadness, surprise had 27, 18, 72, 9, 54, 4 after the split.
    assert_eq!(
        report["train_counts"],
        serde_json::json!([20, 10, 40, 5, 30, 3])
    );
    assert_eq!(report["seeds"], serde_json::json!([3, 4]));
    assert_eq!(report["methods"]["ib"]["runs"].as_array().unwrap().len(), 2);
    assert_eq!(
        report["methods"]["ncm"]["runs"].as_array().unwrap().len(),
        1,
        "NCM is deterministic"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains(" ± "), "{summary}");
    // --bootstrap 0: no intervals anywhere; --select few-recall is recorded.
    assert!(report["bootstrap"].is_null());
    assert_eq!(report["recommended"]["by"], "few-recall");
    assert!(report["recommended"]["runner_up"]["margin"].is_null());
    assert!(!summary.contains("confidence intervals"), "{summary}");
}

#[test]
fn bad_study_options_fail_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let o = compare(dir.path(), &["--methods", "ib,magic"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown method 'magic' (known: ib, cb,"));

    let o = compare(dir.path(), &["--train-profile", "100,1,1,1,1,1"]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("asks for 100 examples of class 'joy' but the split has only 72"),
        "{stderr}"
    );

    // An output folder that cannot be created (its parent is a file).
    let blocker = common::write(dir.path(), "file", b"x");
    let o = compare(
        dir.path(),
        &[
            "--methods",
            "ncm",
            "--out",
            blocker.join("report").to_str().unwrap(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot"));
}

/// Runs a small comparison into `out` with `env` set.
fn small_report(dir: &std::path::Path, out: &std::path::Path, env: &[(&str, &std::path::Path)]) {
    let csv = long_tailed_csv(dir);
    let mut cmd = emo();
    cmd.args(["compare-sampling", "--train"])
        .arg(&csv)
        .args(["--split", "0.6,0.2,0.2", "--seed", "3", "--epochs", "5"])
        .args(["--methods", "ib,cb,tau,ncm"])
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every file of a report but timings.json (wall times), by name.
fn report_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "timings.json")
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Dark pixels in the top `rows` rows of a PNG: where the title's text is.
fn dark_pixels_on_top(png_bytes: &[u8], rows: usize) -> usize {
    let mut decoder = png::Decoder::new(png_bytes);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let width = info.width as usize;
    buf[..rows * width * channels]
        .chunks(channels)
        .filter(|px| px[..3].iter().all(|&v| v < 100))
        .count()
}

#[test]
fn same_command_twice_gives_byte_identical_reports() {
    let dir = tempfile::tempdir().unwrap();
    // The very same command line (the report records it), the first result moved aside.
    let (a, b) = (dir.path().join("first"), dir.path().join("r"));
    small_report(dir.path(), &b, &[]);
    std::fs::rename(&b, &a).unwrap();
    small_report(dir.path(), &b, &[]);
    let (fa, fb) = (report_files(&a), report_files(&b));
    let names: Vec<&str> = fa.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"metrics.json") && names.contains(&"confusion-ib.png"));
    assert_eq!(fa.len(), fb.len());
    for ((na, xa), (nb, xb)) in fa.iter().zip(&fb) {
        assert_eq!(na, nb);
        assert!(
            xa == xb,
            "{na} differs between two runs of the same command"
        );
    }
}

#[test]
fn pictures_render_with_no_system_fonts() {
    // fontconfig pointed at an empty folder and a missing config: a renderer
    // that asked the system for fonts would find none.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-fonts");
    std::fs::create_dir(&empty).unwrap();
    let missing = empty.join("fonts.conf");
    let out = dir.path().join("r");
    small_report(
        dir.path(),
        &out,
        &[
            ("FONTCONFIG_PATH", &empty),
            ("FONTCONFIG_FILE", &missing),
            ("XDG_DATA_HOME", &empty),
            ("XDG_CONFIG_HOME", &empty),
        ],
    );
    for f in ["confusion-ib.png", "per-class-f1.png", "tradeoff.png"] {
        let bytes = std::fs::read(out.join(f)).unwrap();
        // The title line is text only: with no font it would be blank.
        let dark = dark_pixels_on_top(&bytes, 40);
        assert!(dark > 100, "{f}: {dark} dark pixels in the title strip");
    }
    // And the pictures are exactly those of a run with the system's fonts.
    let normal = dir.path().join("n");
    small_report(dir.path(), &normal, &[]);
    assert!(
        std::fs::read(out.join("confusion-ib.png")).unwrap()
            == std::fs::read(normal.join("confusion-ib.png")).unwrap()
    );
}

/// A subsample study is one command: the profile drawn afresh per subsample
/// (seeds --seed, --seed+1, …), every method on each, the report over
/// subsamples; the same command gives the same numbers, another --seed others.
#[test]
fn subsample_studies_are_one_command_and_deterministic_by_seed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: &str, out: &str| {
        let out = dir.path().join(out);
        let csv = long_tailed_csv(dir.path());
        let o = emo()
            .args(["compare-sampling", "--train"])
            .arg(&csv)
            .args(["--split", "0.6,0.2,0.2", "--seed", seed])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args([
                "--methods",
                "ib,cb,ncm",
                "--train-profile",
                "12,9,6,4,3,2",
                "--subsamples",
                "4",
                "--valid-profile",
                "proportional",
                "--bootstrap",
                "50",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap())
                .unwrap();
        (stdout, report)
    };
    let (stdout, a) = run("3", "a");
    let (_, b) = run("3", "b");
    let (_, c) = run("4", "c");
    assert!(
        stdout.contains("Over 4 training subsamples drawn to the profile 12,9,6,4,3,2"),
        "{stdout}"
    );
    assert!(stdout.contains("beat ib (of 4)"), "{stdout}");
    assert_eq!(a["subsamples"]["seeds"], serde_json::json!([3, 4, 5, 6]));
    // Every method, deterministic ones too, ran once per subsample.
    for m in ["ib", "cb", "ncm"] {
        let runs = a["methods"][m]["runs"].as_array().unwrap();
        let subs: Vec<u64> = runs
            .iter()
            .map(|r| r["subsample"].as_u64().unwrap())
            .collect();
        assert_eq!(subs, [0, 1, 2, 3], "{m}");
    }
    let cb = &a["subsamples"]["statistics"]["macro-f1"]["cb"];
    let (won, lost, tied) = (
        cb["vs_ib"]["won"].as_u64().unwrap(),
        cb["vs_ib"]["lost"].as_u64().unwrap(),
        cb["vs_ib"]["tied"].as_u64().unwrap(),
    );
    assert_eq!(won + lost + tied, 4);
    assert!(cb["vs_ib"]["low"].as_f64().unwrap() <= cb["vs_ib"]["high"].as_f64().unwrap());
    // The subsamples differ from each other, and the whole study repeats exactly.
    let ncm = &a["subsamples"]["statistics"]["macro-f1"]["ncm"]["scores"];
    let scores: Vec<f64> = ncm
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(scores.iter().any(|s| *s != scores[0]), "{scores:?}");
    assert_eq!(a["subsamples"], b["subsamples"]);
    assert_eq!(a["methods"], b["methods"]);
    assert_ne!(a["subsamples"]["statistics"], c["subsamples"]["statistics"]);
}
