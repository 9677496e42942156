//! The plugin answering in a CLAP host with a real model (the built-in one when this build has
//! it, else the fixture): Accompany and Continue at 100 bpm, answers on the host's beats in
//! the right bars, every note-on paired, the same seed giving the same notes, a tempo change,
//! a transport loop over bars 1–4, and a stop releasing everything. Then the `amt`-vocabulary
//! fixture, chosen the way the editor's model picker chooses a folder (the persisted
//! `model-folder` field): its vocabulary counts seconds, so its answers must sit on a 10 ms grid
//! at the host's tempo, at two tempos and across a tempo change.
//!
//! The fixture has random weights: what it plays is noise, but it is real generation through
//! the real engine, so placement, pairing, determinism and release are all checked.

mod common;

use antiphon::params::SavedAnswer;
use antiphon_engine::default_model::default_model;
use common::{Host, InputNote, Layout, Playback, Recording, Song};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const BPM: f64 = 100.0;
/// One beat at 100 bpm and 48 kHz, in samples.
const BEAT: u64 = 28_800;
/// One 4/4 bar, in samples.
const BAR: u64 = 4 * BEAT;

/// A host running the model. The seed is fixed and the temperature low, so answers repeat.
fn model_host(mode: &str, seed: u32, bars: u32) -> Host {
    model_host_with(mode, seed, bars, None)
}

/// [`model_host`] with `folder` chosen as the editor's model picker does (the persisted
/// `model-folder` field), or the built-in model (else the beats fixture) when `None`.
fn model_host_with(mode: &str, seed: u32, bars: u32, folder: Option<&Path>) -> Host {
    require_onnx_runtime();
    if default_model().is_none() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-beats");
        // Every test of this binary sets the same value, so the order does not matter.
        std::env::set_var("ANTIPHON_MODEL", fixture);
    }
    std::env::remove_var("ANTIPHON_POLICY");
    let mut host = Host::load(Layout::Stereo);
    let ids = |host: &mut Host, name: &str| host.param_id(name);
    let (m, s, t, b) = (
        ids(&mut host, "Mode"),
        ids(&mut host, "Seed"),
        ids(&mut host, "Temperature"),
        ids(&mut host, "Bars"),
    );
    // CLAP sees enums and integers as steps from their minimum.
    host.set_param(m, if mode == "accompany" { 1.0 } else { 0.0 });
    host.set_param(s, seed as f64);
    host.set_param(t, 0.3);
    host.set_param(b, (bars - 1) as f64);
    if let Some(folder) = folder {
        host.set_persisted_field(
            "model-folder",
            &serde_json::Value::String(folder.display().to_string()),
        );
    }
    host
}

/// Without ONNX Runtime the plugin only passes MIDI through, and a test would fail later on a
/// missing answer: fail first, with the loader's own message (it names `cargo xtask ort`). The
/// library is only looked for here, not loaded: the plugin loads it.
fn require_onnx_runtime() {
    use antiphon_engine::runtime::{candidates, RuntimeError};
    let places: Vec<_> = candidates().into_iter().map(|(_, path)| path).collect();
    if !places.iter().any(|p| p.is_file()) {
        panic!("{}", RuntimeError::NotFound { searched: places });
    }
}

/// A melody of quarter notes over `bars` bars, in the flute's range.
fn melody(bars: u32) -> Vec<InputNote> {
    let keys = [72u8, 74, 76, 77, 79, 77, 76, 74];
    (0..bars * 4)
        .map(|i| InputNote {
            on_beats: i as f64,
            off_beats: i as f64 + 0.9,
            key: keys[i as usize % keys.len()],
            channel: 0,
            velocity: 0.7,
        })
        .collect()
}

/// Generated notes: what is not the input passed through (the melody is on keys 72–79 and
/// passes through at its own times).
fn answers(rec: &Recording, input: &[InputNote]) -> Vec<common::Recorded> {
    rec.events
        .iter()
        .copied()
        .filter(|e| {
            !input.iter().any(|n| {
                n.key == e.key
                    && (rec
                        .samples_of_beat(if e.on { n.on_beats } else { n.off_beats })
                        .contains(&e.sample))
            })
        })
        .collect()
}

/// The answer the plugin last made, from the state it saves with the project (nice-plug's
/// JSON after a 64-bit length).
fn saved_answer(host: &mut Host) -> SavedAnswer {
    let bytes = host.save_state();
    let state: serde_json::Value =
        serde_json::from_slice(bytes.get(8..).unwrap_or_default()).expect("the state is JSON");
    let field = state["fields"]["last-answer"]
        .as_str()
        .expect("the state has the last answer");
    serde_json::from_str(field).expect("the last answer reads back")
}

/// Checks that every note of the last answer was played at its beat, `later_beats` after
/// where it is saved (an accompaniment is saved over the window it accompanies), up to
/// `until_beats`: none was dropped for being generated too late.
fn assert_the_answer_played_in_full(
    host: &mut Host,
    rec: &Recording,
    later_beats: f64,
    until_beats: f64,
) {
    let answer = saved_answer(host);
    assert!(!answer.answer.is_empty(), "nothing was answered");
    for note in &answer.answer {
        let beat = note.onset_beats + later_beats;
        if beat >= until_beats {
            continue;
        }
        let due = rec.samples_of_beat(beat);
        assert!(
            rec.note_ons()
                .iter()
                .any(|e| e.key == note.key.get() && due.iter().any(|&s| s.abs_diff(e.sample) <= 1)),
            "the note planned for beat {beat} (key {}) was not played on time",
            note.key
        );
    }
}

/// Runs one test's playing at a time: each has the machine's cores to itself, as a plugin has
/// in a session, so an answer missing its time means the engine was too slow, not that six
/// models shared two cores.
fn alone() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Paced at about twice real time: a beat at 100 bpm lasts 300 ms, time enough for the
/// engine, in a debug build and on a busy machine, to have the next notes ready as it must in
/// real time (at 18 times, Continue's one beat of lead was 33 ms and most of its answer came
/// too late to play; at 4 times a loaded machine still missed the first beat's chord).
fn playback(seconds: f64) -> Playback {
    Playback {
        pace: std::time::Duration::from_micros(5_000),
        lead_in: std::time::Duration::from_secs(2),
        ..Playback::seconds(seconds, 512)
    }
}

#[test]
fn accompaniment_of_bars_1_to_4_plays_in_bars_5_to_8_only() {
    let _alone = alone();
    let mut song = Song::at_tempo(BPM);
    song.notes = melody(4);
    let mut host = model_host("accompany", 11, 4);
    // Twelve bars: the player is silent in bars 5–8, so nothing follows in bars 9–12.
    let rec = host.play(&song, playback(12.0 * 4.0 * 60.0 / BPM));
    let answer = answers(&rec, &song.notes);
    assert!(!answer.is_empty(), "no accompaniment was played");
    assert_the_answer_played_in_full(&mut host, &rec, 16.0, 32.0);
    // The first note too: it is played as the plugin switches to Accompany.
    assert_eq!(
        saved_answer(&mut host).heard.len(),
        song.notes.len(),
        "the answer heard the whole melody"
    );
    for e in answer.iter().filter(|e| e.on) {
        assert!(
            (4 * BAR..8 * BAR).contains(&e.sample),
            "answer note-on at sample {} is outside bars 5–8",
            e.sample
        );
        assert_eq!(e.channel, 0, "answers go to the output channel");
    }
    rec.assert_every_note_on_has_one_note_off();
    rec.assert_timings_non_decreasing();
}

#[test]
fn the_same_seed_gives_the_same_accompaniment() {
    let _alone = alone();
    let mut song = Song::at_tempo(BPM);
    song.notes = melody(4);
    let length = playback(8.0 * 4.0 * 60.0 / BPM + 1.0);
    let mut played = Vec::new();
    for _ in 0..2 {
        let mut host = model_host("accompany", 11, 4);
        let rec = host.play(&song, length);
        assert_the_answer_played_in_full(&mut host, &rec, 16.0, 32.0);
        played.push(answers(&rec, &song.notes));
    }
    assert_eq!(played[0], played[1]);
}

#[test]
fn a_continuation_follows_the_phrase_from_the_next_bar_line() {
    let _alone = alone();
    // One bar of phrase; it ends at the bar line of bar 2 (beat 4), and the 2-bar answer
    // fills bars 2–3.
    let mut song = Song::at_tempo(BPM);
    song.notes = melody(1);
    let mut host = model_host("continue", 5, 2);
    let rec = host.play(&song, playback(5.0 * 4.0 * 60.0 / BPM));
    assert_the_answer_played_in_full(&mut host, &rec, 0.0, 12.0);
    let answer = answers(&rec, &song.notes);
    for e in answer.iter().filter(|e| e.on) {
        assert!(
            (BAR..3 * BAR).contains(&e.sample),
            "answer note-on at sample {} is outside bars 2–3",
            e.sample
        );
    }
    rec.assert_every_note_on_has_one_note_off();
}

/// The four-bar melody in a host loop over bars 1–4.
fn looped_melody() -> Song {
    let mut song = Song::at_tempo(BPM);
    song.notes = melody(4);
    song.loop_beats = Some((0.0, 16.0));
    song
}

/// Two turns of the four-bar loop and a little of the third, then a stop.
fn two_loop_turns() -> Playback {
    Playback {
        stop_at_end: true,
        ..playback(2.2 * 16.0 * 60.0 / BPM)
    }
}

#[test]
fn a_loop_over_bars_1_to_4_plays_the_accompaniment_on_its_next_turn() {
    let _alone = alone();
    let song = looped_melody();
    let mut host = model_host("accompany", 11, 4);
    // The third turn is silent: silent turns keep the accompaniment.
    let rec = host.play(&song, two_loop_turns());
    let turn_two = rec.samples_of_beat(0.0)[1];
    assert_the_answer_played_in_full(&mut host, &rec, 0.0, 16.0);
    let answer = answers(&rec, &song.notes);
    assert!(
        !answer.is_empty(),
        "no accompaniment on the loop's next turn"
    );
    for e in answer.iter().filter(|e| e.on) {
        assert!(
            e.sample >= turn_two,
            "answer before the loop's second turn: {e:?}"
        );
    }
    rec.assert_every_note_on_has_one_note_off();
    rec.assert_timings_non_decreasing();
}

#[test]
fn a_tempo_change_keeps_the_answer_on_the_beat_grid() {
    let _alone = alone();
    let mut song = Song::at_tempo(BPM);
    song.notes = melody(4);
    song.tempo_map = vec![(0.0, BPM), (18.0, 140.0)];
    let mut host = model_host("accompany", 11, 4);
    let rec = host.play(&song, playback(8.0 * 4.0 * 60.0 / BPM));
    assert_the_answer_played_in_full(&mut host, &rec, 16.0, 32.0);
    let bar_5 = rec.sample_of_beat(16.0);
    let bar_9 = rec.sample_of_beat(31.99);
    let answer = answers(&rec, &song.notes);
    assert!(!answer.is_empty());
    for e in answer.iter().filter(|e| e.on) {
        assert!(
            (bar_5..=bar_9).contains(&e.sample),
            "{e:?} outside bars 5–8"
        );
        // On the vocabulary's grid (12 per beat): the sample must be a whole grid step from
        // the bar at the tempo in force.
        let beat = if e.sample < rec.sample_of_beat(18.0) {
            16.0 + (e.sample - bar_5) as f64 / BEAT as f64
        } else {
            18.0 + (e.sample - rec.sample_of_beat(18.0)) as f64 / (48_000.0 * 60.0 / 140.0)
        };
        let steps = beat * 12.0;
        assert!(
            (steps - steps.round()).abs() < 0.01,
            "{e:?} is off the grid ({beat} beats)"
        );
    }
    rec.assert_every_note_on_has_one_note_off();
}

#[test]
fn stopping_in_the_middle_releases_every_note() {
    let _alone = alone();
    let mut song = Song::at_tempo(BPM);
    song.notes = melody(4);
    song.stop_at_beats = Some(22.5);
    let mut host = model_host("accompany", 11, 4);
    let rec = host.play(&song, playback(8.0 * 4.0 * 60.0 / BPM));
    let stop = rec.sample_of_beat(22.49);
    assert!(rec.events.iter().all(|e| !e.on || e.sample <= stop));
    rec.assert_every_note_on_has_one_note_off();
}

#[test]
fn reopening_a_project_in_its_loop_plays_the_saved_accompaniment_at_once() {
    let _alone = alone();
    let song = looped_melody();
    let mut session = model_host("accompany", 11, 4);
    session.play(&song, two_loop_turns());
    let state = session.save_state();
    let answer = saved_answer(&mut session);
    assert!(!answer.answer.is_empty());

    // Reopened (Seed 0 now, so nothing could repeat the answer but the saved one): it plays
    // from the first turn, every note after the first beat on time.
    let mut reopened = model_host("accompany", 0, 4);
    reopened.load_state(&state).expect("the state loads");
    let seed = reopened.param_id("Seed");
    reopened.set_param(seed, 0.0);
    let rec = reopened.play(&song, two_loop_turns());
    let turn_two = rec.samples_of_beat(0.0)[1];
    for note in answer.answer.iter().filter(|n| n.onset_beats >= 1.0) {
        let due = rec.samples_of_beat(note.onset_beats)[0];
        assert!(
            rec.note_ons().iter().any(|e| e.key == note.key.get()
                && e.sample.abs_diff(due) <= 1
                && e.sample < turn_two),
            "the saved note at beat {} (key {}) was not played in the first turn",
            note.onset_beats,
            note.key
        );
    }
    rec.assert_every_note_on_has_one_note_off();
}

#[test]
fn with_default_steering_an_accompaniment_of_a_c_major_tune_keeps_to_c_major() {
    let _alone = alone();
    let keys = [
        72u8, 76, 79, 84, 83, 79, 74, 71, 72, 74, 76, 77, 79, 77, 76, 72,
    ];
    let mut song = Song::at_tempo(BPM);
    song.notes = keys
        .iter()
        .enumerate()
        .map(|(i, &key)| InputNote {
            on_beats: i as f64,
            off_beats: i as f64 + 0.9,
            key,
            channel: 0,
            velocity: 0.7,
        })
        .collect();
    if default_model().is_none() {
        eprintln!("skipped: this build has no built-in model (the fixture plays noise)");
        return;
    }
    require_onnx_runtime();
    std::env::remove_var("ANTIPHON_POLICY");
    // Every parameter at its default but the mode and a fixed seed (the temperature too).
    let mut host = Host::load(Layout::Stereo);
    let (mode, seed) = (host.param_id("Mode"), host.param_id("Seed"));
    host.set_param(mode, 1.0);
    host.set_param(seed, 21.0);
    let rec = host.play(&song, playback(8.0 * 4.0 * 60.0 / BPM + 1.0));
    assert_the_answer_played_in_full(&mut host, &rec, 16.0, 32.0);
    let answer = saved_answer(&mut host).answer;
    let c_major = [0u8, 2, 4, 5, 7, 9, 11];
    let inside = answer
        .iter()
        .filter(|n| c_major.contains(&(n.key.get() % 12)))
        .count();
    assert!(answer.len() >= 8, "only {} notes", answer.len());
    assert!(
        inside as f64 >= 0.95 * answer.len() as f64,
        "{inside} of {} answer notes in C major",
        answer.len()
    );
}

/// The `amt`-vocabulary fixture (random weights, the published AMT layout of 55028 ids).
fn tiny_amt() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-amt")
}

/// [`playback`] ending with a stop: the fixture's random notes can last up to the `amt`
/// vocabulary's 10 s, past the end of the song, and the stop releases them.
fn playback_then_stop(seconds: f64) -> Playback {
    Playback {
        stop_at_end: true,
        ..playback(seconds)
    }
}

/// Checks that the answer's onsets are whole steps of the `amt` vocabulary's 10 ms apart at
/// `bpm`: the model counted seconds at the host's tempo. (A beats model's 1/12 beat is 55.6 ms
/// at 90 bpm and 38.5 ms at 130, so its answers would fail this.)
fn assert_on_the_seconds_grid(answer: &SavedAnswer, bpm: f64) {
    let onsets: Vec<f64> = answer.answer.iter().map(|n| n.onset_beats).collect();
    assert!(onsets.len() >= 3, "too few notes to judge: {onsets:?}");
    let first = onsets[0];
    let off_grid: Vec<f64> = onsets
        .iter()
        .map(|beat| (beat - first) * 60.0 / bpm * 100.0)
        .filter(|ticks| (ticks - ticks.round()).abs() > 1e-3)
        .collect();
    assert!(
        off_grid.is_empty(),
        "onsets off the 10 ms grid at {bpm} bpm (in ticks from the first): {off_grid:?}"
    );
}

#[test]
fn an_amt_model_accompanies_in_time_at_two_tempos() {
    let _alone = alone();
    for bpm in [90.0, 130.0] {
        let mut song = Song::at_tempo(bpm);
        song.notes = melody(4);
        let mut host = model_host_with("accompany", 11, 4, Some(&tiny_amt()));
        let rec = host.play(&song, playback_then_stop(8.5 * 4.0 * 60.0 / bpm));
        let answer = answers(&rec, &song.notes);
        assert!(!answer.is_empty(), "no accompaniment at {bpm} bpm");
        assert_the_answer_played_in_full(&mut host, &rec, 16.0, 32.0);
        let (bar_5, bar_9) = (rec.sample_of_beat(16.0), rec.sample_of_beat(32.0));
        for e in answer.iter().filter(|e| e.on) {
            assert!(
                (bar_5..bar_9).contains(&e.sample),
                "{e:?} outside bars 5–8 at {bpm} bpm"
            );
        }
        assert_on_the_seconds_grid(&saved_answer(&mut host), bpm);
        rec.assert_every_note_on_has_one_note_off();
        rec.assert_timings_non_decreasing();
    }
}

#[test]
fn an_amt_model_continues_in_time_at_two_tempos() {
    let _alone = alone();
    for bpm in [90.0, 130.0] {
        // Three quarter notes: the phrase is over a whole beat before the bar line of bar 2
        // (a note-on on beat 4 would leave it to the worker's timing whether the phrase goes on).
        let mut song = Song::at_tempo(bpm);
        song.notes = melody(1);
        song.notes.truncate(3);
        let mut host = model_host_with("continue", 5, 2, Some(&tiny_amt()));
        let rec = host.play(&song, playback_then_stop(4.5 * 4.0 * 60.0 / bpm));
        assert_the_answer_played_in_full(&mut host, &rec, 0.0, 12.0);
        let answer = answers(&rec, &song.notes);
        assert!(!answer.is_empty(), "no continuation at {bpm} bpm");
        let (bar_2, bar_4) = (rec.sample_of_beat(4.0), rec.sample_of_beat(12.0));
        for e in answer.iter().filter(|e| e.on) {
            assert!(
                (bar_2..bar_4).contains(&e.sample),
                "{e:?} outside bars 2–3 at {bpm} bpm"
            );
        }
        assert_on_the_seconds_grid(&saved_answer(&mut host), bpm);
        rec.assert_every_note_on_has_one_note_off();
    }
}

#[test]
fn an_amt_model_keeps_the_answer_on_the_beats_across_a_tempo_change() {
    let _alone = alone();
    let mut song = Song::at_tempo(BPM);
    song.notes = melody(4);
    song.tempo_map = vec![(0.0, BPM), (18.0, 140.0)];
    let mut host = model_host_with("accompany", 11, 4, Some(&tiny_amt()));
    let rec = host.play(&song, playback_then_stop(8.0 * 4.0 * 60.0 / BPM));
    // Every planned note sounds at its beat, before and after the change (the check finds each
    // beat's sample in the segment of the tempo then in force).
    assert_the_answer_played_in_full(&mut host, &rec, 16.0, 32.0);
    let answer = answers(&rec, &song.notes);
    assert!(!answer.is_empty());
    let (bar_5, bar_9) = (rec.sample_of_beat(16.0), rec.sample_of_beat(31.99));
    assert!(answer
        .iter()
        .filter(|e| e.on)
        .all(|e| (bar_5..=bar_9).contains(&e.sample)));
    assert!(
        answer
            .iter()
            .any(|e| e.on && e.sample > rec.sample_of_beat(18.0)),
        "nothing was played after the tempo change"
    );
    rec.assert_every_note_on_has_one_note_off();
}
