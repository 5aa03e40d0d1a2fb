//! Fuzz target: any bytes as the replies of an INFO and a STATS round (one reply per line) and as a `request` reply, turned into every table and instant frame and encoded as Arrow. Nothing may panic, and every frame stays within the answer budget.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use natsmicro::model::answer::meta::{MAX_CELLS, MAX_REQUEST_COLUMNS, MAX_ROWS};
use natsmicro::model::answer::{info, ping, request, stats};
use natsmicro::model::micro::{parse_reply, Scope, Verb};
use natsmicro::model::observed::{Reply, RequestReply, Round, StopReason};
use natsmicro::model::query::Query;

fn round(verb: Verb, data: &[u8]) -> Round {
    let now = chrono::Utc::now();
    Round {
        verb,
        scope: Scope::all(),
        subject: format!("$SRV.{}", verb.token()),
        started: now,
        replies: data
            .split(|b| *b == b'\n')
            .filter_map(|b| parse_reply(verb, b).ok())
            .map(|reply| Reply {
                reply,
                rtt: Duration::from_millis(1),
                received: now,
            })
            .collect(),
        invalid: 0,
        oversized: 0,
        bytes: data.len() as u64,
        limited: Default::default(),
        late_cut_short: false,
        stop: StopReason::Stall,
        elapsed: Duration::from_millis(1),
        last_reply: None,
        down: Vec::new(),
        slow_ms: 1000.0,
        targeted: 0,
        unasked: 0,
        held: Default::default(),
    }
}

fn query(json: &str) -> Query {
    let v: serde_json::Value = serde_json::from_str(json).expect("a fixed query");
    let kind = v["queryType"].as_str().unwrap_or_default().to_string();
    Query::parse("A", &kind, json.as_bytes()).expect("a fixed query")
}

/// The queries every input is answered for, parsed once.
fn queries() -> &'static [Query; 5] {
    static QUERIES: std::sync::OnceLock<[Query; 5]> = std::sync::OnceLock::new();
    QUERIES.get_or_init(|| {
        [
            r#"{"queryType":"request","subject":"a.b"}"#,
            r#"{"queryType":"info"}"#,
            r#"{"queryType":"stats","format":"table"}"#,
            r#"{"queryType":"stats","format":"instant","metric":"error_ratio"}"#,
            r#"{"queryType":"ping","format":"table"}"#,
        ]
        .map(query)
    })
}

fn bounded(frame: &natsmicro::model::frames::Frame) {
    assert!(frame.rows() <= MAX_ROWS);
    assert!(frame.rows() * frame.fields.len() <= MAX_CELLS);
    frame.to_arrow().expect("a frame that encodes");
}

fuzz_target!(|data: &[u8]| {
    let reply = RequestReply {
        payload: bytes::Bytes::copy_from_slice(data),
        headers: Vec::new(),
        rtt: Duration::from_millis(1),
    };
    let [request, info_q, stats_table, stats_instant, ping_q] = queries();
    let f = request::table(request, &reply);
    assert!(f.fields.len() <= MAX_REQUEST_COLUMNS + 1);
    bounded(&f);
    let info = round(Verb::Info, data);
    bounded(&info::table(info_q, &info));
    let stats = round(Verb::Stats, data);
    bounded(&stats::instant(stats_table, &stats));
    bounded(&stats::instant(stats_instant, &stats));
    let ping = round(Verb::Ping, data);
    bounded(&ping::instant(ping_q, &ping));
});
