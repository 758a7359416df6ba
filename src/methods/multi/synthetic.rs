//! Small synthetic multi-label problems for the unit tests of the methods: a
//! long tail of classes carried by 45% … 4% of the texts, none to several per
//! text, each text a unit-normalised sum of its classes' centres plus noise,
//! so that classes overlap and a head has something to get wrong.

use crate::data::LabelSet;
use crate::embed::Matrix;
use crate::features::Features;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::Device;

/// The share of texts carrying each class, most frequent first.
pub const RATES: [f64; 4] = [0.45, 0.25, 0.1, 0.04];
pub const DIM: usize = 12;
/// How far the class centres lie from the origin (per coordinate).
const SPREAD: f32 = 0.15;
/// The noise added to every coordinate.
const NOISE: f32 = 0.35;

pub struct Problem {
    pub train: Features<LabelSet>,
    pub valid: Features<LabelSet>,
    pub test: Features<LabelSet>,
}

fn gauss(rng: &mut ChaCha8Rng) -> f32 {
    let u: f32 = rng.gen_range(1e-7..1.0);
    let v: f32 = rng.gen_range(0.0..1.0);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
}

fn split(n: usize, rng: &mut ChaCha8Rng, centres: &[Vec<f32>]) -> Features<LabelSet> {
    let mut data = Vec::with_capacity(n * DIM);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let set: Vec<usize> = (0..RATES.len())
            .filter(|&c| rng.gen_bool(RATES[c]))
            .collect();
        let mut v: Vec<f32> = (0..DIM).map(|_| NOISE * gauss(rng)).collect();
        for &c in &set {
            v.iter_mut().zip(&centres[c]).for_each(|(x, m)| *x += m);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        data.extend(v);
        labels.push(LabelSet::new(set).unwrap());
    }
    let m = Matrix {
        rows: n,
        cols: DIM,
        data,
    };
    Features::new("synthetic", &m, &labels, RATES.len(), Device::Cpu).unwrap()
}

/// Training, validation and test splits of `n_train`, a third of that and
/// `n_train` texts, drawn from the same centres under `seed`.
pub fn problem(seed: u64, n_train: usize) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..RATES.len())
        .map(|_| (0..DIM).map(|_| SPREAD * gauss(&mut rng)).collect())
        .collect();
    Problem {
        train: split(n_train, &mut rng, &centres),
        valid: split(n_train / 3, &mut rng, &centres),
        test: split(n_train, &mut rng, &centres),
    }
}

/// The rows of a `[rows, cols]` tensor, f64.
pub fn rows_of(t: &tch::Tensor) -> Vec<Vec<f64>> {
    Vec::<Vec<f64>>::try_from(t.to_kind(tch::Kind::Double)).unwrap()
}
