//! Balanced Softmax (Ren et al., NeurIPS 2020): train on logits + log n_j, so the
//! softmax models the training label distribution, and predict with the plain
//! logits, which then model a balanced one. Uses instance-balanced sampling:
//! combined with class-balanced sampling it would correct the prior twice.

use super::{sweep, Context, Fitted, Method};
use crate::sampling::SamplerKind;
use crate::train::LinearSpec;
use anyhow::Result;

pub struct BalancedSoftmax;

impl Method for BalancedSoftmax {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let cfg = ctx.config;
        let search = ctx.search(cfg.epochs);
        // log n_j and log π_j differ by a constant, which softmax ignores.
        let offset = ctx.train.log_prior();
        let trials = sweep::train(ctx, &search, cfg.epochs, &[], |epochs| LinearSpec {
            sampler: SamplerKind::InstanceBalanced,
            epochs,
            class_weights: None,
            train_offset: Some(offset.shallow_clone()),
            purpose: "balanced-softmax",
        })?;
        sweep::fitted(ctx, trials)
    }
}
