//! Worker thread: the accompanied pass saved with a project, taken up again when the host
//! plays the same window (a project reopened, a loop restarted), and notes to and from it.

use super::*;
use antiphon_core::messages::Status;
use antiphon_core::saved::SavedNote;

/// An accompanied pass as saved with the project, relative to its start.
pub(super) struct SavedPass {
    pub(super) start: f64,
    pub(super) len: f64,
    pub(super) heard: Vec<Note>,
    pub(super) answer: Vec<Note>,
}

/// Whether the host loops over the window `start`, `len` (beats).
pub(super) fn loops_over(status: &Status, start: f64, len: f64) -> bool {
    let transport = status.transport.read();
    let (ls, le) = (transport.loop_start_beats, transport.loop_end_beats);
    transport.loop_active
        && ls <= start + EPSILON_BEATS
        && le >= start + len - EPSILON_BEATS
        && le > ls
}

impl SavedPass {
    /// Whether the host loops over this window and plays `beats` of it.
    pub(super) fn is_looped_at(&self, status: &Status, beats: f64) -> bool {
        loops_over(status, self.start, self.len)
            && (self.start..self.start + self.len).contains(&beats)
    }

    pub(super) fn of(saved: &SavedAnswer) -> Option<Self> {
        if saved.mode != "accompany" || saved.answer.is_empty() {
            return None;
        }
        let start = saved.window_start_beats;
        let relative = |notes: &[SavedNote]| -> Vec<Note> {
            notes
                .iter()
                .map(|n| Note {
                    onset_beats: n.onset_beats - start,
                    ..unsaved(n)
                })
                .collect()
        };
        Some(Self {
            start,
            len: saved.window_len_beats,
            heard: relative(&saved.heard),
            answer: relative(&saved.answer),
        })
    }
}

/// `note` as saved, starting at `onset_beats`.
pub fn saved(note: &Note, onset_beats: f64) -> SavedNote {
    SavedNote {
        onset_beats,
        duration_beats: note.duration_beats,
        key: note.pitch.into(),
        velocity: note.velocity.into(),
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
        pitch: note.key.get(),
        instrument: if note.program >= 128 {
            GmInstrument::Drums
        } else {
            GmInstrument::Program(note.program)
        },
        velocity: note.velocity.get(),
    }
}
