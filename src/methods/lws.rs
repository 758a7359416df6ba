//! LWS, learnable weight scaling (Kang et al. §4): keep the stage-1 W and b,
//! learn one scale f_j per class (initialised to 1) on the logits,
//! f_j·(W_j·x + b_j), with class-balanced sampling. The scales fold into W and b.

use super::sweep::{self, Trial};
use super::{Context, Fitted, Method};
use crate::head::Head;
use crate::sampling::SamplerKind;
use crate::train::{effective_epochs, mean_squared_norm, rng_for, sgd, SgdRun};
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
        let (stage1, stage1_chosen) = ctx.stage1_chosen()?;
        let (w, b) = stage1.weights.expect("a chosen trial has a head");
        let cfg = ctx.config;
        let search = ctx.search(cfg.stage2_epochs);
        let l = search.lr.len() as i64;
        // Each scale multiplies one logit: normalise by the mean squared logit.
        let input_scale = tch::no_grad(|| {
            let z = ctx.train.x.matmul(&w.tr()) + &b;
            mean_squared_norm(&z) / z.size()[1] as f64
        });
        let (mut trials, mut all_scales) = (Vec::new(), Vec::new());
        for &epochs in &search.epochs {
            let pass = sweep::config_for(cfg, epochs, cfg.stage2_epochs);
            // One row of scales per learning rate, trained side by side.
            let scale =
                Tensor::ones([l, w.size()[0]], (Kind::Float, w.device())).set_requires_grad(true);
            let losses = sgd(
                ctx.train,
                &[scale.shallow_clone()],
                SgdRun {
                    sampler: SamplerKind::ClassBalanced { k: cfg.k },
                    epochs,
                    config: &pass,
                    rng: rng_for(ctx.seed, "lws"),
                    input_scale,
                    lrs: search.lr.clone(),
                },
                |x, y| {
                    let z = tch::no_grad(|| x.matmul(&w.tr()) + &b);
                    let logp = (z.unsqueeze(1) * &scale).log_softmax(2, Kind::Float);
                    let rows = x.size()[0];
                    let y1 = y.view([rows, 1, 1]).expand([rows, l, 1], false);
                    -logp
                        .gather(2, &y1, false)
                        .mean_dim([0, 2].as_slice(), false, Kind::Float)
                },
            )?;
            let ran = effective_epochs(ctx.train.len(), epochs, &pass);
            let scales = scale.detach();
            for (i, (&lr, loss)) in search.lr.iter().zip(losses).enumerate() {
                let f = scales.get(i as i64);
                let finite = loss.is_finite() && f.isfinite().all().int64_value(&[]) == 1;
                let settings = sweep::settings_of(lr, epochs, ran);
                let v: Vec<f64> =
                    Vec::try_from(f.to_kind(Kind::Double).to_device(tch::Device::Cpu))?;
                all_scales.push((settings.clone(), v));
                trials.push(Trial {
                    settings,
                    weights: finite.then(|| {
                        let Head::Linear { weight, bias } = fold_scales(&w, &b, &f) else {
                            unreachable!("fold_scales gives a linear head")
                        };
                        (weight, bias)
                    }),
                });
            }
        }
        let (trial, mut chosen) = sweep::choose(ctx, trials)?;
        let scales = all_scales
            .into_iter()
            .find(|(s, _)| *s == trial.settings)
            .map(|(_, v)| v)
            .expect("every trial's scales are kept");
        chosen.insert("scales".into(), serde_json::json!(scales));
        chosen.insert("stage1".into(), serde_json::Value::Object(stage1_chosen));
        Ok(Fitted {
            head: trial.head().expect("a chosen trial has a head"),
            chosen: serde_json::Value::Object(chosen),
        })
    }
}
