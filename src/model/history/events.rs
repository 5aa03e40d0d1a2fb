//! What the history observes happening to an instance between two samples: it appeared, disappeared, restarted or changed its version.

use std::mem::size_of;

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
