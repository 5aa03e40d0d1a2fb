//! `slo` end to end: real nats-server, Rust and Python micro services, the plugin's sampler and QueryData over gRPC. An instance stops: uptime against a quorum, reachability and the error budget move, instant and over time; bad keys fail their refId only.

mod support;

use serde_json::{json, Value};
use support::*;

fn one(resp: &Response, service: &str, metric: &str) -> f64 {
    let f = resp.frame();
    let row = f
        .strings("service")
        .iter()
        .position(|s| s == service)
        .expect("the service's row");
    f.numbers(metric)[row].expect("a value")
}

#[tokio::test]
async fn slo_measures_uptime_reachability_and_budget_when_an_instance_stops() {
    let mut env = TestEnv::builder()
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .python("billing", "2.0.0", 1, &[])
        .start()
        .await
        .unwrap();
    let ds = env.ds(json!({"sampleIntervalSec": 1}));
    let p = &env.plugin;
    let started = chrono::Utc::now().timestamp_millis();
    p.query(&ds, &[json!({"refId": "A", "queryType": "ping"})])
        .await
        .unwrap();
    let rounds = p.sampling_rounds().await;
    assert!(
        p.sampling_rounds_reach(rounds + 3.0).await,
        "rounds with both orders instances"
    );
    let stopped = env.rust.remove(1);
    stopped.stop().await;
    let rounds = p.sampling_rounds().await;
    assert!(
        p.sampling_rounds_reach(rounds + 3.0).await,
        "rounds with one orders instance"
    );
    let p = &env.plugin;

    let now = chrono::Utc::now().timestamp_millis();
    let slo = |ref_id: &str, extra: Value| {
        let mut q = json!({"refId": ref_id, "queryType": "slo"});
        q.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        q
    };
    let r = p
        .query_window(
            &ds,
            &[
                slo("U1", json!({})),
                slo("U2", json!({"minInstances": 2})),
                slo("R", json!({"metric": "reachability"})),
                slo(
                    "B",
                    json!({"metric": "budget_remaining", "minInstances": 2, "objective": 0.999}),
                ),
                slo(
                    "T",
                    json!({"format": "timeseries", "minInstances": 2, "service": "orders"}),
                ),
                slo("bad", json!({"objective": 1.5})),
                slo("inst", json!({"instance": "abc"})),
            ],
            (started - 1000, now),
            1000,
            1000,
        )
        .await
        .unwrap();
    assert_eq!(r["U1"].frame().meta["type"], "numeric-long");
    assert_eq!(
        one(&r["U1"], "orders", "uptime"),
        1.0,
        "one orders instance was always up"
    );
    assert_eq!(one(&r["U1"], "billing", "uptime"), 1.0);
    let quorum = one(&r["U2"], "orders", "uptime");
    assert!(
        quorum > 0.0 && quorum < 1.0,
        "rounds below a quorum of 2 after the stop: {quorum}"
    );
    let reach = one(&r["R"], "orders", "reachability");
    assert!(
        reach > 0.5 && reach < 1.0,
        "the stopped instance stays expected: {reach}"
    );
    assert_eq!(one(&r["R"], "billing", "reachability"), 1.0);
    let budget = one(&r["B"], "orders", "budget_remaining");
    assert!(budget < 0.0, "a 99.9 % objective cannot afford those rounds: {budget}");
    assert!(
        (budget - (1.0 - (1.0 - quorum) / 0.001)).abs() < 1e-9,
        "{budget} from uptime {quorum}"
    );

    // Over time: one series for orders, up to the stop 1, then falling in the rolling window.
    let frames = &r["T"].frames;
    assert!(alertable_timeseries(frames), "{frames:?}");
    assert_eq!(frames.len(), 1);
    let field = frames[0].numeric_fields()[0];
    assert_eq!(field.labels.as_ref().unwrap()["service"], "orders");
    let values: Vec<f64> = field.values.iter().filter_map(Value::as_f64).collect();
    assert_eq!(values.first(), Some(&1.0), "{values:?}");
    assert!(*values.last().unwrap() < 1.0, "{values:?}");

    for (id, says) in [
        ("bad", "objective must be a number between 0 and 1"),
        ("inst", "leave instance empty"),
    ] {
        assert_eq!(r[id].status, 400, "{id}: {:?}", r[id]);
        assert!(r[id].error.contains(says), "{id}: {}", r[id].error);
    }
}
