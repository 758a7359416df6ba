//! τ-normalisation of the stage-1 `bce` head (Kang et al. §4): each class's
//! weight vector divided by ‖W_j‖^τ and the bias dropped, as single-label `tau`
//! does ([`crate::methods::tau_norm::tau_normalise`]); τ from `tau_grid`, with
//! the stage-1 head, by validation macro-F1 at each pair's own validation
//! thresholds. The stage-1 heads are `bce`'s own (same search, seed and random
//! stream), retrained here rather than shared: they are cheap next to a study.
//!
//! Under per-class thresholds τ-normalisation changes little by construction:
//! it multiplies class j's logit w_j·x by the positive 1/‖w_j‖^τ (and drops a
//! per-class constant), which leaves the order of the texts within each class,
//! and so each class's best validation F1, as it was. Validation then ties
//! across τ (up to float rounding near probabilities 0 and 1) and the earliest
//! grid value is kept; τ only matters where one threshold serves every class,
//! as the fixed 0.5 does. The method is here so that studies show that.

use super::bce::{self, Variant};
use super::{MultiContext, MultiFitted, MultiMethod};
use crate::head::Head;
use crate::methods::tau_norm::tau_normalise;
use crate::sampling::SamplerKind;
use crate::train::BceSpec;
use anyhow::Result;
use serde_json::{json, Map, Value};

pub struct TauNorm;

impl MultiMethod for TauNorm {
    fn fit(&self, ctx: &MultiContext) -> Result<MultiFitted> {
        let sampler = SamplerKind::InstanceBalanced;
        let stage1 = Variant {
            settings: Map::new(),
            spec: Box::new(move |epochs| BceSpec::plain(sampler, epochs, "bce")),
        };
        let grid = &ctx.config.tau_grid;
        let mut trials = Vec::new();
        for (settings, head) in bce::trials(ctx, ctx.config.epochs, &[stage1])? {
            let weight = match head {
                Some(Head::Linear { weight, .. }) => Some(weight),
                _ => None,
            };
            for &tau in grid {
                let mut s = settings.clone();
                s.insert("tau".into(), json!(tau));
                trials.push((s, weight.as_ref().map(|w| tau_normalise(w, tau))));
            }
        }
        let mut fitted = bce::choose(ctx, trials, json!({"sampler": sampler, "loss": "Plain"}))?;
        // τ is chosen again on every seed (it costs no training), as single-label
        // τ-norm does; only the stage-1 settings carry over to later seeds.
        if let Some(Value::Object(settings)) = fitted.chosen.get_mut("settings") {
            if let Some(tau) = settings.remove("tau") {
                fitted.chosen["tau"] = tau;
            }
        }
        Ok(fitted)
    }
}
