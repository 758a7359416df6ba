//! Platt scaling (Platt 1999; Lin, Lin & Weng 2007): one label's score f mapped to
//! a probability 1 / (1 + exp(A·f + B)), A and B fitted on validation by log loss
//! against Platt's smoothed targets ((n₊ + 1)/(n₊ + 2) for a positive, 1/(n₋ + 2)
//! for a negative), which keep a label seen a handful of times from being fitted
//! to probabilities of exactly 0 and 1. What a multi-label head's per-label
//! sigmoids need: each label's own slope and offset, as scikit-learn's
//! `method="sigmoid"` fits them.
//!
//! The loss is convex in (A, B); Newton's method with a halving line search
//! reaches its minimum to machine precision in a few steps.

/// A fitted map for one label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

/// log(1 + exp(x)) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Log loss of (A, B) against the targets, summed.
fn loss(scores: &[f64], targets: &[f64], a: f64, b: f64) -> f64 {
    scores
        .iter()
        .zip(targets)
        .map(|(&f, &t)| {
            // p = σ(−r): −t·log p − (1 − t)·log(1 − p) = t·softplus(r) + (1 − t)·softplus(−r).
            let r = a * f + b;
            t * softplus(r) + (1.0 - t) * softplus(-r)
        })
        .sum()
}

/// Fits A and B to `scores` and whether each label was present.
pub fn fit(scores: &[f64], outcome: &[bool]) -> Platt {
    assert_eq!(scores.len(), outcome.len(), "one outcome per score");
    let n1 = outcome.iter().filter(|&&o| o).count() as f64;
    let n0 = scores.len() as f64 - n1;
    let (hi, lo) = ((n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0));
    let targets: Vec<f64> = outcome.iter().map(|&o| if o { hi } else { lo }).collect();
    let (mut a, mut b) = (0.0, ((n0 + 1.0) / (n1 + 1.0)).ln());
    let mut current = loss(scores, &targets, a, b);
    for _ in 0..100 {
        // Gradient and Hessian in (A, B); d loss / dr = t − p, d² = p(1 − p).
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&f, &t) in scores.iter().zip(&targets) {
            let p = sigmoid(-(a * f + b));
            let (g, h) = (t - p, (p * (1.0 - p)).max(1e-300));
            ga += g * f;
            gb += g;
            haa += h * f * f;
            hab += h * f;
            hbb += h;
        }
        // A tiny ridge keeps the step defined when every score is the same.
        let det = (haa + 1e-12) * (hbb + 1e-12) - hab * hab;
        let da = -((hbb + 1e-12) * ga - hab * gb) / det;
        let db = -((haa + 1e-12) * gb - hab * ga) / det;
        let mut step = 1.0;
        let mut moved = false;
        while step > 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let next = loss(scores, &targets, na, nb);
            if next < current {
                (a, b, current, moved) = (na, nb, next, true);
                break;
            }
            step *= 0.5;
        }
        if !moved {
            break;
        }
    }
    Platt { a, b }
}

impl Platt {
    /// The calibrated probability of the label at score `f`.
    pub fn probability(&self, f: f64) -> f64 {
        sigmoid(-(self.a * f + self.b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_that_separates_nothing_gets_the_smoothed_base_rate() {
        let scores = [0.3; 10];
        let outcome = [
            true, true, false, false, false, false, false, false, false, false,
        ];
        let p = fit(&scores, &outcome).probability(0.3);
        // Targets 3/4 for the 2 positives and 1/10 for the 8 negatives: mean 0.23.
        assert!((p - 0.23).abs() < 1e-9, "{p}");
    }

    #[test]
    fn higher_scores_mean_higher_probabilities_when_they_predict_the_label() {
        let scores: Vec<f64> = (0..40).map(|i| i as f64 / 10.0 - 2.0).collect();
        let outcome: Vec<bool> = scores.iter().map(|&s| s > 0.3).collect();
        let m = fit(&scores, &outcome);
        assert!(m.a < 0.0, "{m:?}");
        assert!(m.probability(1.5) > 0.9 && m.probability(-1.5) < 0.1);
    }
}
