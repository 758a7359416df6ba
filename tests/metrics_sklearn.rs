//! emo's metrics against scikit-learn's on the same predictions (values made once
//! by scripts/make_sklearn_fixture.py and committed). Agreement is to 1e-12:
//! the same definitions, not approximations of them.

use crate::common;
use emo::metrics::Metrics;
use serde_json::Value;

fn close(a: f64, b: &Value, what: &str) {
    let b = b.as_f64().unwrap();
    assert!((a - b).abs() < 1e-12, "{what}: emo {a} vs scikit-learn {b}");
}

#[test]
fn metrics_equal_scikit_learn() {
    let fx: Value = common::fixture("sklearn_metrics.json");
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let ints = |k: &str| -> Vec<usize> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        };
        let n = case["n_classes"].as_u64().unwrap() as usize;
        let m = Metrics::compute(&ints("y_true"), &ints("y_pred"), n);
        for c in 0..n {
            close(
                m.per_class[c].precision,
                &case["precision"][c],
                &format!("{name}: precision[{c}]"),
            );
            close(
                m.per_class[c].recall,
                &case["recall"][c],
                &format!("{name}: recall[{c}]"),
            );
            close(
                m.per_class[c].f1,
                &case["f1"][c],
                &format!("{name}: f1[{c}]"),
            );
            assert_eq!(
                m.per_class[c].support as u64,
                case["support"][c].as_u64().unwrap(),
                "{name}: support[{c}]"
            );
            for p in 0..n {
                assert_eq!(
                    m.confusion[c][p] as u64,
                    case["confusion"][c][p].as_u64().unwrap(),
                    "{name}: confusion[{c}][{p}]"
                );
            }
        }
        close(m.accuracy, &case["accuracy"], &format!("{name}: accuracy"));
        close(
            m.macro_precision,
            &case["macro_precision"],
            &format!("{name}: macro precision"),
        );
        close(
            m.macro_recall,
            &case["macro_recall"],
            &format!("{name}: macro recall"),
        );
        close(m.macro_f1, &case["macro_f1"], &format!("{name}: macro F1"));
        close(
            m.weighted_precision,
            &case["weighted_precision"],
            &format!("{name}: weighted precision"),
        );
        close(
            m.weighted_recall,
            &case["weighted_recall"],
            &format!("{name}: weighted recall"),
        );
        close(
            m.weighted_f1,
            &case["weighted_f1"],
            &format!("{name}: weighted F1"),
        );
        close(
            m.balanced_accuracy,
            &case["balanced_accuracy"],
            &format!("{name}: balanced accuracy"),
        );
    }
}
