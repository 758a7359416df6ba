//! Replays every committed fuzz seed (`fuzz/seeds/<target>/`) and every input
//! that once crashed a fuzz target (`tests/fuzz-regressions/<target>/`) through
//! the entry points the targets call ([`emo::fuzzing`]), so that a fixed crash
//! stays fixed and the harness itself runs under `cargo test`, where no
//! fuzzer is needed.

use emo::embed::cache::{text_key, Cache};
use emo::fuzzing;
use emo::head::Head;
use emo::model::SavedModel;
use std::path::{Path, PathBuf};

type Entry = fn(&[u8]) -> anyhow::Result<()>;

const TARGETS: [(&str, Entry); 5] = [
    ("table", fuzzing::table),
    ("named", fuzzing::named),
    ("cache", fuzzing::cache),
    ("model", fuzzing::model),
    ("manifest", fuzzing::manifest),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files in `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

#[test]
fn every_seed_and_past_crash_returns_without_panicking() {
    let mut panicked = Vec::new();
    let mut n = 0;
    for (target, entry) in TARGETS {
        for folder in ["fuzz/seeds", "tests/fuzz-regressions"] {
            for file in inputs(&root().join(folder).join(target)) {
                let bytes = std::fs::read(&file).unwrap();
                n += 1;
                match std::panic::catch_unwind(|| entry(&bytes)) {
                    Err(_) => panicked.push(file.display().to_string()),
                    // Seeds named valid-* must get past every check, or the
                    // fuzzer would start from inputs that stop at the first one.
                    Ok(Err(e))
                        if file
                            .file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with("valid-") =>
                    {
                        panicked.push(format!("{}: refused: {e:#}", file.display()))
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    assert!(n > 0, "no fuzz inputs found");
    assert!(panicked.is_empty(), "failed inputs: {panicked:#?}");
}

/// A model input: `fuzzing::sample_manifest` (3 labels, dimension 4) and a
/// random head of that shape.
fn model_seed(kind: &str, single: bool) -> Vec<u8> {
    let (c, d) = (3, 4);
    let t = |shape: &[i64]| tch::Tensor::randn(shape, (tch::Kind::Float, tch::Device::Cpu));
    let head = match kind {
        "linear" => Head::Linear {
            weight: t(&[c, d]),
            bias: t(&[c]),
        },
        _ => Head::NearestMean {
            mean: t(&[d]),
            centroids: t(&[c, d]),
        },
    };
    let manifest = fuzzing::sample_manifest(kind, single);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    SavedModel {
        manifest,
        head,
        validation: None,
    }
    .save(&out)
    .unwrap();
    let mut bytes = std::fs::read(out.join("manifest.json")).unwrap();
    bytes.push(fuzzing::MODEL_SEPARATOR);
    bytes.extend(std::fs::read(out.join("head.safetensors")).unwrap());
    bytes
}

fn cache_seed() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut cache =
        Cache::open(dir.path(), &fuzzing::encoder_identity(fuzzing::CACHE_DIM)).unwrap();
    let keys = [text_key("so happy"), text_key("so sad")];
    cache
        .insert(&keys, &[0.5, -1.0, 0.25, 2.0, 1.0, 0.0, -0.5, 3.0])
        .unwrap();
    let shard = inputs(cache.dir()).pop().unwrap();
    std::fs::read(shard).unwrap()
}

/// Writes the seeds that are binary (a cache shard, model folders) with the
/// writers emo itself uses: `cargo test --release --test suite --
/// --ignored fuzz_regressions::write_binary_seeds`. The text seeds are written by hand, and so are the `manifest`
/// target's, a few bytes each (`emo::fuzzing::manifest`).
#[test]
#[ignore]
fn write_binary_seeds() {
    let seeds = root().join("fuzz/seeds");
    std::fs::write(seeds.join("cache/valid-shard"), cache_seed()).unwrap();
    for kind in ["linear", "nearest-mean"] {
        std::fs::write(
            seeds.join(format!("model/valid-{kind}")),
            model_seed(kind, true),
        )
        .unwrap();
    }
    std::fs::write(
        seeds.join("model/valid-multi-linear"),
        model_seed("linear", false),
    )
    .unwrap();
}
