//! The JetStream store's recovery paths, part of `tests/jetstream.rs` (its helpers come from there): a fresh process starts from the newest checkpoint and answers like the sampler (a broken checkpoint is skipped and counted), a stream that stops allowing rollups keeps older checkpoints (and the health check says so), and a store that starts working is taken up without a restart.

use super::*;

/// The checkpoint subject of the history stream, and how many messages it holds.
async fn checkpoint_messages(js: &async_nats::jetstream::Context) -> (String, usize) {
    let stream = js.get_stream("NATSMICRO_HISTORY").await.unwrap();
    let mut subjects = stream
        .info_with_subjects("NATSMICRO_HISTORY.*.checkpoint")
        .await
        .unwrap();
    subjects.next().await.unwrap().unwrap()
}

/// Points of two answers are the same samples (the history keeps RTTs at 10 µs).
fn same_points(a: &BTreeMap<String, Vec<(i64, Option<f64>)>>, b: &BTreeMap<String, Vec<(i64, Option<f64>)>>) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ia, pa), (ib, pb))| {
            ia == ib
                && pa.len() == pb.len()
                && pa
                    .iter()
                    .zip(pb)
                    .all(|(x, y)| x.0 == y.0 && (x.1.unwrap_or(-1.0) - y.1.unwrap_or(-1.0)).abs() < 0.006)
        })
}

#[tokio::test]
async fn a_fresh_process_starts_from_the_newest_checkpoint_and_answers_like_the_sampler() {
    let nats = NatsServer::with_jetstream("");
    let _orders = orders(&nats).await;
    let _billing = RustService::start(&nats.url(), "billing", "2.0.0", &[("pay", "billing.pay")], 0)
        .await
        .unwrap();
    // 40 rounds back to back: checkpoints come every 16 rounds or more.
    let ds = DataSource::new(&nats.url()).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream", "historyFillRounds": 40
    }));
    let sampler = PluginProcess::start().await.unwrap();
    assert_eq!(sampler.health(&ds).await.unwrap().0, 1);
    assert!(
        sampler.sampling_rounds_reach(40.0).await,
        "the fill rounds did not finish"
    );
    let written = eventually(Duration::from_secs(60), || async {
        checkpoints(&sampler, "written").await >= 2.0
    })
    .await;
    assert!(
        written,
        "no checkpoints written: {}",
        sampler.metrics_text().await.unwrap()
    );
    // A new checkpoint rolls the older ones up: the subject holds the newest only.
    let js = async_nats::jetstream::new(connect(&nats.url()).await.unwrap());
    let (subject, held) = checkpoint_messages(&js).await;
    assert_eq!(held, 1, "{subject} holds {held} messages");

    let (from, to) = (now_ms() - 120_000, now_ms() - 200);
    let fresh = PluginProcess::start().await.unwrap();
    let restored = points(&fresh, &ds, from, to).await;
    assert_eq!(checkpoints(&fresh, "restored").await, 1.0, "{}", fresh.stderr_text());
    let sampled = points(&sampler, &ds, from, to).await;
    assert_eq!(restored.len(), 2, "{restored:?}");
    assert!(restored.values().all(|v| v.len() >= 30), "{restored:?}");
    assert!(
        same_points(&restored, &sampled),
        "restored {restored:?}\nsampler {sampled:?}"
    );

    // A broken checkpoint (nobody writes a newer one: the sampler is gone) is rejected, counted,
    // and the window is read from the rounds: the same answer.
    drop(sampler);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Natsmicro-Checkpoint", "0 1 0");
    js.publish_with_headers(subject.clone(), headers, b"NMK\x01 not a history".to_vec().into())
        .await
        .unwrap()
        .await
        .unwrap();
    let replayed_process = PluginProcess::start().await.unwrap();
    let replayed = points(&replayed_process, &ds, from, to).await;
    assert_eq!(checkpoints(&replayed_process, "rejected").await, 1.0);
    assert_eq!(checkpoints(&replayed_process, "restored").await, 0.0);
    assert!(
        same_points(&replayed, &restored),
        "replayed {replayed:?}\nrestored {restored:?}"
    );
}

#[tokio::test]
async fn jetstream_that_starts_working_is_taken_up_without_a_restart() {
    let denied = "authorization { users: [{user: app, password: secret, permissions: {publish: {allow: [\">\"], deny: [\"$JS.API.>\"]}}}] }\n";
    let mut nats = NatsServer::with_jetstream(denied);
    let _orders = RustService::start(
        &format!("nats://app:secret@127.0.0.1:{}", nats.port),
        "orders",
        "1.0.0",
        &[("get", "orders.get")],
        0,
    )
    .await
    .unwrap();
    let ds = jetstream_ds(&format!("nats://app:secret@127.0.0.1:{}", nats.port)).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream", "timeoutMs": 500
    }));
    let p = PluginProcess::start().await.unwrap();
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 2, "{message}");
    assert!(message.contains("tried again every 5 s"), "{message}");
    // The operator grants the JetStream API (a configuration reload, no restart of anything).
    let store = nats.dir().join("jetstream");
    nats.reload(&format!(
        "jetstream {{ store_dir: \"{}\" }}\nauthorization {{ users: [{{user: app, password: secret}}] }}\n",
        store.display()
    ));
    let last = std::sync::Mutex::new(String::new());
    let taken_up = eventually(Duration::from_secs(40), || {
        let (p, ds, last) = (&p, &ds, &last);
        async move {
            let (status, message) = p.health(ds).await.unwrap();
            let ok = status == 1 && message.contains("History: JetStream stream NATSMICRO_HISTORY");
            *last.lock().unwrap() = message;
            ok
        }
    })
    .await;
    assert!(taken_up, "{}\n{}", last.lock().unwrap(), p.stderr_text());
    rounds_pass(&[&p], 2.0).await;
    let got = points(&p, &ds, now_ms() - 60_000, now_ms()).await;
    assert!(got.values().next().is_some_and(|v| v.len() >= 2), "{got:?}");
}

#[tokio::test]
async fn a_stream_that_stops_allowing_rollups_keeps_older_checkpoints_and_the_health_check_says_so() {
    let nats = NatsServer::with_jetstream("");
    let _orders = orders(&nats).await;
    let ds = DataSource::new(&nats.url()).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream", "historyFillRounds": 40
    }));
    let sampler = PluginProcess::start().await.unwrap();
    let (status, message) = sampler.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(!message.contains("rollups"), "{message}");
    assert!(
        sampler.sampling_rounds_reach(40.0).await,
        "the fill rounds did not finish"
    );
    let rolled = eventually(Duration::from_secs(60), || async {
        checkpoints(&sampler, "written").await >= 2.0
    })
    .await;
    let js = async_nats::jetstream::new(connect(&nats.url()).await.unwrap());
    assert!(rolled, "{}", sampler.metrics_text().await.unwrap());
    assert_eq!(checkpoint_messages(&js).await.1, 1);

    // An operator edits the stream: rollups are no longer allowed. The next checkpoint is
    // refused with its rollup header, written without it, and the older one stays.
    let mut config = js
        .get_stream("NATSMICRO_HISTORY")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .config
        .clone();
    config.allow_rollup = false;
    js.update_stream(&config).await.unwrap();
    let written = checkpoints(&sampler, "written").await;
    let kept = eventually(Duration::from_secs(60), || async {
        checkpoints(&sampler, "written").await > written
    })
    .await;
    assert!(
        kept,
        "{}\n{}",
        sampler.metrics_text().await.unwrap(),
        sampler.stderr_text()
    );
    assert_eq!(checkpoints(&sampler, "write_failed").await, 0.0);
    assert!(checkpoint_messages(&js).await.1 >= 2);
    assert!(
        sampler.stderr_text().contains("does not allow rollups"),
        "{}",
        sampler.stderr_text()
    );

    // A process that opens the stream now is told how it differs, and still starts from the
    // newest checkpoint.
    let fresh = PluginProcess::start().await.unwrap();
    let (status, message) = fresh.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(message.contains("does not allow rollups (AllowRollup)"), "{message}");
    let (from, to) = (now_ms() - 120_000, now_ms() - 2_000);
    let restored = points(&fresh, &ds, from, to).await;
    assert_eq!(checkpoints(&fresh, "restored").await, 1.0, "{}", fresh.stderr_text());
    let sampled = points(&sampler, &ds, from, to).await;
    assert!(restored.values().all(|v| v.len() >= 30), "{restored:?}");
    assert!(
        same_points(&restored, &sampled),
        "restored {restored:?}\nsampler {sampled:?}"
    );
}
