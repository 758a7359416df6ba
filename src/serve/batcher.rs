//! Dynamic batching: the one inference worker and the bounded queue that
//! feeds it.
//!
//! libtorch tensors and the encoder are used from one thread only, so a plain
//! `std::thread` owns the [`Predictor`]; requests reach it through a bounded
//! channel (a full one is refused at once, never waited on) and get their
//! answers back on a tokio oneshot. The worker packs the texts waiting, in
//! arrival order, into forward passes of at most `max_batch_tokens` tokens:
//! many small requests share one pass, and one large request is split across
//! several (its answer goes back when its last text is done). A request whose
//! client has gone (its oneshot receiver dropped) is dropped before its next
//! pass, so a disconnected client costs no more inference.

use super::metrics::Metrics;
use crate::embed::Matrix;
use crate::predict::{Answer, Predictor};
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What a request wants of its texts.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    /// The model's answers, listing `top_k` labels (as `emo classify --top-k`).
    Classify { top_k: usize },
    /// The encoder's vectors.
    Embed,
}

/// A request's result, in its texts' order.
pub enum Output {
    Answers(Vec<Answer>),
    Vectors(Vec<Vec<f32>>),
}

/// One request's texts on their way to the worker.
pub struct Job {
    pub work: Work,
    pub texts: Vec<String>,
    pub reply: oneshot::Sender<Result<Output, String>>,
    pub queued: Instant,
}

/// Why the queue took no job.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// As many requests wait as the queue holds: try again shortly.
    Full,
    /// The worker has stopped.
    Stopped,
}

/// The sending end of the queue, one clone per request handler.
#[derive(Clone)]
pub struct Queue {
    tx: SyncSender<Job>,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// Queues `job` or refuses it at once; never waits.
    pub fn submit(&self, job: Job) -> Result<(), Refused> {
        // Counted before sending, so the worker's decrement never comes first.
        self.metrics.queue_depth.inc();
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.metrics.queue_depth.dec();
                Err(match e {
                    TrySendError::Full(_) => Refused::Full,
                    TrySendError::Disconnected(_) => Refused::Stopped,
                })
            }
        }
    }
}

/// A queue of `capacity` requests and its receiving end, for [`work`].
pub fn queue(capacity: usize, metrics: Arc<Metrics>) -> (Queue, Receiver<Job>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
    (Queue { tx, metrics }, rx)
}

/// How the worker forms its batches.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_batch_tokens: usize,
    pub max_wait: Duration,
}

/// A request the worker has taken from the queue, part answered.
struct InFlight {
    job: Job,
    tokens: Vec<Vec<i64>>,
    /// Texts already in a forward pass.
    next: usize,
    /// Tokens of the texts not yet in one.
    remaining: usize,
    answers: Vec<Answer>,
    vectors: Vec<Vec<f32>>,
}

impl InFlight {
    fn done(&self) -> bool {
        self.next == self.tokens.len()
    }
}

/// Answers jobs until every sender is gone (the server has stopped and every
/// accepted request has been answered), then returns.
pub fn work(predictor: &Predictor, rx: Receiver<Job>, limits: Limits, metrics: &Metrics) {
    let mut pending: VecDeque<InFlight> = VecDeque::new();
    let admit = |job: Job, pending: &mut VecDeque<InFlight>| {
        metrics.queue_depth.dec();
        let tokens: Result<Vec<Vec<i64>>, _> =
            job.texts.iter().map(|t| predictor.tokenize(t)).collect();
        match tokens {
            Ok(tokens) => pending.push_back(InFlight {
                remaining: tokens.iter().map(Vec::len).sum(),
                answers: Vec::new(),
                vectors: Vec::new(),
                next: 0,
                tokens,
                job,
            }),
            Err(e) => {
                let _ = job.reply.send(Err(format!("cannot tokenise: {e:#}")));
            }
        }
    };
    loop {
        if pending.is_empty() {
            match rx.recv() {
                Ok(job) => admit(job, &mut pending),
                Err(_) => return,
            }
        }
        // Fill the pass: take what waits, and wait up to max_wait for more
        // while the texts in hand are under the token budget.
        let deadline = Instant::now() + limits.max_wait;
        loop {
            drop_cancelled(&mut pending, metrics);
            let waiting: usize = pending.iter().map(|f| f.remaining).sum();
            if waiting >= limits.max_batch_tokens {
                break;
            }
            match rx.try_recv() {
                Ok(job) => admit(job, &mut pending),
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    match rx.recv_timeout(deadline - now) {
                        Ok(job) => admit(job, &mut pending),
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    }
                }
            }
        }
        if !pending.is_empty() {
            run_pass(predictor, &mut pending, limits, metrics);
        }
    }
}

/// Drops the requests whose clients have gone.
fn drop_cancelled(pending: &mut VecDeque<InFlight>, metrics: &Metrics) {
    pending.retain(|f| {
        let gone = f.job.reply.is_closed();
        if gone {
            metrics.cancelled.inc_by((f.tokens.len() - f.next) as u64);
        }
        !gone
    });
}

/// One forward pass over the texts at the front of `pending`, up to the token
/// budget (always at least one text, however long); finished requests are
/// answered and removed.
fn run_pass(
    predictor: &Predictor,
    pending: &mut VecDeque<InFlight>,
    limits: Limits,
    metrics: &Metrics,
) {
    // (request, first text, end) in pass order; a request's texts are contiguous.
    let mut segments: Vec<(usize, usize, usize)> = Vec::new();
    let mut batch: Vec<Vec<i64>> = Vec::new();
    let mut used = 0usize;
    'fill: for (r, f) in pending.iter_mut().enumerate() {
        let start = f.next;
        while f.next < f.tokens.len() {
            let len = f.tokens[f.next].len();
            if !batch.is_empty() && used + len > limits.max_batch_tokens {
                if f.next > start {
                    segments.push((r, start, f.next));
                }
                break 'fill;
            }
            if f.next == 0 {
                metrics
                    .queue_wait
                    .observe(f.job.queued.elapsed().as_secs_f64());
            }
            used += len;
            f.remaining -= len;
            batch.push(std::mem::take(&mut f.tokens[f.next]));
            f.next += 1;
        }
        if f.next > start {
            segments.push((r, start, f.next));
        }
    }
    metrics.batch_texts.observe(batch.len() as f64);
    metrics.batch_tokens.observe(used as f64);
    let started = Instant::now();
    let result = forward(predictor, pending, &segments, &batch);
    metrics.inference.observe(started.elapsed().as_secs_f64());
    if let Err(e) = result {
        // The requests in this pass cannot be answered; the others still can.
        let msg = format!("inference failed: {e:#}");
        for &(r, _, _) in segments.iter().rev() {
            if let Some(f) = pending.remove(r) {
                let _ = f.job.reply.send(Err(msg.clone()));
            }
        }
        return;
    }
    // Answer the finished requests (only those in this pass can have finished).
    for &(r, _, _) in segments.iter().rev() {
        if pending[r].done() {
            let f = pending.remove(r).expect("index from this pass");
            let out = match f.job.work {
                Work::Classify { .. } => Output::Answers(f.answers),
                Work::Embed => Output::Vectors(f.vectors),
            };
            let _ = f.job.reply.send(Ok(out));
        }
    }
}

/// Embeds `batch` once, then gives each segment its vectors or its answers
/// (the head runs once over every classify row of the pass).
fn forward(
    predictor: &Predictor,
    pending: &mut VecDeque<InFlight>,
    segments: &[(usize, usize, usize)],
    batch: &[Vec<i64>],
) -> anyhow::Result<()> {
    let m = predictor.embed_tokens(batch)?;
    let mut classify_rows: Vec<f32> = Vec::new();
    let mut row = 0usize;
    for &(r, start, end) in segments {
        let n = end - start;
        let rows = &m.data[row * m.cols..(row + n) * m.cols];
        match pending[r].job.work {
            Work::Classify { .. } => classify_rows.extend_from_slice(rows),
            Work::Embed => pending[r]
                .vectors
                .extend(rows.chunks_exact(m.cols).map(<[f32]>::to_vec)),
        }
        row += n;
    }
    if classify_rows.is_empty() {
        return Ok(());
    }
    let x = Matrix {
        rows: classify_rows.len() / m.cols,
        cols: m.cols,
        data: classify_rows,
    };
    let mut answers = predictor.answer_vectors(&x)?.into_iter();
    for &(r, start, end) in segments {
        if let Work::Classify { top_k } = pending[r].job.work {
            let f = &mut pending[r];
            f.answers.extend(
                answers
                    .by_ref()
                    .take(end - start)
                    .map(|a| a.truncated(top_k)),
            );
        }
    }
    Ok(())
}
