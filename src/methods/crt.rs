//! cRT, classifier re-training (Kang et al. §4): throw the stage-1 classifier
//! away, re-initialise it and train it again with class-balanced sampling on the
//! frozen representation. Here the encoder is frozen in both stages, so cRT
//! differs from the `cb` joint head only in its shorter stage-2 schedule
//! (`stage2_epochs`) — the comparison shows whether that matters.

use super::{Context, Fitted, Method};
use crate::head::Head;
use crate::sampling::SamplerKind;
use crate::train::{train_linear, LinearSpec};
use anyhow::Result;

pub struct Crt;

impl Method for Crt {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let spec = LinearSpec {
            sampler: SamplerKind::ClassBalanced { k: ctx.config.k },
            epochs: ctx.config.stage2_epochs,
            class_weights: None,
            train_offset: None,
            purpose: "crt",
        };
        let (weight, bias) = train_linear(ctx.train, &spec, ctx.config, ctx.seed)?;
        Ok(Fitted::plain(Head::Linear { weight, bias }))
    }
}
