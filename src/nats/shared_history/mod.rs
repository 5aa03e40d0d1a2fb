//! The JetStream history store: the stream (created if missing, compared when it exists), the key of the NATS target in its subjects, publishing one round per verb, and the stream's state for the health check.
//!
//! Subjects are `<historyStream>.<target key>.<kind>` (`ping`, `stats`, `probes`, and
//! `checkpoint`): data sources that watch the same fleet (same servers, account and `srvPrefix`)
//! share one history, and any other target has subjects of its own. Which process samples is
//! decided by [`lease`]; every process reads the stream into its own in-memory history with
//! [`follow`], starting from the newest [`checkpoint`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use tokio::time::Instant;

use crate::metrics;
use crate::model::history::wire::{self, Kind, Records};
use crate::model::settings::{SealKey, Settings};
use crate::nats::server_errors::ServerErrors;
use crate::sync::lock;

pub mod checkpoint;
pub mod follow;
pub mod lease;
pub mod lifecycle;

pub use lease::{Holder, Lease};

/// The header that carries a message's seal (HMAC-SHA256 of its subject and payload with a key
/// derived from the data source's credentials).
pub const SEAL_HEADER: &str = "Natsmicro-Seal";

/// Why the JetStream store cannot be used; each message says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the NATS server does not run JetStream (nothing answers $JS.API.INFO): enable JetStream on the server (nats-server -js, or a jetstream block in its configuration), or set historyStore to memory")]
    NotEnabled,
    #[error("JetStream is not enabled for this NATS account: give the account JetStream limits (jetstream in the account's configuration or its JWT), or set historyStore to memory")]
    AccountDisabled,
    #[error("the NATS user may not use JetStream ({0}): allow what the README's JetStream permissions list ($JS.API for the stream {1} and its lease bucket, publish and subscribe on {1}.>), or set historyStore to memory")]
    Denied(String, String),
    #[error("JetStream refused the history stream or its lease bucket: {0}; or set historyStore to memory")]
    Failed(String),
}

/// The shared history of one data source's NATS target.
pub struct SharedHistory {
    js: jetstream::Context,
    pub stream: String,
    /// `<stream>.<target key>`.
    pub subject: String,
    /// How the existing stream differs from the settings (empty when it was created or matches).
    pub differs: Vec<String>,
    pub lease: Arc<Lease>,
    chunk_bytes: usize,
    /// Messages published / publishes that failed.
    pub published: AtomicU64,
    pub publish_failures: AtomicU64,
    /// The stream allows rollups: a new checkpoint removes the older ones.
    rollup: AtomicBool,
    /// A checkpoint is being published.
    pub checkpointing: AtomicBool,
    /// Seals what this process publishes and checks what it reads (`None`: no credentials).
    seal: Option<SealKey>,
    /// The newest round time read per kind (ping, stats, probes): a holder whose clock is
    /// behind dates its rounds just after it, so that readers keep them in order.
    latest: [AtomicI64; 3],
    /// Messages read but not taken, by reason (see [`REJECTIONS`]).
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl std::fmt::Debug for SharedHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedHistory")
            .field("stream", &self.stream)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// The stream's state, for the health check.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    pub first: Option<chrono::DateTime<chrono::Utc>>,
    pub last: Option<chrono::DateTime<chrono::Utc>>,
}

/// The NATS identity the history is shared by: the account and user the server puts this
/// connection in (`$SYS.REQ.USER.INFO`, when the user may ask), and the one-way fingerprint of
/// the credentials (never a secret). Data sources share a history only when all three agree.
async fn nats_identity(client: &async_nats::Client, settings: &Settings, timeout: Duration) -> String {
    let asked = tokio::time::timeout(timeout, client.request("$SYS.REQ.USER.INFO", bytes::Bytes::new())).await;
    let (mut account, mut user) = (String::new(), String::new());
    if let Ok(Ok(reply)) = asked {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&reply.payload) {
            let text = |p: &str| v.pointer(p).and_then(|a| a.as_str()).unwrap_or_default().to_string();
            (account, user) = (text("/data/account"), text("/data/user"));
        }
    }
    format!("{account}/{user}/{}", settings.identity().fingerprint)
}

/// Why a message of the stream was not taken, for the health check and the metrics.
/// `unsealed`: without this identity's seal; `future`, `expired`: dated outside
/// [now − retention, now + skew]; `out_of_order`: not newer than the round before it;
/// `rejected`: not a valid history message.
pub const REJECTIONS: [(&str, &str); 5] = [
    ("unsealed", "not sealed with this data source's credentials"),
    ("future", "dated in the future"),
    ("expired", "older than the retention"),
    ("out_of_order", "not newer than the round before"),
    ("rejected", "not valid history messages"),
];

/// A failure that a moment may cure: no answer in time, or JetStream saying it is busy.
fn transient(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "timed out",
        "timeout",
        "temporarily unavailable",
        "no leader",
        "no responders",
    ]
    .iter()
    .any(|w| d.contains(w))
}

fn permission_error(errors: &ServerErrors, since: Instant) -> Option<String> {
    errors
        .latest_since(since)
        .filter(|e| e.to_ascii_lowercase().contains("permissions violation"))
}

impl SharedHistory {
    /// Check JetStream, find or create the stream and the lease bucket. `period` is the sampling
    /// period (the lease's time to live follows from it).
    pub async fn open(
        client: &async_nats::Client,
        settings: &Settings,
        errors: &ServerErrors,
        period: Duration,
    ) -> Result<Self, Unavailable> {
        let since = Instant::now();
        let h = &settings.history;
        let denied = |detail: String| -> Unavailable {
            match permission_error(errors, since) {
                Some(e) => Unavailable::Denied(e, h.stream.clone()),
                None => Unavailable::Failed(detail),
            }
        };
        let identity = nats_identity(client, settings, settings.timeout).await;
        let key = settings.target_key(&identity);
        let js = jetstream::ContextBuilder::new()
            .timeout(settings.timeout)
            .build(client.clone());
        if let Err(e) = js.query_account().await {
            use jetstream::context::AccountErrorKind as K;
            return Err(match e.kind() {
                K::JetStreamUnavailable => Unavailable::NotEnabled,
                K::JetStream(err)
                    if err.error_code() == jetstream::ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT
                        || err.error_code() == jetstream::ErrorCode::JETSTREAM_NOT_ENABLED =>
                {
                    Unavailable::AccountDisabled
                }
                _ => denied(e.to_string()),
            });
        }
        let want = stream::Config {
            name: h.stream.clone(),
            subjects: vec![format!("{}.>", h.stream)],
            max_age: settings.retention,
            max_bytes: i64::try_from(h.max_bytes).unwrap_or(i64::MAX),
            num_replicas: h.replicas,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::Old,
            allow_direct: true,
            compression: Some(stream::Compression::S2),
            // A new checkpoint rolls the older ones of its subject up.
            allow_rollup: true,
            description: Some("NATS micro history for Grafana (natsmicro data source)".to_string()),
            ..Default::default()
        };
        let (differs, rollup) = match js.get_stream(&h.stream).await {
            Ok(mut s) => {
                let info = s.info().await.map_err(|e| denied(e.to_string()))?;
                (differences(&want, &info.config), info.config.allow_rollup)
            }
            Err(_) => {
                if let Err(e) = js.create_stream(want.clone()).await {
                    // Another process may have created it meanwhile.
                    let mut s = js.get_stream(&h.stream).await.map_err(|_| denied(e.to_string()))?;
                    let info = s.info().await.map_err(|e| denied(e.to_string()))?;
                    (differences(&want, &info.config), info.config.allow_rollup)
                } else {
                    tracing::info!(stream = %h.stream, replicas = h.replicas, "history stream created");
                    (Vec::new(), true)
                }
            }
        };
        let bucket = h.lease_bucket();
        let kv = match js.get_key_value(&bucket).await {
            Ok(kv) => kv,
            Err(_) => js
                .create_key_value(jetstream::kv::Config {
                    bucket: bucket.clone(),
                    description: "which process samples each NATS target (natsmicro data source)".to_string(),
                    history: 1,
                    storage: stream::StorageType::File,
                    num_replicas: h.replicas,
                    ..Default::default()
                })
                .await
                .map_err(|e| denied(format!("lease bucket {bucket}: {e}")))?,
        };
        let max_payload = client.server_info().max_payload;
        Ok(Self {
            js,
            stream: h.stream.clone(),
            subject: format!("{}.{key}", h.stream),
            differs,
            lease: Arc::new(Lease::new(kv, key, period)),
            chunk_bytes: (max_payload / 2).clamp(4096, 512 << 10),
            published: AtomicU64::new(0),
            publish_failures: AtomicU64::new(0),
            rollup: AtomicBool::new(rollup),
            checkpointing: AtomicBool::new(false),
            seal: settings.identity().seal,
            latest: Default::default(),
            rejected: Mutex::new(BTreeMap::new()),
        })
    }

    /// [`SharedHistory::open`], tried again for up to `patience` while JetStream answers that it
    /// is busy or does not answer in time (a cluster electing a leader after a node died): a
    /// process starting then uses the shared history instead of keeping its own for its life.
    pub async fn open_patiently(
        client: &async_nats::Client,
        settings: &Settings,
        errors: &ServerErrors,
        period: Duration,
        patience: Duration,
    ) -> Result<Self, Unavailable> {
        let give_up = Instant::now() + patience;
        let mut pause = Duration::from_millis(250);
        loop {
            match Self::open(client, settings, errors, period).await {
                Err(Unavailable::Failed(detail)) if transient(&detail) && Instant::now() + pause < give_up => {
                    tracing::info!(error = %detail, "JetStream busy; opening the history store again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }

    /// Publish one round; waits for the stream's acknowledgements. A round is dated after the
    /// newest one read of its kind (see [`SharedHistory::latest`]).
    pub async fn publish<S: AsRef<str> + Sync>(&self, t: i64, records: &Records<S>) -> bool {
        let kind = records.kind();
        let newest = self.latest[kind_index(kind)].load(Ordering::Acquire);
        let t = if newest != 0 && t <= newest {
            tracing::debug!(
                behind_ms = newest - t,
                "this host's clock is behind the history; round dated after the newest one"
            );
            newest.saturating_add(1)
        } else {
            t
        };
        let subject = format!("{}.{}", self.subject, kind.token());
        let mut acks = Vec::new();
        for message in wire::encode(t, records, self.chunk_bytes) {
            let headers = self.sealed_headers(&subject, b"", &message);
            match self
                .js
                .publish_with_headers(subject.clone(), headers, message.into())
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    self.publish_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, subject = %subject, "history round not published");
                    return false;
                }
            }
        }
        let mut stored = true;
        for ack in acks {
            match ack.await {
                Ok(_) => {
                    self.published.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    stored = false;
                    self.publish_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, subject = %subject, "history round not stored");
                }
            }
        }
        stored
    }

    /// Headers carrying the seal of a message on `subject` (with `extra`, a header value that
    /// matters, and its payload); empty without credentials.
    pub(super) fn sealed_headers(&self, subject: &str, extra: &[u8], payload: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.seal {
            headers.insert(SEAL_HEADER, key.seal(&[subject.as_bytes(), extra, payload]).as_str());
        }
        headers
    }

    /// Whether a message read from the stream carries this identity's seal (always true without
    /// credentials: there is nothing to prove with).
    pub(super) fn is_sealed(&self, subject: &str, extra: &[u8], payload: &[u8], headers: Option<&HeaderMap>) -> bool {
        let Some(key) = &self.seal else { return true };
        headers
            .and_then(|h| h.get(SEAL_HEADER))
            .is_some_and(|v| key.verify(&[subject.as_bytes(), extra, payload], v.as_str()))
    }

    /// Count a message read but not taken.
    pub(super) fn reject(&self, reason: &'static str) {
        metrics::global().history_message(reason);
        *lock(&self.rejected).entry(reason).or_default() += 1;
    }

    /// Messages read but not taken, by reason.
    pub fn rejected(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.rejected).clone()
    }

    /// The newest round of `kind` that was read was dated `t`.
    pub(super) fn read_round(&self, kind: Kind, t: i64) {
        self.latest[kind_index(kind)].fetch_max(t, Ordering::AcqRel);
    }

    /// The stream, for [`follow`].
    pub async fn stream(&self) -> Result<stream::Stream, String> {
        self.js.get_stream(&self.stream).await.map_err(|e| e.to_string())
    }

    /// Messages, bytes and the first and last sample of the whole stream.
    pub async fn state(&self) -> Result<StreamState, String> {
        let mut s = self.stream().await?;
        let info = s.info().await.map_err(|e| e.to_string())?;
        let st = &info.state;
        let some = |t: chrono::DateTime<chrono::Utc>| (st.messages > 0).then_some(t);
        Ok(StreamState {
            messages: st.messages,
            bytes: st.bytes,
            first: some(st.first_timestamp),
            last: some(st.last_timestamp),
        })
    }
}

fn kind_index(kind: Kind) -> usize {
    match kind {
        Kind::Ping => 0,
        Kind::Stats => 1,
        Kind::Probes => 2,
    }
}

/// What in an existing stream differs from the settings, in words.
fn differences(want: &stream::Config, have: &stream::Config) -> Vec<String> {
    let mut out = Vec::new();
    if have.max_age != want.max_age {
        out.push(format!(
            "MaxAge is {} min, retentionMinutes is {}",
            have.max_age.as_secs() / 60,
            want.max_age.as_secs() / 60
        ));
    }
    if have.max_bytes != want.max_bytes {
        out.push(format!(
            "MaxBytes is {}, historyMaxBytes is {}",
            have.max_bytes, want.max_bytes
        ));
    }
    if have.num_replicas != want.num_replicas {
        out.push(format!(
            "it has {} replicas, historyReplicas is {}",
            have.num_replicas, want.num_replicas
        ));
    }
    if have.storage != want.storage {
        out.push("it keeps its messages in memory, not in files".to_string());
    }
    if !have.subjects.iter().any(|s| want.subjects.contains(s)) {
        out.push(format!(
            "its subjects ({}) do not include {}",
            have.subjects.join(", "),
            want.subjects.join(", ")
        ));
    }
    if want.allow_rollup && !have.allow_rollup {
        out.push(
            "it does not allow rollups (AllowRollup), so older checkpoints stay until MaxAge removes them".to_string(),
        );
    }
    out
}
