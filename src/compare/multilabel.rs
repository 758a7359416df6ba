//! The multi-label study: every multi-label method on the same features, once
//! per seed for the stochastic ones, each scored on validation and test at the
//! per-class thresholds it chose on validation, and on test also at the fixed
//! 0.5 and the GoEmotions paper's 0.3 (what choosing thresholds buys).

use super::schedule;
use crate::data::{Label, LabelSet};
use crate::decision::{self, WhenNonePasses};
use crate::features::Features;
use crate::methods::multi::{self, MultiContext, MultiMethod};
use crate::metrics::multilabel::{Indicator, MultiLabelMetrics};
use crate::report::multilabel::{MultiMethodRuns, MultiRun};
use crate::train::TrainConfig;
use anyhow::Result;
use std::time::Instant;

/// Fits `names` (multi-label registry names) on `train` for each seed,
/// choosing settings and thresholds on `valid`, and scores them on `test`,
/// deciding texts no class passes as `when_none` says. Scheduling, seeds and
/// threads as [`super::run`].
pub fn run(
    names: &[String],
    train: &Features<LabelSet>,
    valid: &Features<LabelSet>,
    test: &Features<LabelSet>,
    config: &TrainConfig,
    seeds: &[u64],
    when_none: WhenNonePasses,
) -> Result<Vec<MultiMethodRuns>> {
    let entries = names
        .iter()
        .map(|n| multi::lookup(n))
        .collect::<Result<Vec<_>>>()?;
    let stochastic: Vec<bool> = entries
        .iter()
        .map(|e| (e.build)(config).stochastic())
        .collect();
    let labels: Vec<&str> = entries.iter().map(|e| e.name).collect();
    let runs = schedule(
        &labels,
        &stochastic,
        seeds,
        || {
            (
                train.shallow_clone(),
                valid.shallow_clone(),
                test.shallow_clone(),
            )
        },
        |(train, valid, test), i, k, first| {
            let mut ctx = MultiContext::new(train, valid, config, seeds[k]);
            if let Some(chosen) = first {
                ctx = ctx.tuned_on(seeds[0], chosen);
            }
            fit_one((entries[i].build)(config).as_ref(), &ctx, test, when_none)
        },
        |run: &MultiRun| run.chosen.clone(),
    )?;
    Ok(entries
        .iter()
        .zip(runs)
        .map(|(e, runs)| MultiMethodRuns {
            name: e.name,
            title: e.title,
            summary: e.summary,
            runs,
        })
        .collect())
}

/// The label sets `probs` gives at `thresholds`, and their metrics against `truth`.
pub fn score(
    probs: &[Vec<f32>],
    truth: &[LabelSet],
    thresholds: &[f32],
    when_none: WhenNonePasses,
) -> (MultiLabelMetrics, Vec<LabelSet>) {
    let c = thresholds.len();
    let pred: Vec<LabelSet> = probs
        .iter()
        .map(|p| decision::decide(p, thresholds, when_none))
        .collect();
    let sets =
        |v: &[LabelSet]| -> Vec<Vec<usize>> { v.iter().map(|s| s.classes().to_vec()).collect() };
    let m = MultiLabelMetrics::compute(
        &Indicator::from_sets(c, &sets(truth)),
        &Indicator::from_sets(c, &sets(&pred)),
        probs,
    );
    (m, pred)
}

fn fit_one(
    method: &dyn MultiMethod,
    ctx: &MultiContext,
    test: &Features<LabelSet>,
    when_none: WhenNonePasses,
) -> Result<MultiRun> {
    let start = Instant::now();
    let fitted = method.fit(ctx)?;
    let seconds = start.elapsed().as_secs_f64();
    let c = test.n_classes;
    let th: Vec<f32> = fitted.thresholds.iter().map(|t| t.value).collect();
    let vprobs = multi::probabilities(&fitted.head, ctx.valid)?;
    let tprobs = multi::probabilities(&fitted.head, test)?;
    let (validation, _) = score(&vprobs, &ctx.valid.labels, &th, when_none);
    // The held-out score methods choose their settings by, the same for every
    // method whatever it records: what recommends a method.
    let (_, validation_score) = ctx.thresholds(&fitted.head)?;
    let (test_metrics, test_predictions) = score(&tprobs, &test.labels, &th, when_none);
    let at = |v: f32| score(&tprobs, &test.labels, &decision::uniform(v, c), when_none).0;
    Ok(MultiRun {
        seed: ctx.seed,
        thresholds: fitted.thresholds,
        validation,
        validation_score,
        test: test_metrics,
        test_fixed: at(decision::FIXED),
        test_paper: at(decision::PAPER),
        test_predictions,
        test_probabilities: tprobs,
        chosen: fitted.chosen,
        weight_norms: fitted.head.weight_norms(),
        seconds,
    })
}
