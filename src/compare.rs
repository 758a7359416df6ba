//! The study: fit every requested method on the same training features, score
//! each on validation (what methods may choose by) and on test (what is
//! reported), and keep the predictions for the reports.

use crate::features::Features;
use crate::methods::{self, Context, Fitted};
use crate::metrics::Metrics;
use crate::train::TrainConfig;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// One method's outcome.
pub struct MethodResult {
    pub name: &'static str,
    pub fitted: Fitted,
    pub validation: Metrics,
    pub test: Metrics,
    pub test_predictions: Vec<usize>,
    /// Wall time of fitting, including the shared stage-1 head for the first
    /// method that needed it.
    pub seconds: f64,
}

/// Fits `names` in order on `train`, choosing hyper-parameters on `valid`, and
/// evaluates on `test`. Progress goes to stderr.
pub fn run(
    names: &[String],
    train: &Features,
    valid: &Features,
    test: &Features,
    config: &TrainConfig,
    seed: u64,
) -> Result<Vec<MethodResult>> {
    let ctx = Context::new(train, valid, config, seed);
    let bar = ProgressBar::new(names.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("training {bar:20} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        bar.set_message(name.clone());
        let start = Instant::now();
        let (name, fitted) = methods::fit_all(&[name.as_str()], &ctx)?
            .pop()
            .expect("one method");
        let seconds = start.elapsed().as_secs_f64();
        let vpred = fitted.head.predict(&valid.x)?;
        let tpred = fitted.head.predict(&test.x)?;
        out.push(MethodResult {
            name,
            validation: Metrics::compute(&valid.labels, &vpred, valid.n_classes),
            test: Metrics::compute(&test.labels, &tpred, test.n_classes),
            test_predictions: tpred,
            fitted,
            seconds,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}
