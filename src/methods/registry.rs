//! Every method, single- and multi-label, in one table: the names users type,
//! and for each task the method serves, the name its reports print, a title, a
//! one-line summary and a constructor. One list means one vocabulary: a method
//! that exists for both tasks (cRT, τ-norm, square-root or class-balanced
//! sampling) is one line, and any name of it selects it on either task.

use super::multi::{bce, crt as multi_crt, db, ovr_logreg, tau_norm as multi_tau};
use super::{
    balanced_softmax, crt, joint, linfa_lr, logit_adjust, logreg, lws, ncm, reweight, tau_norm,
    Method,
};
use crate::data::{LabelSet, Task};
use crate::features::Targets;
use crate::sampling::SamplerKind;
use crate::train::TrainConfig;
use anyhow::Result;

/// A method as one task knows it.
pub struct Variant<L: Targets> {
    /// The name reports and saved models print (kept from the task's first
    /// release, so that earlier reports and models still read the same).
    pub name: &'static str,
    /// The name a sentence uses ("class-balanced sampling").
    pub title: &'static str,
    pub summary: &'static str,
    pub build: fn(&TrainConfig) -> Box<dyn Method<L>>,
}

/// One registry line: every name of a method, and what it is for each task.
pub struct Entry {
    /// Every name that selects the method, on either task.
    pub names: &'static [&'static str],
    pub single: Option<Variant<usize>>,
    pub multi: Option<Variant<LabelSet>>,
}

/// The label types methods learn: each picks its variant of a registry line.
pub trait Learn: Targets {
    fn variant(entry: &Entry) -> Option<&Variant<Self>>;
}

/// A registry line's variant for one task (the task is the field it fills).
const fn variant<L: Targets>(
    name: &'static str,
    title: &'static str,
    summary: &'static str,
    build: fn(&TrainConfig) -> Box<dyn Method<L>>,
) -> Option<Variant<L>> {
    Some(Variant {
        name,
        title,
        summary,
        build,
    })
}

/// Every method, in the order reports list them (each task's methods keep
/// their order among themselves): its names, then what it is for each task it
/// serves — report name, title, summary, constructor.
#[rustfmt::skip]
pub const REGISTRY: &[Entry] = &[
    Entry { names: &["ib"],
        single: variant("ib", "instance-balanced sampling",
            "joint head, instance-balanced sampling (stage 1)",
            |_| Box::new(joint::Joint(SamplerKind::InstanceBalanced))),
        multi: None },
    Entry { names: &["bce"],
        single: None,
        multi: variant("bce", "binary cross-entropy",
            "one sigmoid per class, plain BCE, instance-balanced sampling (stage 1)",
            |_| Box::new(bce::Bce(SamplerKind::InstanceBalanced, bce::Loss::Plain))) },
    Entry { names: &["cb", "class-aware"],
        single: variant("cb", "class-balanced sampling",
            "joint head, class-balanced sampling (k per class)",
            |c| Box::new(joint::Joint(SamplerKind::ClassBalanced { k: c.k }))),
        multi: variant("class-aware", "class-aware sampling",
            "BCE, a class drawn uniformly and then a text that carries it",
            |_| Box::new(bce::Bce(SamplerKind::ClassBalanced { k: 1 }, bce::Loss::Plain))) },
    Entry { names: &["sqrt"],
        single: variant("sqrt", "square-root sampling",
            "joint head, power sampling p_j ∝ n_j^q (q = 0.5: square-root)",
            |c| Box::new(joint::Joint(SamplerKind::Power { q: c.q }))),
        multi: variant("sqrt", "square-root sampling",
            "BCE, classes drawn in proportion to the square root of their counts",
            |c| Box::new(bce::Bce(SamplerKind::Power { q: c.q }, bce::Loss::Plain))) },
    Entry { names: &["pb"],
        single: variant("pb", "progressively-balanced sampling",
            "joint head, progressively-balanced sampling",
            |_| Box::new(joint::Joint(SamplerKind::Progressive))),
        multi: None },
    Entry { names: &["reweight-bce"],
        single: None,
        multi: variant("reweight-bce", "re-weighted BCE",
            "BCE with each class's positives weighted by its negatives-to-positives ratio",
            |_| Box::new(bce::Bce(SamplerKind::InstanceBalanced, bce::Loss::Reweighted))) },
    Entry { names: &["logit-adjust-bce"],
        single: None,
        multi: variant("logit-adjust-bce", "logit-adjusted BCE",
            "BCE with each logit shifted by τ·log-odds of its class prior while training, τ on validation",
            |_| Box::new(bce::Bce(SamplerKind::InstanceBalanced, bce::Loss::LogitAdjusted))) },
    Entry { names: &["ovr-logreg"],
        single: None,
        multi: variant("ovr-logreg", "one-vs-rest logistic regression",
            "one logistic regression per class fitted to convergence, C on validation",
            |_| Box::new(ovr_logreg::OvrLogReg { balanced: false })) },
    Entry { names: &["ovr-logreg-balanced"],
        single: None,
        multi: variant("ovr-logreg-balanced", "balanced one-vs-rest logistic regression",
            "as ovr-logreg, each class's positives and negatives weighted to equal halves",
            |_| Box::new(ovr_logreg::OvrLogReg { balanced: true })) },
    Entry { names: &["reweight-en-bce"],
        single: None,
        multi: variant("reweight-en-bce", "effective-number re-weighted BCE",
            "BCE with positives weighted by E(N−n_j)/E(n_j), Cui et al.'s effective numbers",
            |_| Box::new(bce::Bce(SamplerKind::InstanceBalanced, bce::Loss::EffectiveNumber))) },
    Entry { names: &["focal-bce"],
        single: None,
        multi: variant("focal-bce", "focal loss",
            "sigmoid focal loss (Lin et al.), γ = 2, no α",
            |_| Box::new(bce::Bce(SamplerKind::InstanceBalanced, bce::Loss::Focal { gamma: 2.0 }))) },
    Entry { names: &["db"],
        single: None,
        multi: variant("db", "distribution-balanced loss",
            "class-aware sampling, re-balanced weights and negative-tolerant BCE (Wu et al.)",
            |_| Box::new(db::Db::default())) },
    Entry { names: &["crt"],
        single: variant("crt", "classifier re-training (cRT)",
            "classifier re-training: new head on stage-1 features, class-balanced",
            |_| Box::new(crt::Crt)),
        multi: variant("crt", "classifier re-training (cRT)",
            "BCE head retrained from scratch with class-aware sampling, stage-2 schedule",
            |_| Box::new(multi_crt::Crt)) },
    Entry { names: &["tau-norm", "tau"],
        single: variant("tau", "τ-normalisation",
            "τ-normalisation of the stage-1 head, τ chosen on validation",
            |_| Box::new(tau_norm::TauNorm)),
        multi: variant("tau-norm", "τ-normalisation",
            "τ-normalisation of the stage-1 bce head, τ on validation",
            |_| Box::new(multi_tau::TauNorm)) },
    Entry { names: &["lws"],
        single: variant("lws", "learnable weight scaling (LWS)",
            "learnable weight scaling of the stage-1 head, class-balanced",
            |_| Box::new(lws::Lws)),
        multi: None },
    Entry { names: &["ncm"],
        single: variant("ncm", "nearest class mean (NCM)",
            "nearest class mean on centred, normalised features",
            |_| Box::new(ncm::Ncm)),
        multi: None },
    Entry { names: &["reweight"],
        single: variant("reweight", "inverse-frequency class weights",
            "class-weighted cross-entropy, w_j = N/(C·n_j)",
            |_| Box::new(reweight::Reweight::Inverse)),
        multi: None },
    Entry { names: &["reweight-en"],
        single: variant("reweight-en", "effective-number class weights",
            "effective-number weights (Cui et al.), w_j ∝ (1−β)/(1−β^n_j)",
            |c| Box::new(reweight::Reweight::EffectiveNumber { beta: c.beta })),
        multi: None },
    Entry { names: &["logit-adjust"],
        single: variant("logit-adjust", "logit adjustment",
            "post-hoc logit adjustment of stage 1: logits − τ·log prior",
            |_| Box::new(logit_adjust::LogitAdjust)),
        multi: None },
    Entry { names: &["balanced-softmax"],
        single: variant("balanced-softmax", "balanced softmax",
            "trained on logits + log n_j, plain logits at test",
            |_| Box::new(balanced_softmax::BalancedSoftmax)),
        multi: None },
    Entry { names: &["logreg"],
        single: variant("logreg", "logistic regression",
            "multinomial L2 logistic regression, L-BFGS to convergence, C chosen on validation",
            |_| Box::new(logreg::LogReg { balanced: false })),
        multi: None },
    Entry { names: &["logreg-balanced"],
        single: variant("logreg-balanced", "class-weighted logistic regression",
            "logistic regression with class_weight='balanced' (w_j = N/(C·n_j)), C on validation",
            |_| Box::new(logreg::LogReg { balanced: true })),
        multi: None },
    Entry { names: &["linfa"],
        single: variant("linfa", "linfa's logistic regression",
            "multinomial logistic regression from linfa (reference)",
            |_| Box::new(linfa_lr::LinfaLr)),
        multi: None },
];

/// Methods a comparison leaves out unless named: `linfa`, whose L-BFGS stops
/// unconverged at its iteration cap and scores below `ib`; `logreg` is the same
/// model fitted to convergence, so linfa runs only on request, as an
/// independent cross-check.
const ON_REQUEST: &[&str] = &["linfa"];

/// Every method of task `L`, in registry order.
pub fn methods<L: Learn>() -> impl Iterator<Item = &'static Variant<L>> {
    REGISTRY.iter().filter_map(L::variant)
}

/// The report names of task `L`'s methods, in registry order.
pub fn names<L: Learn>() -> Vec<&'static str> {
    methods::<L>().map(|v| v.name).collect()
}

/// The method of task `L` that `name` (any of its names) selects.
pub fn find<L: Learn>(name: &str) -> Option<&'static Variant<L>> {
    REGISTRY
        .iter()
        .filter(|e| e.names.contains(&name))
        .find_map(L::variant)
        .or_else(|| methods::<L>().find(|v| v.name == name))
}

/// As [`find`]; an unknown name is an input error listing the known ones, and
/// a method of the other task says so.
pub fn lookup<L: Learn>(name: &str) -> Result<&'static Variant<L>> {
    find::<L>(name).ok_or_else(|| {
        let task = match L::TASK {
            Task::SingleLabel => "",
            Task::MultiLabel => "multi-label ",
        };
        let other = REGISTRY.iter().any(|e| e.names.contains(&name));
        crate::input_error!(
            "unknown {task}method '{name}'{} (known: {})",
            if other {
                format!(" (it is for {} data)", other_task(L::TASK).name())
            } else {
                String::new()
            },
            names::<L>().join(", ")
        )
    })
}

fn other_task(task: Task) -> Task {
    match task {
        Task::SingleLabel => Task::MultiLabel,
        Task::MultiLabel => Task::SingleLabel,
    }
}

/// The report names of the methods a study of task `L` runs: `names` with
/// `all` expanded to every method of the task (every one but those run on
/// request when `names` is not given); an unknown name is an input error.
pub fn expand<L: Learn>(names: Option<&[String]>) -> Result<Vec<String>> {
    let Some(names) = names else {
        return Ok(methods::<L>()
            .filter(|v| !ON_REQUEST.contains(&v.name))
            .map(|v| v.name.to_string())
            .collect());
    };
    let mut out = Vec::new();
    for name in names {
        if name == "all" {
            out.extend(self::names::<L>().into_iter().map(String::from));
        } else {
            out.push(lookup::<L>(name)?.name.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_selects_one_method_and_names_do_not_collide() {
        let mut seen = std::collections::HashSet::new();
        for e in REGISTRY {
            assert!(e.single.is_some() || e.multi.is_some());
            for n in e.names {
                assert!(seen.insert(*n), "{n} names two lines");
            }
            // The report names are among the names users type.
            for v in [
                e.single.as_ref().map(|v| v.name),
                e.multi.as_ref().map(|v| v.name),
            ]
            .into_iter()
            .flatten()
            {
                assert!(e.names.contains(&v), "{v}");
            }
        }
    }

    #[test]
    fn both_spellings_select_the_same_method_on_both_tasks() {
        for (a, b) in [("tau", "tau-norm"), ("cb", "class-aware")] {
            assert_eq!(
                find::<usize>(a).unwrap().name,
                find::<usize>(b).unwrap().name
            );
            assert_eq!(
                find::<LabelSet>(a).unwrap().name,
                find::<LabelSet>(b).unwrap().name
            );
        }
        let e = lookup::<LabelSet>("ib").err().unwrap().to_string();
        assert!(e.contains("unknown multi-label method 'ib'"), "{e}");
        assert!(e.contains("single-label"), "{e}");
    }
}
