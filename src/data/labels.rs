//! What a text is labelled with, decided once when the data is read: one class
//! (single-label: every text carries exactly one emotion) or a set of classes
//! (multi-label: several emotions, or none — "no emotion" is a real answer).
//! [`super::Split`] and [`super::Dataset`] are generic over it, so the layers
//! that do not care (splitting, profiles, embedding) serve both, and the ones
//! that do (losses, decisions, metrics, reports) dispatch on the type once.

use std::fmt::Debug;

/// Single- or multi-label, as a value for outputs, messages and a saved
/// model's manifest (where models saved before multi-label existed read as
/// single-label: the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    #[default]
    SingleLabel,
    MultiLabel,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::SingleLabel => "single-label",
            Task::MultiLabel => "multi-label",
        }
    }
}

/// A text's label: the classes it names, as indices into the dataset's classes.
pub trait Label: Clone + Debug + PartialEq + Send + Sync + 'static {
    const TASK: Task;
    /// The classes, ascending, without repeats (empty: no emotion).
    fn classes(&self) -> &[usize];
}

impl Label for usize {
    const TASK: Task = Task::SingleLabel;
    fn classes(&self) -> &[usize] {
        std::slice::from_ref(self)
    }
}

/// The emotions of one text in a multi-label dataset: ascending, no repeats,
/// possibly empty. Built only through [`LabelSet::new`], which refuses repeats
/// (a label given twice in one row is an input error, not something to merge
/// silently).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelSet(Vec<usize>);

impl LabelSet {
    /// The set of `classes`; `Err(class)` names the first one given twice.
    pub fn new(mut classes: Vec<usize>) -> Result<LabelSet, usize> {
        classes.sort_unstable();
        if let Some(w) = classes.windows(2).find(|w| w[0] == w[1]) {
            return Err(w[0]);
        }
        Ok(LabelSet(classes))
    }

    /// The set of `classes`, repeats merged: for views that map several source
    /// labels onto one class (GoEmotions' emotions onto Ekman's groups).
    pub fn merged(mut classes: Vec<usize>) -> LabelSet {
        classes.sort_unstable();
        classes.dedup();
        LabelSet(classes)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, class: usize) -> bool {
        self.0.binary_search(&class).is_ok()
    }
}

impl Label for LabelSet {
    const TASK: Task = Task::MultiLabel;
    fn classes(&self) -> &[usize] {
        &self.0
    }
}

/// Splits a label field on `sep` into label names, for multi-label data. An
/// empty (or blank) field is a text with no emotion; an empty name between
/// separators and a name given twice are errors, said so that the row can be
/// found and fixed.
pub fn split_label_field(field: &str, sep: &str) -> Result<Vec<String>, String> {
    let field = field.trim();
    if field.is_empty() {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = Vec::new();
    for (i, part) in field.split(sep).enumerate() {
        let name = part.trim();
        if name.is_empty() {
            return Err(format!(
                "empty label at position {} of '{field}' (labels are separated by '{sep}')",
                i + 1
            ));
        }
        if names.iter().any(|n| n == name) {
            return Err(format!("label '{name}' is given twice in '{field}'"));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// Class names and each row's label set from the training rows' label names:
/// classes sorted by name (the same files always give the same order, as for
/// single-label data).
pub fn index_label_sets(rows: &[Vec<String>]) -> (Vec<String>, Vec<LabelSet>) {
    let classes: Vec<String> = rows
        .iter()
        .flatten()
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let sets = rows
        .iter()
        .map(|names| {
            LabelSet::new(
                names
                    .iter()
                    .map(|n| classes.binary_search(n).expect("name comes from the set"))
                    .collect(),
            )
            .expect("split_label_field refuses repeats")
        })
        .collect();
    (classes, sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_fields_split_and_refuse_what_is_ambiguous() {
        assert_eq!(split_label_field("joy", ","), Ok(vec!["joy".to_string()]));
        assert_eq!(
            split_label_field(" joy , gratitude ", ","),
            Ok(vec!["joy".to_string(), "gratitude".to_string()])
        );
        assert_eq!(split_label_field("", ","), Ok(vec![]));
        assert_eq!(split_label_field("  ", ","), Ok(vec![]));
        assert_eq!(
            split_label_field("joy|fear", "|"),
            Ok(vec!["joy".to_string(), "fear".to_string()])
        );
        let e = split_label_field("joy,,fear", ",").unwrap_err();
        assert!(e.contains("empty label at position 2"), "{e}");
        let e = split_label_field("joy,", ",").unwrap_err();
        assert!(e.contains("empty label at position 2"), "{e}");
        let e = split_label_field("joy,fear,joy", ",").unwrap_err();
        assert!(e.contains("'joy' is given twice"), "{e}");
    }

    #[test]
    fn sets_are_sorted_and_refuse_repeats() {
        assert_eq!(LabelSet::new(vec![3, 1]).unwrap().classes(), &[1, 3]);
        assert_eq!(LabelSet::new(vec![2, 5, 2]), Err(2));
        assert_eq!(LabelSet::merged(vec![2, 5, 2]).classes(), &[2, 5]);
        assert!(LabelSet::new(vec![]).unwrap().is_empty());
        assert_eq!(7usize.classes(), &[7]);
        let rows = vec![
            vec!["joy".to_string(), "anger".to_string()],
            vec![],
            vec!["fear".to_string()],
        ];
        let (classes, sets) = index_label_sets(&rows);
        assert_eq!(classes, ["anger", "fear", "joy"]);
        assert_eq!(sets[0].classes(), &[0, 2]);
        assert!(sets[1].is_empty());
        assert_eq!(sets[2].classes(), &[1]);
    }
}
