//! Tolerant readers of reply fields: a field of the wrong JSON type becomes its default (or its text) instead of failing the reply, read in one pass without building a `serde_json::Value` for scalars; pure.
//!
//! The rules, one per field kind:
//! - a string field takes a string as it is, a number or boolean as its JSON text, anything
//!   else as empty;
//! - metadata takes an object; a value that is not a string becomes its JSON text (`null`
//!   empty); a key given twice keeps its last value; anything but an object is empty;
//! - a count takes a non-negative integer, a non-negative float cut to an integer, or a
//!   string of an integer; anything else is 0;
//! - a duration in nanoseconds takes a non-negative finite number or the string of one;
//!   anything else is 0;
//! - a time takes an RFC 3339 string; anything else is none;
//! - endpoints take an array, and of it only the objects.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use super::{Endpoint, Metadata};

/// The scalar methods of a visitor whose every scalar (and `null`) reads as `$default`.
macro_rules! scalars_are_default {
    ($default:expr) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($default)
        }
    };
}

/// One JSON value as the tolerant fields see it: scalars as they came, arrays and objects whole.
enum Loose {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    Null,
    Compound(Value),
}

impl Loose {
    /// The JSON text of a scalar that is not a string (`None` for a string or `null`).
    fn json_text(&self) -> Option<String> {
        match self {
            Loose::Unsigned(n) => Some(n.to_string()),
            Loose::Signed(n) => Some(n.to_string()),
            Loose::Float(f) => Some(Number::from_f64(*f).map_or_else(String::new, |n| n.to_string())),
            Loose::Bool(b) => Some(b.to_string()),
            Loose::Compound(v) => Some(v.to_string()),
            Loose::Text(_) | Loose::Null => None,
        }
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::Text(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::Text(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
        Ok(Loose::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
        Ok(Loose::Signed(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose, E> {
        Ok(Loose::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Loose, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Loose::Compound)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Loose::Compound)
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

pub(super) fn string_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Loose::deserialize(d)? {
        Loose::Text(s) => s,
        Loose::Compound(_) => String::new(),
        other => other.json_text().unwrap_or_default(),
    })
}

pub(super) fn metadata_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
    struct MetadataVisitor;
    impl<'de> Visitor<'de> for MetadataVisitor {
        type Value = Metadata;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
            let mut out: Metadata = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
            while let Some((k, v)) = map.next_entry::<String, Loose>()? {
                let v = match v {
                    Loose::Text(s) => s,
                    other => other.json_text().unwrap_or_default(),
                };
                out.push((k, v));
            }
            // Key order; of a key given twice the last value stands.
            out.sort_by(|a, b| a.0.cmp(&b.0));
            let mut kept: Metadata = Vec::with_capacity(out.len());
            for (k, v) in out {
                match kept.last_mut() {
                    Some(last) if last.0 == k => last.1 = v,
                    _ => kept.push((k, v)),
                }
            }
            Ok(kept)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Metadata, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Metadata::new())
        }
        scalars_are_default!(Metadata::new());
    }
    d.deserialize_any(MetadataVisitor)
}

pub(super) fn count_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Loose::deserialize(d)? {
        Loose::Unsigned(n) => n,
        Loose::Float(f) if f.is_finite() && f >= 0.0 => f as u64,
        Loose::Text(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

pub(super) fn nanos_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let f = match Loose::deserialize(d)? {
        Loose::Unsigned(n) => n as f64,
        Loose::Signed(n) => n as f64,
        Loose::Float(f) => f,
        Loose::Text(s) => s.trim().parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    };
    Ok(if f.is_finite() && f >= 0.0 { f } else { 0.0 })
}

pub(super) fn time_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Loose::deserialize(d)? {
        Loose::Text(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    })
}

pub(super) fn endpoints_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Endpoint>, D::Error> {
    /// An array element: an endpoint when it is an object, skipped otherwise.
    struct Element(Option<Endpoint>);
    impl<'de> Deserialize<'de> for Element {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct ElementVisitor;
            impl<'de> Visitor<'de> for ElementVisitor {
                type Value = Element;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("an endpoint object")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element, A::Error> {
                    Endpoint::deserialize(MapAccessDeserializer::new(map)).map(|e| Element(Some(e)))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Element(None))
                }
                scalars_are_default!(Element(None));
            }
            d.deserialize_any(ElementVisitor)
        }
    }
    struct EndpointsVisitor;
    impl<'de> Visitor<'de> for EndpointsVisitor {
        type Value = Vec<Endpoint>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of endpoints")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Endpoint>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(Element(e)) = seq.next_element::<Element>()? {
                out.extend(e);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Endpoint>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
        scalars_are_default!(Vec::new());
    }
    d.deserialize_any(EndpointsVisitor)
}

#[cfg(test)]
mod tests {
    use super::super::{meta, parse_reply, Verb};

    #[test]
    fn each_field_kind_reads_the_wrong_types_by_its_rule() {
        let body = br#"{"type":"io.nats.micro.v1.stats_response","name":"a","id":1.5,"version":true,
            "description":{"x":1},"metadata":{"k":"1","k":"2","f":2.5,"b":false,"o":{"z":1,"a":[1,null]},"n":null},
            "started":" 2026-12-04T10:00:00Z ",
            "endpoints":[{"name":"e","subject":7,"metadata":[1,2],"num_requests":"12","num_errors":3.9,
                          "processing_time":"-4","average_processing_time":-1}, [1], "x"]}"#;
        let r = parse_reply(Verb::Stats, body).unwrap();
        assert_eq!(
            (r.id.as_str(), r.version.as_str(), r.description.as_str()),
            ("1.5", "true", "")
        );
        let keys: Vec<_> = r.metadata.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "f", "k", "n", "o"], "key order, each key once");
        assert_eq!(
            meta(&r.metadata, "k"),
            Some("2"),
            "the last value of a key given twice stands"
        );
        assert_eq!(meta(&r.metadata, "f"), Some("2.5"));
        assert_eq!(meta(&r.metadata, "b"), Some("false"));
        assert_eq!(meta(&r.metadata, "o"), Some(r#"{"a":[1,null],"z":1}"#));
        assert_eq!(meta(&r.metadata, "n"), Some(""));
        assert_eq!(
            r.started.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-12-04T10:00:00+00:00")
        );
        assert_eq!(r.endpoints.len(), 1, "only the objects of the array are endpoints");
        let e = &r.endpoints[0];
        assert_eq!((e.subject.as_str(), e.metadata.len()), ("7", 0));
        assert_eq!((e.num_requests, e.num_errors), (12, 3));
        assert_eq!((e.processing_time, e.average_processing_time), (0.0, 0.0));

        let body = br#"{"type":"io.nats.micro.v1.info_response","name":"a","id":"1","metadata":"k=v",
            "started":17,"endpoints":{"name":"e"}}"#;
        let r = parse_reply(Verb::Info, body).unwrap();
        assert!(r.metadata.is_empty() && r.started.is_none() && r.endpoints.is_empty());
    }
}
