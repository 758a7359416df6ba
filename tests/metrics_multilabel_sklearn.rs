//! emo's multi-label metrics against scikit-learn's on the same indicator matrices
//! (values made once by scripts/make_multilabel_sklearn_fixture.py and committed).
//! Agreement is to 1e-12, average precision included: the fixture's scores are
//! float32 values written exactly, so both sides rank the very same numbers and
//! see the very same ties.

use crate::common;
use emo::metrics::multilabel::{Average, Indicator, MultiLabelMetrics};
use emo::metrics::GroupThresholds;
use serde_json::Value;

fn close(a: f64, b: &Value, what: &str) {
    let b = b.as_f64().unwrap();
    assert!((a - b).abs() < 1e-12, "{what}: emo {a} vs scikit-learn {b}");
}

fn count(a: usize, b: &Value, what: &str) {
    assert_eq!(a as u64, b.as_u64().unwrap(), "{what}");
}

fn indicator(case: &Value, key: &str, n_classes: usize) -> Indicator {
    let sets: Vec<Vec<usize>> = case[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        })
        .collect();
    Indicator::from_sets(n_classes, &sets)
}

fn check_average(a: &Average, b: &Value, what: &str) {
    close(a.precision, &b["precision"], &format!("{what} precision"));
    close(a.recall, &b["recall"], &format!("{what} recall"));
    close(a.f1, &b["f1"], &format!("{what} F1"));
    count(a.support, &b["support"], &format!("{what} support"));
}

#[test]
fn multilabel_metrics_equal_scikit_learn() {
    let fx: Value = common::fixture("sklearn_multilabel.json");
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let n = case["n_classes"].as_u64().unwrap() as usize;
        let y_true = indicator(case, "y_true", n);
        let y_pred = indicator(case, "y_pred", n);
        // Strings, not JSON numbers: serde_json may read a number one float64 ulp
        // off, and str::parse::<f32> gives back the generator's float32 exactly.
        let y_score: Vec<Vec<f32>> = case["y_score"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().parse::<f32>().unwrap())
                    .collect()
            })
            .collect();
        let m = MultiLabelMetrics::compute(&y_true, &y_pred, &y_score);

        for c in 0..n {
            let pc = &m.per_class[c];
            close(
                pc.precision,
                &case["precision"][c],
                &format!("{name}: precision[{c}]"),
            );
            close(
                pc.recall,
                &case["recall"][c],
                &format!("{name}: recall[{c}]"),
            );
            close(pc.f1, &case["f1"][c], &format!("{name}: f1[{c}]"));
            count(
                pc.support,
                &case["support"][c],
                &format!("{name}: support[{c}]"),
            );
            for (t, row) in m.confusion[c].iter().enumerate() {
                for (p, &cell) in row.iter().enumerate() {
                    count(
                        cell,
                        &case["confusion"][c][t][p],
                        &format!("{name}: confusion[{c}][{t}][{p}]"),
                    );
                }
            }
            close(
                m.average_precision[c],
                &case["average_precision"][c],
                &format!("{name}: average precision[{c}]"),
            );
        }
        let av = &case["averages"];
        check_average(&m.micro_avg, &av["micro"], &format!("{name}: micro"));
        check_average(&m.macro_avg, &av["macro"], &format!("{name}: macro"));
        check_average(
            &m.weighted_avg,
            &av["weighted"],
            &format!("{name}: weighted"),
        );
        check_average(&m.samples_avg, &av["samples"], &format!("{name}: samples"));
        close(
            m.hamming_loss,
            &case["hamming_loss"],
            &format!("{name}: Hamming loss"),
        );
        close(
            m.subset_accuracy,
            &case["subset_accuracy"],
            &format!("{name}: subset accuracy"),
        );
        close(
            m.jaccard_samples,
            &case["jaccard_samples"],
            &format!("{name}: samples Jaccard"),
        );
        close(
            m.macro_average_precision,
            &case["macro_average_precision"],
            &format!("{name}: macro average precision"),
        );
        close(
            m.macro_average_precision_present,
            &case["macro_average_precision_present"],
            &format!("{name}: macro average precision over present classes"),
        );

        let train: Vec<usize> = case["train_counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let groups = m.group_scores(&train, GroupThresholds::default());
        let expected = case["groups"].as_array().unwrap();
        assert_eq!(groups.len(), expected.len(), "{name}: number of groups");
        for (g, e) in groups.iter().zip(expected) {
            let what = format!("{name}: group {}", g.group.label());
            assert_eq!(g.group.label(), e["group"].as_str().unwrap(), "{what}");
            count(g.classes, &e["classes"], &format!("{what} classes"));
            close(g.recall, &e["recall"], &format!("{what} recall"));
            close(g.f1, &e["f1"], &format!("{what} F1"));
        }
    }
}
