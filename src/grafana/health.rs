//! CheckHealth logic: connect, identify the server, discover services, and say in one sentence what works or exactly what to fix.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::model::micro::{Scope, Verb};
use crate::model::observed::StopReason;
use crate::model::settings::{Settings, SettingsError};
use crate::nats::connection::{ConnectError, Connection, Connections, SourceKey};
use crate::nats::shared_history::Holder;

/// The outcome shown on "Save & test".
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub ok: bool,
    pub message: String,
    pub details: Value,
}

impl Report {
    fn error(message: String) -> Self {
        Self {
            ok: false,
            message,
            details: Value::Null,
        }
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// The history store in use, in one sentence, its details, and whether it is the one the
/// settings ask for.
async fn history(conn: &Connection) -> (String, Value, bool) {
    let Some(sampler) = conn.sampler.as_ref() else {
        return (
            "History: off (sampleIntervalSec is 0)".to_string(),
            json!({"store": "off"}),
            true,
        );
    };
    if let Some(why) = sampler.degraded() {
        return (
            format!(
                "History: historyStore is jetstream, but {why}. Until then the history is kept in this process's memory; JetStream is tried again every {} s and taken up as soon as it works",
                crate::nats::shared_history::lifecycle::store_recheck_every(sampler.period()).as_secs()
            ),
            json!({"store": "memory", "wanted": "jetstream"}),
            false,
        );
    }
    let Some(store) = sampler.store() else {
        let rounds = sampler.with_history(|h| h.rounds());
        return (
            format!("History: in this plugin process's memory ({rounds} rounds)"),
            json!({"store": "memory", "rounds": rounds}),
            true,
        );
    };
    let who = match (sampler.holder(), store.lease.standing_down()) {
        (Holder::Me, _) => "sampled by this plugin process".to_string(),
        (holder, Some(why)) => format!(
            "this plugin process gave the sampling lease up because {why} ({})",
            match holder {
                Holder::Other(other) => format!("sampled by {other}"),
                _ => "nobody samples now".to_string(),
            }
        ),
        (Holder::Other(other), None) => format!("sampled by another plugin process ({other})"),
        (Holder::Unknown, None) => "no sampler has taken the lease yet".to_string(),
    };
    let mut text = match store.state().await {
        Ok(st) => {
            let span = match (st.first, st.last) {
                (Some(a), Some(b)) => format!(
                    ", {} to {} UTC",
                    a.format("%Y-%m-%d %H:%M:%S"),
                    b.format("%Y-%m-%d %H:%M:%S")
                ),
                _ => String::new(),
            };
            format!(
                "History: JetStream stream {} ({} messages, {}{span}), {who}",
                store.stream,
                st.messages,
                size(st.bytes)
            )
        }
        Err(e) => format!("History: JetStream stream {} (state unknown: {e}), {who}", store.stream),
    };
    let rejected = store.rejected();
    if !rejected.is_empty() {
        let reasons: Vec<String> = crate::nats::shared_history::REJECTIONS
            .iter()
            .filter_map(|(reason, words)| rejected.get(reason).map(|n| format!("{n} {words}")))
            .collect();
        text.push_str(&format!(
            ". Messages of the stream not taken: {} (anyone who may publish on the stream's subjects can write there: see the README's \"Securing the shared history\")",
            reasons.join(", ")
        ));
    }
    if !store.differs.is_empty() {
        text.push_str(&format!(
            ". The existing stream differs from these settings and is used as it is: {}",
            store.differs.join("; ")
        ));
    }
    let details = json!({
        "store": "jetstream", "stream": store.stream, "sampler": matches!(sampler.holder(), Holder::Me),
        "rejected": rejected,
    });
    (text, details, true)
}

/// Run the health check for one data source: NATS and discovery, then the history store.
pub async fn check(connections: &Connections, key: &SourceKey, settings: Result<Settings, SettingsError>) -> Report {
    let again = settings.clone();
    let mut report = check_nats(connections, key, settings).await;
    let Ok(settings) = again else { return report };
    if !report.ok {
        return report;
    }
    let Ok(conn) = connections.get(key, Arc::new(settings)).await else {
        return report;
    };
    let (text, details, ok) = history(&conn).await;
    report.message = format!("{}. {text}", report.message);
    for warning in conn.settings.request_subject_warnings() {
        report.message = format!("{}. {warning}", report.message);
    }
    report.ok &= ok;
    if let Value::Object(map) = &mut report.details {
        map.insert("history".to_string(), details);
    }
    report
}

async fn check_nats(connections: &Connections, key: &SourceKey, settings: Result<Settings, SettingsError>) -> Report {
    let settings = match settings {
        Ok(s) => Arc::new(s),
        Err(e) => return Report::error(format!("Settings: {e}")),
    };
    let conn = match connections.get(key, Arc::clone(&settings)).await {
        Ok(c) => c,
        Err(e) => return Report::error(e.to_string()),
    };
    if conn.client.connection_state() != async_nats::connection::State::Connected {
        // A fresh connect tells exactly what fails (refused credentials, TLS, unreachable).
        let fresh = conn.try_fresh_connect().await;
        let servers = conn.settings.servers_display();
        return Report::error(match (fresh, conn.events.down_reason()) {
            (Err(e @ (ConnectError::Auth { .. } | ConnectError::Tls { .. })), _) => {
                format!("The NATS connection is down and reconnecting fails: {e}. The plugin keeps retrying")
            }
            (_, Some(why)) => format!("NATS at {servers}: {why}"),
            (Err(e), None) => format!("The NATS connection is down: {e}. The plugin keeps retrying"),
            (Ok(()), None) => format!(
                "NATS at {servers} answers again; the plugin's connection is reconnecting. Test again in a moment"
            ),
        });
    }
    let (server, version) = conn.server();
    let at = format!(
        "Connected to NATS server {server} (v{version}) at {}",
        conn.settings.servers_display()
    );
    let t0 = Instant::now();
    let round = match conn.discovery.discover(Verb::Ping, Scope::all()).await {
        Ok(r) => r,
        Err(e) => return Report::error(format!("{at}, but discovery failed: {e}")),
    };
    let subject = &round.subject;
    if round.replies.is_empty() {
        if let Some(server_error) = conn.events.server_error_since(t0) {
            let lower = server_error.to_ascii_lowercase();
            let advice = if lower.contains("subscription") {
                format!(
                    "the user may not subscribe to its reply inbox {}.>: set inboxPrefix to a prefix this user may subscribe to (for example _INBOX_grafana) and allow <prefix>.> in its subscribe permissions",
                    conn.settings.inbox_prefix
                )
            } else if lower.contains("publish") {
                format!(
                    "the user may not publish to {subject}: allow publish on {}.> for this user, or set srvPrefix to the prefix it may use",
                    conn.settings.srv_prefix
                )
            } else {
                "check this user's permissions".to_string()
            };
            return Report::error(format!("{at}, but NATS refused discovery ({server_error}): {advice}"));
        }
        return match round.stop {
            StopReason::NoResponders => Report {
                ok: true,
                message: format!(
                    "{at}. No micro service answers {subject} yet (no responders): start a service, or check srvPrefix ({}) and the NATS account",
                    conn.settings.srv_prefix
                ),
                details: json!({"server": server, "version": version, "services": 0, "instances": 0}),
            },
            _ => Report::error(format!(
                "{at}, but nothing answered {subject} within {} ms although something subscribes to it{}. If this user has restricted permissions, set inboxPrefix",
                conn.settings.timeout.as_millis(),
                if round.invalid > 0 {
                    format!(" ({} invalid replies were skipped)", round.invalid)
                } else {
                    String::new()
                }
            )),
        };
    }
    let mut by_service: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &round.replies {
        *by_service.entry(&r.reply.name).or_default() += 1;
    }
    let list: Vec<String> = by_service.iter().map(|(n, c)| format!("{n} ({c})")).collect();
    let shown = if list.len() > 8 {
        format!("{}, …", list[..8].join(", "))
    } else {
        list.join(", ")
    };
    let mut message = format!(
        "{at}. {} {} with {} {} answered {subject} in {:.1} ms: {shown}",
        by_service.len(),
        if by_service.len() == 1 { "service" } else { "services" },
        round.replies.len(),
        if round.replies.len() == 1 {
            "instance"
        } else {
            "instances"
        },
        round.elapsed.as_secs_f64() * 1e3,
    );
    if round.invalid > 0 {
        message.push_str(&format!(". {} invalid replies were skipped", round.invalid));
    }
    if round.oversized > 0 {
        message.push_str(&format!(
            ". {} replies larger than a 64th of maxRoundBytes were skipped",
            round.oversized
        ));
    }
    match round.stop {
        StopReason::Capped => message.push_str(". The reply cap was reached: there are more instances than shown"),
        StopReason::Budget => message.push_str(
            ". The round's byte budget (maxRoundBytes) was reached: there may be more instances than shown; raise maxRoundBytes if these replies are expected",
        ),
        _ if round.late_cut_short => message.push_str(
            ". Late replies to an earlier round reached the reply cap or the byte budget (maxRoundBytes): something on this account answers far more than a fleet would",
        ),
        _ => {}
    }
    Report {
        ok: true,
        message,
        details: json!({
            "server": server,
            "version": version,
            "services": by_service.len(),
            "instances": round.replies.len(),
            "invalidReplies": round.invalid,
            "oversizedReplies": round.oversized,
        }),
    }
}
