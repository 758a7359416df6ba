//! Faults a user meets: emo killed (SIGKILL) at random moments while it writes a
//! cache, a model and a report; a full disk (a file-size limit); a read-only
//! output folder; a missing or truncated encoder. After a kill the next run must
//! neither read a partial file as valid nor lose the earlier complete one; every
//! refusal is one clear line and exit code 2.

use crate::common::{datasets_root, listing, write};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::SafeTensors;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn emo_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("emo")
}

/// CARER training lines, `per_class` of each emotion from `skip` on, as a CSV.
fn carer_csv(dir: &Path, name: &str, per_class: usize, skip: usize) -> PathBuf {
    let text = std::fs::read_to_string(datasets_root().join("carer/train.txt")).unwrap();
    let mut seen = std::collections::HashMap::new();
    let mut out = String::from("text,label\n");
    for line in text.lines().skip(1) {
        let (t, label) = line.rsplit_once(';').unwrap();
        let n = seen.entry(label.to_string()).or_insert(0usize);
        *n += 1;
        if *n > skip && *n <= skip + per_class {
            writeln!(out, "\"{}\",{label}", t.replace('"', "\"\"")).unwrap();
        }
    }
    write(dir, name, out.as_bytes())
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Expects exit code 2 and one error line mentioning every `needle`.
fn refused(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(o));
    let line = err
        .lines()
        .find(|l| l.starts_with("emo: error: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    for n in needles {
        assert!(line.contains(n), "'{n}' not in: {line}");
    }
}

/// Starts `cmd`, kills it with SIGKILL after `after` if still running, waits;
/// returns whether it was killed.
fn kill_after(cmd: &mut Command, after: Duration) -> bool {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill(); // SIGKILL on Unix
    child.wait().unwrap();
    true
}

fn timed(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let o = run(cmd);
    assert!(o.status.success(), "{}", text(&o));
    start.elapsed()
}

/// The embeddings tensor's bytes of an `emo embed` output.
fn vectors(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensor("embeddings").unwrap().data().to_vec()
}

fn computed(out: &Path) -> u64 {
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    sidecar["stats"]["computed"].as_u64().unwrap()
}

/// Every file of a folder but timings.json, with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    listing(dir)
        .into_iter()
        .filter(|n| n != "timings.json")
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

#[test]
fn sigkill_at_random_points_never_leaves_a_partial_file_that_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let train_csv = carer_csv(d, "train.csv", 25, 0);
    let report = d.join("report");
    let model = d.join("model");
    let compare = || {
        let mut c = Command::new(emo_bin());
        c.args(["compare-sampling", "--train"])
            .arg(&train_csv)
            .args([
                "--split",
                "0.6,0.2,0.2",
                "--methods",
                "ib,ncm",
                "--epochs",
                "5",
                "--bootstrap",
                "200",
            ])
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--out")
            .arg(&report);
        c
    };
    let train = || {
        let mut c = Command::new(emo_bin());
        c.args(["train", "--train"])
            .arg(&train_csv)
            .args(["--method", "ib", "--epochs", "5"])
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--out")
            .arg(&model);
        c
    };
    let embed = |input: &Path, out: &Path| {
        let mut c = Command::new(emo_bin());
        c.arg("embed")
            .arg("--input")
            .arg(input)
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--out")
            .arg(out);
        c
    };

    // Complete outputs first, and how long each command takes once the cache is warm.
    timed(&mut compare());
    let t_report = timed(&mut compare());
    let first_report = snapshot(&report);
    assert!(first_report.iter().any(|(n, _)| n == "metrics.json"));
    let t_train = timed(&mut train());
    let first_head = std::fs::read(model.join("head.safetensors")).unwrap();
    let known = carer_csv(d, "known.csv", 10, 100);
    let known_out = d.join("known.safetensors");
    let t_fresh = timed(&mut embed(&known, &known_out));
    let known_vectors = vectors(&known_out);

    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let rounds = 6;
    let mut killed = [0; 3];
    let mut fresh_inputs = Vec::new();
    for round in 0..rounds {
        let at = |rng: &mut ChaCha8Rng, t: Duration| t.mul_f64(rng.gen_range(0.0..1.2));
        // The report: the folder is the complete old one or a complete new one.
        killed[0] += kill_after(&mut compare(), at(&mut rng, t_report)) as usize;
        assert_eq!(snapshot(&report), first_report, "round {round}: report");
        // The model: the same head, a manifest that parses.
        killed[1] += kill_after(&mut train(), at(&mut rng, t_train)) as usize;
        assert_eq!(
            std::fs::read(model.join("head.safetensors")).unwrap(),
            first_head,
            "round {round}: model head"
        );
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(model.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["method"], "ib");
        // The cache: new texts being embedded and stored when the kill comes.
        let fresh = carer_csv(d, &format!("fresh{round}.csv"), 12, 200 + 12 * round);
        killed[2] += kill_after(
            &mut embed(&fresh, &d.join("fresh.safetensors")),
            at(&mut rng, t_fresh),
        ) as usize;
        fresh_inputs.push(fresh);
        // What was cached before is still there, and exactly right.
        let again = d.join("again.safetensors");
        let o = run(&mut embed(&known, &again));
        assert!(o.status.success(), "round {round}: {}", text(&o));
        assert_eq!(computed(&again), 0, "round {round}: earlier vectors lost");
        assert_eq!(vectors(&again), known_vectors, "round {round}");
    }
    eprintln!(
        "killed mid-run: {} of {rounds} reports, {} models, {} cache fills",
        killed[0], killed[1], killed[2]
    );
    // Delays run to 1.2 × the command's time: nearly every round kills, some let
    // the command finish.
    assert!(killed.iter().all(|&k| k > 0), "{killed:?}");
    // Whatever the killed runs left in the cache is either whole and right or
    // ignored: the cached answer equals a fresh computation without the cache.
    let mut all = String::from("text,label\n");
    for fresh in &fresh_inputs {
        for line in std::fs::read_to_string(fresh).unwrap().lines().skip(1) {
            writeln!(all, "{line}").unwrap();
        }
    }
    let all = write(d, "all-fresh.csv", all.as_bytes());
    let cached = d.join("cached.safetensors");
    let o = run(&mut embed(&all, &cached));
    assert!(o.status.success(), "{}", text(&o));
    let plain = d.join("plain.safetensors");
    let o = run(embed(&all, &plain).arg("--no-cache"));
    assert!(o.status.success(), "{}", text(&o));
    // Batches of other texts change the float rounding of a vector (matrix
    // products of other shapes), never more than this; a partial or wrong
    // vector read as valid would be far off.
    let floats = |b: Vec<u8>| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (c, p) = (floats(vectors(&cached)), floats(vectors(&plain)));
    assert_eq!(c.len(), p.len());
    let worst = c
        .iter()
        .zip(&p)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "a cached vector differs by {worst}");
    // And the model still classifies.
    let o = run(Command::new(emo_bin())
        .args(["classify", "--model"])
        .arg(&model)
        .arg("i am so happy today"));
    assert!(o.status.success(), "{}", text(&o));
}

/// Runs `cmd` with writes limited to `bytes` per file (`ulimit -f`): how a full
/// disk looks to a program, without needing a small file system.
fn with_file_size_limit(cmd: &mut Command, bytes: u64) -> &mut Command {
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = carer_csv(d, "in.csv", 20, 0);
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // 120 vectors of 384 floats are 184 KB: more than the 64 KB allowed.
    let o = run(with_file_size_limit(
        Command::new(emo_bin())
            .arg("embed")
            .arg("--input")
            .arg(&input)
            .arg("--no-cache")
            .arg("--out")
            .arg(out_dir.join("x.safetensors")),
        64 * 1024,
    ));
    refused(&o, &["x.safetensors", "File too large"]);
    assert_eq!(listing(&out_dir), Vec::<String>::new());

    // A report whose pictures do not fit: no report folder, no temporary one.
    let cache = d.join("cache");
    let compare = |out: &Path| {
        let mut c = Command::new(emo_bin());
        c.args(["compare-sampling", "--train"])
            .arg(&input)
            .args([
                "--split",
                "0.6,0.2,0.2",
                "--methods",
                "ib,cb",
                "--epochs",
                "3",
            ])
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--out")
            .arg(out);
        c
    };
    let o = run(&mut compare(&d.join("warm")));
    assert!(o.status.success(), "{}", text(&o));
    let reports = d.join("reports");
    std::fs::create_dir(&reports).unwrap();
    let o = run(with_file_size_limit(
        &mut compare(&reports.join("r")),
        16 * 1024,
    ));
    refused(&o, &["cannot write", "File too large"]);
    assert_eq!(listing(&reports), Vec::<String>::new());
}

/// Runs `cmd` as the unprivileged user `nobody` when the tests run as root, whom
/// permission bits do not stop.
fn unprivileged(cmd: &mut Command) -> &mut Command {
    // SAFETY: getuid/setgid/setuid are async-signal-safe.
    unsafe {
        if libc::geteuid() == 0 {
            cmd.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn read_only_output_folders_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    chmod(d, 0o755);
    let input = carer_csv(d, "in.csv", 20, 0);
    chmod(&input, 0o644);
    let ro = d.join("read-only");
    std::fs::create_dir(&ro).unwrap();
    chmod(&ro, 0o555);

    let out = |name: &str| ro.join(name).to_string_lossy().into_owned();
    let input = input.to_string_lossy().into_owned();
    let commands = [
        vec![
            "compare-sampling",
            "--train",
            &input,
            "--split",
            "0.6,0.2,0.2",
        ],
        vec!["train", "--train", &input, "--method", "ncm"],
        vec!["embed", "--input", &input, "--no-cache"],
    ];
    for (args, dest) in commands.iter().zip(["report", "model", "x.safetensors"]) {
        let o = run(unprivileged(
            Command::new(emo_bin())
                .args(args)
                .arg("--out")
                .arg(out(dest)),
        ));
        refused(&o, &["read-only", "Permission denied"]);
    }
    assert_eq!(listing(&ro), Vec::<String>::new());
}

#[test]
fn a_missing_or_truncated_encoder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = write(d, "in.txt", b"hello there\nso sad today\n");
    let embed = |encoder: &Path| embed_with(encoder, &input, &d.join("x.safetensors"));
    refused(&embed(&d.join("nowhere")), &["nowhere", "not found"]);

    let copy = d.join("encoder");
    copy_dir(&emo::paths::default_model(), &copy);
    let weights = copy.join("model.safetensors");
    let full = std::fs::read(&weights).unwrap();
    for keep in [0, 100, full.len() / 2, full.len() - 1] {
        std::fs::write(&weights, &full[..keep]).unwrap();
        refused(&embed(&copy), &["model.safetensors"]);
    }
    assert!(!d.join("x.safetensors").exists());
}

/// emo reads config.json and model.safetensors itself: a bad config, a missing
/// tensor or one whose shape disagrees with the config is one line naming the
/// file and the field or tensor, exit 2.
#[test]
fn a_bad_config_or_weights_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = write(d, "in.txt", b"hello there\n");
    let copy = d.join("encoder");
    copy_dir(&emo::paths::default_model(), &copy);
    let embed = || embed_with(&copy, &input, &d.join("x.safetensors"));
    let config_path = copy.join("config.json");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let edited = |from: &str, to: &str| {
        assert!(config.contains(from), "{from}");
        std::fs::write(&config_path, config.replace(from, to)).unwrap();
    };
    edited("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"softplus\"");
    refused(
        &embed(),
        &[
            "config.json",
            "not a valid settings file",
            "unknown variant `softplus`",
        ],
    );
    edited("\"hidden_size\": 384,", "");
    refused(&embed(), &["config.json", "hidden_size"]);
    edited("\"num_attention_heads\": 12", "\"num_attention_heads\": 5");
    refused(
        &embed(),
        &["config.json", "not a multiple of num_attention_heads 5"],
    );
    edited("\"intermediate_size\": 1536", "\"intermediate_size\": 1000");
    refused(
        &embed(),
        &[
            "model.safetensors",
            "encoder.layer.0.intermediate.dense.weight",
            "[1536, 384]",
            "[1000, 384]",
        ],
    );
    std::fs::write(&config_path, &config).unwrap();

    let weights = copy.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let missing = "encoder.layer.3.output.dense.bias";
    let kept: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != missing)
        .collect();
    let fewer = safetensors::serialize(kept, &None).unwrap();
    std::fs::write(&weights, fewer).unwrap();
    refused(&embed(), &["model.safetensors", "no tensor", missing]);
    assert!(!d.join("x.safetensors").exists());
}

/// `emo embed --no-cache` of `input` with `encoder` into `out`.
fn embed_with(encoder: &Path, input: &Path, out: &Path) -> Output {
    run(Command::new(emo_bin())
        .arg("embed")
        .arg("--input")
        .arg(input)
        .arg("--no-cache")
        .arg("--encoder")
        .arg(encoder)
        .arg("--out")
        .arg(out))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
