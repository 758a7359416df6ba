//! Balanced Softmax (Ren et al., NeurIPS 2020): train on logits + log n_j, so the
//! softmax models the training label distribution, and predict with the plain
//! logits, which then model a balanced one. Uses instance-balanced sampling:
//! combined with class-balanced sampling it would correct the prior twice.

use super::{Context, Fitted, Method};
use crate::head::Head;
use crate::sampling::SamplerKind;
use crate::train::{train_linear, LinearSpec};
use anyhow::Result;

pub struct BalancedSoftmax;

impl Method for BalancedSoftmax {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        // log n_j and log π_j differ by a constant, which softmax ignores.
        let spec = LinearSpec {
            sampler: SamplerKind::InstanceBalanced,
            epochs: ctx.config.epochs,
            class_weights: None,
            train_offset: Some(ctx.train.log_prior()),
            purpose: "balanced-softmax",
        };
        let (weight, bias) = train_linear(ctx.train, &spec, ctx.config, ctx.seed)?;
        Ok(Fitted::plain(Head::Linear { weight, bias }))
    }
}
