//! The five estimators of a class mix from a classifier's outputs on a sample,
//! for one problem in which every text has exactly one of `k` classes (a
//! multi-label model is `c` such problems with `k = 2`, one per label):
//!
//! - **CC**, classify and count: the share of texts predicted in each class.
//!   Biased whenever the sample's mix differs from validation's: a classifier's
//!   errors move mass toward the classes it over-predicts.
//! - **PCC**, probabilistic classify and count (Bella et al. 2010): the mean
//!   posterior. Unbiased only if the posteriors are calibrated for the sample,
//!   which under a shifted mix they are not.
//! - **ACC**, adjusted classify and count (Forman 2008): solves q = M p for p,
//!   with q CC's answer and M[i][j] = P(predicted i | class j) measured on
//!   validation, by least squares over the probability simplex (Bunse 2022),
//!   as QuaPy's default does.
//! - **PACC**: the same with PCC's answer and M[i][j] = the mean posterior of
//!   class i over validation texts of class j.
//! - **SLD** (Saerens, Latinne & Decaestecker 2002), QuaPy's EMQ: expectation-
//!   maximisation of the sample's mix, re-weighting each posterior by the ratio
//!   of the current estimate to the mix the posteriors were calibrated for.
//!
//! Each equals QuaPy 0.2.3 given the same posteriors and validation statistics
//! (tests/quantify_quapy.rs); ACC and PACC reach the exact constrained least-
//! squares minimum, where QuaPy's SLSQP stops within its tolerance.

/// A classifier's outputs on `n` texts: row-major `n × k` posteriors and each
/// text's predicted class, and optionally how many times each text counts (a
/// bootstrap replicate's weights; `None`: once each).
#[derive(Debug, Clone, Copy)]
pub struct Outputs<'a> {
    pub k: usize,
    pub posteriors: &'a [f64],
    pub predicted: &'a [usize],
    pub weights: Option<&'a [f64]>,
}

impl Outputs<'_> {
    pub fn len(&self) -> usize {
        self.predicted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.predicted.is_empty()
    }

    fn weight(&self, r: usize) -> f64 {
        self.weights.map_or(1.0, |w| w[r])
    }

    /// The texts counted: their number, or their weights' sum.
    fn total(&self) -> f64 {
        self.weights
            .map_or(self.len() as f64, |w| w.iter().sum::<f64>())
    }
}

/// What the adjusted estimators learn from validation: the two misclassification
/// matrices (column j: how texts of class j are predicted) and the class mix the
/// posteriors were calibrated on.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustment {
    pub k: usize,
    /// `[i * k + j]` = P(predicted i | class j).
    pub crisp: Vec<f64>,
    /// `[i * k + j]` = mean posterior of class i over texts of class j.
    pub soft: Vec<f64>,
    /// Validation's class mix.
    pub prior: Vec<f64>,
}

impl Adjustment {
    /// From validation outputs and each validation text's true class. A class
    /// with no validation text gets the identity column (QuaPy's convention:
    /// no evidence that it is ever confused).
    pub fn fit(valid: Outputs, truth: &[usize]) -> Adjustment {
        let k = valid.k;
        assert_eq!(truth.len(), valid.len(), "one truth per text");
        let mut count = vec![0.0; k];
        let mut crisp = vec![0.0; k * k];
        let mut soft = vec![0.0; k * k];
        for (r, &j) in truth.iter().enumerate() {
            let w = valid.weight(r);
            count[j] += w;
            crisp[valid.predicted[r] * k + j] += w;
            for i in 0..k {
                soft[i * k + j] += w * valid.posteriors[r * k + i];
            }
        }
        for j in 0..k {
            for m in [&mut crisp, &mut soft] {
                if count[j] == 0.0 {
                    m[j * k + j] = 1.0;
                } else {
                    for i in 0..k {
                        m[i * k + j] /= count[j];
                    }
                }
            }
        }
        let n = valid.total();
        let n = if n > 0.0 { n } else { 1.0 };
        Adjustment {
            k,
            crisp,
            soft,
            prior: count.iter().map(|c| c / n).collect(),
        }
    }
}

/// What CC, PCC, ACC and PACC read of a sample: the weighted count of texts
/// predicted in each class, the weighted sum of each class's posterior, and
/// the total weight. A sample's sums are its parts' sums added, so a corpus
/// read in parts (Spark's partitions) is estimated as if read whole.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sums {
    pub weight: f64,
    pub counts: Vec<f64>,
    pub posteriors: Vec<f64>,
}

impl Sums {
    pub fn of(out: Outputs) -> Sums {
        let mut s = Sums {
            weight: 0.0,
            counts: vec![0.0; out.k],
            posteriors: vec![0.0; out.k],
        };
        for (r, row) in out.posteriors.chunks_exact(out.k).enumerate() {
            let w = out.weight(r);
            s.weight += w;
            s.counts[out.predicted[r]] += w;
            for (t, p) in s.posteriors.iter_mut().zip(row) {
                *t += w * p;
            }
        }
        s
    }

    pub fn add(&mut self, other: &Sums) {
        self.weight += other.weight;
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.posteriors.iter_mut().zip(&other.posteriors) {
            *a += b;
        }
    }

    pub fn cc(&self) -> Vec<f64> {
        l1_normalise(self.counts.clone())
    }

    pub fn pcc(&self) -> Vec<f64> {
        let k = self.posteriors.len();
        if self.weight <= 0.0 {
            return vec![1.0 / k as f64; k];
        }
        self.posteriors.iter().map(|s| s / self.weight).collect()
    }

    pub fn acc(&self, adj: &Adjustment) -> Vec<f64> {
        clip(simplex_least_squares(&adj.crisp, &self.cc(), adj.k))
    }

    pub fn pacc(&self, adj: &Adjustment) -> Vec<f64> {
        clip(simplex_least_squares(&adj.soft, &self.pcc(), adj.k))
    }
}

pub fn cc(out: Outputs) -> Vec<f64> {
    Sums::of(out).cc()
}

pub fn pcc(out: Outputs) -> Vec<f64> {
    Sums::of(out).pcc()
}

pub fn acc(out: Outputs, adj: &Adjustment) -> Vec<f64> {
    Sums::of(out).acc(adj)
}

pub fn pacc(out: Outputs, adj: &Adjustment) -> Vec<f64> {
    Sums::of(out).pacc(adj)
}

/// QuaPy's EMQ stopping rule: after more than 10 steps, the mean absolute
/// change of the estimate under 1e-4; at most 1000 steps.
const SLD_EPSILON: f64 = 1e-4;
const SLD_MAX_STEPS: usize = 1000;

/// SLD from posteriors calibrated for the mix `prior`.
pub fn sld(out: Outputs, prior: &[f64]) -> Vec<f64> {
    let k = out.k;
    let mut ptr = prior.to_vec();
    // A class absent from the prior would divide by 0: smoothed as QuaPy does.
    if ptr.iter().product::<f64>() == 0.0 {
        ptr.iter_mut().for_each(|p| *p += SLD_EPSILON);
        let s: f64 = ptr.iter().sum();
        ptr.iter_mut().for_each(|p| *p /= s);
    }
    let mut qs = ptr.clone();
    let mut previous: Option<Vec<f64>> = None;
    let n = out.total();
    if n <= 0.0 {
        return qs;
    }
    let mut row = vec![0.0; k];
    for s in 0..SLD_MAX_STEPS {
        let ratio: Vec<f64> = qs.iter().zip(&ptr).map(|(q, p)| q / p).collect();
        let mut next = vec![0.0; k];
        for (r, post) in out.posteriors.chunks_exact(k).enumerate() {
            let w = out.weight(r);
            if w == 0.0 {
                continue;
            }
            let mut sum = 0.0;
            for i in 0..k {
                row[i] = ratio[i] * post[i];
                sum += row[i];
            }
            for i in 0..k {
                next[i] += w * row[i] / sum;
            }
        }
        next.iter_mut().for_each(|v| *v /= n);
        qs = next;
        let converged = previous.as_ref().is_some_and(|prev| {
            prev.iter()
                .zip(&qs)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / (k as f64)
                < SLD_EPSILON
        }) && s > 10;
        if converged {
            break;
        }
        previous = Some(qs.clone());
    }
    qs
}

/// Divides by the sum; all zeros become the uniform mix.
fn l1_normalise(mut p: Vec<f64>) -> Vec<f64> {
    let s: f64 = p.iter().sum();
    let k = p.len() as f64;
    if s > 0.0 {
        p.iter_mut().for_each(|v| *v /= s);
    } else {
        p.iter_mut().for_each(|v| *v = 1.0 / k);
    }
    p
}

/// Clipped to [0, 1], then to sum 1 (QuaPy's `clip` normalisation).
fn clip(p: Vec<f64>) -> Vec<f64> {
    l1_normalise(p.into_iter().map(|v| v.clamp(0.0, 1.0)).collect())
}

/// The Euclidean projection of `v` onto the probability simplex (Blondel et
/// al. 2014, the sort-based algorithm).
pub fn project_to_simplex(v: &[f64]) -> Vec<f64> {
    let mut u = v.to_vec();
    u.sort_by(|a, b| b.total_cmp(a));
    let (mut cumulative, mut theta) = (0.0, 0.0);
    for (i, x) in u.iter().enumerate() {
        cumulative += x;
        let t = (cumulative - 1.0) / (i + 1) as f64;
        if x - t > 0.0 {
            theta = t;
        }
    }
    v.iter().map(|x| (x - theta).max(0.0)).collect()
}

/// argmin over the simplex of ‖A p − b‖ (`a`: row-major `k × k`). When the
/// unconstrained solution A⁻¹b lies in the simplex it is the answer (the
/// residual is 0); otherwise accelerated projected gradient (FISTA with
/// restarts) to convergence. The loss is convex, so the minimum found is the
/// minimum (unique when A has full rank).
pub fn simplex_least_squares(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    if let Some(p) = crate::linalg::solve(a, b, k) {
        if p.iter().all(|&v| v >= 0.0) && (p.iter().sum::<f64>() - 1.0).abs() < 1e-9 {
            return p;
        }
    }
    // Gradient of ½‖Ap − b‖²: Aᵀ(Ap − b); Lipschitz constant λmax(AᵀA).
    let ata: Vec<f64> = (0..k * k)
        .map(|ij| {
            let (i, j) = (ij / k, ij % k);
            (0..k).map(|r| a[r * k + i] * a[r * k + j]).sum()
        })
        .collect();
    let atb: Vec<f64> = (0..k)
        .map(|i| (0..k).map(|r| a[r * k + i] * b[r]).sum())
        .collect();
    let lipschitz = largest_eigenvalue(&ata, k).max(1e-12) * 1.0001;
    let gradient = |p: &[f64]| -> Vec<f64> {
        (0..k)
            .map(|i| (0..k).map(|j| ata[i * k + j] * p[j]).sum::<f64>() - atb[i])
            .collect()
    };
    let loss = |p: &[f64]| -> f64 {
        (0..k)
            .map(|r| {
                let e = (0..k).map(|j| a[r * k + j] * p[j]).sum::<f64>() - b[r];
                e * e
            })
            .sum()
    };
    let mut p = vec![1.0 / k as f64; k];
    let mut y = p.clone();
    let mut t = 1.0f64;
    let mut last = loss(&p);
    for _ in 0..200_000 {
        let g = gradient(&y);
        let next = project_to_simplex(
            &y.iter()
                .zip(&g)
                .map(|(yi, gi)| yi - gi / lipschitz)
                .collect::<Vec<_>>(),
        );
        let now = loss(&next);
        let step: f64 = next
            .iter()
            .zip(&p)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if now > last {
            // Momentum overshot: restart from the last iterate.
            y = p.clone();
            t = 1.0;
            continue;
        }
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        y = next
            .iter()
            .zip(&p)
            .map(|(n, o)| n + (t - 1.0) / t_next * (n - o))
            .collect();
        p = next;
        t = t_next;
        last = now;
        if step < 1e-14 {
            break;
        }
    }
    p
}

/// The largest eigenvalue of a symmetric positive semi-definite matrix, by
/// power iteration.
fn largest_eigenvalue(m: &[f64], k: usize) -> f64 {
    let mut v = vec![1.0 / (k as f64).sqrt(); k];
    let mut lambda = 0.0;
    for _ in 0..500 {
        let w: Vec<f64> = (0..k)
            .map(|i| (0..k).map(|j| m[i * k + j] * v[j]).sum())
            .collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        let next = norm;
        v = w.into_iter().map(|x| x / norm).collect();
        if (next - lambda).abs() <= 1e-12 * next {
            return next;
        }
        lambda = next;
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_lands_on_the_simplex_and_keeps_points_already_there() {
        let p = project_to_simplex(&[0.5, 2.0, -1.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p.iter().all(|&v| v >= 0.0));
        assert_eq!(project_to_simplex(&[0.2, 0.3, 0.5]), vec![0.2, 0.3, 0.5]);
    }

    #[test]
    fn an_exact_adjustment_recovers_the_mix_and_an_impossible_one_is_projected() {
        // A classifier that calls 20% of class 0 "1" and 10% of class 1 "0".
        let m = [0.8, 0.1, 0.2, 0.9];
        // A mix of 30% class 0 is counted as q.
        let q = [0.8 * 0.3 + 0.1 * 0.7, 0.2 * 0.3 + 0.9 * 0.7];
        let p = simplex_least_squares(&m, &q, 2);
        assert!(
            (p[0] - 0.3).abs() < 1e-12 && (p[1] - 0.7).abs() < 1e-12,
            "{p:?}"
        );
        // Fewer "0" than even a mix of pure class 1 gives: the answer is the
        // vertex, found by the constrained search.
        let p = simplex_least_squares(&m, &[0.05, 0.95], 2);
        assert!(
            (p[0] - 0.0).abs() < 1e-9 && (p[1] - 1.0).abs() < 1e-9,
            "{p:?}"
        );
    }

    #[test]
    fn sld_moves_toward_a_shifted_mix() {
        // Calibrated for 50/50; the sample's posteriors lean to class 1.
        let post = [0.3, 0.7, 0.2, 0.8, 0.6, 0.4, 0.1, 0.9];
        let pred = [1, 1, 0, 1];
        let out = Outputs {
            k: 2,
            posteriors: &post,
            predicted: &pred,
            weights: None,
        };
        let est = sld(out, &[0.5, 0.5]);
        let mean = pcc(out);
        assert!(
            est[1] > mean[1],
            "EM sharpens the shift PCC sees: {est:?} vs {mean:?}"
        );
        assert!((est.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
