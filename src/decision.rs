//! From per-class probabilities to a multi-label answer. A single-label head
//! answers with its top class; a multi-label one answers with every class whose
//! probability passes that class's threshold, and thresholds matter: a rare
//! emotion's probabilities rarely reach 0.5, so a fixed cut silently drops the
//! classes rebalancing is meant to recover. Each class's threshold is chosen on
//! validation, by that class's F1, and is recorded with the model.

use crate::data::LabelSet;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// The threshold every class gets when nothing better is known, and the one the
/// reports compare tuned thresholds against.
pub const FIXED: f32 = 0.5;

/// The GoEmotions paper's threshold, reported beside [`FIXED`] so results can be
/// read against the published ones.
pub const PAPER: f32 = 0.3;

/// One class's threshold and why it was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub value: f32,
    /// The class's F1 on validation at `value`.
    pub validation_f1: f64,
    /// Validation texts carrying the class. With none, F1 cannot tell
    /// thresholds apart and [`FIXED`] is kept.
    pub validation_positives: usize,
    /// The texts the value was chosen on.
    #[serde(default)]
    pub source: ThresholdSource,
}

/// What to answer for a text no class passes: no emotion (the answer the data
/// allows, since a text may carry none), or its most probable class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum WhenNonePasses {
    #[default]
    NoEmotion,
    TopLabel,
}

/// Chooses each class's threshold on validation: the cut that maximises the
/// class's F1 (2·tp / (2·tp + fp + fn), scikit-learn's definition), placed
/// halfway between the lowest probability it accepts and the next lower one so
/// that it does not sit on a validation text's exact score. Ties in F1 go to the
/// cut nearest [`FIXED`], which keeps the choice deterministic and moves no
/// threshold further than validation asks. `probs[i][c]` is text `i`'s
/// probability of class `c`; a non-finite one is refused (see [`check_finite`]).
pub fn choose(probs: &[Vec<f32>], truth: &[LabelSet], n_classes: usize) -> Result<Vec<Threshold>> {
    assert_eq!(probs.len(), truth.len(), "one probability row per text");
    check_finite("validation split", probs)?;
    Ok(choose_checked(probs, truth, n_classes))
}

/// Refuses a NaN or infinite probability, naming the split, the text and the
/// class. Features are checked when they are read, so such a probability
/// means the head itself diverged; no threshold can be placed against it
/// (NaN compares false with everything), and a model saved with it would
/// answer nonsense.
pub fn check_finite(split: &str, probs: &[Vec<f32>]) -> Result<()> {
    for (i, row) in probs.iter().enumerate() {
        if let Some(c) = row.iter().position(|p| !p.is_finite()) {
            return Err(crate::input_error!(
                "{split}: text {i}'s probability of class {c} is {}: the head's outputs are not finite (it diverged; lower the learning rate or use --tune)",
                row[c]
            ));
        }
    }
    Ok(())
}

fn choose_checked(probs: &[Vec<f32>], truth: &[LabelSet], n_classes: usize) -> Vec<Threshold> {
    (0..n_classes)
        .map(|c| {
            let mut scored: Vec<(f32, bool)> = probs
                .iter()
                .zip(truth)
                .map(|(p, t)| (p[c], t.contains(c)))
                .collect();
            choose_one(&mut scored)
        })
        .collect()
}

/// A cut that accepts `high` and rejects `low` (`low < high`) under the rule
/// `p >= cut`: their midpoint where one lies strictly between them. Between
/// two adjacent f32 values no number does, and the rounded midpoint lands on
/// one of them, for about half such pairs on `low`, which would admit it too;
/// then the cut is `high` itself, the only value that separates them.
fn between(low: f32, high: f32) -> f32 {
    let mid = low / 2.0 + high / 2.0;
    if mid > low && mid <= high {
        mid
    } else {
        high
    }
}

fn choose_one(scored: &mut [(f32, bool)]) -> Threshold {
    let positives = scored.iter().filter(|(_, y)| *y).count();
    if positives == 0 {
        return Threshold {
            value: FIXED,
            validation_f1: 0.0,
            validation_positives: 0,
            source: ThresholdSource::Validation,
        };
    }
    // Highest probability first; each distinct probability is one possible cut.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let f1 = |tp: usize, fp: usize| 2.0 * tp as f64 / (2 * tp + fp + (positives - tp)) as f64;
    // Accepting nothing: F1 0 (there are positives), the cut above every score.
    let mut best = (0.0, f32::INFINITY);
    let (mut tp, mut fp) = (0, 0);
    let mut i = 0;
    while i < scored.len() {
        let s = scored[i].0;
        // `total_cmp`, not `==`: the group always holds at least `scored[i]`,
        // so the scan advances whatever the scores are.
        while i < scored.len() && scored[i].0.total_cmp(&s).is_eq() {
            if scored[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let next = scored.get(i).map_or(0.0, |n| n.0);
        let cut = between(next, s);
        let score = f1(tp, fp);
        let nearer = (cut - FIXED).abs() < (best.1 - FIXED).abs();
        if score > best.0 || (score == best.0 && nearer) {
            best = (score, cut);
        }
    }
    Threshold {
        value: best.1.min(1.0),
        validation_f1: best.0,
        validation_positives: positives,
        source: ThresholdSource::Validation,
    }
}

/// Where per-class thresholds are chosen. A rare class has a dozen validation
/// texts, and the F1-best cut on a dozen positives is mostly noise (on
/// GoEmotions the validation macro-F1 at validation-chosen thresholds runs
/// 0.03–0.04 above test); the training texts carry six to eight times as many
/// positives, and a linear head on frozen embeddings fits them little better
/// than unseen texts — unless it was trained by repeating them (class-aware
/// sampling), when its training probabilities are too confident. So neither
/// source is right for every method, and [`pick_source`] decides per fit, on
/// validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdSource {
    #[default]
    Validation,
    TrainingAndValidation,
}

impl ThresholdSource {
    pub const ALL: [ThresholdSource; 2] = [
        ThresholdSource::Validation,
        ThresholdSource::TrainingAndValidation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ThresholdSource::Validation => "validation",
            ThresholdSource::TrainingAndValidation => "training+validation",
        }
    }
}

/// One split's probabilities (`probs[i][c]`) and true label sets.
#[derive(Clone, Copy)]
pub struct Scored<'a> {
    pub probs: &'a [Vec<f32>],
    pub truth: &'a [LabelSet],
}

impl Scored<'_> {
    fn check(&self, split: &str) -> Result<()> {
        check_finite(split, self.probs)
    }

    /// Class `c`'s (probability, carries it) pairs of the rows `keep` accepts.
    fn column<'s, K: Fn(usize) -> bool + 's>(
        &'s self,
        c: usize,
        keep: K,
    ) -> impl Iterator<Item = (f32, bool)> + 's {
        self.probs
            .iter()
            .zip(self.truth)
            .enumerate()
            .filter(move |(i, _)| keep(*i))
            .map(move |(_, (p, y))| (p[c], y.contains(c)))
    }
}

/// Which validation rows a choice sees: all of them, or one half.
#[derive(Clone, Copy)]
enum Rows {
    All,
    Half(usize),
}

impl Rows {
    fn keeps(self, i: usize) -> bool {
        match self {
            Rows::All => true,
            Rows::Half(h) => i % 2 == h,
        }
    }
}

/// Class `c`'s threshold chosen on the `rows` of validation, with every
/// training row too when `pooled`; its validation description is left to the caller.
fn choose_class(train: Scored, valid: Scored, rows: Rows, pooled: bool, c: usize) -> Threshold {
    let mut scored: Vec<(f32, bool)> = valid.column(c, |i| rows.keeps(i)).collect();
    if pooled {
        scored.extend(train.column(c, |_| true));
    }
    choose_one(&mut scored)
}

/// Thresholds of every class from `source`, chosen on the `rows` of
/// validation (and all of training when the source pools it).
fn choose_rows(
    source: ThresholdSource,
    train: Scored,
    valid: Scored,
    rows: Rows,
    n_classes: usize,
) -> Vec<Threshold> {
    let pooled = source == ThresholdSource::TrainingAndValidation;
    (0..n_classes)
        .map(|c| {
            let mut t = choose_class(train, valid, rows, pooled, c);
            t.source = source;
            t
        })
        .collect()
}

/// Per-class thresholds chosen (as [`choose`]) on `source`; each threshold's
/// `validation_f1` and `validation_positives` still describe validation.
pub fn choose_from(
    source: ThresholdSource,
    train: Scored,
    valid: Scored,
    n_classes: usize,
) -> Result<Vec<Threshold>> {
    valid.check("validation split")?;
    train.check("training split")?;
    Ok(match source {
        ThresholdSource::Validation => choose_checked(valid.probs, valid.truth, n_classes),
        ThresholdSource::TrainingAndValidation => {
            choose_rows(source, train, valid, Rows::All, n_classes)
                .into_iter()
                .enumerate()
                .map(|(c, t)| Threshold {
                    validation_f1: class_f1(valid, Rows::All, c, t.value),
                    validation_positives: valid.column(c, |_| true).filter(|(_, y)| *y).count(),
                    ..t
                })
                .collect()
        }
    })
}

/// F1 of class `c` on `split` at threshold `t` (0 with no positive and no
/// prediction, scikit-learn's zero_division=0).
fn class_f1(split: Scored, rows: Rows, c: usize, t: f32) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (p, y) in split.column(c, |i| rows.keeps(i)) {
        match (y, p >= t) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    let den = 2 * tp + fp + fn_;
    if den == 0 {
        0.0
    } else {
        2.0 * tp as f64 / den as f64
    }
}

/// Which [`ThresholdSource`] to use, decided on validation alone by two-fold
/// cross-checking: validation is halved (even and odd rows), thresholds are
/// chosen from each source with one half, macro-F1 is measured on the other
/// half, and the two directions are averaged. Returns the better source
/// (validation on a tie: the rule the paper and most tools use) and each
/// source's held-out macro-F1, in [`ThresholdSource::ALL`]'s order.
pub fn pick_source(
    train: Scored,
    valid: Scored,
    n_classes: usize,
) -> Result<(ThresholdSource, [f64; 2])> {
    valid.check("validation split")?;
    train.check("training split")?;
    let mut scores = [0.0; 2];
    for (k, source) in ThresholdSource::ALL.into_iter().enumerate() {
        for (fit, held) in [(0, 1), (1, 0)] {
            let t = choose_rows(source, train, valid, Rows::Half(fit), n_classes);
            scores[k] += (0..n_classes)
                .map(|c| class_f1(valid, Rows::Half(held), c, t[c].value))
                .sum::<f64>()
                / n_classes.max(1) as f64
                / 2.0;
        }
    }
    let source = if scores[1] > scores[0] {
        ThresholdSource::TrainingAndValidation
    } else {
        ThresholdSource::Validation
    };
    Ok((source, scores))
}

/// The classes of one text: those whose probability reaches their threshold.
pub fn decide(probs: &[f32], thresholds: &[f32], none: WhenNonePasses) -> LabelSet {
    assert_eq!(probs.len(), thresholds.len(), "one threshold per class");
    let passed: Vec<usize> = (0..probs.len())
        .filter(|&c| probs[c] >= thresholds[c])
        .collect();
    if passed.is_empty() && none == WhenNonePasses::TopLabel && !probs.is_empty() {
        let top = (0..probs.len())
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]).then(b.cmp(&a)))
            .expect("at least one class");
        return LabelSet::new(vec![top]).expect("one class");
    }
    LabelSet::new(passed).expect("each class once")
}

/// The same threshold for every class.
pub fn uniform(value: f32, n_classes: usize) -> Vec<f32> {
    vec![value; n_classes]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Label;

    fn sets(v: &[&[usize]]) -> Vec<LabelSet> {
        v.iter()
            .map(|s| LabelSet::new(s.to_vec()).unwrap())
            .collect()
    }

    /// Every cut, scored by brute force: the chosen one must be as good as any.
    fn brute_best_f1(scores: &[f32], truth: &[bool]) -> f64 {
        let p = truth.iter().filter(|&&y| y).count();
        let mut cuts: Vec<f32> = scores.to_vec();
        cuts.push(f32::INFINITY);
        cuts.iter()
            .map(|&t| {
                let tp = scores
                    .iter()
                    .zip(truth)
                    .filter(|(s, y)| **s >= t && **y)
                    .count();
                let fp = scores
                    .iter()
                    .zip(truth)
                    .filter(|(s, y)| **s >= t && !**y)
                    .count();
                2.0 * tp as f64 / (2 * tp + fp + (p - tp)) as f64
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn a_threshold_maximises_its_class_f1_on_validation() {
        // Class 0: positives score 0.9, 0.4, 0.35; negatives 0.6, 0.3, 0.1.
        let p0 = [0.9f32, 0.4, 0.35, 0.6, 0.3, 0.1];
        let y0 = [true, true, true, false, false, false];
        let probs: Vec<Vec<f32>> = p0.iter().map(|&p| vec![p, 0.2]).collect();
        let truth = sets(&[&[0], &[0], &[0], &[], &[], &[1]]);
        let t = choose(&probs, &truth, 2).unwrap();
        // Accepting down to 0.35: tp 3, fp 1 → F1 6/7; the cut sits between 0.35 and 0.3.
        assert!((t[0].validation_f1 - 6.0 / 7.0).abs() < 1e-12, "{t:?}");
        assert!((t[0].value - 0.325).abs() < 1e-6, "{t:?}");
        assert_eq!(t[0].validation_positives, 3);
        assert_eq!(t[0].validation_f1, brute_best_f1(&p0, &y0));
        // Class 1: one positive at 0.2 among equal scores: accepting all of them
        // (F1 2/7) is the only way to find it.
        assert!((t[1].validation_f1 - 2.0 / 7.0).abs() < 1e-12, "{t:?}");
        assert!(t[1].value <= 0.2);
    }

    #[test]
    fn a_class_without_validation_positives_keeps_the_fixed_threshold() {
        let probs = vec![vec![0.7f32], vec![0.1]];
        let t = choose(&probs, &sets(&[&[], &[]]), 1).unwrap();
        assert_eq!(
            t[0],
            Threshold {
                value: FIXED,
                validation_f1: 0.0,
                validation_positives: 0,
                source: ThresholdSource::Validation,
            }
        );
    }

    #[test]
    fn ties_in_f1_go_to_the_cut_nearest_the_fixed_one() {
        // A perfect separation anywhere between 0.8 and 0.2: the cut is 0.5,
        // halfway, not at an extreme.
        let probs = vec![vec![0.8f32], vec![0.2]];
        let t = choose(&probs, &sets(&[&[0], &[]]), 1).unwrap();
        assert_eq!(t[0].validation_f1, 1.0);
        assert!((t[0].value - 0.5).abs() < 1e-6, "{t:?}");
    }

    /// Checks one class's chosen threshold against brute force: its F1 is the
    /// best any cut gives, the F1 it records is what it gives, and it admits
    /// exactly the texts scoring at or above the lowest score it was chosen to
    /// accept (so no text below that score slips in).
    fn check_against_brute_force(scores: &[f32], truth: &[bool]) {
        let probs: Vec<Vec<f32>> = scores.iter().map(|&s| vec![s]).collect();
        let sets: Vec<LabelSet> = truth
            .iter()
            .map(|&y| LabelSet::new(if y { vec![0] } else { vec![] }).unwrap())
            .collect();
        let t = choose(&probs, &sets, 1).unwrap()[0];
        let best = brute_best_f1(scores, truth);
        assert!(
            (t.validation_f1 - best).abs() < 1e-12,
            "{scores:?} {truth:?} {t:?}"
        );
        let p = truth.iter().filter(|&&y| y).count();
        let admitted = |s: f32, y: bool| s >= t.value && y;
        let tp = scores
            .iter()
            .zip(truth)
            .filter(|(s, y)| admitted(**s, **y))
            .count();
        let fp = scores
            .iter()
            .zip(truth)
            .filter(|(s, y)| admitted(**s, !**y))
            .count();
        let got = 2.0 * tp as f64 / (2 * tp + fp + (p - tp)) as f64;
        assert!(
            (got - t.validation_f1).abs() < 1e-12,
            "recorded F1 {} but the cut {} gives {got}: {scores:?} {truth:?}",
            t.validation_f1,
            t.value
        );
        // The cut is not any text's score unless nothing lies strictly between
        // that score and the next lower one.
        if let Some(&on) = scores.iter().find(|&&s| s == t.value) {
            let below = scores
                .iter()
                .filter(|&&s| s < on)
                .fold(f32::MIN, |a, &b| a.max(b));
            assert!(
                below == f32::MIN || below.next_up() == on || on == 0.0,
                "the cut {on} sits on a score with room below it ({below})"
            );
        }
    }

    #[test]
    fn chosen_thresholds_match_brute_force_on_random_data() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for round in 0..600 {
            let n = rng.gen_range(1..40);
            // Three kinds of scores: a coarse grid (many ties), continuous
            // values, and runs of adjacent f32 values (no number between them).
            let scores: Vec<f32> = match round % 3 {
                0 => (0..n)
                    .map(|_| (rng.gen_range(0..20) as f32) / 20.0)
                    .collect(),
                1 => (0..n).map(|_| rng.gen_range(0.0f32..1.0)).collect(),
                _ => {
                    let base: f32 = rng.gen_range(0.05f32..0.95);
                    (0..n)
                        .map(|_| {
                            let mut v = base;
                            for _ in 0..rng.gen_range(0..6) {
                                v = v.next_up();
                            }
                            v
                        })
                        .collect()
                }
            };
            let truth: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.3)).collect();
            if !truth.iter().any(|&y| y) {
                continue;
            }
            check_against_brute_force(&scores, &truth);
        }
    }

    #[test]
    fn a_cut_between_adjacent_f32_scores_admits_only_the_higher() {
        // For every such pair whose rounded midpoint lands on the lower score,
        // a halfway cut would admit the negative too (F1 1 recorded, 2/3 real).
        let mut landed_low = 0;
        let mut v = 0.3f32;
        for _ in 0..64 {
            let (low, high) = (v, v.next_up());
            if low / 2.0 + high / 2.0 == low {
                landed_low += 1;
            }
            check_against_brute_force(&[high, low], &[true, false]);
            let t = choose(&[vec![high], vec![low]], &sets(&[&[0], &[]]), 1).unwrap()[0];
            assert!(t.value > low && t.value <= high, "{low} {high} {t:?}");
            assert_eq!(t.validation_f1, 1.0);
            v = high;
        }
        assert!(landed_low > 0, "no pair exercised the rounding");
    }

    #[test]
    fn non_finite_probabilities_are_refused_naming_the_split() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let probs = vec![vec![0.9f32], vec![bad], vec![0.1]];
            let truth = sets(&[&[0], &[0], &[]]);
            let e = choose(&probs, &truth, 1).unwrap_err();
            let msg = format!("{e:#}");
            assert!(
                msg.contains("validation split") && msg.contains("text 1"),
                "{msg}"
            );
            assert!(e.chain().any(|c| c.is::<crate::error::InputError>()));
            let scored = Scored {
                probs: &probs,
                truth: &truth,
            };
            let fine = vec![vec![0.5f32]; 3];
            let ok = Scored {
                probs: &fine,
                truth: &truth,
            };
            let e = pick_source(scored, ok, 1).unwrap_err();
            assert!(format!("{e:#}").contains("training split"), "{e:#}");
            let e = choose_from(ThresholdSource::Validation, ok, scored, 1).unwrap_err();
            assert!(format!("{e:#}").contains("validation split"), "{e:#}");
        }
        // And the scan itself cannot stall on one (the loop advances by
        // total order), whatever reaches it.
        let mut scored = vec![(f32::NAN, true), (0.5, false), (f32::NAN, false)];
        let t = choose_one(&mut scored);
        assert_eq!(t.validation_positives, 1);
    }

    #[test]
    fn decisions_take_every_class_that_passes_or_none() {
        let th = [0.5f32, 0.3, 0.9];
        assert_eq!(
            decide(&[0.6, 0.31, 0.2], &th, WhenNonePasses::NoEmotion).classes(),
            &[0, 1]
        );
        assert!(decide(&[0.1, 0.2, 0.8], &th, WhenNonePasses::NoEmotion).is_empty());
        assert_eq!(
            decide(&[0.1, 0.2, 0.8], &th, WhenNonePasses::TopLabel).classes(),
            &[2]
        );
        // A probability equal to its threshold passes.
        assert_eq!(
            decide(&[0.5, 0.0, 0.0], &th, WhenNonePasses::NoEmotion).classes(),
            &[0]
        );
        assert_eq!(uniform(PAPER, 2), [0.3, 0.3]);
    }

    #[test]
    fn pooled_thresholds_use_training_positives_and_still_describe_validation() {
        // Validation has one positive of class 0, at 0.9 (its own best cut is
        // just below 0.9); training shows positives spread down to 0.35 with
        // negatives below 0.3, so the pooled cut falls between 0.3 and 0.35.
        let train_probs: Vec<Vec<f32>> = [0.35, 0.5, 0.7, 0.1, 0.2, 0.3]
            .iter()
            .map(|&p| vec![p])
            .collect();
        let train_truth = sets(&[&[0], &[0], &[0], &[], &[], &[]]);
        let valid_probs: Vec<Vec<f32>> = [0.9, 0.4, 0.05].iter().map(|&p| vec![p]).collect();
        let valid_truth = sets(&[&[0], &[], &[]]);
        let train = Scored {
            probs: &train_probs,
            truth: &train_truth,
        };
        let valid = Scored {
            probs: &valid_probs,
            truth: &valid_truth,
        };
        let v = choose_from(ThresholdSource::Validation, train, valid, 1).unwrap()[0];
        assert!(v.value > 0.4 && v.value < 0.9, "{v:?}");
        let p = choose_from(ThresholdSource::TrainingAndValidation, train, valid, 1).unwrap()[0];
        assert!(p.value > 0.3 && p.value <= 0.35, "{p:?}");
        // Described on validation: 0.4 is a false positive there at the pooled cut.
        assert_eq!(p.validation_positives, 1);
        assert!((p.validation_f1 - 2.0 / 3.0).abs() < 1e-12, "{p:?}");
    }

    #[test]
    fn the_source_is_picked_by_held_out_validation_halves() {
        // Validation halves disagree wildly (few positives); training is large
        // and consistent with both: the pooled source must win the cross-check.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        use rand::{Rng, SeedableRng};
        let mut make = |n: usize| -> (Vec<Vec<f32>>, Vec<LabelSet>) {
            (0..n)
                .map(|_| {
                    let pos = rng.gen_bool(0.05);
                    let p = if pos {
                        rng.gen_range(0.3..1.0)
                    } else {
                        rng.gen_range(0.0..0.6)
                    };
                    (
                        vec![p as f32],
                        LabelSet::new(if pos { vec![0] } else { vec![] }).unwrap(),
                    )
                })
                .unzip()
        };
        let (tp, tt) = make(5000);
        let (vp, vt) = make(120);
        let train = Scored {
            probs: &tp,
            truth: &tt,
        };
        let valid = Scored {
            probs: &vp,
            truth: &vt,
        };
        let (source, scores) = pick_source(train, valid, 1).unwrap();
        assert_eq!(source, ThresholdSource::TrainingAndValidation, "{scores:?}");
        // Training that disagrees with validation (labels flipped) loses.
        let flipped: Vec<LabelSet> = tt
            .iter()
            .map(|s| LabelSet::new(if s.is_empty() { vec![0] } else { vec![] }).unwrap())
            .collect();
        let bad = Scored {
            probs: &tp,
            truth: &flipped,
        };
        assert_eq!(
            pick_source(bad, valid, 1).unwrap().0,
            ThresholdSource::Validation
        );
    }
}
