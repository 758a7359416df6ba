//! `metrics.json` of a multi-label study: every number per method, run and
//! class, each scoring in scikit-learn's `classification_report(output_dict=True)`
//! layout for indicator matrices (per class, then micro, macro, weighted and
//! samples averages), with the multi-label metrics beside it, the thresholds
//! each run chose, the intervals, and the settings. Byte-identical for the same
//! command, data, seed and device: fit times go to `timings.json`.

use super::verdict;
use crate::data::LabelSet;
use crate::metrics::multilabel::{MultiLabelMetrics, MultiStat};
use crate::report::Study;
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::path::Path;

/// scikit-learn's `classification_report` of indicator matrices, plus Hamming
/// loss, subset accuracy, samples Jaccard, average precision and the per-class
/// confusion matrices.
pub fn classification_report(classes: &[String], m: &MultiLabelMetrics) -> Value {
    let mut out = Map::new();
    for (name, c) in classes.iter().zip(&m.per_class) {
        out.insert(
            name.clone(),
            json!({ "precision": c.precision, "recall": c.recall, "f1-score": c.f1, "support": c.support }),
        );
    }
    for (key, avg) in [
        ("micro avg", &m.micro_avg),
        ("macro avg", &m.macro_avg),
        ("weighted avg", &m.weighted_avg),
        ("samples avg", &m.samples_avg),
    ] {
        out.insert(
            key.into(),
            json!({ "precision": avg.precision, "recall": avg.recall, "f1-score": avg.f1, "support": avg.support }),
        );
    }
    out.insert("hamming_loss".into(), json!(m.hamming_loss));
    out.insert("subset_accuracy".into(), json!(m.subset_accuracy));
    out.insert("jaccard_samples".into(), json!(m.jaccard_samples));
    out.insert(
        "macro_average_precision".into(),
        json!(m.macro_average_precision),
    );
    out.insert("average_precision".into(), json!(m.average_precision));
    out.insert("multilabel_confusion_matrix".into(), json!(m.confusion));
    Value::Object(out)
}

fn by_stat(value: impl Fn(MultiStat) -> Value) -> Map<String, Value> {
    MultiStat::ALL
        .iter()
        .map(|&s| {
            let key = serde_json::to_value(s).expect("a unit enum serialises to a string");
            (key.as_str().unwrap_or_default().to_string(), value(s))
        })
        .collect()
}

pub fn write(study: &Study<LabelSet>, dir: &Path) -> Result<Vec<String>> {
    let a = study.analysis();
    let report = |m: &MultiLabelMetrics| classification_report(&study.classes, m);
    let methods: Map<String, Value> = study
        .methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let runs: Vec<Value> = m
                .runs
                .iter()
                .map(|r| {
                    let thresholds: Map<String, Value> = study
                        .classes
                        .iter()
                        .zip(&r.fit.thresholds)
                        .map(|(c, t)| (c.clone(), json!(t)))
                        .collect();
                    json!({
                        "seed": r.seed,
                        "thresholds": thresholds,
                        "test": report(&r.test),
                        "test_at_0.5": report(&r.fit.test_fixed),
                        "test_at_0.3": report(&r.fit.test_paper),
                        "validation": report(&r.validation),
                        "validation_score": r.fit.validation_score,
                        "chosen": r.chosen,
                        "weight_norms": r.weight_norms,
                        "calibration": crate::report::calibration::json(r.calibration.as_ref()),
                        "shift": crate::report::shift::json(r.shift.as_ref()),
                    })
                })
                .collect();
            let intervals = a.method(i).map(|iv| {
                let per_class: Map<String, Value> = study
                    .classes
                    .iter()
                    .zip(&iv.per_class)
                    .map(|(c, ci)| (c.clone(), json!(ci)))
                    .collect();
                json!({
                    "intervals": by_stat(|s| json!(iv.stat(s))),
                    "difference_from_baseline": iv.vs_baseline.as_ref().map(|_| by_stat(|s| json!(iv.diff(s)))),
                    "per_class_f1": per_class,
                })
            });
            (
                m.name.to_string(),
                json!({
                    "title": m.title,
                    "summary": m.summary,
                    "runs": runs,
                    "bootstrap": intervals,
                }),
            )
        })
        .collect();
    let doc = json!({
        "task": "multi-label",
        "train_texts": {"all": study.extra.texts[0], "no_label": study.extra.texts[1], "several_labels": study.extra.texts[2]},
        "cooccurrence": study.extra.cooccurrence,
        "when_none_passes": study.rule,
        "recommended": a.recommended.map(|r| json!({
            "method": study.methods[r].name,
            "rule": "the best mean over seeds of validation_score: validation macro-F1 on each half of validation at thresholds chosen without that half; test never chooses",
        })),
        "verdict": verdict::verdict(study),
        "rare_classes": a.rare.iter().map(|&c| &study.classes[c]).collect::<Vec<_>>(),
        "bootstrap": a.intervals.as_ref().map(|_| json!({
            "resamples": a.resamples,
            "confidence": crate::uncertainty::CONFIDENCE,
            "method": "paired percentile bootstrap over test texts (each with all its labels); each redraw averages a method's seeds",
            "baseline": a.baseline.map(|b| study.methods[b].name),
            "statistics": MultiStat::ALL,
        })),
        "methods": methods,
    });
    crate::report::write_metrics(study, dir, doc)
}
