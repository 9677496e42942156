//! Worker thread: the product's policy (DESIGN §2). It owns the model, listens to what the
//! audio thread captured, and decides when and what to play.
//!
//! **Continue**: a phrase ends at the first bar line reached with no new note-on for a beat.
//! Generation starts one beat before that bar line, so the answer's first notes are ready when
//! it begins; a note-on in that last beat means the phrase goes on, and the answer is
//! withdrawn.
//!
//! **Accompany**: the first melody note opens a window of *Bars* bars on the bar grid. The
//! accompaniment of a pass is played on the next pass of the same bars: the host loop's next
//! turn if it loops over the window, else the following *Bars* bars. Because the model needs
//! the melody only `delta` ahead of what it writes (SPEC §6), the accompaniment for the next
//! pass is generated bar by bar while the melody is still being played, and handed to the
//! audio thread long before the next pass begins; only the last `delta` of it is written when
//! the window closes. A pass whose melody repeats the previous one (or any pass with Freeze on)
//! keeps the accompaniment it has.

pub mod echo;

mod accompaniment;
mod continuation;
mod saved;

use crate::default_model::default_model;
use crate::model::{LanguageModel, ModelSource};
use crate::onnx::{OnnxModel, SessionOptions};
use crate::sampling::SamplingParams;
use crate::steering::{Key, KeyChoice};
use crate::tasks::{self, TaskSettings};
use crate::worker::{Policy, WorkerContext};
use accompaniment::Accompaniment;
use antiphon_core::messages::{Phase, ToWorker};
use antiphon_core::note::{self as midi, Channel, Velocity};
use antiphon_core::saved::SavedAnswer;
use antiphon_core::settings::{Instrument, Mode};
use antiphon_core::time::{next_bar_line, EPSILON_BEATS};
use antiphon_core::transport::TransportMove;
use antiphon_tokens::notes::ticks_per_beat;
use antiphon_tokens::{GmInstrument, Note, VocabSpec};
use continuation::Continuation;
pub use saved::unsaved;
use saved::SavedPass;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Environment variable naming a model folder, used when the editor names none.
pub const MODEL_ENV: &str = "ANTIPHON_MODEL";
/// Silence after the last note-on that ends a phrase, in beats (DESIGN §2).
pub(crate) const PHRASE_END_SILENCE_BEATS: f64 = 1.0;
/// How far ahead of an answer's start its generation begins, in beats.
const ANSWER_LEAD_BEATS: f64 = 1.0;
/// Length given to a phrase note still held when its answer begins, at least (beats).
const MIN_HELD_BEATS: f64 = 0.25;
/// Program the player's notes are given when the Instrument parameter says Auto (Continue).
const DEFAULT_PHRASE_PROGRAM: u8 = 0;
/// Program the melody is given in Accompany: the oboe, which voices the sung melody in the
/// Lieder the default model learned from.
const MELODY_PROGRAM: u8 = 68;
/// Onsets closer than this count as the same when comparing two passes' melodies, in beats.
const SAME_ONSET_BEATS: f64 = 1.0 / 8.0;
/// Velocities remembered for Velocity = Follow.
const VELOCITY_MEMORY: usize = 16;

/// The model, once loaded.
enum Engine {
    /// Not tried yet, or the model choice changed.
    Unloaded,
    /// Ready to answer.
    Ready {
        model: Box<dyn LanguageModel + Send>,
        spec: VocabSpec,
        name: String,
    },
    /// Loading failed; the status line says why and what to do.
    Failed,
}

/// ONNX Runtime threads for the plugin: half the machine's cores, at most two (antiphon-small
/// gains little beyond), so the host keeps at least half. With two threads on two cores, a host
/// whose audio thread is not real-time (headless Ardour, JACK without real-time rights) missed
/// periods while the model answered, and the answer's later notes came a period late.
fn worker_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, 2)
}

/// The product's worker policy.
pub struct Responder {
    engine: Engine,
    /// The model folder the engine was loaded for (the editor's choice); `None` before the
    /// first load.
    loaded_for: Option<String>,
    /// Whether the model was given at construction, so the settings' folder is not loaded.
    given_model: bool,
    mode: Option<Mode>,
    continuation: Continuation,
    accompaniment: Accompaniment,
    /// The last answer as last seen in the parameters: a change there (a project opened, or
    /// an answer made) is what the next window in the same place takes up.
    seen_answer: SavedAnswer,
    /// Regenerate presses already acted on (those before this worker began do not count).
    regenerate_presses_seen: Option<u64>,
    velocities: VecDeque<Velocity>,
    /// Seeds drawn so far when Seed is 0.
    draws: u64,
    /// Regenerate presses so far: each moves a fixed seed on by one, so a press always asks
    /// for another answer and the same playing and presses still give the same answers.
    regenerations: u64,
}

impl Default for Responder {
    fn default() -> Self {
        Self::new()
    }
}

impl Responder {
    /// A responder with nothing loaded yet: it loads the model the settings name (else
    /// `$ANTIPHON_MODEL`, else the built-in one) on the worker thread, and again when that
    /// choice changes.
    pub fn new() -> Self {
        Self {
            engine: Engine::Unloaded,
            loaded_for: None,
            given_model: false,
            mode: None,
            continuation: Continuation::default(),
            accompaniment: Accompaniment::default(),
            regenerate_presses_seen: None,
            seen_answer: SavedAnswer::default(),
            velocities: VecDeque::with_capacity(VELOCITY_MEMORY),
            draws: 0,
            regenerations: 0,
        }
    }

    /// A responder that answers with `model` over the vocabulary `spec`, whatever the
    /// settings name: for tests on [`FakeModel`](crate::fake::FakeModel) and for programs
    /// that load their model themselves.
    pub fn with_model(model: Box<dyn LanguageModel + Send>, spec: VocabSpec, name: &str) -> Self {
        Self {
            engine: Engine::Ready {
                model,
                spec,
                name: name.to_string(),
            },
            given_model: true,
            ..Self::new()
        }
    }

    /// Loads the model when none is loaded or the editor chose another one.
    fn ensure_engine(&mut self, ctx: &mut WorkerContext) {
        let folder = ctx.settings.model_folder.clone();
        if self.given_model || self.loaded_for.as_deref() == Some(folder.as_str()) {
            return;
        }
        self.loaded_for = Some(folder.clone());
        ctx.status.set_engine_line("Loading the model…");
        let source = if !folder.is_empty() {
            Some(ModelSource::Folder(PathBuf::from(&folder)))
        } else if let Some(dir) = std::env::var_os(MODEL_ENV).filter(|d| !d.is_empty()) {
            Some(ModelSource::Folder(PathBuf::from(dir)))
        } else {
            default_model()
        };
        let Some(source) = source else {
            self.fail(
                ctx,
                "This build has no built-in model: choose a model folder.".into(),
            );
            return;
        };
        let options = SessionOptions {
            intra_op_threads: worker_threads(),
            prefer_cuda: true,
            check_placement: false,
        };
        let loaded = OnnxModel::load(&source, options).map(|model| {
            let spec = model.spec().vocab.clone();
            (model, spec)
        });
        match loaded {
            Ok((model, spec)) => {
                let name = model.spec().name.clone();
                ctx.status
                    .set_engine_line(format!("{name} on {}", model.runs_on()));
                ctx.status.set_error_line("");
                self.engine = Engine::Ready {
                    model: Box::new(model),
                    spec,
                    name,
                };
            }
            Err(e) => self.fail(
                ctx,
                format!("The model cannot run, so MIDI passes through: {e}"),
            ),
        }
    }

    fn fail(&mut self, ctx: &mut WorkerContext, message: String) {
        ctx.status.set_engine_line("No model: passing MIDI through");
        ctx.status.set_error_line(message);
        self.engine = Engine::Failed;
    }

    /// Sampling settings from the parameters; a new seed per answer when Seed is 0.
    fn settings(&mut self, ctx: &WorkerContext, spec: &VocabSpec, clock: &Clock) -> TaskSettings {
        let p = &ctx.settings;
        ctx.status
            .set_steering_line(p.steering_adjusted.clone().unwrap_or_default());
        let steering = p.steering;
        let seed = match p.seed {
            0 => {
                self.draws += 1;
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                nanos ^ self.draws.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            }
            fixed => fixed as u64 + self.regenerations,
        };
        let instruments = match p.instrument {
            Instrument::Auto => None,
            Instrument::Drums => Some(vec![spec.drum_instrument()]),
            family => family.programs().map(|programs| {
                let mut codes: Vec<u32> =
                    programs.map(|pr| spec.instrument_of_program(pr)).collect();
                codes.dedup();
                codes
            }),
        };
        TaskSettings {
            sampling: SamplingParams {
                temperature: p.temperature,
                top_p: p.top_p,
            },
            seed,
            instruments,
            tempo_bpm: clock.tempo_bpm,
            velocity: self.velocity(ctx),
            max_new_notes: 2048,
            steering,
            beats_per_bar: clock.bar_len,
            key_from_whole_melody: false,
        }
    }

    /// Output velocity: the player's recent mean (Follow) or the fixed value.
    fn velocity(&self, ctx: &WorkerContext) -> u8 {
        match ctx.settings.velocity {
            None if !self.velocities.is_empty() => {
                let sum: u32 = self.velocities.iter().map(|&v| v.get() as u32).sum();
                sum / self.velocities.len() as u32
            }
            None => 80,
            Some(fixed) => fixed.get() as u32,
        }
        .clamp(1, 127) as u8
    }

    /// The mode in force, starting afresh when it changed (the audio thread releases every
    /// note then). Checked before each message too, so the first note played after a change
    /// goes to the new mode instead of being forgotten with the old one's state.
    fn follow_mode(&mut self, ctx: &mut WorkerContext) -> Mode {
        let mode = ctx.settings.mode;
        if self.mode != Some(mode) {
            if self.mode.is_some() {
                self.reset_all(ctx);
            }
            self.mode = Some(mode);
        }
        mode
    }

    /// Tells the editor what the worker is doing (`Status::phase`).
    fn publish_phase(&self, ctx: &WorkerContext) {
        let bar_len = ctx.status.transport.read().bar_len_beats.max(0.25);
        let phase = match (&self.engine, self.mode.unwrap_or(Mode::Continue)) {
            (Engine::Failed, _) => Phase::ModelFailed,
            (_, Mode::Continue) => self.continuation.phase(ctx.settings.bars as f64 * bar_len),
            (_, Mode::Accompany) => self.accompaniment.phase(),
        };
        ctx.status.set_phase(phase);
    }

    fn reset_all(&mut self, ctx: &mut WorkerContext) {
        self.continuation = Continuation::default();
        self.accompaniment.reset();
        ctx.cancel_planned();
        ctx.cancel_next_pass();
    }
}

impl Policy for Responder {
    fn on_message(&mut self, message: ToWorker, ctx: &mut WorkerContext) {
        if let ToWorker::NoteStarted { velocity, .. } = message {
            if self.velocities.len() == VELOCITY_MEMORY {
                self.velocities.pop_front();
            }
            self.velocities.push_back(velocity);
        }
        match self.follow_mode(ctx) {
            Mode::Continue => self.continuation.on_message(message, ctx),
            Mode::Accompany => self.accompaniment.on_message(message, ctx),
        }
        self.publish_phase(ctx);
    }

    fn on_tick(&mut self, ctx: &mut WorkerContext) {
        self.ensure_engine(ctx);
        // What the last tick did (an answer planned, a window closed), for the editor.
        self.publish_phase(ctx);
        if let Ok(saved) = ctx.status.last_answer.read() {
            if *saved != self.seen_answer {
                self.seen_answer = saved.clone();
                self.accompaniment.saved = SavedPass::of(&saved);
            }
        }
        let mode = self.follow_mode(ctx);
        let presses = ctx.settings.regenerate_presses;
        let new_presses = presses.wrapping_sub(self.regenerate_presses_seen.unwrap_or(presses));
        let regenerate_pressed = new_presses > 0;
        self.regenerations += new_presses;
        self.regenerate_presses_seen = Some(presses);

        let status = &ctx.status;
        let transport = status.transport.read();
        if !transport.playing {
            return;
        }
        let clock = Clock {
            playhead: ctx.heard_until(),
            bar_start: transport.bar_start_beats,
            bar_len: transport.bar_len_beats.max(0.25),
            tempo_bpm: transport.tempo_bpm.max(1.0),
        };
        let settings = match &self.engine {
            Engine::Ready { spec, .. } => {
                let spec = spec.clone();
                self.settings(ctx, &spec, &clock)
            }
            _ => return,
        };
        let Engine::Ready { model, spec, name } = &mut self.engine else {
            return;
        };
        let mut gen = Generator {
            model: model.as_mut(),
            spec,
            name,
            settings,
        };
        match mode {
            Mode::Continue => self
                .continuation
                .on_tick(ctx, &clock, &mut gen, regenerate_pressed),
            Mode::Accompany => {
                self.accompaniment
                    .on_tick(ctx, &clock, &mut gen, regenerate_pressed)
            }
        }
    }
}

/// The host's musical time, read once per tick.
#[derive(Debug, Clone, Copy)]
struct Clock {
    playhead: f64,
    bar_start: f64,
    bar_len: f64,
    tempo_bpm: f64,
}

impl Clock {
    fn bar_line_at_or_after(&self, beats: f64) -> f64 {
        next_bar_line(beats, self.bar_start, self.bar_len)
    }

    fn bar_line_at_or_before(&self, beats: f64) -> f64 {
        let next = self.bar_line_at_or_after(beats);
        if next > beats + EPSILON_BEATS {
            next - self.bar_len
        } else {
            next
        }
    }
}

/// What generation needs for one answer.
struct Generator<'a> {
    model: &'a mut dyn LanguageModel,
    spec: &'a VocabSpec,
    name: &'a str,
    settings: TaskSettings,
}

impl Generator<'_> {
    /// Anticipation interval in beats at the current tempo.
    fn delta_beats(&self) -> f64 {
        self.spec.delta_ticks() as f64 / ticks_per_beat(self.spec, self.settings.tempo_bpm)
    }

    fn report(
        &self,
        ctx: &WorkerContext,
        notes: usize,
        started: Instant,
        first_note: Option<f64>,
        key: Option<(Key, bool)>,
    ) {
        ctx.status.set_key_line(match key {
            Some((key, true)) => format!("{key} · followed"),
            Some((key, false)) => format!("{key} · fixed"),
            None if self.settings.steering.key == KeyChoice::Off => "Key off".to_string(),
            None => String::new(),
        });
        let seconds = started.elapsed().as_secs_f64().max(1e-6);
        let first = first_note
            .map(|ms| format!(", first note after {ms:.0} ms"))
            .unwrap_or_default();
        ctx.status.set_engine_line(format!(
            "{} · {notes} notes in {:.0} ms (≈{:.0} tokens/s){first}",
            self.name,
            seconds * 1e3,
            notes as f64 * 3.0 / seconds
        ));
    }
}

/// A note the model wrote, to be played at `onset_beats` on `channel`.
fn planned(note: &Note, onset_beats: f64, channel: Channel) -> midi::Note {
    midi::Note {
        onset_beats,
        duration_beats: note.duration_beats.max(1.0 / 32.0),
        key: note.pitch.into(),
        channel,
        velocity: note.velocity.into(),
    }
}

/// Counts an answer and keeps it with the project.
fn save_answer(ctx: &WorkerContext, answer: SavedAnswer) {
    ctx.status.answers.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut saved_answer) = ctx.status.last_answer.write() {
        *saved_answer = answer;
    }
}

/// A note the player played, for the model, at `onset_beats` and played by `program`.
fn captured_note(c: &midi::Note, onset_beats: f64, program: u8) -> Note {
    Note {
        onset_beats,
        duration_beats: c.duration_beats,
        pitch: c.key.get(),
        instrument: GmInstrument::Program(program),
        velocity: c.velocity.get(),
    }
}

/// The program the player's notes are given, from the Instrument parameter.
fn phrase_program(ctx: &WorkerContext) -> u8 {
    ctx.settings
        .instrument
        .programs()
        .map(|p| p.start)
        .unwrap_or(DEFAULT_PHRASE_PROGRAM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_lines_before_and_after() {
        let clock = Clock {
            playhead: 0.0,
            bar_start: 8.0,
            bar_len: 4.0,
            tempo_bpm: 120.0,
        };
        assert_eq!(clock.bar_line_at_or_before(5.0), 4.0);
        assert_eq!(clock.bar_line_at_or_before(4.0), 4.0);
        assert_eq!(clock.bar_line_at_or_after(5.0), 8.0);
    }
}
