//! The instances one connection has seen: who a round should expect in a scope (for the early stop), who is down (known, silent, within retention), bounded in size.
//!
//! A round of 10 000 replies passes through here several times (expected, missing, record,
//! retire), so every look-up is by fingerprint, and an instance's names are stored once, in its
//! entry (the map's key is the fingerprint).

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::history::PingSample;
use crate::model::key::{ByPrint, Prints};
use crate::model::micro::Scope;
use crate::model::observed::{KnownInstance, Reply};
use crate::sync::lock;

/// Instances seen on one connection: the expected set of a round and the memory of who is down.
#[derive(Debug, Default)]
pub struct Registry {
    /// By fingerprint; an instance whose fingerprint another holds (odds of about 10⁻¹¹ for
    /// 10 000 instances, and replies cannot aim at one) is not remembered.
    known: Mutex<ByPrint<Entry>>,
    /// The key of every fingerprint here: of the entries, of each round's expected set and of
    /// the set of who answered it (made with [`Registry::answered`]).
    prints: Prints,
}

/// A known instance and its fingerprint under the registry's key, made once.
#[derive(Debug)]
struct Entry {
    instance: KnownInstance,
    print: u64,
}

/// Hard bound on remembered instances (a hostile fleet cannot grow memory without limit): the
/// history's bound, so discovery expects no instance the history has forgotten.
const REGISTRY_LIMIT: usize = crate::model::history::MAX_INSTANCES;

/// What a reply tells of its instance: it is alive, seen then, at this version.
fn seen(k: &mut KnownInstance, r: &Reply) {
    if !r.reply.version.is_empty() && k.version != r.reply.version {
        k.version.clone_from(&r.reply.version);
    }
    k.last_seen = k.last_seen.max(r.received);
    k.alive = true;
}

impl Registry {
    /// An empty set of who answered a round, with room for `capacity`: the sets [`Registry::missing`]
    /// and [`Registry::retire`] take are made here.
    pub fn answered(&self, capacity: usize) -> Prints {
        self.prints.empty_like(capacity)
    }

    /// Instances of `scope` that answered their last complete round.
    pub fn expected(&self, scope: &Scope) -> Prints {
        let known = lock(&self.known);
        let mut out = self.prints.empty_like(known.len());
        for e in known.values().filter(|e| e.instance.alive && in_scope(scope, e)) {
            out.insert_print(e.print);
        }
        out
    }

    /// Known instances of `scope` seen within `retention` that are not in `answered`.
    pub fn missing(
        &self,
        scope: &Scope,
        answered: &Prints,
        retention: Duration,
        now: DateTime<Utc>,
    ) -> Vec<KnownInstance> {
        let horizon = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let mut out: Vec<KnownInstance> = lock(&self.known)
            .values()
            .filter(|e| in_scope(scope, e) && e.instance.last_seen >= horizon && !answered.contains_print(e.print))
            .map(|e| e.instance.clone())
            .collect();
        out.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        out
    }

    /// Record replies: their instances are known, alive (expected) and seen when they answered;
    /// instances not seen within `retention` are forgotten.
    pub fn record(&self, replies: &[Reply], retention: Duration) {
        let now = Utc::now();
        let mut known = lock(&self.known);
        for r in replies {
            let (name, id) = (r.reply.name.as_str(), r.reply.id.as_str());
            let print = self.prints.print(name, id);
            let room = known.len() < REGISTRY_LIMIT;
            match known.get_mut(&print) {
                Some(e) if e.is(name, id) => seen(&mut e.instance, r),
                Some(_) => {}
                None if room => {
                    let mut e = self.entry(print, name, id, "", r.received);
                    seen(&mut e.instance, r);
                    known.insert(print, e);
                }
                None => {}
            }
        }
        let horizon = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        known.retain(|_, e| e.instance.last_seen >= horizon);
    }

    /// After a round that saw everyone who would answer: known instances of `scope` not in
    /// `answered` are no longer expected.
    pub fn retire(&self, scope: &Scope, answered: &Prints) {
        for e in lock(&self.known).values_mut() {
            if e.instance.alive && in_scope(scope, e) && !answered.contains_print(e.print) {
                e.instance.alive = false;
            }
        }
    }

    /// Learn a ping round another process sampled (read from the shared history): instances that
    /// answered are known and expected, as if this connection had seen them; silent ones that
    /// are known are no longer expected (unknown silent ones stay unknown).
    pub fn learn<S: AsRef<str>>(&self, t: DateTime<Utc>, samples: &[PingSample<S>]) {
        let mut known = lock(&self.known);
        for s in samples {
            let (service, id, version) = (s.service.as_ref(), s.id.as_ref(), s.version.as_ref());
            let room = known.len() < REGISTRY_LIMIT;
            let print = self.prints.print(service, id);
            match (known.get_mut(&print).filter(|e| e.is(service, id)), s.rtt_ms.is_some()) {
                (Some(e), answered) => {
                    let k = &mut e.instance;
                    k.alive = answered;
                    if answered {
                        k.last_seen = k.last_seen.max(t);
                    }
                    if !version.is_empty() && k.version != version {
                        k.version = version.to_string();
                    }
                }
                (None, true) if room => {
                    let e = self.entry(print, service, id, version, t);
                    known.entry(print).or_insert(e);
                }
                _ => {}
            }
        }
    }

    /// The version instance `service`/`id` last reported, if it is known and reported one.
    pub fn version(&self, service: &str, id: &str) -> Option<String> {
        let print = self.prints.print(service, id);
        lock(&self.known)
            .get(&print)
            .filter(|e| e.is(service, id) && !e.instance.version.is_empty())
            .map(|e| e.instance.version.clone())
    }

    /// Every known instance (for resources and tests).
    pub fn snapshot(&self) -> Vec<KnownInstance> {
        let mut v: Vec<_> = lock(&self.known).values().map(|e| e.instance.clone()).collect();
        v.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        v
    }

    /// A new entry of fingerprint `print`: alive, seen at `t`.
    fn entry(&self, print: u64, name: &str, id: &str, version: &str, t: DateTime<Utc>) -> Entry {
        Entry {
            print,
            instance: KnownInstance {
                name: name.to_string(),
                id: id.to_string(),
                version: version.to_string(),
                last_seen: t,
                alive: true,
                silence: None,
            },
        }
    }
}

impl Entry {
    fn is(&self, name: &str, id: &str) -> bool {
        self.instance.name == name && self.instance.id == id
    }
}

fn in_scope(scope: &Scope, e: &Entry) -> bool {
    scope.contains(&e.instance.name, &e.instance.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::State;

    #[test]
    fn expected_holds_exactly_the_alive_instances_of_the_scope() {
        let r = Registry::default();
        let t = Utc::now();
        let sample = |service: &'static str, id: &'static str, up: bool| PingSample {
            service,
            id,
            version: "1.0.0",
            rtt_ms: up.then_some(1.0),
            state: if up { State::Up } else { State::Unresponsive },
        };
        r.learn(
            t,
            &[sample("a", "1", true), sample("a", "2", true), sample("b", "1", true)],
        );
        r.learn(t, &[sample("a", "2", false)]);
        let all = r.expected(&Scope::all());
        assert_eq!(all.len(), 2);
        assert!(all.contains("a", "1") && all.contains("b", "1"));
        assert!(!all.contains("a", "2"), "a silent instance is not expected");
        // The boundary between service and id counts.
        assert!(!all.contains("a1", "") && !all.contains("", "a1") && !all.contains("b", "1 "));
        let a = r.expected(&Scope {
            service: Some("a".into()),
            id: None,
        });
        assert!(a.contains("a", "1") && !a.contains("b", "1"));
        let mut answered = r.answered(1);
        answered.insert("b", "1");
        r.retire(&Scope::all(), &answered);
        assert!(r.expected(&Scope::all()).contains("b", "1"));
        assert_eq!(r.expected(&Scope::all()).len(), 1);
    }
}
