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
}

impl<B> Default for Assembler<B> {
    fn default() -> Self {
        Self { pending: Vec::new() }
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
        let mut out = Vec::new();
        if let Some(i) = self
            .pending
            .iter()
            .position(|(p, _)| p.kind == h.kind && (p.t != h.t || p.count != h.count))
        {
            let (p, chunks) = self.pending.swap_remove(i);
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
        }
        if chunks.iter().all(Option::is_some) {
            let (p, chunks) = self.pending.swap_remove(i);
            out.push(round(p, chunks));
        }
        Ok(out)
    }

    /// Messages held in unfinished rounds.
    pub fn pending_messages(&self) -> usize {
        self.pending.iter().map(|(_, c)| c.iter().flatten().count()).sum()
    }
}
