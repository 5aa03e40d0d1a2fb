//! `aggregate` end to end: real nats-server, Rust and Python micro services, the plugin driven over gRPC. Instant and timeseries frames per service (and endpoint), ratios pooled from the same counters the per-instance table shows, bad combinations refused per refId, aggregated dashboard queries answered whole instead of streamed.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

/// Send `n` requests to `subject`, waiting for each reply (a failing endpoint still answers).
async fn send(client: &async_nats::Client, subject: &str, n: usize) {
    for i in 0..n {
        client
            .request(subject.to_string(), format!("r{i}").into())
            .await
            .expect("a reply");
    }
}

fn numbers(f: &DecodedFrame, name: &str) -> Vec<f64> {
    f.numbers(name).into_iter().map(|v| v.expect("a value")).collect()
}

#[tokio::test]
async fn aggregates_combine_the_instances_of_each_service() {
    let env = TestEnv::builder()
        // Two Rust instances of orders (one fails every 2nd request), two Python instances of billing.
        .rust_failing("orders", "1.0.0", &[("get", "orders.get")], 2)
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .python("billing", "2.0.0", 2, &["--endpoint", "charge:billing.charge"])
        .start()
        .await
        .unwrap();
    let p = &env.plugin;
    let ds = env.ds(json!({"sampleIntervalSec": 1}));
    let client = async_nats::connect(env.nats.url()).await.unwrap();
    send(&client, "orders.get", 40).await;
    send(&client, "billing.charge", 10).await;

    // The per-instance table, and the aggregates of the same counters (no requests in between).
    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "T", "queryType": "stats", "format": "table"}),
                json!({"refId": "S", "queryType": "stats", "aggregate": "sum"}),
                json!({"refId": "R", "queryType": "stats", "metric": "error_ratio", "aggregate": "avg"}),
                json!({"refId": "C", "queryType": "stats", "aggregate": "count"}),
                json!({"refId": "P", "queryType": "ping", "aggregate": "avg"}),
                json!({"refId": "U", "queryType": "ping", "metric": "up", "aggregate": "sum"}),
            ],
        )
        .await
        .unwrap();
    let table = r["T"].frame();
    let (services, requests, errors) = (
        table.strings("service"),
        numbers(table, "requests"),
        numbers(table, "errors"),
    );
    let total = |svc: &str, col: &[f64]| -> f64 {
        services
            .iter()
            .zip(col)
            .filter(|(s, _)| *s == svc)
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(total("orders", &requests), 40.0);
    assert_eq!(total("billing", &requests), 10.0);
    assert!(total("orders", &errors) > 0.0, "the failing instance counted errors");

    let sum = r["S"].frame();
    let names: Vec<&str> = sum.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["service", "endpoint", "requests"], "no instance id remains");
    assert_eq!(sum.meta["type"], "numeric-long");
    assert_eq!(sum.strings("service"), ["billing", "orders"]);
    assert_eq!(sum.strings("endpoint"), ["charge", "get"]);
    assert_eq!(numbers(sum, "requests"), [10.0, 40.0]);
    let ratio = r["R"].frame();
    let pooled = total("orders", &errors) / 40.0;
    assert_eq!(
        numbers(ratio, "error_ratio"),
        [0.0, pooled],
        "total errors over total requests"
    );
    assert_eq!(numbers(r["C"].frame(), "requests"), [2.0, 2.0], "instances per service");
    let rtt = r["P"].frame();
    assert_eq!(rtt.strings("service"), ["billing", "orders"]);
    assert!(numbers(rtt, "rtt").iter().all(|ms| *ms > 0.0));
    assert_eq!(numbers(r["U"].frame(), "up"), [2.0, 2.0]);

    // Time series: some sampling rounds with traffic in between, then one series per service
    // and endpoint, labelled without `id`.
    let rounds = p.sampling_rounds().await;
    for _ in 0..3 {
        send(&client, "orders.get", 10).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert!(p.sampling_rounds_reach(rounds + 3.0).await, "the sampler ran");
    let now = chrono::Utc::now().timestamp_millis();
    let r = p
        .query_window(
            &ds,
            &[
                json!({"refId": "A", "queryType": "stats", "format": "timeseries", "aggregate": "sum"}),
                json!({"refId": "N", "queryType": "stats", "format": "timeseries"}),
                json!({"refId": "K", "queryType": "ping", "format": "timeseries", "aggregate": "count"}),
            ],
            (now - 600_000, now),
            1000,
            1000,
        )
        .await
        .unwrap();
    let labels = |resp: &Response| -> BTreeSet<String> {
        resp.frames
            .iter()
            .map(|f| f.numeric_fields()[0].labels.clone().unwrap_or(Value::Null).to_string())
            .collect()
    };
    assert_eq!(
        labels(&r["A"]),
        BTreeSet::from([
            r#"{"endpoint":"charge","service":"billing"}"#.to_string(),
            r#"{"endpoint":"get","service":"orders"}"#.to_string(),
        ])
    );
    assert_eq!(
        r["N"].frames.len(),
        4,
        "without aggregate: one series per instance and endpoint"
    );
    let orders = r["A"]
        .frames
        .iter()
        .find(|f| {
            f.numeric_fields()[0]
                .labels
                .as_ref()
                .is_some_and(|l| l["service"] == "orders")
        })
        .unwrap();
    let rates: Vec<f64> = orders.numeric_fields()[0]
        .values
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(rates.iter().all(|r| *r >= 0.0), "{rates:?}");
    assert!(rates.iter().any(|r| *r > 0.0), "the traffic shows as a rate: {rates:?}");
    let counts: Vec<f64> = r["K"]
        .frames
        .iter()
        .flat_map(|f| {
            f.numeric_fields()[0]
                .values
                .iter()
                .filter_map(Value::as_f64)
                .collect::<Vec<_>>()
        })
        .collect();
    // Two instances answer in each service (a round on a loaded machine may miss one).
    assert!(
        counts.iter().all(|c| (1.0..=2.0).contains(c)) && counts.contains(&2.0),
        "{counts:?}"
    );

    // A dashboard's aggregated time series is answered whole, with a notice, not streamed (its
    // live packets would carry one value per instance); the same query without aggregate streams.
    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "D", "queryType": "ping", "format": "timeseries", "aggregate": "max"}),
                json!({"refId": "L", "queryType": "ping", "format": "timeseries"}),
            ],
        )
        .await
        .unwrap();
    let d = &r["D"].frames[0];
    assert!(d.meta.get("channel").is_none(), "{:?}", d.meta);
    assert!(
        d.meta["notices"].to_string().contains("not streamed live: aggregated"),
        "{:?}",
        d.meta
    );
    assert!(r["L"].frames[0].meta["channel"].as_str().is_some());
}

#[tokio::test]
async fn aggregate_on_a_query_that_cannot_take_it_fails_that_ref_id_only() {
    let env = TestEnv::orders().await;
    let ds = env.ds(json!({}));
    let r = env
        .plugin
        .query(
            &ds,
            &[
                json!({"refId": "ok", "queryType": "ping", "aggregate": "min"}),
                json!({"refId": "svc", "queryType": "services", "aggregate": "sum"}),
                json!({"refId": "tbl", "queryType": "ping", "format": "table", "aggregate": "sum"}),
                json!({"refId": "odd", "queryType": "ping", "aggregate": "median"}),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r["ok"].frame().strings("service"), ["orders"]);
    for (id, says) in [
        ("svc", "ping and stats"),
        ("tbl", "a table lists every instance"),
        ("odd", "none, sum, avg, min, max, count"),
    ] {
        assert_eq!(r[id].status, 400, "{id}: {:?}", r[id]);
        assert!(r[id].error.contains(says), "{id}: {}", r[id].error);
    }
}
