//! Where emo finds what `scripts/setup.sh` installed. Everything lives under one
//! home folder so that a checkout works with no exported variables, and a user
//! can point `EMO_HOME` elsewhere (e.g. an installed binary).

use std::path::PathBuf;

/// The folder holding `libtorch/`, `models/`, `datasets/` and `cache/`:
/// `$EMO_HOME` when set, else the repository's `.deps/`.
pub fn home() -> PathBuf {
    match std::env::var_os("EMO_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".deps"),
    }
}

/// The default encoder: all-MiniLM-L6-v2 as installed by setup.
pub fn default_model() -> PathBuf {
    home().join("models").join("all-MiniLM-L6-v2")
}

/// Named datasets (`goemotions/`, `carer/`), sha256-verified by setup.
pub fn datasets() -> PathBuf {
    home().join("datasets")
}

/// The content-addressed embedding cache.
pub fn cache() -> PathBuf {
    home().join("cache")
}
