//! Unit tests of the wire model: subjects, tolerant parsing of every implementation's replies (recorded fixtures), field bounds.
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

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
            let stats = parse_reply(Verb::Stats, &fixture(&format!("{implementation}_stats{suffix}.json"))).unwrap();
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

/// A hand-written fixture (`tests/fixtures/replies/handwritten/`), parsed as `verb`.
fn written(verb: Verb, name: &str) -> ServiceReply {
    parse_reply(verb, &fixture(&format!("handwritten/{name}"))).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

#[test]
fn go_java_dotnet_natsc_and_php_shapes_parse_with_the_same_meaning() {
    // Go after Reset(): counters from zero, a new started, queue_group gone.
    let (go1, go2) = (
        written(Verb::Stats, "go_stats_1.json"),
        written(Verb::Stats, "go_stats_2.json"),
    );
    assert_ne!(go1.started, go2.started);
    assert_eq!(
        (go2.endpoints[0].num_requests, go2.endpoints[0].queue_group.as_str()),
        (3, "")
    );
    // Java: absent counters and strings are 0 and empty; its per-endpoint started is ignored.
    let java = written(Verb::Stats, "java_stats.json");
    let idle = &java.endpoints[1];
    assert_eq!(
        (
            idle.name.as_str(),
            idle.num_requests,
            idle.num_errors,
            idle.last_error.as_str()
        ),
        ("idle", 0, 0, "")
    );
    assert_eq!(java.endpoints[0].num_errors, 0);
    // .NET: 7 fractional digits in started.
    let net = written(Verb::Stats, "dotnet_stats.json");
    assert_eq!(net.started.unwrap().timestamp_subsec_nanos(), 123_456_700);
    assert_eq!(net.endpoints[0].queue_group, "");
    // nats.c counted an error on every request: the counters are read as sent.
    let c = written(Verb::Stats, "natsc_stats.json");
    assert_eq!((c.endpoints[0].num_requests, c.endpoints[0].num_errors), (5, 5));
    // nats.php: float seconds become nanoseconds, and the average follows the total.
    let php = written(Verb::Stats, "php_stats.json");
    assert_eq!(php.endpoints[0].processing_ns(), 12_300_000);
    assert!((php.endpoints[0].average_processing_time - 3_075_000.0).abs() < 1.0);
    // JS iterator endpoints' float averages in nanoseconds are left alone.
    let js = parse_reply(Verb::Stats, &fixture("js_stats_iterator.json")).unwrap();
    assert!(js.endpoints.iter().all(|e| e.processing_time.fract() == 0.0));
    // natscli's `_nats.` metadata is kept like any other key.
    let cli = written(Verb::Info, "natscli_info.json");
    assert_eq!(meta(&cli.metadata, "_nats.client.created.library"), Some("natscli"));
}
