//! What a `request` query or a probe may send to NATS: the subjects no query may reach (the plugin's own and the server's), and the header names and values NATS accepts.
//!
//! One process serves every org, and anything a Viewer types ends up here: a request to the
//! history stream with `Nats-Rollup: all` would erase every org's history, and a header name
//! NATS does not accept would fail the whole call inside the client. Both are refused before
//! anything is built, with a message that says why.

/// Subjects that are never reachable by a request or a probe, whatever `requestSubjects`
/// allows: JetStream's and the KV and object stores' APIs, the system account, micro discovery
/// (answered by the plugin's own rounds), RAFT, and the default inboxes. The history stream's
/// subjects, the configured `srvPrefix` and `inboxPrefix` come on top ([`reserved_patterns`]).
pub const ALWAYS_RESERVED: [&str; 8] = [
    "$JS.>", "$JSC.>", "$KV.>", "$O.>", "$SYS.>", "$SRV.>", "$NRG.>", "_INBOX.>",
];

/// Longest header name and value a request or probe may carry, bytes.
pub const MAX_HEADER_NAME: usize = 256;
pub const MAX_HEADER_VALUE: usize = 8192;
/// Most headers one request or probe may carry.
pub const MAX_HEADERS: usize = 64;

/// Every reserved pattern of a data source: [`ALWAYS_RESERVED`], the history stream's subjects,
/// its `srvPrefix` and its inbox prefix.
pub fn reserved_patterns(history_stream: &str, srv_prefix: &str, inbox_prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = ALWAYS_RESERVED.iter().map(|s| s.to_string()).collect();
    for own in [history_stream, srv_prefix, inbox_prefix] {
        let p = format!("{own}.>");
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The reserved pattern that `subject` falls under, if any.
pub fn reserved_by<'a>(subject: &str, reserved: &'a [String]) -> Option<&'a str> {
    reserved
        .iter()
        .find(|p| subject_matches(p, subject))
        .map(String::as_str)
}

/// NATS subject matching with `*` (one token) and `>` (one or more trailing tokens).
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some subject matches both patterns (`*` one token, `>` one or more trailing tokens).
pub fn overlaps(a: &str, b: &str) -> bool {
    let mut a = a.split('.');
    let mut b = b.split('.');
    loop {
        match (a.next(), b.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(x), Some(y)) if x == "*" || y == "*" || x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Why a header cannot be sent: NATS accepts names of visible ASCII without `:`, and values
/// without CR or LF; names starting `Nats-` are the server's and JetStream's (`Nats-Rollup` purges
/// a stream, `Nats-Expected-*` and `Nats-Msg-Id` steer its writes) and are refused.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_HEADER_NAME {
        return Err(format!("a header name must have 1 to {MAX_HEADER_NAME} characters"));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_graphic() || *c == ':') {
        let what = if c.is_ascii_graphic() || c == ' ' {
            format!("'{c}'")
        } else {
            format!("U+{:04X}", u32::from(c))
        };
        return Err(format!(
            "header name {} holds {what}: NATS header names are visible ASCII characters without ':' or spaces",
            shown(name)
        ));
    }
    if name.len() >= 5 && name[..5].eq_ignore_ascii_case("nats-") {
        return Err(format!(
            "header {name} is reserved: names starting with Nats- steer the NATS server and JetStream and cannot be sent by a query or probe"
        ));
    }
    if value.contains(['\r', '\n']) {
        return Err(format!(
            "header {name} has a line break inside its value: NATS header values are one line"
        ));
    }
    if value.len() > MAX_HEADER_VALUE {
        return Err(format!("header {name} has a value over {MAX_HEADER_VALUE} bytes"));
    }
    Ok(())
}

/// A header value as it is sent: trailing line breaks dropped (a YAML block value ends with
/// one); a line break inside the value is refused by [`check_header`].
pub fn header_value(value: &str) -> &str {
    value.trim_end_matches(['\r', '\n'])
}

/// A name as it may be shown: quoted when short and printable, else by its length.
fn shown(name: &str) -> String {
    if name.len() <= 64 && !name.chars().any(char::is_control) {
        format!("'{name}'")
    } else {
        format!("({} bytes)", name.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved() -> Vec<String> {
        reserved_patterns("NATSMICRO_HISTORY", "$SRV", "_INBOX_grafana")
    }

    #[test]
    fn own_and_system_subjects_are_reserved_and_others_are_not() {
        let r = reserved();
        for s in [
            "NATSMICRO_HISTORY.0123456789abcdef.ping",
            "$KV.NATSMICRO_HISTORY_LEASE.x",
            "$JS.API.STREAM.PURGE.NATSMICRO_HISTORY",
            "$SYS.REQ.SERVER.PING",
            "$SRV.PING",
            "_INBOX.abc",
            "_INBOX_grafana.abc.def",
            "$O.bucket.x",
        ] {
            assert!(reserved_by(s, &r).is_some(), "{s}");
        }
        for s in [
            "orders.get",
            "NATSMICRO_HISTORYX.a",
            "$SRVX.PING",
            "_INBOXES.a",
            "SRV.PING",
        ] {
            assert_eq!(reserved_by(s, &r), None, "{s}");
        }
    }

    #[test]
    fn patterns_overlap_when_one_subject_matches_both() {
        assert!(overlaps(">", "$JS.>"));
        assert!(overlaps("*.>", "$SYS.>"));
        assert!(!overlaps("$*.>", "$SYS.>"), "'$*' is a literal token");
        assert!(overlaps("*.API.*", "$JS.>"));
        assert!(overlaps("a.b", "a.*"));
        assert!(!overlaps("orders.>", "$JS.>"));
        assert!(!overlaps("a", "a.>"));
        assert!(!overlaps("a.b.c", "a.*"));
        assert!(overlaps("*", "*"));
    }

    #[test]
    fn header_names_and_values_follow_what_nats_accepts() {
        assert!(check_header("X-Trace", "1").is_ok());
        assert!(check_header("é", "1").unwrap_err().contains("U+00E9"));
        assert!(check_header("X A", "1").unwrap_err().contains("' '"));
        assert!(check_header("X:A", "1").is_err());
        assert!(check_header("", "1").is_err());
        assert!(check_header("X", "a\r\nb").unwrap_err().contains("line break"));
        assert!(check_header("X", "a\n").is_err());
        assert_eq!(header_value("token\n"), "token");
        assert_eq!(header_value("a\r\nb\r\n"), "a\r\nb");
        assert!(check_header("Nats-Rollup", "all").unwrap_err().contains("reserved"));
        assert!(check_header("nats-expected-stream", "x").is_err());
        assert!(check_header("X", &"v".repeat(MAX_HEADER_VALUE + 1)).is_err());
        // Whatever this rule accepts, async-nats accepts without panicking.
        for (n, v) in [("X-Trace", "1"), ("a!#$%&'*+-.^_`|~", "ü ok\t")] {
            check_header(n, v).unwrap();
            let mut map = async_nats::HeaderMap::new();
            map.append(n, v);
        }
    }
}
