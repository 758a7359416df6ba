//! The named benchmark datasets, each with its official train/validation/test
//! split, read from the sha256-verified copies that `scripts/setup.sh` installs
//! (formats and checksums: `data/datasets.tsv`).

use super::{Dataset, Label, LabelSet, Split, SplitName};
use crate::input_error;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The names `--dataset` accepts.
pub const NAMES: [&str; 3] = ["goemotions", "goemotions-ekman", "carer"];

/// The multi-label views: every text with all of its emotions. XED has no
/// single-label view: most of its lines carry several emotions.
pub const MULTI_NAMES: [&str; 7] = [
    "goemotions-multi",
    "goemotions-ekman-multi",
    "xed-en",
    "xed-fi",
    "xed-de",
    "xed-es",
    "xed-fr",
];

/// Loads a named single-label dataset from `root` (normally [`crate::paths::datasets`]).
pub fn load(name: &str, root: &Path) -> Result<Dataset> {
    match name {
        "goemotions" => goemotions(root, false),
        "goemotions-ekman" => goemotions(root, true),
        "carer" => carer(root),
        multi if multi.starts_with("xed-") && MULTI_NAMES.contains(&multi) => Err(input_error!(
            "dataset '{multi}' is multi-label (most of its lines carry several emotions) and has no single-label view"
        )),
        multi if MULTI_NAMES.contains(&multi) => Err(input_error!(
            "dataset '{multi}' is multi-label, which this command does not read yet; '{}' is its single-label view",
            multi.trim_end_matches("-multi")
        )),
        other => Err(input_error!(
            "unknown dataset '{other}' (known: {})",
            NAMES.join(", ")
        )),
    }
}

/// Loads a named multi-label dataset from `root`.
pub fn load_multi(name: &str, root: &Path) -> Result<Dataset<LabelSet>> {
    if let Some(language) = name
        .strip_prefix("xed-")
        .filter(|_| MULTI_NAMES.contains(&name))
    {
        return xed(root, language);
    }
    let ekman = match name {
        "goemotions-multi" => false,
        "goemotions-ekman-multi" => true,
        other => {
            return Err(input_error!(
                "unknown multi-label dataset '{other}' (known: {})",
                MULTI_NAMES.join(", ")
            ))
        }
    };
    goemotions_dataset(name, root, ekman, Some)
}

fn need(path: PathBuf) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(input_error!(
            "{}: not found; run `make setup` (scripts/setup.sh) to install the datasets",
            path.display()
        ))
    }
}

/// GoEmotions, single-label view: a row is kept when it carries exactly one
/// label (the multi-label rows are ambiguous for a single-label classifier).
/// With `ekman`, the 27 emotions are first mapped to Ekman's six groups by
/// Google's `ekman_mapping.json` (neutral stays neutral), and a row is kept
/// when its labels map to exactly one group.
fn goemotions(root: &Path, ekman: bool) -> Result<Dataset> {
    let name = if ekman {
        "goemotions-ekman"
    } else {
        "goemotions"
    };
    goemotions_dataset(name, root, ekman, |set| match set.classes() {
        [only] => Some(*only),
        _ => None,
    })
}

/// A GoEmotions view as a dataset whose rows are those `label` gives a label
/// (the single-label views keep the one-class rows, the multi-label views all).
fn goemotions_dataset<L>(
    name: &str,
    root: &Path,
    ekman: bool,
    label: impl Fn(LabelSet) -> Option<L>,
) -> Result<Dataset<L>> {
    let (classes, splits) = goemotions_view(root, ekman)?;
    Ok(Dataset {
        name: name.into(),
        classes,
        splits: splits
            .into_iter()
            .map(|(split, rows)| {
                let mut s = Split::default();
                for (text, set, id) in rows {
                    if let Some(y) = label(set) {
                        s.texts.push(text);
                        s.labels.push(y);
                        s.ids.push(id);
                    }
                }
                (split, s)
            })
            .collect(),
    })
}

/// One GoEmotions row: its text, its classes in the view, its comment id.
type GoRow = (String, LabelSet, String);

/// A view's class names and its splits' rows.
type GoView = (Vec<String>, Vec<(SplitName, Vec<GoRow>)>);

/// GoEmotions' classes and every row of its three splits, each with the set of
/// classes its label ids map to in the view (the 28 labels, or with `ekman` the
/// six groups and neutral; several emotions of one group count once).
fn goemotions_view(root: &Path, ekman: bool) -> Result<GoView> {
    let dir = root.join("goemotions");
    let emotions_path = need(dir.join("emotions.txt"))?;
    let emotions: Vec<String> = std::fs::read_to_string(&emotions_path)
        .with_context(|| format!("cannot read {}", emotions_path.display()))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();

    // For each original emotion id, the class it belongs to in this view.
    let (classes, class_of): (Vec<String>, Vec<usize>) = if ekman {
        let mapping_path = need(dir.join("ekman_mapping.json"))?;
        let text = std::fs::read_to_string(&mapping_path)?;
        // Keep the file's group order: serde_json's map is sorted, so read it as pairs.
        let groups: Vec<(String, Vec<String>)> = parse_ordered_mapping(&text)
            .map_err(|e| input_error!("{}: {e}", mapping_path.display()))?;
        let mut classes: Vec<String> = groups.iter().map(|(g, _)| g.clone()).collect();
        classes.push("neutral".into());
        let mut class_of = Vec::with_capacity(emotions.len());
        for emotion in &emotions {
            let group = if emotion == "neutral" {
                classes.len() - 1
            } else {
                groups
                    .iter()
                    .position(|(_, members)| members.contains(emotion))
                    .ok_or_else(|| {
                        input_error!(
                            "{}: emotion '{emotion}' is in no Ekman group",
                            mapping_path.display()
                        )
                    })?
            };
            class_of.push(group);
        }
        (classes, class_of)
    } else {
        (emotions.clone(), (0..emotions.len()).collect())
    };

    let mut splits = Vec::new();
    for (split, file) in [
        (SplitName::Train, "train.tsv"),
        (SplitName::Validation, "dev.tsv"),
        (SplitName::Test, "test.tsv"),
    ] {
        let path = need(dir.join(file))?;
        splits.push((split, goemotions_rows(&path, &class_of)?));
    }
    Ok((classes, splits))
}

/// One GoEmotions TSV file: `text<TAB>ids<TAB>comment id`, no header, with
/// CSV-style quoting ("..." with "" inside) on about 2.5% of texts; the csv
/// reader undoes the quoting.
fn goemotions_rows(path: &Path, class_of: &[usize]) -> Result<Vec<GoRow>> {
    let mut rows = Vec::new();
    for (line, rec) in tsv_records(path)? {
        if rec.len() != 3 {
            return Err(input_error!(
                "{}: line {line}: expected 3 fields, found {}",
                path.display(),
                rec.len()
            ));
        }
        let mut groups: Vec<usize> = Vec::new();
        for id in rec[1].split(',') {
            let id: usize = id
                .trim()
                .parse()
                .ok()
                .filter(|&i| i < class_of.len())
                .ok_or_else(|| {
                    input_error!("{}: line {line}: bad label id '{id}'", path.display())
                })?;
            groups.push(class_of[id]);
        }
        rows.push((
            rec[0].to_string(),
            LabelSet::merged(groups),
            rec[2].to_string(),
        ));
    }
    Ok(rows)
}

/// A headerless TSV file's records, each with the line it starts on, CSV-style
/// quoting undone; a record's field count is the caller's to check.
fn tsv_records(path: &Path) -> Result<Vec<(usize, csv::StringRecord)>> {
    let file = std::fs::File::open(path)
        .map_err(|e| input_error!("{}: cannot open: {e}", path.display()))?;
    // XED's files end lines in CRLF, after which the csv crate counts lines
    // one short: the ids (`file:line`) must name the line a reader finds.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::BufReader::new(super::table::CrlfToLf::new(file)));
    reader
        .records()
        .map(|rec| {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                input_error!("{}: line {line}: {e}", path.display())
            })?;
            Ok((rec.position().map(|p| p.line() as usize).unwrap_or(0), rec))
        })
        .collect()
}

/// Reads `{"group": ["member", ...], ...}` keeping the groups in file order.
fn parse_ordered_mapping(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    struct Ordered(Vec<(String, Vec<String>)>);
    impl<'de> serde::Deserialize<'de> for Ordered {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Ordered;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object of group name to list of emotions")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Ordered, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, Vec<String>>()? {
                        out.push((k, v));
                    }
                    Ok(Ordered(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Ordered>(text)
        .map(|o| o.0)
        .map_err(|e| format!("not a valid Ekman mapping: {e}"))
}

/// CARER ("emotion", Saravia et al. 2018): `text;label` a line after a header.
/// Classes in the order of the Hugging Face release (sadness, joy, love, anger,
/// fear, surprise) so label ids match what users of that release know.
fn carer(root: &Path) -> Result<Dataset> {
    let classes: Vec<String> = ["sadness", "joy", "love", "anger", "fear", "surprise"]
        .map(String::from)
        .to_vec();
    let dir = root.join("carer");
    let mut splits = Vec::new();
    for (split, file) in [
        (SplitName::Train, "train.txt"),
        (SplitName::Validation, "val.txt"),
        (SplitName::Test, "test.txt"),
    ] {
        let path = need(dir.join(file))?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| input_error!("{}: cannot read: {e}", path.display()))?;
        let mut s = Split::default();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if n == 1 && line.starts_with("text;") {
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let (t, label) = line.rsplit_once(';').ok_or_else(|| {
                input_error!(
                    "{}: line {n}: no ';' between text and label",
                    path.display()
                )
            })?;
            let y = classes
                .iter()
                .position(|c| c == label.trim())
                .ok_or_else(|| {
                    input_error!("{}: line {n}: unknown label '{label}'", path.display())
                })?;
            s.texts.push(t.to_string());
            s.labels.push(y);
            s.ids.push(format!("{file}:{n}"));
        }
        splits.push((split, s));
    }
    Ok(Dataset {
        name: "carer".into(),
        classes,
        splits,
    })
}

/// XED's classes, Plutchik's eight, in the order of their ids (1 to 8).
pub const XED_CLASSES: [&str; 8] = [
    "anger",
    "anticipation",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "trust",
];

/// The seed of XED's split: fixed, so that `xed-fi` is the same split for
/// everyone, on every machine.
pub const XED_SPLIT_SEED: u64 = 2020;

/// XED (Öhman et al. 2020), one language: movie subtitles with Plutchik's
/// eight emotions, human-annotated (English, Finnish) or projected through
/// aligned subtitles (German, Spanish, French). `text<TAB>ids` a line (ids
/// 1–8, written `1, 4`), CRLF, no header, CSV-style quoting. It has no
/// official split: emo splits it 80/10/10, stratified by each line's rarest
/// emotion, with [`XED_SPLIT_SEED`]. In the projected files a few quoted
/// texts run on over lines of alignment metadata (a tab or a line break
/// inside the text): those records are not subtitles and are left out
/// (4 German, 2 Spanish, 4 French).
fn xed(root: &Path, language: &str) -> Result<Dataset<LabelSet>> {
    let file = match language {
        "en" | "fi" => format!("{language}-annotated.tsv"),
        _ => format!("{language}-projections.tsv"),
    };
    let path = need(root.join("xed").join(&file))?;
    let mut all = Split::default();
    for (line, rec) in tsv_records(&path)? {
        if rec.len() == 2 && (rec[0].contains('\t') || rec[0].contains('\n')) {
            continue;
        }
        if rec.len() != 2 {
            return Err(input_error!(
                "{}: line {line}: expected text and labels, found {} fields",
                path.display(),
                rec.len()
            ));
        }
        let mut ids = Vec::new();
        for id in rec[1].split(',') {
            let id: usize = id
                .trim()
                .parse()
                .ok()
                .filter(|i| (1..=XED_CLASSES.len()).contains(i))
                .ok_or_else(|| {
                    input_error!("{}: line {line}: bad label id '{id}'", path.display())
                })?;
            ids.push(id - 1);
        }
        let text = rec[0].trim();
        if text.is_empty() {
            return Err(input_error!("{}: line {line}: empty text", path.display()));
        }
        all.texts.push(text.to_string());
        all.labels.push(LabelSet::merged(ids));
        all.ids.push(format!("{file}:{line}"));
    }
    let classes: Vec<String> = XED_CLASSES.map(String::from).to_vec();
    let parts = super::split::stratified(&all, classes.len(), &[0.8, 0.1, 0.1], XED_SPLIT_SEED);
    Ok(Dataset {
        name: format!("xed-{language}"),
        classes,
        splits: [SplitName::Train, SplitName::Validation, SplitName::Test]
            .into_iter()
            .zip(parts)
            .collect(),
    })
}
