//! Custom STATS `data` end to end: a real JS `@nats-io/services` service whose `statsHandler` reports `{queue: {depth, name}, jobs_total, busy}` and a real Python `nats.micro` service with a `stats_handler`, read over gRPC as `data:<path>` instant values, the table of leaves, time series from the sampler's history (a gauge as its value, a `_total` counter as a rate), aggregates; bad paths fail their refId only.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn custom_data_leaves_are_values_tables_and_time_series() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let js = JsService::start(&nats.url(), "jobs", "1.0.0").unwrap();
    let py = PythonService::start(
        &nats.url(),
        "jobs",
        "2.0.0",
        1,
        &["--endpoint", "work:py.work", "--stats-data"],
    )
    .unwrap();
    let client = connect(&nats.url()).await.unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1}));

    // Work arrives at the JS instance: queue depth 5, jobs_total counts up.
    let send = |depth: &'static str| {
        let client = client.clone();
        async move {
            client.request("work", depth.into()).await.unwrap();
        }
    };
    for _ in 0..3 {
        send("5").await;
    }
    // Python's `work` endpoint listens on py.work: every request above went to the JS instance.
    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "D", "queryType": "stats", "metric": "data:queue.depth", "endpoint": "work"}),
                json!({"refId": "T", "queryType": "stats", "format": "table", "metric": "data"}),
                json!({"refId": "S", "queryType": "stats", "metric": "data:queue.depth", "aggregate": "sum"}),
                json!({"refId": "bad", "queryType": "stats", "metric": "data:queue..depth"}),
                json!({"refId": "ping", "queryType": "ping", "metric": "data:x"}),
            ],
        )
        .await
        .unwrap();
    let f = r["D"].frame();
    assert!(alertable_instant(f), "{f:?}");
    let by_id: BTreeMap<String, Option<f64>> = f.strings("id").into_iter().zip(f.numbers("data:queue.depth")).collect();
    assert_eq!(by_id[&js.id], Some(5.0), "{by_id:?}");
    assert_eq!(by_id[&py.ids[0]], Some(7.0), "{by_id:?}");

    let t = r["T"].frame();
    let rows: Vec<(String, String, Option<f64>, Option<String>)> = (0..t.rows())
        .map(|i| {
            (
                t.strings("id")[i].clone(),
                t.strings("path")[i].clone(),
                t.numbers("value")[i],
                t.field("text").values[i].as_str().map(str::to_string),
            )
        })
        .collect();
    let js_rows: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == js.id)
        .map(|r| (r.1.as_str(), r.2, r.3.clone()))
        .collect();
    assert_eq!(
        js_rows,
        vec![
            ("busy", None, Some("true".to_string())),
            ("jobs_total", Some(3.0), None),
            ("queue.depth", Some(5.0), None),
            ("queue.name", None, Some("jobs".to_string())),
        ],
        "{rows:?}"
    );
    assert!(rows
        .iter()
        .any(|r| r.0 == py.ids[0] && r.1 == "queue.name" && r.3.as_deref() == Some("py")));

    let s = r["S"].frame();
    let sums: BTreeMap<String, Option<f64>> = s
        .strings("endpoint")
        .into_iter()
        .zip(s.numbers("data:queue.depth"))
        .collect();
    assert_eq!(sums["work"], Some(12.0), "5 + 7: {sums:?}");
    for (id, says) in [("bad", "dot-separated"), ("ping", "use it with stats queries")] {
        assert_eq!(r[id].status, 400, "{id}: {:?}", r[id].error);
        assert!(r[id].error.contains(says), "{id}: {}", r[id].error);
    }

    // Over time: work keeps arriving (jobs_total rises by 4 a second), then the depth drops to 1.
    let started = chrono::Utc::now().timestamp_millis();
    let rounds = p.sampling_rounds().await;
    let pump = tokio::spawn({
        let client = client.clone();
        async move {
            loop {
                for _ in 0..2 {
                    let _ = client.request("work", "5".into()).await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    assert!(p.sampling_rounds_reach(rounds + 4.0).await);
    pump.abort();
    send("1").await;
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 2.0).await);
    let now = chrono::Utc::now().timestamp_millis();
    let series = |metric: &str| json!({"refId": metric, "queryType": "stats", "format": "timeseries", "metric": metric, "instance": js.id, "endpoint": "work"});
    let r = p
        .query_window(
            &ds,
            &[series("data:queue.depth"), series("data:jobs_total")],
            (started, now),
            1000,
            1000,
        )
        .await
        .unwrap();
    let depth = &r["data:queue.depth"].frames;
    assert!(alertable_timeseries(depth), "{depth:?}");
    let values: Vec<f64> = depth[0].numeric_fields()[0]
        .values
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        values.contains(&5.0) && values.last() == Some(&1.0),
        "the gauge as reported: {values:?}"
    );
    let rate = &r["data:jobs_total"].frames;
    assert_eq!(rate[0].numeric_fields()[0].config.as_ref().unwrap()["unit"], "cps");
    let rates: Vec<f64> = rate[0].numeric_fields()[0]
        .values
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(rates.iter().all(|v| *v >= 0.0), "no negative rate: {rates:?}");
    assert!(
        rates.iter().any(|v| *v > 1.0),
        "jobs per second while work arrives: {rates:?}"
    );
    assert!(rates.iter().all(|v| *v < 50.0), "a rate, not the counter: {rates:?}");

    // A dashboard asks the same: answered whole, with a notice that it does not stream.
    let r = p.query(&ds, &[series("data:queue.depth")]).await.unwrap();
    let notices = r["data:queue.depth"].frame().meta["notices"].to_string();
    assert!(notices.contains("custom data series are answered whole"), "{notices}");
}
