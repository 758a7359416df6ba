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
use crate::data::LabelSet;
use crate::head::Head;
use crate::methods::tau_norm::tau_normalise;
use crate::methods::{Context, Fitted, Method};
use crate::sampling::SamplerKind;
use crate::train::BceSpec;
use anyhow::Result;
use serde_json::{json, Map, Value};

pub struct TauNorm;

impl Method<LabelSet> for TauNorm {
    fn fit(&self, ctx: &Context<LabelSet>) -> Result<Fitted> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidate::Tune;
    use crate::methods::multi::bce::{Bce, Loss};
    use crate::methods::multi::synthetic::{problem, rows_of};
    use crate::train::TrainConfig;

    fn linear(head: &Head) -> (Vec<Vec<f64>>, Vec<f64>) {
        let Head::Linear { weight, bias } = head else {
            panic!("not a linear head");
        };
        (
            rows_of(weight),
            Vec::<f64>::try_from(bias.to_kind(tch::Kind::Double)).unwrap(),
        )
    }

    fn norm(v: &[f64]) -> f64 {
        v.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    /// The head τ-norm hands back is the stage-1 `bce` head (same context, same
    /// seed: the same head) with each class's weight vector divided by
    /// ‖W_j‖^τ and no bias: τ = 0 keeps the weights as they were, τ = 1 gives
    /// every class a unit vector, τ = ½ scales each class by 1/√‖W_j‖ — so
    /// each class's logit is its stage-1 logit less the bias, over ‖W_j‖^τ.
    #[test]
    fn each_class_is_the_stage1_weight_over_its_norm_to_the_tau() {
        let p = problem(11, 1200);
        let base = TrainConfig {
            tune: Tune::None,
            ..TrainConfig::default()
        };
        let stage1 = Bce(SamplerKind::InstanceBalanced, Loss::Plain)
            .fit(&Context::new(&p.train, &p.valid, &base, 5))
            .unwrap();
        let (w1, b1) = linear(&stage1.head);
        let norms: Vec<f64> = w1.iter().map(|w| norm(w)).collect();
        // Instance-balanced training leaves the classes with unequal norms and
        // biases, or the test could not tell τ's apart.
        let (lo, hi) = norms
            .iter()
            .fold((f64::MAX, 0.0f64), |(l, h), &n| (l.min(n), h.max(n)));
        assert!(hi > 1.2 * lo, "norms {norms:?}");
        assert!(b1.iter().any(|b| b.abs() > 1e-3), "biases {b1:?}");
        for tau in [0.0, 0.5, 1.0] {
            let cfg = TrainConfig {
                tau_grid: vec![tau],
                ..base.clone()
            };
            let fitted = TauNorm
                .fit(&Context::new(&p.train, &p.valid, &cfg, 5))
                .unwrap();
            assert_eq!(fitted.chosen["tau"], json!(tau));
            let (w, b) = linear(&fitted.head);
            assert_eq!(w.len(), w1.len());
            assert!(b.iter().all(|&v| v == 0.0), "τ {tau}: bias {b:?}");
            for (j, (row, stage1_row)) in w.iter().zip(&w1).enumerate() {
                let scale = norms[j].powf(tau);
                for (got, was) in row.iter().zip(stage1_row) {
                    let want = was / scale;
                    assert!(
                        (got - want).abs() <= 1e-5 * want.abs().max(1e-3),
                        "τ {tau}, class {j}: {got} vs {want}"
                    );
                }
                let n = norm(row);
                let expect = norms[j].powf(1.0 - tau);
                assert!(
                    (n - expect).abs() < 1e-5 * expect,
                    "τ {tau}, class {j}: norm {n}, want ‖W_j‖^(1−τ) = {expect}"
                );
            }
            if tau == 1.0 {
                assert!(
                    w.iter().all(|r| (norm(r) - 1.0).abs() < 1e-5),
                    "τ = 1 leaves unit vectors"
                );
            }
        }
    }

    /// τ is chosen among the grid on validation, each τ recorded on the
    /// curve with its score, and — since per-class thresholds cannot see a
    /// positive rescaling of a class's logits — every τ scores the stage-1
    /// head's validation macro-F1 within float rounding.
    #[test]
    fn every_tau_of_the_grid_is_scored_and_one_of_them_kept() {
        let p = problem(12, 900);
        let grid = vec![0.0, 0.3, 1.0, 1.7];
        let cfg = TrainConfig {
            tune: Tune::None,
            tau_grid: grid.clone(),
            ..TrainConfig::default()
        };
        let ctx = Context::new(&p.train, &p.valid, &cfg, 2);
        let stage1 = Bce(SamplerKind::InstanceBalanced, Loss::Plain)
            .fit(&ctx)
            .unwrap();
        let fitted = TauNorm.fit(&ctx).unwrap();
        let curve = fitted.chosen["curve"].as_array().unwrap();
        let taus: Vec<f64> = curve.iter().map(|r| r["tau"].as_f64().unwrap()).collect();
        assert_eq!(taus, grid);
        let stage1_f1 = stage1.chosen["settings"]["validation_macro_f1"]
            .as_f64()
            .unwrap();
        let scores: Vec<f64> = curve
            .iter()
            .map(|r| r["validation_macro_f1"].as_f64().unwrap())
            .collect();
        for (tau, s) in grid.iter().zip(&scores) {
            assert!((s - stage1_f1).abs() < 1e-3, "τ {tau}: {s} vs {stage1_f1}");
        }
        let best = scores.iter().cloned().fold(f64::MIN, f64::max);
        let first_best = grid[scores.iter().position(|&s| s == best).unwrap()];
        assert_eq!(fitted.chosen["tau"], json!(first_best));
    }
}
