//! A reference head from outside emo's own training loop: linfa's multinomial
//! logistic regression (L-BFGS, L2 penalty ½α‖W‖² on the summed log-loss, as
//! scikit-learn's `LogisticRegression(C = 1/α)`). If emo's SGD heads were badly
//! tuned, this one would show it.

use super::{Context, Fitted, Method};
use crate::head::Head;
use anyhow::Result;
use linfa::traits::Fit;
use ndarray::{Array1, Array2};
use tch::{Device, Kind, Tensor};

pub struct LinfaLr;

impl Method for LinfaLr {
    fn stochastic(&self) -> bool {
        false
    }

    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let train = ctx.train;
        let (n, d, c) = (train.len(), train.dim(), train.n_classes);
        let x: Vec<f32> = Vec::try_from(
            train
                .x
                .to_kind(Kind::Float)
                .to_device(Device::Cpu)
                .flatten(0, -1),
        )?;
        let x = Array2::from_shape_vec((n, d), x)?;
        let y = Array1::from_vec(train.labels.clone());
        let model = linfa_logistic::MultiLogisticRegression::default()
            .alpha(ctx.config.linfa_alpha as f32)
            .max_iterations(ctx.config.linfa_max_iterations)
            .fit(&linfa::Dataset::new(x, y))
            .map_err(|e| anyhow::anyhow!("linfa logistic regression failed: {e}"))?;
        // linfa orders its columns by the sorted classes it saw; place them by class id.
        let mut weight = vec![0f32; c * d];
        let mut bias = vec![f32::MIN; c];
        for (col, &class) in model.classes().iter().enumerate() {
            for j in 0..d {
                weight[class * d + j] = model.params()[[j, col]];
            }
            bias[class] = model.intercept()[col];
        }
        let device = train.device();
        Ok(Fitted::plain(Head::Linear {
            weight: Tensor::from_slice(&weight)
                .view([c as i64, d as i64])
                .to(device),
            bias: Tensor::from_slice(&bias).to(device),
        }))
    }
}
