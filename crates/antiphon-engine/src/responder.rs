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

use super::default_model::default_model;
use super::model::ModelSource;
use super::onnx::{OnnxModel, SessionOptions};
use super::sampling::SamplingParams;
use super::saved;
use super::steering::{Key, KeyChoice};
use super::tasks::{self, TaskSettings};
use super::worker::{Policy, WorkerContext};
use antiphon_core::messages::{CapturedNote, Phase, PlannedNote, Status, ToWorker};
use antiphon_core::saved::{SavedAnswer, SavedNote};
use antiphon_core::settings::{Instrument, Mode};
use antiphon_core::time::next_bar_line;
use antiphon_tokens::notes::ticks_per_beat;
use antiphon_tokens::{GmInstrument, Note, VocabSpec};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Environment variable naming a model folder, used when the editor names none.
pub const MODEL_ENV: &str = "ANTIPHON_MODEL";
/// Silence after the last note-on that ends a phrase, in beats (DESIGN §2).
const PHRASE_END_SILENCE_BEATS: f64 = 1.0;
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
        model: Box<OnnxModel>,
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
    /// The model folder the engine was loaded for (the editor's choice).
    loaded_for: Option<String>,
    mode: Option<Mode>,
    continuation: Continuation,
    accompaniment: Accompaniment,
    /// The last answer as last seen in the parameters: a change there (a project opened, or
    /// an answer made) is what the next window in the same place takes up.
    seen_answer: SavedAnswer,
    /// Regenerate presses already acted on (those before this worker began do not count).
    regenerate_presses_seen: Option<u64>,
    velocities: VecDeque<u8>,
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
    /// A responder with nothing loaded yet (loading happens on the worker thread).
    pub fn new() -> Self {
        Self {
            engine: Engine::Unloaded,
            loaded_for: None,
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

    /// Loads the model when none is loaded or the editor chose another one.
    fn ensure_engine(&mut self, ctx: &mut WorkerContext) {
        let folder = ctx.settings.model_folder.clone();
        if self.loaded_for.as_deref() == Some(folder.as_str()) {
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
        let loaded = OnnxModel::load(&source, options).and_then(|model| {
            let spec = VocabSpec::from_json(&model.spec().vocab.to_string()).map_err(|e| {
                super::model::ModelError::BadSpec {
                    path: PathBuf::from(source.describe()),
                    reason: e.to_string(),
                }
            })?;
            Ok((model, spec))
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
        }
    }

    /// Output velocity: the player's recent mean (Follow) or the fixed value.
    fn velocity(&self, ctx: &WorkerContext) -> u8 {
        match ctx.settings.velocity {
            None if !self.velocities.is_empty() => {
                (self.velocities.iter().map(|&v| v as u32).sum::<u32>()
                    / self.velocities.len() as u32)
                    .clamp(1, 127) as u8
            }
            None => 80,
            Some(fixed) => fixed.clamp(1, 127),
        }
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
        let continuation = &self.continuation;
        let accompaniment = &self.accompaniment;
        let phase = match (&self.engine, self.mode.unwrap_or(Mode::Continue)) {
            (Engine::Failed, _) => Phase::ModelFailed,
            (_, Mode::Continue) => match continuation.answer_from {
                Some(from) => Phase::Answering {
                    from_beats: from,
                    to_beats: from + ctx.settings.bars as f64 * bar_len,
                },
                None if !continuation.notes.is_empty() || !continuation.held.is_empty() => {
                    Phase::Listening
                }
                None => Phase::Waiting,
            },
            (_, Mode::Accompany) => match accompaniment.window {
                None => Phase::Waiting,
                Some(w) if accompaniment.current.is_empty() => Phase::Recording {
                    start_beats: accompaniment.pass_start,
                    len_beats: w.len,
                    looping: accompaniment.looping,
                },
                Some(w) => Phase::Accompanying {
                    start_beats: accompaniment.pass_start,
                    len_beats: w.len,
                    looping: accompaniment.looping,
                },
            },
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
            self.velocities
                .push_back((velocity * 127.0).round().clamp(1.0, 127.0) as u8);
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
            model,
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
        if next > beats + 1e-6 {
            next - self.bar_len
        } else {
            next
        }
    }
}

/// What generation needs for one answer.
struct Generator<'a> {
    model: &'a mut OnnxModel,
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

fn planned(note: &Note, onset_beats: f64, channel: u8) -> PlannedNote {
    PlannedNote {
        onset_beats,
        duration_beats: note.duration_beats.max(1.0 / 32.0),
        key: note.pitch,
        channel,
        velocity: note.velocity as f32 / 127.0,
    }
}

/// Counts an answer and keeps it with the project.
fn save_answer(ctx: &WorkerContext, answer: SavedAnswer) {
    ctx.status.answers.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut saved_answer) = ctx.status.last_answer.write() {
        *saved_answer = answer;
    }
}

fn captured_note(c: &CapturedNote, onset_beats: f64, program: u8) -> Note {
    Note {
        onset_beats,
        duration_beats: c.duration_beats,
        pitch: c.key,
        instrument: GmInstrument::Program(program),
        velocity: (c.velocity * 127.0).round().clamp(1.0, 127.0) as u8,
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

/// Continue mode's state.
#[derive(Default)]
struct Continuation {
    /// Finished notes of the current phrase (song beats).
    notes: Vec<Note>,
    /// Notes held now: (onset, key, velocity 0–1).
    held: Vec<(f64, u8, f32)>,
    /// The phrase's last note-on.
    last_on: Option<f64>,
    /// Where the planned answer starts; the phrase is kept until then in case it goes on.
    answer_from: Option<f64>,
    /// The last phrase answered, for Regenerate.
    last_phrase: Vec<Note>,
}

impl Continuation {
    fn on_message(&mut self, message: ToWorker, ctx: &mut WorkerContext) {
        match message {
            ToWorker::NoteStarted {
                onset_beats,
                key,
                velocity,
                ..
            } => {
                if let Some(from) = self.answer_from.take() {
                    if onset_beats < from - 1e-6 {
                        // The phrase goes on: the answer was premature.
                        ctx.cancel_planned();
                    } else {
                        self.notes.clear();
                    }
                }
                self.held.push((onset_beats, key, velocity));
                self.last_on = Some(onset_beats);
            }
            ToWorker::NoteFinished(note) => {
                self.held
                    .retain(|(onset, key, _)| !(*key == note.key && *onset == note.onset_beats));
                let program = phrase_program(ctx);
                self.notes
                    .push(captured_note(&note, note.onset_beats, program));
            }
            ToWorker::Started { .. } => {}
            ToWorker::Stopped { .. } | ToWorker::Jumped { .. } => {
                let last = std::mem::take(&mut self.last_phrase);
                *self = Continuation {
                    last_phrase: last,
                    ..Continuation::default()
                };
            }
        }
    }

    fn on_tick(
        &mut self,
        ctx: &mut WorkerContext,
        clock: &Clock,
        gen: &mut Generator,
        regenerate: bool,
    ) {
        if regenerate && !self.last_phrase.is_empty() {
            ctx.cancel_planned();
            let from = clock.bar_line_at_or_after(clock.playhead + ANSWER_LEAD_BEATS);
            let phrase = self.last_phrase.clone();
            self.answer(ctx, clock, gen, &phrase, from);
            return;
        }
        let Some(last_on) = self.last_on else { return };
        if self.answer_from.is_some() || (self.notes.is_empty() && self.held.is_empty()) {
            return;
        }
        let phrase_end = clock.bar_line_at_or_after(last_on + PHRASE_END_SILENCE_BEATS);
        if clock.playhead < phrase_end - ANSWER_LEAD_BEATS {
            return;
        }
        // Late (the worker was busy): answer from the next bar line that can still be met.
        let from = if clock.playhead <= phrase_end - 0.05 {
            phrase_end
        } else {
            clock.bar_line_at_or_after(clock.playhead + 0.5)
        };
        // The phrase as it stood when the answer became due: a note still held then, or let go
        // since, ends there, so the answer does not depend on when the worker noticed.
        let due = phrase_end - ANSWER_LEAD_BEATS;
        let program = phrase_program(ctx);
        let mut phrase = self.notes.clone();
        for &(onset, key, velocity) in &self.held {
            phrase.push(Note {
                onset_beats: onset,
                duration_beats: f64::INFINITY,
                pitch: key,
                instrument: GmInstrument::Program(program),
                velocity: (velocity * 127.0).round().clamp(1.0, 127.0) as u8,
            });
        }
        for note in &mut phrase {
            if note.onset_beats + note.duration_beats > due {
                note.duration_beats = (due - note.onset_beats).max(MIN_HELD_BEATS);
            }
        }
        phrase.sort_by(|a, b| a.onset_beats.total_cmp(&b.onset_beats));
        if self.answer(ctx, clock, gen, &phrase, from) {
            self.answer_from = Some(from);
            self.last_phrase = phrase;
        }
    }

    /// Generates and streams an answer to `phrase` from `from`; false if a new note-on before
    /// `from` interrupted it (the answer is withdrawn).
    fn answer(
        &mut self,
        ctx: &mut WorkerContext,
        clock: &Clock,
        gen: &mut Generator,
        phrase: &[Note],
        from: f64,
    ) -> bool {
        let bars = ctx.settings.bars as f64;
        let to = from + bars * clock.bar_len;
        let channel = ctx.settings.out_channel;
        let started = Instant::now();
        let mut first_note_ms = None;
        let mut interrupted = false;
        let mut sink = |note: &Note| -> bool {
            if ctx.check_audio(|m| matches!(m, ToWorker::NoteStarted { onset_beats, .. } if *onset_beats < from - 1e-6)) {
                interrupted = true;
                return false;
            }
            first_note_ms.get_or_insert(started.elapsed().as_secs_f64() * 1e3);
            ctx.play(planned(note, note.onset_beats, channel));
            true
        };
        let mut writer = tasks::PartWriter::continuation(gen.spec, phrase, from, &gen.settings);
        let result = writer.write_until(gen.model, gen.spec, &[], to, &mut sink);
        match result {
            Ok(_) if interrupted => {
                ctx.cancel_planned();
                false
            }
            Ok(answer) => {
                gen.report(
                    ctx,
                    answer.len(),
                    started,
                    first_note_ms,
                    writer.key_in_use(),
                );
                save_answer(
                    ctx,
                    SavedAnswer {
                        mode: "continue".into(),
                        window_start_beats: phrase.first().map(|n| n.onset_beats).unwrap_or(from),
                        window_len_beats: 0.0,
                        heard: phrase
                            .iter()
                            .map(|n| saved::saved(n, n.onset_beats))
                            .collect(),
                        answer: answer
                            .iter()
                            .map(|n| saved::saved(n, n.onset_beats))
                            .collect(),
                    },
                );
                true
            }
            Err(e) => {
                ctx.status.set_error_line(format!("Generation failed: {e}"));
                true
            }
        }
    }
}

/// A recording window on the bar grid.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// First beat of the window's first pass.
    start: f64,
    /// Length in beats (Bars bars when it opened).
    len: f64,
}

/// Accompany mode's state. Notes in `current` and `next` are relative to the pass start
/// (0 = the window's first beat); `melody` is in song beats.
#[derive(Default)]
struct Accompaniment {
    window: Option<Window>,
    /// Song position where the pass being recorded started.
    pass_start: f64,
    /// Whether the host loops over the window (next pass = the loop's next turn).
    looping: bool,
    /// Melody heard since the pass began, in song beats.
    melody: Vec<Note>,
    /// Melody notes started and not yet finished (their duration is 0).
    sounding: Vec<CapturedNote>,
    /// Melody of a pass that just ended (relative), waiting for its answer to be finished.
    ended: Option<Vec<Note>>,
    /// Song position where that pass started.
    ended_start: f64,
    /// Melody of the previous pass (relative), to tell whether the next one changed.
    previous_melody: Option<Vec<Note>>,
    /// Accompaniment playing in this pass.
    current: Vec<Note>,
    /// Accompaniment being written for the next pass.
    next: Vec<Note>,
    /// How far `next` is written, in beats from the pass start.
    next_until: f64,
    /// The generation writing `next`, kept from bar to bar so each bar costs only its own
    /// tokens; `None` until a bar is generated, and after a bar was copied instead.
    writer: Option<tasks::PartWriter>,
    /// Regenerate was pressed: write `next` anew even if the melody did not change.
    force_new: bool,
    /// When the pass ended, to time the last part of the answer.
    closed_at: Option<Instant>,
    /// No note of the last part has been scheduled yet since the pass ended.
    awaiting_first_note: bool,
    /// The accompaniment saved with the project, for the first window if it opens where that
    /// one was.
    saved: Option<SavedPass>,
}

/// An accompanied pass as saved with the project, relative to its start.
struct SavedPass {
    start: f64,
    len: f64,
    heard: Vec<Note>,
    answer: Vec<Note>,
}

/// Whether the host loops over the window `start`, `len` (beats).
fn loops_over(status: &Status, start: f64, len: f64) -> bool {
    let transport = status.transport.read();
    let (ls, le) = (transport.loop_start_beats, transport.loop_end_beats);
    transport.loop_active && ls <= start + 1e-6 && le >= start + len - 1e-6 && le > ls
}

impl SavedPass {
    /// Whether the host loops over this window and plays `beats` of it.
    fn is_looped_at(&self, status: &Status, beats: f64) -> bool {
        loops_over(status, self.start, self.len)
            && (self.start..self.start + self.len).contains(&beats)
    }

    fn of(saved: &SavedAnswer) -> Option<Self> {
        if saved.mode != "accompany" || saved.answer.is_empty() {
            return None;
        }
        let start = saved.window_start_beats;
        let relative = |notes: &[SavedNote]| -> Vec<Note> {
            notes
                .iter()
                .map(|n| Note {
                    onset_beats: n.onset_beats - start,
                    ..saved::unsaved(n)
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

impl Accompaniment {
    fn on_message(&mut self, message: ToWorker, ctx: &mut WorkerContext) {
        match message {
            ToWorker::NoteStarted {
                onset_beats,
                key,
                channel,
                velocity,
            } => {
                if self.window.is_none() {
                    self.open_window(ctx, onset_beats);
                }
                self.sounding.push(CapturedNote {
                    onset_beats,
                    duration_beats: 0.0,
                    key,
                    channel,
                    velocity,
                });
            }
            ToWorker::Started { .. } => {}
            ToWorker::NoteFinished(note) => {
                self.sounding
                    .retain(|s| (s.key, s.channel) != (note.key, note.channel));
                if self.window.is_some() {
                    self.melody
                        .push(captured_note(&note, note.onset_beats, MELODY_PROGRAM));
                }
            }
            ToWorker::Jumped { to_beats, .. } => match self.window {
                Some(w) if self.looping && (to_beats - w.start).abs() < 1.0 => {
                    // The loop's next turn: what was heard belongs to the turn that ended.
                    self.end_pass(w);
                }
                _ => {
                    self.reset();
                    ctx.cancel_next_pass();
                }
            },
            ToWorker::Stopped { .. } => {
                self.reset();
                ctx.cancel_planned();
                ctx.cancel_next_pass();
            }
        }
    }

    /// Forgets everything heard and answered (what was saved with the project stays until a
    /// window takes it up).
    fn reset(&mut self) {
        *self = Accompaniment {
            saved: self.saved.take(),
            ..Accompaniment::default()
        };
    }

    /// The first melody note opens a window of Bars bars at the bar line before it.
    fn open_window(&mut self, ctx: &mut WorkerContext, onset_beats: f64) {
        let status = &ctx.status;
        let transport = status.transport.read();
        let clock = Clock {
            playhead: onset_beats,
            bar_start: transport.bar_start_beats,
            bar_len: transport.bar_len_beats.max(0.25),
            tempo_bpm: transport.tempo_bpm,
        };
        let mut start = clock.bar_line_at_or_before(onset_beats + 1e-6);
        let mut len = ctx.settings.bars as f64 * clock.bar_len;
        // The saved window, if this one is it, or if the host loops over it and plays in it.
        let saved = self.saved.take().filter(|s| {
            let same = (s.start - start).abs() < 1e-6 && (s.len - len).abs() < 1e-6;
            same || s.is_looped_at(status, onset_beats)
        });
        if let Some(s) = &saved {
            (start, len) = (s.start, s.len);
        }
        self.window = Some(Window { start, len });
        self.pass_start = start;
        self.looping = loops_over(status, start, len);
        if let Some(saved) = saved {
            self.resume(ctx, saved, onset_beats);
        }
    }

    /// Takes up the accompaniment saved with the project, as if the session had gone on: it is
    /// the answer to its melody (a pass repeating it, or any pass with Freeze on, gets it
    /// again), and in a host loop it plays from this turn on.
    fn resume(&mut self, ctx: &mut WorkerContext, saved: SavedPass, playhead: f64) {
        if self.looping {
            let channel = ctx.settings.out_channel;
            for note in &saved.answer {
                let onset = saved.start + note.onset_beats;
                if onset >= playhead {
                    ctx.play(planned(note, onset, channel));
                }
            }
        }
        self.previous_melody = Some(saved.heard);
        self.current = saved.answer;
    }

    /// Splits off the melody of the pass that ended; its answer is finished on the next tick.
    /// A note still held at the end counts as ending there, whether or not its note-off has
    /// arrived yet, so the answer does not depend on when the worker noticed the end.
    fn end_pass(&mut self, window: Window) {
        let end = self.pass_start + window.len;
        let (ended, later): (Vec<Note>, Vec<Note>) = if self.looping {
            (std::mem::take(&mut self.melody), Vec::new())
        } else {
            std::mem::take(&mut self.melody)
                .into_iter()
                .partition(|n| n.onset_beats < end)
        };
        let held = self.sounding.iter().map(|c| Note {
            // Clipped at the end below, with the notes that were let go after it.
            duration_beats: f64::INFINITY,
            ..captured_note(c, c.onset_beats, MELODY_PROGRAM)
        });
        let pass_start = self.pass_start;
        self.ended = Some(
            ended
                .into_iter()
                .chain(held)
                .filter(|n| (pass_start..end).contains(&n.onset_beats))
                .map(|n| Note {
                    onset_beats: n.onset_beats - pass_start,
                    duration_beats: n.duration_beats.min(end - n.onset_beats),
                    ..n
                })
                .collect(),
        );
        self.melody = later;
        self.ended_start = self.pass_start;
        self.pass_start = if self.looping { window.start } else { end };
        self.closed_at = Some(Instant::now());
        self.awaiting_first_note = true;
    }

    fn on_tick(
        &mut self,
        ctx: &mut WorkerContext,
        clock: &Clock,
        gen: &mut Generator,
        regenerate: bool,
    ) {
        // Reopened in a host loop over the saved window: its accompaniment plays at once.
        if self.window.is_none() {
            let saved = self.saved.as_ref();
            if saved.is_some_and(|s| s.is_looped_at(&ctx.status, clock.playhead)) {
                self.open_window(ctx, clock.playhead);
            }
        }
        let Some(window) = self.window else { return };
        if regenerate {
            // The accompaniment playing now plays on; the next pass gets a new one.
            if self.looping {
                ctx.cancel_next_pass();
            } else {
                ctx.cancel_planned_from(self.pass_start + window.len);
            }
            self.next.clear();
            self.next_until = 0.0;
            self.writer = None;
            self.force_new = true;
        }
        if !self.looping && self.ended.is_none() && clock.playhead >= self.pass_start + window.len {
            self.end_pass(window);
        }
        if let Some(ended) = self.ended.take() {
            // The pass that ended: finish its answer (its last part plays in the pass that has
            // just begun), then it becomes the answer playing now.
            while self.next_until < window.len - 1e-6 {
                let target = (self.next_until + clock.bar_len).min(window.len);
                let heard = ended_by(&ended, (target + gen.delta_beats()).min(window.len));
                self.extend_next(ctx, gen, &heard, target, Placement::ThisPass);
            }
            if let Some(closed_at) = self.closed_at {
                let ms = closed_at.elapsed().as_secs_f64() * 1e3;
                ctx.status.last_answer_ms.store(ms, Ordering::Relaxed);
            }
            let silent_pass = ended.is_empty() && self.next.is_empty();
            self.rotate(ctx, self.ended_start, window.len, ended);
            if silent_pass && !self.looping {
                // The player stopped: the next note opens a new window at its own bar.
                self.reset();
                return;
            }
            // Bars changes apply from the next window on (a loop keeps its window).
            if !self.looping {
                let len = ctx.settings.bars as f64 * clock.bar_len;
                self.window = Some(Window {
                    start: window.start,
                    len,
                });
            }
            return;
        }
        // Write the next pass bar by bar, each bar once the melody is known `delta` past it.
        let rel = clock.playhead - self.pass_start;
        let known = (rel - gen.delta_beats()).min(window.len);
        let target = (known / clock.bar_len).floor() * clock.bar_len;
        // One bar at a time, each hearing the notes that ended by `delta` past it (as the
        // last bars do once the pass has ended), so the answer does not depend on how often
        // or how late the worker ticks.
        while target >= self.next_until + clock.bar_len - 1e-6 {
            let melody: Vec<Note> = self
                .melody
                .iter()
                .filter(|n| n.onset_beats >= self.pass_start)
                .map(|n| Note {
                    onset_beats: n.onset_beats - self.pass_start,
                    ..*n
                })
                .collect();
            let bar_end = self.next_until + clock.bar_len;
            let heard = ended_by(&melody, bar_end + gen.delta_beats());
            self.extend_next(ctx, gen, &heard, bar_end, Placement::NextPass);
        }
    }

    /// Writes `next` from `next_until` to `target` for `melody` (relative): copied from
    /// `current` when the melody repeats the previous pass's (or Freeze is on), generated
    /// otherwise. Each note goes to the audio thread at once.
    fn extend_next(
        &mut self,
        ctx: &mut WorkerContext,
        gen: &mut Generator,
        melody: &[Note],
        target: f64,
        placement: Placement,
    ) {
        let Some(window) = self.window else { return };
        if target <= self.next_until + 1e-6 {
            return;
        }
        let from = self.next_until;
        let channel = ctx.settings.out_channel;
        let silent = melody.is_empty();
        let repeats = self
            .previous_melody
            .as_ref()
            .is_some_and(|prev| same_melody(prev, melody, target));
        // In a loop a silent turn keeps its accompaniment (the player is listening); on a
        // linear timeline a silent pass means the player stopped, so nothing follows it.
        let reuse = !self.force_new
            && !self.current.is_empty()
            && (self.looping || !silent)
            && (ctx.settings.freeze || repeats || silent);
        // Where a note of the next pass sounds: the loop's next turn, the turn that has just
        // begun, or the following window.
        let (looping, pass_start) = (self.looping, self.pass_start);
        let send = |ctx: &mut WorkerContext, note: &Note| match (looping, placement) {
            (true, Placement::NextPass) => {
                ctx.play_next_pass(planned(note, window.start + note.onset_beats, channel))
            }
            (true, Placement::ThisPass) => {
                ctx.play(planned(note, window.start + note.onset_beats, channel))
            }
            (false, Placement::NextPass) => ctx.play(planned(
                note,
                pass_start + window.len + note.onset_beats,
                channel,
            )),
            (false, Placement::ThisPass) => {
                ctx.play(planned(note, pass_start + note.onset_beats, channel))
            }
        };
        if reuse {
            let copied: Vec<Note> = self
                .current
                .iter()
                .filter(|n| n.onset_beats >= from - 1e-6 && n.onset_beats < target - 1e-6)
                .copied()
                .collect();
            for note in &copied {
                send(ctx, note);
            }
            self.next.extend(copied);
        } else if !melody.is_empty() {
            let started = Instant::now();
            let closed_at = self.closed_at;
            let mut first_note_ms = None;
            let mut sink = |note: &Note| {
                first_note_ms
                    .get_or_insert(closed_at.unwrap_or(started).elapsed().as_secs_f64() * 1e3);
                send(ctx, note);
                true
            };
            let writer = match &mut self.writer {
                Some(writer) if (writer.written_until() - from).abs() < 1e-6 => writer,
                _ => self.writer.insert(tasks::PartWriter::accompaniment(
                    gen.spec,
                    melody,
                    &self.next,
                    from,
                    &gen.settings,
                )),
            };
            let result = writer.write_until(gen.model, gen.spec, melody, target, &mut sink);
            if result.is_err() {
                self.writer = None;
            }
            match result {
                Ok(notes) => {
                    let first = first_note_ms.filter(|_| closed_at.is_some());
                    if let Some(ms) = first.filter(|_| self.awaiting_first_note) {
                        ctx.status.last_latency_ms.store(ms, Ordering::Relaxed);
                        self.awaiting_first_note = false;
                    }
                    let key = self.writer.as_ref().and_then(|w| w.key_in_use());
                    gen.report(ctx, notes.len(), started, first, key);
                    self.next.extend(notes);
                }
                Err(e) => ctx.status.set_error_line(format!("Generation failed: {e}")),
            }
        }
        self.next_until = target;
    }

    /// The pass is over: its accompaniment becomes the one playing, its melody the reference.
    /// `start` and `len` place the pass that ended in the song.
    fn rotate(&mut self, ctx: &mut WorkerContext, start: f64, len: f64, ended: Vec<Note>) {
        if !ended.is_empty() {
            self.previous_melody = Some(ended);
        }
        if !self.next.is_empty() {
            self.current = std::mem::take(&mut self.next);
            let heard = self.previous_melody.iter().flatten();
            save_answer(
                ctx,
                SavedAnswer {
                    mode: "accompany".into(),
                    window_start_beats: start,
                    window_len_beats: len,
                    heard: heard
                        .map(|n| saved::saved(n, start + n.onset_beats))
                        .collect(),
                    answer: self
                        .current
                        .iter()
                        .map(|n| saved::saved(n, start + n.onset_beats))
                        .collect(),
                },
            );
        }
        self.next.clear();
        self.next_until = 0.0;
        self.writer = None;
        self.force_new = false;
        self.closed_at = None;
        self.awaiting_first_note = false;
    }
}

/// Which pass an answer's notes are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// The pass after the one being recorded.
    NextPass,
    /// The pass that has just begun (the last part of an answer finished late).
    ThisPass,
}

/// The notes of `melody` that ended by `until` (beats).
fn ended_by(melody: &[Note], until: f64) -> Vec<Note> {
    melody
        .iter()
        .filter(|n| n.onset_beats + n.duration_beats <= until + 1e-6)
        .copied()
        .collect()
}

/// Whether two passes' melodies agree before `until` (same keys, onsets within a 32nd).
fn same_melody(a: &[Note], b: &[Note], until: f64) -> bool {
    let before = |notes: &[Note]| -> Vec<(u8, f64)> {
        let mut v: Vec<(u8, f64)> = notes
            .iter()
            .filter(|n| n.onset_beats < until)
            .map(|n| (n.pitch, n.onset_beats))
            .collect();
        v.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
        v
    };
    let (a, b) = (before(a), before(b));
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() < SAME_ONSET_BEATS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(onset: f64, pitch: u8) -> Note {
        Note {
            onset_beats: onset,
            duration_beats: 1.0,
            pitch,
            instrument: GmInstrument::Program(MELODY_PROGRAM),
            velocity: 90,
        }
    }

    #[test]
    fn melodies_match_within_a_tolerance_and_only_before_the_limit() {
        let a = vec![note(0.0, 60), note(1.0, 62), note(9.0, 64)];
        let b = vec![note(0.05, 60), note(1.0, 62), note(9.0, 65)];
        assert!(same_melody(&a, &b, 8.0));
        assert!(!same_melody(&a, &b, 10.0));
        assert!(!same_melody(&a, &[note(0.0, 60)], 8.0));
    }

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
