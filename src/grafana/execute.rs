//! Runs one validated query: its plan says what to fetch from NATS (a discovery round, a request, a probe run, or the sampler's history plus a fresh sample), the answer builds its frames; errors carry the query's refId.
//!
//! The one place where the NATS side and the answers meet for a query.

use bytes::Bytes;

use crate::grafana::query_error::{QueryError, QueryErrorKind};
use crate::model::answer::meta::round_notices;
use crate::model::answer::{self, Clock, FromHistory, HistoryPlan, Inputs, Plan, Source};
use crate::model::frames::{Frame, Notice, Severity};
use crate::model::history::{self, PingSample};
use crate::model::micro::Verb;
use crate::model::query::{Query, QueryType};
use crate::model::settings::Probe;
use crate::nats::connection::Connection;
use crate::nats::discovery::DiscoveryError;
use crate::nats::probe;
use crate::nats::request::{self, RequestError};
use crate::nats::sampler;

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
    let frames = match Plan::of(q) {
        Plan::Round(verb) => {
            let round = conn.discovery.discover(verb, q.scope.clone()).await?;
            answer::answer::<String>(q, Inputs::Round(&round))?
        }
        Plan::Request => {
            if let Some(why) = conn.settings.request_refusal(&q.subject) {
                return Err(QueryErrorKind::BadQuery(why));
            }
            let payload = Bytes::from(q.payload.clone().into_bytes());
            let reply = request::request(&conn.client, &q.subject, payload, &q.headers, conn.settings.timeout).await?;
            answer::answer::<String>(q, Inputs::Reply(&reply))?
        }
        Plan::Probes => {
            let probes = probes_of(q, conn)?;
            if !conn.probe_runs.allow() {
                return Err(QueryErrorKind::BadQuery(probe::refused_message()));
            }
            let results = probe::run_all(&conn.client, conn.discovery.server_errors(), &probes).await;
            answer::answer::<String>(q, Inputs::Probes(&results))?
        }
        Plan::History => execute_history(q, conn).await?,
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

/// A history answer: the sampler's history in the plan's window, plus the fresh round or probe
/// run for "now" when the plan asks for one.
async fn execute_history(q: &Query, conn: &Connection) -> Result<Vec<Frame>, QueryErrorKind> {
    let sampler = conn.sampler.as_ref();
    // A fresh process first loads the shared history (which also tells discovery whom to expect).
    let store_notices = match sampler {
        Some(s) => s.store_notices(conn.settings.timeout).await,
        None => Vec::new(),
    };
    let probes = match q.query_type {
        QueryType::Probe => probes_of(q, conn)?,
        _ => Vec::new(),
    };
    let clock = Clock {
        now_ms: sampler::now_ms(),
        retention_ms: i64::try_from(conn.settings.retention.as_millis()).unwrap_or(i64::MAX),
        period_ms: sampler.map(|s| i64::try_from(s.period().as_millis()).unwrap_or(i64::MAX)),
    };
    let plan = HistoryPlan::new(q, clock);
    let (round, probe_results) = match plan.fresh {
        Some(answer::Fresh::Round(verb)) => (Some(conn.discovery.discover(verb, q.scope.clone()).await?), None),
        // A fresh point only while on-demand runs are allowed; the history answers anyway.
        Some(answer::Fresh::Probes) if conn.probe_runs.allow() => (
            None,
            Some(probe::run_all(&conn.client, conn.discovery.server_errors(), &probes).await),
        ),
        _ => (None, None),
    };
    let now_ms = match (&round, &probe_results) {
        (Some(r), _) => r.started.timestamp_millis(),
        (None, Some(results)) => results.iter().map(|r| r.t_ms).min().unwrap_or(clock.now_ms),
        (None, None) => clock.now_ms,
    };
    let (pings, stats): (Vec<PingSample<&str>>, _) = match &round {
        Some(r) if r.verb == Verb::Stats => (Vec::new(), history::stats_samples(r)),
        Some(r) => (history::ping_samples(r), Vec::new()),
        None => (Vec::new(), Vec::new()),
    };
    let fresh_notices = round.as_ref().map(|r| round_notices(r)).unwrap_or_default();
    // Copy what the window reads under the lock; build the frames outside it, so a large query
    // never holds up sampling or other queries.
    let keep = |service: &str, id: &str| plan.instances && q.scope.contains(service, id);
    let view = sampler.map(|s| s.with_history(|h| h.subset(plan.view_from, keep, plan.limit, plan.reads)));
    let inputs = FromHistory {
        window: plan.window,
        src: Source {
            round_notices: &fresh_notices,
            history: view.as_ref(),
            period_ms: clock.period_ms,
            now_ms,
            subject: round.as_ref().map(|r| r.subject.as_str()),
            fresh: round.is_some() || probe_results.is_some(),
        },
        pings: &pings,
        stats: &stats,
        probes: probe_results.as_deref().unwrap_or_default(),
    };
    let mut frames = answer::answer(q, Inputs::History(&inputs))?;
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
