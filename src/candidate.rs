//! The vocabulary that training and tuning share: how hard to search ([`Tune`],
//! recorded in every [`crate::train::TrainConfig`]) and what one candidate of a
//! search is ([`Candidate`]). It sits below both so that the trainer can take a
//! candidate and the tuner can build one without either importing the other.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Tune {
    /// The configured settings only (--lr, --epochs, --weight-decay, --q, --beta)
    None,
    /// Learning rate ×{1, ¼, 4} and epochs ×{1, 2}
    #[default]
    Quick,
    /// Learning rate ×{1, ⅛, ¼, ½, 2, 4}, epochs ×{1, ½, 2, 4}, weight decay
    /// {configured, 1e-5, 1e-4}, q {configured, 0.25, 0.75}, β {configured, 0.99, 0.9999}
    Full,
}

impl Tune {
    /// What models saved before tuning existed used.
    pub fn none() -> Tune {
        Tune::None
    }
}

/// The settings in which candidates of one training pass differ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candidate {
    pub lr: f64,
    pub weight_decay: f64,
}
