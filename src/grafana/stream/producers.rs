//! One producer task per channel of one data source (settings version included), shared by every RunStream listener through a broadcast, ended with its last listener.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::Utc;
use tokio::sync::{broadcast, Notify};

use super::{interval, Source, StreamError, BUFFER};
use crate::metrics;
use crate::model::channel::StreamSpec;
use crate::model::frames::{FrameError, JsonParts};
use crate::model::live::{self, Counters, Tracker};
use crate::model::micro::Verb;
use crate::model::query::QueryType;
use crate::nats::connection::SourceKey;
use crate::sync::lock;

/// Most live streams (channels) one data source runs at once: every channel is a discovery round
/// each sampling period, and its path is whatever a dashboard (or a crafted request) names.
pub const MAX_PRODUCERS_PER_SOURCE: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct ProducerKey {
    source: SourceKey,
    path: String,
}

pub(super) struct Entry {
    generation: u64,
    tx: broadcast::Sender<Bytes>,
    wake: Arc<Notify>,
}

/// Running producers, one per channel.
#[derive(Default)]
pub struct Streams {
    producers: Mutex<HashMap<ProducerKey, Entry>>,
    generation: AtomicU64,
}

/// One listener of a producer: its packets as JSON bytes; dropping it tells the producer.
pub struct Listener {
    rx: Option<broadcast::Receiver<Bytes>>,
    wake: Arc<Notify>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.rx.take();
        self.wake.notify_one();
        metrics::global().stream_listener(-1);
    }
}

impl Listener {
    /// The next packet; `None` when the producer is gone.
    pub async fn next(&mut self) -> Option<Bytes> {
        let rx = self.rx.as_mut()?;
        loop {
            match rx.recv().await {
                Ok(p) => return Some(p),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(skipped = n, "stream listener fell behind; skipping ahead");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Streams {
    /// Listen to the producer of `path` on `source`, starting it if none runs.
    pub fn listen(self: &Arc<Self>, source: Source, path: &str) -> Result<Listener, StreamError> {
        let spec = StreamSpec::from_path(path)?;
        let key = ProducerKey {
            source: source.key.clone(),
            path: path.to_string(),
        };
        let mut producers = lock(&self.producers);
        if let Some(e) = producers.get(&key) {
            metrics::global().stream_listener(1);
            return Ok(Listener {
                rx: Some(e.tx.subscribe()),
                wake: Arc::clone(&e.wake),
            });
        }
        let running = producers
            .keys()
            .filter(|k| k.source.source == key.source.source)
            .count();
        if running >= MAX_PRODUCERS_PER_SOURCE {
            return Err(StreamError::TooMany(MAX_PRODUCERS_PER_SOURCE));
        }
        let (tx, rx) = broadcast::channel(BUFFER);
        let wake = Arc::new(Notify::new());
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        producers.insert(
            key.clone(),
            Entry {
                generation,
                tx: tx.clone(),
                wake: Arc::clone(&wake),
            },
        );
        drop(producers);
        metrics::global().stream_listener(1);
        metrics::global().stream_producer(1);
        tracing::info!(org_id = key.source.source.org_id, uid = %key.source.source.uid, path = %key.path, "stream producer started");
        let this = Arc::clone(self);
        let producer_wake = Arc::clone(&wake);
        tokio::spawn(async move {
            this.produce(key, generation, spec, source, tx, producer_wake).await;
        });
        Ok(Listener { rx: Some(rx), wake })
    }

    /// Remove the producer when nobody listens; true when it must stop.
    fn retire_if_idle(&self, key: &ProducerKey, generation: u64, tx: &broadcast::Sender<Bytes>) -> bool {
        let mut producers = lock(&self.producers);
        if tx.receiver_count() > 0 {
            return false;
        }
        if producers.get(key).is_some_and(|e| e.generation == generation) {
            producers.remove(key);
        }
        true
    }

    async fn produce(
        &self,
        key: ProducerKey,
        generation: u64,
        spec: StreamSpec,
        source: Source,
        tx: broadcast::Sender<Bytes>,
        wake: Arc<Notify>,
    ) {
        let period = interval(&source.settings);
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tracker = Tracker::default();
        let mut counters = Counters::default();
        let verb = match spec.query_type {
            QueryType::Stats => Verb::Stats,
            _ => Verb::Ping,
        };
        loop {
            let tick = tokio::select! {
                _ = ticker.tick() => true,
                () = wake.notified() => false,
            };
            if self.retire_if_idle(&key, generation, &tx) {
                break;
            }
            if !tick {
                continue;
            }
            let at = Utc::now();
            let (values, outage) = match source.connection().await {
                Err(e) => (BTreeMap::new(), Some(format!("NATS is unreachable: {e}"))),
                Ok(conn) => match conn.discovery.discover(verb, spec.scope.clone()).await {
                    Ok(round) => (live::round_values(&spec, &round, &mut counters, at), None),
                    Err(e) => (BTreeMap::new(), Some(e.to_string())),
                },
            };
            if let Some(reason) = &outage {
                tracing::debug!(path = %key.path, reason = %reason, "stream point without answers");
            }
            let frame = tracker.packet(&spec, at, &values, source.settings.retention, outage);
            match frame
                .to_json(JsonParts::All)
                .and_then(|v| serde_json::to_vec(&v).map_err(|e| FrameError::Encode(e.to_string())))
            {
                Ok(bytes) => {
                    metrics::global().stream_packet();
                    // An error only means nobody listens right now: checked on the next turn.
                    let _ = tx.send(Bytes::from(bytes));
                }
                Err(e) => tracing::warn!(path = %key.path, error = %e, "stream packet could not be encoded"),
            }
        }
        metrics::global().stream_producer(-1);
        tracing::info!(org_id = key.source.source.org_id, uid = %key.source.source.uid, path = %key.path, "stream producer stopped: nobody listens");
    }
}
