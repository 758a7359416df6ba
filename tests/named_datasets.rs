//! The named datasets, parsed from the byte-exact copies: the counts stated in
//! shared/datasets/README.md, quoting undone, and the Ekman mapping applied.

use crate::common;
use emo::data::{named, Label, SplitName};

fn count(ds: &emo::data::Dataset, split: SplitName, class: &str) -> usize {
    let c = ds.classes.iter().position(|n| n == class).unwrap();
    ds.split(split)
        .unwrap()
        .labels
        .iter()
        .filter(|&&y| y == c)
        .count()
}

#[test]
fn goemotions_single_label_view() {
    let ds = named::load("goemotions", &common::datasets_root()).unwrap();
    assert_eq!(ds.classes.len(), 28);
    assert_eq!(ds.classes[0], "admiration");
    assert_eq!(ds.classes[27], "neutral");
    let sizes: Vec<usize> = ds.splits.iter().map(|(_, s)| s.len()).collect();
    assert_eq!(sizes, [36_308, 4_548, 4_590]);
    assert_eq!(count(&ds, SplitName::Train, "neutral"), 12_823);
    assert_eq!(count(&ds, SplitName::Train, "grief"), 39);
    let train = ds.split(SplitName::Train).unwrap();
    // A quoted row in the file: "Three words, no subtlety. ""Dude. Stop. Seriously."" "
    let i = train.ids.iter().position(|id| id == "eetq9g0").unwrap();
    assert_eq!(
        train.texts[i],
        "Three words, no subtlety. \"Dude. Stop. Seriously.\" "
    );
    assert_eq!(ds.classes[train.labels[i]], "annoyance");
    // Multi-label rows are dropped.
    assert!(!train.ids.contains(&"eczjljm".to_string()));
}

#[test]
fn goemotions_ekman_view() {
    let ds = named::load("goemotions-ekman", &common::datasets_root()).unwrap();
    assert_eq!(
        ds.classes,
        ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
    );
    let sizes: Vec<usize> = ds.splits.iter().map(|(_, s)| s.len()).collect();
    assert_eq!(sizes, [39_555, 4_946, 4_968]);
    assert_eq!(count(&ds, SplitName::Train, "joy"), 15_216);
    assert_eq!(count(&ds, SplitName::Train, "disgust"), 498);
}

#[test]
fn carer() {
    let ds = named::load("carer", &common::datasets_root()).unwrap();
    let sizes: Vec<usize> = ds.splits.iter().map(|(_, s)| s.len()).collect();
    assert_eq!(sizes, [16_000, 2_000, 2_000]);
    let expect = [
        ("joy", 5_362),
        ("sadness", 4_666),
        ("anger", 2_159),
        ("fear", 1_937),
        ("love", 1_304),
        ("surprise", 572),
    ];
    for (class, n) in expect {
        assert_eq!(count(&ds, SplitName::Train, class), n, "{class}");
    }
    assert_eq!(
        ds.split(SplitName::Train).unwrap().texts[0],
        "i didnt feel humiliated"
    );
}

#[test]
fn missing_dataset_folder_says_how_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let err = named::load("carer", dir.path()).unwrap_err();
    assert!(emo::error::exit_code(&err) == 2);
    assert!(err.to_string().contains("make setup"), "{err}");
}

/// Every GoEmotions text with all of its emotions: no row is dropped, the
/// multi-label counts are those stated for the corpus (16.4% of training texts
/// carry two to five emotions), and a row's set is its raw label ids.
#[test]
fn goemotions_multi_label_views() {
    use emo::data::{Label, Task};
    let root = common::datasets_root();
    let ds = named::load_multi("goemotions-multi", &root).unwrap();
    assert_eq!(ds.task(), Task::MultiLabel);
    assert_eq!(ds.classes.len(), 28);
    assert_eq!(ds.classes[27], "neutral");
    let sizes: Vec<usize> = ds.splits.iter().map(|(_, s)| s.len()).collect();
    assert_eq!(sizes, [43_410, 5_426, 5_427]);
    let several = |s: SplitName| {
        ds.split(s)
            .unwrap()
            .labels
            .iter()
            .filter(|y| y.len() >= 2)
            .count()
    };
    assert_eq!(several(SplitName::Train), 7_102);
    assert_eq!(several(SplitName::Test), 837);
    let train = ds.split(SplitName::Train).unwrap();
    assert!(train.labels.iter().all(|y| (1..=5).contains(&y.len())));
    // The single-label view is exactly the rows with one label.
    let single = named::load("goemotions", &root).unwrap();
    assert_eq!(
        train.labels.iter().filter(|y| y.len() == 1).count(),
        single.split(SplitName::Train).unwrap().len()
    );
    // A row the single-label view drops, against its raw ids in the file.
    let raw = std::fs::read_to_string(root.join("goemotions/train.tsv")).unwrap();
    let line = raw.lines().find(|l| l.ends_with("\teczjljm")).unwrap();
    let mut ids: Vec<usize> = line
        .split('\t')
        .nth(1)
        .unwrap()
        .split(',')
        .map(|i| i.parse().unwrap())
        .collect();
    ids.sort();
    let i = train.ids.iter().position(|id| id == "eczjljm").unwrap();
    assert!(ids.len() >= 2);
    assert_eq!(train.labels[i].classes(), ids.as_slice());
    // Class counts count a text once per emotion it carries.
    let counts = train.class_counts(28);
    assert_eq!(
        counts.iter().sum::<usize>(),
        train.labels.iter().map(|y| y.len()).sum::<usize>()
    );

    // Ekman: the same rows, emotions mapped to six groups and neutral, merged.
    let ek = named::load_multi("goemotions-ekman-multi", &root).unwrap();
    assert_eq!(
        ek.classes,
        ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
    );
    let sizes: Vec<usize> = ek.splits.iter().map(|(_, s)| s.len()).collect();
    assert_eq!(sizes, [43_410, 5_426, 5_427]);
    let ek_train = ek.split(SplitName::Train).unwrap();
    assert_eq!(
        ek_train.labels.iter().filter(|y| y.len() == 1).count(),
        39_555,
        "the single-group rows are the single-label Ekman view"
    );
    // The single-label loader names the multi-label views instead of not knowing them.
    let e = named::load("goemotions-multi", &root)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("multi-label") && e.contains("'goemotions'"),
        "{e}"
    );
}

/// XED, every language: the record counts of the files (less the projected
/// records that run on over alignment metadata), CRLF and the `1, 4` label
/// form read, every emotion in every part of the fixed stratified split,
/// and the same split on every load.
#[test]
fn xed_languages() {
    let root = common::datasets_root();
    for (language, records, left_out) in [
        ("en", 17_528, 0),
        ("fi", 14_449, 0),
        ("de", 5_504, 4),
        ("es", 11_304, 2),
        ("fr", 7_307, 4),
    ] {
        let name = format!("xed-{language}");
        let ds = named::load_multi(&name, &root).unwrap();
        assert_eq!(ds.classes, named::XED_CLASSES.map(String::from).to_vec());
        let sizes: Vec<usize> = ds.splits.iter().map(|(_, s)| s.len()).collect();
        let n = records - left_out;
        assert_eq!(sizes.iter().sum::<usize>(), n, "{name}: {sizes:?}");
        for (part, want) in sizes.iter().zip([0.8, 0.1, 0.1]) {
            assert!(
                (*part as f64 - want * n as f64).abs() < 0.01 * n as f64,
                "{name}: {sizes:?}"
            );
        }
        for (split, s) in &ds.splits {
            let counts = s.class_counts(8);
            assert!(
                counts.iter().all(|&c| c > 0),
                "{name} {split:?}: {counts:?}"
            );
            assert!(s
                .texts
                .iter()
                .all(|t| !t.contains('\r') && !t.contains('\t')));
            assert!(s.labels.iter().all(|l| !l.classes().is_empty()));
        }
        // Every id (`file:line`) names the line its text starts on: the csv
        // crate alone counts one short after each CRLF.
        let file = std::fs::read_to_string(
            root.join("xed")
                .join(ds.splits[0].1.ids[0].split(':').next().unwrap()),
        )
        .unwrap();
        let lines: Vec<&str> = file.split('\n').collect();
        for (_, s) in &ds.splits {
            for (id, text) in s.ids.iter().zip(&s.texts) {
                let line: usize = id.rsplit(':').next().unwrap().parse().unwrap();
                let start: String = text.chars().take_while(|&c| c != '"').take(12).collect();
                assert!(
                    lines[line - 1].contains(&start),
                    "{id}: {text:?} is not on that line: {:?}",
                    lines[line - 1]
                );
            }
        }
        let again = named::load_multi(&name, &root).unwrap();
        assert_eq!(
            again.splits[2].1.ids, ds.splits[2].1.ids,
            "{name}: the split moved"
        );
    }
    // The first Finnish line: "Kuinka se vapautui …?\t1, 3, 7\r\n".
    let fi = named::load_multi("xed-fi", &root).unwrap();
    let (text, labels) = fi
        .splits
        .iter()
        .flat_map(|(_, s)| s.ids.iter().zip(s.texts.iter().zip(&s.labels)))
        .find(|(id, _)| id.as_str() == "fi-annotated.tsv:1")
        .map(|(_, tl)| tl)
        .unwrap();
    assert!(
        text.starts_with("Kuinka se vapautui") && text.ends_with('?'),
        "{text}"
    );
    let names: Vec<&str> = labels
        .classes()
        .iter()
        .map(|&c| named::XED_CLASSES[c])
        .collect();
    assert_eq!(names, ["anger", "disgust", "surprise"]);
    let err = format!("{:#}", named::load("xed-fi", &root).unwrap_err());
    assert!(err.contains("has no single-label view"), "{err}");
}
