//! Notes in beats ⇄ events of a vocabulary: the boundary the engine uses.
//!
//! The engine knows musical time (quarter notes from the host, DESIGN §3); vocabularies count
//! seconds (`amt`) or quarter-note ticks (`beats`). For `amt` a tempo is needed: this module
//! assumes **one constant tempo** over the notes given (`tempo_bpm`, quarter notes per
//! minute); a caller with a tempo map converts piecewise. `beats` ignores the tempo.

use thiserror::Error;

use super::events::Event;
use super::vocab::{VocabKind, VocabSpec};

/// What plays a note, in General MIDI terms (independent of any vocabulary).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GmInstrument {
    /// A melodic GM program 0–127.
    Program(u8),
    /// The drum kit on MIDI channel 10.
    Drums,
}

/// A note in musical time, as the engine and the host see it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Note {
    /// Onset in quarter notes from the start of the phrase or song (≥ 0).
    pub onset_beats: f64,
    /// Length in quarter notes (≥ 0).
    pub duration_beats: f64,
    /// MIDI key 0–127.
    pub pitch: u8,
    /// What plays it.
    pub instrument: GmInstrument,
    /// Velocity 1–127 (not in the vocabulary: kept by the caller, DESIGN §4).
    pub velocity: u8,
}

/// Errors of converting notes to events.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NotesError {
    /// The tempo is not a positive finite number.
    #[error("tempo {0} bpm is not a positive finite number")]
    BadTempo(f64),
    /// A note with a negative or non-finite onset or duration.
    #[error("note {index}: onset {onset_beats} / duration {duration_beats} beats is not a time")]
    BadTime {
        /// Index of the note in the input.
        index: usize,
        /// Its onset.
        onset_beats: f64,
        /// Its duration.
        duration_beats: f64,
    },
    /// A pitch the vocabulary cannot express.
    #[error("note {index}: pitch {pitch} is not below {max_pitch}")]
    BadPitch {
        /// Index of the note in the input.
        index: usize,
        /// The pitch.
        pitch: u8,
        /// The vocabulary's limit.
        max_pitch: u32,
    },
    /// An onset beyond the longest supported time.
    #[error("note {index}: onset is beyond the longest supported time")]
    TooLate {
        /// Index of the note in the input.
        index: usize,
    },
}

/// Vocabulary ticks per quarter note at `tempo_bpm` (`beats`: `ticks_per_unit`; `amt`:
/// `ticks_per_unit · 60 / bpm`).
pub fn ticks_per_beat(spec: &VocabSpec, tempo_bpm: f64) -> f64 {
    match spec.kind() {
        VocabKind::Beats => spec.ticks_per_unit() as f64,
        VocabKind::Amt => spec.ticks_per_unit() as f64 * 60.0 / tempo_bpm,
    }
}

/// Rounds a time in vocabulary ticks: half to even for `amt` (as SPEC §3.3 rounds the clock),
/// nearest with ties up for `beats` (as the beats MIDI reader quantizes).
fn round_ticks(spec: &VocabSpec, ticks: f64) -> f64 {
    match spec.kind() {
        VocabKind::Amt => ticks.round_ties_even(),
        VocabKind::Beats => (ticks + 0.5).floor(),
    }
}

/// The instrument code of a GM instrument in `spec`.
pub fn instrument_code(spec: &VocabSpec, instrument: GmInstrument) -> u32 {
    match instrument {
        GmInstrument::Drums => spec.drum_instrument(),
        GmInstrument::Program(p) => spec.instrument_of_program(p),
    }
}

/// The GM instrument that plays a code of `spec` (its representative program for `beats`).
pub fn gm_instrument(spec: &VocabSpec, code: u32) -> GmInstrument {
    match spec.program_of_instrument(code) {
        Some(p) => GmInstrument::Program(p),
        None => GmInstrument::Drums,
    }
}

/// Converts notes to events, sorted by onset (stable: simultaneous notes keep input order).
///
/// Onset and duration are rounded as a MIDI file would be read: `amt` rounds the duration on
/// its own (SPEC §3.3 takes it from the float difference), `beats` rounds the note's end to the
/// grid and subtracts the rounded onset. Durations are clipped to `max_duration − 1`.
pub fn notes_to_events(
    spec: &VocabSpec,
    notes: &[Note],
    tempo_bpm: f64,
) -> Result<Vec<Event>, NotesError> {
    if !(tempo_bpm.is_finite() && tempo_bpm > 0.0) {
        return Err(NotesError::BadTempo(tempo_bpm));
    }
    let tpb = ticks_per_beat(spec, tempo_bpm);
    let mut out = Vec::with_capacity(notes.len());
    for (index, n) in notes.iter().enumerate() {
        if !(n.onset_beats.is_finite()
            && n.duration_beats.is_finite()
            && n.onset_beats >= 0.0
            && n.duration_beats >= 0.0)
        {
            return Err(NotesError::BadTime {
                index,
                onset_beats: n.onset_beats,
                duration_beats: n.duration_beats,
            });
        }
        if n.pitch as u32 >= spec.max_pitch() {
            return Err(NotesError::BadPitch {
                index,
                pitch: n.pitch,
                max_pitch: spec.max_pitch(),
            });
        }
        let onset = round_ticks(spec, n.onset_beats * tpb);
        if onset >= spec.max_abs_time_ticks() as f64 {
            return Err(NotesError::TooLate { index });
        }
        let duration = match spec.kind() {
            VocabKind::Amt => round_ticks(spec, n.duration_beats * tpb),
            VocabKind::Beats => round_ticks(spec, (n.onset_beats + n.duration_beats) * tpb) - onset,
        };
        let duration = duration.clamp(0.0, (spec.max_duration() - 1) as f64);
        out.push(Event {
            onset_ticks: onset as u32,
            duration_ticks: duration as u32,
            instrument: instrument_code(spec, n.instrument),
            pitch: n.pitch as u32,
        });
    }
    out.sort_by_key(|e| e.onset_ticks);
    Ok(out)
}

/// Converts events back to notes at `tempo_bpm` (ignored for `beats`), all with `velocity`.
/// Instruments become their representative GM program, or drums.
pub fn events_to_notes(
    spec: &VocabSpec,
    events: &[Event],
    tempo_bpm: f64,
    velocity: u8,
) -> Result<Vec<Note>, NotesError> {
    if !(tempo_bpm.is_finite() && tempo_bpm > 0.0) {
        return Err(NotesError::BadTempo(tempo_bpm));
    }
    let tpb = ticks_per_beat(spec, tempo_bpm);
    Ok(events
        .iter()
        .map(|e| Note {
            onset_beats: e.onset_ticks as f64 / tpb,
            duration_beats: e.duration_ticks as f64 / tpb,
            pitch: e.pitch.min(127) as u8,
            instrument: gm_instrument(spec, e.instrument),
            velocity,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(onset_beats: f64, duration_beats: f64, program: u8) -> Note {
        Note {
            onset_beats,
            duration_beats,
            pitch: 60,
            instrument: GmInstrument::Program(program),
            velocity: 90,
        }
    }

    #[test]
    fn amt_converts_beats_to_seconds_at_the_given_tempo() {
        // 120 bpm: one beat = 0.5 s = 50 ticks.
        let ev = notes_to_events(&VocabSpec::amt(), &[note(2.0, 1.0, 40)], 120.0).unwrap();
        assert_eq!(
            (ev[0].onset_ticks, ev[0].duration_ticks, ev[0].instrument),
            (100, 50, 40)
        );
    }

    #[test]
    fn beats_ignores_tempo_and_folds_programs() {
        let spec = VocabSpec::beats();
        let a = notes_to_events(&spec, &[note(1.5, 0.25, 1)], 60.0).unwrap();
        let b = notes_to_events(&spec, &[note(1.5, 0.25, 1)], 180.0).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            (a[0].onset_ticks, a[0].duration_ticks, a[0].instrument),
            (18, 3, 0)
        );
    }

    #[test]
    fn long_notes_clip_to_max_duration() {
        let ev = notes_to_events(&VocabSpec::beats(), &[note(0.0, 100.0, 0)], 120.0).unwrap();
        assert_eq!(ev[0].duration_ticks, VocabSpec::beats().max_duration() - 1);
    }

    #[test]
    fn output_is_sorted_by_onset() {
        let ev = notes_to_events(
            &VocabSpec::beats(),
            &[note(2.0, 1.0, 0), note(1.0, 1.0, 40)],
            120.0,
        )
        .unwrap();
        assert_eq!(ev[0].onset_ticks, 12);
    }

    #[test]
    fn rejects_negative_time_and_bad_tempo() {
        assert!(notes_to_events(&VocabSpec::amt(), &[note(-1.0, 1.0, 0)], 120.0).is_err());
        assert!(notes_to_events(&VocabSpec::amt(), &[], 0.0).is_err());
    }

    #[test]
    fn events_come_back_as_representative_programs() {
        let spec = VocabSpec::beats();
        let ev = notes_to_events(&spec, &[note(1.0, 1.0, 41), note(1.0, 1.0, 3)], 100.0).unwrap();
        let back = events_to_notes(&spec, &ev, 100.0, 80).unwrap();
        assert_eq!(back[0].instrument, GmInstrument::Program(41));
        assert_eq!(back[1].instrument, GmInstrument::Program(0));
        assert_eq!(back[0].onset_beats, 1.0);
    }
}
