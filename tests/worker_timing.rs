//! An answer must not depend on when the worker thread happens to run: a worker that ticks
//! every 32nd note and one that wakes late and rarely (as on a loaded machine) hear the same
//! playing and must write the same answer, note for note, in Accompany and in Continue. Drives
//! the product's worker policy directly, with the fixture model through the real ONNX Runtime.

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

/// How the worker thread gets to run.
#[derive(Debug, Clone, Copy)]
struct Ticks {
    /// The step (32nd note) of the first tick.
    first: usize,
    /// Steps between ticks.
    every: usize,
    /// Steps the audio thread has moved on between the drain of the queue and the tick.
    lag: usize,
}

const STEADY: Ticks = Ticks {
    first: 0,
    every: 1,
    lag: 0,
};

/// Plays `melody` through 9 bars at 100 bpm in `mode` with Bars = `bars`, the worker ticking
/// as `ticks` says; returns the notes it asked the audio thread to play.
fn answer(mode: Mode, bars: i32, melody: &[(f64, f64, u8)], ticks: Ticks) -> Vec<PlannedNote> {
    let status = Arc::new(Status::default());
    status.playing.store(true, Ordering::Relaxed);
    status.tempo_bpm.store(100.0, Ordering::Relaxed);
    status.bar_start_beats.store(0.0, Ordering::Relaxed);
    status.bar_len_beats.store(4.0, Ordering::Relaxed);
    let params = Arc::new(AntiphonParams::default());
    // SAFETY: no plugin wrapper exists here; the test sets parameters before anything reads
    // them.
    unsafe {
        params.mode._internal_set_plain_value(mode);
        params.bars._internal_set_plain_value(bars);
        params.seed._internal_set_plain_value(11);
    }
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-beats");
    *params.model_folder.write().unwrap() = fixture.to_string();

    let mut ctx = WorkerContext::new(params, status.clone());
    let mut responder = Responder::new();
    let mut messages = messages_of(melody).into_iter().peekable();
    let steps = (36.0 / STEP_BEATS) as usize;
    let (mut played, mut seen) = (Vec::new(), 0);
    for step in (ticks.first..steps).step_by(ticks.every) {
        // As the worker thread does: note the playhead, drain the queue, tick. Meanwhile the
        // audio thread moves on, its later notes still in the queue.
        let now = step as f64 * STEP_BEATS;
        status.playhead_beats.store(now, Ordering::Release);
        ctx.mark_heard();
        while let Some((_, message)) = messages.next_if(|(at, _)| *at < now) {
            responder.on_message(message, &mut ctx);
        }
        let later = (step + ticks.lag) as f64 * STEP_BEATS;
        status.playhead_beats.store(later, Ordering::Release);
        responder.on_tick(&mut ctx);
        // What the audio thread makes of the messages: a cancel drops what has not started.
        for message in ctx.pending().skip(seen) {
            match message {
                ToAudio::Play(note) => played.push(*note),
                ToAudio::CancelPlanned => played.retain(|n| n.onset_beats < later),
                ToAudio::PlayNextPass(_) | ToAudio::CancelNextPass => {
                    unreachable!("no loop is playing")
                }
            }
        }
        seen = ctx.pending().count();
    }
    assert_eq!(
        *status.error_line.lock().unwrap(),
        "",
        "the worker reported an error"
    );
    played
}

/// The accompaniment of `melody` from a steady worker, checked to be the same from rare and
/// late ones.
fn assert_accompanied_the_same_however_the_worker_ticks(melody: &[(f64, f64, u8)]) {
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
    let mut melody: Vec<(f64, f64, u8)> = (0..7)
        .map(|i| (2.0 * i as f64, 2.0 * i as f64 + 1.9, 72 + 2 * i as u8))
        .collect();
    melody.push((14.5, 17.5, 79));
    assert_accompanied_the_same_however_the_worker_ticks(&melody);
}

#[test]
fn the_continuation_does_not_depend_on_when_the_worker_ticks() {
    // One bar whose last note is let go half a beat after the answer became due (beat 3):
    // a steady worker hears it held, a rarer one (its tick at beat 3.72) hears it ended.
    let mut phrase = quarter_notes();
    phrase.truncate(4);
    phrase[3].1 = 3.5;
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
