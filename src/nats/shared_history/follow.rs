//! Reads the shared history stream into this process's in-memory history: the newest checkpoint and the rounds after it (else the retention window), which is what a fresh process needs for its first query, then every round as it is stored, with an ordered consumer; broken messages are skipped and counted. The process that holds the sampling lease writes a checkpoint when one is due.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use super::SharedHistory;
use crate::metrics;
use crate::model::history::checkpoint::{self, Mark};
use crate::model::history::wire::{Assembler, Kind, Records, Round};
use crate::model::history::History;
use crate::nats::discovery::{Discovery, Registry};
use crate::sync::lock;

/// Where reading resumes after the consumer failed.
enum From {
    Time(chrono::DateTime<chrono::Utc>),
    Sequence(u64),
}

/// What reading keeps between messages: the latest round time per kind, the unfinished
/// rounds, the newest ping round not yet taught to the registry, and what loading the window
/// cost (logged once, when it is loaded).
#[derive(Default)]
struct Progress {
    latest: HashMap<Kind, i64>,
    assembler: Assembler<Bytes>,
    last_sequence: Option<u64>,
    unlearned: Option<Round<Bytes>>,
    load: Load,
    /// Rounds put into the history since the last checkpoint this process wrote (or restored).
    rounds_since_checkpoint: usize,
}

/// The cost of loading the window: messages and bytes read, time spent putting them into the
/// history, and since when.
#[derive(Default)]
struct Load {
    started: Option<std::time::Instant>,
    messages: u64,
    bytes: u64,
    ingest: Duration,
    done: bool,
}

impl Load {
    fn read(&mut self, bytes: usize) {
        self.started.get_or_insert_with(std::time::Instant::now);
        self.messages += 1;
        self.bytes += bytes as u64;
    }

    fn finish(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let elapsed = self.started.map_or(Duration::ZERO, |s| s.elapsed());
        tracing::info!(
            messages = self.messages,
            bytes = self.bytes,
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            ingest_ms = self.ingest.as_secs_f64() * 1e3,
            "history window loaded from the stream"
        );
    }
}

impl Progress {
    /// Put one round into the history, unless it is not newer than the latest round of its
    /// kind. While a backlog is read, only its newest ping round teaches the connection's
    /// registry who to expect (`caught_up` then teaches it).
    fn ingest(&mut self, (history, shared): (&Mutex<History>, &SharedHistory), round: Round<Bytes>) {
        let retention_ms = lock(history).retention_ms();
        match dated(round.t, chrono::Utc::now().timestamp_millis(), retention_ms) {
            Dated::Future => return shared.reject("future"),
            Dated::Expired => return shared.reject("expired"),
            Dated::Within => {}
        }
        if self.latest.get(&round.kind).is_some_and(|t| *t >= round.t) {
            return shared.reject("out_of_order");
        }
        self.latest.insert(round.kind, round.t);
        shared.read_round(round.kind, round.t);
        self.rounds_since_checkpoint += 1;
        if round.partial {
            metrics::global().history_message("partial");
        }
        let (mut records, rejected) = round.decode();
        // Probe results carry times of their own: each is held to the same window as rounds.
        if let Records::Probes(results) = &mut records {
            let now = chrono::Utc::now().timestamp_millis();
            results.retain(|r| match dated(r.t_ms, now, retention_ms) {
                Dated::Within => true,
                Dated::Future => {
                    shared.reject("future");
                    false
                }
                Dated::Expired => {
                    shared.reject("expired");
                    false
                }
            });
        }
        let m = metrics::global();
        for _ in 0..round.messages() - rejected {
            m.history_message("ingested");
        }
        for _ in 0..rejected {
            shared.reject("rejected");
        }
        lock(history).ingest_round(round.t, &records, !round.partial && rejected == 0);
        drop(records);
        if round.kind == Kind::Ping {
            self.unlearned = Some(round);
        }
    }

    fn caught_up(&mut self, registry: &Registry) {
        let Some(round) = self.unlearned.take() else {
            return;
        };
        if let (Records::Ping(samples), Some(t)) = (round.decode().0, chrono::DateTime::from_timestamp_millis(round.t))
        {
            registry.learn(t, &samples);
        }
    }
}

/// How far ahead of this host's clock a round may be dated: the clock skew between Grafana
/// replicas the shared history tolerates. A round dated later is rejected (else one forged
/// round from the future would stop every later one as out of order).
pub const MAX_CLOCK_SKEW_MS: i64 = 60_000;

/// Where a round's time stands against this host's clock.
#[derive(Debug, PartialEq, Eq)]
enum Dated {
    Within,
    Future,
    Expired,
}

/// A round counts when it is dated within [now − retention − skew, now + skew].
fn dated(t: i64, now: i64, retention_ms: i64) -> Dated {
    if t > now.saturating_add(MAX_CLOCK_SKEW_MS) {
        Dated::Future
    } else if t < now.saturating_sub(retention_ms).saturating_sub(MAX_CLOCK_SKEW_MS) {
        Dated::Expired
    } else {
        Dated::Within
    }
}

/// Follow the stream for as long as the task lives. `loaded` turns true once the window that
/// was in the stream when reading started has been read.
pub async fn run(
    shared: Arc<SharedHistory>,
    discovery: Arc<Discovery>,
    history: Arc<Mutex<History>>,
    retention: Duration,
    loaded: watch::Sender<bool>,
) {
    let start = chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::hours(1));
    // Unfinished rounds count in the history's budget: never more than it is held for them.
    let budget = lock(&history).budget();
    let mut progress = Progress {
        assembler: Assembler::with_limit(budget),
        ..Progress::default()
    };
    let mut from = match restore(&shared, &history, discovery.registry(), &mut progress).await {
        Some(sequence) => From::Sequence(sequence + 1),
        None => From::Time(start),
    };
    loop {
        let failure = read(&shared, (&history, discovery.registry()), &from, &loaded, &mut progress).await;
        tracing::warn!(error = %failure, "reading the history stream stopped; resuming");
        if let Some(seq) = progress.last_sequence {
            from = From::Sequence(seq + 1);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Load the newest checkpoint into the (still empty) history; returns the stream sequence it
/// stands at, or `None` when there is none to use (reading the window from the rounds then).
async fn restore(
    shared: &SharedHistory,
    history: &Mutex<History>,
    registry: &Registry,
    progress: &mut Progress,
) -> Option<u64> {
    let started = std::time::Instant::now();
    let (retention_ms, budget) = {
        let h = lock(history);
        (h.retention_ms(), h.budget())
    };
    // A checkpoint is the packed store as it is: never larger than twice the budget it fits.
    let limit = budget.saturating_mul(2).saturating_add(1 << 20);
    let (body, written_at) = match shared.load_checkpoint(limit, Duration::from_secs(5)).await {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => {
            metrics::global().history_checkpoint("read_failed");
            tracing::warn!(error = %e, "history checkpoint not read; reading the window from the stream");
            return None;
        }
    };
    let now = chrono::Utc::now().timestamp_millis();
    let (restored, mark) = match History::restore(&body, retention_ms, budget) {
        // A checkpoint stands where its writer had read the stream: before its own first chunk,
        // and no round in it is dated in the future.
        Ok((_, mark))
            if mark.sequence >= written_at
                || mark
                    .latest
                    .iter()
                    .any(|(_, t)| dated(*t, now, i64::MAX) == Dated::Future) =>
        {
            metrics::global().history_checkpoint("rejected");
            tracing::warn!(
                sequence = mark.sequence,
                written_at,
                "history checkpoint does not fit the stream; reading the window from the stream"
            );
            return None;
        }
        Ok((h, mark)) if mark.retention_ms >= retention_ms => (h, mark),
        Ok((_, mark)) => {
            metrics::global().history_checkpoint("unusable");
            tracing::info!(
                checkpoint_retention_min = mark.retention_ms / 60_000,
                retention_min = retention_ms / 60_000,
                "history checkpoint kept under a shorter retention; reading the window from the stream"
            );
            return None;
        }
        Err(e) => {
            metrics::global().history_checkpoint("rejected");
            tracing::warn!(error = %e, "history checkpoint rejected; reading the window from the stream");
            return None;
        }
    };
    if let Some((t, samples)) = restored.latest_ping_round() {
        if let Some(t) = chrono::DateTime::from_timestamp_millis(t) {
            registry.learn(t, &samples);
        }
    }
    let instances = restored.instances().count();
    *lock(history) = restored;
    progress.latest = mark.latest.iter().copied().collect();
    progress.last_sequence = Some(mark.sequence);
    metrics::global().history_checkpoint("restored");
    tracing::info!(
        bytes = body.len(),
        instances,
        sequence = mark.sequence,
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "history restored from a checkpoint"
    );
    Some(mark.sequence)
}

/// Write a checkpoint when this process samples, has read everything, holds no unfinished
/// round, and one is due: taken under the history's lock, published on a task of its own.
fn checkpoint_if_due(shared: &Arc<SharedHistory>, history: &Mutex<History>, progress: &mut Progress) {
    let Some(sequence) = progress.last_sequence else {
        return;
    };
    if !shared.lease.held() || progress.assembler.pending_messages() > 0 {
        return;
    }
    let body = {
        let h = lock(history);
        if !checkpoint::due(progress.rounds_since_checkpoint, h.rounds()) {
            return;
        }
        if shared.checkpointing.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        h.checkpoint(&Mark {
            sequence,
            latest: progress.latest.iter().map(|(k, t)| (*k, *t)).collect(),
            retention_ms: h.retention_ms(),
        })
    };
    progress.rounds_since_checkpoint = 0;
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        match shared.publish_checkpoint(&body).await {
            Ok(()) => {
                metrics::global().history_checkpoint("written");
                tracing::debug!(bytes = body.len(), sequence, "history checkpoint written");
            }
            Err(e) => {
                metrics::global().history_checkpoint("write_failed");
                tracing::warn!(error = %e, "history checkpoint not written");
            }
        }
        shared.checkpointing.store(false, std::sync::atomic::Ordering::Release);
    });
}

async fn read(
    shared: &Arc<SharedHistory>,
    (history, registry): (&Mutex<History>, &Registry),
    from: &From,
    loaded: &watch::Sender<bool>,
    progress: &mut Progress,
) -> String {
    let stream = match shared.stream().await {
        Ok(s) => s,
        Err(e) => return e,
    };
    let deliver_policy = match from {
        From::Time(start_time) => DeliverPolicy::ByStartTime {
            start_time: *start_time,
        },
        From::Sequence(start_sequence) => DeliverPolicy::ByStartSequence {
            start_sequence: *start_sequence,
        },
    };
    let consumer = match stream
        .create_consumer(pull::OrderedConfig {
            // The rounds, not the checkpoints (those are read once, at the start).
            filter_subjects: [Kind::Ping, Kind::Stats, Kind::Probes]
                .iter()
                .map(|k| format!("{}.{}", shared.subject, k.token()))
                .collect(),
            deliver_policy,
            ..Default::default()
        })
        .await
    {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    if consumer.cached_info().num_pending == 0 {
        progress.load.finish();
        loaded.send_replace(true);
    }
    let mut messages = match consumer.messages().await {
        Ok(m) => m,
        Err(e) => return e.to_string(),
    };
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(m) => m,
            Err(e) => return e.to_string(),
        };
        let pending = match message.info() {
            Ok(info) => {
                progress.last_sequence = Some(info.stream_sequence);
                info.pending
            }
            Err(_) => 1,
        };
        let subject = message.subject.clone();
        let busy = std::time::Instant::now();
        if !progress.load.done {
            progress.load.read(message.message.payload.len());
        }
        if !shared.is_sealed(
            &subject,
            b"",
            &message.message.payload,
            message.message.headers.as_ref(),
        ) {
            shared.reject("unsealed");
        } else {
            match progress.assembler.push(message.message.payload) {
                Ok(rounds) => {
                    for round in rounds {
                        progress.ingest((history, shared), round);
                    }
                }
                Err(e) => {
                    shared.reject("rejected");
                    tracing::debug!(error = %e, subject = %subject, "history message skipped");
                }
            }
        }
        if !progress.load.done {
            progress.load.ingest += busy.elapsed();
        }
        if pending == 0 {
            progress.caught_up(registry);
            progress.load.finish();
            loaded.send_replace(true);
            checkpoint_if_due(shared, history, progress);
        }
    }
    "the consumer ended".to_string()
}
