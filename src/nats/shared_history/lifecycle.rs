//! The JetStream store's life beside one connection: opened (patiently, while JetStream elects a leader) when the connection opens; when it cannot be, the history stays in memory and a task looks for the store again, and says once it works so that the connection is replaced and takes it up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::SharedHistory;
use crate::model::settings::{Settings, StoreKind};
use crate::nats::server_errors::ServerErrors;

/// How long opening the JetStream history store is tried again while JetStream is busy (at least
/// two request timeouts).
const STORE_PATIENCE: Duration = Duration::from_secs(10);

/// How often an unavailable JetStream store is looked at again: twice the sampling period,
/// within 5 s to 60 s.
pub fn store_recheck_every(period: Duration) -> Duration {
    (period * 2).clamp(Duration::from_secs(5), Duration::from_secs(60))
}

/// The store of one connection, as far as it got: open, or unavailable and looked for again.
#[derive(Debug, Default)]
pub struct StoreLife {
    /// The open store (handed to the sampler); `None` without one.
    pub store: Option<Arc<SharedHistory>>,
    /// Why the store asked for could not be opened (the history is then kept in memory).
    pub unavailable: Option<String>,
    /// Set by the recheck task once the store opens.
    back: Arc<AtomicBool>,
    recheck: Option<tokio::task::AbortHandle>,
}

impl Drop for StoreLife {
    fn drop(&mut self) {
        if let Some(task) = &self.recheck {
            task.abort();
        }
    }
}

impl StoreLife {
    /// Open the store `settings` ask for (JetStream history with the sampler on); nothing otherwise.
    pub async fn open(client: &async_nats::Client, settings: &Arc<Settings>, errors: &Arc<ServerErrors>) -> Self {
        let (Some(period), StoreKind::JetStream) = (settings.sample_interval, settings.history.store) else {
            return Self::default();
        };
        let patience = STORE_PATIENCE.max(settings.timeout * 2);
        match SharedHistory::open_patiently(client, settings, errors, period, patience).await {
            Ok(store) => Self {
                store: Some(Arc::new(store)),
                unavailable: None,
                back: Arc::default(),
                recheck: None,
            },
            Err(e) => {
                tracing::warn!(error = %e, "JetStream history store unavailable; keeping the history in memory");
                let back = Arc::new(AtomicBool::new(false));
                let task = tokio::spawn(recheck(
                    client.clone(),
                    Arc::clone(settings),
                    Arc::clone(errors),
                    period,
                    Arc::clone(&back),
                ));
                Self {
                    store: None,
                    unavailable: Some(e.to_string()),
                    back,
                    recheck: Some(task.abort_handle()),
                }
            }
        }
    }

    /// The store that was unavailable when the connection opened works now.
    pub fn available_again(&self) -> bool {
        self.back.load(Ordering::Relaxed)
    }
}

/// While the store is unavailable: open it again every [`store_recheck_every`], and say so
/// (`back`) once it works.
async fn recheck(
    client: async_nats::Client,
    settings: Arc<Settings>,
    errors: Arc<ServerErrors>,
    period: Duration,
    back: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(store_recheck_every(period)).await;
        match SharedHistory::open(&client, &settings, &errors, period).await {
            Ok(store) => {
                tracing::info!(stream = %store.stream, "JetStream history store available again; the data source takes it up on its next use");
                back.store(true, Ordering::Relaxed);
                return;
            }
            Err(e) => tracing::debug!(error = %e, "JetStream history store still unavailable"),
        }
    }
}
