//! Unit tests of connection options and down advice (no server needed).
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

use super::*;

#[test]
fn creds_pasted_without_a_final_line_break_are_read() {
    let seed = nkeys::KeyPair::new_user().seed().unwrap();
    let text = format!(
        "-----BEGIN NATS USER JWT-----\neyJhbGciOiJlZDI1NTE5In0.e30.c2ln\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------"
    );
    let secure = std::collections::HashMap::from([("credentials".to_string(), text)]);
    let settings = Settings::parse(crate::model::settings::RawSettings {
        url: "nats://127.0.0.1:4222",
        json_data: br#"{"authType":"creds"}"#,
        secure: &secure,
    })
    .unwrap();
    assert!(options(&settings, Arc::new(ConnectionEvents::default())).is_ok());
}

#[test]
fn the_first_attempt_of_a_connect_or_reconnect_does_not_wait() {
    let ms: Vec<u128> = (1..=9).map(|a| reconnect_delay(a).as_millis()).collect();
    assert_eq!(ms, [0, 50, 100, 200, 400, 800, 1000, 1000, 1000]);
}

#[test]
fn a_settings_save_keeps_the_memory_history_only_for_the_same_credentials() {
    let parse = |token: &str, timeout: u32| {
        let secure = std::collections::HashMap::from([("token".to_string(), token.to_string())]);
        Settings::parse(crate::model::settings::RawSettings {
            url: "nats://127.0.0.1:4222",
            json_data: format!(r#"{{"authType":"token","timeoutMs":{timeout}}}"#).as_bytes(),
            secure: &secure,
        })
        .unwrap()
    };
    assert!(same_target(&parse("one", 1000), &parse("one", 2000)));
    assert!(
        !same_target(&parse("one", 1000), &parse("two", 1000)),
        "another token is another user"
    );
}
