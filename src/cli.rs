//! The command line: clap definitions only. Each subcommand's arguments are one
//! struct that `main.rs` hands to the matching function in [`crate::commands`].

use crate::data::table::{Column, Format};
use crate::embed::DeviceChoice;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "emo",
    version,
    about = "Text-emotion classification on long-tailed data: frozen transformer embeddings, rebalanced linear heads",
    long_about = "Text-emotion classification on long-tailed data.\n\n\
        Texts are embedded by a frozen sentence-transformers encoder (all-MiniLM-L6-v2 by default), \
        on the GPU when there is one. Errors in the input (a bad file, row or flag) exit with code 2 \
        and name the file and line; other failures exit with code 1."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Embed a named dataset or a file of texts with the frozen encoder
    Embed(EmbedArgs),
}

/// Where texts come from: a named dataset or the user's file.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// A named dataset with its official train/validation/test split:
    /// goemotions (28 emotions, single-label rows), goemotions-ekman (7 classes), carer (6)
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    pub dataset: Option<String>,

    /// A file of texts: .csv, .tsv, .jsonl (one JSON object a line) or .txt (one text a line)
    #[arg(long, short = 'i')]
    pub input: Option<PathBuf>,

    /// Format of --input when its extension does not tell
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Column (CSV/TSV header name or 0-based index) or JSONL field holding the text
    #[arg(long, default_value = "text")]
    pub text_col: Column,

    /// Column or JSONL field holding the label; omit to read texts only
    #[arg(long)]
    pub label_col: Option<Column>,

    /// CSV/TSV: the first row is data, not column names (choose columns by index)
    #[arg(long)]
    pub no_header: bool,

    /// Skip malformed rows (reported on stderr with a count) instead of stopping at the first
    #[arg(long)]
    pub skip_bad_rows: bool,
}

/// The encoder and how to run it.
#[derive(Args, Debug, Clone)]
pub struct EncoderArgs {
    /// A sentence-transformers folder with model.safetensors (BERT family)
    /// [default: the installed all-MiniLM-L6-v2]
    #[arg(long)]
    pub model: Option<PathBuf>,

    /// Where to run the encoder: auto = CUDA when available, else CPU
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,

    /// Texts per forward pass
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub batch_size: u64,

    /// CPU threads for libtorch [default: libtorch's choice, one per core]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,

    /// Embedding cache folder [default: .deps/cache, or $EMO_HOME/cache]
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,

    /// Compute every vector afresh and store nothing in the cache
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Args, Debug, Clone)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub encoder: EncoderArgs,

    /// Output safetensors file (a JSON sidecar is written beside it)
    /// [default: reports/embeddings/<dataset or file stem>.safetensors]
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}
