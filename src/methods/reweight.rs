//! Loss re-weighting: instance-balanced sampling, but each example's
//! cross-entropy weighted by its class — inverse frequency N/(C·n_j), or the
//! "effective number" weights of Cui et al. (CVPR 2019), (1−β)/(1−β^n_j),
//! normalised to sum to C. The usual first attempt at a long tail.

use super::{sweep, Context, Fitted, Method};
use crate::sampling::SamplerKind;
use crate::train::LinearSpec;
use anyhow::Result;

pub enum Reweight {
    Inverse,
    EffectiveNumber { beta: f64 },
}

impl Reweight {
    pub fn weights(&self, counts: &[usize]) -> Vec<f32> {
        let c = counts.len() as f64;
        let n: f64 = counts.iter().sum::<usize>() as f64;
        let raw: Vec<f64> = match self {
            Reweight::Inverse => counts.iter().map(|&k| n / (c * k.max(1) as f64)).collect(),
            Reweight::EffectiveNumber { beta } => {
                let w: Vec<f64> = counts
                    .iter()
                    .map(|&k| (1.0 - beta) / (1.0 - beta.powi(k.max(1) as i32)))
                    .collect();
                let s: f64 = w.iter().sum();
                w.into_iter().map(|v| v * c / s).collect()
            }
        };
        raw.into_iter().map(|v| v as f32).collect()
    }
}

impl Method for Reweight {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let cfg = ctx.config;
        let search = ctx.search(cfg.epochs);
        // Effective-number weights also search β; each β is its own loss.
        let variants: Vec<(Reweight, Vec<(&str, f64)>)> = match self {
            Reweight::Inverse => vec![(Reweight::Inverse, vec![])],
            Reweight::EffectiveNumber { .. } => search
                .beta
                .iter()
                .map(|&beta| (Reweight::EffectiveNumber { beta }, vec![("beta", beta)]))
                .collect(),
        };
        let mut trials = Vec::new();
        for (variant, extra) in variants {
            let weights = variant.weights(&ctx.train.counts());
            let purpose = match variant {
                Reweight::Inverse => "reweight/inverse".to_string(),
                Reweight::EffectiveNumber { beta } => format!("reweight/effective-number/{beta}"),
            };
            let mut t = sweep::train(ctx, &search, cfg.epochs, &extra, |epochs| LinearSpec {
                sampler: SamplerKind::InstanceBalanced,
                epochs,
                class_weights: Some(weights.clone()),
                train_offset: None,
                purpose: &purpose,
            })?;
            for trial in &mut t {
                trial
                    .settings
                    .insert("class_weights".into(), serde_json::json!(weights));
            }
            trials.extend(t);
        }
        sweep::fitted(ctx, trials)
    }
}
