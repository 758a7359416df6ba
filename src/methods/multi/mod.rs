//! Multi-label methods: one sigmoid per class, a text gets every class whose
//! probability passes that class's threshold. Each method is one file
//! implementing [`Method`]`<LabelSet>`, one line in the registry. Every method
//! ends the same way: per-class thresholds chosen on validation
//! ([`crate::decision::choose`]), and any setting it searches chosen by the
//! validation macro-F1 those thresholds give — never by test data, which the
//! context does not hold.

pub mod bce;
pub mod crt;
pub mod db;
pub mod ovr_logreg;
#[cfg(test)]
pub(crate) mod synthetic;
pub mod tau_norm;

use super::Context;
use crate::data::LabelSet;
use crate::decision::{self, Threshold};
use crate::features::Features;
use crate::head::Head;
use anyhow::Result;
use tch::Kind;

/// What multi-label methods share: scoring a head at the per-class thresholds
/// validation gives it.
impl Context<'_, LabelSet> {
    /// Each validation text's probability of each class under `head`.
    pub fn validation_probabilities(&self, head: &Head) -> Result<Vec<Vec<f32>>> {
        probabilities(head, self.valid)
    }

    /// `head`'s per-class thresholds and the score settings are compared by:
    /// the held-out validation macro-F1 of the threshold source
    /// [`decision::pick_source`] picks for this head (validation alone, or
    /// training and validation pooled), so that a candidate whose thresholds
    /// merely fit validation's few rare positives is not preferred for it.
    pub fn thresholds(&self, head: &Head) -> Result<(Vec<Threshold>, f64)> {
        let valid_probs = self.validation_probabilities(head)?;
        let train_probs = probabilities(head, self.train)?;
        let train = decision::Scored {
            probs: &train_probs,
            truth: &self.train.labels,
        };
        let valid = decision::Scored {
            probs: &valid_probs,
            truth: &self.valid.labels,
        };
        let c = self.valid.n_classes;
        let (source, scores) = decision::pick_source(train, valid, c)?;
        let t = decision::choose_from(source, train, valid, c)?;
        let k = decision::ThresholdSource::ALL
            .iter()
            .position(|&s| s == source)
            .expect("in ALL");
        Ok((t, scores[k]))
    }
}

/// Sigmoid probabilities `[n][C]` of `head` on `features`.
pub fn probabilities<L>(head: &Head, features: &Features<L>) -> Result<Vec<Vec<f32>>> {
    let p = head
        .logits(&features.x)?
        .sigmoid()
        .to_kind(Kind::Float)
        .to_device(tch::Device::Cpu);
    Ok(Vec::<Vec<f32>>::try_from(&p)?)
}
