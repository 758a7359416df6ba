//! `--precision`: bf16 vectors against the sentence-transformers fp32 fixture
//! (cosine ≥ 0.999 on every text), fp16 refused on a CPU, bf16 vectors kept
//! apart from f32 ones in the cache, and a model that remembers the precision
//! of its training embeddings.

use crate::common;
use crate::common::{cosine, emo};
use emo::embed::precision::Precision;
use emo::embed::{embed_texts, EmbedOptions, Encoder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    embedding: Vec<f32>,
}

#[test]
fn bf16_vectors_stay_within_0_999_of_the_fp32_fixture() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/parity_minilm.json"
    );
    let fx: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut encoder = Encoder::load(&emo::paths::default_model(), tch::Device::Cpu).unwrap();
    encoder.set_precision(Precision::Bf16);
    let texts: Vec<String> = fx.items.iter().map(|i| i.text.clone()).collect();
    let opts = EmbedOptions {
        cache_dir: None,
        progress: false,
        ..EmbedOptions::default()
    };
    let (m, _) = embed_texts(&encoder, &texts, &opts).unwrap();
    let cosines: Vec<f64> = (0..m.rows)
        .map(|i| cosine(m.row(i), &fx.items[i].embedding))
        .collect();
    // The lowest cosine, NaN if any is NaN (f64::min would drop it): a zero
    // or non-finite vector, as a pooling bug gives on the fixture's "" or its
    // zero-width space, must fail here.
    let lowest = cosines
        .iter()
        .fold(1.0, |lo: f64, &c| if c.is_nan() || c < lo { c } else { lo });
    let not_numbers: Vec<&str> = cosines
        .iter()
        .zip(&fx.items)
        .filter(|(c, _)| !c.is_finite())
        .map(|(_, item)| item.text.as_str())
        .collect();
    assert!(
        not_numbers.is_empty(),
        "cosine not a number on {not_numbers:?}"
    );
    eprintln!(
        "bf16 against fp32: lowest cosine {lowest:.6} over {} texts",
        m.rows
    );
    // `>=` is false for NaN: a NaN lowest fails here too.
    assert!(lowest >= 0.999, "lowest cosine {lowest}");
    // And bf16 is really in use: the vectors are not the f32 ones.
    assert!(
        lowest < 0.9999999,
        "bf16 vectors equal f32 to 7 digits: not reduced?"
    );
}

#[test]
fn fp16_on_a_cpu_is_refused_in_one_line() {
    let o = emo()
        .args(["embed", "--input", "-", "--out", "-", "--device", "cpu"])
        .args(["--precision", "fp16"])
        .write_stdin("hello\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("--precision fp16 needs a CUDA device"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn bf16_vectors_are_cached_apart_and_models_remember_their_precision() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let embed = |precision: &str| {
        let o = emo()
            .args([
                "embed",
                "--input",
                "-",
                "--out",
                "-",
                "--precision",
                precision,
            ])
            .arg("--cache-dir")
            .arg(&cache)
            .write_stdin("what a lovely surprise\ni cannot believe this happened\n")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let fp32 = embed("fp32");
    let bf16 = embed("bf16");
    assert_ne!(fp32, bf16, "bf16 must not be served the cached f32 vectors");
    assert_eq!(embed("fp32"), fp32, "and f32 not the bf16 ones");
    assert_eq!(embed("bf16"), bf16);

    // Nor do their default files: a bf16 run beside an fp32 one keeps both.
    let texts = common::write(dir.path(), "few.txt", b"what a lovely surprise\n");
    for precision in ["fp32", "bf16"] {
        let o = emo()
            .current_dir(dir.path())
            .args(["embed", "--input"])
            .arg(&texts)
            .args(["--precision", precision, "--cache-dir"])
            .arg(&cache)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let files = common::listing(&dir.path().join("reports/embeddings"));
    assert_eq!(
        files,
        [
            "few-bf16.json",
            "few-bf16.safetensors",
            "few.json",
            "few.safetensors"
        ],
        "{files:?}"
    );

    // A model trained on fp32 embeddings (train's default) records fp32 in its
    // manifest, and classify warns when the vectors it is given are computed in
    // another precision (bf16 here).
    let model = common::shared_small_carer("ncm");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["precision"], "fp32");
    let o = emo()
        .args(["classify", "--model"])
        .arg(model)
        .args(["--precision", "bf16", "i am so happy today"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the model was trained on fp32 embeddings and these are computed in bf16"),
        "{err}"
    );

    // A report says which arithmetic its vectors came from, in every form it takes.
    let out = dir.path().join("eval-bf16");
    let (report, _) =
        common::evaluate_small_carer(dir.path(), model, &cache, &out, &["--precision", "bf16"]);
    assert_eq!(report["precision"], "bf16");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("precision bf16"), "{summary}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains(" in bf16."),
        "index.html does not name the precision"
    );
}
