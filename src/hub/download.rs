//! Fetching a Hub model that is not in the shared cache, into the layout
//! Python's `huggingface_hub` writes, so that either side reuses what the
//! other downloaded.
//!
//! Why not the `hf-hub` crate: its blocking client (0.4) sets no timeouts (a
//! stalled mirror hangs forever), verifies nothing, and links each file into
//! the snapshot as it lands, so a failure leaves half a snapshot; 1.0 is async
//! over reqwest and Xet storage, some 400 crates more. What the Hub protocol
//! needs here is small: the revision's commit and file list from the API,
//! each file's etag and size from the headers of its `resolve` URL at that
//! commit, and a GET.
//!
//! What a user can count on: only the files a sentence-transformers folder
//! needs are fetched; each is checked against the etag the Hub gives (the
//! SHA-256 of an LFS file, the git blob id of a small one) and its size
//! before it becomes a blob; the snapshot folder appears whole (built aside
//! and renamed into place) or not at all, and a failed download leaves no
//! partial file behind. `HF_ENDPOINT` points at a mirror, `HF_TOKEN` (or the
//! token file `hf auth login` writes) authorises gated and private models.

use super::HubId;
use crate::input_error;
use anyhow::{Context, Result};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Files at the top of the repository that a sentence-transformers folder
/// can use; weights other than safetensors (pytorch_model.bin, ONNX,
/// OpenVINO) are left on the Hub, since emo reads safetensors only.
const TOP_FILES: &[&str] = &[
    "config.json",
    "model.safetensors",
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
];

/// The endpoint (`HF_ENDPOINT`, as huggingface_hub reads it).
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://huggingface.co".to_string())
        .trim_end_matches('/')
        .to_string()
}

/// `HF_TOKEN`, else the token file (`HF_TOKEN_PATH`, else `HF_HOME/token`,
/// else `$XDG_CACHE_HOME/huggingface/token`, else
/// `~/.cache/huggingface/token`), as huggingface_hub looks for them.
fn token() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if let Some(t) = var("HF_TOKEN") {
        return Some(t.trim().to_string());
    }
    let path = var("HF_TOKEN_PATH").map(PathBuf::from).or_else(|| {
        var("HF_HOME")
            .map(PathBuf::from)
            .or_else(|| var("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("huggingface")))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface")))
            .map(|home| home.join("token"))
    })?;
    std::fs::read_to_string(path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// `HF_HUB_OFFLINE` set to a true value, as huggingface_hub reads it.
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| ["1", "on", "yes", "true"].contains(&v.trim().to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// How long a connection or a read may stall before the download is given up
/// (`EMO_HUB_TIMEOUT` seconds, default 60): a slow link keeps going, a dead
/// one ends in a clear error instead of a hang.
fn stall_timeout() -> Result<Duration> {
    match std::env::var("EMO_HUB_TIMEOUT") {
        Err(_) => Ok(Duration::from_secs(60)),
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0 && *s <= 86_400.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                input_error!(
                    "EMO_HUB_TIMEOUT: '{v}' is not a number of seconds between 0 and 86400"
                )
            }),
    }
}

struct Client {
    endpoint: String,
    token: Option<String>,
    /// Follows redirects (to the CDN that serves LFS files).
    agent: ureq::Agent,
    /// Follows none: the Hub's own answer carries the commit and etag headers.
    head_agent: ureq::Agent,
}

impl Client {
    fn new() -> Result<Client> {
        let stall = stall_timeout()?;
        let build = |redirects: u32| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(redirects)
                .max_redirects_will_error(redirects > 0)
                .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
                .timeout_connect(Some(stall))
                .timeout_recv_response(Some(stall))
                .timeout_per_read(Some(stall))
                .user_agent(format!("emo/{}", env!("CARGO_PKG_VERSION")))
                .build()
                .new_agent()
        };
        Ok(Client {
            endpoint: endpoint(),
            token: token(),
            agent: build(10),
            head_agent: build(0),
        })
    }

    fn request(
        &self,
        agent: &ureq::Agent,
        method: &str,
        url: &str,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let req = match method {
            "HEAD" => agent.head(url),
            _ => agent.get(url),
        };
        match &self.token {
            Some(t) => req.header("authorization", format!("Bearer {t}")),
            None => req,
        }
    }
}

/// One file of the revision: where it goes and what it must be.
struct Wanted {
    path: String,
    etag: String,
    size: u64,
}

#[derive(serde::Deserialize)]
struct RepoInfo {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(serde::Deserialize)]
struct Sibling {
    rfilename: String,
}

/// Downloads `id` into the cache at `cache` and returns its snapshot folder.
pub fn fetch(cache: &Path, id: &HubId) -> Result<PathBuf> {
    let client = Client::new()?;
    let at = format!("{}@{}", id.repo(), id.revision);
    let unreachable = |e: &dyn std::fmt::Display| {
        input_error!(
            "{at}: cannot reach {} ({e}); HF_ENDPOINT names a mirror, HF_HUB_OFFLINE=1 uses the cache only",
            client.endpoint
        )
    };
    let info_url = format!(
        "{}/api/models/{}/revision/{}",
        client.endpoint,
        id.repo(),
        id.revision.replace('/', "%2F")
    );
    let mut resp = client
        .request(&client.agent, "GET", &info_url)
        .call()
        .map_err(|e| unreachable(&e))?;
    refuse_status(&at, &client.endpoint, &resp)?;
    let info: RepoInfo = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(anyhow::Error::from)
        .and_then(|body| Ok(serde_json::from_str(&body)?))
        .map_err(|e| {
            input_error!(
                "{at}: {} answered the revision's file list with something that is not one ({e})",
                client.endpoint
            )
        })?;
    if !super::is_commit(&info.sha) {
        return Err(input_error!(
            "{at}: {} gave '{}' as the commit, not a commit hash",
            client.endpoint,
            info.sha
        ));
    }
    let files: Vec<String> = info
        .siblings
        .into_iter()
        .map(|s| s.rfilename)
        .filter(|f| needed(f))
        .collect();
    if let Some(file) = super::missing_file(|f| files.iter().any(|g| g == f)) {
        return Err(input_error!("{at}: the repository has no {file}"));
    }

    let repo_dir = cache.join(format!("models--{}--{}", id.org, id.name));
    let blobs = repo_dir.join("blobs");
    let snapshot = repo_dir.join("snapshots").join(&info.sha);
    std::fs::create_dir_all(&blobs).with_context(|| format!("creating {}", blobs.display()))?;

    let resolve = |path: &str| {
        format!(
            "{}/{}/resolve/{}/{path}",
            client.endpoint,
            id.repo(),
            info.sha
        )
    };
    // What each file is, from the Hub's headers, before any byte is fetched:
    // the progress bar knows the total, and a refused file stops nothing midway.
    let mut wanted = Vec::new();
    for path in &files {
        if snapshot.join(path).is_file() {
            continue;
        }
        wanted.push(describe(
            &client,
            &resolve(path),
            path,
            &info.sha,
            &at,
            &unreachable,
        )?);
    }
    let to_fetch: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| !blob_ok(&blobs.join(&w.etag), w))
        .collect();
    let total: u64 = to_fetch.iter().map(|w| w.size).sum();
    // Cleared whether the download ends or fails, so an error stays one line.
    let bar = indicatif::ProgressBar::new(total).with_finish(indicatif::ProgressFinish::AndClear);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "downloading {msg} {bar:30} {bytes}/{total_bytes}  {bytes_per_sec}  eta {eta}",
        )
        .expect("valid template"),
    );
    for w in &to_fetch {
        bar.set_message(w.path.clone());
        download(
            &client,
            &resolve(&w.path),
            w,
            &blobs,
            &bar,
            &at,
            &unreachable,
        )?;
    }
    bar.finish_and_clear();
    link_snapshot(&repo_dir, &info.sha, &wanted)?;
    if id.revision != info.sha {
        let refs = repo_dir.join("refs");
        let ref_path = refs.join(&id.revision);
        let dir = ref_path.parent().unwrap_or(&refs);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        crate::atomic::write_with(&ref_path, |out| Ok(out.write_all(info.sha.as_bytes())?))?;
    }
    if total > 0 {
        eprintln!(
            "emo: downloaded {} ({} files, {:.1} MB) into {}",
            at,
            to_fetch.len(),
            total as f64 / 1e6,
            cache.display()
        );
    }
    Ok(snapshot)
}

/// Whether a repository file belongs in the folder emo loads: the top-level
/// files it reads and the configuration and safetensors weights of
/// sentence-transformers modules (`1_Pooling/`, `2_Dense/`, …).
fn needed(path: &str) -> bool {
    match path.split_once('/') {
        None => TOP_FILES.contains(&path),
        Some((dir, rest)) => {
            dir.split_once('_')
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
                && !rest.contains('/')
                && (rest.ends_with(".json") || rest == "model.safetensors")
        }
    }
}

/// The one line for an answer that is not a success.
fn refuse_status(at: &str, endpoint: &str, resp: &ureq::http::Response<ureq::Body>) -> Result<()> {
    let status = resp.status().as_u16();
    if (200..400).contains(&status) {
        return Ok(());
    }
    let code = resp
        .headers()
        .get("x-error-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Err(match (status, code) {
        (_, "RevisionNotFound") => input_error!("{at}: no such revision on {endpoint}"),
        (_, "EntryNotFound") => input_error!("{at}: a file the revision lists is missing on {endpoint}"),
        (401 | 403, _) | (_, "GatedRepo") => input_error!(
            "{at}: {endpoint} refuses access (HTTP {status}): a private or gated model needs HF_TOKEN (or `hf auth login`) with access to it"
        ),
        (404, _) | (_, "RepoNotFound") => input_error!("{at}: no such model on {endpoint} (HTTP 404)"),
        _ => input_error!("{at}: {endpoint} answered HTTP {status}"),
    })
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
}

/// A file's etag and size from a HEAD of its resolve URL, following only
/// redirects within the Hub (a renamed repository), as huggingface_hub does:
/// the redirect to the CDN carries the headers that matter.
fn describe(
    client: &Client,
    url: &str,
    path: &str,
    commit: &str,
    at: &str,
    unreachable: &dyn Fn(&dyn std::fmt::Display) -> anyhow::Error,
) -> Result<Wanted> {
    let mut url = url.to_string();
    for _ in 0..5 {
        let resp = client
            .request(&client.head_agent, "HEAD", &url)
            .call()
            .map_err(|e| unreachable(&e))?;
        refuse_status(&format!("{at}: {path}"), &client.endpoint, &resp)?;
        let status = resp.status().as_u16();
        let location = header(&resp, "location");
        // A path on the same host; `//host/…` names another host.
        let relative = location
            .as_deref()
            .is_some_and(|l| l.starts_with('/') && !l.starts_with("//"));
        if (300..400).contains(&status) && relative {
            let base = url.split_once("://").map(|(s, rest)| {
                let host = rest.split('/').next().unwrap_or("");
                format!("{s}://{host}")
            });
            url = format!(
                "{}{}",
                base.unwrap_or_default(),
                location.unwrap_or_default()
            );
            continue;
        }
        // A mirror that ignored the commit in the URL would serve another file.
        if let Some(served) = header(&resp, "x-repo-commit").filter(|c| c != commit) {
            return Err(input_error!(
                "{at}: {path}: {} answered with commit {served}, not {commit}",
                client.endpoint
            ));
        }
        let etag = header(&resp, "x-linked-etag").or_else(|| header(&resp, "etag"));
        let size = header(&resp, "x-linked-size")
            .or_else(|| header(&resp, "content-length"))
            .and_then(|s| s.parse::<u64>().ok());
        return match (etag, size) {
            (Some(etag), Some(size)) if is_hash(&etag) => Ok(Wanted {
                path: path.to_string(),
                etag,
                size,
            }),
            (etag, size) => Err(input_error!(
                "{at}: {path}: {} gave no usable etag and size (etag {etag:?}, size {size:?}), so the file cannot be checked",
                client.endpoint
            )),
        };
    }
    Err(input_error!(
        "{at}: {path}: more than 5 redirects within {}",
        client.endpoint
    ))
}

/// The Hub's etags: a SHA-256 (LFS files) or a git blob id (SHA-1).
fn is_hash(etag: &str) -> bool {
    (etag.len() == 64 || etag.len() == 40) && etag.chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether a blob already in the cache (another revision's, or a Python
/// download's) is what the Hub announces: its size, then its hash.
fn blob_ok(path: &Path, w: &Wanted) -> bool {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == w.size) {
        return false;
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut hasher = Hasher::for_etag(&w.etag, w.size);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(_) => return false,
        }
    }
    hasher.finish() == w.etag.to_ascii_lowercase()
}

/// Downloads one file into `blobs/<etag>`: into a private partial file first,
/// renamed only once its size and hash are right; the partial file is
/// removed whatever goes wrong.
fn download(
    client: &Client,
    url: &str,
    w: &Wanted,
    blobs: &Path,
    bar: &indicatif::ProgressBar,
    at: &str,
    unreachable: &dyn Fn(&dyn std::fmt::Display) -> anyhow::Error,
) -> Result<()> {
    let part = blobs.join(format!("{}.{}.incomplete", w.etag, std::process::id()));
    let result = (|| {
        let mut resp = client
            .request(&client.agent, "GET", url)
            .call()
            .map_err(|e| unreachable(&e))?;
        refuse_status(&format!("{at}: {}", w.path), &client.endpoint, &resp)?;
        let mut reader = resp
            .body_mut()
            .with_config()
            .limit(w.size.saturating_add(1))
            .reader();
        let mut file =
            std::fs::File::create(&part).with_context(|| format!("creating {}", part.display()))?;
        let mut hasher = Hasher::for_etag(&w.etag, w.size);
        let mut got = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).map_err(|e| {
                input_error!(
                    "{at}: {}: the download broke off after {got} of {} bytes ({e})",
                    w.path,
                    w.size
                )
            })?;
            if n == 0 {
                break;
            }
            got += n as u64;
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .with_context(|| format!("writing {}", part.display()))?;
            bar.inc(n as u64);
        }
        if got != w.size {
            return Err(input_error!(
                "{at}: {}: {got} bytes arrived, the Hub announced {}",
                w.path,
                w.size
            ));
        }
        let digest = hasher.finish();
        if digest != w.etag.to_ascii_lowercase() {
            return Err(input_error!(
                "{at}: {}: the content's hash is {digest}, the Hub's etag {}",
                w.path,
                w.etag
            ));
        }
        file.sync_all()
            .with_context(|| format!("writing {}", part.display()))?;
        std::fs::rename(&part, blobs.join(&w.etag))
            .with_context(|| format!("moving {} into place", part.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// SHA-256 of the content (an LFS etag) or git's blob id (SHA-1 of
/// `blob <size>\0` and the content).
enum Hasher {
    Lfs(Sha256),
    Git(Sha1),
}

impl Hasher {
    fn for_etag(etag: &str, size: u64) -> Hasher {
        if etag.len() == 64 {
            Hasher::Lfs(Sha256::new())
        } else {
            let mut h = Sha1::new();
            h.update(format!("blob {size}\0").as_bytes());
            Hasher::Git(h)
        }
    }
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Lfs(h) => h.update(bytes),
            Hasher::Git(h) => h.update(bytes),
        }
    }
    fn finish(self) -> String {
        match self {
            Hasher::Lfs(h) => hex::encode(h.finalize()),
            Hasher::Git(h) => hex::encode(h.finalize()),
        }
    }
}

/// Puts the snapshot's links in place: a new snapshot is built beside its
/// final name and renamed, so readers see all of it or none; one that exists
/// already (a Python download of other files of the commit) gets the missing
/// links, each pointing at a checked blob.
fn link_snapshot(repo_dir: &Path, commit: &str, files: &[Wanted]) -> Result<()> {
    let snapshots = repo_dir.join("snapshots");
    let target = snapshots.join(commit);
    let link_all = |root: &Path| -> Result<()> {
        for w in files {
            let dst = root.join(&w.path);
            if dst.symlink_metadata().is_ok() {
                continue;
            }
            let depth = w.path.matches('/').count() + 2;
            let src = PathBuf::from("../".repeat(depth))
                .join("blobs")
                .join(&w.etag);
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            match std::os::unix::fs::symlink(&src, &dst) {
                // Another process linked the same file first.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                other => other.with_context(|| format!("linking {}", dst.display()))?,
            }
        }
        Ok(())
    };
    if target.is_dir() {
        return link_all(&target);
    }
    // Built beside `snapshots/` (at the same depth, so the links hold), where
    // a scan of the cache's revisions does not list it, then renamed in.
    let staging = repo_dir.join(".emo-incomplete");
    let aside = staging.join(format!("{commit}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&aside);
    for dir in [&snapshots, &aside] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let built = link_all(&aside).and_then(|_| {
        std::fs::rename(&aside, &target).or_else(|e| {
            // Another process finished the same snapshot first.
            if target.is_dir() {
                link_all(&target)
            } else {
                Err(anyhow::Error::from(e)
                    .context(format!("moving {} into place", target.display())))
            }
        })
    });
    let _ = std::fs::remove_dir_all(&aside);
    let _ = std::fs::remove_dir(&staging);
    built
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_files_a_sentence_transformers_folder_uses() {
        for yes in [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "modules.json",
            "1_Pooling/config.json",
            "2_Dense/model.safetensors",
            "2_Dense/config.json",
        ] {
            assert!(needed(yes), "{yes}");
        }
        for no in [
            "pytorch_model.bin",
            "onnx/model.onnx",
            "openvino/openvino_model.xml",
            "README.md",
            "2_Dense/pytorch_model.bin",
            "x_Pooling/config.json",
            "1_Pooling/sub/config.json",
            ".gitattributes",
        ] {
            assert!(!needed(no), "{no}");
        }
    }

    #[test]
    fn git_blob_ids_and_lfs_hashes() {
        // `git hash-object` of "hello\n" and the SHA-256 of the same bytes.
        let mut git = Hasher::for_etag(&"0".repeat(40), 6);
        git.update(b"hello\n");
        assert_eq!(git.finish(), "ce013625030ba8dba906f756967f9e9ca394464a");
        let mut lfs = Hasher::for_etag(&"0".repeat(64), 6);
        lfs.update(b"hello\n");
        assert_eq!(
            lfs.finish(),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
    }
}
