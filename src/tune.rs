//! How hard to tune: which training settings a method tries before validation
//! chooses one. One fixed recipe for every method and dataset measures the
//! recipe, not the method (a learning rate that suits instance-balanced
//! sampling over-steps the repeated rare examples of class-balanced sampling),
//! so each SGD-trained head searches a small space around the configured
//! settings, and the configured settings are always in it and tried first, so
//! that a tie keeps them.

use crate::candidate::{Candidate, Tune};
use crate::train::TrainConfig;

/// The settings one method tries, each list starting with the configured value.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub lr: Vec<f64>,
    pub epochs: Vec<usize>,
    pub weight_decay: Vec<f64>,
    /// Power-sampling exponents (`sqrt` only).
    pub q: Vec<f64>,
    /// Effective-number β (`reweight-en`, `reweight-en-bce`).
    pub beta: Vec<f64>,
    /// τ of logit adjustment applied while training (`logit-adjust-bce`), where
    /// each τ is its own training run: the configured grid only under full
    /// tuning, three values around Menon et al.'s τ = 1 under quick tuning,
    /// their τ = 1 alone under none. (Post-hoc τ, which costs no training,
    /// searches the whole `tau_grid` at every level.)
    pub tau: Vec<f64>,
}

/// Menon et al.'s τ for logit adjustment, the one that makes the adjusted loss
/// consistent for the balanced error; the training-time τ search starts there.
pub const LOGIT_ADJUST_TAU: f64 = 1.0;

/// `first` then the rest, without repeats, in order.
fn led_by<T: PartialEq + Copy>(first: T, rest: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = vec![first];
    for v in rest {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

impl Search {
    /// The space of a head whose configured schedule is `epochs` long
    /// (`config.epochs` for heads trained from scratch, `config.stage2_epochs`
    /// for stage-2 retraining).
    pub fn new(tune: Tune, cfg: &TrainConfig, epochs: usize) -> Search {
        let scaled = |factors: &[f64]| {
            factors
                .iter()
                .map(|f| ((epochs as f64 * f).round() as usize).max(1))
                .collect::<Vec<_>>()
        };
        match tune {
            Tune::None => Search {
                lr: vec![cfg.lr],
                epochs: vec![epochs],
                weight_decay: vec![cfg.weight_decay],
                q: vec![cfg.q],
                beta: vec![cfg.beta],
                tau: vec![LOGIT_ADJUST_TAU],
            },
            Tune::Quick => Search {
                lr: led_by(cfg.lr, [cfg.lr / 4.0, cfg.lr * 4.0]),
                epochs: led_by(epochs, scaled(&[2.0])),
                weight_decay: vec![cfg.weight_decay],
                q: vec![cfg.q],
                beta: vec![cfg.beta],
                tau: led_by(LOGIT_ADJUST_TAU, [0.5, 1.5]),
            },
            Tune::Full => Search {
                lr: led_by(cfg.lr, [1.0 / 8.0, 0.25, 0.5, 2.0, 4.0].map(|f| cfg.lr * f)),
                epochs: led_by(epochs, scaled(&[0.5, 2.0, 4.0])),
                weight_decay: led_by(cfg.weight_decay, [1e-5, 1e-4]),
                q: led_by(cfg.q, [0.25, 0.75]),
                beta: led_by(cfg.beta, [0.99, 0.9999]),
                tau: led_by(LOGIT_ADJUST_TAU, cfg.tau_grid.iter().copied()),
            },
        }
    }

    /// The one setting recorded in `chosen` (what a method chose on an earlier
    /// seed), the configured values standing in for any it does not name.
    pub fn fixed(
        chosen: &serde_json::Map<String, serde_json::Value>,
        cfg: &TrainConfig,
        epochs: usize,
    ) -> Search {
        let num = |k: &str, default: f64| chosen.get(k).and_then(|v| v.as_f64()).unwrap_or(default);
        Search {
            lr: vec![num("lr", cfg.lr)],
            epochs: vec![chosen
                .get("epochs")
                .and_then(|v| v.as_u64())
                .map_or(epochs, |e| e as usize)],
            weight_decay: vec![num("weight_decay", cfg.weight_decay)],
            q: vec![num("q", cfg.q)],
            beta: vec![num("beta", cfg.beta)],
            tau: vec![num("tau", LOGIT_ADJUST_TAU)],
        }
    }

    /// The search of a head whose configured schedule is `epochs` long: the
    /// one setting `earlier` records (what the method chose on an earlier
    /// seed), or the `--tune` search when there is none. Every method context,
    /// single- and multi-label, decides it here.
    pub fn reusing(
        earlier: Option<&serde_json::Map<String, serde_json::Value>>,
        cfg: &TrainConfig,
        epochs: usize,
    ) -> Search {
        match earlier {
            Some(chosen) => Search::fixed(chosen, cfg, epochs),
            None => Search::new(cfg.tune, cfg, epochs),
        }
    }

    /// The (learning rate, weight decay) pairs one training pass runs side by side,
    /// the configured pair first.
    pub fn candidates(&self) -> Vec<Candidate> {
        self.weight_decay
            .iter()
            .flat_map(|&weight_decay| {
                self.lr
                    .iter()
                    .map(move |&lr| Candidate { lr, weight_decay })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_settings_lead_every_space() {
        let cfg = TrainConfig {
            lr: 2.0,
            q: 0.25,
            ..TrainConfig::default()
        };
        for tune in [Tune::None, Tune::Quick, Tune::Full] {
            let s = Search::new(tune, &cfg, 6);
            assert_eq!(s.lr[0], 2.0);
            assert_eq!(s.epochs[0], 6);
            assert_eq!(s.q[0], 0.25);
            assert_eq!(s.q.iter().filter(|&&q| q == 0.25).count(), 1, "no repeats");
            assert_eq!(
                s.candidates()[0],
                Candidate {
                    lr: 2.0,
                    weight_decay: cfg.weight_decay
                }
            );
        }
        assert_eq!(Search::new(Tune::None, &cfg, 6).candidates().len(), 1);
        let quick = Search::new(Tune::Quick, &cfg, 6);
        assert_eq!((quick.lr.len(), quick.epochs.clone()), (3, vec![6, 12]));
        let full = Search::new(Tune::Full, &cfg, 6);
        assert_eq!(full.epochs, [6, 3, 12, 24]);
        assert_eq!(full.candidates().len(), 18);
        assert_eq!(quick.tau, [1.0, 0.5, 1.5]);
        assert_eq!(
            full.tau.len(),
            cfg.tau_grid.len(),
            "1.0 is in the grid, once"
        );
    }
}
