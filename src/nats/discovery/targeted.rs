//! Targeted pings: a known instance missing from a PING round gets one `PING` of its own on `<prefix>.PING.<name>.<id>`, which tells `unresponsive` (no reply in time) from `gone` (503), `denied` (a permissions violation) and `malformed` (an invalid reply); a late but valid answer makes it a slow instance that answered.

use bytes::Bytes;
use chrono::Utc;
use futures::future::join_all;
use tokio::time::Instant;

use super::Discovery;
use crate::metrics;
use crate::model::micro::{parse_reply, valid_name, Scope, Verb};
use crate::model::observed::{KnownInstance, Reply};
use crate::model::state::{Silence, MAX_TARGETED_PINGS};

/// Most targeted pings one round sends.
pub const MAX_TARGETED: usize = MAX_TARGETED_PINGS;

/// What a round's targeted pings found.
#[derive(Debug, Default)]
pub(super) struct Targeted {
    /// Late but valid answers: these instances are not down.
    pub answered: Vec<Reply>,
    /// Still silent, each with the verdict of its ping (`None`: not asked).
    pub silent: Vec<KnownInstance>,
    /// Pings sent.
    pub asked: u64,
    /// Silent instances not asked (over [`MAX_TARGETED`], or a name no subject can carry).
    pub unasked: u64,
}

enum Outcome {
    Answered(Box<Reply>),
    Silent(Silence),
}

impl Discovery {
    /// Ask each silent instance of a PING round why, all at once, until `deadline` (at least
    /// the stall window from now: a 503 comes back at once, and a hung instance has already had
    /// the whole round to answer).
    pub(super) async fn ask_silent(&self, down: Vec<KnownInstance>, deadline: Instant) -> Targeted {
        let deadline = deadline.max(Instant::now() + self.policy.min_stall);
        let mut out = Targeted::default();
        let mut asks = Vec::new();
        for (i, k) in down.into_iter().enumerate() {
            if i < MAX_TARGETED && valid_name(&k.name) && valid_name(&k.id) {
                asks.push(k);
            } else {
                out.unasked += 1;
                out.silent.push(k);
            }
        }
        out.asked = asks.len() as u64;
        let outcomes = join_all(asks.iter().map(|k| self.ask(k, deadline))).await;
        for (mut k, outcome) in asks.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Answered(reply) => {
                    metrics::global().targeted_ping("answered");
                    out.answered.push(*reply);
                }
                Outcome::Silent(s) => {
                    metrics::global().targeted_ping(s.name());
                    k.silence = Some(s);
                    out.silent.push(k);
                }
            }
        }
        out.silent.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        out
    }

    async fn ask(&self, k: &KnownInstance, deadline: Instant) -> Outcome {
        let scope = Scope {
            service: Some(k.name.clone()),
            id: Some(k.id.clone()),
        };
        let subject = scope.subject(&self.policy.prefix, Verb::Ping);
        let t0 = Instant::now();
        let request = self.client.request(subject.clone(), Bytes::new());
        tokio::pin!(request);
        loop {
            tokio::select! {
                r = &mut request => return match r {
                    Ok(msg) => match parse_reply(Verb::Ping, &msg.payload) {
                        Ok(reply) if reply.name == k.name && reply.id == k.id => Outcome::Answered(Box::new(Reply {
                            reply,
                            rtt: t0.elapsed(),
                            received: Utc::now(),
                        })),
                        _ => Outcome::Silent(Silence::Malformed),
                    },
                    Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Outcome::Silent(Silence::Gone),
                    Err(_) => Outcome::Silent(self.silence_after(&subject, t0)),
                },
                () = self.server_errors.next() => {
                    if self.server_errors.denied_since(&subject, t0) {
                        return Outcome::Silent(Silence::Denied);
                    }
                }
                () = tokio::time::sleep_until(deadline) => return Outcome::Silent(self.silence_after(&subject, t0)),
            }
        }
    }

    /// A request to `subject` sent at `since` got no answer: refused, or unresponsive.
    pub(super) fn silence_after(&self, subject: &str, since: Instant) -> Silence {
        if self.server_errors.denied_since(subject, since) {
            Silence::Denied
        } else {
            Silence::Unresponsive
        }
    }
}

/// The verdict on the one instance of a single-instance round that got no valid reply.
pub(super) fn single_silence(no_responders: bool, invalid: u64) -> Option<Silence> {
    if no_responders {
        Some(Silence::Gone)
    } else if invalid > 0 {
        Some(Silence::Malformed)
    } else {
        None
    }
}
