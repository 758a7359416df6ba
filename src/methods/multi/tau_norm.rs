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
        // Stage 1 is chosen as `bce` chooses it; τ is then searched on that one
        // head (τ-normalising every candidate head would multiply the search by
        // the grid, for choices that validation cannot tell apart).
        let stage1_fit = bce::choose(
            ctx,
            bce::trials(ctx, ctx.config.epochs, &[stage1])?,
            json!({}),
        )?;
        let Head::Linear { weight, .. } = &stage1_fit.head else {
            anyhow::bail!("tau-norm: the stage-1 head is not linear");
        };
        let Some(Value::Object(stage1_settings)) = stage1_fit.chosen.get("settings") else {
            anyhow::bail!("tau-norm: stage 1 recorded no settings");
        };
        let trials: Vec<bce::Trial> = ctx
            .config
            .tau_grid
            .iter()
            .map(|&tau| {
                let mut s = stage1_settings.clone();
                s.remove("validation_macro_f1");
                s.insert("tau".into(), json!(tau));
                (s, Some(tau_normalise(weight, tau)))
            })
            .collect();
        let mut fitted = bce::choose(ctx, trials, json!({"sampler": sampler, "loss": "Plain"}))?;
        fitted.chosen["stage1_curve"] = stage1_fit.chosen["curve"].clone();
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
