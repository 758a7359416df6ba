//! cRT, classifier re-training (Kang et al. §4): throw the stage-1 classifier
//! away, re-initialise it and train it again with class-balanced sampling on the
//! frozen representation. Here the encoder is frozen in both stages, so cRT
//! differs from the `cb` joint head only in its shorter stage-2 schedule
//! (`stage2_epochs`, the base of its epoch search) — the comparison shows
//! whether that matters.

use super::{sweep, Context, Fitted, Method};
use crate::sampling::SamplerKind;
use crate::train::LinearSpec;
use anyhow::Result;

pub struct Crt;

impl Method for Crt {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let cfg = ctx.config;
        let search = ctx.search(cfg.stage2_epochs);
        let trials = sweep::train(ctx, &search, cfg.stage2_epochs, &[], |epochs| LinearSpec {
            sampler: SamplerKind::ClassBalanced { k: cfg.k },
            epochs,
            class_weights: None,
            train_offset: None,
            purpose: "crt",
        })?;
        sweep::fitted(ctx, trials)
    }
}
