//! Grafana Live streaming of dashboard `ping` and `stats` time series: the history frame QueryData answers with its channel, SubscribeStream's check, and one shared producer per channel for RunStream.
//!
//! # What streams, and why in this shape
//!
//! Only `format: "timeseries"` queries of `ping` and `stats` stream, and only for dashboards:
//! requests from alert rules (`FromAlert: true`) or server-side expressions
//! (`X-Grafana-From-Expr: true`) are answered as usual, without a channel.
//!
//! The frontend (`DataSourceWithBackend` → `toStreamingDataResponse`) subscribes to every frame
//! that has `meta.channel`, and Grafana keeps ONE `StreamingDataFrame` per channel whose rows are
//! appended by every packet. So:
//! - `instant` frames do not stream: they have no time field, so appended packets would pile up
//!   rows of every round in one table (and the ping panel reads a snapshot frame once).
//! - A streamed query answers exactly one frame carrying the channel (several frames on one
//!   channel would each show the whole shared buffer: every series N times).
//! - That frame is `timeseries-wide`: `time` plus one nullable number field per series, labelled
//!   `{service, id[, endpoint]}` — the form the ping panel and Grafana's time series panel read.
//!   Field names are unique (`service/id[/endpoint]`) because StreamingDataFrame carries old
//!   values over a schema change (a new instance) by field name. The long form with a `labels`
//!   column was rejected: re-sending its schema resets the per-series labels in Grafana.
//! - The QueryData frame holds the history of the query's time range, so every caller gets it,
//!   Live or not (the HTTP API, public dashboards, a proxy that drops WebSockets). Grafana seeds
//!   a channel's buffer with the first subscriber's QueryData frame only, then appends
//!   SubscribeStream's initial data and the packets; so SubscribeStream sends no rows, and
//!   history is never drawn twice.
//! - `"live": false` in a query turns streaming off for it: it is answered as any other
//!   `timeseries` query (`timeseries-multi`) and refreshes with the dashboard.
//! - Every packet carries the full schema (a late subscriber's buffer may lack a new series) and
//!   no refId (a channel is shared by every panel showing the same thing).
//!
//! # Producers
//!
//! RunStream calls for one channel of one data source (settings version included) share one
//! producer task through a `tokio::sync::broadcast`; the producer ends when its last listener's
//! gRPC stream is dropped. Every `sampleIntervalSec` (at least 1 s; 5 s when it is 0, which only
//! turns the background history off) it runs a discovery round (identical concurrent rounds are
//! coalesced by [`crate::nats::discovery`]) and sends one row. While NATS is unreachable it keeps
//! sending rows with every known series absent (`up`: 0) and a warning notice.

use std::sync::Arc;
use std::time::Duration;

use crate::model::channel::ChannelError;
use crate::model::frames::FrameError;
use crate::model::settings::Settings;
use crate::nats::connection::{ConnectError, Connection, Connections, SourceKey};

mod producers;
mod seed;

pub use producers::{Listener, Streams};
pub use seed::{add_notice, check_path, from_dashboard, seed, LiveSeed, Seed};

/// Packet period when `sampleIntervalSec` is 0 (history off; live views still want points).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Shortest packet period.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Packets a slow listener may fall behind before it skips ahead.
const BUFFER: usize = 16;

/// Packet period for these settings.
pub fn interval(settings: &Settings) -> Duration {
    settings.sample_interval.unwrap_or(DEFAULT_INTERVAL).max(MIN_INTERVAL)
}

/// A stream that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("not a stream of this plugin: {0}")]
    Path(#[from] ChannelError),
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("this data source already runs {0} live streams (at most {0}): close dashboards, or turn streaming off for some queries (\"live\": false)")]
    TooMany(usize),
}

/// The data source a stream reads: its settings version and connection cache.
#[derive(Clone)]
pub struct Source {
    pub key: SourceKey,
    pub settings: Arc<Settings>,
    pub connections: Arc<Connections>,
}

impl Source {
    pub(super) async fn connection(&self) -> Result<Arc<Connection>, ConnectError> {
        self.connections.get(&self.key, Arc::clone(&self.settings)).await
    }
}
