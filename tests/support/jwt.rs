//! NATS decentralised auth for tests: an operator, an account and users as signed JWTs (what `nsc` makes), a nats-server config that trusts them, and `.creds` text.

use nkeys::KeyPair;
use serde_json::{json, Value};

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A JWT of `claims` (`iss` set to the signer) signed with `signer`, as nats-jwt v2 encodes it.
fn sign(signer: &KeyPair, subject: &str, name: &str, nats: Value, expires: Option<i64>) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "jti": format!("{:X}", rand_u128()),
        "iat": now,
        "iss": signer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    if let Some(exp) = expires {
        claims["exp"] = json!(exp);
    }
    let header = b64url(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = b64url(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{body}");
    let sig = signer.sign(signing_input.as_bytes()).expect("sign jwt");
    format!("{signing_input}.{}", b64url(&sig))
}

fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let s = std::collections::hash_map::RandomState::new();
    let mut h = s.build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (u128::from(h.finish()) << 64) | u128::from(s.build_hasher().finish())
}

/// An operator with one account; mints users of that account.
pub struct Operator {
    account: KeyPair,
    operator_jwt: String,
    account_jwt: String,
}

impl Default for Operator {
    fn default() -> Self {
        Self::new()
    }
}

impl Operator {
    pub fn new() -> Self {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let operator_jwt = sign(
            &operator,
            &operator.public_key(),
            "test-operator",
            json!({"type": "operator", "version": 2}),
            None,
        );
        let account_jwt = sign(
            &operator,
            &account.public_key(),
            "test-account",
            json!({
                "type": "account", "version": 2,
                "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                           "wildcards": true, "conn": -1, "leaf": -1},
            }),
            None,
        );
        Self {
            account,
            operator_jwt,
            account_jwt,
        }
    }

    /// nats-server configuration that trusts this operator and preloads its account.
    pub fn server_config(&self) -> String {
        format!(
            "operator: {}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {}\n}}\n",
            self.operator_jwt,
            self.account.public_key(),
            self.account_jwt
        )
    }

    /// `.creds` text of a new user of the account, allowed everything, expiring at `expires` (Unix s).
    pub fn user_creds(&self, name: &str, expires: Option<i64>) -> String {
        let user = KeyPair::new_user();
        let jwt = sign(
            &self.account,
            &user.public_key(),
            name,
            json!({"type": "user", "version": 2, "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}),
            expires,
        );
        let seed = user.seed().expect("user seed");
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        )
    }
}
