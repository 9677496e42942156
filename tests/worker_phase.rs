//! What the worker tells the editor it is doing (`Status::phase`, the status line's source),
//! through the product's worker policy on the fixture model: a Continue phrase and its answer,
//! an Accompany window and its accompaniment, and a model that cannot load.

mod driver;

use antiphon::params::Mode;
use antiphon_core::messages::Phase;
use driver::{quarter_notes, Worker, STEADY};

/// The phase before each tick, with the tick's song position.
fn phases(worker: &Worker, keys: &[u8], until: f64) -> Vec<(f64, Phase)> {
    let status = worker.status.clone();
    let mut seen = Vec::new();
    worker.play(&quarter_notes(0.0, keys), until, STEADY, |beats, _| {
        seen.push((beats, status.phase()))
    });
    seen
}

#[test]
fn a_phrase_is_heard_then_answered_from_the_next_bar_line() {
    let worker = Worker::new(Mode::Continue, 2, 11);
    // Five quarter notes: the phrase ends with the bar line at beat 8.
    let seen = phases(&worker, &[72, 74, 76, 77, 79], 16.0);
    // A model that could not run (no ONNX Runtime) says why here.
    assert_eq!(worker.error(), "", "the worker reported an error");
    assert_eq!(seen[0].1, Phase::Waiting);
    assert!(seen
        .iter()
        .any(|&(beats, phase)| beats > 1.0 && beats < 4.0 && phase == Phase::Listening));
    let answering = Phase::Answering {
        from_beats: 8.0,
        to_beats: 16.0,
    };
    assert_eq!(seen.last().unwrap().1, answering, "{:?}", seen.last());
}

#[test]
fn a_window_is_recorded_then_accompanied() {
    let worker = Worker::new(Mode::Accompany, 4, 11);
    let tune = [
        72, 74, 76, 77, 79, 77, 76, 74, 72, 74, 76, 77, 79, 77, 76, 74,
    ];
    let mut keys = tune.to_vec();
    keys.extend(tune);
    let seen = phases(&worker, &keys, 32.0);
    assert_eq!(worker.error(), "", "the worker reported an error");
    let recording = Phase::Recording {
        start_beats: 0.0,
        len_beats: 16.0,
        looping: false,
    };
    assert!(seen
        .iter()
        .any(|&(beats, phase)| beats > 2.0 && beats < 15.0 && phase == recording));
    let accompanying = Phase::Accompanying {
        start_beats: 16.0,
        len_beats: 16.0,
        looping: false,
    };
    assert_eq!(seen.last().unwrap().1, accompanying, "{:?}", seen.last());
}

#[test]
fn a_model_that_cannot_load_is_said() {
    let worker = Worker::new(Mode::Continue, 2, 11);
    let broken = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/no-such-model");
    *worker.params.model_folder.write().unwrap() = broken.to_string();
    let seen = phases(&worker, &[72, 74], 8.0);
    assert_eq!(seen.last().unwrap().1, Phase::ModelFailed);
}
