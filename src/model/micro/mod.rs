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
use serde::Deserialize;
use serde_json::Value;

mod loose;
use loose::{
    count_or_default, endpoints_or_default, metadata_or_default, nanos_or_default, string_or_default, time_or_default,
};

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
    /// nats.php reported `processing_time` in seconds, as a fraction. Totals in nanoseconds are
    /// whole numbers, so a fractional total under 10^6 can only be seconds: it is converted, and
    /// the average recomputed from it.
    fn seconds_to_nanos(&mut self) {
        let t = self.processing_time;
        if t.is_finite() && t > 0.0 && t.fract() != 0.0 && t < 1e6 {
            self.processing_time = t * 1e9;
            self.average_processing_time = if self.num_requests > 0 {
                self.processing_time / self.num_requests as f64
            } else {
                0.0
            };
        }
    }

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
    /// About how many bytes of memory this parsed reply holds (structs, strings, maps, custom
    /// data): what a round's byte budget counts besides the payloads, since a reply of many
    /// small endpoints takes several times its size once parsed.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        /// What the allocator takes for `n` bytes: nothing for none, else at least 32 bytes in
        /// steps of 16 (glibc's chunks).
        fn chunk(n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (n.saturating_add(8 + 15) & !15).max(32)
            }
        }
        fn text(s: &str) -> usize {
            chunk(s.len())
        }
        fn map(m: &Metadata) -> usize {
            chunk(m.len() * size_of::<(String, String)>()) + m.iter().map(|(k, v)| text(k) + text(v)).sum::<usize>()
        }
        /// A JSON object is a B-tree of nodes of 11 entries (about 630 bytes each, however few
        /// entries it holds); an array a vector of values.
        fn value(v: &Value) -> usize {
            const NODE: usize = 11 * (size_of::<String>() + size_of::<Value>()) + 16;
            match v {
                Value::String(s) => text(s),
                Value::Array(a) => chunk(a.len() * size_of::<Value>()) + a.iter().map(value).sum::<usize>(),
                Value::Object(o) if o.is_empty() => 0,
                Value::Object(o) => {
                    o.len().div_ceil(10) * chunk(NODE) + o.iter().map(|(k, v)| text(k) + value(v)).sum::<usize>()
                }
                _ => 0,
            }
        }
        let endpoints: usize = self
            .endpoints
            .iter()
            .map(|e| {
                text(&e.name)
                    + text(&e.subject)
                    + text(&e.queue_group)
                    + text(&e.last_error)
                    + map(&e.metadata)
                    + e.data.as_ref().map_or(0, value)
            })
            .sum();
        size_of::<Self>()
            + chunk(self.endpoints.len() * size_of::<Endpoint>())
            + text(&self.name)
            + text(&self.id)
            + text(&self.version)
            + text(&self.description)
            + map(&self.metadata)
            + endpoints
    }

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
    reply.endpoints.iter_mut().for_each(Endpoint::seconds_to_nanos);
    reply
        .endpoints
        .sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.subject.cmp(&b.subject)));
    Ok(reply)
}

#[cfg(test)]
mod tests;
