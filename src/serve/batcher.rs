//! Dynamic batching: the one inference worker and the bounded queue that
//! feeds it.
//!
//! libtorch tensors and the encoder are used from one thread only, so a plain
//! `std::thread` owns the [`Predictor`]; requests reach it through a bounded
//! queue (a full one is refused at once, never waited on) and get their
//! answers back on a tokio oneshot. The worker packs the texts waiting, in
//! arrival order, into forward passes of at most `max_batch_tokens` tokens:
//! many small requests share one pass, and one large request is split across
//! several (its answer goes back when its last text is done). A request whose
//! client has gone (its oneshot receiver dropped) is dropped before its next
//! pass, so a disconnected client costs no more inference, and gives up its
//! place in the queue as soon as that place is wanted.
//!
//! Texts arrive already tokenised (by the request handlers, on other
//! threads): the worker does nothing per text but run passes, so a request
//! of long texts delays no one else by its tokenising. A pass that fails
//! (tch panics on libtorch errors: CUDA out of memory, an index past a
//! table) answers its requests with an error, is logged, and the worker goes
//! on with the next.

use super::metrics::Metrics;
use crate::embed::Matrix;
use crate::predict::{Answer, Predictor};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What a request wants of its texts.
#[derive(Debug, Clone, Copy)]
pub enum Work {
    /// The model's answers, listing `top_k` labels (as `emo classify --top-k`).
    Classify { top_k: usize },
    /// The encoder's vectors.
    Embed,
    /// The head's logits, as `emo quantify` reads them.
    Logits,
}

/// A request's result, in its texts' order.
pub enum Output {
    Answers(Vec<Answer>),
    Vectors(Vec<Vec<f32>>),
}

/// One request's texts, tokenised, on their way to the worker.
pub struct Job {
    pub work: Work,
    pub tokens: Vec<Vec<i64>>,
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

/// The requests waiting for the worker. A deque under a lock rather than a
/// channel: a request whose client has gone must give its place up at once,
/// not when the worker reaches it. Clients that time out or are cut off leave
/// their requests behind; in a channel those would hold its places for as
/// long as the worker takes to reach them, and every new request meanwhile
/// would be refused (measured: a load generator restarting its 64 clients met
/// a queue of 64 full of its own abandoned requests and got thousands of 429s).
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    capacity: usize,
}

struct State {
    jobs: VecDeque<Job>,
    /// Set when the server has stopped taking requests, or the worker has
    /// gone: the worker returns once the jobs are done.
    closed: bool,
}

/// The sending end of the queue, one clone per request handler.
#[derive(Clone)]
pub struct Queue {
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// Queues `job` or refuses it at once; never waits.
    pub fn submit(&self, job: Job) -> Result<(), Refused> {
        let mut state = self.shared.lock();
        room(&mut state, self.shared.capacity, &self.metrics)?;
        state.jobs.push_back(job);
        self.metrics.queue_depth.inc();
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Whether a job would be taken now: checked before a request is
    /// tokenised, so that a full queue costs a refused request nothing.
    pub fn check(&self) -> Result<(), Refused> {
        room(&mut self.shared.lock(), self.shared.capacity, &self.metrics)
    }

    /// Takes no more jobs: the worker answers those it holds and returns.
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

/// Whether `state` takes one more job, after dropping abandoned ones if full.
fn room(state: &mut State, capacity: usize, metrics: &Metrics) -> Result<(), Refused> {
    if state.closed {
        return Err(Refused::Stopped);
    }
    if state.jobs.len() >= capacity {
        drop_abandoned(&mut state.jobs, metrics);
        if state.jobs.len() >= capacity {
            return Err(Refused::Full);
        }
    }
    Ok(())
}

/// Drops the queued jobs whose clients have gone.
fn drop_abandoned(jobs: &mut VecDeque<Job>, metrics: &Metrics) {
    jobs.retain(|job| {
        let gone = job.reply.is_closed();
        if gone {
            metrics.queue_depth.dec();
            metrics.cancelled.inc_by(job.tokens.len() as u64);
        }
        !gone
    });
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the deque whole: go on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The worker's end of the queue.
pub struct Receiver {
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
}

/// What [`Receiver::take`] found.
enum Taken {
    Job(Job),
    /// Nothing came before the deadline.
    Empty,
    /// Nothing is left and nothing more will come.
    Closed,
}

impl Receiver {
    /// The oldest job whose client is still there, waiting for one until
    /// `deadline` (`None`: for as long as it takes).
    fn take(&self, deadline: Option<Instant>) -> Taken {
        let mut state = self.shared.lock();
        loop {
            while let Some(job) = state.jobs.pop_front() {
                self.metrics.queue_depth.dec();
                if job.reply.is_closed() {
                    self.metrics.cancelled.inc_by(job.tokens.len() as u64);
                    continue;
                }
                return Taken::Job(job);
            }
            if state.closed {
                return Taken::Closed;
            }
            let wake = &self.shared.wake;
            state = match deadline {
                None => wake.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Taken::Empty;
                    }
                    let waited = wake.wait_timeout(state, d - now);
                    waited.unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
    }
}

impl Drop for Receiver {
    /// A worker that has gone (it panicked) takes no more jobs; those queued
    /// are dropped, so their handlers answer at once instead of waiting.
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        self.metrics.queue_depth.dec_by(state.jobs.len() as i64);
        state.jobs.clear();
    }
}

/// A queue of `capacity` requests and its receiving end, for [`work`].
pub fn queue(capacity: usize, metrics: Arc<Metrics>) -> (Queue, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            jobs: VecDeque::new(),
            closed: false,
        }),
        wake: Condvar::new(),
        capacity,
    });
    let rx = Receiver {
        shared: shared.clone(),
        metrics: metrics.clone(),
    };
    (Queue { shared, metrics }, rx)
}

/// How the worker forms its batches.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_batch_tokens: usize,
    pub max_wait: Duration,
}

/// A request the worker has taken from the queue, part answered.
struct InFlight {
    work: Work,
    /// Taken when the answer is sent: the request is then done.
    reply: Option<oneshot::Sender<Result<Output, String>>>,
    queued: Instant,
    tokens: Vec<Vec<i64>>,
    /// Texts already in a forward pass.
    next: usize,
    /// Tokens of the texts not yet in one.
    remaining: usize,
    /// Per text, once its chunk has run (chunks finish out of text order).
    answers: Vec<Option<Answer>>,
    vectors: Vec<Option<Vec<f32>>>,
    /// Texts answered.
    finished: usize,
}

impl InFlight {
    fn new(job: Job) -> InFlight {
        let tokens = job.tokens;
        let n = tokens.len();
        let (answers, vectors) = match job.work {
            Work::Classify { .. } => (vec![None; n], Vec::new()),
            Work::Embed | Work::Logits => (Vec::new(), vec![None; n]),
        };
        InFlight {
            work: job.work,
            reply: Some(job.reply),
            queued: job.queued,
            remaining: tokens.iter().map(Vec::len).sum(),
            tokens,
            next: 0,
            answers,
            vectors,
            finished: 0,
        }
    }

    /// Sends the answer once every text has one.
    fn answer_if_done(&mut self) {
        if self.finished < self.tokens.len() {
            return;
        }
        let Some(reply) = self.reply.take() else {
            return;
        };
        let every = "a finished request has every text answered";
        let out = match self.work {
            Work::Classify { .. } => Output::Answers(
                std::mem::take(&mut self.answers)
                    .into_iter()
                    .map(|a| a.expect(every))
                    .collect(),
            ),
            Work::Embed | Work::Logits => Output::Vectors(
                std::mem::take(&mut self.vectors)
                    .into_iter()
                    .map(|v| v.expect(every))
                    .collect(),
            ),
        };
        let _ = reply.send(Ok(out));
    }
}

/// Answers jobs until every sender is gone (the server has stopped and every
/// accepted request has been answered), then returns.
pub fn work(predictor: &Predictor, rx: Receiver, limits: Limits, metrics: &Metrics) {
    let mut pending: VecDeque<InFlight> = VecDeque::new();
    let mut passes = 0u64;
    loop {
        if pending.is_empty() {
            match rx.take(None) {
                Taken::Job(job) => pending.push_back(InFlight::new(job)),
                Taken::Empty | Taken::Closed => return,
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
            match rx.take(Some(deadline)) {
                Taken::Job(job) => pending.push_back(InFlight::new(job)),
                Taken::Empty | Taken::Closed => break,
            }
        }
        if !pending.is_empty() {
            passes += 1;
            run_pass(predictor, &mut pending, limits, metrics, passes);
        }
    }
}

/// Drops the requests whose clients have gone.
fn drop_cancelled(pending: &mut VecDeque<InFlight>, metrics: &Metrics) {
    pending.retain(|f| {
        let gone = f.reply.as_ref().is_none_or(|r| r.is_closed());
        if gone {
            metrics.cancelled.inc_by((f.tokens.len() - f.next) as u64);
        }
        !gone
    });
}

/// One forward pass over the texts at the front of `pending`, up to the token
/// budget (always at least one text, however long). Each request is answered
/// as soon as the chunk holding its last text has run, and removed after the
/// pass.
fn run_pass(
    predictor: &Predictor,
    pending: &mut VecDeque<InFlight>,
    limits: Limits,
    metrics: &Metrics,
    number: u64,
) {
    // (request, text) of each text of the pass, in pass order.
    let mut texts: Vec<(usize, usize)> = Vec::new();
    let mut batch: Vec<Vec<i64>> = Vec::new();
    let mut used = 0usize;
    'fill: for (r, f) in pending.iter_mut().enumerate() {
        while f.next < f.tokens.len() {
            let len = f.tokens[f.next].len();
            if !batch.is_empty() && used + len > limits.max_batch_tokens {
                break 'fill;
            }
            if f.next == 0 {
                metrics.queue_wait.observe(f.queued.elapsed().as_secs_f64());
            }
            used += len;
            f.remaining -= len;
            batch.push(std::mem::take(&mut f.tokens[f.next]));
            texts.push((r, f.next));
            f.next += 1;
        }
    }
    metrics.batch_texts.observe(batch.len() as f64);
    metrics.batch_tokens.observe(used as f64);
    let mut requests: Vec<usize> = texts.iter().map(|&(r, _)| r).collect();
    requests.dedup();
    metrics.batch_requests.observe(requests.len() as f64);
    super::fault::before_pass(number, &mut batch);
    let started = Instant::now();
    // Unwind safety: a panic leaves at worst some texts of `pending` answered
    // and others not; the ones not answered are answered with the error below.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        predictor.embed_tokens(&batch, |chunk, m| {
            answer_chunk(predictor, pending, &texts, chunk, &m)?;
            // Every client of the pass gone (none can be answered yet, or
            // the pass would be over): the rest of it is work for no one.
            let gone = |r: &usize| pending[*r].reply.as_ref().is_none_or(|x| x.is_closed());
            if requests.iter().all(gone) {
                return Err(anyhow::Error::new(Abandoned));
            }
            Ok(())
        })
    }))
    .unwrap_or_else(|payload| Err(crate::error::panic_error(payload.as_ref())));
    metrics.inference.observe(started.elapsed().as_secs_f64());
    let result = result.or_else(|e| if e.is::<Abandoned>() { Ok(()) } else { Err(e) });
    if let Err(e) = result {
        // The requests of this pass not yet answered cannot be; the others
        // still can. The client hears only that it failed: the cause (which
        // may name files of the server) goes to the log.
        let unanswered: Vec<usize> = requests
            .iter()
            .copied()
            .filter(|&r| pending[r].reply.is_some())
            .collect();
        metrics.failed_passes.inc();
        // Logged before answering, so the log holds the cause by the time a
        // client reads its 500.
        eprintln!(
            "emo serve: a forward pass of {} texts failed ({} requests answered 500): {e:#}",
            batch.len(),
            unanswered.len()
        );
        for r in unanswered {
            if let Some(reply) = pending[r].reply.take() {
                let _ = reply.send(Err(
                    "inference failed on this request's forward pass; the server's log says why"
                        .into(),
                ));
            }
        }
    }
    pending.retain(|f| f.reply.is_some());
}

/// Stops a pass whose clients have all gone.
#[derive(Debug)]
struct Abandoned;

impl std::fmt::Display for Abandoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("every client of the pass has gone")
    }
}

impl std::error::Error for Abandoned {}

/// Gives the texts of one chunk (`chunk`: indices into the pass's `texts`, rows
/// of `m`) their vectors or their answers (the head runs once over the
/// chunk's classify rows), then answers the requests the chunk finished.
fn answer_chunk(
    predictor: &Predictor,
    pending: &mut VecDeque<InFlight>,
    texts: &[(usize, usize)],
    chunk: &[usize],
    m: &Matrix,
) -> anyhow::Result<()> {
    let mut classify: Vec<usize> = Vec::new();
    let mut logits: Vec<usize> = Vec::new();
    for (row, &t) in chunk.iter().enumerate() {
        let (r, i) = texts[t];
        let f = &mut pending[r];
        match f.work {
            Work::Classify { .. } => classify.push(row),
            Work::Logits => logits.push(row),
            Work::Embed => {
                f.vectors[i] = Some(m.row(row).to_vec());
                f.finished += 1;
            }
        }
    }
    let rows_of = |rows: &[usize]| Matrix {
        rows: rows.len(),
        cols: m.cols,
        data: rows
            .iter()
            .flat_map(|&row| m.row(row).iter().copied())
            .collect(),
    };
    if !logits.is_empty() {
        let z = predictor.logits_of(&rows_of(&logits))?;
        let c = z.len() / logits.len();
        for (&row, z) in logits.iter().zip(z.chunks(c)) {
            let (r, i) = texts[chunk[row]];
            let f = &mut pending[r];
            f.vectors[i] = Some(z.iter().map(|&v| v as f32).collect());
            f.finished += 1;
        }
    }
    if !classify.is_empty() {
        let x = rows_of(&classify);
        for (&row, answer) in classify.iter().zip(predictor.answer_vectors(&x)?) {
            let (r, i) = texts[chunk[row]];
            let f = &mut pending[r];
            if let Work::Classify { top_k } = f.work {
                f.answers[i] = Some(answer.truncated(top_k));
                f.finished += 1;
            }
        }
    }
    for &t in chunk {
        pending[texts[t].0].answer_if_done();
    }
    Ok(())
}
