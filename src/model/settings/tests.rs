//! Unit tests of settings parsing: defaults, every error message, secrets never shown.
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

use super::*;

fn parse(url: &str, json: &str, secure: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let secure: HashMap<String, String> = secure.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::parse(RawSettings {
        url,
        json_data: json.as_bytes(),
        secure: &secure,
    })
}

#[test]
fn defaults_follow_the_spec() {
    let s = parse("localhost", "", &[]).unwrap();
    assert_eq!(s.servers[0].address, "nats://localhost:4222");
    assert_eq!(s.auth, Auth::None);
    assert_eq!(s.srv_prefix, "$SRV");
    assert_eq!(s.inbox_prefix, "_INBOX");
    assert_eq!(s.timeout, Duration::from_millis(2000));
    assert_eq!(s.sample_interval, Some(Duration::from_secs(15)));
    assert_eq!(s.retention, Duration::from_secs(3600));
    assert!(s.request_subjects.is_empty());
    assert!(!s.request_allowed("anything"));
    assert_eq!(s.history_fill_rounds, 0);
}

#[test]
fn hidden_measurement_keys_are_range_checked() {
    let s = parse(
        "localhost",
        r#"{"historyFillRounds":700,"historyBudgetBytes":4096}"#,
        &[],
    )
    .unwrap();
    assert_eq!((s.history_fill_rounds, s.history_budget), (700, 4096));
    assert_eq!(s.max_round_bytes, DEFAULT_MAX_ROUND_BYTES as usize);
    let s = parse("localhost", r#"{"maxRoundBytes":"1048576"}"#, &[]).unwrap();
    assert_eq!(s.max_round_bytes, 1 << 20);
    for bad in ["1000", "2000000000"] {
        let e = parse("localhost", &format!(r#"{{"maxRoundBytes":{bad}}}"#), &[]).unwrap_err();
        assert!(e.0.contains(&format!("maxRoundBytes is {bad}")), "{e}");
    }
    let e = parse("localhost", r#"{"historyFillRounds":100001}"#, &[]).unwrap_err();
    assert!(e.0.contains("historyFillRounds is 100001: use 0 to 100000"), "{e}");
    let e = parse("localhost", r#"{"historyBudgetBytes":10}"#, &[]).unwrap_err();
    assert!(e.0.contains("historyBudgetBytes is 10"), "{e}");
}

#[test]
fn comma_separated_urls_with_schemes() {
    let s = parse(" nats://a:4222, tls://b:4443 ,ws://c:8080/ws,wss://d", "{}", &[]).unwrap();
    let addrs: Vec<_> = s.servers.iter().map(|s| (s.address.as_str(), s.tls)).collect();
    assert_eq!(
        addrs,
        vec![
            ("nats://a:4222", false),
            ("tls://b:4443", true),
            ("ws://c:8080/ws", false),
            ("wss://d:443", true)
        ]
    );
    assert!(parse("http://x", "{}", &[]).unwrap_err().0.contains("scheme 'http'"));
    assert!(parse(" , ", "{}", &[]).unwrap_err().0.starts_with("url is empty"));
}

#[test]
fn credentials_in_urls_are_taken_out_and_never_echoed() {
    let s = parse("nats://alice:s%40cret@h1:4222,nats://alice:s%40cret@h2", "{}", &[]).unwrap();
    assert_eq!(s.servers_display(), "nats://h1:4222, nats://h2:4222");
    assert_eq!(
        s.url_credentials,
        Some(UrlCredentials::UserPass {
            username: "alice".into(),
            password: Secret::new("s@cret")
        })
    );
    let t = parse("nats://tok123@h1", "{}", &[]).unwrap();
    assert_eq!(t.url_credentials, Some(UrlCredentials::Token(Secret::new("tok123"))));
    let e = parse("nats://a:pw1@h1,nats://a:pw2@h2", "{}", &[]).unwrap_err();
    assert!(!e.0.contains("pw1") && !e.0.contains("pw2"), "{e}");
    let e = parse("nats://a:pw1@[bad", "{}", &[]).unwrap_err();
    assert!(!e.0.contains("pw1"), "{e}");
    let e = parse("nats://a:pw1@h1", r#"{"authType":"token"}"#, &[("token", "t")]).unwrap_err();
    assert!(e.0.contains("keep only one"), "{e}");
    assert!(!format!("{s:?}").contains("s@cret"));
}

#[test]
fn auth_types_need_their_fields() {
    let cases = [
        (r#"{"authType":"userpass"}"#, vec![], "no username"),
        (r#"{"authType":"userpass","username":"u"}"#, vec![], "no password"),
        (r#"{"authType":"token"}"#, vec![], "no token"),
        (
            r#"{"authType":"nkey"}"#,
            vec![],
            "authType is nkey but no nkeySeed is set",
        ),
        (
            r#"{"authType":"nkey"}"#,
            vec![("nkeySeed", "SUnotaseed")],
            "not a valid NKey",
        ),
        (r#"{"authType":"creds"}"#, vec![], "no credentials"),
        (
            r#"{"authType":"creds"}"#,
            vec![("credentials", "junk")],
            "not the text of a .creds",
        ),
        (r#"{"authType":"kerberos"}"#, vec![], "'kerberos' is not one of"),
    ];
    for (json, secure, want) in cases {
        let e = parse("h", json, &secure).unwrap_err();
        assert!(e.0.contains(want), "{json}: {e}");
    }
    let s = parse("h", r#"{"authType":"userpass","username":"u"}"#, &[("password", "pw")]).unwrap();
    assert_eq!(s.auth.kind(), "userpass");
    assert!(!format!("{s:?}").contains("pw\""));
    let seed = nkeys::KeyPair::new_user().seed().unwrap();
    let s = parse("h", r#"{"authType":"nkey"}"#, &[("nkeySeed", &seed)]).unwrap();
    assert!(matches!(s.auth, Auth::NKey(_)));
    assert!(!format!("{s:?}").contains(&seed));
}

#[test]
fn tls_switches_need_pem_text() {
    let e = parse("tls://h", r#"{"tlsAuth":true}"#, &[]).unwrap_err();
    assert!(e.0.contains("tlsClientCert is empty"));
    let e = parse("tls://h", r#"{"tlsAuthWithCACert":true}"#, &[("tlsCACert", "nope")]).unwrap_err();
    assert!(e.0.contains("tlsCACert does not contain PEM"));
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let s = parse(
        "tls://h",
        r#"{"tlsAuthWithCACert":true,"tlsSkipVerify":true}"#,
        &[("tlsCACert", pem)],
    )
    .unwrap();
    assert!(s.tls.ca_cert.is_some() && s.tls.skip_verify && s.tls.is_configured());
}

#[test]
fn numbers_prefixes_and_subjects() {
    let s = parse(
        "h",
        r#"{"timeoutMs":"500","sampleIntervalSec":0,"retentionMinutes":5,"srvPrefix":"$SRV.acct","inboxPrefix":"_INBOX_g","requestSubjects":["orders.*","admin.>"]}"#,
        &[],
    )
    .unwrap();
    assert_eq!(s.timeout, Duration::from_millis(500));
    assert_eq!(s.sample_interval, None);
    assert_eq!(s.srv_prefix, "$SRV.acct");
    assert!(s.request_allowed("orders.get"));
    assert!(!s.request_allowed("orders.get.x"));
    assert!(s.request_allowed("admin.a.b"));
    assert!(!s.request_allowed("admin"));
    assert!(parse("h", r#"{"timeoutMs":0}"#, &[])
        .unwrap_err()
        .0
        .contains("timeoutMs"));
    assert!(parse("h", r#"{"timeoutMs":"soon"}"#, &[])
        .unwrap_err()
        .0
        .contains("whole number"));
    assert!(parse("h", r#"{"srvPrefix":"a b"}"#, &[])
        .unwrap_err()
        .0
        .contains("srvPrefix"));
    assert!(parse("h", r#"{"inboxPrefix":"_INBOX.>"}"#, &[])
        .unwrap_err()
        .0
        .contains("inboxPrefix"));
    assert!(parse("h", r#"{"requestSubjects":["a.>.b"]}"#, &[])
        .unwrap_err()
        .0
        .contains("a.>.b"));
    assert_eq!(
        parse("h", r#"{"requestSubjects":"a.b, c.*"}"#, &[])
            .unwrap()
            .request_subjects,
        vec!["a.b", "c.*"]
    );
    assert!(parse("h", "[1]", &[]).unwrap_err().0.contains("JSON object"));
    assert!(parse("h", "{", &[]).unwrap_err().0.contains("not valid JSON"));
}

#[test]
fn subject_matching() {
    assert!(subject_matches("a.*.c", "a.b.c"));
    assert!(!subject_matches("a.*", "a"));
    assert!(subject_matches(">", "x.y"));
    assert!(!valid_subject("a..b", false));
    assert!(!valid_subject("a.*", false));
    assert!(valid_subject("a.*.>", true));
    assert!(!valid_subject("a.b*", true));
}

#[test]
fn history_store_keys_default_and_are_checked() {
    let s = parse("localhost", "", &[]).unwrap();
    assert_eq!(s.history, HistorySettings::default());
    assert_eq!(
        (
            s.history.store,
            s.history.stream.as_str(),
            s.history.max_bytes,
            s.history.replicas
        ),
        (StoreKind::Memory, "NATSMICRO_HISTORY", 1 << 30, 1)
    );
    assert_eq!(s.history.lease_bucket(), "NATSMICRO_HISTORY_LEASE");
    let s = parse(
        "localhost",
        r#"{"historyStore":"jetstream","historyStream":"FLEET-1","historyMaxBytes":1048576,"historyReplicas":3}"#,
        &[],
    )
    .unwrap();
    assert_eq!(
        s.history,
        HistorySettings {
            store: StoreKind::JetStream,
            stream: "FLEET-1".into(),
            max_bytes: 1 << 20,
            replicas: 3
        }
    );
    for (json, says) in [
        (r#"{"historyStore":"redis"}"#, "historyStore is 'redis': use memory"),
        (r#"{"historyStream":"a.b"}"#, "historyStream is 'a.b'"),
        (
            r#"{"historyMaxBytes":1000}"#,
            "historyMaxBytes is 1000: use 1048576 (1 MiB)",
        ),
        (r#"{"historyReplicas":0}"#, "historyReplicas is 0: use 1 to 5"),
        (r#"{"historyReplicas":6}"#, "historyReplicas is 6"),
    ] {
        let e = parse("localhost", json, &[]).unwrap_err().to_string();
        assert!(e.contains(says), "{json}: {e}");
    }
}

#[test]
fn the_target_key_names_servers_account_and_prefix_only() {
    let key = |url: &str, json: &str, account: &str| parse(url, json, &[]).unwrap().target_key(account);
    let base = key("nats://a:4222,nats://b:4222", "{}", "APP");
    assert_eq!(base.len(), 16);
    assert!(base.chars().all(|c| c.is_ascii_hexdigit()));
    // Server order, timeouts and the store do not change the target.
    assert_eq!(
        base,
        key(
            "nats://b:4222, nats://a:4222",
            r#"{"timeoutMs":900,"historyStore":"jetstream"}"#,
            "APP"
        )
    );
    // Servers, account and prefix do.
    assert_ne!(base, key("nats://a:4222", "{}", "APP"));
    assert_ne!(base, key("nats://a:4222,nats://b:4222", "{}", "OTHER"));
    assert_ne!(
        base,
        key("nats://a:4222,nats://b:4222", r#"{"srvPrefix":"$OTHER"}"#, "APP")
    );
}
