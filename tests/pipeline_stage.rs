//! `emo classify` and `emo embed --out -` as pipeline stages (what Spark's
//! `RDD.pipe` drives), with the real encoder: one output line per input line,
//! in order, the caller's id carried through, bad lines answered by error
//! records under `--skip-bad-rows` or stopping the stage with exit 2.

use crate::common;
use crate::common::{datasets_root, emo, shared_small_carer, write};
use serde_json::Value;

/// `n` GoEmotions test texts as JSONL with ids "t0", "t1", …, where the lines
/// at `bad` are broken in turn: blank text, not JSON, text not a string.
fn jsonl(n: usize, bad: &[usize]) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(datasets_root().join("goemotions/test.tsv")).unwrap();
    let texts: Vec<String> = text
        .lines()
        .take(n)
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    let mut out = String::new();
    for (i, t) in texts.iter().enumerate() {
        let line = match bad.iter().position(|&b| b == i) {
            Some(0) => format!("{{\"id\":\"t{i}\",\"text\":\"   \"}}"),
            Some(1) => "{this is not json".to_string(),
            Some(_) => format!("{{\"id\":\"t{i}\",\"text\":42}}"),
            None => serde_json::json!({ "id": format!("t{i}"), "text": t }).to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    (out, texts)
}

/// `emo classify --model MODEL` reading JSONL from standard input, writing JSONL.
fn classify_stdin(model: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = emo();
    cmd.args(["classify", "--model"]).arg(model).args([
        "--input",
        "-",
        "--input-format",
        "jsonl",
        "--output-format",
        "jsonl",
    ]);
    cmd
}

fn lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn classify_answers_every_line_in_order_with_the_callers_id() {
    let dir = tempfile::tempdir().unwrap();
    let model = shared_small_carer("ib");
    // More lines than one chunk (2,048), bad ones in both chunks.
    let bad = [5, 700, 2100];
    let (input, texts) = jsonl(2300, &bad);
    let o = classify_stdin(model)
        .args(["--top-k", "2", "--skip-bad-rows", "--cache", "--cache-dir"])
        .arg(dir.path().join("cache"))
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = lines(&o.stdout);
    assert_eq!(out.len(), texts.len(), "one line out per line in");
    for (i, v) in out.iter().enumerate() {
        match bad.iter().position(|&b| b == i) {
            None => {
                assert_eq!(v["id"], format!("t{i}"));
                assert_eq!(v["text"], texts[i].as_str());
                assert_eq!(v["top"].as_array().unwrap().len(), 2);
            }
            Some(k) => {
                assert_eq!(v["line"], i + 1, "{v}");
                assert!(v.get("label").is_none(), "{v}");
                let (id, error) = (v["id"].as_str().unwrap(), v["error"].as_str().unwrap());
                match k {
                    0 => assert_eq!((id, error), (format!("t{i}").as_str(), "empty text")),
                    // Not JSON: no id can be read, so the line number stands in.
                    1 => assert!(id == (i + 1).to_string() && error.starts_with("not valid JSON")),
                    _ => assert_eq!(
                        (id, error),
                        (format!("t{i}").as_str(), "field 'text' is not a string")
                    ),
                }
            }
        }
    }
    assert!(String::from_utf8_lossy(&o.stderr).contains("skipped 3 bad row(s) in <stdin>"));

    // The same texts classified in one run from a file give the same answers
    // (their vectors from the cache the piped run filled: this compares the
    // bookkeeping of ids, order and chunks, the vectors are held elsewhere).
    let good: String = texts
        .iter()
        .enumerate()
        .filter(|(i, _)| !bad.contains(i))
        .map(|(_, t)| format!("{}\n", t.replace('\n', " ")))
        .collect();
    let file = write(dir.path(), "good.txt", good.as_bytes());
    let o = emo()
        .args(["classify", "--model"])
        .arg(model)
        .arg("--input")
        .arg(&file)
        .args(["--output-format", "jsonl", "--cache", "--cache-dir"])
        .arg(dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let alone = lines(&o.stdout);
    let piped: Vec<&Value> = out.iter().filter(|v| v.get("error").is_none()).collect();
    assert_eq!(alone.len(), piped.len());
    for (a, b) in alone.iter().zip(piped) {
        assert_eq!(a["label"], b["label"]);
        let (pa, pb) = (
            a["confidence"].as_f64().unwrap(),
            b["confidence"].as_f64().unwrap(),
        );
        assert!((pa - pb).abs() < 1e-5, "{pa} vs {pb}");
    }

    // Without --skip-bad-rows the stage stops at the first bad line, naming
    // its line and id, before writing anything.
    let o = classify_stdin(model).write_stdin(input).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "nothing half-written");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("<stdin>: line 6: id 't5': empty text"),
        "{err}"
    );
}

#[test]
fn embed_streams_one_vector_line_per_input_line() {
    let dir = tempfile::tempdir().unwrap();
    let (input, texts) = jsonl(300, &[10]);
    let o = emo()
        .args([
            "embed",
            "--input",
            "-",
            "--input-format",
            "jsonl",
            "--out",
            "-",
        ])
        .arg("--skip-bad-rows")
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = lines(&o.stdout);
    assert_eq!(out.len(), 300);
    assert_eq!(out[10]["error"], "empty text");
    assert_eq!(out[10]["id"], "t10");

    // The same texts through the safetensors path give the same vectors.
    let good: Vec<&String> = texts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 10)
        .map(|(_, t)| t)
        .collect();
    let file = write(
        dir.path(),
        "good.jsonl",
        good.iter()
            .map(|t| format!("{}\n", serde_json::json!({ "text": t })))
            .collect::<String>()
            .as_bytes(),
    );
    let st = dir.path().join("good.safetensors");
    let o = emo()
        .args(["embed", "--input"])
        .arg(&file)
        .arg("--out")
        .arg(&st)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&st).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let emb = tensors.tensor("embeddings").unwrap();
    let dim = emb.shape()[1];
    let flat: Vec<f32> = emb
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let streamed: Vec<&Value> = out.iter().filter(|v| v.get("error").is_none()).collect();
    for (i, v) in streamed.iter().enumerate() {
        let got: Vec<f32> = v["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), dim);
        let want = &flat[i * dim..(i + 1) * dim];
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "row {i}: differs by {worst}");
    }
}

/// A multi-label model keeps the same protocol: one record per line, in
/// order, with the caller's id; each good record carries `labels` (a list,
/// empty for no emotion) and no single `label`; bad lines are answered by the
/// same error records.
#[test]
fn a_multi_label_model_answers_every_line_with_its_labels_list() {
    let model = common::shared_multilabel();
    let texts = [
        "I am thrilled, what a wonderful day!",
        "The meeting is moved to room 4.",
        "I am furious and terrified after the break-in.",
    ];
    let mut input = String::new();
    for (i, t) in texts.iter().enumerate() {
        input.push_str(&serde_json::json!({ "id": format!("m{i}"), "text": t }).to_string());
        input.push('\n');
        if i == 1 {
            input.push_str("{\"id\":\"bad\",\"text\":\"  \"}\n");
        }
    }
    let o = classify_stdin(model)
        .args(["--skip-bad-rows", "--top-k", "2"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = lines(&o.stdout);
    let ids: Vec<&str> = out.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["m0", "m1", "bad", "m2"]);
    assert_eq!(out[2]["error"], "empty text");
    for v in [&out[0], &out[1], &out[3]] {
        assert!(v.get("label").is_none() && v.get("error").is_none(), "{v}");
        for s in v["labels"].as_array().unwrap() {
            let p = s["probability"].as_f64().unwrap();
            assert!(s["label"].is_string() && (0.0..=1.0).contains(&p), "{v}");
        }
        assert_eq!(v["top"].as_array().unwrap().len(), 2, "{v}");
    }
    let names = |v: &Value| -> Vec<String> {
        v["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["label"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&out[0]), ["joy"], "{}", out[0]);
    assert!(names(&out[1]).is_empty(), "{}", out[1]);
}
