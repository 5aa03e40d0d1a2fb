//! A panic stays where it happened (debug builds of the plugin panic on demand at the points `NATSMICRO_PANIC_AT` names): in a query it answers that refId with an internal error and leaves the call and the process alone; in the sampler it is counted and the sampler starts again, and with the JetStream store another process samples meanwhile.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

async fn panics(p: &PluginProcess, at: &str) -> f64 {
    let text = p.metrics_text().await.unwrap();
    metric(&text, &format!("natsmicro_panics_total{{at=\"{at}\"}}")).unwrap_or(0.0)
}

#[tokio::test]
async fn a_panic_while_answering_one_refid_answers_only_that_refid_with_an_internal_error() {
    let env = TestEnv::builder()
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .plugin_env("NATSMICRO_PANIC_AT", "query:B")
        .start()
        .await
        .unwrap();
    let (ds, p) = (env.ds(json!({})), &env.plugin);
    let ping = |ref_id: &str| json!({"refId": ref_id, "queryType": "ping", "format": "table"});
    for _ in 0..2 {
        let r = p.query(&ds, &[ping("A"), ping("B"), ping("C")]).await.unwrap();
        assert!(r["B"].error.contains("internal error"), "{}", r["B"].error);
        for ok in ["A", "C"] {
            assert!(r[ok].error.is_empty(), "{}", r[ok].error);
            assert_eq!(r[ok].frame().strings("service"), vec!["orders"]);
        }
    }
    assert_eq!(panics(p, "query").await, 2.0);
    assert!(p.serving().await);
    // Another data source of the same process is untouched.
    let other = env.ds(json!({"timeoutMs": 1500}));
    let r = p.query(&other, &[ping("A")]).await.unwrap();
    assert!(r["A"].error.is_empty(), "{}", r["A"].error);
}

#[tokio::test]
async fn a_sampler_that_panicked_starts_again_and_the_history_goes_on() {
    let env = TestEnv::builder()
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .plugin_env("NATSMICRO_PANIC_AT", "sampler@2")
        .start()
        .await
        .unwrap();
    let (ds, p) = (env.ds(json!({"sampleIntervalSec": 1})), &env.plugin);
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    assert!(
        p.sampling_rounds_reach(3.0).await,
        "the sampler goes on after its panics"
    );
    assert_eq!(panics(p, "sampler").await, 2.0);
    let points: usize = p.ping_points(&ds, 60).await.values().sum();
    assert!(points >= 3, "{points}");
    assert!(p.serving().await);
}

#[tokio::test]
async fn a_holder_whose_sampler_panics_gives_up_the_lease_and_another_process_samples() {
    let env = TestEnv::builder()
        .jetstream()
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .plugin_env("NATSMICRO_PANIC_AT", "sampler")
        .start()
        .await
        .unwrap();
    let (ds, broken) = (env.jetstream_ds(), &env.plugin);
    let (status, message) = broken.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(
        message.contains("sampled by this plugin process"),
        "it took the lease: {message}"
    );
    let healthy = PluginProcess::start().await.unwrap();
    assert_eq!(healthy.health(&ds).await.unwrap().0, 1);
    assert!(healthy.sampling_rounds_reach(3.0).await, "the other process took over");
    assert!(panics(broken, "sampler").await >= 1.0);
    let (_, message) = healthy.health(&ds).await.unwrap();
    assert!(message.contains("sampled by this plugin process"), "{message}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let points: usize = broken.ping_points(&ds, 60).await.values().sum();
    assert!(
        points >= 3,
        "both processes read the history the other one samples: {points}"
    );
}
