//! How sure a number is: paired bootstrap confidence intervals.
//!
//! A test split of a few thousand rows holds a dozen examples of a rare
//! emotion, so a "+10 F1" on that class can be chance. The bootstrap redraws the
//! test rows with replacement many times and recomputes every number on each
//! redraw; the middle 95% of those values is the interval. Every method is
//! scored on the *same* redraw (paired), so the interval of a difference
//! between two methods reflects only where they disagree: two methods with
//! identical predictions get a difference of exactly zero on every redraw.
//!
//! With several seeds per method, each redraw scores every seed's predictions
//! and averages them, so the interval is that of the seed-mean — the test-sampling
//! spread. The seeds' own spread (training randomness) is the report's `± s.d.`.
//!
//! Intervals are percentile intervals (2.5th and 97.5th percentiles, linearly
//! interpolated as numpy's default). A per-class recall is undefined on a redraw
//! without that class; such redraws are left out of that class's interval.

pub mod multilabel;

use crate::metrics::{Metrics, Stat};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// A point estimate (on the data as it is) and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// A value with no interval around it (zero width).
    pub fn point(v: f64) -> Interval {
        Interval {
            estimate: v,
            lo: v,
            hi: v,
        }
    }

    /// Whether the interval excludes zero: the sign of a difference is supported.
    pub fn sign(&self) -> i8 {
        if self.lo > 0.0 {
            1
        } else if self.hi < 0.0 {
            -1
        } else {
            0
        }
    }
}

/// Per-class intervals of one method.
#[derive(Debug, Clone, Serialize)]
pub struct ClassIntervals {
    pub precision: Interval,
    pub recall: Interval,
    pub f1: Interval,
}

/// The statistics a study reports, in a fixed order: the index of each in a
/// method's intervals.
pub trait Statistic: Copy + PartialEq + 'static {
    const ALL: &'static [Self];
}

impl Statistic for Stat {
    const ALL: &'static [Stat] = &Stat::ALL;
}

/// One method's intervals: one per statistic `S` (in `S::ALL`'s order), one
/// `C` per class, and the differences from the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Intervals<S, C> {
    pub stats: Vec<Interval>,
    pub per_class: Vec<C>,
    /// Method minus the baseline, per statistic; `None` for the baseline itself.
    pub vs_baseline: Option<Vec<Interval>>,
    #[serde(skip)]
    statistic: std::marker::PhantomData<S>,
}

impl<S: Statistic, C> Intervals<S, C> {
    pub fn stat(&self, s: S) -> Interval {
        self.stats[index(s)]
    }

    pub fn diff(&self, s: S) -> Option<Interval> {
        self.vs_baseline.as_ref().map(|d| d[index(s)])
    }
}

fn index<S: Statistic>(s: S) -> usize {
    S::ALL.iter().position(|&x| x == s).expect("in ALL")
}

/// What the bootstrap scores, decided by the label type: the statistics a
/// redraw computes (single-label: from a confusion matrix; multi-label: from
/// each label's 2×2 and each text's overlap) and what it keeps per class.
pub trait Resampled: crate::data::Label {
    type Stat: Statistic;
    /// Per class: precision, recall and F1 (single-label), F1 (multi-label).
    type PerClass: Clone + Serialize;
    /// Macro-F1: what a paired comparison of two heads reads.
    const MACRO_F1: Self::Stat;
    fn bootstrap(
        input: &Input<'_, Self>,
        resamples: usize,
        seed: u64,
    ) -> Vec<MethodIntervals<Self>>;
}

/// Every interval of one method.
pub type MethodIntervals<L = usize> = Intervals<<L as Resampled>::Stat, <L as Resampled>::PerClass>;

/// Paired bootstrap of every method in `input` over `resamples` redraws of the
/// rows (a text with all its labels), seeded: the same seed and input give the
/// same intervals.
pub fn bootstrap<L: Resampled>(
    input: &Input<'_, L>,
    resamples: usize,
    seed: u64,
) -> Vec<MethodIntervals<L>> {
    L::bootstrap(input, resamples, seed)
}

/// What to bootstrap: the true labels (a class or a set of classes a row)
/// and, per method, every run's predictions.
pub struct Input<'a, L = usize> {
    pub labels: &'a [L],
    pub n_classes: usize,
    /// `methods[m][r]`: predictions of run `r` of method `m`.
    pub methods: Vec<Vec<&'a [L]>>,
    /// The rarest third of the classes, for [`Stat::FewRecall`].
    pub rare: &'a [usize],
    /// Index of the method differences are taken against.
    pub baseline: Option<usize>,
    /// Single-label: macro-F1 over the classes present only (validation's rule).
    pub present_only: bool,
}

/// Each row's cell in a flat confusion matrix (`true * classes + predicted`),
/// per method and run: the bootstrap's inner loop adds row weights to these.
fn cells(input: &Input) -> Vec<Vec<Vec<u32>>> {
    let c = input.n_classes;
    input
        .methods
        .iter()
        .map(|runs| {
            runs.iter()
                .map(|pred| {
                    input
                        .labels
                        .iter()
                        .zip(pred.iter())
                        .map(|(&t, &p)| (t * c + p) as u32)
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The numbers of one method on one weighting of the rows (every row once when
/// `weights` is `None`): seed-means of each statistic, then per class
/// precision, recall, F1.
fn score(input: &Input, cells: &[Vec<u32>], weights: Option<&[u32]>) -> (Vec<f64>, Vec<[f64; 3]>) {
    let c = input.n_classes;
    let mut stats = vec![0.0; Stat::ALL.len()];
    let mut per_class = vec![[0.0; 3]; c];
    let mut flat = vec![0usize; c * c];
    for run in cells {
        flat.iter_mut().for_each(|v| *v = 0);
        match weights {
            Some(w) => {
                for (&cell, &k) in run.iter().zip(w) {
                    flat[cell as usize] += k as usize;
                }
            }
            None => run.iter().for_each(|&cell| flat[cell as usize] += 1),
        }
        let metrics = Metrics::from_confusion(flat.chunks(c).map(<[usize]>::to_vec).collect());
        for (v, s) in stats.iter_mut().zip(Stat::ALL) {
            *v += s.value(&metrics, input.rare, input.present_only);
        }
        for (pc, m) in per_class.iter_mut().zip(&metrics.per_class) {
            // Recall of a class absent from these rows is undefined, not 0.
            let recall = if m.support > 0 { m.recall } else { f64::NAN };
            pc[0] += m.precision;
            pc[1] += recall;
            pc[2] += m.f1;
        }
    }
    let n = cells.len() as f64;
    stats.iter_mut().for_each(|v| *v /= n);
    per_class.iter_mut().flatten().for_each(|v| *v /= n);
    (stats, per_class)
}

/// The `q`-quantile of the finite values, linearly interpolated; NaN if none.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let pos = q * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < v.len() {
        v[i] + (v[i + 1] - v[i]) * frac
    } else {
        v[i]
    }
}

pub(crate) fn interval(estimate: f64, draws: &mut [f64]) -> Interval {
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Interval {
        estimate,
        lo: quantile(draws, tail),
        hi: quantile(draws, 1.0 - tail),
    }
}

/// One method's intervals as [`paired`] computes them: per statistic, per
/// class and per-class value, and the difference from the baseline.
pub(crate) struct Paired {
    pub stats: Vec<Interval>,
    pub per_class: Vec<Vec<Interval>>,
    pub vs_baseline: Option<Vec<Interval>>,
}

impl Paired {
    /// The intervals of statistics `S`, each class's values made into a `C`.
    pub(crate) fn into_intervals<S, C>(self, class: impl Fn(&[Interval]) -> C) -> Intervals<S, C> {
        Intervals {
            stats: self.stats,
            per_class: self.per_class.iter().map(|v| class(v)).collect(),
            vs_baseline: self.vs_baseline,
            statistic: std::marker::PhantomData,
        }
    }
}

/// A method's numbers on one weighting of the rows: its statistics, and per
/// class a few values.
pub(crate) type Scores = (Vec<f64>, Vec<Vec<f64>>);

/// The paired bootstrap every study uses, whatever its labels: `input`'s rows
/// redrawn with replacement `resamples` times (seeded), each of its methods
/// scored on each redraw by `score(method, weights)` (`None`: every row once,
/// the point estimate), and each number's percentile interval; differences
/// from the baseline are taken redraw by redraw.
pub(crate) fn paired<L>(
    input: &Input<L>,
    resamples: usize,
    seed: u64,
    score: impl Fn(usize, Option<&[u32]>) -> Scores,
) -> Vec<Paired> {
    let (rows, methods, baseline) = (input.labels.len(), input.methods.len(), input.baseline);
    // draws[m][s][b], class_draws[m][class][value][b], diff_draws[m][s][b]
    let mut draws: Vec<Vec<Vec<f64>>> = vec![Vec::new(); methods];
    let mut class_draws: Vec<Vec<Vec<Vec<f64>>>> = vec![Vec::new(); methods];
    let mut diff_draws: Vec<Vec<Vec<f64>>> = vec![Vec::new(); methods];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut weights = vec![0u32; rows];
    for _ in 0..resamples {
        weights.iter_mut().for_each(|w| *w = 0);
        for _ in 0..rows {
            weights[rng.gen_range(0..rows)] += 1;
        }
        let scored: Vec<Scores> = (0..methods).map(|m| score(m, Some(&weights))).collect();
        for (m, (stats, per_class)) in scored.iter().enumerate() {
            draws[m].resize(stats.len(), Vec::new());
            diff_draws[m].resize(stats.len(), Vec::new());
            for (s, &v) in stats.iter().enumerate() {
                draws[m][s].push(v);
                if let Some(b) = baseline {
                    diff_draws[m][s].push(v - scored[b].0[s]);
                }
            }
            class_draws[m].resize(per_class.len(), Vec::new());
            for (k, values) in per_class.iter().enumerate() {
                class_draws[m][k].resize(values.len(), Vec::new());
                for (j, &v) in values.iter().enumerate() {
                    class_draws[m][k][j].push(v);
                }
            }
        }
    }
    let points: Vec<Scores> = (0..methods).map(|m| score(m, None)).collect();
    let drawn = |d: &mut Vec<Vec<f64>>, i: usize| -> Vec<f64> {
        d.get_mut(i).map(std::mem::take).unwrap_or_default()
    };
    (0..methods)
        .map(|m| {
            let (stats, per_class) = &points[m];
            Paired {
                stats: (0..stats.len())
                    .map(|s| interval(stats[s], &mut drawn(&mut draws[m], s)))
                    .collect(),
                per_class: per_class
                    .iter()
                    .enumerate()
                    .map(|(k, values)| {
                        let mut class = class_draws[m].get_mut(k).map(std::mem::take);
                        (0..values.len())
                            .map(|j| {
                                let mut d = class.as_mut().map(|c| drawn(c, j)).unwrap_or_default();
                                interval(values[j], &mut d)
                            })
                            .collect()
                    })
                    .collect(),
                vs_baseline: baseline.filter(|&b| b != m).map(|b| {
                    (0..stats.len())
                        .map(|s| {
                            interval(stats[s] - points[b].0[s], &mut drawn(&mut diff_draws[m], s))
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

impl Resampled for usize {
    type Stat = Stat;
    type PerClass = ClassIntervals;
    const MACRO_F1: Stat = Stat::MacroF1;
    fn bootstrap(input: &Input<'_, usize>, resamples: usize, seed: u64) -> Vec<MethodIntervals> {
        let cells = cells(input);
        let score = |m: usize, weights: Option<&[u32]>| {
            let (stats, per_class) = score(input, &cells[m], weights);
            (stats, per_class.iter().map(|v| v.to_vec()).collect())
        };
        paired(input, resamples, seed, score)
            .into_iter()
            .map(|p| {
                p.into_intervals(|v| ClassIntervals {
                    precision: v[0],
                    recall: v[1],
                    f1: v[2],
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Predictions that are right with probability `p` (else a fixed wrong class).
    fn synthetic(n: usize, p: f64, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<usize>) {
        let labels: Vec<usize> = (0..n).map(|_| rng.gen_range(0..4)).collect();
        let pred = labels
            .iter()
            .map(|&y| if rng.gen_bool(p) { y } else { (y + 1) % 4 })
            .collect();
        (labels, pred)
    }

    #[test]
    fn accuracy_intervals_cover_the_true_value_at_the_nominal_rate() {
        // The population accuracy is 0.7 by construction; each trial draws a
        // fresh test set of 300 rows and asks whether its 95% interval holds 0.7.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let trials = 300;
        let mut covered = 0;
        for t in 0..trials {
            let (labels, pred) = synthetic(300, 0.7, &mut rng);
            let input = Input {
                labels: &labels,
                n_classes: 4,
                methods: vec![vec![&pred]],
                rare: &[3],
                baseline: None,
                present_only: false,
            };
            let iv = bootstrap(&input, 400, t)[0].stat(Stat::Accuracy);
            assert!(iv.lo <= iv.estimate && iv.estimate <= iv.hi);
            covered += (iv.lo <= 0.7 && 0.7 <= iv.hi) as usize;
        }
        let rate = covered as f64 / trials as f64;
        // Binomial sd of the rate at 95% over 300 trials is 1.3 points; percentile
        // intervals run slightly narrow on small samples.
        assert!((0.90..=0.99).contains(&rate), "coverage {rate}");
    }

    #[test]
    fn identical_predictions_differ_by_exactly_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (labels, pred) = synthetic(200, 0.6, &mut rng);
        let copy = pred.clone();
        let (_, other) = synthetic(200, 0.6, &mut rng);
        let input = Input {
            labels: &labels,
            n_classes: 4,
            methods: vec![vec![&pred], vec![&copy], vec![&other]],
            rare: &[2, 3],
            baseline: Some(0),
            present_only: false,
        };
        let out = bootstrap(&input, 200, 1);
        assert!(out[0].vs_baseline.is_none());
        for s in Stat::ALL {
            let d = out[1].diff(s).unwrap();
            assert_eq!((d.estimate, d.lo, d.hi), (0.0, 0.0, 0.0), "{s:?}");
            // A different method's difference is not degenerate.
            let d = out[2].diff(s).unwrap();
            assert!(d.hi > d.lo, "{s:?}");
        }
    }

    #[test]
    fn same_seed_same_intervals_and_a_clear_gap_is_significant() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (labels, good) = synthetic(400, 0.9, &mut rng);
        let (_, poor) = {
            let mut r = ChaCha8Rng::seed_from_u64(10);
            let p: Vec<usize> = labels
                .iter()
                .map(|&y| if r.gen_bool(0.5) { y } else { (y + 1) % 4 })
                .collect();
            (0, p)
        };
        let input = Input {
            labels: &labels,
            n_classes: 4,
            methods: vec![vec![&poor], vec![&good]],
            rare: &[3],
            baseline: Some(0),
            present_only: false,
        };
        let a = bootstrap(&input, 300, 42);
        let b = bootstrap(&input, 300, 42);
        assert_eq!(a[1].stats, b[1].stats);
        assert_eq!(a[1].diff(Stat::Accuracy).unwrap().sign(), 1);
    }

    /// Cases worked by hand. With n rows of which half are predicted right, a
    /// redraw of n rows with replacement has Binomial(n, ½) right ones, so the
    /// bootstrap's accuracies are k/n, and the percentiles follow from the
    /// binomial distribution function F:
    /// - n = 16: F(3) = 0.0106, F(4) = 0.0384, F(11) = 0.9616, F(12) = 0.9894, so
    ///   the 2.5th percentile is 4/16 and the 97.5th 12/16 (a 90% interval would
    ///   be 5/16 to 11/16);
    /// - n = 10: F(1) = 0.0107, F(2) = 0.0547, F(7) = 0.9453, F(8) = 0.9893, so 2/10
    ///   and 8/10 (redraws of 6 rows would give 1/6 to 5/6).
    ///
    /// Every F is 0.013 or more from 0.025 or 0.975: at least 7 standard
    /// deviations of the empirical distribution function over 10,000 redraws.
    #[test]
    fn hand_worked_percentile_intervals() {
        for (n, lo, hi) in [(16, 0.25, 0.75), (10, 0.2, 0.8)] {
            let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
            let pred: Vec<usize> = labels
                .iter()
                .enumerate()
                .map(|(i, &y)| if i < n / 2 { y } else { 1 - y })
                .collect();
            let input = Input {
                labels: &labels,
                n_classes: 2,
                methods: vec![vec![&pred]],
                rare: &[1],
                baseline: None,
                present_only: false,
            };
            for seed in [1, 2, 3] {
                let iv = bootstrap(&input, 10_000, seed)[0].stat(Stat::Accuracy);
                assert_eq!(
                    (iv.estimate, iv.lo, iv.hi),
                    (0.5, lo, hi),
                    "{n} rows, seed {seed}"
                );
            }
        }
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0, f64::NAN];
        assert_eq!(quantile(&mut v, 0.5), 2.5);
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert_eq!(quantile(&mut v, 1.0), 4.0);
        assert!((quantile(&mut v, 0.25) - 1.75).abs() < 1e-12);
    }
}
