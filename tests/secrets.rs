//! Secrets never leave the backend: with the plugin started as Grafana 12.4+ starts it (only `GF_*` variables, the log level raised to trace through `GF_PLUGIN_LOG_LEVEL`), no password, token, token in a URL, NKey seed, creds, TLS key, request header value or payload reaches the log, a message, a frame or a resource answer.

mod support;

use serde_json::json;
use support::*;

const PASSWORD: &str = "pw-Zq83-secret";
const URL_PASSWORD: &str = "urlpw-Xk2-secret";
const TOKEN: &str = "tok-Vb71-secret";
const URL_TOKEN: &str = "urltok-Qm40-secret";
const CREDS_JWT: &str =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJjcmVkc2p3dHNlY3JldCI6dHJ1ZX0.c2lnbmF0dXJlc2VjcmV0";
const HEADER_SECRET: &str = "Bearer hdr-Pp55-secret";
const HEADER_SECRET_2: &str = "hdr2-Lk09-secret";
const PAYLOAD_SECRET: &str = "payload-Ww12-secret";

fn creds(seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{CREDS_JWT}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )
}

#[tokio::test]
async fn no_secret_of_any_kind_reaches_the_log_at_trace_or_any_answer() {
    let nkey = nkeys::KeyPair::new_user();
    let seed = nkey.seed().unwrap();
    let creds_user = nkeys::KeyPair::new_user();
    let creds_seed = creds_user.seed().unwrap();
    let pki = pki();
    let dir = TempDir::new().unwrap();
    let (cert, key, ca) = server_pem_files(&pki, &dir, "");

    let users = NatsServer::with_config(&format!(
        r#"authorization {{ users = [
            {{ user: alice, password: "{PASSWORD}" }}
            {{ user: bob, password: "{URL_PASSWORD}" }}
            {{ nkey: {} }}
        ] }}"#,
        nkey.public_key()
    ));
    let token = NatsServer::with_config(&format!("authorization {{ token: \"{TOKEN}\" }}"));
    let url_token = NatsServer::with_config(&format!("authorization {{ token: \"{URL_TOKEN}\" }}"));
    // No auth configured: the server accepts the creds' signed nonce without checking the JWT,
    // so the creds text still travels every code path that reads it.
    let open = NatsServer::start();
    let mtls = NatsServer::with_config(&format!(
        "tls {{ cert_file: \"{cert}\", key_file: \"{key}\", ca_file: \"{ca}\", verify: true }}"
    ));
    let _vault = RustService::start(
        &format!("nats://alice:{PASSWORD}@127.0.0.1:{}", users.port),
        "vault",
        "1.0.0",
        &[("open", "vault.open")],
        0,
    )
    .await
    .unwrap();

    let mut p = PluginProcess::start_like_grafana_12_4(&[("GF_PLUGIN_LOG_LEVEL", "trace")])
        .await
        .unwrap();
    let allow = json!({"requestSubjects": ["vault.>"]});
    let with = |extra: serde_json::Value| {
        let mut j = allow.clone();
        j.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        j
    };
    let sources = [
        (
            DataSource::new(&users.url())
                .json(with(json!({"authType": "userpass", "username": "alice"})))
                .secure("password", PASSWORD),
            true,
        ),
        (
            DataSource::new(&format!("nats://bob:{URL_PASSWORD}@127.0.0.1:{}", users.port)).json(allow.clone()),
            true,
        ),
        (
            DataSource::new(&users.url())
                .json(with(json!({"authType": "nkey"})))
                .secure("nkeySeed", &seed),
            true,
        ),
        (
            DataSource::new(&users.url())
                .json(with(json!({"authType": "userpass", "username": "alice"})))
                .secure("password", &format!("{PASSWORD}-wrong")),
            false,
        ),
        (
            DataSource::new(&token.url())
                .json(with(json!({"authType": "token"})))
                .secure("token", TOKEN),
            true,
        ),
        (
            DataSource::new(&token.url())
                .json(with(json!({"authType": "token"})))
                .secure("token", &format!("{TOKEN}-wrong")),
            false,
        ),
        (
            DataSource::new(&format!("nats://{URL_TOKEN}@127.0.0.1:{}", url_token.port)).json(allow.clone()),
            true,
        ),
        (
            DataSource::new(&open.url())
                .json(with(json!({"authType": "creds"})))
                .secure("credentials", &creds(&creds_seed)),
            true,
        ),
        (
            DataSource::new(&format!("tls://127.0.0.1:{}", mtls.port))
                .json(with(json!({"tlsAuth": true, "tlsAuthWithCACert": true})))
                .secure("tlsCACert", &pki.ca)
                .secure("tlsClientCert", &pki.client_cert)
                .secure("tlsClientKey", &pki.client_key),
            true,
        ),
    ];
    let mut everything = String::new();
    for (i, (ds, ok)) in sources.iter().enumerate() {
        let (status, message) = p.health(ds).await.unwrap();
        assert_eq!(status == 1, *ok, "source {i}: {message}");
        everything.push_str(&message);
        let r = p
            .query(
                ds,
                &[
                    json!({"refId": "A", "queryType": "info"}),
                    json!({"refId": "B", "queryType": "request", "subject": "vault.open",
                           "payload": PAYLOAD_SECRET, "headers": {"Authorization": HEADER_SECRET}}),
                    json!({"refId": "C", "queryType": "request", "subject": "vault.open",
                           "headers": format!("Authorization: {HEADER_SECRET_2}")}),
                    json!({"refId": "D", "queryType": "request", "subject": "vault.open",
                           "headers": [{"key": "X-Token", "value": {"nested": HEADER_SECRET_2}}]}),
                ],
            )
            .await
            .unwrap();
        assert!(r["C"].error.contains("headers must be an object"), "{}", r["C"].error);
        // Frames of B may echo the payload (that is the reply the user asked for); errors may not.
        for (ref_id, resp) in &r {
            if *ref_id == "B" && resp.error.is_empty() {
                continue;
            }
            everything.push_str(&format!("{resp:?}"));
        }
        everything.push_str(&r["B"].error);
        let (_, body) = p.resource_get(ds, "services").await.unwrap();
        everything.push_str(&body.to_string());
    }
    // Everything the plugin logged, read to the end of its stderr.
    let log = p.stderr_when_exited().await;
    assert!(
        log.contains("\"@level\":\"trace\"") || log.contains("\"@level\":\"debug\""),
        "GF_PLUGIN_LOG_LEVEL raised the level under a Grafana 12.4 environment"
    );
    assert!(
        log.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "every log line is hclog JSON"
    );
    let key_body: String = pki
        .client_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let key_line = pki.client_key.lines().nth(1).unwrap().to_string();
    let secrets = [
        PASSWORD,
        URL_PASSWORD,
        seed.as_str(),
        TOKEN,
        URL_TOKEN,
        CREDS_JWT,
        creds_seed.as_str(),
        key_line.as_str(),
        key_body.as_str(),
        HEADER_SECRET,
        HEADER_SECRET_2,
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "secret {}… in the log", &secret[..6]);
        assert!(
            !everything.contains(secret),
            "secret {}… in a message, frame or resource",
            &secret[..6]
        );
    }
    assert!(!log.contains(PAYLOAD_SECRET), "request payload in the log");
    assert!(!log.contains("PRIVATE KEY"), "a PEM key in the log");
}
