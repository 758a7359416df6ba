//! Post-hoc logit adjustment (Menon et al., ICLR 2021): the stage-1 head's
//! logits minus τ·log π_j, π the training class prior. Subtracting the log prior
//! removes what the head learned from label frequencies alone; τ is chosen on
//! validation. Folds into the bias.

use super::{Context, Fitted, Method};
use crate::head::Head;
use anyhow::Result;

pub struct LogitAdjust;

impl Method for LogitAdjust {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let log_prior = ctx.train.log_prior();
        ctx.choose_with_stage1("tau", &ctx.config.tau_grid, |w, b, tau| Head::Linear {
            weight: w.shallow_clone(),
            bias: b - &log_prior * tau,
        })
    }
}
