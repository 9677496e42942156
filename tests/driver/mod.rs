//! Drives the product's worker policy (`Responder`) as the worker thread does, over a linear
//! song at 100 bpm in 4/4: the playhead moves in 32nd notes, the audio thread's messages arrive
//! at the song positions they happened, and what the worker asks the audio thread to play is
//! collected as the audio thread would keep it. The model is the fixture, through the real
//! ONNX Runtime.
#![allow(dead_code)] // Each test binary uses a different part of the driver.

use antiphon::params::{AntiphonParams, Mode};
use antiphon_core::messages::{Status, ToAudio, ToWorker};
use antiphon_core::note::{Channel, Key, Note, Velocity};
use antiphon_engine::policy::Responder;
use antiphon_engine::{Policy, WorkerContext};
use nice_plug::params::InternalParamMut;
use std::sync::Arc;

/// How far the playhead moves between two looks of the worker at most, in beats.
pub const STEP_BEATS: f64 = 1.0 / 32.0;

/// A note the player plays: onset and release in song beats, key, velocity 0–1.
#[derive(Debug, Clone, Copy)]
pub struct Played {
    pub onset: f64,
    pub release: f64,
    pub key: u8,
    pub velocity: f32,
}

/// Notes of `keys` in quarter notes held for 0.9 beats from beat `from`, at velocity 0.7.
pub fn quarter_notes(from: f64, keys: &[u8]) -> Vec<Played> {
    keys.iter()
        .enumerate()
        .map(|(i, &key)| Played {
            onset: from + i as f64,
            release: from + i as f64 + 0.9,
            key,
            velocity: 0.7,
        })
        .collect()
}

/// What the audio thread sends for `melody`, each message at the song position it happened.
fn messages_of(melody: &[Played]) -> Vec<(f64, ToWorker)> {
    let mut out: Vec<(f64, ToWorker)> = melody
        .iter()
        .flat_map(|n| {
            ToWorker::reports_of(Note {
                onset_beats: n.onset,
                duration_beats: n.release - n.onset,
                key: Key::new(n.key).unwrap(),
                channel: Channel::default(),
                velocity: Velocity::from_unit(n.velocity),
            })
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// How the worker thread gets to run.
#[derive(Debug, Clone, Copy)]
pub struct Ticks {
    /// The step (32nd note) of the first tick.
    pub first: usize,
    /// Steps between ticks.
    pub every: usize,
    /// Steps the audio thread has moved on between the drain of the queue and the tick.
    pub lag: usize,
}

/// A worker that looks every 32nd note, at once.
pub const STEADY: Ticks = Ticks {
    first: 0,
    every: 1,
    lag: 0,
};

/// Sets a parameter as the host would.
pub fn set<P: InternalParamMut>(param: &P, value: P::Plain) {
    // SAFETY: the driver runs on one thread; nothing reads a parameter while it is set.
    unsafe {
        param._internal_set_plain_value(value);
    }
}

/// A worker policy with its parameters and status, before it runs.
pub struct Worker {
    pub params: Arc<AntiphonParams>,
    pub status: Arc<Status>,
}

impl Worker {
    /// `mode`, `bars` bars and seed `seed`, on the fixture model.
    pub fn new(mode: Mode, bars: i32, seed: i32) -> Self {
        let params = Arc::new(AntiphonParams::default());
        // As the plugin does: the worker saves its answer where the project keeps it.
        let status = Arc::new(Status {
            last_answer: params.last_answer.clone(),
            ..Status::default()
        });
        status.transport.update(|t| {
            t.playing = true;
            t.tempo_bpm = 100.0;
            t.bar_start_beats = 0.0;
            t.bar_len_beats = 4.0;
        });
        set(&params.mode, mode);
        set(&params.bars, bars);
        set(&params.seed, seed);
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-beats");
        *params.model_folder.write().unwrap() = fixture.to_string();
        Self { params, status }
    }

    /// Plays `melody` up to beat `until`, the worker ticking as `ticks` says; `before_tick` may
    /// change parameters at each tick's song position. Returns the notes the audio thread
    /// would play.
    pub fn play(
        &self,
        melody: &[Played],
        until: f64,
        ticks: Ticks,
        mut before_tick: impl FnMut(f64, &AntiphonParams),
    ) -> Vec<Note> {
        let mut ctx = WorkerContext::new(self.params.settings(), self.status.clone());
        let mut responder = Responder::new();
        let mut messages = messages_of(melody).into_iter().peekable();
        let steps = (until / STEP_BEATS) as usize;
        let (mut played, mut seen) = (Vec::new(), 0);
        for step in (ticks.first..steps).step_by(ticks.every) {
            // As the worker thread does: note the playhead, drain the queue, tick. Meanwhile
            // the audio thread moves on, its later notes still in the queue.
            let now = step as f64 * STEP_BEATS;
            self.status.transport.update(|t| t.playhead_beats = now);
            ctx.settings = self.params.settings();
            ctx.mark_heard();
            while let Some((_, message)) = messages.next_if(|(at, _)| *at < now) {
                responder.on_message(message, &mut ctx);
            }
            let later = (step + ticks.lag) as f64 * STEP_BEATS;
            self.status.transport.update(|t| t.playhead_beats = later);
            before_tick(later, &self.params);
            ctx.settings = self.params.settings();
            responder.on_tick(&mut ctx);
            // What the audio thread makes of the messages: a cancel drops what has not started.
            for message in ctx.pending().skip(seen) {
                match message {
                    ToAudio::Play(note) => played.push(*note),
                    ToAudio::CancelPlanned => played.retain(|n| n.onset_beats < later),
                    ToAudio::CancelPlannedFrom(from) => {
                        played.retain(|n| n.onset_beats < later || n.onset_beats < *from - 1e-9)
                    }
                    ToAudio::PlayNextPass(_) | ToAudio::CancelNextPass => {
                        unreachable!("no loop is playing")
                    }
                }
            }
            seen = ctx.pending().count();
        }
        played
    }

    /// The error the worker reports, if any.
    pub fn error(&self) -> String {
        self.status.error_line.lock().unwrap().clone()
    }
}
