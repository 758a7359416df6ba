//! Loading labelled text: the user's own CSV/TSV/JSONL/TXT files ([`table`]) and
//! the named benchmark datasets ([`named`]). Everything downstream sees only
//! [`Dataset`] and [`Split`]: texts, labels and the class names. A label is one
//! class index (single-label, the default type) or a [`LabelSet`] (multi-label);
//! see [`labels`].

pub mod labels;
pub mod named;
pub mod profile;
pub mod split;
pub mod table;

pub use labels::{Label, LabelSet, Task};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One split of a dataset. `labels[i]` indexes [`Dataset::classes`]; `ids[i]`
/// says where row `i` came from (a comment id, or `file:line`), so that
/// predictions can be traced back to the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Split<L = usize> {
    pub texts: Vec<String>,
    pub labels: Vec<L>,
    pub ids: Vec<String>,
}

// By hand: derive would ask `L: Default`, which a split of no rows does not need.
impl<L> Default for Split<L> {
    fn default() -> Self {
        Split {
            texts: Vec::new(),
            labels: Vec::new(),
            ids: Vec::new(),
        }
    }
}

impl<L: Label> Split<L> {
    /// A split from rows read out of `path`, ids `path:line`.
    pub fn from_rows(path: &std::path::Path, rows: &[table::Row], labels: Vec<L>) -> Split<L> {
        Split {
            texts: rows.iter().map(|r| r.text.clone()).collect(),
            labels,
            ids: rows
                .iter()
                .map(|r| format!("{}:{}", path.display(), r.line))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Examples per class, indexed like the dataset's classes (a multi-label
    /// text counts once for each of its classes).
    pub fn class_counts(&self, n_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; n_classes];
        for y in &self.labels {
            for &c in y.classes() {
                counts[c] += 1;
            }
        }
        counts
    }
}

/// Which part of a dataset a split is. Names follow the usual train/validation/test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SplitName {
    Train,
    Validation,
    Test,
}

impl SplitName {
    pub const ALL: [SplitName; 3] = [SplitName::Train, SplitName::Validation, SplitName::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Validation => "validation",
            SplitName::Test => "test",
        }
    }
}

impl std::fmt::Display for SplitName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Labelled texts with named classes and up to three splits.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<L = usize> {
    pub name: String,
    pub classes: Vec<String>,
    pub splits: Vec<(SplitName, Split<L>)>,
}

impl<L: Label> Dataset<L> {
    /// Single- or multi-label: a property of the label type, not a flag.
    pub fn task(&self) -> Task {
        L::TASK
    }

    pub fn split(&self, name: SplitName) -> Option<&Split<L>> {
        self.splits.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
    }

    pub fn split_mut(&mut self, name: SplitName) -> Option<&mut Split<L>> {
        self.splits
            .iter_mut()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
    }
}

/// A row that was skipped under `--skip-bad-rows`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: PathBuf,
    pub line: usize,
    pub reason: String,
}

/// What to do with a malformed row: fail on the first (the default, so that
/// nothing is silently dropped) or skip it and keep a record to report.
#[derive(Debug, Default)]
pub struct BadRows {
    pub skip: bool,
    pub skipped: Vec<Skipped>,
}

impl BadRows {
    pub fn skipping(skip: bool) -> Self {
        BadRows {
            skip,
            skipped: Vec::new(),
        }
    }

    /// Either records the bad row (skip mode) or turns it into the error to return.
    pub fn handle(
        &mut self,
        file: &std::path::Path,
        line: usize,
        reason: String,
    ) -> anyhow::Result<()> {
        if self.skip {
            self.skipped.push(Skipped {
                file: file.to_path_buf(),
                line,
                reason,
            });
            Ok(())
        } else {
            Err(crate::input_error!(
                "{}: line {line}: {reason}",
                file.display()
            ))
        }
    }

    /// One line for stderr per file summarising what was skipped, if anything.
    pub fn summary(&self) -> Vec<String> {
        let files: BTreeSet<&PathBuf> = self.skipped.iter().map(|s| &s.file).collect();
        files
            .into_iter()
            .map(|file| {
                let rows: Vec<&Skipped> = self.skipped.iter().filter(|s| &s.file == file).collect();
                let first = rows[0];
                format!(
                    "skipped {} bad row(s) in {} (first: line {}: {})",
                    rows.len(),
                    file.display(),
                    first.line,
                    first.reason
                )
            })
            .collect()
    }
}

/// Turns string labels into indices. Classes are sorted by name so that the same
/// files always give the same class order, whatever the row order.
pub fn index_labels(labels: &[String]) -> (Vec<String>, Vec<usize>) {
    let classes: Vec<String> = labels
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let indices = labels
        .iter()
        .map(|l| classes.binary_search(l).expect("label comes from the set"))
        .collect();
    (classes, indices)
}
