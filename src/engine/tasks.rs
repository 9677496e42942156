//! Worker thread and CLI: what a musician asks for, in notes and beats — continue a phrase,
//! accompany a melody, fill a gap — turned into one generation run and back into notes.
//!
//! Times are song positions in quarter notes. Before tokenizing, everything is shifted so the
//! earliest note that matters sits in the first bar (token times are bounded; song positions
//! are not), and shifted back afterwards. Notes older than the model's window can see are left
//! out of the prompt.

use super::generate::{generate_streaming, GenerateError, Request, WindowPolicy};
use super::model::LanguageModel;
use super::sampling::{Chooser, Grammar, SamplingParams};
use crate::tokens::notes::{events_to_notes, instrument_code, notes_to_events, ticks_per_beat};
use crate::tokens::{Note, NotesError, SplitMix64, Triple, TripleKind, VocabSpec};

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
}

impl Default for TaskSettings {
    fn default() -> Self {
        Self {
            sampling: SamplingParams {
                temperature: 1.0,
                top_p: crate::engine::sampling::DEFAULT_TOP_P,
            },
            seed: 0,
            instruments: None,
            tempo_bpm: 120.0,
            velocity: 80,
            max_new_notes: 4096,
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
    Event(#[from] crate::tokens::EventError),
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
/// instruments unless `settings.instruments` says otherwise.
pub fn continue_phrase(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    prompt: &[Note],
    from_beats: f64,
    to_beats: f64,
    settings: &TaskSettings,
) -> Result<Vec<Note>, TaskError> {
    continue_phrase_streaming(
        model,
        spec,
        prompt,
        from_beats,
        to_beats,
        settings,
        &mut |_| true,
    )
}

/// [`continue_phrase`], streaming each note to `sink` as it is decoded.
pub fn continue_phrase_streaming(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    prompt: &[Note],
    from_beats: f64,
    to_beats: f64,
    settings: &TaskSettings,
    sink: NoteSink,
) -> Result<Vec<Note>, TaskError> {
    let instruments = settings
        .instruments
        .clone()
        .or_else(|| Some(instrument_codes(spec, prompt)).filter(|c| !c.is_empty()));
    let prompt: Vec<Note> = prompt
        .iter()
        .copied()
        .filter(|n| n.onset_beats <= from_beats)
        .collect();
    run(
        model,
        spec,
        &prompt,
        &[],
        from_beats,
        to_beats,
        instruments,
        settings,
        sink,
    )
}

/// Accompanies `melody` (given to the model as anticipated controls) from `from_beats` to
/// `to_beats`, after the accompaniment heard so far (`context`). The answer never uses the
/// melody's own instruments unless `settings.instruments` asks for them.
pub fn accompany(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    melody: &[Note],
    context: &[Note],
    from_beats: f64,
    to_beats: f64,
    settings: &TaskSettings,
) -> Result<Vec<Note>, TaskError> {
    accompany_streaming(
        model,
        spec,
        melody,
        context,
        from_beats,
        to_beats,
        settings,
        &mut |_| true,
    )
}

/// [`accompany`], streaming each note to `sink` as it is decoded.
#[allow(clippy::too_many_arguments)]
pub fn accompany_streaming(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    melody: &[Note],
    context: &[Note],
    from_beats: f64,
    to_beats: f64,
    settings: &TaskSettings,
    sink: NoteSink,
) -> Result<Vec<Note>, TaskError> {
    let instruments = settings.instruments.clone().or_else(|| {
        let melody_codes = instrument_codes(spec, melody);
        Some(
            (0..spec.num_instruments())
                .filter(|c| !melody_codes.contains(c))
                .collect(),
        )
    });
    let context: Vec<Note> = context
        .iter()
        .copied()
        .filter(|n| n.onset_beats <= from_beats)
        .collect();
    run(
        model,
        spec,
        &context,
        melody,
        from_beats,
        to_beats,
        instruments,
        settings,
        sink,
    )
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
    let instruments = settings
        .instruments
        .clone()
        .or_else(|| Some(instrument_codes(spec, notes)).filter(|c| !c.is_empty()));
    let kept: Vec<Note> = notes
        .iter()
        .copied()
        .filter(|n| n.onset_beats < from_beats || n.onset_beats >= to_beats)
        .collect();
    run(
        model,
        spec,
        &kept,
        &[],
        from_beats,
        to_beats,
        instruments,
        settings,
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

/// One generation: `inputs` (before `from` a prompt, after it anticipated) and `controls`
/// (anticipated), the answer between `from_beats` and `to_beats`.
#[allow(clippy::too_many_arguments)]
fn run(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    inputs: &[Note],
    controls: &[Note],
    from_beats: f64,
    to_beats: f64,
    instruments: Option<Vec<u32>>,
    settings: &TaskSettings,
    sink: NoteSink,
) -> Result<Vec<Note>, TaskError> {
    if !(from_beats.is_finite() && to_beats.is_finite() && to_beats > from_beats) {
        return Err(TaskError::Invalid(format!(
            "nothing to generate between beat {from_beats} and beat {to_beats}"
        )));
    }
    let tpb = ticks_per_beat(spec, settings.tempo_bpm);
    let horizon_beats = spec.max_time() as f64 / tpb * PROMPT_SHARE_OF_TIME_RANGE;
    let earliest = from_beats - horizon_beats;
    let relevant = |n: &&Note| n.onset_beats >= earliest;
    let inputs: Vec<Note> = inputs.iter().filter(relevant).copied().collect();
    let controls: Vec<Note> = controls
        .iter()
        .filter(relevant)
        .filter(|n| n.onset_beats < to_beats)
        .copied()
        .collect();

    // Shift so the earliest relevant note (or the start) sits in the first 4/4 bar.
    let first = inputs
        .iter()
        .chain(&controls)
        .map(|n| n.onset_beats)
        .fold(from_beats, f64::min)
        .max(0.0);
    let base_beats = (first / 4.0).floor() * 4.0;
    let shift = |notes: &[Note]| -> Vec<Note> {
        notes
            .iter()
            .map(|n| Note {
                onset_beats: n.onset_beats - base_beats,
                ..*n
            })
            .collect()
    };
    let encode = |notes: &[Note]| -> Result<Vec<Triple>, TaskError> {
        notes_to_events(spec, &shift(notes), settings.tempo_bpm)?
            .iter()
            .map(|e| spec.encode_event(e).map_err(TaskError::from))
            .collect()
    };
    let inputs = encode(&inputs)?;
    let controls: Vec<Triple> = encode(&controls)?
        .into_iter()
        .map(|t| spec.to_control(t))
        .collect();
    let to_ticks = |beats: f64| ((beats - base_beats) * tpb).round() as i64;

    let request = Request {
        start_ticks: to_ticks(from_beats),
        end_ticks: to_ticks(to_beats),
        inputs,
        controls,
        drop_controls_before_ticks: 0,
        delta_ticks: spec.delta_ticks() as i64,
        sampling: settings.sampling,
        grammar: Grammar::product(instruments).with_max_onset_gap(spec.rest_density_ticks() as i64),
        window: WindowPolicy::Hop {
            keep_tokens: HOP_KEEP_TOKENS,
        },
        // Rests count as triples too; the note limit is kept by the observer.
        max_new_triples: settings.max_new_notes.saturating_mul(4).max(1),
    };
    let mut chooser = Chooser::Sample(SplitMix64::new(settings.seed));
    let mut notes = Vec::new();
    let mut failure = None;
    let mut observe = |t: &Triple| -> bool {
        let Ok(TripleKind::Event(event)) = spec.classify(t) else {
            return true;
        };
        match events_to_notes(spec, &[event], settings.tempo_bpm, settings.velocity) {
            Ok(mut one) => {
                let mut note = one.remove(0);
                note.onset_beats += base_beats;
                notes.push(note);
                sink(&note) && notes.len() < settings.max_new_notes
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    };
    generate_streaming(model, spec, &request, &mut chooser, &mut observe)?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::FakeModel;
    use crate::tokens::GmInstrument;

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
