//! The study: fit every requested method on the same training features, score
//! each on validation (what methods may choose by) and on test (what is
//! reported), once per seed for the methods that depend on one.

use crate::features::Features;
use crate::methods::{self, Context};
use crate::metrics::Metrics;
use crate::report::{MethodRuns, Run};
use crate::train::TrainConfig;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// Fits `names` on `train` for each seed, choosing hyper-parameters on `valid`,
/// and evaluates on `test`. Deterministic methods run for the first seed only.
/// Progress goes to stderr.
pub fn run(
    names: &[String],
    train: &Features,
    valid: &Features,
    test: &Features,
    config: &TrainConfig,
    seeds: &[u64],
) -> Result<Vec<MethodRuns>> {
    let entries = names
        .iter()
        .map(|n| methods::lookup(n))
        .collect::<Result<Vec<_>>>()?;
    let built: Vec<_> = entries.iter().map(|e| (e, (e.build)(config))).collect();
    let fits: usize = built
        .iter()
        .map(|(_, m)| if m.stochastic() { seeds.len() } else { 1 })
        .sum();
    let bar = ProgressBar::new(fits as u64);
    bar.set_style(
        ProgressStyle::with_template("training {bar:20} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let mut out: Vec<MethodRuns> = entries
        .iter()
        .map(|e| MethodRuns {
            name: e.name,
            summary: e.summary,
            runs: Vec::new(),
        })
        .collect();
    for (k, &seed) in seeds.iter().enumerate() {
        let ctx = Context::new(train, valid, config, seed);
        for (i, (entry, method)) in built.iter().enumerate() {
            if k > 0 && !method.stochastic() {
                continue;
            }
            bar.set_message(format!("{} (seed {seed})", entry.name));
            let start = Instant::now();
            let fitted = method.fit(&ctx)?;
            let seconds = start.elapsed().as_secs_f64();
            let vpred = fitted.head.predict(&valid.x)?;
            let tpred = fitted.head.predict(&test.x)?;
            out[i].runs.push(Run {
                seed,
                validation: Metrics::compute(&valid.labels, &vpred, valid.n_classes),
                test: Metrics::compute(&test.labels, &tpred, test.n_classes),
                test_predictions: tpred,
                chosen: fitted.chosen,
                weight_norms: fitted.head.weight_norms(),
                seconds,
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    Ok(out)
}
