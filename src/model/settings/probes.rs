//! `jsonData.probes`: synthetic checks the sampler runs every period, parsed and validated (names, allowed subjects, timings, assertions) with messages a user can act on.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::{err, json_kind, subject_matches, valid_subject, SettingsError, TIMEOUT_MS_RANGE};
use crate::model::micro::valid_name;
use crate::model::outbound;

/// Probes one data source may define.
pub const MAX_PROBES: usize = 50;
/// Largest probe payload, bytes.
pub const MAX_PROBE_PAYLOAD: usize = 64 * 1024;

/// What a probe's reply must satisfy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// Dot path into the JSON reply (a leading `$.` is allowed); empty = the whole reply.
    pub json_path: String,
    /// The value there must equal this JSON value.
    pub equals: Option<Value>,
    /// The value there (as text) must contain this.
    pub contains: Option<String>,
}

/// One synthetic check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub name: String,
    pub subject: String,
    pub payload: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// Latency over this is `slow` (state 1).
    pub warn_ms: Option<u64>,
    /// Latency over this fails the probe.
    pub crit_ms: Option<u64>,
    pub expect: Expect,
}

/// Parse `jsonData.probes`; every subject must be allowed by `request_subjects` and not be
/// `reserved`; every header must be one NATS accepts.
pub fn parse_probes(
    value: Option<&Value>,
    (request_subjects, reserved): (&[String], &[String]),
    default_timeout: Duration,
) -> Result<Vec<Probe>, SettingsError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return err(format!(
                "probes must be a list of probe objects, not {}",
                json_kind(other)
            ))
        }
    };
    if items.len() > MAX_PROBES {
        return err(format!(
            "probes lists {} probes: at most {MAX_PROBES} are allowed",
            items.len()
        ));
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else {
            return err(format!(
                "probes[{i}] must be an object with name and subject, not {}",
                json_kind(item)
            ));
        };
        let text = |key: &str| -> Result<String, SettingsError> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.trim().to_string()),
                Some(other) => err(format!("probes[{i}].{key} must be text, not {}", json_kind(other))),
            }
        };
        let name = text("name")?;
        if !valid_name(&name) {
            return err(format!(
                "probes[{i}] needs a name of letters, digits, - and _ (it names the probe's series and alert instances)"
            ));
        }
        if !names.insert(name.clone()) {
            return err(format!("probe '{name}' is defined twice: probe names must be unique"));
        }
        let subject = text("subject")?;
        if !valid_subject(&subject, false) {
            return err(format!(
                "probe '{name}': subject '{subject}' is not a valid NATS subject to send to (dot-separated tokens, no wildcards)"
            ));
        }
        if let Some(pattern) = outbound::reserved_by(&subject, reserved) {
            return err(format!(
                "probe '{name}': subject '{subject}' is reserved ({pattern}): probes never reach the history stream, its lease bucket, $JS, $KV, $SYS, $SRV or inbox subjects"
            ));
        }
        if !request_subjects.iter().any(|p| subject_matches(p, &subject)) {
            return err(format!(
                "probe '{name}': subject '{subject}' is not allowed by requestSubjects; add it (or a pattern such as {}.>) to requestSubjects",
                subject.split('.').next().unwrap_or(&subject)
            ));
        }
        let payload = match o.get("payload") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        if payload.len() > MAX_PROBE_PAYLOAD {
            return err(format!("probe '{name}': the payload is over {MAX_PROBE_PAYLOAD} bytes"));
        }
        let headers = match o.get("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(h)) => h
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => match outbound::check_header(k, outbound::header_value(s)) {
                        Ok(()) => Ok((k.clone(), outbound::header_value(s).to_string())),
                        Err(why) => err(format!("probe '{name}': {why}")),
                    },
                    other => err(format!(
                        "probe '{name}': header {k} must be text, not {}",
                        json_kind(other)
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return err(format!(
                    "probe '{name}': headers must be an object of names to text, not {}",
                    json_kind(other)
                ))
            }
        };
        let ms = |key: &str| -> Result<Option<u64>, SettingsError> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(n) if n > 0 => Ok(Some(n)),
                    _ => err(format!(
                        "probe '{name}': {key} must be a positive whole number of milliseconds"
                    )),
                },
            }
        };
        let timeout = match ms("timeoutMs")? {
            None => default_timeout,
            Some(t) if (TIMEOUT_MS_RANGE.0..=TIMEOUT_MS_RANGE.1).contains(&t) => Duration::from_millis(t),
            Some(t) => {
                return err(format!(
                    "probe '{name}': timeoutMs is {t}: use {} to {} milliseconds",
                    TIMEOUT_MS_RANGE.0, TIMEOUT_MS_RANGE.1
                ))
            }
        };
        let (warn_ms, crit_ms) = (ms("warnMs")?, ms("critMs")?);
        if let (Some(w), Some(c)) = (warn_ms, crit_ms) {
            if w > c {
                return err(format!("probe '{name}': warnMs ({w}) must not be above critMs ({c})"));
            }
        }
        let expect = match o.get("expect") {
            None | Some(Value::Null) => Expect::default(),
            Some(Value::Object(e)) => {
                let path = match e.get("jsonPath") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.trim().trim_start_matches('$').trim_start_matches('.').to_string(),
                    Some(other) => {
                        return err(format!(
                            "probe '{name}': expect.jsonPath must be text, not {}",
                            json_kind(other)
                        ))
                    }
                };
                if !path.is_empty() && !crate::model::leaves::valid_path(&path) {
                    return err(format!(
                        "probe '{name}': expect.jsonPath '{path}' must be a dot path such as status.ok or items.0.id"
                    ));
                }
                let contains = match e.get("contains") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => Some(other.to_string()),
                };
                Expect {
                    json_path: path,
                    equals: e.get("equals").filter(|v| !v.is_null()).cloned(),
                    contains,
                }
            }
            Some(other) => {
                return err(format!(
                    "probe '{name}': expect must be an object (jsonPath, equals, contains), not {}",
                    json_kind(other)
                ))
            }
        };
        out.push(Probe {
            name,
            subject,
            payload,
            headers,
            timeout,
            warn_ms,
            crit_ms,
            expect,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Vec<Probe>, SettingsError> {
        parse_probes(
            Some(&v),
            (
                &["orders.>".to_string()],
                &crate::model::outbound::reserved_patterns("H", "$SRV", "_INBOX"),
            ),
            Duration::from_millis(2000),
        )
    }

    #[test]
    fn a_full_probe_parses() {
        let p = parse(
            json!([{"name": "orders-get", "subject": "orders.get", "payload": {"id": 1}, "headers": {"X-Probe": "1"},
            "timeoutMs": 500, "warnMs": 50, "critMs": 200, "expect": {"jsonPath": "$.status", "equals": "ok"}}]),
        )
        .unwrap();
        assert_eq!(p[0].payload, r#"{"id":1}"#);
        assert_eq!(p[0].headers, vec![("X-Probe".to_string(), "1".to_string())]);
        assert_eq!(p[0].timeout, Duration::from_millis(500));
        assert_eq!(p[0].expect.json_path, "status");
        assert_eq!(p[0].expect.equals, Some(json!("ok")));
        assert_eq!(
            parse(json!([{"name": "a", "subject": "orders.a"}])).unwrap()[0].timeout,
            Duration::from_millis(2000)
        );
    }

    #[test]
    fn each_mistake_says_what_to_fix() {
        for (v, says) in [
            (json!({}), "must be a list"),
            (json!([{"subject": "orders.get"}]), "needs a name"),
            (
                json!([{"name": "a", "subject": "orders.get"}, {"name": "a", "subject": "orders.put"}]),
                "defined twice",
            ),
            (
                json!([{"name": "a", "subject": "billing.get"}]),
                "not allowed by requestSubjects",
            ),
            (
                json!([{"name": "a", "subject": "orders.*"}]),
                "not a valid NATS subject",
            ),
            (
                json!([{"name": "a", "subject": "orders.get", "warnMs": 300, "critMs": 100}]),
                "must not be above critMs",
            ),
            (
                json!([{"name": "a", "subject": "orders.get", "timeoutMs": 5}]),
                "use 10 to 120000",
            ),
            (
                json!([{"name": "a", "subject": "orders.get", "expect": {"jsonPath": "a b"}}]),
                "dot path",
            ),
        ] {
            let e = parse(v.clone()).unwrap_err().0;
            assert!(e.contains(says), "{v}: {e}");
        }
    }
}
