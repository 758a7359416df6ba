//! The artificial-prevalence protocol (Forman 2008; QuaPy's APP): how close
//! each estimator comes to the true shares of samples whose label mix is far
//! from the one the model was trained and validated on. A single-label
//! sample's mix is drawn uniformly from the simplex (Kraemer's method); a
//! multi-label sample is drawn for one label at a time, its prevalence uniform
//! in [0.05, 0.95]. Texts are drawn from the labelled test rows with
//! replacement to those counts.

use super::{Method, Quantifier, Said};
use crate::data::Task;
use crate::uncertainty::{quantile, Interval, CONFIDENCE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// How many samples, of how many texts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub samples: usize,
    pub size: usize,
    pub seed: u64,
}

/// Each estimator's error over the samples: absolute error (mean over the
/// labels of |estimate − truth|) and relative absolute error (the same
/// divided by the truth, smoothed by 1/(2·size) as QuaPy does), each the
/// mean over samples with a 95% bootstrap interval, and the per-sample
/// absolute errors (for paired comparisons).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShiftScores {
    pub samples: usize,
    pub size: usize,
    pub estimators: Vec<EstimatorError>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimatorError {
    pub estimator: Method,
    pub mae: Interval,
    pub mrae: Interval,
    #[serde(skip)]
    pub per_sample: Vec<f64>,
}

impl ShiftScores {
    pub fn of(&self, m: Method) -> Option<&EstimatorError> {
        self.estimators.iter().find(|e| e.estimator == m)
    }

    /// `a`'s mean absolute error as a fraction of `b`'s, with a 95% interval
    /// from resampling the samples (paired).
    pub fn ratio(&self, a: Method, b: Method, resamples: usize, seed: u64) -> Option<Interval> {
        Some(paired_ratio(
            &self.of(a)?.per_sample,
            &self.of(b)?.per_sample,
            resamples,
            seed,
        ))
    }
}

/// The mean of `x` over the mean of `y`, both errors on the same samples, with
/// a 95% interval from resampling the samples together. Every method of a
/// study is scored on the same samples (they are drawn from the test labels
/// and the plan alone), so this compares two heads as well as two estimators.
pub fn paired_ratio(x: &[f64], y: &[f64], resamples: usize, seed: u64) -> Interval {
    assert_eq!(x.len(), y.len(), "errors on the same samples");
    let mean = |v: &[f64], idx: &[usize]| idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len() as f64;
    let all: Vec<usize> = (0..x.len()).collect();
    let estimate = mean(x, &all) / mean(y, &all);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draws: Vec<f64> = (0..resamples)
        .map(|_| {
            let idx: Vec<usize> = (0..x.len()).map(|_| rng.gen_range(0..x.len())).collect();
            mean(x, &idx) / mean(y, &idx)
        })
        .collect();
    let alpha = (1.0 - CONFIDENCE) / 2.0;
    Interval {
        estimate,
        lo: quantile(&mut draws, alpha),
        hi: quantile(&mut draws, 1.0 - alpha),
    }
}

/// Draws `plan.samples` shifted samples from the test rows (`test`, whose
/// labels are `truth`, row-major `n × C`) and scores every estimator of `q`
/// on each.
pub fn study(q: &Quantifier, test: &Said, truth: &[bool], plan: Plan) -> ShiftScores {
    let c = test.c;
    let n = test.len();
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let size = plan.size.max(1);
    let eps = 1.0 / (2.0 * size as f64);
    // Per estimator, per sample: (absolute error, relative absolute error).
    let mut errors: Vec<Vec<(f64, f64)>> = vec![Vec::new(); Method::ALL.len()];
    let rae = |est: &[f64], truth: &[f64]| -> f64 {
        let k = truth.len() as f64;
        let s = |p: f64| (p + eps) / (1.0 + k * eps);
        est.iter()
            .zip(truth)
            .map(|(&e, &t)| (s(e) - s(t)).abs() / s(t))
            .sum::<f64>()
            / k
    };
    let ae = |est: &[f64], truth: &[f64]| -> f64 {
        est.iter()
            .zip(truth)
            .map(|(e, t)| (e - t).abs())
            .sum::<f64>()
            / truth.len() as f64
    };
    match q.task {
        Task::SingleLabel => {
            let label = |r: usize| (0..c).find(|&k| truth[r * c + k]).unwrap_or(0);
            let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); c];
            for r in 0..n {
                by_class[label(r)].push(r);
            }
            let present: Vec<usize> = (0..c).filter(|&k| !by_class[k].is_empty()).collect();
            for _ in 0..plan.samples {
                let mix = uniform_simplex(&mut rng, present.len());
                let counts = apportion(&mix, size);
                let mut rows = Vec::with_capacity(size);
                let mut true_share = vec![0.0; c];
                for (&k, &m) in present.iter().zip(&counts) {
                    for _ in 0..m {
                        rows.push(by_class[k][rng.gen_range(0..by_class[k].len())]);
                    }
                    true_share[k] = m as f64 / size as f64;
                }
                let part = test.rows(&rows);
                let keys = vec![0; rows.len()];
                for (e, m) in Method::ALL.iter().enumerate() {
                    let est: Vec<f64> = q
                        .estimate(*m, &part, &keys, 0, 0)
                        .iter()
                        .map(|s| s.share)
                        .collect();
                    errors[e].push((ae(&est, &true_share), rae(&est, &true_share)));
                }
            }
        }
        Task::MultiLabel => {
            for _ in 0..plan.samples {
                // One sample per label, each shifting that label only; a
                // draw's error is the mean over labels.
                let mut sums = vec![(0.0, 0.0, 0usize); Method::ALL.len()];
                for k in 0..c {
                    let (pos, neg): (Vec<usize>, Vec<usize>) =
                        (0..n).partition(|&r| truth[r * c + k]);
                    if pos.is_empty() || neg.is_empty() {
                        continue;
                    }
                    let pi = rng.gen_range(0.05..0.95);
                    let m_pos = ((pi * size as f64).round() as usize).clamp(1, size - 1);
                    let mut rows: Vec<usize> = (0..m_pos)
                        .map(|_| pos[rng.gen_range(0..pos.len())])
                        .collect();
                    rows.extend((m_pos..size).map(|_| neg[rng.gen_range(0..neg.len())]));
                    let t = m_pos as f64 / size as f64;
                    let part = test.rows(&rows);
                    for (e, m) in Method::ALL.iter().enumerate() {
                        let p = q.estimate_label(*m, &part, k);
                        sums[e].0 += (p - t).abs();
                        sums[e].1 += rae(&[1.0 - p, p], &[1.0 - t, t]);
                        sums[e].2 += 1;
                    }
                }
                for (e, (a, r, n)) in sums.into_iter().enumerate() {
                    if n > 0 {
                        errors[e].push((a / n as f64, r / n as f64));
                    }
                }
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x0053_4849_4654);
    let mut interval = |v: &[f64]| -> Interval {
        if v.is_empty() {
            return Interval::point(f64::NAN);
        }
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let mut draws: Vec<f64> = (0..1000)
            .map(|_| {
                (0..v.len())
                    .map(|_| v[rng.gen_range(0..v.len())])
                    .sum::<f64>()
                    / v.len() as f64
            })
            .collect();
        let alpha = (1.0 - CONFIDENCE) / 2.0;
        Interval {
            estimate: mean,
            lo: quantile(&mut draws, alpha),
            hi: quantile(&mut draws, 1.0 - alpha),
        }
    };
    ShiftScores {
        samples: plan.samples,
        size,
        estimators: Method::ALL
            .iter()
            .zip(errors)
            .map(|(m, e)| {
                let abs: Vec<f64> = e.iter().map(|x| x.0).collect();
                let rel: Vec<f64> = e.iter().map(|x| x.1).collect();
                EstimatorError {
                    estimator: *m,
                    mae: interval(&abs),
                    mrae: interval(&rel),
                    per_sample: abs,
                }
            })
            .collect(),
    }
}

/// A mix drawn uniformly from the simplex over `k` classes: the gaps between
/// `k − 1` sorted uniforms.
fn uniform_simplex(rng: &mut ChaCha8Rng, k: usize) -> Vec<f64> {
    let mut cuts: Vec<f64> = (0..k.saturating_sub(1)).map(|_| rng.gen::<f64>()).collect();
    cuts.push(0.0);
    cuts.push(1.0);
    cuts.sort_by(f64::total_cmp);
    cuts.windows(2).map(|w| w[1] - w[0]).collect()
}

/// `size` texts shared out by `mix`, by largest remainders.
fn apportion(mix: &[f64], size: usize) -> Vec<usize> {
    let raw: Vec<f64> = mix.iter().map(|p| p * size as f64).collect();
    let mut counts: Vec<usize> = raw.iter().map(|x| x.floor() as usize).collect();
    let mut left = size - counts.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..mix.len()).collect();
    order.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())));
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_are_on_the_simplex_and_counts_add_up() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for k in [1, 2, 6, 28] {
            let m = uniform_simplex(&mut rng, k);
            assert_eq!(m.len(), k);
            assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert_eq!(apportion(&m, 997).iter().sum::<usize>(), 997);
        }
    }
}
