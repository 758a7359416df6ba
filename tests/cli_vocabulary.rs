//! One vocabulary across the commands, read from the real binary's `--help`:
//! a flag means one thing everywhere, a thing has one flag, and the spellings
//! retired for it still work with one line saying what to write now.

use crate::common::emo;
use std::collections::BTreeMap;

/// Pairs where one long flag is the other plus a prefix or suffix, each a
/// different thing on purpose. Anything else of that shape is a second
/// spelling of one flag (`--out`/`--output`, `--format`/`--input-format`).
const NEAR_NAMES: &[(&str, &str, &str)] = &[
    (
        "precision",
        "vector-precision",
        "--precision is the encoder's arithmetic; --vector-precision how the vectors it returns are kept",
    ),
    (
        "seed",
        "seeds",
        "--seeds is how many seeds, counting up from --seed",
    ),
    (
        "method",
        "methods",
        "train trains one --method; compare-sampling compares a list",
    ),
    (
        "method",
        "method-from",
        "a compare-sampling report to take the --method from",
    ),
    (
        "train",
        "train-profile",
        "the counts to cut the --train split down to",
    ),
    (
        "valid",
        "valid-fraction",
        "how much of --train stands in for a missing --valid",
    ),
    (
        "valid",
        "valid-profile",
        "the counts to cut the validation split down to",
    ),
    ("input", "input-format", "the format of the --input file"),
    (
        "cache",
        "cache-dir",
        "classify's cache is off unless --cache (or a --cache-dir) turns it on",
    ),
    (
        "cache",
        "no-cache",
        "the one switch, spelled by what it changes from each command's default",
    ),
    (
        "batch-size",
        "head-batch-size",
        "texts per encoder pass vs examples per SGD step of a head",
    ),
    (
        "epochs",
        "stage2-epochs",
        "epochs of stage-2 retraining, apart from the head's",
    ),
    (
        "k",
        "top-k",
        "--k is class-balanced sampling's run length; --top-k how many labels classify gives",
    ),
    (
        "q",
        "queue",
        "--q is power sampling's exponent; --queue how many requests serve holds",
    ),
];

/// Whether `b` is `a` with words put before or after it (`--format`,
/// `--input-format`) or with its last word lengthened (`--out`, `--output`).
fn near(a: &str, b: &str) -> bool {
    if let Some(rest) = b.strip_prefix(a) {
        return rest.starts_with('-') || (!rest.is_empty() && !rest.contains('-'));
    }
    b.strip_suffix(a).is_some_and(|rest| rest.ends_with('-'))
}

/// One flag as `--help` shows it.
#[derive(Debug, Clone)]
struct Flag {
    short: Option<char>,
    long: String,
    /// `None` for a switch.
    value: Option<String>,
}

fn help(args: &[&str]) -> String {
    let out = emo().args(args).output().unwrap();
    assert!(out.status.success(), "emo {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands `emo --help` lists, `help` aside.
fn subcommands() -> Vec<String> {
    help(&["--help"])
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // Two spaces before a name; a wrapped description is indented further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The flags of one `--help`: lines `  -x, --long <VALUE>` or `      --long`
/// (deeper-indented lines are descriptions), and the long aliases they list
/// (`[alias: --x]`, `[aliases: --x, --y]`).
fn flags(text: &str) -> Vec<Flag> {
    let mut flags: Vec<Flag> = Vec::new();
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let line = line.trim();
        if (indent == 2 || indent == 6) && line.starts_with('-') {
            let mut words = line.split_whitespace().peekable();
            let mut short = None;
            if let Some(s) = words.peek().and_then(|w| w.strip_suffix(',')) {
                short = s.strip_prefix('-').and_then(|s| s.chars().next());
                words.next();
            }
            let long = words.next().and_then(|w| w.strip_prefix("--"));
            let Some(long) = long else {
                assert!(short.is_some(), "unreadable flag line: {line}");
                continue;
            };
            let value = words.next().map(|v| v.trim_end_matches("...").to_string());
            flags.push(Flag {
                short,
                long: long.to_string(),
                value,
            });
        } else if let Some(list) = line
            .split_once("[aliases: ")
            .or_else(|| line.split_once("[alias: "))
            .map(|(_, list)| list)
        {
            let owner = flags.last().expect("aliases follow a flag").clone();
            for alias in list.split(']').next().unwrap().split(", ") {
                flags.push(Flag {
                    long: alias.trim_start_matches("--").to_string(),
                    ..owner.clone()
                });
            }
        }
    }
    flags
}

/// Every command's flags, by command.
fn vocabulary() -> BTreeMap<String, Vec<Flag>> {
    let subs = subcommands();
    for expected in [
        "embed",
        "compare-sampling",
        "train",
        "classify",
        "evaluate",
        "serve",
    ] {
        assert!(
            subs.iter().any(|s| s == expected),
            "emo --help lists no {expected}: {subs:?}"
        );
    }
    subs.into_iter()
        .map(|s| {
            let f = flags(&help(&[&s, "--help"]));
            assert!(f.iter().any(|f| f.long == "help"), "{s}: no flags read");
            (s, f)
        })
        .collect()
}

#[test]
fn near_names() {
    for (a, b) in [
        ("out", "output"),
        ("format", "input-format"),
        ("seed", "seeds"),
        ("cache", "no-cache"),
    ] {
        assert!(near(a, b), "{a} {b}");
    }
    for (a, b) in [
        ("out", "output-format"),
        ("out", "write-timeout"),
        ("out", "out"),
        ("k", "top-kk"),
    ] {
        assert!(!near(a, b), "{a} {b}");
    }
}

#[test]
fn one_spelling_and_one_meaning_per_flag() {
    let vocab = vocabulary();
    let mut problems = Vec::new();
    // flag -> (value name, command first seen on); short letter -> (long, command)
    let mut values: BTreeMap<&str, (&Option<String>, &str)> = BTreeMap::new();
    let mut shorts: BTreeMap<char, (&str, &str)> = BTreeMap::new();
    for (cmd, flags) in &vocab {
        for f in flags {
            if f.long == "format" {
                problems.push(format!("{cmd}: a bare --format (input or output?)"));
            }
            let (value, first) = values.entry(&f.long).or_insert((&f.value, cmd));
            if *value != &f.value {
                problems.push(format!(
                    "--{} takes {:?} on {first} but {:?} on {cmd}",
                    f.long, value, f.value
                ));
            }
            if let Some(c) = f.short {
                let (long, first) = shorts.entry(c).or_insert((&f.long, cmd));
                if *long != f.long {
                    problems.push(format!(
                        "-{c} is --{long} on {first} but --{} on {cmd}",
                        f.long
                    ));
                }
            }
        }
    }
    for a in values.keys() {
        for b in values.keys() {
            if near(a, b) && !NEAR_NAMES.iter().any(|(x, y, _)| (x, y) == (a, b)) {
                problems.push(format!(
                    "--{a} and --{b}: one flag spelled two ways? (else add the pair to NEAR_NAMES with why)"
                ));
            }
        }
    }
    for (a, b, _) in NEAR_NAMES {
        if !(values.contains_key(a) && values.contains_key(b)) {
            problems.push(format!(
                "NEAR_NAMES lists --{a}/--{b}, which no command has both of"
            ));
        }
    }
    for &(cmd, old, _) in emo::cli::DEPRECATED {
        let flags = vocab
            .get(cmd)
            .unwrap_or_else(|| panic!("DEPRECATED names {cmd}"));
        if flags.iter().any(|f| f.long == old) {
            problems.push(format!("{cmd}: --help shows the retired --{old}"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Command lines with old spellings, the same with the new ones, and the old
/// spellings used. MODEL, ENC, TXT, CSV and OUT stand for paths that do not exist.
const RETIRED: &[(&str, &str, &[&str])] = &[
    (
        "classify --model MODEL --format json --output OUT hi",
        "classify --model MODEL --output-format json --out OUT hi",
        &["--format", "--output"],
    ),
    (
        "embed --input TXT --format=txt --model ENC -o OUT",
        "embed --input TXT --input-format=txt --encoder ENC -o OUT",
        &["--format", "--model"],
    ),
    (
        "train --train CSV --format csv --model ENC --out OUT",
        "train --train CSV --input-format csv --encoder ENC --out OUT",
        &["--format", "--model"],
    ),
    (
        "compare-sampling --train CSV --format csv --out OUT",
        "compare-sampling --train CSV --input-format csv --out OUT",
        &["--format"],
    ),
    (
        "evaluate --model MODEL --data CSV --format csv",
        "evaluate --model MODEL --input CSV --input-format csv",
        &["--data", "--format"],
    ),
];

/// Each command kind with its old spellings fails as it does with the new ones
/// (on the missing files, past argument parsing), after exactly one line per
/// old spelling.
#[test]
fn old_spellings_still_work_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let run = |line: &str| {
        let args = line.split(' ').map(|w| match w {
            "MODEL" | "ENC" | "TXT" | "CSV" | "OUT" => dir.path().join(w).into_os_string(),
            _ => w.into(),
        });
        let out = emo().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code(),
            stderr.lines().map(str::to_string).collect::<Vec<_>>(),
        )
    };
    for &(old, new, retired) in RETIRED {
        let cmd = old.split(' ').next().unwrap();
        let (old_code, old_err) = run(old);
        let (new_code, new_err) = run(new);
        let (warnings, rest): (Vec<String>, Vec<String>) = old_err
            .into_iter()
            .partition(|l| l.contains("is deprecated"));
        for spelling in retired {
            let line = format!("emo: warning: {spelling} is deprecated for emo {cmd}; use --");
            let said = warnings.iter().filter(|w| w.starts_with(&line)).count();
            assert_eq!(said, 1, "{old}: {warnings:?}");
        }
        assert_eq!(warnings.len(), retired.len(), "{old}: {warnings:?}");
        assert!(
            new_err.iter().all(|l| !l.contains("deprecated")),
            "{new}: {new_err:?}"
        );
        assert_eq!(
            (old_code, &rest),
            (new_code, &new_err),
            "{old} against {new}"
        );
        assert_eq!(new_code, Some(2), "{new}: {new_err:?}");
        assert!(
            new_err.iter().all(|l| !l.contains("argument")),
            "{new} did not parse: {new_err:?}"
        );
    }
}
