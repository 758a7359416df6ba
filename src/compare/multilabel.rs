//! A multi-label fit in a study: scored on validation and test at the
//! per-class thresholds it chose on validation, and on test also at the fixed
//! 0.5 and the GoEmotions paper's 0.3 (what choosing thresholds buys).

use super::Compared;
use crate::data::{Label, LabelSet};
use crate::decision::{self, WhenNonePasses};
use crate::features::Features;
use crate::methods::{multi, Context, Fitted};
use crate::metrics::multilabel::{Indicator, MultiLabelMetrics};
use crate::report::multilabel::ThresholdFit;
use crate::report::Run;
use anyhow::Result;

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

impl Compared for LabelSet {
    fn evaluate(
        fitted: Fitted,
        ctx: &Context<LabelSet>,
        test: &Features<LabelSet>,
        when_none: WhenNonePasses,
        shift: Option<crate::quantify::shift::Plan>,
        seconds: f64,
    ) -> Result<Run<LabelSet>> {
        let c = test.n_classes;
        let th: Vec<f32> = fitted.thresholds.iter().map(|t| t.value).collect();
        let vprobs = multi::probabilities(&fitted.head, ctx.valid)?;
        let tprobs = multi::probabilities(&fitted.head, test)?;
        let (validation, validation_predictions) =
            score(&vprobs, &ctx.valid.labels, &th, when_none);
        // The held-out score methods choose their settings by, the same for every
        // method whatever it records: what recommends a method.
        let (_, validation_score) = ctx.thresholds(&fitted.head)?;
        let (test_metrics, test_predictions) = score(&tprobs, &test.labels, &th, when_none);
        let at = |v: f32| score(&tprobs, &test.labels, &decision::uniform(v, c), when_none).0;
        let (calibration, shift) =
            super::probabilities_study(&fitted.head, Some(&th), ctx.valid, test, shift)?;
        Ok(Run {
            seed: ctx.seed,
            subsample: 0,
            validation,
            test: test_metrics,
            test_predictions,
            validation_predictions,
            chosen: fitted.chosen,
            weight_norms: fitted.head.weight_norms(),
            seconds,
            calibration,
            shift,
            fit: ThresholdFit {
                thresholds: fitted.thresholds,
                validation_score,
                test_fixed: at(decision::FIXED),
                test_paper: at(decision::PAPER),
            },
        })
    }
}
