//! Runs the data source's probes: one request per probe (its payload, headers and timeout), all at once, each judged by [`crate::model::probe::judge`].
//!
//! Protocol code: no Grafana types. A refused publish comes back asynchronously as a server
//! error, so a silent probe asks the connection's [`ServerErrors`] whether it was `denied`.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::join_all;
use tokio::time::Instant;

use crate::metrics;
use crate::model::probe::{judge, ProbeFailure, ProbeReply, ProbeResult};
use crate::model::settings::Probe;
use crate::nats::request::{header_map, header_pairs, service_error};
use crate::nats::server_errors::ServerErrors;
use crate::sync::lock;

/// Run every probe in `probes` once, concurrently.
pub async fn run_all(client: &async_nats::Client, errors: &Arc<ServerErrors>, probes: &[Probe]) -> Vec<ProbeResult> {
    join_all(probes.iter().map(|p| run(client, errors, p))).await
}

/// Run one probe once.
pub async fn run(client: &async_nats::Client, errors: &ServerErrors, probe: &Probe) -> ProbeResult {
    let t_ms = chrono::Utc::now().timestamp_millis();
    let outcome = send(client, errors, probe).await;
    let result = judge(probe, t_ms, outcome);
    metrics::global().probe_run(if result.success { "success" } else { result.state.name() });
    tracing::debug!(probe = %probe.name, success = result.success, state = result.state.name(), latency_ms = ?result.latency_ms, "probe ran");
    result
}

/// Most on-demand probe runs (the settings page's test button, instant `probe` queries) of one
/// data source within [`ON_DEMAND_WINDOW`]: each run sends the probes' requests to services.
pub const ON_DEMAND_RUNS: usize = 20;
pub const ON_DEMAND_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// The on-demand probe runs of one data source, within the window.
#[derive(Debug, Default)]
pub struct OnDemand {
    runs: std::sync::Mutex<std::collections::VecDeque<Instant>>,
}

impl OnDemand {
    /// Whether one more on-demand run may go now (counted when it may).
    pub fn allow(&self) -> bool {
        let mut runs = lock(&self.runs);
        let now = Instant::now();
        while runs.front().is_some_and(|t| now.duration_since(*t) > ON_DEMAND_WINDOW) {
            runs.pop_front();
        }
        if runs.len() >= ON_DEMAND_RUNS {
            return false;
        }
        runs.push_back(now);
        true
    }
}

/// Why an on-demand run was refused, for users.
pub fn refused_message() -> String {
    format!(
        "the probes of this data source already ran {ON_DEMAND_RUNS} times on demand in the last {} s (each run sends their requests): wait a moment, or read their history (format timeseries)",
        ON_DEMAND_WINDOW.as_secs()
    )
}

async fn send(client: &async_nats::Client, errors: &ServerErrors, probe: &Probe) -> Result<ProbeReply, ProbeFailure> {
    if client.connection_state() != async_nats::connection::State::Connected {
        return Err(ProbeFailure::NotConnected);
    }
    let mut req = async_nats::Request::new()
        .payload(Bytes::from(probe.payload.clone().into_bytes()))
        .timeout(Some(probe.timeout));
    if !probe.headers.is_empty() {
        req = req.headers(header_map(&probe.headers).map_err(ProbeFailure::Other)?);
    }
    let t0 = Instant::now();
    let request = client.send_request(probe.subject.clone(), req);
    tokio::pin!(request);
    let msg = loop {
        tokio::select! {
            r = &mut request => break r,
            () = errors.next() => {
                if errors.denied_since(&probe.subject, t0) {
                    return Err(ProbeFailure::Denied);
                }
            }
        }
    };
    let latency_ms = t0.elapsed().as_secs_f64() * 1e3;
    let msg = msg.map_err(|e| {
        use async_nats::RequestErrorKind as K;
        match e.kind() {
            K::NoResponders => ProbeFailure::NoResponders,
            K::TimedOut if errors.denied_since(&probe.subject, t0) => ProbeFailure::Denied,
            K::TimedOut => ProbeFailure::TimedOut,
            _ => ProbeFailure::Other(e.to_string()),
        }
    })?;
    Ok(ProbeReply {
        service_error: service_error(&header_pairs(&msg)),
        payload: msg.payload.to_vec(),
        latency_ms,
    })
}
