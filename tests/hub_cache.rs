//! Encoders named by Hugging Face Hub id, found in the shared cache's layout
//! (`models--ORG--NAME/{refs,snapshots,blobs}`, snapshot files linked into
//! blobs, as Python's huggingface_hub leaves them): a cache built here from
//! the installed MiniLM gives the same vectors as the folder, with
//! HF_HUB_OFFLINE=1; a missing model or revision is one line and exit 2.

use crate::common::write;
use sha2::{Digest, Sha256};
use std::path::Path;

/// `from`'s files as commit `commit` of `org/name` in a Hugging Face cache at `cache`.
fn hub_layout(from: &Path, cache: &Path, org: &str, name: &str, commit: &str) {
    let repo = cache.join(format!("models--{org}--{name}"));
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    for rel in crate::common::entries_under(from) {
        let path = from.join(&rel);
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let blob = format!("{:x}", Sha256::digest(&bytes));
        std::fs::write(repo.join("blobs").join(&blob), &bytes).unwrap();
        let link = snapshot.join(&rel);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        // Relative, as huggingface_hub makes them: up to the repo, then blobs/.
        let up = "../".repeat(rel.components().count() + 1);
        std::os::unix::fs::symlink(format!("{up}blobs/{blob}"), &link).unwrap();
    }
}

#[test]
fn hub_ids_load_from_the_shared_cache_offline() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hub");
    let commit = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf";
    hub_layout(
        &emo::paths::default_model(),
        &cache,
        "sentence-transformers",
        "all-MiniLM-L6-v2",
        commit,
    );
    let input = write(
        dir.path(),
        "texts.txt",
        b"i feel so happy today\nthis makes me so angry\n",
    );
    let embed = |encoder: &str| {
        crate::common::embed_to_stdout(encoder, &input)
            .env("HF_HUB_CACHE", &cache)
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap()
    };
    let folder = embed(emo::paths::default_model().to_str().unwrap());
    assert!(
        folder.status.success(),
        "{}",
        String::from_utf8_lossy(&folder.stderr)
    );
    for id in [
        "sentence-transformers/all-MiniLM-L6-v2".to_string(),
        "sentence-transformers/all-MiniLM-L6-v2@main".to_string(),
        format!("sentence-transformers/all-MiniLM-L6-v2@{commit}"),
    ] {
        let o = embed(&id);
        assert!(
            o.status.success(),
            "{id}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            o.stdout, folder.stdout,
            "{id}: other vectors than the folder's"
        );
    }
    for (id, says) in [
        (
            "sentence-transformers/all-mpnet-base-v2",
            "not in the Hugging Face cache",
        ),
        (
            "sentence-transformers/all-MiniLM-L6-v2@v9",
            "no revision 'v9'",
        ),
    ] {
        let o = embed(id);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{id}: {err}");
        assert!(
            err.contains(says) && err.trim().lines().count() == 1,
            "{id}: {err}"
        );
        assert!(o.stdout.is_empty());
    }
}
