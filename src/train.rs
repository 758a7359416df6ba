//! Training knobs and the one SGD loop every trained head goes through.
//!
//! The defaults live in [`TrainConfig::default`] and nowhere else; the CLI shows
//! them and every output records the config that was used. They were chosen on
//! validation splits (never test) of GoEmotions, GoEmotions-Ekman and CARER with
//! all-MiniLM-L6-v2 embeddings — see the README's design note. The paper's
//! ImageNet settings (weight decay 5e-4) do not carry over: on unit-norm 384-d
//! embeddings such decay keeps W tiny and the head collapses to the majority.

use crate::features::Features;
use crate::sampling::{Sampler, SamplerKind};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Kind, Tensor};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs of the stage-1 (joint) head and of heads trained from scratch.
    pub epochs: usize,
    /// Epochs of the stage-2 retraining (cRT, LWS).
    pub stage2_epochs: usize,
    /// Fewest SGD steps of any training run: on small data (a few hundred
    /// examples are one or two batches) epochs are added until this many steps
    /// are taken, or a head would see only a handful of updates.
    pub min_steps: usize,
    /// Peak learning rate of SGD (cosine-decayed to 0 over training), relative to
    /// the mean squared norm of the training features: the step actually taken is
    /// lr / mean‖x‖², which is lr itself for unit-norm embeddings and keeps the
    /// default stable for encoders that do not normalise.
    pub lr: f64,
    pub momentum: f64,
    pub batch_size: usize,
    /// L2 penalty on W (not on b), added to the loss as wd/2·‖W‖².
    pub weight_decay: f64,
    /// Class-balanced sampler: consecutive examples per visited class.
    pub k: usize,
    /// Power sampler exponent for `--methods sqrt` style sampling (p_j ∝ n_j^q).
    pub q: f64,
    /// Effective-number re-weighting (Cui et al. 2019): w_j ∝ (1−β)/(1−β^n_j).
    pub beta: f64,
    /// Candidate τ for τ-normalisation and logit adjustment, chosen on validation macro-F1.
    pub tau_grid: Vec<f64>,
    /// L2 strength of the linfa logistic regression (its `alpha`, as scikit-learn's 1/C).
    pub linfa_alpha: f64,
    pub linfa_max_iterations: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            stage2_epochs: 5,
            min_steps: 500,
            lr: 8.0,
            momentum: 0.9,
            batch_size: 256,
            weight_decay: 0.0,
            k: 4,
            q: 0.5,
            beta: 0.999,
            tau_grid: (0..=20).map(|i| i as f64 / 10.0).collect(),
            linfa_alpha: 1.0,
            linfa_max_iterations: 100,
        }
    }
}

/// A deterministic random stream for one purpose under one seed, so that adding a
/// method never changes the numbers of another.
pub fn rng_for(seed: u64, purpose: &str) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(purpose.as_bytes());
    let digest = h.finalize();
    ChaCha8Rng::from_seed(digest.into())
}

/// A fresh linear layer, initialised as PyTorch's `nn.Linear` (uniform ±1/√d),
/// drawn from `rng` on the CPU so that the same seed gives the same start on any device.
pub fn init_linear(
    n_classes: usize,
    dim: usize,
    rng: &mut ChaCha8Rng,
    device: tch::Device,
) -> (Tensor, Tensor) {
    let bound = 1.0 / (dim as f64).sqrt();
    let mut draw = |n: usize| -> Tensor {
        let v: Vec<f32> = (0..n)
            .map(|_| rng.gen_range(-bound..bound) as f32)
            .collect();
        Tensor::from_slice(&v).to(device)
    };
    let w = draw(n_classes * dim).view([n_classes as i64, dim as i64]);
    let b = draw(n_classes);
    (w, b)
}

/// What one SGD run optimises.
pub struct SgdRun<'a> {
    pub sampler: SamplerKind,
    pub epochs: usize,
    pub config: &'a TrainConfig,
    pub rng: ChaCha8Rng,
    /// Mean squared norm of what the parameters multiply (features for a linear
    /// head, logits for LWS scales). The step taken is lr / input_scale, so one
    /// learning rate suits inputs of any magnitude.
    pub input_scale: f64,
}

/// Mean over rows of ‖row‖², the `input_scale` of parameters that multiply `x`.
pub fn mean_squared_norm(x: &Tensor) -> f64 {
    x.pow_tensor_scalar(2)
        .sum_dim_intlist([1].as_slice(), false, Kind::Float)
        .mean(Kind::Float)
        .double_value(&[])
}

/// Mini-batch SGD with momentum and a cosine learning-rate schedule over `params`
/// (each must require grad). `loss(x, y)` computes the batch loss from the
/// parameters it closes over. Returns the mean training loss of the last epoch.
pub fn sgd<F>(train: &Features, params: &[Tensor], run: SgdRun, loss: F) -> Result<f64>
where
    F: Fn(&Tensor, &Tensor) -> Tensor,
{
    let cfg = run.config;
    let mut sampler = Sampler::new(run.sampler, &train.labels, train.n_classes, run.rng);
    let batch = cfg.batch_size.max(1);
    let steps_per_epoch = train.len().div_ceil(batch);
    let epochs = run
        .epochs
        .max(cfg.min_steps.div_ceil(steps_per_epoch.max(1)));
    let total_steps = (steps_per_epoch * epochs).max(1);
    let mut velocity: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect();
    let peak_lr = cfg.lr / run.input_scale.max(1e-12);
    let mut step = 0usize;
    let mut last_epoch_loss = f64::NAN;
    for epoch in 0..epochs {
        let order = sampler.epoch(epoch, epochs);
        let order: Vec<i64> = order.into_iter().map(|i| i as i64).collect();
        let order = Tensor::from_slice(&order).to(train.device());
        let mut sum = Tensor::zeros([], (Kind::Float, train.device()));
        for s in 0..steps_per_epoch {
            let idx = order.narrow(
                0,
                (s * batch) as i64,
                (batch.min(train.len() - s * batch)) as i64,
            );
            let x = train.x.index_select(0, &idx);
            let y = train.y.index_select(0, &idx);
            for p in params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            }
            let l = loss(&x, &y);
            l.backward();
            let lr = peak_lr
                * 0.5
                * (1.0 + (std::f64::consts::PI * step as f64 / total_steps as f64).cos());
            tch::no_grad(|| {
                for (p, v) in params.iter().zip(velocity.iter_mut()) {
                    let g = p.grad();
                    *v = &*v * cfg.momentum + &g;
                    let mut p = p.shallow_clone();
                    let _ = p.g_sub_(&(&*v * lr));
                }
            });
            sum += l.detach();
            step += 1;
        }
        last_epoch_loss = sum.double_value(&[]) / steps_per_epoch as f64;
        if !last_epoch_loss.is_finite() {
            anyhow::bail!(
                "training diverged (loss {last_epoch_loss} at epoch {}); lower --lr",
                epoch + 1
            );
        }
    }
    Ok(last_epoch_loss)
}

/// How a linear head is trained from scratch: sampler, optional per-class loss
/// weights (re-weighting) and an optional logit offset used only while training
/// (Balanced Softmax).
pub struct LinearSpec<'a> {
    pub sampler: SamplerKind,
    pub epochs: usize,
    pub class_weights: Option<Vec<f32>>,
    pub train_offset: Option<Tensor>,
    pub purpose: &'a str,
}

/// Trains `W·x + b` with cross-entropy under `spec`. Returns (W, b).
pub fn train_linear(
    train: &Features,
    spec: &LinearSpec,
    cfg: &TrainConfig,
    seed: u64,
) -> Result<(Tensor, Tensor)> {
    let mut rng = rng_for(seed, spec.purpose);
    let (w, b) = init_linear(train.n_classes, train.dim(), &mut rng, train.device());
    let w = w.set_requires_grad(true);
    let b = b.set_requires_grad(true);
    let weights = spec
        .class_weights
        .as_ref()
        .map(|v| Tensor::from_slice(v).to(train.device()));
    let wd = cfg.weight_decay;
    sgd(
        train,
        &[w.shallow_clone(), b.shallow_clone()],
        SgdRun {
            sampler: spec.sampler,
            epochs: spec.epochs,
            config: cfg,
            rng,
            input_scale: mean_squared_norm(&train.x),
        },
        |x, y| {
            let mut logits = x.matmul(&w.tr()) + &b;
            if let Some(off) = &spec.train_offset {
                logits += off;
            }
            let ce = logits.cross_entropy_loss::<&Tensor>(
                y,
                weights.as_ref(),
                tch::Reduction::Mean,
                -100,
                0.0,
            );
            if wd > 0.0 {
                ce + w.pow_tensor_scalar(2).sum(Kind::Float) * (wd / 2.0)
            } else {
                ce
            }
        },
    )?;
    Ok((w.detach(), b.detach()))
}
