//! `emo serve`: a saved model over HTTP, another front end over the same
//! [`crate::predict`] core as `emo classify`.
//!
//! The pieces: [`batcher`] (the bounded queue and the one inference worker,
//! dynamic batching by a token budget), [`routes`] (reading and checking
//! requests, JSON errors), [`metrics`] (Prometheus), [`openapi`] and
//! [`schema`] (the document), and two self-contained pages (`page.html`,
//! `docs.html`).
//!
//! The libraries, and why: axum on hyper and tokio, the most used Rust HTTP
//! stack, whose extractors and router save hand-written parsing; hyper-util's
//! graceful shutdown gives SIGTERM its meaning (stop accepting, finish what was
//! accepted) in our accept loop, which exists for the header timeout and the
//! connection cap `axum::serve` lacks; tower-http for the body limit and the
//! timeouts, as layers rather than checks in every handler; prometheus-client
//! and utoipa, see [`metrics`] and [`openapi`].

pub mod batcher;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod schema;

use crate::decision::WhenNonePasses;
use crate::embed::{EmbedOptions, Encoder};
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
    pub payload_limit: usize,
    pub request_timeout: Duration,
    pub max_connections: usize,
    /// `--at-least-one`: overrides a multi-label model's saved choice.
    pub when_none: Option<WhenNonePasses>,
    pub model_dir: PathBuf,
}

/// What `GET /v1/model` says of `model` run by `encoder`.
fn model_info(model: &SavedModel, encoder: &Encoder, opts: &Options) -> schema::ModelInfo {
    let m = &model.manifest;
    let multi = m.multi_label.as_ref();
    schema::ModelInfo {
        model: opts.model_dir.display().to_string(),
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
/// every request already accepted, and returns. `load_encoder` runs on the
/// inference thread (see there why).
pub fn run(
    model: SavedModel,
    load_encoder: impl FnOnce(&SavedModel) -> Result<Encoder> + Send + 'static,
    opts: Options,
) -> Result<()> {
    let metrics = Arc::new(metrics::Metrics::new());
    let single_label = model.manifest.multi_label.is_none();
    let ready = Arc::new(AtomicBool::new(false));
    let (queue, rx) = batcher::queue(opts.queue, metrics.clone());
    let when_none = opts.when_none;
    let limits = batcher::Limits {
        max_batch_tokens: opts.max_batch_tokens,
        max_wait: opts.max_wait,
    };

    // The worker owns the model and the encoder: libtorch is used from this
    // one thread, and the encoder is loaded (and libtorch's threads set) here
    // too. Loaded on the main thread and run on this one, the same passes
    // took 10-30% longer on CPU, with more system time (measured with
    // MiniLM on 2 cores, against loading and running on one thread). It says
    // once whether it could start, and what `GET /v1/model` is to say.
    let (started_tx, started_rx) = std::sync::mpsc::channel::<Result<schema::ModelInfo>>();
    let worker = {
        let metrics = metrics.clone();
        let ready = ready.clone();
        let opts = opts.clone();
        std::thread::Builder::new()
            .name("emo-inference".into())
            .spawn(move || {
                let encoder = match load_encoder(&model) {
                    Ok(encoder) => encoder,
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                let embed = EmbedOptions {
                    cache_dir: None,
                    progress: false,
                    ..EmbedOptions::default()
                };
                let all = model.manifest.labels.len();
                match Predictor::new(&model, &encoder, &embed, all, when_none) {
                    Ok(predictor) => {
                        ready.store(true, Ordering::SeqCst);
                        let _ = started_tx.send(Ok(model_info(&model, &encoder, &opts)));
                        batcher::work(&predictor, rx, limits, &metrics);
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                    }
                };
            })
            .context("cannot start the inference thread")?
    };
    let info = Arc::new(
        started_rx
            .recv()
            .context("the inference thread stopped while starting")??,
    );

    let closer = queue.clone();
    let state = routes::AppState {
        queue,
        metrics,
        info,
        ready: ready.clone(),
        single_label,
        max_texts: opts.max_texts,
        payload_limit: opts.payload_limit,
        report: report_dir(&opts.model_dir),
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
        accept_until_stopped(listener, app, &opts, &ready).await;
        anyhow::Ok(())
    });
    // Every handler is gone, each answered: the worker finishes what it
    // holds (nothing, unless a handler was cut off) and returns.
    drop(runtime);
    closer.close();
    served?;
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the inference thread panicked"))?;
    eprintln!("emo serve: stopped");
    Ok(())
}

/// Accepts connections until SIGTERM or Ctrl-C, then closes the listener and
/// lets every open connection finish the request it is on.
///
/// Our own loop rather than `axum::serve`, which gives hyper no timer: without
/// one, a client that opens a connection and sends its headers slowly, or
/// nothing at all, holds it forever, and nothing bounds how many it opens.
/// Here headers (and idle keep-alive connections) get `--request-timeout`, and
/// at most `--max-connections` are open: past that the loop stops accepting,
/// so new clients wait in the system's backlog instead of costing memory.
async fn accept_until_stopped(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    opts: &Options,
    ready: &AtomicBool,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(opts.request_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_connections));
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        let slot = tokio::select! {
            biased;
            _ = &mut stop => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            biased;
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection gone before it was
                    // taken: the listener still works; a pause keeps a lasting
                    // error from spinning.
                    eprintln!("emo serve: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Answers are small and written at once: no reason to wait for more.
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that breaks off or times out is its own business.
            let _ = conn.await;
            drop(slot);
        });
    }
    ready.store(false, Ordering::SeqCst);
    eprintln!("emo serve: stopping: no new connections; answering those accepted");
    drop(listener);
    graceful.shutdown().await;
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
