//! Puts the rounds of the shared history back together from their messages, as the stream gives them out: chunks in order, at most one unfinished round per kind, a round missing a chunk given out as partial; pure, no I/O.

use super::{decode, header, Header, Kind, Records, WireError};

/// A round put together from its messages (kept as they came: decoding borrows from them).
#[derive(Clone, Debug, PartialEq)]
pub struct Round<B> {
    pub kind: Kind,
    pub t: i64,
    /// Some chunks never came (a newer round of the same kind came first).
    pub partial: bool,
    /// The round's messages, in chunk order.
    messages: Vec<B>,
}

impl<B: AsRef<[u8]>> Round<B> {
    /// The records of every message, in chunk order, and how many messages were rejected
    /// (skipped: the rest of the round still counts).
    pub fn decode(&self) -> (Records<&str>, usize) {
        let mut records = Records::empty(self.kind);
        let mut rejected = 0;
        for m in &self.messages {
            match decode(m.as_ref()) {
                Ok(chunk) if chunk.header.kind == self.kind => records.extend(chunk.records),
                _ => rejected += 1,
            }
        }
        (records, rejected)
    }

    /// Messages in this round.
    pub fn messages(&self) -> usize {
        self.messages.len()
    }
}

/// Puts rounds together from their messages. Holds at most one unfinished round per kind: when
/// a message of a newer round arrives, the unfinished one is given out as partial.
#[derive(Debug)]
pub struct Assembler<B> {
    pending: Vec<(Header, Vec<Option<B>>)>,
    /// Bytes held in unfinished rounds, and the most they may hold together.
    held: usize,
    max_held: usize,
}

impl<B> Default for Assembler<B> {
    fn default() -> Self {
        Self::with_limit(usize::MAX)
    }
}

impl<B> Assembler<B> {
    /// An assembler that holds at most `max_held` bytes of unfinished rounds (counted in the
    /// reader's memory budget): a round that would need more is given out as partial.
    pub fn with_limit(max_held: usize) -> Self {
        Self {
            pending: Vec::new(),
            held: 0,
            max_held,
        }
    }
}

fn round<B>(h: Header, chunks: Vec<Option<B>>) -> Round<B> {
    let partial = chunks.iter().any(Option::is_none);
    Round {
        kind: h.kind,
        t: h.t,
        partial,
        messages: chunks.into_iter().flatten().collect(),
    }
}

impl<B: AsRef<[u8]>> Assembler<B> {
    /// Add one message; returns the rounds it completes (a partial older one, then this one),
    /// or why its header was rejected (its records are read when its round is decoded).
    pub fn push(&mut self, message: B) -> Result<Vec<Round<B>>, WireError> {
        let h = header(message.as_ref())?;
        let size = message.as_ref().len();
        let mut out = Vec::new();
        if let Some(i) = self.pending.iter().position(|(p, _)| {
            p.kind == h.kind && (p.t != h.t || p.count != h.count || self.held.saturating_add(size) > self.max_held)
        }) {
            let (p, chunks) = self.pending.swap_remove(i);
            self.held = self
                .held
                .saturating_sub(chunks.iter().flatten().map(|c| c.as_ref().len()).sum());
            out.push(round(p, chunks));
        }
        if h.count == 1 {
            out.push(round(h, vec![Some(message)]));
            return Ok(out);
        }
        let i = match self.pending.iter().position(|(p, _)| p.kind == h.kind) {
            Some(i) => i,
            None => {
                let slots = usize::try_from(h.count).unwrap_or(0);
                self.pending.push((h, (0..slots).map(|_| None).collect()));
                self.pending.len() - 1
            }
        };
        let index = usize::try_from(h.index).unwrap_or(usize::MAX);
        let chunks = &mut self.pending[i].1;
        if let Some(slot @ None) = chunks.get_mut(index) {
            *slot = Some(message);
            self.held = self.held.saturating_add(size);
        }
        if chunks.iter().all(Option::is_some) {
            let (p, chunks) = self.pending.swap_remove(i);
            self.held = self
                .held
                .saturating_sub(chunks.iter().flatten().map(|c| c.as_ref().len()).sum());
            out.push(round(p, chunks));
        }
        Ok(out)
    }

    /// Bytes held in unfinished rounds.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// Messages held in unfinished rounds.
    pub fn pending_messages(&self) -> usize {
        self.pending.iter().map(|(_, c)| c.iter().flatten().count()).sum()
    }
}
