//! One-vs-rest logistic regression fitted to convergence (scikit-learn's
//! `OneVsRestClassifier(LogisticRegression(C))`, plain or balanced per class),
//! the baseline a practitioner runs first on multi-label data: C from the grid
//! by validation macro-F1 at each fit's own validation thresholds.
//! Deterministic, so one fit serves every seed.

use super::{MultiContext, MultiFitted, MultiMethod};
use crate::head::Head;
use crate::logreg::{fit_ovr, OvrProblem};
use anyhow::Result;
use serde_json::json;

pub struct OvrLogReg {
    pub balanced: bool,
}

impl MultiMethod for OvrLogReg {
    fn stochastic(&self) -> bool {
        false
    }

    fn fit(&self, ctx: &MultiContext) -> Result<MultiFitted> {
        let cfg = ctx.config;
        let stopping = cfg.logreg_stopping();
        let mut curve = Vec::new();
        let mut best: Option<(f64, MultiFitted)> = None;
        let mut start: Option<(tch::Tensor, tch::Tensor)> = None;
        for c in cfg.logreg_c_path() {
            let problem = OvrProblem {
                x: &ctx.train.x,
                y: &ctx.train.y,
                balanced: self.balanced,
                c,
            };
            let (w, b, conv) = fit_ovr(&problem, stopping, start.as_ref().map(|(w, b)| (w, b)))?;
            let head = Head::Linear {
                weight: w.shallow_clone(),
                bias: b.shallow_clone(),
            };
            let (thresholds, score) = ctx.thresholds(&head)?;
            let record = json!({
                "C": c,
                "validation_macro_f1": score,
                "iterations": conv.iter().map(|k| k.iterations).max(),
                "converged": conv.iter().all(|k| k.converged),
            });
            curve.push(record.clone());
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((
                    score,
                    MultiFitted {
                        head,
                        thresholds,
                        chosen: record,
                    },
                ));
            }
            start = Some((w, b));
        }
        let (_, mut fitted) =
            best.ok_or_else(|| anyhow::anyhow!("ovr-logreg: the C grid is empty"))?;
        fitted.chosen["curve"] = serde_json::Value::Array(curve);
        Ok(fitted)
    }
}
