//! Downloading a Hub model into the shared cache, from a local server that
//! answers the requests the Hub answers (the revision's file list from
//! `/api/models/…/revision/…`; `resolve` URLs whose headers carry the commit,
//! the etag and the size, LFS files redirected to a CDN path), serving the
//! installed MiniLM's files. The download lands in the layout Python's
//! huggingface_hub reads and gives the folder's vectors; a missing model, a
//! wrong revision, a truncated or corrupted file, a stalled connection and an
//! unreachable endpoint each exit 2 in one line and leave no snapshot and no
//! partial file.

use crate::common::{emo, small_carer_csv, write};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

const ORG: &str = "sentence-transformers";
const NAME: &str = "all-MiniLM-L6-v2";
const COMMIT: &str = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf";

/// How the server misbehaves on model.safetensors.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Announces the whole size, sends half, closes.
    Truncate,
    /// Sends the right number of bytes, one of them changed.
    Corrupt,
    /// Sends a few bytes, then nothing.
    Stall,
    /// Answers resolve requests for another commit than the one asked for,
    /// as a mirror that ignores the commit in the URL would.
    OtherCommit,
}

struct File {
    path: String,
    bytes: Vec<u8>,
    /// The Hub's etag: SHA-256 for LFS files, the git blob id for the rest.
    etag: String,
    lfs: bool,
}

/// Every request the server saw: method, path, Authorization header.
type Seen = Mutex<Vec<(String, String, Option<String>)>>;

struct Hub {
    port: u16,
    seen: Arc<Seen>,
}

/// A local Hub holding `ORG/NAME` at `COMMIT` (branch main): the installed
/// MiniLM's files, and files a sentence-transformers folder does not need.
fn serve(fault: Fault) -> Hub {
    let root = emo::paths::default_model();
    let mut files: Vec<(String, Vec<u8>)> = crate::common::entries_under(&root)
        .into_iter()
        .filter(|rel| root.join(rel).is_file())
        .map(|rel| {
            (
                rel.to_str().unwrap().to_string(),
                std::fs::read(root.join(&rel)).unwrap(),
            )
        })
        .collect();
    files.push(("pytorch_model.bin".into(), b"not wanted".to_vec()));
    files.push(("onnx/model.onnx".into(), b"not wanted either".to_vec()));
    let files: Vec<File> = files
        .into_iter()
        .map(|(path, bytes)| {
            let lfs =
                path.ends_with(".safetensors") || path.ends_with(".bin") || path.ends_with(".onnx");
            let etag = if lfs {
                format!("{:x}", Sha256::digest(&bytes))
            } else {
                let mut h = Sha1::new();
                h.update(format!("blob {}\0", bytes.len()).as_bytes());
                h.update(&bytes);
                format!("{:x}", h.finalize())
            };
            File {
                path,
                bytes,
                etag,
                lfs,
            }
        })
        .collect();
    let files = Arc::new(files);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (files, log) = (files.clone(), log.clone());
            std::thread::spawn(move || answer(stream, &files, &log, fault, port));
        }
    });
    Hub { port, seen }
}

fn answer(mut stream: TcpStream, files: &[File], log: &Seen, fault: Fault, port: u16) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut auth = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            }
        }
    }
    let mut parts = first.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    log.lock()
        .unwrap()
        .push((method.clone(), path.clone(), auth));
    let head = method == "HEAD";
    let reply = |stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]| {
        let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
        for (k, v) in headers {
            out += &format!("{k}: {v}\r\n");
        }
        out += &format!("Content-Length: {}\r\n\r\n", body.len());
        let _ = stream.write_all(out.as_bytes());
        if !head {
            let _ = stream.write_all(body);
        }
    };
    let not_found = |stream: &mut TcpStream, code: &str| {
        reply(
            stream,
            "404 Not Found",
            &[("X-Error-Code", code.to_string())],
            b"{\"error\":\"not found\"}",
        )
    };
    let repo = format!("/api/models/{ORG}/{NAME}/revision/");
    if let Some(rev) = path.strip_prefix(&repo) {
        if rev != "main" && rev != COMMIT {
            return not_found(&mut stream, "RevisionNotFound");
        }
        let siblings: Vec<String> = files
            .iter()
            .map(|f| format!("{{\"rfilename\":\"{}\"}}", f.path))
            .collect();
        let body = format!(
            "{{\"id\":\"{ORG}/{NAME}\",\"sha\":\"{COMMIT}\",\"siblings\":[{}]}}",
            siblings.join(",")
        );
        return reply(
            &mut stream,
            "200 OK",
            &[("Content-Type", "application/json".into())],
            body.as_bytes(),
        );
    }
    if path.starts_with("/api/models/") {
        return not_found(&mut stream, "RepoNotFound");
    }
    let resolve = format!("/{ORG}/{NAME}/resolve/{COMMIT}/");
    if let Some(name) = path.strip_prefix(&resolve) {
        let Some(f) = files.iter().find(|f| f.path == name) else {
            return not_found(&mut stream, "EntryNotFound");
        };
        let served = if fault == Fault::OtherCommit {
            "f".repeat(40)
        } else {
            COMMIT.to_string()
        };
        let commit = ("X-Repo-Commit", served);
        if f.lfs {
            // As the Hub does: a redirect to the CDN, with the LFS file's
            // sha256 and size in headers of the redirect itself.
            return reply(
                &mut stream,
                "302 Found",
                &[
                    commit,
                    ("X-Linked-Etag", format!("\"{}\"", f.etag)),
                    ("X-Linked-Size", f.bytes.len().to_string()),
                    ("ETag", "\"not-the-content\"".into()),
                    (
                        "Location",
                        format!("http://localhost:{port}/cdn/{}", f.etag),
                    ),
                ],
                b"",
            );
        }
        return reply(
            &mut stream,
            "200 OK",
            &[commit, ("ETag", format!("\"{}\"", f.etag))],
            &f.bytes,
        );
    }
    if let Some(etag) = path.strip_prefix("/cdn/") {
        let Some(f) = files.iter().find(|f| f.etag == etag) else {
            return not_found(&mut stream, "EntryNotFound");
        };
        let announce = format!(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            f.bytes.len()
        );
        let _ = stream.write_all(announce.as_bytes());
        let bytes = &f.bytes;
        match fault {
            Fault::None => {
                let _ = stream.write_all(bytes);
            }
            Fault::Truncate => {
                let _ = stream.write_all(&bytes[..bytes.len() / 2]);
            }
            Fault::Corrupt => {
                let mut b = bytes.clone();
                b[bytes.len() / 2] ^= 1;
                let _ = stream.write_all(&b);
            }
            Fault::OtherCommit => {
                let _ = stream.write_all(bytes);
            }
            Fault::Stall => {
                let _ = stream.write_all(&bytes[..1000]);
                let _ = stream.flush();
                std::thread::sleep(std::time::Duration::from_secs(30));
            }
        }
        return;
    }
    not_found(&mut stream, "")
}

/// `emo embed` of two texts with `encoder`, the cache at `cache`, the Hub at `port`.
fn embed(
    dir: &Path,
    cache: &Path,
    endpoint: &str,
    encoder: &str,
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    let input = write(
        dir,
        "texts.txt",
        b"i feel so happy today\nthis makes me so angry\n",
    );
    let mut cmd = crate::common::embed_to_stdout(encoder, &input);
    cmd.env("HF_HUB_CACHE", cache)
        .env("HF_ENDPOINT", endpoint)
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN")
        .env("HF_HOME", dir.join("hf-home"));
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Every file under `dir`, as paths relative to it (links not followed).
fn tree(dir: &Path) -> Vec<String> {
    crate::common::entries_under(dir)
        .into_iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_hub_model_downloads_into_the_shared_cache_layout() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hub");
    let hub = serve(Fault::None);
    let endpoint = format!("http://127.0.0.1:{}", hub.port);
    let folder = embed(
        dir.path(),
        &cache,
        &endpoint,
        emo::paths::default_model().to_str().unwrap(),
        &[],
    );
    assert!(
        folder.status.success(),
        "{}",
        String::from_utf8_lossy(&folder.stderr)
    );

    let id = format!("{ORG}/{NAME}");
    let o = embed(
        dir.path(),
        &cache,
        &endpoint,
        &id,
        &[("HF_TOKEN", "hf_secret")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        o.stdout, folder.stdout,
        "downloaded vectors differ from the folder's"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("downloaded {id}@main")));

    // The layout huggingface_hub reads: refs/main holds the commit, the
    // snapshot's files are relative links into blobs named by etag, and they
    // hold the folder's bytes.
    let repo = cache.join(format!("models--{ORG}--{NAME}"));
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        COMMIT
    );
    let snapshot = repo.join("snapshots").join(COMMIT);
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "modules.json",
        "1_Pooling/config.json",
    ] {
        let link = snapshot.join(f);
        let target = std::fs::read_link(&link).unwrap_or_else(|_| panic!("{f} is not a link"));
        assert!(
            target.is_relative() && target.to_str().unwrap().contains("blobs/"),
            "{f} -> {target:?}"
        );
        assert_eq!(
            std::fs::read(&link).unwrap(),
            std::fs::read(emo::paths::default_model().join(f)).unwrap(),
            "{f}"
        );
    }
    let weights = std::fs::read(snapshot.join("model.safetensors")).unwrap();
    assert!(repo
        .join("blobs")
        .join(format!("{:x}", Sha256::digest(&weights)))
        .is_file());
    let files = tree(&repo);
    assert!(!files.iter().any(|f| f.contains("incomplete")), "{files:?}");

    // Python's huggingface_hub finds the same snapshot, offline.
    let py = std::process::Command::new(crate::common::python())
        .env("HF_HUB_CACHE", &cache)
        .env("HF_HUB_OFFLINE", "1")
        .args([
            "-c",
            &format!(
                "from huggingface_hub import snapshot_download; print(snapshot_download('{id}'))"
            ),
        ])
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        snapshot.to_str().unwrap()
    );

    // Only what a sentence-transformers folder needs was asked for, and the
    // token went to the Hub, not to the CDN.
    let seen = hub.seen.lock().unwrap().clone();
    assert!(
        !seen
            .iter()
            .any(|(_, p, _)| p.contains("pytorch_model.bin") || p.contains("onnx")),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|(_, p, _)| p.ends_with("/README.md")),
        "{seen:?}"
    );
    for (_, path, auth) in &seen {
        if path.starts_with("/api/") || path.contains("/resolve/") {
            assert_eq!(auth.as_deref(), Some("Bearer hf_secret"), "{path}");
        } else {
            assert_eq!(auth.as_deref(), None, "{path}: the token left the Hub");
        }
    }

    // Offline, and with the server gone quiet, the cache answers alone.
    let before = seen.len();
    let again = embed(
        dir.path(),
        &cache,
        "http://127.0.0.1:9",
        &id,
        &[("HF_HUB_OFFLINE", "1")],
    );
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(again.stdout, folder.stdout);
    assert_eq!(hub.seen.lock().unwrap().len(), before);

    // A commit Python fetched only part of (here: the weights gone from the
    // snapshot) is completed, the rest of the snapshot left as it was.
    std::fs::remove_file(snapshot.join("model.safetensors")).unwrap();
    std::fs::remove_file(snapshot.join("1_Pooling/config.json")).unwrap();
    let config_link = std::fs::read_link(snapshot.join("config.json")).unwrap();
    let filled = embed(dir.path(), &cache, &endpoint, &id, &[]);
    assert!(
        filled.status.success(),
        "{}",
        String::from_utf8_lossy(&filled.stderr)
    );
    assert_eq!(filled.stdout, folder.stdout);
    assert!(std::fs::read_link(snapshot.join("model.safetensors")).is_ok());
    assert!(std::fs::read_link(snapshot.join("1_Pooling/config.json")).is_ok());
    assert_eq!(
        std::fs::read_link(snapshot.join("config.json")).unwrap(),
        config_link
    );

    // A model trained on the Hub id records it with the commit (and the
    // weights' sha256, as every model does).
    let model = dir.path().join("model");
    let t = emo()
        .env("HF_HUB_CACHE", &cache)
        .env("HF_HUB_OFFLINE", "1")
        .args([
            "train",
            "--method",
            "ib",
            "--no-cache",
            "--encoder",
            &id,
            "--train",
        ])
        .arg(small_carer_csv(dir.path()))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["encoder_hub"]["id"], id);
    assert_eq!(manifest["encoder_hub"]["commit"], COMMIT);
    assert_eq!(
        manifest["encoder"]["weights_sha256"],
        format!("{:x}", Sha256::digest(&weights))
    );
}

#[test]
fn failed_downloads_say_why_in_one_line_and_leave_nothing_half_written() {
    let id = format!("{ORG}/{NAME}");
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}")
    };
    let cases: Vec<(&str, Fault, String, &str)> = vec![
        (
            "missing model",
            Fault::None,
            format!("{ORG}/no-such-model"),
            "no such model",
        ),
        (
            "wrong revision",
            Fault::None,
            format!("{id}@v9"),
            "no such revision",
        ),
        (
            "truncated",
            Fault::Truncate,
            id.clone(),
            "model.safetensors: the download broke off",
        ),
        (
            "corrupted",
            Fault::Corrupt,
            id.clone(),
            "model.safetensors: the content's hash",
        ),
        ("stalled", Fault::Stall, id.clone(), "timeout"),
        (
            "another commit",
            Fault::OtherCommit,
            id.clone(),
            "answered with commit ffff",
        ),
        ("unreachable", Fault::None, id.clone(), "cannot reach"),
    ];
    for (case, fault, encoder, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("hub");
        let hub = serve(fault);
        let endpoint = if case == "unreachable" {
            closed.clone()
        } else {
            format!("http://127.0.0.1:{}", hub.port)
        };
        let o = embed(
            dir.path(),
            &cache,
            &endpoint,
            &encoder,
            &[("EMO_HUB_TIMEOUT", "1")],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{case}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{case}: {err}");
        assert!(err.contains(says), "{case}: {err}");
        assert!(o.stdout.is_empty(), "{case}");
        let files = tree(&cache);
        assert!(
            !files.iter().any(|f| f.contains("snapshots/")
                || f.contains("incomplete")
                || f.contains("refs/")),
            "{case}: {files:?}"
        );
        // What did arrive is whole: each blob is named by its content's hash.
        for f in files.iter().filter(|f| f.contains("blobs/")) {
            let bytes = std::fs::read(cache.join(f)).unwrap();
            let mut git = Sha1::new();
            git.update(format!("blob {}\0", bytes.len()).as_bytes());
            git.update(&bytes);
            let name = f.rsplit('/').next().unwrap();
            assert!(
                name == format!("{:x}", Sha256::digest(&bytes))
                    || name == format!("{:x}", git.finalize()),
                "{case}: {f} does not hold what its name says"
            );
        }
    }

    // A timeout that is not a number of seconds is refused before any request.
    let dir = tempfile::tempdir().unwrap();
    let hub = serve(Fault::None);
    let endpoint = format!("http://127.0.0.1:{}", hub.port);
    for bad in ["soon", "inf", "0", "-3"] {
        let o = embed(
            dir.path(),
            &dir.path().join("hub"),
            &endpoint,
            &id,
            &[("EMO_HUB_TIMEOUT", bad)],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("EMO_HUB_TIMEOUT") && err.trim().lines().count() == 1,
            "{bad}: {err}"
        );
    }
    assert!(hub.seen.lock().unwrap().is_empty());

    // Offline with nothing cached: the one line says so, and nothing is asked.
    let dir = tempfile::tempdir().unwrap();
    let hub = serve(Fault::None);
    let o = embed(
        dir.path(),
        &dir.path().join("hub"),
        &format!("http://127.0.0.1:{}", hub.port),
        &id,
        &[("HF_HUB_OFFLINE", "1")],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("HF_HUB_OFFLINE") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(hub.seen.lock().unwrap().is_empty());
}

#[test]
fn the_test_hub_reads_requests_whole() {
    // The server above reads a request line and headers; a body-less GET
    // with a header must come back answered (guards the harness itself).
    let hub = serve(Fault::None);
    let mut s = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.write_all(format!("GET /api/models/{ORG}/{NAME}/revision/main HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n").as_bytes())
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200") && body.contains(COMMIT),
        "{body}"
    );
    assert_eq!(hub.seen.lock().unwrap()[0].2.as_deref(), Some("Bearer t"));
}
