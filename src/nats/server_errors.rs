//! The latest errors a NATS server sent on one connection, bounded: permission violations arrive asynchronously (a refused publish just goes unanswered), so a silent request asks here whether it was refused.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::sync::lock;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Errors kept (oldest first out): a round's targeted pings are bounded well below it.
const KEPT: usize = 64;

/// The server errors of one connection, newest last.
#[derive(Debug, Default)]
pub struct ServerErrors {
    recent: Mutex<VecDeque<(Instant, String)>>,
    arrived: Notify,
}

/// The subject of a refused publish, as the server names it: `Permissions Violation for
/// Publish to "<subject>"` (whole subjects only: `$SRV.PING.a.10` is not `$SRV.PING.a.1`).
fn refused_publish(error: &str) -> Option<&str> {
    const SAID: &str = "permissions violation for publish to ";
    let at = error.to_ascii_lowercase().find(SAID)? + SAID.len();
    let rest = error.get(at..)?.trim_start();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(['"', ' ']).unwrap_or(rest.len());
    rest.get(..end)
}

impl ServerErrors {
    /// Remember one error the server sent and wake whoever waits for one.
    pub fn push(&self, text: String) {
        {
            let mut g = lock(&self.recent);
            if g.len() >= KEPT {
                g.pop_front();
            }
            g.push_back((Instant::now(), text));
        }
        self.arrived.notify_waiters();
    }

    /// The latest error sent at or after `since`.
    pub fn latest_since(&self, since: Instant) -> Option<String> {
        let g = lock(&self.recent);
        g.back().filter(|(at, _)| *at >= since).map(|(_, e)| e.clone())
    }

    /// Whether the server refused a publish to `subject` at or after `since`.
    pub fn denied_since(&self, subject: &str, since: Instant) -> bool {
        let g = lock(&self.recent);
        g.iter()
            .rev()
            .take_while(|(at, _)| *at >= since)
            .any(|(_, e)| refused_publish(e) == Some(subject))
    }

    /// Resolves when the next error arrives.
    pub async fn next(&self) {
        self.arrived.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_publish_is_found_by_its_subject_and_time() {
        let e = ServerErrors::default();
        let before = Instant::now();
        e.push("permissions violation for publish to \"$SRV.PING.a.1\"".into());
        assert!(e.denied_since("$SRV.PING.a.1", before));
        assert!(!e.denied_since("$SRV.PING.a.2", before));
        assert!(!e.denied_since("$SRV.PING.a", before), "whole subjects only");
        e.push("Permissions Violation for Publish to \"$SRV.PING.a.10\"".into());
        assert!(e.denied_since("$SRV.PING.a.10", before));
        assert!(!e.denied_since("$SRV.PING.a.100", before));
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        assert!(!e.denied_since("$SRV.PING.a.1", Instant::now()));
        assert!(e.latest_since(before).is_some());
        for i in 0..100 {
            e.push(format!("other {i}"));
        }
        assert!(
            !e.denied_since("$SRV.PING.a.1", before),
            "bounded: the oldest went first"
        );
    }
}
