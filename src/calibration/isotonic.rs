//! Isotonic calibration (Zadrozny & Elkan 2002): the non-decreasing step map
//! from one label's score to the fraction of validation texts at that score
//! that carry the label, fitted by pool-adjacent-violators and read between
//! its knots by linear interpolation — scikit-learn's `IsotonicRegression(
//! out_of_bounds="clip")`, which `CalibratedClassifierCV(method="isotonic")`
//! fits per class. It assumes nothing about the shape of the miscalibration
//! (Platt and temperature assume a sigmoid), so it needs more validation data:
//! with a handful of positives its steps are coarse, which is why it is an
//! option and not the default.

use serde::{Deserialize, Serialize};

/// The fitted map: knots `x` (increasing scores) and their values `y`
/// (non-decreasing probabilities); a score outside `[x₀, x_last]` is clipped
/// to the nearest end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isotonic {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

/// Fits the map to `scores` and whether each text carried the label.
pub fn fit(scores: &[f64], outcome: &[bool]) -> Isotonic {
    assert_eq!(scores.len(), outcome.len(), "one outcome per score");
    if scores.is_empty() {
        return Isotonic {
            x: vec![0.0],
            y: vec![0.5],
        };
    }
    // Sorted by score, then outcome (numpy's lexsort((y, X))).
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        scores[a]
            .total_cmp(&scores[b])
            .then(outcome[a].cmp(&outcome[b]))
    });
    // Equal scores (within f64's resolution, as scikit-learn groups them)
    // become one point with their mean outcome and their count as weight.
    let eps = 1e-15;
    let (mut xs, mut ys, mut ws) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cx, mut cy, mut cw) = (scores[order[0]], 0.0, 0.0);
    for &i in &order {
        let x = scores[i];
        if x - cx >= eps {
            xs.push(cx);
            ys.push(cy / cw);
            ws.push(cw);
            (cx, cy, cw) = (x, 0.0, 0.0);
        }
        cy += f64::from(u8::from(outcome[i]));
        cw += 1.0;
    }
    xs.push(cx);
    ys.push(cy / cw);
    ws.push(cw);
    let ys = pool_adjacent_violators(&ys, &ws);
    // Keep the ends and every point whose value differs from a neighbour's:
    // the interpolation is the same, with fewer knots.
    let n = ys.len();
    let keep = |i: usize| i == 0 || i + 1 == n || ys[i] != ys[i - 1] || ys[i] != ys[i + 1];
    let (x, y) = (0..n).filter(|&i| keep(i)).map(|i| (xs[i], ys[i])).unzip();
    Isotonic { x, y }
}

/// The weighted least-squares non-decreasing fit to `y`.
fn pool_adjacent_violators(y: &[f64], w: &[f64]) -> Vec<f64> {
    // Blocks of (mean, weight, length), merged while a block's mean is not
    // above the one before it.
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(y.len());
    for (&v, &wt) in y.iter().zip(w) {
        blocks.push((v, wt, 1));
        while blocks.len() > 1 {
            let (m2, w2, l2) = blocks[blocks.len() - 1];
            let (m1, w1, l1) = blocks[blocks.len() - 2];
            if m1 < m2 {
                break;
            }
            blocks.pop();
            let w = w1 + w2;
            *blocks.last_mut().expect("two blocks") = ((m1 * w1 + m2 * w2) / w, w, l1 + l2);
        }
    }
    blocks
        .into_iter()
        .flat_map(|(m, _, l)| std::iter::repeat_n(m, l))
        .collect()
}

impl Isotonic {
    /// The probability the map gives score `f`.
    pub fn probability(&self, f: f64) -> f64 {
        let (x, y) = (&self.x, &self.y);
        let last = x.len() - 1;
        if x.len() == 1 || f <= x[0] {
            return y[0];
        }
        if f >= x[last] {
            return y[last];
        }
        // The knot interval holding f: x[j-1] < f <= x[j].
        let j = x.partition_point(|&k| k < f);
        let t = (f - x[j - 1]) / (x[j] - x[j - 1]);
        y[j - 1] + t * (y[j] - y[j - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_is_non_decreasing_and_pools_violations() {
        // Scores 1..6, outcomes 0 1 0 1 1 1: the dip at 3 is pooled with 2.
        let s = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let o = [false, true, false, true, true, true];
        let m = fit(&s, &o);
        assert_eq!(m.probability(1.0), 0.0);
        assert_eq!(m.probability(2.0), 0.5);
        assert_eq!(m.probability(3.0), 0.5);
        assert_eq!(m.probability(4.0), 1.0);
        assert_eq!(m.probability(100.0), 1.0, "clipped above");
        assert_eq!(m.probability(-5.0), 0.0, "clipped below");
        assert!((m.probability(1.5) - 0.25).abs() < 1e-12, "interpolated");
        let mut last = f64::NEG_INFINITY;
        for i in 0..200 {
            let p = m.probability(i as f64 * 0.05);
            assert!(p >= last);
            last = p;
        }
    }

    #[test]
    fn tied_scores_become_their_mean() {
        let m = fit(&[0.0, 0.0, 0.0, 1.0], &[true, false, false, true]);
        assert!((m.probability(0.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.probability(1.0), 1.0);
    }
}
