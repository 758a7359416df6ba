//! Distribution-Balanced loss (Wu et al., ECCV 2020, "Distribution-Balanced Loss
//! for Multi-Label Classification in Long-Tailed Datasets"), on class-aware
//! sampling as in the paper. Class-aware sampling over-samples every label of
//! a text drawn for its rare one, so a text's frequent co-labels are repeated
//! too; DB's re-balanced weighting undoes that per (text, class): r = P^C/P^I,
//! P^C_i ∝ 1/n_i the rate class i is drawn at and P^I(x) ∝ Σ_{i∈y(x)} 1/n_i the
//! rate the text is, smoothed to r̂ = α + σ(β·(r − μ)) and applied to a class's
//! positive and negative term alike. Its negative-tolerant regularisation then
//! stops the many negatives of a rare class from pushing its logit ever lower:
//! a class-specific bias ν_i = κ·logit(n_i/N)/λ is added to the logits while
//! training, a negative's logit is multiplied by λ and its term divided by λ:
//! L_i = −r̂·[y log σ(z_i + ν_i) + (1/λ)(1 − y) log(1 − σ(λ(z_i + ν_i)))].
//! As in the official code the bias is part of the loss only, not of the head
//! used afterwards (per-class thresholds would absorb it anyway).
//!
//! Constants, from the official configuration for COCO-MLT
//! (wutong16/DistributionBalancedLoss, configs/coco/LT_resnet50_pfc_DB.py, the
//! longer-tailed of the paper's two benchmarks with 80 classes, nearer
//! GoEmotions' 28 than VOC's 20): `map_param` α = 0.1, β = 10, μ ("gamma"
//! there) = 0.2, `logit_reg` neg_scale λ = 2 and init_bias κ = 0.05, the bias
//! formula `−log(N/n_i − 1)·κ/λ` from mllt/models/losses/resample_loss.py. The
//! VOC-MLT configuration uses μ = 0.3 and λ = 5. That configuration also turns
//! focal loss on (γ = 2, loss × 2, the paper's "DB-Focal"); `db` is the loss the
//! paper writes as DB, without it (`focal-bce` measures focusing alone).

use super::bce::{self, Variant};
use crate::data::LabelSet;
use crate::methods::{Context, Fitted, Method};
use crate::sampling::SamplerKind;
use crate::train::BceSpec;
use anyhow::Result;
use serde_json::{json, Map};
use tch::{Kind, Tensor};

/// DB's constants (see the module comment for their source).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Db {
    /// Smoothing's floor α.
    pub alpha: f64,
    /// Smoothing's slope β.
    pub beta: f64,
    /// Smoothing's centre μ.
    pub mu: f64,
    /// Negative-tolerant scale λ.
    pub neg_scale: f64,
    /// Class-specific bias strength κ.
    pub kappa: f64,
}

impl Default for Db {
    fn default() -> Self {
        Db {
            alpha: 0.1,
            beta: 10.0,
            mu: 0.2,
            neg_scale: 2.0,
            kappa: 0.05,
        }
    }
}

impl Db {
    /// The smoothed re-balancing weights r̂ `[rows, C]` of texts whose labels
    /// are the multi-hot rows `y` `[rows, C]`, given each class's inverse
    /// training count `inv_count` `[C]`. A text with no label is never drawn by
    /// class-aware sampling; its r is infinite and r̂ = α + 1, the limit the
    /// official code reaches by dividing by zero.
    pub fn weights(&self, y: &Tensor, inv_count: &Tensor) -> Tensor {
        let per_text = y
            .to_kind(Kind::Float)
            .matmul(inv_count)
            .unsqueeze(1)
            .clamp_min(f64::MIN_POSITIVE);
        let r = inv_count.unsqueeze(0) / per_text;
        ((r - self.mu) * self.beta).sigmoid() + self.alpha
    }

    /// The training-only logit bias ν_i = κ·logit(n_i/N)/λ.
    pub fn bias(&self, counts: &[usize], n: usize) -> Vec<f32> {
        counts
            .iter()
            .map(|&k| {
                let p = (k as f64).clamp(0.5, n as f64 - 0.5) / n as f64;
                ((p / (1.0 - p)).ln() * self.kappa / self.neg_scale) as f32
            })
            .collect()
    }
}

impl Method<LabelSet> for Db {
    fn fit(&self, ctx: &Context<LabelSet>) -> Result<Fitted> {
        let train = ctx.train;
        let counts = train.counts();
        let inv: Vec<f32> = counts.iter().map(|&k| 1.0 / k.max(1) as f32).collect();
        let inv = Tensor::from_slice(&inv).to(train.device());
        let bias = Tensor::from_slice(&self.bias(&counts, train.len())).to(train.device());
        let weigh = move |y: &Tensor| self.weights(y, &inv);
        let weigh: &dyn Fn(&Tensor) -> Tensor = &weigh;
        let sampler = SamplerKind::ClassBalanced { k: 1 };
        let variant = Variant {
            settings: Map::new(),
            spec: Box::new(|epochs| BceSpec {
                train_offset: Some(bias.shallow_clone()),
                neg_scale: self.neg_scale,
                label_weights: Some(weigh),
                ..BceSpec::plain(sampler, epochs, "db")
            }),
        };
        let trials = bce::trials(ctx, ctx.config.epochs, &[variant])?;
        bce::choose(
            ctx,
            trials,
            json!({"sampler": sampler, "loss": "db", "db": self}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The point of the re-balancing: a text whose labels are all frequent is
    /// over-drawn by nothing and keeps a small weight; a text carrying a rare
    /// label is drawn for it, so its frequent co-label's term is weighed down
    /// relative to the rare label's own, and the rare label's term weighs more
    /// than any frequent-only text's.
    #[test]
    fn rare_labels_weigh_more_and_their_frequent_co_labels_less() {
        let db = Db::default();
        let counts = [1000.0f32, 800.0, 20.0];
        let inv = Tensor::from_slice(&counts.map(|n| 1.0 / n));
        let y = Tensor::from_slice(&[
            1.0f32, 0.0, 0.0, // frequent only
            1.0, 1.0, 0.0, // two frequent
            1.0, 0.0, 1.0, // frequent + rare
            0.0, 0.0, 1.0, // rare only
            0.0, 0.0, 0.0, // none
        ])
        .view([5, 3]);
        let w: Vec<Vec<f32>> = Vec::try_from(db.weights(&y, &inv)).unwrap();
        // A single-label text: r = 1 for its class, r̂ = α + σ(β(1 − μ)).
        let single = (db.alpha + 1.0 / (1.0 + (-db.beta * (1.0 - db.mu)).exp())) as f32;
        assert!((w[0][0] - single).abs() < 1e-6 && (w[3][2] - single).abs() < 1e-6);
        // Frequent + rare: the rare label carries almost all of P^I.
        assert!(w[2][2] > w[2][0] + 0.5, "{:?}", w[2]);
        assert!(
            w[2][0] < w[1][0],
            "frequent co-label of a rare one: {:?}",
            w
        );
        assert!(w[2][2] > w[1][0].max(w[1][1]), "{:?}", w);
        // Every weight lies in (α, α + 1], the empty text at the top.
        let flat: Vec<f32> = w.iter().flatten().copied().collect();
        assert!(flat
            .iter()
            .all(|&v| v > db.alpha as f32 && v <= db.alpha as f32 + 1.0));
        assert!(w[4]
            .iter()
            .all(|&v| (v - (db.alpha as f32 + 1.0)).abs() < 1e-6));
    }

    /// ν_i = κ·logit(p_i)/λ: negative for a class carried by fewer than half the
    /// texts, the more so the rarer, as the official `init_bias`.
    #[test]
    fn the_class_bias_is_the_scaled_log_odds_of_the_prior() {
        let db = Db::default();
        let b = db.bias(&[500, 100, 10], 1000);
        assert!(b[0].abs() < 1e-7, "p = 0.5 has log-odds 0");
        let expect = ((0.1f64 / 0.9).ln() * 0.05 / 2.0) as f32;
        assert!((b[1] - expect).abs() < 1e-7, "{} vs {expect}", b[1]);
        assert!(b[2] < b[1]);
    }
}
