//! Multi-label methods: one sigmoid per class, a text gets every class whose
//! probability passes that class's threshold. Each method is one file behind
//! [`MultiMethod`]; [`REGISTRY`] lists them, as [`super::REGISTRY`] lists the
//! single-label ones, so the registry a study reads says which task a method
//! serves. Every method ends the same way: per-class thresholds chosen on
//! validation ([`crate::decision::choose`]), and any setting it searches chosen
//! by the validation macro-F1 those thresholds give — never by test data, which
//! the context does not hold.

pub mod bce;
pub mod crt;
pub mod db;
pub mod ovr_logreg;
#[cfg(test)]
pub(crate) mod synthetic;
pub mod tau_norm;

use crate::data::LabelSet;
use crate::decision::{self, Threshold};
use crate::features::Features;
use crate::head::Head;
use crate::sampling::SamplerKind;
use crate::train::TrainConfig;
use crate::tune::Search;
use anyhow::Result;
use tch::Kind;

/// A way of getting a multi-label head from training features.
pub trait MultiMethod {
    fn fit(&self, ctx: &MultiContext) -> Result<MultiFitted>;

    /// Whether another seed can give another head; deterministic methods are
    /// fitted once per study.
    fn stochastic(&self) -> bool {
        true
    }
}

/// What a multi-label method sees: training and validation features, the
/// training config, the seed, and — on a study's later seeds — what the method
/// chose on the first one.
pub struct MultiContext<'a> {
    pub train: &'a Features<LabelSet>,
    pub valid: &'a Features<LabelSet>,
    pub config: &'a TrainConfig,
    pub seed: u64,
    /// The settings chosen on an earlier seed, and that seed: a study searches
    /// on its first seed and trains the others with the same settings, so that
    /// their spread measures the seed, not the search (as single-label studies).
    fixed: Option<(u64, serde_json::Map<String, serde_json::Value>)>,
}

/// A fitted head, its per-class thresholds, and what the method chose.
pub struct MultiFitted {
    pub head: Head,
    pub thresholds: Vec<Threshold>,
    pub chosen: serde_json::Value,
}

impl<'a> MultiContext<'a> {
    pub fn new(
        train: &'a Features<LabelSet>,
        valid: &'a Features<LabelSet>,
        config: &'a TrainConfig,
        seed: u64,
    ) -> MultiContext<'a> {
        MultiContext {
            train,
            valid,
            config,
            seed,
            fixed: None,
        }
    }

    /// This context with the settings `chosen` on `seed` (a fit's
    /// [`MultiFitted::chosen`]; its `settings` object where it has one) in
    /// place of the search.
    pub fn tuned_on(mut self, seed: u64, chosen: &serde_json::Value) -> MultiContext<'a> {
        let settings = chosen.get("settings").unwrap_or(chosen);
        if let Some(map) = settings.as_object() {
            self.fixed = Some((seed, map.clone()));
        }
        self
    }

    /// The seed whose choice this context reuses, if any.
    pub fn tuned_on_seed(&self) -> Option<u64> {
        self.fixed.as_ref().map(|(s, _)| *s)
    }

    /// The settings a head whose configured schedule is `epochs` long tries:
    /// the `--tune` search, or the one setting chosen on an earlier seed.
    pub fn search(&self, epochs: usize) -> Search {
        Search::reusing(self.fixed.as_ref().map(|(_, c)| c), self.config, epochs)
    }

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

/// One registry line, as for single-label methods.
pub struct MultiEntry {
    pub name: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    pub build: fn(&TrainConfig) -> Box<dyn MultiMethod>,
}

/// Every multi-label method, in the order reports list them.
pub const REGISTRY: &[MultiEntry] = &[
    MultiEntry {
        name: "bce",
        title: "binary cross-entropy",
        summary: "one sigmoid per class, plain BCE, instance-balanced sampling (stage 1)",
        build: |_| Box::new(bce::Bce(SamplerKind::InstanceBalanced, bce::Loss::Plain)),
    },
    MultiEntry {
        name: "class-aware",
        title: "class-aware sampling",
        summary: "BCE, a class drawn uniformly and then a text that carries it",
        build: |_| {
            Box::new(bce::Bce(
                SamplerKind::ClassBalanced { k: 1 },
                bce::Loss::Plain,
            ))
        },
    },
    MultiEntry {
        name: "sqrt",
        title: "square-root sampling",
        summary: "BCE, classes drawn in proportion to the square root of their counts",
        build: |cfg| Box::new(bce::Bce(SamplerKind::Power { q: cfg.q }, bce::Loss::Plain)),
    },
    MultiEntry {
        name: "reweight-bce",
        title: "re-weighted BCE",
        summary: "BCE with each class's positives weighted by its negatives-to-positives ratio",
        build: |_| {
            Box::new(bce::Bce(
                SamplerKind::InstanceBalanced,
                bce::Loss::Reweighted,
            ))
        },
    },
    MultiEntry {
        name: "logit-adjust-bce",
        title: "logit-adjusted BCE",
        summary: "BCE with each logit shifted by τ·log-odds of its class prior while training, τ on validation",
        build: |_| {
            Box::new(bce::Bce(
                SamplerKind::InstanceBalanced,
                bce::Loss::LogitAdjusted,
            ))
        },
    },
    MultiEntry {
        name: "ovr-logreg",
        title: "one-vs-rest logistic regression",
        summary: "one logistic regression per class fitted to convergence, C on validation",
        build: |_| Box::new(ovr_logreg::OvrLogReg { balanced: false }),
    },
    MultiEntry {
        name: "ovr-logreg-balanced",
        title: "balanced one-vs-rest logistic regression",
        summary: "as ovr-logreg, each class's positives and negatives weighted to equal halves",
        build: |_| Box::new(ovr_logreg::OvrLogReg { balanced: true }),
    },
    MultiEntry {
        name: "reweight-en-bce",
        title: "effective-number re-weighted BCE",
        summary: "BCE with positives weighted by E(N−n_j)/E(n_j), Cui et al.'s effective numbers",
        build: |_| {
            Box::new(bce::Bce(
                SamplerKind::InstanceBalanced,
                bce::Loss::EffectiveNumber,
            ))
        },
    },
    MultiEntry {
        name: "focal-bce",
        title: "focal loss",
        summary: "sigmoid focal loss (Lin et al.), γ = 2, no α",
        build: |_| {
            Box::new(bce::Bce(
                SamplerKind::InstanceBalanced,
                bce::Loss::Focal { gamma: 2.0 },
            ))
        },
    },
    MultiEntry {
        name: "db",
        title: "distribution-balanced loss",
        summary: "class-aware sampling, re-balanced weights and negative-tolerant BCE (Wu et al.)",
        build: |_| Box::new(db::Db::default()),
    },
    MultiEntry {
        name: "crt",
        title: "classifier re-training (cRT)",
        summary: "BCE head retrained from scratch with class-aware sampling, stage-2 schedule",
        build: |_| Box::new(crt::Crt),
    },
    MultiEntry {
        name: "tau-norm",
        title: "τ-normalisation",
        summary: "τ-normalisation of the stage-1 bce head, τ on validation",
        build: |_| Box::new(tau_norm::TauNorm),
    },
];

/// The method names a study runs: `names` with `all` expanded (every
/// registered method when `names` is not given); an unknown name is an input
/// error listing the known ones.
pub fn expand(names: Option<&[String]>) -> Result<Vec<String>> {
    let all = || REGISTRY.iter().map(|e| e.name.to_string());
    let Some(names) = names else {
        return Ok(all().collect());
    };
    let mut out = Vec::new();
    for name in names {
        if name == "all" {
            out.extend(all());
        } else {
            lookup(name)?;
            out.push(name.clone());
        }
    }
    Ok(out)
}

/// The registry line of `name`; an unknown name is an input error listing
/// the known ones.
pub fn lookup(name: &str) -> Result<&'static MultiEntry> {
    find(name).ok_or_else(|| {
        crate::input_error!(
            "unknown multi-label method '{name}' (known: {})",
            REGISTRY
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The registry line of `name`.
pub fn find(name: &str) -> Option<&'static MultiEntry> {
    REGISTRY.iter().find(|e| e.name == name)
}
