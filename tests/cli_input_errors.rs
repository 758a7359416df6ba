//! Bad input through the real binary: one clear line naming the file, the line
//! and the problem; exit code 2; nothing written.

use crate::common;
use crate::common::{emo, listing, write};

/// Runs `emo embed` on `file` (written with `bytes`) and returns stderr, after
/// checking the exit code and that the output folder stayed empty.
fn embed_error(name: &str, bytes: &[u8], extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), name, bytes);
    let out_dir = dir.path().join("out");
    let out = emo()
        .arg("embed")
        .arg("--input")
        .arg(&input)
        .args(extra)
        .arg("--out")
        .arg(out_dir.join("e.safetensors"))
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        listing(&out_dir).is_empty(),
        "nothing may be written: {:?}",
        listing(&out_dir)
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(name), "names the file: {stderr}");
    stderr
}

#[test]
fn missing_file() {
    let out = emo()
        .args(["embed", "--input", "/nonexistent/texts.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/texts.csv: cannot open"),
        "{stderr}"
    );
}

#[test]
fn missing_column() {
    let e = embed_error("a.csv", b"body,label\nhello,joy\n", &[]);
    assert!(
        e.contains("no column named 'text' (columns: body, label)"),
        "{e}"
    );
    let e = embed_error(
        "b.csv",
        b"text,label\nhello,joy\n",
        &["--label-col", "emotion"],
    );
    assert!(e.contains("no column named 'emotion'"), "{e}");
}

#[test]
fn wrong_number_of_fields() {
    let e = embed_error(
        "c.csv",
        b"text,label\nhello,joy\nnope\n",
        &["--label-col", "label"],
    );
    assert!(e.contains("line 3: expected 2 fields, found 1"), "{e}");
}

#[test]
fn invalid_utf8() {
    let e = embed_error("d.tsv", b"text\tlabel\nfine\tjoy\nbad \xc3\x28\tjoy\n", &[]);
    assert!(e.contains("line 3: text is not valid UTF-8"), "{e}");
    let e = embed_error("d.jsonl", b"{\"text\":\"ok\"}\n\xff\n", &[]);
    assert!(e.contains("line 2: not valid UTF-8"), "{e}");
}

#[test]
fn empty_text() {
    let e = embed_error("e.csv", b"text,label\nhello,joy\n\"   \",joy\n", &[]);
    assert!(e.contains("line 3: empty text"), "{e}");
}

#[test]
fn empty_file() {
    let e = embed_error("f.csv", b"", &[]);
    assert!(e.contains("empty"), "{e}");
    let e = embed_error("g.jsonl", b"\n\n", &[]);
    assert!(e.contains("the file is empty"), "{e}");
}

#[test]
fn jsonl_line_not_an_object_or_without_text() {
    let e = embed_error("h.jsonl", b"{\"text\":\"hi\"}\n\"just a string\"\n", &[]);
    assert!(e.contains("line 2: not a JSON object"), "{e}");
    let e = embed_error("i.jsonl", b"{\"txt\":\"hi\"}\n", &[]);
    assert!(e.contains("line 1: no field 'text'"), "{e}");
}

#[test]
fn unknown_dataset_and_bad_model_folder() {
    let out = emo().args(["embed", "--dataset", "imdb"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dataset 'imdb'"));

    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "t.txt", b"hello\n");
    let out = emo()
        .arg("embed")
        .arg("--input")
        .arg(&input)
        .arg("--encoder")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config.json: missing"), "{stderr}");
}

/// Runs `emo ARGS…` expecting a problem the user can fix: exit 2, one line on
/// stderr, nothing in `out`.
fn flag_error(dir: &std::path::Path, args: &[&str]) -> String {
    let out_dir = dir.join("out");
    let o = emo()
        .args(args)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    // Progress notes may come first; the error is one line, and the last.
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(errors[0].starts_with("emo: error: "), "{stderr}");
    assert_eq!(stderr.trim().lines().last(), Some(errors[0]), "{stderr}");
    assert!(listing(&out_dir).is_empty(), "nothing written");
    errors[0].to_string()
}

#[test]
fn grids_are_bounded_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, grid) in [
        ("--tau-grid", "0:1e15:1"),
        ("--logreg-c-grid", "1:1e9:1"),
        ("--tau-grid", "0:1:1e-300"),
    ] {
        let err = flag_error(
            dir.path(),
            &["compare-sampling", "--dataset", "carer", flag, grid],
        );
        assert!(err.contains(flag) && err.contains("at most 1000"), "{err}");
    }
}

#[test]
fn flags_clap_refuses_are_one_line_too() {
    let dir = tempfile::tempdir().unwrap();
    let err = flag_error(
        dir.path(),
        &["compare-sampling", "--dataset", "carer", "--no-such-flag"],
    );
    assert!(err.contains("--no-such-flag"), "{err}");
    // A missing required flag: the line still names what is missing.
    let err = flag_error(dir.path(), &["train", "--method", "crt"]);
    assert!(
        err.contains("--dataset") || err.contains("--train"),
        "{err}"
    );
}

/// A learning rate so large that every candidate diverges is the user's to
/// lower: exit 2 and one line saying so, as the README's exit codes promise.
#[test]
fn a_diverging_learning_rate_is_a_flag_problem() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::small_carer_csv(dir.path());
    let cache = dir.path().join("cache");
    let err = flag_error(
        dir.path(),
        &[
            "train",
            "--train",
            data.to_str().unwrap(),
            "--method",
            "ib",
            "--lr",
            "1e300",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("diverged") && err.contains("lower --lr"),
        "{err}"
    );
}

/// Bad multi-label rows — an empty label between separators, a label given
/// twice in one row, a JSONL `labels` value that is not an array of strings —
/// stop train, evaluate and compare-sampling alike: exit 2, one line naming
/// the file, the line and the problem, and no model or report folder (nor a
/// temporary one) left behind.
#[test]
fn bad_multi_label_rows_stop_every_command_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let model = common::shared_multilabel();
    let good = "\"I am so happy today\",joy\n";
    let bad: [(&str, String, &str); 4] = [
        (
            "empty.csv",
            format!("text,labels\n{good}\"I am angry and scared\",\"anger,,fear\"\n"),
            "line 3: empty label at position 2",
        ),
        (
            "twice.csv",
            format!("text,labels\n{good}\"So angry\",\"anger,joy,anger\"\n"),
            "line 3: label 'anger' is given twice",
        ),
        (
            "number.jsonl",
            "{\"text\":\"I am so happy\",\"labels\":[\"joy\"]}\n{\"text\":\"so angry\",\"labels\":3}\n"
                .to_string(),
            "line 2: field 'labels' must be an array of strings",
        ),
        (
            "mixed.jsonl",
            "{\"text\":\"I am so happy\",\"labels\":[\"joy\"]}\n{\"text\":\"so angry\",\"labels\":[\"anger\",7]}\n"
                .to_string(),
            "line 2: field 'labels' must be an array of strings",
        ),
    ];
    for (name, bytes, needle) in &bad {
        let files = dir.path().join(format!("in-{name}"));
        std::fs::create_dir(&files).unwrap();
        let file = write(&files, name, bytes.as_bytes());
        let file = file.to_str().unwrap();
        let table = ["--multi-label", "--label-col", "labels"];
        let commands: [Vec<&str>; 3] = [
            vec!["train", "--train", file, "--tune", "none"],
            vec![
                "evaluate",
                "--model",
                model.to_str().unwrap(),
                "--input",
                file,
            ],
            vec![
                "compare-sampling",
                "--train",
                file,
                "--split",
                "0.6,0.2,0.2",
            ],
        ];
        for args in commands {
            let work = tempfile::tempdir_in(dir.path()).unwrap();
            let out = work.path().join("out");
            let o = emo()
                .args(&args)
                .args(table)
                .arg("--cache-dir")
                .arg(&cache)
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{name}: {needle}")),
                "{args:?}: {stderr}"
            );
            assert!(
                listing(work.path()).is_empty(),
                "{args:?}: nothing written: {:?}",
                listing(work.path())
            );
        }
    }
}
