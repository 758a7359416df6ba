//! The shapes of the JSON the server reads and writes, as the OpenAPI
//! document describes them. The handlers read requests field by field (to
//! name the field at fault) and write answers with the same code as
//! `emo classify` ([`crate::predict::Answer::to_json`]); these types are the
//! description of both, checked against real answers by `tests/serve.rs`.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// Texts to classify: `texts` (an array of non-empty strings) or `text` (one).
#[derive(Serialize, ToSchema)]
pub struct ClassifyRequest {
    /// The texts, answered in this order.
    #[schema(example = json!(["i feel so happy today", "this makes me so angry"]))]
    pub texts: Option<Vec<String>>,
    /// One text (instead of `texts`).
    pub text: Option<String>,
    /// How many most probable labels to list (`top`), as `emo classify --top-k`:
    /// default 1 for a single-label model, none beside the decision for a multi-label one.
    #[schema(minimum = 1)]
    pub top_k: Option<u32>,
}

/// Texts to embed: `texts` or `text`.
#[derive(Serialize, ToSchema)]
pub struct EmbedRequest {
    pub texts: Option<Vec<String>>,
    pub text: Option<String>,
}

/// One label and its probability.
#[derive(Serialize, ToSchema)]
pub struct Scored {
    pub label: String,
    /// Single-label answers call it `confidence`, multi-label ones `probability`.
    pub confidence: Option<f64>,
    pub probability: Option<f64>,
    /// Multi-label `top` only: whether it reached the label's threshold.
    pub passed: Option<bool>,
}

/// One text's answer: exactly the record `emo classify --output-format jsonl` writes
/// for it, `id` being the text's position in the request (from 1).
#[derive(Serialize, ToSchema)]
pub struct ClassifyResult {
    pub id: String,
    pub text: String,
    /// Single-label models: the most probable label.
    pub label: Option<String>,
    pub confidence: Option<f64>,
    /// Multi-label models: every label that passed its threshold (maybe none).
    pub labels: Option<Vec<Scored>>,
    /// The `top_k` most probable labels, when asked for.
    pub top: Option<Vec<Scored>>,
}

#[derive(Serialize, ToSchema)]
pub struct ClassifyResponse {
    pub results: Vec<ClassifyResult>,
}

/// One text's vector, as a line of `emo embed --out -`.
#[derive(Serialize, ToSchema)]
pub struct EmbedResult {
    pub id: String,
    pub vector: Vec<f32>,
}

#[derive(Serialize, ToSchema)]
pub struct EmbedResponse {
    pub results: Vec<EmbedResult>,
}

/// Texts whose emotion shares to estimate: `texts` or `text`, and how.
#[derive(Serialize, ToSchema)]
pub struct QuantifyRequest {
    #[schema(example = json!(["i feel so happy today", "this makes me so angry", "what a lovely surprise"]))]
    pub texts: Option<Vec<String>>,
    pub text: Option<String>,
    /// cc, pcc, acc, pacc or sld, as `emo quantify --estimator` (default sld).
    pub estimator: Option<String>,
    /// Bootstrap replicates behind each interval (default 1000, at most 10000; 0: none).
    #[schema(minimum = 0, maximum = 10000)]
    pub bootstrap: Option<u64>,
    /// The bootstrap's seed (default 0).
    pub seed: Option<u64>,
}

/// One emotion's estimated share with its 95% interval.
#[derive(Serialize, ToSchema)]
pub struct ShareOf {
    pub share: f64,
    pub low: f64,
    pub high: f64,
}

/// The document `emo quantify --output-format json` writes.
#[derive(Serialize, ToSchema)]
pub struct QuantifyResponse {
    pub estimator: String,
    pub texts: usize,
    /// Per label, its share (single-label models: the shares sum to 1;
    /// multi-label: each label's prevalence).
    pub shares: std::collections::BTreeMap<String, ShareOf>,
}

/// Every error: what is wrong, and the request field at fault when there is one
/// (`texts[3]`, `top_k`).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub field: Option<String>,
}

/// The errors of the routes that take texts, listed once for both.
#[derive(utoipa::IntoResponses)]
pub enum TextErrors {
    #[response(status = 400, description = "malformed JSON")]
    Malformed(ErrorBody),
    #[response(
        status = 403,
        description = "the Host header is not among --allowed-hosts"
    )]
    HostRefused(ErrorBody),
    #[response(
        status = 408,
        description = "the request took longer than --request-timeout"
    )]
    Timeout(ErrorBody),
    #[response(status = 413, description = "body over --payload-limit")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "not Content-Type: application/json")]
    NotJson(ErrorBody),
    #[response(
        status = 422,
        description = "a field missing, empty, of the wrong type, unknown; too many texts; a text over --max-text-chars; more tokens than --max-request-tokens"
    )]
    Invalid(ErrorBody),
    #[response(status = 429, description = "the queue is full; see Retry-After")]
    Busy(ErrorBody),
    #[response(
        status = 500,
        description = "the forward pass holding the request failed (the server's log says why; the server goes on)"
    )]
    Failed(ErrorBody),
    #[response(
        status = 503,
        description = "the server is stopping, or its inference thread has stopped"
    )]
    Stopping(ErrorBody),
}

/// `GET /health` and `GET /ready`.
#[derive(Serialize, ToSchema)]
pub struct Status {
    pub status: String,
}

/// `GET /v1/model`: what answers, and how.
#[derive(Serialize, ToSchema)]
pub struct ModelInfo {
    pub model: String,
    pub task: String,
    pub method: String,
    pub labels: Vec<String>,
    /// Multi-label models: each label's threshold, in label order.
    pub thresholds: Option<Vec<f32>>,
    /// Multi-label models: what a text no label passes gets (`NoEmotion`, or
    /// `TopLabel` under `--at-least-one`).
    pub when_none: Option<String>,
    /// What the answers' probabilities are: `raw` (the head's softmax or
    /// sigmoids) or the calibration map fitted on validation (`temperature`,
    /// `platt`, `isotonic`).
    pub probabilities: String,
    /// The encoder's identity as the model records it (name, weights' sha256, pooling…).
    #[schema(value_type = Object)]
    pub encoder: serde_json::Value,
    pub device: String,
    pub precision: String,
    pub max_batch_tokens: usize,
    pub max_texts: usize,
    pub queue: usize,
    /// Where the model's report is served (`/report/`), when its folder has one.
    pub report: Option<String>,
}
