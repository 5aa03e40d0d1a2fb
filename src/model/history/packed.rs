//! Packed sample series of the memory store: points in blocks of bits, each point coded against the one before (round numbers and counters as delta-of-delta, RTT as a delta at 10 µs), so a steady series costs a few bits per sample; pure, no I/O.
//!
//! A point is stored with the sequence number of its round (see [`super::History`]'s ledger),
//! not its time: rounds line up across series, so consecutive points of a series are usually a
//! constant number of rounds apart and that costs one bit. A block starts with its first point
//! in full and holds at most [`BLOCK_POINTS`]; only the newest block grows (by a few bytes at a
//! time), the others are sealed at their exact size. Trimming drops whole blocks, and re-codes
//! the oldest block without its expired points once an eighth of it has expired.

use std::collections::VecDeque;
use std::mem::size_of;

/// Points per block.
pub const BLOCK_POINTS: u16 = 120;

/// A growing string of bits (most significant first).
#[derive(Clone, Debug, Default)]
struct Bits {
    bytes: Vec<u8>,
    len: u32,
}

impl Bits {
    fn push(&mut self, value: u64, mut n: u32) {
        while n > 0 {
            let used = self.len % 8;
            if used == 0 {
                if self.bytes.len() == self.bytes.capacity() {
                    self.bytes.reserve_exact(8);
                }
                self.bytes.push(0);
            }
            let free = 8 - used;
            let k = free.min(n);
            let chunk = ((value >> (n - k)) & ((1u64 << k) - 1)) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= chunk << (free - k);
            self.len += k;
            n -= k;
        }
    }

    /// A signed value: `0` for zero, else a prefix choosing 7, 14, 24 or 64 bits of its zig-zag code.
    fn signed(&mut self, v: i64) {
        let z = ((v << 1) ^ (v >> 63)) as u64;
        match z {
            0 => self.push(0, 1),
            z if z < 1 << 7 => {
                self.push(0b10, 2);
                self.push(z, 7);
            }
            z if z < 1 << 14 => {
                self.push(0b110, 3);
                self.push(z, 14);
            }
            z if z < 1 << 24 => {
                self.push(0b1110, 4);
                self.push(z, 24);
            }
            z => {
                self.push(0b1111, 4);
                self.push(z, 64);
            }
        }
    }
}

/// Reads a [`Bits`]; `None` past its end.
struct Reader<'a> {
    bits: &'a Bits,
    pos: u32,
}

impl Reader<'_> {
    fn take(&mut self, mut n: u32) -> Option<u64> {
        if self.pos + n > self.bits.len {
            return None;
        }
        let mut v = 0u64;
        while n > 0 {
            let byte = self.bits.bytes[(self.pos / 8) as usize];
            let used = self.pos % 8;
            let k = (8 - used).min(n);
            let chunk = (byte >> (8 - used - k)) & ((1u16 << k) - 1) as u8;
            v = (v << k) | u64::from(chunk);
            self.pos += k;
            n -= k;
        }
        Some(v)
    }

    fn signed(&mut self) -> Option<i64> {
        let mut ones = 0;
        while ones < 4 && self.take(1)? == 1 {
            ones += 1;
        }
        let z = match ones {
            0 => return Some(0),
            1 => self.take(7)?,
            2 => self.take(14)?,
            3 => self.take(24)?,
            _ => self.take(64)?,
        };
        Some(((z >> 1) as i64) ^ -((z & 1) as i64))
    }
}

/// How one kind of point is coded: in full (the first of a block), then against the previous
/// point with a running state (the previous deltas).
pub trait Codec: Copy + std::fmt::Debug {
    type State: Copy + Default + std::fmt::Debug;
    fn write(&self, prev: Option<&Self>, state: &mut Self::State, out: &mut BitsWriter<'_>);
    fn read(prev: Option<&Self>, state: &mut Self::State, r: &mut BitsReader<'_, '_>) -> Option<Self>;
}

/// What a [`Codec`] writes with.
pub struct BitsWriter<'a>(&'a mut Bits);

impl BitsWriter<'_> {
    pub fn bits(&mut self, value: u64, n: u32) {
        self.0.push(value, n);
    }

    pub fn signed(&mut self, v: i64) {
        self.0.signed(v);
    }

    /// `v - prev` as a delta of the previous delta `last` (updated).
    pub fn counter(&mut self, v: u64, prev: u64, last: &mut i64) {
        let delta = v.wrapping_sub(prev) as i64;
        self.0.signed(delta.wrapping_sub(*last));
        *last = delta;
    }
}

/// What a [`Codec`] reads with.
pub struct BitsReader<'a, 'b>(&'a mut Reader<'b>);

impl BitsReader<'_, '_> {
    pub fn bits(&mut self, n: u32) -> Option<u64> {
        self.0.take(n)
    }

    pub fn signed(&mut self) -> Option<i64> {
        self.0.signed()
    }

    /// The inverse of [`BitsWriter::counter`].
    pub fn counter(&mut self, prev: u64, last: &mut i64) -> Option<u64> {
        let delta = last.wrapping_add(self.0.signed()?);
        *last = delta;
        Some(prev.wrapping_add(delta as u64))
    }
}

#[derive(Clone, Debug, Default)]
struct Block {
    first_seq: u64,
    last_seq: u64,
    n: u16,
    bits: Bits,
}

/// The last point of a series and the coding state after it, to append the next one.
#[derive(Clone, Copy, Debug)]
struct Tail<C: Codec> {
    seq: u64,
    seq_delta: i64,
    point: C,
    state: C::State,
}

/// One packed series of points, each tagged with its round's sequence number.
#[derive(Clone, Debug)]
pub struct Packed<C: Codec> {
    blocks: VecDeque<Block>,
    tail: Option<Tail<C>>,
    len: usize,
    /// [`Packed::bytes`], kept up to date by every change.
    heap: usize,
}

impl<C: Codec> Default for Packed<C> {
    fn default() -> Self {
        Self {
            blocks: VecDeque::new(),
            tail: None,
            len: 0,
            heap: 0,
        }
    }
}

fn append<C: Codec>(block: &mut Block, tail: Option<&Tail<C>>, seq: u64, point: &C) -> Tail<C> {
    let mut w = BitsWriter(&mut block.bits);
    let next = match tail {
        Some(t) => {
            let seq_delta = seq.wrapping_sub(t.seq) as i64;
            w.signed(seq_delta.wrapping_sub(t.seq_delta));
            let mut state = t.state;
            point.write(Some(&t.point), &mut state, &mut w);
            Tail {
                seq,
                seq_delta,
                point: *point,
                state,
            }
        }
        None => {
            w.bits(seq, 64);
            let mut state = C::State::default();
            point.write(None, &mut state, &mut w);
            block.first_seq = seq;
            Tail {
                seq,
                seq_delta: 0,
                point: *point,
                state,
            }
        }
    };
    block.last_seq = seq;
    block.n += 1;
    next
}

/// Decode a block's points into `out`; returns the coding state after its last point (`None`
/// for an empty block, or when its bits end early).
fn decode<C: Codec>(block: &Block, out: &mut Vec<(u64, C)>) -> Option<Tail<C>> {
    let mut reader = Reader {
        bits: &block.bits,
        pos: 0,
    };
    let mut tail: Option<Tail<C>> = None;
    for _ in 0..block.n {
        let mut r = BitsReader(&mut reader);
        let next = match &tail {
            None => {
                let seq = r.bits(64)?;
                let mut state = C::State::default();
                let point = C::read(None, &mut state, &mut r)?;
                Tail {
                    seq,
                    seq_delta: 0,
                    point,
                    state,
                }
            }
            Some(t) => {
                let dod = r.signed()?;
                let seq_delta = t.seq_delta.wrapping_add(dod);
                let mut state = t.state;
                let point = C::read(Some(&t.point), &mut state, &mut r)?;
                Tail {
                    seq: t.seq.wrapping_add(seq_delta as u64),
                    seq_delta,
                    point,
                    state,
                }
            }
        };
        out.push((next.seq, next.point));
        tail = Some(next);
    }
    tail
}

/// One block as the store holds it (what a checkpoint copies): its first and last round, its
/// point count, and its bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawBlock<B> {
    pub first_seq: u64,
    pub last_seq: u64,
    pub n: u16,
    /// Bits used (the last byte may be partly used).
    pub bits: u32,
    pub bytes: B,
}

impl<C: Codec> Packed<C> {
    /// Points held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The newest point and its round.
    pub fn last(&self) -> Option<(u64, C)> {
        self.tail.map(|t| (t.seq, t.point))
    }

    /// Heap bytes held (block list and every block's bits, spare capacity included).
    pub fn bytes(&self) -> usize {
        self.heap
    }

    fn count_bytes(&self) -> usize {
        self.blocks.capacity() * size_of::<Block>() + self.blocks.iter().map(|b| b.bits.bytes.capacity()).sum::<usize>()
    }

    /// Append a point of round `seq` (rounds only grow); returns the change in [`Packed::bytes`].
    pub fn push(&mut self, seq: u64, point: C) -> isize {
        let before = self.heap;
        let full = self.blocks.back().is_none_or(|b| b.n >= BLOCK_POINTS);
        if full {
            if let Some(b) = self.blocks.back_mut() {
                let had = b.bits.bytes.capacity();
                b.bits.bytes.shrink_to_fit();
                self.heap = self.heap + b.bits.bytes.capacity() - had;
            }
            let had = self.blocks.capacity();
            if self.blocks.len() == had {
                self.blocks.reserve_exact(1);
            }
            self.blocks.push_back(Block::default());
            self.heap += (self.blocks.capacity() - had) * size_of::<Block>();
        }
        let tail = if full { None } else { self.tail };
        if let Some(block) = self.blocks.back_mut() {
            let had = block.bits.bytes.capacity();
            self.tail = Some(append(block, tail.as_ref(), seq, &point));
            self.heap = self.heap + block.bits.bytes.capacity() - had;
            self.len += 1;
        }
        self.heap as isize - before as isize
    }

    /// Every point, oldest first.
    pub fn points(&self) -> Vec<(u64, C)> {
        self.points_from(0)
    }

    /// The points of rounds from `seq` on, plus at least the one before (blocks that end
    /// earlier are not decoded).
    pub fn points_from(&self, seq: u64) -> Vec<(u64, C)> {
        let skip = self.blocks.partition_point(|b| b.last_seq < seq).saturating_sub(1);
        let mut out = Vec::new();
        for b in self.blocks.range(skip..) {
            decode(b, &mut out);
        }
        out
    }

    /// The blocks as they are held, oldest first.
    pub fn raw_blocks(&self) -> impl Iterator<Item = RawBlock<&[u8]>> {
        self.blocks.iter().map(|b| RawBlock {
            first_seq: b.first_seq,
            last_seq: b.last_seq,
            n: b.n,
            bits: b.bits.len,
            bytes: b.bits.bytes.as_slice(),
        })
    }

    /// A series rebuilt from its blocks (a checkpoint), or `None` when they break a rule of the
    /// store: each block holds 1 to [`BLOCK_POINTS`] points in its bits, blocks follow each
    /// other in round order, and the newest decodes to its count and its last round (its coding
    /// state is where the next point continues).
    pub fn from_raw(raw: Vec<RawBlock<Vec<u8>>>) -> Option<Self> {
        let mut blocks = VecDeque::with_capacity(raw.len());
        let mut after: Option<u64> = None;
        for r in raw {
            let fits =
                u64::from(r.bits) <= r.bytes.len() as u64 * 8 && r.bytes.len() as u64 * 8 < u64::from(r.bits) + 8;
            if r.n == 0
                || r.n > BLOCK_POINTS
                || !fits
                || r.first_seq > r.last_seq
                || after.is_some_and(|a| r.first_seq <= a)
            {
                return None;
            }
            after = Some(r.last_seq);
            blocks.push_back(Block {
                first_seq: r.first_seq,
                last_seq: r.last_seq,
                n: r.n,
                bits: Bits {
                    bytes: r.bytes,
                    len: r.bits,
                },
            });
        }
        let tail = match blocks.back() {
            Some(last) => {
                let mut points = Vec::with_capacity(usize::from(last.n));
                let tail = decode::<C>(last, &mut points)?;
                if points.len() != usize::from(last.n) || tail.seq != last.last_seq {
                    return None;
                }
                Some(tail)
            }
            None => None,
        };
        let mut packed = Self {
            len: blocks.iter().map(|b| usize::from(b.n)).sum(),
            blocks,
            tail,
            heap: 0,
        };
        packed.heap = packed.count_bytes();
        Some(packed)
    }

    /// Drop the points of rounds up to `floor_seq`; returns the change in [`Packed::bytes`]
    /// (re-coding the oldest block puts its new first point in full, so it can even grow).
    pub fn trim(&mut self, floor_seq: u64) -> isize {
        let before = self.heap;
        if self.blocks.front().is_none_or(|b| b.first_seq > floor_seq) {
            return 0;
        }
        while self.blocks.front().is_some_and(|b| b.last_seq <= floor_seq) {
            if let Some(b) = self.blocks.pop_front() {
                self.len -= usize::from(b.n);
            }
        }
        let only = self.blocks.len() == 1;
        // Re-code the oldest block only once an eighth of its span has expired: until then its
        // expired points stay (readers skip rounds the ledger no longer holds), and the cost of
        // re-coding is spread over many rounds.
        let due = |b: &Block| {
            b.first_seq <= floor_seq
                && (floor_seq - b.first_seq).saturating_add(1).saturating_mul(8)
                    >= b.last_seq.saturating_sub(b.first_seq).saturating_add(1).max(8)
        };
        if let Some(front) = self.blocks.front_mut().filter(|b| due(b)) {
            let mut points = Vec::with_capacity(usize::from(front.n));
            decode::<C>(front, &mut points);
            let mut fresh = Block::default();
            let mut tail = None;
            let mut kept = 0;
            for (seq, p) in points.iter().filter(|(s, _)| *s > floor_seq) {
                tail = Some(append(&mut fresh, tail.as_ref(), *seq, p));
                kept += 1;
            }
            fresh.bits.bytes.shrink_to_fit();
            self.len -= usize::from(front.n) - kept;
            *front = fresh;
            if only {
                self.tail = tail;
            }
        }
        if self.blocks.is_empty() {
            self.tail = None;
            self.blocks = VecDeque::new();
        } else if self.blocks.capacity() > self.blocks.len() + 2 {
            self.blocks.shrink_to_fit();
        }
        self.heap = self.count_bytes();
        self.heap as isize - before as isize
    }
}

#[cfg(test)]
mod tests;
