//! Reads the shared history stream into this process's in-memory history: the retention window first (what a fresh process needs for its first query), then every round as it is stored, with an ordered consumer; broken messages are skipped and counted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::StreamExt;
use tokio::sync::watch;

use super::SharedHistory;
use crate::metrics;
use crate::model::history::wire::{self, Assembler, Kind, Records};
use crate::model::history::History;
use crate::nats::discovery::{Discovery, Registry};

/// Where reading resumes after the consumer failed.
enum From {
    Time(chrono::DateTime<chrono::Utc>),
    Sequence(u64),
}

/// Put one round into the history, unless it is not newer than the latest round of its kind;
/// a ping round also teaches the connection's registry who to expect.
fn ingest(history: &Mutex<History>, registry: &Registry, latest: &mut HashMap<Kind, i64>, round: wire::Round) {
    let kind = round.records.kind();
    if latest.get(&kind).is_some_and(|t| *t >= round.t) {
        metrics::global().history_message("out_of_order");
        return;
    }
    latest.insert(kind, round.t);
    if round.partial {
        metrics::global().history_message("partial");
    }
    if let Records::Ping(samples) = &round.records {
        if let Some(t) = chrono::DateTime::from_timestamp_millis(round.t) {
            registry.learn(t, samples);
        }
    }
    let mut h = history.lock().unwrap_or_else(|p| p.into_inner());
    h.ingest_records(round.t, &round.records);
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
    let mut latest: HashMap<Kind, i64> = HashMap::new();
    let mut assembler = Assembler::default();
    let mut last_sequence = None;
    loop {
        let failure = read(
            &shared,
            (&history, discovery.registry()),
            &from,
            &loaded,
            (&mut latest, &mut assembler, &mut last_sequence),
        )
        .await;
        tracing::warn!(error = %failure, "reading the history stream stopped; resuming");
        if let Some(seq) = last_sequence {
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
    (latest, assembler, last_sequence): (&mut HashMap<Kind, i64>, &mut Assembler, &mut Option<u64>),
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
                *last_sequence = Some(info.stream_sequence);
                info.pending
            }
            Err(_) => 1,
        };
        match wire::decode(&message.payload) {
            Ok(chunk) => {
                metrics::global().history_message("ingested");
                for round in assembler.push(chunk) {
                    ingest(history, registry, latest, round);
                }
            }
            Err(e) => {
                metrics::global().history_message("rejected");
                tracing::debug!(error = %e, subject = %message.subject, "history message skipped");
            }
        }
        if pending == 0 {
            loaded.send_replace(true);
        }
    }
    "the consumer ended".to_string()
}
