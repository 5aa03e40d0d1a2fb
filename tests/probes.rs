//! Probes end to end: real nats-server, a Rust echo service, Python services that fail or answer slowly and a JS service; the probes of `jsonData.probes` run by the sampler and by queries over gRPC (instant, table, time series), judged by latency thresholds, assertions and service-error headers; the resource lists them and tests one; bad settings fail the health check with what to fix.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use support::*;

fn by_probe(frame: &DecodedFrame, field: &str) -> BTreeMap<String, Option<f64>> {
    frame.strings("probe").into_iter().zip(frame.numbers(field)).collect()
}

#[tokio::test]
async fn probes_run_judge_alert_and_test() {
    let env = TestEnv::builder()
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .python(
            "billing",
            "1.0.0",
            1,
            &["--endpoint", "fail:billing.fail", "--fail-every", "1"],
        )
        .python(
            "slowpoke",
            "1.0.0",
            1,
            &["--endpoint", "slow:billing.slow", "--delay-ms", "150"],
        )
        .start()
        .await
        .unwrap();
    let p = &env.plugin;
    let _js = JsService::start(&env.nats.url(), "jobs", "1.0.0").unwrap();
    let probes = json!([
        {"name": "js-work", "subject": "work", "payload": "3", "expect": {"jsonPath": "depth", "equals": 3}},
        {"name": "echo-ok", "subject": "orders.get", "payload": "{\"status\":\"ok\"}", "expect": {"jsonPath": "$.status", "equals": "ok"}},
        {"name": "echo-wrong", "subject": "orders.get", "payload": "{\"status\":\"degraded\"}", "expect": {"jsonPath": "status", "equals": "ok"}},
        {"name": "billing-fails", "subject": "billing.fail"},
        {"name": "nobody", "subject": "orders.none", "timeoutMs": 500},
        {"name": "slow", "subject": "billing.slow", "warnMs": 50, "critMs": 2000},
        {"name": "too-slow", "subject": "billing.slow", "critMs": 60}
    ]);
    let ds =
        env.ds(json!({"requestSubjects": ["orders.>", "billing.>", "work"], "probes": probes, "sampleIntervalSec": 1}));

    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "S", "queryType": "probe", "metric": "success"}),
                json!({"refId": "X", "queryType": "probe", "metric": "state"}),
                json!({"refId": "T", "queryType": "probe", "format": "table"}),
                json!({"refId": "L", "queryType": "probe", "probe": "slow"}),
                json!({"refId": "U", "queryType": "probe", "probe": "nope"}),
                json!({"refId": "F", "queryType": "probe", "service": "orders"}),
            ],
        )
        .await
        .unwrap();
    let s = r["S"].frame();
    assert!(alertable_instant(s), "{s:?}");
    let success = by_probe(s, "success");
    let want = [
        ("js-work", 1.0),
        ("echo-ok", 1.0),
        ("echo-wrong", 0.0),
        ("billing-fails", 0.0),
        ("nobody", 0.0),
        ("slow", 1.0),
        ("too-slow", 0.0),
    ];
    for (name, v) in want {
        assert_eq!(success[name], Some(v), "{name}: {success:?}");
    }
    let state = by_probe(r["X"].frame(), "state");
    // up 0, slow 1, gone 3, malformed 5; a service error leaves the state to the latency.
    for (name, v) in [
        ("echo-ok", 0.0),
        ("echo-wrong", 5.0),
        ("billing-fails", 0.0),
        ("nobody", 3.0),
        ("slow", 1.0),
    ] {
        assert_eq!(state[name], Some(v), "{name}: {state:?}");
    }
    let t = r["T"].frame();
    let row = t.strings("probe").iter().position(|n| n == "billing-fails").unwrap();
    assert_eq!(t.numbers("code")[row], Some(500.0));
    assert!(
        t.strings("detail")[row].contains("service error 500"),
        "{:?}",
        t.strings("detail")
    );
    let wrong = t.strings("probe").iter().position(|n| n == "echo-wrong").unwrap();
    assert!(
        t.strings("detail")[wrong].contains("expected status = \"ok\""),
        "{:?}",
        t.strings("detail")
    );
    let latency = by_probe(r["L"].frame(), "latency");
    assert_eq!(latency.len(), 1);
    assert!(latency["slow"].unwrap() >= 150.0, "{latency:?}");
    assert_eq!(r["U"].status, 400);
    assert!(
        r["U"].error.contains("no probe named 'nope'") && r["U"].error.contains("echo-ok"),
        "{}",
        r["U"].error
    );
    assert_eq!(r["F"].status, 400);

    // The sampler runs them every period: time series from history, one series per probe.
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 3.0).await);
    let now = chrono::Utc::now().timestamp_millis();
    let r = p
        .query_window(
            &ds,
            &[json!({"refId": "H", "queryType": "probe", "format": "timeseries", "metric": "success"})],
            (now - 60_000, now),
            1000,
            1000,
        )
        .await
        .unwrap();
    let frames = &r["H"].frames;
    assert!(alertable_timeseries(frames));
    assert_eq!(frames.len(), 7);
    for f in frames {
        let field = f.numeric_fields()[0];
        let name = field.labels.as_ref().unwrap()["probe"].as_str().unwrap().to_string();
        let values: Vec<f64> = field.values.iter().filter_map(Value::as_f64).collect();
        assert!(values.len() >= 3, "{name}: sampled every period: {values:?}");
        let expected = want.iter().find(|(n, _)| *n == name).unwrap().1;
        assert!(values.iter().all(|v| *v == expected), "{name}: {values:?}");
    }

    // The editor's list and test button.
    let (status, list) = p.resource_get(&ds, "probes").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 7);
    let (status, tested) = p.resource_call(&ds, "POST", "probes/echo-wrong/test").await.unwrap();
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["success"], false);
    assert_eq!(tested["state"], "malformed");
    let (status, _) = p.resource_call(&ds, "GET", "probes/echo-ok/test").await.unwrap();
    assert_eq!(status, 405);
    let (status, missing) = p.resource_call(&ds, "POST", "probes/unsaved/test").await.unwrap();
    assert_eq!(status, 404);
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .contains("save the data source settings first"));

    let m = p.metrics_text().await.unwrap();
    assert!(
        metric(&m, "natsmicro_probe_runs_total{outcome=\"success\"}") >= Some(3.0),
        "{m}"
    );
    assert!(
        metric(&m, "natsmicro_probe_runs_total{outcome=\"gone\"}") >= Some(1.0),
        "{m}"
    );

    // A probe on a subject requestSubjects does not allow: the health check says what to fix.
    let bad = env.ds(json!({"requestSubjects": ["orders.>"], "probes": [{"name": "b", "subject": "billing.fail"}]}));
    let (code, message) = p.health(&bad).await.unwrap();
    assert_eq!(code, 2, "{message}");
    assert!(
        message.contains("probe 'b': subject 'billing.fail' is not allowed by requestSubjects"),
        "{message}"
    );
}
