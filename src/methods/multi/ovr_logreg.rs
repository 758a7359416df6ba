//! One-vs-rest logistic regression fitted to convergence (scikit-learn's
//! `OneVsRestClassifier(LogisticRegression(C))`, plain or balanced per class),
//! the baseline a practitioner runs first on multi-label data: C from the grid
//! by validation macro-F1 at each fit's own validation thresholds.
//! Deterministic, so one fit serves every seed.

use crate::data::LabelSet;
use crate::head::Head;
use crate::logreg::{fit_ovr, OvrProblem};
use crate::methods::{Context, Fitted, Method};
use anyhow::Result;
use serde_json::json;

pub struct OvrLogReg {
    pub balanced: bool,
}

impl Method<LabelSet> for OvrLogReg {
    fn stochastic(&self) -> bool {
        false
    }

    fn fit(&self, ctx: &Context<LabelSet>) -> Result<Fitted> {
        let cfg = ctx.config;
        let stopping = cfg.logreg_stopping();
        let mut curve = Vec::new();
        let mut best: Option<(f64, Fitted)> = None;
        let mut start: Option<(tch::Tensor, tch::Tensor)> = None;
        for c in cfg.logreg_c_path() {
            let problem = OvrProblem {
                x: &ctx.train.x,
                y: &ctx.train.y,
                balanced: self.balanced,
                c,
            };
            let (w, b, conv) = fit_ovr(&problem, stopping, start.as_ref().map(|(w, b)| (w, b)))?;
            let head = Head::Linear {
                weight: w.shallow_clone(),
                bias: b.shallow_clone(),
            };
            let (thresholds, score) = ctx.thresholds(&head)?;
            let record = json!({
                "C": c,
                "validation_macro_f1": score,
                "iterations": conv.iter().map(|k| k.iterations).max(),
                "converged": conv.iter().all(|k| k.converged),
            });
            curve.push(record.clone());
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((
                    score,
                    Fitted {
                        head,
                        thresholds,
                        chosen: record,
                    },
                ));
            }
            start = Some((w, b));
        }
        let (_, mut fitted) =
            best.ok_or_else(|| anyhow::anyhow!("ovr-logreg: the C grid is empty"))?;
        fitted.chosen["curve"] = serde_json::Value::Array(curve);
        Ok(fitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::multi::synthetic::{problem, rows_of};
    use crate::train::TrainConfig;

    /// An independent binary logistic regression, scikit-learn's objective
    /// C·Σᵢ sᵢ·BCE(xᵢ·w + b, yᵢ) + ½‖w‖² (the bias unpenalised) minimised by
    /// Newton's method in f64 on the raw features: (w, b).
    fn newton(x: &[Vec<f64>], y: &[bool], c: f64, balanced: bool) -> (Vec<f64>, f64) {
        let (n, d) = (x.len(), x[0].len());
        let pos = y.iter().filter(|&&v| v).count() as f64;
        let (s_pos, s_neg) = if balanced {
            (n as f64 / (2.0 * pos), n as f64 / (2.0 * (n as f64 - pos)))
        } else {
            (1.0, 1.0)
        };
        let mut theta = vec![0.0; d + 1];
        for _ in 0..100 {
            let mut g = vec![0.0; d + 1];
            let mut h = vec![vec![0.0; d + 1]; d + 1];
            for (xi, &yi) in x.iter().zip(y) {
                let z = theta[d] + xi.iter().zip(&theta).map(|(a, b)| a * b).sum::<f64>();
                let p = 1.0 / (1.0 + (-z).exp());
                let s = if yi { s_pos } else { s_neg };
                let r = c * s * (p - yi as u8 as f64);
                let k = c * s * p * (1.0 - p);
                let row: Vec<f64> = xi.iter().copied().chain([1.0]).collect();
                for a in 0..=d {
                    g[a] += r * row[a];
                    for b in 0..=d {
                        h[a][b] += k * row[a] * row[b];
                    }
                }
            }
            for a in 0..d {
                g[a] += theta[a];
                h[a][a] += 1.0;
            }
            let step = solve(h, g);
            theta.iter_mut().zip(&step).for_each(|(t, s)| *t -= s);
            if step.iter().all(|s| s.abs() < 1e-13) {
                break;
            }
        }
        let b = theta.pop().unwrap();
        (theta, b)
    }

    /// Solves `a·x = b` by Gaussian elimination with partial pivoting.
    fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
        let n = b.len();
        for col in 0..n {
            let piv = (col..n)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap();
            a.swap(col, piv);
            b.swap(col, piv);
            for r in col + 1..n {
                let f = a[r][col] / a[col][col];
                let pivot_row = a[col].clone();
                for (v, p) in a[r][col..].iter_mut().zip(&pivot_row[col..]) {
                    *v -= f * p;
                }
                b[r] -= f * b[col];
            }
        }
        let mut x = vec![0.0; n];
        for r in (0..n).rev() {
            let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
            x[r] = (b[r] - s) / a[r][r];
        }
        x
    }

    /// Each class's row of the head is the binary logistic regression of that
    /// class's column alone at the C the method chose (plain, or balanced
    /// within the class), fitted independently; the chosen C is the one whose
    /// validation macro-F1 leads the curve (the first of equals), and the fit
    /// does not depend on the seed.
    #[test]
    fn each_class_is_its_own_logistic_regression_at_the_chosen_c() {
        let p = problem(31, 600);
        let cfg = TrainConfig {
            logreg_c_grid: vec![10.0, 0.01, 1.0],
            logreg_tolerance: 1e-9,
            ..TrainConfig::default()
        };
        let x = rows_of(&p.train.x);
        for balanced in [false, true] {
            let method = OvrLogReg { balanced };
            assert!(!method.stochastic());
            let fitted = method
                .fit(&Context::new(&p.train, &p.valid, &cfg, 1))
                .unwrap();
            let curve = fitted.chosen["curve"].as_array().unwrap();
            let cs: Vec<f64> = curve.iter().map(|r| r["C"].as_f64().unwrap()).collect();
            assert_eq!(cs, [0.01, 1.0, 10.0], "the path, weakest C first");
            let scores: Vec<f64> = curve
                .iter()
                .map(|r| r["validation_macro_f1"].as_f64().unwrap())
                .collect();
            let best = scores.iter().cloned().fold(f64::MIN, f64::max);
            let c = cs[scores.iter().position(|&s| s == best).unwrap()];
            assert_eq!(fitted.chosen["C"], json!(c), "balanced {balanced}");
            assert_eq!(fitted.chosen["converged"], json!(true));

            let Head::Linear { weight, bias } = &fitted.head else {
                panic!("ovr-logreg gives a linear head");
            };
            let (w, b) = (
                rows_of(weight),
                Vec::<f64>::try_from(bias.to_kind(tch::Kind::Double)).unwrap(),
            );
            for (j, (row, &bj)) in w.iter().zip(&b).enumerate() {
                let y: Vec<bool> = p.train.labels.iter().map(|s| s.contains(j)).collect();
                let (want_w, want_b) = newton(&x, &y, c, balanced);
                let scale = want_w.iter().map(|v| v.abs()).fold(want_b.abs(), f64::max);
                for (got, want) in row.iter().chain([&bj]).zip(want_w.iter().chain([&want_b])) {
                    assert!(
                        (got - want).abs() < 1e-4 * scale,
                        "balanced {balanced}, C {c}, class {j}: {row:?} {bj} vs {want_w:?} {want_b}"
                    );
                }
            }

            let again = method
                .fit(&Context::new(&p.train, &p.valid, &cfg, 9))
                .unwrap();
            let Head::Linear { weight: w9, .. } = &again.head else {
                panic!("linear");
            };
            assert!(
                w9.equal(weight),
                "balanced {balanced}: the seed changed the fit"
            );
        }
    }
}
