//! `Tokenizer`: sequences the stages for one vocabulary (STYLE 7). It owns no logic of its own.
//!
//! MIDI bytes → [`midi::parse`] → [`NoteReader`] → [`midi::to_compound`] →
//! [`midi::compound_to_events`] → [`VocabSpec::encode_event`], and back through
//! [`writer::write_events`]; notes in beats through [`notes`].

use thiserror::Error;

use super::events::{self, Event, EventError, TokenId, Triple, TripleKind};
use super::midi::{self, CompoundNote, MidiError, MidiInfo, NoteReader, NoteSource, PlayedNote};
use super::notes::{self, Note, NotesError};
#[cfg(feature = "training")]
use super::packing::{self, AugmentConfig, PackConfig, PackError, PreparedFile};
#[cfg(feature = "training")]
use super::rng::SplitMix64;
use super::vocab::VocabSpec;
use super::writer::{self, ProductMidi, WriteError, WriteOptions};

/// Any stage's error.
#[derive(Debug, Error)]
pub enum TokenizerError {
    /// Reading MIDI.
    #[error(transparent)]
    Midi(#[from] MidiError),
    /// Encoding or decoding triples.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Converting notes.
    #[error(transparent)]
    Notes(#[from] NotesError),
    /// Writing MIDI.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Packing training lines.
    #[cfg(feature = "training")]
    #[error(transparent)]
    Pack(#[from] PackError),
}

/// A file read into a vocabulary: compound records, events, and what the header said.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadFile {
    /// Header facts and length.
    pub info: MidiInfo,
    /// Compound records (SPEC §3.3), velocity included.
    pub compound: Vec<CompoundNote>,
    /// Events (SPEC §3.4).
    pub events: Vec<Event>,
    /// Durations clipped when making the events.
    pub duration_truncations: usize,
    /// Where each event came from (track, program), parallel to `events`.
    pub sources: Vec<NoteSource>,
}

/// The stages for one vocabulary, with reusable scratch buffers.
#[derive(Debug)]
pub struct Tokenizer {
    /// The vocabulary.
    spec: VocabSpec,
    /// Filter and task constants for training lines.
    #[cfg(feature = "training")]
    pack_config: PackConfig,
    /// Note pairing buffers, reused across files.
    reader: NoteReader,
    /// Played notes of the last file, reused.
    played: Vec<PlayedNote>,
}

impl Tokenizer {
    /// A tokenizer for `spec`, with the packing constants of its kind.
    pub fn new(spec: VocabSpec) -> Tokenizer {
        Tokenizer {
            #[cfg(feature = "training")]
            pack_config: PackConfig::for_spec(&spec),
            spec,
            reader: NoteReader::new(),
            played: Vec::new(),
        }
    }

    /// The vocabulary.
    pub fn spec(&self) -> &VocabSpec {
        &self.spec
    }

    /// The packing constants.
    #[cfg(feature = "training")]
    pub fn pack_config(&self) -> &PackConfig {
        &self.pack_config
    }

    /// MIDI bytes → compound records and events (SPEC §3).
    pub fn read_midi(&mut self, bytes: &[u8]) -> Result<ReadFile, TokenizerError> {
        let stream = midi::parse(bytes)?;
        self.played.clear();
        self.reader
            .read_notes(&stream, midi::pairing_for(&self.spec), &mut self.played);
        let mut compound = Vec::with_capacity(self.played.len());
        midi::to_compound(&self.spec, stream.info(), &self.played, &mut compound)?;
        let mut events = Vec::with_capacity(compound.len());
        let duration_truncations = midi::compound_to_events(&self.spec, &compound, &mut events);
        // `to_compound` and `compound_to_events` keep one record per played note, in order.
        debug_assert_eq!(events.len(), self.played.len());
        let sources = self.played.iter().map(PlayedNote::source).collect();
        Ok(ReadFile {
            info: *stream.info(),
            compound,
            events,
            duration_truncations,
            sources,
        })
    }

    /// MIDI bytes → event ids, appended to `out` (SPEC `midi_to_events`).
    pub fn midi_to_ids(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<TokenId>,
    ) -> Result<(), TokenizerError> {
        let file = self.read_midi(bytes)?;
        events::encode_into(&self.spec, &file.events, out)?;
        Ok(())
    }

    /// Notes in beats → event triples (tempo used by `amt` only).
    pub fn notes_to_triples(
        &self,
        notes: &[Note],
        tempo_bpm: f64,
    ) -> Result<Vec<Triple>, TokenizerError> {
        let ev = notes::notes_to_events(&self.spec, notes, tempo_bpm)?;
        Ok(events::encode_events(&self.spec, &ev)?)
    }

    /// Triples → notes in beats: events only (REST, controls and separators are skipped).
    pub fn triples_to_notes(
        &self,
        triples: &[Triple],
        tempo_bpm: f64,
        velocity: u8,
    ) -> Result<Vec<Note>, TokenizerError> {
        let mut ev = Vec::with_capacity(triples.len());
        for t in triples {
            if let TripleKind::Event(e) = self.spec.classify(t)? {
                ev.push(e);
            }
        }
        Ok(notes::events_to_notes(
            &self.spec, &ev, tempo_bpm, velocity,
        )?)
    }

    /// Events → a MIDI file with the product writer.
    pub fn events_to_midi(
        &self,
        events: &[Event],
        opts: &WriteOptions,
    ) -> Result<ProductMidi, TokenizerError> {
        Ok(writer::write_events(&self.spec, events, opts)?)
    }

    /// Triples → a MIDI file with the reference writer (SPEC §4, byte-compatible).
    pub fn triples_to_reference_midi(&self, triples: &[Triple]) -> Result<Vec<u8>, TokenizerError> {
        Ok(writer::write_reference(&self.spec, triples)?)
    }

    /// MIDI bytes → the file's training sequences (SPEC §7.1–7.2), `augment` of them.
    #[cfg(feature = "training")]
    pub fn prepare_training(
        &mut self,
        bytes: &[u8],
        augment: usize,
        rng: &mut SplitMix64,
    ) -> Result<PreparedFile, TokenizerError> {
        let file = self.read_midi(bytes)?;
        Ok(packing::prepare_file(
            &self.spec,
            &self.pack_config,
            &file.events,
            file.duration_truncations,
            augment,
            rng,
        )?)
    }

    /// Like [`Tokenizer::prepare_training`] with transposition and the accompaniment task
    /// ([`AugmentConfig`]); with `AugmentConfig::plain(augment)` the output is the same.
    #[cfg(feature = "training")]
    pub fn prepare_training_with(
        &mut self,
        bytes: &[u8],
        augment: &AugmentConfig,
        rng: &mut SplitMix64,
    ) -> Result<PreparedFile, TokenizerError> {
        let file = self.read_midi(bytes)?;
        Ok(packing::prepare_file_with(
            &self.spec,
            &self.pack_config,
            &file.events,
            &file.sources,
            file.duration_truncations,
            augment,
            rng,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::GmInstrument;

    #[test]
    fn notes_survive_tokens_and_midi_in_beats() {
        let mut tok = Tokenizer::new(VocabSpec::beats());
        let notes = [
            Note {
                onset_beats: 0.0,
                duration_beats: 1.0,
                pitch: 60,
                instrument: GmInstrument::Program(40),
                velocity: 72,
            },
            Note {
                onset_beats: 0.5,
                duration_beats: 0.25,
                pitch: 36,
                instrument: GmInstrument::Drums,
                velocity: 72,
            },
        ];
        let triples = tok.notes_to_triples(&notes, 90.0).unwrap();
        assert_eq!(tok.triples_to_notes(&triples, 90.0, 72).unwrap(), notes);
        let events: Vec<Event> = triples
            .iter()
            .map(|t| match tok.spec().classify(t).unwrap() {
                TripleKind::Event(e) => e,
                other => panic!("{other:?}"),
            })
            .collect();
        let midi = tok
            .events_to_midi(&events, &WriteOptions::for_spec(tok.spec()))
            .unwrap();
        assert_eq!(tok.read_midi(&midi.bytes).unwrap().events, events);
    }

    #[test]
    fn garbage_bytes_are_an_error() {
        let mut tok = Tokenizer::new(VocabSpec::amt());
        assert!(matches!(
            tok.read_midi(b"not a midi file at all"),
            Err(TokenizerError::Midi(MidiError::NotMidi))
        ));
    }
}
