//! The connections of all data sources, keyed by (org, id, uid): opened once and shared, replaced when the settings change, closed when the data source goes unused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::{ConnectError, Connection, Replace};
use crate::model::settings::Settings;
use crate::nats::sampler::{idle_limit, OnIdle};
use crate::sync::lock;

/// Which data source of which org: Grafana data source uids are unique only within one org, so
/// everything the plugin keeps for a data source is keyed by all three.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId {
    pub org_id: i64,
    /// Grafana's numeric data source id (unique per Grafana database; 0 when not sent).
    pub id: i64,
    pub uid: String,
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "org {} data source {} (id {})", self.org_id, self.uid, self.id)
    }
}

/// Identity of a data source's settings version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceKey {
    pub source: SourceId,
    pub updated_ms: i64,
}

struct Slot {
    updated_ms: i64,
    cell: Arc<OnceCell<Arc<Connection>>>,
    last_failure: Arc<Mutex<Option<(Instant, ConnectError)>>>,
}

/// How long a failed connect is answered from memory before trying again.
const FAILURE_MEMORY: Duration = Duration::from_millis(1000);

/// How often unused connections are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

type Slots = Arc<Mutex<HashMap<SourceId, Slot>>>;

/// Connections by data source identity.
///
/// A connection nobody has used for [`idle_limit`] of its retention (at least an hour) is closed,
/// with or without a sampler, so a deleted data source does not keep its connection until the
/// plugin restarts; the next use connects afresh.
#[derive(Default)]
pub struct Connections {
    slots: Slots,
    /// Overrides the idle limit and the sweep period (tests and measurements).
    idle_after: Option<Duration>,
    sweep_every: Option<Duration>,
    sweeper: std::sync::OnceLock<()>,
}

/// Close the connections idle for longer than their limit that nothing else holds (a running
/// stream or query keeps its connection).
fn sweep(slots: &Slots, idle_after: Option<Duration>) {
    let mut slots = lock(slots);
    slots.retain(|id, slot| {
        let Some(conn) = slot.cell.get() else { return true };
        let limit = idle_after.unwrap_or_else(|| idle_limit(conn.settings.retention));
        let idle = conn.idle_for() > limit && Arc::strong_count(conn) == 1;
        if idle {
            tracing::info!(org_id = id.org_id, uid = %id.uid, "closing the NATS connection of an unused data source");
        }
        !idle
    });
}

impl Connections {
    /// Connections closed after `idle_after` without use, checked every `sweep_every`.
    pub fn with_idle_limit(idle_after: Duration, sweep_every: Duration) -> Self {
        Self {
            idle_after: Some(idle_after),
            sweep_every: Some(sweep_every),
            ..Self::default()
        }
    }

    /// Data sources with a connection (open or being opened).
    pub fn len(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Whether no data source has a connection.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Start the sweeping task once (on the first use, inside the runtime); it ends with `self`.
    fn start_sweeper(&self) {
        let every = self.sweep_every.unwrap_or(SWEEP_EVERY);
        self.sweeper.get_or_init(|| {
            let (slots, idle_after) = (Arc::downgrade(&self.slots), self.idle_after);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(slots) = slots.upgrade() else { return };
                    sweep(&slots, idle_after);
                }
            });
        });
    }

    /// The connection for `key`, opening (once, shared by concurrent callers) or replacing it when
    /// `key` holds newer settings; a key older than the current connection gets the current one.
    pub async fn get(&self, key: &SourceKey, settings: Arc<Settings>) -> Result<Arc<Connection>, ConnectError> {
        self.start_sweeper();
        let mut inherited = None;
        let (cell, failure) = {
            let mut slots = lock(&self.slots);
            let slot = slots.entry(key.source.clone()).or_insert_with(|| Slot {
                updated_ms: key.updated_ms,
                cell: Arc::new(OnceCell::new()),
                last_failure: Arc::new(Mutex::new(None)),
            });
            let replace = slot.cell.get().and_then(|c| c.replace_because());
            match replace {
                Some(Replace::StoreBack) => {
                    tracing::info!(org_id = key.source.org_id, uid = %key.source.uid, "JetStream history store available again; reconnecting to use it")
                }
                Some(Replace::IdleStop) => {
                    tracing::info!(org_id = key.source.org_id, uid = %key.source.uid, "data source used again after its idle stop; reconnecting")
                }
                None => {}
            }
            let retired = replace.is_some();
            // Only newer settings replace a connection: a long-running stream that still holds an
            // older settings version uses the current connection instead of switching back.
            if key.updated_ms > slot.updated_ms || retired {
                if !retired {
                    tracing::info!(org_id = key.source.org_id, uid = %key.source.uid, "data source settings changed; replacing its NATS connection");
                }
                // A save that kept the NATS target keeps the history (memory store).
                inherited = slot
                    .cell
                    .get()
                    .filter(|old| !retired && super::same_target(&old.settings, &settings))
                    .and_then(|old| old.sampler.as_ref().map(|s| s.history_copy()));
                *slot = Slot {
                    updated_ms: key.updated_ms.max(slot.updated_ms),
                    cell: Arc::new(OnceCell::new()),
                    last_failure: Arc::new(Mutex::new(None)),
                };
            }
            (Arc::clone(&slot.cell), Arc::clone(&slot.last_failure))
        };
        if let Some(conn) = cell.get() {
            conn.touch();
            return Ok(Arc::clone(conn));
        }
        if let Some((at, e)) = lock(&failure).as_ref() {
            if at.elapsed() < FAILURE_MEMORY {
                return Err(e.clone());
            }
        }
        let result = cell
            .get_or_try_init(|| async {
                // Callers that queued behind a failed attempt share its answer.
                if let Some((at, e)) = lock(&failure).as_ref() {
                    if at.elapsed() < FAILURE_MEMORY {
                        return Err(e.clone());
                    }
                }
                // Idle stop: forget this slot (closing the connection) if it is still the current one.
                let (slots, weak_cell, id) = (Arc::downgrade(&self.slots), Arc::downgrade(&cell), key.source.clone());
                let on_idle: OnIdle = Box::new(move || {
                    let Some(slots) = slots.upgrade() else { return };
                    let mut slots = lock(&slots);
                    if slots
                        .get(&id)
                        .is_some_and(|s| Weak::ptr_eq(&Arc::downgrade(&s.cell), &weak_cell))
                    {
                        tracing::info!(org_id = id.org_id, uid = %id.uid, "closing the NATS connection of an idle data source");
                        slots.remove(&id);
                    }
                });
                let r = Connection::open_with(settings, Some(on_idle), inherited).await;
                if let Err(e) = &r {
                    tracing::warn!(org_id = key.source.org_id, uid = %key.source.uid, error = %e, "NATS connect failed");
                    *lock(&failure) = Some((Instant::now(), e.clone()));
                }
                r
            })
            .await;
        result.map(|c| {
            c.touch();
            Arc::clone(c)
        })
    }
}
