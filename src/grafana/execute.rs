//! Runs one validated query: asks NATS (a discovery round, a request, or the sampler's history plus a fresh round) and builds its frames; errors carry the query's refId.
//!
//! The one place where the NATS side and the frame builders meet for a query.

use bytes::Bytes;

use crate::grafana::protocol::ErrorSource;
use crate::model::frames::{Frame, FrameError, Notice, Severity};
use crate::model::history::{self, HistoryView};
use crate::model::micro::Verb;
use crate::model::query::{Aggregate, BadQuery, Format, Query, QueryType, Window, DATA_METRIC};
use crate::model::settings::{Probe, SettingsError};
use crate::model::{self, aggregate, custom_data, shapes, timeseries};
use crate::nats::connection::{ConnectError, Connection};
use crate::nats::discovery::DiscoveryError;
use crate::nats::probe;
use crate::nats::request::{self, RequestError};
use crate::nats::sampler;

/// A window ending this close to now (or one sampler period) gets the fresh "now" point.
const FRESH_SLACK_MS: i64 = 10_000;

/// What went wrong with one query.
#[derive(Debug, thiserror::Error)]
pub enum QueryErrorKind {
    #[error("{0}")]
    BadQuery(String),
    #[error("data source settings: {0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Discovery(#[from] DiscoveryError),
    #[error("{0}")]
    Request(#[from] RequestError),
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The connection is down, and why (a refused reconnect, a TLS failure…).
    #[error("{0}")]
    Down(String),
}

impl QueryErrorKind {
    /// HTTP-like status Grafana shows with the error.
    pub fn status(&self) -> i32 {
        match self {
            QueryErrorKind::BadQuery(_) | QueryErrorKind::Settings(_) => 400,
            QueryErrorKind::Connect(ConnectError::TimedOut { .. })
            | QueryErrorKind::Request(RequestError::TimedOut { .. }) => 504,
            QueryErrorKind::Connect(_)
            | QueryErrorKind::Discovery(_)
            | QueryErrorKind::Request(_)
            | QueryErrorKind::Down(_) => 502,
            QueryErrorKind::Frame(_) => 500,
        }
    }

    /// Whose fault it is, for Grafana's `errorSource`: only a frame we could not build is ours.
    pub fn source(&self) -> ErrorSource {
        match self {
            QueryErrorKind::Frame(_) => ErrorSource::Plugin,
            _ => ErrorSource::Downstream,
        }
    }

    /// Whether the user fixes this on the data source's settings page (settings, credentials, TLS, address).
    pub fn fixed_in_settings(&self) -> bool {
        matches!(
            self,
            QueryErrorKind::Settings(_)
                | QueryErrorKind::Connect(
                    ConnectError::Auth { .. }
                        | ConnectError::Tls { .. }
                        | ConnectError::TlsSettings(_)
                        | ConnectError::Unreachable { .. }
                )
        )
    }

    /// Label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            QueryErrorKind::BadQuery(_) | QueryErrorKind::Settings(_) => "bad_request",
            _ => "error",
        }
    }
}

/// An error of one query, carrying its refId.
#[derive(Debug, thiserror::Error)]
#[error("query {ref_id}: {kind}")]
pub struct QueryError {
    pub ref_id: String,
    pub kind: QueryErrorKind,
}

impl QueryError {
    pub fn new(ref_id: &str, kind: impl Into<QueryErrorKind>) -> Self {
        Self {
            ref_id: ref_id.to_string(),
            kind: kind.into(),
        }
    }
}

impl From<BadQuery> for QueryError {
    fn from(e: BadQuery) -> Self {
        QueryError {
            ref_id: e.ref_id,
            kind: QueryErrorKind::BadQuery(e.message),
        }
    }
}

/// Run `q` on `conn` and build its frames; an error carries the query's refId.
pub async fn execute(q: &Query, conn: &Connection) -> Result<Vec<Frame>, QueryError> {
    crate::faults::point("query", &q.ref_id);
    execute_inner(q, conn).await.map_err(|kind| {
        // Failing fast while down: say why it is down when the connection knows.
        let kind = match kind {
            QueryErrorKind::Discovery(DiscoveryError::NotConnected)
            | QueryErrorKind::Request(RequestError::NotConnected) => match conn.events.down_reason() {
                Some(why) => QueryErrorKind::Down(why),
                None => kind,
            },
            other => other,
        };
        QueryError::new(&q.ref_id, kind)
    })
}

async fn execute_inner(q: &Query, conn: &Connection) -> Result<Vec<Frame>, QueryErrorKind> {
    let d = &conn.discovery;
    let from_history = matches!(q.query_type, QueryType::Events | QueryType::Slo)
        || (q.query_type == QueryType::Ping && q.metric == "rtt_p95");
    if q.format == Format::Timeseries || from_history {
        return execute_history(q, conn).await;
    }
    let frames = match q.query_type {
        QueryType::Ping if q.aggregate != Aggregate::None => {
            vec![aggregate::ping(q, &*d.discover(Verb::Ping, q.scope.clone()).await?)]
        }
        QueryType::Stats if q.aggregate != Aggregate::None => {
            vec![aggregate::stats(q, &*d.discover(Verb::Stats, q.scope.clone()).await?)]
        }
        QueryType::Ping => vec![shapes::ping(q, &*d.discover(Verb::Ping, q.scope.clone()).await?)],
        QueryType::Services => vec![shapes::services(q, &*d.discover(Verb::Ping, q.scope.clone()).await?)],
        QueryType::Info => vec![shapes::info(q, &*d.discover(Verb::Info, q.scope.clone()).await?)],
        QueryType::Stats if q.metric == DATA_METRIC => {
            vec![custom_data::stats(q, &*d.discover(Verb::Stats, q.scope.clone()).await?)]
        }
        QueryType::Stats => vec![shapes::stats(q, &*d.discover(Verb::Stats, q.scope.clone()).await?)],
        QueryType::Request => {
            if let Some(why) = conn.settings.request_refusal(&q.subject) {
                return Err(QueryErrorKind::BadQuery(why));
            }
            let reply = request::request(
                &conn.client,
                &q.subject,
                Bytes::from(q.payload.clone().into_bytes()),
                &q.headers,
                conn.settings.timeout,
            )
            .await?;
            vec![shapes::request(q, &reply)]
        }
        QueryType::Probe => {
            let probes = probes_of(q, conn)?;
            if !conn.probe_runs.allow() {
                return Err(QueryErrorKind::BadQuery(probe::refused_message()));
            }
            let results = probe::run_all(&conn.client, conn.discovery.server_errors(), &probes).await;
            vec![model::probe::frame(q, &results)]
        }
        QueryType::Events | QueryType::Slo => Vec::new(),
    };
    Ok(frames)
}

/// The probes a `probe` query reads: its `probe`, or all; an error when there is none to read.
fn probes_of(q: &Query, conn: &Connection) -> Result<Vec<Probe>, QueryErrorKind> {
    let all = &conn.settings.probes;
    if all.is_empty() {
        return Err(QueryErrorKind::BadQuery(
            "this data source defines no probes: add them under Probes in its settings (each on a subject allowed by requestSubjects)".to_string(),
        ));
    }
    let chosen: Vec<Probe> = all
        .iter()
        .filter(|p| q.probe.as_deref().is_none_or(|want| want == p.name))
        .cloned()
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        return Err(QueryErrorKind::BadQuery(format!(
            "no probe named '{}' in this data source (probes: {})",
            q.probe.as_deref().unwrap_or_default(),
            names.join(", ")
        )));
    }
    Ok(chosen)
}

/// `timeseries` and `events`: the sampler's history in the window, plus a fresh round for "now"
/// when the window reaches the present.
async fn execute_history(q: &Query, conn: &Connection) -> Result<Vec<Frame>, QueryErrorKind> {
    let sampler = conn.sampler.as_ref();
    // A fresh process first loads the shared history (which also tells discovery whom to expect).
    let store_notices = match sampler {
        Some(s) => s.store_notices(conn.settings.timeout).await,
        None => Vec::new(),
    };
    let now = sampler::now_ms();
    let retention_ms = i64::try_from(conn.settings.retention.as_millis()).unwrap_or(i64::MAX);
    let window = q.window.unwrap_or_else(|| Window::last(retention_ms, now));
    let period_ms = sampler.map(|s| i64::try_from(s.period().as_millis()).unwrap_or(i64::MAX));
    // A window that ends before the latest sample needs no fresh round.
    let fresh_needed = q.query_type != QueryType::Events
        && window.to_ms >= now - period_ms.unwrap_or(0).max(FRESH_SLACK_MS)
        && window.from_ms <= now;
    let verb = if q.query_type == QueryType::Stats {
        Verb::Stats
    } else {
        Verb::Ping
    };
    let probe_results = match q.query_type {
        QueryType::Probe => {
            let probes = probes_of(q, conn)?;
            // A fresh point only while on-demand runs are allowed; the history answers anyway.
            if fresh_needed && conn.probe_runs.allow() {
                Some(probe::run_all(&conn.client, conn.discovery.server_errors(), &probes).await)
            } else {
                None
            }
        }
        _ => None,
    };
    let round = if fresh_needed && q.query_type != QueryType::Probe {
        Some(conn.discovery.discover(verb, q.scope.clone()).await?)
    } else {
        None
    };
    let now_ms = match (&round, &probe_results) {
        (Some(r), _) => r.started.timestamp_millis(),
        (None, Some(results)) => results.iter().map(|r| r.t_ms).min().unwrap_or(now),
        (None, None) => now,
    };
    let (pings, stats) = match (&round, verb) {
        (Some(r), Verb::Stats) => (Vec::new(), history::stats_samples(r)),
        (Some(r), _) => (history::ping_samples(r), Vec::new()),
        (None, _) => (Vec::new(), Vec::new()),
    };
    let fresh_notices = round.as_ref().map(|r| shapes::round_notices(r)).unwrap_or_default();
    let build = |h: Option<&HistoryView>| {
        let src = timeseries::Source {
            round_notices: &fresh_notices,
            history: h,
            period_ms,
            now_ms,
            subject: round.as_ref().map(|r| r.subject.as_str()),
            fresh: round.is_some() || probe_results.is_some(),
        };
        match q.query_type {
            QueryType::Events => vec![timeseries::events(q, &window, &src)],
            QueryType::Services => timeseries::services(q, &window, &src, &pings),
            QueryType::Stats if q.metric == DATA_METRIC => timeseries::data::timeseries(q, &window, &src, &stats),
            QueryType::Stats => timeseries::stats(q, &window, &src, &stats),
            QueryType::Slo if q.format == Format::Instant => vec![timeseries::slo::instant(q, &window, &src, &pings)],
            QueryType::Slo => timeseries::slo::timeseries(q, &window, &src, &pings),
            QueryType::Probe => {
                timeseries::probe::timeseries(q, &window, &src, probe_results.as_deref().unwrap_or_default())
            }
            QueryType::Ping if q.metric == "rtt_p95" => {
                vec![timeseries::percentile::rtt_p95(q, &window, &src, &pings)]
            }
            _ => timeseries::ping(q, &window, &src, &pings),
        }
    };
    // Copy what the window reads under the lock; build the frames outside it, so a large query
    // never holds up sampling or other queries.
    // `slo` time series look back one rolling window before the range.
    let view_from = match (q.query_type, q.format) {
        (QueryType::Slo, Format::Timeseries) => window.from_ms.saturating_sub(timeseries::slo::ROLLING_MS),
        _ => window.from_ms,
    };
    // A series per instance (no aggregate): only the instances a frame can show are copied.
    let limit = (matches!(q.query_type, QueryType::Ping | QueryType::Stats) && q.aggregate == Aggregate::None)
        .then_some(history::Limit {
            series: timeseries::MAX_SERIES,
            per_endpoint: q.query_type == QueryType::Stats,
        });
    // `events` reads the events alone: no instance is copied for it.
    let keep = |service: &str, id: &str| q.query_type != QueryType::Events && q.scope.contains(service, id);
    let reads = timeseries::reads(q);
    let view = sampler.map(|s| s.with_history(|h| h.subset(view_from, keep, limit, reads)));
    let mut frames = build(view.as_ref());
    for text in store_notices {
        crate::grafana::stream::add_notice(
            &mut frames,
            &Notice {
                severity: Severity::Warning,
                text,
            },
        );
    }
    Ok(frames)
}
