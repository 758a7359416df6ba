//! What the commands do differently for one emotion a text (`usize`) and a set
//! of them ([`LabelSet`]), decided once by the label type: `compare-sampling`,
//! `train` and `evaluate` are each one generic function over [`TaskLabel`],
//! and this file is where the two tasks part — how labels are read, what data
//! they refuse, what a saved model keeps, how a saved model is scored.

use crate::compare::multilabel::score;
use crate::compare::Compared;
use crate::data::labels::index_label_sets;
use crate::data::profile::{self, Drawn};
use crate::data::table::Row;
use crate::data::{index_labels, named, Dataset, Label, LabelSet, SplitName};
use crate::decision::{self, WhenNonePasses, FIXED, PAPER};
use crate::features::Features;
use crate::input_error;
use crate::methods::{check_splits, multi, Fitted};
use crate::metrics::{Metrics, Stat};
use crate::model::{MultiLabelDecision, SavedModel};
use crate::report::multilabel::{ThresholdFit, TrainingLabels};
use crate::report::{Run, Studied};
use crate::train::TrainConfig;
use anyhow::Result;
use std::path::Path;

/// A saved model's answers on labelled data: the one run of an `evaluate`
/// report, with what the model decides by and what its manifest keeps of its
/// training data.
pub struct ScoredModel<L: Studied> {
    pub run: Run<L>,
    pub rule: L::Rule,
    pub extra: L::Extra,
    /// Per class: the validation counts the model was fitted with, where it
    /// kept them.
    pub validation_counts: Vec<usize>,
}

pub trait TaskLabel: Compared {
    /// A named dataset of this task.
    fn named(name: &str, root: &Path) -> Result<Dataset<Self>>;
    /// The classes and labels of the training rows.
    fn index(rows: &[Row]) -> (Vec<String>, Vec<Self>);
    /// The label of `row` in the sorted `classes`, or the first name not among them.
    fn lookup(row: &Row, classes: &[String]) -> Result<Self, String>;
    /// The label names of `row`.
    fn label_names(row: &Row) -> Vec<&str>;
    /// The label naming `classes` (single-label: exactly one).
    fn from_classes(classes: Vec<usize>) -> Self;

    /// The rule `--at-least-one` asks for, refused where it means nothing.
    fn rule(at_least_one: bool) -> Result<Self::Rule>;
    /// Refuses a study setting the task cannot honour.
    fn check_study(config: &TrainConfig) -> Result<()>;
    /// Refuses training and validation splits no method can learn from;
    /// returns warnings for what they lack.
    fn check_splits(dataset: &Dataset<Self>) -> Result<Vec<String>>;
    /// Training subsamples of a long-tailed profile.
    fn draw(dataset: &mut Dataset<Self>, request: &profile::Request) -> Result<Drawn>;
    /// What the training labels add to a report and a saved model.
    fn extra(train: &[Self], n_classes: usize) -> Self::Extra;

    /// A fit's validation scores for the manifest, and the rest of the line
    /// `emo train` says after the method's name.
    fn validation(
        fitted: &Fitted,
        train_len: usize,
        valid: &Features<Self>,
        rule: Self::Rule,
    ) -> Result<(serde_json::Value, String)>;
    /// What a saved multi-label model decides by.
    fn decision(
        thresholds: Vec<decision::Threshold>,
        rule: Self::Rule,
        extra: Self::Extra,
    ) -> Option<MultiLabelDecision>;
    /// A saved model scored on `test` as it decides.
    fn score_model(model: &SavedModel, test: &Features<Self>) -> Result<ScoredModel<Self>>;
}

/// A saved model's calibration map judged on the evaluated texts: its
/// probabilities against the head's own (`None`: the model has no map).
fn assess<L: Label + crate::features::Targets>(
    model: &SavedModel,
    test: &Features<L>,
) -> Result<Option<crate::calibration::Assessment>> {
    let Some(map) = &model.manifest.calibration else {
        return Ok(None);
    };
    let logits = model.head.logits(&test.x)?;
    Ok(Some(crate::calibration::Assessment::measure(
        map.kind(),
        model.manifest.task,
        &model.probabilities(&logits, true)?,
        &model.probabilities(&logits, false)?,
        &test.truth(),
        model.manifest.labels.len(),
    )))
}

/// Indices of `name` in the sorted `classes`.
fn position(classes: &[String], name: &str) -> Result<usize, String> {
    classes
        .binary_search_by(|c| c.as_str().cmp(name))
        .map_err(|_| name.to_string())
}

impl TaskLabel for usize {
    fn named(name: &str, root: &Path) -> Result<Dataset> {
        named::load(name, root)
    }

    fn index(rows: &[Row]) -> (Vec<String>, Vec<usize>) {
        let names: Vec<String> = rows
            .iter()
            .map(|r| r.single_label().unwrap_or_default().to_string())
            .collect();
        index_labels(&names)
    }

    fn lookup(row: &Row, classes: &[String]) -> Result<usize, String> {
        position(classes, row.single_label().unwrap_or_default())
    }

    fn label_names(row: &Row) -> Vec<&str> {
        vec![row.single_label().unwrap_or_default()]
    }

    fn from_classes(classes: Vec<usize>) -> usize {
        classes[0]
    }

    fn rule(at_least_one: bool) -> Result<()> {
        if at_least_one {
            return Err(input_error!(
                "--at-least-one is for multi-label data (--multi-label or a *-multi dataset)"
            ));
        }
        Ok(())
    }

    fn check_study(_: &TrainConfig) -> Result<()> {
        Ok(())
    }

    fn check_splits(dataset: &Dataset) -> Result<Vec<String>> {
        let counts = |name| {
            dataset
                .split(name)
                .map(|s| s.class_counts(dataset.classes.len()))
                .unwrap_or_default()
        };
        check_splits(
            &dataset.classes,
            &counts(SplitName::Train),
            &counts(SplitName::Validation),
        )
    }

    fn draw(dataset: &mut Dataset, request: &profile::Request) -> Result<Drawn> {
        profile::draw(dataset, request)
    }

    fn extra(_: &[usize], _: usize) {}

    fn validation(
        fitted: &Fitted,
        train_len: usize,
        valid: &Features,
        _: (),
    ) -> Result<(serde_json::Value, String)> {
        let vpred = fitted.head.predict(&valid.x)?;
        let vm = Metrics::compute(&valid.labels, &vpred, valid.n_classes);
        let json = serde_json::json!({
            "accuracy": vm.accuracy,
            "macro_f1": vm.macro_f1,
            "macro_f1_present_classes": vm.macro_f1_present(),
            "balanced_accuracy": vm.balanced_accuracy,
        });
        let said = format!(
            " on {train_len} examples of {} classes; validation macro-F1 {:.4}, accuracy {:.4}",
            valid.n_classes, vm.macro_f1, vm.accuracy
        );
        Ok((json, said))
    }

    fn decision(_: Vec<decision::Threshold>, _: (), _: ()) -> Option<MultiLabelDecision> {
        None
    }

    fn score_model(model: &SavedModel, test: &Features) -> Result<ScoredModel<usize>> {
        let m = &model.manifest;
        // The label the model answers: the most probable as it reports
        // probabilities (calibrated; temperature scaling, the default, keeps
        // the head's own ranking), as `emo classify` answers.
        let c = m.labels.len();
        let probs = model.probabilities(&model.head.logits(&test.x)?, false)?;
        let pred: Vec<usize> = probs
            .chunks(c)
            .map(|p| {
                (0..c)
                    .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
                    .expect("at least two labels")
            })
            .collect();
        let metrics = Metrics::compute(&test.labels, &pred, c);
        Ok(ScoredModel {
            run: Run {
                seed: m.seed,
                subsample: 0,
                // The model's own validation scores live in its manifest; here validation = the evaluated data.
                validation: metrics.clone(),
                test: metrics,
                test_predictions: pred,
                validation_predictions: Vec::new(),
                chosen: m.chosen.clone(),
                weight_norms: model.head.weight_norms(),
                seconds: 0.0,
                calibration: assess(model, test)?,
                shift: None,
                fit: (),
            },
            rule: (),
            extra: (),
            validation_counts: vec![0; m.labels.len()],
        })
    }
}

impl TaskLabel for LabelSet {
    fn named(name: &str, root: &Path) -> Result<Dataset<LabelSet>> {
        named::load_multi(name, root)
    }

    fn index(rows: &[Row]) -> (Vec<String>, Vec<LabelSet>) {
        let names: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.label_set().unwrap_or_default().to_vec())
            .collect();
        index_label_sets(&names)
    }

    fn lookup(row: &Row, classes: &[String]) -> Result<LabelSet, String> {
        let set = Self::label_names(row)
            .into_iter()
            .map(|name| position(classes, name))
            .collect::<Result<Vec<usize>, String>>()?;
        Ok(Self::from_classes(set))
    }

    fn label_names(row: &Row) -> Vec<&str> {
        row.label_set()
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
            .collect()
    }

    fn from_classes(classes: Vec<usize>) -> LabelSet {
        LabelSet::new(classes).expect("the readers refuse repeated labels")
    }

    fn rule(at_least_one: bool) -> Result<WhenNonePasses> {
        Ok(if at_least_one {
            WhenNonePasses::TopLabel
        } else {
            WhenNonePasses::NoEmotion
        })
    }

    fn check_study(config: &TrainConfig) -> Result<()> {
        if config.select != Stat::MacroF1 {
            return Err(input_error!(
                "--select: multi-label studies choose settings, thresholds and the recommended method by validation macro-F1 only"
            ));
        }
        Ok(())
    }

    /// Fewer than two labels is refused; a label no validation text carries
    /// keeps the threshold 0.5, said as a warning.
    fn check_splits(dataset: &Dataset<LabelSet>) -> Result<Vec<String>> {
        let c = dataset.classes.len();
        if c < 2 {
            return Err(input_error!(
                "{}: the training data names {c} label(s); a model needs at least two",
                dataset.name
            ));
        }
        let valid = dataset
            .split(SplitName::Validation)
            .expect("a validation split");
        let missing: Vec<&str> = valid
            .class_counts(c)
            .iter()
            .enumerate()
            .filter(|(_, &n)| n == 0)
            .map(|(k, _)| dataset.classes[k].as_str())
            .collect();
        Ok((!missing.is_empty())
            .then(|| {
                format!(
                    "warning: no validation text carries {}: their thresholds stay at 0.5",
                    missing.join(", ")
                )
            })
            .into_iter()
            .collect())
    }

    fn draw(_: &mut Dataset<LabelSet>, _: &profile::Request) -> Result<Drawn> {
        Err(input_error!(
            "--train-profile: subsample studies are single-label only"
        ))
    }

    fn extra(train: &[LabelSet], n_classes: usize) -> TrainingLabels {
        TrainingLabels::of(train, n_classes)
    }

    fn validation(
        fitted: &Fitted,
        train_len: usize,
        valid: &Features<LabelSet>,
        when_none: WhenNonePasses,
    ) -> Result<(serde_json::Value, String)> {
        let th: Vec<f32> = fitted.thresholds.iter().map(|t| t.value).collect();
        let vprobs = multi::probabilities(&fitted.head, valid)?;
        let (vm, _) = score(&vprobs, &valid.labels, &th, when_none);
        let json = serde_json::json!({
            "macro_f1": vm.macro_avg.f1,
            "micro_f1": vm.micro_avg.f1,
            "samples_f1": vm.samples_avg.f1,
            "hamming_loss": vm.hamming_loss,
            "subset_accuracy": vm.subset_accuracy,
        });
        let said = format!(
            " (multi-label) on {train_len} texts with {} labels; validation macro-F1 {:.4}, micro-F1 {:.4} at the per-label thresholds",
            valid.n_classes, vm.macro_avg.f1, vm.micro_avg.f1
        );
        Ok((json, said))
    }

    fn decision(
        thresholds: Vec<decision::Threshold>,
        when_none: WhenNonePasses,
        extra: TrainingLabels,
    ) -> Option<MultiLabelDecision> {
        Some(MultiLabelDecision {
            thresholds,
            when_none,
            train_texts: extra.texts,
            cooccurrence: extra.cooccurrence,
        })
    }

    /// Scored at the thresholds and no-label rule the model saved (never
    /// re-chosen on the data it is evaluated on), and, as compare-sampling
    /// does, at 0.5 and 0.3 everywhere.
    fn score_model(model: &SavedModel, test: &Features<LabelSet>) -> Result<ScoredModel<LabelSet>> {
        let m = &model.manifest;
        let saved = m
            .multi_label
            .as_ref()
            .expect("SavedModel::load checks that a multi-label model has its decision");
        let c = m.labels.len();
        let th: Vec<f32> = saved.thresholds.iter().map(|t| t.value).collect();
        let probs = multi::probabilities(&model.head, test)?;
        let (metrics, predictions) = score(&probs, &test.labels, &th, saved.when_none);
        let at = |v: f32| {
            score(
                &probs,
                &test.labels,
                &decision::uniform(v, c),
                saved.when_none,
            )
            .0
        };
        Ok(ScoredModel {
            run: Run {
                seed: m.seed,
                subsample: 0,
                // The model's own validation scores live in its manifest; here validation = the evaluated data.
                validation: metrics.clone(),
                test: metrics,
                test_predictions: predictions,
                validation_predictions: Vec::new(),
                chosen: m.chosen.clone(),
                weight_norms: model.head.weight_norms(),
                seconds: 0.0,
                calibration: assess(model, test)?,
                shift: None,
                fit: ThresholdFit {
                    thresholds: saved.thresholds.clone(),
                    // Nothing is chosen here: no held-out validation score.
                    validation_score: f64::NAN,
                    test_fixed: at(FIXED),
                    test_paper: at(PAPER),
                },
            },
            rule: saved.when_none,
            extra: TrainingLabels {
                texts: saved.train_texts,
                cooccurrence: saved.cooccurrence.clone(),
            },
            validation_counts: saved
                .thresholds
                .iter()
                .map(|t| t.validation_positives)
                .collect(),
        })
    }
}
