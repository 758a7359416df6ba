//! A linear head with one sigmoid per class under binary cross-entropy, trained
//! with a given sampler — instance-balanced (`bce`, the multi-label stage 1),
//! class-aware or square-root — and a given loss: plain, re-weighted (each
//! class's positives weighted by its negatives-to-positives ratio, so both sides
//! of every class weigh the same), effective-number re-weighted (the same ratio
//! counted in Cui et al.'s effective numbers), focal (Lin et al. 2017), or
//! logit-adjusted (Menon et al., ICLR 2021, for sigmoids: while training, class
//! j's logit is shifted by τ·log(π_j/(1−π_j)), π_j the share of training texts
//! carrying it, so the head does not have to learn the label frequencies; the
//! head used afterwards has no shift). The learning rates and epochs of
//! `--tune`'s search train side by side; validation macro-F1 at each
//! candidate's own validation thresholds chooses, among them and among the
//! loss's own settings (β, τ) where it has some.

use crate::data::LabelSet;
use crate::features::Features;
use crate::head::Head;
use crate::methods::sweep::{config_for, settings_of};
use crate::methods::{Context, Fitted, Method};
use crate::sampling::SamplerKind;
use crate::train::{effective_epochs, train_bce_candidates, BceSpec};
use anyhow::Result;
use serde_json::{json, Map, Value};

/// The loss a [`Bce`] head trains under.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Loss {
    Plain,
    /// Positives of class j weighted by (N − n_j) / n_j.
    Reweighted,
    /// Positives of class j weighted by E(N − n_j) / E(n_j), E Cui et al.'s
    /// effective number; β from the search.
    EffectiveNumber,
    /// Every term scaled by (1 − p_t)^γ.
    Focal {
        gamma: f64,
    },
    /// Training logits shifted by τ·log-odds of each class's prior; τ from the search.
    LogitAdjusted,
}

pub struct Bce(pub SamplerKind, pub Loss);

/// Positive weights E(N − n_j) / E(n_j), E(n) = (1 − βⁿ)/(1 − β) the effective
/// number of n texts (Cui et al., CVPR 2019). Cui et al. normalise their
/// weights to sum to the number of classes, which suits a softmax where only
/// the ratios between classes matter; a sigmoid's positives are weighed against
/// its own negatives, so the scale matters, and counting both sides in effective
/// numbers gives the one that makes β a dial between the two BCE heads emo
/// already has: β = 0 gives weight 1 (`bce`), β → 1 gives (N − n_j)/n_j
/// (`reweight-bce`), and in between the weights stay ∝ (1 − β)/(1 − β^{n_j})
/// wherever β^{N − n_j} is negligible (N − n_j in the thousands for β = 0.999).
pub fn effective_number_weights(counts: &[usize], n: usize, beta: f64) -> Vec<f32> {
    // (1 − βⁿ) alone: the (1 − β) of numerator and denominator cancel.
    let effective = |k: usize| 1.0 - beta.powi(k.min(i32::MAX as usize) as i32);
    counts
        .iter()
        .map(|&k| {
            let k = k.max(1);
            (effective(n.saturating_sub(k).max(1)) / effective(k)) as f32
        })
        .collect()
}

/// The training offset τ·log(π_j/(1−π_j)) of logit-adjusted BCE.
fn log_odds_shift(train: &Features<LabelSet>, tau: f64) -> tch::Tensor {
    let n = train.len() as f64;
    // A class no training text (or every one) carries gets a finite shift.
    let shift: Vec<f32> = train
        .counts()
        .iter()
        .map(|&k| {
            let p = (k as f64).clamp(0.5, n - 0.5) / n;
            (tau * (p / (1.0 - p)).ln()) as f32
        })
        .collect();
    tch::Tensor::from_slice(&shift).to(train.device())
}

/// One loss a search trains: the settings that name it (β, τ …: recorded with
/// each of its candidates, and read back on a study's later seeds) and its
/// training spec for a pass of so many epochs.
pub struct Variant<'s> {
    pub settings: Map<String, Value>,
    pub spec: Box<dyn Fn(usize) -> BceSpec<'s> + 's>,
}

/// One trained candidate: its settings (learning rate, epochs, weight decay
/// and the variant's own) and its head, `None` when training diverged.
pub type Trial = (Map<String, Value>, Option<Head>);

/// Trains every variant for every epoch count of `ctx.search(base)` (base:
/// the configured epochs of this head), the learning-rate × weight-decay
/// candidates of one pass side by side.
pub fn trials(ctx: &Context<LabelSet>, base: usize, variants: &[Variant]) -> Result<Vec<Trial>> {
    let cfg = ctx.config;
    let search = ctx.search(base);
    let candidates = search.candidates();
    let mut out = Vec::new();
    for variant in variants {
        for &epochs in &search.epochs {
            let pass = config_for(cfg, epochs, base);
            let spec = (variant.spec)(epochs);
            let heads = train_bce_candidates(ctx.train, &spec, &pass, ctx.seed, &candidates)?;
            let ran = effective_epochs(ctx.train.len(), epochs, &pass);
            for (cand, weights) in candidates.iter().zip(heads) {
                let mut settings = settings_of(cand.lr, epochs, ran);
                settings.insert("weight_decay".into(), json!(cand.weight_decay));
                settings.extend(variant.settings.clone());
                let head = weights.map(|(weight, bias)| Head::Linear { weight, bias });
                out.push((settings, head));
            }
        }
    }
    Ok(out)
}

/// The trial whose head scores the best validation macro-F1 at its own
/// validation thresholds (ties keep the earlier: the configured settings come
/// first), as the method's fit: `describe` (sampler, loss …) and the winner's
/// `settings` in `chosen`, with every trial's score under `curve`.
pub fn choose(ctx: &Context<LabelSet>, trials: Vec<Trial>, describe: Value) -> Result<Fitted> {
    let mut curve = Vec::new();
    let mut best: Option<(f64, Fitted)> = None;
    for (mut settings, head) in trials {
        let Some(head) = head else {
            settings.insert("diverged".into(), json!(true));
            curve.push(Value::Object(settings));
            continue;
        };
        let (thresholds, score) = ctx.thresholds(&head)?;
        settings.insert("validation_macro_f1".into(), json!(score));
        curve.push(Value::Object(settings.clone()));
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            let mut chosen = describe.clone();
            chosen["settings"] = Value::Object(settings);
            best = Some((
                score,
                Fitted {
                    head,
                    thresholds,
                    chosen,
                },
            ));
        }
    }
    let (_, mut fitted) = best.ok_or_else(|| {
        crate::input_error!("training diverged for every setting tried; lower --lr")
    })?;
    fitted.chosen["curve"] = Value::Array(curve);
    if let Some(seed) = ctx.tuned_on_seed() {
        fitted.chosen["tuned_on_seed"] = json!(seed);
    }
    Ok(fitted)
}

impl Bce {
    /// The variants this loss trains under `ctx`'s search: one, or one per β
    /// (effective number) or τ (logit adjustment), each its own training run,
    /// since a changed loss changes every step.
    fn variants<'s>(&self, ctx: &Context<'s, LabelSet>) -> Vec<Variant<'s>> {
        let sampler = self.0;
        let train = ctx.train;
        let n = train.len();
        let counts = train.counts();
        let search = ctx.search(ctx.config.epochs);
        let one = |settings: Map<String, Value>,
                   pos_weights: Option<Vec<f32>>,
                   offset: Option<tch::Tensor>,
                   focal_gamma: f64| Variant {
            settings,
            spec: Box::new(move |epochs| BceSpec {
                pos_weights: pos_weights.clone(),
                train_offset: offset.as_ref().map(|t| t.shallow_clone()),
                focal_gamma,
                ..BceSpec::plain(sampler, epochs, "bce")
            }),
        };
        let named = |key: &str, v: f64| {
            let mut m = Map::new();
            m.insert(key.into(), json!(v));
            m
        };
        match self.1 {
            Loss::Plain => vec![one(Map::new(), None, None, 0.0)],
            Loss::Reweighted => {
                let w = counts
                    .iter()
                    .map(|&k| ((n - k) as f64 / k.max(1) as f64) as f32)
                    .collect();
                vec![one(Map::new(), Some(w), None, 0.0)]
            }
            Loss::EffectiveNumber => search
                .beta
                .iter()
                .map(|&beta| {
                    let w = effective_number_weights(&counts, n, beta);
                    one(named("beta", beta), Some(w), None, 0.0)
                })
                .collect(),
            Loss::Focal { gamma } => vec![one(named("gamma", gamma), None, None, gamma)],
            Loss::LogitAdjusted => search
                .tau
                .iter()
                .map(|&tau| {
                    one(
                        named("tau", tau),
                        None,
                        Some(log_odds_shift(train, tau)),
                        0.0,
                    )
                })
                .collect(),
        }
    }
}

impl Method<LabelSet> for Bce {
    fn fit(&self, ctx: &Context<LabelSet>) -> Result<Fitted> {
        let trials = trials(ctx, ctx.config.epochs, &self.variants(ctx))?;
        choose(ctx, trials, json!({"sampler": self.0, "loss": self.1}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// β is the dial the doc comment promises: 0 is plain BCE, near 1 the
    /// inverse-frequency ratio of `reweight-bce`, and rarer classes always weigh more.
    #[test]
    fn effective_number_weights_run_from_plain_to_inverse_frequency() {
        let (counts, n) = ([2000usize, 300, 40, 5], 5000usize);
        let plain = effective_number_weights(&counts, n, 0.0);
        assert!(plain.iter().all(|&w| (w - 1.0).abs() < 1e-6), "{plain:?}");
        let near_one = effective_number_weights(&counts, n, 1.0 - 1e-9);
        for (&k, &w) in counts.iter().zip(&near_one) {
            let inverse = (n - k) as f32 / k as f32;
            assert!(
                (w - inverse).abs() < 1e-3 * inverse,
                "{k}: {w} vs {inverse}"
            );
        }
        let mid = effective_number_weights(&counts, n, 0.999);
        assert!(mid.windows(2).all(|p| p[0] < p[1]), "{mid:?}");
        // Between the two ends, and ∝ (1 − β)/(1 − β^n_j) where β^(N − n_j) ≈ 0.
        for ((&w, &lo), &hi) in mid.iter().zip(&plain).zip(&near_one) {
            assert!(lo <= w && w <= hi, "{w} not in [{lo}, {hi}]");
        }
        let cui = |k: i32| 1.0 / (1.0 - 0.999f64.powi(k));
        let ratio = mid[3] as f64 / mid[2] as f64;
        assert!((ratio - cui(5) / cui(40)).abs() < 1e-3 * ratio, "{ratio}");
    }
}
