//! Rebalancing methods behind one interface. Each method is one small file that
//! implements [`Method`]; [`REGISTRY`] maps the names users type to them, so a new
//! method is one file plus one line there.
//!
//! Stage-2 methods (cRT, τ-norm, LWS, logit adjustment) start from the stage-1
//! "joint" head trained with instance-balanced sampling; [`Context::stage1`]
//! trains it once and shares it.

pub mod balanced_softmax;
pub mod crt;
pub mod joint;
pub mod linfa_lr;
pub mod logit_adjust;
pub mod logreg;
pub mod lws;
pub mod ncm;
pub mod reweight;
pub mod tau_norm;

use crate::features::Features;
use crate::head::Head;
use crate::metrics::Metrics;
use crate::sampling::SamplerKind;
use crate::train::{train_linear, LinearSpec, TrainConfig};
use anyhow::Result;
use std::sync::{Arc, Mutex};

/// A way of getting a head from training features.
pub trait Method {
    /// Fits on `ctx.train`; may look at `ctx.valid` to choose a hyper-parameter,
    /// never at test data (the context has none).
    fn fit(&self, ctx: &Context) -> Result<Fitted>;

    /// Whether another seed can give another head (sampling, initialisation, or a
    /// stage-1 head underneath). Deterministic methods are fitted once per study.
    fn stochastic(&self) -> bool {
        true
    }
}

/// A fitted head and what the method chose while fitting (τ, its validation
/// curve, …), recorded in every report.
pub struct Fitted {
    pub head: Head,
    pub chosen: serde_json::Value,
}

impl Fitted {
    pub fn plain(head: Head) -> Fitted {
        Fitted {
            head,
            chosen: serde_json::Value::Null,
        }
    }
}

/// One registry line: the CLI name, the name a sentence uses, a one-line
/// summary, and a constructor.
pub struct Entry {
    pub name: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    pub build: fn(&TrainConfig) -> Box<dyn Method>,
}

/// Every method, in the order reports list them.
pub const REGISTRY: &[Entry] = &[
    Entry {
        name: "ib",
        title: "instance-balanced sampling",
        summary: "joint head, instance-balanced sampling (stage 1)",
        build: |_| Box::new(joint::Joint(SamplerKind::InstanceBalanced)),
    },
    Entry {
        name: "cb",
        title: "class-balanced sampling",
        summary: "joint head, class-balanced sampling (k per class)",
        build: |c| Box::new(joint::Joint(SamplerKind::ClassBalanced { k: c.k })),
    },
    Entry {
        name: "sqrt",
        title: "square-root sampling",
        summary: "joint head, power sampling p_j ∝ n_j^q (q = 0.5: square-root)",
        build: |c| Box::new(joint::Joint(SamplerKind::Power { q: c.q })),
    },
    Entry {
        name: "pb",
        title: "progressively-balanced sampling",
        summary: "joint head, progressively-balanced sampling",
        build: |_| Box::new(joint::Joint(SamplerKind::Progressive)),
    },
    Entry {
        name: "crt",
        title: "classifier re-training (cRT)",
        summary: "classifier re-training: new head on stage-1 features, class-balanced",
        build: |_| Box::new(crt::Crt),
    },
    Entry {
        name: "tau",
        title: "τ-normalisation",
        summary: "τ-normalisation of the stage-1 head, τ chosen on validation",
        build: |_| Box::new(tau_norm::TauNorm),
    },
    Entry {
        name: "lws",
        title: "learnable weight scaling (LWS)",
        summary: "learnable weight scaling of the stage-1 head, class-balanced",
        build: |_| Box::new(lws::Lws),
    },
    Entry {
        name: "ncm",
        title: "nearest class mean (NCM)",
        summary: "nearest class mean on centred, normalised features",
        build: |_| Box::new(ncm::Ncm),
    },
    Entry {
        name: "reweight",
        title: "inverse-frequency class weights",
        summary: "class-weighted cross-entropy, w_j = N/(C·n_j)",
        build: |_| Box::new(reweight::Reweight::Inverse),
    },
    Entry {
        name: "reweight-en",
        title: "effective-number class weights",
        summary: "effective-number weights (Cui et al.), w_j ∝ (1−β)/(1−β^n_j)",
        build: |c| Box::new(reweight::Reweight::EffectiveNumber { beta: c.beta }),
    },
    Entry {
        name: "logit-adjust",
        title: "logit adjustment",
        summary: "post-hoc logit adjustment of stage 1: logits − τ·log prior",
        build: |_| Box::new(logit_adjust::LogitAdjust),
    },
    Entry {
        name: "balanced-softmax",
        title: "balanced softmax",
        summary: "trained on logits + log n_j, plain logits at test",
        build: |_| Box::new(balanced_softmax::BalancedSoftmax),
    },
    Entry {
        name: "logreg",
        title: "logistic regression",
        summary:
            "multinomial L2 logistic regression, L-BFGS to convergence, C chosen on validation",
        build: |_| Box::new(logreg::LogReg { balanced: false }),
    },
    Entry {
        name: "logreg-balanced",
        title: "class-weighted logistic regression",
        summary:
            "logistic regression with class_weight='balanced' (w_j = N/(C·n_j)), C on validation",
        build: |_| Box::new(logreg::LogReg { balanced: true }),
    },
    Entry {
        name: "linfa",
        title: "linfa's logistic regression",
        summary: "multinomial logistic regression from linfa (reference)",
        build: |_| Box::new(linfa_lr::LinfaLr),
    },
];

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
pub fn fit_all(names: &[&str], ctx: &Context) -> Result<Vec<(&'static str, Fitted)>> {
    names
        .iter()
        .map(|name| {
            let entry = lookup(name)?;
            Ok((entry.name, (entry.build)(ctx.config).fit(ctx)?))
        })
        .collect()
}

/// Every method's name, in registry order.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|e| e.name).collect()
}

/// The methods a comparison runs when none are named: every registered one but
/// `linfa`, whose L-BFGS stops unconverged at its iteration cap and scores below
/// `ib`; `logreg` is the same model fitted to convergence, so linfa runs only on
/// request, as an independent cross-check.
pub const DEFAULT_COMPARISON: &str =
    "ib,cb,sqrt,pb,crt,tau,lws,ncm,reweight,reweight-en,logit-adjust,balanced-softmax,logreg,logreg-balanced";

/// Expands `all` to every registered method and checks every name.
pub fn expand(names: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in names {
        if name == "all" {
            out.extend(self::names().into_iter().map(String::from));
        } else {
            lookup(name)?;
            out.push(name.clone());
        }
    }
    Ok(out)
}

/// Looks a method up by name; an unknown name is an input error listing the known ones.
pub fn lookup(name: &str) -> Result<&'static Entry> {
    find(name).ok_or_else(|| {
        crate::input_error!("unknown method '{name}' (known: {})", names().join(", "))
    })
}

/// Looks a method up by name.
pub fn find(name: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.name == name)
}

/// What a method may use: the training features, the validation features (for
/// choosing hyper-parameters), the config, the seed, and the shared stage-1 head.
pub struct Context<'a> {
    pub train: &'a Features,
    pub valid: &'a Features,
    pub config: &'a TrainConfig,
    pub seed: u64,
    stage1: SharedStage1,
}

/// The stage-1 head of one seed, trained by whichever method (on whichever
/// thread) first needs it, then shared by all.
pub type SharedStage1 = Arc<Mutex<Option<(tch::Tensor, tch::Tensor)>>>;

impl<'a> Context<'a> {
    pub fn new(
        train: &'a Features,
        valid: &'a Features,
        config: &'a TrainConfig,
        seed: u64,
    ) -> Context<'a> {
        Self::sharing(train, valid, config, seed, SharedStage1::default())
    }

    /// A context whose stage-1 head is shared with other contexts of the same seed.
    pub fn sharing(
        train: &'a Features,
        valid: &'a Features,
        config: &'a TrainConfig,
        seed: u64,
        stage1: SharedStage1,
    ) -> Context<'a> {
        Context {
            train,
            valid,
            config,
            seed,
            stage1,
        }
    }

    /// The stage-1 joint head (W, b), instance-balanced; trained on first use.
    /// The `ib` method returns this same head.
    pub fn stage1(&self) -> Result<(tch::Tensor, tch::Tensor)> {
        let mut stage1 = self.stage1.lock().expect("no panic while training");
        if stage1.is_none() {
            let wb = train_linear(
                self.train,
                &LinearSpec {
                    sampler: SamplerKind::InstanceBalanced,
                    epochs: self.config.epochs,
                    class_weights: None,
                    train_offset: None,
                    purpose: "joint/instance-balanced",
                },
                self.config,
                self.seed,
            )?;
            *stage1 = Some(wb);
        }
        let (w, b) = stage1.as_ref().expect("set above");
        Ok((w.shallow_clone(), b.shallow_clone()))
    }

    /// Validation macro-F1 (over the classes present in validation) of a head.
    pub fn validation_macro_f1(&self, head: &Head) -> Result<f64> {
        let pred = head.predict(&self.valid.x)?;
        Ok(Metrics::compute(&self.valid.labels, &pred, self.valid.n_classes).macro_f1_present())
    }

    /// Picks the value in `grid` whose head scores best on validation macro-F1
    /// (the smallest value on ties). Returns the head and a record of the choice.
    pub fn choose<F>(&self, param: &str, grid: &[f64], make: F) -> Result<Fitted>
    where
        F: Fn(f64) -> Head,
    {
        let mut best: Option<(f64, f64, Head)> = None;
        let mut curve = Vec::new();
        for &v in grid {
            let head = make(v);
            let score = self.validation_macro_f1(&head)?;
            curve.push(serde_json::json!({ param: v, "validation_macro_f1": score }));
            if best.as_ref().is_none_or(|(_, s, _)| score > *s) {
                best = Some((v, score, head));
            }
        }
        let (v, score, head) = best.ok_or_else(|| anyhow::anyhow!("empty grid for {param}"))?;
        Ok(Fitted {
            head,
            chosen: serde_json::json!({ param: v, "validation_macro_f1": score, "curve": curve }),
        })
    }
}
