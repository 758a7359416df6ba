//! How far predicted probabilities are from the frequencies they claim, with
//! scikit-learn's definitions so the numbers can be held to it: the reliability
//! curve is `sklearn.calibration.calibration_curve` (equal-width or equal-mass
//! bins, edges and bin assignment as numpy computes them), the Brier score and
//! log loss are `brier_score_loss` and `log_loss`. Expected calibration error is
//! the curve's gaps weighted by how many predictions each bin holds (Guo et al.
//! 2017; "adaptive" with equal-mass bins, Nguyen & O'Connor 2015). A classifier
//! that says 0.9 should be right nine times in ten: shares estimated from its
//! probabilities are only as good as this.

/// How the probability axis is cut into bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binning {
    /// Equal-width bins over [0, 1] (`strategy="uniform"`).
    Uniform,
    /// Bins holding about as many predictions each (`strategy="quantile"`).
    Quantile,
}

/// The reliability curve over the non-empty bins, in bin order.
#[derive(Debug, Clone, PartialEq)]
pub struct Reliability {
    /// Observed frequency of the outcome in each bin.
    pub prob_true: Vec<f64>,
    /// Mean predicted probability in each bin.
    pub prob_pred: Vec<f64>,
    /// Predictions in each bin.
    pub counts: Vec<usize>,
}

impl Reliability {
    /// Expected calibration error: Σ (bin count / total) · |observed − predicted|.
    pub fn ece(&self) -> f64 {
        let total: usize = self.counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        self.prob_true
            .iter()
            .zip(&self.prob_pred)
            .zip(&self.counts)
            .map(|((t, p), &n)| n as f64 / total as f64 * (t - p).abs())
            .sum()
    }
}

/// numpy's `linspace(0, 1, n + 1)`: `i * (1 / n)`, the last edge exactly 1.
fn uniform_edges(n_bins: usize) -> Vec<f64> {
    let step = 1.0 / n_bins as f64;
    let mut edges: Vec<f64> = (0..=n_bins).map(|i| i as f64 * step).collect();
    edges[n_bins] = 1.0;
    edges
}

/// numpy's `percentile(values, linspace(0, 1, n + 1) * 100)` with its default
/// linear method, operation for operation, so that edges that fall on a value
/// put it in the same bin as numpy does.
fn quantile_edges(values: &[f64], n_bins: usize) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let last = sorted.len() - 1;
    uniform_edges(n_bins)
        .into_iter()
        .map(|q| {
            let q = (q * 100.0) / 100.0;
            let virtual_index = n * q + (1.0 - q) - 1.0;
            let previous = virtual_index.floor();
            let gamma = virtual_index - previous;
            let lo = (previous.max(0.0) as usize).min(last);
            let hi = (lo + 1).min(last);
            let (a, b) = (sorted[lo], sorted[hi]);
            let diff = b - a;
            if gamma >= 0.5 {
                b - diff * (1.0 - gamma)
            } else {
                a + diff * gamma
            }
        })
        .collect()
}

/// The reliability curve of `prob` (the predicted probability of an outcome)
/// against `outcome` (whether it happened), as `calibration_curve(outcome, prob,
/// n_bins, strategy)` returns it, with each bin's count.
pub fn reliability(prob: &[f64], outcome: &[bool], n_bins: usize, binning: Binning) -> Reliability {
    assert_eq!(prob.len(), outcome.len(), "one outcome per probability");
    assert!(n_bins >= 1, "at least one bin");
    if prob.is_empty() {
        return Reliability {
            prob_true: Vec::new(),
            prob_pred: Vec::new(),
            counts: Vec::new(),
        };
    }
    let edges = match binning {
        Binning::Uniform => uniform_edges(n_bins),
        Binning::Quantile => quantile_edges(prob, n_bins),
    };
    let inner = &edges[1..edges.len() - 1];
    let mut sums = vec![0.0; n_bins];
    let mut trues = vec![0.0; n_bins];
    let mut counts = vec![0usize; n_bins];
    for (&p, &o) in prob.iter().zip(outcome) {
        // searchsorted(inner, p, side="left"): the edges strictly below p.
        let bin = inner.partition_point(|&e| e < p);
        sums[bin] += p;
        trues[bin] += if o { 1.0 } else { 0.0 };
        counts[bin] += 1;
    }
    let mut r = Reliability {
        prob_true: Vec::new(),
        prob_pred: Vec::new(),
        counts: Vec::new(),
    };
    for b in 0..n_bins {
        if counts[b] > 0 {
            r.prob_true.push(trues[b] / counts[b] as f64);
            r.prob_pred.push(sums[b] / counts[b] as f64);
            r.counts.push(counts[b]);
        }
    }
    r
}

/// Each row's most probable class's probability and whether it is the true
/// class: what top-label calibration of a single-label classifier bins.
pub fn top_label(probs: &[f64], n_classes: usize, labels: &[usize]) -> (Vec<f64>, Vec<bool>) {
    assert_eq!(probs.len(), labels.len() * n_classes, "one row per label");
    probs
        .chunks_exact(n_classes)
        .zip(labels)
        .map(|(row, &y)| {
            // The first of equal maxima, as numpy's argmax.
            let (arg, &p) =
                row.iter().enumerate().fold(
                    (0, &row[0]),
                    |best, (i, p)| if p > best.1 { (i, p) } else { best },
                );
            (p, arg == y)
        })
        .unzip()
}

/// Multi-class Brier score: the mean over rows of Σ_k (p_k − [y = k])², as
/// `brier_score_loss(y, probs)` (for two classes, twice the binary score).
pub fn brier(probs: &[f64], n_classes: usize, labels: &[usize]) -> f64 {
    assert_eq!(probs.len(), labels.len() * n_classes, "one row per label");
    let total: f64 = probs
        .chunks_exact(n_classes)
        .zip(labels)
        .map(|(row, &y)| {
            row.iter()
                .enumerate()
                .map(|(k, &p)| {
                    let d = p - if k == y { 1.0 } else { 0.0 };
                    d * d
                })
                .sum::<f64>()
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// Binary Brier score of probabilities `prob` of an outcome: mean (p − o)².
pub fn brier_binary(prob: &[f64], outcome: &[bool]) -> f64 {
    assert_eq!(prob.len(), outcome.len(), "one outcome per probability");
    let total: f64 = prob
        .iter()
        .zip(outcome)
        .map(|(&p, &o)| (p - if o { 1.0 } else { 0.0 }).powi(2))
        .sum();
    total / prob.len().max(1) as f64
}

/// Mean negative log-probability of the true class, probabilities clipped to
/// [ε, 1 − ε] (ε of f64) as `log_loss` clips them, so a confident mistake costs
/// a large number, not infinity.
pub fn log_loss(probs: &[f64], n_classes: usize, labels: &[usize]) -> f64 {
    assert_eq!(probs.len(), labels.len() * n_classes, "one row per label");
    let eps = f64::EPSILON;
    let total: f64 = probs
        .chunks_exact(n_classes)
        .zip(labels)
        .map(|(row, &y)| -row[y].clamp(eps, 1.0 - eps).ln())
        .sum();
    total / labels.len().max(1) as f64
}

/// Bins of the reported calibration errors and pictures: Guo et al.'s 15.
pub const BINS: usize = 15;

/// How well one set of probabilities is calibrated on labelled texts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Expected calibration error with equal-width bins.
    pub ece: f64,
    /// The same with equal-mass bins (each holds about as many predictions):
    /// no bin is judged on a handful of texts.
    pub adaptive_ece: f64,
    pub brier: f64,
    pub log_loss: f64,
}

/// Scores of `probs` (row-major `n × c`) against `truth` (`n × c`), and the
/// reliability curve a picture draws. A single-label model is judged on its
/// top label (is the most probable emotion right as often as its probability
/// says?), with the multi-class Brier score and log loss. A multi-label model
/// is judged label by label: each score is the mean over labels of that
/// label's own (classwise ECE, Kull et al. 2019; Brier and binary log loss),
/// so that a rare label counts as much as a common one; its curve pools every
/// (text, label) pair.
pub fn scores(
    task: crate::data::Task,
    probs: &[f64],
    truth: &[bool],
    c: usize,
) -> (Scores, Reliability) {
    assert_eq!(probs.len(), truth.len(), "one truth per probability");
    match task {
        crate::data::Task::SingleLabel => {
            let labels: Vec<usize> = truth
                .chunks(c)
                .map(|row| row.iter().position(|&t| t).unwrap_or(0))
                .collect();
            let (conf, correct) = top_label(probs, c, &labels);
            let curve = reliability(&conf, &correct, BINS, Binning::Uniform);
            let scores = Scores {
                ece: curve.ece(),
                adaptive_ece: reliability(&conf, &correct, BINS, Binning::Quantile).ece(),
                brier: brier(probs, c, &labels),
                log_loss: log_loss(probs, c, &labels),
            };
            (scores, curve)
        }
        crate::data::Task::MultiLabel => {
            let mut sum = Scores {
                ece: 0.0,
                adaptive_ece: 0.0,
                brier: 0.0,
                log_loss: 0.0,
            };
            for k in 0..c {
                let p: Vec<f64> = probs.iter().skip(k).step_by(c).copied().collect();
                let o: Vec<bool> = truth.iter().skip(k).step_by(c).copied().collect();
                let two: Vec<f64> = p.iter().flat_map(|&q| [1.0 - q, q]).collect();
                let y: Vec<usize> = o.iter().map(|&x| usize::from(x)).collect();
                sum.ece += reliability(&p, &o, BINS, Binning::Uniform).ece();
                sum.adaptive_ece += reliability(&p, &o, BINS, Binning::Quantile).ece();
                sum.brier += brier_binary(&p, &o);
                sum.log_loss += log_loss(&two, 2, &y);
            }
            let n = c.max(1) as f64;
            let scores = Scores {
                ece: sum.ece / n,
                adaptive_ece: sum.adaptive_ece / n,
                brier: sum.brier / n,
                log_loss: sum.log_loss / n,
            };
            (scores, reliability(probs, truth, BINS, Binning::Uniform))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfectly_calibrated_curve_has_no_error_and_a_confident_wrong_one_has_all() {
        let prob = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        let outcome = [true, false, false, false, true, true, true, false];
        let r = reliability(&prob, &outcome, 4, Binning::Uniform);
        assert_eq!(r.counts, vec![4, 4]);
        assert_eq!(r.ece(), 0.0);
        let r = reliability(&[1.0, 1.0], &[false, false], 10, Binning::Uniform);
        assert_eq!((r.ece(), r.counts.clone()), (1.0, vec![2]));
    }

    #[test]
    fn a_probability_on_an_edge_goes_to_the_lower_bin_as_in_numpy() {
        let r = reliability(
            &[0.5, 0.5000001, 0.0],
            &[true, false, true],
            2,
            Binning::Uniform,
        );
        assert_eq!(r.counts, vec![2, 1]);
    }
}
