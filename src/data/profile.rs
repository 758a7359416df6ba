//! Long-tailed training profiles: subsample a large training split (seeded,
//! per class) to the shape a user actually has — explicit counts such as
//! `230,210,150,60,60,50,12`, or `exp:100`, an exponential decay with the most
//! frequent class 100 times the rarest (Cao et al.'s profile).

use super::{Dataset, Split, SplitName};
use crate::input_error;
use anyhow::Result;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// Counts for the classes from most to least frequent in the full training split.
    Counts(Vec<usize>),
    /// n_i = n_max · factor^(−i/(C−1)) for the i-th most frequent class.
    Exp(f64),
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(f) = s.strip_prefix("exp:") {
            let f: f64 = f.trim().parse().map_err(|e| format!("exp:{f}: {e}"))?;
            if !(f.is_finite() && f >= 1.0) {
                return Err("exp:FACTOR needs a factor ≥ 1".into());
            }
            return Ok(Profile::Exp(f));
        }
        let counts = s
            .split(',')
            .map(|p| p.trim().parse::<usize>().map_err(|e| format!("'{p}': {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if counts.contains(&0) {
            return Err("every class needs at least one example".into());
        }
        Ok(Profile::Counts(counts))
    }
}

/// How validation follows a training profile.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidProfile {
    /// Each class keeps the share of its validation examples that the training
    /// profile keeps of its training examples.
    Proportional,
    Profile(Profile),
}

impl FromStr for ValidProfile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "proportional" => Ok(ValidProfile::Proportional),
            _ => s.parse().map(ValidProfile::Profile),
        }
    }
}

impl std::fmt::Display for ValidProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidProfile::Proportional => write!(f, "proportional"),
            ValidProfile::Profile(p) => write!(f, "{p}"),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Profile::Counts(c) => {
                let parts: Vec<String> = c.iter().map(|n| n.to_string()).collect();
                write!(f, "{}", parts.join(","))
            }
            Profile::Exp(factor) => write!(f, "exp:{factor}"),
        }
    }
}

/// The per-class target counts of `profile` for classes with `available`
/// examples, indexed by class. Errors name the class that is too small and
/// the option (`flag`) that asked.
pub fn targets(
    profile: &Profile,
    available: &[usize],
    classes: &[String],
    flag: &str,
) -> Result<Vec<usize>> {
    let c = available.len();
    let mut order: Vec<usize> = (0..c).collect();
    order.sort_by(|&a, &b| available[b].cmp(&available[a]).then(a.cmp(&b)));
    let mut want = vec![0; c];
    match profile {
        Profile::Counts(counts) => {
            if counts.len() != c {
                return Err(input_error!(
                    "{flag} gives {} counts but the data has {c} classes (most to least frequent: {})",
                    counts.len(),
                    order.iter().map(|&i| classes[i].as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            for (rank, &class) in order.iter().enumerate() {
                want[class] = counts[rank];
            }
        }
        Profile::Exp(factor) => {
            let ratio = |rank: usize| {
                if c > 1 {
                    factor.powf(-(rank as f64) / (c - 1) as f64)
                } else {
                    1.0
                }
            };
            // The largest head size every class can still afford.
            let n_max = order
                .iter()
                .enumerate()
                .map(|(rank, &class)| available[class] as f64 / ratio(rank))
                .fold(f64::INFINITY, f64::min);
            for (rank, &class) in order.iter().enumerate() {
                want[class] = ((n_max * ratio(rank)).floor() as usize).max(1);
            }
        }
    }
    for (class, (&w, &a)) in want.iter().zip(available).enumerate() {
        if w > a {
            return Err(input_error!(
                "{flag} asks for {w} examples of class '{}' but the split has only {a}",
                classes[class]
            ));
        }
    }
    Ok(want)
}

/// Keeps `want[j]` examples of each class j, chosen by a seeded shuffle; row order is kept.
pub fn subsample(split: &Split, want: &[usize], seed: u64) -> Split {
    rows(split, &keep(&split.labels, want, seed))
}

/// The rows (ascending) that [`subsample`] keeps.
pub fn keep(labels: &[usize], want: &[usize], seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut by_class = vec![Vec::new(); want.len()];
    for (i, &y) in labels.iter().enumerate() {
        by_class[y].push(i);
    }
    let mut keep: Vec<usize> = Vec::new();
    for (class, mut idx) in by_class.into_iter().enumerate() {
        idx.shuffle(&mut rng);
        keep.extend_from_slice(&idx[..want[class].min(idx.len())]);
    }
    keep.sort_unstable();
    keep
}

/// Per-class counts for a validation split of `valid` examples per class in
/// the proportion `want / train` of the training profile (at least one each
/// where the class has any).
pub fn proportional(want: &[usize], train: &[usize], valid: &[usize]) -> Vec<usize> {
    want.iter()
        .zip(train)
        .zip(valid)
        .map(|((&w, &t), &v)| {
            let k = (v as f64 * w as f64 / t.max(1) as f64).round() as usize;
            k.clamp(v.min(1), v)
        })
        .collect()
}

/// The rows `keep` (ascending) of `split`.
pub fn rows(split: &Split, keep: &[usize]) -> Split {
    Split {
        texts: keep.iter().map(|&i| split.texts[i].clone()).collect(),
        labels: keep.iter().map(|&i| split.labels[i]).collect(),
        ids: keep.iter().map(|&i| split.ids[i].clone()).collect(),
    }
}

/// The training subsamples of a profile study: for subsample s, the rows
/// (into the embedded training split, which is their union) and its seed.
pub struct Drawn {
    pub profile: String,
    pub seeds: Vec<u64>,
    pub rows: Vec<Vec<usize>>,
}

/// What a profile study asks for: `subsamples` training subsamples of
/// `profile` (seeds seed, seed+1, …), validation cut down to `valid` if given.
pub struct Request<'a> {
    pub profile: &'a Profile,
    pub subsamples: u32,
    pub seed: u64,
    pub valid: Option<&'a ValidProfile>,
}

/// Draws the training subsamples `request` asks for, keeps only their union
/// in the training split (all that needs embedding), and cuts validation down
/// once (seed `seed`) if asked. Says what it drew on stderr.
pub fn draw(dataset: &mut Dataset, request: &Request) -> Result<Drawn> {
    let Request {
        profile,
        subsamples,
        seed,
        valid: valid_profile,
    } = *request;
    let c = dataset.classes.len();
    let train = dataset.split(SplitName::Train).expect("a training split");
    let available = train.class_counts(c);
    let want = targets(profile, &available, &dataset.classes, "--train-profile")?;
    let seeds: Vec<u64> = (0..subsamples.max(1) as u64).map(|s| seed + s).collect();
    let kept: Vec<Vec<usize>> = seeds
        .iter()
        .map(|&s| keep(&train.labels, &want, s))
        .collect();
    let mut union: Vec<usize> = kept.iter().flatten().copied().collect();
    union.sort_unstable();
    union.dedup();
    let picked = kept
        .iter()
        .map(|k| {
            k.iter()
                .map(|i| union.binary_search(i).expect("in the union"))
                .collect()
        })
        .collect();
    eprintln!(
        "emo: training split subsampled to the profile: {} examples ({:?} per class){}",
        want.iter().sum::<usize>(),
        want,
        if seeds.len() > 1 {
            format!(
                ", {} subsamples (seeds {}–{})",
                seeds.len(),
                seeds[0],
                seeds[seeds.len() - 1]
            )
        } else {
            String::new()
        }
    );
    let union_split = rows(train, &union);
    *dataset
        .split_mut(SplitName::Train)
        .expect("a training split") = union_split;
    if let Some(vp) = valid_profile {
        let valid = dataset
            .split(SplitName::Validation)
            .expect("a validation split");
        let have = valid.class_counts(c);
        let vwant = match vp {
            ValidProfile::Proportional => proportional(&want, &available, &have),
            ValidProfile::Profile(p) => targets(p, &have, &dataset.classes, "--valid-profile")?,
        };
        let cut = subsample(valid, &vwant, seed);
        eprintln!(
            "emo: validation split cut down ({vp}): {} examples ({:?} per class)",
            cut.len(),
            vwant
        );
        *dataset
            .split_mut(SplitName::Validation)
            .expect("a validation split") = cut;
    }
    Ok(Drawn {
        profile: profile.to_string(),
        seeds,
        rows: picked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn explicit_counts_go_to_classes_by_frequency() {
        let p: Profile = "230,210,150,60,60,50,12".parse().unwrap();
        let available = [500, 3000, 800, 700, 900, 600, 400];
        let t = targets(&p, &available, &names(7), "--train-profile").unwrap();
        // Most frequent (class 1) gets 230, then class 4 (900) 210, class 2 (800) 150 …
        assert_eq!(t, [50, 230, 150, 60, 210, 60, 12]);
        let err = targets(
            &"5000,1,1,1,1,1,1".parse().unwrap(),
            &available,
            &names(7),
            "--train-profile",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("5000 examples of class 'c1' but the split has only 3000"),
            "{err}"
        );
        assert!(targets(
            &"1,2".parse().unwrap(),
            &available,
            &names(7),
            "--train-profile"
        )
        .is_err());
        assert!("0,5".parse::<Profile>().is_err());
    }

    #[test]
    fn exponential_profile_has_the_asked_imbalance() {
        let available = [5000, 4000, 3000, 2000, 1000];
        let t = targets(
            &"exp:100".parse().unwrap(),
            &available,
            &names(5),
            "--train-profile",
        )
        .unwrap();
        assert!(t.iter().zip(&available).all(|(w, a)| w <= a));
        let ratio = t[0] as f64 / t[4] as f64;
        assert!((ratio - 100.0).abs() / 100.0 < 0.02, "{t:?}");
        assert!(t.windows(2).all(|w| w[0] >= w[1]), "{t:?}");
    }

    #[test]
    fn subsample_is_seeded_and_exact() {
        let split = Split {
            texts: (0..100).map(|i| format!("t{i}")).collect(),
            labels: (0..100).map(|i| i % 4).collect(),
            ids: (0..100).map(|i| i.to_string()).collect(),
        };
        let a = subsample(&split, &[10, 5, 2, 1], 9);
        assert_eq!(a.class_counts(4), [10, 5, 2, 1]);
        assert_eq!(a, subsample(&split, &[10, 5, 2, 1], 9));
        assert_ne!(a, subsample(&split, &[10, 5, 2, 1], 10));
    }
}
