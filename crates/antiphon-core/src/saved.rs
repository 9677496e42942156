//! The answer saved with a project, so reopening it plays the same answer.

use crate::note::{Key, Velocity};
use serde::{Deserialize, Serialize};

/// A note as saved with the project, in song beats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SavedNote {
    /// Song position of the note-on, in quarter notes.
    pub onset_beats: f64,
    /// Length in quarter notes.
    pub duration_beats: f64,
    /// The key.
    pub key: Key,
    /// The velocity.
    pub velocity: Velocity,
    /// General MIDI program (128 for drums).
    pub program: u8,
}

/// What Antiphon last played and what it heard, saved with the project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedAnswer {
    /// `continue` or `accompany`; empty when nothing was answered yet.
    pub mode: String,
    /// Where the heard phrase or recorded window starts, in song beats.
    pub window_start_beats: f64,
    /// Length of the recorded window (Accompany), in beats; 0 for Continue.
    pub window_len_beats: f64,
    /// What Antiphon heard.
    pub heard: Vec<SavedNote>,
    /// What it answered.
    pub answer: Vec<SavedNote>,
}
