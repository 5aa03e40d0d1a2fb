//! Every implementation's shapes through the whole plugin: hand-written replies of Go, Java, .NET, nats.c, nats.php and natscli (taken from their sources) and nats.py's reset, replayed on a real nats-server as the instances they belong to, sampled over rounds and read over gRPC: nothing skipped, resets are restarts (never a negative rate), an endpoint added after start is not, seconds become milliseconds, `_nats.` metadata become columns.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use support::*;

fn written(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/replies/handwritten").join(name)).unwrap()
}

fn instance(id: &str, stats: &[&str], info: Option<&str>) -> Replayed {
    Replayed {
        name: "orders".into(),
        id: id.into(),
        ping: vec![format!(
            r#"{{"type":"io.nats.micro.v1.ping_response","name":"orders","id":"{id}","version":"1.0.0","metadata":{{}}}}"#
        )],
        info: info.map(written).into_iter().collect(),
        stats: stats.iter().map(|f| written(f)).collect(),
    }
}

#[tokio::test]
async fn every_implementation_reads_alike_over_rounds() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let replayer = Replayer::start(
        &nats.url(),
        vec![
            instance("GO1", &["go_stats_1.json", "go_stats_2.json"], None),
            instance("PY1", &["python_stats_1.json", "python_stats_2.json"], None),
            instance("GROW1", &["grown_stats_1.json", "grown_stats_2.json"], None),
            instance("JAVA1", &["java_stats.json"], None),
            instance("NET1", &["dotnet_stats.json"], None),
            instance("C1", &["natsc_stats.json"], None),
            instance("PHP1", &["php_stats.json"], None),
            instance("CLI1", &[], Some("natscli_info.json")),
        ],
    )
    .await
    .unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1}));
    let started = chrono::Utc::now().timestamp_millis();
    let r = p
        .query(&ds, &[json!({"refId": "A", "queryType": "ping"})])
        .await
        .unwrap();
    assert_eq!(r["A"].frame().rows(), 8);
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 2.0).await);
    replayer.step();
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 2.0).await);

    let now = chrono::Utc::now().timestamp_millis();
    let r = p
        .query_window(
            &ds,
            &[
                json!({"refId": "T", "queryType": "stats", "format": "table"}),
                json!({"refId": "I", "queryType": "info", "format": "table"}),
                json!({"refId": "E", "queryType": "events", "format": "table"}),
                json!({"refId": "R", "queryType": "stats", "format": "timeseries", "metric": "request_rate"}),
            ],
            (started - 1000, now),
            1000,
            1000,
        )
        .await
        .unwrap();
    let t = r["T"].frame();
    assert_eq!(t.meta["custom"]["invalidReplies"], 0, "{}", t.meta);
    let row = |id: &str, endpoint: &str| {
        (0..t.rows())
            .find(|&i| t.strings("id")[i] == id && t.strings("endpoint")[i] == endpoint)
            .unwrap_or_else(|| panic!("no row {id}/{endpoint}"))
    };
    assert_eq!(
        t.numbers("requests")[row("JAVA1", "idle")],
        Some(0.0),
        "Java's omitted counters are 0"
    );
    assert_eq!(
        t.numbers("error_ratio")[row("C1", "get")],
        Some(1.0),
        "nats.c's error on every request"
    );
    let php = t.numbers("average_processing_time")[row("PHP1", "get")].unwrap();
    assert!((php - 3.075).abs() < 1e-6, "nats.php seconds read as {php} ms");
    assert_eq!(
        t.numbers("requests")[row("GO1", "get")],
        Some(3.0),
        "Go after its reset"
    );
    assert_eq!(
        t.strings("queue_group")[row("GO1", "get")],
        "",
        "Go drops queue_group after a reset"
    );

    let i = r["I"].frame();
    let cli = i.strings("id").iter().position(|id| id == "CLI1").unwrap();
    assert_eq!(i.strings("_nats.client.created.library")[cli], "natscli");
    assert_eq!(i.strings("_nats.client.created.version")[cli], "0.2.4");

    // A new started is a restart (Go and Python), a grown endpoint list is not.
    let e = r["E"].frame();
    let restarted: Vec<String> = (0..e.rows())
        .filter(|&k| e.strings("kind")[k] == "restarted")
        .map(|k| e.strings("id")[k].clone())
        .collect();
    assert!(
        restarted.contains(&"GO1".to_string()) && restarted.contains(&"PY1".to_string()),
        "{restarted:?}"
    );
    assert!(
        !restarted.contains(&"GROW1".to_string()),
        "an added endpoint is not a restart: {restarted:?}"
    );

    // Rates: never negative; the new endpoint of GROW1 gets a series of its own.
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for f in &r["R"].frames {
        let field = f.numeric_fields()[0];
        let l = field.labels.as_ref().unwrap();
        let key = format!("{}/{}", l["id"].as_str().unwrap(), l["endpoint"].as_str().unwrap());
        series.insert(key, field.values.iter().filter_map(Value::as_f64).collect());
    }
    for (k, v) in &series {
        assert!(v.iter().all(|x| *x >= 0.0 && x.is_finite()), "{k}: {v:?}");
    }
    assert!(series.contains_key("GROW1/put"), "{:?}", series.keys());
    assert!(
        series["GROW1/get"].iter().any(|x| *x > 0.0),
        "GROW1/get keeps its rate across the added endpoint: {:?}",
        series["GROW1/get"]
    );
}
