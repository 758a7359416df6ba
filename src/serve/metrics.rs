//! What `GET /metrics` says, in the Prometheus text format. The counters live
//! here, below both the routes (requests, their latency) and the worker
//! (queue, batches), so that neither knows of the other's.
//!
//! `prometheus-client` (the Prometheus project's own Rust client) rather than
//! the older `prometheus` crate: no global registry, no protobuf dependency,
//! and it encodes OpenMetrics text, which every Prometheus version scrapes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    pub route: String,
}

type Latencies = Family<Route, Histogram, fn() -> Histogram>;

/// Seconds from 0.5 ms to about 65 s, doubling: a forward pass of one short
/// text on a GPU and a queue wait under overload on a CPU both fall inside.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteStatus, Counter>,
    pub latency: Latencies,
    pub queue_wait: Histogram,
    pub inference: Histogram,
    pub batch_texts: Histogram,
    pub batch_tokens: Histogram,
    pub batch_requests: Histogram,
    pub queue_depth: Gauge,
    pub cancelled: Counter,
    pub failed_passes: Counter,
    pub connections: Gauge,
    pub connections_closed: Family<Reason, Counter>,
}

/// Why the server closed a connection itself.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("emo");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let latency: Latencies = Family::new_with_constructor(seconds);
        registry.register(
            "request_duration_seconds",
            "Seconds from a request's arrival to its answer, by route",
            latency.clone(),
        );
        let queue_wait = seconds();
        registry.register(
            "queue_wait_seconds",
            "Seconds a request waited in the queue before its first forward pass",
            queue_wait.clone(),
        );
        let inference = seconds();
        registry.register(
            "inference_seconds",
            "Seconds of one forward pass (encoder and head)",
            inference.clone(),
        );
        let batch_texts = Histogram::new(exponential_buckets(1.0, 2.0, 15));
        registry.register(
            "batch_texts",
            "Texts in one forward pass",
            batch_texts.clone(),
        );
        let batch_tokens = Histogram::new(exponential_buckets(8.0, 2.0, 15));
        registry.register(
            "batch_tokens",
            "Tokens (after truncation) in one forward pass",
            batch_tokens.clone(),
        );
        let batch_requests = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register(
            "batch_requests",
            "Requests with texts in one forward pass (above 1: requests shared it)",
            batch_requests.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Requests waiting for the inference worker",
            queue_depth.clone(),
        );
        let cancelled = Counter::default();
        registry.register(
            "cancelled_texts",
            "Queued texts dropped because their client went away",
            cancelled.clone(),
        );
        let failed_passes = Counter::default();
        registry.register(
            "failed_passes",
            "Forward passes that failed (their requests answered 500)",
            failed_passes.clone(),
        );
        let connections = Gauge::default();
        registry.register("connections", "Open connections", connections.clone());
        let connections_closed = Family::<Reason, Counter>::default();
        registry.register(
            "connections_closed",
            "Connections the server closed: idle ones when every slot was taken (idle), \
             those whose client took no bytes of its answer for --write-timeout (write_timeout), \
             those still open when --shutdown-timeout ran out (shutdown)",
            connections_closed.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            queue_wait,
            inference,
            batch_texts,
            batch_tokens,
            batch_requests,
            queue_depth,
            cancelled,
            failed_passes,
            connections,
            connections_closed,
        }
    }

    /// The text `GET /metrics` answers.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
