//! The answer budget over gRPC, against a real nats-server and peers that answer within every field bound but far more than a fleet would: a `request` reply of thousands of keys, STATS and INFO rounds of sixty instances with a thousand endpoints each. Each answer is cut before it is built, says so, and the process stays small.

mod support;

use serde_json::{json, Value};
use support::*;

fn notices(frame: &DecodedFrame) -> String {
    frame.meta["notices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["text"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn rss_kib(p: &PluginProcess) -> u64 {
    proc_status_kib(&p.child.id().to_string(), "VmHWM")
}

/// A reply of `verb` from instance `i` of a peer with a thousand endpoints, every field within
/// its bound.
fn wide_reply(verb: &str, i: usize) -> Vec<u8> {
    let endpoints: Vec<Value> = (0..1000)
        .map(|e| {
            json!({"name": format!("e{e:04}"), "subject": format!("wide.{e}"), "queue_group": "q",
                   "num_requests": e, "num_errors": 0, "processing_time": 1000, "average_processing_time": 10,
                   "metadata": {"k": "v"}})
        })
        .collect();
    json!({
        "type": format!("io.nats.micro.v1.{verb}_response"), "name": "wide", "id": format!("w{i:03}"),
        "version": "1.0.0", "description": "d".repeat(4000), "metadata": {"team": "t".repeat(1000)},
        "started": "2026-01-01T00:00:00Z", "endpoints": endpoints,
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_request_reply_of_thousands_of_keys_becomes_a_bounded_table() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let body: Vec<Value> = (0..8000).map(|i| json!({format!("k{i}"): 0})).collect();
    let body = Value::Array(body).to_string().into_bytes();
    let _peer = Flood::start(&nats.url(), "wide.get", 1, move |_| body.clone())
        .await
        .unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0, "requestSubjects": ["wide.>"]}));
    let r = p
        .query(
            &ds,
            &[json!({"refId": "A", "queryType": "request", "subject": "wide.get"})],
        )
        .await
        .unwrap();
    let f = r["A"].frame();
    assert_eq!(f.fields.len(), 65, "64 columns and the rest as JSON");
    assert!(
        f.rows() <= 20_000 && f.rows() * f.fields.len() <= 400_000,
        "{} rows",
        f.rows()
    );
    let text = notices(f);
    assert!(
        text.contains("more than 64 keys") && text.contains("more_keys"),
        "{text}"
    );
    assert!(text.contains("cut at"), "{text}");
    assert!(rss_kib(&p) < 256 << 10, "peak RSS {} KiB", rss_kib(&p));
    assert!(p.serving().await);
}

#[tokio::test]
async fn stats_and_info_of_sixty_instances_with_a_thousand_endpoints_are_cut_before_they_are_built() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let _stats = Flood::start(&nats.url(), "$SRV.STATS", 60, |i| wide_reply("stats", i))
        .await
        .unwrap();
    let _info = Flood::start(&nats.url(), "$SRV.INFO", 60, |i| wide_reply("info", i))
        .await
        .unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0, "timeoutMs": 5000}));
    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "S", "queryType": "stats", "format": "table"}),
                json!({"refId": "N", "queryType": "stats", "format": "instant", "metric": "requests"}),
                json!({"refId": "I", "queryType": "info"}),
            ],
        )
        .await
        .unwrap();
    for id in ["S", "N", "I"] {
        let a = &r[id];
        assert!(a.error.is_empty(), "{id}: {}", a.error);
        let f = a.frame();
        assert!(f.rows() <= 20_000, "{id}: {} rows", f.rows());
        assert!(
            f.rows() * f.fields.len() <= 400_000,
            "{id}: {} cells",
            f.rows() * f.fields.len()
        );
        let text = notices(f);
        assert!(
            text.contains("cut at") && text.contains("Narrow the query with service, instance or endpoint"),
            "{id}: {text}"
        );
    }
    // An instance's description and metadata once, on its first row, not on every endpoint row.
    let info = r["I"].frame();
    let descriptions = info.strings("description");
    let ids = info.strings("id");
    let first = ids[0].clone();
    let rows_of_first = ids.iter().filter(|i| **i == first).count();
    assert!(rows_of_first > 1);
    let described = ids
        .iter()
        .zip(&descriptions)
        .filter(|(i, d)| **i == first && !d.is_empty())
        .count();
    assert_eq!(described, 1, "the description is on one row of the instance");
    assert!(rss_kib(&p) < 512 << 10, "peak RSS {} KiB", rss_kib(&p));
    assert!(p.serving().await);
    // Narrowed to one endpoint, every instance fits: one row each, nothing cut. (Which instances
    // the round hears depends on the first call: its STATS and INFO rounds share the connection's
    // two round budgets, so each stops a little short of its own, and the next round stops once
    // the instances it knows have answered.)
    let r = p
        .query(
            &ds,
            &[json!({"refId": "S", "queryType": "stats", "format": "table", "endpoint": "e0001"})],
        )
        .await
        .unwrap();
    let f = r["S"].frame();
    assert!(!notices(f).contains("cut at"), "{}", notices(f));
    let ids: std::collections::BTreeSet<String> = f.strings("id").into_iter().collect();
    // The table above showed 20 of them (20 000 rows of 1 000 endpoints); narrowed, more fit.
    assert!(
        f.rows() > 20 && ids.len() == f.rows(),
        "{} rows: {}",
        f.rows(),
        notices(f)
    );
}
