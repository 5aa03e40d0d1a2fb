//! Fuzz target: any bytes as messages of the shared JetStream history (round chunks, put together by the assembler) and as a checkpoint. Decoding must never panic, unfinished rounds stay within the assembler's limit, and a restored checkpoint can be read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natsmicro::model::history::wire::{decode, Assembler};
use natsmicro::model::history::History;

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
    let mut assembler = Assembler::with_limit(LIMIT);
    for message in data.split(|b| *b == 0xfe).take(64) {
        if let Ok(rounds) = assembler.push(message) {
            for round in rounds {
                let _ = round.decode();
            }
        }
        assert!(assembler.held_bytes() <= LIMIT);
    }
    if let Ok((history, _mark)) = History::restore(data, 3_600_000, 1 << 20) {
        let view = history.unpacked();
        assert_eq!(view.samples(), history.samples());
    }
});
