//! The converged logistic-regression baseline (scikit-learn's
//! `LogisticRegression(C)`, plain or `class_weight='balanced'`): full-batch L-BFGS
//! to convergence, C chosen on validation (by `--select`). Deterministic: no sampling,
//! a zero start, so one fit serves every seed.

use super::{Context, Fitted, Method};
use crate::head::Head;
use crate::logreg::{balanced_sample_weights, fit, Problem};
use anyhow::Result;

pub struct LogReg {
    pub balanced: bool,
}

impl Method for LogReg {
    fn stochastic(&self) -> bool {
        false
    }

    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let (train, cfg) = (ctx.train, ctx.config);
        let weights = self
            .balanced
            .then(|| balanced_sample_weights(&train.counts(), &train.y));
        let stopping = cfg.logreg_stopping();
        let mut curve = Vec::new();
        let mut best: Option<(f64, f64, Head, serde_json::Value)> = None;
        let mut start: Option<(tch::Tensor, tch::Tensor)> = None;
        for c in cfg.logreg_c_path() {
            let problem = Problem {
                x: &train.x,
                y: &train.y,
                n_classes: train.n_classes,
                sample_weight: weights.as_ref(),
                c,
            };
            let (w, b, conv) = fit(&problem, stopping, start.as_ref().map(|(w, b)| (w, b)))?;
            let head = Head::Linear {
                weight: w.shallow_clone(),
                bias: b.shallow_clone(),
            };
            let score = ctx.score(&head)?;
            let record = serde_json::json!({
                "C": c,
                "validation": score,
                "iterations": conv.iterations,
                "gradient_max": conv.gradient_max,
                "converged": conv.converged,
            });
            curve.push(record.clone());
            if best.as_ref().is_none_or(|(_, s, _, _)| score > *s) {
                best = Some((c, score, head, record));
            }
            start = Some((w, b));
        }
        let (_, _, head, mut chosen) =
            best.ok_or_else(|| anyhow::anyhow!("logreg: the C grid is empty"))?;
        chosen["by"] = serde_json::json!(ctx.config.select);
        chosen["curve"] = serde_json::Value::Array(curve);
        Ok(Fitted::new(head, chosen))
    }
}
