//! Five-state liveness end to end: real nats-server with permissions, Rust, Python and JS micro services, and hand-driven responders; each state (up, slow, unresponsive, gone, denied, malformed) is produced for real and read back over gRPC as instant, table and time series frames, the targeted pings are bounded and counted, and a broadcast reply after its targeted ping is no duplicate.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

/// Users: `svc` may do anything; `grafana` may not publish to `$SRV.PING.denied.<id>`.
const CONFIG: &str = r#"authorization { users = [
    { user: svc, password: "svc-pw" }
    { user: grafana, password: "grafana-pw", permissions: {
        publish: { allow: [">"], deny: ["$SRV.PING.denied.*"] },
        subscribe: { allow: [">"] } } }
] }"#;

/// `service/id` → state name, from a ping table.
fn table_states(frame: &DecodedFrame) -> BTreeMap<String, String> {
    let (services, ids, states) = (frame.strings("service"), frame.strings("id"), frame.strings("state"));
    services
        .iter()
        .zip(&ids)
        .zip(&states)
        .map(|((s, i), st)| (format!("{s}/{i}"), st.clone()))
        .collect()
}

#[tokio::test]
async fn every_state_is_told_apart_and_reads_the_same_in_every_format() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::builder().nats_config(CONFIG).start().await.unwrap();
    let svc = format!("nats://svc:svc-pw@127.0.0.1:{}", nats.port);
    let orders = RustService::start(&svc, "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let leaving = RustService::start(&svc, "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let billing = PythonService::start(&svc, "billing", "2.0.0", 1, &[]).unwrap();
    let js = JsService::start(&svc, "jobs", "3.0.0").unwrap();
    let slow = Scripted::start(&svc, "slow", &["s1"]).await.unwrap();
    let denied = Scripted::start(&svc, "denied", &["d1"]).await.unwrap();
    let broken = Scripted::start(&svc, "broken", &["b1"]).await.unwrap();
    let ds = DataSource::new(&nats.url())
        .json(json!({"authType": "userpass", "username": "grafana", "timeoutMs": 1000, "slowMs": 150, "sampleIntervalSec": 1}))
        .secure("password", "grafana-pw");
    let table = json!({"refId": "T", "queryType": "ping", "format": "table"});

    // Everyone answers: all up, and known.
    let all_up = eventually(Duration::from_secs(20), || async {
        let r = p.query(&ds, std::slice::from_ref(&table)).await.unwrap();
        let states = table_states(r["T"].frame());
        states.len() == 7 && states.values().all(|s| s == "up")
    })
    .await;
    assert!(all_up, "seven instances up first");
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 2.0).await);

    // Now each goes wrong in its own way.
    let (orders_id, leaving_id, billing_id) = (orders.id.clone(), leaving.id.clone(), billing.ids[0].clone());
    leaving.stop().await;
    billing.signal("STOP");
    slow.set(Script::Delay(400));
    denied.set(Script::Silent);
    broken.set(Script::Garbage);

    let want: BTreeMap<String, &str> = [
        (format!("orders/{orders_id}"), "up"),
        (format!("jobs/{}", js.id), "up"),
        (format!("orders/{leaving_id}"), "gone"),
        (format!("billing/{billing_id}"), "unresponsive"),
        ("slow/s1".to_string(), "slow"),
        ("denied/d1".to_string(), "denied"),
        ("broken/b1".to_string(), "malformed"),
    ]
    .into_iter()
    .collect();
    let last = std::sync::Mutex::new(BTreeMap::new());
    let told = eventually(Duration::from_secs(30), || async {
        let r = p.query(&ds, std::slice::from_ref(&table)).await.unwrap();
        let states = table_states(r["T"].frame());
        let same = states
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str()))
            .collect::<BTreeMap<_, _>>()
            == want;
        *last.lock().unwrap() = states;
        same
    })
    .await;
    assert!(told, "states {:?}, wanted {want:?}", last.lock().unwrap());

    // Instant: the numeric state, with a value mapping per state (name and colour).
    let r = p
        .query(&ds, &[json!({"refId": "I", "queryType": "ping", "metric": "state"})])
        .await
        .unwrap();
    let f = r["I"].frame();
    assert!(alertable_instant(f), "{f:?}");
    let codes: BTreeMap<String, f64> = f
        .strings("service")
        .iter()
        .zip(f.strings("id"))
        .zip(f.numbers("state"))
        .map(|((s, i), v)| (format!("{s}/{i}"), v.unwrap()))
        .collect();
    let code = |name: &str| {
        ["up", "slow", "unresponsive", "gone", "denied", "malformed"]
            .iter()
            .position(|n| *n == name)
            .unwrap() as f64
    };
    for (k, name) in &want {
        assert_eq!(codes[k], code(name), "{k}");
    }
    let mappings = &f.field("state").config.as_ref().unwrap()["mappings"][0]["options"];
    assert_eq!(mappings["4"]["text"], "denied");
    assert_eq!(mappings["0"]["color"], "green");
    assert_eq!(
        f.meta["custom"]["targetedPings"], 5,
        "the five that missed the round were asked; the slow one answered late: {}",
        f.meta
    );

    // The worst state per service (aggregate max), and the time series the sampler recorded.
    let now = chrono::Utc::now().timestamp_millis();
    let r = p
        .query_window(
            &ds,
            &[
                json!({"refId": "W", "queryType": "ping", "metric": "state", "aggregate": "max"}),
                json!({"refId": "S", "queryType": "ping", "metric": "state", "format": "timeseries"}),
            ],
            (now - 60_000, now),
            1000,
            1000,
        )
        .await
        .unwrap();
    let w = r["W"].frame();
    let worst: BTreeMap<String, f64> = w
        .strings("service")
        .into_iter()
        .zip(w.numbers("state").into_iter().map(Option::unwrap))
        .collect();
    assert_eq!(worst["orders"], code("gone"), "{worst:?}");
    assert_eq!(worst["billing"], code("unresponsive"));
    let frames = &r["S"].frames;
    assert!(alertable_timeseries(frames));
    let last_values = reduce_last(frames);
    for (k, name) in &want {
        let (service, id) = k.split_once('/').unwrap();
        let key = json!({"id": id, "service": service}).to_string();
        assert_eq!(
            last_values.get(&key).copied().flatten(),
            Some(code(name)),
            "{k} in {last_values:?}"
        );
    }
    let first_values: Vec<f64> = frames
        .iter()
        .filter_map(|f| f.numeric_fields()[0].values.iter().find_map(Value::as_f64))
        .collect();
    assert!(first_values.contains(&0.0), "the series start up: {first_values:?}");

    let m = p.metrics_text().await.unwrap();
    for outcome in ["gone", "unresponsive", "denied", "malformed", "answered"] {
        assert!(
            metric(&m, &format!("natsmicro_targeted_pings_total{{outcome=\"{outcome}\"}}")) >= Some(1.0),
            "{outcome}: {m}"
        );
    }

    // A thawed service answers again: up.
    billing.signal("CONT");
    let back = eventually(Duration::from_secs(20), || async {
        let r = p.query(&ds, std::slice::from_ref(&table)).await.unwrap();
        table_states(r["T"].frame())
            .get(&format!("billing/{billing_id}"))
            .map(String::as_str)
            == Some("up")
    })
    .await;
    assert!(back, "billing answers again after CONT");
}

#[tokio::test]
async fn targeted_pings_are_bounded_per_round_and_the_rest_is_said() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let ids: Vec<String> = (0..40).map(|i| format!("h{i:02}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let fleet = Scripted::start(&nats.url(), "hung", &refs).await.unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"timeoutMs": 300, "sampleIntervalSec": 0}));
    let q = json!({"refId": "A", "queryType": "ping", "metric": "state"});
    let known = eventually(Duration::from_secs(20), || async {
        let r = p.query(&ds, std::slice::from_ref(&q)).await.unwrap();
        r["A"].frame().rows() == 40
    })
    .await;
    assert!(known, "40 instances known");
    fleet.set(Script::Silent);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = p.query(&ds, std::slice::from_ref(&q)).await.unwrap();
    let f = r["A"].frame();
    assert_eq!(f.rows(), 40, "silent instances are reported, not dropped");
    assert!(
        f.numbers("state").iter().all(|v| *v == Some(2.0)),
        "all unresponsive: {:?}",
        f.numbers("state")
    );
    assert_eq!(f.meta["custom"]["targetedPings"], 32, "{}", f.meta);
    let notices = f.meta["notices"].to_string();
    assert!(notices.contains("8 silent instances were not asked"), "{notices}");
    let m = p.metrics_text().await.unwrap();
    assert_eq!(
        metric(&m, "natsmicro_targeted_pings_total{outcome=\"unresponsive\"}"),
        Some(32.0),
        "{m}"
    );
}

#[tokio::test]
async fn a_broadcast_reply_that_comes_after_the_targeted_ping_answered_is_not_a_duplicate() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let _fast = Scripted::start(&nats.url(), "orders", &["f1"]).await.unwrap();
    let late = Scripted::start(&nats.url(), "orders", &["l1"]).await.unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"timeoutMs": 500, "sampleIntervalSec": 0}));
    let table = json!({"refId": "T", "queryType": "ping", "format": "table"});
    let ask = || async {
        // Apart by more than the window in which a finished round is shared.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = p.query(&ds, std::slice::from_ref(&table)).await.unwrap();
        let f = r["T"].frame();
        (table_states(f), f.meta["custom"].clone())
    };
    let known = eventually(Duration::from_secs(20), || async {
        let (states, _) = ask().await;
        states.len() == 2 && states.values().all(|s| s == "up")
    })
    .await;
    assert!(known, "both instances up first");

    // l1 hangs for a round: it is told unresponsive and no longer expected.
    late.set(Script::Silent);
    let (states, custom) = ask().await;
    assert_eq!(states["orders/l1"], "unresponsive", "{custom}");

    // Now l1 answers its targeted ping at once and the broadcast 50 ms later: the round ends
    // complete on f1, asks l1, and l1's broadcast reply comes while the round still listens.
    late.set(Script::LateToAll(50));
    let (states, custom) = ask().await;
    assert_eq!(custom["stop"], "complete", "{custom}");
    assert_eq!(custom["targetedPings"], 1, "{custom}");
    assert_eq!(states["orders/l1"], "up", "{custom}");

    // That reply was l1's first broadcast reply of the round, not a duplicate: the next answer
    // (which tells what earlier rounds skipped late) has no invalid replies.
    let (states, custom) = ask().await;
    assert!(states.values().all(|s| s == "up"), "{states:?}");
    assert_eq!(custom["invalidReplies"], 0, "{custom}");
}
