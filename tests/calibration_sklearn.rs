//! emo's calibration numbers against scikit-learn's on the same probabilities
//! (values made once by scripts/make_calibration_fixture.py and committed):
//! reliability curves with equal-width and equal-mass bins, Brier score and log
//! loss, to 1e-12.

use crate::common;
use emo::metrics::calibration::{brier, brier_binary, log_loss, reliability, top_label, Binning};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-12, "{what}: emo {a} vs scikit-learn {b}");
}

/// Every curve of `expected` (one per binning) from `prob` and `outcome`.
fn check_curves(prob: &[f64], outcome: &[bool], expected: &Value, name: &str) {
    for c in expected.as_array().unwrap() {
        let n = c["n_bins"].as_u64().unwrap() as usize;
        let binning = match c["strategy"].as_str().unwrap() {
            "uniform" => Binning::Uniform,
            _ => Binning::Quantile,
        };
        let r = reliability(prob, outcome, n, binning);
        let what = format!("{name}, {} {n}", c["strategy"]);
        let (t, p) = (floats(&c["prob_true"]), floats(&c["prob_pred"]));
        assert_eq!(r.prob_true.len(), t.len(), "{what}: non-empty bins");
        for i in 0..t.len() {
            close(r.prob_true[i], t[i], &format!("{what}: prob_true[{i}]"));
            close(r.prob_pred[i], p[i], &format!("{what}: prob_pred[{i}]"));
        }
        assert_eq!(r.counts.iter().sum::<usize>(), prob.len(), "{what}");
        // ECE from the curve: the mean gap weighted by bin counts, never above the
        // largest gap.
        let max_gap = t
            .iter()
            .zip(&p)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(r.ece() <= max_gap + 1e-15, "{what}");
    }
}

#[test]
fn calibration_equals_scikit_learn() {
    let fx: Value = common::fixture("sklearn_calibration.json");
    let cases = fx["multiclass"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let labels: Vec<usize> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let probs = floats(&case["probs"]);
        close(
            brier(&probs, k, &labels),
            case["brier"].as_f64().unwrap(),
            &format!("{name}: brier"),
        );
        close(
            log_loss(&probs, k, &labels),
            case["log_loss"].as_f64().unwrap(),
            &format!("{name}: log loss"),
        );
        let (conf, correct) = top_label(&probs, k, &labels);
        check_curves(&conf, &correct, &case["top_label"], name);
    }
    let b = &fx["binary"];
    let prob = floats(&b["prob"]);
    let outcome: Vec<bool> = b["outcome"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() == 1)
        .collect();
    close(
        brier_binary(&prob, &outcome),
        b["brier"].as_f64().unwrap(),
        "binary brier",
    );
    check_curves(&prob, &outcome, &b["curves"], "binary");
}

/// The over-confident classifier is worse calibrated than the same one unsharpened:
/// ECE tells them apart in the direction it must.
#[test]
fn sharpening_a_classifier_raises_its_calibration_error() {
    let fx: Value = common::fixture("sklearn_calibration.json");
    let ece = |i: usize| {
        let case = &fx["multiclass"][i];
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let labels: Vec<usize> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let (conf, correct) = top_label(&floats(&case["probs"]), k, &labels);
        (
            reliability(&conf, &correct, 15, Binning::Uniform).ece(),
            reliability(&conf, &correct, 15, Binning::Quantile).ece(),
        )
    };
    let (sharp, plain) = (ece(0), ece(1));
    assert!(
        sharp.0 > plain.0 && sharp.1 > plain.1,
        "{sharp:?} vs {plain:?}"
    );
}
