//! The accompaniment must not depend on when the worker thread happens to run: a worker that
//! ticks every 32nd note and one that wakes late and rarely (as on a loaded machine) hear the
//! same melody and must write the same answer, note for note. Drives the product's worker
//! policy directly, with the fixture model through the real ONNX Runtime.

use antiphon::engine::responder::Responder;
use antiphon::engine::{Policy, WorkerContext};
use antiphon::messages::{CapturedNote, PlannedNote, Status, ToAudio, ToWorker};
use antiphon::params::{AntiphonParams, Mode};
use nice_plug::params::InternalParamMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const STEP_BEATS: f64 = 1.0 / 32.0;

/// A four-bar melody of quarter notes held for 0.9 beats.
fn quarter_notes() -> Vec<(f64, f64, u8)> {
    let keys = [72u8, 74, 76, 77, 79, 77, 76, 74];
    (0..16)
        .map(|i| (i as f64, i as f64 + 0.9, keys[i % keys.len()]))
        .collect()
}

/// What the audio thread sends for `melody` (onset, release, key), each message at the song
/// position it happened.
fn messages_of(melody: &[(f64, f64, u8)]) -> Vec<(f64, ToWorker)> {
    let mut out = Vec::new();
    for &(onset, release, key) in melody {
        let started = ToWorker::NoteStarted {
            onset_beats: onset,
            key,
            channel: 0,
            velocity: 0.7,
        };
        let finished = ToWorker::NoteFinished(CapturedNote {
            onset_beats: onset,
            duration_beats: release - onset,
            key,
            channel: 0,
            velocity: 0.7,
        });
        out.extend([(onset, started), (release, finished)]);
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Plays `melody` through 9 bars at 100 bpm, the worker ticking every `every` steps from
/// step `first`, the audio thread `lag` steps further on by the time each tick reads the
/// clock; returns the notes the worker asked the audio thread to play.
fn accompaniment(
    melody: &[(f64, f64, u8)],
    first: usize,
    every: usize,
    lag: usize,
) -> Vec<PlannedNote> {
    let status = Arc::new(Status::default());
    status.playing.store(true, Ordering::Relaxed);
    status.tempo_bpm.store(100.0, Ordering::Relaxed);
    status.bar_start_beats.store(0.0, Ordering::Relaxed);
    status.bar_len_beats.store(4.0, Ordering::Relaxed);
    let params = Arc::new(AntiphonParams::default());
    // SAFETY: no plugin wrapper exists here; the test sets parameters before anything reads
    // them.
    unsafe {
        params.mode._internal_set_plain_value(Mode::Accompany);
        params.bars._internal_set_plain_value(4);
        params.seed._internal_set_plain_value(11);
    }
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-beats");
    *params.model_folder.write().unwrap() = fixture.to_string();

    let mut ctx = WorkerContext::new(params, status.clone());
    let mut responder = Responder::new();
    let mut messages = messages_of(melody).into_iter().peekable();
    let steps = (36.0 / STEP_BEATS) as usize;
    for step in (first..steps).step_by(every) {
        // As the worker thread does: note the playhead, drain the queue, tick. Meanwhile the
        // audio thread moves on, its later notes still in the queue.
        let now = step as f64 * STEP_BEATS;
        status.playhead_beats.store(now, Ordering::Release);
        ctx.mark_heard();
        while let Some((_, message)) = messages.next_if(|(at, _)| *at < now) {
            responder.on_message(message, &mut ctx);
        }
        let later = (step + lag) as f64 * STEP_BEATS;
        status.playhead_beats.store(later, Ordering::Release);
        responder.on_tick(&mut ctx);
    }
    assert_eq!(
        *status.error_line.lock().unwrap(),
        "",
        "the worker reported an error"
    );
    ctx.pending()
        .filter_map(|m| match m {
            ToAudio::Play(note) => Some(*note),
            _ => None,
        })
        .collect()
}

/// The answer to `melody` from a steady worker, checked to be the same from rare and late ones.
fn assert_the_same_however_the_worker_ticks(melody: &[(f64, f64, u8)]) {
    let steady = accompaniment(melody, 0, 1, 0);
    assert!(!steady.is_empty(), "nothing was accompanied");
    assert!(
        steady.iter().all(|n| (16.0..32.0).contains(&n.onset_beats)),
        "the answer belongs in bars 5–8"
    );
    // Rare, from odd starting points, and behind the audio thread.
    let rare = accompaniment(melody, 5, 23, 0);
    assert_eq!(rare, steady, "a worker ticking every 0.72 beats");
    let late = accompaniment(melody, 17, 61, 13);

    assert_eq!(
        late, steady,
        "a worker ticking every 1.9 beats, 0.4 beats behind"
    );
}

#[test]
fn the_accompaniment_does_not_depend_on_when_the_worker_ticks() {
    assert_the_same_however_the_worker_ticks(&quarter_notes());
}

#[test]
fn long_notes_and_one_held_past_the_window_are_heard_the_same_by_any_worker() {
    // Half notes held almost two beats, whose releases fall between bar lines, and a last
    // note held a beat and a half into bar 5.
    let mut melody: Vec<(f64, f64, u8)> = (0..7)
        .map(|i| (2.0 * i as f64, 2.0 * i as f64 + 1.9, 72 + 2 * i as u8))
        .collect();
    melody.push((14.5, 17.5, 79));
    assert_the_same_however_the_worker_ticks(&melody);
}
