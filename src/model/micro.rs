//! The NATS micro-service protocol (ADR-32): verbs, subjects and tolerant parsing of every real implementation's replies.
//!
//! Knows nothing of Grafana. Replies are parsed leniently (only `type`, `name`
//! and `id` are required; `null` means absent; numbers may be floats) because
//! the Go, Rust, Python, JS, Java and .NET implementations differ in what they omit.
//!
//! Every field is bounded ([`limits`]): a reply is whatever a service on the account chose to
//! send, so no field of it may grow the plugin's memory without limit. A reply whose `name` or
//! `id` is too long is rejected; other fields are cut and the reply says which
//! ([`ServiceReply::limited`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// One of the three discovery verbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    Ping,
    Info,
    Stats,
}

impl Verb {
    /// The subject token (`PING`).
    pub fn token(self) -> &'static str {
        match self {
            Verb::Ping => "PING",
            Verb::Info => "INFO",
            Verb::Stats => "STATS",
        }
    }
    /// The reply `type` string an instance must send.
    pub fn response_type(self) -> &'static str {
        match self {
            Verb::Ping => "io.nats.micro.v1.ping_response",
            Verb::Info => "io.nats.micro.v1.info_response",
            Verb::Stats => "io.nats.micro.v1.stats_response",
        }
    }
    /// Lower-case name for metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Ping => "ping",
            Verb::Info => "info",
            Verb::Stats => "stats",
        }
    }
}

/// Which instances a request addresses: all, one service, or one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub service: Option<String>,
    pub id: Option<String>,
}

impl Scope {
    /// All instances of all services.
    pub fn all() -> Self {
        Self::default()
    }
    /// Whether an instance is inside this scope.
    pub fn contains(&self, name: &str, id: &str) -> bool {
        self.service.as_deref().is_none_or(|s| s == name) && self.id.as_deref().is_none_or(|i| i == id)
    }
    /// Whether this scope names one instance (its first reply completes the answer).
    pub fn is_single(&self) -> bool {
        self.service.is_some() && self.id.is_some()
    }
    /// `<prefix>.<VERB>[.<service>[.<id>]]`. An id without a service is addressed via the
    /// service-wide subject and filtered after, since ADR-32 has no id-only subject.
    pub fn subject(&self, prefix: &str, verb: Verb) -> String {
        let mut s = format!("{prefix}.{}", verb.token());
        if let Some(service) = &self.service {
            s.push('.');
            s.push_str(service);
            if let Some(id) = &self.id {
                s.push('.');
                s.push_str(id);
            }
        }
        s
    }
}

/// ADR-32 service names: `A-Z a-z 0-9 - _`. Instance ids and endpoint names use the same alphabet here.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Bounds on the fields of one reply, in bytes of UTF-8 unless said otherwise.
pub mod limits {
    /// `name` and `id`: a longer one rejects the reply (ADR-32 names are short identifiers).
    pub const NAME: usize = 256;
    /// `version`: cut.
    pub const VERSION: usize = 64;
    /// `description`: cut.
    pub const DESCRIPTION: usize = 4 * 1024;
    /// `metadata` (of the instance, and of each endpoint): at most this many keys…
    pub const METADATA_KEYS: usize = 64;
    /// …and this many bytes of keys and values together; keys beyond either bound are dropped.
    pub const METADATA_BYTES: usize = 4 * 1024;
    /// Endpoints of one instance; the rest are dropped.
    pub const ENDPOINTS: usize = 1024;
    /// An endpoint's `name`, `subject` and `queue_group`: cut.
    pub const ENDPOINT_FIELD: usize = 256;
    /// An endpoint's `last_error`: cut.
    pub const LAST_ERROR: usize = 1024;
    /// An endpoint's custom `data`, as JSON text: a larger object is dropped whole.
    pub const DATA: usize = 64 * 1024;
}

/// A field bound that was applied to a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    /// `name` or `id` too long: the reply was rejected.
    Name,
    Version,
    Description,
    Metadata,
    Endpoints,
    EndpointField,
    LastError,
    Data,
}

impl Limit {
    /// Label for metrics and notices.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Name => "name",
            Limit::Version => "version",
            Limit::Description => "description",
            Limit::Metadata => "metadata",
            Limit::Endpoints => "endpoints",
            Limit::EndpointField => "endpoint_field",
            Limit::LastError => "last_error",
            Limit::Data => "data",
        }
    }

    /// What the bound is, for notices.
    pub fn rule(self) -> String {
        match self {
            Limit::Name => format!("name or id over {} B: reply skipped", limits::NAME),
            Limit::Version => format!("version cut to {} B", limits::VERSION),
            Limit::Description => format!("description cut to {} B", limits::DESCRIPTION),
            Limit::Metadata => format!(
                "metadata cut to {} keys / {} B",
                limits::METADATA_KEYS,
                limits::METADATA_BYTES
            ),
            Limit::Endpoints => format!("endpoints cut to {}", limits::ENDPOINTS),
            Limit::EndpointField => format!(
                "endpoint name, subject or queue group cut to {} B",
                limits::ENDPOINT_FIELD
            ),
            Limit::LastError => format!("last_error cut to {} B", limits::LAST_ERROR),
            Limit::Data => format!("data over {} B dropped", limits::DATA),
        }
    }
}

/// Cut `s` to at most `max` bytes on a character boundary; true when it was cut.
fn cut(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.shrink_to_fit();
    true
}

/// Keep metadata keys (in key order) while both bounds hold; true when any was dropped.
fn cut_metadata(m: &mut Metadata) -> bool {
    let mut bytes = 0usize;
    let mut kept = 0usize;
    let before = m.len();
    m.retain(|(k, v)| {
        let size = k.len() + v.len();
        if kept < limits::METADATA_KEYS && bytes + size <= limits::METADATA_BYTES {
            kept += 1;
            bytes += size;
            true
        } else {
            false
        }
    });
    m.len() != before
}

/// Whether the JSON text of `v` would exceed `max` bytes (walks at most until it does).
fn json_larger_than(v: &Value, max: usize) -> bool {
    fn size(v: &Value, budget: &mut isize) {
        if *budget < 0 {
            return;
        }
        match v {
            Value::Null | Value::Bool(_) => *budget -= 5,
            Value::Number(_) => *budget -= 24,
            Value::String(s) => *budget -= s.len() as isize + 2,
            Value::Array(a) => {
                *budget -= 2 + a.len() as isize;
                for x in a {
                    size(x, budget);
                }
            }
            Value::Object(o) => {
                *budget -= 2 + o.len() as isize;
                for (k, x) in o {
                    *budget -= k.len() as isize + 3;
                    size(x, budget);
                }
            }
        }
    }
    let mut budget = isize::try_from(max).unwrap_or(isize::MAX);
    size(v, &mut budget);
    budget < 0
}

/// Metadata of an instance or endpoint: `(key, value)` pairs in key order, keys unique. A sorted
/// list rather than a map: a one-entry `BTreeMap` allocates a whole tree node (≈ 0.5 KiB), which
/// made metadata the largest part of a small reply held in memory.
pub type Metadata = Vec<(String, String)>;

/// The value of `key` in `m`.
pub fn meta<'a>(m: &'a Metadata, key: &str) -> Option<&'a str> {
    m.binary_search_by(|(k, _)| k.as_str().cmp(key))
        .ok()
        .map(|i| m[i].1.as_str())
}

/// One endpoint as INFO or STATS describe it; STATS-only fields are zero for INFO.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    #[serde(deserialize_with = "string_or_default")]
    pub name: String,
    #[serde(deserialize_with = "string_or_default")]
    pub subject: String,
    #[serde(deserialize_with = "string_or_default")]
    pub queue_group: String,
    #[serde(deserialize_with = "metadata_or_default")]
    pub metadata: Metadata,
    #[serde(deserialize_with = "count_or_default")]
    pub num_requests: u64,
    #[serde(deserialize_with = "count_or_default")]
    pub num_errors: u64,
    #[serde(deserialize_with = "string_or_default")]
    pub last_error: String,
    /// Total processing time, nanoseconds.
    #[serde(deserialize_with = "nanos_or_default")]
    pub processing_time: f64,
    /// Average processing time, nanoseconds (a float in some JS replies).
    #[serde(deserialize_with = "nanos_or_default")]
    pub average_processing_time: f64,
    /// Custom stats data; `None` when absent or `null`.
    pub data: Option<Value>,
}

impl Endpoint {
    /// Total processing time as whole nanoseconds (0 when the reply's value is negative or not finite).
    pub fn processing_ns(&self) -> u64 {
        if self.processing_time.is_finite() && self.processing_time > 0.0 {
            self.processing_time as u64
        } else {
            0
        }
    }
}

/// A parsed PING, INFO or STATS reply of one instance.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ServiceReply {
    #[serde(rename = "type", deserialize_with = "string_or_default")]
    pub kind: String,
    #[serde(deserialize_with = "string_or_default")]
    pub name: String,
    #[serde(deserialize_with = "string_or_default")]
    pub id: String,
    #[serde(deserialize_with = "string_or_default")]
    pub version: String,
    #[serde(deserialize_with = "string_or_default")]
    pub description: String,
    #[serde(deserialize_with = "metadata_or_default")]
    pub metadata: Metadata,
    #[serde(deserialize_with = "time_or_default")]
    pub started: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "endpoints_or_default")]
    pub endpoints: Vec<Endpoint>,
    /// Field bounds applied to this reply (empty for every well-behaved service).
    #[serde(skip)]
    pub limited: BTreeSet<Limit>,
}

impl ServiceReply {
    /// Apply [`limits`] to every field; `Err` when name or id is too long.
    fn bound(&mut self) -> Result<(), InvalidReply> {
        if self.name.len() > limits::NAME || self.id.len() > limits::NAME {
            return Err(InvalidReply::TooLong("name or id"));
        }
        fn hit(on: bool, l: Limit, set: &mut BTreeSet<Limit>) {
            if on {
                set.insert(l);
            }
        }
        let mut set = BTreeSet::new();
        hit(cut(&mut self.version, limits::VERSION), Limit::Version, &mut set);
        hit(
            cut(&mut self.description, limits::DESCRIPTION),
            Limit::Description,
            &mut set,
        );
        hit(cut_metadata(&mut self.metadata), Limit::Metadata, &mut set);
        if self.endpoints.len() > limits::ENDPOINTS {
            self.endpoints.truncate(limits::ENDPOINTS);
            self.endpoints.shrink_to_fit();
            set.insert(Limit::Endpoints);
        }
        for e in &mut self.endpoints {
            let fields = cut(&mut e.name, limits::ENDPOINT_FIELD)
                | cut(&mut e.subject, limits::ENDPOINT_FIELD)
                | cut(&mut e.queue_group, limits::ENDPOINT_FIELD);
            hit(fields, Limit::EndpointField, &mut set);
            hit(cut_metadata(&mut e.metadata), Limit::Metadata, &mut set);
            hit(cut(&mut e.last_error, limits::LAST_ERROR), Limit::LastError, &mut set);
            if e.data.as_ref().is_some_and(|d| json_larger_than(d, limits::DATA)) {
                e.data = None;
                set.insert(Limit::Data);
            }
        }
        self.limited = set;
        Ok(())
    }
}

/// Why a reply was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReply {
    #[error("reply is not JSON: {0}")]
    NotJson(String),
    #[error("reply type is '{got}', expected '{want}'")]
    WrongType { got: String, want: &'static str },
    #[error("reply has no {0}")]
    Missing(&'static str),
    #[error("reply {0} is longer than {limit} bytes", limit = limits::NAME)]
    TooLong(&'static str),
}

/// Parse one reply body for `verb`. Endpoints come back sorted by name.
pub fn parse_reply(verb: Verb, body: &[u8]) -> Result<ServiceReply, InvalidReply> {
    let mut reply: ServiceReply = serde_json::from_slice(body).map_err(|e| InvalidReply::NotJson(e.to_string()))?;
    if reply.kind != verb.response_type() {
        let mut got = std::mem::take(&mut reply.kind);
        cut(&mut got, 80);
        return Err(InvalidReply::WrongType {
            got,
            want: verb.response_type(),
        });
    }
    if reply.name.is_empty() {
        return Err(InvalidReply::Missing("name"));
    }
    if reply.id.is_empty() {
        return Err(InvalidReply::Missing("id"));
    }
    reply.bound()?;
    reply
        .endpoints
        .sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.subject.cmp(&b.subject)));
    Ok(reply)
}

fn string_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    })
}

fn metadata_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        _ => Metadata::new(),
    })
}

fn count_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

fn nanos_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).unwrap_or(0.0),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .unwrap_or(0.0),
        _ => 0.0,
    })
}

fn time_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    })
}

fn endpoints_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Endpoint>, D::Error> {
    match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter(|v| v.is_object())
            .map(|v| Endpoint::deserialize(v).map_err(de::Error::custom))
            .collect(),
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_scopes() {
        let all = Scope::all();
        assert_eq!(all.subject("$SRV", Verb::Ping), "$SRV.PING");
        let svc = Scope {
            service: Some("orders".into()),
            id: None,
        };
        assert_eq!(svc.subject("$SRV", Verb::Stats), "$SRV.STATS.orders");
        let one = Scope {
            service: Some("orders".into()),
            id: Some("abc".into()),
        };
        assert_eq!(one.subject("x.y", Verb::Info), "x.y.INFO.orders.abc");
        assert!(one.is_single() && !svc.is_single());
        assert!(svc.contains("orders", "zzz") && !svc.contains("billing", "zzz"));
        assert!(valid_name("orders-v2_x") && !valid_name("a.b") && !valid_name("") && !valid_name("$x"));
    }

    #[test]
    fn rejects_wrong_type_and_missing_identity() {
        let stats = br#"{"type":"io.nats.micro.v1.stats_response","name":"a","id":"1"}"#;
        assert!(matches!(
            parse_reply(Verb::Ping, stats),
            Err(InvalidReply::WrongType { .. })
        ));
        assert!(matches!(
            parse_reply(Verb::Ping, b"not json"),
            Err(InvalidReply::NotJson(_))
        ));
        assert!(matches!(
            parse_reply(Verb::Ping, b"[]"),
            Err(InvalidReply::WrongType { .. })
        ));
        let no_id = br#"{"type":"io.nats.micro.v1.ping_response","name":"a"}"#;
        assert_eq!(parse_reply(Verb::Ping, no_id), Err(InvalidReply::Missing("id")));
        let null_name = br#"{"type":"io.nats.micro.v1.ping_response","name":null,"id":"1"}"#;
        assert_eq!(parse_reply(Verb::Ping, null_name), Err(InvalidReply::Missing("name")));
    }

    /// Replies recorded from the Rust (async-nats), Python (nats-py) and JS (@nats-io/services)
    /// implementations: `tests/fixtures/replies/README.md`.
    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/replies")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn every_implementation_parses_alike() {
        for implementation in ["rust", "python", "js"] {
            for suffix in ["", "_nometa"] {
                let ping = parse_reply(Verb::Ping, &fixture(&format!("{implementation}_ping{suffix}.json"))).unwrap();
                let info = parse_reply(Verb::Info, &fixture(&format!("{implementation}_info{suffix}.json"))).unwrap();
                let stats =
                    parse_reply(Verb::Stats, &fixture(&format!("{implementation}_stats{suffix}.json"))).unwrap();
                let what = format!("{implementation}{suffix}");
                for r in [&ping, &info, &stats] {
                    assert_eq!(r.name, "orders", "{what}");
                    assert_eq!(r.version, "1.2.3", "{what}");
                    assert!(!r.id.is_empty(), "{what}");
                }
                let want_meta = if suffix.is_empty() { Some("eu") } else { None };
                assert_eq!(meta(&info.metadata, "region"), want_meta, "{what}");
                assert_eq!(
                    info.description,
                    if suffix.is_empty() { "Orders service" } else { "" },
                    "{what}"
                );
                // Endpoints come back sorted whatever order the implementation used.
                let names: Vec<_> = info.endpoints.iter().map(|e| e.name.as_str()).collect();
                assert_eq!(names, ["a_first", "b_second"], "{what}");
                let a = &stats.endpoints[0];
                assert_eq!((a.name.as_str(), a.num_requests), ("a_first", 3), "{what}");
                assert!(
                    stats.started.is_some(),
                    "{what}: started parses (3 to 9 fractional digits)"
                );
                assert!(info.endpoints.iter().all(|e| e.metadata.is_empty()), "{what}");
            }
        }
        // Rust and Python count the errored 3rd request; JS does not count errors of async handlers.
        for implementation in ["rust", "python"] {
            let stats = parse_reply(Verb::Stats, &fixture(&format!("{implementation}_stats.json"))).unwrap();
            assert_eq!(stats.endpoints[0].num_errors, 1, "{implementation}");
            assert!(!stats.endpoints[0].last_error.is_empty(), "{implementation}");
        }
        let iterator = parse_reply(Verb::Stats, &fixture("js_stats_iterator.json")).unwrap();
        assert!((iterator.endpoints[0].average_processing_time - 1_333_333.333).abs() < 1.0);
        // A reply of one verb is not accepted for another.
        assert!(parse_reply(Verb::Ping, &fixture("rust_stats.json")).is_err());
    }

    #[test]
    fn hostile_values_are_defaulted_not_fatal() {
        let body = br#"{"type":"io.nats.micro.v1.stats_response","name":"a","id":"1","version":7,
            "metadata":{"k":1,"n":null},"started":"yesterday",
            "endpoints":[{"name":"z","num_requests":-5,"num_errors":"3","processing_time":1e400,
                          "average_processing_time":12.5,"data":null}, 17, null,
                         {"name":"a","num_requests":2.0}]}"#;
        // 1e400 is not representable: serde_json rejects the document, which is counted as invalid.
        assert!(parse_reply(Verb::Stats, body).is_err());
        let body = String::from_utf8_lossy(body).replace("1e400", "\"x\"");
        let r = parse_reply(Verb::Stats, body.as_bytes()).unwrap();
        assert_eq!(r.version, "7");
        assert_eq!(meta(&r.metadata, "k"), Some("1"));
        assert_eq!(r.started, None);
        assert_eq!(r.endpoints.len(), 2);
        assert_eq!(r.endpoints[0].name, "a");
        assert_eq!(r.endpoints[0].num_requests, 2);
        assert_eq!(r.endpoints[1].num_requests, 0);
        assert_eq!(r.endpoints[1].num_errors, 3);
        assert_eq!(r.endpoints[1].processing_time, 0.0);
        assert_eq!(r.endpoints[1].average_processing_time, 12.5);
        assert_eq!(r.endpoints[1].data, None);
    }

    #[test]
    fn a_long_wrong_type_of_wide_characters_is_cut_at_a_character_boundary() {
        // Found by tests/properties.rs: a type of 4-byte characters was cut inside one (a panic).
        let kind = format!("a{}", "\u{10000}".repeat(30));
        let body = serde_json::to_vec(&serde_json::json!({"type": kind, "name": "x", "id": "y"})).unwrap();
        match parse_reply(Verb::Ping, &body) {
            Err(InvalidReply::WrongType { got, .. }) => {
                assert!(got.len() <= 80 && kind.starts_with(&got), "{got:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
