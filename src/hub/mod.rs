//! Encoders named the way sentence-transformers users name them: a Hugging
//! Face Hub id, `ORG/NAME[@REVISION]`, found in the cache Python's
//! `huggingface_hub` shares (`HF_HUB_CACHE`, else `HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`), so that a model Python already downloaded is
//! used as it is, with no copy and no network.
//!
//! The cache's layout: `models--ORG--NAME/refs/<branch or tag>` holds a
//! commit hash, and `models--ORG--NAME/snapshots/<commit>/` the files of that
//! commit (links into `blobs/`). A revision of 40 hexadecimal digits names a
//! commit directly.
//!
//! A model that is not there is downloaded into it ([`download`]), unless
//! `HF_HUB_OFFLINE` is set.

pub mod download;

use crate::input_error;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// A Hub model id and the revision asked for (`main` when none is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubId {
    pub org: String,
    pub name: String,
    pub revision: String,
}

impl HubId {
    /// `ORG/NAME` or `ORG/NAME@REVISION`; `None` for anything else (a path of
    /// more parts, an absolute or dotted path, an empty part).
    pub fn parse(given: &str) -> Option<HubId> {
        let (repo, revision) = match given.split_once('@') {
            Some((repo, rev)) if !rev.is_empty() => (repo, rev.to_string()),
            Some(_) => return None,
            None => (given, "main".to_string()),
        };
        let (org, name) = repo.split_once('/')?;
        let part = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        // A branch or tag may hold '/' (`refs/pr/1`), but the revision names a
        // file under `refs/`: no part of it may climb out of the cache.
        let revision_ok = revision.split('/').all(part);
        (part(org) && part(name) && revision_ok).then(|| HubId {
            org: org.to_string(),
            name: name.to_string(),
            revision,
        })
    }

    pub fn repo(&self) -> String {
        format!("{}/{}", self.org, self.name)
    }
}

/// The shared Hugging Face cache of models.
pub fn cache_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("HF_HUB_CACHE") {
        return d;
    }
    if let Some(d) = var("HF_HOME") {
        return d.join("hub");
    }
    let base = var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("huggingface").join("hub")
}

/// The folder of `id`'s revision in the cache at `cache`, or the one line
/// that says what is missing.
pub fn snapshot_in(cache: &Path, id: &HubId) -> Result<PathBuf> {
    let repo = cache.join(format!("models--{}--{}", id.org, id.name));
    let missing = |what: String| {
        input_error!(
            "{}@{}: {what} in the Hugging Face cache ({}){}",
            id.repo(),
            id.revision,
            cache.display(),
            if download::offline() {
                "; HF_HUB_OFFLINE is set, so emo does not download it: unset it, or give the model's folder"
            } else {
                ""
            }
        )
    };
    if !repo.is_dir() {
        return Err(missing("not".into()));
    }
    let commit = if is_commit(&id.revision) {
        id.revision.clone()
    } else {
        let at = repo.join("refs").join(&id.revision);
        std::fs::read_to_string(&at)
            .ok()
            .map(|c| c.trim().to_string())
            .filter(|c| is_commit(c))
            .ok_or_else(|| missing(format!("no revision '{}'", id.revision)))?
    };
    let dir = repo.join("snapshots").join(&commit);
    // Python may have fetched part of a commit (one hf_hub_download): what emo
    // loads must all be there, or the download fills in the rest.
    let complete = missing_file(|f| dir.join(f).is_file()).is_none() && modules_present(&dir);
    if !complete {
        return Err(missing(format!("no complete snapshot of commit {commit}")));
    }
    Ok(dir)
}

/// A git commit hash: what a snapshot folder is named by.
pub(crate) fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The first file emo cannot load a folder without, among those `has`: the
/// rule for a cached snapshot and for a repository's file list alike.
pub(crate) fn missing_file(has: impl Fn(&str) -> bool) -> Option<&'static str> {
    if !has("config.json") {
        Some("config.json")
    } else if !has("model.safetensors") {
        Some("model.safetensors (emo reads safetensors weights only)")
    } else if !has("tokenizer.json") && !has("vocab.txt") {
        Some("tokenizer.json or vocab.txt")
    } else {
        None
    }
}

/// Whether the Pooling and Dense modules `modules.json` names have their
/// configuration in the folder: without it a folder would load with another
/// pooling than the model's (Normalize has no files and needs none).
fn modules_present(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("modules.json")) else {
        return true;
    };
    let Ok(serde_json::Value::Array(modules)) = serde_json::from_str(&text) else {
        return true;
    };
    modules.iter().all(|m| {
        let kind = m["type"].as_str().unwrap_or("");
        let path = m["path"].as_str().unwrap_or("");
        path.is_empty()
            || !(kind.ends_with("Pooling") || kind.ends_with("Dense"))
            || dir.join(path).join("config.json").is_file()
    })
}

/// `id`'s folder in the shared cache ([`cache_dir`]), downloaded into it
/// first when it is not there and the network may be used.
pub fn snapshot(id: &HubId) -> Result<PathBuf> {
    let cache = cache_dir();
    match snapshot_in(&cache, id) {
        Ok(dir) => Ok(dir),
        Err(e) if download::offline() => Err(e),
        Err(_) => download::fetch(&cache, id),
    }
}

/// Where a Hub snapshot folder came from: `ORG/NAME` and the commit, read
/// from its place in the cache (`…/models--ORG--NAME/snapshots/<commit>`),
/// so that a saved model can name its encoder the way a user can ask for it
/// again on another machine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Source {
    pub id: String,
    pub commit: String,
}

pub fn source_of(dir: &Path) -> Option<Source> {
    let commit = dir.file_name()?.to_str()?;
    let snapshots = dir.parent()?;
    let repo = snapshots.parent()?.file_name()?.to_str()?;
    let (org, name) = repo.strip_prefix("models--")?.split_once("--")?;
    (snapshots.file_name()? == "snapshots" && is_commit(commit)).then(|| Source {
        id: format!("{org}/{name}"),
        commit: commit.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_paths_do_not() {
        let id = HubId::parse("intfloat/multilingual-e5-small@v1.0").unwrap();
        assert_eq!(
            (id.org.as_str(), id.name.as_str(), id.revision.as_str()),
            ("intfloat", "multilingual-e5-small", "v1.0")
        );
        assert_eq!(
            HubId::parse("sentence-transformers/all-MiniLM-L6-v2")
                .unwrap()
                .revision,
            "main"
        );
        for not in [
            "all-MiniLM-L6-v2",
            "/abs/path",
            "a/b/c",
            "./model",
            "../x",
            "org/",
            "org/name@",
            "org/na me",
            "org/name@../../etc",
            "org/name@/abs",
            "org/name@a//b",
            "org/name@a\\b",
        ] {
            assert_eq!(HubId::parse(not), None, "{not}");
        }
    }

    #[test]
    fn what_a_folder_cannot_do_without() {
        let with = |names: &'static [&'static str]| move |f: &str| names.contains(&f);
        assert_eq!(
            missing_file(with(&["config.json", "model.safetensors", "vocab.txt"])),
            None
        );
        assert_eq!(
            missing_file(with(&[
                "config.json",
                "model.safetensors",
                "tokenizer.json"
            ])),
            None
        );
        assert_eq!(
            missing_file(with(&["model.safetensors", "vocab.txt"])),
            Some("config.json")
        );
        assert!(
            missing_file(with(&["config.json", "pytorch_model.bin", "vocab.txt"]))
                .unwrap()
                .starts_with("model.safetensors")
        );
        assert_eq!(
            missing_file(with(&["config.json", "model.safetensors"])),
            Some("tokenizer.json or vocab.txt")
        );
        assert!(is_commit(&"a".repeat(40)) && !is_commit("main") && !is_commit(&"g".repeat(40)));
    }

    #[test]
    fn revisions_resolve_through_refs_or_directly() {
        let cache = tempfile::tempdir().unwrap();
        let repo = cache.path().join("models--org--name");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::create_dir_all(repo.join("snapshots").join(commit)).unwrap();
        std::fs::write(repo.join("refs/main"), commit).unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::write(repo.join("snapshots").join(commit).join(f), "{}").unwrap();
        }
        let want = repo.join("snapshots").join(commit);
        for given in ["org/name", "org/name@main", &format!("org/name@{commit}")] {
            let id = HubId::parse(given).unwrap();
            assert_eq!(snapshot_in(cache.path(), &id).unwrap(), want, "{given}");
        }
        let err = |given: &str| {
            format!(
                "{:#}",
                snapshot_in(cache.path(), &HubId::parse(given).unwrap()).unwrap_err()
            )
        };
        assert!(err("org/other").contains("org/other@main: not in the Hugging Face cache"));
        assert!(err("org/name@v2").contains("no revision 'v2'"));
        let other = "f".repeat(40);
        assert!(err(&format!("org/name@{other}")).contains("no complete snapshot"));
        // A ref that holds no commit hash names no snapshot.
        std::fs::write(repo.join("refs/v3"), "../../../etc").unwrap();
        assert!(err("org/name@v3").contains("no revision 'v3'"));
    }
}
