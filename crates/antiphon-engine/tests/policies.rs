//! The product's policies driven as the worker thread drives them, on the deterministic
//! [`FakeModel`]: no ONNX Runtime, no model file, each test well under a second.

use antiphon_core::messages::{Status, ToAudio, ToWorker};
use antiphon_core::note::{Channel, Key, Note, Velocity};
use antiphon_core::saved::{SavedAnswer, SavedNote};
use antiphon_core::settings::Mode;
use antiphon_engine::fake::FakeModel;
use antiphon_engine::policy::Responder;
use antiphon_engine::{Policy, Settings, WorkerContext};
use antiphon_tokens::VocabSpec;
use std::sync::Arc;

/// Worker ticks per beat.
const TICKS_PER_BEAT: usize = 8;

/// A responder on the fake model with a fixed seed, a 4/4 transport at 120 bpm, playing.
fn worker(mode: Mode, bars: u32) -> (Responder, WorkerContext) {
    let status = Arc::new(Status::default());
    status.transport.update(|t| {
        t.playing = true;
        t.has_transport = true;
        t.tempo_bpm = 120.0;
        t.bar_start_beats = 0.0;
        t.bar_len_beats = 4.0;
    });
    let settings = Settings {
        mode,
        bars,
        seed: 7,
        ..Settings::default()
    };
    let model = Box::new(FakeModel::amt());
    let responder = Responder::with_model(model, VocabSpec::amt(), "fake");
    (responder, WorkerContext::new(settings, status))
}

/// A melody note as the audio thread reports it: its start, then the whole note.
fn note(onset: f64, duration: f64, key: u8) -> [(f64, ToWorker); 2] {
    ToWorker::reports_of(Note {
        onset_beats: onset,
        duration_beats: duration,
        key: Key::new(key).unwrap(),
        channel: Channel::default(),
        velocity: Velocity::from_unit(0.7),
    })
}

/// Plays `messages` (sorted by song position) up to beat `until`, ticking the policy as the
/// worker does, and returns every note it asked to play, now or on the next pass.
fn play(
    responder: &mut Responder,
    ctx: &mut WorkerContext,
    mut messages: Vec<(f64, ToWorker)>,
    until: f64,
) -> (Vec<Note>, Vec<Note>) {
    messages.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut messages = messages.into_iter().peekable();
    for step in 0..(until * TICKS_PER_BEAT as f64) as usize {
        let now = step as f64 / TICKS_PER_BEAT as f64;
        ctx.status.transport.update(|t| t.playhead_beats = now);
        ctx.mark_heard();
        while let Some((_, message)) = messages.next_if(|(at, _)| *at <= now) {
            responder.on_message(message, ctx);
        }
        responder.on_tick(ctx);
    }
    let (mut now, mut next_pass) = (Vec::new(), Vec::new());
    for message in ctx.pending() {
        match message {
            ToAudio::Play(n) => now.push(*n),
            ToAudio::PlayNextPass(n) => next_pass.push(*n),
            ToAudio::CancelPlanned => now.clear(),
            ToAudio::CancelPlannedFrom(from) => now.retain(|n| n.onset_beats < *from),
            ToAudio::CancelNextPass => next_pass.clear(),
        }
    }
    (now, next_pass)
}

fn phrase() -> Vec<(f64, ToWorker)> {
    [(0.0, 60), (1.0, 62), (2.0, 64), (3.0, 65)]
        .into_iter()
        .flat_map(|(onset, key)| note(onset, 0.9, key))
        .collect()
}

#[test]
fn continue_answers_from_the_bar_line_after_the_phrase_for_bars_bars() {
    let (mut responder, mut ctx) = worker(Mode::Continue, 2);
    ctx.settings.out_channel = Channel::new(3).unwrap();
    let (answer, _) = play(&mut responder, &mut ctx, phrase(), 16.0);
    assert!(!answer.is_empty(), "no answer");
    for n in &answer {
        assert!(
            (4.0..12.0).contains(&n.onset_beats),
            "{n:?} outside bars 2 and 3"
        );
        assert_eq!(n.channel.get(), 3);
        assert!(n.duration_beats > 0.0);
    }
    let saved = ctx.status.last_answer.read().unwrap().clone();
    assert_eq!(saved.mode, "continue");
    assert_eq!(saved.heard.len(), 4);
    assert_eq!(saved.answer.len(), answer.len());
    assert_eq!(
        ctx.status
            .answers
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn a_note_in_the_last_beat_means_the_phrase_goes_on() {
    let (mut responder, mut ctx) = worker(Mode::Continue, 1);
    let mut messages = phrase();
    // A note-on in the beat before bar line 4 (3.9): the phrase did not end there.
    messages.extend(note(3.95, 0.5, 67));
    let (answer, _) = play(&mut responder, &mut ctx, messages, 12.0);
    assert!(!answer.is_empty());
    assert!(
        answer.iter().all(|n| n.onset_beats >= 8.0 - 1e-9),
        "answered at bar line 4 although the phrase went on"
    );
}

#[test]
fn the_same_seed_gives_the_same_answer() {
    let run = || {
        let (mut responder, mut ctx) = worker(Mode::Continue, 2);
        play(&mut responder, &mut ctx, phrase(), 16.0).0
    };
    assert_eq!(run(), run());
}

#[test]
fn accompany_plays_the_window_s_accompaniment_on_the_following_bars() {
    let (mut responder, mut ctx) = worker(Mode::Accompany, 1);
    let (now, next_pass) = play(&mut responder, &mut ctx, phrase(), 8.0);
    assert!(
        next_pass.is_empty(),
        "no loop: nothing waits for a next pass"
    );
    assert!(!now.is_empty(), "no accompaniment");
    for n in &now {
        assert!((4.0..8.0).contains(&n.onset_beats), "{n:?} not in bar 2");
    }
    assert_eq!(ctx.status.last_answer.read().unwrap().mode, "accompany");
}

#[test]
fn freeze_keeps_the_accompaniment_of_a_changed_melody() {
    let (mut responder, mut ctx) = worker(Mode::Accompany, 1);
    ctx.settings.freeze = true;
    let mut messages = phrase();
    // The second pass plays another melody; Freeze keeps the first pass's accompaniment.
    messages.extend(
        [(4.0, 72), (5.0, 71), (6.0, 69), (7.0, 67)]
            .into_iter()
            .flat_map(|(onset, key)| note(onset, 0.9, key)),
    );
    let (now, _) = play(&mut responder, &mut ctx, messages, 12.0);
    let first: Vec<_> = now.iter().filter(|n| n.onset_beats < 8.0).collect();
    let second: Vec<_> = now.iter().filter(|n| n.onset_beats >= 8.0).collect();
    assert!(!first.is_empty());
    assert_eq!(
        first.len(),
        second.len(),
        "frozen: the same notes a bar later"
    );
    for (a, b) in first.iter().zip(&second) {
        assert!((b.onset_beats - a.onset_beats - 4.0).abs() < 1e-9);
        assert_eq!(a.key, b.key);
    }
}

#[test]
fn a_saved_accompaniment_plays_when_the_host_loops_over_its_window() {
    let (mut responder, mut ctx) = worker(Mode::Accompany, 1);
    let saved_note = |onset_beats, key| SavedNote {
        onset_beats,
        duration_beats: 0.5,
        key,
        velocity: Velocity::saturating(90),
        program: 0,
    };
    *ctx.status.last_answer.write().unwrap() = SavedAnswer {
        mode: "accompany".into(),
        window_start_beats: 0.0,
        window_len_beats: 4.0,
        heard: vec![saved_note(0.0, Key::new(72).unwrap())],
        answer: vec![
            saved_note(0.0, Key::new(48).unwrap()),
            saved_note(2.0, Key::new(55).unwrap()),
        ],
    };
    ctx.status.transport.update(|t| {
        t.loop_active = true;
        t.loop_start_beats = 0.0;
        t.loop_end_beats = 4.0;
    });
    let (now, next_pass) = play(&mut responder, &mut ctx, Vec::new(), 2.0);
    let keys: Vec<u8> = now.iter().chain(&next_pass).map(|n| n.key.get()).collect();
    assert!(keys.contains(&48) && keys.contains(&55), "{keys:?}");
}
