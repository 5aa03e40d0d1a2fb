//! Fuzz target: any bytes as a `$SRV.PING`/`INFO`/`STATS` reply. Parsing must never panic, and every reply it accepts must be within the documented field bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natsmicro::model::micro::{limits, parse_reply, Verb};

fuzz_target!(|data: &[u8]| {
    for verb in [Verb::Ping, Verb::Info, Verb::Stats] {
        if let Ok(r) = parse_reply(verb, data) {
            assert_eq!(r.kind, verb.response_type());
            assert!(!r.name.is_empty() && r.name.len() <= limits::NAME);
            assert!(!r.id.is_empty() && r.id.len() <= limits::NAME);
            assert!(r.version.len() <= limits::VERSION);
            assert!(r.description.len() <= limits::DESCRIPTION);
            assert!(r.metadata.len() <= limits::METADATA_KEYS);
            assert!(r.endpoints.len() <= limits::ENDPOINTS);
            for e in &r.endpoints {
                assert!(e.name.len() <= limits::ENDPOINT_FIELD);
                assert!(e.subject.len() <= limits::ENDPOINT_FIELD);
                assert!(e.queue_group.len() <= limits::ENDPOINT_FIELD);
                assert!(e.last_error.len() <= limits::LAST_ERROR);
                assert!(e.metadata.len() <= limits::METADATA_KEYS);
                assert!(e.processing_time.is_finite() && e.processing_time >= 0.0);
            }
        }
    }
});
