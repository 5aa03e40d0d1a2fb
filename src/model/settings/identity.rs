//! Who a data source is on NATS, without its secrets: a one-way fingerprint of its credentials (part of the shared history's key) and the key that seals its shared history messages.
//!
//! Data sources share a JetStream history only when they are the same NATS identity: same
//! account and user as the server reports them, and the same credentials. The credentials enter
//! only through SHA-256 with a fixed label (the fingerprint) and HMAC-SHA256 (the seal): neither
//! reveals them. A data source without credentials has no seal: any client of its account can
//! write what it reads (the README's "Securing the shared history" says what to deny).

use ring::{digest, hmac};

use super::{Auth, Settings, UrlCredentials};

/// The identity of a data source's credentials.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `<authType>:<user name>:<16 hex digits of the secret's fingerprint, or ->`.
    pub fingerprint: String,
    /// Seals this identity's history messages; `None` without credentials.
    pub seal: Option<SealKey>,
}

/// HMAC-SHA256 key derived one way from the credentials; never printed.
#[derive(Clone)]
pub struct SealKey(hmac::Key);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// The seal of a message made of `parts` (subject, headers that matter, payload), as hex.
    pub fn seal(&self, parts: &[&[u8]]) -> String {
        let tag = hmac::sign(&self.0, &framed(parts));
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `value` is the seal of `parts` (compared in constant time).
    pub fn verify(&self, parts: &[&[u8]], value: &str) -> bool {
        let Some(tag) = unhex(value) else { return false };
        hmac::verify(&self.0, &framed(parts), &tag).is_ok()
    }
}

/// The parts with their lengths, so that no two different splits give the same bytes.
fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// SHA-256 of a label and the secret.
fn digest_of(label: &str, secret: &[u8]) -> digest::Digest {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(label.as_bytes());
    ctx.update(&[0]);
    ctx.update(secret);
    ctx.finish()
}

/// The seed of a `.creds` text (stable when the user JWT is reissued), else the whole text.
fn creds_seed(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("SU") && l.len() >= 50 && l.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or(text)
}

impl Settings {
    /// The secret parts of the credentials: password, token, NKey or creds seed, TLS client key.
    fn secret_material(&self) -> Option<Vec<u8>> {
        let mut out: Vec<u8> = Vec::new();
        let mut add = |label: &str, s: &str| {
            out.extend_from_slice(label.as_bytes());
            out.push(0);
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        };
        match &self.auth {
            Auth::None => {}
            Auth::UserPass { password, .. } => add("password", password.expose()),
            Auth::Token(t) => add("token", t.expose()),
            Auth::NKey(seed) => add("nkey", seed.expose()),
            Auth::Creds(text) => add("creds", creds_seed(text.expose())),
        }
        match &self.url_credentials {
            Some(UrlCredentials::UserPass { username, password }) => {
                add("url user", username);
                add("url password", password.expose());
            }
            Some(UrlCredentials::Token(t)) => add("url token", t.expose()),
            None => {}
        }
        if let Some((_, key)) = &self.tls.client_auth {
            add("tls client key", key.expose());
        }
        (!out.is_empty()).then_some(out)
    }

    /// This data source's identity: the fingerprint of its credentials and its seal key.
    pub fn identity(&self) -> Identity {
        let secret = self.secret_material();
        let print = secret.as_deref().map_or_else(
            || "-".to_string(),
            |s| {
                digest_of("natsmicro identity v1", s).as_ref()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            },
        );
        Identity {
            fingerprint: format!(
                "{}:{}:{print}",
                self.auth.kind(),
                self.auth.user_name().unwrap_or_default()
            ),
            seal: secret.map(|s| {
                SealKey(hmac::Key::new(
                    hmac::HMAC_SHA256,
                    digest_of("natsmicro seal v1", &s).as_ref(),
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::settings::{RawSettings, Settings};
    use std::collections::HashMap;

    fn settings(json: &str, secure: &[(&str, &str)]) -> Settings {
        let secure: HashMap<String, String> = secure.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::parse(RawSettings {
            url: "nats://127.0.0.1:4222",
            json_data: json.as_bytes(),
            secure: &secure,
        })
        .unwrap()
    }

    #[test]
    fn the_fingerprint_tells_credentials_apart_and_reveals_none() {
        let a = settings(
            r#"{"authType":"userpass","username":"u"}"#,
            &[("password", "secret-one")],
        );
        let b = settings(
            r#"{"authType":"userpass","username":"u"}"#,
            &[("password", "secret-two")],
        );
        let none = settings("{}", &[]);
        let (ia, ib) = (a.identity(), b.identity());
        assert_ne!(ia.fingerprint, ib.fingerprint);
        assert_eq!(ia.fingerprint, a.identity().fingerprint, "stable");
        assert!(ia.fingerprint.starts_with("userpass:u:"));
        assert!(!ia.fingerprint.contains("secret"));
        assert!(!format!("{ia:?}").contains("secret"));
        assert_eq!(none.identity().fingerprint, "none::-");
        assert!(none.identity().seal.is_none());
    }

    #[test]
    fn a_seal_holds_only_for_the_same_key_and_the_same_parts() {
        let a = settings(r#"{"authType":"token"}"#, &[("token", "t1")])
            .identity()
            .seal
            .unwrap();
        let b = settings(r#"{"authType":"token"}"#, &[("token", "t2")])
            .identity()
            .seal
            .unwrap();
        let sealed = a.seal(&[b"H.k.ping", b"payload"]);
        assert!(a.verify(&[b"H.k.ping", b"payload"], &sealed));
        assert!(!b.verify(&[b"H.k.ping", b"payload"], &sealed), "another identity");
        assert!(!a.verify(&[b"H.k.stats", b"payload"], &sealed), "another subject");
        assert!(!a.verify(&[b"H.k.pingp", b"ayload"], &sealed), "parts are framed");
        assert!(!a.verify(&[b"H.k.ping", b"payload"], "00"));
        assert!(!a.verify(&[b"H.k.ping", b"payload"], &"é".repeat(32)));
    }

    #[test]
    fn a_reissued_user_jwt_keeps_the_identity_of_its_seed() {
        let creds = |jwt: &str| {
            format!("-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n------END USER NKEY SEED------\n")
        };
        let a = settings(
            r#"{"authType":"creds"}"#,
            &[("credentials", &creds("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5In0.a.b"))],
        );
        let b = settings(
            r#"{"authType":"creds"}"#,
            &[("credentials", &creds("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5In0.c.d"))],
        );
        assert_eq!(a.identity().fingerprint, b.identity().fingerprint);
    }
}
