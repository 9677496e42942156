//! The built plugin in a real CLAP host (clack-host): pass-through, generated notes at exact
//! sample offsets, block splits, tempo changes, loops, stops, both audio layouts, and state.
//!
//! `cargo xtask test` (the README's test command) runs this with `--features rt-alloc-check`:
//! then every `process()` call below runs under nice-plug's allocation checker and aborts on
//! allocation. A plain `cargo test` runs the same checks without the allocator.

mod common;

use common::{Blocks, Host, InputNote, Layout, Playback, Recorded, Recording, Song};

/// One beat at 100 bpm and 48 kHz, in samples.
const BEAT_AT_100: u64 = 28_800;

/// Every test here checks the note path with the echo diagnostic, which answers without a
/// model; `tests/plugin_answers.rs` runs the model.
fn echo_host(layout: Layout) -> Host {
    // SAFETY (of the environment): every test of this binary sets the same value.
    std::env::set_var("ANTIPHON_POLICY", "echo");
    Host::load(layout)
}

fn note(on_beats: f64, off_beats: f64, key: u8) -> InputNote {
    InputNote {
        on_beats,
        off_beats,
        key,
        channel: 0,
        velocity: 100.0 / 127.0,
    }
}

/// A one-bar phrase at 100 bpm: C, E, G on beats 0, 1, 2 (half a beat each).
fn phrase_song() -> Song {
    let mut song = Song::at_tempo(100.0);
    song.notes = vec![note(0.0, 0.5, 60), note(1.0, 1.5, 64), note(2.0, 2.5, 67)];
    song
}

/// Whether `e` is the echo's: the phrases here stay below key 72, the echo is an octave up.
fn is_echo(e: &Recorded) -> bool {
    e.key >= 72
}

/// The samples at which the echo's notes start.
fn echo_onsets(rec: &Recording) -> Vec<u64> {
    rec.note_ons()
        .iter()
        .filter(|e| is_echo(e))
        .map(|e| e.sample)
        .collect()
}

/// The samples at which `rec` played beats 8, 9 and 10: where the echo of [`phrase_song`]
/// starts its notes.
fn echo_beats(rec: &Recording) -> Vec<u64> {
    [8.0, 9.0, 10.0]
        .map(|beats| rec.sample_of_beat(beats))
        .to_vec()
}

#[test]
fn passes_input_through_at_its_sample_offsets() {
    let mut host = echo_host(Layout::Stereo);
    let rec = host.play(&phrase_song(), Playback::seconds(2.0, 512));
    let ons: Vec<(u64, u8)> = rec
        .note_ons()
        .iter()
        .filter(|e| !is_echo(e))
        .map(|e| (e.sample, e.key))
        .collect();
    assert_eq!(ons, vec![(0, 60), (BEAT_AT_100, 64), (2 * BEAT_AT_100, 67)]);
    assert!(
        host.audio_passed_through,
        "stereo audio must pass untouched"
    );
    rec.assert_timings_non_decreasing();
}

#[test]
fn echoes_the_phrase_an_octave_up_at_exact_samples() {
    let mut host = echo_host(Layout::Stereo);
    // Phrase ends at the bar line at beat 4; the echo starts one bar later, at beat 8.
    let rec = host.play(&phrase_song(), Playback::seconds(7.0, 512));
    let generated: Vec<(u64, bool, u8)> = rec
        .events
        .iter()
        .filter(|e| is_echo(e))
        .map(|e| (e.sample, e.on, e.key))
        .collect();
    let at = |beats: f64| rec.sample_of_beat(beats);
    assert_eq!(
        generated,
        vec![
            (at(8.0), true, 72),
            (at(8.5), false, 72),
            (at(9.0), true, 76),
            (at(9.5), false, 76),
            (at(10.0), true, 79),
            (at(10.5), false, 79),
        ]
    );
    assert_eq!(at(8.0), 8 * BEAT_AT_100);
    rec.assert_every_note_on_has_one_note_off();
    rec.assert_timings_non_decreasing();
}

#[test]
fn a_host_reporting_bar_starts_one_bar_ahead_gets_the_same_echo() {
    let mut host = echo_host(Layout::Stereo);
    let mut song = phrase_song();
    song.bar_start_one_bar_ahead = true;
    let rec = host.play(&song, Playback::seconds(7.0, 512));
    assert_eq!(
        echo_onsets(&rec),
        vec![8 * BEAT_AT_100, 9 * BEAT_AT_100, 10 * BEAT_AT_100]
    );
}

#[test]
fn midi_only_layout_plays_the_same_notes() {
    let mut stereo = echo_host(Layout::Stereo);
    let mut midi_only = echo_host(Layout::MidiOnly);
    let a = stereo.play(&phrase_song(), Playback::seconds(7.0, 512));
    let b = midi_only.play(&phrase_song(), Playback::seconds(7.0, 512));
    assert_eq!(a.events, b.events);
    assert_eq!(a.note_ons().len(), 6);
}

#[test]
fn random_blocks_and_mid_block_splits_keep_timing_exact() {
    for seed in 1..=3 {
        let mut host = echo_host(Layout::Stereo);
        let playback = Playback {
            blocks: Blocks::Random { seed, max: 4096 },
            split_blocks: true,
            ..Playback::seconds(7.0, 0)
        };
        let rec = host.play(&phrase_song(), playback);
        assert_eq!(echo_onsets(&rec), echo_beats(&rec), "seed {seed}");
        rec.assert_every_note_on_has_one_note_off();
        rec.assert_timings_non_decreasing();
    }
}

#[test]
fn a_tempo_change_keeps_the_echo_on_its_beats() {
    let mut host = echo_host(Layout::Stereo);
    let mut song = phrase_song();
    song.tempo_map = vec![(0.0, 100.0), (6.0, 140.0)];
    let rec = host.play(&song, Playback::seconds(6.0, 256));
    // Beat 6 at 100 bpm, then two beats at 140 bpm to beat 8.
    let expected_8 = 6 * BEAT_AT_100 + 2 * 48_000 * 60 / 140;
    assert!(rec.sample_of_beat(8.0).abs_diff(expected_8) <= 1);
    assert_eq!(echo_onsets(&rec), echo_beats(&rec));
    rec.assert_every_note_on_has_one_note_off();
}

#[test]
fn a_loop_jump_releases_sounding_notes_at_once() {
    let mut host = echo_host(Layout::Stereo);
    let mut song = phrase_song();
    // Long notes so the echo of the first one is still sounding when the loop jumps back.
    song.notes = vec![note(0.0, 3.0, 60)];
    song.loop_beats = Some((0.0, 9.0));
    let rec = host.play(&song, Playback::seconds(6.5, 512));
    let on = rec
        .note_ons()
        .into_iter()
        .find(|e| e.key == 72)
        .expect("echo");
    assert_eq!(on.sample, rec.sample_of_beat(8.0));
    let off = rec
        .events
        .iter()
        .find(|e| !e.on && e.key == 72)
        .expect("echo released");
    // Released in the block where the loop jumps back (beat 9), not at its planned end (beat 11).
    let jump = rec.samples_of_beat(0.0)[1];
    assert_eq!(jump, 9 * BEAT_AT_100);
    assert!(
        off.sample >= jump && off.sample < jump + 512,
        "released at {}, loop jump at {}",
        off.sample,
        jump
    );
    rec.assert_every_note_on_has_one_note_off();
    rec.assert_timings_non_decreasing();
}

#[test]
fn stopping_mid_note_releases_everything() {
    let mut host = echo_host(Layout::Stereo);
    let mut song = phrase_song();
    song.notes = vec![note(0.0, 3.0, 60)];
    song.stop_at_beats = Some(9.0);
    let rec = host.play(&song, Playback::seconds(7.0, 512));
    assert_eq!(rec.note_ons().iter().filter(|e| e.key == 72).count(), 1);
    let off = rec
        .events
        .iter()
        .find(|e| !e.on && e.key == 72)
        .expect("released on stop");
    let stop = rec.sample_of_beat(8.99);
    assert!(off.sample >= stop && off.sample < stop + 1024);
    rec.assert_every_note_on_has_one_note_off();
}

#[test]
fn deactivation_releases_sounding_notes_on_the_next_run() {
    let mut host = echo_host(Layout::Stereo);
    let mut song = phrase_song();
    song.notes = vec![note(0.0, 3.0, 60)];
    // Stop the host while the echo (beats 8–11) sounds.
    let first = host.play(&song, Playback::seconds(5.1, 512));
    host.deactivate();
    host.reactivate();
    let second = host.play(&Song::at_tempo(100.0), Playback::seconds(0.1, 512));
    let mut all = first.events.clone();
    all.extend(second.events.iter().copied());
    let ons = all.iter().filter(|e| e.on && e.key == 72).count();
    let offs = all.iter().filter(|e| !e.on && e.key == 72).count();
    assert_eq!((ons, offs), (1, 1));
    assert_eq!(
        second.events.first().map(|e| (e.on, e.sample)),
        Some((false, 0))
    );
}

#[test]
fn thru_off_keeps_the_players_notes_in() {
    let mut host = echo_host(Layout::Stereo);
    let thru = host.param_id("Thru");
    host.set_param(thru, 0.0);
    let rec = host.play(&phrase_song(), Playback::seconds(7.0, 512));
    assert!(rec.events.iter().all(is_echo), "{:?}", rec.events);
    assert_eq!(rec.note_ons().len(), 3, "the echo still plays");
}

#[test]
fn output_channel_parameter_moves_the_answer() {
    let mut host = echo_host(Layout::Stereo);
    let channel = host.param_id("Output channel");
    // CLAP sees integer parameters as steps from their minimum: step 4 is channel 5.
    host.set_param(channel, 4.0);
    let rec = host.play(&phrase_song(), Playback::seconds(7.0, 512));
    let generated: Vec<u8> = rec
        .events
        .iter()
        .filter(|e| is_echo(e))
        .map(|e| e.channel)
        .collect();
    assert_eq!(generated.len(), 6);
    assert!(generated.iter().all(|c| *c == 4), "{generated:?}");
}

#[test]
fn state_round_trip_reproduces_every_parameter() {
    let mut host = echo_host(Layout::Stereo);
    let params = host.param_list();
    let ids: Vec<&str> = params.iter().map(|(_, name, _, _)| name.as_str()).collect();
    for name in [
        "Temperature",
        "Top-p",
        "Bars",
        "Mode",
        "Instrument",
        "Velocity",
        "Seed",
        "Thru",
        "Output channel",
        "Freeze",
        "Regenerate",
    ] {
        assert!(ids.contains(&name), "missing parameter {name}: {ids:?}");
    }
    // Move every parameter away from its default: to the top of its range, or one step below
    // when the default already is the top.
    let mut wanted = Vec::new();
    for (id, _, min, max) in &params {
        let default = host.param_value(*id);
        let value = if (default - max).abs() < 1e-9 {
            *min
        } else {
            *max
        };
        host.set_param(*id, value);
        wanted.push((*id, value));
    }
    host.play(&Song::at_tempo(120.0), Playback::seconds(0.05, 512));
    for (id, value) in &wanted {
        assert!((host.param_value(*id) - value).abs() < 1e-6);
    }
    let state = host.save_state();

    let mut restored = echo_host(Layout::Stereo);
    restored.load_state(&state).expect("load state");
    for (id, value) in &wanted {
        let got = restored.param_value(*id);
        assert!((got - value).abs() < 1e-6, "param {id:?}: {got} != {value}");
    }
    assert!(restored.load_state(b"not a state").is_err());
}
