//! Unit tests of query parsing: defaults, formats, metrics, aggregates, slo keys and the errors that name their refId.
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

use super::*;

fn parse(json: &str) -> Result<Query, BadQuery> {
    Query::parse("A", "", json.as_bytes())
}

#[test]
fn spec_example_parses_with_defaults() {
    let q =
        parse(r#"{"refId":"A","queryType":"ping","service":"orders","instance":"","endpoint":"","format":"instant"}"#)
            .unwrap();
    assert_eq!(q.query_type, QueryType::Ping);
    assert_eq!(q.format, Format::Instant);
    assert_eq!(q.metric, "rtt");
    assert_eq!(q.scope.service.as_deref(), Some("orders"));
    assert_eq!(q.scope.id, None);
    let q = parse(r#"{"queryType":"info"}"#).unwrap();
    assert_eq!(q.format, Format::Table);
    let q = Query::parse("B", "stats", b"{}").unwrap();
    assert_eq!((q.query_type, q.metric), (QueryType::Stats, "requests"));
    assert_eq!(parse("").unwrap().query_type, QueryType::Ping);
}

#[test]
fn bad_queries_name_the_problem_and_keep_the_ref_id() {
    let cases = [
        ("{not json", "not valid JSON"),
        (r#"{"queryType":"pong"}"#, "unknown queryType 'pong'"),
        (
            r#"{"queryType":"info","format":"instant"}"#,
            "format 'instant' is not available for info",
        ),
        (
            r#"{"queryType":"ping","service":"$service"}"#,
            "unresolved template variable",
        ),
        (
            r#"{"queryType":"ping","service":"orders.>"}"#,
            "not a valid service name",
        ),
        (
            r#"{"queryType":"ping","metric":"cpu"}"#,
            "metric 'cpu' is not available for ping",
        ),
        (r#"{"queryType":"request"}"#, "need a subject"),
        (r#"{"queryType":"request","subject":"a.*"}"#, "not a valid NATS subject"),
        (
            r#"{"queryType":"request","subject":"a","headers":{"x y":"1"}}"#,
            "header name",
        ),
        (r#"{"queryType":"ping","service":{"x":1}}"#, "service must be a string"),
        (r#"{"queryType":"services","instance":"abc"}"#, "leave instance empty"),
        (
            r#"{"queryType":"stats","format":"timeseries","metric":"processing_time"}"#,
            "use request_rate, error_rate, error_ratio, average_processing_time",
        ),
        (r#"{"queryType":"events","format":"timeseries"}"#, "use table"),
    ];
    for (json, want) in cases {
        let e = Query::parse("Z", "", json.as_bytes()).unwrap_err();
        assert_eq!(e.ref_id, "Z");
        assert!(e.message.contains(want), "{json}: {e}");
    }
}

#[test]
fn timeseries_metrics_and_events() {
    let q = parse(r#"{"queryType":"stats","format":"timeseries"}"#).unwrap();
    assert_eq!((q.format, q.metric), (Format::Timeseries, "request_rate"));
    let q = parse(r#"{"queryType":"stats","format":"timeseries","metric":"errors"}"#).unwrap();
    assert_eq!(q.metric, "error_rate");
    let q = parse(r#"{"queryType":"ping","format":"timeseries","metric":"up"}"#).unwrap();
    assert_eq!(q.metric, "up");
    let q = parse(r#"{"queryType":"events","service":"orders"}"#).unwrap();
    assert_eq!(
        (q.query_type, q.format, q.metric),
        (QueryType::Events, Format::Table, "")
    );
    assert_eq!(q.window, None);
    let w = Window::last(1000, 5000);
    assert!(w.contains(4000) && w.contains(5000) && !w.contains(3999));
    assert_eq!(q.with_window(w).window, Some(w));
}

#[test]
fn request_headers_in_both_shapes() {
    let q = parse(r#"{"queryType":"request","subject":"orders.get","payload":{"id":1},"headers":[{"key":"X-A","value":"1"},{"key":"","value":"skip"}]}"#).unwrap();
    assert_eq!(q.headers, vec![("X-A".to_string(), "1".to_string())]);
    assert_eq!(q.payload, r#"{"id":1}"#);
    let q = parse(r#"{"queryType":"request","subject":"orders.get","headers":{"b":"2","a":3}}"#).unwrap();
    assert_eq!(q.headers, vec![("a".into(), "3".into()), ("b".into(), "2".into())]);
}

#[test]
fn live_is_on_unless_the_query_turns_it_off() {
    let live = |extra: &str| {
        parse(&format!(r#"{{"queryType":"ping","format":"timeseries"{extra}}}"#))
            .unwrap()
            .live
    };
    assert!(live(""));
    assert!(live(r#","live":true"#));
    assert!(live(r#","live":"yes""#), "any other value streams");
    assert!(live(r#","live":1"#));
    assert!(!live(r#","live":false"#));
    assert!(!live(r#","live":" FALSE ""#));
}
