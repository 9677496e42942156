//! What crosses between the audio thread and the worker: two bounded lock-free queues of small
//! `Copy` messages, and the [`Status`]: the transport as one snapshot, counters as atomics, and
//! the worker's text for the editor.
//!
//! Musical time crosses the boundary in beats (quarter notes of the host's song position).
//!
//! The queues are crossbeam-channel `bounded` queues. The audio thread only ever calls
//! `try_send`/`try_recv` and the worker never blocks in `recv` on the queue the audio thread
//! feeds: it polls with a short sleep. A receiver blocked in `recv` would make the audio
//! thread's `try_send` lock a mutex, wake it with a futex system call and, on first use,
//! allocate (PLATFORM.md G9, found with RealtimeSanitizer). With a polling receiver both
//! directions are wait-free, which `tests/realtime_sanitizer.rs` checks.

use crate::note::{Channel, Key, Note, Velocity};
use crate::saved::SavedAnswer;
use crate::transport::{TransportCell, TransportMove};
use atomic_float::AtomicF64;
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Messages the audio thread can queue for the worker before it must drop them.
pub const TO_WORKER_CAPACITY: usize = 4096;
/// Messages the worker can queue for the audio thread before it must wait and retry.
pub const TO_AUDIO_CAPACITY: usize = 4096;

/// Audio thread → worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToWorker {
    /// A note-on arrived (its note is reported again, complete, by `NoteFinished`).
    NoteStarted {
        /// Song position of the note-on, in quarter notes.
        onset_beats: f64,
        /// The key.
        key: Key,
        /// The channel.
        channel: Channel,
        /// The note-on velocity.
        velocity: Velocity,
    },
    /// A note the player played, closed by its note-off or by the transport stopping or
    /// jumping.
    NoteFinished(Note),
    /// The transport started, stopped or jumped (a loop, a locate).
    Transport(TransportMove),
}

impl ToWorker {
    /// What the audio thread reports of `note` once it is played: its start, then the whole
    /// note, each with the song position it arrives at.
    // For tests only (the audio thread learns a note's end later): the engine's policy tests
    // and the root crate's worker driver both play melodies with it.
    #[doc(hidden)]
    pub fn reports_of(note: Note) -> [(f64, ToWorker); 2] {
        let started = ToWorker::NoteStarted {
            onset_beats: note.onset_beats,
            key: note.key,
            channel: note.channel,
            velocity: note.velocity,
        };
        let end = note.onset_beats + note.duration_beats;
        [
            (note.onset_beats, started),
            (end, ToWorker::NoteFinished(note)),
        ]
    }
}

/// Worker → audio thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToAudio {
    /// Play this note when the playhead reaches it.
    Play(Note),
    /// Play this note on the next pass: it waits until the playhead jumps back (a host loop)
    /// and plays then if it lies ahead. Lets an answer for a loop be ready before the jump.
    PlayNextPass(Note),
    /// Forget every planned note that has not started (a new answer replaces it). Sounding notes
    /// still end at their planned time.
    CancelPlanned,
    /// Forget the planned notes from this song position on, in quarter notes (a new answer for
    /// the next pass replaces them); earlier ones still play.
    CancelPlannedFrom(f64),
    /// Forget every note waiting for the next pass.
    CancelNextPass,
}

/// Both ends of both queues, made once per activation.
pub struct Queues {
    /// Audio thread's sending end.
    pub to_worker_tx: Sender<ToWorker>,
    /// Worker's receiving end (polled, never blocked on).
    pub to_worker_rx: Receiver<ToWorker>,
    /// Worker's sending end.
    pub to_audio_tx: Sender<ToAudio>,
    /// Audio thread's receiving end.
    pub to_audio_rx: Receiver<ToAudio>,
}

impl Queues {
    /// Allocates both queues: call from `activate()`.
    pub fn new() -> Self {
        let (to_worker_tx, to_worker_rx) = crossbeam_channel::bounded(TO_WORKER_CAPACITY);
        let (to_audio_tx, to_audio_rx) = crossbeam_channel::bounded(TO_AUDIO_CAPACITY);
        Self {
            to_worker_tx,
            to_worker_rx,
            to_audio_tx,
            to_audio_rx,
        }
    }
}

impl Default for Queues {
    fn default() -> Self {
        Self::new()
    }
}

/// Shared state the audio thread and the worker publish and the editor reads.
///
/// The audio thread touches only the atomics. The text fields are written by the worker and
/// read by the editor, never by the audio thread.
#[derive(Default)]
pub struct Status {
    /// The host's transport at the start of the last block, published whole by the audio
    /// thread.
    pub transport: TransportCell,
    /// Planned notes whose time had passed when they reached the scheduler.
    pub missed_deadlines: AtomicU64,
    /// Messages the audio thread dropped because the worker's queue was full.
    pub dropped_to_worker: AtomicU64,
    /// Notes dropped because the scheduler or the host's output buffer was full.
    pub dropped_output: AtomicU64,
    /// Note-ons Antiphon has played.
    pub notes_played: AtomicU64,
    /// Answers the worker has produced.
    pub answers: AtomicU64,
    /// Milliseconds from the last window's close to the first note of its answer that was
    /// still unwritten then (what waited for the whole melody) being scheduled.
    pub last_latency_ms: AtomicF64,
    /// Milliseconds from the last window's close to its whole answer being scheduled.
    pub last_answer_ms: AtomicF64,
    /// Worker-side text for the editor: what generates, and how fast.
    pub engine_line: Mutex<String>,
    /// Worker-side text for the editor: the last error, empty if none.
    pub error_line: Mutex<String>,
    /// Worker-side text for the editor: the key the last answer kept to ("G major · followed"),
    /// empty before the first.
    pub key_line: Mutex<String>,
    /// Worker-side text for the editor: how a steering setting that could not be played was
    /// changed, empty if none.
    pub steering_line: Mutex<String>,
    /// The piano roll's notes (worker and editor only): what was heard and what was planned.
    pub roll: Mutex<Roll>,
    /// What the worker is doing, for the editor's guide line and the roll's region (worker and
    /// editor only).
    pub phase: Mutex<Phase>,
    /// The last answer and what it answered, written by the worker; the plugin saves this same
    /// slot with the project, so reopening it plays the same answer (never the audio thread).
    pub last_answer: Arc<RwLock<SavedAnswer>>,
}

/// What the worker is doing with what it hears, in song beats.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Phase {
    /// Nothing heard to answer yet (or the transport stopped and it starts afresh).
    #[default]
    Waiting,
    /// The model could not be loaded: MIDI passes through; `Status::error_line` says why.
    ModelFailed,
    /// Continue: a phrase is being heard; it is answered at the first bar line after a beat
    /// with no new note.
    Listening,
    /// Continue: the answer plays from `from_beats` (a bar line) to `to_beats`.
    Answering {
        /// Where the answer starts, in quarter notes.
        from_beats: f64,
        /// Where it ends (*Bars* bars later), in quarter notes.
        to_beats: f64,
    },
    /// Accompany: the window is being recorded; its accompaniment plays on the next pass.
    Recording {
        /// The window's first beat, in quarter notes.
        start_beats: f64,
        /// The window's length, in quarter notes.
        len_beats: f64,
        /// Whether the next pass is the host loop's next turn (else the following window).
        looping: bool,
    },
    /// Accompany: an accompaniment of the window plays.
    Accompanying {
        /// The window's first beat, in quarter notes.
        start_beats: f64,
        /// The window's length, in quarter notes.
        len_beats: f64,
        /// Whether the host loops over the window.
        looping: bool,
    },
}

/// Notes for the editor's piano roll, in song beats, newest last, each list bounded.
#[derive(Debug, Default, Clone)]
pub struct Roll {
    /// Notes the player played.
    pub heard: Vec<Note>,
    /// Notes Antiphon planned (played once the playhead passes them).
    pub planned: Vec<Note>,
}

impl Roll {
    /// Notes each list keeps.
    pub const CAPACITY: usize = 1024;

    fn push(list: &mut Vec<Note>, note: Note) {
        if list.len() == Self::CAPACITY {
            list.drain(..Self::CAPACITY / 4);
        }
        list.push(note);
    }

    /// Records a heard note.
    pub fn heard(&mut self, note: Note) {
        Self::push(&mut self.heard, note);
    }

    /// Records a planned note.
    pub fn planned(&mut self, note: Note) {
        Self::push(&mut self.planned, note);
    }
}

impl Status {
    /// Adds one to a counter. Real-time safe.
    #[inline]
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the engine line (worker or editor thread only).
    pub fn set_engine_line(&self, text: impl Into<String>) {
        if let Ok(mut line) = self.engine_line.lock() {
            *line = text.into();
        }
    }

    /// Updates the piano roll (worker or editor thread only).
    pub fn with_roll(&self, f: impl FnOnce(&mut Roll)) {
        if let Ok(mut roll) = self.roll.lock() {
            f(&mut roll);
        }
    }

    /// Sets the key line (worker thread only).
    pub fn set_key_line(&self, text: impl Into<String>) {
        if let Ok(mut line) = self.key_line.lock() {
            *line = text.into();
        }
    }

    /// Sets the steering line (worker thread only).
    pub fn set_steering_line(&self, text: impl Into<String>) {
        if let Ok(mut line) = self.steering_line.lock() {
            *line = text.into();
        }
    }

    /// Publishes what the worker is doing (worker thread only).
    pub fn set_phase(&self, phase: Phase) {
        if let Ok(mut current) = self.phase.lock() {
            *current = phase;
        }
    }

    /// What the worker is doing (editor thread).
    pub fn phase(&self) -> Phase {
        self.phase.lock().map(|p| *p).unwrap_or_default()
    }

    /// Sets the error line (worker or editor thread only).
    pub fn set_error_line(&self, text: impl Into<String>) {
        if let Ok(mut line) = self.error_line.lock() {
            *line = text.into();
        }
    }
}
