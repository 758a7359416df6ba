//! From texts to answers with a loaded model: embed, score with the head, and
//! decide as the model says — its top labels for a single-label model, every
//! label that passes its saved threshold for a multi-label one. It sits below
//! the commands so that `emo classify` (and its line protocol) and any later
//! front end (a server) answer the same texts with the same labels.

use crate::data::{Label, Task};
use crate::decision::{self, WhenNonePasses};
use crate::embed::{EmbedOptions, Embedder, Encoder, Matrix};
use crate::model::SavedModel;
use anyhow::Result;
use serde_json::{json, Map, Value};
use tch::{Device, Kind, Tensor};

/// One label and the probability the model gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub label: String,
    pub probability: f64,
    /// Multi-label: whether the probability reached the label's threshold
    /// (always true for single-label answers, which have no thresholds).
    pub passed: bool,
}

/// The model's answer for one text.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The `top_k` most probable labels (softmax), most probable first.
    Single { top: Vec<Scored> },
    /// Every label in the decision (those that passed their thresholds, or
    /// the most probable one under `--at-least-one`), most probable first;
    /// empty for no emotion. `top`: the `top_k` most probable labels whether
    /// or not they passed (empty unless asked for).
    Multi {
        labels: Vec<Scored>,
        top: Vec<Scored>,
    },
}

impl Answer {
    /// The answer's fields as `emo classify --output-format json`/`jsonl` writes them
    /// beside the text's id and text: `label` and `confidence` (and `top` when
    /// `top_k > 1`) for a single-label model, `labels` (and `top`, each marked
    /// `passed`, when `top_k > 0`) for a multi-label one. One function, so
    /// that every front end (classify's records, the server's answers) says
    /// the same thing in the same words.
    pub fn to_json(&self, top_k: usize) -> Map<String, Value> {
        let mut v = Map::new();
        match self {
            Answer::Single { top } => {
                v.insert("label".into(), json!(top[0].label));
                v.insert("confidence".into(), json!(top[0].probability));
                if top_k > 1 {
                    v.insert(
                        "top".into(),
                        top.iter()
                            .map(|s| json!({ "label": s.label, "confidence": s.probability }))
                            .collect(),
                    );
                }
            }
            Answer::Multi { labels, top } => {
                v.insert(
                    "labels".into(),
                    labels
                        .iter()
                        .map(|s| json!({ "label": s.label, "probability": s.probability }))
                        .collect(),
                );
                if top_k > 0 {
                    v.insert(
                        "top".into(),
                        top.iter()
                            .map(|s| json!({ "label": s.label, "probability": s.probability, "passed": s.passed }))
                            .collect(),
                    );
                }
            }
        }
        v
    }

    /// The answer as a [`Predictor`] built with a smaller `top_k` would have
    /// given it: a server builds one predictor listing every label and cuts
    /// each answer to what its request asked for.
    pub fn truncated(mut self, top_k: usize) -> Answer {
        match &mut self {
            Answer::Single { top } => top.truncate(top_k.max(1)),
            Answer::Multi { top, .. } => top.truncate(top_k),
        }
        self
    }
}

/// A loaded model with its encoder, ready to answer chunks of texts.
pub struct Predictor<'a> {
    model: &'a SavedModel,
    encoder: &'a Encoder,
    embedder: Embedder<'a>,
    device: Device,
    /// Texts per forward pass of [`Predictor::embed_tokens`].
    batch_size: usize,
    decider: Decider<'a>,
}

impl<'a> Predictor<'a> {
    /// `top_k`: how many most probable labels each answer lists (single-label:
    /// at least 1; multi-label: 0 lists none beside the decision).
    /// `when_none` overrides the model's saved rule for a multi-label model;
    /// `raw` reports the head's own probabilities instead of calibrated ones.
    pub fn new(
        model: &'a SavedModel,
        encoder: &'a Encoder,
        opts: &EmbedOptions,
        top_k: usize,
        when_none: Option<WhenNonePasses>,
        raw: bool,
    ) -> Result<Predictor<'a>> {
        Ok(Predictor {
            model,
            encoder,
            embedder: Embedder::new(encoder, opts)?,
            device: encoder.device(),
            batch_size: opts.batch_size,
            decider: Decider::new(model, top_k, when_none, raw),
        })
    }

    /// The head's logits for `texts` (row-major `n × C`), in order: what
    /// quantification reads instead of answers.
    pub fn logits(&mut self, texts: &[String]) -> Result<Vec<f64>> {
        let (m, _) = self.embedder.embed(texts)?;
        self.logits_of(&m)
    }

    /// The head's logits (`rows × C`) for embedded texts.
    pub fn logits_of(&self, m: &Matrix) -> Result<Vec<f64>> {
        if m.rows == 0 {
            return Ok(Vec::new());
        }
        let z = self.model.head.logits(&m.to_tensor().to(self.device))?;
        Ok(
            Vec::<f32>::try_from(z.to_device(Device::Cpu).to_kind(Kind::Float).flatten(0, -1))?
                .into_iter()
                .map(f64::from)
                .collect(),
        )
    }

    /// The answers for `texts`, in order.
    pub fn answer(&mut self, texts: &[String]) -> Result<Vec<Answer>> {
        let (m, _) = self.embedder.embed(texts)?;
        self.answer_vectors(&m)
    }

    /// Texts to token ids as the encoder takes them (prompt, special tokens,
    /// truncation), on any thread: a server tokenises in its request handlers
    /// and counts the tokens to pack its batches.
    pub fn text_tokenizer(&self) -> crate::embed::TextTokenizer {
        self.encoder.text_tokenizer()
    }

    /// Embeds already tokenised texts, however many, chunk by chunk, and hands
    /// each chunk to `each`: the indices (into `tokens`) of its texts and their
    /// vectors, row by row in that order. The server decides what one pass
    /// holds (by its token budget and the requests waiting); this embeds it
    /// longest first, in chunks of at most the batch size, as `emo classify`
    /// embeds its input: a chunk's texts are then of similar lengths, and the
    /// encoder pads each group of them for attention only to its own longest
    /// ([`crate::embed::packing`]). Chunk by chunk, so that a server can answer
    /// the requests of a chunk while the next one runs. A vector does not
    /// depend on its batch-mates beyond float rounding, so the answers are the
    /// same however the pass is cut.
    pub fn embed_tokens(
        &self,
        tokens: &[Vec<i64>],
        mut each: impl FnMut(&[usize], Matrix) -> Result<()>,
    ) -> Result<()> {
        let dim = self.encoder.identity().dim;
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by(|&a, &b| tokens[b].len().cmp(&tokens[a].len()).then(a.cmp(&b)));
        for chunk in order.chunks(self.batch_size.max(1)) {
            let batch: Vec<Vec<i64>> = chunk.iter().map(|&i| tokens[i].clone()).collect();
            let out = self.encoder.embed_tokens(&batch)?;
            let data = Vec::<f32>::try_from(out.flatten(0, -1))?;
            each(
                chunk,
                Matrix {
                    rows: chunk.len(),
                    cols: dim,
                    data,
                },
            )?;
        }
        Ok(())
    }

    /// The answers for texts already embedded (rows of `m`), in order.
    pub fn answer_vectors(&self, m: &Matrix) -> Result<Vec<Answer>> {
        if m.rows == 0 {
            return Ok(Vec::new());
        }
        let x = m.to_tensor().to(self.device);
        let logits = self.model.head.logits(&x)?;
        self.decider.answers(&logits)
    }
}

/// What turns a model's class scores into answers: its labels, how many to
/// list, and for a multi-label model its thresholds and no-label rule. Kept
/// apart from the encoder so that everything answering does with a saved
/// model's fields runs without one (`emo::fuzzing` runs it on damaged models).
pub struct Decider<'a> {
    model: &'a SavedModel,
    top_k: usize,
    /// Report the head's own probabilities, not the calibrated ones.
    raw: bool,
    /// Multi-label models: each label's threshold and the no-label rule.
    decision: Option<(Vec<f32>, WhenNonePasses)>,
}

impl<'a> Decider<'a> {
    /// `top_k` and `when_none` as for [`Predictor::new`].
    pub fn new(
        model: &'a SavedModel,
        top_k: usize,
        when_none: Option<WhenNonePasses>,
        raw: bool,
    ) -> Decider<'a> {
        let decision = match model.manifest.task {
            Task::SingleLabel => None,
            Task::MultiLabel => {
                let saved =
                    model.manifest.multi_label.as_ref().expect(
                        "SavedModel::load checks that a multi-label model has its decision",
                    );
                Some((
                    saved.thresholds.iter().map(|t| t.value).collect(),
                    when_none.unwrap_or(saved.when_none),
                ))
            }
        };
        Decider {
            model,
            top_k: top_k.min(model.manifest.labels.len()),
            raw,
            decision,
        }
    }

    /// The answers for the rows of `logits` (`[n, C]`, the head's scores).
    pub fn answers(&self, logits: &Tensor) -> Result<Vec<Answer>> {
        match &self.decision {
            None => self.single(logits),
            Some((thresholds, when_none)) => self.multi(logits, thresholds, *when_none),
        }
    }

    /// The most probable labels by the probabilities the model reports
    /// (calibrated unless `raw`; temperature scaling, the default, never
    /// changes which label is first), equal probabilities in label order.
    fn single(&self, logits: &Tensor) -> Result<Vec<Answer>> {
        let labels = &self.model.manifest.labels;
        let c = labels.len();
        let probs = self.model.probabilities(logits, self.raw)?;
        let k = self.top_k.max(1);
        Ok(probs
            .chunks(c)
            .map(|p| {
                let mut order: Vec<usize> = (0..c).collect();
                order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
                Answer::Single {
                    top: order
                        .into_iter()
                        .take(k)
                        .map(|i| Scored {
                            label: labels[i].clone(),
                            probability: p[i],
                            passed: true,
                        })
                        .collect(),
                }
            })
            .collect())
    }

    /// Decided per text by [`decision::decide`] at the saved thresholds on the
    /// head's sigmoid probabilities, as the multi-label methods scored
    /// validation when they chose the thresholds, so that a model decides as
    /// it was validated; the probabilities reported are the calibrated ones
    /// (unless `raw`), and labels are listed most probable first by them.
    /// Each label's map rises with its score, so for one label a text that
    /// passed never reports less than one that did not; between labels the
    /// maps differ, so a passed label may report less than one that failed
    /// its own threshold.
    fn multi(
        &self,
        logits: &Tensor,
        thresholds: &[f32],
        when_none: WhenNonePasses,
    ) -> Result<Vec<Answer>> {
        let labels = &self.model.manifest.labels;
        let probs: Vec<Vec<f32>> = Vec::<Vec<f32>>::try_from(
            &logits.sigmoid().to_kind(Kind::Float).to_device(Device::Cpu),
        )?;
        let reported = self.model.probabilities(logits, self.raw)?;
        let c_all = labels.len();
        let shown = |r: usize, c: usize| reported[r * c_all + c];
        let scored = |r: usize, c: usize, p: &[f32]| Scored {
            label: labels[c].clone(),
            probability: shown(r, c),
            passed: p[c] >= thresholds[c],
        };
        // Most probable first as reported; equal probabilities in label order.
        let ranked = |r: usize, mut classes: Vec<usize>| {
            classes.sort_by(|&a, &b| shown(r, b).total_cmp(&shown(r, a)).then(a.cmp(&b)));
            classes
        };
        Ok(probs
            .iter()
            .enumerate()
            .map(|(r, p)| {
                let chosen = decision::decide(p, thresholds, when_none);
                Answer::Multi {
                    labels: ranked(r, chosen.classes().to_vec())
                        .into_iter()
                        .map(|c| scored(r, c, p))
                        .collect(),
                    top: ranked(r, (0..p.len()).collect())
                        .into_iter()
                        .take(self.top_k)
                        .map(|c| scored(r, c, p))
                        .collect(),
                }
            })
            .collect())
    }
}
