//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod serve;

use std::path::{Path, PathBuf};

/// The datasets as the project's CI has them: `../shared/datasets` beside the
/// checkout when present (read-only, byte-exact), else what setup installed.
pub fn datasets_root() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    if shared.join("goemotions/train.tsv").is_file() {
        shared
    } else {
        emo::paths::datasets()
    }
}

/// A committed fixture under `tests/fixtures/`, parsed.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A JSON array of numbers, as f64.
pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A JSON array of whole numbers, as indices.
pub fn indices(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// The cells of a JSON matrix (an array of rows), row after row, each read by `cell`.
pub fn matrix_cells<T>(m: &serde_json::Value, cell: impl Fn(&serde_json::Value) -> T) -> Vec<T> {
    m.as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(&cell))
        .collect()
}

/// The `emo` binary built for this test run.
pub fn emo() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("emo").expect("binary built")
}

/// Every entry under `dir`, folders too (links not followed), as paths
/// relative to it, sorted; none when `dir` does not exist.
pub fn entries_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

/// `emo embed` of the texts of `input` with `encoder`, vectors to standard
/// output, no cache: not run yet, so that a test can set its environment.
pub fn embed_to_stdout(encoder: &str, input: &Path) -> assert_cmd::Command {
    let mut cmd = emo();
    cmd.args([
        "embed",
        "--no-cache",
        "--out",
        "-",
        "--encoder",
        encoder,
        "--input",
    ])
    .arg(input);
    cmd
}

/// A copy of `model` under `dir/old` as an emo older than quantification
/// saved it: no validation outputs, and none named in its manifest.
pub fn model_without_validation(dir: &Path, model: &Path) -> PathBuf {
    let old = dir.join("old");
    std::fs::create_dir(&old).unwrap();
    for f in ["manifest.json", "head.safetensors"] {
        std::fs::copy(model.join(f), old.join(f)).unwrap();
    }
    let p = old.join("manifest.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("validation_texts");
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    old
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Files directly inside `dir` (names only), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Cosine similarity, accumulated in f64.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// A small labelled CSV cut from CARER's training file (25 texts for each of
/// its 6 emotions).
pub fn small_carer_csv(dir: &Path) -> PathBuf {
    use std::fmt::Write as _;
    let text = std::fs::read_to_string(datasets_root().join("carer/train.txt")).unwrap();
    let mut taken = std::collections::HashMap::new();
    let mut out = String::from("text,label\n");
    for line in text.lines().skip(1) {
        let (t, label) = line.rsplit_once(';').unwrap();
        let n = taken.entry(label.to_string()).or_insert(0);
        if *n < 25 {
            *n += 1;
            writeln!(out, "\"{}\",{label}", t.replace('"', "\"\"")).unwrap();
        }
    }
    write(dir, "small.csv", out.as_bytes())
}

/// `emo train --method METHOD` on [`small_carer_csv`] (seed 1, cache in
/// `dir/cache`); returns the model folder.
pub fn train_small_carer(dir: &Path, method: &str) -> PathBuf {
    let model = dir.join(format!("model-{method}"));
    let o = emo()
        .args(["train", "--train"])
        .arg(small_carer_csv(dir))
        .args(["--method", method, "--seed", "1"])
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    model
}

/// [`train_small_carer`]'s model for `method`, trained once for the whole test
/// binary (in a folder that outlives the tests) and shared by every test that only
/// reads it: training one takes a few seconds of CPU, and a dozen
/// tests need the same few models. A test that changes a model copies it first.
pub fn shared_small_carer(method: &str) -> &'static Path {
    shared(&format!("carer-{method}"), |dir| {
        train_small_carer(dir, method)
    })
}

/// [`train_multilabel`]'s model with no extra arguments, trained once and shared
/// as [`shared_small_carer`]'s are.
pub fn shared_multilabel() -> &'static Path {
    shared("multilabel", |dir| train_multilabel(dir, "model", &[]))
}

/// The model named `key`, made by `train` in a kept temporary folder the first
/// time it is asked for; the lock is held only to find the key's slot, so two
/// models train at once while a second caller of the same key waits for it.
fn shared(key: &str, train: impl FnOnce(&Path) -> PathBuf) -> &'static Path {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SLOTS: OnceLock<Mutex<HashMap<String, &'static OnceLock<PathBuf>>>> = OnceLock::new();
    let slot: &'static OnceLock<PathBuf> = SLOTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.to_string())
        .or_insert_with(|| Box::leak(Box::new(OnceLock::new())));
    slot.get_or_init(|| train(&tempfile::tempdir().unwrap().keep()))
}

/// `emo evaluate --model MODEL` on [`small_carer_csv`] with the cache in
/// `cache`, report in `out` and `extra` arguments; returns the report's
/// metrics.json and what the command printed.
pub fn evaluate_small_carer(
    dir: &Path,
    model: &Path,
    cache: &Path,
    out: &Path,
    extra: &[&str],
) -> (serde_json::Value, String) {
    let o = emo()
        .args(["evaluate", "--model"])
        .arg(model)
        .arg("--input")
        .arg(small_carer_csv(dir))
        .args(extra)
        .arg("--cache-dir")
        .arg(cache)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    (report, String::from_utf8(o.stdout).unwrap())
}

/// The committed multi-label fixture: short English texts with anger, fear,
/// joy and sadness, some with two of them, some with none (CSV, `labels`
/// column, labels separated by `,`).
pub fn multilabel_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `emo train` on [`multilabel_fixture`]`("multilabel_small.csv")` (bce, no
/// tuning, a quarter held out for the thresholds, seed 1, cache in
/// `dir/cache`) with `extra` arguments; returns the model folder `dir/NAME`.
pub fn train_multilabel(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let model = dir.join(name);
    let o = emo()
        .args(["train", "--train"])
        .arg(multilabel_fixture("multilabel_small.csv"))
        .args(["--multi-label", "--label-col", "labels", "--tune", "none"])
        .args(["--valid-fraction", "0.25", "--seed", "1"])
        .args(extra)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    model
}

/// The Python of `make pyenv` (or `EMO_PYTHON`): the tests that hold emo to
/// sentence-transformers run it. Missing, it fails the test, never skips it.
pub fn python() -> PathBuf {
    let py = std::env::var_os("EMO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| emo::paths::home().join("py/bin/python"));
    assert!(py.exists(), "{}: missing; run `make pyenv`", py.display());
    py
}

/// Runs the helper modes of `scripts/gpu_check.py` listed in `jobs` (one argument
/// list each) in one Python process: Python and torch start once, which is most
/// of the time of a small job.
pub fn gpu_check_many(dir: &Path, jobs: &[Vec<String>]) {
    let list = write(
        dir,
        "jobs.json",
        serde_json::to_string(jobs).unwrap().as_bytes(),
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gpu_check.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg("many")
        .arg(&list)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "gpu_check.py many failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Reads a 2-D little-endian f32 `.npy` (format 1.0, C order) as numpy writes it.
pub fn read_npy(path: &Path) -> (usize, usize, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"));
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').unwrap()]
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    let data = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect::<Vec<_>>();
    assert_eq!(data.len(), dims[0] * dims[1]);
    (dims[0], dims[1], data)
}
