//! Fuzz target: any bytes as a stored query (the first byte picks the query type), as data source settings, and as a Live channel path. Parsing must never panic, errors must carry the refId, and a path that decodes must encode back to itself.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use natsmicro::model::channel::StreamSpec;
use natsmicro::model::query::Query;
use natsmicro::model::settings::{RawSettings, Settings};

const TYPES: [&str; 8] = ["", "ping", "services", "info", "stats", "request", "events", "slo"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let query_type = TYPES[usize::from(pick) % TYPES.len()];
    match Query::parse("A", query_type, rest) {
        Ok(q) => assert_eq!(q.ref_id, "A"),
        Err(e) => assert_eq!(e.ref_id, "A"),
    }
    let secure = HashMap::from([("password".to_string(), "fuzz-secret-value".to_string())]);
    let url = std::str::from_utf8(&rest[..rest.len().min(64)]).unwrap_or("nats://127.0.0.1:4222");
    if let Err(e) = Settings::parse(RawSettings { url, json_data: rest, secure: &secure }) {
        assert!(!e.to_string().contains("fuzz-secret-value"));
    }
    if let Ok(path) = std::str::from_utf8(rest) {
        if let Ok(spec) = StreamSpec::from_path(path) {
            assert_eq!(spec.path(), path);
        }
    }
});
