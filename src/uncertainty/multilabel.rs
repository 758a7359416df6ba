//! Paired bootstrap intervals for multi-label studies: the same redraws of the
//! test texts (with replacement, seeded) score every method, so a difference
//! between two methods varies only where their answers differ. A text is the
//! unit that is redrawn, with all of its labels, because its labels are not
//! independent of each other. As for single-label studies, several seeds of a
//! method are averaged on each redraw (the interval of the seed-mean).

use super::{Input, Interval};
use crate::data::{Label, LabelSet};
use crate::metrics::multilabel::MultiStat;

impl super::Statistic for MultiStat {
    const ALL: &'static [MultiStat] = &MultiStat::ALL;
}

/// One run's answers as the texts that are true positives, false positives
/// and false negatives of each class, and each text's label counts: what a
/// redraw's weights are summed over.
struct Cells {
    /// `[class][0: tp, 1: fp, 2: fn]` → text indices.
    by_class: Vec<[Vec<u32>; 3]>,
    /// Per text: (|true ∩ predicted|, |true| + |predicted|).
    per_text: Vec<(u32, u32)>,
}

fn cells(truth: &[LabelSet], pred: &[LabelSet], c: usize) -> Cells {
    let mut by_class: Vec<[Vec<u32>; 3]> = (0..c).map(|_| Default::default()).collect();
    let mut per_text = Vec::with_capacity(truth.len());
    for (i, (t, p)) in truth.iter().zip(pred).enumerate() {
        let mut both = 0;
        for &k in t.classes() {
            if p.contains(k) {
                by_class[k][0].push(i as u32);
                both += 1;
            } else {
                by_class[k][2].push(i as u32);
            }
        }
        for &k in p.classes() {
            if !t.contains(k) {
                by_class[k][1].push(i as u32);
            }
        }
        per_text.push((both, (t.len() + p.len()) as u32));
    }
    Cells { by_class, per_text }
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// The statistics and per-class F1 of one run on one weighting of the texts
/// (every text once when `weights` is `None`).
fn score(cells: &Cells, rare: &[usize], weights: Option<&[u32]>) -> (Vec<f64>, Vec<f64>) {
    let w = |i: u32| weights.map_or(1.0, |w| w[i as usize] as f64);
    let counts: Vec<[f64; 3]> = cells
        .by_class
        .iter()
        .map(|lists| {
            lists
                .each_ref()
                .map(|l| l.iter().map(|&i| w(i)).sum::<f64>())
        })
        .collect();
    let f1: Vec<f64> = counts
        .iter()
        .map(|[tp, fp, fn_]| ratio(2.0 * tp, 2.0 * tp + fp + fn_))
        .collect();
    let (tp, fp, fn_) = counts.iter().fold((0.0, 0.0, 0.0), |acc, c| {
        (acc.0 + c[0], acc.1 + c[1], acc.2 + c[2])
    });
    let (mut samples, mut total) = (0.0, 0.0);
    for (i, &(both, sizes)) in cells.per_text.iter().enumerate() {
        let wi = w(i as u32);
        samples += wi * ratio(2.0 * both as f64, sizes as f64);
        total += wi;
    }
    let recalls: Vec<f64> = rare
        .iter()
        .filter(|&&k| counts[k][0] + counts[k][2] > 0.0)
        .map(|&k| counts[k][0] / (counts[k][0] + counts[k][2]))
        .collect();
    let stats = MultiStat::ALL
        .iter()
        .map(|s| match s {
            MultiStat::MacroF1 => f1.iter().sum::<f64>() / f1.len().max(1) as f64,
            MultiStat::MicroF1 => ratio(2.0 * tp, 2.0 * tp + fp + fn_),
            MultiStat::SamplesF1 => ratio(samples, total),
            MultiStat::RareF1 => {
                rare.iter().map(|&k| f1[k]).sum::<f64>() / rare.len().max(1) as f64
            }
            MultiStat::RareRecall if recalls.is_empty() => f64::NAN,
            MultiStat::RareRecall => recalls.iter().sum::<f64>() / recalls.len() as f64,
        })
        .collect();
    (stats, f1)
}

/// Seed-mean of [`score`] over a method's runs.
fn score_runs(runs: &[Cells], rare: &[usize], weights: Option<&[u32]>) -> (Vec<f64>, Vec<f64>) {
    let mut stats = vec![0.0; MultiStat::ALL.len()];
    let mut f1 = Vec::new();
    for run in runs {
        let (s, f) = score(run, rare, weights);
        stats.iter_mut().zip(s).for_each(|(a, b)| *a += b);
        if f1.is_empty() {
            f1 = vec![0.0; f.len()];
        }
        f1.iter_mut().zip(f).for_each(|(a, b)| *a += b);
    }
    let n = runs.len().max(1) as f64;
    stats.iter_mut().for_each(|v| *v /= n);
    f1.iter_mut().for_each(|v| *v /= n);
    (stats, f1)
}

/// The point estimates are the statistics on the texts as they are, equal to
/// [`MultiStat::value`] of the metrics (held by a test).
impl super::Resampled for LabelSet {
    type Stat = MultiStat;
    type PerClass = Interval;
    const MACRO_F1: MultiStat = MultiStat::MacroF1;
    fn bootstrap(
        input: &Input<'_, LabelSet>,
        resamples: usize,
        seed: u64,
    ) -> Vec<super::MethodIntervals<LabelSet>> {
        let c = input.n_classes;
        let cells: Vec<Vec<Cells>> = input
            .methods
            .iter()
            .map(|runs| runs.iter().map(|p| cells(input.labels, p, c)).collect())
            .collect();
        let score = |m: usize, weights: Option<&[u32]>| {
            let (stats, f1) = score_runs(&cells[m], input.rare, weights);
            (stats, f1.into_iter().map(|v| vec![v]).collect())
        };
        super::paired(input, resamples, seed, score)
            .into_iter()
            .map(|p| p.into_intervals(|v| v[0]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::multilabel::{Indicator, MultiLabelMetrics};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_sets(n: usize, c: usize, rate: f64, rng: &mut ChaCha8Rng) -> Vec<LabelSet> {
        (0..n)
            .map(|_| LabelSet::new((0..c).filter(|_| rng.gen_bool(rate)).collect()).unwrap())
            .collect()
    }

    fn metrics(truth: &[LabelSet], pred: &[LabelSet], c: usize) -> MultiLabelMetrics {
        let sets = |v: &[LabelSet]| v.iter().map(|s| s.classes().to_vec()).collect::<Vec<_>>();
        let scores: Vec<Vec<f32>> = pred
            .iter()
            .map(|p| (0..c).map(|k| p.contains(k) as u8 as f32).collect())
            .collect();
        MultiLabelMetrics::compute(
            &Indicator::from_sets(c, &sets(truth)),
            &Indicator::from_sets(c, &sets(pred)),
            &scores,
        )
    }

    #[test]
    fn point_estimates_equal_the_metrics_and_identical_methods_differ_by_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let c = 5;
        let truth = random_sets(300, c, 0.2, &mut rng);
        let a = random_sets(300, c, 0.25, &mut rng);
        let b = random_sets(300, c, 0.1, &mut rng);
        let rare = [3, 4];
        let input = Input {
            labels: &truth,
            n_classes: c,
            methods: vec![vec![&a[..]], vec![&b[..]], vec![&a[..]]],
            rare: &rare,
            baseline: Some(0),
            present_only: false,
        };
        let iv = crate::uncertainty::bootstrap(&input, 200, 9);
        for (m, pred) in [&a, &b].iter().enumerate() {
            let want = metrics(&truth, pred, c);
            for s in MultiStat::ALL {
                let got = iv[m].stat(s).estimate;
                assert!((got - s.value(&want, &rare)).abs() < 1e-12, "{s:?}: {got}");
                let i = iv[m].stat(s);
                assert!(i.lo <= i.estimate + 1e-12 && i.estimate <= i.hi + 1e-12);
            }
            for k in 0..c {
                assert!((iv[m].per_class[k].estimate - want.per_class[k].f1).abs() < 1e-12);
            }
        }
        // The same predictions as the baseline: zero difference on every redraw.
        let d = iv[2].diff(MultiStat::MacroF1).unwrap();
        assert_eq!((d.lo, d.estimate, d.hi), (0.0, 0.0, 0.0));
        // Different predictions: an interval of non-zero width around the difference.
        let d = iv[1].diff(MultiStat::MicroF1).unwrap();
        assert!(d.hi > d.lo);
        assert!(iv[0].vs_baseline.is_none(), "no difference from itself");
        // Seeded.
        let again = crate::uncertainty::bootstrap(&input, 200, 9);
        assert_eq!(
            again[1].stat(MultiStat::RareF1),
            iv[1].stat(MultiStat::RareF1)
        );
    }

    #[test]
    fn seeds_are_averaged() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let c = 3;
        let truth = random_sets(100, c, 0.3, &mut rng);
        let a = random_sets(100, c, 0.3, &mut rng);
        let b = random_sets(100, c, 0.3, &mut rng);
        let input = Input {
            labels: &truth,
            n_classes: c,
            methods: vec![vec![&a[..], &b[..]]],
            rare: &[2],
            baseline: None,
            present_only: false,
        };
        let iv = crate::uncertainty::bootstrap(&input, 10, 1);
        let mean =
            (metrics(&truth, &a, c).micro_avg.f1 + metrics(&truth, &b, c).micro_avg.f1) / 2.0;
        assert!((iv[0].stat(MultiStat::MicroF1).estimate - mean).abs() < 1e-12);
    }
}
