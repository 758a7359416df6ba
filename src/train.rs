//! Training knobs and the one SGD loop every trained head goes through.
//!
//! The defaults live in [`TrainConfig::default`] and nowhere else; the CLI shows
//! them and every output records the config that was used. They were chosen on
//! validation splits (never test) of GoEmotions, GoEmotions-Ekman and CARER with
//! all-MiniLM-L6-v2 embeddings — see docs/methods.md (defaults). The paper's
//! ImageNet settings (weight decay 5e-4) do not carry over: on unit-norm 384-d
//! embeddings such decay keeps W tiny and the head collapses to the majority.

use crate::candidate::Candidate;
use crate::data::LabelSet;
use crate::features::{Features, Targets};
use crate::sampling::{Sampler, SamplerKind};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Kind, Tensor};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Models saved before a field existed load with its default.
#[serde(default)]
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
    /// Candidate C (scikit-learn's inverse L2 strength) of the converged logistic
    /// regression, chosen on validation macro-F1.
    pub logreg_c_grid: Vec<f64>,
    /// Its convergence: the largest gradient entry of the objective divided by C·n.
    pub logreg_tolerance: f64,
    pub logreg_max_iterations: usize,
    /// How many settings each SGD-trained head tries before validation chooses
    /// ([`crate::tune::Search`]). Models saved before tuning existed were untuned.
    #[serde(default = "crate::candidate::Tune::none")]
    pub tune: crate::candidate::Tune,
    /// The validation statistic that chooses every hyper-parameter (and, in a
    /// comparison, the recommended method).
    pub select: crate::metrics::Stat,
}

impl TrainConfig {
    /// When the converged logistic regressions (multinomial and one-vs-rest) stop.
    pub fn logreg_stopping(&self) -> crate::logreg::Stopping {
        crate::logreg::Stopping {
            gradient_tolerance: self.logreg_tolerance,
            max_iterations: self.logreg_max_iterations,
        }
    }

    /// The default C grid of the logistic regressions on data of `task`. The
    /// single-label grid spans three decades. On multi-label GoEmotions the
    /// one-vs-rest fits' held-out validation macro-F1 (two runs) was 0.347 at
    /// C = 0.1, 0.378 at 0.5, 0.386–0.388 at 1, 0.390 at 2, 0.384–0.386 at 4 to
    /// 10 and 0.375 at 100: flat within a decade and peaked between 1 and 4,
    /// so the multi-label grid steps by factors of 2 there, with as many fits
    /// as the single-label one.
    pub fn logreg_c_grid_for(task: crate::data::Task) -> Vec<f64> {
        match task {
            crate::data::Task::SingleLabel => vec![0.1, 1.0, 10.0, 100.0],
            crate::data::Task::MultiLabel => vec![0.5, 1.0, 2.0, 4.0],
        }
    }

    /// The C grid in the order the logistic regressions fit it: weakest C first,
    /// so that each fit starts from the previous, more regularised optimum, which
    /// is close and cheap to leave.
    pub fn logreg_c_path(&self) -> Vec<f64> {
        let mut grid = self.logreg_c_grid.clone();
        grid.sort_by(f64::total_cmp);
        grid
    }
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
            logreg_c_grid: TrainConfig::logreg_c_grid_for(crate::data::Task::SingleLabel),
            logreg_tolerance: 1e-5,
            logreg_max_iterations: 1000,
            tune: crate::candidate::Tune::Quick,
            select: crate::metrics::Stat::MacroF1,
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
    /// Peak learning rates, one per candidate trained side by side (the
    /// parameters then carry the candidates along their first dimension).
    pub lrs: Vec<f64>,
}

/// Mean over rows of ‖row‖², the `input_scale` of parameters that multiply `x`.
pub fn mean_squared_norm(x: &Tensor) -> f64 {
    x.pow_tensor_scalar(2)
        .sum_dim_intlist([1].as_slice(), false, Kind::Float)
        .mean(Kind::Float)
        .double_value(&[])
}

/// The number of epochs a run of `epochs` takes on `n` examples: at least
/// enough for `min_steps` steps (a few hundred examples are one or two batches).
pub fn effective_epochs(n: usize, epochs: usize, cfg: &TrainConfig) -> usize {
    let steps_per_epoch = n.div_ceil(cfg.batch_size.max(1)).max(1);
    epochs.max(cfg.min_steps.div_ceil(steps_per_epoch))
}

/// The schedule every SGD run shares: epochs of mini-batches drawn by the
/// sampler, a cosine learning-rate factor from `1 / input_scale` down to zero
/// (each candidate's peak rate multiplies it), and a divergence check.
/// `step(x, y, factor)` updates the parameters from one batch and returns its
/// loss per candidate (`[L]`, or a scalar for one). Returns the mean training
/// loss of the last epoch per candidate; a candidate whose loss stopped being
/// finite is NaN there, and the run fails only when every candidate diverged.
fn sgd_schedule<L, S>(train: &Features<L>, run: SgdRun, mut step: S) -> Result<Vec<f64>>
where
    L: Targets,
    S: FnMut(&Tensor, &Tensor, f64) -> Tensor,
{
    let cfg = run.config;
    let mut sampler = Sampler::new(run.sampler, &train.labels, train.n_classes, run.rng);
    let batch = cfg.batch_size.max(1);
    let steps_per_epoch = train.len().div_ceil(batch);
    let epochs = effective_epochs(train.len(), run.epochs, cfg);
    let total_steps = (steps_per_epoch * epochs).max(1);
    let peak = 1.0 / run.input_scale.max(1e-12);
    let mut done = 0usize;
    let mut last_epoch_loss = vec![f64::NAN; run.lrs.len()];
    for epoch in 0..epochs {
        let order = sampler.epoch(epoch, epochs);
        let order: Vec<i64> = order.into_iter().map(|i| i as i64).collect();
        let order = Tensor::from_slice(&order).to(train.device());
        // One gather per epoch; each batch is then a view, not a copy.
        let (xs, ys) = (
            train.x.index_select(0, &order),
            train.y.index_select(0, &order),
        );
        let mut sum = Tensor::zeros([run.lrs.len() as i64], (Kind::Float, train.device()));
        for s in 0..steps_per_epoch {
            let (start, len) = (
                (s * batch) as i64,
                (batch.min(train.len() - s * batch)) as i64,
            );
            let x = xs.narrow(0, start, len);
            let y = ys.narrow(0, start, len);
            let factor = peak
                * 0.5
                * (1.0 + (std::f64::consts::PI * done as f64 / total_steps as f64).cos());
            sum += step(&x, &y, factor);
            done += 1;
        }
        let sum: Vec<f64> = Vec::try_from(sum.to_kind(Kind::Double).to_device(tch::Device::Cpu))?;
        last_epoch_loss = sum.iter().map(|l| l / steps_per_epoch as f64).collect();
        if last_epoch_loss.iter().all(|l| !l.is_finite()) {
            // The learning rate is the user's to lower: an input error (exit 2).
            return Err(crate::input_error!(
                "training diverged (loss {} at epoch {}); lower --lr",
                last_epoch_loss[0],
                epoch + 1
            ));
        }
    }
    Ok(last_epoch_loss)
}

/// One value per candidate (a learning rate, a weight decay) shaped to scale a
/// parameter of `dims` dimensions whose first dimension holds `rows` entries
/// per candidate (a scalar for one candidate).
fn per_candidate(values: &[f64], rows: usize, dims: usize, device: tch::Device) -> Tensor {
    if values.len() == 1 {
        return Tensor::from(values[0] as f32).to(device);
    }
    let v: Vec<f32> = values
        .iter()
        .flat_map(|&l| std::iter::repeat_n(l as f32, rows))
        .collect();
    let mut shape = vec![v.len() as i64];
    shape.resize(dims.max(1), 1);
    Tensor::from_slice(&v).view(shape.as_slice()).to(device)
}

/// Mini-batch SGD with momentum over `params` (each must require grad), on
/// [`sgd_schedule`]. `loss(x, y)` computes the batch loss per candidate (`[L]`)
/// from the parameters it closes over; autograd takes the gradients of their
/// sum, which for parameters stacked by candidate along their first dimension
/// are each candidate's own. Returns the mean training loss of the last epoch
/// per candidate.
pub fn sgd<L, F>(train: &Features<L>, params: &[Tensor], run: SgdRun, loss: F) -> Result<Vec<f64>>
where
    L: Targets,
    F: Fn(&Tensor, &Tensor) -> Tensor,
{
    let momentum = run.config.momentum;
    let lrs: Vec<Tensor> = params
        .iter()
        .map(|p| {
            let per = p.size().first().map_or(1, |&n| n as usize / run.lrs.len());
            per_candidate(&run.lrs, per, p.dim(), p.device())
        })
        .collect();
    let mut velocity: Vec<Tensor> = params.iter().map(|p| p.zeros_like()).collect();
    sgd_schedule(train, run, |x, y, factor| {
        for p in params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        let l = loss(x, y);
        l.sum(Kind::Float).backward();
        tch::no_grad(|| {
            for ((p, v), lr) in params.iter().zip(velocity.iter_mut()).zip(&lrs) {
                momentum_step(p, v, &p.grad(), momentum, &(lr * factor));
            }
        });
        l.detach()
    })
}

/// `v ← momentum·v + g; p ← p − lr·v`, in place (`lr` a scalar tensor or one
/// broadcast over the candidates).
fn momentum_step(p: &Tensor, v: &mut Tensor, g: &Tensor, momentum: f64, lr: &Tensor) {
    let _ = v.g_mul_scalar_(momentum).g_add_(g);
    let mut p = p.shallow_clone();
    let _ = p.g_sub_(&(&*v * lr));
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

/// Trains `W·x + b` with cross-entropy under `spec`, one head per candidate,
/// side by side: the same start, the same batches in the same order, different
/// learning rates and weight decays, the L heads stacked into one `[L·C, d]`
/// matrix so that each step is one matrix product for all. Honest sharing: a candidate's head is what training it
/// alone would give (to rounding), because no candidate's numbers enter
/// another's. `None` for a candidate that diverged.
pub fn train_linear_candidates(
    train: &Features,
    spec: &LinearSpec,
    cfg: &TrainConfig,
    seed: u64,
    candidates: &[Candidate],
) -> Result<Vec<Option<(Tensor, Tensor)>>> {
    let (l, dev) = (candidates.len() as i64, train.device());
    let weights = spec
        .class_weights
        .as_ref()
        .map(|v| Tensor::from_slice(v).to(dev));
    let batch = cfg.batch_size.max(1) as i64;
    let minus_one = Tensor::full([batch, l, 1], -1.0, (Kind::Float, dev));
    let stacked = Stacked {
        sampler: spec.sampler,
        epochs: spec.epochs,
        purpose: spec.purpose,
    };
    train_stacked(train, &stacked, cfg, seed, candidates, |mut logits, y| {
        let rows = logits.size()[0];
        if let Some(off) = &spec.train_offset {
            logits += off;
        }
        let logp = logits.log_softmax(2, Kind::Float);
        let y1 = y.view([rows, 1, 1]).expand([rows, l, 1], false);
        // Per-row weight of the mean, as torch's weighted cross-entropy: w_y / Σ w_y.
        let row_w = match &weights {
            Some(cw) => {
                let r = cw.index_select(0, y);
                &r / r.sum(Kind::Float)
            }
            None => Tensor::full([rows], 1.0 / rows as f64, (Kind::Float, dev)),
        }
        .view([rows, 1, 1]);
        let loss = -(logp.gather(2, &y1, false) * &row_w).sum_dim_intlist(
            [0, 2].as_slice(),
            false,
            Kind::Float,
        );
        // d loss / d logits = row_w · (softmax − one_hot(y)).
        let mut g = logp.exp();
        let _ = g.scatter_add_(2, &y1, &minus_one.narrow(0, 0, rows));
        let _ = g.g_mul_(&row_w);
        (loss, g)
    })
}

/// How a multi-label linear head is trained from scratch: one sigmoid per class
/// under binary cross-entropy, with optional per-class weights on the positive
/// term (re-weighted BCE) and an optional logit offset used only while training
/// (logit-adjusted BCE, DB's class-specific bias). The last three fields reshape
/// each (text, class) term for the losses that are not plain BCE; [`BceSpec::plain`]
/// leaves them off.
pub struct BceSpec<'a> {
    pub sampler: SamplerKind,
    pub epochs: usize,
    pub pos_weights: Option<Vec<f32>>,
    pub train_offset: Option<Tensor>,
    pub purpose: &'a str,
    /// Focal loss's γ (Lin et al. 2017): each term scaled by (1 − p_t)^γ, p_t the
    /// probability given to the term's true side, so that terms the head already
    /// gets right fade. 0: none.
    pub focal_gamma: f64,
    /// Negative-tolerant regularisation's λ (Wu et al. 2020): a negative's logit
    /// is multiplied by λ and its term divided by λ, so its gradient saturates
    /// at a lower loss and the many negatives of a rare class stop pushing it
    /// down once it is moderately low. 1: none.
    pub neg_scale: f64,
    /// A weight for every (text, class) term computed from the batch's label
    /// rows (`[rows, C]` multi-hot to `[rows, C]`): DB's re-balanced weighting,
    /// which depends on the other labels a text carries, not only on the class.
    pub label_weights: Option<&'a dyn Fn(&Tensor) -> Tensor>,
}

impl<'a> BceSpec<'a> {
    /// Plain BCE under `sampler`: no weights, offset, focusing or tolerance.
    pub fn plain(sampler: SamplerKind, epochs: usize, purpose: &'a str) -> BceSpec<'a> {
        BceSpec {
            sampler,
            epochs,
            pos_weights: None,
            train_offset: None,
            purpose,
            focal_gamma: 0.0,
            neg_scale: 1.0,
            label_weights: None,
        }
    }

    /// Whether every term is binary cross-entropy (with positive weights at most).
    fn is_bce(&self) -> bool {
        self.focal_gamma == 0.0 && self.neg_scale == 1.0 && self.label_weights.is_none()
    }
}

/// [`train_linear_candidates`] for multi-label data: the loss of a text is the
/// sum over classes of each class's binary cross-entropy (so that a class's
/// gradient is as large as under softmax cross-entropy, and the learning rates
/// tuned for it carry over), averaged over the batch; focal, negative-tolerant
/// and label-weighted terms ([`BceSpec`]) sum and average the same way.
pub fn train_bce_candidates(
    train: &Features<LabelSet>,
    spec: &BceSpec,
    cfg: &TrainConfig,
    seed: u64,
    candidates: &[Candidate],
) -> Result<Vec<Option<(Tensor, Tensor)>>> {
    let (l, c, dev) = (
        candidates.len() as i64,
        train.n_classes as i64,
        train.device(),
    );
    let pos_w = spec
        .pos_weights
        .as_ref()
        .map(|v| Tensor::from_slice(v).to(dev).view([1, 1, c]));
    let stacked = Stacked {
        sampler: spec.sampler,
        epochs: spec.epochs,
        purpose: spec.purpose,
    };
    let general = !spec.is_bce();
    train_stacked(train, &stacked, cfg, seed, candidates, |mut logits, y| {
        let rows = logits.size()[0];
        if let Some(off) = &spec.train_offset {
            logits += off;
        }
        if general {
            return shaped_sigmoid_loss(&logits, y, spec, pos_w.as_ref());
        }
        let y = y.view([rows, 1, c]).expand([rows, l, c], false);
        // With pos_weight w: loss = (1 − y)·z + (1 + (w − 1)·y)·softplus(−z), as
        // torch's BCEWithLogits computes it (stable for any z); its gradient is
        // σ(z)·(w·y + 1 − y) − w·y.
        let weight_pos = match &pos_w {
            Some(w) => &y * w,
            None => y.shallow_clone(),
        };
        let not_y: Tensor = y.neg() + 1.0;
        let softplus_neg: Tensor = logits.abs().neg().exp().log1p() + logits.neg().relu();
        let per: Tensor = &not_y * &logits + (&not_y + &weight_pos) * softplus_neg;
        let scale = 1.0 / rows as f64;
        let loss = per.sum_dim_intlist([0, 2].as_slice(), false, Kind::Float) * scale;
        let g: Tensor = (logits.sigmoid() * (&not_y + &weight_pos) - &weight_pos) * scale;
        (loss, g)
    })
}

/// Loss and logit gradient of the terms that are not plain BCE, for logits
/// `z` `[rows, L, C]` (training offset added) and multi-hot `y` `[rows, C]`.
/// Each term is written on its true side's margin u (u = z for a positive,
/// u = −λz for a negative, so that λ = 1 is BCE's −z) as
/// c·(1 − σ(u))^γ·softplus(−u), c the term's weight (positive weight or 1/λ,
/// times the label weight); then ∂/∂u = −c·(1 − σ(u))^γ·(γ·σ(u)·softplus(−u) + 1 − σ(u))
/// and ∂u/∂z is 1 or −λ. With γ = 0 and λ = 1 this is the BCE gradient.
fn shaped_sigmoid_loss(
    z: &Tensor,
    y: &Tensor,
    spec: &BceSpec,
    pos_w: Option<&Tensor>,
) -> (Tensor, Tensor) {
    let (rows, c) = (z.size()[0], z.size()[2]);
    let lambda = spec.neg_scale;
    let y3 = y.view([rows, 1, c]);
    let not_y: Tensor = y3.neg() + 1.0;
    // ∂u/∂z: 1 for a positive, −λ for a negative.
    let du_dz: Tensor = &y3 * (1.0 + lambda) - lambda;
    let u = z * &du_dz;
    let mut weight: Tensor = match pos_w {
        Some(w) => &y3 * w,
        None => y3.shallow_clone(),
    } + &not_y / lambda;
    if let Some(f) = spec.label_weights {
        weight *= f(y).view([rows, 1, c]);
    }
    // softplus(−u) = −log σ(u), stable for any u; 1 − σ(u) = σ(−u) without cancellation.
    let softplus_neg: Tensor = u.abs().neg().exp().log1p() + u.neg().relu();
    let miss = u.neg().sigmoid();
    let gamma = spec.focal_gamma;
    let (focus, inner) = if gamma == 0.0 {
        (None, miss.shallow_clone())
    } else {
        (
            Some(miss.pow_tensor_scalar(gamma)),
            u.sigmoid() * &softplus_neg * gamma + &miss,
        )
    };
    let (per, dl_du) = match &focus {
        Some(f) => (&weight * f * &softplus_neg, -(&weight * f * inner)),
        None => (&weight * &softplus_neg, -(&weight * inner)),
    };
    let scale = 1.0 / rows as f64;
    let loss = per.sum_dim_intlist([0, 2].as_slice(), false, Kind::Float) * scale;
    (loss, dl_du * du_dz * scale)
}

/// What the stacked trainer needs besides the loss: the sampler, the epochs and
/// the name of the random stream.
struct Stacked<'a> {
    sampler: SamplerKind,
    epochs: usize,
    purpose: &'a str,
}

/// Candidates of one linear head trained side by side (see
/// [`train_linear_candidates`]) under any loss whose gradient with respect to
/// the logits has a closed form: `loss_and_grad(logits [rows, L, C], y)` gives
/// each candidate's batch loss `[L]` and that gradient. Linear heads skip
/// autograd: with one small matrix product per step, building and walking the
/// autograd graph costs as much as the arithmetic.
fn train_stacked<L, G>(
    train: &Features<L>,
    spec: &Stacked,
    cfg: &TrainConfig,
    seed: u64,
    candidates: &[Candidate],
    mut loss_and_grad: G,
) -> Result<Vec<Option<(Tensor, Tensor)>>>
where
    L: Targets,
    G: FnMut(Tensor, &Tensor) -> (Tensor, Tensor),
{
    let (l, c, dev) = (candidates.len(), train.n_classes, train.device());
    if l == 0 {
        return Ok(Vec::new());
    }
    let mut rng = rng_for(seed, spec.purpose);
    let (w0, b0) = init_linear(c, train.dim(), &mut rng, dev);
    let (w, b) = (w0.repeat([l as i64, 1]), b0.repeat([l as i64]));
    let wds: Vec<f64> = candidates.iter().map(|k| k.weight_decay).collect();
    let any_wd = wds.iter().any(|&d| d > 0.0);
    let wd_w = per_candidate(&wds, c, 2, dev);
    let wd_l = Tensor::from_slice(&wds.iter().map(|&d| d as f32).collect::<Vec<_>>()).to(dev);
    let lrs: Vec<f64> = candidates.iter().map(|k| k.lr).collect();
    let (lr_w, lr_b) = (
        per_candidate(&lrs, c, 2, dev),
        per_candidate(&lrs, c, 1, dev),
    );
    let run = SgdRun {
        sampler: spec.sampler,
        epochs: spec.epochs,
        config: cfg,
        rng,
        input_scale: mean_squared_norm(&train.x),
        lrs,
    };
    let (mut vw, mut vb) = (w.zeros_like(), b.zeros_like());
    let losses = sgd_schedule(train, run, |x, y, factor| {
        let rows = x.size()[0];
        let logits = b.addmm(x, &w.tr()).view([rows, l as i64, c as i64]);
        let (loss, g) = loss_and_grad(logits, y);
        let g = g.view([rows, (l * c) as i64]);
        let mut gw = g.tr().mm(x);
        if any_wd {
            let _ = gw.g_add_(&(&w * &wd_w));
        }
        let gb = g.sum_dim_intlist([0].as_slice(), false, Kind::Float);
        momentum_step(&w, &mut vw, &gw, cfg.momentum, &(&lr_w * factor));
        momentum_step(&b, &mut vb, &gb, cfg.momentum, &(&lr_b * factor));
        if any_wd {
            let sq = w
                .pow_tensor_scalar(2)
                .sum_dim_intlist([1].as_slice(), false, Kind::Float)
                .view([l as i64, c as i64])
                .sum_dim_intlist([1].as_slice(), false, Kind::Float);
            loss + sq * &wd_l / 2.0
        } else {
            loss
        }
    })?;
    let (ws, bs) = (w.chunk(l as i64, 0), b.chunk(l as i64, 0));
    Ok(ws
        .into_iter()
        .zip(bs)
        .zip(losses)
        .map(|((w, b), loss)| {
            let finite = loss.is_finite()
                && w.isfinite().all().int64_value(&[]) == 1
                && b.isfinite().all().int64_value(&[]) == 1;
            finite.then_some((w, b))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::Matrix;

    /// `n` random `d`-dimensional features in `c` classes, on the CPU.
    fn random_features(n: usize, d: usize, c: usize, seed: u64) -> Features {
        let mut rng = rng_for(seed, "test data");
        let data: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let labels: Vec<usize> = (0..n).map(|i| (i * 7 + i / 5) % c).collect();
        let m = Matrix {
            rows: n,
            cols: d,
            data,
        };
        Features::new("test", &m, &labels, c, tch::Device::Cpu).unwrap()
    }

    /// The closed-form cross-entropy gradient of `train_linear_candidates` against autograd
    /// on the same loss: same sampler, same initial weights, same schedule, so the
    /// trained weights must agree to rounding — with class weights, a training
    /// offset and weight decay all on, where a wrong term would show.
    #[test]
    fn closed_form_gradient_matches_autograd() {
        let (d, c) = (8usize, 3usize);
        let train = random_features(300, d, c, 7);
        let cfg = TrainConfig {
            weight_decay: 0.01,
            batch_size: 32,
            min_steps: 50,
            ..TrainConfig::default()
        };
        let class_weights = vec![0.5f32, 1.0, 2.0];
        let offset = Tensor::from_slice(&[0.3f32, -0.2, 0.1]);
        let spec = LinearSpec {
            sampler: SamplerKind::InstanceBalanced,
            epochs: 3,
            class_weights: Some(class_weights.clone()),
            train_offset: Some(offset.shallow_clone()),
            purpose: "check",
        };
        let one = Candidate {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
        };
        let (w, b) = train_linear_candidates(&train, &spec, &cfg, 1, &[one])
            .unwrap()
            .pop()
            .flatten()
            .unwrap();

        let cw = Tensor::from_slice(&class_weights);
        assert_matches_autograd(&train, &cfg, (&w, &b), |logits, y| {
            (logits + &offset).cross_entropy_loss::<&Tensor>(
                y,
                Some(&cw),
                tch::Reduction::Mean,
                -100,
                0.0,
            )
        });
    }

    /// Trains the same head by autograd on `loss(logits, y)` plus the weight
    /// decay — same seed and stream ("check"), sampler, schedule and 3 epochs as
    /// the closed-form run that gave `trained` — and asks both to agree to
    /// rounding.
    fn assert_matches_autograd<L: Targets>(
        train: &Features<L>,
        cfg: &TrainConfig,
        trained: (&Tensor, &Tensor),
        loss: impl Fn(Tensor, &Tensor) -> Tensor,
    ) {
        let (w, b) = trained;
        let mut rng = rng_for(1, "check");
        let (w0, b0) = init_linear(train.n_classes, train.dim(), &mut rng, tch::Device::Cpu);
        let (w0, b0) = (w0.set_requires_grad(true), b0.set_requires_grad(true));
        sgd(
            train,
            &[w0.shallow_clone(), b0.shallow_clone()],
            SgdRun {
                sampler: SamplerKind::InstanceBalanced,
                epochs: 3,
                config: cfg,
                rng,
                input_scale: mean_squared_norm(&train.x),
                lrs: vec![cfg.lr],
            },
            |x, y| {
                loss(x.matmul(&w0.tr()) + &b0, y)
                    + w0.pow_tensor_scalar(2).sum(Kind::Float) * (cfg.weight_decay / 2.0)
            },
        )
        .unwrap();
        let dw = (w - &w0.detach()).abs().max().double_value(&[]);
        let db = (b - &b0.detach()).abs().max().double_value(&[]);
        let scale = w.abs().max().double_value(&[]);
        assert!(scale > 0.1, "the head learned something ({scale})");
        assert!(
            dw < 1e-4 && db < 1e-4,
            "weights differ by {dw}, biases by {db}"
        );
    }

    /// 300 random texts in 4 classes with label sets of zero to three classes,
    /// and a config with weight decay on and short batches.
    fn multi_label_check_data() -> (Features<LabelSet>, TrainConfig) {
        let (n, d, c) = (300usize, 8usize, 4usize);
        let base = random_features(n, d, c, 5);
        let sets: Vec<LabelSet> = (0..n)
            .map(|i| {
                let v: Vec<usize> = (0..c)
                    .filter(|k| (i * 31 + k * 17) % (k + 3) == 0)
                    .collect();
                LabelSet::new(v).unwrap()
            })
            .collect();
        assert!(sets.iter().any(|s| s.is_empty()) && sets.iter().any(|s| s.len() >= 2));
        let m = crate::embed::Matrix {
            rows: n,
            cols: d,
            data: Vec::<f32>::try_from(base.x.view([-1])).unwrap(),
        };
        let train = Features::new("test", &m, &sets, c, tch::Device::Cpu).unwrap();
        let cfg = TrainConfig {
            weight_decay: 0.01,
            batch_size: 32,
            min_steps: 50,
            ..TrainConfig::default()
        };
        (train, cfg)
    }

    /// The closed-form gradients of the shaped sigmoid terms against autograd
    /// on the losses as their authors' code writes them: torch's BCE with
    /// logits, focal as (1 − p_t)^γ·BCE with p_t = exp(−BCE) (Lin et al.; the
    /// DB repository's ResampleLoss), DB as that repository's ResampleLoss
    /// (`rebalance` weights, `init_bias` added to the logits, negatives' logits
    /// × λ and weights ÷ λ) with its weights computed here from its formula, not
    /// by [`crate::methods::multi::db::Db::weights`]. Cases: focal alone (with
    /// positive weights), DB alone, and DB with focal (the official DB-Focal).
    #[test]
    fn focal_and_db_closed_form_gradients_match_autograd() {
        use crate::methods::multi::db::Db;
        let (train, cfg) = multi_label_check_data();
        let db = Db::default();
        let counts: Vec<f32> = train.counts().iter().map(|&k| k as f32).collect();
        let inv = Tensor::from_slice(&counts.iter().map(|k| 1.0 / k).collect::<Vec<_>>());
        let ours = |y: &Tensor| db.weights(y, &inv);
        let ours: &dyn Fn(&Tensor) -> Tensor = &ours;
        let bias = Tensor::from_slice(&db.bias(&train.counts(), train.len()));
        let pos_weights = vec![0.5f32, 1.0, 2.0, 3.0];
        let pw = Tensor::from_slice(&pos_weights);
        let one = Candidate {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
        };
        for (name, gamma, is_db) in [
            ("focal", 2.0, false),
            ("db", 0.0, true),
            ("db-focal", 2.0, true),
        ] {
            let spec = BceSpec {
                pos_weights: (!is_db).then(|| pos_weights.clone()),
                train_offset: is_db.then(|| bias.shallow_clone()),
                focal_gamma: gamma,
                neg_scale: if is_db { db.neg_scale } else { 1.0 },
                label_weights: is_db.then_some(ours),
                ..BceSpec::plain(SamplerKind::InstanceBalanced, 3, "check")
            };
            let (w, b) = train_bce_candidates(&train, &spec, &cfg, 1, &[one])
                .unwrap()
                .pop()
                .flatten()
                .unwrap();
            eprintln!("{name}");
            assert_matches_autograd(&train, &cfg, (&w, &b), |logits, y| {
                let rows = y.size()[0] as f64;
                let bce = |z: &Tensor, weight: Option<&Tensor>, pos: Option<&Tensor>| {
                    z.binary_cross_entropy_with_logits::<&Tensor>(
                        y,
                        weight,
                        pos,
                        tch::Reduction::None,
                    )
                };
                let (z, weight, pos) = if is_db {
                    let repeat_rate = y.matmul(&inv).unsqueeze(1);
                    let r = inv.unsqueeze(0) / repeat_rate;
                    let weight = ((r - db.mu) * db.beta).sigmoid() + db.alpha;
                    let z = logits + &bias;
                    let not_y = y.neg() + 1.0;
                    let z = &z * &not_y * db.neg_scale + &z * y;
                    let weight = &weight / db.neg_scale * &not_y + &weight * y;
                    (z, Some(weight), None)
                } else {
                    (logits, None, Some(&pw))
                };
                let mut loss = bce(&z, weight.as_ref(), pos);
                if gamma > 0.0 {
                    let pt = bce(&z, None, None).neg().exp();
                    loss = (pt.neg() + 1.0).pow_tensor_scalar(gamma) * loss;
                }
                loss.sum(Kind::Float) / rows
            });
        }
    }

    /// The closed-form gradient of `train_bce_candidates` against autograd on
    /// torch's own `binary_cross_entropy_with_logits` (summed over classes,
    /// averaged over the batch), with positive weights, a training offset and
    /// weight decay on, over label sets of zero to three classes.
    #[test]
    fn bce_closed_form_gradient_matches_autograd() {
        let (train, cfg) = multi_label_check_data();
        let pos_weights = vec![0.5f32, 1.0, 2.0, 3.0];
        let offset = Tensor::from_slice(&[0.3f32, -0.2, 0.1, -0.4]);
        let spec = BceSpec {
            pos_weights: Some(pos_weights.clone()),
            train_offset: Some(offset.shallow_clone()),
            ..BceSpec::plain(SamplerKind::InstanceBalanced, 3, "check")
        };
        let one = Candidate {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
        };
        let (w, b) = train_bce_candidates(&train, &spec, &cfg, 1, &[one])
            .unwrap()
            .pop()
            .flatten()
            .unwrap();

        let pw = Tensor::from_slice(&pos_weights);
        assert_matches_autograd(&train, &cfg, (&w, &b), |logits, y| {
            let rows = y.size()[0] as f64;
            (logits + &offset).binary_cross_entropy_with_logits::<&Tensor>(
                y,
                None,
                Some(&pw),
                tch::Reduction::Sum,
            ) / rows
        });
    }

    /// Candidates trained side by side are the heads each would be alone: same
    /// start, same batches, their own rate and decay (a diverging one among
    /// them is `None` and harms no other).
    #[test]
    fn candidates_side_by_side_are_the_heads_trained_alone() {
        let train = random_features(400, 6, 4, 3);
        let cfg = TrainConfig {
            batch_size: 64,
            min_steps: 30,
            ..TrainConfig::default()
        };
        let spec = LinearSpec {
            sampler: SamplerKind::ClassBalanced { k: 2 },
            epochs: 3,
            class_weights: Some(vec![1.0, 2.0, 0.5, 1.0]),
            train_offset: None,
            purpose: "side by side",
        };
        let cands = [
            Candidate {
                lr: 1.0,
                weight_decay: 0.0,
            },
            Candidate {
                lr: 4.0,
                weight_decay: 0.01,
            },
            Candidate {
                lr: 1e30,
                weight_decay: 0.0,
            },
            Candidate {
                lr: 0.25,
                weight_decay: 0.001,
            },
        ];
        let together = train_linear_candidates(&train, &spec, &cfg, 9, &cands).unwrap();
        assert!(together[2].is_none(), "lr 1e30 diverges");
        for (k, got) in cands.iter().zip(&together) {
            if k.lr > 1e10 {
                continue;
            }
            let alone = train_linear_candidates(&train, &spec, &cfg, 9, &[*k]).unwrap();
            let ((w1, b1), (w2, b2)) = (got.as_ref().unwrap(), alone[0].as_ref().unwrap());
            let dw = (w1 - w2).abs().max().double_value(&[]);
            let db = (b1 - b2).abs().max().double_value(&[]);
            assert!(dw < 1e-5 && db < 1e-5, "{k:?}: differs by {dw}, {db}");
        }
        let (wa, _) = together[0].as_ref().unwrap();
        let (wb, _) = together[1].as_ref().unwrap();
        assert!(
            (wa - wb).abs().max().double_value(&[]) > 0.01,
            "the rates matter"
        );
    }
}
