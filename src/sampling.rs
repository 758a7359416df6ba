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
    pub fn new(kind: SamplerKind, labels: &[usize], n_classes: usize, rng: ChaCha8Rng) -> Sampler {
        let mut rng = rng;
        let mut members = vec![Vec::new(); n_classes];
        for (i, &y) in labels.iter().enumerate() {
            members[y].push(i);
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

    fn frequencies(kind: SamplerKind, epochs: usize, at_epoch: Option<usize>) -> Vec<f64> {
        let (labels, counts) = labels();
        let mut s = Sampler::new(kind, &labels, counts.len(), ChaCha8Rng::seed_from_u64(7));
        let mut hits = vec![0usize; counts.len()];
        let mut total = 0;
        for e in 0..epochs {
            let idx = s.epoch(at_epoch.unwrap_or(e), epochs);
            assert_eq!(idx.len(), labels.len(), "an epoch is N draws");
            for i in idx {
                hits[labels[i]] += 1;
                total += 1;
            }
        }
        hits.iter().map(|&h| h as f64 / total as f64).collect()
    }

    /// Empirical class frequencies within 0.01 (absolute) of the formula over
    /// 40 epochs of 1,440 draws (57,600 draws: a binomial s.d. of at most 0.0021).
    fn assert_matches(kind: SamplerKind, at_epoch: Option<usize>) {
        let (_, counts) = labels();
        let got = frequencies(kind, 40, at_epoch);
        let want = kind.class_probabilities(&counts, at_epoch.unwrap_or(0), 40);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 0.01, "{kind:?}: got {got:?}, want {want:?}");
        }
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
        assert_matches(SamplerKind::Power { q: 0.5 }, None);
        assert_matches(SamplerKind::Power { q: 0.0 }, None);
        assert_matches(SamplerKind::Power { q: 1.0 }, None);
        assert_matches(SamplerKind::Progressive, Some(0));
        assert_matches(SamplerKind::Progressive, Some(20));
        assert_matches(SamplerKind::Progressive, Some(39));
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
}
