//! Reads the shared history stream into this process's in-memory history: the retention window first (what a fresh process needs for its first query), then every round as it is stored, with an ordered consumer; broken messages are skipped and counted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use super::SharedHistory;
use crate::metrics;
use crate::model::history::wire::{Assembler, Kind, Records, Round};
use crate::model::history::History;
use crate::nats::discovery::{Discovery, Registry};

/// Where reading resumes after the consumer failed.
enum From {
    Time(chrono::DateTime<chrono::Utc>),
    Sequence(u64),
}

/// What reading keeps between messages: the latest round time per kind, the unfinished
/// rounds, and the newest ping round not yet taught to the registry.
#[derive(Default)]
struct Progress {
    latest: HashMap<Kind, i64>,
    assembler: Assembler<Bytes>,
    last_sequence: Option<u64>,
    unlearned: Option<Round<Bytes>>,
}

impl Progress {
    /// Put one round into the history, unless it is not newer than the latest round of its
    /// kind. While a backlog is read, only its newest ping round teaches the connection's
    /// registry who to expect (`caught_up` then teaches it).
    fn ingest(&mut self, history: &Mutex<History>, round: Round<Bytes>) {
        if self.latest.get(&round.kind).is_some_and(|t| *t >= round.t) {
            metrics::global().history_message("out_of_order");
            return;
        }
        self.latest.insert(round.kind, round.t);
        if round.partial {
            metrics::global().history_message("partial");
        }
        let (records, rejected) = round.decode();
        let m = metrics::global();
        for _ in 0..round.messages() - rejected {
            m.history_message("ingested");
        }
        for _ in 0..rejected {
            m.history_message("rejected");
        }
        lock(history).ingest_records(round.t, &records);
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

fn lock(history: &Mutex<History>) -> std::sync::MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|p| p.into_inner())
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
    let mut from = From::Time(start);
    let mut progress = Progress::default();
    loop {
        let failure = read(&shared, (&history, discovery.registry()), &from, &loaded, &mut progress).await;
        tracing::warn!(error = %failure, "reading the history stream stopped; resuming");
        if let Some(seq) = progress.last_sequence {
            from = From::Sequence(seq + 1);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn read(
    shared: &SharedHistory,
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
            filter_subject: format!("{}.>", shared.subject),
            deliver_policy,
            ..Default::default()
        })
        .await
    {
        Ok(c) => c,
        Err(e) => return e.to_string(),
    };
    if consumer.cached_info().num_pending == 0 {
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
        match progress.assembler.push(message.message.payload) {
            Ok(rounds) => {
                for round in rounds {
                    progress.ingest(history, round);
                }
            }
            Err(e) => {
                metrics::global().history_message("rejected");
                tracing::debug!(error = %e, subject = %subject, "history message skipped");
            }
        }
        if pending == 0 {
            progress.caught_up(registry);
            loaded.send_replace(true);
        }
    }
    "the consumer ended".to_string()
}
