//! The history store settings (`historyStore`, `historyStream`, `historyMaxBytes`, `historyReplicas`) and the key of a NATS target that names its shared history.

use serde_json::Value;

use super::{err, get_str, get_u64, Settings, SettingsError};

/// Where the sampled history lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// In the plugin process (the default).
    Memory,
    /// In a JetStream stream on the data source's own account, shared by every plugin process.
    JetStream,
}

impl StoreKind {
    pub const ALL: [StoreKind; 2] = [StoreKind::Memory, StoreKind::JetStream];

    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::JetStream => "jetstream",
        }
    }
}

/// Default `historyStream`.
pub const DEFAULT_HISTORY_STREAM: &str = "NATSMICRO_HISTORY";
/// Default `historyMaxBytes`: 1 GiB.
pub const DEFAULT_HISTORY_MAX_BYTES: u64 = 1 << 30;
/// Values `historyMaxBytes` may take (1 MiB to 1 TiB).
pub const HISTORY_MAX_BYTES_RANGE: (u64, u64) = (1 << 20, 1 << 40);
/// Values `historyReplicas` may take (JetStream allows 1 to 5).
pub const HISTORY_REPLICAS_RANGE: (u64, u64) = (1, 5);
/// Longest `historyStream`.
pub const MAX_STREAM_NAME: usize = 48;

/// The history store settings of a data source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistorySettings {
    pub store: StoreKind,
    /// Stream name; its subjects are `<stream>.<target key>.<kind>` and the lease bucket is `<stream>_LEASE`.
    pub stream: String,
    pub max_bytes: u64,
    pub replicas: usize,
}

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            store: StoreKind::Memory,
            stream: DEFAULT_HISTORY_STREAM.to_string(),
            max_bytes: DEFAULT_HISTORY_MAX_BYTES,
            replicas: 1,
        }
    }
}

impl HistorySettings {
    /// The KV bucket that holds the sampling leases of this stream's targets.
    pub fn lease_bucket(&self) -> String {
        format!("{}_LEASE", self.stream)
    }
}

pub(super) fn parse_history(json: &serde_json::Map<String, Value>) -> Result<HistorySettings, SettingsError> {
    let store = match get_str(json, "historyStore")?.as_deref().map(str::trim) {
        None | Some("") | Some("memory") => StoreKind::Memory,
        Some("jetstream") => StoreKind::JetStream,
        Some(other) => {
            return err(format!(
                "historyStore is {}: use memory (in the plugin process) or jetstream (a JetStream stream, shared by every Grafana replica)",
                super::shown_value(other)
            ))
        }
    };
    let stream = get_str(json, "historyStream")?
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_HISTORY_STREAM.to_string());
    let name_ok = stream.len() <= MAX_STREAM_NAME
        && stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_ok {
        return err(format!(
            "historyStream is {}: use up to {MAX_STREAM_NAME} letters, digits, '_' or '-' (it also names the lease bucket <stream>_LEASE)",
            super::shown_value(&stream)
        ));
    }
    let max_bytes = get_u64(json, "historyMaxBytes")?.unwrap_or(DEFAULT_HISTORY_MAX_BYTES);
    let (lo, hi) = HISTORY_MAX_BYTES_RANGE;
    if !(lo..=hi).contains(&max_bytes) {
        return err(format!(
            "historyMaxBytes is {max_bytes}: use {lo} (1 MiB) to {hi} (1 TiB) bytes"
        ));
    }
    let replicas = get_u64(json, "historyReplicas")?.unwrap_or(1);
    let (lo, hi) = HISTORY_REPLICAS_RANGE;
    if !(lo..=hi).contains(&replicas) {
        return err(format!(
            "historyReplicas is {replicas}: use {lo} to {hi} (3 suits a cluster of three servers)"
        ));
    }
    Ok(HistorySettings {
        store,
        stream,
        max_bytes,
        replicas: usize::try_from(replicas).unwrap_or(1),
    })
}

/// FNV-1a, 64 bits: stable across builds and platforms (the key is stored in stream subjects).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

impl Settings {
    /// The key of this data source's NATS target: its server set (order does not matter), the
    /// account identity `account` (as the server names it, or the credentials' identity when the
    /// server does not say) and `srvPrefix`, as 16 hex digits (a subject token). Data sources with
    /// the same key watch the same fleet and share one history; any other difference (timeouts,
    /// names, probes) does not change it.
    pub fn target_key(&self, account: &str) -> String {
        let mut servers: Vec<String> = self.servers.iter().map(|s| s.address.to_ascii_lowercase()).collect();
        servers.sort();
        servers.dedup();
        let servers = servers.join(",");
        format!("{:016x}", fnv1a(&[&servers, account, &self.srv_prefix]))
    }
}
