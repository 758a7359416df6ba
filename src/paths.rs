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

/// The encoders setup installed (`EMO_ENCODERS=… make setup`), by folder name.
pub fn installed_encoders() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(home().join("models"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("config.json").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `--encoder`'s value as a folder: the folder itself when it exists, else the
/// installed encoder of that name (`--encoder all-mpnet-base-v2`), else a
/// Hugging Face Hub id's snapshot in the shared cache
/// (`--encoder sentence-transformers/all-MiniLM-L6-v2[@REVISION]`; refused in
/// one line when it is not there), else as given (and loading it says it is
/// not found).
pub fn encoder_dir(given: &std::path::Path) -> anyhow::Result<PathBuf> {
    let named = home().join("models").join(given);
    if given.is_dir() {
        return Ok(given.to_path_buf());
    }
    if given.components().count() == 1 && named.is_dir() {
        return Ok(named);
    }
    match given.to_str().and_then(crate::hub::HubId::parse) {
        Some(id) => crate::hub::snapshot(&id),
        None => Ok(given.to_path_buf()),
    }
}

/// Named datasets (`goemotions/`, `carer/`), sha256-verified by setup.
pub fn datasets() -> PathBuf {
    home().join("datasets")
}

/// The content-addressed embedding cache.
pub fn cache() -> PathBuf {
    home().join("cache")
}
