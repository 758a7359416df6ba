//! Rebalancing methods behind one interface, for single- and multi-label data
//! alike. Each method is one small file that implements [`Method`] for the
//! label type it learns (`usize`: one emotion a text; [`LabelSet`]: several);
//! [`registry::REGISTRY`] maps the names users type to them, one line a
//! method, and says which tasks each serves. A new method is one file plus one
//! line there.
//!
//! Single-label stage-2 methods (τ-norm, LWS, logit adjustment) start from the
//! stage-1 "joint" head trained with instance-balanced sampling;
//! [`Context::stage1`] trains its candidates (one per setting of the search,
//! [`sweep`]) once and shares them. Multi-label methods end with per-class
//! thresholds chosen on validation ([`multi`]).

pub mod balanced_softmax;
pub mod crt;
pub mod joint;
pub mod linfa_lr;
pub mod logit_adjust;
pub mod logreg;
pub mod lws;
pub mod multi;
pub mod ncm;
pub mod registry;
pub mod reweight;
pub mod sweep;
pub mod tau_norm;

use crate::data::LabelSet;
use crate::decision::Threshold;
use crate::features::{Features, Targets};
use crate::head::Head;
use crate::metrics::{thirds, Metrics};
use crate::sampling::SamplerKind;
use crate::train::{LinearSpec, TrainConfig};
use crate::tune::Search;
use anyhow::Result;
pub use registry::{expand, find, lookup, names, Entry, Learn, Variant, REGISTRY};
use std::sync::{Arc, Mutex};
use sweep::Trial;
use tch::Tensor;

/// A way of getting a head from training features labelled `L`.
pub trait Method<L: Targets = usize> {
    /// Fits on `ctx.train`; may look at `ctx.valid` to choose a hyper-parameter,
    /// never at test data (the context has none).
    fn fit(&self, ctx: &Context<L>) -> Result<Fitted>;

    /// Whether another seed can give another head (sampling, initialisation, or a
    /// stage-1 head underneath). Deterministic methods are fitted once per study.
    fn stochastic(&self) -> bool {
        true
    }
}

/// A fitted head, how it decides, and what the method chose while fitting (τ,
/// its validation curve, …), recorded in every report.
pub struct Fitted {
    pub head: Head,
    /// A multi-label head's per-class thresholds, chosen on validation. Empty
    /// for a single-label head, whose answer is its largest logit.
    pub thresholds: Vec<Threshold>,
    pub chosen: serde_json::Value,
}

impl Fitted {
    /// A head that decides by its largest logit, with what was chosen for it.
    pub fn new(head: Head, chosen: serde_json::Value) -> Fitted {
        Fitted {
            head,
            thresholds: Vec::new(),
            chosen,
        }
    }

    pub fn plain(head: Head) -> Fitted {
        Fitted::new(head, serde_json::Value::Null)
    }
}

/// Checks that training and validation data can support a comparison: at least
/// two classes, every class present in training (a class with no example cannot
/// be learned, and class-balanced sampling would loop on it). A class missing
/// from validation is allowed: it is returned as a warning, and validation
/// scores then average over the classes validation has.
pub fn check_splits(
    classes: &[String],
    train_counts: &[usize],
    valid_counts: &[usize],
) -> Result<Vec<String>> {
    if classes.len() < 2 {
        return Err(crate::input_error!(
            "only {} class in the data; classification needs at least two",
            classes.len()
        ));
    }
    let empty: Vec<&str> = classes
        .iter()
        .zip(train_counts)
        .filter(|(_, n)| **n == 0)
        .map(|(c, _)| c.as_str())
        .collect();
    if !empty.is_empty() {
        return Err(crate::input_error!(
            "class(es) with no training example: {}; remove them or add examples",
            empty.join(", ")
        ));
    }
    Ok(classes
        .iter()
        .zip(valid_counts)
        .filter(|(_, n)| **n == 0)
        .map(|(c, _)| {
            format!("warning: class '{c}' has no validation example; validation scores average over the other classes")
        })
        .collect())
}

/// Fits the named methods in order, sharing one stage-1 head.
pub fn fit_all<L: Learn>(names: &[&str], ctx: &Context<L>) -> Result<Vec<(&'static str, Fitted)>> {
    names
        .iter()
        .map(|name| {
            let method = lookup::<L>(name)?;
            Ok((method.name, (method.build)(ctx.config).fit(ctx)?))
        })
        .collect()
}

/// What a method may use: the training features, the validation features (for
/// choosing hyper-parameters), the config, the seed, and the shared stage-1 head.
pub struct Context<'a, L: Targets = usize> {
    pub train: &'a Features<L>,
    pub valid: &'a Features<L>,
    pub config: &'a TrainConfig,
    pub seed: u64,
    stage1: SharedStage1,
    /// The rarest third of the classes by training count (for `--select few-recall`).
    rare: Vec<usize>,
    /// What this method chose on an earlier seed, and that seed: a study tunes
    /// on its first seed and trains the other seeds with the same settings, so
    /// that their spread measures the seed, not the search.
    fixed: Option<(u64, serde_json::Map<String, serde_json::Value>)>,
}

/// The stage-1 heads of one seed, one per setting, trained by whichever method
/// (on whichever thread) first needs them, then shared by all.
pub type SharedStage1 = Arc<Mutex<Vec<Trial>>>;

impl<'a, L: Targets> Context<'a, L> {
    pub fn new(
        train: &'a Features<L>,
        valid: &'a Features<L>,
        config: &'a TrainConfig,
        seed: u64,
    ) -> Context<'a, L> {
        Self::sharing(train, valid, config, seed, SharedStage1::default())
    }

    /// A context whose stage-1 head is shared with other contexts of the same seed.
    pub fn sharing(
        train: &'a Features<L>,
        valid: &'a Features<L>,
        config: &'a TrainConfig,
        seed: u64,
        stage1: SharedStage1,
    ) -> Context<'a, L> {
        Context {
            train,
            valid,
            config,
            seed,
            stage1,
            rare: thirds(&train.counts()).1,
            fixed: None,
        }
    }

    /// This context trains the settings `chosen` records (what the method chose
    /// on `seed`: a fit's [`Fitted::chosen`], its `settings` object where it has
    /// one) instead of searching again.
    pub fn tuned_on(mut self, seed: u64, chosen: &serde_json::Value) -> Context<'a, L> {
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
}

/// What single-label methods share: the stage-1 heads, and choosing by the
/// validation score of a head's argmax.
impl Context<'_> {
    /// The stage-1 settings to try: the search, or those chosen on an earlier
    /// seed (under `stage1` for the methods built on stage 1, at the top for `ib`).
    fn stage1_search(&self) -> Search {
        let stage1 = self.fixed.as_ref().map(|(_, chosen)| {
            chosen
                .get("stage1")
                .and_then(|v| v.as_object())
                .unwrap_or(chosen)
        });
        Search::reusing(stage1, self.config, self.config.epochs)
    }

    /// The stage-1 joint heads, instance-balanced, one per setting of the
    /// stage-1 search, in its order; each setting is trained on first use and
    /// shared. `ib` returns the one validation prefers; τ-norm and logit
    /// adjustment choose a stage-1 head together with their τ.
    pub fn stage1(&self) -> Result<Vec<Trial>> {
        let search = self.stage1_search();
        // A stage-1 head is known by its learning rate, epochs and weight decay.
        let key = |lr: f64, epochs: usize, wd: f64| {
            [
                serde_json::json!(lr),
                serde_json::json!(epochs),
                serde_json::json!(wd),
            ]
        };
        let key_of = |t: &Trial| {
            ["lr", "epochs", "weight_decay"].map(|k| t.settings.get(k).cloned().unwrap_or_default())
        };
        let mut cache = self.stage1.lock().expect("no panic while training");
        let mut out = Vec::new();
        for &epochs in &search.epochs {
            let one = Search {
                epochs: vec![epochs],
                ..search.clone()
            };
            let want: Vec<_> = one
                .candidates()
                .iter()
                .map(|c| key(c.lr, epochs, c.weight_decay))
                .collect();
            let missing = want.iter().any(|k| !cache.iter().any(|t| key_of(t) == *k));
            if missing {
                // A pass trains the whole search of one epoch count side by side.
                let cfg = self.config;
                let trials = sweep::train(self, &one, cfg.epochs, &[], |epochs| LinearSpec {
                    sampler: SamplerKind::InstanceBalanced,
                    epochs,
                    class_weights: None,
                    train_offset: None,
                    purpose: "joint/instance-balanced",
                })?;
                for t in trials {
                    if !cache.iter().any(|c| key_of(c) == key_of(&t)) {
                        cache.push(t);
                    }
                }
            }
            for k in &want {
                let t = cache
                    .iter()
                    .find(|t| key_of(t) == *k)
                    .expect("trained above");
                out.push(t.clone());
            }
        }
        Ok(out)
    }

    /// The stage-1 head validation prefers, and the record of that choice.
    pub fn stage1_chosen(&self) -> Result<(Trial, serde_json::Map<String, serde_json::Value>)> {
        let (_, trial, chosen) = sweep::choose(self, self.stage1()?)?;
        Ok((trial, chosen))
    }

    /// The validation score of a head by the configured statistic (macro-F1
    /// over the classes present in validation, by default).
    pub fn score(&self, head: &Head) -> Result<f64> {
        let pred = head.predict(&self.valid.x)?;
        let m = Metrics::compute(&self.valid.labels, &pred, self.valid.n_classes);
        Ok(self.config.select.value(&m, &self.rare, true))
    }

    /// Picks the value in `grid` whose head scores best on validation (the
    /// earliest on ties). Returns the head, its score and a record of the choice.
    pub fn choose<F>(&self, param: &str, grid: &[f64], make: F) -> Result<(Fitted, f64)>
    where
        F: Fn(f64) -> Head,
    {
        let scored = grid
            .iter()
            .map(|&v| {
                let head = make(v);
                let score = self.score(&head)?;
                let mut settings = serde_json::Map::new();
                settings.insert(param.into(), serde_json::json!(v));
                Ok((head, settings, Some(score)))
            })
            .collect::<Result<Vec<_>>>()?;
        let (head, mut chosen, score, curve) =
            sweep::pick(scored).ok_or_else(|| anyhow::anyhow!("empty grid for {param}"))?;
        chosen.insert("validation".into(), serde_json::json!(score));
        chosen.insert("curve".into(), serde_json::Value::Array(curve));
        Ok((Fitted::new(head, serde_json::Value::Object(chosen)), score))
    }

    /// τ-norm and logit adjustment: for every stage-1 head, the best τ; then the
    /// best pair. Recorded as the τ choice plus the stage-1 settings under `stage1`.
    pub fn choose_with_stage1<F>(&self, param: &str, grid: &[f64], make: F) -> Result<Fitted>
    where
        F: Fn(&Tensor, &Tensor, f64) -> Head,
    {
        let scored = self
            .stage1()?
            .into_iter()
            .map(|t| {
                let best = match &t.weights {
                    Some((w, b)) => Some(self.choose(param, grid, |v| make(w, b, v))?),
                    None => None,
                };
                let score = best.as_ref().map(|(_, s)| *s);
                Ok((best, t.settings, score))
            })
            .collect::<Result<Vec<_>>>()?;
        let n = scored.len();
        let (best, settings, _, record) = sweep::pick(scored).ok_or_else(|| {
            crate::input_error!("training diverged for every setting tried; lower --lr")
        })?;
        let (mut fitted, _) = best.expect("a scored trial has a head");
        fitted.chosen["by"] = serde_json::json!(self.config.select);
        fitted.chosen["stage1"] = serde_json::Value::Object(settings);
        if let Some(seed) = self.tuned_on_seed() {
            fitted.chosen["tuned_on_seed"] = serde_json::json!(seed);
        }
        if n > 1 {
            fitted.chosen["stage1_trials"] = serde_json::Value::Array(record);
        }
        Ok(fitted)
    }
}

/// Single-label data: one class a text.
impl Learn for usize {
    fn variant(entry: &Entry) -> Option<&Variant<usize>> {
        entry.single.as_ref()
    }
}

/// Multi-label data: a set of classes a text.
impl Learn for LabelSet {
    fn variant(entry: &Entry) -> Option<&Variant<LabelSet>> {
        entry.multi.as_ref()
    }
}
