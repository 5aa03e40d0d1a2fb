//! What a Viewer can type and a peer on the NATS account can publish, tried against real nats-servers and the plugin driven over gRPC: requests never reach the plugin's own or the server's subjects (no purge of the history), headers NATS does not accept fail only their refId, and a probe header from a YAML block value neither fails the settings nor stops the sampler.

mod support;

use std::time::Duration;

use futures::StreamExt;
use grafana_plugin_sdk::pluginv2;
use serde_json::{json, Value};
use support::*;

/// Messages in the history stream now.
async fn stream_messages(nats: &NatsServer) -> u64 {
    let js = async_nats::jetstream::new(connect(&nats.url()).await.unwrap());
    let mut s = js.get_stream("NATSMICRO_HISTORY").await.unwrap();
    s.info().await.unwrap().state.messages
}

/// The first subject the plugin publishes a ping round on.
async fn history_ping_subject(nats: &NatsServer) -> String {
    let client = connect(&nats.url()).await.unwrap();
    let mut sub = client.subscribe("NATSMICRO_HISTORY.*.ping").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("a ping round is published")
        .unwrap();
    m.subject.to_string()
}

#[tokio::test]
async fn a_request_query_never_reaches_the_history_stream_or_any_own_subject() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::builder().jetstream().start().await.unwrap();
    let _orders = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream", "requestSubjects": [">"]
    }));
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    let subject = history_ping_subject(&nats).await;
    assert!(p.sampling_rounds_reach(3.0).await);
    let before = stream_messages(&nats).await;
    assert!(before >= 3, "{before}");

    let attacks = [
        (subject.as_str(), json!({"Nats-Rollup": "all"})),
        (subject.as_str(), json!({})),
        ("$JS.API.STREAM.PURGE.NATSMICRO_HISTORY", json!({})),
        ("$JS.API.STREAM.DELETE.NATSMICRO_HISTORY", json!({})),
        ("$KV.NATSMICRO_HISTORY_LEASE.x", json!({})),
        ("$SYS.REQ.SERVER.PING", json!({})),
        ("$SRV.PING", json!({})),
        ("_INBOX.x", json!({})),
    ];
    let queries: Vec<Value> = attacks
        .iter()
        .enumerate()
        .map(|(i, (s, h))| {
            json!({"refId": format!("R{i}"), "queryType": "request", "subject": s, "payload": "x", "headers": h})
        })
        .collect();
    let r = p.query(&ds, &queries).await.unwrap();
    for (i, (s, _)) in attacks.iter().enumerate() {
        let a = &r[&format!("R{i}")];
        // (`$…` subjects are refused earlier still, as unresolved template variables.)
        assert!(
            a.error.contains("is reserved") || (s.starts_with('$') && a.error.contains("template variable")),
            "a request to {s} must be refused: {:?} {:?}",
            a.error,
            a.frames.first().map(|f| f.rows())
        );
    }
    // A header of the server's own is refused on any subject.
    let r = p
        .query(
            &ds,
            &[json!({"refId": "A", "queryType": "request", "subject": "orders.get", "headers": {"Nats-Rollup": "all"}})],
        )
        .await
        .unwrap();
    assert!(r["A"].error.contains("reserved"), "{}", r["A"].error);

    let after = stream_messages(&nats).await;
    assert!(after >= before, "the stream lost messages: {before} → {after}");
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 2.0).await);
    assert!(stream_messages(&nats).await > after, "the history goes on");
    let (_, message) = p.health(&ds).await.unwrap();
    assert!(
        message.contains("requestSubjects pattern > also covers $JS.>"),
        "the health check names the reserved subjects a pattern covers: {message}"
    );
    assert!(p.serving().await);
}

#[tokio::test]
async fn a_header_nats_does_not_accept_fails_its_refid_only() {
    let env = TestEnv::orders().await;
    let ds = env.ds(json!({"requestSubjects": ["orders.>"]}));
    let p = &env.plugin;
    let request = |ref_id: &str, headers: Value| json!({"refId": ref_id, "queryType": "request", "subject": "orders.get", "payload": "{}", "headers": headers});
    let r = p
        .query(
            &ds,
            &[
                request("A", json!({"é": "1"})),
                request("B", json!({"X A": "1"})),
                request("C", json!({"X-Ok": "a\r\nb"})),
                request("D", json!([{"key": "X:Y", "value": "1"}])),
                request("E", json!({"X-Trace": "fine\n"})),
                json!({"refId": "P", "queryType": "ping", "format": "table"}),
            ],
        )
        .await
        .unwrap();
    assert!(r["A"].error.contains("U+00E9"), "{}", r["A"].error);
    assert!(r["B"].error.contains("header name 'X A'"), "{}", r["B"].error);
    assert!(r["C"].error.contains("line break"), "{}", r["C"].error);
    assert!(r["D"].error.contains("header name"), "{}", r["D"].error);
    assert!(
        r["E"].error.is_empty(),
        "a trailing line break is dropped: {}",
        r["E"].error
    );
    assert!(r["P"].error.is_empty(), "{}", r["P"].error);
    assert_eq!(r["P"].frame().strings("service"), vec!["orders"]);
    assert!(p.serving().await);
}

#[tokio::test]
async fn a_probe_header_from_a_yaml_block_keeps_the_sampler_and_a_broken_one_is_named_by_health() {
    let env = TestEnv::orders().await;
    let probe = |value: &str| {
        json!({
            "sampleIntervalSec": 1, "requestSubjects": ["orders.>"],
            "probes": [{"name": "get", "subject": "orders.get", "headers": {"Authorization": value}}]
        })
    };
    let p = &env.plugin;
    // What `value: |` in provisioning YAML gives: a trailing newline.
    let ds = env.ds(probe("Bearer abc\n"));
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(p.sampling_rounds_reach(4.0).await, "the sampler goes on");
    let points: usize = p.ping_points(&ds, 60).await.values().sum();
    assert!(points >= 4, "ping history goes on: {points} points");
    assert!(p.serving().await);

    let broken = env.ds(probe("a\nb"));
    let (status, message) = p.health(&broken).await.unwrap();
    assert_eq!(status, 2, "{message}");
    assert!(
        message.contains("probe 'get'") && message.contains("Authorization") && message.contains("line break"),
        "{message}"
    );
    assert!(!message.contains("Bearer"), "the value is never shown: {message}");
    assert!(p.serving().await);
}

#[tokio::test]
async fn extreme_times_and_sizes_from_grafana_saturate_and_fail_no_query() {
    let env = TestEnv::orders().await;
    let ds = env.ds(json!({"sampleIntervalSec": 1, "requestSubjects": ["orders.>"],
        "probes": [{"name": "get", "subject": "orders.get"}]}));
    let p = &env.plugin;
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    assert!(p.sampling_rounds_reach(2.0).await);
    let queries = [
        json!({"refId": "P", "queryType": "ping", "format": "timeseries"}),
        json!({"refId": "S", "queryType": "stats", "format": "timeseries", "metric": "request_rate"}),
        json!({"refId": "E", "queryType": "events"}),
        json!({"refId": "L", "queryType": "slo", "format": "timeseries"}),
        json!({"refId": "I", "queryType": "slo", "format": "instant"}),
        json!({"refId": "R", "queryType": "probe", "format": "timeseries"}),
        json!({"refId": "V", "queryType": "services", "format": "timeseries"}),
    ];
    for (window, points, interval) in [
        ((i64::MIN, i64::MAX), i64::MAX, i64::MAX),
        ((i64::MAX, i64::MIN), i64::MIN, i64::MIN),
        ((-1, 0), -1, -1),
        ((0, i64::MAX), 1, 0),
    ] {
        let r = p.query_window(&ds, &queries, window, points, interval).await;
        let r = r.unwrap_or_else(|e| panic!("the call failed for {window:?} {points} {interval}: {e}"));
        for q in &queries {
            let id = q["refId"].as_str().unwrap();
            assert!(r[id].error.is_empty(), "{id} {window:?}: {}", r[id].error);
        }
        assert!(p.serving().await);
    }
}

#[tokio::test]
async fn settings_errors_never_echo_a_value_that_may_be_a_pasted_secret() {
    let env = TestEnv::orders().await;
    let p = &env.plugin;
    let pasted = "s3cr3t token/with+chars=";
    for (key, value) in [
        ("historyStore", json!(pasted)),
        ("historyStream", json!(pasted)),
        ("srvPrefix", json!(pasted)),
        ("inboxPrefix", json!(pasted)),
        ("requestSubjects", json!([pasted])),
    ] {
        let ds = env.ds(json!({ key: value }));
        let (status, message) = p.health(&ds).await.unwrap();
        assert_eq!(status, 2, "{key}: {message}");
        assert!(message.contains(key), "{key}: {message}");
        assert!(!message.contains("s3cr3t"), "{key} echoed: {message}");
        assert!(message.contains("not shown"), "{key}: {message}");
    }
    // A value that looks like what the key wants is still quoted, to help fix a typo.
    let (_, message) = p.health(&env.ds(json!({"historyStore": "jetsteam"}))).await.unwrap();
    assert!(message.contains("'jetsteam'"), "{message}");
}

#[tokio::test]
async fn live_streams_per_data_source_are_capped() {
    let env = TestEnv::orders().await;
    let ds = env.ds(json!({}));
    let p = &env.plugin;
    let mut streams = Vec::new();
    for i in 0..100 {
        streams.push(p.run_stream(&ds, &format!("v1/ping/timeseries/rtt/svc{i}/=/=")).await);
    }
    let refused = p
        .stream()
        .run_stream(pluginv2::RunStreamRequest {
            plugin_context: Some(ds.context("Viewer")),
            path: "v1/ping/timeseries/rtt/svc100/=/=".into(),
            data: Default::default(),
        })
        .await;
    let e = refused.expect_err("the 101st stream of one data source is refused");
    assert!(e.message().contains("at most 100"), "{}", e.message());
    // Another data source is not held back by this one's streams.
    let other = env.ds(json!({}));
    let mut s = p.run_stream(&other, "v1/ping/timeseries/rtt/orders/=/=").await;
    let packet = tokio::time::timeout(Duration::from_secs(20), s.message()).await;
    assert!(matches!(packet, Ok(Ok(Some(_)))), "{packet:?}");
}

#[tokio::test]
async fn testing_a_probe_needs_an_editor_and_on_demand_runs_are_rate_limited() {
    let env = TestEnv::orders().await;
    let ds = env.ds(json!({"requestSubjects": ["orders.>"], "probes": [{"name": "get", "subject": "orders.get"}]}));
    let p = &env.plugin;
    let as_viewer = p
        .resource()
        .call_resource(pluginv2::CallResourceRequest {
            plugin_context: Some(ds.context("Viewer")),
            path: "probes/get/test".into(),
            method: "POST".into(),
            url: String::new(),
            headers: Default::default(),
            body: Default::default(),
        })
        .await
        .unwrap()
        .into_inner()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(as_viewer.code, 403);
    let (status, body) = p.resource_call(&ds, "POST", "probes/get/test").await.unwrap();
    assert_eq!(status, 200, "{body}");
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(p.resource_call(&ds, "POST", "probes/get/test").await.unwrap().0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // The same limit holds for instant probe queries; the history query still answers.
    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "A", "queryType": "probe", "format": "instant"}),
                json!({"refId": "B", "queryType": "ping", "format": "table"}),
            ],
        )
        .await
        .unwrap();
    assert!(r["A"].error.contains("on demand"), "{}", r["A"].error);
    assert!(r["B"].error.is_empty(), "{}", r["B"].error);
}

#[tokio::test]
async fn a_refused_publish_marks_only_its_own_subject_denied() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::builder()
        .nats_config(
            r#"accounts { APP { users = [
            {user: grafana, password: g, permissions: {publish: {deny: ["guard.a.10"]}}}
            {user: svc, password: s}
        ] } }"#,
        )
        .start()
        .await
        .unwrap();
    // A service on guard.a.1 that answers after 300 ms: the refusal of guard.a.10 comes first.
    let svc = connect(&nats.url().replace("nats://", "nats://svc:s@")).await.unwrap();
    let mut sub = svc.subscribe("guard.a.1").await.unwrap();
    server_round_trip(&svc).await;
    let replier = svc.clone();
    let _task = tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if let Some(reply) = m.reply {
                let _ = replier.publish(reply, "{\"ok\":true}".into()).await;
            }
        }
    });
    let ds = DataSource::new(&nats.url())
        .json(json!({
            "authType": "userpass", "username": "grafana", "sampleIntervalSec": 0,
            "requestSubjects": ["guard.>"],
            "probes": [{"name": "one", "subject": "guard.a.1"}, {"name": "ten", "subject": "guard.a.10"}]
        }))
        .secure("password", "g");
    let r = p
        .query(&ds, &[json!({"refId": "A", "queryType": "probe", "format": "table"})])
        .await
        .unwrap();
    let f = r["A"].frame();
    let states: std::collections::BTreeMap<String, String> =
        f.strings("probe").into_iter().zip(f.strings("state")).collect();
    assert_eq!(states["ten"], "denied", "{states:?}");
    assert_eq!(states["one"], "up", "{states:?}");
}
