//! `emo embed`: vectors for a dataset or a file, written as safetensors plus a
//! JSON sidecar that says exactly which encoder made them.

use super::load::{embed_options, load_encoder, load_input};
use crate::cli::EmbedArgs;
use crate::data::table::Record;
use crate::embed::cache::text_key;
use crate::embed::precision::Precision;
use crate::embed::{device_name, EmbedStats, Embedder, EncoderIdentity};
use anyhow::{Context as _, Result};
use safetensors::tensor::Dtype;
use serde::Serialize;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// The sidecar: enough to know, later, whether these vectors can be trusted for a use.
#[derive(Serialize)]
struct Sidecar<'a> {
    format: &'static str,
    emo_version: &'static str,
    source: String,
    /// Tensor name prefix per split ("" for a single file).
    splits: Vec<SplitInfo>,
    classes: &'a [String],
    encoder: &'a EncoderIdentity,
    model_dir: String,
    device: String,
    /// The encoder's arithmetic (`--precision`): fp32, bf16 or fp16.
    precision: &'static str,
    dim: usize,
    count: usize,
    stats: EmbedStats,
}

#[derive(Serialize)]
struct SplitInfo {
    name: String,
    count: usize,
    embeddings: String,
    labels: Option<String>,
}

/// Texts embedded per call: bounds memory to one chunk's vectors (50 MB at 384
/// dimensions) whatever the input's size, while keeping chunks large enough for
/// length-sorted batching to work.
const CHUNK: usize = 32_768;

/// Whether `--out` asks for the streamed JSONL form: `-` or a `.jsonl` file.
fn streams(out: Option<&Path>) -> bool {
    out.is_some_and(|p| {
        p == Path::new("-")
            || p.extension().is_some_and(|e| {
                e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson")
            })
    })
}

/// Texts per streamed chunk: small enough that a pipe sees output soon and
/// memory stays flat, large enough to batch by length.
const STREAM_CHUNK: usize = 2048;

/// `emo embed --input FILE|- --out -|FILE.jsonl`: one JSON line per input
/// line, in order, `{"id", "vector"}` (the caller's id, see `emo classify`), a
/// bad line answered by `{"id", "line", "error"}` under `--skip-bad-rows`.
/// Spark reads the lines as a string column and `from_json` turns `vector`
/// into an array column.
fn stream(args: &EmbedArgs) -> Result<()> {
    let Some(path) = &args.input.input else {
        return Err(crate::input_error!(
            "--out - and .jsonl output stream an --input file or standard input, not a named dataset"
        ));
    };
    let spec = args.input.table.spec(false).with_ids(args.id_col.as_ref());
    let mut bad = crate::data::BadRows::skipping(args.input.table.skip_bad_rows);
    let records = crate::data::table::RowReader::open(path, &spec, &mut bad)?.records();
    let encoder = load_encoder(&args.encoder)?;
    let mut embedder = Embedder::new(
        &encoder,
        &crate::embed::EmbedOptions {
            progress: false,
            ..embed_options(&args.encoder.run, args.encoder.cache.folder())
        },
    )?;
    let mut sink = crate::stream::Sink::open(args.out.as_deref())?;
    let mut total = 0usize;
    for chunk in crate::stream::chunks(records, STREAM_CHUNK) {
        let chunk = chunk?;
        let texts: Vec<String> = chunk
            .iter()
            .filter_map(Record::row)
            .map(|row| row.text.clone())
            .collect();
        let m = if texts.is_empty() {
            None
        } else {
            Some(embedder.embed(&texts)?.0)
        };
        let mut next = 0usize;
        for r in &chunk {
            let line = match r {
                Record::Row(row) => {
                    let m = m.as_ref().expect("embedded above");
                    let v = &m.data[next * m.cols..(next + 1) * m.cols];
                    next += 1;
                    // f32's Display is its shortest round-tripping decimal: half
                    // the bytes of serde_json's f64 digits, the same floats back.
                    let numbers: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                    format!(
                        "{{\"id\":{},\"vector\":[{}]}}",
                        serde_json::Value::String(row.id_or_line()),
                        numbers.join(",")
                    )
                }
                Record::Bad { line, id, reason } => {
                    let id = crate::data::table::id_or_line(id.as_deref(), *line);
                    crate::stream::error_record(*line, &id, reason).to_string()
                }
            };
            writeln!(sink.w, "{line}")?;
        }
        sink.w.flush()?;
        total += chunk.len();
    }
    drop(embedder);
    if let Some(path) = sink.finish()? {
        eprintln!("emo: {total} vectors written to {}", path.display());
    }
    for line in bad.summary() {
        eprintln!("emo: {line}");
    }
    Ok(())
}

pub fn run(args: &EmbedArgs) -> Result<()> {
    if streams(args.out.as_deref()) {
        return stream(args);
    }
    let dataset = load_input(&args.input)?;
    let encoder = load_encoder(&args.encoder)?;
    let named = args.input.dataset.is_some();
    let dim = encoder.identity().dim;
    let count: usize = dataset.splits.iter().map(|(_, s)| s.len()).sum();
    let unique = {
        let mut seen = std::collections::HashSet::with_capacity(count);
        for (_, s) in &dataset.splits {
            for t in &s.texts {
                seen.insert(text_key(t));
            }
        }
        seen.len()
    };

    // Vectors of another precision get their own default file: a bf16 run
    // must not silently replace the fp32 vectors a later comparison needs.
    let out = args.out.clone().unwrap_or_else(|| {
        let suffix = match encoder.precision() {
            Precision::Fp32 => String::new(),
            p => format!("-{}", p.name()),
        };
        PathBuf::from("reports")
            .join("embeddings")
            .join(format!("{}{suffix}.safetensors", dataset.name))
    });
    let mut file = StreamingSafetensors::new(&out)?;

    // All splits through one embedder: one progress bar, one cache.
    let mut embedder = Embedder::new(
        &encoder,
        &embed_options(&args.encoder.run, args.encoder.cache.folder()),
    )?;
    embedder.expect(count);
    let mut stats = EmbedStats {
        texts: count,
        unique,
        ..EmbedStats::default()
    };
    let mut infos = Vec::new();
    for (split, s) in &dataset.splits {
        let prefix = if named {
            format!("{split}.")
        } else {
            String::new()
        };
        let emb_name = format!("{prefix}embeddings");
        file.begin(&emb_name, Dtype::F32, vec![s.len(), dim])?;
        for chunk in s.texts.chunks(CHUNK) {
            let (m, st) = embedder.embed(chunk)?;
            stats.cache_hits += st.cache_hits;
            stats.computed += st.computed;
            stats.seconds += st.seconds;
            file.write(
                &m.data
                    .iter()
                    .flat_map(|f| f.to_le_bytes())
                    .collect::<Vec<u8>>(),
            )?;
        }
        let labels = if s.labels.is_empty() {
            None
        } else {
            let name = format!("{prefix}labels");
            file.begin(&name, Dtype::I64, vec![s.len()])?;
            file.write(
                &s.labels
                    .iter()
                    .flat_map(|&y| (y as i64).to_le_bytes())
                    .collect::<Vec<u8>>(),
            )?;
            Some(name)
        };
        infos.push(SplitInfo {
            name: if named {
                split.to_string()
            } else {
                "all".into()
            },
            count: s.len(),
            embeddings: emb_name,
            labels,
        });
    }
    drop(embedder);

    let sidecar = Sidecar {
        format: "emo-embeddings/1",
        emo_version: env!("CARGO_PKG_VERSION"),
        source: match (&args.input.dataset, &args.input.input) {
            (Some(d), _) => format!("dataset:{d}"),
            (_, Some(p)) => p.display().to_string(),
            _ => unreachable!("clap requires one"),
        },
        splits: infos,
        classes: &dataset.classes,
        encoder: encoder.identity(),
        model_dir: encoder.dir().display().to_string(),
        device: device_name(encoder.device()),
        precision: encoder.precision().name(),
        dim,
        count,
        stats: stats.clone(),
    };
    let sidecar_json = serde_json::to_string_pretty(&sidecar)?;
    file.finish(&sidecar_json)?;
    let sidecar_path = out.with_extension("json");
    crate::atomic::write(&sidecar_path, format!("{sidecar_json}\n").as_bytes())?;

    let splits: Vec<String> = sidecar
        .splits
        .iter()
        .map(|s| format!("{} {}", s.name, s.count))
        .collect();
    println!(
        "wrote {} ({count} texts x {dim}: {}) and {}",
        out.display(),
        splits.join(", "),
        sidecar_path.display()
    );
    println!(
        "encoder {} on {}: {} cache hits, {} computed ({} unique texts) in {:.1} s",
        encoder.identity().name,
        sidecar.device,
        stats.cache_hits,
        stats.computed,
        stats.unique,
        stats.seconds
    );
    Ok(())
}

/// Writes a safetensors file whose tensors arrive piece by piece, so that no
/// tensor is ever whole in memory. The data goes to a temporary file first; on
/// [`finish`](Self::finish) the header (which needs every size) is written to a
/// second temporary file, the data copied after it, and that file renamed over
/// the destination: an interrupted run leaves no half-written output.
struct StreamingSafetensors {
    path: PathBuf,
    data: std::io::BufWriter<tempfile::NamedTempFile>,
    tensors: Vec<Entry>,
    written: usize,
}

/// One tensor of a [`StreamingSafetensors`] file.
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    /// Byte range in the data written so far.
    range: (usize, usize),
}

impl StreamingSafetensors {
    fn new(path: &Path) -> Result<StreamingSafetensors> {
        let data = tempfile::Builder::new()
            .prefix(".emo-")
            .tempfile_in(crate::atomic::parent_dir(path)?)
            .map_err(|e| crate::input_error!("{}: cannot write here: {e}", path.display()))?;
        Ok(StreamingSafetensors {
            path: path.to_path_buf(),
            data: std::io::BufWriter::with_capacity(1 << 20, data),
            tensors: Vec::new(),
            written: 0,
        })
    }

    /// Starts the next tensor; its bytes follow through [`write`](Self::write).
    fn begin(&mut self, name: &str, dtype: Dtype, shape: Vec<usize>) -> Result<()> {
        self.check_last()?;
        self.tensors.push(Entry {
            name: name.to_string(),
            dtype,
            shape,
            range: (self.written, self.written),
        });
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.data
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.written += bytes.len();
        self.tensors.last_mut().expect("begin first").range.1 = self.written;
        Ok(())
    }

    /// The last tensor got exactly as many bytes as its shape says.
    fn check_last(&self) -> Result<()> {
        if let Some(t) = self.tensors.last() {
            let want = t.shape.iter().product::<usize>() * t.dtype.size();
            let got = t.range.1 - t.range.0;
            anyhow::ensure!(got == want, "tensor {}: {got} bytes for {want}", t.name);
        }
        Ok(())
    }

    fn finish(self, sidecar: &str) -> Result<()> {
        self.check_last()?;
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), serde_json::json!({ "emo": sidecar }));
        for t in &self.tensors {
            header.insert(
                t.name.clone(),
                serde_json::json!({
                    "dtype": dtype_name(t.dtype),
                    "shape": t.shape,
                    "data_offsets": [t.range.0, t.range.1],
                }),
            );
        }
        let mut header = serde_json::to_vec(&header)?;
        // The format pads the header with spaces so that the data starts 8-aligned.
        while header.len() % 8 != 0 {
            header.push(b' ');
        }
        let mut data = self
            .data
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        data.as_file_mut()
            .flush()
            .and_then(|_| data.as_file_mut().seek(std::io::SeekFrom::Start(0)))
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        crate::atomic::write_with(&self.path, |w| {
            w.write_all(&(header.len() as u64).to_le_bytes())?;
            w.write_all(&header)?;
            std::io::copy(data.as_file_mut(), w)?;
            Ok(())
        })
    }
}

fn dtype_name(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::F32 => "F32",
        Dtype::I64 => "I64",
        other => unreachable!("emo writes no {other:?} tensors"),
    }
}
