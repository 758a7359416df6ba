//! emo as a pipeline stage: what `classify` and `embed --out -` share when they
//! run under a driver that streams lines through them (Spark's `RDD.pipe`, a
//! subprocess per partition, a shell pipe). Input is read in chunks of records
//! (bad lines included, as records, when the stage answers them); output goes
//! to standard output flushed chunk by chunk, or to a file that appears only
//! when complete.

use crate::data::table::Record;
use anyhow::{Context as _, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a stage writes: standard output (`None` or `-`), or a temporary file
/// beside `path` renamed over it by [`Sink::finish`], so an interrupted run
/// never leaves a partial file where a complete one is expected.
pub struct Sink {
    pub w: Box<dyn Write>,
    staged: Option<(tempfile::NamedTempFile, PathBuf)>,
}

impl Sink {
    pub fn open(path: Option<&Path>) -> Result<Sink> {
        match path.filter(|p| *p != Path::new("-")) {
            None => Ok(Sink {
                w: Box::new(std::io::BufWriter::new(std::io::stdout())),
                staged: None,
            }),
            Some(path) => {
                let dir = crate::atomic::parent_of(path);
                let tmp = tempfile::Builder::new()
                    .prefix(".emo-")
                    .tempfile_in(&dir)
                    .map_err(|e| {
                        crate::input_error!("{}: cannot write here: {e}", dir.display())
                    })?;
                Ok(Sink {
                    w: Box::new(std::io::BufWriter::new(tmp.reopen()?)),
                    staged: Some((tmp, path.to_path_buf())),
                })
            }
        }
    }

    /// Flushes; a staged file is then moved into place. Returns its path.
    pub fn finish(self) -> Result<Option<PathBuf>> {
        let Sink { mut w, staged } = self;
        w.flush()?;
        drop(w);
        match staged {
            None => Ok(None),
            Some((tmp, path)) => {
                crate::atomic::set_mode(tmp.path(), 0o644)?;
                tmp.persist(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(Some(path))
            }
        }
    }
}

/// Groups `records` into chunks of at most `size`, stopping at the first error.
pub fn chunks<I>(records: I, size: usize) -> impl Iterator<Item = Result<Vec<Record>>>
where
    I: Iterator<Item = Result<Record>>,
{
    let mut records = records.peekable();
    std::iter::from_fn(move || {
        records.peek()?;
        let mut chunk = Vec::with_capacity(size);
        while chunk.len() < size {
            match records.next() {
                Some(Ok(r)) => chunk.push(r),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        Some(Ok(chunk))
    })
}

/// The JSON answer to a bad input line, carrying the id it is answered with
/// ([`crate::data::table::id_or_line`]).
pub fn error_record(line: usize, id: &str, reason: &str) -> serde_json::Value {
    serde_json::json!({ "id": id, "line": line, "error": reason })
}
