//! Text → token ids, the one place that owns tokenisation. It runs the Hugging Face
//! `tokenizers` crate, the library that sentence-transformers itself runs (through
//! transformers' fast tokenizers), so WordPiece, BPE and Unigram models, their
//! special and added tokens and their post-processor come from the folder's
//! `tokenizer.json` exactly as Python reads them. A folder with only `vocab.txt`
//! (older BERT exports) gets the WordPiece tokenizer transformers builds from it.
//!
//! Truncation is sentence-transformers': to `max_seq_length` tokens in all, the
//! special tokens included, cutting from the right. Padding is never applied here:
//! emo's packed batches place each text's tokens themselves.

use super::read_json;
use crate::input_error;
use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, TruncationDirection, TruncationParams, TruncationStrategy};

/// The special tokens of a BERT vocabulary; also what `rust_tokenizers`' BertTokenizer
/// (emo's tokenizer before this module) matched in text.
const BERT_SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// `tokenizer_config.json`: what transformers reads to build a BERT tokenizer from
/// `vocab.txt`, and the pad token of any tokenizer.
#[derive(Deserialize, Default)]
pub(super) struct TokenizerConfig {
    pub do_lower_case: Option<bool>,
    pub strip_accents: Option<bool>,
    pub tokenize_chinese_chars: Option<bool>,
    /// The tokenizer's own length limit; sentence-transformers caps `max_seq_length`
    /// with it when `sentence_bert_config.json` does not set one.
    pub model_max_length: Option<f64>,
    #[serde(default)]
    pad_token: Option<TokenSpec>,
    #[serde(default)]
    unk_token: Option<TokenSpec>,
    #[serde(default)]
    cls_token: Option<TokenSpec>,
    #[serde(default)]
    sep_token: Option<TokenSpec>,
    #[serde(default)]
    mask_token: Option<TokenSpec>,
}

/// A special token as tokenizer_config.json writes it: a string, or (older exports)
/// an object with its `content`.
#[derive(Deserialize)]
#[serde(untagged)]
enum TokenSpec {
    Plain(String),
    Object { content: String },
}

impl TokenSpec {
    fn content(&self) -> &str {
        match self {
            TokenSpec::Plain(s) | TokenSpec::Object { content: s } => s,
        }
    }
}

impl TokenizerConfig {
    pub(super) fn read(dir: &Path) -> Result<TokenizerConfig> {
        let path = dir.join("tokenizer_config.json");
        if path.is_file() {
            read_json(&path)
        } else {
            Ok(TokenizerConfig::default())
        }
    }

    fn token<'a>(spec: &'a Option<TokenSpec>, default: &'a str) -> &'a str {
        spec.as_ref().map(TokenSpec::content).unwrap_or(default)
    }
}

/// What of the tokenizer goes into the encoder's identity (and so the cache key).
/// A standard BERT WordPiece tokenizer is described, as it always was in emo, by its
/// casing and accent flags alone (its vocabulary comes with the weights, which the
/// identity hashes): so a folder's `tokenizer.json` and its `vocab.txt` give the same
/// identity, and caches made before this module stay valid (their token ids are the
/// same; `tests/tokenizer.rs` checks). Any other tokenizer is identified by a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizerIdentity {
    pub lower_case: bool,
    pub strip_accents: bool,
    /// `None` for a standard BERT WordPiece tokenizer; otherwise the sha256 of the
    /// `tokenizer.json` (or of `vocab.txt` with its non-standard settings).
    pub sha256: Option<String>,
}

/// A loaded tokenizer with truncation set to the encoder's length.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    identity: TokenizerIdentity,
    pad_id: Option<i64>,
    special_ids: Vec<i64>,
    max_length: usize,
    /// The file it came from, for errors.
    source: PathBuf,
}

/// One line of an error from the tokenizers crate (serde's messages may hold newlines).
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Tokenizer {
    /// Loads the folder's `tokenizer.json`, or builds a BERT tokenizer from its
    /// `vocab.txt` and `tokenizer_config.json`, truncating at `max_length` tokens
    /// (special tokens included).
    pub fn load(dir: &Path, max_length: usize) -> Result<Tokenizer> {
        let config = &TokenizerConfig::read(dir)?;
        let json = dir.join("tokenizer.json");
        let vocab = dir.join("vocab.txt");
        let (mut inner, identity) = if json.is_file() {
            from_tokenizer_json(&json)?
        } else if vocab.is_file() {
            from_vocab(&vocab, config)?
        } else {
            return Err(input_error!(
                "{}: missing; a model folder needs tokenizer.json or vocab.txt",
                json.display()
            ));
        };
        let source = if json.is_file() { &json } else { &vocab };
        // The file's own truncation (MiniLM's tokenizer.json truncates to 128) must
        // not apply: sentence-transformers overrides it on every call.
        inner
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| {
                input_error!(
                    "{}: cannot truncate to {max_length} tokens: {}",
                    source.display(),
                    one_line(e)
                )
            })?;
        let added = inner.get_added_tokens_decoder();
        let mut special_ids: Vec<i64> = added
            .iter()
            .filter(|(_, t)| t.special)
            .map(|(&id, _)| id as i64)
            .collect();
        special_ids.sort_unstable();
        let pad_id = pad_id(&inner, config);
        Ok(Tokenizer {
            inner,
            identity,
            pad_id,
            special_ids,
            max_length,
            source: source.clone(),
        })
    }

    /// Token ids as sentence-transformers feeds them to the model: special tokens
    /// added by the post-processor, truncated to `max_length` in all. Fails only for
    /// a tokenizer that cannot represent some text (a Unigram or WordPiece model
    /// without its unknown token), which is the folder's problem: an input error.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        let enc = self.inner.encode_fast(text, true).map_err(|e| {
            input_error!(
                "{}: cannot tokenise the text {:?}: {}",
                self.source.display(),
                text.chars().take(40).collect::<String>(),
                one_line(e)
            )
        })?;
        Ok(enc.get_ids().iter().map(|&i| i as i64).collect())
    }

    pub fn identity(&self) -> &TokenizerIdentity {
        &self.identity
    }

    /// The highest id the tokenizer can give (its vocabulary and added tokens);
    /// `None` for an empty vocabulary.
    pub fn max_id(&self) -> Option<usize> {
        self.inner
            .get_vocab(true)
            .values()
            .copied()
            .max()
            .map(|id| id as usize)
    }

    /// The file the tokenizer was read from, for errors.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The id that pads a row, for architectures that derive positions from it.
    pub fn pad_id(&self) -> Option<i64> {
        self.pad_id
    }

    /// Ids of the tokenizer's special tokens, ascending.
    pub fn special_ids(&self) -> &[i64] {
        &self.special_ids
    }

    /// Tokens per text at most, special tokens included.
    pub fn max_length(&self) -> usize {
        self.max_length
    }
}

/// The pad token of tokenizer_config.json, else BERT's or sentencepiece's name.
fn pad_id(inner: &tokenizers::Tokenizer, config: &TokenizerConfig) -> Option<i64> {
    let named = config.pad_token.as_ref().map(TokenSpec::content);
    named
        .into_iter()
        .chain(["[PAD]", "<pad>"])
        .find_map(|t| inner.token_to_id(t))
        .map(|i| i as i64)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn from_tokenizer_json(path: &Path) -> Result<(tokenizers::Tokenizer, TokenizerIdentity)> {
    let bytes =
        std::fs::read(path).map_err(|e| input_error!("{}: cannot read: {e}", path.display()))?;
    let mut inner = tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| {
        input_error!(
            "{}: not a valid tokenizer.json: {}",
            path.display(),
            one_line(e)
        )
    })?;
    // Nor must its padding (MiniLM's pads every text to 128): emo's packed batches
    // place the tokens, and sentence-transformers pads only to the batch's longest.
    inner.with_padding(None);
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let identity = match standard_bert(&value, &inner) {
        Some((lower_case, strip_accents)) => TokenizerIdentity {
            lower_case,
            strip_accents,
            sha256: None,
        },
        None => TokenizerIdentity {
            lower_case: false,
            strip_accents: false,
            sha256: Some(sha256_hex(&bytes)),
        },
    };
    Ok((inner, identity))
}

/// `Some((lower_case, strip_accents))` when `tokenizer.json` is the standard BERT
/// WordPiece tokenizer, the one emo built from `vocab.txt` before it read
/// tokenizer.json: BertNormalizer (clean text, Chinese characters split),
/// BertPreTokenizer, WordPiece with `##` and 100 characters a word, only the five
/// BERT special tokens added, and `[CLS] text [SEP]` around a single text.
fn standard_bert(v: &Value, inner: &tokenizers::Tokenizer) -> Option<(bool, bool)> {
    let norm = &v["normalizer"];
    let model = &v["model"];
    let standard = norm["type"] == "BertNormalizer"
        && norm["clean_text"] == true
        && norm["handle_chinese_chars"] == true
        && v["pre_tokenizer"]["type"] == "BertPreTokenizer"
        && model["type"] == "WordPiece"
        && model["continuing_subword_prefix"] == "##"
        && model["max_input_chars_per_word"] == 100
        && model["unk_token"] == "[UNK]"
        && v["added_tokens"].as_array().is_some_and(|a| {
            a.iter().all(|t| {
                t["special"] == true
                    && t["content"]
                        .as_str()
                        .is_some_and(|c| BERT_SPECIALS.contains(&c))
            })
        });
    if !standard {
        return None;
    }
    let cls = inner.token_to_id("[CLS]")?;
    let sep = inner.token_to_id("[SEP]")?;
    let empty = inner.encode_fast("", true).ok()?;
    if empty.get_ids() != [cls, sep] {
        return None;
    }
    let lower_case = norm["lowercase"].as_bool()?;
    // BertNormalizer: strip_accents unset means "same as lowercase".
    let strip_accents = norm["strip_accents"].as_bool().unwrap_or(lower_case);
    Some((lower_case, strip_accents))
}

/// The tokenizer transformers builds for a BERT folder without tokenizer.json:
/// BertNormalizer with the config's casing and accents, BertPreTokenizer, WordPiece
/// over vocab.txt, the special tokens matched in text, and `[CLS] $A [SEP]`.
fn from_vocab(
    path: &Path,
    config: &TokenizerConfig,
) -> Result<(tokenizers::Tokenizer, TokenizerIdentity)> {
    let lower_case = config.do_lower_case.unwrap_or(true);
    let strip_accents = config.strip_accents.unwrap_or(lower_case);
    let chinese = config.tokenize_chinese_chars.unwrap_or(true);
    let bad = |what: String| input_error!("{}: {what}", path.display());

    let vocab = WordPiece::read_file(&path.to_string_lossy())
        .map_err(|e| bad(format!("cannot read the vocabulary: {}", one_line(e))))?;
    let unk = TokenizerConfig::token(&config.unk_token, "[UNK]").to_string();
    let cls = TokenizerConfig::token(&config.cls_token, "[CLS]").to_string();
    let sep = TokenizerConfig::token(&config.sep_token, "[SEP]").to_string();
    let pad = TokenizerConfig::token(&config.pad_token, "[PAD]").to_string();
    let mask = TokenizerConfig::token(&config.mask_token, "[MASK]").to_string();
    let id = |t: &str| {
        vocab
            .get(t)
            .copied()
            .ok_or_else(|| bad(format!("special token {t} is not in the vocabulary")))
    };
    let (cls_id, sep_id) = (id(&cls)?, id(&sep)?);
    id(&unk)?;
    let model = WordPiece::builder()
        .vocab(vocab)
        .unk_token(unk.clone())
        .continuing_subword_prefix("##".into())
        .max_input_chars_per_word(100)
        .build()
        .map_err(|e| bad(format!("cannot build WordPiece: {}", one_line(e))))?;
    let template = |e: String| bad(format!("cannot build the [CLS]/[SEP] template: {e}"));
    let post = TemplateProcessing::builder()
        .try_single(format!("{cls}:0 $A:0 {sep}:0"))
        .map_err(template)?
        .try_pair(format!("{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1"))
        .map_err(template)?
        .special_tokens(vec![(cls.clone(), cls_id), (sep.clone(), sep_id)])
        .build()
        .map_err(|e| template(one_line(e)))?;

    let mut inner = tokenizers::Tokenizer::new(model);
    inner
        .with_normalizer(Some(BertNormalizer::new(
            true,
            chinese,
            Some(strip_accents),
            lower_case,
        )))
        .map_err(|e| bad(format!("cannot build the normalizer: {}", one_line(e))))?
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_post_processor(Some(post));
    let names = [pad, unk, cls, sep, mask];
    let specials: Vec<AddedToken> = names
        .iter()
        .filter(|t| inner.token_to_id(t).is_some())
        .map(|t| AddedToken::from(t.clone(), true))
        .collect();
    inner
        .add_special_tokens(specials)
        .map_err(|e| bad(format!("cannot add the special tokens: {}", one_line(e))))?;

    let standard = chinese && names == BERT_SPECIALS;
    let sha256 = if standard {
        None
    } else {
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let mut h = Sha256::new();
        h.update(&bytes);
        h.update(format!("\0{lower_case}\0{strip_accents}\0{chinese}\0{names:?}").as_bytes());
        Some(hex::encode(h.finalize()))
    };
    Ok((
        inner,
        TokenizerIdentity {
            lower_case,
            strip_accents,
            sha256,
        },
    ))
}
