//! CallResource routes for editors and template variables: services, instances of a service, endpoints of a service, the data source's probes, and one run of a probe (JSON).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::model::micro::{valid_name, Scope, Verb};
use crate::model::observed::Round;
use crate::nats::connection::Connection;
use crate::nats::probe;

/// A resource answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

fn error(status: u16, message: impl Into<String>) -> Answer {
    Answer {
        status,
        body: json!({ "error": message.into() }),
    }
}

/// The routes, for the 404 message.
pub const ROUTES: &str =
    "services, services/<name>/instances, services/<name>/endpoints, probes, probes/<name>/test (POST)";

/// Answer `method path` (path without leading slash or query string) for a user of `role`
/// (Grafana's org role: `Viewer`, `Editor`, `Admin`, `None`).
pub async fn handle(conn: &Connection, role: &str, method: &str, path: &str) -> Answer {
    let path = path.split('?').next().unwrap_or("").trim_matches('/');
    if let ["probes", name, "test"] = path.split('/').collect::<Vec<_>>().as_slice() {
        if !method.eq_ignore_ascii_case("POST") {
            return error(405, "a probe test runs the probe once: use POST");
        }
        if !(role.eq_ignore_ascii_case("Editor") || role.eq_ignore_ascii_case("Admin")) {
            return error(
                403,
                "testing a probe sends its request to the service: it needs the Editor or Admin role",
            );
        }
        if !conn.probe_runs.allow() {
            return error(429, probe::refused_message());
        }
        return test_probe(conn, name).await.unwrap_or_else(|a| a);
    }
    if !method.is_empty() && !method.eq_ignore_ascii_case("GET") {
        return error(
            405,
            format!("method {method} is not allowed: resources are read with GET"),
        );
    }
    let parts: Vec<&str> = path.split('/').collect();
    let result = match parts.as_slice() {
        ["services"] => services(conn).await,
        ["services", name, "instances"] => instances(conn, name).await,
        ["services", name, "endpoints"] => endpoints(conn, name).await,
        ["probes"] => ok(conn
            .settings
            .probes
            .iter()
            .map(|p| json!({"name": p.name, "subject": p.subject}))
            .collect()),
        _ => Err(error(404, format!("no resource '{path}': use {ROUTES}"))),
    };
    result.unwrap_or_else(|a| a)
}

async fn discover(conn: &Connection, verb: Verb, service: Option<&str>) -> Result<Arc<Round>, Answer> {
    if let Some(name) = service {
        if !valid_name(name) {
            return Err(error(400, format!("'{name}' is not a valid service name")));
        }
    }
    let scope = Scope {
        service: service.map(str::to_string),
        id: None,
    };
    conn.discovery
        .discover(verb, scope)
        .await
        .map_err(|e| error(502, e.to_string()))
}

/// Run one saved probe once and answer its result.
async fn test_probe(conn: &Connection, name: &str) -> Result<Answer, Answer> {
    let probe = conn.settings.probes.iter().find(|p| p.name == name).ok_or_else(|| {
        error(
            404,
            format!("no saved probe named '{name}': save the data source settings first, then test"),
        )
    })?;
    let r = probe::run(&conn.client, conn.discovery.server_errors(), probe).await;
    Ok(Answer {
        status: 200,
        body: json!({
            "name": r.name,
            "subject": r.subject,
            "success": r.success,
            "state": r.state.name(),
            "latencyMs": r.latency_ms,
            "code": r.code,
            "detail": r.detail,
        }),
    })
}

fn ok(list: Vec<Value>) -> Result<Answer, Answer> {
    Ok(Answer {
        status: 200,
        body: Value::Array(list),
    })
}

async fn services(conn: &Connection) -> Result<Answer, Answer> {
    let round = discover(conn, Verb::Ping, None).await?;
    let mut by: BTreeMap<&str, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for r in &round.replies {
        let e = by.entry(&r.reply.name).or_default();
        e.0 += 1;
        e.1.insert(&r.reply.version);
    }
    ok(by
        .into_iter()
        .map(|(name, (n, versions))| json!({"name": name, "instances": n, "versions": versions}))
        .collect())
}

async fn instances(conn: &Connection, name: &str) -> Result<Answer, Answer> {
    let round = discover(conn, Verb::Ping, Some(name)).await?;
    ok(round
        .replies
        .iter()
        .map(|r| json!({"id": r.reply.id, "version": r.reply.version, "rttMs": r.rtt.as_secs_f64() * 1e3}))
        .collect())
}

async fn endpoints(conn: &Connection, name: &str) -> Result<Answer, Answer> {
    let round = discover(conn, Verb::Info, Some(name)).await?;
    let mut seen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for r in &round.replies {
        for e in &r.reply.endpoints {
            seen.entry(&e.name).or_insert((&e.subject, &e.queue_group));
        }
    }
    ok(seen
        .into_iter()
        .map(|(name, (subject, queue))| json!({"name": name, "subject": subject, "queueGroup": queue}))
        .collect())
}
