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
        // Class sums as one-hot(y)ᵀ · x, a matrix product: `index_add` would add
        // with atomics on a GPU, in no fixed order, and the same seed must give
        // the same head.
        let sums = train
            .y
            .one_hot(train.n_classes as i64)
            .to_kind(Kind::Float)
            .transpose(0, 1)
            .matmul(&xn);
        let counts: Vec<f32> = train.counts().iter().map(|&c| c.max(1) as f32).collect();
        let counts = Tensor::from_slice(&counts).to(train.device()).unsqueeze(1);
        Ok(Fitted::plain(Head::NearestMean {
            mean,
            centroids: sums / counts,
        }))
    }
}
