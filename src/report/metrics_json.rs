//! `metrics.json`: every number of the report, per method and per class, in
//! scikit-learn's `classification_report(output_dict=True)` layout (so existing
//! tooling reads it) plus the shot groups, the validation scores, what each
//! method chose, and the run's settings. Fit times go to `timings.json`.

use super::{Study, Writer};
use crate::metrics::{Metrics, Stat};
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::path::Path;

pub struct MetricsJson;

/// One entry per headline statistic, keyed by its name as `--select` spells it.
fn by_stat(value: impl Fn(crate::metrics::Stat) -> Value) -> Map<String, Value> {
    crate::metrics::Stat::ALL
        .iter()
        .map(|&s| {
            let key = serde_json::to_value(s).expect("a unit enum serialises to a string");
            (key.as_str().unwrap_or_default().to_string(), value(s))
        })
        .collect()
}

/// scikit-learn's layout: one entry per class name, then accuracy, macro avg, weighted avg.
pub fn classification_report(classes: &[String], m: &Metrics) -> Value {
    let mut out = Map::new();
    for (name, c) in classes.iter().zip(&m.per_class) {
        out.insert(
            name.clone(),
            json!({ "precision": c.precision, "recall": c.recall, "f1-score": c.f1, "support": c.support }),
        );
    }
    let n: usize = m.per_class.iter().map(|c| c.support).sum();
    out.insert("accuracy".into(), json!(m.accuracy));
    out.insert(
        "macro avg".into(),
        json!({ "precision": m.macro_precision, "recall": m.macro_recall, "f1-score": m.macro_f1, "support": n }),
    );
    out.insert(
        "weighted avg".into(),
        json!({ "precision": m.weighted_precision, "recall": m.weighted_recall, "f1-score": m.weighted_f1, "support": n }),
    );
    Value::Object(out)
}

impl Writer for MetricsJson {
    fn write(&self, study: &Study, dir: &Path) -> Result<Vec<String>> {
        let analysis = study.analysis();
        let methods: Map<String, Value> = study
            .methods
            .iter()
            .map(|m| {
                let runs: Vec<Value> = m
                    .runs
                    .iter()
                    .map(|r| {
                        let mut run = json!({
                            "seed": r.seed,
                            "test": classification_report(&study.classes, &r.test),
                            "test_balanced_accuracy": r.test.balanced_accuracy,
                            "test_groups": study.groups(&r.test),
                            "test_confusion": r.test.confusion,
                            "test_never_predicted": r.test.per_class.iter().zip(&study.classes)
                                .filter(|(c, _)| c.predicted == 0).map(|(_, n)| n).collect::<Vec<_>>(),
                            "validation": classification_report(&study.classes, &r.validation),
                            "validation_balanced_accuracy": r.validation.balanced_accuracy,
                            "chosen": r.chosen,
                            "weight_norms": r.weight_norms,
                            "calibration": super::calibration::json(r.calibration.as_ref()),
                            "shift": super::shift::json(r.shift.as_ref()),
                        });
                        if study.subsamples.is_some() {
                            run["subsample"] = json!(r.subsample);
                        }
                        run
                    })
                    .collect();
                (
                    m.name.to_string(),
                    json!({ "summary": m.summary, "runs": runs }),
                )
            })
            .collect();
        let doc = json!({
            "recommended": analysis.recommendation.as_ref().map(|r| json!({
                "method": r.method,
                "by": r.by,
                "rule": "the best mean over seeds of `by` on the validation split (macro-F1 there averages the classes validation has); test never chooses",
                "validation": r.validation,
                "runner_up": r.runner_up,
            })),
            "verdict": super::verdict::verdict(study, analysis),
            "rare_classes": analysis.rare.iter().map(|&c| &study.classes[c]).collect::<Vec<_>>(),
            "frequent_classes": analysis.frequent.iter().map(|&c| &study.classes[c]).collect::<Vec<_>>(),
            "unreliable_classes": study.test_counts.iter().enumerate()
                .filter(|(_, &n)| n < super::analysis::FEW_TEST_EXAMPLES)
                .map(|(c, _)| &study.classes[c]).collect::<Vec<_>>(),
            "bootstrap": analysis.intervals.as_ref().map(|ivs| json!({
                "resamples": analysis.resamples,
                "seed": analysis.seed,
                "confidence": crate::uncertainty::CONFIDENCE,
                "method": "paired percentile bootstrap over test rows; each redraw averages a method's seeds",
                "baseline": analysis.baseline.map(|b| study.methods[b].name),
                "statistics": crate::metrics::Stat::ALL,
                "methods": study.methods.iter().zip(ivs).map(|(m, iv)| {
                    let per_class: Map<String, Value> = study.classes.iter().zip(&iv.per_class)
                        .map(|(c, ci)| (c.clone(), json!(ci))).collect();
                    (m.name.to_string(), json!({
                        "intervals": by_stat(|s| json!(iv.stat(s))),
                        "difference_from_baseline": iv.vs_baseline.as_ref().map(|_| by_stat(|s| json!(iv.diff(s)))),
                        "per_class": per_class,
                    }))
                }).collect::<Map<String, Value>>(),
            })),
            "subsamples": study.subsamples.as_ref().map(|sub| json!({
                "profile": sub.profile,
                "seeds": sub.seeds,
                "validation": sub.validation,
                "interval": "paired difference from ib per subsample; mean ± t(0.975, n−1)·sd/√n",
                "statistics": Stat::ALL.iter().map(|&s| {
                    let key = serde_json::to_value(s).expect("a unit enum serialises to a string");
                    let per_method: Map<String, Value> = super::subsamples::analyse(study, s, &analysis.rare)
                        .map(|v| study.methods.iter().zip(v).map(|(m, o)| (m.name.to_string(), json!(o))).collect())
                        .unwrap_or_default();
                    (key.as_str().unwrap_or_default().to_string(), Value::Object(per_method))
                }).collect::<Map<String, Value>>(),
            })),
            "methods": methods,
        });
        super::write_metrics(study, dir, doc)
    }
}
