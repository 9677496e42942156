//! Worker thread: notes to and from the answer saved with a project.

use antiphon_core::saved::SavedNote;
use antiphon_tokens::{GmInstrument, Note};

/// `note` as saved, starting at `onset_beats`.
pub fn saved(note: &Note, onset_beats: f64) -> SavedNote {
    SavedNote {
        onset_beats,
        duration_beats: note.duration_beats,
        key: note.pitch,
        velocity: note.velocity,
        program: match note.instrument {
            GmInstrument::Program(p) => p,
            GmInstrument::Drums => 128,
        },
    }
}

/// The note a saved note stands for, in song beats.
pub fn unsaved(note: &SavedNote) -> Note {
    Note {
        onset_beats: note.onset_beats,
        duration_beats: note.duration_beats,
        pitch: note.key,
        instrument: if note.program >= 128 {
            GmInstrument::Drums
        } else {
            GmInstrument::Program(note.program)
        },
        velocity: note.velocity.max(1),
    }
}
