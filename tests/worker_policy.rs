//! What the musician's settings do to the answers, through the product's worker policy with
//! the fixture model (real generation through the real ONNX Runtime): Velocity, Instrument,
//! Freeze, Regenerate, Seed, Bars changed mid-way, and a model that cannot load.

mod driver;

use antiphon::params::{AntiphonParams, Instrument, Mode};
use antiphon_core::note::Note;
use driver::{quarter_notes, set, Played, Worker, STEADY};

const TUNE_A: [u8; 16] = [
    72, 74, 76, 77, 79, 77, 76, 74, 72, 74, 76, 77, 79, 77, 76, 74,
];
const TUNE_B: [u8; 16] = [
    67, 69, 71, 72, 74, 72, 71, 69, 67, 69, 71, 72, 74, 72, 71, 69,
];

/// Tune `first` in bars 1–4 and tune `second` in bars 5–8.
fn two_passes(first: &[u8], second: &[u8]) -> Vec<Played> {
    let mut melody = quarter_notes(0.0, first);
    melody.extend(quarter_notes(16.0, second));
    melody
}

/// The notes with onsets in `from..to`, moved to start at 0 and rounded to a millionth of a
/// beat (to compare two passes).
fn pass(notes: &[Note], from: f64, to: f64) -> Vec<Note> {
    notes
        .iter()
        .filter(|n| (from..to).contains(&n.onset_beats))
        .map(|n| Note {
            onset_beats: ((n.onset_beats - from) * 1e6).round() / 1e6,
            ..*n
        })
        .collect()
}

/// Accompanies `melody` through 12 bars; `before_tick` may change parameters on the way.
fn accompany(
    worker: &Worker,
    melody: &[Played],
    before_tick: impl FnMut(f64, &AntiphonParams),
) -> Vec<Note> {
    let played = worker.play(melody, 48.0, STEADY, before_tick);
    assert_eq!(worker.error(), "", "the worker reported an error");
    assert!(!played.is_empty(), "nothing was accompanied");
    played
}

#[test]
fn a_fixed_velocity_is_every_answer_notes_and_follow_takes_the_players() {
    let melody = quarter_notes(0.0, &TUNE_A);
    let fixed = Worker::new(Mode::Accompany, 4, 11);
    set(&fixed.params.velocity, 100);
    let played = accompany(&fixed, &melody, |_, _| {});
    assert!(played.iter().all(|n| n.velocity.get() == 100));

    let soft: Vec<Played> = melody
        .iter()
        .map(|n| Played {
            velocity: 0.5,
            ..*n
        })
        .collect();
    let follow = Worker::new(Mode::Accompany, 4, 11);
    let played = accompany(&follow, &soft, |_, _| {});
    // 0.5 of 127, rounded.
    assert!(played.iter().all(|n| n.velocity.get() == 64));
}

#[test]
fn the_instrument_parameter_keeps_the_answer_in_its_family() {
    let worker = Worker::new(Mode::Accompany, 4, 11);
    set(&worker.params.instrument, Instrument::Strings);
    accompany(&worker, &quarter_notes(0.0, &TUNE_A), |_, _| {});
    let answer = worker.params.last_answer.read().unwrap().answer.clone();
    assert!(!answer.is_empty());
    // The vocabulary writes tremolo and pizzicato strings (44, 45) as a string ensemble (48).
    assert!(
        answer
            .iter()
            .all(|n| [40, 41, 42, 43, 46, 48].contains(&n.program)),
        "{answer:?}"
    );
}

#[test]
fn a_changed_melody_is_accompanied_anew_unless_frozen() {
    let melody = two_passes(&TUNE_A, &TUNE_B);
    let free = accompany(&Worker::new(Mode::Accompany, 4, 11), &melody, |_, _| {});
    assert_ne!(pass(&free, 16.0, 32.0), pass(&free, 32.0, 48.0));

    let frozen = Worker::new(Mode::Accompany, 4, 11);
    set(&frozen.params.freeze, true);
    let kept = accompany(&frozen, &melody, |_, _| {});
    assert_eq!(pass(&kept, 16.0, 32.0), pass(&free, 16.0, 32.0));
    assert_eq!(pass(&kept, 32.0, 48.0), pass(&kept, 16.0, 32.0));
}

#[test]
fn a_repeated_melody_keeps_its_accompaniment_until_regenerate_is_pressed() {
    let melody = two_passes(&TUNE_A, &TUNE_A);
    let kept = accompany(&Worker::new(Mode::Accompany, 4, 11), &melody, |_, _| {});
    assert_eq!(pass(&kept, 32.0, 48.0), pass(&kept, 16.0, 32.0));

    // The editor's button: on and off again at once, between two looks of the worker, half
    // way through bar 6 (with a fixed seed, too).
    let press = |worker: &Worker| {
        let mut pressed = false;
        accompany(worker, &melody, move |beat, params| {
            if beat >= 22.0 && !pressed {
                set(&params.regenerate, true);
                set(&params.regenerate, false);
                pressed = true;
            }
        })
    };
    let regenerated = press(&Worker::new(Mode::Accompany, 4, 11));
    assert_eq!(
        pass(&regenerated, 16.0, 32.0),
        pass(&kept, 16.0, 32.0),
        "the accompaniment playing when Regenerate was pressed plays to its end"
    );
    assert_ne!(pass(&regenerated, 32.0, 48.0), pass(&kept, 32.0, 48.0));
    assert!(!pass(&regenerated, 32.0, 48.0).is_empty());
    assert_eq!(
        press(&Worker::new(Mode::Accompany, 4, 11)),
        regenerated,
        "the same playing and presses give the same answers"
    );
}

#[test]
fn seed_zero_draws_a_new_answer_each_time() {
    let melody = quarter_notes(0.0, &TUNE_A);
    let first = accompany(&Worker::new(Mode::Accompany, 4, 0), &melody, |_, _| {});
    let second = accompany(&Worker::new(Mode::Accompany, 4, 0), &melody, |_, _| {});
    assert_ne!(first, second);
}

#[test]
fn bars_changed_during_a_window_apply_from_the_next_one() {
    // Bars goes from 4 to 2 in bar 2: the first window keeps four bars (its answer fills
    // bars 5–8); the second, opened at bar 5, has two (its answer fills bars 7–8).
    let melody = two_passes(&TUNE_A, &TUNE_A[..8]);
    let worker = Worker::new(Mode::Accompany, 4, 11);
    let played = accompany(&worker, &melody, |beat, params| {
        if beat >= 5.0 {
            set(&params.bars, 2);
        }
    });
    assert!(played
        .iter()
        .any(|n| n.onset_beats >= 28.0 && n.onset_beats < 32.0));
    let saved = worker.params.last_answer.read().unwrap().clone();
    assert_eq!(saved.window_start_beats, 16.0);
    assert_eq!(
        saved.window_len_beats, 8.0,
        "the second window has two bars"
    );
    assert!(
        played.iter().all(|n| n.onset_beats < 32.0),
        "nothing after bar 8"
    );
}

#[test]
fn a_model_that_cannot_load_answers_nothing_and_says_why() {
    let worker = Worker::new(Mode::Accompany, 4, 11);
    let broken = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/no-such-model");
    *worker.params.model_folder.write().unwrap() = broken.to_string();
    let played = worker.play(&quarter_notes(0.0, &TUNE_A), 32.0, STEADY, |_, _| {});
    assert!(played.is_empty());
    let error = worker.error();
    assert!(
        error.starts_with("The model cannot run, so MIDI passes through:")
            && error.contains("no-such-model"),
        "{error}"
    );
    assert_eq!(
        *worker.status.engine_line.lock().unwrap(),
        "No model: passing MIDI through"
    );
}

#[test]
fn a_reopened_project_answers_its_melody_with_the_saved_accompaniment() {
    // Seed 0: without the saved answer, each run would answer anew.
    let melody = quarter_notes(0.0, &TUNE_A);
    let before = Worker::new(Mode::Accompany, 4, 0);
    let first = accompany(&before, &melody, |_, _| {});
    let saved = before.params.last_answer.read().unwrap().clone();

    let reopened = Worker::new(Mode::Accompany, 4, 0);
    *reopened.params.last_answer.write().unwrap() = saved.clone();
    let again = accompany(&reopened, &melody, |_, _| {});
    assert_eq!(pass(&again, 16.0, 32.0), pass(&first, 16.0, 32.0));

    // Another melody in the same window is accompanied anew.
    let other = Worker::new(Mode::Accompany, 4, 0);
    *other.params.last_answer.write().unwrap() = saved;
    let anew = accompany(&other, &quarter_notes(0.0, &TUNE_B), |_, _| {});
    assert_ne!(pass(&anew, 16.0, 32.0), pass(&first, 16.0, 32.0));
}
