//! Subsample studies: every method trained on several draws of the same
//! long-tailed training profile. The question there is not "how sure are we on
//! this test set" (the bootstrap answers that) but "does the method win on
//! data of this shape, or only on this draw": each method's score per
//! subsample, its mean ± s.d. over subsamples, its paired difference from
//! `ib` with a 95% t-interval over subsamples, and how many subsamples it won.

use super::format::points;
use super::Study;
use crate::metrics::Stat;
use serde::Serialize;

/// One method on one statistic, over subsamples.
#[derive(Debug, Clone, Serialize)]
pub struct OverSubsamples {
    /// Its test score on each subsample (the mean of its runs there).
    pub scores: Vec<f64>,
    pub mean: f64,
    pub sd: f64,
    /// Against `ib` on the same subsamples; absent for `ib` itself.
    pub vs_ib: Option<Paired>,
}

/// A paired difference (method − ib) over subsamples.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    pub mean: f64,
    pub sd: f64,
    /// 95% interval of the mean difference: mean ± t(0.975, n−1)·sd/√n.
    pub low: f64,
    pub high: f64,
    /// Subsamples where the method scored higher, lower, the same.
    pub won: usize,
    pub lost: usize,
    pub tied: usize,
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (df ≥ 1):
/// exact to 3 decimals up to 30, then 1.96 + 2.4/df, within 0.003 of the
/// true value from 30 on.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.96 + 2.4 / df as f64,
    }
}

/// `scores[s]` of method `m` on `stat`: its runs on subsample s, averaged.
fn per_subsample(study: &Study, m: usize, stat: Stat, rare: &[usize], n: usize) -> Vec<f64> {
    (0..n)
        .map(|s| {
            let v: Vec<f64> = study.methods[m]
                .runs
                .iter()
                .filter(|r| r.subsample == s)
                .map(|r| stat.value(&r.test, rare, false))
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        })
        .collect()
}

/// Every method on `stat` over the study's subsamples; `None` outside a
/// subsample study or with fewer than two subsamples.
pub fn analyse(study: &Study, stat: Stat, rare: &[usize]) -> Option<Vec<OverSubsamples>> {
    let n = study.subsamples.as_ref()?.seeds.len();
    if n < 2 {
        return None;
    }
    let base = study.methods.iter().position(|m| m.name == "ib");
    let base_scores = base.map(|b| per_subsample(study, b, stat, rare, n));
    Some(
        (0..study.methods.len())
            .map(|m| {
                let scores = per_subsample(study, m, stat, rare, n);
                let (mean, sd) = super::mean_sd(scores.iter().copied());
                let vs_ib = base_scores
                    .as_ref()
                    .filter(|_| Some(m) != base)
                    .map(|b| paired(&scores, b));
                OverSubsamples {
                    scores,
                    mean,
                    sd,
                    vs_ib,
                }
            })
            .collect(),
    )
}

fn paired(a: &[f64], b: &[f64]) -> Paired {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (mean, sd) = super::mean_sd(d.iter().copied());
    let half = t975(d.len() - 1) * sd / (d.len() as f64).sqrt();
    Paired {
        mean,
        sd,
        low: mean - half,
        high: mean + half,
        won: d.iter().filter(|&&x| x > 0.0).count(),
        lost: d.iter().filter(|&&x| x < 0.0).count(),
        tied: d.iter().filter(|&&x| x == 0.0).count(),
    }
}

/// The statistics a subsample table shows.
pub const SHOWN: [Stat; 3] = [Stat::MacroF1, Stat::FewRecall, Stat::Accuracy];

/// The subsample table: per method, for each shown statistic, mean ± s.d.
/// over subsamples, the difference from ib with its interval, and the wins.
pub fn table(study: &Study, rare: &[usize]) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let stats: Vec<Vec<OverSubsamples>> = SHOWN
        .iter()
        .map(|&s| analyse(study, s, rare))
        .collect::<Option<_>>()?;
    let n = study.subsamples.as_ref()?.seeds.len();
    let mut header = vec!["method".to_string()];
    for s in SHOWN {
        let label = s.label();
        header.push(label.to_string());
        header.push(format!("{label} − ib (95% CI)"));
        header.push(format!("beat ib (of {n})"));
    }
    let rows = study
        .methods
        .iter()
        .enumerate()
        .map(|(m, method)| {
            let mut row = vec![method.name.to_string()];
            for per_stat in &stats {
                let o = &per_stat[m];
                row.push(format!("{:.4} ± {:.4}", o.mean, o.sd));
                match &o.vs_ib {
                    Some(p) => {
                        row.push(format!(
                            "{} ({} to {})",
                            points(p.mean),
                            points(p.low),
                            points(p.high)
                        ));
                        row.push(p.won.to_string());
                    }
                    None => {
                        row.push("—".into());
                        row.push("—".into());
                    }
                }
            }
            row
        })
        .collect();
    Some((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_are_students() {
        assert_eq!(t975(9), 2.262);
        assert!((t975(40) - 2.021).abs() < 0.003);
        assert!((t975(120) - 1.980).abs() < 0.003);
        assert!(t975(0).is_nan());
    }

    #[test]
    fn paired_differences_count_wins_and_bound_the_mean() {
        let p = paired(&[0.5, 0.6, 0.7, 0.4], &[0.4, 0.5, 0.7, 0.5]);
        assert_eq!((p.won, p.lost, p.tied), (2, 1, 1));
        assert!((p.mean - 0.025).abs() < 1e-12);
        // sd of (0.1, 0.1, 0, −0.1) = 0.0957; half-width 3.182·0.0957/2.
        let half = 3.182 * p.sd / 2.0;
        assert!((p.high - p.mean - half).abs() < 1e-12 && p.low < 0.0 && p.high > 0.0);
    }
}
