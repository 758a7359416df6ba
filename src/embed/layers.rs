//! Which hidden states of the transformer make a text's vector (`--layers`).
//!
//! sentence-transformers models are trained for similarity on their last layer;
//! what a text says about its writer's feeling (tone, style, particular words)
//! sits partly in earlier layers. So a feature set may take one earlier layer,
//! the mean of several, or their concatenation, each pooled as the folder pools
//! its last layer. Layers are numbered as Hugging Face's `hidden_states`: 0 is
//! the embedding layer's output, `n` (or -1) the last of `n` layers.

use crate::input_error;
use anyhow::Result;
use std::fmt;
use std::str::FromStr;

/// `--layers` as the user wrote it: indices may count from the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSpec {
    /// The last layer: the vectors sentence-transformers gives.
    Last,
    One(i64),
    Mean(LayerList),
    Concat(LayerList),
}

/// Several layers: `a..b` (inclusive; an end may count from the end) or `a,b,c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerList {
    Range(i64, i64),
    List(Vec<i64>),
}

/// How the chosen hidden states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Averaged token by token, then pooled (one layer is the mean of one).
    Mean,
    /// Each pooled on its own, the vectors laid end to end in layer order.
    Concat,
}

/// A [`LayerSpec`] for one network: absolute, checked indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layers {
    pub combine: Combine,
    /// Ascending, distinct, each in `0..=n_layers`.
    pub indices: Vec<usize>,
    pub n_layers: usize,
}

fn parse_list(s: &str) -> Option<LayerList> {
    if let Some((a, b)) = s.split_once("..") {
        return Some(LayerList::Range(
            a.trim().parse().ok()?,
            b.trim().parse().ok()?,
        ));
    }
    let l: Vec<i64> = s
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    Some(LayerList::List(l))
}

impl FromStr for LayerSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<LayerSpec, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "'{s}' is not a layer choice: last, one layer (-2, 4), mean:A..B, concat:A..B or concat:A,B,C (0 is the embedding layer, -1 the last)"
            )
        };
        if s == "last" {
            return Ok(LayerSpec::Last);
        }
        if let Ok(i) = s.parse::<i64>() {
            return Ok(LayerSpec::One(i));
        }
        let (how, list) = s.split_once(':').ok_or_else(bad)?;
        let list = parse_list(list).ok_or_else(bad)?;
        match how {
            "mean" => Ok(LayerSpec::Mean(list)),
            "concat" => Ok(LayerSpec::Concat(list)),
            _ => Err(bad()),
        }
    }
}

impl LayerSpec {
    /// Absolute indices for a network of `n_layers` layers; an index past either
    /// end, a range that runs backwards or a layer named twice is an input error.
    pub fn resolve(&self, n_layers: usize) -> Result<Layers> {
        let n = n_layers as i64;
        let abs = |i: i64| -> Result<usize> {
            let a = if i < 0 { n + 1 + i } else { i };
            if a < 0 || a > n {
                return Err(input_error!(
                    "--layers {self}: layer {i} does not exist; this encoder has layers 0 (embeddings) to {n} (or -{} to -1)",
                    n + 1
                ));
            }
            Ok(a as usize)
        };
        let list = |l: &LayerList| -> Result<Vec<usize>> {
            let v = match l {
                LayerList::Range(a, b) => {
                    // Each end resolved first: `3..-1` is layer 3 to the last.
                    let (a, b) = (abs(*a)?, abs(*b)?);
                    if a > b {
                        return Err(input_error!(
                            "--layers {self}: the range runs backwards (layer {a} to layer {b})"
                        ));
                    }
                    (a..=b).collect()
                }
                LayerList::List(l) => l.iter().map(|&i| abs(i)).collect::<Result<Vec<_>>>()?,
            };
            let mut sorted = v.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != v.len() {
                return Err(input_error!("--layers {self}: a layer is named twice"));
            }
            Ok(sorted)
        };
        let (combine, indices) = match self {
            LayerSpec::Last => (Combine::Mean, vec![n_layers]),
            LayerSpec::One(i) => (Combine::Mean, vec![abs(*i)?]),
            LayerSpec::Mean(l) => (Combine::Mean, list(l)?),
            LayerSpec::Concat(l) => (Combine::Concat, list(l)?),
        };
        Ok(Layers {
            combine,
            indices,
            n_layers,
        })
    }
}

impl fmt::Display for LayerList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerList::Range(a, b) => write!(f, "{a}..{b}"),
            LayerList::List(l) => {
                let parts: Vec<String> = l.iter().map(i64::to_string).collect();
                write!(f, "{}", parts.join(","))
            }
        }
    }
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerSpec::Last => write!(f, "last"),
            LayerSpec::One(i) => write!(f, "{i}"),
            LayerSpec::Mean(l) => write!(f, "mean:{l}"),
            LayerSpec::Concat(l) => write!(f, "concat:{l}"),
        }
    }
}

impl Layers {
    /// Just the last layer: today's vectors, and no mark in the encoder's identity.
    pub fn is_last(&self) -> bool {
        self.indices == [self.n_layers]
    }

    /// How many pooled vectors are laid end to end.
    pub fn blocks(&self) -> usize {
        match self.combine {
            Combine::Mean => 1,
            Combine::Concat => self.indices.len(),
        }
    }

    /// The one spelling of this choice with absolute indices (`mean:3..6`,
    /// `concat:2,4`, `5`): what the identity, the cache key and a saved model
    /// record, so that `-1` and `6` of a 6-layer network share a cache.
    pub fn canonical(&self) -> String {
        let list = || {
            let (first, last) = (self.indices[0], self.indices[self.indices.len() - 1]);
            if self.indices.len() > 1 && last - first + 1 == self.indices.len() {
                format!("{first}..{last}")
            } else {
                let parts: Vec<String> = self.indices.iter().map(usize::to_string).collect();
                parts.join(",")
            }
        };
        match (self.combine, self.indices.len()) {
            _ if self.is_last() => "last".to_string(),
            (Combine::Mean, 1) => self.indices[0].to_string(),
            (Combine::Mean, _) => format!("mean:{}", list()),
            (Combine::Concat, _) => format!("concat:{}", list()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(spec: &str, n: usize) -> String {
        spec.parse::<LayerSpec>()
            .unwrap()
            .resolve(n)
            .unwrap()
            .canonical()
    }

    #[test]
    fn spellings_resolve_to_one_canonical_form() {
        assert_eq!(canon("last", 6), "last");
        assert_eq!(canon("-1", 6), "last");
        assert_eq!(canon("6", 6), "last");
        assert_eq!(canon("-3", 6), "4");
        assert_eq!(canon("0", 6), "0");
        assert_eq!(canon("mean:-4..-1", 6), "mean:3..6");
        assert_eq!(canon("mean:3..-1", 6), "mean:3..6");
        assert_eq!(canon("concat:4,6", 6), "concat:4,6");
        assert_eq!(canon("concat:6,4", 6), "concat:4,6");
        assert_eq!(canon("concat:-4..-1", 12), "concat:9..12");
        assert_eq!(canon("concat:3,4,5", 12), "concat:3..5");
        // One layer "concatenated" is that layer alone.
        assert_eq!(canon("concat:-1", 6), "last");
        assert_eq!(canon("mean:2", 6), "2");
    }

    #[test]
    fn bad_choices_are_refused_naming_the_problem() {
        for s in [
            "",
            "first",
            "mean:",
            "mean:a..b",
            "sum:1,2",
            "concat:1,,2",
            "1.5",
        ] {
            assert!(s.parse::<LayerSpec>().is_err(), "{s:?} parsed");
        }
        let err = |s: &str| {
            s.parse::<LayerSpec>()
                .unwrap()
                .resolve(6)
                .unwrap_err()
                .to_string()
        };
        assert!(err("7").contains("layer 7 does not exist"), "{}", err("7"));
        assert!(err("-8").contains("layers 0 (embeddings) to 6"));
        assert!(err("mean:5..2").contains("runs backwards"));
        assert!(err("concat:2,2").contains("named twice"));
        assert!(err("concat:-1,6").contains("named twice"));
    }

    #[test]
    fn blocks_count_the_concatenated_vectors() {
        let l = "concat:1..4"
            .parse::<LayerSpec>()
            .unwrap()
            .resolve(6)
            .unwrap();
        assert_eq!(l.blocks(), 4);
        let l = "mean:1..4"
            .parse::<LayerSpec>()
            .unwrap()
            .resolve(6)
            .unwrap();
        assert_eq!(l.blocks(), 1);
        assert_eq!(l.to_owned().combine, Combine::Mean);
    }

    #[test]
    fn display_gives_back_what_was_written() {
        for s in ["last", "-3", "mean:-4..-1", "concat:4,6", "concat:1..3"] {
            assert_eq!(s.parse::<LayerSpec>().unwrap().to_string(), s);
        }
    }
}
