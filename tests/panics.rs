//! A panic stays where it happened (debug builds of the plugin panic on demand at the points `NATSMICRO_PANIC_AT` names): in a query it answers that refId with an internal error and leaves the call and the process alone; in the sampler it is counted and the sampler starts again, and with the JetStream store another process samples meanwhile.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

fn alive(p: &mut PluginProcess) -> bool {
    matches!(p.child.try_wait(), Ok(None))
}

async fn panics(p: &PluginProcess, at: &str) -> f64 {
    let text = p.metrics_text().await.unwrap();
    metric(&text, &format!("natsmicro_panics_total{{at=\"{at}\"}}")).unwrap_or(0.0)
}

#[tokio::test]
async fn a_panic_while_answering_one_refid_answers_only_that_refid_with_an_internal_error() {
    let env = TestEnv::orders().await;
    let ds = env.ds(json!({}));
    let mut p = PluginProcess::start_with_env(&[("NATSMICRO_PANIC_AT", "query:B")])
        .await
        .unwrap();
    let ping = |ref_id: &str| json!({"refId": ref_id, "queryType": "ping", "format": "table"});
    for _ in 0..2 {
        let r = p.query(&ds, &[ping("A"), ping("B"), ping("C")]).await.unwrap();
        assert!(r["B"].error.contains("internal error"), "{}", r["B"].error);
        for ok in ["A", "C"] {
            assert!(r[ok].error.is_empty(), "{}", r[ok].error);
            assert_eq!(r[ok].frame().strings("service"), vec!["orders"]);
        }
    }
    assert_eq!(panics(&p, "query").await, 2.0);
    assert!(alive(&mut p));
    // Another data source of the same process is untouched.
    let other = env.ds(json!({"timeoutMs": 1500}));
    let r = p.query(&other, &[ping("A")]).await.unwrap();
    assert!(r["A"].error.is_empty(), "{}", r["A"].error);
}

#[tokio::test]
async fn a_sampler_that_panicked_starts_again_and_the_history_goes_on() {
    let env = TestEnv::orders().await;
    let ds = env.ds(json!({"sampleIntervalSec": 1}));
    let mut p = PluginProcess::start_with_env(&[("NATSMICRO_PANIC_AT", "sampler@2")])
        .await
        .unwrap();
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    assert!(
        p.sampling_rounds_reach(3.0).await,
        "the sampler goes on after its panics"
    );
    assert_eq!(panics(&p, "sampler").await, 2.0);
    let now = chrono::Utc::now().timestamp_millis();
    let r = p
        .query_window(
            &ds,
            &[json!({"refId": "A", "queryType": "ping", "format": "timeseries", "metric": "up"})],
            (now - 60_000, now),
            1_000_000,
            1000,
        )
        .await
        .unwrap();
    let points: usize = r["A"].frames.iter().map(|f| f.rows()).sum();
    assert!(points >= 3, "{points}");
    assert!(alive(&mut p));
}

#[tokio::test]
async fn a_holder_whose_sampler_panics_gives_up_the_lease_and_another_process_samples() {
    let nats = NatsServer::with_jetstream("");
    let _orders = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let ds = DataSource::new(&nats.url())
        .json(json!({"sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream"}));
    let broken = PluginProcess::start_with_env(&[("NATSMICRO_PANIC_AT", "sampler")])
        .await
        .unwrap();
    let (status, message) = broken.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(
        message.contains("sampled by this plugin process"),
        "it took the lease: {message}"
    );
    let healthy = PluginProcess::start().await.unwrap();
    assert_eq!(healthy.health(&ds).await.unwrap().0, 1);
    assert!(healthy.sampling_rounds_reach(3.0).await, "the other process took over");
    assert!(panics(&broken, "sampler").await >= 1.0);
    let (_, message) = healthy.health(&ds).await.unwrap();
    assert!(message.contains("sampled by this plugin process"), "{message}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = chrono::Utc::now().timestamp_millis();
    let r = broken
        .query_window(
            &ds,
            &[json!({"refId": "A", "queryType": "ping", "format": "timeseries", "metric": "up"})],
            (now - 60_000, now),
            1_000_000,
            1000,
        )
        .await
        .unwrap();
    let points: usize = r["A"].frames.iter().map(|f| f.rows()).sum();
    assert!(
        points >= 3,
        "both processes read the history the other one samples: {points}"
    );
}
