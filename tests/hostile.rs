//! Hostile and broken replies, through the plugin as Grafana drives it: every field of a reply bounded, floods of huge, many or malformed replies skipped and counted with a notice, and the next normal query complete again.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn notices(frame: &DecodedFrame) -> Vec<String> {
    frame.meta["notices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["text"].as_str().map(str::to_string))
        .collect()
}

fn alive(p: &mut PluginProcess) -> bool {
    matches!(p.child.try_wait(), Ok(None))
}

async fn real_fleet(nats: &NatsServer, n: usize) -> Vec<RustService> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(
            RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
                .await
                .unwrap(),
        );
    }
    v
}

async fn ping_ids(p: &PluginProcess, ds: &DataSource) -> (BTreeSet<String>, Vec<String>) {
    let r = p
        .query(ds, &[json!({"refId": "A", "queryType": "ping", "format": "table"})])
        .await
        .unwrap();
    let f = r["A"].frame();
    let ids = f
        .strings("id")
        .into_iter()
        .zip(f.strings("service"))
        .zip(f.numbers("up"))
        .filter(|((_, service), up)| service == "orders" && *up == Some(1.0))
        .map(|((id, _), _)| id)
        .collect();
    (ids, notices(f))
}

#[tokio::test]
async fn every_field_of_a_reply_is_bounded_and_the_answer_says_which() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let huge_meta: serde_json::Map<String, Value> = (0..1000).map(|i| (format!("k{i:04}"), json!("v"))).collect();
    let endpoints: Vec<Value> = (0..1500)
        .map(|i| json!({"name": format!("e{i:04}"), "subject": format!("s.{i}"), "queue_group": "q"}))
        .collect();
    let replies = [
        json!({
            "type": "io.nats.micro.v1.info_response", "name": "wide", "id": "w1", "version": "1.0.0",
            "endpoints": endpoints,
        }),
        json!({
            "type": "io.nats.micro.v1.info_response", "name": "wide", "id": "w2",
            "version": "v".repeat(1000), "description": "d".repeat(100_000), "metadata": huge_meta,
            "endpoints": [{"name": "n".repeat(1000), "subject": "one"}],
        }),
        json!({"type": "io.nats.micro.v1.info_response", "name": "n".repeat(300), "id": "x"}),
    ]
    .map(|v| v.to_string().into_bytes());
    let _flood = Flood::start(&nats.url(), "$SRV.INFO", 3, move |i| replies[i].clone())
        .await
        .unwrap();
    let stats = json!({
        "type": "io.nats.micro.v1.stats_response", "name": "wide", "id": "w1",
        "endpoints": [{"name": "big", "subject": "big", "last_error": "e".repeat(5000),
                       "data": {"blob": "b".repeat(100_000)}, "num_requests": 4}],
    })
    .to_string()
    .into_bytes();
    let _stats = Flood::start(&nats.url(), "$SRV.STATS", 1, move |_| stats.clone())
        .await
        .unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0, "timeoutMs": 500}));
    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "I", "queryType": "info"}),
                json!({"refId": "S", "queryType": "stats", "format": "table"}),
            ],
        )
        .await
        .unwrap();
    let f = r["I"].frame();
    let ids = f.strings("id");
    assert_eq!(
        ids.iter().filter(|i| *i == "w1").count(),
        1024,
        "endpoints cut to 1024 rows"
    );
    assert!(
        f.strings("service").iter().all(|n| n == "wide"),
        "the 300-byte name was rejected"
    );
    let w2 = ids.iter().position(|i| i == "w2").expect("w2 row");
    assert_eq!(f.strings("version")[w2].len(), 64);
    assert_eq!(f.strings("description")[w2].len(), 4096);
    assert!(f.strings("metadata")[w2].len() <= 4096 + 200, "metadata bounded");
    assert_eq!(f.strings("endpoint")[w2].len(), 256);
    let text = notices(f).join(" | ");
    for want in [
        "1 invalid reply was skipped",
        "version cut to 64 B",
        "description cut to 4096 B",
        "metadata cut to 64 keys",
        "endpoints cut to 1024",
        "endpoint name, subject or queue group cut to 256 B",
    ] {
        assert!(text.contains(want), "notice {want:?} in {text}");
    }
    let s = r["S"].frame();
    let text = notices(s).join(" | ");
    assert!(
        text.contains("data over 65536 B dropped") && text.contains("last_error cut to 1024 B"),
        "{text}"
    );
    assert_eq!(s.numbers("requests"), [Some(4.0)], "the rest of the reply is kept");

    let m = p.metrics_text().await.unwrap();
    for limit in [
        "name",
        "version",
        "description",
        "metadata",
        "endpoints",
        "data",
        "last_error",
    ] {
        assert!(
            metric(
                &m,
                &format!("natsmicro_reply_limits_applied_total{{limit=\"{limit}\"}}")
            ) >= Some(1.0),
            "metric for {limit}:\n{m}"
        );
    }
}

#[tokio::test]
async fn floods_of_huge_many_or_malformed_replies_are_skipped_counted_and_survived() {
    let TestEnv {
        nats, plugin: mut p, ..
    } = TestEnv::empty().await;
    let fleet = real_fleet(&nats, 3).await;
    let real: BTreeSet<String> = fleet.iter().map(|s| s.id.clone()).collect();
    let ds = DataSource::new(&nats.url()).json(json!({"timeoutMs": 1000}));
    assert_eq!(ping_ids(&p, &ds).await.0, real);

    // 300 valid-looking replies of about 1 MB each: skipped unread. The round answers as soon as
    // the known instances have; the flood lands in its late-reply listener, and the next answers say so.
    let flood = Flood::start(&nats.url(), "$SRV.PING", 300, |i| {
        padded_ping("orders", &format!("huge{i}"), 1_000_000)
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            let (_, text) = ping_ids(&p, &ds).await;
            text.join(" ").contains("skipped unread")
        })
        .await,
        "an answer says that huge replies were skipped"
    );
    assert!(alive(&mut p), "the plugin survives the flood");
    drop(flood);
    assert!(
        eventually(Duration::from_secs(20), || async { ping_ids(&p, &ds).await.0 == real }).await,
        "after the flood every real instance answers again"
    );

    // 20 000 small valid replies from one responder: the reply cap (or the budget) says so.
    let flood = Flood::start(&nats.url(), "$SRV.PING", 20_000, |i| {
        padded_ping("spam", &format!("s{i}"), 150)
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            let r = p
                .query(&ds, &[json!({"refId": "A", "queryType": "ping", "format": "table"})])
                .await
                .unwrap();
            let text = notices(r["A"].frame()).join(" | ");
            assert!(r["A"].frame().rows() <= 10_000 + 3, "at most the cap of rows");
            text.contains("reply cap") || text.contains("maxRoundBytes")
        })
        .await,
        "an answer says the reply cap or the budget was reached"
    );
    drop(flood);
    assert!(alive(&mut p));
    assert!(eventually(Duration::from_secs(20), || async { ping_ids(&p, &ds).await.0 == real }).await);

    // 2 000 malformed replies: counted as invalid, the real instances still found.
    let flood = Flood::start(&nats.url(), "$SRV.PING", 2_000, |i| {
        format!("{{\"type\": broken {i}").into_bytes()
    })
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            let (ids, text) = ping_ids(&p, &ds).await;
            assert!(ids.is_subset(&real));
            ids == real && text.join(" ").contains("invalid replies were skipped")
        })
        .await,
        "the real instances are found among malformed replies, and the answer counts them"
    );
    drop(flood);

    assert!(eventually(Duration::from_secs(20), || async { ping_ids(&p, &ds).await.0 == real }).await);
    let m = p.metrics_text().await.unwrap();
    assert!(
        metric(&m, "natsmicro_discovery_oversized_replies_total{verb=\"ping\"}") >= Some(1.0),
        "{m}"
    );
    assert!(
        metric(&m, "natsmicro_discovery_invalid_replies_total{verb=\"ping\"}") >= Some(1.0),
        "{m}"
    );
    assert!(alive(&mut p));
}

#[tokio::test]
async fn a_small_round_budget_stops_the_round_and_says_so() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let _fleet = real_fleet(&nats, 2).await;
    let _flood = Flood::start(&nats.url(), "$SRV.PING", 200, |i| {
        padded_ping("bulk", &format!("b{i}"), 2_000)
    })
    .await
    .unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0, "maxRoundBytes": 65536}));
    let r = p
        .query(&ds, &[json!({"refId": "A", "queryType": "ping", "format": "table"})])
        .await
        .unwrap();
    let f = r["A"].frame();
    let text = notices(f).join(" | ");
    assert!(text.contains("the maxRoundBytes budget"), "{text}");
    assert_eq!(f.meta["custom"]["stop"], "budget");
    assert!(f.rows() < 40, "about 64 KiB of 2 KB replies: {} rows", f.rows());
    // Health rounds answer once the known instances have; what their late replies ran into is
    // told by the next one.
    assert!(
        eventually(Duration::from_secs(20), || async {
            let (status, message) = p.health(&ds).await.unwrap();
            status == 1 && message.contains("maxRoundBytes")
        })
        .await,
        "the health check says the byte budget was reached"
    );
}
