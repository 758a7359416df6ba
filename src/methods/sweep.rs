//! Training a method's search space ([`Search`]) and choosing on validation.
//!
//! Learning-rate and weight-decay candidates train side by side in one pass
//! ([`train_linear_candidates`]: same start, same batches, one stacked matrix
//! product a step); each epoch count is its own pass, because a cosine schedule
//! of 10 epochs is not the first half of one of 20. Validation, by the
//! configured `select` statistic, then picks one; ties keep the earlier
//! candidate, and the configured settings come first.

use super::{Context, Fitted};
use crate::head::Head;
use crate::train::{effective_epochs, train_linear_candidates, LinearSpec, TrainConfig};
use crate::tune::Search;
use anyhow::Result;
use serde_json::{json, Map, Value};
use tch::Tensor;

/// One trained candidate: what it was trained with, and its head (`None` when
/// training diverged).
pub struct Trial {
    pub settings: Map<String, Value>,
    pub weights: Option<(Tensor, Tensor)>,
}

impl Clone for Trial {
    fn clone(&self) -> Trial {
        Trial {
            settings: self.settings.clone(),
            weights: self
                .weights
                .as_ref()
                .map(|(w, b)| (w.shallow_clone(), b.shallow_clone())),
        }
    }
}

impl Trial {
    pub fn head(&self) -> Option<Head> {
        self.weights.as_ref().map(|(w, b)| Head::Linear {
            weight: w.shallow_clone(),
            bias: b.shallow_clone(),
        })
    }
}

/// The config of a pass of `epochs` when the method's configured schedule is
/// `base` epochs: `min_steps` scales with it, so that on small data (where
/// `min_steps` decides the length) "twice the epochs" is still twice the steps.
pub fn config_for(cfg: &TrainConfig, epochs: usize, base: usize) -> TrainConfig {
    TrainConfig {
        min_steps: (cfg.min_steps * epochs).div_ceil(base.max(1)),
        ..cfg.clone()
    }
}

/// The record of a trained setting: its learning rate, its epochs as the
/// search names them, and (when `min_steps` lengthened the run) the epochs run.
pub fn settings_of(lr: f64, epochs: usize, ran: usize) -> Map<String, Value> {
    let mut settings = Map::new();
    settings.insert("lr".into(), json!(lr));
    settings.insert("epochs".into(), json!(epochs));
    if ran != epochs {
        settings.insert("epochs_run".into(), json!(ran));
    }
    settings
}

/// Trains `spec(epochs)` for every epoch count in `search` (base `base`) and
/// every learning-rate × weight-decay candidate. `extra` names settings the
/// caller fixed for these trials (q, β), recorded with each.
pub fn train<'s, F>(
    ctx: &Context,
    search: &Search,
    base: usize,
    extra: &[(&str, f64)],
    spec: F,
) -> Result<Vec<Trial>>
where
    F: Fn(usize) -> LinearSpec<'s>,
{
    let candidates = search.candidates();
    let mut trials = Vec::new();
    for &epochs in &search.epochs {
        let cfg = config_for(ctx.config, epochs, base);
        let heads = train_linear_candidates(ctx.train, &spec(epochs), &cfg, ctx.seed, &candidates)?;
        let ran = effective_epochs(ctx.train.len(), epochs, &cfg);
        for (c, weights) in candidates.iter().zip(heads) {
            let mut settings = settings_of(c.lr, epochs, ran);
            settings.insert("weight_decay".into(), json!(c.weight_decay));
            for (k, v) in extra {
                settings.insert((*k).into(), json!(v));
            }
            trials.push(Trial { settings, weights });
        }
    }
    Ok(trials)
}

/// The winner of [`pick`]: the item, its settings, its score, and the record
/// of every item tried.
pub type Picked<T> = (T, Map<String, Value>, f64, Vec<Value>);

/// The best of `scored` (items with their validation score, `None` when the
/// item cannot be scored) and the record of every item. Ties keep the earlier.
pub fn pick<T>(scored: Vec<(T, Map<String, Value>, Option<f64>)>) -> Option<Picked<T>> {
    let mut best: Option<(T, Map<String, Value>, f64)> = None;
    let mut record = Vec::new();
    for (item, settings, score) in scored {
        let mut row = settings.clone();
        match score {
            Some(s) => row.insert("validation".into(), json!(s)),
            None => row.insert("diverged".into(), json!(true)),
        };
        record.push(Value::Object(row));
        if let Some(s) = score {
            if best.as_ref().is_none_or(|(_, _, b)| s > *b) {
                best = Some((item, settings, s));
            }
        }
    }
    best.map(|(item, settings, s)| (item, settings, s, record))
}

/// Scores every trial on validation and returns the best (ties keep the
/// earlier): its index among `trials`, so that a caller can find what it kept
/// beside each trial, the trial, and its settings and validation score with,
/// when there was a choice, every trial's score under `trials`.
pub fn choose(ctx: &Context, trials: Vec<Trial>) -> Result<(usize, Trial, Map<String, Value>)> {
    let n = trials.len();
    let scored = trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let score = t.head().map(|h| ctx.score(&h)).transpose()?;
            Ok((i, t.settings.clone(), score))
        })
        .collect::<Result<Vec<_>>>()?;
    let (index, mut settings, score, record) = pick(scored).ok_or_else(|| {
        crate::input_error!("training diverged for every setting tried; lower --lr")
    })?;
    settings.insert("validation".into(), json!(score));
    settings.insert("by".into(), json!(ctx.config.select));
    if let Some(seed) = ctx.tuned_on_seed() {
        settings.insert("tuned_on_seed".into(), json!(seed));
    }
    if n > 1 {
        settings.insert("trials".into(), Value::Array(record));
    }
    let trial = trials
        .into_iter()
        .nth(index)
        .expect("pick returns an index it was given");
    Ok((index, trial, settings))
}

/// The head of the best trial, with its record as what the method chose.
pub fn fitted(ctx: &Context, trials: Vec<Trial>) -> Result<Fitted> {
    let (_, trial, chosen) = choose(ctx, trials)?;
    Ok(Fitted::new(
        trial.head().expect("a chosen trial has a head"),
        Value::Object(chosen),
    ))
}
