//! The "joint" head: W·x + b trained with cross-entropy under one sampler
//! (instance-balanced is the paper's stage 1; class-balanced, square-root and
//! progressively-balanced are its sampling baselines).

use super::{sweep, Context, Fitted, Method};
use crate::sampling::SamplerKind;
use crate::train::LinearSpec;
use anyhow::Result;

pub struct Joint(pub SamplerKind);

impl Method for Joint {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        if self.0 == SamplerKind::InstanceBalanced {
            let (trial, chosen) = ctx.stage1_chosen()?;
            return Ok(Fitted::new(
                trial.head().expect("a chosen trial has a head"),
                serde_json::Value::Object(chosen),
            ));
        }
        let cfg = ctx.config;
        let search = ctx.search(cfg.epochs);
        // Power sampling also searches its exponent; each q is its own sampler.
        let samplers: Vec<(SamplerKind, Vec<(&str, f64)>)> = match self.0 {
            SamplerKind::Power { .. } => search
                .q
                .iter()
                .map(|&q| (SamplerKind::Power { q }, vec![("q", q)]))
                .collect(),
            other => vec![(other, vec![])],
        };
        let mut trials = Vec::new();
        for (sampler, extra) in samplers {
            let purpose = format!("joint/{sampler:?}");
            trials.extend(sweep::train(ctx, &search, cfg.epochs, &extra, |epochs| {
                LinearSpec {
                    sampler,
                    epochs,
                    class_weights: None,
                    train_offset: None,
                    purpose: &purpose,
                }
            })?);
        }
        sweep::fitted(ctx, trials)
    }
}
