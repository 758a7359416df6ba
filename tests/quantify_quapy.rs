//! emo's five quantification estimators against QuaPy 0.2.3 on the same
//! posteriors, predictions and validation labels (values made once by
//! scripts/make_quantify_fixture.py and committed): CC, PCC and SLD to
//! rounding; ACC and PACC's misclassification matrices to rounding, and their
//! estimates to QuaPy's optimiser's tolerance, never with a larger residual;
//! and SLD on bias-corrected temperature scaling against EMQ(calib="bcts").

use crate::common::{self, floats, indices};
use emo::quantify::estimators::{self, Adjustment, Outputs};
use serde_json::Value;

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

/// Single-label quantification reads bias-corrected temperature scaling's
/// probabilities (a temperature and a per-class offset fitted on validation):
/// QuaPy's EMQ with calib="bcts" (the abstention package's fit) gives the same
/// calibrated posteriors and the same SLD estimate, within what its L-BFGS-B
/// (stopping at a relative change of 1e-7) leaves from the optimum of the same
/// convex likelihood; emo's fit never has a larger validation log loss.
#[test]
fn bias_corrected_sld_equals_quapy_emq_bcts() {
    use emo::data::Task;
    use emo::quantify::{key_of, Method, Quantifier};
    let fx: Value = common::fixture("quapy_quantify.json");
    let case = &fx["bcts"];
    let k = case["k"].as_u64().unwrap() as usize;
    let labels: Vec<String> = (0..k).map(|i| format!("c{i}")).collect();
    let truth: Vec<bool> = indices(&case["valid_labels"])
        .iter()
        .flat_map(|&y| (0..k).map(move |j| j == y))
        .collect();
    let q = Quantifier::fit(
        Task::SingleLabel,
        labels,
        None,
        None,
        &floats(&case["valid_logits"]),
        &truth,
    );
    let nll = |p: &[f64]| {
        -p.chunks(k)
            .zip(indices(&case["valid_labels"]))
            .map(|(row, y)| row[y].ln())
            .sum::<f64>()
    };
    let (ours_v, theirs_v) = (
        q.said(&floats(&case["valid_logits"])).probabilities,
        floats(&case["calibrated_valid_posteriors"]),
    );
    assert!(
        nll(&ours_v) <= nll(&theirs_v) + 1e-9,
        "emo's validation log loss {} above QuaPy's {}",
        nll(&ours_v),
        nll(&theirs_v)
    );
    let said = q.said(&floats(&case["test_logits"]));
    let theirs = floats(&case["calibrated_test_posteriors"]);
    let worst = said
        .probabilities
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 2e-3, "calibrated posteriors differ by {worst}");
    let keys: Vec<u64> = (0..said.len()).map(|i| key_of(None, i + 1)).collect();
    let ours: Vec<f64> = q
        .estimate(Method::Sld, &said, &keys, 0, 0)
        .iter()
        .map(|s| s.share)
        .collect();
    for (i, (a, b)) in ours.iter().zip(floats(&case["sld"])).enumerate() {
        assert!((a - b).abs() < 5e-3, "SLD[{i}]: emo {a} vs QuaPy {b}");
    }
}
