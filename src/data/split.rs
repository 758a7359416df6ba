//! Stratified splitting, for data that comes without a validation (or test)
//! split: each class is divided in the same proportions, with a seeded shuffle,
//! so small classes are not left out of one side by chance.

use super::{Label, Split};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Splits `split` into parts with the given `fractions` (summing to 1, first
/// part = the rest after rounding), each text stratified by its rarest class
/// (by count in `split`; a single-label text's one class; texts with no label
/// form a stratum of their own). Every stratum with at least as many texts as
/// there are parts gets at least one in every part; a smaller one stays whole
/// in the first part (the caller warns about it). A multi-label text's labels
/// cannot all be balanced at once; the rarest is the one a chance split would
/// most likely leave out of a part.
pub fn stratified<L: Label>(
    split: &Split<L>,
    n_classes: usize,
    fractions: &[f64],
    seed: u64,
) -> Vec<Split<L>> {
    let counts = split.class_counts(n_classes);
    let keys: Vec<usize> = split
        .labels
        .iter()
        .map(|label| {
            label
                .classes()
                .iter()
                .copied()
                .min_by_key(|&c| (counts[c], c))
                .unwrap_or(n_classes)
        })
        .collect();
    parts_of(
        split,
        stratified_rows(&keys, n_classes + 1, fractions, seed),
    )
}

/// Row indices of each part, stratified by `keys` (one stratum per key value).
fn stratified_rows(keys: &[usize], n_keys: usize, fractions: &[f64], seed: u64) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut by_class = vec![Vec::new(); n_keys];
    for (i, &y) in keys.iter().enumerate() {
        by_class[y].push(i);
    }
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); fractions.len()];
    for mut members in by_class {
        members.shuffle(&mut rng);
        let n = members.len();
        let mut sizes: Vec<usize> = fractions
            .iter()
            .map(|f| (f * n as f64).round() as usize)
            .collect();
        if n >= fractions.len() {
            for s in sizes.iter_mut().skip(1) {
                *s = (*s).max(1);
            }
        } else {
            sizes.iter_mut().skip(1).for_each(|s| *s = 0);
        }
        let rest: usize = sizes.iter().skip(1).sum();
        sizes[0] = n.saturating_sub(rest);
        let mut start = 0;
        for (p, &size) in sizes.iter().enumerate() {
            parts[p].extend_from_slice(&members[start..start + size]);
            start += size;
        }
    }
    parts
}

fn parts_of<L: Clone>(split: &Split<L>, parts: Vec<Vec<usize>>) -> Vec<Split<L>> {
    parts
        .into_iter()
        .map(|mut idx| {
            idx.sort_unstable();
            Split {
                texts: idx.iter().map(|&i| split.texts[i].clone()).collect(),
                labels: idx.iter().map(|&i| split.labels[i].clone()).collect(),
                ids: idx.iter().map(|&i| split.ids[i].clone()).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::LabelSet;

    fn split(counts: &[usize]) -> Split {
        let labels: Vec<usize> = counts
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
            .collect();
        Split {
            texts: (0..labels.len()).map(|i| format!("t{i}")).collect(),
            ids: (0..labels.len()).map(|i| i.to_string()).collect(),
            labels,
        }
    }

    #[test]
    fn keeps_proportions_and_every_class() {
        let s = split(&[230, 210, 150, 60, 12, 3, 2]);
        let parts = stratified(&s, 7, &[0.8, 0.1, 0.1], 42);
        let total: usize = parts.iter().map(|p| p.len()).sum();
        assert_eq!(total, s.len());
        let train = parts[0].class_counts(7);
        let valid = parts[1].class_counts(7);
        let test = parts[2].class_counts(7);
        assert_eq!((train[0], valid[0], test[0]), (184, 23, 23));
        assert_eq!((train[4], valid[4], test[4]), (10, 1, 1));
        // 3 examples, 3 parts: one each; 2 examples: too few, all in training.
        assert_eq!((train[5], valid[5], test[5]), (1, 1, 1));
        assert_eq!((train[6], valid[6], test[6]), (2, 0, 0));
        // No example is in two parts.
        let mut ids: Vec<&String> = parts.iter().flat_map(|p| &p.ids).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), s.len());
    }

    #[test]
    fn seeded() {
        let s = split(&[50, 20, 5]);
        assert_eq!(
            stratified(&s, 3, &[0.9, 0.1], 1),
            stratified(&s, 3, &[0.9, 0.1], 1)
        );
        assert_ne!(
            stratified(&s, 3, &[0.9, 0.1], 1),
            stratified(&s, 3, &[0.9, 0.1], 2)
        );
    }

    #[test]
    fn multi_label_splits_keep_each_rarest_label_on_every_side() {
        // Class 2 is rare (4 texts, each also carrying frequent class 0).
        let mut labels = Vec::new();
        for i in 0..40 {
            labels.push(LabelSet::new(if i % 10 == 0 { vec![0, 2] } else { vec![i % 2] }).unwrap());
        }
        labels.push(LabelSet::new(vec![]).unwrap());
        labels.push(LabelSet::new(vec![]).unwrap());
        let n = labels.len();
        let s = Split {
            texts: (0..n).map(|i| format!("t{i}")).collect(),
            labels,
            ids: (0..n).map(|i| i.to_string()).collect(),
        };
        let parts = stratified(&s, 3, &[0.5, 0.5], 7);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), n);
        for p in &parts {
            assert_eq!(p.class_counts(3)[2], 2, "the rare class is halved");
            assert_eq!(p.labels.iter().filter(|l| l.is_empty()).count(), 1);
        }
        assert_eq!(stratified(&s, 3, &[0.5, 0.5], 7), parts, "seeded");
    }
}
