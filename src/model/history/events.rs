//! What the history observes happening to an instance between two samples: it appeared, disappeared, restarted or changed its version.

use std::collections::HashMap;
use std::mem::size_of;

use super::{History, MAX_EVENTS};
use crate::model::key;

/// What happened to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Appeared,
    Disappeared,
    Restarted,
    VersionChanged,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Appeared => "appeared",
            EventKind::Disappeared => "disappeared",
            EventKind::Restarted => "restarted",
            EventKind::VersionChanged => "version",
        }
    }
}

/// An event observed between two samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub t: i64,
    pub kind: EventKind,
    pub service: String,
    pub id: String,
    pub title: String,
    pub text: String,
}

impl Event {
    /// Bytes accounted for this event.
    pub(super) fn bytes(&self) -> usize {
        size_of::<Event>() + self.service.len() + self.id.len() + self.title.len() + self.text.len()
    }
}

/// The instances of each service a newcomer of this round may have replaced (down and not yet
/// replaced), found once per service and round instead of once per newcomer: a peer that
/// answers with thousands of new ids every round made each round scan every instance for each.
#[derive(Default)]
pub(super) struct Candidates(HashMap<String, Vec<(Option<u64>, String)>>);

impl Candidates {
    /// An instance of `service` went down in this round (or came new and down): it may be
    /// replaced from now on, so the service's candidates are looked for again.
    pub(super) fn add(&mut self, service: &str) {
        self.0.remove(service);
    }
}

impl History {
    pub(super) fn event(&mut self, t: i64, kind: EventKind, service: &str, id: &str, title: String, text: String) {
        let e = Event {
            t,
            kind,
            service: service.to_string(),
            id: id.to_string(),
            title,
            text,
        };
        self.bytes += e.bytes();
        self.events.push_back(e);
        while self.events.len() > MAX_EVENTS {
            if let Some(old) = self.events.pop_front() {
                self.bytes -= old.bytes();
            }
        }
    }

    pub(super) fn disappeared(&mut self, t: i64, service: &str, id: &str) {
        self.event(
            t,
            EventKind::Disappeared,
            service,
            id,
            format!("{service} {id} is down"),
            format!("instance {id} of {service} stopped answering"),
        );
    }

    /// A new instance answered: it replaced the instance of its service that is down and was
    /// sampled last (restarted, maybe at another version), or it appeared.
    pub(super) fn appeared_new(&mut self, candidates: &mut Candidates, t: i64, service: &str, id: &str, version: &str) {
        let list = candidates.0.entry(service.to_string()).or_insert_with(|| {
            let mut down: Vec<(Option<u64>, String)> = self
                .instances
                .values()
                .filter(|i| i.service == service && !i.up && !i.replaced)
                .map(|i| (i.packed_pings.last().map(|(seq, _)| seq), i.id.clone()))
                .collect();
            down.sort_unstable();
            down
        });
        // The latest sampled first; one that answered again since the list was made is skipped.
        let replaced = loop {
            let Some((_, old_id)) = list.pop() else {
                break None;
            };
            match self.instances.get_mut(key::of(&(service, old_id.as_str()))) {
                Some(old) if old_id != id && !old.up && !old.replaced => {
                    old.replaced = true;
                    break Some((old_id, old.version.clone()));
                }
                _ => {}
            }
        };
        match replaced {
            Some((old_id, old_version)) => {
                self.event(
                    t,
                    EventKind::Restarted,
                    service,
                    id,
                    format!("{service} restarted"),
                    format!("instance {id} replaced {old_id} of {service}"),
                );
                if !old_version.is_empty() && !version.is_empty() && old_version != version {
                    self.event(
                        t,
                        EventKind::VersionChanged,
                        service,
                        id,
                        format!("{service} version {old_version} → {version}"),
                        format!("instance {id} ({version}) replaced {old_id} ({old_version}) of {service}"),
                    );
                }
            }
            None => self.event(
                t,
                EventKind::Appeared,
                service,
                id,
                format!("{service} {id} appeared"),
                format!("new instance {id} of {service} (version {version})"),
            ),
        }
    }
}
