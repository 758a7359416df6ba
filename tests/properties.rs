//! Property tests (proptest): laws the metrics, the samplers, the profile
//! subsampler and the bootstrap must obey on any input, not just on the cases
//! someone thought of.

use emo::data::profile::{subsample, targets, Profile};
use emo::data::Split;
use emo::metrics::{Metrics, Stat};
use emo::sampling::{Sampler, SamplerKind};
use emo::uncertainty::{bootstrap, Input};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// (number of classes, true labels, predictions), labels below the class count.
fn labelled() -> impl Strategy<Value = (usize, Vec<usize>, Vec<usize>)> {
    (2usize..8).prop_flat_map(|c| {
        (1usize..200).prop_flat_map(move |n| {
            (
                Just(c),
                prop::collection::vec(0..c, n),
                prop::collection::vec(0..c, n),
            )
        })
    })
}

/// A sampler's class probabilities from the paper's formulas (Kang et al.
/// 2020), written out here rather than taken from the sampler: power q,
/// n_j^q / Σ_k n_k^q; progressive at epoch t of T, (1 − t/T)·n_j/N + (t/T)·1/C.
fn paper_rates(kind: SamplerKind, counts: &[usize], epoch: usize, total: usize) -> Vec<f64> {
    let n: f64 = counts.iter().map(|&k| k as f64).sum();
    let c = counts.len() as f64;
    match kind {
        SamplerKind::Power { q } => {
            let z: f64 = counts.iter().map(|&k| (k as f64).powf(q)).sum();
            counts.iter().map(|&k| (k as f64).powf(q) / z).collect()
        }
        SamplerKind::Progressive => {
            let t = epoch as f64 / total as f64;
            counts
                .iter()
                .map(|&k| (1.0 - t) * k as f64 / n + t / c)
                .collect()
        }
        SamplerKind::InstanceBalanced => counts.iter().map(|&k| k as f64 / n).collect(),
        SamplerKind::ClassBalanced { .. } => vec![1.0 / c; counts.len()],
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

proptest! {
    #[test]
    fn per_class_counts_add_up((c, y, p) in labelled()) {
        let m = Metrics::compute(&y, &p, c);
        let n = y.len();
        prop_assert_eq!(m.per_class.iter().map(|k| k.support).sum::<usize>(), n);
        prop_assert_eq!(m.per_class.iter().map(|k| k.predicted).sum::<usize>(), n);
        prop_assert_eq!(m.confusion.iter().flatten().sum::<usize>(), n);
        let correct: usize = (0..c).map(|k| m.confusion[k][k]).sum();
        prop_assert!(close(m.accuracy, correct as f64 / n as f64));
        for (k, pc) in m.per_class.iter().enumerate() {
            prop_assert_eq!(pc.support, y.iter().filter(|&&t| t == k).count());
            prop_assert_eq!(pc.predicted, p.iter().filter(|&&q| q == k).count());
            for v in [pc.precision, pc.recall, pc.f1] {
                prop_assert!((0.0..=1.0).contains(&v));
            }
            // F1 is the harmonic mean of precision and recall (0 when both are).
            let h = if pc.precision + pc.recall > 0.0 {
                2.0 * pc.precision * pc.recall / (pc.precision + pc.recall)
            } else {
                0.0
            };
            prop_assert!(close(pc.f1, h));
        }
        // Weighted recall over all rows is accuracy.
        prop_assert!(close(m.weighted_recall, m.accuracy));
    }

    #[test]
    fn renaming_labels_changes_no_average((c, y, p) in labelled(), seed in any::<u64>()) {
        let mut rename: Vec<usize> = (0..c).collect();
        use rand::seq::SliceRandom;
        rename.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let y2: Vec<usize> = y.iter().map(|&k| rename[k]).collect();
        let p2: Vec<usize> = p.iter().map(|&k| rename[k]).collect();
        let a = Metrics::compute(&y, &p, c);
        let b = Metrics::compute(&y2, &p2, c);
        for (x, z) in [
            (a.accuracy, b.accuracy),
            (a.macro_f1, b.macro_f1),
            (a.macro_precision, b.macro_precision),
            (a.macro_recall, b.macro_recall),
            (a.weighted_f1, b.weighted_f1),
            (a.balanced_accuracy, b.balanced_accuracy),
        ] {
            prop_assert!(close(x, z), "{} vs {}", x, z);
        }
        for (k, &to) in rename.iter().enumerate() {
            prop_assert_eq!(&a.per_class[k], &b.per_class[to]);
        }
    }

    #[test]
    fn samplers_draw_n_valid_examples_at_their_class_rates(
        counts in prop::collection::vec(1usize..60, 2..6),
        kind in 0usize..4,
        q in 0.0f64..1.0,
        seed in any::<u64>(),
    ) {
        let labels: Vec<usize> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
            .collect();
        let kind = [
            SamplerKind::InstanceBalanced,
            SamplerKind::ClassBalanced { k: 1 },
            SamplerKind::Power { q },
            SamplerKind::Progressive,
        ][kind];
        let mut s = Sampler::new(kind, &labels, counts.len(), ChaCha8Rng::seed_from_u64(seed));
        let n = labels.len();
        for epoch in 0..3 {
            let idx = s.epoch(epoch, 3);
            // An epoch is always N draws of real examples.
            prop_assert_eq!(idx.len(), n);
            prop_assert!(idx.iter().all(|&i| i < n));
            match kind {
                SamplerKind::InstanceBalanced => {
                    // A permutation: every example exactly once.
                    let mut sorted = idx.clone();
                    sorted.sort_unstable();
                    prop_assert_eq!(sorted, (0..n).collect::<Vec<_>>());
                }
                SamplerKind::ClassBalanced { .. } => {
                    // Classes come in a shuffled cycle: per epoch, no class is drawn
                    // more than one full cycle ahead of another.
                    let c = counts.len();
                    let mut per = vec![0usize; c];
                    for &i in &idx {
                        per[labels[i]] += 1;
                    }
                    let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
                    prop_assert!(hi - lo <= 2, "{:?}", per);
                }
                SamplerKind::Power { .. } | SamplerKind::Progressive => {
                    // Independent draws at the paper's rates: many epochs drawn as
                    // this one, against the formula written out here.
                    let want = paper_rates(kind, &counts, epoch, 3);
                    let (mut hits, mut draws) = (vec![0usize; counts.len()], 0usize);
                    while draws < 20_000 {
                        for i in s.epoch(epoch, 3) {
                            hits[labels[i]] += 1;
                            draws += 1;
                        }
                    }
                    for (j, (&h, &w)) in hits.iter().zip(&want).enumerate() {
                        let got = h as f64 / draws as f64;
                        // Six binomial standard deviations: a false alarm about once
                        // in 10⁸ classes.
                        let tolerance = 6.0 * (w * (1.0 - w) / draws as f64).sqrt() + 1.0 / draws as f64;
                        prop_assert!(
                            (got - w).abs() <= tolerance,
                            "{:?} epoch {} of 3, counts {:?}, class {}: got {:.5}, want {:.5} ± {:.5}",
                            kind, epoch, counts, j, got, w, tolerance
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn profile_subsample_keeps_exact_counts_of_real_rows(
        available in prop::collection::vec(1usize..40, 2..6),
        fraction in 0.05f64..1.0,
        seed in any::<u64>(),
    ) {
        let c = available.len();
        let mut split = Split::default();
        for (class, &n) in available.iter().enumerate() {
            for i in 0..n {
                split.texts.push(format!("text {class} {i}"));
                split.labels.push(class);
                split.ids.push(format!("row{class}-{i}"));
            }
        }
        // Ask each class for a fraction of the most frequent count, capped by
        // what the class has, in frequency order as a user would.
        let mut order: Vec<usize> = (0..c).collect();
        order.sort_by(|&a, &b| available[b].cmp(&available[a]).then(a.cmp(&b)));
        let counts: Vec<usize> = order
            .iter()
            .map(|&k| ((available[k] as f64 * fraction).ceil() as usize).clamp(1, available[k]))
            .collect();
        let names: Vec<String> = (0..c).map(|k| format!("c{k}")).collect();
        let want = targets(&Profile::Counts(counts), &available, &names, "--train-profile").unwrap();
        let sub = subsample(&split, &want, seed);
        prop_assert_eq!(sub.class_counts(c), want.clone());
        // Every kept row is a row of the input, kept whole, in input order.
        let mut last = None;
        for i in 0..sub.len() {
            let j = split.ids.iter().position(|id| *id == sub.ids[i]).unwrap();
            prop_assert_eq!(&split.texts[j], &sub.texts[i]);
            prop_assert_eq!(split.labels[j], sub.labels[i]);
            prop_assert!(last.is_none_or(|l| l < j));
            last = Some(j);
        }
        // The same seed gives the same subsample.
        prop_assert_eq!(subsample(&split, &want, seed), sub);
    }

    #[test]
    fn bootstrap_intervals_bracket_and_pair((c, y, p) in labelled(), seed in any::<u64>()) {
        let rare = [c - 1];
        let input = Input {
            labels: &y,
            n_classes: c,
            methods: vec![vec![&p], vec![&p]],
            rare: &rare,
            baseline: Some(0),
            present_only: false,
        };
        let out = bootstrap(&input, 50, seed);
        for s in Stat::ALL {
            let iv = out[0].stat(s);
            if iv.lo.is_finite() {
                prop_assert!(iv.lo <= iv.hi);
                prop_assert!((0.0..=1.0).contains(&iv.lo) && (0.0..=1.0).contains(&iv.hi));
            }
            let d = out[1].diff(s).unwrap();
            if d.lo.is_finite() {
                prop_assert_eq!((d.lo, d.hi), (0.0, 0.0));
            }
        }
    }
}
