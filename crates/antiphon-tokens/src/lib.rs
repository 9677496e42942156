//! Tokens: the AMT-family vocabularies and every conversion to and from them.
//!
//! Pure: no I/O beyond byte slices, no threads, no other Antiphon crate. Called from the worker
//! thread, the CLI and tests alike; never from the audio thread (it allocates). Training lines
//! ([`packing`]) are built only with the `training` feature (the CLI's `tokenize`).
//!
//! The stages, one module each (STYLE 7), joined by [`Tokenizer`]:
//!
//! | module | does |
//! | --- | --- |
//! | [`vocab`] | [`VocabSpec`]: the layout, its presets `amt`, `amt_large`, `beats`, and its JSON |
//! | [`events`] | [`TokenId`], [`Triple`], [`Event`]: encoding and classifying triples |
//! | [`midi`] | MIDI bytes → merged stream → notes → compound records → events (SPEC §3) |
//! | [`writer`] | events → MIDI: the reference-compatible writer and the product writer (SPEC §4) |
//! | [`ops`] | sequence helpers of the reference (SPEC §5) |
//! | [`anticipation`] | interleaving controls and choosing them (SPEC §6) |
//! | [`packing`] | training lines with the task mix (SPEC §7), transposition, accompaniment |
//! | [`parts`] | choosing the melody part by track (the accompaniment task) |
//! | [`notes`] | notes in beats ⇄ events, for the engine |
//! | [`decoder`] | a streaming decoder for sampled ids |
//! | [`interarrival`] | the MIDI-like encoding of the interarrival baseline (SPEC §2.4) |
//!
//! The corpus files written by `antiphon tokenize` are described in `FORMAT.md` beside this
//! file.
//!
//! ```
//! use antiphon_tokens::{Tokenizer, VocabSpec, Note, GmInstrument, WriteOptions};
//!
//! let mut tok = Tokenizer::new(VocabSpec::beats());
//! let melody = [Note { onset_beats: 0.0, duration_beats: 1.0, pitch: 67,
//!                      instrument: GmInstrument::Program(73), velocity: 80 }];
//! let triples = tok.notes_to_triples(&melody, 120.0).unwrap();
//! assert_eq!(triples.len(), 1);
//! let notes = tok.triples_to_notes(&triples, 120.0, 80).unwrap();
//! assert_eq!(notes, melody);
//! ```

pub mod anticipation;
pub mod decoder;
pub mod events;
#[cfg(test)]
mod fixtures;
pub mod interarrival;
pub mod midi;
pub mod notes;
pub mod ops;
#[cfg(feature = "training")]
pub mod packing;
pub mod parts;
pub mod rng;
pub mod tokenizer;
pub mod vocab;
pub mod writer;

pub use anticipation::Anticipated;
pub use decoder::{DecodeError, Decoded, StreamDecoder};
pub use events::{encode_into, Event, EventError, TokenId, Triple, TripleKind};
pub use midi::{read_notes, CompoundNote, MidiError, MidiInfo, NoteSource};
pub use notes::{events_to_notes, notes_to_events, GmInstrument, Note, NotesError};
pub use ops::OpsError;
#[cfg(feature = "training")]
pub use packing::{AugmentConfig, FileStatus, LinePacker, PackConfig, PackError, LINE_TOKENS};
pub use rng::SplitMix64;
pub use tokenizer::{ReadFile, Tokenizer, TokenizerError};
pub use vocab::{InstrumentMap, TimeUnit, VocabError, VocabKind, VocabSpec};
pub use writer::{
    write_events, write_notes, write_reference, ProductMidi, WriteError, WriteOptions,
};
