//! `emo classify`: label new texts with a saved model. Input streams in chunks
//! (arguments, a file, or standard input), so memory stays flat however long
//! the input; only data goes to standard output, progress and warnings to stderr.
//!
//! As a pipeline stage (Spark's `RDD.pipe`, a subprocess per partition) it keeps
//! a line protocol: one output record per input record, in input order, each
//! carrying the caller's id (`--id-col`, default the `id` field or column where
//! present, else the line number), flushed chunk by chunk. A bad input line
//! stops the stage (exit 2, the message naming line and id) or, with
//! `--skip-bad-rows`, is answered with an error record — never a silent gap.

use super::load::{answering_embed_options, encoder_for, text_records, when_none_for};
use crate::cli::{ClassifyArgs, OutputFormat};
use crate::data::table::{Record, Row};
use crate::data::BadRows;
use crate::data::Task;
use crate::model::SavedModel;
use crate::predict::{Answer, Predictor, Scored};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::Write;

/// Texts embedded and classified per step: large enough to batch well, small
/// enough that a million-line input never sits in memory.
const CHUNK: usize = 2048;

/// One classified text.
struct Labelled {
    id: String,
    text: String,
    answer: Answer,
}

/// Writes results in one format, streaming.
struct Out {
    sink: crate::stream::Sink,
    format: OutputFormat,
    top_k: usize,
    /// The model is multi-label: a set of labels per text (maybe none).
    multi: bool,
    first: bool,
    /// CSV/TSV: a trailing `error` column (bad rows are answered, not skipped).
    errors: bool,
    /// CSV/TSV: the columns before `error`, so an error row pads to them.
    width: usize,
}

impl Out {
    fn begin(&mut self) -> Result<()> {
        match self.format {
            OutputFormat::Json => write!(self.sink.w, "[")?,
            OutputFormat::Csv | OutputFormat::Tsv => {
                let mut cols = vec!["id".to_string(), "text".into()];
                if self.multi {
                    cols.push("labels".into());
                    cols.push("probabilities".into());
                    for k in 1..=self.top_k {
                        cols.push(format!("label_{k}"));
                        cols.push(format!("probability_{k}"));
                        cols.push(format!("passed_{k}"));
                    }
                } else {
                    cols.push("label".into());
                    cols.push("confidence".into());
                    for k in 2..=self.top_k {
                        cols.push(format!("label_{k}"));
                        cols.push(format!("confidence_{k}"));
                    }
                }
                self.width = cols.len();
                if self.errors {
                    cols.push("error".into());
                }
                self.record(&cols)?;
            }
            OutputFormat::Table if self.multi => {
                write!(self.sink.w, "{:<60}  labels", "text")?;
                if self.top_k > 0 {
                    write!(
                        self.sink.w,
                        "  |  top {} (+ passed its threshold)",
                        self.top_k
                    )?;
                }
                writeln!(self.sink.w)?;
            }
            OutputFormat::Table => {
                writeln!(self.sink.w, "{:<60}  {:<16}  confidence", "text", "label")?;
            }
            OutputFormat::Jsonl => {}
        }
        Ok(())
    }

    fn record(&mut self, cells: &[String]) -> Result<()> {
        let delim = if self.format == OutputFormat::Tsv {
            b'\t'
        } else {
            b','
        };
        let mut wtr = csv::WriterBuilder::new()
            .delimiter(delim)
            .from_writer(Vec::new());
        wtr.write_record(cells)?;
        self.sink
            .w
            .write_all(&wtr.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        Ok(())
    }

    /// One JSON value: an element of the array (json) or a line (jsonl).
    fn json(&mut self, v: &serde_json::Value) -> Result<()> {
        if self.format == OutputFormat::Json {
            let sep = if self.first { "" } else { "," };
            write!(self.sink.w, "{sep}\n  {v}")?;
        } else {
            writeln!(self.sink.w, "{v}")?;
        }
        Ok(())
    }

    /// The id, the text and the answer's own fields ([`Answer::to_json`]).
    fn json_answer(&mut self, r: &Labelled) -> Result<()> {
        let mut v = serde_json::Map::new();
        v.insert("id".into(), json!(r.id));
        v.insert("text".into(), json!(r.text));
        v.extend(r.answer.to_json(self.top_k));
        self.json(&serde_json::Value::Object(v))
    }

    fn item(&mut self, r: &Labelled) -> Result<()> {
        match &r.answer {
            Answer::Single { top } => self.single(r, top)?,
            Answer::Multi { labels, top } => self.multi(r, labels, top)?,
        }
        self.first = false;
        Ok(())
    }

    fn single(&mut self, r: &Labelled, top: &[Scored]) -> Result<()> {
        match self.format {
            OutputFormat::Json | OutputFormat::Jsonl => self.json_answer(r)?,
            OutputFormat::Csv | OutputFormat::Tsv => {
                let mut cells = vec![r.id.clone(), r.text.clone()];
                for s in top {
                    cells.push(s.label.clone());
                    cells.push(format!("{:.6}", s.probability));
                }
                if self.errors {
                    cells.push(String::new());
                }
                self.record(&cells)?;
            }
            OutputFormat::Table => {
                let labels: Vec<String> = top
                    .iter()
                    .map(|s| format!("{:<16}  {:.3}", s.label, s.probability))
                    .collect();
                writeln!(
                    self.sink.w,
                    "{:<60}  {}",
                    shown(&r.text),
                    labels.join("   ")
                )?;
            }
        }
        Ok(())
    }

    fn multi(&mut self, r: &Labelled, labels: &[Scored], top: &[Scored]) -> Result<()> {
        match self.format {
            OutputFormat::Json | OutputFormat::Jsonl => self.json_answer(r)?,
            OutputFormat::Csv | OutputFormat::Tsv => {
                let join = |f: &dyn Fn(&Scored) -> String| {
                    labels.iter().map(f).collect::<Vec<_>>().join(",")
                };
                let mut cells = vec![
                    r.id.clone(),
                    r.text.clone(),
                    join(&|s| s.label.clone()),
                    join(&|s| format!("{:.6}", s.probability)),
                ];
                for s in top {
                    cells.push(s.label.clone());
                    cells.push(format!("{:.6}", s.probability));
                    cells.push(s.passed.to_string());
                }
                if self.errors {
                    cells.push(String::new());
                }
                self.record(&cells)?;
            }
            OutputFormat::Table => {
                let listed = |v: &[Scored], mark: bool| {
                    v.iter()
                        .map(|s| {
                            let plus = if mark && s.passed { "+" } else { "" };
                            format!("{} {:.3}{plus}", s.label, s.probability)
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut line = if labels.is_empty() {
                    "(no emotion)".to_string()
                } else {
                    listed(labels, false)
                };
                if self.top_k > 0 {
                    line = format!("{line}  |  {}", listed(top, true));
                }
                writeln!(self.sink.w, "{:<60}  {line}", shown(&r.text))?;
            }
        }
        Ok(())
    }

    /// The answer to a bad input line (with `--skip-bad-rows`).
    fn error(&mut self, line: usize, id: Option<&str>, reason: &str) -> Result<()> {
        let id = crate::data::table::id_or_line(id, line);
        match self.format {
            OutputFormat::Json | OutputFormat::Jsonl => {
                self.json(&crate::stream::error_record(line, &id, reason))?;
            }
            OutputFormat::Csv | OutputFormat::Tsv => {
                let mut cells = vec![id.clone()];
                cells.resize(self.width, String::new());
                cells.push(format!("line {line}: {reason}"));
                self.record(&cells)?;
            }
            OutputFormat::Table => {
                writeln!(
                    self.sink.w,
                    "{:<60}  error: {reason}",
                    format!("[line {line}, id {id}]")
                )?;
            }
        }
        self.first = false;
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        if self.format == OutputFormat::Json {
            writeln!(self.sink.w, "{}]", if self.first { "" } else { "\n" })?;
        }
        self.sink.w.flush()?;
        Ok(())
    }
}

/// A text as the table shows it: on one line, cut to 60 characters.
fn shown(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > 60 {
        flat.chars().take(59).chain(std::iter::once('…')).collect()
    } else {
        flat
    }
}

pub fn run(args: &ClassifyArgs) -> Result<()> {
    let device = args.with.run.device.resolve()?;
    let model = SavedModel::load(&args.model, device)?;
    let multi = model.manifest.task == Task::MultiLabel;
    let when_none = when_none_for(&model, &args.model, args.at_least_one)?;
    // Single-label answers list at least the top label; multi-label ones list
    // the top K beside the decision only when asked.
    let top_k = match (args.top_k, multi) {
        (Some(k), _) => k as usize,
        (None, false) => 1,
        (None, true) => 0,
    };
    let encoder = encoder_for(
        &model,
        &args.model,
        args.with.encoder.as_ref(),
        &args.with.run,
    )?;
    let opts = answering_embed_options(&args.with);

    let mut bad = BadRows::skipping(args.from.skip_bad_rows);
    let rows = text_records(&args.from, &mut bad, None, "classify")?;

    // Standard output, or a temporary file renamed over --out when complete.
    let sink = crate::stream::Sink::open(args.out.as_deref())?;
    let mut out = Out {
        sink,
        format: args.output_format,
        top_k: top_k.min(model.manifest.labels.len()),
        multi,
        first: true,
        errors: args.from.skip_bad_rows,
        width: 0,
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("classifying {pos} texts  {per_sec}").expect("valid template"),
    );

    // Nothing is written until the first chunk has been read without error, so a
    // bad input near the top leaves standard output empty.
    let mut started = false;
    let mut predictor = Predictor::new(
        &model,
        &encoder,
        &opts,
        top_k,
        when_none,
        args.raw_probabilities,
    )?;
    let mut total = 0usize;
    for chunk in crate::stream::chunks(rows, CHUNK) {
        let chunk = chunk?;
        let good: Vec<Row> = chunk.iter().filter_map(Record::row).cloned().collect();
        let mut labelled = if good.is_empty() {
            Vec::new()
        } else {
            let texts: Vec<String> = good.iter().map(|r| r.text.clone()).collect();
            predictor
                .answer(&texts)?
                .into_iter()
                .zip(&good)
                .map(|(answer, r)| Labelled {
                    id: r.id_or_line(),
                    text: r.text.clone(),
                    answer,
                })
                .collect()
        }
        .into_iter();
        if !started {
            out.begin()?;
            started = true;
        }
        for r in &chunk {
            match r {
                Record::Row(_) => out.item(&labelled.next().expect("one result per good row"))?,
                Record::Bad { line, id, reason } => out.error(*line, id.as_deref(), reason)?,
            }
        }
        // A downstream reader (a pipe) sees each chunk as soon as it is done.
        out.sink.w.flush()?;
        total += chunk.len();
        bar.set_position(total as u64);
    }
    if !started {
        out.begin()?;
    }
    out.end()?;
    bar.finish_and_clear();
    let written = out.sink.finish()?;
    if let Some(path) = written {
        eprintln!(
            "emo: {total} texts labelled by {} into {}",
            model.manifest.method,
            path.display()
        );
    }
    for line in bad.summary() {
        eprintln!("emo: {line}");
    }
    Ok(())
}
