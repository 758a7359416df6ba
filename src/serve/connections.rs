//! The connections: accepted under a cap, closed when they hold a place
//! without use, and all ended within a bound when the server stops.
//!
//! A client costs the server a connection slot (of `--max-connections`) for
//! as long as its connection is open, and its answer's memory for as long as
//! the answer is unsent. Three kinds of client would hold both forever:
//!
//! - one that sends nothing, or its headers slowly: hyper's header timer
//!   (`--request-timeout`), which also closes a connection idle between
//!   requests;
//! - one that asks and never reads its answer: once the system's socket
//!   buffers are full, writing stalls; a connection whose writes make no
//!   progress for `--write-timeout` is closed ([`TimedIo`]);
//! - one that reads its answer and then keeps its connection open for more:
//!   when every slot is taken, connections idle after an answer are closed
//!   (as nginx does with its keep-alive connections), so a new client is
//!   served within moments instead of waiting for the idle timeout.
//!
//! Shutdown asks every connection to finish the request it is on and close;
//! those still open after `--shutdown-timeout` are cut, and the count said.

use super::metrics::{Metrics, Reason};
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::{Instant, Sleep};

/// How connections are bounded (from `emo serve`'s flags).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// For a request's headers, and between requests.
    pub header_timeout: Duration,
    /// Without any byte of an answer taken by the client.
    pub write_timeout: Duration,
    pub shutdown_timeout: Duration,
}

/// Why [`serve`] stopped accepting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM or Ctrl-C.
    Signal,
    /// The inference worker has gone.
    WorkerGone,
}

/// What one connection is doing, as far as closing it is concerned.
#[derive(Default)]
struct ConnState {
    /// Requests received and not yet answered by the router.
    busy: AtomicUsize,
    /// Requests answered.
    served: AtomicUsize,
    /// A write is waiting for the client to take bytes.
    write_stalled: AtomicBool,
    /// Asked to close (idle, or shutdown).
    closing: AtomicBool,
}

impl ConnState {
    /// Idle after an answer: nothing in progress, nothing unsent. A
    /// connection that has not yet had a request is not idle (its request
    /// may be on its way); the header timer bounds it.
    fn idle(&self) -> bool {
        self.served.load(Ordering::SeqCst) > 0
            && self.busy.load(Ordering::SeqCst) == 0
            && !self.write_stalled.load(Ordering::SeqCst)
    }
}

struct Handle {
    state: Arc<ConnState>,
    close: Arc<Notify>,
}

/// Every open connection, so that idle ones can be closed and all of them
/// told to finish.
#[derive(Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Handle>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Handle>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the idle connections to close; how many were asked.
    fn close_idle(&self, metrics: &Metrics) -> usize {
        let mut n = 0;
        for h in self.lock().values() {
            if h.state.idle() && !h.state.closing.swap(true, Ordering::SeqCst) {
                h.close.notify_one();
                n += 1;
            }
        }
        metrics
            .connections_closed
            .get_or_create(&Reason { reason: "idle" })
            .inc_by(n as u64);
        n
    }

    fn close_all(&self) {
        for h in self.lock().values() {
            h.state.closing.store(true, Ordering::SeqCst);
            h.close.notify_one();
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Serves `app` on `listener` until `stop` resolves, then lets every
/// connection finish its request, for at most `shutdown_timeout`. Returns
/// why it stopped and how many connections were cut at the bound.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    stop: impl Future<Output = Stop>,
    metrics: Arc<Metrics>,
) -> (Stop, usize) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let registry = Arc::new(Registry::default());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_id = 0u64;
    let mut stop = std::pin::pin!(stop);
    let why = 'accept: loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            // Every slot taken: free the idle ones (again every 100 ms, as
            // connections go idle) until one is free.
            Err(_) => loop {
                registry.close_idle(&metrics);
                tokio::select! {
                    biased;
                    why = &mut stop => break 'accept why,
                    slot = slots.clone().acquire_owned() => {
                        break slot.expect("the semaphore is never closed")
                    }
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            },
        };
        let stream = tokio::select! {
            biased;
            why = &mut stop => break 'accept why,
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
        // Small answers are written at once: no reason to wait for more.
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let id = next_id;
        let state = Arc::new(ConnState::default());
        let close = Arc::new(Notify::new());
        registry.lock().insert(
            id,
            Handle {
                state: state.clone(),
                close: close.clone(),
            },
        );
        // A `while` rather than `tasks.spawn` alone: finished tasks are reaped
        // here, or the set would keep every connection's result.
        while tasks.try_join_next().is_some() {}
        let io = TokioIo::new(TimedIo::new(
            stream,
            limits.write_timeout,
            state.clone(),
            metrics.clone(),
        ));
        // The app for this connection, counting its requests in and out, so
        // that the connection's idleness is known.
        let service = {
            let (app, state) = (app.clone(), state.clone());
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                use tower_service::Service as _;
                let mut app = app.clone();
                state.busy.fetch_add(1, Ordering::SeqCst);
                // Counted out when the answer is ready, or when the request
                // is dropped unanswered (its connection closed).
                let out = Answered(state.clone());
                async move {
                    let answer = app.call(req.map(Body::new)).await;
                    drop(out);
                    answer
                }
            })
        };
        let conn = http.serve_connection(io, service);
        let registry = registry.clone();
        let metrics = metrics.clone();
        metrics.connections.inc();
        tasks.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut asked = false;
            loop {
                tokio::select! {
                    // A client that breaks off or times out is its own business.
                    _ = conn.as_mut() => break,
                    _ = close.notified(), if !asked => {
                        // Finish the request in progress, if any, then close.
                        conn.as_mut().graceful_shutdown();
                        asked = true;
                    }
                }
            }
            registry.lock().remove(&id);
            metrics.connections.dec();
            drop(slot);
        });
    };
    drop(listener);
    eprintln!(
        "emo serve: stopping: no new connections; answering the {} open (at most {} s)",
        registry.len(),
        limits.shutdown_timeout.as_secs_f64()
    );
    registry.close_all();
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let cut = match drained {
        Ok(()) => 0,
        Err(_) => {
            let n = tasks.len();
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            metrics
                .connections_closed
                .get_or_create(&Reason { reason: "shutdown" })
                .inc_by(n as u64);
            n
        }
    };
    (why, cut)
}

struct Answered(Arc<ConnState>);

impl Drop for Answered {
    fn drop(&mut self) {
        self.0.served.fetch_add(1, Ordering::SeqCst);
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A TCP stream whose writes fail with `TimedOut` once they have waited
/// `timeout` without the client taking a byte: a stalled write holds its
/// connection, its slot and its answer's memory until then, no longer.
/// Reading is not timed here: a request waiting for the worker reads nothing
/// for as long as `--request-timeout` allows.
struct TimedIo {
    inner: TcpStream,
    timeout: Duration,
    /// Armed while a write waits.
    timer: Pin<Box<Sleep>>,
    stalled: bool,
    state: Arc<ConnState>,
    metrics: Arc<Metrics>,
}

impl TimedIo {
    fn new(
        inner: TcpStream,
        timeout: Duration,
        state: Arc<ConnState>,
        metrics: Arc<Metrics>,
    ) -> TimedIo {
        TimedIo {
            inner,
            timeout,
            timer: Box::pin(tokio::time::sleep(timeout)),
            stalled: false,
            state,
            metrics,
        }
    }

    /// What a write (or flush) that returned `result` gives, the timer
    /// started on its first wait and cleared by any progress.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(r) => {
                if self.stalled {
                    self.stalled = false;
                    self.state.write_stalled.store(false, Ordering::SeqCst);
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !self.stalled {
                    self.stalled = true;
                    self.state.write_stalled.store(true, Ordering::SeqCst);
                    let deadline = Instant::now() + self.timeout;
                    self.timer.as_mut().reset(deadline);
                }
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.metrics
                            .connections_closed
                            .get_or_create(&Reason {
                                reason: "write_timeout",
                            })
                            .inc();
                        Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client took none of its answer for --write-timeout",
                        )))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.timed(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.timed(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        this.timed(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.timed(cx, r)
    }
}
