//! `emo serve`: a saved model over HTTP, another front end over the same
//! [`crate::predict`] core as `emo classify`.
//!
//! The pieces: [`batcher`] (the bounded queue and the one inference worker,
//! dynamic batching by a token budget), [`routes`] (reading and checking
//! requests, JSON errors), [`connections`] (the accept loop: connection cap,
//! timeouts, bounded shutdown), [`metrics`] (Prometheus), [`openapi`] and
//! [`schema`] (the document), [`fault`] (what the tests inject), and two
//! self-contained pages (`page.html`, `docs.html`).
//!
//! The libraries, and why: axum on hyper and tokio, the most used Rust HTTP
//! stack, whose extractors and router save hand-written parsing; hyper's
//! connections under our own accept loop, which exists for what `axum::serve`
//! lacks (header and write timeouts, the connection cap, a bounded graceful
//! shutdown); tower-http for the body limit and the
//! timeouts, as layers rather than checks in every handler; prometheus-client
//! and utoipa, see [`metrics`] and [`openapi`].

pub mod batcher;
pub mod connections;
pub mod fault;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod schema;

use crate::decision::WhenNonePasses;
use crate::embed::{EmbedOptions, Encoder, TextTokenizer};
use crate::model::SavedModel;
use crate::predict::Predictor;
use anyhow::{Context as _, Result};
use axum::routing::{get, post};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the server runs (from `emo serve`'s flags).
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub max_batch_tokens: usize,
    pub max_wait: Duration,
    pub queue: usize,
    pub max_texts: usize,
    pub max_text_chars: usize,
    pub max_request_tokens: usize,
    pub payload_limit: usize,
    pub request_timeout: Duration,
    pub write_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub max_connections: usize,
    /// `--allowed-hosts`: the Host names answered; `None`, any.
    pub allowed_hosts: Option<Vec<String>>,
    /// `--at-least-one`: overrides a multi-label model's saved choice.
    pub when_none: Option<WhenNonePasses>,
    /// `--raw-probabilities`: the head's own probabilities, not calibrated ones.
    pub raw_probabilities: bool,
    pub model_dir: PathBuf,
}

/// What `GET /v1/model` says of `model` run by `encoder`.
fn model_info(model: &SavedModel, encoder: &Encoder, opts: &Options) -> schema::ModelInfo {
    let m = &model.manifest;
    let multi = m.multi_label.as_ref();
    schema::ModelInfo {
        // The folder's name, not its path: a client has no business with the
        // server's file system.
        model: opts
            .model_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        task: serde_json::to_value(m.task)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        method: m.method.clone(),
        labels: m.labels.clone(),
        thresholds: multi.map(|d| d.thresholds.iter().map(|t| t.value).collect()),
        when_none: multi.and_then(|d| {
            serde_json::to_value(opts.when_none.unwrap_or(d.when_none))
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        }),
        probabilities: match (&m.calibration, opts.raw_probabilities) {
            (Some(c), false) => c.kind().name().to_string(),
            _ => "raw".to_string(),
        },
        encoder: serde_json::to_value(encoder.identity()).unwrap_or_default(),
        device: crate::embed::device_name(encoder.device()),
        precision: encoder.precision().name().to_string(),
        max_batch_tokens: opts.max_batch_tokens,
        max_texts: opts.max_texts,
        queue: opts.queue,
        report: report_dir(&opts.model_dir).map(|_| "/report/".to_string()),
    }
}

/// The model's report folder: `report/` or the model folder itself, whichever
/// holds an `index.html`.
fn report_dir(model_dir: &std::path::Path) -> Option<PathBuf> {
    [model_dir.join("report"), model_dir.to_path_buf()]
        .into_iter()
        .find(|d| d.join("index.html").is_file())
}

/// Serves `model` until SIGTERM or Ctrl-C, then stops accepting, answers
/// every request already accepted (for at most `--shutdown-timeout`), and
/// returns. Returns an error when the inference thread has gone, so that the
/// process exits non-zero and a supervisor restarts it. `load_encoder` runs
/// on the inference thread (see there why).
pub fn run(
    model: SavedModel,
    load_encoder: impl FnOnce(&SavedModel) -> Result<Encoder> + Send + 'static,
    opts: Options,
) -> Result<()> {
    let metrics = Arc::new(metrics::Metrics::new());
    let single_label = model.manifest.multi_label.is_none();
    // A model saved before emo kept validation outputs serves everything
    // but `/v1/quantify`, which then says why.
    let quantifier = crate::quantify::Quantifier::of(&model, &opts.model_dir)
        .map(Arc::new)
        .map_err(|e| format!("{e:#}"));
    let ready = Arc::new(AtomicBool::new(false));
    let (queue, rx) = batcher::queue(opts.queue, metrics.clone());
    let when_none = opts.when_none;
    let raw = opts.raw_probabilities;
    let limits = batcher::Limits {
        max_batch_tokens: opts.max_batch_tokens,
        max_wait: opts.max_wait,
    };
    let gone = Arc::new(WorkerGone::default());

    // The worker owns the model and the encoder: libtorch is used from this
    // one thread, and the encoder is loaded (and libtorch's threads set) here
    // too. Loaded on the main thread and run on this one, the same passes
    // took 10-30% longer on CPU, with more system time (measured with
    // MiniLM on 2 cores, against loading and running on one thread). It says
    // once whether it could start, what `GET /v1/model` is to say, and how
    // to tokenise.
    type Started = (schema::ModelInfo, TextTokenizer);
    let (started_tx, started_rx) = std::sync::mpsc::channel::<Result<Started>>();
    let worker = {
        let metrics = metrics.clone();
        let ready = ready.clone();
        let gone = gone.clone();
        let opts = opts.clone();
        std::thread::Builder::new()
            .name("emo-inference".into())
            .spawn(move || {
                // Said however the thread ends, a panic included.
                let _gone = Leaving {
                    gone: &gone,
                    ready: &ready,
                };
                let serve = || -> Result<()> {
                    let encoder = load_encoder(&model)?;
                    let embed = EmbedOptions {
                        cache_dir: None,
                        progress: false,
                        ..EmbedOptions::default()
                    };
                    let all = model.manifest.labels.len();
                    let predictor = Predictor::new(&model, &encoder, &embed, all, when_none, raw)?;
                    ready.store(true, Ordering::SeqCst);
                    let info = model_info(&model, &encoder, &opts);
                    let _ = started_tx.send(Ok((info, predictor.text_tokenizer())));
                    batcher::work(&predictor, rx, limits, &metrics);
                    Ok(())
                };
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(serve)) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        let _ = started_tx.send(Err(e));
                    }
                    Err(payload) => {
                        let e = crate::error::panic_error(payload.as_ref());
                        eprintln!("emo serve: the inference thread stopped: {e:#}");
                        gone.why
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .replace(format!("{e:#}"));
                    }
                }
            })
            .context("cannot start the inference thread")?
    };
    let (info, tokenizer) = started_rx
        .recv()
        .context("the inference thread stopped while starting")??;

    let closer = queue.clone();
    let state = routes::AppState {
        queue,
        metrics: metrics.clone(),
        info: Arc::new(info),
        tokenizer,
        ready: ready.clone(),
        single_label,
        max_texts: opts.max_texts,
        max_text_chars: opts.max_text_chars,
        max_request_tokens: opts.max_request_tokens,
        payload_limit: opts.payload_limit,
        allowed_hosts: opts.allowed_hosts.clone().map(Arc::new),
        report: report_dir(&opts.model_dir),
        quantifier,
    };
    let app = axum::Router::new()
        .route("/", get(routes::page))
        .route("/docs", get(openapi::docs))
        .route("/openapi.json", get(openapi::json))
        .route("/health", get(routes::health))
        .route("/ready", get(routes::ready))
        .route("/metrics", get(routes::metrics))
        .route("/v1/model", get(routes::model))
        .route("/v1/classify", post(routes::classify))
        .route("/v1/embed", post(routes::embed))
        .route("/v1/quantify", post(routes::quantify))
        // `/report/` is what the page links (so the report's own relative
        // links resolve under it); `/report` alone is the same page.
        .route("/report", get(routes::report_index))
        .route("/report/", get(routes::report_index))
        .route("/report/{file}", get(routes::report))
        // The body limit is tower-http's (413 before a byte past it is read);
        // axum's own default of 2 MB would otherwise apply as well.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            opts.payload_limit,
        ))
        // The whole request is bounded in time, reading a slow client's body
        // included (the handler reads it, inside this layer), so one limit
        // answers 408 for both; a timed-out request's queued texts are dropped
        // with it.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            opts.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routes::observe,
        ))
        .with_state(state);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((opts.host.as_str(), opts.port))
            .await
            .map_err(|e| {
                crate::input_error!("cannot listen on {}:{}: {e}", opts.host, opts.port)
            })?;
        let addr = listener.local_addr()?;
        eprintln!("emo serve: listening on http://{addr}");
        let stop = async {
            tokio::select! {
                _ = shutdown_signal() => connections::Stop::Signal,
                _ = gone.notify.notified() => connections::Stop::WorkerGone,
            }
        };
        let limits = connections::Limits {
            max_connections: opts.max_connections,
            header_timeout: opts.request_timeout,
            write_timeout: opts.write_timeout,
            shutdown_timeout: opts.shutdown_timeout,
        };
        let ready_flag = ready.clone();
        let stop = async move {
            let why = stop.await;
            ready_flag.store(false, Ordering::SeqCst);
            why
        };
        anyhow::Ok(connections::serve(listener, app, limits, stop, metrics).await)
    });
    // Every connection is closed, each request answered or cut: the worker
    // finishes what it holds (nothing, unless a request was cut, and a pass
    // whose clients have all gone stops after its current chunk) and
    // returns. The runtime's blocking threads (tokenising) get a moment.
    runtime.shutdown_timeout(Duration::from_millis(500));
    closer.close();
    let (why, cut) = served?;
    if cut > 0 {
        eprintln!(
            "emo serve: cut {cut} connections still open after --shutdown-timeout ({} s)",
            opts.shutdown_timeout.as_secs_f64()
        );
    }
    if why == connections::Stop::WorkerGone {
        // Not joined: it has ended. The error says why, for the supervisor's log.
        let why = gone.why.lock().unwrap_or_else(|e| e.into_inner()).take();
        return Err(anyhow::anyhow!(
            "the inference thread stopped ({}); exiting so that a supervisor restarts the server",
            why.unwrap_or_else(|| "no reason given".into())
        ));
    }
    // Joined once it has finished, waited for a second at
    // most: the shutdown is bounded, and a pass cannot be interrupted.
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while !worker.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if worker.is_finished() {
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("the inference thread panicked"))?;
    } else {
        eprintln!("emo serve: the inference thread is still in a forward pass; exiting without it");
        eprintln!("emo serve: stopped");
        // A normal exit runs libtorch's static destructors while that pass
        // still uses libtorch (seen: the pass then fails with "Invalid
        // (backend, op) pair", and it could as well crash). `_exit` ends the
        // process at once; nothing is left to flush (the server writes to
        // stderr only, unbuffered).
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        // SAFETY: `_exit` takes no pointers; the process ends here.
        unsafe { libc::_exit(0) }
    }
    eprintln!("emo serve: stopped");
    Ok(())
}

/// Set when the inference thread ends: the server then stops and exits
/// non-zero, since every later request could only be refused.
#[derive(Default)]
struct WorkerGone {
    notify: tokio::sync::Notify,
    why: std::sync::Mutex<Option<String>>,
}

/// Held by the inference thread: dropped however the thread ends.
struct Leaving<'a> {
    gone: &'a WorkerGone,
    ready: &'a AtomicBool,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.ready.store(false, Ordering::SeqCst);
        // A stored permit: the accept loop sees it even if not yet waiting.
        self.gone.notify.notify_one();
    }
}

/// SIGTERM (what service managers and Kubernetes send) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
