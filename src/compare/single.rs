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
        seconds: f64,
    ) -> Result<Run> {
        let vpred = fitted.head.predict(&ctx.valid.x)?;
        let tpred = fitted.head.predict(&test.x)?;
        let calibration = crate::calibration::Assessment::of_default(
            crate::data::Task::SingleLabel,
            test.n_classes,
            (&ctx.valid.logits_of(&fitted.head)?, &ctx.valid.truth()),
            (&test.logits_of(&fitted.head)?, &test.truth()),
        );
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
        })
    }

    fn chosen(run: &Run) -> &serde_json::Value {
        &run.chosen
    }
}
