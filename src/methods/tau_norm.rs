//! τ-normalisation (Kang et al. §4): instance-balanced training leaves frequent
//! classes with larger weight norms, so their logits win. Dividing each class's
//! weight vector by ‖W_j‖^τ (and dropping the bias) evens that out; τ = 0 is the
//! stage-1 head without bias, τ = 1 fully normalised. τ is chosen on validation.

use super::{Context, Fitted, Method};
use crate::head::Head;
use anyhow::Result;
use tch::Tensor;

pub struct TauNorm;

/// W_j / ‖W_j‖^τ, bias zero.
pub fn tau_normalise(weight: &Tensor, tau: f64) -> Head {
    let norms = weight.norm_scalaropt_dim(2, [1], true);
    let weight = weight / norms.pow_tensor_scalar(tau);
    let bias = weight
        .zeros_like()
        .sum_dim_intlist([1].as_slice(), false, tch::Kind::Float);
    Head::Linear { weight, bias }
}

impl Method for TauNorm {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        ctx.choose_with_stage1("tau", &ctx.config.tau_grid, |w, _, tau| {
            tau_normalise(w, tau)
        })
    }
}
