//! NCM, nearest class mean (Kang et al. §4): no training at all. Centre the
//! features on the training mean, L2-normalise them, average each class, and
//! give each text the class whose mean is nearest (squared Euclidean distance).
//! Class means do not care how many examples a class has, which is the point.

use super::{Context, Fitted, Method};
use crate::head::{normalize_rows, Head};
use anyhow::Result;
use tch::{Kind, Tensor};

pub struct Ncm;

impl Method for Ncm {
    fn stochastic(&self) -> bool {
        false
    }

    fn fit(&self, ctx: &Context) -> Result<Fitted> {
        let train = ctx.train;
        let mean = train.x.mean_dim([0].as_slice(), false, Kind::Float);
        let xn = normalize_rows(&(&train.x - &mean));
        let sums = Tensor::zeros(
            [train.n_classes as i64, train.dim() as i64],
            (Kind::Float, train.device()),
        )
        .index_add(0, &train.y, &xn);
        let counts: Vec<f32> = train.counts().iter().map(|&c| c.max(1) as f32).collect();
        let counts = Tensor::from_slice(&counts).to(train.device()).unsqueeze(1);
        Ok(Fitted::plain(Head::NearestMean {
            mean,
            centroids: sums / counts,
        }))
    }
}
