//! A corpus read in parts, estimated once. Spark runs one `emo quantify` per
//! partition; averaging their estimates would weigh a 10-text partition like a
//! 10,000-text one and put every partition's estimator bias into the answer.
//! Instead each part writes a [`Tally`] of what the chosen estimator reads of
//! its texts, the tallies are added, and the shares are estimated once from
//! the sum, with the same validation adjustment and the same bootstrap
//! replicates as one process reading the whole corpus: a text's Poisson weights
//! depend on its key only, so every replicate's sums add up across parts.
//!
//! CC, PCC, ACC and PACC read a corpus only through [`Sums`] (a few numbers per
//! label and replicate, whatever the part's size). SLD's expectation-
//! maximisation re-weights every text's posterior at every step, so nothing
//! smaller than the posteriors themselves determines it: its tally carries
//! them (one number per label and text, no text and no vector), and the EM
//! runs once over all parts' posteriors.

use super::estimators::{Outputs, Sums};
use super::{poisson_weight, Method, Quantifier, Said, Share};
use crate::data::Task;
use crate::uncertainty::quantile;
use serde::{Deserialize, Serialize};

/// The tally format's version, written into each tally and checked on reading.
pub const FORMAT: u32 = 1;

/// What one part of a group's texts adds to the group's shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    pub emo_tally: u32,
    pub estimator: Method,
    pub bootstrap: usize,
    pub seed: u64,
    /// The model's labels, in its order: tallies of another model are refused.
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub texts: usize,
    /// CC, PCC, ACC, PACC: per replicate (0: each text once; 1 + b: bootstrap
    /// replicate b), per problem (one, or one per label), the sums.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sums: Vec<Vec<Sums>>,
    /// SLD: what the model said of each text, and each text's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posteriors: Option<Posteriors>,
}

/// Every text's calibrated probabilities (`texts × labels`), whether the model
/// gives it each label, and its bootstrap key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Posteriors {
    pub probabilities: Vec<f64>,
    pub given: Vec<bool>,
    pub keys: Vec<u64>,
}

impl Tally {
    /// Whether `other` was made by the same model with the same settings;
    /// what differs otherwise.
    pub fn same_settings(&self, other: &Tally) -> Result<(), String> {
        let same = |what: &str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(format!("its {what} differs from the first tally's"))
            }
        };
        same("estimator", self.estimator == other.estimator)?;
        same("bootstrap", self.bootstrap == other.bootstrap)?;
        same("seed", self.seed == other.seed)?;
        same("labels", self.labels == other.labels)
    }

    /// Adds `other`, a tally of other texts of the same group, model and
    /// settings; says what differs otherwise.
    pub fn add(&mut self, other: Tally) -> Result<(), String> {
        self.same_settings(&other)?;
        if self.group != other.group {
            return Err("its group differs".into());
        }
        self.texts += other.texts;
        for (mine, theirs) in self.sums.iter_mut().zip(&other.sums) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                a.add(b);
            }
        }
        if let (Some(a), Some(b)) = (&mut self.posteriors, other.posteriors) {
            a.probabilities.extend(b.probabilities);
            a.given.extend(b.given);
            a.keys.extend(b.keys);
        }
        Ok(())
    }

    /// Whether its shapes fit a model with these labels and task; what is
    /// wrong otherwise (a tally is read from a file, maybe damaged).
    pub fn check(&self, labels: &[String], task: Task) -> Result<(), String> {
        if self.emo_tally != FORMAT {
            return Err(format!(
                "tally format {} (this emo reads format {FORMAT})",
                self.emo_tally
            ));
        }
        if self.labels != labels {
            return Err("its labels are not the model's: a tally of another model".into());
        }
        let c = labels.len();
        let (problems, k) = match task {
            Task::SingleLabel => (1, c),
            Task::MultiLabel => (c, 2),
        };
        match (self.estimator, &self.posteriors) {
            (Method::Sld, Some(p)) => {
                if p.keys.len() != self.texts
                    || p.given.len() != self.texts * c
                    || p.probabilities.len() != self.texts * c
                {
                    return Err(format!(
                        "its posteriors do not hold {} texts × {c} labels",
                        self.texts
                    ));
                }
                if p.probabilities.iter().any(|x| !(0.0..=1.0).contains(x)) {
                    return Err("a posterior outside [0, 1]".into());
                }
            }
            (Method::Sld, None) => return Err("an sld tally without posteriors".into()),
            (_, Some(_)) => return Err("posteriors in a tally that is not sld's".into()),
            (_, None) => {
                let fits = self.sums.len() == self.bootstrap + 1
                    && self.sums.iter().all(|r| {
                        r.len() == problems
                            && r.iter().all(|s| {
                                s.counts.len() == k
                                    && s.posteriors.len() == k
                                    && s.weight.is_finite()
                                    && s.weight >= 0.0
                            })
                    });
                if !fits {
                    return Err(format!(
                        "its sums are not {} replicates × {problems} problems × {k} classes",
                        self.bootstrap + 1
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Quantifier {
    /// What the texts `said` (keys: one per text) add to their group's shares
    /// by `method`, with `resamples` bootstrap replicates drawn with `seed`.
    pub fn tally(
        &self,
        method: Method,
        said: &Said,
        keys: &[u64],
        resamples: usize,
        seed: u64,
        group: Option<String>,
    ) -> Tally {
        assert_eq!(keys.len(), said.len(), "one key per text");
        let mut tally = Tally {
            emo_tally: FORMAT,
            estimator: method,
            bootstrap: resamples,
            seed,
            labels: self.labels.clone(),
            group,
            texts: said.len(),
            sums: Vec::new(),
            posteriors: None,
        };
        if method == Method::Sld {
            tally.posteriors = Some(Posteriors {
                probabilities: said.probabilities.clone(),
                given: said.given.clone(),
                keys: keys.to_vec(),
            });
            return tally;
        }
        let problems = said.problems(self.task);
        let sums = |w: Option<&[f64]>| -> Vec<Sums> {
            problems.iter().map(|p| Sums::of(p.outputs(w))).collect()
        };
        tally.sums.push(sums(None));
        for b in 0..resamples as u64 {
            let w: Vec<f64> = keys.iter().map(|&k| poisson_weight(seed, b, k)).collect();
            tally.sums.push(sums(Some(&w)));
        }
        tally
    }

    /// Each label's share in the texts `tally` adds up, with a 95% interval
    /// from its bootstrap replicates (none: the point twice).
    pub fn shares(&self, tally: &Tally) -> Vec<Share> {
        let method = tally.estimator;
        // SLD's corpus: the problems of all its texts, and their keys.
        let sld = tally.posteriors.as_ref().map(|p| {
            let said = Said {
                c: self.labels.len(),
                probabilities: p.probabilities.clone(),
                given: p.given.clone(),
            };
            (said.problems(self.task), &p.keys)
        });
        let at = |replicate: Option<u64>| -> Vec<f64> {
            let valid_weights = replicate.map(|b| self.validation_weights(tally.seed, b));
            let vw = valid_weights.as_deref();
            match &sld {
                Some((problems, keys)) => {
                    let w: Option<Vec<f64>> = replicate.map(|b| {
                        keys.iter()
                            .map(|&k| poisson_weight(tally.seed, b, k))
                            .collect()
                    });
                    self.answer(|p| {
                        self.solve(
                            method,
                            p,
                            Corpus::Outputs(problems[p].outputs(w.as_deref())),
                            vw,
                        )
                    })
                }
                None => {
                    let row = &tally.sums[replicate.map_or(0, |b| b as usize + 1)];
                    self.answer(|p| self.solve(method, p, Corpus::Sums(&row[p]), vw))
                }
            }
        };
        let point = at(None);
        if tally.bootstrap == 0 || tally.texts == 0 {
            return point
                .into_iter()
                .map(|p| Share {
                    share: p,
                    low: p,
                    high: p,
                })
                .collect();
        }
        let mut draws: Vec<Vec<f64>> = vec![Vec::with_capacity(tally.bootstrap); point.len()];
        for b in 0..tally.bootstrap as u64 {
            for (d, v) in draws.iter_mut().zip(at(Some(b))) {
                d.push(v);
            }
        }
        let alpha = (1.0 - crate::uncertainty::CONFIDENCE) / 2.0;
        point
            .into_iter()
            .zip(draws.iter_mut())
            .map(|(p, d)| Share {
                share: p,
                low: quantile(d, alpha),
                high: quantile(d, 1.0 - alpha),
            })
            .collect()
    }
}

/// A problem's corpus as an estimator reads it: sums, or (SLD) every output.
pub(super) enum Corpus<'a> {
    Sums(&'a Sums),
    Outputs(Outputs<'a>),
}
