//! Samplers: which training examples one epoch visits. As in Kang et al.'s code,
//! an epoch is always N draws (N = training-set size), whatever the sampler, so
//! epochs mean the same amount of work for every method.
//!
//! With n_j examples in class j and C classes, the probability that a draw comes
//! from class j is:
//! - instance-balanced: n_j / N (a shuffled pass over the data);
//! - class-balanced: 1 / C (class-aware: classes in a shuffled cycle, k consecutive
//!   examples from each visited class's own shuffled cycle);
//! - power q: n_j^q / Σ n_i^q (q = 1 instance-, q = 0 class-balanced, q = ½ square-root);
//! - progressively-balanced: (1 − t/T)·n_j/N + (t/T)·1/C at epoch t of T.
//!
//! Multi-label data uses the same samplers: a text belongs to every class it
//! carries, so n_j counts the texts carrying class j, and class-aware sampling
//! draws a class and then a text that carries it (its multi-label counterpart).
//! A text with no emotion belongs to no class: only instance-balanced sampling
//! visits it.

use crate::data::Label;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A sampling scheme, independent of the data it is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SamplerKind {
    InstanceBalanced,
    ClassBalanced { k: usize },
    Power { q: f64 },
    Progressive,
}

impl SamplerKind {
    /// The class probabilities of one draw at `epoch` of `total_epochs`.
    pub fn class_probabilities(
        &self,
        counts: &[usize],
        epoch: usize,
        total_epochs: usize,
    ) -> Vec<f64> {
        let n: f64 = counts.iter().sum::<usize>() as f64;
        let present = counts.iter().filter(|&&c| c > 0).count() as f64;
        let ib: Vec<f64> = counts.iter().map(|&c| c as f64 / n).collect();
        let cb: Vec<f64> = counts
            .iter()
            .map(|&c| if c > 0 { 1.0 / present } else { 0.0 })
            .collect();
        match *self {
            SamplerKind::InstanceBalanced => ib,
            SamplerKind::ClassBalanced { .. } => cb,
            SamplerKind::Power { q } => {
                let w: Vec<f64> = counts
                    .iter()
                    .map(|&c| if c > 0 { (c as f64).powf(q) } else { 0.0 })
                    .collect();
                let s: f64 = w.iter().sum();
                w.into_iter().map(|v| v / s).collect()
            }
            SamplerKind::Progressive => {
                let t = epoch as f64 / total_epochs.max(1) as f64;
                ib.iter()
                    .zip(&cb)
                    .map(|(a, b)| (1.0 - t) * a + t * b)
                    .collect()
            }
        }
    }
}

/// An endless shuffled cycle over a list: every item once per pass, reshuffled
/// after each pass (the paper's `RandomCycleIter`).
struct Cycle {
    items: Vec<usize>,
    pos: usize,
}

impl Cycle {
    fn new(items: Vec<usize>, rng: &mut ChaCha8Rng) -> Cycle {
        let mut c = Cycle { items, pos: 0 };
        c.items.shuffle(rng);
        c
    }

    fn next(&mut self, rng: &mut ChaCha8Rng) -> usize {
        if self.pos == self.items.len() {
            self.items.shuffle(rng);
            self.pos = 0;
        }
        self.pos += 1;
        self.items[self.pos - 1]
    }
}

/// A sampler bound to one training set's labels, with its own seeded stream.
pub struct Sampler {
    kind: SamplerKind,
    counts: Vec<usize>,
    per_class: Vec<Cycle>,
    classes: Cycle,
    n: usize,
    rng: ChaCha8Rng,
}

impl Sampler {
    pub fn new<L: Label>(
        kind: SamplerKind,
        labels: &[L],
        n_classes: usize,
        rng: ChaCha8Rng,
    ) -> Sampler {
        let mut rng = rng;
        let mut members = vec![Vec::new(); n_classes];
        for (i, y) in labels.iter().enumerate() {
            for &c in y.classes() {
                members[c].push(i);
            }
        }
        let counts: Vec<usize> = members.iter().map(Vec::len).collect();
        let per_class = members
            .into_iter()
            .map(|m| Cycle::new(m, &mut rng))
            .collect();
        let present: Vec<usize> = (0..n_classes).filter(|&c| counts[c] > 0).collect();
        let classes = Cycle::new(present, &mut rng);
        Sampler {
            kind,
            counts,
            per_class,
            classes,
            n: labels.len(),
            rng,
        }
    }

    /// The example indices of epoch `epoch` (0-based) of `total_epochs`.
    pub fn epoch(&mut self, epoch: usize, total_epochs: usize) -> Vec<usize> {
        match self.kind {
            SamplerKind::InstanceBalanced => {
                let mut idx: Vec<usize> = (0..self.n).collect();
                idx.shuffle(&mut self.rng);
                idx
            }
            SamplerKind::ClassBalanced { k } => {
                let k = k.max(1);
                let mut idx = Vec::with_capacity(self.n);
                while idx.len() < self.n {
                    let c = self.classes.next(&mut self.rng);
                    for _ in 0..k.min(self.n - idx.len()) {
                        idx.push(self.per_class[c].next(&mut self.rng));
                    }
                }
                idx
            }
            SamplerKind::Power { .. } | SamplerKind::Progressive => {
                let p = self
                    .kind
                    .class_probabilities(&self.counts, epoch, total_epochs);
                let cumulative: Vec<f64> = p
                    .iter()
                    .scan(0.0, |s, v| {
                        *s += v;
                        Some(*s)
                    })
                    .collect();
                (0..self.n)
                    .map(|_| {
                        let u: f64 = self.rng.gen::<f64>() * cumulative[cumulative.len() - 1];
                        let c = cumulative.partition_point(|&x| x <= u).min(p.len() - 1);
                        // Guard against landing on an empty class through rounding.
                        let c = if self.counts[c] == 0 {
                            (0..p.len())
                                .rev()
                                .find(|&j| self.counts[j] > 0)
                                .expect("a class has examples")
                        } else {
                            c
                        };
                        self.per_class[c].next(&mut self.rng)
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A long-tailed label set: 1000, 300, 100, 30, 10 examples.
    fn labels() -> (Vec<usize>, Vec<usize>) {
        let counts = vec![1000, 300, 100, 30, 10];
        let labels = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
            .collect();
        (labels, counts)
    }

    /// Empirical class frequencies over `passes` epochs of N draws each, every
    /// one drawn as epoch `at_epoch` (or the pass's own index) of `total_epochs`.
    fn frequencies(
        kind: SamplerKind,
        passes: usize,
        total_epochs: usize,
        at_epoch: Option<usize>,
    ) -> (Vec<f64>, usize) {
        let (labels, counts) = labels();
        let mut s = Sampler::new(kind, &labels, counts.len(), ChaCha8Rng::seed_from_u64(7));
        let mut hits = vec![0usize; counts.len()];
        let mut total = 0;
        for e in 0..passes {
            let idx = s.epoch(at_epoch.unwrap_or(e), total_epochs);
            assert_eq!(idx.len(), labels.len(), "an epoch is N draws");
            for i in idx {
                hits[labels[i]] += 1;
                total += 1;
            }
        }
        (
            hits.iter().map(|&h| h as f64 / total as f64).collect(),
            total,
        )
    }

    /// The class probabilities written out from the paper's formulas (Kang et
    /// al. 2020, eq. 1 and the progressively-balanced schedule), independently
    /// of [`SamplerKind::class_probabilities`], which the sampler draws from:
    /// power q: n_j^q / Σ_k n_k^q; progressive at epoch t of T:
    /// (1 − t/T)·n_j/N + (t/T)·1/C.
    fn paper(kind: SamplerKind, epoch: usize, total_epochs: usize) -> Vec<f64> {
        let (_, counts) = labels();
        let n: f64 = counts.iter().map(|&c| c as f64).sum();
        let c = counts.len() as f64;
        match kind {
            SamplerKind::InstanceBalanced => counts.iter().map(|&k| k as f64 / n).collect(),
            SamplerKind::ClassBalanced { .. } => vec![1.0 / c; counts.len()],
            SamplerKind::Power { q } => {
                let z: f64 = counts.iter().map(|&k| (k as f64).powf(q)).sum();
                counts.iter().map(|&k| (k as f64).powf(q) / z).collect()
            }
            SamplerKind::Progressive => {
                let t = epoch as f64 / total_epochs as f64;
                counts
                    .iter()
                    .map(|&k| (1.0 - t) * (k as f64 / n) + t / c)
                    .collect()
            }
        }
    }

    /// Empirical class frequencies over `passes` epochs of 1,440 draws against
    /// `want`, each within five binomial standard deviations (at 100 passes,
    /// 144,000 draws: at most 0.0066 absolute), plus one draw for rounding.
    fn assert_frequencies(kind: SamplerKind, passes: usize, at_epoch: Option<usize>, want: &[f64]) {
        let (got, draws) = frequencies(kind, passes, 40, at_epoch);
        assert_eq!(got.len(), want.len());
        for (j, (g, w)) in got.iter().zip(want).enumerate() {
            let tolerance = 5.0 * (w * (1.0 - w) / draws as f64).sqrt() + 1.0 / draws as f64;
            assert!(
                (g - w).abs() <= tolerance,
                "{kind:?} at epoch {at_epoch:?} of 40, class {j}: got {g:.5}, want {w:.5} (± {tolerance:.5}); all got {got:?}, want {want:?}"
            );
        }
    }

    fn assert_matches(kind: SamplerKind, at_epoch: Option<usize>) {
        assert_frequencies(kind, 100, at_epoch, &paper(kind, at_epoch.unwrap_or(0), 40));
    }

    #[test]
    fn instance_balanced_is_a_permutation() {
        let (labels, counts) = labels();
        let mut s = Sampler::new(
            SamplerKind::InstanceBalanced,
            &labels,
            5,
            ChaCha8Rng::seed_from_u64(1),
        );
        let mut idx = s.epoch(0, 1);
        idx.sort_unstable();
        assert_eq!(idx, (0..labels.len()).collect::<Vec<_>>());
        assert_matches(SamplerKind::InstanceBalanced, None);
        assert_eq!(counts.len(), 5);
    }

    #[test]
    fn class_balanced_frequencies_and_runs_of_k() {
        assert_matches(SamplerKind::ClassBalanced { k: 4 }, None);
        let (labels, _) = labels();
        let mut s = Sampler::new(
            SamplerKind::ClassBalanced { k: 4 },
            &labels,
            5,
            ChaCha8Rng::seed_from_u64(3),
        );
        let idx = s.epoch(0, 1);
        // Runs of exactly 4 from one class (two runs may join when the class cycle
        // wraps around onto the same class, so check run boundaries at multiples of 4).
        for chunk in idx.chunks(4) {
            let c = labels[chunk[0]];
            assert!(chunk.iter().all(|&i| labels[i] == c), "{chunk:?}");
        }
        // Each pass over the 5 classes visits each class once.
        let firsts: Vec<usize> = idx.chunks(4).take(5).map(|ch| labels[ch[0]]).collect();
        let mut sorted = firsts.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4], "{firsts:?}");
    }

    #[test]
    fn power_and_progressive_follow_their_formulas() {
        for q in [0.5, 0.0, 1.0, 0.25] {
            assert_matches(SamplerKind::Power { q }, None);
        }
        // Square-root sampling by hand: √1000, √300, √100, √30, √10 over their
        // sum 67.583 (and q = 0, 1 are the class- and instance-balanced rates).
        let sqrt = [0.46791, 0.25629, 0.14797, 0.08104, 0.04679];
        for (p, w) in paper(SamplerKind::Power { q: 0.5 }, 0, 40).iter().zip(sqrt) {
            assert!((p - w).abs() < 1e-5, "{p} vs {w}");
        }
        assert_frequencies(SamplerKind::Power { q: 0.0 }, 100, None, &[0.2; 5]);
        let ib = [
            1000.0 / 1440.0,
            300.0 / 1440.0,
            100.0 / 1440.0,
            30.0 / 1440.0,
            10.0 / 1440.0,
        ];
        assert_frequencies(SamplerKind::Power { q: 1.0 }, 100, None, &ib);
        // Progressive starts instance-balanced, is halfway at epoch 20 of 40,
        // and nearly class-balanced at the last.
        assert_frequencies(SamplerKind::Progressive, 100, Some(0), &ib);
        for epoch in [10, 20, 39] {
            assert_matches(SamplerKind::Progressive, Some(epoch));
        }
        let halfway: Vec<f64> = ib.iter().map(|p| 0.5 * p + 0.5 * 0.2).collect();
        assert_frequencies(SamplerKind::Progressive, 100, Some(20), &halfway);
        let (_, counts) = labels();
        let p = SamplerKind::Progressive.class_probabilities(&counts, 40, 40);
        assert!(
            p.iter().all(|&v| (v - 0.2).abs() < 1e-12),
            "ends class-balanced"
        );
    }

    #[test]
    fn same_seed_same_stream_other_seed_differs() {
        let (labels, _) = labels();
        let run = |seed| {
            let mut s = Sampler::new(
                SamplerKind::ClassBalanced { k: 4 },
                &labels,
                5,
                ChaCha8Rng::seed_from_u64(seed),
            );
            (s.epoch(0, 2), s.epoch(1, 2))
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }

    /// Multi-label class-aware sampling: a class drawn uniformly, then a text
    /// carrying it. Class 0 is carried by 90 texts, class 1 by 9 and class 2 by
    /// one text that also carries class 0; 20 texts carry nothing. A third of the
    /// draws must come from each class's texts; the text of class 2 is drawn for
    /// class 2 (a third) and, as one of class 0's 90, for class 0 too.
    #[test]
    fn class_aware_sampling_of_label_sets() {
        use crate::data::LabelSet;
        let set = |v: &[usize]| LabelSet::new(v.to_vec()).unwrap();
        let mut labels: Vec<LabelSet> = (0..89).map(|_| set(&[0])).collect();
        labels.extend((0..9).map(|_| set(&[1])));
        labels.push(set(&[0, 2]));
        labels.extend((0..20).map(|_| set(&[])));
        let n = labels.len();
        let mut s = Sampler::new(
            SamplerKind::ClassBalanced { k: 1 },
            &labels,
            3,
            ChaCha8Rng::seed_from_u64(3),
        );
        let epochs = 300;
        let mut hits = vec![0usize; n];
        for e in 0..epochs {
            for i in s.epoch(e, epochs) {
                hits[i] += 1;
            }
        }
        let draws = (n * epochs) as f64;
        let share =
            |range: std::ops::Range<usize>| hits[range].iter().sum::<usize>() as f64 / draws;
        let third = 1.0 / 3.0;
        // Class 1's texts: a third of the draws.
        assert!((share(89..98) - third).abs() < 0.01, "{}", share(89..98));
        // The text carrying 0 and 2: all of class 2's third, plus 1/90 of class 0's.
        let both = share(98..99);
        assert!((both - (third + third / 90.0)).abs() < 0.01, "{both}");
        // No-emotion texts belong to no class: class-aware sampling never visits them.
        assert_eq!(share(99..n), 0.0);
        // Instance-balanced sampling still visits every text once per epoch.
        let mut ib = Sampler::new(
            SamplerKind::InstanceBalanced,
            &labels,
            3,
            ChaCha8Rng::seed_from_u64(3),
        );
        let mut once = ib.epoch(0, 1);
        once.sort();
        assert_eq!(once, (0..n).collect::<Vec<_>>());
        // Power sampling counts a text once per class it carries.
        assert_eq!(
            SamplerKind::Power { q: 1.0 }.class_probabilities(&s.counts, 0, 1),
            [90.0 / 100.0, 9.0 / 100.0, 1.0 / 100.0]
        );
    }
}
