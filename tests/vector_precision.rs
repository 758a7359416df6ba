//! `--vector-precision fp16|bf16`: vectors rounded once as they leave the real
//! encoder, so the cache (at half its size) gives back exactly what a fresh pass
//! gives, and a saved model keeps the choice.

use crate::common::{self, emo};
use serde_json::Value;
use std::path::Path;

/// `emo embed` of `input` as JSONL on stdout, with `args`; the vectors.
fn embed(input: &Path, args: &[&str]) -> (String, Vec<Vec<f32>>) {
    let o = emo()
        .args(["embed", "--out", "-", "--input"])
        .arg(input)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let vectors = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    (out, vectors)
}

/// Bytes of the cache folders under `root`, smallest first.
fn cache_sizes(root: &Path) -> Vec<u64> {
    let mut sizes: Vec<u64> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| {
            std::fs::read_dir(e.unwrap().path())
                .unwrap()
                .map(|f| f.unwrap().metadata().unwrap().len())
                .sum()
        })
        .collect();
    sizes.sort();
    sizes
}

#[test]
fn sixteen_bit_vectors_are_rounded_once_and_the_cache_gives_them_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let csv = common::small_carer_csv(dir.path());
    let cache = dir.path().join("cache");
    let cache_arg = ["--cache-dir", cache.to_str().unwrap()];
    let (_, full) = embed(&csv, &cache_arg);
    assert_eq!(full.len(), 150);
    for (name, bits) in [("fp16", 11), ("bf16", 8)] {
        let args = [&cache_arg[..], &["--vector-precision", name]].concat();
        let (cold, rounded) = embed(&csv, &args);
        let (warm, _) = embed(&csv, &args);
        assert_eq!(
            cold, warm,
            "{name}: a cached vector is the fresh one, bit for bit"
        );
        let (uncached, _) = embed(&csv, &["--no-cache", "--vector-precision", name]);
        assert_eq!(cold, uncached, "{name}");
        let mut changed = 0;
        for (f, r) in full.iter().flatten().zip(rounded.iter().flatten()) {
            let representable = match name {
                "fp16" => half::f16::from_f32(*r).to_f32() == *r,
                _ => half::bf16::from_f32(*r).to_f32() == *r,
            };
            assert!(representable, "{name}: {r} is not a {name} value");
            let bound = f.abs() * 2f32.powi(-bits) + 6e-8;
            assert!((f - r).abs() <= bound, "{name}: {f} became {r}");
            changed += usize::from(f != r);
        }
        assert!(
            changed > full.len(),
            "{name} rounded almost nothing: {changed}"
        );
    }
    // A concatenation of layers is kept in 16 bits unless asked otherwise.
    let concat = ["--no-cache", "--layers", "concat:5,6"];
    let (default, _) = embed(&csv, &concat);
    let (fp16, _) = embed(
        &csv,
        &[&concat[..], &["--vector-precision", "fp16"]].concat(),
    );
    let (fp32, _) = embed(
        &csv,
        &[&concat[..], &["--vector-precision", "fp32"]].concat(),
    );
    assert_eq!(default, fp16);
    assert_ne!(default, fp32);

    // Three caches: f32 and the two 16-bit ones at about half its size (the keys
    // and headers are the rest).
    let sizes = cache_sizes(&cache);
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    assert!(
        sizes[1] - sizes[0] < 64,
        "headers apart, the same bytes: {sizes:?}"
    );
    let ratio = sizes[1] as f64 / sizes[2] as f64;
    assert!((0.5..0.56).contains(&ratio), "{sizes:?}");
}

/// train records the choice; classify gives the same probabilities from the
/// 16-bit cache training filled as from a fresh pass.
#[test]
fn a_saved_model_keeps_its_vector_precision() {
    let dir = tempfile::tempdir().unwrap();
    let csv = common::small_carer_csv(dir.path());
    let cache = dir.path().join("cache");
    let model = dir.path().join("model");
    let o = emo()
        .args(["train", "--train"])
        .arg(&csv)
        .args([
            "--method",
            "ib",
            "--seed",
            "1",
            "--vector-precision",
            "fp16",
        ])
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["encoder"]["vector_precision"], "fp16");
    let classify = |extra: &[&str]| {
        let o = emo()
            .args(["classify", "--model"])
            .arg(&model)
            .args(["--output-format", "jsonl", "--top-k", "6", "--input"])
            .arg(&csv)
            .args(["--input-format", "csv"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let warm = classify(&["--cache-dir", cache.to_str().unwrap()]);
    let fresh = classify(&[]);
    assert_eq!(warm.lines().count(), 150);
    // The same labels, and probabilities within float rounding of the head's
    // product (a vector not rounded to fp16 would move them by ~1e-5).
    for (w, f) in warm.lines().zip(fresh.lines()) {
        let (w, f): (Value, Value) = (
            serde_json::from_str(w).unwrap(),
            serde_json::from_str(f).unwrap(),
        );
        let top = |v: &Value| -> Vec<(String, f64)> {
            v["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["label"].as_str().unwrap().to_string(),
                        s["confidence"].as_f64().unwrap(),
                    )
                })
                .collect()
        };
        for ((lw, pw), (lf, pf)) in top(&w).into_iter().zip(top(&f)) {
            assert_eq!(lw, lf, "{w} vs {f}");
            assert!((pw - pf).abs() < 1e-6, "{w} vs {f}");
        }
    }

    // A manifest naming a precision this emo does not know is refused in one line.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for f in std::fs::read_dir(&model).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), broken.join(f.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(broken.join("manifest.json"))
        .unwrap()
        .replace("\"fp16\"", "\"fp8\"");
    std::fs::write(broken.join("manifest.json"), text).unwrap();
    let o = emo()
        .args(["classify", "--model"])
        .arg(&broken)
        .arg("i am happy")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("vector_precision") && err.contains("fp8"),
        "{err}"
    );
}
