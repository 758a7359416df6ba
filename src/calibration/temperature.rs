//! Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks",
//! 2017): the softmax head's logits divided by one number T, chosen to minimise
//! the log loss on validation. One parameter cannot overfit a validation split of
//! a few hundred texts, and dividing by T > 0 keeps every argmax.
//!
//! The mean log loss is convex in β = 1/T, its derivative the mean over rows of
//! E_softmax(βz)[z] − z_y, increasing in β; so β is the derivative's root, found by
//! bisection on log β over scikit-learn's bounds (−10, 10), to the last bit
//! rather than to a minimiser's tolerance.

/// A fitted temperature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Temperature {
    /// T; probabilities are softmax(logits / T).
    pub t: f64,
}

/// Mean log loss of softmax(β · logits) against `labels` (rows of `n_classes`).
pub fn log_loss(logits: &[f64], n_classes: usize, labels: &[usize], beta: f64) -> f64 {
    assert_eq!(logits.len(), labels.len() * n_classes, "one row per label");
    let total: f64 = logits
        .chunks_exact(n_classes)
        .zip(labels)
        .map(|(row, &y)| {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(beta * z));
            let lse = max
                + row
                    .iter()
                    .map(|&z| (beta * z - max).exp())
                    .sum::<f64>()
                    .ln();
            lse - beta * row[y]
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// d(log loss)/dβ at `beta`.
fn slope(logits: &[f64], n_classes: usize, labels: &[usize], beta: f64) -> f64 {
    let total: f64 = logits
        .chunks_exact(n_classes)
        .zip(labels)
        .map(|(row, &y)| {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(beta * z));
            let (mut num, mut den) = (0.0, 0.0);
            for &z in row {
                let e = (beta * z - max).exp();
                num += e * z;
                den += e;
            }
            num / den - row[y]
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// The temperature minimising the log loss of `logits` (rows of `n_classes`)
/// against `labels`. Data a head separates perfectly has no minimum (sharper is
/// always better): the fit stops at the bound, T = e⁻¹⁰, as scikit-learn's does.
pub fn fit(logits: &[f64], n_classes: usize, labels: &[usize]) -> Temperature {
    let (mut lo, mut hi) = (-10.0f64, 10.0f64);
    let g = |log_beta: f64| slope(logits, n_classes, labels, log_beta.exp());
    if labels.is_empty() || g(lo) >= 0.0 {
        return Temperature {
            t: if labels.is_empty() { 1.0 } else { (-lo).exp() },
        };
    }
    if g(hi) <= 0.0 {
        return Temperature { t: (-hi).exp() };
    }
    // Until the interval cannot be halved any more in f64.
    loop {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if g(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Temperature {
        t: (-0.5 * (lo + hi)).exp(),
    }
}

impl Temperature {
    /// softmax(logits / T), row by row.
    pub fn probabilities(&self, logits: &[f64], n_classes: usize) -> Vec<f64> {
        let beta = 1.0 / self.t;
        let mut out = Vec::with_capacity(logits.len());
        for row in logits.chunks_exact(n_classes) {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(beta * z));
            let start = out.len();
            out.extend(row.iter().map(|&z| (beta * z - max).exp()));
            let sum: f64 = out[start..].iter().sum();
            out[start..].iter_mut().for_each(|p| *p /= sum);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fitted_temperature_is_the_log_loss_minimum() {
        // Over-confident logits: right 3 times in 4 but sure of it.
        let logits = [8.0, 0.0, 0.0, 8.0, 8.0, 0.0, 0.0, 8.0];
        let labels = [0, 1, 0, 0];
        let t = fit(&logits, 2, &labels);
        assert!(t.t > 1.0, "an over-confident head is cooled: {t:?}");
        let at = |b: f64| log_loss(&logits, 2, &labels, b);
        let b = 1.0 / t.t;
        assert!(at(b) <= at(b * 1.001) && at(b) <= at(b * 0.999));
        // Two symmetric classes: at the minimum the mean probability of the top
        // class equals the accuracy.
        let p = t.probabilities(&logits, 2);
        let top: f64 = p.chunks(2).map(|r| r[0].max(r[1])).sum::<f64>() / 4.0;
        assert!((top - 0.75).abs() < 1e-9, "{top}");
    }

    #[test]
    fn separable_data_stops_at_the_bound_and_no_data_changes_nothing() {
        let t = fit(&[1.0, 0.0, 0.0, 1.0], 2, &[0, 1]);
        assert!((t.t - (-10f64).exp()).abs() < 1e-18);
        assert_eq!(fit(&[], 3, &[]).t, 1.0);
    }
}
