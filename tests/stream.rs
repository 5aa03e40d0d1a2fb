//! Grafana Live streaming driven as Grafana drives it: QueryData answers history with `meta.channel`, SubscribeStream checks the path, RunStream packets from one shared producer, against a real nats-server and real micro services.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use grafana_plugin_sdk::pluginv2::{self, subscribe_stream_response::Status as SubStatus};
use serde_json::{json, Value};
use support::*;

fn data_source(nats: &NatsServer) -> DataSource {
    DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1, "timeoutMs": 500}))
}

/// Values of one packet by field name (first row), plus the schema.
fn packet_values(packet: &Value) -> HashMap<String, Value> {
    let fields = packet["schema"]["fields"].as_array().cloned().unwrap_or_default();
    let values = packet["data"]["values"].as_array().cloned().unwrap_or_default();
    assert_eq!(fields.len(), values.len(), "one column per field: {packet}");
    fields
        .iter()
        .zip(values)
        .map(|(f, v)| (f["name"].as_str().unwrap_or_default().to_string(), v[0].clone()))
        .collect()
}

async fn next_packet(s: &mut tonic::Streaming<pluginv2::StreamPacket>) -> Value {
    let p = tokio::time::timeout(Duration::from_secs(20), s.message())
        .await
        .expect("a packet within 20 s")
        .expect("stream ok")
        .expect("stream not ended");
    serde_json::from_slice(&p.data).expect("packet is JSON")
}

/// The first of the next `tries` packets for which `pred` holds.
async fn packet_where(
    s: &mut tonic::Streaming<pluginv2::StreamPacket>,
    tries: usize,
    pred: impl Fn(&Value) -> bool,
) -> Option<Value> {
    for _ in 0..tries {
        let packet = next_packet(s).await;
        if pred(&packet) {
            return Some(packet);
        }
    }
    None
}

async fn subscribe(p: &PluginProcess, ds: Option<&DataSource>, path: &str) -> pluginv2::SubscribeStreamResponse {
    p.stream()
        .subscribe_stream(pluginv2::SubscribeStreamRequest {
            plugin_context: ds.map(|d| d.context("Viewer")),
            path: path.into(),
            data: Default::default(),
        })
        .await
        .expect("subscribe")
        .into_inner()
}

#[tokio::test]
async fn dashboard_timeseries_queries_carry_the_channel_and_alert_queries_do_not() {
    let env = TestEnv::orders().await;
    let (nats, p) = (&env.nats, &env.plugin);
    let ds = data_source(nats);
    let ping = json!({"refId": "A", "queryType": "ping", "service": "orders", "format": "timeseries"});
    let stats =
        json!({"refId": "B", "queryType": "stats", "endpoint": "get", "metric": "errors", "format": "timeseries"});
    let instant = json!({"refId": "C", "queryType": "ping", "service": "orders"});
    let r = p.query(&ds, &[ping.clone(), stats, instant]).await.unwrap();
    let a = r["A"].frame();
    assert_eq!(
        a.meta["channel"],
        format!("ds/{}/v1/ping/timeseries/rtt/orders/=/=", ds.uid)
    );
    assert_eq!(a.meta["type"], "timeseries-wide");
    assert_eq!(a.ref_id, "A");
    assert!(
        a.rows() >= 1,
        "the frame holds the history of its range, at least the fresh round"
    );
    let orders = a
        .fields
        .iter()
        .find(|f| f.labels.as_ref().is_some_and(|l| l["service"] == "orders"));
    let orders = orders.unwrap_or_else(|| panic!("a field for the orders instance: {:?}", a.fields));
    let rtts: Vec<f64> = orders.values.iter().filter_map(Value::as_f64).collect();
    assert!(!rtts.is_empty() && rtts.iter().all(|ms| *ms > 0.0), "{orders:?}");

    // `"live": false`: the same query answered as any timeseries query, without a channel.
    let mut off = ping.clone();
    off["live"] = json!(false);
    let unstreamed = p.query(&ds, &[off]).await.unwrap();
    let frames = &unstreamed["A"].frames;
    assert!(
        unstreamed["A"].error.is_empty() && !frames.is_empty(),
        "{:?}",
        unstreamed["A"].error
    );
    for f in frames {
        assert!(f.meta.get("channel").is_none(), "{}", f.meta);
        assert_eq!(f.meta["type"], "timeseries-multi");
    }
    assert_eq!(
        r["B"].frame().meta["channel"],
        format!("ds/{}/v1/stats/timeseries/error_rate/=/=/get", ds.uid)
    );
    let c = r["C"].frame();
    assert!(
        c.meta.get("channel").is_none(),
        "instant frames do not stream: {}",
        c.meta
    );

    // The same query from an alert rule: answered the usual way, never with a channel.
    let resp = p
        .data()
        .query_data(pluginv2::QueryDataRequest {
            plugin_context: Some(ds.context("Admin")),
            headers: HashMap::from([("FromAlert".to_string(), "true".to_string())]),
            queries: vec![pluginv2::DataQuery {
                ref_id: "A".into(),
                json: ping.to_string().into_bytes(),
                ..Default::default()
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let alert = &resp.responses["A"];
    for f in &alert.frames {
        let frame = decode_frame(f).unwrap();
        assert!(frame.meta.get("channel").is_none(), "{}", frame.meta);
    }
    assert!(
        !alert.frames.is_empty() || !alert.error.is_empty(),
        "an alert query gets frames or an error"
    );

    // NATS unreachable: the dashboard still gets its channel (the stream heals), with a warning.
    let closed = ClosedPort::new();
    let nowhere = DataSource::new(&closed.url()).json(json!({"timeoutMs": 300}));
    let r = p.query(&nowhere, &[ping]).await.unwrap();
    let a = r["A"].frame();
    assert!(a.meta["channel"]
        .as_str()
        .is_some_and(|c| c.ends_with("/v1/ping/timeseries/rtt/orders/=/=")));
    let notices = a.meta["notices"].as_array().unwrap();
    assert!(
        notices
            .iter()
            .any(|n| n["severity"] == "warning" && n["text"].as_str().unwrap().contains("cannot reach NATS")),
        "{notices:?}"
    );
}

#[tokio::test]
async fn queries_answer_history_subscriptions_send_none_and_foreign_paths_are_refused() {
    let env = TestEnv::orders().await;
    let (nats, p) = (&env.nats, &env.plugin);
    let ds = data_source(nats);
    let ok = subscribe(p, Some(&ds), "v1/ping/timeseries/rtt/orders/=/=").await;
    assert_eq!(ok.status, SubStatus::Ok as i32);
    assert!(
        ok.data.is_empty(),
        "the subscription sends no rows: the QueryData frame holds the history"
    );

    // History for every caller: once the sampler (1 s, started by the first query) has run a few
    // rounds, the dashboard's QueryData frame holds them as rows, oldest first, one field for the
    // one instance.
    let ping = json!({"refId": "A", "queryType": "ping", "service": "orders", "format": "timeseries"});
    p.query(&ds, std::slice::from_ref(&ping)).await.unwrap();
    let done = p.sampling_rounds().await;
    assert!(
        p.sampling_rounds_reach(done + 3.0).await,
        "the sampler ran no more rounds"
    );
    // A dashboard's last minute at one point per second (the last hour would be bucketed by 3.6 s).
    let now = chrono::Utc::now().timestamp_millis();
    let req = query_request(&ds, "Viewer", HashMap::new(), &[ping], (now - 60_000, now), 1000, 1000);
    let resp = p.data().query_data(req).await.unwrap().into_inner();
    let history = decode_frame(&resp.responses["A"].frames[0]).unwrap();
    assert_eq!(history.meta["type"], "timeseries-wide");
    assert!(history.meta["channel"].is_string());
    assert_eq!(
        history.fields.len(),
        2,
        "time + the one orders instance: {:?}",
        history.fields
    );
    assert_eq!(history.fields[0].name, "time");
    let times: Vec<i64> = history.fields[0].values.iter().filter_map(Value::as_i64).collect();
    assert!(times.len() >= 3, "history rows: {times:?}");
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert_eq!(history.fields[1].labels.as_ref().unwrap()["service"], "orders");
    // The seed names the version the instance reported, as live packets do.
    assert_eq!(history.fields[1].labels.as_ref().unwrap()["version"], "1.0.0");
    assert_eq!(history.fields[1].config.as_ref().unwrap()["unit"], "ms");
    let rtts: Vec<f64> = history.fields[1].values.iter().filter_map(Value::as_f64).collect();
    assert!(rtts.len() >= 3 && rtts.iter().all(|ms| *ms > 0.0), "{rtts:?}");

    for bad in [
        "ping",
        "",
        "v1/ping/timeseries/rtt/orders$/=/=",
        "v1/ping/timeseries/rtt/orders=24/=/=",
        "v1/info/timeseries/rtt/=/=/=",
        "v1/ping/instant/rtt/=/=/=",
        "v2/ping/timeseries/rtt/=/=/=",
    ] {
        let r = subscribe(p, Some(&ds), bad).await;
        assert_eq!(r.status, SubStatus::NotFound as i32, "{bad:?}");
        assert!(r.data.is_empty());
    }
    let r = subscribe(p, None, "v1/ping/timeseries/rtt/orders/=/=").await;
    assert_eq!(r.status, SubStatus::PermissionDenied as i32);
    let logs = p.stderr_when(|l| l.contains("stream subscription refused")).await;
    assert!(logs.contains("stream subscription refused"), "reason is logged");

    // RunStream refuses the same paths.
    let err = p
        .stream()
        .run_stream(pluginv2::RunStreamRequest {
            plugin_context: Some(ds.context("Viewer")),
            path: "v1/ping/timeseries/cpu/=/=/=".into(),
            data: Default::default(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert!(err.message().contains("metric 'cpu'"), "{}", err.message());
}

#[tokio::test]
async fn two_run_streams_share_one_producer_that_stops_when_they_leave() {
    let mut env = TestEnv::builder()
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .start()
        .await
        .unwrap();
    let a = env.rust.remove(0);
    let b = env.rust.remove(0);
    let (nats, p) = (&env.nats, &env.plugin);
    let ds = data_source(nats);
    let path = "v1/ping/timeseries/rtt/orders/=/=";
    let mut first = p.run_stream(&ds, path).await;
    let mut second = p.run_stream(&ds, path).await;

    let mut want = vec![format!("orders/{}", a.id), format!("orders/{}", b.id)];
    want.sort();
    for s in [&mut first, &mut second] {
        // The registry may learn the second instance one round later: read until both answer.
        let mut seen = false;
        for _ in 0..10 {
            let packet = next_packet(s).await;
            assert_eq!(packet["schema"]["meta"]["type"], "timeseries-wide");
            let values = packet_values(&packet);
            assert!(values["time"].as_i64().unwrap() > 1_600_000_000_000, "time in epoch ms");
            let mut names: Vec<_> = values.keys().filter(|k| *k != "time").cloned().collect();
            names.sort();
            if names == want && want.iter().all(|n| values[n].as_f64().is_some_and(|v| v > 0.0)) {
                let fields = packet["schema"]["fields"].as_array().unwrap();
                let ids: Vec<_> = fields[1..].iter().map(|f| f["labels"]["id"].clone()).collect();
                assert_eq!(ids, want.iter().map(|n| json!(n[7..])).collect::<Vec<_>>());
                let versions: Vec<_> = fields[1..].iter().map(|f| f["labels"]["version"].clone()).collect();
                assert_eq!(versions, [json!("1.0.0"), json!("1.0.0")], "{fields:?}");
                seen = true;
                break;
            }
        }
        assert!(seen, "both instances answered in one packet");
    }

    let m = p.metrics_text().await.unwrap();
    assert_eq!(metric(&m, "natsmicro_stream_producers"), Some(1.0), "{m}");
    assert_eq!(metric(&m, "natsmicro_stream_producers_started_total"), Some(1.0));
    assert_eq!(metric(&m, "natsmicro_stream_listeners"), Some(2.0));
    assert!(metric(&m, "natsmicro_stream_packets_total").unwrap() >= 1.0);

    // One client leaves: the producer goes on for the other.
    drop(first);
    assert!(
        eventually(Duration::from_secs(10), || async {
            let m = p.metrics_text().await.unwrap_or_default();
            metric(&m, "natsmicro_stream_listeners") == Some(1.0)
        })
        .await
    );
    next_packet(&mut second).await;
    let m = p.metrics_text().await.unwrap();
    assert_eq!(metric(&m, "natsmicro_stream_producers"), Some(1.0));

    // The last one leaves: the producer ends.
    drop(second);
    assert!(
        eventually(Duration::from_secs(10), || async {
            let m = p.metrics_text().await.unwrap_or_default();
            metric(&m, "natsmicro_stream_producers") == Some(0.0)
                && metric(&m, "natsmicro_stream_listeners") == Some(0.0)
        })
        .await,
        "producer still running: {}",
        p.metrics_text().await.unwrap_or_default()
    );
    // The log line travels through a pipe: wait for it rather than assume it is there.
    assert!(
        eventually(Duration::from_secs(10), || async {
            p.stderr_text().contains("stream producer stopped")
        })
        .await,
        "the producer's stop was not logged"
    );

    // A new viewer starts a new producer.
    let mut again = p.run_stream(&ds, path).await;
    next_packet(&mut again).await;
    let m = p.metrics_text().await.unwrap();
    assert_eq!(metric(&m, "natsmicro_stream_producers_started_total"), Some(2.0));
}

#[tokio::test]
async fn a_stream_survives_a_nats_restart() {
    let TestEnv {
        mut nats, plugin: p, ..
    } = TestEnv::empty().await;
    let svc = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let ds = data_source(&nats);
    let mut s = p.run_stream(&ds, "v1/ping/timeseries/rtt/orders/=/=").await;
    let name = format!("orders/{}", svc.id);
    let answered = |packet: &Value| packet_values(packet).get(&name).and_then(Value::as_f64).is_some();

    let up = packet_where(&mut s, 10, answered).await;
    assert!(up.is_some(), "the instance answers before the outage");

    nats.stop();
    let down = packet_where(&mut s, 15, |packet| {
        packet_values(packet).get(&name).is_some_and(Value::is_null)
    })
    .await
    .expect("during the outage the stream goes on, the instance without rtt");
    let notices = down["schema"]["meta"]["notices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        notices.iter().any(|n| n["severity"] == "warning"),
        "outage notice: {down}"
    );

    nats.restart();
    let back = packet_where(&mut s, 30, answered).await;
    assert!(
        back.is_some(),
        "the instance answers again after the restart, on the same stream"
    );
}

#[tokio::test]
async fn a_stream_holding_old_settings_does_not_undo_newer_ones() {
    let env = TestEnv::orders().await;
    let (nats, p) = (&env.nats, &env.plugin);
    let old = data_source(nats);
    let mut s = p.run_stream(&old, "v1/ping/timeseries/rtt/orders/=/=").await;
    next_packet(&mut s).await;
    // The data source is edited while the stream runs: queries now carry the newer version.
    let mut new = old.clone();
    new.updated_ms += 1;
    let q = json!({"refId": "A", "queryType": "ping", "service": "orders"});
    assert_eq!(
        p.query(&new, std::slice::from_ref(&q)).await.unwrap()["A"]
            .frame()
            .rows(),
        1
    );
    for _ in 0..3 {
        next_packet(&mut s).await;
        assert_eq!(
            p.query(&new, std::slice::from_ref(&q)).await.unwrap()["A"]
                .frame()
                .rows(),
            1
        );
    }
    let replacing = |l: &str| l.matches("replacing its NATS connection").count();
    let replaced = replacing(&p.stderr_when(|l| replacing(l) >= 1).await);
    assert_eq!(replaced, 1, "the connection was replaced once, not back and forth");
}
