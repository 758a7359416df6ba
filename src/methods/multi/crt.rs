//! cRT for multi-label heads (Kang et al. §4): the stage-1 `bce` head's
//! classifier thrown away and a new one trained from scratch with class-aware
//! sampling (k texts per visited class, `--k`) over the shorter stage-2 schedule
//! (`stage2_epochs`, the base of its epoch search). As in single-label `crt`,
//! the encoder is frozen in both stages, so the stage-2 features are stage 1's
//! and no stage-1 head is needed: what is left of cRT is its sampler and
//! schedule, which is what the comparison with `class-aware` (k = 1, the full
//! schedule) then measures.

use super::bce::{self, Variant};
use super::{MultiContext, MultiFitted, MultiMethod};
use crate::sampling::SamplerKind;
use crate::train::BceSpec;
use anyhow::Result;
use serde_json::{json, Map};

pub struct Crt;

impl MultiMethod for Crt {
    fn fit(&self, ctx: &MultiContext) -> Result<MultiFitted> {
        let sampler = SamplerKind::ClassBalanced { k: ctx.config.k };
        let variant = Variant {
            settings: Map::new(),
            spec: Box::new(move |epochs| BceSpec::plain(sampler, epochs, "crt")),
        };
        let trials = bce::trials(ctx, ctx.config.stage2_epochs, &[variant])?;
        bce::choose(ctx, trials, json!({"sampler": sampler, "loss": "Plain"}))
    }
}
