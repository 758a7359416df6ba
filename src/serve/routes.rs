//! The HTTP routes: reading and checking requests, queueing their texts,
//! and writing the answers. Every error is JSON ([`ApiError`]) naming the
//! field at fault where there is one.

use super::batcher::{Job, Output, Queue, Refused, Work};
use super::metrics::{Metrics, Route, RouteStatus};
use super::schema::{
    ClassifyRequest, ClassifyResponse, EmbedRequest, EmbedResponse, EmbedResult, ErrorBody,
    ModelInfo, QuantifyRequest, QuantifyResponse, Status, TextErrors,
};
use crate::embed::TextTokenizer;
use crate::quantify::{key_of, Method, Quantifier, DEFAULT_ESTIMATOR};
use crate::report::shares::{self, GroupShares};
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub queue: Queue,
    pub metrics: Arc<Metrics>,
    pub info: Arc<ModelInfo>,
    /// The encoder's tokenizer: requests are tokenised in their handlers.
    pub tokenizer: TextTokenizer,
    /// Model loaded and worker running; false again once shutdown begins, or
    /// once the worker has gone.
    pub ready: Arc<AtomicBool>,
    pub single_label: bool,
    pub max_texts: usize,
    pub max_text_chars: usize,
    pub max_request_tokens: usize,
    pub payload_limit: usize,
    /// `--allowed-hosts`: the Host names answered (none: any).
    pub allowed_hosts: Option<Arc<Vec<String>>>,
    /// The folder of the model's report (`index.html`), when it has one.
    pub report: Option<PathBuf>,
    /// What `/v1/quantify` estimates with, or why the model cannot.
    pub quantifier: Result<Arc<Quantifier>, String>,
}

/// An error answer: status, message, the field at fault.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }

    fn field(field: impl Into<String>, message: impl std::fmt::Display) -> ApiError {
        let field = field.into();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{field}: {message}"),
            field: Some(field),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            field: self.field,
        };
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            // One second: about the time a few forward passes take to drain a queue.
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

/// Counts every answer by route and status, times it, and turns the plain
/// error answers of the layers and the router (413 from the body limit, 408
/// from the timeout, 404, 405) into JSON errors like the handlers' own.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let mut response = match host_refused(&state, req.headers()) {
        Some(refusal) => refusal.into_response(),
        None => next.run(req).await,
    };
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => format!(
                "the request body is over the {}-byte limit (--payload-limit)",
                state.payload_limit
            ),
            StatusCode::REQUEST_TIMEOUT => {
                "the request took longer than --request-timeout".to_string()
            }
            StatusCode::NOT_FOUND => "no such route (see GET /openapi.json)".to_string(),
            StatusCode::METHOD_NOT_ALLOWED => {
                "this route does not take that method (see GET /openapi.json)".to_string()
            }
            s => s.canonical_reason().unwrap_or("error").to_string(),
        };
        let mut fresh = ApiError::new(status, message).into_response();
        // Keep what the layer said beside its status (Allow on a 405).
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                fresh.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = fresh;
    }
    state
        .metrics
        .requests
        .get_or_create(&RouteStatus {
            route: route.clone(),
            status: status.as_u16(),
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&Route { route })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// With `--allowed-hosts`, a request whose Host is not among them: a page
/// of another site whose name was made to resolve to this server (DNS
/// rebinding) sends its own name, and is refused before any route runs.
fn host_refused(state: &AppState, headers: &HeaderMap) -> Option<ApiError> {
    let allowed = state.allowed_hosts.as_ref()?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = host_name(host);
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
        None
    } else {
        Some(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("Host {host:?} is not one this server answers (--allowed-hosts)"),
        ))
    }
}

/// A Host header's name without its port: `[::1]:8080` → `::1`, `a.b:80` → `a.b`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
}

/// The body as a JSON object, or the error that says why not.
fn json_object(
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
        });
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be a JSON object, e.g. {\"texts\": [\"…\"]}",
        )),
    }
}

/// `texts` (or `text`), checked: strings, not blank, not too long, not too
/// many. Taken out of `body`, which the caller then drops: a request holds no
/// more than its texts while it waits for the worker.
fn texts_of(
    body: &mut serde_json::Map<String, Value>,
    allowed: &[&str],
    state: &AppState,
) -> Result<Vec<String>, ApiError> {
    let (max_texts, max_chars) = (state.max_texts, state.max_text_chars);
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::field(
            k.clone(),
            format!("unknown field (known: {})", allowed.join(", ")),
        ));
    }
    let one = |field: String, v: Value| -> Result<String, ApiError> {
        match v {
            Value::String(s) if s.trim().is_empty() => Err(ApiError::field(field, "empty text")),
            Value::String(s) => {
                // Bytes bound characters from above: most texts are not counted.
                if s.len() > max_chars && s.chars().count() > max_chars {
                    return Err(ApiError::field(
                        field,
                        format!(
                            "{} characters; at most {max_chars} a text (--max-text-chars)",
                            s.chars().count()
                        ),
                    ));
                }
                Ok(s)
            }
            _ => Err(ApiError::field(field, "not a string")),
        }
    };
    match (body.remove("texts"), body.remove("text")) {
        (Some(_), Some(_)) => Err(ApiError::field("text", "give texts or text, not both")),
        (None, None) => Err(ApiError::field("texts", "missing (give texts or text)")),
        (None, Some(t)) => Ok(vec![one("text".into(), t)?]),
        (Some(Value::Array(items)), None) => {
            if items.is_empty() {
                return Err(ApiError::field("texts", "empty: give at least one text"));
            }
            if items.len() > max_texts {
                return Err(ApiError::field(
                    "texts",
                    format!(
                        "{} texts; at most {max_texts} a request (--max-texts)",
                        items.len()
                    ),
                ));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| one(format!("texts[{i}]"), v))
                .collect()
        }
        (Some(_), None) => Err(ApiError::field("texts", "not an array of strings")),
    }
}

fn refusal(r: Refused) -> ApiError {
    match r {
        Refused::Full => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "the queue is full; retry after a moment",
        ),
        Refused::Stopped => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the inference worker has stopped",
        ),
    }
}

/// `texts` tokenised on a blocking thread of the runtime (not the inference
/// worker, which other requests wait on; not an async thread, which other
/// connections need), and refused past `--max-request-tokens`. Returns the
/// texts too, which went to that thread and back.
async fn tokenize(
    state: &AppState,
    texts: Vec<String>,
) -> Result<(Vec<String>, Vec<Vec<i64>>), ApiError> {
    // A full queue refuses before any tokenising (and again when queueing).
    state.queue.check().map_err(refusal)?;
    let tokenizer = state.tokenizer.clone();
    let done = tokio::task::spawn_blocking(move || {
        let tokens: anyhow::Result<Vec<Vec<i64>>> =
            texts.iter().map(|t| tokenizer.tokenize(t)).collect();
        (texts, tokens)
    })
    .await;
    let (texts, tokens) = done.map_err(|e| {
        eprintln!("emo serve: tokenising a request failed: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot tokenise the texts",
        )
    })?;
    let tokens = tokens.map_err(|e| {
        // The tokenizer's error names its file: for the log, not the client.
        eprintln!("emo serve: {e:#}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the encoder's tokenizer cannot tokenise these texts; the server's log says why",
        )
    })?;
    let total: usize = tokens.iter().map(Vec::len).sum();
    if total > state.max_request_tokens {
        return Err(ApiError::field(
            "texts",
            format!(
                "{total} tokens after truncation; at most {} a request (--max-request-tokens)",
                state.max_request_tokens
            ),
        ));
    }
    Ok((texts, tokens))
}

/// Queues `tokens` and waits for the worker's answer. A dropped future (the
/// client went away, or the timeout fired) drops the receiver, which the
/// worker sees and skips the request's remaining texts.
async fn submit(state: &AppState, work: Work, tokens: Vec<Vec<i64>>) -> Result<Output, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Job {
        work,
        tokens,
        reply: tx,
        queued: Instant::now(),
    };
    state.queue.submit(job).map_err(refusal)?;
    match rx.await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(msg)) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg)),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the inference worker stopped before answering",
        )),
    }
}

/// Classify texts
///
/// Each text's labels and probabilities, in order, exactly as
/// `emo classify --output-format jsonl` gives them for the same texts.
#[utoipa::path(post, path = "/v1/classify", request_body = ClassifyRequest,
    responses((status = 200, body = ClassifyResponse), TextErrors))]
pub async fn classify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut body = json_object(&headers, body)?;
    let texts = texts_of(&mut body, &["texts", "text", "top_k"], &state)?;
    let top_k = match body.get("top_k") {
        None | Some(Value::Null) => usize::from(state.single_label),
        Some(v) => match v.as_u64() {
            Some(k) if k >= 1 => k.min(u32::MAX as u64) as usize,
            _ => return Err(ApiError::field("top_k", "must be a whole number ≥ 1")),
        },
    };
    drop(body);
    let top_k = top_k.min(state.info.labels.len());
    let (texts, tokens) = tokenize(&state, texts).await?;
    let Output::Answers(answers) = submit(&state, Work::Classify { top_k }, tokens).await? else {
        unreachable!("a classify job is answered with answers")
    };
    let results: Vec<Value> = answers
        .iter()
        .zip(&texts)
        .enumerate()
        .map(|(i, (a, text))| {
            let mut v = serde_json::Map::new();
            v.insert("id".into(), json!((i + 1).to_string()));
            v.insert("text".into(), json!(text));
            v.extend(a.to_json(top_k));
            Value::Object(v)
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// Embed texts
///
/// The encoder's vectors, as `emo embed --out -` gives them.
#[utoipa::path(post, path = "/v1/embed", request_body = EmbedRequest,
    responses((status = 200, body = EmbedResponse), TextErrors))]
pub async fn embed(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<EmbedResponse>, ApiError> {
    let mut body = json_object(&headers, body)?;
    let texts = texts_of(&mut body, &["texts", "text"], &state)?;
    drop(body);
    let (texts, tokens) = tokenize(&state, texts).await?;
    drop(texts);
    let Output::Vectors(vectors) = submit(&state, Work::Embed, tokens).await? else {
        unreachable!("an embed job is answered with vectors")
    };
    // Serialised from the vectors themselves: a JSON tree of them first would
    // take several times the answer's size, per request in flight.
    let results = vectors
        .into_iter()
        .enumerate()
        .map(|(i, vector)| EmbedResult {
            id: (i + 1).to_string(),
            vector,
        })
        .collect();
    Ok(Json(EmbedResponse { results }))
}

/// Most bootstrap replicates a request may ask for: each is a pass of the
/// estimator over the request's texts, on the server's CPU.
const MAX_BOOTSTRAP: u64 = 10_000;

/// Estimate emotion shares
///
/// Each emotion's share of the texts with its 95% interval, exactly as
/// `emo quantify --output-format json` gives it for the same texts read as the
/// lines of a text file (a text's bootstrap weights come from its position).
#[utoipa::path(post, path = "/v1/quantify", request_body = QuantifyRequest,
    responses((status = 200, body = QuantifyResponse),
        (status = 409, description = "the model keeps no validation outputs (saved before emo could quantify)", body = ErrorBody),
        TextErrors))]
pub async fn quantify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut body = json_object(&headers, body)?;
    let texts = texts_of(
        &mut body,
        &["texts", "text", "estimator", "bootstrap", "seed"],
        &state,
    )?;
    let estimator = match body.get("estimator") {
        None | Some(Value::Null) => DEFAULT_ESTIMATOR,
        Some(v) => v
            .as_str()
            .and_then(|s| Method::ALL.into_iter().find(|m| m.name() == s))
            .ok_or_else(|| {
                ApiError::field("estimator", "must be one of cc, pcc, acc, pacc, sld")
            })?,
    };
    let whole = |field: &str, default: u64, max: u64| match body.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().filter(|&x| x <= max).ok_or_else(|| {
            ApiError::field(field, format!("must be a whole number from 0 to {max}"))
        }),
    };
    let bootstrap = whole("bootstrap", 1000, MAX_BOOTSTRAP)? as usize;
    let seed = whole("seed", 0, u64::MAX)?;
    drop(body);
    let quantifier = state
        .quantifier
        .clone()
        .map_err(|why| ApiError::new(StatusCode::CONFLICT, why))?;
    let (texts, tokens) = tokenize(&state, texts).await?;
    let n = texts.len();
    drop(texts);
    let Output::Vectors(logits) = submit(&state, Work::Logits, tokens).await? else {
        unreachable!("a logits job is answered with vectors")
    };
    // The estimator and its bootstrap run on a blocking thread: not on the
    // inference worker, which other requests wait on.
    let answer = tokio::task::spawn_blocking(move || {
        let logits: Vec<f64> = logits.into_iter().flatten().map(f64::from).collect();
        let said = quantifier.said(&logits);
        let keys: Vec<u64> = (1..=n).map(|line| key_of(None, line)).collect();
        let group = GroupShares {
            group: None,
            texts: n,
            shares: quantifier.estimate(estimator, &said, &keys, bootstrap, seed),
        };
        shares::json(estimator.name(), &quantifier.labels, &[group])
    })
    .await
    .map_err(|e| {
        eprintln!("emo serve: estimating shares failed: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "estimating the shares failed",
        )
    })?;
    Ok(Json(answer))
}

/// The model
///
/// Its classes, method, thresholds, encoder, device and precision.
#[utoipa::path(get, path = "/v1/model", responses((status = 200, body = ModelInfo)))]
pub async fn model(State(state): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(&*state.info).unwrap_or_default())
}

/// Alive
#[utoipa::path(get, path = "/health", responses((status = 200, body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// Ready to answer
///
/// 200 once the model is loaded and the worker runs; 503 before, and from the
/// moment shutdown begins, so a load balancer sends no more.
#[utoipa::path(get, path = "/ready", responses(
    (status = 200, body = Status),
    (status = 503, description = "not ready, or stopping", body = ErrorBody)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    if state.ready.load(Ordering::SeqCst) {
        Ok(Json(Status {
            status: "ready".into(),
        }))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready (starting or stopping)",
        ))
    }
}

/// Prometheus metrics
///
/// Requests by route and status; latency histograms (queue, inference,
/// total); batch sizes in texts and tokens; queue depth.
#[utoipa::path(get, path = "/metrics", responses(
    (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

/// The page where a person types a text and sees its emotions
#[utoipa::path(get, path = "/", responses((status = 200, description = "an HTML page", content_type = "text/html")))]
pub async fn page() -> Html<&'static str> {
    Html(include_str!("page.html"))
}

/// A file of the model's report
///
/// Present when the model folder holds a report (`report/index.html` or `index.html`).
#[utoipa::path(get, path = "/report/{file}", params(("file" = String, Path, description = "a file name in the report folder")),
    responses((status = 200, description = "the file"), (status = 404, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "no such report file");
    let dir = state.report.as_ref().ok_or_else(not_found)?;
    let kind = report_file_kind(&file).ok_or_else(not_found)?;
    let path = dir.join(&file);
    let bytes = tokio::task::spawn_blocking(move || read_regular_file(&path))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(not_found)?;
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}

/// The content type of a file the report route serves, or `None` for a name
/// it does not: a plain name (no separators, nothing hidden, so no `..`) of
/// a kind a report is made of. A model folder may be its own report folder,
/// so of JSON files only the report's own are served, never `manifest.json`.
fn report_file_kind(file: &str) -> Option<&'static str> {
    if file.is_empty() || file.starts_with('.') || file.contains(['/', '\\', '\0']) {
        return None;
    }
    let (_, ext) = file.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "md" => "text/plain; charset=utf-8",
        "json" if REPORT_JSON.contains(&file) => "application/json",
        _ => return None,
    })
}

/// The JSON files a report writes.
const REPORT_JSON: [&str; 2] = ["metrics.json", "timings.json"];

/// A regular file's bytes; a symbolic link (to anywhere) is refused, at the
/// open itself so that nothing can swap one in after a check.
fn read_regular_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let mut f = open.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `/report` alone: its index page.
pub async fn report_index(state: State<AppState>) -> Result<Response, ApiError> {
    report(state, UrlPath("index.html".into())).await
}
