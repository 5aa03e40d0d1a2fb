//! Forged checkpoints in the shared history: one that claims to stand past the end of the stream is not restored, and a fresh process reads the window from the rounds instead.

use super::*;
use natsmicro::model::history::checkpoint::Mark;
use natsmicro::model::history::wire::Kind;
use natsmicro::model::history::History;

#[tokio::test]
async fn a_checkpoint_that_claims_to_stand_past_the_end_of_the_stream_is_not_restored() {
    let env = TestEnv::jetstream_orders().await;
    let (ds, p) = (env.jetstream_ds(), &env.plugin);
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    let peer = connect(&env.nats.url()).await.unwrap();
    let prefix = target_prefix(&peer).await;
    assert!(p.sampling_rounds_reach(3.0).await);
    // A whole history of one made-up instance, standing at a sequence far past the stream's end.
    let mut forged = History::new(300_000, 1 << 20);
    let t = now_ms();
    forged.ingest_ping(
        t,
        &[PingSample {
            service: "ghost".to_string(),
            id: "forged".to_string(),
            version: "6.6.6".to_string(),
            rtt_ms: Some(1.0),
            state: State::Up,
        }],
    );
    let body = forged.checkpoint(&Mark {
        sequence: 1 << 40,
        latest: vec![(Kind::Ping, t)],
        retention_ms: 300_000,
    });
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Natsmicro-Checkpoint", "0 1 0");
    let js = async_nats::jetstream::new(peer.clone());
    js.publish_with_headers(format!("{prefix}.checkpoint"), headers, body.into())
        .await
        .unwrap()
        .await
        .unwrap();

    let fresh = PluginProcess::start().await.unwrap();
    let before = &fresh.ping_points(&ds, 120).await;
    assert!(!before.contains_key("forged"), "{before:?}");
    assert!(
        before.values().sum::<usize>() >= 3,
        "the window is read from the rounds: {before:?}"
    );
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 2.0).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = &fresh.ping_points(&ds, 120).await;
    assert!(
        after.values().sum::<usize>() >= before.values().sum::<usize>() + 2,
        "new rounds are read: {before:?} → {after:?}"
    );
}
