//! emo's five quantification estimators against QuaPy 0.2.3 on the same
//! posteriors, predictions and validation labels (values made once by
//! scripts/make_quantify_fixture.py and committed): CC, PCC and SLD to
//! rounding; ACC and PACC's misclassification matrices to rounding, and their
//! estimates to QuaPy's optimiser's tolerance, never with a larger residual.

use crate::common;
use emo::quantify::estimators::{self, Adjustment, Outputs};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// ‖A p − b‖ for row-major `a`.
fn residual(a: &[f64], p: &[f64], b: &[f64]) -> f64 {
    let k = p.len();
    (0..k)
        .map(|r| ((0..k).map(|j| a[r * k + j] * p[j]).sum::<f64>() - b[r]).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn estimators_equal_quapy() {
    let fx: Value = common::fixture("quapy_quantify.json");
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let k = case["k"].as_u64().unwrap() as usize;
        let (vp, vy, vpred) = (
            floats(&case["valid_posteriors"]),
            indices(&case["valid_labels"]),
            indices(&case["valid_predicted"]),
        );
        let (tp, tpred) = (
            floats(&case["test_posteriors"]),
            indices(&case["test_predicted"]),
        );
        let valid = Outputs {
            k,
            posteriors: &vp,
            predicted: &vpred,
            weights: None,
        };
        let test = Outputs {
            k,
            posteriors: &tp,
            predicted: &tpred,
            weights: None,
        };
        let adj = Adjustment::fit(valid, &vy);
        let q = &case["quapy"];
        let close = |ours: &[f64], theirs: &[f64], tol: f64, what: &str| {
            assert_eq!(ours.len(), theirs.len(), "{name}: {what}");
            for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
                assert!(
                    (a - b).abs() <= tol,
                    "{name}: {what}[{i}]: emo {a} vs QuaPy {b}"
                );
            }
        };
        close(&estimators::cc(test), &floats(&q["cc"]), 1e-12, "CC");
        close(&estimators::pcc(test), &floats(&q["pcc"]), 1e-12, "PCC");
        close(
            &estimators::sld(test, &adj.prior),
            &floats(&q["sld"]),
            1e-9,
            "SLD",
        );
        for (what, matrix, ours) in [
            ("acc", &adj.crisp, estimators::acc(test, &adj)),
            ("pacc", &adj.soft, estimators::pacc(test, &adj)),
        ] {
            let theirs_m = floats(&q[format!("{what}_matrix")]);
            close(matrix, &theirs_m, 1e-12, &format!("{what} matrix"));
            let theirs = floats(&q[what]);
            close(&ours, &theirs, 1e-4, what);
            let b = floats(&q[format!("{what}_unadjusted")]);
            let (r_ours, r_theirs) = (residual(matrix, &ours, &b), residual(matrix, &theirs, &b));
            assert!(
                r_ours <= r_theirs + 1e-12,
                "{name}: {what}: emo's residual {r_ours} above QuaPy's {r_theirs}"
            );
        }
    }
}
