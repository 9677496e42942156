//! Fuzzes the MIDI reader: any bytes must parse or give an error, never panic, and whatever
//! parses must go through every stage (both vocabularies, packing, both writers) without
//! panicking either.
#![no_main]

use antiphon::tokens::events::encode_events;
use antiphon::tokens::packing::LinePacker;
use antiphon::tokens::writer::{write_events, write_reference, WriteOptions};
use antiphon::tokens::{SplitMix64, Tokenizer, VocabSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for spec in [VocabSpec::amt(), VocabSpec::beats()] {
        let mut tok = Tokenizer::new(spec.clone());
        let Ok(file) = tok.read_midi(data) else {
            continue;
        };
        // Downstream stages must accept whatever the reader produced.
        let triples = encode_events(&spec, &file.events).expect("reader output encodes");
        let _ = write_reference(&spec, &triples);
        let _ = write_events(&spec, &file.events, &WriteOptions::for_spec(&spec));
        let mut rng = SplitMix64::new(0);
        if let Ok(prepared) = tok.prepare_training(data, 2, &mut rng) {
            let mut packer = LinePacker::new(spec.clone());
            for s in &prepared.sequences {
                packer.push(s.flag, &s.tokens, |_| {});
            }
        }
    }
});
