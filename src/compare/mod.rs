//! The study: fit every requested method on the same training features, score
//! each on validation (what methods may choose by) and on test (what is
//! reported), once per seed for the methods that depend on one.

pub mod multilabel;
mod single;

use crate::features::Features;
use crate::methods::{self, Context, Fitted, Learn, SharedStage1};
use crate::report::{MethodRuns, Run, Studied};
use crate::train::TrainConfig;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// What a study does with a fit, by label type: how it is scored on
/// validation and test ([`single`]: argmax metrics; [`multilabel`]: at the
/// fit's per-class thresholds, and at fixed ones).
pub trait Compared: Learn + Studied {
    /// Scores `fitted` on validation and test as the report reads it.
    fn evaluate(
        fitted: Fitted,
        ctx: &Context<Self>,
        test: &Features<Self>,
        rule: Self::Rule,
        shift: Option<crate::quantify::shift::Plan>,
        seconds: f64,
    ) -> Result<Run<Self>>;
}

/// How a study scores each fit beyond training it: the rule that turns
/// scores into answers (multi-label: a text no label passes) and whether to
/// measure quantification under shift.
#[derive(Debug, Clone, Copy)]
pub struct Scoring<R> {
    pub rule: R,
    pub shift: Option<crate::quantify::shift::Plan>,
}

/// What a fitted head's probabilities are worth beyond its labels: the
/// calibration map `emo train` would fit on validation, judged on test, and
/// (with a plan) how close each quantification estimator comes to the shares
/// of shifted test samples through that map. `thresholds`: a multi-label
/// head's, on its raw sigmoids.
pub(crate) fn probabilities_study<L: crate::features::Targets>(
    head: &crate::head::Head,
    thresholds: Option<&[f32]>,
    valid: &Features<L>,
    test: &Features<L>,
    shift: Option<crate::quantify::shift::Plan>,
) -> Result<(
    Option<crate::calibration::Assessment>,
    Option<crate::quantify::shift::ShiftScores>,
)> {
    use crate::calibration::{raw, Assessment, Calibrator, Kind};
    use crate::quantify::Quantifier;
    let (task, c) = (L::TASK, test.n_classes);
    if valid.is_empty() || test.is_empty() {
        return Ok((None, None));
    }
    let (vz, vt) = (valid.logits_of(head)?, valid.truth());
    let (tz, tt) = (test.logits_of(head)?, test.truth());
    let kind = Kind::default_for(task);
    let map = Calibrator::fit(kind, task, &vz, c, &vt)?;
    let assessment = map.as_ref().map(|m| {
        Assessment::measure(
            kind,
            task,
            &raw(task, &tz, c),
            &m.probabilities(task, &tz, c),
            &tt,
            c,
        )
    });
    let shift = shift.map(|plan| {
        let names: Vec<String> = (0..c).map(|k| k.to_string()).collect();
        let q = Quantifier::fit(
            task,
            names,
            map.clone(),
            thresholds.map(<[f32]>::to_vec),
            &vz,
            &vt,
        );
        crate::quantify::shift::study(&q, &q.said(&tz), &tt, plan)
    });
    Ok((assessment, shift))
}

/// Fits `names` on `train` for each seed, choosing hyper-parameters on `valid`,
/// and evaluates on `test`. Deterministic methods run for the first seed only.
/// Each method searches its settings (`--tune`) on the first seed; the other
/// seeds train what it chose there (and re-choose only post-hoc values such as
/// τ), so a method's spread over seeds is the seeds' and its search is paid
/// once. Progress goes to stderr.
///
/// Fits run side by side, one per libtorch thread (`--threads`, default one per
/// core), each fit itself single-threaded: a linear head's steps are too small
/// for libtorch to split usefully (measured: one thread trains a GoEmotions head
/// as fast as two), so cores are better spent on different methods. Each fit
/// depends only on its method, seed and data, never on which thread ran it or
/// when, so results do not depend on the number of threads.
pub fn run<L: Compared>(
    names: &[String],
    train: &Features<L>,
    valid: &Features<L>,
    test: &Features<L>,
    config: &TrainConfig,
    seeds: &[u64],
    scoring: Scoring<L::Rule>,
) -> Result<Vec<MethodRuns<Run<L>>>> {
    let Scoring { rule, shift } = scoring;
    let entries = names
        .iter()
        .map(|n| methods::lookup::<L>(n))
        .collect::<Result<Vec<_>>>()?;
    let stochastic: Vec<bool> = entries
        .iter()
        .map(|e| (e.build)(config).stochastic())
        .collect();
    let stage1: Vec<SharedStage1> = seeds.iter().map(|_| SharedStage1::default()).collect();
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
            let mut ctx = Context::sharing(train, valid, config, seeds[k], stage1[k].clone());
            if let Some(chosen) = first {
                ctx = ctx.tuned_on(seeds[0], chosen);
            }
            let start = Instant::now();
            let fitted = (entries[i].build)(config).fit(&ctx)?;
            L::evaluate(
                fitted,
                &ctx,
                test,
                rule,
                shift,
                start.elapsed().as_secs_f64(),
            )
        },
        |run: &Run<L>| run.chosen.clone(),
    )?;
    Ok(entries
        .iter()
        .zip(runs)
        .map(|(e, runs)| MethodRuns {
            name: e.name,
            title: e.title,
            summary: e.summary,
            runs,
        })
        .collect())
}

/// Runs `fit(state, method, seed index, first seed's choice)` for every method
/// on the first seed and for the stochastic ones on every later seed, side by
/// side on `--threads` workers (each with its own `state`, since tensors cannot
/// be shared between threads), and returns each method's runs in seed order.
/// A later seed of a method waits for its first seed's fit and receives what
/// that fit chose (`chosen`); the first error in report order is returned.
pub(crate) fn schedule<S: Send, R: Send>(
    names: &[&str],
    stochastic: &[bool],
    seeds: &[u64],
    state: impl Fn() -> S,
    fit: impl Fn(&S, usize, usize, Option<&serde_json::Value>) -> Result<R> + Sync,
    chosen: impl Fn(&R) -> serde_json::Value + Sync,
) -> Result<Vec<Vec<R>>> {
    // (method index, seed index) of every fit: the first seed's first (later
    // seeds wait for its choices), and among those the deterministic methods
    // (the long L-BFGS fits) first, so that they do not finish last alone.
    let mut jobs: Vec<(usize, usize)> = Vec::new();
    for k in 0..seeds.len() {
        for (i, &s) in stochastic.iter().enumerate() {
            if k == 0 || s {
                jobs.push((i, k));
            }
        }
    }
    jobs.sort_by_key(|&(i, k)| (k, stochastic[i]));
    // What each method chose on the first seed, once its fit is done.
    type Choice = Mutex<Option<Option<serde_json::Value>>>;
    let choices: Vec<(Choice, Condvar)> = names.iter().map(|_| Default::default()).collect();
    let bar = ProgressBar::new(jobs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("training {bar:20} {pos}/{len} {msg}")
            .expect("valid template"),
    );

    let workers = (tch::get_num_threads().max(1) as usize).min(jobs.len().max(1));
    let intra_op = tch::get_num_threads();
    tch::set_num_threads(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let state = state();
            let (jobs, next, results, bar, choices, fit, chosen) =
                (&jobs, &next, &results, &bar, &choices, &fit, &chosen);
            scope.spawn(move || loop {
                let j = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(i, k)) = jobs.get(j) else { break };
                bar.set_message(format!("{} (seed {})", names[i], seeds[k]));
                let (slot, ready) = &choices[i];
                let mut first = None;
                if k > 0 {
                    // The first seed's fit of this method was taken before any
                    // later job, so it is running or done: waiting cannot deadlock.
                    let mut choice = slot.lock().expect("no panic while training");
                    while choice.is_none() {
                        choice = ready.wait(choice).expect("no panic while training");
                    }
                    match choice.as_ref().expect("checked") {
                        Some(c) => first = Some(c.clone()),
                        None => {
                            let e = anyhow::anyhow!("{}: the first seed failed", names[i]);
                            results.lock().expect("no panic while training")[j] = Some(Err(e));
                            bar.inc(1);
                            continue;
                        }
                    }
                }
                // A panic (tch panics on most libtorch failures) becomes this job's
                // error: a dead worker would leave the later seeds of its method
                // waiting for a first-seed choice that never comes.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    fit(&state, i, k, first.as_ref())
                }))
                .unwrap_or_else(|p| Err(crate::error::panic_error(p.as_ref())));
                if k == 0 {
                    *slot.lock().expect("no panic while training") =
                        Some(run.as_ref().ok().map(chosen));
                    ready.notify_all();
                }
                results.lock().expect("no panic while training")[j] = Some(run);
                bar.inc(1);
            });
        }
    });
    tch::set_num_threads(intra_op);
    bar.finish_and_clear();

    let mut out: Vec<Vec<R>> = names.iter().map(|_| Vec::new()).collect();
    let mut results = results.into_inner().expect("no panic while training");
    // The first error in report order is the one worth showing (a later
    // seed's "the first seed failed" only follows from it).
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&j| jobs[j]);
    for j in order {
        let run = results[j].take().expect("every job ran")?;
        out[jobs[j].0].push(run);
    }
    Ok(out)
}
