//! `emo embed` end to end with the real encoder on real text: the output file,
//! its sidecar, the cache (hits on a re-run, recovery from a corrupt shard),
//! `--skip-bad-rows`, and determinism.

use crate::common::{emo, listing, write};
use safetensors::SafeTensors;
use std::path::Path;

const TEXTS: &str = "text,label\n\
\"I can't believe you did this for me, thank you!\",gratitude\n\
\"This is the worst day, \"\"ever\"\".\",anger\n\
Ich bin so traurig heute.,sadness\n\
\"I can't believe you did this for me, thank you!\",gratitude\n\
wow 😮 didn't see that coming,surprise\n";

fn run_embed(input: &Path, out: &Path, cache: &Path, extra: &[&str]) -> (String, String) {
    let o = emo()
        .arg("embed")
        .arg("--input")
        .arg(input)
        .args(["--label-col", "label"])
        .arg("--out")
        .arg(out)
        .arg("--cache-dir")
        .arg(cache)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    (stdout, stderr)
}

fn read_embeddings(path: &Path) -> (Vec<usize>, Vec<f32>, Vec<i64>) {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let e = st.tensor("embeddings").unwrap();
    let shape = e.shape().to_vec();
    let data = e
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let labels = st
        .tensor("labels")
        .unwrap()
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (shape, data, labels)
}

#[test]
fn embeds_caches_and_recovers_from_a_corrupt_cache() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "mine.csv", TEXTS.as_bytes());
    let cache = dir.path().join("cache");
    let out1 = dir.path().join("one.safetensors");

    let (stdout, _) = run_embed(&input, &out1, &cache, &[]);
    assert!(
        stdout.contains("0 cache hits, 4 computed (4 unique texts)"),
        "{stdout}"
    );
    let (shape, first, labels) = read_embeddings(&out1);
    assert_eq!(shape, [5, 384]);
    // Classes are sorted by name: anger, gratitude, sadness, surprise.
    assert_eq!(labels, [1, 0, 2, 1, 3]);
    // Unit vectors (the model normalises), and the duplicate text has the same vector.
    for row in first.chunks(384) {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
    assert_eq!(first[..384], first[3 * 384..4 * 384]);

    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out1.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["count"], 5);
    assert_eq!(sidecar["dim"], 384);
    assert_eq!(sidecar["device"], "cpu");
    assert_eq!(
        sidecar["encoder"]["weights_sha256"],
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    );
    assert_eq!(sidecar["encoder"]["max_seq_length"], 256);
    assert_eq!(sidecar["encoder"]["pooling"], "mean");
    assert_eq!(sidecar["classes"][1], "gratitude");

    // Second run: everything from the cache, same numbers.
    let out2 = dir.path().join("two.safetensors");
    let (stdout, _) = run_embed(&input, &out2, &cache, &[]);
    assert!(stdout.contains("4 cache hits, 0 computed"), "{stdout}");
    assert_eq!(read_embeddings(&out2).1, first);

    // Corrupt every shard (truncate one, flip bytes in others): warned, recomputed, same numbers.
    let key_dirs = listing(&cache);
    assert_eq!(key_dirs.len(), 1, "one encoder identity");
    let shard_dir = cache.join(&key_dirs[0]);
    for (i, name) in listing(&shard_dir).iter().enumerate() {
        let p = shard_dir.join(name);
        let mut bytes = std::fs::read(&p).unwrap();
        if i == 0 {
            bytes.truncate(bytes.len() / 2);
        } else {
            let n = bytes.len();
            bytes[n - 10] ^= 0xff;
        }
        std::fs::write(&p, bytes).unwrap();
    }
    let out3 = dir.path().join("three.safetensors");
    let (stdout, stderr) = run_embed(&input, &out3, &cache, &[]);
    assert!(stderr.contains("ignoring corrupt cache file"), "{stderr}");
    assert!(stdout.contains("0 cache hits, 4 computed"), "{stdout}");
    let third = read_embeddings(&out3).1;
    let max_diff = first
        .iter()
        .zip(&third)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-6, "recomputed vectors differ by {max_diff}");

    // And the rebuilt cache serves the next run.
    let (stdout, _) = run_embed(&input, &out3, &cache, &[]);
    assert!(stdout.contains("4 cache hits"), "{stdout}");
}

#[test]
fn same_input_twice_gives_identical_bytes_without_cache() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "mine.csv", TEXTS.as_bytes());
    let a = dir.path().join("a.safetensors");
    let b = dir.path().join("b.safetensors");
    let cache = dir.path().join("unused");
    run_embed(&input, &a, &cache, &["--no-cache", "--batch-size", "2"]);
    run_embed(&input, &b, &cache, &["--no-cache", "--batch-size", "2"]);
    assert_eq!(read_embeddings(&a).1, read_embeddings(&b).1);
    assert!(!cache.exists(), "--no-cache writes no cache");
}

#[test]
fn skip_bad_rows_reports_and_embeds_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "rough.csv",
        b"text,label\nfine text,joy\nbroken row\n   ,fear\nanother fine one,fear\n",
    );
    let out = dir.path().join("r.safetensors");
    let (_, stderr) = run_embed(&input, &out, &dir.path().join("c"), &["--skip-bad-rows"]);
    assert!(stderr.contains("skipped 2 bad row(s)"), "{stderr}");
    assert!(
        stderr.contains("first: line 3: expected 2 fields, found 1"),
        "{stderr}"
    );
    assert_eq!(read_embeddings(&out).0, [2, 384]);
}

/// `--encoder NAME` finds the encoder setup installed under that name, and gives
/// the same vectors as its folder; `--help` lists what is installed; a name that
/// is neither a folder nor installed is the usual one-line not-found error.
#[test]
fn an_installed_encoder_is_chosen_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "texts.txt", b"so happy today\nthis is awful\n");
    let folder = emo::paths::default_model();
    let name = folder.file_name().unwrap().to_str().unwrap().to_string();
    let vectors = |encoder: &str| {
        let o = crate::common::embed_to_stdout(encoder, &input)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let by_name = vectors(&name);
    assert_eq!(by_name.lines().count(), 2);
    assert_eq!(by_name, vectors(folder.to_str().unwrap()));
    let help = emo().args(["embed", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains(&format!("installed: {name}")) || help.contains(&format!(", {name}")),
        "{help}"
    );
    let o = emo()
        .args([
            "embed",
            "--no-cache",
            "--out",
            "-",
            "--encoder",
            "no-such-encoder",
            "--input",
        ])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no-such-encoder: model folder not found"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// A folder whose `config.json` names an architecture emo does not run is one
/// line naming it and the ones it does, exit 2, before any weight is read.
#[test]
fn an_unknown_model_type_is_named_with_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "texts.txt", b"so happy today\n");
    let folder = dir.path().join("gpt2-model");
    std::fs::create_dir(&folder).unwrap();
    write(
        &folder,
        "config.json",
        br#"{"model_type": "gpt2", "n_embd": 768}"#,
    );
    write(&folder, "model.safetensors", b"");
    let o = emo()
        .args(["embed", "--no-cache", "--out", "-", "--encoder"])
        .arg(&folder)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("config.json: model_type 'gpt2' is not supported")
            && err.contains("bert, distilbert, mpnet, roberta, xlm-roberta"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(o.stdout.is_empty());
}
