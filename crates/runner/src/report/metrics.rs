//! Recording: per-worker-thread shards of counters and HDR histograms, merged into one
//! aggregate by the reporter every second.
//!
//! A VU records into the shard of the thread it is running on. Each shard has its own
//! mutex, which only that thread and the once-a-second reporter ever take, so the request
//! path never waits on other VUs.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::report::results::new_histogram;

/// At most this many distinct failure messages are kept per step.
pub const MAX_FAILURE_SAMPLES: usize = 5;
/// Failure messages are cut to this many bytes (a rendered URL can be huge).
pub const MAX_SAMPLE_BYTES: usize = 2048;

fn clip_sample(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_SAMPLE_BYTES {
        return message.into();
    }
    let mut cut = MAX_SAMPLE_BYTES;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes in all)", &message[..cut], message.len()).into()
}

/// A failed request's category, as reported in `errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Http4xx,
    Http5xx,
    Timeout,
    Connect,
    Dns,
    Tls,
    Protocol,
    BodyTooLarge,
    /// The server ended an event stream or closed a WebSocket before the expected events
    /// or replies arrived.
    StreamClosed,
    /// A redirect chain longer than the runner follows (usually a loop).
    TooManyRedirects,
    Check,
    Extract,
    Template,
    /// throng itself failed: a panic in a VU, a step or the engine, contained to the
    /// iteration it happened in. Any such error makes the run exit 3.
    Internal,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Http4xx => "http_4xx",
            Category::Http5xx => "http_5xx",
            Category::Timeout => "timeout",
            Category::Connect => "connect",
            Category::Dns => "dns",
            Category::Tls => "tls",
            Category::Protocol => "protocol",
            Category::BodyTooLarge => "body_too_large",
            Category::StreamClosed => "stream_closed",
            Category::TooManyRedirects => "too_many_redirects",
            Category::Check => "check",
            Category::Extract => "extract",
            Category::Template => "template",
            Category::Internal => "internal",
        }
    }
}

#[derive(Clone)]
pub struct StepRec {
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub failed: u64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub categories: HashMap<Category, u64>,
    pub statuses: HashMap<u16, u64>,
    pub samples: Vec<(String, u64)>,
    /// Messages of `sse` and `ws` steps; allocated on first use, so plain HTTP steps do not
    /// carry two more histograms per shard.
    pub messages: Option<Box<MessageRec>>,
}

/// What the messages of a streaming step measured.
#[derive(Clone)]
pub struct MessageRec {
    /// SSE: the gap between consecutive events; WebSocket: each message's round trip.
    pub hist: Histogram<u64>,
    /// SSE: from the start of the step to the first event.
    pub first: Histogram<u64>,
    pub sent: u64,
    pub received: u64,
}

impl Default for MessageRec {
    fn default() -> Self {
        MessageRec::new()
    }
}

impl MessageRec {
    fn new() -> MessageRec {
        MessageRec {
            hist: new_histogram(),
            first: new_histogram(),
            sent: 0,
            received: 0,
        }
    }

    fn drain_into(&mut self, into: &mut MessageRec) {
        for (a, b) in [
            (&mut self.hist, &mut into.hist),
            (&mut self.first, &mut into.first),
        ] {
            if !a.is_empty() {
                let _ = b.add(&*a);
                a.reset();
            }
        }
        into.sent += std::mem::take(&mut self.sent);
        into.received += std::mem::take(&mut self.received);
    }
}

/// Message counts and latencies of part of one streaming step, handed to
/// [`Recorder::messages`]; a step records in batches so a long stream holds no big buffer.
#[derive(Default)]
pub struct MessageBatch {
    pub sent: u64,
    pub received: u64,
    pub first: Option<Duration>,
    /// Per-message latencies in microseconds.
    pub latencies_us: Vec<u64>,
}

impl MessageBatch {
    /// Latencies buffered before the batch is flushed to the shard mid-stream.
    pub const FLUSH_AT: usize = 1024;
}

impl StepRec {
    fn new() -> StepRec {
        StepRec {
            hist: new_histogram(),
            requests: 0,
            failed: 0,
            checks_passed: 0,
            checks_failed: 0,
            categories: HashMap::new(),
            statuses: HashMap::new(),
            samples: Vec::new(),
            messages: None,
        }
    }

    fn add_sample(&mut self, message: &str, count: u64) {
        let message = clip_sample(message);
        let message = message.as_ref();
        if let Some(s) = self.samples.iter_mut().find(|s| s.0 == message) {
            s.1 += count;
        } else if self.samples.len() < MAX_FAILURE_SAMPLES {
            self.samples.push((message.to_string(), count));
        }
    }

    fn drain_into(&mut self, into: &mut StepRec) {
        if !self.hist.is_empty() {
            let _ = into.hist.add(&self.hist);
            self.hist.reset();
        }
        into.requests += std::mem::take(&mut self.requests);
        into.failed += std::mem::take(&mut self.failed);
        into.checks_passed += std::mem::take(&mut self.checks_passed);
        into.checks_failed += std::mem::take(&mut self.checks_failed);
        for (k, v) in self.categories.drain() {
            *into.categories.entry(k).or_default() += v;
        }
        for (k, v) in self.statuses.drain() {
            *into.statuses.entry(k).or_default() += v;
        }
        for (m, c) in self.samples.drain(..) {
            into.add_sample(&m, c);
        }
        if let Some(m) = self.messages.as_mut() {
            m.drain_into(
                into.messages
                    .get_or_insert_with(|| Box::new(MessageRec::new())),
            );
        }
    }
}

#[derive(Clone)]
pub struct ScenarioRec {
    pub hist: Histogram<u64>,
    pub iterations: u64,
    pub failed: u64,
    pub interrupted: u64,
}

impl ScenarioRec {
    fn new() -> ScenarioRec {
        ScenarioRec {
            hist: new_histogram(),
            iterations: 0,
            failed: 0,
            interrupted: 0,
        }
    }
}

/// Everything one shard (or the aggregate) has counted.
#[derive(Clone)]
pub struct Recorder {
    pub steps: Vec<StepRec>,
    pub scenarios: Vec<ScenarioRec>,
    /// Service times since the last reporter tick, for the timeline's percentiles.
    pub interval: Histogram<u64>,
    pub interval_requests: u64,
    pub interval_errors: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub conn_opened: u64,
    pub conn_reused: u64,
    pub dropped: u64,
}

/// What one request did, handed to [`Recorder::request`].
pub struct RequestRecord<'a> {
    pub step: usize,
    pub service: Duration,
    pub error: Option<(Category, Option<u16>, &'a str)>,
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub status: Option<u16>,
}

pub fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

impl Recorder {
    pub fn new(steps: usize, scenarios: usize) -> Recorder {
        Recorder {
            steps: (0..steps).map(|_| StepRec::new()).collect(),
            scenarios: (0..scenarios).map(|_| ScenarioRec::new()).collect(),
            interval: new_histogram(),
            interval_requests: 0,
            interval_errors: 0,
            bytes_sent: 0,
            bytes_received: 0,
            conn_opened: 0,
            conn_reused: 0,
            dropped: 0,
        }
    }

    pub fn request(&mut self, r: RequestRecord<'_>) {
        let us = micros(r.service);
        let s = &mut self.steps[r.step];
        // Latency is that of successful requests: a refused connect or a fast 500 is an
        // error to count, not a fast response to average in (Gatling's OK statistics).
        if r.error.is_none() {
            s.hist.saturating_record(us);
            self.interval.saturating_record(us);
        }
        s.requests += 1;
        s.checks_passed += r.checks_passed;
        s.checks_failed += r.checks_failed;
        if let Some(status) = r.status {
            if status >= 400 {
                *s.statuses.entry(status).or_default() += 1;
            }
        }
        self.interval_requests += 1;
        if let Some((cat, _, message)) = r.error {
            s.failed += 1;
            *s.categories.entry(cat).or_default() += 1;
            s.add_sample(message, 1);
            self.interval_errors += 1;
        }
    }

    /// Adds a batch of a streaming step's messages, and empties the batch.
    pub fn messages(&mut self, step: usize, batch: &mut MessageBatch) {
        let m = self.steps[step]
            .messages
            .get_or_insert_with(|| Box::new(MessageRec::new()));
        m.sent += std::mem::take(&mut batch.sent);
        m.received += std::mem::take(&mut batch.received);
        if let Some(first) = batch.first.take() {
            m.first.saturating_record(micros(first));
        }
        for us in batch.latencies_us.drain(..) {
            m.hist.saturating_record(us);
        }
    }

    pub fn iteration(
        &mut self,
        scenario: usize,
        latency: Duration,
        failed: bool,
        interrupted: bool,
    ) {
        let s = &mut self.scenarios[scenario];
        if interrupted {
            s.interrupted += 1;
            return;
        }
        s.hist.saturating_record(micros(latency));
        s.iterations += 1;
        if failed {
            s.failed += 1;
        }
    }

    /// Moves everything counted here into `into`, leaving this recorder empty.
    pub fn drain_into(&mut self, into: &mut Recorder) {
        for (a, b) in self.steps.iter_mut().zip(into.steps.iter_mut()) {
            a.drain_into(b);
        }
        for (a, b) in self.scenarios.iter_mut().zip(into.scenarios.iter_mut()) {
            if !a.hist.is_empty() {
                let _ = b.hist.add(&a.hist);
                a.hist.reset();
            }
            b.iterations += std::mem::take(&mut a.iterations);
            b.failed += std::mem::take(&mut a.failed);
            b.interrupted += std::mem::take(&mut a.interrupted);
        }
        if !self.interval.is_empty() {
            let _ = into.interval.add(&self.interval);
            self.interval.reset();
        }
        into.interval_requests += std::mem::take(&mut self.interval_requests);
        into.interval_errors += std::mem::take(&mut self.interval_errors);
        into.bytes_sent += std::mem::take(&mut self.bytes_sent);
        into.bytes_received += std::mem::take(&mut self.bytes_received);
        into.conn_opened += std::mem::take(&mut self.conn_opened);
        into.conn_reused += std::mem::take(&mut self.conn_reused);
        into.dropped += std::mem::take(&mut self.dropped);
    }
}

/// One recorder per worker thread (plus spares for threads outside the runtime).
pub struct Shards {
    shards: Vec<Mutex<Recorder>>,
    next: AtomicUsize,
    /// Distinguishes runs in one process, so a thread's cached index is per run.
    run_id: usize,
}

static RUN_IDS: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    static SHARD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

impl Shards {
    pub fn new(count: usize, steps: usize, scenarios: usize) -> Shards {
        Shards {
            shards: (0..count.max(1))
                .map(|_| Mutex::new(Recorder::new(steps, scenarios)))
                .collect(),
            next: AtomicUsize::new(0),
            run_id: RUN_IDS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// This thread's shard; threads are assigned round-robin on first use.
    pub fn local(&self) -> MutexGuard<'_, Recorder> {
        let idx = SHARD.with(|c| {
            let (run, idx) = c.get();
            if run == self.run_id {
                idx
            } else {
                let idx = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
                c.set((self.run_id, idx));
                idx
            }
        });
        self.shards[idx].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drains every shard into `agg`.
    pub fn collect(&self, agg: &mut Recorder) {
        for s in &self.shards {
            s.lock().unwrap_or_else(|p| p.into_inner()).drain_into(agg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_merge_counts_histograms_and_samples() {
        let shards = std::sync::Arc::new(Shards::new(2, 1, 1));
        let hs: Vec<_> = (0..2)
            .map(|t| {
                let shards = shards.clone();
                std::thread::spawn(move || {
                    for i in 0..100u64 {
                        let msg = format!("m{}", i % 7);
                        shards.local().request(RequestRecord {
                            step: 0,
                            service: Duration::from_millis(10 + t),
                            error: (i % 10 == 0).then_some((Category::Check, None, msg.as_str())),
                            checks_passed: 1,
                            checks_failed: 0,
                            status: Some(200),
                        });
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let mut agg = Recorder::new(1, 1);
        shards.collect(&mut agg);
        assert_eq!(agg.steps[0].requests, 200);
        assert_eq!(agg.steps[0].failed, 20);
        // Latency is recorded for the 180 successful requests only.
        assert_eq!(agg.steps[0].hist.len(), 180);
        assert_eq!(agg.steps[0].categories[&Category::Check], 20);
        assert!(agg.steps[0].samples.len() <= MAX_FAILURE_SAMPLES);
        assert_eq!(agg.steps[0].samples.len(), MAX_FAILURE_SAMPLES);
        assert!(agg.steps[0].samples.iter().map(|s| s.1).sum::<u64>() <= 20);
        let mut again = Recorder::new(1, 1);
        shards.collect(&mut again);
        assert_eq!(again.steps[0].requests, 0);
    }
}
