//! A linear head with one sigmoid per class under binary cross-entropy, trained
//! with a given sampler: instance-balanced (`bce`, the multi-label stage 1),
//! class-aware or square-root. The learning rates and epochs of `--tune`'s
//! search train side by side; validation macro-F1 at each candidate's own
//! validation thresholds chooses.

use super::{MultiContext, MultiFitted, MultiMethod};
use crate::methods::sweep::{config_for, settings_of};
use crate::sampling::SamplerKind;
use crate::train::{effective_epochs, train_bce_candidates, BceSpec};
use crate::tune::Search;
use anyhow::Result;
use serde_json::json;

pub struct Bce(pub SamplerKind);

impl MultiMethod for Bce {
    fn fit(&self, ctx: &MultiContext) -> Result<MultiFitted> {
        let cfg = ctx.config;
        let search = Search::new(cfg.tune, cfg, cfg.epochs);
        let candidates = search.candidates();
        let mut curve = Vec::new();
        let mut best: Option<(f64, MultiFitted)> = None;
        for &epochs in &search.epochs {
            let pass = config_for(cfg, epochs, cfg.epochs);
            let spec = BceSpec {
                sampler: self.0,
                epochs,
                pos_weights: None,
                train_offset: None,
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
                    let chosen = json!({"settings": settings, "sampler": self.0});
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
        Ok(fitted)
    }
}
