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

use super::load::{embed_options, encoder_for};
use crate::cli::{ClassifyArgs, OutputFormat};
use crate::data::table::{Record, Row, RowReader, TableSpec};
use crate::data::BadRows;
use crate::embed::{Embedder, Matrix};
use crate::input_error;
use crate::model::SavedModel;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::Write;
use tch::Kind;

/// Texts embedded and classified per step: large enough to batch well, small
/// enough that a million-line input never sits in memory.
const CHUNK: usize = 2048;

/// One classified text.
struct Labelled {
    id: String,
    text: String,
    /// (label, probability), most likely first.
    top: Vec<(String, f64)>,
}

/// Writes results in one format, streaming.
struct Out {
    sink: crate::stream::Sink,
    format: OutputFormat,
    top_k: usize,
    first: bool,
    /// CSV/TSV: a trailing `error` column (bad rows are answered, not skipped).
    errors: bool,
}

impl Out {
    fn begin(&mut self) -> Result<()> {
        match self.format {
            OutputFormat::Json => write!(self.sink.w, "[")?,
            OutputFormat::Csv | OutputFormat::Tsv => {
                let mut cols = vec![
                    "id".to_string(),
                    "text".into(),
                    "label".into(),
                    "confidence".into(),
                ];
                for k in 2..=self.top_k {
                    cols.push(format!("label_{k}"));
                    cols.push(format!("confidence_{k}"));
                }
                if self.errors {
                    cols.push("error".into());
                }
                self.record(&cols)?;
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

    fn item(&mut self, r: &Labelled) -> Result<()> {
        match self.format {
            OutputFormat::Json | OutputFormat::Jsonl => {
                let mut v = json!({ "id": r.id, "text": r.text, "label": r.top[0].0, "confidence": r.top[0].1 });
                if self.top_k > 1 {
                    v["top"] = r
                        .top
                        .iter()
                        .map(|(l, p)| json!({ "label": l, "confidence": p }))
                        .collect();
                }
                self.json(&v)?;
            }
            OutputFormat::Csv | OutputFormat::Tsv => {
                let mut cells = vec![r.id.clone(), r.text.clone()];
                for (l, p) in &r.top {
                    cells.push(l.clone());
                    cells.push(format!("{p:.6}"));
                }
                if self.errors {
                    cells.push(String::new());
                }
                self.record(&cells)?;
            }
            OutputFormat::Table => {
                let flat: String = r
                    .text
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                let shown: String = if flat.chars().count() > 60 {
                    flat.chars().take(59).chain(std::iter::once('…')).collect()
                } else {
                    flat
                };
                let labels: Vec<String> = r
                    .top
                    .iter()
                    .map(|(l, p)| format!("{l:<16}  {p:.3}"))
                    .collect();
                writeln!(self.sink.w, "{shown:<60}  {}", labels.join("   "))?;
            }
        }
        self.first = false;
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
                cells.resize(2 + 2 * self.top_k, String::new());
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

/// Embeds and labels one chunk of rows.
fn label_chunk(
    model: &SavedModel,
    embedder: &mut Embedder,
    device: tch::Device,
    rows: &[Row],
    top_k: usize,
) -> Result<Vec<Labelled>> {
    let texts: Vec<String> = rows.iter().map(|r| r.text.clone()).collect();
    let (m, _) = embedder.embed(&texts)?;
    let x = Matrix {
        rows: m.rows,
        cols: m.cols,
        data: m.data,
    }
    .to_tensor()
    .to(device);
    let probs = model.head.logits(&x)?.softmax(1, Kind::Float);
    let k = top_k.min(model.manifest.labels.len()) as i64;
    let (p, idx) = probs.topk(k, 1, true, true);
    let p: Vec<f32> = Vec::try_from(p.to_device(tch::Device::Cpu).flatten(0, -1))?;
    let idx: Vec<i64> = Vec::try_from(idx.to_device(tch::Device::Cpu).flatten(0, -1))?;
    Ok(rows
        .iter()
        .enumerate()
        .map(|(i, r)| Labelled {
            id: r.id_or_line(),
            text: r.text.clone(),
            top: (0..k as usize)
                .map(|j| {
                    let at = i * k as usize + j;
                    (
                        model.manifest.labels[idx[at] as usize].clone(),
                        p[at] as f64,
                    )
                })
                .collect(),
        })
        .collect())
}

pub fn run(args: &ClassifyArgs) -> Result<()> {
    let device = args.run.device.resolve()?;
    let model = SavedModel::load(&args.model, device)?;
    let encoder = encoder_for(&model, &args.model, args.encoder.as_ref(), &args.run)?;
    let cache = args
        .cache
        .then(|| args.cache_dir.clone().unwrap_or_else(crate::paths::cache));
    let opts = crate::embed::EmbedOptions {
        progress: false,
        ..embed_options(&args.run, cache)
    };

    let mut bad = BadRows::skipping(args.skip_bad_rows);
    let spec = TableSpec {
        format: args.input_format,
        text_col: args.text_col.clone(),
        label_col: None,
        labels: Default::default(),
        has_header: !args.no_header,
        id_col: None,
        id_required: false,
    }
    .with_ids(args.id_col.as_ref());
    let rows: Box<dyn Iterator<Item = Result<Record>> + '_> = match &args.input {
        Some(path) => Box::new(RowReader::open(path, &spec, &mut bad)?.records()),
        None if !args.texts.is_empty() => Box::new(args.texts.iter().enumerate().map(|(i, t)| {
            if t.trim().is_empty() {
                Err(input_error!("argument {}: empty text", i + 1))
            } else {
                Ok(Record::Row(Row {
                    line: i + 1,
                    text: t.clone(),
                    label: None,
                    id: None,
                }))
            }
        })),
        None => {
            return Err(input_error!(
                "nothing to classify: give texts, --input FILE, or --input - for standard input"
            ))
        }
    };

    // Standard output, or a temporary file renamed over --output when complete.
    let sink = crate::stream::Sink::open(args.output.as_deref())?;
    let mut out = Out {
        sink,
        format: args.format,
        top_k: args.top_k as usize,
        first: true,
        errors: args.skip_bad_rows,
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("classifying {pos} texts  {per_sec}").expect("valid template"),
    );

    // Nothing is written until the first chunk has been read without error, so a
    // bad input near the top leaves standard output empty.
    let mut started = false;
    let mut embedder = Embedder::new(&encoder, &opts)?;
    let mut total = 0usize;
    for chunk in crate::stream::chunks(rows, CHUNK) {
        let chunk = chunk?;
        let good: Vec<Row> = chunk.iter().filter_map(Record::row).cloned().collect();
        let mut labelled = if good.is_empty() {
            Vec::new()
        } else {
            label_chunk(
                &model,
                &mut embedder,
                encoder.device(),
                &good,
                args.top_k as usize,
            )?
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
