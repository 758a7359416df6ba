//! `--device` through the real binary. Where CUDA cannot be had (CI), `cuda` and
//! `cuda:N` must exit 2 with one line saying why and write nothing, and `auto` must
//! run on the CPU, silently with a CPU build of libtorch and with one note when a
//! CUDA build cannot reach a GPU; where CUDA can be had, they must run on the GPU.

use crate::common::{emo, listing, write};

fn embed(dir: &std::path::Path, device: &str) -> std::process::Output {
    let input = dir.join("in.txt");
    if !input.exists() {
        write(dir, "in.txt", b"so happy for you\nthis is awful\n");
    }
    emo()
        .args(["embed", "--no-cache", "--device", device, "--input"])
        .arg(&input)
        .arg("--out")
        .arg(
            dir.join("out")
                .join(format!("{}.safetensors", device.replace(':', "-"))),
        )
        .output()
        .unwrap()
}

fn sidecar_device(dir: &std::path::Path, device: &str) -> String {
    let p = dir
        .join("out")
        .join(format!("{}.json", device.replace(':', "-")));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["device"].as_str().unwrap().to_string()
}

#[test]
fn cuda_is_used_when_usable_and_refused_in_one_line_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    match emo::embed::device::cuda_devices() {
        Err(why) => {
            for device in ["cuda", "cuda:0", "cuda:3"] {
                let o = embed(d, device);
                let err = String::from_utf8_lossy(&o.stderr);
                assert_eq!(o.status.code(), Some(2), "{device}: {err}");
                assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
                assert!(err.starts_with("emo: error: --device cuda"), "{err}");
                assert!(err.contains(&why), "says why ({why}): {err}");
            }
            assert!(listing(&d.join("out")).is_empty(), "nothing written");
            let o = embed(d, "auto");
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{err}");
            let notes: Vec<&str> = err
                .lines()
                .filter(|l| l.contains("--device auto"))
                .collect();
            // A CPU build of libtorch was installed on purpose: auto says nothing.
            // A CUDA build that cannot reach a GPU is worth one note, never two.
            match emo::embed::device::cuda_status() {
                Err(emo::embed::device::NoCuda::CpuBuild(_)) => {
                    assert!(notes.is_empty(), "quiet on a CPU build: {err}")
                }
                _ => {
                    assert_eq!(notes.len(), 1, "{err}");
                    assert!(notes[0].contains("runs on the CPU") && notes[0].contains(&why));
                }
            }
            assert_eq!(sidecar_device(d, "auto"), "cpu");
        }
        Ok(n) => {
            for device in ["cuda", "auto"] {
                let o = embed(d, device);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                assert_eq!(sidecar_device(d, device), "cuda:0");
            }
            let o = embed(d, &format!("cuda:{n}"));
            assert_eq!(o.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&o.stderr).contains("visible GPU"));
        }
    }
    let o = embed(d, "cpu");
    assert!(o.status.success());
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("--device"),
        "cpu asks nothing of CUDA"
    );
    assert_eq!(sidecar_device(d, "cpu"), "cpu");
}
