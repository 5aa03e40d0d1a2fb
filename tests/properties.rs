//! Property tests (proptest) of everything that reads outside input or must round-trip: reply parsing and its field bounds, settings, the query model, Live channel paths, and frames decoded again with arrow-rs' IPC reader.

mod support;

use std::collections::{BTreeMap, HashMap};

use natsmicro::model::channel::StreamSpec;
use natsmicro::model::frames::{Field, Frame, Values};
use natsmicro::model::micro::{limits, parse_reply, Scope, Verb};
use natsmicro::model::query::{Format, Query, QueryType};
use natsmicro::model::settings::{RawSettings, Settings};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Any JSON value, a few levels deep, with strings of any characters.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn verb() -> impl Strategy<Value = Verb> {
    prop_oneof![Just(Verb::Ping), Just(Verb::Info), Just(Verb::Stats)]
}

/// A reply-shaped object: the right `type` most of the time, every field of any kind and size.
fn reply_like() -> impl Strategy<Value = (Verb, Value)> {
    let sized = |max: usize| {
        prop_oneof![
            ".{0,8}".prop_map(Value::String),
            (0..max).prop_map(|n| json!("x".repeat(n)))
        ]
    };
    (
        verb(),
        any::<bool>(),
        sized(400),
        sized(400),
        sized(300),
        sized(10_000),
        prop::collection::btree_map("[a-z]{1,6}", sized(200), 0..100),
        prop::collection::vec(
            (sized(300), sized(300), any_json(), (0u64..1u64 << 40), sized(1100)),
            0..1100,
        ),
        any_json(),
    )
        .prop_map(|(verb, right_type, name, id, version, description, metadata, endpoints, extra)| {
            let endpoints: Vec<Value> = endpoints
                .into_iter()
                .map(|(name, subject, data, n, last_error)| {
                    json!({"name": name, "subject": subject, "queue_group": "q", "data": data,
                           "num_requests": n, "num_errors": n / 2, "last_error": last_error,
                           "processing_time": n, "average_processing_time": 1.5})
                })
                .collect();
            let kind = if right_type { verb.response_type().to_string() } else { "io.nats.micro.v1.other".into() };
            (
                verb,
                json!({"type": kind, "name": name, "id": id, "version": version, "description": description,
                       "metadata": metadata, "endpoints": endpoints, "extra": extra, "started": "2026-01-01T00:00:00Z"}),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn reply_parsing_never_panics_on_any_bytes(verb in verb(), bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_reply(verb, &bytes);
    }

    #[test]
    fn reply_parsing_never_panics_on_any_json(verb in verb(), v in any_json()) {
        let _ = parse_reply(verb, v.to_string().as_bytes());
    }

    #[test]
    fn every_parsed_reply_is_within_the_field_bounds((verb, v) in reply_like()) {
        let body = v.to_string();
        if let Ok(r) = parse_reply(verb, body.as_bytes()) {
            prop_assert_eq!(&r.kind, verb.response_type());
            prop_assert!(!r.name.is_empty() && r.name.len() <= limits::NAME);
            prop_assert!(!r.id.is_empty() && r.id.len() <= limits::NAME);
            prop_assert!(r.version.len() <= limits::VERSION);
            prop_assert!(r.description.len() <= limits::DESCRIPTION);
            prop_assert!(r.metadata.len() <= limits::METADATA_KEYS);
            prop_assert!(r.metadata.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() <= limits::METADATA_BYTES);
            prop_assert!(r.endpoints.len() <= limits::ENDPOINTS);
            for e in &r.endpoints {
                prop_assert!(e.name.len() <= limits::ENDPOINT_FIELD && e.subject.len() <= limits::ENDPOINT_FIELD);
                prop_assert!(e.last_error.len() <= limits::LAST_ERROR);
                prop_assert!(e.data.as_ref().is_none_or(|d| d.to_string().len() <= limits::DATA + 64));
            }
            // Endpoints come back sorted by name.
            prop_assert!(r.endpoints.windows(2).all(|w| w[0].name <= w[1].name));
            // A reply that needed no cutting says so, and keeps its values exactly.
            let original: Value = serde_json::from_str(&body).unwrap();
            if r.limited.is_empty() {
                prop_assert_eq!(original["version"].as_str().unwrap_or_default(), r.version.as_str());
                prop_assert_eq!(original["endpoints"].as_array().map_or(0, Vec::len), r.endpoints.len());
            }
        } else {
            let long = v["name"].as_str().is_some_and(|s| s.len() > limits::NAME)
                || v["id"].as_str().is_some_and(|s| s.len() > limits::NAME)
                || v["type"] != verb.response_type()
                || v["name"] == "" || v["id"] == "";
            prop_assert!(long, "a reply with the right type and a short identity parses: {}", &body[..body.len().min(300)]);
        }
    }

    #[test]
    fn settings_never_panic_and_never_echo_a_secret(
        url in ".{0,60}",
        json_data in prop::collection::btree_map(
            prop_oneof![
                Just("authType".to_string()), Just("username".to_string()), Just("timeoutMs".to_string()),
                Just("sampleIntervalSec".to_string()), Just("retentionMinutes".to_string()),
                Just("requestSubjects".to_string()), Just("srvPrefix".to_string()), Just("inboxPrefix".to_string()),
                Just("maxRoundBytes".to_string()), Just("tlsAuth".to_string()), Just("historyBudgetBytes".to_string()),
                ".{0,10}"
            ],
            prop_oneof![any_json(), Just(json!("creds")), Just(json!("token")), Just(json!("userpass")), Just(json!("nkey"))],
            0..8,
        ),
        secret in "[A-Za-z0-9]{12,24}",
    ) {
        let secret = format!("S3CRET{secret}");
        let secure: HashMap<String, String> = ["password", "token", "nkeySeed", "credentials", "tlsClientKey"]
            .iter()
            .map(|k| (k.to_string(), secret.clone()))
            .collect();
        // The secret may also be typed into a plain field by mistake.
        let mut json_data: serde_json::Map<String, Value> = json_data.into_iter().collect();
        if json_data.contains_key("username") {
            json_data.insert("timeoutMs".into(), json!(secret));
        }
        let bytes = serde_json::to_vec(&json_data).unwrap();
        match Settings::parse(RawSettings { url: &url, json_data: &bytes, secure: &secure }) {
            Ok(s) => prop_assert!(!format!("{s:?}").contains(&secret), "Debug of settings shows a secret"),
            Err(e) => prop_assert!(!e.to_string().contains(&secret), "error echoes a secret: {e}"),
        }
    }

    #[test]
    fn settings_in_range_mean_what_they_say(timeout in 10u64..=120_000, sample in 0u64..=86_400, retention in 1u64..=10_080, round in 65_536u64..=1 << 30) {
        let json_data = serde_json::to_vec(&json!({
            "timeoutMs": timeout, "sampleIntervalSec": sample.to_string(), "retentionMinutes": retention, "maxRoundBytes": round,
        })).unwrap();
        let s = Settings::parse(RawSettings { url: "nats://127.0.0.1:4222", json_data: &json_data, secure: &HashMap::new() }).unwrap();
        prop_assert_eq!(s.timeout.as_millis() as u64, timeout);
        prop_assert_eq!(s.sample_interval.map_or(0, |d| d.as_secs()), sample);
        prop_assert_eq!(s.retention.as_secs(), retention * 60);
        prop_assert_eq!(s.max_round_bytes as u64, round);
    }

    #[test]
    fn query_parsing_never_panics_and_never_echoes_header_values(
        query_type in prop_oneof![
            Just(String::new()), Just("ping".to_string()), Just("services".to_string()), Just("info".to_string()),
            Just("stats".to_string()), Just("request".to_string()), Just("events".to_string()), ".{0,8}"
        ],
        model in prop::collection::btree_map(
            prop_oneof![
                Just("queryType".to_string()), Just("service".to_string()), Just("instance".to_string()),
                Just("endpoint".to_string()), Just("format".to_string()), Just("metric".to_string()),
                Just("subject".to_string()), Just("payload".to_string()), ".{0,8}"
            ],
            any_json(),
            0..8,
        ),
        header_shape in 0u8..4,
        secret in "[A-Za-z0-9]{12,24}",
    ) {
        let secret = format!("HDRSECRET{secret}");
        let mut model: serde_json::Map<String, Value> = model.into_iter().collect();
        model.insert("headers".into(), match header_shape {
            0 => json!(format!("Authorization: {secret}")),
            1 => json!({"Authorization": secret, "bad name": secret}),
            2 => json!([{"key": "X-Token", "value": secret}, {"key": "bad:name", "value": secret}]),
            _ => json!([secret, 1, null]),
        });
        let bytes = serde_json::to_vec(&model).unwrap();
        match Query::parse("A", &query_type, &bytes) {
            Ok(q) => prop_assert_eq!(q.ref_id, "A"),
            Err(e) => {
                prop_assert_eq!(e.ref_id.as_str(), "A");
                prop_assert!(!e.message.contains(&secret), "error echoes a header value: {}", e.message);
            }
        }
        // Any bytes at all: an error for this refId, never a panic.
        let _ = Query::parse("B", &query_type, &bytes[..bytes.len() / 2]);
    }

    #[test]
    fn channel_paths_round_trip(
        stats in any::<bool>(),
        service in proptest::option::of("[A-Za-z0-9_-]{1,24}"),
        id in proptest::option::of("[A-Za-z0-9_-]{1,24}"),
        endpoint in proptest::option::of("[A-Za-z0-9_-]{1,24}"),
        metric_pick in 0usize..4,
    ) {
        let (query_type, metrics): (QueryType, &[&'static str]) = if stats {
            (QueryType::Stats, &["request_rate", "error_rate", "error_ratio", "average_processing_time"])
        } else {
            (QueryType::Ping, &["rtt", "up"])
        };
        let spec = StreamSpec {
            query_type,
            format: Format::Timeseries,
            metric: metrics[metric_pick % metrics.len()],
            scope: Scope { service: service.clone(), id: if service.is_some() { id } else { None } },
            endpoint: if stats { endpoint } else { None },
        };
        let path = spec.path();
        prop_assert_eq!(StreamSpec::from_path(&path).unwrap(), spec.clone());
        prop_assert!(path.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-/=.".contains(&b)), "{}", path);
        if let Ok(channel) = spec.channel("uid-1") {
            prop_assert!(channel.len() <= natsmicro::model::channel::MAX_CHANNEL_LEN);
            prop_assert_eq!(channel, format!("ds/uid-1/{path}"));
        }
    }

    #[test]
    fn any_path_decodes_to_its_own_canonical_form_or_an_error(path in "(v1/)?[a-z=0-9A-Z_./-]{0,60}") {
        if let Ok(spec) = StreamSpec::from_path(&path) {
            prop_assert_eq!(spec.path(), path);
        }
    }

    #[test]
    fn frames_survive_arrow_encoding(
        rows in prop::collection::vec(
            (".{0,30}", proptest::option::of(-1e12f64..1e12), 0i64..4_102_444_800_000_000_000, any::<i64>(), any::<bool>()),
            0..40,
        ),
        labels in prop::collection::btree_map("[a-z]{1,8}", ".{0,16}", 0..4),
        unit in proptest::option::of(prop_oneof![Just("ms"), Just("short"), Just("percentunit")]),
        ref_id in "[A-Z]{1,3}",
    ) {
        let strings: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let floats: Vec<Option<f64>> = rows.iter().map(|r| r.1).collect();
        let times: Vec<i64> = rows.iter().map(|r| r.2).collect();
        let ints: Vec<i64> = rows.iter().map(|r| r.3).collect();
        let bools: Vec<bool> = rows.iter().map(|r| r.4).collect();
        let mut value = Field::new("value", Values::NullableFloat64(floats.clone())).with_labels(labels.clone());
        if let Some(u) = unit {
            value = value.with_config(natsmicro::model::frames::FieldConfig::unit(u));
        }
        let frame = Frame::new("f", &ref_id)
            .with_field(Field::new("time", Values::Time(times.clone())))
            .with_field(Field::new("name", Values::String(strings.clone())))
            .with_field(value)
            .with_field(Field::new("n", Values::Int64(ints.clone())))
            .with_field(Field::new("ok", Values::Bool(bools.clone())));
        let bytes = frame.to_arrow().unwrap();
        let d = support::decode_frame(&bytes).unwrap();
        prop_assert_eq!(&d.ref_id, &ref_id);
        prop_assert_eq!(d.rows(), rows.len());
        prop_assert_eq!(d.strings("name"), strings);
        prop_assert_eq!(d.numbers("value"), floats);
        prop_assert_eq!(d.field("time").values.iter().map(|v| v.as_i64().unwrap()).collect::<Vec<_>>(), times);
        prop_assert_eq!(d.field("n").values.iter().map(|v| v.as_i64().unwrap()).collect::<Vec<_>>(), ints);
        prop_assert_eq!(d.field("ok").values.iter().map(|v| v.as_bool().unwrap()).collect::<Vec<_>>(), bools);
        let got: BTreeMap<String, String> = d
            .field("value")
            .labels
            .as_ref()
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        prop_assert_eq!(got, labels, "labels survive next to config");
        if let Some(u) = unit {
            prop_assert_eq!(d.field("value").config.as_ref().map(|c| c["unit"].clone()), Some(json!(u)));
        }
    }
}
