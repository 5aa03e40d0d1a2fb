//! Grafana Live channel paths of streamed queries: a pure, reversible encoding of what a stream shows into Live's path alphabet.
//!
//! A channel is `ds/<data source uid>/<path>`; Grafana allows `[A-Za-z0-9_\-/=.]` in the path
//! and at most [`MAX_CHANNEL_LEN`] characters in the whole channel. The path is
//!
//! ```text
//! v1/<queryType>/<format>/<metric>/<service>/<instance>/<endpoint>
//! ```
//!
//! e.g. `ds/P1A2B3/v1/ping/timeseries/rtt/orders/=/=`. Each of the four value segments is
//! escaped: bytes in `[A-Za-z0-9_-.]` stand for themselves, every other byte of the UTF-8 text
//! (`$`, `*`, `>`, `/`, `=`, space, …) is written `=XX` (two upper-case hex digits), and an empty
//! value (no filter) is the lone `=`. Decoding accepts only the canonical spelling, so one
//! stream has exactly one path (and one producer). `v1` versions the format: it is a contract.

use std::fmt::Write as _;

use crate::model::micro::{valid_name, Scope};
use crate::model::query::{Format, QueryType};

/// Longest channel Grafana Live accepts, `ds/<uid>/` included.
pub const MAX_CHANNEL_LEN: usize = 160;

/// Version tag, first segment of every path.
const VERSION: &str = "v1";

/// What one stream shows: the parts of a query that decide its points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSpec {
    pub query_type: QueryType,
    pub format: Format,
    pub metric: &'static str,
    pub scope: Scope,
    pub endpoint: Option<String>,
}

/// Why a path or channel is not one of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("path has {0} segments; expected 7: v1/<queryType>/<format>/<metric>/<service>/<instance>/<endpoint>")]
    Segments(usize),
    #[error("unknown path version '{0}' (this plugin writes v1)")]
    Version(String),
    #[error("queryType '{0}' does not stream (ping and stats do)")]
    QueryType(String),
    #[error("format '{0}' does not stream (timeseries does)")]
    Format(String),
    #[error("metric '{metric}' is not one of {query_type}: {allowed}")]
    Metric {
        metric: String,
        query_type: &'static str,
        allowed: String,
    },
    #[error("segment '{0}' is not canonically escaped")]
    Escape(String),
    #[error("{key} '{value}' is not a valid name (letters, digits, - and _)")]
    Name { key: &'static str, value: String },
    #[error("data source uid '{0}' cannot be part of a channel (letters, digits, -, _ and . only)")]
    Uid(String),
    #[error("channel would be {0} characters long; Grafana Live allows {MAX_CHANNEL_LEN}")]
    TooLong(usize),
}

/// Query types and formats that stream (see [`crate::grafana::stream`] for why instant frames do not).
pub fn streams(query_type: QueryType, format: Format) -> bool {
    matches!(query_type, QueryType::Ping | QueryType::Stats) && format == Format::Timeseries
}

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Escape one value into a path segment.
pub fn escape(value: &str) -> String {
    if value.is_empty() {
        return "=".to_string();
    }
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "={b:02X}");
        }
    }
    out
}

/// Decode one path segment; only the canonical spelling [`escape`] writes is accepted.
pub fn unescape(segment: &str) -> Result<String, ChannelError> {
    let bad = || ChannelError::Escape(segment.to_string());
    if segment == "=" {
        return Ok(String::new());
    }
    if segment.is_empty() {
        return Err(bad());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if plain(b) {
            out.push(b);
            i += 1;
        } else if b == b'=' && i + 2 < bytes.len() {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            };
            let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) else {
                return Err(bad());
            };
            let decoded = hi << 4 | lo;
            if plain(decoded) {
                return Err(bad());
            }
            out.push(decoded);
            i += 3;
        } else {
            return Err(bad());
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

impl StreamSpec {
    /// The channel path (after `ds/<uid>/`).
    pub fn path(&self) -> String {
        [
            VERSION.to_string(),
            self.query_type.name().to_string(),
            self.format.name().to_string(),
            escape(self.metric),
            escape(self.scope.service.as_deref().unwrap_or("")),
            escape(self.scope.id.as_deref().unwrap_or("")),
            escape(self.endpoint.as_deref().unwrap_or("")),
        ]
        .join("/")
    }

    /// The whole channel of this stream for data source `uid`, if Grafana Live can carry it.
    pub fn channel(&self, uid: &str) -> Result<String, ChannelError> {
        if uid.is_empty() || !uid.bytes().all(plain) {
            return Err(ChannelError::Uid(uid.to_string()));
        }
        let channel = format!("ds/{uid}/{}", self.path());
        if channel.len() > MAX_CHANNEL_LEN {
            return Err(ChannelError::TooLong(channel.len()));
        }
        Ok(channel)
    }

    /// Parse a path as Grafana hands it to SubscribeStream and RunStream.
    pub fn from_path(path: &str) -> Result<Self, ChannelError> {
        let parts: Vec<&str> = path.split('/').collect();
        let [version, query_type, format, metric, service, instance, endpoint] = parts[..] else {
            return Err(ChannelError::Segments(parts.len()));
        };
        if version != VERSION {
            return Err(ChannelError::Version(version.to_string()));
        }
        let query_type = match query_type {
            "ping" => QueryType::Ping,
            "stats" => QueryType::Stats,
            other => return Err(ChannelError::QueryType(other.to_string())),
        };
        let format = match format {
            "timeseries" => Format::Timeseries,
            other => return Err(ChannelError::Format(other.to_string())),
        };
        let metric_text = unescape(metric)?;
        // Streams carry `timeseries` queries, so their metric names (for stats: rates).
        let metric = query_type
            .timeseries_metrics()
            .iter()
            .copied()
            .find(|m| *m == metric_text)
            .ok_or_else(|| ChannelError::Metric {
                metric: metric_text.clone(),
                query_type: query_type.name(),
                allowed: query_type.timeseries_metrics().join(", "),
            })?;
        let name = |key: &'static str, segment: &str| -> Result<Option<String>, ChannelError> {
            let value = unescape(segment)?;
            if value.is_empty() {
                Ok(None)
            } else if valid_name(&value) {
                Ok(Some(value))
            } else {
                Err(ChannelError::Name { key, value })
            }
        };
        let service = name("service", service)?;
        let id = name("instance", instance)?;
        let endpoint = unescape(endpoint)?;
        let spec = Self {
            query_type,
            format,
            metric,
            scope: Scope { service, id },
            endpoint: (!endpoint.is_empty()).then_some(endpoint),
        };
        if !streams(spec.query_type, spec.format) {
            return Err(ChannelError::Format(spec.format.name().to_string()));
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(service: &str, id: &str, endpoint: &str) -> StreamSpec {
        StreamSpec {
            query_type: QueryType::Stats,
            format: Format::Timeseries,
            metric: "error_rate",
            scope: Scope {
                service: (!service.is_empty()).then(|| service.to_string()),
                id: (!id.is_empty()).then(|| id.to_string()),
            },
            endpoint: (!endpoint.is_empty()).then(|| endpoint.to_string()),
        }
    }

    fn live_alphabet(s: &str) -> bool {
        s.bytes().all(|b| plain(b) || b == b'/' || b == b'=')
    }

    #[test]
    fn documented_example() {
        let s = StreamSpec {
            query_type: QueryType::Ping,
            format: Format::Timeseries,
            metric: "rtt",
            scope: Scope {
                service: Some("orders".into()),
                id: None,
            },
            endpoint: None,
        };
        assert_eq!(
            s.channel("P1A2B3").unwrap(),
            "ds/P1A2B3/v1/ping/timeseries/rtt/orders/=/="
        );
        assert_eq!(StreamSpec::from_path("v1/ping/timeseries/rtt/orders/=/=").unwrap(), s);
    }

    #[test]
    fn escapes_round_trip_over_awkward_values() {
        let awkward = [
            "", "=", "==", "a", "$SRV", "orders.>", "a.*.b", "a/b", "/", "//", "x y", "=41", "é", "名前", "-", "_",
            ".", "..", "a=b", "\u{0}", "%2F", "a\nb", "ends=",
        ];
        for v in awkward {
            let e = escape(v);
            assert!(live_alphabet(&e), "{v:?} → {e:?}");
            assert!(!e.contains('/'), "{v:?} → {e:?}");
            assert!(!e.is_empty());
            assert_eq!(unescape(&e).unwrap(), v, "{v:?} → {e:?}");
        }
        // Pseudo-random byte strings: escape then unescape is the identity.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let len = (x % 12) as usize;
            let mut s = String::new();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(char::from_u32((x % 0x3000) as u32).unwrap_or('?'));
            }
            x = x.wrapping_add(1);
            let e = escape(&s);
            assert!(live_alphabet(&e));
            assert_eq!(unescape(&e).unwrap(), s);
        }
    }

    #[test]
    fn only_canonical_escapes_decode() {
        for bad in ["", "=4", "=4g", "=41", "=2f", "a$b", "a b", "=C3", "=zz", "a=", "=="] {
            assert!(unescape(bad).is_err(), "{bad:?} decoded");
        }
    }

    #[test]
    fn paths_round_trip_and_stay_in_the_alphabet() {
        for s in [
            spec("", "", ""),
            spec("orders", "", ""),
            spec("orders", "abc123", "get"),
            spec("", "abc", ""),
            spec("orders", "", "get.$all >*"),
            spec("a-b_c", "ID-1", "=/="),
        ] {
            let path = s.path();
            assert!(live_alphabet(&path), "{path}");
            assert_eq!(StreamSpec::from_path(&path).unwrap(), s, "{path}");
            let channel = s.channel("uid-1").unwrap();
            assert_eq!(channel, format!("ds/uid-1/{path}"));
        }
    }

    #[test]
    fn foreign_paths_are_refused_with_a_reason() {
        let cases = [
            ("ping", "segments"),
            ("v2/ping/timeseries/rtt/=/=/=", "version"),
            ("v1/info/timeseries/rtt/=/=/=", "does not stream"),
            ("v1/ping/instant/rtt/=/=/=", "does not stream"),
            ("v1/ping/timeseries/cpu/=/=/=", "metric 'cpu'"),
            ("v1/ping/timeseries/rtt/orders=2E/=/=", "not canonically"),
            ("v1/ping/timeseries/rtt/a=2Eb/=/=", "not canonically"),
            ("v1/ping/timeseries/rtt/a=24b/=/=", "not a valid name"),
            ("v1/ping/timeseries/rtt/a/=", "segments"),
            ("v1/ping/timeseries/rtt/orders//=", "not canonically"),
        ];
        for (path, want) in cases {
            let e = StreamSpec::from_path(path).unwrap_err().to_string();
            assert!(e.contains(want), "{path}: {e}");
        }
    }

    #[test]
    fn too_long_or_odd_uids_give_no_channel() {
        let long = spec(&"s".repeat(100), &"i".repeat(40), "");
        assert!(matches!(long.channel("uid"), Err(ChannelError::TooLong(n)) if n > MAX_CHANNEL_LEN));
        let fits = spec("orders", "", "");
        let uid_room = MAX_CHANNEL_LEN - format!("ds//{}", fits.path()).len();
        assert!(fits.channel(&"u".repeat(uid_room)).is_ok());
        assert!(fits.channel(&"u".repeat(uid_room + 1)).is_err());
        assert!(matches!(fits.channel("a/b"), Err(ChannelError::Uid(_))));
        assert!(matches!(fits.channel(""), Err(ChannelError::Uid(_))));
    }
}
