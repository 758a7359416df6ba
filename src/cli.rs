//! The command line: clap definitions only. Each subcommand's arguments are one
//! struct that `main.rs` hands to the matching function in [`crate::commands`].

use crate::data::table::{Column, Format, LabelMode, TableSpec};
use crate::embed::DeviceChoice;
use crate::train::TrainConfig;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
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

/// The parsed command line. A flag clap refuses (a bad value, an unknown flag)
/// is one line and exit 2, like every other problem the user can fix; help and
/// version print as clap prints them.
pub fn parse() -> Cli {
    use clap::error::ErrorKind;
    let (argv, warnings) = upgrade_argv(std::env::args_os().collect());
    for line in &warnings {
        eprintln!("{line}");
    }
    match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            e.exit()
        }
        Err(e) => {
            // clap's first paragraph says what is wrong (with the missing flags on
            // the lines under it); the usage and tips after it are not the error.
            let text = e.render().to_string();
            let said: Vec<&str> = text
                .lines()
                .map(str::trim)
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty())
                .collect();
            eprintln!("emo: {}", said.join(" "));
            std::process::exit(2);
        }
    }
}

/// Spellings retired when every command took one vocabulary (`--input-format`
/// and `--output-format`, `-o/--out`, `--encoder` for the encoder and `--model`
/// for a saved model, `-i/--input` for the file read): (subcommand, old, new).
/// Scripts written before keep working, with a line saying what to write now;
/// clap never sees the old spellings, so `--help` shows only the new ones.
pub const DEPRECATED: &[(&str, &str, &str)] = &[
    ("embed", "format", "input-format"),
    ("compare-sampling", "format", "input-format"),
    ("train", "format", "input-format"),
    ("evaluate", "format", "input-format"),
    ("classify", "format", "output-format"),
    ("classify", "output", "out"),
    ("embed", "model", "encoder"),
    ("compare-sampling", "model", "encoder"),
    ("train", "model", "encoder"),
    ("evaluate", "data", "input"),
];

/// `argv` with every [`DEPRECATED`] spelling (`--old` or `--old=value`, before a
/// bare `--`) replaced by its new one, and one warning line per old spelling used.
pub fn upgrade_argv(mut argv: Vec<OsString>) -> (Vec<OsString>, Vec<String>) {
    let mut warnings = Vec::new();
    let Some(sub) = argv.get(1).and_then(|a| a.to_str()).map(str::to_string) else {
        return (argv, warnings);
    };
    for arg in argv.iter_mut().skip(2) {
        let Some(flag) = arg.to_str().and_then(|a| a.strip_prefix("--")) else {
            continue;
        };
        if flag.is_empty() {
            break;
        }
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag, None),
        };
        let Some(&(_, old, new)) = DEPRECATED.iter().find(|(s, o, _)| *s == sub && *o == name)
        else {
            continue;
        };
        let line = format!("emo: warning: --{old} is deprecated for emo {sub}; use --{new}");
        if !warnings.contains(&line) {
            warnings.push(line);
        }
        *arg = match value {
            Some(v) => format!("--{new}={v}"),
            None => format!("--{new}"),
        }
        .into();
    }
    (argv, warnings)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Embed a named dataset or a file of texts with the frozen encoder
    Embed(Box<EmbedArgs>),
    /// Train the stage-1 head and every rebalancing method, and compare them on the test split
    CompareSampling(Box<CompareArgs>),
    /// Compare frozen feature sets (encoders, layers) by the best method each gives
    CompareFeatures(Box<FeaturesArgs>),
    /// Train one method and save it as a model folder
    Train(Box<TrainCmdArgs>),
    /// Label texts (arguments, a file or standard input) with a saved model
    Classify(Box<ClassifyArgs>),
    /// Evaluate a saved model on labelled data and write a report
    Evaluate(Box<EvaluateArgs>),
    /// Estimate how many texts of a corpus carry each emotion, with intervals
    /// (per group with --by)
    Quantify(Box<QuantifyArgs>),
    /// Serve a saved model over HTTP: classify and embed texts, with dynamic batching
    Serve(Box<ServeArgs>),
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

    #[command(flatten)]
    pub table: TableArgs,
}

/// How to read the user's files.
#[derive(Args, Debug, Clone)]
pub struct TableArgs {
    /// Format of the input files when the extension does not tell
    #[arg(long = "input-format", value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Column (CSV/TSV header name or 0-based index) or JSONL field holding the text
    #[arg(long, default_value = "text")]
    pub text_col: Column,

    /// Column or JSONL field holding the label
    /// [default: `label` where labels are needed; `emo embed` reads texts only unless given]
    #[arg(long)]
    pub label_col: Option<Column>,

    /// CSV/TSV: the first row is data, not column names (choose columns by index)
    #[arg(long)]
    pub no_header: bool,

    /// Texts carry a set of emotions: the label field holds several, split on
    /// --label-sep (JSONL: an array of strings); an empty field is a text with no emotion
    #[arg(long)]
    pub multi_label: bool,

    /// With --multi-label: what separates the labels of one CSV/TSV field
    #[arg(long, default_value = ",", requires = "multi_label",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub label_sep: String,

    /// Skip malformed rows (reported on stderr with a count) instead of stopping at the first
    #[arg(long)]
    pub skip_bad_rows: bool,
}

impl TableArgs {
    /// The reading spec; `needs_labels` makes the label column `label` unless one is given.
    pub fn spec(&self, needs_labels: bool) -> TableSpec {
        let default_label = needs_labels.then(|| Column::Name("label".into()));
        TableSpec {
            format: self.format,
            text_col: self.text_col.clone(),
            label_col: self.label_col.clone().or(default_label),
            labels: LabelMode {
                multi: self.multi_label,
                sep: self.label_sep.clone(),
            },
            has_header: !self.no_header,
            id_col: None,
            id_required: false,
            group_col: None,
        }
    }
}

/// How to run the encoder.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Where to embed and train: auto (the first GPU when CUDA is usable, else the CPU),
    /// cpu, cuda or cuda:N
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,

    /// Texts per forward pass
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub batch_size: u64,

    /// CPU threads for libtorch [default: libtorch's choice, one per core]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,

    #[arg(long, value_enum, default_value = "fp32", help = PRECISION_HELP, hide_possible_values = true)]
    pub precision: crate::embed::precision::Precision,

    /// A prompt of the encoder folder's config_sentence_transformers.json, by name (e5's
    /// `query`), put before every text as sentence-transformers' encode(prompt_name=…)
    /// does; "" for none. Part of the vectors' identity: cache and saved models keep
    /// prompts apart [default: the folder's default_prompt_name, else none; classify
    /// and evaluate: the prompt the model was trained with]
    #[arg(long, value_name = "NAME")]
    pub prompt: Option<String>,
}

/// `--precision`'s help on every command: what each choice costs and buys is
/// measured in docs/performance.md, too long for `--help`.
const PRECISION_HELP: &str =
    "Encoder arithmetic: fp32, bf16, fp16 (CUDA only) or auto; see docs/performance.md";

/// The encoder, how to run it, and the embedding cache (on by default).
#[derive(Args, Debug, Clone)]
pub struct EncoderArgs {
    #[arg(long, help = encoder_help())]
    pub encoder: Option<PathBuf>,

    /// Which hidden states make the vectors, each pooled as the encoder's folder
    /// says: last; one layer (-3; 0 is the embedding layer); mean:A..B; concat:A..B
    /// or concat:A,B. docs/encoders.md compares them.
    #[arg(
        long,
        default_value = "last",
        value_name = "SPEC",
        allow_negative_numbers = true
    )]
    pub layers: crate::embed::LayerSpec,

    /// Pools token vectors this way instead of as the encoder's folder says: mean, cls,
    /// max, mean-sqrt-len, weighted-mean or last-token
    #[arg(long, value_name = "MODE")]
    pub pooling: Option<crate::embed::Pooling>,

    /// How vectors are kept once computed (cache, heads, files): fp32, or fp16/bf16 at
    /// half the cache's size, rounded as they leave the encoder so that a cached vector
    /// equals a fresh one [default: fp16 for a concatenation of layers (measured: no loss
    /// of macro-F1, docs/encoders.md), fp32 otherwise]
    #[arg(long, value_enum, value_name = "PRECISION")]
    pub vector_precision: Option<crate::embed::VectorPrecision>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub cache: CacheArgs,
}

/// `--encoder`'s help, naming what this installation has.
fn encoder_help() -> String {
    format!(
        "A sentence-transformers folder (model_type bert, distilbert, mpnet, roberta or \
         xlm-roberta), the name of an installed encoder (installed: {}), or a Hugging Face \
         Hub id ORG/NAME[@REVISION], from the shared cache or downloaded into it \
         (HF_HUB_OFFLINE=1: cache only) [default: all-MiniLM-L6-v2]",
        match crate::paths::installed_encoders() {
            v if v.is_empty() => "none; run make setup".to_string(),
            v => v.join(", "),
        }
    )
}

/// The embedding cache, on unless `--no-cache`.
#[derive(Args, Debug, Clone)]
pub struct CacheArgs {
    /// Embedding cache folder [default: .deps/cache, or $EMO_HOME/cache]
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,

    /// Compute every vector afresh and store nothing in the cache
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheArgs {
    /// The cache folder, or `None` with `--no-cache`.
    pub fn folder(&self) -> Option<PathBuf> {
        (!self.no_cache).then(|| self.cache_dir.clone().unwrap_or_else(crate::paths::cache))
    }
}

/// The paper's shot groups, by training count.
#[derive(Args, Debug, Clone)]
pub struct GroupArgs {
    /// Many-shot classes have more training examples than this
    #[arg(long, default_value_t = crate::metrics::GroupThresholds::default().many)]
    pub many_shot: usize,

    /// Few-shot classes have fewer training examples than this
    #[arg(long, default_value_t = crate::metrics::GroupThresholds::default().few)]
    pub few_shot: usize,
}

impl GroupArgs {
    pub fn thresholds(&self) -> Result<crate::metrics::GroupThresholds, crate::error::InputError> {
        if self.few_shot > self.many_shot {
            return Err(crate::error::InputError(format!(
                "--few-shot ({}) must not exceed --many-shot ({})",
                self.few_shot, self.many_shot
            )));
        }
        Ok(crate::metrics::GroupThresholds {
            many: self.many_shot,
            few: self.few_shot,
        })
    }
}

#[derive(Args, Debug, Clone)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub encoder: EncoderArgs,

    /// Output: a safetensors file (a JSON sidecar is written beside it), or `-`
    /// (standard output) or a .jsonl file for one JSON line of vector per input
    /// line, streamed [default: reports/embeddings/<dataset or file stem>.safetensors]
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,

    /// Column or JSONL field holding each row's id, carried to JSONL output
    /// [default: `id` where the input has it, else the line number]
    #[arg(long)]
    pub id_col: Option<Column>,
}

/// Labelled data for a study: a named dataset, or the user's files.
#[derive(Args, Debug, Clone)]
pub struct StudyDataArgs {
    /// A named dataset with its splits: goemotions, goemotions-ekman, carer (single-label);
    /// goemotions-multi, goemotions-ekman-multi, and XED's xed-en, xed-fi, xed-de, xed-es,
    /// xed-fr (every text, its set of labels; XED split 80/10/10 by emo, fixed)
    #[arg(long, conflicts_with_all = ["train", "valid", "test"], required_unless_present = "train")]
    pub dataset: Option<String>,

    /// Training file (.csv, .tsv, .jsonl)
    #[arg(long)]
    pub train: Option<PathBuf>,

    /// Validation file [default: a stratified --valid-fraction of --train]
    #[arg(long, requires = "train")]
    pub valid: Option<PathBuf>,

    /// Test file [default: with --split, a stratified part of --train]
    #[arg(long, requires = "train")]
    pub test: Option<PathBuf>,

    /// With --train alone: stratified train,validation,test fractions, e.g. 0.8,0.1,0.1
    #[arg(long, requires = "train", conflicts_with_all = ["test", "valid"], value_parser = parse_fractions)]
    pub split: Option<Fractions>,

    /// Fraction of --train held out (stratified) for validation when there is no --valid
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,

    #[command(flatten)]
    pub table: TableArgs,
}

/// Three split fractions, parsed from `0.8,0.1,0.1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fractions(pub Vec<f64>);

/// A list of candidate values, parsed from `start:stop:step` or `a,b,c`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid(pub Vec<f64>);

fn parse_fractions(s: &str) -> Result<Fractions, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>().map_err(|e| format!("'{p}': {e}")))
        .collect::<Result<_, _>>()?;
    let sum: f64 = v.iter().sum();
    if v.len() != 3 || v.iter().any(|f| !(*f > 0.0 && *f < 1.0)) || (sum - 1.0).abs() > 1e-6 {
        return Err("expected three fractions in (0, 1) summing to 1, e.g. 0.8,0.1,0.1".into());
    }
    Ok(Fractions(v))
}

/// The most values a grid may hold: every value is a fit or an evaluation on
/// validation, and far fewer already resolve any setting these grids choose.
pub const MAX_GRID: usize = 1000;

/// A τ grid: `start:stop:step` (inclusive) or a comma list.
fn parse_grid(s: &str) -> Result<Grid, String> {
    let num = |p: &str| p.trim().parse::<f64>().map_err(|e| format!("'{p}': {e}"));
    let grid: Vec<f64> = if let [a, b, step] = s.split(':').collect::<Vec<_>>()[..] {
        let (a, b, step) = (num(a)?, num(b)?, num(step)?);
        if step.is_nan() || step <= 0.0 || b < a {
            return Err("start:stop:step needs stop ≥ start and step > 0".into());
        }
        let steps = ((b - a) / step + 1e-9).floor();
        // Checked before anything is allocated: `0:1e15:1` would ask for 10¹⁵ values.
        if steps.is_nan() || steps >= MAX_GRID as f64 {
            return Err(format!(
                "start:stop:step gives {} values; a grid takes at most {MAX_GRID}",
                if steps.is_finite() {
                    format!("{}", steps + 1.0)
                } else {
                    "unboundedly many".into()
                }
            ));
        }
        let n = steps as usize;
        (0..=n)
            .map(|i| ((a + i as f64 * step) * 1e9).round() / 1e9)
            .collect()
    } else {
        s.split(',').map(num).collect::<Result<_, _>>()?
    };
    if grid.is_empty() || grid.iter().any(|v| !v.is_finite()) {
        return Err("the grid needs at least one finite value".into());
    }
    if grid.len() > MAX_GRID {
        return Err(format!(
            "the grid has {} values; a grid takes at most {MAX_GRID}",
            grid.len()
        ));
    }
    Ok(Grid(grid))
}

/// Head-training knobs; defaults come from `TrainConfig::default()`, the one
/// place they are defined.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Epochs of the stage-1 head and of heads trained from scratch
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,

    /// Epochs of stage-2 retraining (cRT, LWS)
    #[arg(long, default_value_t = TrainConfig::default().stage2_epochs)]
    pub stage2_epochs: usize,

    /// Fewest SGD steps of any head: small data gets extra epochs up to this
    #[arg(long, default_value_t = TrainConfig::default().min_steps)]
    pub min_steps: usize,

    /// Peak SGD learning rate (cosine schedule), relative to the mean squared feature norm
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    pub lr: f64,

    /// SGD momentum
    #[arg(long, default_value_t = TrainConfig::default().momentum)]
    pub momentum: f64,

    /// Examples per SGD step when training heads
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub head_batch_size: usize,

    /// L2 penalty on the head's weights (the paper's 5e-4 collapses heads on normalised embeddings)
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    pub weight_decay: f64,

    /// Class-balanced sampling: consecutive examples drawn per visited class
    #[arg(long, default_value_t = TrainConfig::default().k)]
    pub k: usize,

    /// Power sampling exponent of `sqrt`: p_j ∝ n_j^q
    #[arg(long, default_value_t = TrainConfig::default().q)]
    pub q: f64,

    /// β of effective-number re-weighting (reweight-en)
    #[arg(long, default_value_t = TrainConfig::default().beta)]
    pub beta: f64,

    /// τ candidates for tau and logit-adjust, chosen on validation macro-F1: start:stop:step or a,b,c
    #[arg(long, default_value = "0:2:0.1", value_parser = parse_grid)]
    pub tau_grid: Grid,

    /// L2 strength α of the linfa logistic regression (scikit-learn's 1/C)
    #[arg(long, default_value_t = TrainConfig::default().linfa_alpha)]
    pub linfa_alpha: f64,

    /// Iteration cap of linfa's L-BFGS
    #[arg(long, default_value_t = TrainConfig::default().linfa_max_iterations)]
    pub linfa_max_iterations: u64,

    /// C candidates (inverse L2 strength, as scikit-learn's) of logreg, logreg-balanced and
    /// ovr-logreg(-balanced), chosen on validation macro-F1: start:stop:step or a,b,c
    /// [default: 0.1,1,10,100; multi-label data: 0.5,1,2,4]
    #[arg(long, value_parser = parse_grid)]
    pub logreg_c_grid: Option<Grid>,

    /// Convergence of logreg: largest gradient entry of the objective divided by C·n
    #[arg(long, default_value_t = TrainConfig::default().logreg_tolerance)]
    pub logreg_tolerance: f64,

    /// Iteration cap of logreg's L-BFGS (a fit that reaches it is reported as not converged)
    #[arg(long, default_value_t = TrainConfig::default().logreg_max_iterations)]
    pub logreg_max_iterations: usize,

    /// Settings each SGD-trained head tries, chosen on validation by --select:
    /// none (the settings above), quick (learning rate ×{1,¼,4}, epochs ×{1,2}),
    /// full (learning rate ×{1,⅛,¼,½,2,4}, epochs ×{1,½,2,4}, weight decay
    /// {given,1e-5,1e-4}, q {given,0.25,0.75}, β {given,0.99,0.9999}; slow)
    #[arg(long, value_enum, default_value = "quick")]
    pub tune: crate::candidate::Tune,

    /// The validation statistic that chooses every hyper-parameter and the
    /// recommended method (few-recall: mean recall of the rarest third of the
    /// classes). Test data never chooses.
    #[arg(long, value_enum, default_value = "macro-f1")]
    pub select: crate::metrics::Stat,
}

impl TrainArgs {
    /// The training config for data of `task`: the flags, and where a flag was
    /// not given the default for that kind of data (the C grids differ; see
    /// [`TrainConfig::logreg_c_grid_for`]).
    pub fn config(&self, task: crate::data::Task) -> Result<TrainConfig, crate::error::InputError> {
        let logreg_c_grid = match &self.logreg_c_grid {
            Some(g) => g.0.clone(),
            None => TrainConfig::logreg_c_grid_for(task),
        };
        let bad = |m: &str| Err(crate::error::InputError(m.to_string()));
        if self.epochs == 0 || self.stage2_epochs == 0 {
            return bad("--epochs and --stage2-epochs must be at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("--lr must be a positive number");
        }
        if self.head_batch_size == 0 || self.k == 0 {
            return bad("--head-batch-size and --k must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.q) {
            return bad("--q must be in [0, 1]");
        }
        if !(self.beta > 0.0 && self.beta < 1.0) {
            return bad("--beta must be in (0, 1)");
        }
        if !(self.weight_decay >= 0.0
            && self.linfa_alpha >= 0.0
            && (0.0..1.0).contains(&self.momentum))
        {
            return bad("--weight-decay and --linfa-alpha must be ≥ 0, --momentum in [0, 1)");
        }
        if logreg_c_grid.iter().any(|&c| c <= 0.0)
            || self.logreg_tolerance.is_nan()
            || self.logreg_tolerance <= 0.0
            || self.logreg_max_iterations == 0
        {
            return bad("--logreg-c-grid values and --logreg-tolerance must be > 0, --logreg-max-iterations ≥ 1");
        }
        Ok(TrainConfig {
            epochs: self.epochs,
            stage2_epochs: self.stage2_epochs,
            min_steps: self.min_steps,
            lr: self.lr,
            momentum: self.momentum,
            batch_size: self.head_batch_size,
            weight_decay: self.weight_decay,
            k: self.k,
            q: self.q,
            beta: self.beta,
            tau_grid: self.tau_grid.0.clone(),
            linfa_alpha: self.linfa_alpha,
            linfa_max_iterations: self.linfa_max_iterations,
            logreg_c_grid,
            logreg_tolerance: self.logreg_tolerance,
            logreg_max_iterations: self.logreg_max_iterations,
            tune: self.tune,
            select: self.select,
        })
    }
}

/// compare-features: compare-sampling's options, and the feature sets.
#[derive(Args, Debug, Clone)]
pub struct FeaturesArgs {
    /// Feature sets to compare, ENCODER[:LAYERS] separated by commas, the first the one
    /// the others are measured against: e.g. minilm:last,minilm:mean:-4..-1,mpnet:last.
    /// ENCODER: an installed encoder (or a unique part of its name) or a folder; LAYERS
    /// as --layers takes them (default last)
    #[arg(long, required = true, value_name = "LIST", allow_hyphen_values = true)]
    pub features: String,

    #[command(flatten)]
    pub study: CompareArgs,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    #[command(flatten)]
    pub data: StudyDataArgs,

    #[command(flatten)]
    pub encoder: EncoderArgs,

    #[command(flatten)]
    pub train: TrainArgs,

    /// Methods to compare, comma-separated, or `all`. Single-label data: the default
    /// leaves out the slow `linfa` reference (see docs/methods.md). Multi-label data:
    /// the multi-label methods, all by default
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<String>>,

    /// Multi-label data: a text no label passes gets its most probable label
    /// instead of none ("no emotion" is otherwise a valid answer)
    #[arg(long)]
    pub at_least_one: bool,

    /// Seed of every random choice (splits, profile, sampling, initialisation)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Repeat every stochastic method with seeds seed, seed+1, …; report mean ± s.d.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub seeds: u32,

    /// Subsample the training split to a long-tailed profile: counts from the most to the
    /// least frequent class (e.g. 230,210,150,60,60,50,12) or exp:FACTOR (imbalance FACTOR)
    #[arg(long)]
    pub train_profile: Option<crate::data::profile::Profile>,

    /// With --train-profile: draw this many training subsamples (seeds seed, seed+1, …),
    /// run every method on each, and report mean ± s.d. over subsamples, the difference
    /// from ib with its 95% interval over subsamples, and how many subsamples each won
    #[arg(long, default_value_t = 1, requires = "train_profile",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub subsamples: u32,

    /// With --train-profile: cut validation down too, once (seed --seed), to these
    /// counts, exp:FACTOR, or `proportional` (each class kept in the proportion the
    /// training profile keeps of its training examples)
    #[arg(long, requires = "train_profile")]
    pub valid_profile: Option<crate::data::profile::ValidProfile>,

    /// Also measure quantification under shift: draw this many samples of the test
    /// split whose label mix is far from training's (single-label: uniform over the
    /// simplex; multi-label: each label's prevalence uniform in 0.05–0.95) and report
    /// each estimator's error of the shares per method (0: not measured)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub shift_samples: usize,

    #[command(flatten)]
    pub groups: GroupArgs,

    /// Bootstrap resamples of the test rows for the 95% confidence intervals (0: none)
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,

    /// Report folder [default: reports/<dataset>-<timestamp>]
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    fn upgrade(args: &[&str]) -> (Vec<String>, Vec<String>) {
        let argv = std::iter::once("emo").chain(args.iter().copied());
        let (argv, warnings) = upgrade_argv(argv.map(OsString::from).collect());
        let argv = argv.into_iter().skip(1).map(|a| a.into_string().unwrap());
        (argv.collect(), warnings)
    }

    #[test]
    fn old_spellings_are_rewritten_with_one_warning_each() {
        let (argv, warnings) = upgrade(&[
            "classify",
            "--model",
            "m",
            "--format",
            "json",
            "--output=o.json",
            "--format=csv",
        ]);
        assert_eq!(
            argv,
            [
                "classify",
                "--model",
                "m",
                "--output-format",
                "json",
                "--out=o.json",
                "--output-format=csv"
            ]
        );
        assert_eq!(
            warnings,
            [
                "emo: warning: --format is deprecated for emo classify; use --output-format",
                "emo: warning: --output is deprecated for emo classify; use --out",
            ]
        );
        // The same old spelling means what its own command meant.
        let (argv, warnings) = upgrade(&["embed", "--format", "csv", "--model", "enc"]);
        assert_eq!(argv, ["embed", "--input-format", "csv", "--encoder", "enc"]);
        assert_eq!(warnings.len(), 2);
        let (argv, _) = upgrade(&["evaluate", "--model", "m", "--data", "d.csv"]);
        assert_eq!(argv, ["evaluate", "--model", "m", "--input", "d.csv"]);
    }

    #[test]
    fn only_whole_flags_before_a_bare_double_dash_are_rewritten() {
        for args in [
            &["classify", "--model", "m", "--", "--format", "--output"][..],
            &[
                "classify",
                "--formats",
                "--output-format",
                "json",
                "-o",
                "x",
                "format",
            ],
            &["serve", "--model", "m", "--format"],
            &["--format", "classify"],
            &["help", "--format"],
            &[],
        ] {
            let (argv, warnings) = upgrade(args);
            assert_eq!(argv, args, "{args:?}");
            assert!(warnings.is_empty(), "{args:?}");
        }
    }

    /// Every old spelling is free on its command (clap never knew it) and every
    /// new one is a flag there, so the rewrite can neither shadow nor dangle.
    #[test]
    fn deprecated_spellings_map_onto_real_flags() {
        let cli = Cli::command();
        for &(sub, old, new) in DEPRECATED {
            let cmd = cli.find_subcommand(sub).unwrap_or_else(|| panic!("{sub}"));
            let longs: Vec<&str> = cmd
                .get_arguments()
                .flat_map(|a| {
                    a.get_long()
                        .into_iter()
                        .chain(a.get_all_aliases().into_iter().flatten())
                })
                .collect();
            assert!(!longs.contains(&old), "{sub}: --{old} is still a flag");
            assert!(longs.contains(&new), "{sub}: no --{new}");
        }
    }

    #[test]
    fn grids_and_fractions() {
        assert_eq!(parse_grid("0:2:0.5").unwrap().0, [0.0, 0.5, 1.0, 1.5, 2.0]);
        assert_eq!(parse_grid("0:2:0.1").unwrap().0.len(), 21);
        assert_eq!(parse_grid("0.3,1").unwrap().0, [0.3, 1.0]);
        assert!(parse_grid("2:0:0.1").is_err());
        // Bounded before allocation, at the edge and far past it.
        assert_eq!(parse_grid("1:1000:1").unwrap().0.len(), MAX_GRID);
        for huge in ["0:1e15:1", "1:1001:1", "0:1e308:1e-308", "-1e308:1e308:1"] {
            let e = parse_grid(huge).unwrap_err();
            assert!(e.contains("at most 1000"), "{huge}: {e}");
        }
        let list = vec!["1"; MAX_GRID + 1].join(",");
        assert!(parse_grid(&list).unwrap_err().contains("at most 1000"));
        assert_eq!(parse_fractions("0.8,0.1,0.1").unwrap().0, [0.8, 0.1, 0.1]);
        assert!(parse_fractions("0.8,0.3,0.1").is_err());
    }
}

#[derive(Args, Debug, Clone)]
pub struct TrainCmdArgs {
    #[command(flatten)]
    pub data: StudyDataArgs,

    #[command(flatten)]
    pub encoder: EncoderArgs,

    #[command(flatten)]
    pub train: TrainArgs,

    /// The method to train (see docs/methods.md for the list) [default: ib; bce
    /// for multi-label data, which takes the multi-label methods only]
    #[arg(long, conflicts_with = "method_from")]
    pub method: Option<String>,

    /// Train the method a compare-sampling report recommends (its metrics.json or
    /// folder); the report must be of the same task (single- or multi-label) as the data
    #[arg(long)]
    pub method_from: Option<PathBuf>,

    /// Multi-label data: the saved model answers a text no label passes with its
    /// most probable label instead of none (`emo classify --at-least-one` overrides
    /// per run)
    #[arg(long)]
    pub at_least_one: bool,

    /// The map from the head's scores to the probabilities the model reports,
    /// fitted on validation: temperature (one number; never changes which
    /// emotion ranks first), platt (per label), isotonic (per label, no shape
    /// assumed; needs more validation data), none [default: temperature for
    /// single-label data, platt for multi-label]
    #[arg(long, value_enum)]
    pub calibration: Option<crate::calibration::Kind>,

    /// Seed of every random choice
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Model folder to write (head.safetensors + manifest.json)
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

/// Output formats of `emo classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people
    Table,
    /// One JSON array
    Json,
    /// One JSON object a line
    Jsonl,
    Csv,
    Tsv,
}

/// Unlabelled texts to answer, as classify and quantify read them: arguments,
/// a file, or standard input, with each row's id (and, for quantify, group).
#[derive(Args, Debug, Clone)]
pub struct TextsArgs {
    /// Texts (or use --input)
    #[arg(conflicts_with = "input")]
    pub texts: Vec<String>,

    /// File of texts: .txt (one a line), .csv, .tsv or .jsonl; `-` reads standard input
    #[arg(long, short = 'i')]
    pub input: Option<PathBuf>,

    /// Format of --input when its extension does not tell (standard input: txt)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<Format>,

    /// Column (CSV/TSV header name or 0-based index) or JSONL field holding the text
    #[arg(long, default_value = "text")]
    pub text_col: Column,

    /// Column or JSONL field holding each row's id, carried to the output
    /// [default: `id` where the input has it, else the line number]
    #[arg(long)]
    pub id_col: Option<Column>,

    /// CSV/TSV: the first row is data, not column names
    #[arg(long)]
    pub no_header: bool,

    /// Skip malformed rows (reported on stderr with a count) instead of stopping at the first
    #[arg(long)]
    pub skip_bad_rows: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ClassifyArgs {
    /// A model folder written by `emo train`
    #[arg(long)]
    pub model: PathBuf,

    #[command(flatten)]
    pub from: TextsArgs,

    /// How many most likely labels to give per text [default: 1]. Multi-label
    /// models answer with every label that passes its threshold whatever K is;
    /// --top-k K adds the K most probable labels with their probabilities and
    /// whether each passed (JSON `top`, CSV `label_k`/`probability_k`/`passed_k`)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub top_k: Option<u32>,

    /// Multi-label models: a text no label passes gets its most probable label
    /// instead of none [default: what the model was trained with]
    #[arg(long)]
    pub at_least_one: bool,

    /// Report the head's own probabilities (softmax or sigmoid of its scores)
    /// instead of the calibrated ones the model was saved with; the labels
    /// chosen are the same under the default calibration
    #[arg(long)]
    pub raw_probabilities: bool,

    /// Output format: table for people; json, jsonl, csv, tsv for pipelines
    #[arg(long, value_enum, default_value = "table", value_name = "FORMAT")]
    pub output_format: OutputFormat,

    /// Write to this file (atomically) instead of standard output
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub with: AnswerArgs,
}

/// Output formats of `emo quantify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SharesFormat {
    /// Aligned columns for people
    Table,
    /// One JSON document
    Json,
    Csv,
    Tsv,
    /// A Markdown table
    Markdown,
    /// What these texts add to each group's shares, one JSON line per group:
    /// for `--tallies` to add up with other parts' (Spark partitions)
    Tally,
}

#[derive(Args, Debug, Clone)]
pub struct QuantifyArgs {
    /// A model folder written by `emo train`
    #[arg(long)]
    pub model: PathBuf,

    #[command(flatten)]
    pub from: TextsArgs,

    /// How the shares are estimated from the model's outputs: cc (count the
    /// labels), pcc (mean probability), acc and pacc (cc and pcc corrected by
    /// validation's misclassification rates), sld (expectation-maximisation
    /// of the mix) [default: sld, see docs/quantify.md]
    #[arg(long, value_enum)]
    pub estimator: Option<crate::quantify::Method>,

    /// Column or JSONL field grouping the texts (a date, a source): shares per group
    #[arg(long, value_name = "COLUMN")]
    pub by: Option<Column>,

    /// Estimate from tallies (`--output-format tally` of parts of one corpus,
    /// one JSON object a line; `-`: standard input) instead of texts: each
    /// group's parts are added, then estimated once
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "texts", "by"])]
    pub tallies: Option<PathBuf>,

    /// Output format: table for people; json, csv, tsv, markdown for pipelines and documents;
    /// tally for parts of a corpus that `--tallies` adds up
    #[arg(long, value_enum, default_value = "table", value_name = "FORMAT")]
    pub output_format: SharesFormat,

    /// Write to this file (atomically) instead of standard output
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,

    /// Also draw the shares with their intervals into this PNG (per group with --by)
    #[arg(long, value_name = "PNG")]
    pub picture: Option<PathBuf>,

    /// Bootstrap replicates behind each 95% interval (0: none)
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,

    /// Seed of the bootstrap
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    #[command(flatten)]
    pub with: AnswerArgs,
}

/// How a command that answers texts with a saved model (classify, quantify)
/// runs its encoder.
#[derive(Args, Debug, Clone)]
pub struct AnswerArgs {
    /// The encoder folder, installed name or Hub id [default: the one recorded in the model; its identity is checked either way]
    #[arg(long)]
    pub encoder: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,

    /// Use (and fill) the embedding cache, off by default here: the texts these
    /// commands read are usually new, and a cache of them would only grow
    #[arg(long)]
    pub cache: bool,

    /// Embedding cache folder, as on the other commands; giving one turns the cache on
    /// [default: .deps/cache, or $EMO_HOME/cache]
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct EvaluateArgs {
    /// A model folder written by `emo train`
    #[arg(long)]
    pub model: PathBuf,

    /// A named dataset: its test split is evaluated
    #[arg(long, conflicts_with = "data", required_unless_present = "data")]
    pub dataset: Option<String>,

    /// A labelled file to evaluate (.csv, .tsv, .jsonl)
    #[arg(long = "input", short = 'i', value_name = "INPUT")]
    pub data: Option<PathBuf>,

    #[command(flatten)]
    pub table: TableArgs,

    /// The encoder folder, installed name or Hub id [default: the one recorded in the model; its identity is checked either way]
    #[arg(long)]
    pub encoder: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub cache: CacheArgs,

    #[command(flatten)]
    pub groups: GroupArgs,

    /// Bootstrap resamples of the rows for the 95% confidence intervals (0: none)
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,

    /// Seed of the bootstrap
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Report folder [default: reports/evaluate-<model name>-<timestamp>]
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// A model folder written by `emo train`
    #[arg(long)]
    pub model: PathBuf,

    /// Address to listen on (0.0.0.0 for every interface)
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on; 0 lets the system pick one (the address is said on stderr)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// The encoder folder, installed name or Hub id [default: the one recorded in the model; its identity is checked either way]
    #[arg(long)]
    pub encoder: Option<PathBuf>,

    /// Where to run the encoder: auto (the first GPU when CUDA is usable, else the CPU),
    /// cpu, cuda or cuda:N
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,

    /// CPU threads for libtorch [default: libtorch's choice, one per core]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,

    #[arg(long, value_enum, default_value = "fp32", help = PRECISION_HELP, hide_possible_values = true)]
    pub precision: crate::embed::precision::Precision,

    /// A prompt of the encoder folder, by name; "" for none [default: the prompt the model
    /// was trained with]
    #[arg(long, value_name = "NAME")]
    pub prompt: Option<String>,

    /// Tokens (after truncation, summed over the texts) one forward pass takes at most;
    /// a request with more is split across passes
    #[arg(long, default_value_t = 16_384, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batch_tokens: u64,

    /// How long the worker waits for more texts to fill a forward pass before running it
    #[arg(long, default_value_t = 5)]
    pub max_wait_ms: u64,

    /// Requests waiting for the worker at most; past that, 429 with Retry-After
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub queue: u64,

    /// Texts one request may carry at most (422 beyond)
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_texts: u64,

    /// Characters one text may have at most (422 naming the text beyond); the encoder
    /// reads only its first few hundred tokens anyway
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_text_chars: u64,

    /// Tokens (after truncation, summed over its texts) one request may carry at most
    /// (422 beyond): bounds how long one request holds the worker
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_request_tokens: u64,

    /// Largest request body in bytes (413 beyond)
    #[arg(long, default_value_t = 2 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub payload_limit: u64,

    /// Seconds a request may take from its first byte to its answer, reading a slow
    /// client's body included (408 beyond); also how long a connection may take to send
    /// a request's headers, or stay idle between requests, before it is closed
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,

    /// Seconds a connection may wait for its client to take any byte of an answer
    /// before it is closed
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout: u64,

    /// Seconds SIGTERM waits for open requests to be answered; then the connections
    /// left are cut (their number said) and the server exits 0
    #[arg(long, default_value_t = 30)]
    pub shutdown_timeout: u64,

    /// Open connections at most; past that, connections idle after an answer are
    /// closed, and new ones wait in the system's backlog until one closes
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Host names (comma-separated) the server answers; any other Host header gets
    /// 403 (guards a server on localhost against DNS rebinding) [default: any]
    #[arg(long, value_delimiter = ',', value_name = "HOSTS")]
    pub allowed_hosts: Option<Vec<String>>,

    /// Multi-label models: answer the most probable label when none passes its
    /// threshold, as `emo classify --at-least-one` [default: what the model was trained with]
    #[arg(long)]
    pub at_least_one: bool,
    /// Report the head's own probabilities (softmax or sigmoid of its scores)
    /// instead of the calibrated ones the model was saved with; the labels
    /// chosen are the same under the default calibration
    #[arg(long)]
    pub raw_probabilities: bool,
}

impl ServeArgs {
    /// The encoder flags as the shared loaders take them. `--batch-size` has no
    /// say here: the server sizes its forward passes by `--max-batch-tokens`.
    pub fn run_args(&self) -> RunArgs {
        RunArgs {
            device: self.device,
            batch_size: 64,
            threads: self.threads,
            precision: self.precision,
            prompt: self.prompt.clone(),
        }
    }
}
