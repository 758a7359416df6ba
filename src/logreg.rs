//! Multinomial L2 logistic regression fitted to convergence: the baseline a
//! practitioner runs (scikit-learn's `LogisticRegression(C=…)`, lbfgs, with or
//! without `class_weight='balanced'`), so every report shows whether rebalancing
//! beats it.
//!
//! It minimises scikit-learn's objective, C·Σᵢ sᵢ·CE(xᵢ, yᵢ) + ½‖W‖² (the bias is
//! not penalised), written divided by C·Σsᵢ so that the gradient's size does not
//! grow with the data, by full-batch L-BFGS with a backtracking line search. The
//! objective is strictly convex in W, so "converged" means the same head
//! scikit-learn finds: a fixture test holds the two together.
//!
//! The multi-label baseline is the same model one class at a time: scikit-learn's
//! `OneVsRestClassifier(LogisticRegression(C=…))`, each column of the label
//! indicator its own binary problem, C·Σᵢ sᵢ·BCE(xᵢ·w + b, yᵢ) + ½‖w‖² ([`fit_ovr`]),
//! minimised by the same L-BFGS with the same stopping rules and held to
//! scikit-learn by its own fixture.

use anyhow::{bail, Result};
use serde::Serialize;
use std::collections::VecDeque;
use tch::{Kind, Tensor};

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub struct Stopping {
    /// Converged when the largest gradient entry of the scaled objective is below this.
    pub gradient_tolerance: f64,
    pub max_iterations: usize,
}

/// How the fit ended, recorded in reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Convergence {
    pub iterations: usize,
    /// Largest |gradient entry| of the scaled objective at the end.
    pub gradient_max: f64,
    pub converged: bool,
    /// The scaled objective at the end.
    pub objective: f64,
}

/// Problem data: features `[n, d]` f32, labels `[n]` i64, optional per-row weights.
pub struct Problem<'a> {
    pub x: &'a Tensor,
    pub y: &'a Tensor,
    pub n_classes: usize,
    /// Per-row sample weights (`class_weight='balanced'` gives n/(K·n_y)); `None`: all 1.
    pub sample_weight: Option<&'a Tensor>,
    /// Inverse L2 strength, as scikit-learn's C.
    pub c: f64,
}

/// What [`minimise`] needs of an objective: its scaled value and gradient in
/// f64, a preconditioner, and the switch from f32 to f64 products.
trait Smooth {
    /// The scaled objective and its gradient at θ.
    fn value_and_gradient(&self, theta: &Tensor) -> (f64, Tensor);
    /// An approximate inverse Hessian applied to a parameter-shaped vector: the
    /// initial one of L-BFGS's two-loop recursion.
    fn precondition(&self, v: &Tensor) -> Tensor;
    /// Whether the products with the features still run in f32.
    fn fast(&self) -> bool;
    /// From here on, the products in f64 too.
    fn polish(&mut self);
    /// Polishes, then the objective and gradient at θ in f64: the values the
    /// line search compares must all come from one precision.
    fn polished_at(&mut self, theta: &Tensor) -> (f64, Tensor) {
        self.polish();
        tch::no_grad(|| self.value_and_gradient(theta))
    }
}

/// The problem as the solver uses it. The softmax, the objective, the
/// parameters and the L-BFGS pairs are always f64; the two matrix products with
/// the features, which are the cost, start in f32 and move to f64 for the last
/// digits ([`Objective::polish`]). All in f32, the objective's last digits are noise
/// by the time the gradient is small: the line search stalled on them and the
/// fixture fit had not reached a gradient of 1e-6 after 279 iterations. All in
/// f64, the GoEmotions fits took twice as long.
struct Objective {
    /// The features minus their mean: W·x + b = W·(x − μ) + (b + W·μ) and b is not
    /// penalised, so centring leaves the optimum's W unchanged while removing the
    /// common direction of sentence embeddings, the worst-conditioned one (measured
    /// on GoEmotions: fewer than half the iterations). f32, then f64 once polished.
    x: Tensor,
    /// μ, `[d]`.
    mean: Tensor,
    y: Tensor,
    /// `[n, 1]` row weights divided by their sum.
    row: Tensor,
    /// `[n, 1]` of −1, for the one-hot subtraction.
    minus_one: Tensor,
    /// 1/(C·Σs): the L2 strength after dividing the objective by C·Σs.
    reg: f64,
    n_classes: i64,
    /// `[d, d]`: (S + δI)⁻¹ with S the row-weighted covariance of the centred
    /// features. The Hessian of the W part is about κ·S + reg·I for each class
    /// (κ ≈ p(1−p)), so this is the inverse of its shape, and L-BFGS started
    /// from it needs far fewer steps on anisotropic sentence embeddings: the
    /// optimum is the same, only the path changes.
    precond: Tensor,
}

impl Objective {
    fn new(p: &Problem) -> Objective {
        let n = p.x.size()[0];
        let device = p.x.device();
        let s = match p.sample_weight {
            Some(sw) => sw.to_kind(Kind::Double),
            None => Tensor::ones([n], (Kind::Double, device)),
        };
        let total = s.sum(Kind::Double).double_value(&[]);
        let x = p.x.to_kind(Kind::Double);
        let mean = x.mean_dim([0].as_slice(), false, Kind::Double);
        let x = x - &mean;
        let row = (s / total).unsqueeze(1);
        let d = x.size()[1];
        let cov = (&x * &row).tr().mm(&x);
        let reg = 1.0 / (p.c * total);
        // δ: the penalty seen through κ ≈ 1/K, and a floor against a singular S.
        let trace = cov.trace().double_value(&[]);
        let delta = reg * p.n_classes as f64 + 1e-9 * trace / d as f64;
        let precond = (cov + Tensor::eye(d, (Kind::Double, device)) * delta).inverse();
        Objective {
            x: x.to_kind(Kind::Float),
            mean,
            precond,
            y: p.y.unsqueeze(1),
            row,
            minus_one: Tensor::full([n, 1], -1.0, (Kind::Double, device)),
            reg,
            n_classes: p.n_classes as i64,
        }
    }
}

impl Smooth for Objective {
    fn fast(&self) -> bool {
        self.x.kind() == Kind::Float
    }

    fn polish(&mut self) {
        self.x = self.x.to_kind(Kind::Double);
    }

    /// The scaled objective and its gradient at θ = [W (C×d, row-major), b (C)].
    fn value_and_gradient(&self, theta: &Tensor) -> (f64, Tensor) {
        let (c, d) = (self.n_classes, self.x.size()[1]);
        let w = theta.narrow(0, 0, c * d).view([c, d]);
        let b = theta.narrow(0, c * d, c);
        let kind = self.x.kind();
        let logits = self.x.mm(&w.to_kind(kind).tr()).to_kind(Kind::Double) + b;
        let logp = logits.log_softmax(1, Kind::Double);
        let ce = -(logp.gather(1, &self.y, false) * &self.row)
            .sum(Kind::Double)
            .double_value(&[]);
        let w2 = w.square().sum(Kind::Double).double_value(&[]);
        // d/dlogits = rowᵢ·(softmax − one_hot(y)).
        let mut g = logp.exp();
        let _ = g.scatter_add_(1, &self.y, &self.minus_one);
        let _ = g.g_mul_(&self.row);
        let gw = g.to_kind(kind).tr().mm(&self.x).to_kind(Kind::Double) + &w * self.reg;
        let gb = g.sum_dim_intlist([0].as_slice(), false, Kind::Double);
        (
            ce + 0.5 * self.reg * w2,
            Tensor::cat(&[gw.flatten(0, -1), gb], 0),
        )
    }

    /// The W part times (S + δI)⁻¹, the bias part as it is.
    fn precondition(&self, v: &Tensor) -> Tensor {
        let (c, d) = (self.n_classes, self.x.size()[1]);
        let w = v.narrow(0, 0, c * d).view([c, d]).mm(&self.precond);
        Tensor::cat(&[w.flatten(0, -1), v.narrow(0, c * d, c)], 0)
    }
}

impl Objective {
    /// (W, b) of the original features → θ in centred coordinates.
    fn theta_of(&self, w: &Tensor, b: &Tensor) -> Tensor {
        let w = w.to_kind(Kind::Double);
        let b = b.to_kind(Kind::Double) + w.mv(&self.mean);
        Tensor::cat(&[w.flatten(0, -1), b], 0)
    }

    /// θ in centred coordinates → (W, b) of the original features, f32.
    fn head_of(&self, theta: &Tensor) -> (Tensor, Tensor) {
        let (c, d) = (self.n_classes, self.x.size()[1]);
        let w = theta.narrow(0, 0, c * d).view([c, d]);
        let b = theta.narrow(0, c * d, c) - w.mv(&self.mean);
        (w.to_kind(Kind::Float), b.to_kind(Kind::Float))
    }
}

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    a.dot(b).double_value(&[])
}

fn max_abs(t: &Tensor) -> f64 {
    t.abs().max().double_value(&[])
}

/// Fits W `[C, d]` and b `[C]`, starting from `start` (a warm start from a
/// neighbouring C saves most of the iterations) or zeros.
pub fn fit(
    p: &Problem,
    stopping: Stopping,
    start: Option<(&Tensor, &Tensor)>,
) -> Result<(Tensor, Tensor, Convergence)> {
    check_c(p.c)?;
    let (c, d) = (p.n_classes as i64, p.x.size()[1]);
    let device = p.x.device();
    let mut objective = Objective::new(p);
    let theta = match start {
        Some((w, b)) => objective.theta_of(w, b),
        None => Tensor::zeros([c * d + c], (Kind::Double, device)),
    };
    let (theta, convergence) = minimise(&mut objective, theta, stopping);
    let (w, b) = objective.head_of(&theta);
    Ok((w, b, convergence))
}

fn check_c(c: f64) -> Result<()> {
    if c <= 0.0 || !c.is_finite() {
        bail!("logistic regression: C must be positive, got {c}");
    }
    Ok(())
}

/// Full-batch preconditioned L-BFGS from θ, shared by the multinomial and the
/// binary fits so that both stop by the same rules.
fn minimise(
    objective: &mut impl Smooth,
    theta: Tensor,
    stopping: Stopping,
) -> (Tensor, Convergence) {
    let mut theta = theta;
    // Below this gradient, f32 products are too coarse for the line search.
    const F32_UNTIL: f64 = 1e-5;
    const MEMORY: usize = 10;
    let mut history: VecDeque<(Tensor, Tensor, f64)> = VecDeque::with_capacity(MEMORY);
    let (mut f, mut g) = tch::no_grad(|| objective.value_and_gradient(&theta));
    let mut iterations = 0;
    let mut gmax = max_abs(&g);
    while gmax > stopping.gradient_tolerance && iterations < stopping.max_iterations {
        if objective.fast() && gmax <= F32_UNTIL {
            (f, g) = objective.polished_at(&theta);
            gmax = max_abs(&g);
            continue;
        }
        // Two-loop recursion: direction = −H·g.
        let mut q = g.copy();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            q -= y * a;
            alphas.push(a);
        }
        // The initial inverse Hessian: the preconditioner, scaled by the newest
        // pair (or, on the first step, to a move of unit size).
        let hq = objective.precondition(&q);
        q = match history.back() {
            Some((s, y, _)) => hq * (dot(s, y) / dot(y, &objective.precondition(y))),
            None => {
                let size = max_abs(&hq).max(1e-12);
                hq / size
            }
        };
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let beta = rho * dot(y, &q);
            q += s * (a - beta);
        }
        let direction = -q;
        let slope = dot(&g, &direction);
        if slope >= 0.0 {
            // Not a descent direction (rounding): restart from the gradient.
            history.clear();
            continue;
        }
        // Backtracking line search with Armijo's condition.
        let mut step = 1.0;
        let (mut f_new, mut g_new, mut theta_new);
        loop {
            theta_new = &theta + &direction * step;
            (f_new, g_new) = tch::no_grad(|| objective.value_and_gradient(&theta_new));
            if f_new <= f + 1e-4 * step * slope || step < 1e-10 {
                break;
            }
            step *= 0.5;
        }
        let s = &theta_new - &theta;
        let y = &g_new - &g;
        let sy = dot(&s, &y);
        // Keep a pair only with real curvature, judged relative to its size: the
        // objective is divided by C·n, so absolute values are tiny by design.
        if sy > 1e-10 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
            if history.len() == MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        let progress = f - f_new;
        theta = theta_new;
        f = f_new;
        g = g_new;
        gmax = max_abs(&g);
        iterations += 1;
        if step < 1e-10 || progress.abs() <= 1e-15 * f.abs().max(1.0) {
            if !objective.fast() {
                break; // at the limit of f64: no further progress possible
            }
            (f, g) = objective.polished_at(&theta);
            gmax = max_abs(&g);
        }
    }
    (
        theta,
        Convergence {
            iterations,
            gradient_max: gmax,
            converged: gmax <= stopping.gradient_tolerance,
            objective: f,
        },
    )
}

/// scikit-learn's `class_weight='balanced'`: n / (K · n_y) for each row.
pub fn balanced_sample_weights(counts: &[usize], y: &Tensor) -> Tensor {
    let n: usize = counts.iter().sum();
    let k = counts.iter().filter(|&&c| c > 0).count();
    let per_class: Vec<f32> = counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n as f32 / (k * c) as f32
            }
        })
        .collect();
    Tensor::from_slice(&per_class)
        .to(y.device())
        .index_select(0, y)
}

/// A multi-label problem for one-vs-rest: features `[n, d]` f32 and a `[n, C]`
/// indicator (0/1, f32), one binary logistic regression per column.
pub struct OvrProblem<'a> {
    pub x: &'a Tensor,
    pub y: &'a Tensor,
    /// scikit-learn's `class_weight='balanced'` inside each binary fit: a class's
    /// positives weigh n/(2·n_pos) and its negatives n/(2·n_neg), so both sides
    /// carry half the objective however rare the class.
    pub balanced: bool,
    /// Inverse L2 strength, as scikit-learn's C.
    pub c: f64,
}

/// What the C binary fits share, computed once: the centred features in both
/// precisions, their mean, and the unweighted second moment from which each
/// class's preconditioner is made.
struct Design {
    /// The features minus their (unweighted) mean, f32 for the fast products.
    x32: Tensor,
    /// The same in f64, for the polished products and the moments.
    x64: Tensor,
    /// μ, `[d]`.
    mean: Tensor,
    /// Σᵢ xᵢxᵢᵀ of the centred features, `[d, d]` f64.
    moment: Tensor,
}

impl Design {
    fn new(x: &Tensor) -> Design {
        let x = x.to_kind(Kind::Double);
        let mean = x.mean_dim([0].as_slice(), false, Kind::Double);
        let x64 = x - &mean;
        Design {
            x32: x64.to_kind(Kind::Float),
            moment: x64.tr().mm(&x64),
            x64,
            mean,
        }
    }
}

/// One class's binary objective, C·Σᵢ sᵢ·BCE(xᵢ·w + b, yᵢ) + ½‖w‖² divided by
/// C·Σs, over the shared [`Design`]: the multinomial [`Objective`]'s scaling,
/// centring, mixed precision and preconditioning, with one sigmoid instead of
/// a softmax.
struct Binary<'a> {
    design: &'a Design,
    polished: bool,
    /// `[n]` 0/1, f64.
    y: Tensor,
    /// `[n]` row weights divided by their sum.
    row: Tensor,
    /// 1/(C·Σs).
    reg: f64,
    /// `[d, d]`: (S + δI)⁻¹ with S the row-weighted covariance of the centred
    /// features. The Hessian of the w part is about κ·S + reg·I with κ = p(1−p),
    /// ¼ at the start, so δ = 4·reg.
    precond: Tensor,
}

impl<'a> Binary<'a> {
    /// `y`: the class's `[n]` column with `n_pos` ones; `weights`: the positive
    /// and the negative rows' weights.
    fn new(design: &'a Design, y: Tensor, n_pos: f64, weights: (f64, f64), c: f64) -> Binary<'a> {
        let (n, d) = (design.x64.size()[0], design.x64.size()[1]);
        let device = design.x64.device();
        let y = y.to_kind(Kind::Double);
        let (s_pos, s_neg) = weights;
        let total = s_pos * n_pos + s_neg * (n as f64 - n_pos);
        let row = (&y * s_pos + (1.0 - &y) * s_neg) / total;
        // Σ sᵢxᵢxᵢᵀ = s_neg·Σ_all + (s_pos − s_neg)·Σ_pos: only the positives'
        // moment is per class, and it is not needed when all rows weigh alike.
        let mut cov = &design.moment * (s_neg / total);
        if s_pos != s_neg {
            let pos = y.nonzero().squeeze_dim(1);
            let xp = design.x64.index_select(0, &pos);
            cov += xp.tr().mm(&xp) * ((s_pos - s_neg) / total);
        }
        let reg = 1.0 / (c * total);
        let trace = cov.trace().double_value(&[]);
        let delta = reg * 4.0 + 1e-9 * trace / d as f64;
        let precond = (cov + Tensor::eye(d, (Kind::Double, device)) * delta).inverse();
        Binary {
            design,
            polished: false,
            y,
            row,
            reg,
            precond,
        }
    }

    fn x(&self) -> &Tensor {
        if self.polished {
            &self.design.x64
        } else {
            &self.design.x32
        }
    }
}

impl Smooth for Binary<'_> {
    fn fast(&self) -> bool {
        !self.polished
    }

    fn polish(&mut self) {
        self.polished = true;
    }

    /// The scaled objective and its gradient at θ = [w (d), b].
    fn value_and_gradient(&self, theta: &Tensor) -> (f64, Tensor) {
        let x = self.x();
        let d = x.size()[1];
        let w = theta.narrow(0, 0, d);
        let b = theta.narrow(0, d, 1);
        let kind = x.kind();
        let z = x.mv(&w.to_kind(kind)).to_kind(Kind::Double) + b;
        // BCE(z, y) = softplus(z) − y·z, written so that no exp overflows.
        let bce = z.clamp_min(0.0) - &z * &self.y + (-z.abs()).exp().log1p();
        let ce = (bce * &self.row).sum(Kind::Double).double_value(&[]);
        let w2 = w.square().sum(Kind::Double).double_value(&[]);
        // d/dz = rowᵢ·(σ(zᵢ) − yᵢ).
        let g = (z.sigmoid() - &self.y) * &self.row;
        let gw = x.tr().mv(&g.to_kind(kind)).to_kind(Kind::Double) + &w * self.reg;
        let gb = g.sum(Kind::Double).view([1]);
        (ce + 0.5 * self.reg * w2, Tensor::cat(&[gw, gb], 0))
    }

    /// The w part times (S + δI)⁻¹, the bias as it is.
    fn precondition(&self, v: &Tensor) -> Tensor {
        let d = self.precond.size()[0];
        let w = self.precond.mv(&v.narrow(0, 0, d));
        Tensor::cat(&[w, v.narrow(0, d, 1)], 0)
    }
}

/// Fits one binary logistic regression per column of the indicator: W `[C, d]`,
/// b `[C]` and each class's [`Convergence`], starting from `start` (a warm start
/// from a neighbouring C) or zeros. The classes are fitted one after another,
/// each to its own convergence, exactly as OneVsRestClassifier fits them.
///
/// A class whose column is constant has no finite optimum (the unpenalised bias
/// runs off to ±∞); as scikit-learn's OneVsRestClassifier does, it becomes a
/// constant predictor: w = 0, b = −∞ (never present) or +∞ (always), so its
/// probability is exactly 0 or 1.
pub fn fit_ovr(
    p: &OvrProblem,
    stopping: Stopping,
    start: Option<(&Tensor, &Tensor)>,
) -> Result<(Tensor, Tensor, Vec<Convergence>)> {
    check_c(p.c)?;
    let (xs, ys) = (p.x.size(), p.y.size());
    if xs.len() != 2 || ys.len() != 2 || xs[0] != ys[0] {
        bail!("one-vs-rest logistic regression: features {xs:?} and indicator {ys:?} do not match");
    }
    let binary = tch::no_grad(|| p.y.eq(0.0).logical_or(&p.y.eq(1.0)).all());
    if !bool::try_from(binary)? {
        bail!("one-vs-rest logistic regression: the indicator holds values other than 0 and 1");
    }
    let (n, d, classes) = (xs[0], xs[1], ys[1]);
    let device = p.x.device();
    let design = tch::no_grad(|| Design::new(p.x));
    let (mut ws, mut bs, mut convergence) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..classes {
        let y = p.y.select(1, k);
        let n_pos = y.sum(Kind::Double).double_value(&[]);
        if n_pos == 0.0 || n_pos == n as f64 {
            let always = n_pos > 0.0;
            ws.push(Tensor::zeros([d], (Kind::Float, device)));
            bs.push(
                Tensor::from_slice(&[if always {
                    f32::INFINITY
                } else {
                    f32::NEG_INFINITY
                }])
                .to(device),
            );
            convergence.push(Convergence {
                iterations: 0,
                gradient_max: 0.0,
                converged: true,
                objective: 0.0,
            });
            continue;
        }
        let weights = if p.balanced {
            (
                n as f64 / (2.0 * n_pos),
                n as f64 / (2.0 * (n as f64 - n_pos)),
            )
        } else {
            (1.0, 1.0)
        };
        let mut objective = tch::no_grad(|| Binary::new(&design, y, n_pos, weights, p.c));
        let theta = match start {
            Some((w, b)) => {
                let w = w.select(0, k).to_kind(Kind::Double);
                let b = b.narrow(0, k, 1).to_kind(Kind::Double) + w.dot(&design.mean);
                Tensor::cat(&[w, b], 0)
            }
            None => Tensor::zeros([d + 1], (Kind::Double, device)),
        };
        let (theta, conv) = minimise(&mut objective, theta, stopping);
        let w = theta.narrow(0, 0, d);
        let b = theta.narrow(0, d, 1) - w.dot(&design.mean);
        ws.push(w.to_kind(Kind::Float));
        bs.push(b.to_kind(Kind::Float));
        convergence.push(conv);
    }
    if classes == 0 {
        let empty = Tensor::zeros([0, d], (Kind::Float, device));
        return Ok((
            empty,
            Tensor::zeros([0], (Kind::Float, device)),
            convergence,
        ));
    }
    Ok((Tensor::stack(&ws, 0), Tensor::cat(&bs, 0), convergence))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The gradient the fit follows is the objective's: central differences on
    /// a few coordinates, with weights and a bias, in f64.
    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (n, d, c) = (60usize, 5usize, 3usize);
        let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let y: Vec<i64> = (0..n).map(|i| (i % c) as i64).collect();
        let x = Tensor::from_slice(&x).view([n as i64, d as i64]);
        let y = Tensor::from_slice(&y);
        let sw = balanced_sample_weights(&[30, 20, 10], &y);
        let p = Problem {
            x: &x,
            y: &y,
            n_classes: c,
            sample_weight: Some(&sw),
            c: 0.7,
        };
        let theta = Tensor::from_slice(
            &(0..c * d + c)
                .map(|_| rng.gen_range(-0.5f32..0.5))
                .collect::<Vec<_>>(),
        );
        let mut objective = Objective::new(&p);
        objective.polish();
        let theta = theta.to_kind(Kind::Double);
        assert_gradient_is_derivative(&objective, &theta, [0usize, 4, 7, 14, 15, 17]);
    }

    /// Central differences of `objective` on the `coords` of θ (f64) against its
    /// analytic gradient.
    fn assert_gradient_is_derivative(
        objective: &impl Smooth,
        theta: &Tensor,
        coords: impl IntoIterator<Item = usize>,
    ) {
        let (_, g) = objective.value_and_gradient(theta);
        for i in coords {
            let h = 1e-4;
            let mut plus = Vec::<f64>::try_from(theta).unwrap();
            let mut minus = plus.clone();
            plus[i] += h;
            minus[i] -= h;
            let (fp, _) = objective.value_and_gradient(&Tensor::from_slice(&plus));
            let (fm, _) = objective.value_and_gradient(&Tensor::from_slice(&minus));
            let numeric = (fp - fm) / (2.0 * h);
            let analytic = g.double_value(&[i as i64]);
            assert!(
                (numeric - analytic).abs() < 1e-8,
                "coordinate {i}: numeric {numeric}, analytic {analytic}"
            );
        }
    }

    #[test]
    fn balanced_weights_are_scikit_learns() {
        let y = Tensor::from_slice(&[0i64, 0, 0, 1]);
        let w = Vec::<f32>::try_from(balanced_sample_weights(&[3, 1], &y)).unwrap();
        assert_eq!(w, vec![4.0 / 6.0, 4.0 / 6.0, 4.0 / 6.0, 2.0]);
    }

    /// The binary objective's gradient, balanced weights included, is its
    /// derivative: central differences on w and b coordinates, in f64.
    #[test]
    fn binary_gradient_matches_finite_differences() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (n, d) = (80usize, 5usize);
        let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let x = Tensor::from_slice(&x).view([n as i64, d as i64]);
        let y: Vec<f32> = (0..n).map(|i| (i % 7 == 0) as u8 as f32).collect();
        let n_pos = y.iter().sum::<f32>() as f64;
        let design = Design::new(&x);
        let weights = (
            n as f64 / (2.0 * n_pos),
            n as f64 / (2.0 * (n as f64 - n_pos)),
        );
        let mut objective = Binary::new(&design, Tensor::from_slice(&y), n_pos, weights, 0.7);
        objective.polish();
        let theta = Tensor::from_slice(
            &(0..=d)
                .map(|_| rng.gen_range(-0.5f64..0.5))
                .collect::<Vec<_>>(),
        );
        assert_gradient_is_derivative(&objective, &theta, 0..=d);
    }

    /// A label that no training text (or every one) carries gets scikit-learn's
    /// constant predictor, and the other labels are fitted as usual.
    #[test]
    fn constant_labels_become_constant_predictors() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let (n, d) = (40usize, 3usize);
        let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let x = Tensor::from_slice(&x).view([n as i64, d as i64]);
        let y: Vec<f32> = (0..n)
            .flat_map(|i| [0.0, (i % 3 == 0) as u8 as f32, 1.0])
            .collect();
        let y = Tensor::from_slice(&y).view([n as i64, 3]);
        let stopping = Stopping {
            gradient_tolerance: 1e-6,
            max_iterations: 1000,
        };
        for balanced in [false, true] {
            let p = OvrProblem {
                x: &x,
                y: &y,
                balanced,
                c: 1.0,
            };
            let (w, b, conv) = fit_ovr(&p, stopping, None).unwrap();
            let b = Vec::<f32>::try_from(&b).unwrap();
            assert_eq!(b[0], f32::NEG_INFINITY);
            assert_eq!(b[2], f32::INFINITY);
            assert!(b[1].is_finite());
            for j in [0, 2] {
                assert_eq!(w.get(j).abs().max().double_value(&[]), 0.0);
                assert_eq!(conv[j as usize].iterations, 0);
            }
            assert!(conv.iter().all(|c| c.converged), "{conv:?}");
            assert!(conv[1].iterations > 0);
        }
    }

    #[test]
    fn one_vs_rest_refuses_what_is_not_an_indicator() {
        let x = Tensor::zeros([4, 2], (Kind::Float, tch::Device::Cpu));
        let stopping = Stopping {
            gradient_tolerance: 1e-6,
            max_iterations: 10,
        };
        let fit = |y: &Tensor, c: f64| {
            let p = OvrProblem {
                x: &x,
                y,
                balanced: false,
                c,
            };
            fit_ovr(&p, stopping, None)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let half = Tensor::from_slice(&[0.0f32, 1.0, 0.5, 1.0]).view([4, 1]);
        assert!(fit(&half, 1.0).contains("other than 0 and 1"));
        let short = Tensor::zeros([3, 1], (Kind::Float, tch::Device::Cpu));
        assert!(fit(&short, 1.0).contains("do not match"));
        let fine = Tensor::from_slice(&[0.0f32, 1.0, 0.0, 1.0]).view([4, 1]);
        assert!(fit(&fine, 0.0).contains("C must be positive"));
    }
}
