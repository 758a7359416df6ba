//! The user's own files: CSV, TSV, JSONL, or plain text with one example a line.
//! Every malformed row becomes a one-line error naming the file, the line and
//! the problem (or is skipped and counted under `--skip-bad-rows`).

use super::BadRows;
use crate::input_error;
use anyhow::Result;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// File formats emo reads. Chosen from the extension unless given explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
    /// One text per line, no labels.
    Txt,
}

impl Format {
    /// `.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`, `.txt`; anything else is an error
    /// so that a misnamed file is not parsed with the wrong delimiter.
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("tsv") | Some("tab") => Ok(Format::Tsv),
            Some("jsonl") | Some("ndjson") => Ok(Format::Jsonl),
            Some("txt") | Some("text") => Ok(Format::Txt),
            _ => Err(input_error!(
                "{}: cannot tell the format from the extension; use --input-format csv|tsv|jsonl|txt",
                path.display()
            )),
        }
    }
}

/// A column chosen by header name or by 0-based index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Name(String),
    Index(usize),
}

impl FromStr for Column {
    type Err = std::convert::Infallible;

    /// All digits means an index; anything else a header name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(i) => Column::Index(i),
            Err(_) => Column::Name(s.to_string()),
        })
    }
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Name(n) => write!(f, "'{n}'"),
            Column::Index(i) => write!(f, "#{i}"),
        }
    }
}

/// How to read one file.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub format: Option<Format>,
    pub text_col: Column,
    /// `None` reads texts only (for embedding or classifying unlabelled text).
    pub label_col: Option<Column>,
    /// How the label field is read: one label, or a set of them.
    pub labels: LabelMode,
    /// CSV/TSV: whether the first row names the columns (default yes).
    pub has_header: bool,
    /// The caller's id of each row, carried to the output (pipelines match
    /// results to inputs by it). With `id_required` false, a file without the
    /// column (or a JSONL object without the field) is fine: rows then have none.
    pub id_col: Option<Column>,
    pub id_required: bool,
    /// A column every row must have, read as text: the group a row belongs to
    /// (`emo quantify --by`: a date, a source).
    pub group_col: Option<Column>,
}

impl TableSpec {
    /// The spec of a pipeline stage, which carries each row's id to its answer:
    /// read from `id_col` when given (every row must then have one), else from
    /// an `id` column or field where the input has one.
    pub fn with_ids(self, id_col: Option<&Column>) -> TableSpec {
        TableSpec {
            id_col: Some(id_col.cloned().unwrap_or_else(|| Column::Name("id".into()))),
            id_required: id_col.is_some(),
            ..self
        }
    }
}

impl Default for TableSpec {
    fn default() -> Self {
        TableSpec {
            format: None,
            text_col: Column::Name("text".into()),
            label_col: Some(Column::Name("label".into())),
            labels: LabelMode::default(),
            has_header: true,
            id_col: None,
            id_required: false,
            group_col: None,
        }
    }
}

/// How a label field reads: one label per text (single-label), or several
/// (multi-label: CSV/TSV fields split on `sep`, JSONL arrays of strings).
/// Single-label reading still knows the separator, so that a field holding it
/// is refused with what to pass, rather than read as one odd class name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMode {
    pub multi: bool,
    pub sep: String,
}

impl Default for LabelMode {
    fn default() -> Self {
        LabelMode {
            multi: false,
            sep: ",".into(),
        }
    }
}

/// A row's label as read, in the spec's [`LabelMode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawLabel {
    One(String),
    /// Label names, none repeated; empty for a text with no emotion.
    Set(Vec<String>),
}

/// One good row: where it came from, its text, and its label if one was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    pub text: String,
    pub label: Option<RawLabel>,
    /// The caller's id, when the spec names an id column and the row has one.
    pub id: Option<String>,
    /// The row's group, when the spec names a group column.
    pub group: Option<String>,
}

impl Row {
    /// The label of a single-label row (`None` for unlabelled or multi-label rows).
    pub fn single_label(&self) -> Option<&str> {
        match &self.label {
            Some(RawLabel::One(l)) => Some(l),
            _ => None,
        }
    }

    /// The label names of a multi-label row.
    pub fn label_set(&self) -> Option<&[String]> {
        match &self.label {
            Some(RawLabel::Set(s)) => Some(s),
            _ => None,
        }
    }

    /// The id a result carries: the caller's, else the line number.
    pub fn id_or_line(&self) -> String {
        id_or_line(self.id.as_deref(), self.line)
    }
}

/// The id an answer to input line `line` carries, good or bad: the caller's
/// `id` if it could be read, else the line number.
pub fn id_or_line(id: Option<&str>, line: usize) -> String {
    id.map_or_else(|| line.to_string(), str::to_string)
}

/// What a format parser yields: a good row, or a bad one with its line, the
/// caller's id if it could be read, and the reason (the [`RowReader`] decides
/// whether that stops the read, is skipped, or is passed on as a record).
pub enum Record {
    Row(Row),
    Bad {
        line: usize,
        id: Option<String>,
        reason: String,
    },
}

impl Record {
    /// The good row, if this is one.
    pub fn row(&self) -> Option<&Row> {
        match self {
            Record::Row(row) => Some(row),
            Record::Bad { .. } => None,
        }
    }
}

type Items = Box<dyn Iterator<Item = Result<Record>>>;

/// Rows of one input, one at a time, so that a million-line file is never held
/// in memory. Bad rows go through `bad` (error or skip); an input that cannot be
/// opened, lacks a column or has no usable row at all is always an error.
pub struct RowReader<'a> {
    name: PathBuf,
    items: Items,
    bad: &'a mut BadRows,
    seen: usize,
    done: bool,
}

impl<'a> RowReader<'a> {
    /// Opens `path` (`-` is standard input, read as `spec.format` or text lines).
    pub fn open(path: &Path, spec: &TableSpec, bad: &'a mut BadRows) -> Result<RowReader<'a>> {
        if path == Path::new("-") {
            let format = spec.format.unwrap_or(Format::Txt);
            let stdin: Box<dyn Read> = Box::new(std::io::stdin());
            return RowReader::from_reader(PathBuf::from("<stdin>"), stdin, format, spec, bad);
        }
        let format = match spec.format {
            Some(f) => f,
            None => Format::from_path(path)?,
        };
        let file = std::fs::File::open(path)
            .map_err(|e| input_error!("{}: cannot open: {e}", path.display()))?;
        RowReader::from_reader(path.to_path_buf(), Box::new(file), format, spec, bad)
    }

    /// Reads `reader` as `format`; `name` is what messages call it.
    pub fn from_reader(
        name: PathBuf,
        reader: Box<dyn Read>,
        format: Format,
        spec: &TableSpec,
        bad: &'a mut BadRows,
    ) -> Result<RowReader<'a>> {
        let items = match format {
            Format::Csv => delimited(&name, reader, b',', spec)?,
            Format::Tsv => delimited(&name, reader, b'\t', spec)?,
            Format::Jsonl => jsonl(&name, reader, spec)?,
            Format::Txt => {
                if let Some(c) = &spec.group_col {
                    return Err(input_error!(
                        "{}: plain text lines have no column {c} to group by; give a CSV, TSV or JSONL input",
                        name.display()
                    ));
                }
                txt(&name, reader)
            }
        };
        Ok(RowReader {
            name,
            items,
            bad,
            seen: 0,
            done: false,
        })
    }
}

impl<'a> RowReader<'a> {
    /// The next good row, or — with `pass_bad` and a [`BadRows`] that skips —
    /// the next bad one as a record (counted all the same).
    fn next_record(&mut self, pass_bad: bool) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        loop {
            match self.items.next() {
                Some(Ok(Record::Row(row))) => {
                    self.seen += 1;
                    return Some(Ok(Record::Row(row)));
                }
                Some(Ok(Record::Bad { line, id, reason })) => {
                    let said = match &id {
                        Some(id) => format!("id '{id}': {reason}"),
                        None => reason.clone(),
                    };
                    if let Err(e) = self.bad.handle(&self.name, line, said) {
                        self.done = true;
                        return Some(Err(e));
                    }
                    if pass_bad {
                        self.seen += 1;
                        return Some(Ok(Record::Bad { line, id, reason }));
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    if self.seen > 0 {
                        return None;
                    }
                    let what = if self.bad.skipped.iter().any(|s| s.file == self.name) {
                        "no usable rows (all were skipped as bad)"
                    } else {
                        "the file is empty (no data rows)"
                    };
                    return Some(Err(input_error!("{}: {what}", self.name.display())));
                }
            }
        }
    }

    /// Every record in input order, bad rows included as [`Record::Bad`] when
    /// the [`BadRows`] skips (a pipeline stage then answers each input line,
    /// the bad ones with an error record, never with a silent gap); when it
    /// does not skip, the first bad row is the error that ends the read.
    pub fn records(self) -> Records<'a> {
        Records(self)
    }
}

/// See [`RowReader::records`].
pub struct Records<'a>(RowReader<'a>);

impl Iterator for Records<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        self.0.next_record(true)
    }
}

impl Iterator for RowReader<'_> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        match self.next_record(false)? {
            Ok(Record::Row(row)) => Some(Ok(row)),
            Ok(Record::Bad { .. }) => unreachable!("bad rows are not passed on here"),
            Err(e) => Some(Err(e)),
        }
    }
}

/// Reads every row of `path` into memory (see [`RowReader`] for streaming).
pub fn read_rows(path: &Path, spec: &TableSpec, bad: &mut BadRows) -> Result<Vec<Row>> {
    RowReader::open(path, spec, bad)?.collect()
}

/// Checks a text cell: valid UTF-8 and not blank.
fn text_cell(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("text is not valid UTF-8 (byte {})", e.valid_up_to()))?;
    if text.trim().is_empty() {
        return Err("empty text".into());
    }
    Ok(text.to_string())
}

fn label_cell(bytes: &[u8], mode: &LabelMode) -> Result<RawLabel, String> {
    let label = std::str::from_utf8(bytes)
        .map_err(|e| format!("label is not valid UTF-8 (byte {})", e.valid_up_to()))?
        .trim();
    if mode.multi {
        return super::labels::split_label_field(label, &mode.sep).map(RawLabel::Set);
    }
    if label.is_empty() {
        return Err("empty label".into());
    }
    if label.contains(mode.sep.as_str()) {
        return Err(format!(
            "label '{label}' holds '{}': for texts with several emotions pass --multi-label (and --label-sep if another character separates them)",
            mode.sep
        ));
    }
    Ok(RawLabel::One(label.to_string()))
}

/// Finds a column's index in the header (or checks an index against the width).
fn resolve(path: &Path, col: &Column, header: Option<&[String]>, width: usize) -> Result<usize> {
    match (col, header) {
        (Column::Index(i), _) if *i < width => Ok(*i),
        (Column::Index(i), _) => Err(input_error!(
            "{}: line 1: no column {i} (the file has {width} columns, numbered from 0)",
            path.display()
        )),
        (Column::Name(name), Some(header)) => header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                input_error!(
                    "{}: line 1: no column named '{name}' (columns: {})",
                    path.display(),
                    header.join(", ")
                )
            }),
        (Column::Name(name), None) => Err(input_error!(
            "{}: column '{name}' given by name but the file is read without a header; give an index",
            path.display()
        )),
    }
}

fn delimited(path: &Path, reader: Box<dyn Read>, delimiter: u8, spec: &TableSpec) -> Result<Items> {
    let mut records = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(CrlfToLf::new(reader)))
        .into_byte_records()
        .peekable();
    let mut header: Option<Vec<String>> = None;
    if spec.has_header {
        match records.next() {
            None => return Err(input_error!("{}: the file is empty", path.display())),
            Some(Err(e)) => return Err(input_error!("{}: line 1: {e}", path.display())),
            Some(Ok(rec)) => {
                let names = rec
                    .iter()
                    .map(|f| String::from_utf8(f.to_vec()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        input_error!("{}: line 1: header is not valid UTF-8", path.display())
                    })?;
                header = Some(names);
            }
        }
    }
    // Without a header the first record fixes the width.
    let width = match (&header, records.peek()) {
        (Some(h), _) => h.len(),
        (None, Some(Ok(first))) => first.len(),
        (None, _) => 0,
    };
    let text_col = resolve(path, &spec.text_col, header.as_deref(), width.max(1))?;
    let mode = spec.labels.clone();
    let label_col = match &spec.label_col {
        Some(c) => Some(resolve(path, c, header.as_deref(), width.max(1))?),
        None => None,
    };
    let id_col = match &spec.id_col {
        Some(c) => match resolve(path, c, header.as_deref(), width.max(1)) {
            Ok(i) => Some(i),
            Err(e) if spec.id_required => return Err(e),
            Err(_) => None,
        },
        None => None,
    };
    let group_col = match &spec.group_col {
        Some(c) => Some(resolve(path, c, header.as_deref(), width.max(1))?),
        None => None,
    };
    Ok(Box::new(records.map(move |rec| {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                return Ok(Record::Bad {
                    line,
                    id: None,
                    reason: format!("{e}"),
                });
            }
        };
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let id = id_col
            .and_then(|i| rec.get(i))
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        if rec.len() != width {
            return Ok(Record::Bad {
                line,
                id,
                reason: format!("expected {width} fields, found {}", rec.len()),
            });
        }
        let row = text_cell(&rec[text_col]).and_then(|text| {
            let label = label_col.map(|l| label_cell(&rec[l], &mode)).transpose()?;
            let group = group_col
                .map(|g| {
                    std::str::from_utf8(&rec[g])
                        .map(|t| t.trim().to_string())
                        .map_err(|e| {
                            format!("group field is not valid UTF-8 (byte {})", e.valid_up_to())
                        })
                })
                .transpose()?;
            Ok((text, label, group))
        });
        Ok(match row {
            Ok((text, label, group)) => Record::Row(Row {
                line,
                text,
                label,
                group,
                id,
            }),
            Err(reason) => Record::Bad { line, id, reason },
        })
    })))
}

/// Turns `\r\n` into `\n` while streaming. The csv crate reports line numbers
/// one short after each CRLF (rust-csv issue #395), and an error must name the
/// right line of a file saved on Windows; a lone `\r` is left alone.
pub(super) struct CrlfToLf<R> {
    inner: R,
    /// A byte read ahead to decide about a `\r` at the end of a read.
    stash: Option<u8>,
}

impl<R: Read> CrlfToLf<R> {
    pub(super) fn new(inner: R) -> Self {
        CrlfToLf { inner, stash: None }
    }

    /// The byte that replaces a `\r`: `\n` when one follows (consumed), else
    /// the `\r` itself with the following byte kept for later.
    fn after_cr(&mut self) -> std::io::Result<u8> {
        let mut one = [0u8; 1];
        if self.inner.read(&mut one)? == 1 {
            if one[0] == b'\n' {
                return Ok(b'\n');
            }
            self.stash = Some(one[0]);
        }
        Ok(b'\r')
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(b) = self.stash.take() {
            out[0] = if b == b'\r' { self.after_cr()? } else { b };
            return Ok(1);
        }
        let n = self.inner.read(out)?;
        let mut w = 0;
        let mut i = 0;
        while i < n {
            let b = out[i];
            i += 1;
            if b == b'\r' {
                if i < n {
                    if out[i] == b'\n' {
                        continue;
                    }
                } else {
                    out[w] = self.after_cr()?;
                    w += 1;
                    continue;
                }
            }
            out[w] = b;
            w += 1;
        }
        Ok(w)
    }
}

/// Lines of raw bytes with 1-based numbers, so invalid UTF-8 is reported per line
/// instead of aborting the whole read.
fn byte_lines(
    path: &Path,
    reader: Box<dyn Read>,
) -> impl Iterator<Item = Result<(usize, Vec<u8>)>> {
    let mut reader = BufReader::new(reader);
    let path = path.to_path_buf();
    let mut n = 0;
    std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                n += 1;
                while matches!(buf.last(), Some(b'\n') | Some(b'\r')) {
                    buf.pop();
                }
                Some(Ok((n, buf)))
            }
            Err(e) => Some(Err(input_error!(
                "{}: line {}: cannot read: {e}",
                path.display(),
                n + 1
            ))),
        }
    })
}

fn txt(path: &Path, reader: Box<dyn Read>) -> Items {
    Box::new(byte_lines(path, reader).filter_map(|item| {
        let (line, bytes) = match item {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        match text_cell(&bytes) {
            Ok(text) => Some(Ok(Record::Row(Row {
                line,
                text,
                label: None,
                id: None,
                group: None,
            }))),
            // Blank lines separate nothing in a one-text-per-line file; skip them quietly.
            Err(_) if bytes.iter().all(u8::is_ascii_whitespace) => None,
            Err(reason) => Some(Ok(Record::Bad {
                line,
                id: None,
                reason,
            })),
        }
    }))
}

/// A JSON value as a label: strings as they are, numbers and booleans printed;
/// for multi-label data an array of strings (or one string, split on the
/// separator as in a CSV field).
fn json_label(field: &str, v: &serde_json::Value, mode: &LabelMode) -> Result<RawLabel, String> {
    use serde_json::Value;
    match v {
        Value::Array(items) if mode.multi => {
            let mut names: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let name = match item {
                    Value::String(s) => s.trim(),
                    other => {
                        return Err(format!(
                            "field '{field}' must be an array of strings, found {other} in it"
                        ))
                    }
                };
                if name.is_empty() {
                    return Err(format!("field '{field}' holds an empty label"));
                }
                if names.iter().any(|n| n == name) {
                    return Err(format!("label '{name}' is given twice in field '{field}'"));
                }
                names.push(name.to_string());
            }
            Ok(RawLabel::Set(names))
        }
        Value::Array(_) => Err(format!(
            "field '{field}' is an array: for texts with several emotions pass --multi-label"
        )),
        Value::String(s) => label_cell(s.as_bytes(), mode),
        Value::Number(n) if !mode.multi => Ok(RawLabel::One(n.to_string())),
        Value::Bool(b) if !mode.multi => Ok(RawLabel::One(b.to_string())),
        other if mode.multi => Err(format!(
            "field '{field}' must be an array of strings, found {other}"
        )),
        other => Err(format!(
            "field '{field}' must be a string or a number, found {other}"
        )),
    }
}

fn jsonl(path: &Path, reader: Box<dyn Read>, spec: &TableSpec) -> Result<Items> {
    let field = |col: &Column| -> Result<String> {
        match col {
            Column::Name(n) => Ok(n.clone()),
            Column::Index(_) => Err(input_error!(
                "{}: JSONL fields are chosen by name, not by index ({col})",
                path.display()
            )),
        }
    };
    let text_field = field(&spec.text_col)?;
    let label_field = spec.label_col.as_ref().map(field).transpose()?;
    let id_field = spec.id_col.as_ref().map(field).transpose()?;
    let id_required = spec.id_required;
    let group_field = spec.group_col.as_ref().map(field).transpose()?;
    let mode = spec.labels.clone();
    Ok(Box::new(byte_lines(path, reader).filter_map(move |item| {
        let (line, bytes) = match item {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        // The id is read first, so that a row bad for another reason still names it.
        let mut id: Option<String> = None;
        let parsed = (|| -> Result<Row, String> {
            let s = std::str::from_utf8(&bytes)
                .map_err(|e| format!("not valid UTF-8 (byte {})", e.valid_up_to()))?;
            let value: serde_json::Value =
                serde_json::from_str(s).map_err(|e| format!("not valid JSON: {e}"))?;
            let obj = value
                .as_object()
                .ok_or_else(|| "not a JSON object".to_string())?;
            if let Some(f) = &id_field {
                id = match obj.get(f) {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                    Some(other) => {
                        return Err(format!(
                            "id field '{f}' must be a string or a number, found {other}"
                        ))
                    }
                    None if id_required => return Err(format!("no field '{f}'")),
                    None => None,
                };
            }
            let text = match obj.get(&text_field) {
                Some(serde_json::Value::String(t)) => text_cell(t.as_bytes())?,
                Some(_) => return Err(format!("field '{text_field}' is not a string")),
                None => return Err(format!("no field '{text_field}'")),
            };
            let label = match &label_field {
                Some(f) => Some(json_label(
                    f,
                    obj.get(f).ok_or_else(|| format!("no field '{f}'"))?,
                    &mode,
                )?),
                None => None,
            };
            let group = match &group_field {
                Some(f) => Some(match obj.get(f) {
                    Some(serde_json::Value::String(s)) => s.trim().to_string(),
                    Some(serde_json::Value::Number(n)) => n.to_string(),
                    Some(other) => {
                        return Err(format!(
                            "group field '{f}' must be a string or a number, found {other}"
                        ))
                    }
                    None => return Err(format!("no field '{f}'")),
                }),
                None => None,
            };
            Ok(Row {
                line,
                text,
                label,
                id: id.clone(),
                group,
            })
        })();
        Some(Ok(match parsed {
            Ok(row) => Record::Row(row),
            Err(reason) => Record::Bad { line, id, reason },
        }))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(ext: &str, bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn read(ext: &str, bytes: &[u8], skip: bool) -> (Result<Vec<Row>>, BadRows) {
        let f = file(ext, bytes);
        let mut bad = BadRows::skipping(skip);
        let rows = read_rows(f.path(), &TableSpec::default(), &mut bad);
        (rows, bad)
    }

    fn err(ext: &str, bytes: &[u8]) -> String {
        read(ext, bytes, false).0.unwrap_err().to_string()
    }

    fn read_multi(ext: &str, bytes: &[u8], sep: &str) -> Result<Vec<Row>> {
        let f = file(ext, bytes);
        let spec = TableSpec {
            labels: LabelMode {
                multi: true,
                sep: sep.into(),
            },
            ..TableSpec::default()
        };
        read_rows(f.path(), &spec, &mut BadRows::skipping(false))
    }

    fn names(row: &Row) -> Vec<&str> {
        row.label_set()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn multi_label_fields_arrays_and_no_emotion() {
        let rows = read_multi(
            ".csv",
            b"text,label\na,\"joy,gratitude\"\nb,\nc,fear\n",
            ",",
        )
        .unwrap();
        assert_eq!(names(&rows[0]), ["joy", "gratitude"]);
        assert!(names(&rows[1]).is_empty(), "an empty field is no emotion");
        assert_eq!(names(&rows[2]), ["fear"]);
        let rows = read_multi(".tsv", b"text\tlabel\na\tjoy|love\n", "|").unwrap();
        assert_eq!(names(&rows[0]), ["joy", "love"]);
        let rows = read_multi(
            ".jsonl",
            b"{\"text\":\"a\",\"label\":[\"joy\",\"love\"]}\n{\"text\":\"b\",\"label\":[]}\n{\"text\":\"c\",\"label\":\"fear,joy\"}\n",
            ",",
        )
        .unwrap();
        assert_eq!(names(&rows[0]), ["joy", "love"]);
        assert!(names(&rows[1]).is_empty());
        assert_eq!(names(&rows[2]), ["fear", "joy"]);
        assert_eq!(rows[0].single_label(), None);
    }

    #[test]
    fn bad_multi_label_input_names_line_and_problem() {
        let e = |ext, bytes: &[u8]| read_multi(ext, bytes, ",").unwrap_err().to_string();
        assert!(e(".csv", b"text,label\nok,joy\nx,\"joy,,fear\"\n")
            .contains("line 3: empty label at position 2"));
        assert!(e(".csv", b"text,label\nx,\"joy,fear,joy\"\n")
            .contains("line 2: label 'joy' is given twice"));
        assert!(e(".jsonl", b"{\"text\":\"a\",\"label\":[\"joy\",3]}\n")
            .contains("line 1: field 'label' must be an array of strings, found 3 in it"));
        assert!(e(".jsonl", b"{\"text\":\"a\",\"label\":{\"x\":1}}\n")
            .contains("line 1: field 'label' must be an array of strings"));
        assert!(
            e(".jsonl", b"{\"text\":\"a\",\"label\":[\"joy\",\"joy\"]}\n")
                .contains("line 1: label 'joy' is given twice")
        );
        assert!(e(".jsonl", b"{\"text\":\"a\",\"label\":[\" \"]}\n")
            .contains("line 1: field 'label' holds an empty label"));
        // A single-label read says what to pass when it meets several labels.
        let single = err(".csv", b"text,label\nx,\"joy,fear\"\n");
        assert!(
            single.contains("line 2: label 'joy,fear' holds ','")
                && single.contains("--multi-label"),
            "{single}"
        );
        let single = err(".jsonl", b"{\"text\":\"a\",\"label\":[\"joy\"]}\n");
        assert!(
            single.contains("line 1: field 'label' is an array")
                && single.contains("--multi-label"),
            "{single}"
        );
    }

    #[test]
    fn csv_with_quotes_and_newlines() {
        let (rows, _) = read(
            ".csv",
            b"id,text,label\n1,\"hi, \"\"you\"\"\",joy\n2,\"two\nlines\",anger\n",
            false,
        );
        let rows = rows.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text, "hi, \"you\"");
        assert_eq!(rows[1].text, "two\nlines");
        assert_eq!(rows[1].single_label(), Some("anger"));
        assert_eq!((rows[0].line, rows[1].line), (2, 3));
    }

    #[test]
    fn crlf_files_report_the_right_lines() {
        let e = err(
            ".csv",
            b"text,label\r\nok,joy\r\nbad\r\n\"two\r\nlines\",joy\r\n,fear\r\n",
        );
        assert!(e.contains("line 3: expected 2 fields"), "{e}");
        let (rows, bad) = read(
            ".csv",
            b"text,label\r\nok,joy\r\nbad\r\n\"two\r\nlines\",joy\r\n,fear\r\n",
            true,
        );
        let rows = rows.unwrap();
        assert_eq!(rows[1].text, "two\nlines");
        assert_eq!((rows[0].line, rows[1].line), (2, 4));
        assert_eq!(
            bad.skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            [3, 6]
        );
        // A lone CR survives, whatever the read sizes.
        let mut r = CrlfToLf::new(&b"a\rb\r\nc\r"[..]);
        let mut got = Vec::new();
        let mut one = [0u8; 1];
        while r.read(&mut one).unwrap() == 1 {
            got.push(one[0]);
        }
        assert_eq!(got, b"a\rb\nc\r");
    }

    #[test]
    fn columns_by_index_without_header() {
        let f = file(".tsv", b"joy\tso happy\nfear\tscared\n");
        let spec = TableSpec {
            text_col: Column::Index(1),
            label_col: Some(Column::Index(0)),
            has_header: false,
            ..TableSpec::default()
        };
        let rows = read_rows(f.path(), &spec, &mut BadRows::default()).unwrap();
        assert_eq!(rows[1].text, "scared");
        assert_eq!(rows[1].single_label(), Some("fear"));
    }

    #[test]
    fn errors_name_line_and_problem() {
        assert!(err(".csv", b"text,label\nok,joy\nonly-one-field\n")
            .contains("line 3: expected 2 fields, found 1"));
        assert!(err(".csv", b"text,label\n  ,joy\n").contains("line 2: empty text"));
        assert!(err(".csv", b"text,label\nhi,\n").contains("line 2: empty label"));
        assert!(err(".csv", b"text,label\nok,joy\n\xff\xfe,joy\n")
            .contains("line 3: text is not valid UTF-8"));
        assert!(err(".csv", b"words,label\nok,joy\n")
            .contains("no column named 'text' (columns: words, label)"));
        assert!(err(".csv", b"").contains("empty"));
        assert!(err(".csv", b"text,label\n").contains("the file is empty"));
        assert!(err(".jsonl", b"{\"text\":\"a\",\"label\":\"x\"}\n[1,2]\n")
            .contains("line 2: not a JSON object"));
        assert!(err(".jsonl", b"{\"label\":\"x\"}\n").contains("line 1: no field 'text'"));
        assert!(err(".jsonl", b"{\"text\":\"a\",\"label\":\"x\"}\n{oops\n")
            .contains("line 2: not valid JSON"));
        assert!(err(".xyz", b"a").contains("cannot tell the format"));
    }

    #[test]
    fn skip_bad_rows_counts_and_keeps_good_ones() {
        let (rows, bad) = read(".csv", b"text,label\nok,joy\nbad\n,joy\nfine,fear\n", true);
        assert_eq!(rows.unwrap().len(), 2);
        assert_eq!(bad.skipped.len(), 2);
        assert_eq!(bad.skipped[0].line, 3);
        assert!(bad.summary()[0].starts_with("skipped 2 bad row(s)"));
    }

    #[test]
    fn jsonl_numbers_as_labels_and_txt_lines() {
        let (rows, _) = read(
            ".jsonl",
            b"{\"text\":\"a\",\"label\":3}\n\n{\"text\":\"b\",\"label\":\"x\"}\n",
            false,
        );
        let rows = rows.unwrap();
        assert_eq!(rows[0].single_label(), Some("3"));
        assert_eq!(rows[1].line, 3);
        let f = file(".txt", b"first\r\n\nsecond\n");
        let rows = read_rows(f.path(), &TableSpec::default(), &mut BadRows::default()).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(),
            ["first", "second"]
        );
    }
}
