//! The reply header blocks recorded from every implementation (`tests/fixtures/replies/*_headers.txt`), replayed on a real nats-server to the plugin: a service error becomes that query's error with its code and text, every other reply a frame.

mod support;

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use support::*;

/// One recorded reply: what was asked, its header block (`None`: no headers) and its body.
struct Recorded {
    what: String,
    headers: Option<String>,
    body: Option<String>,
}

fn recorded(file: &str) -> Vec<Recorded> {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/replies").join(file)).unwrap();
    let mut out: Vec<Recorded> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(h) = line.strip_prefix("  headers: ") {
            let v: Value = serde_json::from_str(h).unwrap();
            out.last_mut().unwrap().headers = v.as_str().map(str::to_string);
        } else if let Some(b) = line.strip_prefix("  body: ") {
            let v: Value = serde_json::from_str(b).unwrap();
            out.last_mut().unwrap().body = v.as_str().map(str::to_string);
        } else if !line.trim().is_empty() {
            out.push(Recorded {
                what: line.to_string(),
                headers: None,
                body: None,
            });
        }
    }
    out
}

/// A header block as on the wire (`NATS/1.0[ status]\r\nName: value\r\n…`) as async-nats headers.
fn header_map(block: &str) -> async_nats::HeaderMap {
    let mut h = async_nats::HeaderMap::new();
    for line in block.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        h.insert(name.trim(), value.trim());
    }
    h
}

#[tokio::test]
async fn recorded_endpoint_replies_of_every_implementation_reach_the_query_as_recorded() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let ds = DataSource::new(&nats.url()).json(json!({"requestSubjects": ["replay.>"], "timeoutMs": 2000}));
    let replayer = connect(&nats.url()).await.unwrap();
    let mut checked = 0;
    for implementation in ["python", "rust", "js"] {
        let endpoint_replies: Vec<Recorded> = recorded(&format!("{implementation}_headers.txt"))
            .into_iter()
            .filter(|r| r.what.starts_with("endpoint "))
            .collect();
        assert!(
            endpoint_replies.len() >= 3,
            "{implementation}: {} endpoint replies",
            endpoint_replies.len()
        );
        for (i, r) in endpoint_replies.iter().enumerate() {
            let subject = format!("replay.{implementation}.{i}");
            let mut sub = replayer.subscribe(subject.clone()).await.unwrap();
            server_round_trip(&replayer).await;
            let (client, headers, body) = (replayer.clone(), r.headers.clone(), r.body.clone().unwrap_or_default());
            let answer = tokio::spawn(async move {
                let msg = sub.next().await.unwrap();
                let reply = msg.reply.unwrap();
                match headers {
                    Some(block) => {
                        client
                            .publish_with_headers(reply, header_map(&block), body.into())
                            .await
                    }
                    None => client.publish(reply, body.into()).await,
                }
                .unwrap();
                client.flush().await.unwrap();
            });
            let q = [json!({"refId": "A", "queryType": "request", "subject": subject})];
            let resp = tokio::time::timeout(Duration::from_secs(10), p.query(&ds, &q))
                .await
                .unwrap()
                .unwrap();
            answer.await.unwrap();
            let error = &resp["A"].error;
            match r.headers.as_deref().filter(|b| b.contains("Nats-Service-Error:")) {
                Some(block) => {
                    let h = header_map(block);
                    let code = h.get("Nats-Service-Error-Code").unwrap().as_str();
                    let text = h.get("Nats-Service-Error").unwrap().as_str();
                    assert!(
                        error.contains(&format!("error {code}: {text}")),
                        "{implementation} {}: {error:?}",
                        r.what
                    );
                }
                None => {
                    assert!(error.is_empty(), "{implementation} {}: {error}", r.what);
                    assert_eq!(resp["A"].frames.len(), 1);
                }
            }
            checked += 1;
        }
    }
    eprintln!("{checked} recorded endpoint replies replayed");
}

/// Answer the first request on `subject` with `block` (a header block exactly as recorded, status
/// line included) over a raw NATS protocol connection: a client library would not send a status.
async fn replay_raw(url: &str, subject: &str, block: String) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let addr = url.trim_start_matches("nats://").to_string();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let info = lines.next_line().await.unwrap().unwrap();
    assert!(info.starts_with("INFO "), "{info}");
    let hello = format!("CONNECT {{\"verbose\":false,\"headers\":true,\"protocol\":1}}\r\nSUB {subject} 1\r\nPING\r\n");
    write.write_all(hello.as_bytes()).await.unwrap();
    while lines.next_line().await.unwrap().unwrap() != "PONG" {}
    tokio::spawn(async move {
        loop {
            let line = lines.next_line().await.unwrap().unwrap();
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.first() {
                Some(&"PING") => write.write_all(b"PONG\r\n").await.unwrap(),
                Some(&"MSG") | Some(&"HMSG") => {
                    // MSG <subject> <sid> <reply> <bytes>: skip the payload line, answer on <reply>.
                    let _ = lines.next_line().await;
                    let reply = parts[3];
                    let out = format!("HPUB {reply} {n} {n}\r\n{block}\r\n", n = block.len());
                    write.write_all(out.as_bytes()).await.unwrap();
                    write.flush().await.unwrap();
                    return;
                }
                _ => {}
            }
        }
    })
}

#[tokio::test]
async fn the_server_s_recorded_no_responders_status_is_a_clear_query_error() {
    let r = recorded("server_noresponders_headers.txt");
    assert_eq!(r.len(), 1);
    let block = r[0].headers.clone().unwrap();
    assert!(block.starts_with("NATS/1.0 503\r\n"), "{block:?}");
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let ds = DataSource::new(&nats.url()).json(json!({"requestSubjects": ["replay.>"], "timeoutMs": 2000}));
    let answer = replay_raw(&nats.url(), "replay.status", block).await;
    let q = [json!({"refId": "A", "queryType": "request", "subject": "replay.status"})];
    let resp = p.query(&ds, &q).await.unwrap();
    answer.await.unwrap();
    // Not a timeout: the status says nobody listens, and the error says so.
    assert!(
        resp["A"].error.contains("no service listens on replay.status"),
        "{}",
        resp["A"].error
    );
}
