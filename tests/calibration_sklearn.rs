//! emo's calibration numbers against scikit-learn's on the same probabilities
//! (values made once by scripts/make_calibration_fixture.py and committed):
//! reliability curves with equal-width and equal-mass bins, Brier score and log
//! loss, to 1e-12.

use crate::common::{self, floats, indices};
use emo::metrics::calibration::{brier, brier_binary, log_loss, reliability, top_label, Binning};
use serde_json::Value;

fn flags(v: &Value) -> Vec<bool> {
    indices(v).into_iter().map(|x| x == 1).collect()
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
        let labels = indices(&case["labels"]);
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
    let outcome = flags(&b["outcome"]);
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
        let labels = indices(&case["labels"]);
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

/// Temperature scaling fitted on validation logits equals scikit-learn's
/// (`CalibratedClassifierCV(FrozenEstimator(head), method="temperature")`): the
/// same inverse temperature up to its minimiser's tolerance, the same test
/// probabilities, and a log loss at least as low.
#[test]
fn temperature_scaling_equals_scikit_learn() {
    use emo::calibration::temperature;
    let fx: Value = common::fixture("sklearn_calibration.json");
    let cases = fx["temperature"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let labels = indices(&case["valid_labels"]);
        let valid = floats(&case["valid_logits"]);
        let t = temperature::fit(&valid, k, &labels);
        let beta = case["beta"].as_f64().unwrap();
        assert!(
            ((1.0 / t.t) / beta - 1.0).abs() < 1e-6,
            "{name}: β emo {} vs scikit-learn {beta}",
            1.0 / t.t
        );
        let ours = temperature::log_loss(&valid, k, &labels, 1.0 / t.t);
        let theirs = temperature::log_loss(&valid, k, &labels, beta);
        assert!(ours <= theirs + 1e-15, "{name}: {ours} vs {theirs}");
        let probs = t.probabilities(&floats(&case["test_logits"]), k);
        for (i, (a, b)) in probs.iter().zip(floats(&case["test_probs"])).enumerate() {
            assert!(
                (a - b).abs() < 1e-6,
                "{name}: test probability {i}: {a} vs {b}"
            );
        }
    }
    // Over-confident logits are cooled (T > 1), under-confident ones sharpened.
    let t0 = temperature::fit(
        &floats(&cases[0]["valid_logits"]),
        8,
        &indices(&cases[0]["valid_labels"]),
    );
    assert!(t0.t > 1.0, "{t0:?}");
    assert!(cases[1]["beta"].as_f64().unwrap() > 1.0);
}

/// Platt scaling of one label's scores equals scikit-learn's
/// (`CalibratedClassifierCV(FrozenEstimator(head), method="sigmoid")`), for a
/// common label and for one with 4 positives in its validation split.
#[test]
fn platt_scaling_equals_scikit_learn() {
    use emo::calibration::platt;
    let fx: Value = common::fixture("sklearn_calibration.json");
    let cases = fx["platt"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let outcome = flags(&case["valid_outcome"]);
        let m = platt::fit(&floats(&case["valid_scores"]), &outcome);
        let (a, b) = (case["a"].as_f64().unwrap(), case["b"].as_f64().unwrap());
        assert!(
            (m.a - a).abs() < 1e-5 * a.abs().max(1.0) && (m.b - b).abs() < 1e-5 * b.abs().max(1.0),
            "{name}: emo {m:?} vs scikit-learn a={a}, b={b}"
        );
        for (i, (f, p)) in floats(&case["test_scores"])
            .iter()
            .zip(floats(&case["test_probs"]))
            .enumerate()
        {
            let ours = m.probability(*f);
            assert!((ours - p).abs() < 1e-6, "{name}: test {i}: {ours} vs {p}");
        }
    }
}

/// Isotonic calibration of one label's scores equals scikit-learn's
/// (`method="isotonic"`: pool-adjacent-violators, tied scores pooled, linear
/// between knots, clipped outside them), for a common label and for a rare one
/// whose validation scores repeat.
#[test]
fn isotonic_calibration_equals_scikit_learn() {
    use emo::calibration::isotonic;
    let fx: Value = common::fixture("sklearn_calibration.json");
    let cases = fx["isotonic"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let m = isotonic::fit(
            &floats(&case["valid_scores"]),
            &flags(&case["valid_outcome"]),
        );
        for (i, (f, p)) in floats(&case["test_scores"])
            .iter()
            .zip(floats(&case["test_probs"]))
            .enumerate()
        {
            close(m.probability(*f), p, &format!("{name}: test {i}"));
        }
    }
}

/// A softmax head calibrated class by class (Platt or isotonic, one-vs-rest,
/// rows renormalised) equals scikit-learn's `CalibratedClassifierCV` with the
/// same method on the same 8-class validation logits.
#[test]
fn one_vs_rest_maps_of_a_softmax_head_equal_scikit_learn() {
    use emo::calibration::{Calibrator, Kind};
    use emo::data::Task;
    let fx: Value = common::fixture("sklearn_calibration.json");
    let cases = fx["one_vs_rest"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let method = case["method"].as_str().unwrap();
        let kind = if method == "sigmoid" {
            Kind::Platt
        } else {
            Kind::Isotonic
        };
        let c = case["n_classes"].as_u64().unwrap() as usize;
        let labels = indices(&case["valid_labels"]);
        let truth: Vec<bool> = labels
            .iter()
            .flat_map(|&y| (0..c).map(move |k| k == y))
            .collect();
        let m = Calibrator::fit(
            kind,
            Task::SingleLabel,
            &floats(&case["valid_logits"]),
            c,
            &truth,
        )
        .unwrap()
        .unwrap();
        let ours = m.probabilities(Task::SingleLabel, &floats(&case["test_logits"]), c);
        let theirs = floats(&case["test_probs"]);
        assert_eq!(ours.len(), theirs.len());
        // Platt's A and B are found by iteration (agree to 1e-5, see above).
        let tol = if kind == Kind::Platt { 1e-6 } else { 1e-12 };
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                (a - b).abs() < tol,
                "{method}: value {i}: emo {a} vs scikit-learn {b}"
            );
        }
    }
}
