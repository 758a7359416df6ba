//! Every file emo writes goes through here: written next to its destination
//! under a temporary name, flushed, then renamed. A crash or an error therefore
//! never leaves a half-written output where a later run could mistake it for a
//! complete one.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `path` atomically with whatever `fill` writes into the buffered file.
pub fn write_with<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
{
    let dir = parent_dir(path)?;
    let dir = dir.as_path();
    let tmp = tempfile::Builder::new()
        .prefix(".emo-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    {
        let mut out = std::io::BufWriter::new(tmp.as_file());
        fill(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // tempfile creates 0600 files; outputs are meant to be read like any other file.
    set_mode(tmp.path(), 0o644)?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
}

/// The folder `path` will be written in (created if missing): where its
/// temporary files must go, so that the final rename stays on one file system.
pub fn parent_dir(path: &Path) -> Result<PathBuf> {
    let dir = parent_of(path);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    Ok(dir)
}

/// The folder `path` is in (`.` for a bare file name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |out| {
        out.write_all(bytes)?;
        Ok(())
    })
}

/// Fails now, with the folder's name and the reason, if `dir` (created if
/// missing) cannot take a new file: commands call this before their long part,
/// so a read-only destination costs seconds, not the whole run.
pub fn check_dir_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::input_error!("{}: cannot create folder: {e}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".emo-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| crate::input_error!("{}: cannot write here: {e}", dir.display()))
}

/// Makes writes past a file-size limit (`ulimit -f`) fail with an error emo
/// reports, instead of the default SIGXFSZ, which kills the process silently.
pub fn report_file_size_limit() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" at start-up, before any
    // thread exists, is async-signal-safe and has no other effect.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Sets Unix permission bits (a no-op elsewhere).
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set permissions of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
