//! What every method produces: a head that turns embeddings into class scores.
//! Every linear method (joint, cRT, τ-norm, LWS, logit adjustment, …) folds into
//! one `W·x + b`: LWS's scales multiply the rows of W and b, logit adjustment
//! shifts b, τ-norm rescales W and drops b. That keeps saving, plotting weight
//! norms and predicting the same for all of them; only NCM needs its own form.

use crate::input_error;
use anyhow::Result;
use tch::{Kind, Tensor};

pub enum Head {
    /// logits = x·Wᵀ + b, W `[C, d]`, b `[C]`.
    Linear { weight: Tensor, bias: Tensor },
    /// Nearest class mean (Kang et al.'s NCM): x̂ = (x − mean)/‖x − mean‖,
    /// score_j = −‖x̂ − centroid_j‖².
    NearestMean { mean: Tensor, centroids: Tensor },
}

impl Head {
    pub fn n_classes(&self) -> usize {
        match self {
            Head::Linear { weight, .. } => weight.size()[0] as usize,
            Head::NearestMean { centroids, .. } => centroids.size()[0] as usize,
        }
    }

    pub fn dim(&self) -> usize {
        match self {
            Head::Linear { weight, .. } => weight.size()[1] as usize,
            Head::NearestMean { centroids, .. } => centroids.size()[1] as usize,
        }
    }

    /// Class scores `[n, C]` for `x` `[n, d]`; higher is more likely.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let d = x.size().get(1).copied().unwrap_or(0) as usize;
        if d != self.dim() {
            return Err(input_error!(
                "feature dimension {d} does not match the head's {} (was it trained with another encoder?)",
                self.dim()
            ));
        }
        Ok(tch::no_grad(|| match self {
            Head::Linear { weight, bias } => x.matmul(&weight.tr()) + bias,
            Head::NearestMean { mean, centroids } => {
                let xn = normalize_rows(&(x - mean));
                let dist =
                    xn.pow_tensor_scalar(2)
                        .sum_dim_intlist([1].as_slice(), true, Kind::Float)
                        - xn.matmul(&centroids.tr()) * 2.0
                        + centroids.pow_tensor_scalar(2).sum_dim_intlist(
                            [1].as_slice(),
                            false,
                            Kind::Float,
                        );
                -dist
            }
        }))
    }

    /// The most likely class of each row.
    pub fn predict(&self, x: &Tensor) -> Result<Vec<usize>> {
        let idx = self.logits(x)?.argmax(1, false).to_device(tch::Device::Cpu);
        Ok(Vec::<i64>::try_from(idx)?
            .into_iter()
            .map(|v| v as usize)
            .collect())
    }

    /// ‖W_j‖ per class (the paper's figure 2); `None` for NCM.
    pub fn weight_norms(&self) -> Option<Vec<f64>> {
        match self {
            Head::Linear { weight, .. } => {
                let n = weight
                    .norm_scalaropt_dim(2, [1], false)
                    .to_kind(Kind::Double)
                    .to_device(tch::Device::Cpu);
                Vec::<f64>::try_from(n).ok()
            }
            Head::NearestMean { .. } => None,
        }
    }
}

/// Rows scaled to unit L2 norm (a zero row stays zero), as `F.normalize`.
pub fn normalize_rows(x: &Tensor) -> Tensor {
    let norm = x.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
    x / norm
}
