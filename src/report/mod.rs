//! Reports: one writer per output file behind one small trait (as hyperfine's
//! exporters), fed one [`Study`]. The folder is built under a temporary name and
//! renamed when every writer has finished, so a failed run never leaves a
//! partial report where a complete one is expected.

pub mod analysis;
pub mod calibration;
mod confusion;
pub mod features;
mod format;
mod html;
mod metrics_json;
pub mod multilabel;
mod per_class;
mod plot;
pub(crate) mod predictions;
pub mod shares;
pub mod shift;
pub mod subsamples;
mod summary;
mod tradeoff;
pub mod verdict;
mod weight_norms;

use crate::embed::EncoderIdentity;
use crate::features::Targets;
use crate::metrics::{group_scores, GroupScore, GroupThresholds, Metrics, Stat};
use crate::train::TrainConfig;
use crate::uncertainty::Interval;
use analysis::Analysis;
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

/// One fit of one method (one seed, on one training subsample), of either
/// task: what the label type adds beyond the common part is in `fit`.
pub struct Run<L: Studied = usize> {
    pub seed: u64,
    /// Which training subsample it learned from (0 outside subsample studies).
    pub subsample: usize,
    pub validation: L::Metrics,
    pub test: L::Metrics,
    pub test_predictions: Vec<L>,
    /// Empty where there is no validation split (`emo evaluate`).
    pub validation_predictions: Vec<L>,
    pub chosen: serde_json::Value,
    pub weight_norms: Option<Vec<f64>>,
    pub seconds: f64,
    /// The calibration map fitted on validation, judged on test.
    pub calibration: Option<crate::calibration::Assessment>,
    /// Quantification of shifted test samples (`--shift-samples`).
    pub shift: Option<crate::quantify::shift::ShiftScores>,
    /// Multi-label runs' thresholds and the scores around them
    /// ([`multilabel::ThresholdFit`]); nothing for single-label runs.
    pub fit: L::Fit,
}

/// A method's runs: one per seed when it is stochastic, else one.
pub struct MethodRuns<R = Run> {
    pub name: &'static str,
    /// The name a sentence uses ("class-balanced sampling").
    pub title: &'static str,
    pub summary: &'static str,
    pub runs: Vec<R>,
}

impl<R> MethodRuns<R> {
    /// The run shown in pictures and per-class tables: the first seed's.
    pub fn shown(&self) -> &R {
        &self.runs[0]
    }

    /// Mean and sample standard deviation over the runs of `f` of each run
    /// (standard deviation 0 for a single run).
    pub fn spread_by(&self, f: impl Fn(&R) -> f64) -> (f64, f64) {
        mean_sd(self.runs.iter().map(f))
    }
}

impl MethodRuns {
    /// Mean and sample standard deviation of a test metric over the runs.
    pub fn spread(&self, f: impl Fn(&Metrics) -> f64) -> (f64, f64) {
        self.spread_by(|r| f(&r.test))
    }

    /// Mean over the runs of a headline statistic on test (`rare`: the classes
    /// [`Stat::FewRecall`] averages over).
    pub fn test_mean(&self, s: Stat, rare: &[usize]) -> f64 {
        self.spread(|m| s.value(m, rare, false)).0
    }
}

pub fn mean_sd(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = values.collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

/// A study repeated on training subsamples: each draws the profile's counts per
/// class afresh (seed `seeds[s]`), and each method's runs on subsample `s`
/// carry `subsample: s`. Test (and validation) data are the same for all.
pub struct Subsamples {
    /// The training profile, as the command line gave it.
    pub profile: String,
    pub seeds: Vec<u64>,
    /// How validation was cut down, if it was ("proportional" or a profile).
    pub validation: Option<String>,
}

/// What a study of one kind of label reports, decided by the label type:
/// what one fit's run holds beyond the common part, the rule that turns scores into answers beyond
/// what a fit chose, what the analysis computes from the runs, what the
/// training labels add (multi-label: how labels co-occur), and the writers.
pub trait Studied: Targets + crate::uncertainty::Resampled {
    /// A split's metrics (scikit-learn's classification report, or its
    /// multi-label counterpart).
    type Metrics: Send;
    /// What a run of this task holds beyond [`Run`]'s common part.
    type Fit: Send;
    type Rule: Copy + Send + Sync;
    type Analysis;
    type Extra;

    /// Chooses the recommended method on validation (by `select` where the
    /// task offers a choice) and bootstraps the test rows `resamples` times
    /// (0: none), seeded.
    fn analyse(study: &mut Study<Self>, select: Stat, resamples: usize, seed: u64);

    /// Writes the whole report to `out`, replacing an earlier report there
    /// only once the new one is complete.
    fn write(study: &Study<Self>, out: &Path) -> Result<Vec<String>>;

    /// The summary for the terminal: the verdict, then the table.
    fn terminal_table(study: &Study<Self>) -> String;

    /// The method validation recommends, what chose it and its test macro-F1
    /// (the mean over its runs, with the bootstrap interval when there is one):
    /// a study's result in one line, as `compare-features` compares studies.
    fn headline(study: &Study<Self>) -> Option<Headline>;

    /// Test macro-F1 of the runs `b` minus that of the runs `a`, predictions on
    /// the same test rows `labels` (two studies of one dataset), with a paired
    /// bootstrap interval (`resamples` redraws, seeded; a point without).
    fn paired_macro_f1(
        labels: &[Self],
        n_classes: usize,
        a: Vec<&[Self]>,
        b: Vec<&[Self]>,
        resamples: usize,
        seed: u64,
    ) -> Interval {
        let input = crate::uncertainty::Input {
            labels,
            n_classes,
            methods: vec![a, b],
            rare: &[],
            baseline: Some(0),
            present_only: false,
        };
        crate::uncertainty::bootstrap(&input, resamples, seed)[1]
            .diff(Self::MACRO_F1)
            .expect("a baseline was given")
    }
}

/// A study's recommended method and its numbers ([`Studied::headline`]).
#[derive(Debug, Clone)]
pub struct Headline {
    pub method: &'static str,
    /// Its index in the study's methods.
    pub index: usize,
    /// The validation score that chose it (the task's selection rule).
    pub validation: f64,
    pub test_macro_f1: Interval,
}

impl Studied for usize {
    type Metrics = Metrics;
    type Fit = ();
    type Rule = ();
    type Analysis = Analysis;
    type Extra = ();

    fn analyse(study: &mut Study, select: Stat, resamples: usize, seed: u64) {
        study.analysis = Some(Analysis::of(study, select, resamples, seed));
    }

    fn write(study: &Study, out: &Path) -> Result<Vec<String>> {
        write(study, out)
    }

    fn terminal_table(study: &Study) -> String {
        terminal_table(study)
    }

    fn headline(study: &Study) -> Option<Headline> {
        let a = study.analysis();
        let rec = a.recommendation.as_ref()?;
        let index = study.methods.iter().position(|m| m.name == rec.method)?;
        let mean = study.methods[index]
            .spread(|m| Stat::MacroF1.value(m, &a.rare, false))
            .0;
        Some(Headline {
            method: rec.method,
            index,
            validation: rec.validation,
            test_macro_f1: a
                .method(index)
                .map(|iv| iv.stat(Stat::MacroF1))
                .unwrap_or(Interval::point(mean)),
        })
    }
}

/// Everything a report shows, gathered once by the command.
pub struct Study<L: Studied = usize> {
    pub dataset: String,
    pub classes: Vec<String>,
    pub train_counts: Vec<usize>,
    pub validation_counts: Vec<usize>,
    pub test_counts: Vec<usize>,
    pub test_ids: Vec<String>,
    pub test_labels: Vec<L>,
    /// Empty where there is no validation split (`emo evaluate`).
    pub validation_labels: Vec<L>,
    pub thresholds: GroupThresholds,
    pub config: TrainConfig,
    pub seeds: Vec<u64>,
    pub encoder: EncoderIdentity,
    pub device: String,
    /// The encoder's arithmetic the vectors came from (`--precision`): a
    /// study of bf16 vectors must say so wherever its numbers go.
    pub precision: &'static str,
    /// What the command line asked for, for the record.
    pub command: String,
    pub methods: Vec<MethodRuns<Run<L>>>,
    pub rule: L::Rule,
    /// What the training labels add to the report.
    pub extra: L::Extra,
    /// Set when every method ran on several training subsamples of one profile.
    pub subsamples: Option<Subsamples>,
    /// Set by [`Studied::analyse`], which every command calls before reporting.
    pub analysis: Option<L::Analysis>,
}

impl<L: Studied> Study<L> {
    /// Chooses the recommended method and bootstraps the test rows: see
    /// [`Studied::analyse`].
    pub fn analyse(&mut self, select: Stat, resamples: usize, seed: u64) {
        L::analyse(self, select, resamples, seed)
    }

    pub fn analysis(&self) -> &L::Analysis {
        self.analysis
            .as_ref()
            .expect("Study::analyse runs before any report is written")
    }

    /// Class indices from most to least frequent in training (ties by name), the
    /// order of every per-class picture and table.
    pub fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.classes.len()).collect();
        order.sort_by(|&a, &b| {
            self.train_counts[b]
                .cmp(&self.train_counts[a])
                .then(self.classes[a].cmp(&self.classes[b]))
        });
        order
    }

    /// Axis labels of the classes in `order`: name and training count.
    pub fn axis_names(&self, order: &[usize]) -> Vec<String> {
        order
            .iter()
            .map(|&c| format!("{} ({})", self.classes[c], self.train_counts[c]))
            .collect()
    }

    pub fn method(&self, name: &str) -> Option<&MethodRuns<Run<L>>> {
        self.methods.iter().find(|m| m.name == name)
    }
}

impl Study {
    pub fn groups(&self, m: &Metrics) -> Vec<GroupScore> {
        group_scores(m, &self.train_counts, self.thresholds)
    }
}

/// The summary table for the terminal, columns aligned.
pub fn terminal_table(study: &Study) -> String {
    let (header, rows) = summary::table(study);
    let mut out = String::new();
    for v in verdict::verdict(study, study.analysis()) {
        out.push_str(&v);
        out.push_str("\n\n");
    }
    out += &format!(
        "{}: test metrics of every method ({} classes; hyper-parameters chosen on validation)\n",
        study.dataset,
        study.classes.len()
    );
    out += &aligned(&header, &rows);
    if let Some(note) = summary::omitted_groups_note(study) {
        out.push_str(&note);
        out.push('\n');
    }
    if let (Some(sub), Some((header, rows))) = (
        study.subsamples.as_ref(),
        subsamples::table(study, &study.analysis().rare),
    ) {
        out += &format!(
            "\nOver {} training subsamples of the profile {} (mean ± s.d.; difference from ib in points with its 95% interval over subsamples; subsamples won):\n",
            sub.seeds.len(),
            sub.profile
        );
        out += &aligned(&header, &rows);
    }
    out
}

/// A table as Markdown.
pub(crate) fn markdown(header: &[String], rows: &[Vec<String>]) -> String {
    summary::markdown(header, rows)
}

/// Columns aligned, the first to the left.
pub(crate) fn aligned(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            std::iter::once(&header[c])
                .chain(rows.iter().map(|r| &r[c]))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for cells in std::iter::once(header).chain(rows.iter().map(|r| r.as_slice())) {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        out.push_str(&line.join("  "));
        out.push('\n');
    }
    out
}

/// One output of a report.
pub trait Writer {
    /// Writes its file(s) into `dir`; returns their names.
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>>;
}

/// `reliability.png` ([`calibration::picture`]).
struct ReliabilityPng;

impl Writer for ReliabilityPng {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        calibration::picture(study, dir)
    }
}

/// Every writer, in the order their files appear in `index.html`.
fn writers() -> Vec<Box<dyn Writer>> {
    vec![
        Box::new(summary::SummaryMd),
        Box::new(metrics_json::MetricsJson),
        Box::new(predictions::PredictionsCsv),
        Box::new(confusion::ConfusionPngs),
        Box::new(weight_norms::WeightNormsPng),
        Box::new(per_class::PerClassPngs),
        Box::new(tradeoff::TradeoffPngs),
        Box::new(ReliabilityPng),
        Box::new(html::IndexHtml),
    ]
}

/// The folder that will hold `out`, created, and a temporary folder in it:
/// proves `out` can be written (commands call this before any long work).
fn staging(out: &Path) -> Result<(PathBuf, tempfile::TempDir)> {
    let parent = crate::atomic::parent_of(out);
    std::fs::create_dir_all(&parent).map_err(|e| {
        crate::input_error!("{}: cannot create the report folder: {e}", parent.display())
    })?;
    let tmp = tempfile::Builder::new()
        .prefix(".emo-report-")
        .tempdir_in(&parent)
        .map_err(|e| {
            crate::input_error!("{}: cannot write a report here: {e}", parent.display())
        })?;
    Ok((parent, tmp))
}

/// `reports/<name>-<unix seconds>`: where a report goes when `--out` is not given.
pub fn default_folder(name: &str) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("reports").join(format!("{name}-{stamp}"))
}

/// Fails now, with a clear error, if a report cannot be written to `out`.
pub fn check_writable(out: &Path) -> Result<()> {
    staging(out).map(|_| ())
}

/// Writes the whole report to `out`, replacing an earlier report there only
/// once the new one is complete.
pub fn write(study: &Study, out: &Path) -> Result<Vec<String>> {
    write_folder(out, |dir| {
        let mut files = Vec::new();
        for w in writers() {
            files.extend(w.write(study, dir)?);
        }
        Ok(files)
    })
}

/// What every metrics.json says of its study, whatever the task; each task's
/// writer adds its own keys (the document's keys are sorted, so where they are
/// added does not show).
fn metrics_header<L: Studied>(study: &Study<L>) -> serde_json::Value {
    serde_json::json!({
        "format": "emo-report/1",
        "emo_version": env!("CARGO_PKG_VERSION"),
        "dataset": study.dataset,
        "command": study.command,
        "classes": study.classes,
        "train_counts": study.train_counts,
        "validation_counts": study.validation_counts,
        "test_counts": study.test_counts,
        "group_thresholds": study.thresholds,
        "zero_division": 0,
        "encoder": study.encoder,
        "device": study.device,
        "precision": study.precision,
        "seeds": study.seeds,
        "config": study.config,
    })
}

/// `metrics.json`: the header and `doc`'s own keys; and `timings.json`: each method's fit time per
/// seed, kept apart because wall times change from run to run, so that
/// metrics.json is byte-identical for the same command, data, seed and device.
fn write_metrics<L: Studied>(
    study: &Study<L>,
    dir: &Path,
    doc: serde_json::Value,
) -> Result<Vec<String>> {
    let mut full = metrics_header(study);
    if let (Some(all), serde_json::Value::Object(own)) = (full.as_object_mut(), doc) {
        all.extend(own);
    }
    crate::atomic::write(
        &dir.join("metrics.json"),
        format!("{}\n", serde_json::to_string_pretty(&full)?).as_bytes(),
    )?;
    let timings: serde_json::Map<String, serde_json::Value> = study
        .methods
        .iter()
        .map(|m| {
            let runs: Vec<serde_json::Value> = m
                .runs
                .iter()
                .map(|r| {
                    let (seed, seconds) = (r.seed, r.seconds);
                    serde_json::json!({ "seed": seed, "seconds": seconds })
                })
                .collect();
            (m.name.to_string(), serde_json::Value::Array(runs))
        })
        .collect();
    crate::atomic::write(
        &dir.join("timings.json"),
        format!("{}\n", serde_json::to_string_pretty(&timings)?).as_bytes(),
    )?;
    Ok(vec!["metrics.json".into(), "timings.json".into()])
}

/// Runs `fill` on a temporary folder beside `out` and moves the folder to
/// `out` when it succeeded, replacing what was there: a failed run never
/// leaves a partial report where a complete one is expected.
fn write_folder(
    out: &Path,
    fill: impl FnOnce(&Path) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let (parent, tmp) = staging(out)?;
    crate::atomic::set_mode(tmp.path(), 0o755)?;
    let files = fill(tmp.path())?;
    if out.exists() {
        let old = parent.join(format!(
            ".emo-old-{}",
            out.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).with_context(|| format!("cannot replace {}", out.display()))?;
        std::fs::rename(tmp.keep(), out)
            .with_context(|| format!("cannot move the report to {}", out.display()))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(tmp.keep(), out)
            .with_context(|| format!("cannot move the report to {}", out.display()))?;
    }
    Ok(files)
}
