//! `emo train`, `emo classify`, `emo evaluate` through the binary with the real
//! encoder: the saved model round-trips, every output format parses back, and
//! every bad input is refused with exit code 2.

use crate::common;
use crate::common::{emo, write};
use std::path::{Path, PathBuf};

/// The shared model for `method`: these tests only read it.
fn train(method: &str) -> &'static Path {
    common::shared_small_carer(method)
}

fn classify(model: &Path, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let mut cmd = emo();
    cmd.arg("classify").arg("--model").arg(model).args(args);
    if let Some(s) = stdin {
        cmd.write_stdin(s.as_bytes().to_vec());
    }
    let o = cmd.output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const TEXTS: [&str; 3] = [
    "i feel so happy and grateful today",
    "i am terrified of what comes next",
    "this makes me so angry",
];

/// The saved model carries a temperature fitted on validation and the
/// validation outputs it was fitted on; classify reports probabilities
/// through it (`--raw-probabilities`: the head's softmax), ranking the labels
/// as the head does.
#[test]
fn classify_reports_calibrated_probabilities() {
    let model = train("lws");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["calibration"]["kind"], "temperature");
    let t = manifest["calibration"]["t"].as_f64().unwrap();
    assert!(
        t > 0.0 && (t - 1.0).abs() > 1e-3,
        "a fitted temperature: {t}"
    );
    let saved = emo::model::SavedModel::load(model, tch::Device::Cpu).unwrap();
    let v = saved.validation.as_ref().unwrap();
    assert_eq!(
        Some(v.rows),
        manifest["validation_texts"].as_u64().map(|n| n as usize)
    );
    assert_eq!(v.logits.len(), v.rows * 6);
    assert!(v
        .truth
        .chunks(6)
        .all(|row| row.iter().filter(|&&t| t).count() == 1));

    let answers = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["--output-format", "json", "--top-k", "6"];
        args.extend_from_slice(extra);
        args.extend(TEXTS);
        let (code, out, err) = classify(model, &args, None);
        assert_eq!(code, Some(0), "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let (cal, raw) = (answers(&[]), answers(&["--raw-probabilities"]));
    for (c, r) in cal.iter().zip(&raw) {
        let ranked = |v: &serde_json::Value| -> Vec<(String, f64)> {
            v["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["label"].as_str().unwrap().into(),
                        s["confidence"].as_f64().unwrap(),
                    )
                })
                .collect()
        };
        let (c, r) = (ranked(c), ranked(r));
        let order = |v: &[(String, f64)]| v.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>();
        assert_eq!(order(&c), order(&r), "temperature keeps the ranking");
        // softmax(z / T) from softmax(z): p_i ∝ r_i^(1/T).
        let sum: f64 = r.iter().map(|(_, p)| p.powf(1.0 / t)).sum();
        for ((_, pc), (_, pr)) in c.iter().zip(&r) {
            let want = pr.powf(1.0 / t) / sum;
            assert!(
                (pc - want).abs() < 1e-4,
                "calibrated {pc} vs softmax(z/T) {want}"
            );
        }
    }
}

#[test]
fn train_then_classify_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let model = train("lws");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["format_version"], 3);
    assert_eq!(manifest["task"], "single-label");
    assert_eq!(manifest["method"], "lws");
    assert_eq!(manifest["labels"].as_array().unwrap().len(), 6);
    assert_eq!(
        manifest["encoder"]["weights_sha256"],
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    );
    assert_eq!(manifest["dim"], 384);
    // The default --device auto: the first GPU where CUDA is usable, else the CPU.
    let device = if emo::embed::device::cuda_devices().is_ok() {
        "cuda:0"
    } else {
        "cpu"
    };
    assert_eq!(manifest["device"], device);
    assert!(manifest["validation"]["macro_f1"].as_f64().is_some());
    assert!(manifest["chosen"]["scales"].as_array().is_some());

    // JSON from arguments, with top-3.
    let (code, out, err) = classify(
        model,
        &["--output-format", "json", "--top-k", "3"]
            .iter()
            .copied()
            .chain(TEXTS)
            .collect::<Vec<_>>(),
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    // Results on stdout and nothing else on stderr: not a word about devices on a
    // CPU build of libtorch (or on a usable GPU); one note only where a CUDA build
    // finds no GPU.
    match emo::embed::device::cuda_status() {
        Err(emo::embed::device::NoCuda::Unusable(_)) => {
            assert_eq!(err.lines().count(), 1, "one device note: {err}")
        }
        _ => assert_eq!(err, "", "classify printed on stderr"),
    }
    let json: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(json.len(), 3);
    for (item, text) in json.iter().zip(TEXTS) {
        assert_eq!(item["text"], text);
        let top = item["top"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        assert_eq!(item["label"], top[0]["label"]);
        let p: Vec<f64> = top
            .iter()
            .map(|t| t["confidence"].as_f64().unwrap())
            .collect();
        assert!(p[0] >= p[1] && p[1] >= p[2] && p[0] <= 1.0, "{p:?}");
    }
    let labels: Vec<&str> = json.iter().map(|j| j["label"].as_str().unwrap()).collect();

    // The same texts from standard input as JSONL, and from files as CSV/TSV: same labels.
    let (code, out, _) = classify(
        model,
        &["--input", "-", "--output-format", "jsonl"],
        Some(&TEXTS.join("\n")),
    );
    assert_eq!(code, Some(0));
    let jsonl: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        jsonl
            .iter()
            .map(|j| j["label"].as_str().unwrap())
            .collect::<Vec<_>>(),
        labels
    );
    assert_eq!(
        jsonl[0]["confidence"], json[0]["confidence"],
        "same probability whatever the input path"
    );

    let jl = write(
        dir.path(),
        "in.jsonl",
        TEXTS
            .iter()
            .map(|t| format!("{{\"body\": \"{t}\"}}\n"))
            .collect::<String>()
            .as_bytes(),
    );
    let out_csv = dir.path().join("out.csv");
    let (code, _, err) = classify(
        model,
        &[
            "--input",
            jl.to_str().unwrap(),
            "--text-col",
            "body",
            "--output-format",
            "csv",
            "--out",
            out_csv.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    let mut rdr = csv::Reader::from_path(&out_csv).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        rows.iter().map(|r| r[2].to_string()).collect::<Vec<_>>(),
        labels
    );
    assert_eq!(&rows[1][0], "2", "id = source line");

    let tsv_in = write(
        dir.path(),
        "in.tsv",
        format!("id\ttext\n1\t{}\n2\t{}\n", TEXTS[0], TEXTS[1]).as_bytes(),
    );
    let (code, out, _) = classify(
        model,
        &[
            "--input",
            tsv_in.to_str().unwrap(),
            "--output-format",
            "tsv",
        ],
        None,
    );
    assert_eq!(code, Some(0));
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .from_reader(out.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][2], labels[0]);

    // The default table is for people: a header and one line per text.
    let (code, out, _) = classify(model, &TEXTS, None);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 4);
    assert!(out.lines().nth(1).unwrap().contains(labels[0]));
}

#[test]
fn evaluate_writes_a_report_for_one_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = train("ncm");
    let out = dir.path().join("eval");
    let (report, stdout) =
        common::evaluate_small_carer(dir.path(), model, &dir.path().join("cache"), &out, &[]);
    let acc = report["methods"]["ncm"]["runs"][0]["test"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(acc > 0.5, "NCM on its own training data: {acc}");
    // One model: its numbers with intervals, no selection, no comparison.
    let iv = &report["bootstrap"]["methods"]["ncm"]["intervals"]["accuracy"];
    assert_eq!(iv["estimate"].as_f64().unwrap(), acc);
    assert!(iv["lo"].as_f64().unwrap() <= acc && acc <= iv["hi"].as_f64().unwrap());
    assert!(report["recommended"].is_null());
    let verdict = report["verdict"][0].as_str().unwrap();
    assert!(
        verdict.contains(&format!("scored accuracy {:.1}% (95% CI ", 100.0 * acc)),
        "{verdict}"
    );
    assert!(stdout.starts_with(verdict));
    for f in [
        "summary.md",
        "index.html",
        "confusion-ncm.png",
        "per-class-f1.png",
        "predictions.csv",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

/// Runs classify and expects exit code 2 with `needle` in the one-line error.
fn refused(model: &Path, args: &[&str], stdin: Option<&str>, needle: &str) {
    let (code, out, err) = classify(model, args, stdin);
    assert_eq!(code, Some(2), "stdout {out}\nstderr {err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert!(out.is_empty(), "no data on a refused run: {out}");
}

#[test]
fn bad_models_and_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = train("ib");

    refused(
        &dir.path().join("nope"),
        &["hi"],
        None,
        "no such model folder",
    );

    // A model copied and damaged in different ways.
    let damaged = |name: &str, edit: &dyn Fn(&Path)| -> PathBuf {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in [
            "manifest.json",
            "head.safetensors",
            "validation.safetensors",
        ] {
            std::fs::copy(model.join(f), d.join(f)).unwrap();
        }
        edit(&d);
        d
    };
    let manifest = |d: &Path, from: &str, to: &str| {
        let p = d.join("manifest.json");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{from}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    };
    let truncated = damaged("truncated", &|d| {
        let bytes = std::fs::read(d.join("head.safetensors")).unwrap();
        std::fs::write(d.join("head.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    });
    refused(
        &truncated,
        &["hi"],
        None,
        "corrupt or truncated safetensors",
    );
    let lost = damaged("lost-validation", &|d| {
        std::fs::remove_file(d.join("validation.safetensors")).unwrap();
    });
    refused(&lost, &["hi"], None, "validation.safetensors: cannot read");
    let cut = damaged("cut-validation", &|d| {
        let bytes = std::fs::read(d.join("validation.safetensors")).unwrap();
        std::fs::write(d.join("validation.safetensors"), &bytes[..bytes.len() - 8]).unwrap();
    });
    refused(&cut, &["hi"], None, "corrupt or truncated safetensors");
    let cold = damaged("negative-temperature", &|d| {
        manifest(
            d,
            "\"kind\": \"temperature\",\n    \"t\": ",
            "\"kind\": \"temperature\",\n    \"t\": -",
        )
    });
    refused(&cold, &["hi"], None, "calibration: temperature -");
    let future = damaged("future", &|d| {
        manifest(d, "\"format_version\": 3", "\"format_version\": 9")
    });
    refused(
        &future,
        &["hi"],
        None,
        "model format version 9 is not supported",
    );
    let other_encoder = damaged("other-encoder", &|d| {
        manifest(
            d,
            "\"weights_sha256\": \"53aa",
            "\"weights_sha256\": \"0000",
        )
    });
    refused(
        &other_encoder,
        &["hi"],
        None,
        "the model was trained with 0000",
    );
    // The encoder's dimension in the manifest no longer the head's: refused
    // at load, before any encoder is read.
    let other_dim = damaged("other-dim", &|d| {
        manifest(d, "\"dim\": 384", "\"dim\": 768")
    });
    refused(
        &other_dim,
        &["hi"],
        None,
        "manifest.json: encoder.dim: is 768 but the head's dim is 384",
    );

    // Bad input text.
    let empty = write(dir.path(), "empty.txt", b"");
    refused(
        model,
        &["--input", empty.to_str().unwrap()],
        None,
        "empty.txt: the file is empty",
    );
    let utf8 = write(dir.path(), "bad.txt", b"fine\nbad \xff here\n");
    refused(
        model,
        &["--input", utf8.to_str().unwrap()],
        None,
        "bad.txt: line 2: text is not valid UTF-8",
    );
    let notobj = write(dir.path(), "bad.jsonl", b"{\"text\": \"ok\"}\n[1]\n");
    refused(
        model,
        &["--input", notobj.to_str().unwrap()],
        None,
        "bad.jsonl: line 2: not a JSON object",
    );
    let nofield = write(dir.path(), "nofield.jsonl", b"{\"body\": \"ok\"}\n");
    refused(
        model,
        &["--input", nofield.to_str().unwrap()],
        None,
        "nofield.jsonl: line 1: no field 'text'",
    );
    refused(model, &[], None, "nothing to classify");
    refused(model, &["ok", "  "], None, "argument 2: empty text");

    // --skip-bad-rows labels the rest, answers the bad line with an error
    // record (one line out per line in), and says what it skipped.
    let (code, out, err) = classify(
        model,
        &[
            "--input",
            utf8.to_str().unwrap(),
            "--skip-bad-rows",
            "--output-format",
            "jsonl",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert!(records[0]["label"].is_string());
    assert_eq!(records[1]["line"], 2);
    assert!(records[1]["error"]
        .as_str()
        .unwrap()
        .starts_with("text is not valid UTF-8"));
    assert!(
        err.contains("skipped 1 bad row(s)") && err.contains("line 2"),
        "{err}"
    );
}
