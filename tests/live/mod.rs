//! The plugin's audio side and worker thread joined as its `activate()` joins them, without a
//! host: `tests/realtime_sanitizer.rs` and the answer-latency bench drive them block by block.
#![allow(dead_code)] // Each user takes a different part.

use antiphon::params::AntiphonParams;
use antiphon_core::messages::{Queues, Status};
use antiphon_core::note::{Channel, Key, Velocity};
use antiphon_engine::{Policy, Worker};
use antiphon_realtime::AudioSide;
use std::sync::Arc;

/// The audio side and a worker thread running `policy` on `params`' settings.
pub struct Live {
    pub audio: AudioSide,
    pub worker: Worker,
    pub status: Arc<Status>,
    /// Held, as the plugin holds them, so that no queue is ever disconnected.
    _queues: Queues,
}

impl Live {
    /// Starts the worker thread; set `params` first.
    pub fn start(params: &Arc<AntiphonParams>, policy: Box<dyn Policy>) -> Self {
        let queues = Queues::new();
        let status = Arc::new(Status::default());
        let audio = AudioSide::new(&queues, status.clone());
        let worker = Worker::spawn(&queues, params.settings_source(), status.clone(), policy)
            .expect("worker thread");
        Self {
            audio,
            worker,
            status,
            _queues: queues,
        }
    }

    /// Sends the audio side the note-on and the note-off of a note held from `onset` to
    /// `release` (beats) where they fall in `block`.
    pub fn play_note(
        &mut self,
        block: Block,
        onset: f64,
        release: f64,
        key: Key,
        velocity: Velocity,
    ) {
        if let Some(at) = block.offset_of(onset) {
            self.audio.note_on(at, key, Channel::default(), velocity);
        }
        if let Some(at) = block.offset_of(release) {
            self.audio.note_off(at, key, Channel::default());
        }
    }
}

/// A block of `len` samples from song position `pos` (beats), at `samples_per_beat`.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub pos: f64,
    pub samples_per_beat: f64,
    pub len: u32,
}

impl Block {
    /// Where `beats` falls in the block, in samples from its start, if it does.
    pub fn offset_of(&self, beats: f64) -> Option<u32> {
        let offset = ((beats - self.pos) * self.samples_per_beat).round();
        (0.0..self.len as f64)
            .contains(&offset)
            .then_some(offset as u32)
    }
}
