//! emo's one-vs-rest logistic regression against scikit-learn's
//! `OneVsRestClassifier(LogisticRegression(C))` (lbfgs, tol 1e-10), plain and
//! `class_weight='balanced'`, on the long-tailed multi-label fixture made by
//! scripts/make_ovr_logreg_fixture.py: the same optimum, so every held-out
//! prediction at probability 0.5 is the same.

use crate::common;
use emo::logreg::{fit_ovr, OvrProblem, Stopping};
use serde_json::Value;
use tch::Tensor;

/// The fixture stores numbers as strings so that they are read back exactly.
fn number(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(number).collect()
}

/// A matrix of strings, each the shortest decimal of an f32.
fn floats32(v: &Value) -> Vec<f32> {
    common::matrix_cells(v, |x| x.as_str().unwrap().parse::<f32>().unwrap())
}

fn indicator(v: &Value) -> Vec<f32> {
    common::matrix_cells(v, |x| x.as_u64().unwrap() as f32)
}

#[test]
fn one_vs_rest_logistic_regression_equals_scikit_learn() {
    let fx: Value = common::fixture("sklearn_ovr_logreg.json");
    let (k, d) = (
        fx["n_classes"].as_u64().unwrap() as usize,
        fx["dim"].as_u64().unwrap() as usize,
    );
    let x = Tensor::from_slice(&floats32(&fx["x_train"])).view([-1, d as i64]);
    let y = Tensor::from_slice(&indicator(&fx["y_train"])).view([-1, k as i64]);
    let x_test = Tensor::from_slice(&floats32(&fx["x_test"])).view([-1, d as i64]);
    let fits = fx["fits"].as_array().unwrap();
    assert_eq!(fits.len(), 6);
    let mut predictions = 0;
    for f in fits {
        let c = f["C"].as_f64().unwrap();
        let balanced = f["balanced"].as_bool().unwrap();
        let what = format!("C={c} balanced={balanced}");
        let problem = OvrProblem {
            x: &x,
            y: &y,
            balanced,
            c,
        };
        // Tighter than scikit-learn got (its gradient norms reach 7e-8), so that
        // the tolerance below is mostly scikit-learn's distance to the optimum; not
        // 1e-9, where f64 runs out for the 5-positive class at C=10 (it stalls at
        // 2.5e-9, the objective no longer decreasing in its last digit).
        let stopping = Stopping {
            gradient_tolerance: 1e-8,
            max_iterations: 5000,
        };
        let (w, b, convergence) = fit_ovr(&problem, stopping, None).unwrap();
        assert_eq!(w.size(), [k as i64, d as i64]);
        assert_eq!(b.size(), [k as i64]);
        assert_eq!(convergence.len(), k);
        let coef: Vec<f64> = f["coef"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(numbers)
            .collect();
        let intercept = numbers(&f["intercept"]);
        let gradient_norm = numbers(&f["gradient_norm"]);
        let hessian_min = numbers(&f["hessian_min_eigenvalue"]);
        let ours_w = Vec::<f32>::try_from(w.flatten(0, -1)).unwrap();
        let ours_b = Vec::<f32>::try_from(&b).unwrap();
        // Each class's objective is strongly convex with curvature at least λ_min
        // of its Hessian, so a point whose gradient has norm ‖g‖ lies within about
        // ‖g‖/λ_min of the optimum. The fixture gives scikit-learn's ‖g‖ and λ_min
        // (up to 5.4e-5 on this data: its lbfgs stops on ftol before tol); ours is
        // at most √(d+1)·gradient_max over the same λ_min. Their
        // sum bounds each coefficient's and intercept's difference; the f32 that
        // emo returns adds a relative 6e-8, allowed for with 1e-6·max(1, |value|).
        // Decision values on unit-norm rows then differ by at most
        // ‖Δw‖·‖x‖ + |Δb| ≤ √2·bound.
        let mut tolerance = vec![0f64; k];
        let mut worst_coef = 0f64;
        for j in 0..k {
            let conv = &convergence[j];
            assert!(conv.converged, "{what} class {j}: {conv:?}");
            let ours = ((d + 1) as f64).sqrt() * conv.gradient_max;
            tolerance[j] = (gradient_norm[j] + ours) / hessian_min[j];
            let f32_slack = |v: f64| 1e-6 * v.abs().max(1.0);
            for i in 0..d {
                let (theirs, o) = (coef[j * d + i], ours_w[j * d + i] as f64);
                assert!(
                    (theirs - o).abs() <= tolerance[j] + f32_slack(theirs),
                    "{what} class {j}: coefficient {i} is {o}, scikit-learn's {theirs} \
                     (tolerance {:.1e})",
                    tolerance[j]
                );
            }
            for i in 0..d {
                worst_coef = worst_coef.max((coef[j * d + i] - ours_w[j * d + i] as f64).abs());
            }
            let (theirs, o) = (intercept[j], ours_b[j] as f64);
            assert!(
                (theirs - o).abs() <= tolerance[j] + f32_slack(theirs),
                "{what} class {j}: intercept {o}, scikit-learn's {theirs} (tolerance {:.1e})",
                tolerance[j]
            );
        }
        let decision = x_test.mm(&w.tr()).g_add(&b);
        let ours_decision = Vec::<f32>::try_from(decision.flatten(0, -1)).unwrap();
        let theirs_decision = floats32(&f["test_decision"]);
        let theirs_pred = indicator(&f["test_pred"]);
        assert_eq!(ours_decision.len(), theirs_pred.len());
        for (i, ((&o, &t), &p)) in ours_decision
            .iter()
            .zip(&theirs_decision)
            .zip(&theirs_pred)
            .enumerate()
        {
            let (row, j) = (i / k, i % k);
            let (o, t) = (o as f64, t as f64);
            // √2·bound, plus the f32 rounding of both sides' products and storage.
            let allowed = 2f64.sqrt() * tolerance[j] + 1e-6 * t.abs().max(1.0);
            assert!(
                (o - t).abs() <= allowed,
                "{what}: held-out row {row} class {j}: decision value {o}, scikit-learn's {t} \
                 (allowed {allowed:.1e})"
            );
            // σ(z) > 0.5 ⇔ z > 0: OneVsRestClassifier.predict's threshold.
            let ours_pred = if o > 0.0 { 1.0 } else { 0.0 };
            assert_eq!(
                ours_pred, p,
                "{what}: held-out row {row} class {j}: predicted {ours_pred}, scikit-learn {p} \
                 (decision value {o}, scikit-learn's {t})"
            );
            predictions += 1;
        }
        let worst_decision = ours_decision
            .iter()
            .zip(&theirs_decision)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let iterations: Vec<usize> = convergence.iter().map(|c| c.iterations).collect();
        let worst = tolerance.iter().cloned().fold(0f64, f64::max);
        eprintln!(
            "{what}: iterations {iterations:?} (scikit-learn {}), max |Δcoef| {worst_coef:.1e}, \
             max |Δdecision| {worst_decision:.1e}, largest coefficient tolerance {worst:.1e}",
            f["n_iter"]
        );
    }
    // 6 fits × 160 held-out rows × 8 classes.
    assert_eq!(predictions, 6 * 160 * 8);
}
