//! A single-label fit in a study: its argmax answers on validation and test.

use super::Compared;
use crate::features::Features;
use crate::methods::{Context, Fitted};
use crate::metrics::Metrics;
use crate::report::Run;
use anyhow::Result;

impl Compared for usize {
    fn evaluate(
        fitted: Fitted,
        ctx: &Context<usize>,
        test: &Features,
        _: (),
        shift: Option<crate::quantify::shift::Plan>,
        seconds: f64,
    ) -> Result<Run> {
        let vpred = fitted.head.predict(&ctx.valid.x)?;
        let tpred = fitted.head.predict(&test.x)?;
        let (calibration, shift) =
            super::probabilities_study(&fitted.head, None, ctx.valid, test, shift)?;
        Ok(Run {
            seed: ctx.seed,
            subsample: 0,
            validation: Metrics::compute(&ctx.valid.labels, &vpred, ctx.valid.n_classes),
            test: Metrics::compute(&test.labels, &tpred, test.n_classes),
            test_predictions: tpred,
            validation_predictions: vpred,
            chosen: fitted.chosen,
            weight_norms: fitted.head.weight_norms(),
            seconds,
            calibration,
            shift,
            fit: (),
        })
    }
}
