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
        // Every stage-1 head that trained (the one that suits ib best need not
        // be the best to re-scale), each with every learning rate of the search:
        // S·L rows of scales trained side by side on one stacked logit product.
        let stage1: Vec<Trial> = ctx
            .stage1()?
            .into_iter()
            .filter(|t| t.weights.is_some())
            .collect();
        if stage1.is_empty() {
            return Err(crate::input_error!(
                "training diverged for every stage-1 setting tried; lower --lr"
            ));
        }
        let cfg = ctx.config;
        let search = ctx.search(cfg.stage2_epochs);
        let (s_n, l_n, c) = (
            stage1.len() as i64,
            search.lr.len() as i64,
            ctx.train.n_classes as i64,
        );
        let heads: Vec<(Tensor, Tensor)> = stage1
            .iter()
            .map(|t| {
                let (w, b) = t.weights.as_ref().expect("filtered");
                (w.shallow_clone(), b.shallow_clone())
            })
            .collect();
        let w_all = Tensor::cat(&heads.iter().map(|(w, _)| w).collect::<Vec<_>>(), 0);
        let b_all = Tensor::cat(&heads.iter().map(|(_, b)| b).collect::<Vec<_>>(), 0);
        // Each scale multiplies one logit: its step is normalised by the mean
        // squared logit of its stage-1 head, folded into that row's rate.
        let scales_of: Vec<f64> = heads
            .iter()
            .map(|(w, b)| {
                tch::no_grad(|| {
                    let z = ctx.train.x.matmul(&w.tr()) + b;
                    mean_squared_norm(&z) / c as f64
                })
            })
            .collect();
        let lrs: Vec<f64> = scales_of
            .iter()
            .flat_map(|sc| search.lr.iter().map(move |lr| lr / sc.max(1e-12)))
            .collect();
        let (mut trials, mut all_scales) = (Vec::new(), Vec::new());
        for &epochs in &search.epochs {
            let pass = sweep::config_for(cfg, epochs, cfg.stage2_epochs);
            let scale =
                Tensor::ones([s_n * l_n, c], (Kind::Float, w_all.device())).set_requires_grad(true);
            let losses = sgd(
                ctx.train,
                &[scale.shallow_clone()],
                SgdRun {
                    sampler: SamplerKind::ClassBalanced { k: cfg.k },
                    epochs,
                    config: &pass,
                    rng: rng_for(ctx.seed, "lws"),
                    input_scale: 1.0,
                    lrs: lrs.clone(),
                },
                |x, y| {
                    let rows = x.size()[0];
                    let z = tch::no_grad(|| b_all.addmm(x, &w_all.tr())).view([rows, s_n, 1, c]);
                    let logp = (z * scale.view([s_n, l_n, c])).log_softmax(3, Kind::Float);
                    let y1 = y.view([rows, 1, 1, 1]).expand([rows, s_n, l_n, 1], false);
                    -logp
                        .gather(3, &y1, false)
                        .mean_dim([0, 3].as_slice(), false, Kind::Float)
                        .view([s_n * l_n])
                },
            )?;
            let ran = effective_epochs(ctx.train.len(), epochs, &pass);
            let scales = scale.detach();
            for (si, (t, (w, b))) in stage1.iter().zip(&heads).enumerate() {
                for (li, &lr) in search.lr.iter().enumerate() {
                    let row = si as i64 * l_n + li as i64;
                    let f = scales.get(row);
                    let loss = losses[row as usize];
                    let finite = loss.is_finite() && f.isfinite().all().int64_value(&[]) == 1;
                    let mut settings = sweep::settings_of(lr, epochs, ran);
                    settings.insert(
                        "stage1".into(),
                        serde_json::Value::Object(t.settings.clone()),
                    );
                    let v: Vec<f64> =
                        Vec::try_from(f.to_kind(Kind::Double).to_device(tch::Device::Cpu))?;
                    all_scales.push(v);
                    trials.push(Trial {
                        settings,
                        weights: finite.then(|| {
                            let Head::Linear { weight, bias } = fold_scales(w, b, &f) else {
                                unreachable!("fold_scales gives a linear head")
                            };
                            (weight, bias)
                        }),
                    });
                }
            }
        }
        let (index, trial, mut chosen) = sweep::choose(ctx, trials)?;
        chosen.insert("scales".into(), serde_json::json!(all_scales[index]));
        Ok(Fitted::new(
            trial.head().expect("a chosen trial has a head"),
            serde_json::Value::Object(chosen),
        ))
    }
}
