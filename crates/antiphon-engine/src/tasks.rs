//! Worker thread and CLI: what a musician asks for, in notes and beats — continue a phrase,
//! accompany a melody, fill a gap — turned into one generation run and back into notes.
//!
//! Times are song positions in quarter notes. Before tokenizing, everything is shifted so the
//! earliest note that matters sits in the first bar (token times are bounded; song positions
//! are not), and shifted back afterwards. Notes older than the model's window can see are left
//! out of the prompt.

use super::generate::{GenerateError, Generation, Request, WindowPolicy};
use super::model::LanguageModel;
use super::sampling::{Chooser, Grammar, SamplingParams};
use super::steering::{Frame, Role, Steerer, Steering};
use antiphon_tokens::notes::{events_to_notes, instrument_code, notes_to_events, ticks_per_beat};
use antiphon_tokens::{Note, NotesError, SplitMix64, Triple, TripleKind, VocabSpec};

/// Tokens the hop window keeps when it jumps (256 triples; the caching branch keeps 768).
pub const HOP_KEEP_TOKENS: usize = 768;
/// Share of the vocabulary's time range the prompt may reach back, leaving room to generate.
const PROMPT_SHARE_OF_TIME_RANGE: f64 = 0.75;

/// What every task needs besides its notes.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSettings {
    /// Temperature and top-p.
    pub sampling: SamplingParams,
    /// Seed of the sampler: the same seed, notes, settings and model give the same answer.
    pub seed: u64,
    /// Instrument codes the answer may use; `None` lets the task decide (see each task).
    pub instruments: Option<Vec<u32>>,
    /// Tempo in quarter notes per minute (only `amt` vocabularies, which count seconds, use it).
    pub tempo_bpm: f64,
    /// Velocity given to generated notes (the vocabulary has none, DESIGN §4).
    pub velocity: u8,
    /// Stop after this many generated notes even before the end.
    pub max_new_notes: usize,
    /// Key, harmony, register, density and voices.
    pub steering: Steering,
    /// Quarter notes per bar; every task starts on a bar line.
    pub beats_per_bar: f64,
    /// Whether a model that reads the melody's key hears the key of the whole melody known,
    /// not (the default, as in training) that of the notes anticipation has placed so far.
    pub key_from_whole_melody: bool,
}

impl Default for TaskSettings {
    fn default() -> Self {
        Self {
            sampling: SamplingParams {
                temperature: 1.0,
                top_p: crate::sampling::DEFAULT_TOP_P,
            },
            seed: 0,
            instruments: None,
            tempo_bpm: 120.0,
            velocity: 80,
            max_new_notes: 4096,
            // The plain model: the plugin and the CLI pass their own (steering) defaults.
            steering: Steering::off(),
            beats_per_bar: 4.0,
            key_from_whole_melody: false,
        }
    }
}

/// Why a task failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A note could not be tokenized.
    #[error("a note cannot be tokenized: {0}")]
    Notes(#[from] NotesError),
    /// The vocabulary refused an event.
    #[error("an event cannot be encoded: {0}")]
    Event(#[from] antiphon_tokens::EventError),
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// The request makes no sense.
    #[error("{0}")]
    Invalid(String),
}

/// Receives each generated note as soon as it is decoded; `false` stops generation.
pub type NoteSink<'a> = &'a mut dyn FnMut(&Note) -> bool;

/// Continues `prompt` from `from_beats` to `to_beats`. The answer uses the prompt's
/// instruments unless `settings.instruments` says otherwise. To have each note as it is
/// decoded, use [`PartWriter::continuation`] and its `write_until` sink.
pub fn continue_phrase(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    prompt: &[Note],
    from_beats: f64,
    to_beats: f64,
    settings: &TaskSettings,
) -> Result<Vec<Note>, TaskError> {
    PartWriter::continuation(spec, prompt, from_beats, settings).write_until(
        model,
        spec,
        &[],
        to_beats,
        &mut |_| true,
    )
}

/// Accompanies `melody` (given to the model as anticipated controls) from `from_beats` to
/// `to_beats`, after the accompaniment heard so far (`context`). The answer never uses the
/// melody's own instruments unless `settings.instruments` asks for them. To have each note as
/// it is decoded, use [`PartWriter::accompaniment`] and its `write_until` sink.
pub fn accompany(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    melody: &[Note],
    context: &[Note],
    from_beats: f64,
    to_beats: f64,
    settings: &TaskSettings,
) -> Result<Vec<Note>, TaskError> {
    PartWriter::accompaniment(spec, melody, context, from_beats, settings).write_until(
        model,
        spec,
        melody,
        to_beats,
        &mut |_| true,
    )
}

/// The instruments an accompaniment may use: those `settings` asks for, or every one but
/// the melody's.
fn accompaniment_instruments(
    spec: &VocabSpec,
    melody: &[Note],
    settings: &TaskSettings,
) -> Vec<u32> {
    settings.instruments.clone().unwrap_or_else(|| {
        let melody_codes = instrument_codes(spec, melody);
        (0..spec.num_instruments())
            .filter(|c| !melody_codes.contains(c))
            .collect()
    })
}

/// The instruments a part of the piece `notes` may use: those `settings` asks for, else the
/// piece's own (`None`, any, when it has no notes).
fn piece_instruments(
    spec: &VocabSpec,
    notes: &[Note],
    settings: &TaskSettings,
) -> Option<Vec<u32>> {
    settings
        .instruments
        .clone()
        .or_else(|| Some(instrument_codes(spec, notes)).filter(|c| !c.is_empty()))
}

/// Fills `from_beats..to_beats` of `notes`: what comes before is the prompt, what comes after
/// is anticipated. Notes inside the span are replaced. The answer uses the piece's instruments.
pub fn infill(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    notes: &[Note],
    from_beats: f64,
    to_beats: f64,
    settings: &TaskSettings,
) -> Result<Vec<Note>, TaskError> {
    let instruments = piece_instruments(spec, notes, settings);
    let kept: Vec<Note> = notes
        .iter()
        .copied()
        .filter(|n| n.onset_beats < from_beats || n.onset_beats >= to_beats)
        .collect();
    PartWriter::new(&kept, from_beats, instruments, settings).write_until(
        model,
        spec,
        &[],
        to_beats,
        &mut |_| true,
    )
}

/// Instrument codes the notes use, in first-use order.
pub fn instrument_codes(spec: &VocabSpec, notes: &[Note]) -> Vec<u32> {
    let mut codes = Vec::new();
    for n in notes {
        let code = instrument_code(spec, n.instrument);
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// A part written span by span, each span continuing the same generation: the same tokens,
/// sampler and model cache, with the controls heard since handed over. Writing bar by bar
/// this way costs the model the new bar's tokens only, where a fresh run per bar would
/// prefill everything before it again.
#[derive(Debug)]
pub struct PartWriter {
    /// Prompt and anticipated inputs, until the first span builds the prompt from them.
    inputs: Vec<Note>,
    /// Where the part is written up to (beats).
    written_until: f64,
    instruments: Option<Vec<u32>>,
    settings: TaskSettings,
    /// What Auto steering aims at.
    role: Role,
    /// Where the part starts (a bar line).
    origin_beats: f64,
    chooser: Chooser,
    /// The generation and the song position of its tick 0, once the first span ran.
    generation: Option<(Generation, f64)>,
    /// Controls handed to the generation so far.
    given: Vec<Note>,
    /// Notes written so far.
    written: usize,
}

impl PartWriter {
    /// A part from `from_beats` after `inputs` (those after `from_beats` are anticipated),
    /// in `instruments` (`None`: any).
    pub fn new(
        inputs: &[Note],
        from_beats: f64,
        instruments: Option<Vec<u32>>,
        settings: &TaskSettings,
    ) -> Self {
        Self {
            inputs: inputs.to_vec(),
            written_until: from_beats,
            instruments,
            settings: settings.clone(),
            role: Role::Continue,
            origin_beats: from_beats,
            chooser: Chooser::Sample(SplitMix64::new(settings.seed)),
            generation: None,
            given: Vec::new(),
            written: 0,
        }
    }

    /// The accompaniment of `melody` from `from_beats`, after the part heard so far
    /// (`context`); its instruments as in [`accompany`].
    pub fn accompaniment(
        spec: &VocabSpec,
        melody: &[Note],
        context: &[Note],
        from_beats: f64,
        settings: &TaskSettings,
    ) -> Self {
        let context: Vec<Note> = context
            .iter()
            .copied()
            .filter(|n| n.onset_beats <= from_beats)
            .collect();
        let instruments = accompaniment_instruments(spec, melody, settings);
        Self {
            role: Role::Accompany,
            ..Self::new(&context, from_beats, Some(instruments), settings)
        }
    }

    /// The continuation of `prompt` from `from_beats`, in the prompt's instruments unless
    /// `settings.instruments` says otherwise.
    pub fn continuation(
        spec: &VocabSpec,
        prompt: &[Note],
        from_beats: f64,
        settings: &TaskSettings,
    ) -> Self {
        let instruments = piece_instruments(spec, prompt, settings);
        let prompt: Vec<Note> = prompt
            .iter()
            .copied()
            .filter(|n| n.onset_beats <= from_beats)
            .collect();
        Self::new(&prompt, from_beats, instruments, settings)
    }

    /// The key the part keeps to now, and whether it was followed (not fixed).
    pub fn key_in_use(&self) -> Option<(super::steering::Key, bool)> {
        self.generation
            .as_ref()
            .and_then(|(g, _)| g.steerer())
            .and_then(|s| s.key_in_use())
    }

    /// Where the part is written up to (beats).
    pub fn written_until(&self) -> f64 {
        self.written_until
    }

    /// Writes the part on to `to_beats`, streaming each note to `sink`, after handing the
    /// generation every note of `controls` it has not had yet that starts within the
    /// vocabulary's anticipation interval of `to_beats` (later ones wait for a later span).
    pub fn write_until(
        &mut self,
        model: &mut dyn LanguageModel,
        spec: &VocabSpec,
        controls: &[Note],
        to_beats: f64,
        sink: NoteSink,
    ) -> Result<Vec<Note>, TaskError> {
        let from_beats = self.written_until;
        if !(from_beats.is_finite() && to_beats.is_finite() && to_beats > from_beats) {
            return Err(TaskError::Invalid(format!(
                "nothing to generate between beat {from_beats} and beat {to_beats}"
            )));
        }
        let settings = &self.settings;
        let tpb = ticks_per_beat(spec, settings.tempo_bpm);
        // Controls up to `delta` past the end, as in training, where the last events of a
        // span already see the controls anticipated after it.
        let anticipated_until = to_beats + spec.delta_ticks() as f64 / tpb;
        let new_controls: Vec<Note> = controls
            .iter()
            .filter(|n| n.onset_beats < anticipated_until && !self.given.contains(n))
            .copied()
            .collect();
        let (generation, base_beats) = match &mut self.generation {
            Some((generation, base_beats)) => {
                let base = *base_beats;
                // A control before the generation's tick 0 is out of its reach.
                let reachable: Vec<Note> = new_controls
                    .iter()
                    .copied()
                    .filter(|n| n.onset_beats >= base)
                    .collect();
                let triples = encode_controls(spec, &reachable, base, settings)?;
                generation.add_controls(spec, &triples);
                (generation, base)
            }
            None => {
                let (generation, base) =
                    self.first_span(spec, &new_controls, from_beats, to_beats)?;
                let (generation, _) = self.generation.insert((generation, base));
                (generation, base)
            }
        };
        self.given.extend(new_controls);
        let to_ticks = ((to_beats - base_beats) * tpb).round() as i64;

        let mut notes = Vec::new();
        let mut failure = None;
        let written_before = self.written;
        let max_new_notes = settings.max_new_notes;
        let mut observe = |t: &Triple| -> bool {
            let Ok(TripleKind::Event(event)) = spec.classify(t) else {
                return true;
            };
            match events_to_notes(spec, &[event], settings.tempo_bpm, settings.velocity) {
                Ok(mut one) => {
                    let mut note = one.remove(0);
                    note.onset_beats += base_beats;
                    notes.push(note);
                    sink(&note) && written_before + notes.len() < max_new_notes
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        };
        generation.run_until(model, spec, to_ticks, &mut self.chooser, &mut observe)?;
        if let Some(e) = failure {
            return Err(e.into());
        }
        self.written += notes.len();
        self.written_until = to_beats;
        Ok(notes)
    }

    /// Builds the prompt: notes the model's window can reach, shifted so the earliest sits in
    /// the first 4/4 bar (token times are bounded; song positions are not).
    fn first_span(
        &self,
        spec: &VocabSpec,
        controls: &[Note],
        from_beats: f64,
        to_beats: f64,
    ) -> Result<(Generation, f64), TaskError> {
        let settings = &self.settings;
        let tpb = ticks_per_beat(spec, settings.tempo_bpm);
        let horizon_beats = spec.max_time() as f64 / tpb * PROMPT_SHARE_OF_TIME_RANGE;
        let earliest = from_beats - horizon_beats;
        let relevant = |n: &&Note| n.onset_beats >= earliest;
        let inputs: Vec<Note> = self.inputs.iter().filter(relevant).copied().collect();
        let controls: Vec<Note> = controls.iter().filter(relevant).copied().collect();
        let first = inputs
            .iter()
            .chain(&controls)
            .map(|n| n.onset_beats)
            .fold(from_beats, f64::min)
            .max(0.0);
        let base_beats = (first / 4.0).floor() * 4.0;
        let inputs = encode(spec, &inputs, base_beats, settings)?;
        let controls = encode_controls(spec, &controls, base_beats, settings)?;
        let to_ticks = |beats: f64| ((beats - base_beats) * tpb).round() as i64;
        let request = Request {
            start_ticks: to_ticks(from_beats),
            end_ticks: to_ticks(to_beats),
            inputs,
            controls,
            drop_controls_before_ticks: 0,
            delta_ticks: spec.delta_ticks() as i64,
            sampling: settings.sampling,
            grammar: Grammar::product(self.instruments.clone())
                .with_max_onset_gap(spec.rest_density_ticks() as i64),
            window: WindowPolicy::Hop {
                keep_tokens: HOP_KEEP_TOKENS,
            },
            // Rests count as triples too; the note limit is kept by the observer.
            max_new_triples: settings.max_new_notes.saturating_mul(4).max(1),
            key_from_whole_melody: settings.key_from_whole_melody,
        };
        let mut generation = Generation::new(spec, request)?;
        if !settings.steering.is_off() {
            let frame = Frame {
                ticks_per_beat: tpb,
                beats_per_bar: settings.beats_per_bar,
                bar_origin_ticks: (self.origin_beats - base_beats) * tpb,
            };
            generation.steer(
                spec,
                Steerer::new(spec, settings.steering, self.role, frame),
            );
        }
        Ok((generation, base_beats))
    }
}

/// Notes as event triples, `base_beats` being tick 0.
fn encode(
    spec: &VocabSpec,
    notes: &[Note],
    base_beats: f64,
    settings: &TaskSettings,
) -> Result<Vec<Triple>, TaskError> {
    let shifted: Vec<Note> = notes
        .iter()
        .map(|n| Note {
            onset_beats: n.onset_beats - base_beats,
            ..*n
        })
        .collect();
    notes_to_events(spec, &shifted, settings.tempo_bpm)?
        .iter()
        .map(|e| spec.encode_event(e).map_err(TaskError::from))
        .collect()
}

/// Notes as control triples (anticipated), `base_beats` being tick 0.
fn encode_controls(
    spec: &VocabSpec,
    notes: &[Note],
    base_beats: f64,
    settings: &TaskSettings,
) -> Result<Vec<Triple>, TaskError> {
    let events = encode(spec, notes, base_beats, settings)?;
    Ok(events.into_iter().map(|t| spec.to_control(t)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeModel;
    use antiphon_tokens::GmInstrument;

    fn melody() -> Vec<Note> {
        (0..8)
            .map(|i| Note {
                onset_beats: 400.0 + i as f64,
                duration_beats: 1.0,
                pitch: 60 + (i % 5) as u8,
                instrument: GmInstrument::Program(73),
                velocity: 90,
            })
            .collect()
    }

    #[test]
    fn accompaniment_stays_in_its_window_and_off_the_melody_instrument() {
        let spec = VocabSpec::amt();
        let mut model = FakeModel::amt();
        let settings = TaskSettings {
            seed: 3,
            ..TaskSettings::default()
        };
        let out = accompany(&mut model, &spec, &melody(), &[], 400.0, 408.0, &settings).unwrap();
        assert!(!out.is_empty());
        for n in &out {
            assert!(
                n.onset_beats >= 400.0 - 1e-9 && n.onset_beats < 408.0,
                "{n:?}"
            );
            assert_ne!(n.instrument, GmInstrument::Program(73));
            assert_eq!(n.velocity, 80);
        }
    }

    #[test]
    fn same_seed_same_answer_other_seed_other_answer() {
        let spec = VocabSpec::amt();
        let run = |seed| {
            let settings = TaskSettings {
                seed,
                ..TaskSettings::default()
            };
            continue_phrase(
                &mut FakeModel::amt(),
                &spec,
                &melody(),
                408.0,
                416.0,
                &settings,
            )
            .unwrap()
        };
        assert_eq!(run(1), run(1));
        assert!(run(1)
            .iter()
            .all(|n| n.instrument == GmInstrument::Program(73)));
    }

    #[test]
    fn a_part_written_bar_by_bar_feeds_the_model_each_bar_once() {
        let spec = VocabSpec::amt();
        let mut model = FakeModel::amt();
        let settings = TaskSettings {
            seed: 5,
            ..TaskSettings::default()
        };
        let melody = melody();
        let mut writer = PartWriter::accompaniment(&spec, &melody, &[], 400.0, &settings);
        let mut part = Vec::new();
        for bar in 0..3 {
            let cached = model.cached().to_vec();
            let calls = model.calls.len();
            let to = 404.0 + 4.0 * bar as f64;
            part.extend(
                writer
                    .write_until(&mut model, &spec, &melody, to, &mut |_| true)
                    .unwrap(),
            );
            // Only the triple sampled past the last bar's end (two tokens fed) is fed anew.
            let input = &model.calls[calls].input;
            let shared = cached.iter().zip(input).take_while(|(a, b)| a == b).count();
            assert!(
                shared + 2 >= cached.len(),
                "bar {bar}: {shared} of {}",
                cached.len()
            );
        }
        assert!(part.len() > 8, "{part:?}");
        assert!(part
            .windows(2)
            .all(|w| w[0].onset_beats <= w[1].onset_beats));
        assert!(part.iter().all(|n| (400.0..412.0).contains(&n.onset_beats)));
        // Each bar's melody is handed over once.
        assert_eq!(writer.given.len(), melody.len());
    }

    #[test]
    fn an_empty_span_is_refused() {
        let spec = VocabSpec::amt();
        let err = infill(
            &mut FakeModel::amt(),
            &spec,
            &melody(),
            8.0,
            8.0,
            &TaskSettings::default(),
        )
        .unwrap_err();
        assert!(matches!(err, TaskError::Invalid(_)));
    }
}
