//! The "joint" head: W·x + b trained with cross-entropy under one sampler
//! (instance-balanced is the paper's stage 1; class-balanced, square-root and
//! progressively-balanced are its sampling baselines).

use super::{Context, Fitted, Method};
use crate::head::Head;
use crate::sampling::SamplerKind;
use crate::train::{train_linear, LinearSpec};
use anyhow::Result;

pub struct Joint(pub SamplerKind);

impl Method for Joint {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let (weight, bias) = if self.0 == SamplerKind::InstanceBalanced {
            ctx.stage1()?
        } else {
            let purpose = format!("joint/{:?}", self.0);
            let spec = LinearSpec {
                sampler: self.0,
                epochs: ctx.config.epochs,
                class_weights: None,
                train_offset: None,
                purpose: &purpose,
            };
            train_linear(ctx.train, &spec, ctx.config, ctx.seed)?
        };
        Ok(Fitted::plain(Head::Linear { weight, bias }))
    }
}
