//! LWS, learnable weight scaling (Kang et al. §4): keep the stage-1 W and b,
//! learn one scale f_j per class (initialised to 1) on the logits,
//! f_j·(W_j·x + b_j), with class-balanced sampling. The scales fold into W and b.

use super::{Context, Fitted, Method};
use crate::head::Head;
use crate::sampling::SamplerKind;
use crate::train::{mean_squared_norm, rng_for, sgd, SgdRun};
use anyhow::Result;
use tch::{Kind, Tensor};

pub struct Lws;

/// f_j·(W_j·x + b_j) as one linear head: rows of W and entries of b scaled by f.
pub fn fold_scales(weight: &Tensor, bias: &Tensor, scales: &Tensor) -> Head {
    Head::Linear {
        weight: weight * scales.unsqueeze(1),
        bias: bias * scales,
    }
}

impl Method for Lws {
    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let (w, b) = ctx.stage1()?;
        let scale = Tensor::ones([w.size()[0]], (Kind::Float, w.device())).set_requires_grad(true);
        sgd(
            ctx.train,
            &[scale.shallow_clone()],
            SgdRun {
                sampler: SamplerKind::ClassBalanced { k: ctx.config.k },
                epochs: ctx.config.stage2_epochs,
                config: ctx.config,
                rng: rng_for(ctx.seed, "lws"),
                // Each scale multiplies one logit: normalise by the mean squared logit.
                input_scale: tch::no_grad(|| {
                    let z = ctx.train.x.matmul(&w.tr()) + &b;
                    mean_squared_norm(&z) / z.size()[1] as f64
                }),
            },
            |x, y| {
                let logits = (x.matmul(&w.tr()) + &b) * &scale;
                logits.cross_entropy_for_logits(y)
            },
        )?;
        let f = scale.detach();
        let scales: Vec<f64> = Vec::try_from(f.to_kind(Kind::Double).to_device(tch::Device::Cpu))?;
        Ok(Fitted {
            head: fold_scales(&w, &b, &f),
            chosen: serde_json::json!({ "scales": scales }),
        })
    }
}
