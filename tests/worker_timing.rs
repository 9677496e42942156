//! An answer must not depend on when the worker thread happens to run: a worker that ticks
//! every 32nd note and one that wakes late and rarely (as on a loaded machine) hear the same
//! playing and must write the same answer, note for note, in Accompany and in Continue. Drives
//! the product's worker policy directly, with the fixture model through the real ONNX Runtime.

mod driver;

use antiphon::params::Mode;
use antiphon_core::note::Note;
use driver::{Played, Ticks, Worker, STEADY};

/// A four-bar melody of quarter notes held for 0.9 beats.
fn quarter_notes() -> Vec<Played> {
    let keys = [72u8, 74, 76, 77, 79, 77, 76, 74];
    driver::quarter_notes(0.0, &keys.repeat(2))
}

/// Plays `melody` through 9 bars in `mode` with Bars = `bars`, the worker ticking as `ticks`
/// says; returns the notes it asked the audio thread to play.
fn answer(mode: Mode, bars: i32, melody: &[Played], ticks: Ticks) -> Vec<Note> {
    let worker = Worker::new(mode, bars, 11);
    let played = worker.play(melody, 36.0, ticks, |_, _| {});
    assert_eq!(worker.error(), "", "the worker reported an error");
    played
}

/// The accompaniment of `melody` from a steady worker, checked to be the same from rare and
/// late ones.
fn assert_accompanied_the_same_however_the_worker_ticks(melody: &[Played]) {
    let accompany = |ticks| answer(Mode::Accompany, 4, melody, ticks);
    let steady = accompany(STEADY);
    assert!(!steady.is_empty(), "nothing was accompanied");
    assert!(
        steady.iter().all(|n| (16.0..32.0).contains(&n.onset_beats)),
        "the answer belongs in bars 5–8"
    );
    let rare = Ticks {
        first: 5,
        every: 23,
        lag: 0,
    };
    assert_eq!(accompany(rare), steady, "a worker ticking every 0.72 beats");
    let late = Ticks {
        first: 17,
        every: 61,
        lag: 13,
    };
    assert_eq!(
        accompany(late),
        steady,
        "a worker ticking every 1.9 beats, 0.4 beats behind"
    );
}

#[test]
fn the_accompaniment_does_not_depend_on_when_the_worker_ticks() {
    assert_accompanied_the_same_however_the_worker_ticks(&quarter_notes());
}

#[test]
fn long_notes_and_one_held_past_the_window_are_heard_the_same_by_any_worker() {
    // Half notes held almost two beats, whose releases fall between bar lines, and a last
    // note held a beat and a half into bar 5.
    let note = |onset: f64, release: f64, key: u8| Played {
        onset,
        release,
        key,
        velocity: 0.7,
    };
    let mut melody: Vec<Played> = (0..7)
        .map(|i| note(2.0 * i as f64, 2.0 * i as f64 + 1.9, 72 + 2 * i as u8))
        .collect();
    melody.push(note(14.5, 17.5, 79));
    assert_accompanied_the_same_however_the_worker_ticks(&melody);
}

#[test]
fn the_continuation_does_not_depend_on_when_the_worker_ticks() {
    // One bar whose last note is let go half a beat after the answer became due (beat 3):
    // a steady worker hears it held, a rarer one (its tick at beat 3.72) hears it ended.
    let mut phrase = quarter_notes();
    phrase.truncate(4);
    phrase[3].release = 3.5;
    let steady = answer(Mode::Continue, 2, &phrase, STEADY);
    assert!(!steady.is_empty(), "nothing was played");
    assert!(
        steady.iter().all(|n| (4.0..12.0).contains(&n.onset_beats)),
        "the continuation belongs in bars 2–3"
    );
    let rare = Ticks {
        first: 3,
        every: 29,
        lag: 2,
    };
    assert_eq!(answer(Mode::Continue, 2, &phrase, rare), steady);
}
