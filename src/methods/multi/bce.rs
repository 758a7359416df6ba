//! A linear head with one sigmoid per class under binary cross-entropy, trained
//! with a given sampler — instance-balanced (`bce`, the multi-label stage 1),
//! class-aware or square-root — and a given loss: plain, re-weighted (each
//! class's positives weighted by its negatives-to-positives ratio, so both sides
//! of every class weigh the same), or logit-adjusted (Menon et al., ICLR 2021,
//! for sigmoids: while training, class j's logit is shifted by τ·log(π_j/(1−π_j)),
//! π_j the share of training texts carrying it, so the head does not have to
//! learn the label frequencies; the head used afterwards has no shift). The
//! learning rates and epochs of `--tune`'s search train side by side; validation
//! macro-F1 at each candidate's own validation thresholds chooses.

use super::{MultiContext, MultiFitted, MultiMethod};
use crate::methods::sweep::{config_for, settings_of};
use crate::sampling::SamplerKind;
use crate::train::{effective_epochs, train_bce_candidates, BceSpec};
use anyhow::Result;
use serde_json::json;

/// The loss a [`Bce`] head trains under.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Loss {
    Plain,
    /// Positives of class j weighted by (N − n_j) / n_j.
    Reweighted,
    /// Training logits shifted by τ·log-odds of each class's prior.
    LogitAdjusted {
        tau: f64,
    },
}

pub struct Bce(pub SamplerKind, pub Loss);

impl Loss {
    /// Positive weights and training offset for `train`.
    fn spec_parts(
        &self,
        train: &crate::features::Features<crate::data::LabelSet>,
    ) -> (Option<Vec<f32>>, Option<tch::Tensor>) {
        let n = train.len() as f64;
        let counts = train.counts();
        match *self {
            Loss::Plain => (None, None),
            Loss::Reweighted => (
                Some(
                    counts
                        .iter()
                        .map(|&k| ((n - k as f64) / k.max(1) as f64) as f32)
                        .collect(),
                ),
                None,
            ),
            Loss::LogitAdjusted { tau } => {
                // A class no training text (or every one) carries gets a finite shift.
                let shift: Vec<f32> = counts
                    .iter()
                    .map(|&k| {
                        let p = (k as f64).clamp(0.5, n - 0.5) / n;
                        (tau * (p / (1.0 - p)).ln()) as f32
                    })
                    .collect();
                (
                    None,
                    Some(tch::Tensor::from_slice(&shift).to(train.device())),
                )
            }
        }
    }
}

impl MultiMethod for Bce {
    fn fit(&self, ctx: &MultiContext) -> Result<MultiFitted> {
        let cfg = ctx.config;
        let (pos_weights, train_offset) = self.1.spec_parts(ctx.train);
        let search = ctx.search(cfg.epochs);
        let candidates = search.candidates();
        let mut curve = Vec::new();
        let mut best: Option<(f64, MultiFitted)> = None;
        for &epochs in &search.epochs {
            let pass = config_for(cfg, epochs, cfg.epochs);
            let spec = BceSpec {
                sampler: self.0,
                epochs,
                pos_weights: pos_weights.clone(),
                train_offset: train_offset.as_ref().map(|t| t.shallow_clone()),
                purpose: "bce",
            };
            let heads = train_bce_candidates(ctx.train, &spec, &pass, ctx.seed, &candidates)?;
            let ran = effective_epochs(ctx.train.len(), epochs, &pass);
            for (cand, weights) in candidates.iter().zip(heads) {
                let mut settings = settings_of(cand.lr, epochs, ran);
                settings.insert("weight_decay".into(), json!(cand.weight_decay));
                let Some((w, b)) = weights else {
                    settings.insert("diverged".into(), json!(true));
                    curve.push(serde_json::Value::Object(settings));
                    continue;
                };
                let head = crate::head::Head::Linear { weight: w, bias: b };
                let (thresholds, score) = ctx.thresholds(&head)?;
                settings.insert("validation_macro_f1".into(), json!(score));
                curve.push(serde_json::Value::Object(settings.clone()));
                // Ties keep the earlier candidate: the configured settings come first.
                if best.as_ref().is_none_or(|(s, _)| score > *s) {
                    let chosen = json!({"settings": settings, "sampler": self.0, "loss": self.1});
                    best = Some((
                        score,
                        MultiFitted {
                            head,
                            thresholds,
                            chosen,
                        },
                    ));
                }
            }
        }
        let (_, mut fitted) = best.ok_or_else(|| {
            crate::input_error!("training diverged for every setting tried; lower --lr")
        })?;
        fitted.chosen["curve"] = serde_json::Value::Array(curve);
        if let Some(seed) = ctx.tuned_on_seed() {
            fitted.chosen["tuned_on_seed"] = json!(seed);
        }
        Ok(fitted)
    }
}
