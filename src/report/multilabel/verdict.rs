//! The verdict of a multi-label study in words, generated from its numbers:
//! which method validation recommends and what it scores on test, what
//! choosing thresholds on validation buys over a fixed cut, and — the
//! question the study exists for — whether each rebalancing method raises the
//! rare emotions against plain BCE and what it costs in micro-F1. Directions
//! are named only when the 95% interval of the difference excludes zero (the
//! single-label verdict's rule, [`crate::report::verdict::clause`]).

use crate::data::LabelSet;
use crate::metrics::multilabel::MultiStat;
use crate::report::verdict::{clause, Change};
use crate::report::Study;

fn change(study: &Study<LabelSet>, base: usize, m: usize, s: MultiStat) -> Change {
    let a = study.analysis();
    Change {
        before: study.test_mean(base, s),
        after: study.test_mean(m, s),
        diff: a.method(m).and_then(|iv| iv.diff(s)),
    }
}

pub fn verdict(study: &Study<LabelSet>) -> Vec<String> {
    let a = study.analysis();
    let mut out = Vec::new();
    let test = |r: usize, s: MultiStat| match a.method(r) {
        Some(iv) => {
            let i = iv.stat(s);
            format!("{:.4} [{:.4}, {:.4}]", i.estimate, i.lo, i.hi)
        }
        None => format!("{:.4}", study.test_mean(r, s)),
    };
    if study.methods.len() == 1 {
        // One saved model scored (`emo evaluate`): nothing to recommend.
        out.push(format!(
            "{} (`{}`) on these texts, at its saved thresholds: macro-F1 {}, micro-F1 {}, rare-third F1 {}.",
            study.methods[0].title,
            study.methods[0].name,
            test(0, MultiStat::MacroF1),
            test(0, MultiStat::MicroF1),
            test(0, MultiStat::RareF1),
        ));
    } else if let Some(r) = a.recommended {
        let method = &study.methods[r];
        let test = |s: MultiStat| test(r, s);
        out.push(format!(
            "Recommended by validation macro-F1: {} (`{}`, {:.4} on validation halves held out from its thresholds). On test: macro-F1 {}, micro-F1 {}, rare-third F1 {}.",
            method.title,
            method.name,
            method.spread_by(|r| r.fit.validation_score).0,
            test(MultiStat::MacroF1),
            test(MultiStat::MicroF1),
            test(MultiStat::RareF1),
        ));
    }
    if let Some(b) = a.baseline.or(a.recommended) {
        let m = &study.methods[b];
        let mean = |f: fn(&crate::report::Run<LabelSet>) -> f64| m.spread_by(f).0;
        out.push(format!(
            "Thresholds matter: {}'s test macro-F1 is {:.4} with every threshold at 0.5 and {:.4} at 0.3 (the GoEmotions paper's), and {:.4} with each class's threshold chosen on validation.",
            m.name,
            mean(|r| r.fit.test_fixed.macro_avg.f1),
            mean(|r| r.fit.test_paper.macro_avg.f1),
            mean(|r| r.test.macro_avg.f1),
        ));
    }
    if let Some(b) = a.baseline {
        let mut raised = Vec::new();
        let mut costly = Vec::new();
        for m in (0..study.methods.len()).filter(|&m| m != b) {
            let rare = change(study, b, m, MultiStat::RareF1);
            let micro = change(study, b, m, MultiStat::MicroF1);
            let macro_ = change(study, b, m, MultiStat::MacroF1);
            if rare.direction() == Some(1) {
                raised.push(study.methods[m].name);
            }
            if micro.direction() == Some(-1) {
                costly.push(study.methods[m].name);
            }
            out.push(format!(
                "Against plain BCE, {} (`{}`) {}; it {}; and it {}.",
                study.methods[m].title,
                study.methods[m].name,
                clause("rare-third F1", &rare),
                clause("micro-F1", &micro),
                clause("macro-F1", &macro_),
            ));
        }
        if a.intervals.is_some() {
            let list = |v: &[&str]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            out.push(format!(
                "In short, against plain BCE: methods that raise the rare emotions' F1 beyond chance: {}; that cost micro-F1 beyond chance: {}.",
                list(&raised),
                list(&costly)
            ));
        }
    }
    out
}
