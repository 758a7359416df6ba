//! Bias-corrected temperature scaling (BCTS; Alexandari, Kundaje & Shrikumar
//! 2020): softmax(z / T + b), one temperature and one offset per class, fitted
//! on validation by log loss. Plain temperature scaling keeps a head's class
//! biases; a class-balanced head is then calibrated for a uniform mix, not for
//! the mix of the data it is judged on, and expectation-maximisation of a
//! corpus's mix (SLD), which re-weights posteriors by the ratio of two mixes,
//! goes astray. The offsets put the posteriors on validation's mix, which SLD
//! then takes as its starting point. It can change which class is most
//! probable, so emo uses it for quantification only, never for labels.
//!
//! The loss is convex in (1/T, b); Newton's method with a halving line search
//! reaches its minimum, where abstention's L-BFGS (what QuaPy's EMQ calls)
//! stops within its tolerance (tests/quantify_quapy.rs).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasTemperature {
    pub t: f64,
    pub b: Vec<f64>,
}

/// Mean log loss of softmax(β z + b) against `labels`.
fn loss(logits: &[f64], c: usize, labels: &[usize], beta: f64, b: &[f64]) -> f64 {
    let n = labels.len().max(1) as f64;
    logits
        .chunks_exact(c)
        .zip(labels)
        .map(|(z, &y)| {
            let s: Vec<f64> = z.iter().zip(b).map(|(z, b)| beta * z + b).collect();
            let max = s.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            let lse = max + s.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            lse - s[y]
        })
        .sum::<f64>()
        / n
}

/// Fits T and b to validation `logits` (`n × c`) and their classes.
pub fn fit(logits: &[f64], c: usize, labels: &[usize]) -> BiasTemperature {
    let n = labels.len();
    let mut beta = 1.0;
    let mut b = vec![0.0; c];
    if n == 0 {
        return BiasTemperature { t: 1.0, b };
    }
    let dim = c + 1;
    let mut current = loss(logits, c, labels, beta, &b);
    for _ in 0..200 {
        // Gradient and Hessian of the mean loss in θ = (β, b).
        let mut g = vec![0.0; dim];
        let mut h = vec![0.0; dim * dim];
        for (z, &y) in logits.chunks_exact(c).zip(labels) {
            let s: Vec<f64> = z.iter().zip(&b).map(|(z, b)| beta * z + b).collect();
            let max = s.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            let p: Vec<f64> = e.iter().map(|v| v / sum).collect();
            let ez: f64 = p.iter().zip(z).map(|(p, z)| p * z).sum();
            let ez2: f64 = p.iter().zip(z).map(|(p, z)| p * z * z).sum();
            g[0] += ez - z[y];
            h[0] += ez2 - ez * ez;
            for k in 0..c {
                g[1 + k] += p[k] - f64::from(u8::from(k == y));
                let hbk = p[k] * z[k] - p[k] * ez;
                h[1 + k] += hbk;
                h[(1 + k) * dim] += hbk;
                for l in 0..c {
                    h[(1 + k) * dim + 1 + l] += f64::from(u8::from(k == l)) * p[k] - p[k] * p[l];
                }
            }
        }
        let nf = n as f64;
        g.iter_mut().for_each(|v| *v /= nf);
        h.iter_mut().for_each(|v| *v /= nf);
        // Adding one constant to every b changes nothing: a tiny ridge on b
        // picks the solution with the smallest offsets.
        for k in 1..dim {
            h[k * dim + k] += 1e-9;
        }
        let Some(step) = crate::linalg::solve(&h, &g, dim) else {
            break;
        };
        let mut scale = 1.0;
        let mut improved = false;
        for _ in 0..40 {
            let nb = beta - scale * step[0];
            let bb: Vec<f64> = b
                .iter()
                .zip(&step[1..])
                .map(|(b, s)| b - scale * s)
                .collect();
            let l = loss(logits, c, labels, nb, &bb);
            if nb > 0.0 && l <= current {
                let gain = current - l;
                beta = nb;
                b = bb;
                current = l;
                improved = gain > 1e-15;
                break;
            }
            scale /= 2.0;
        }
        let size = step.iter().map(|s| s.abs()).fold(0.0, f64::max) * scale;
        if !improved || size < 1e-12 {
            break;
        }
    }
    // The offsets are defined up to a constant: centred, for a stable record.
    let mean = b.iter().sum::<f64>() / c as f64;
    b.iter_mut().for_each(|v| *v -= mean);
    BiasTemperature { t: 1.0 / beta, b }
}

impl BiasTemperature {
    /// softmax(z / T + b) = softmax((z + T·b) / T), row by row: temperature
    /// scaling's softmax on offset logits.
    pub fn probabilities(&self, logits: &[f64], c: usize) -> Vec<f64> {
        let shifted: Vec<f64> = logits
            .iter()
            .enumerate()
            .map(|(i, z)| z + self.t * self.b[i % c])
            .collect();
        super::temperature::Temperature { t: self.t }.probabilities(&shifted, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_biased_toward_a_class_gets_the_bias_taken_out() {
        // Class 0's logit is inflated by 2 whatever the text: the fitted
        // offsets remove (most of) it, and the loss falls.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for i in 0..300 {
            let y = i % 3;
            let mut z = [0.0, 0.0, 0.0];
            z[y] += 1.5;
            z[(i / 3) % 3] += 0.5;
            z[0] += 2.0;
            logits.extend(z);
            labels.push(y);
        }
        let m = fit(&logits, 3, &labels);
        assert!(m.b[0] < m.b[1] - 1.0 && m.b[0] < m.b[2] - 1.0, "{m:?}");
        let before = loss(&logits, 3, &labels, 1.0, &[0.0; 3]);
        let after = loss(&logits, 3, &labels, 1.0 / m.t, &m.b);
        assert!(after < before - 0.1, "{before} -> {after}");
        // At the minimum the mean posterior of each class is its frequency.
        let p = m.probabilities(&logits, 3);
        for k in 0..3 {
            let mean: f64 = p.iter().skip(k).step_by(3).sum::<f64>() / 300.0;
            assert!((mean - 1.0 / 3.0).abs() < 1e-6, "class {k}: {mean}");
        }
    }
}
