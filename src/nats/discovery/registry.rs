//! The instances one connection has seen: who a round should expect in a scope (for the early stop), who is down (known, silent, within retention), bounded in size.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::lock;
use crate::model::history::PingSample;
use crate::model::micro::Scope;
use crate::model::observed::{KnownInstance, Reply};

/// Instances seen on one connection: the expected set of a round and the memory of who is down.
#[derive(Debug, Default)]
pub struct Registry {
    known: Mutex<HashMap<(String, String), KnownInstance>>,
}

/// Hard bound on remembered instances (a hostile fleet cannot grow memory without limit).
const REGISTRY_LIMIT: usize = 100_000;

impl Registry {
    /// Instances of `scope` that answered their last complete round.
    pub fn expected(&self, scope: &Scope) -> HashSet<(String, String)> {
        lock(&self.known)
            .values()
            .filter(|k| k.alive && scope.contains(&k.name, &k.id))
            .map(|k| (k.name.clone(), k.id.clone()))
            .collect()
    }

    /// Known instances of `scope` seen within `retention` that are not in `answered`.
    pub fn missing(
        &self,
        scope: &Scope,
        answered: &HashSet<(&str, &str)>,
        retention: Duration,
        now: DateTime<Utc>,
    ) -> Vec<KnownInstance> {
        let horizon = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let mut out: Vec<KnownInstance> = lock(&self.known)
            .values()
            .filter(|k| {
                scope.contains(&k.name, &k.id)
                    && k.last_seen >= horizon
                    && !answered.contains(&(k.name.as_str(), k.id.as_str()))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        out
    }

    /// Record a round's outcome. `complete` says the round saw everyone who would answer, so
    /// known instances of the scope that did not answer are no longer expected.
    pub fn record(&self, scope: &Scope, replies: &[Reply], complete: bool, retention: Duration) {
        let now = Utc::now();
        let mut known = lock(&self.known);
        let mut seen = HashSet::with_capacity(replies.len());
        for r in replies {
            let key = (r.reply.name.clone(), r.reply.id.clone());
            seen.insert(key.clone());
            if known.len() >= REGISTRY_LIMIT && !known.contains_key(&key) {
                continue;
            }
            let entry = known.entry(key).or_insert_with(|| KnownInstance {
                name: r.reply.name.clone(),
                id: r.reply.id.clone(),
                version: String::new(),
                last_seen: r.received,
                alive: true,
                silence: None,
            });
            if !r.reply.version.is_empty() {
                entry.version.clone_from(&r.reply.version);
            }
            entry.last_seen = entry.last_seen.max(r.received);
            entry.alive = true;
        }
        if complete {
            retire(&mut known, scope, &seen);
        }
        let horizon = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        known.retain(|_, k| k.last_seen >= horizon);
    }

    /// Learn a ping round another process sampled (read from the shared history): instances that
    /// answered are known and expected, as if this connection had seen them; silent ones that
    /// are known are no longer expected (unknown silent ones stay unknown).
    pub fn learn<S: AsRef<str>>(&self, t: DateTime<Utc>, samples: &[PingSample<S>]) {
        let mut known = lock(&self.known);
        for s in samples {
            let (service, id, version) = (s.service.as_ref(), s.id.as_ref(), s.version.as_ref());
            let key = (service.to_string(), id.to_string());
            let room = known.len() < REGISTRY_LIMIT;
            match (known.get_mut(&key), s.rtt_ms.is_some()) {
                (Some(k), answered) => {
                    k.alive = answered;
                    if answered {
                        k.last_seen = k.last_seen.max(t);
                    }
                    if !version.is_empty() && k.version != version {
                        k.version = version.to_string();
                    }
                }
                (None, true) if room => {
                    known.insert(
                        key,
                        KnownInstance {
                            name: service.to_string(),
                            id: id.to_string(),
                            version: version.to_string(),
                            last_seen: t,
                            alive: true,
                            silence: None,
                        },
                    );
                }
                _ => {}
            }
        }
    }

    /// After a complete round: known instances of `scope` that did not answer are no longer expected.
    pub fn retire_unseen(&self, scope: &Scope, seen: &HashSet<(String, String)>) {
        retire(&mut lock(&self.known), scope, seen);
    }

    /// Every known instance (for resources and tests).
    pub fn snapshot(&self) -> Vec<KnownInstance> {
        let mut v: Vec<_> = lock(&self.known).values().cloned().collect();
        v.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        v
    }
}

/// Known instances of `scope` not in `seen` are no longer alive (expected).
fn retire(known: &mut HashMap<(String, String), KnownInstance>, scope: &Scope, seen: &HashSet<(String, String)>) {
    for k in known.values_mut() {
        if scope.contains(&k.name, &k.id) && !seen.contains(&(k.name.clone(), k.id.clone())) {
            k.alive = false;
        }
    }
}
