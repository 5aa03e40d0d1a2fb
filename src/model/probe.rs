//! Probe results (pure): the rule that judges one probe's reply or failure (latency, success, state, service-error code), and the instant and table frames of `queryType: "probe"`.
//!
//! A probe succeeds when a reply came, with no `Nats-Service-Error` header, its assertion holds
//! and its latency is not over `critMs`. Its state: `up`, `slow` (latency over `warnMs`),
//! `unresponsive` (timeout), `gone` (no responders), `denied` (permissions violation),
//! `malformed` (the assertion failed or the reply is not what was expected).

use serde_json::Value;

use crate::model::settings::Probe;
use crate::model::state::State;

/// How a probe's request went wrong before any valid reply.
#[derive(Clone, Debug, PartialEq)]
pub enum ProbeFailure {
    NoResponders,
    TimedOut,
    Denied,
    NotConnected,
    Other(String),
}

/// What came back: a reply's payload and service-error headers, with its latency.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeReply {
    pub payload: Vec<u8>,
    /// `Nats-Service-Error` and `Nats-Service-Error-Code`, when present.
    pub service_error: Option<(String, String)>,
    pub latency_ms: f64,
}

/// One run of one probe, judged.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    pub name: String,
    pub subject: String,
    pub t_ms: i64,
    pub latency_ms: Option<f64>,
    pub success: bool,
    pub state: State,
    /// The service-error code, when the reply carried one.
    pub code: Option<u16>,
    /// Why it failed (empty on success).
    pub detail: String,
}

/// Judge one run of `probe` at `t_ms`.
pub fn judge(probe: &Probe, t_ms: i64, outcome: Result<ProbeReply, ProbeFailure>) -> ProbeResult {
    let mut r = ProbeResult {
        name: probe.name.clone(),
        subject: probe.subject.clone(),
        t_ms,
        latency_ms: None,
        success: false,
        state: State::Unresponsive,
        code: None,
        detail: String::new(),
    };
    let reply = match outcome {
        Ok(reply) => reply,
        Err(f) => {
            (r.state, r.detail) = match f {
                ProbeFailure::NoResponders => (
                    State::Gone,
                    format!("no service listens on {} (no responders)", probe.subject),
                ),
                ProbeFailure::TimedOut => (
                    State::Unresponsive,
                    format!("no reply within {} ms", probe.timeout.as_millis()),
                ),
                ProbeFailure::Denied => (State::Denied, format!("this user may not publish to {}", probe.subject)),
                ProbeFailure::NotConnected => (State::Unresponsive, "the NATS connection is down".to_string()),
                ProbeFailure::Other(m) => (State::Unresponsive, m),
            };
            return r;
        }
    };
    r.latency_ms = Some(reply.latency_ms);
    r.state = match probe.warn_ms {
        Some(w) => State::answered(reply.latency_ms, w as f64),
        None => State::Up,
    };
    if let Some((message, code)) = &reply.service_error {
        r.code = code.trim().parse().ok();
        r.detail = format!("service error {code}: {message}");
        return r;
    }
    if let Err(why) = check(probe, &reply.payload) {
        r.state = State::Malformed;
        r.detail = why;
        return r;
    }
    if let Some(c) = probe.crit_ms.filter(|c| reply.latency_ms > *c as f64) {
        r.detail = format!("latency {:.1} ms over critMs {c}", reply.latency_ms);
        return r;
    }
    r.success = true;
    r
}

/// The probe's assertion on a reply payload.
fn check(probe: &Probe, payload: &[u8]) -> Result<(), String> {
    let e = &probe.expect;
    if e.equals.is_none() && e.contains.is_none() {
        return Ok(());
    }
    let at_path = || -> Result<Value, String> {
        let v: Value = serde_json::from_slice(payload).map_err(|_| "the reply is not JSON".to_string())?;
        let mut at = &v;
        for token in e.json_path.split('.').filter(|t| !t.is_empty()) {
            at = match at {
                Value::Object(m) => m.get(token),
                Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            }
            .ok_or_else(|| format!("the reply has no {}", e.json_path))?;
        }
        Ok(at.clone())
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(want) = &e.equals {
        let got = if e.json_path.is_empty() && serde_json::from_slice::<Value>(payload).is_err() {
            Value::String(String::from_utf8_lossy(payload).into_owned())
        } else {
            at_path()?
        };
        let same = got == *want || text(&got) == text(want);
        if !same {
            return Err(format!("expected {} = {want}, got {got}", shown(&e.json_path)));
        }
    }
    if let Some(part) = &e.contains {
        let got = if e.json_path.is_empty() {
            String::from_utf8_lossy(payload).into_owned()
        } else {
            text(&at_path()?)
        };
        if !got.contains(part.as_str()) {
            return Err(format!("expected {} to contain {part:?}", shown(&e.json_path)));
        }
    }
    Ok(())
}

fn shown(path: &str) -> String {
    if path.is_empty() {
        "the reply".to_string()
    } else {
        path.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::settings::Expect;
    use serde_json::json;
    use std::time::Duration;

    /// A probe on `orders.get` (warn 50 ms, critical 200 ms) expecting `expect`.
    pub(crate) fn probe(expect: Expect) -> Probe {
        Probe {
            name: "p".into(),
            subject: "orders.get".into(),
            payload: String::new(),
            headers: Vec::new(),
            timeout: Duration::from_millis(500),
            warn_ms: Some(50),
            crit_ms: Some(200),
            expect,
        }
    }

    /// A reply with this body after `latency_ms`.
    pub(crate) fn reply(body: &str, latency_ms: f64) -> Result<ProbeReply, ProbeFailure> {
        Ok(ProbeReply {
            payload: body.as_bytes().to_vec(),
            service_error: None,
            latency_ms,
        })
    }

    #[test]
    fn latency_thresholds_assertions_and_failures_decide_success_and_state() {
        let status = Expect {
            json_path: "status".into(),
            equals: Some(json!("ok")),
            contains: None,
        };
        let p = probe(status.clone());
        let j = |o| {
            let r = judge(&p, 0, o);
            (r.success, r.state.name(), r.code)
        };
        assert_eq!(j(reply(r#"{"status":"ok"}"#, 10.0)), (true, "up", None));
        assert_eq!(j(reply(r#"{"status":"ok"}"#, 80.0)), (true, "slow", None));
        assert_eq!(j(reply(r#"{"status":"ok"}"#, 300.0)), (false, "slow", None));
        assert_eq!(j(reply(r#"{"status":"degraded"}"#, 10.0)), (false, "malformed", None));
        assert_eq!(j(reply("not json", 10.0)), (false, "malformed", None));
        assert_eq!(j(Err(ProbeFailure::NoResponders)), (false, "gone", None));
        assert_eq!(j(Err(ProbeFailure::TimedOut)), (false, "unresponsive", None));
        assert_eq!(j(Err(ProbeFailure::Denied)), (false, "denied", None));
        let err = Ok(ProbeReply {
            payload: Vec::new(),
            service_error: Some(("boom".into(), "503".into())),
            latency_ms: 5.0,
        });
        assert_eq!(j(err), (false, "up", Some(503)));
        let contains = probe(Expect {
            json_path: String::new(),
            equals: None,
            contains: Some("pong".into()),
        });
        assert!(judge(&contains, 0, reply("ping pong", 1.0)).success);
        let r = judge(&contains, 0, reply("nothing", 1.0));
        assert_eq!(r.detail, "expected the reply to contain \"pong\"");
    }
}
