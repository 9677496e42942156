//! The audio thread's note path under RealtimeSanitizer.
//!
//! `AudioSide`'s entry points are `#[nonblocking]`. Built normally this test checks behaviour
//! only; built with `RTSAN_ENABLE=1` and `RTSAN_LIB_PATH` (what `cargo xtask test` does, in
//! its own target folder), every allocation, lock or system call inside them aborts the
//! process, and a control case proves the sanitizer is really watching.
//!
//! The worker is the real one, polling its queue, so both crossbeam directions are exercised
//! the way the plugin uses them.

mod live;

use antiphon::params::AntiphonParams;
use antiphon_core::note::{Key, Velocity};
use antiphon_engine::policy::echo::EchoGenerator;
use antiphon_realtime::scheduler::NoteOut;
use antiphon_realtime::HostTransport;
use live::{Block, Live};
use std::sync::Arc;
use std::time::Duration;

/// Whether this binary was built with the sanitizer linked in.
const SANITIZED: bool = option_env!("RTSAN_ENABLE").is_some();

/// Environment variable that makes this binary run only the deliberate violation.
const CONTROL_ENV: &str = "ANTIPHON_RTSAN_CONTROL";

const RATE: f64 = 48_000.0;
const BLOCK: u32 = 256;
/// At 120 bpm.
const SAMPLES_PER_BEAT: f64 = RATE * 60.0 / 120.0;

#[rtsan_standalone::nonblocking]
fn allocate_on_purpose() -> usize {
    let v: Vec<u64> = Vec::with_capacity(32);
    std::hint::black_box(v).capacity()
}

#[test]
fn audio_path_is_realtime_safe_with_a_live_worker() {
    if std::env::var_os(CONTROL_ENV).is_some() {
        // The child process of `sanitizer_catches_a_deliberate_allocation`.
        allocate_on_purpose();
        return;
    }
    let params = Arc::new(AntiphonParams::default());
    let mut live = Live::start(&params, Box::new(EchoGenerator::new()));

    // 120 bpm: a beat is 24000 samples. Play C–E on beats 0 and 1, then wait for the echo on
    // beats 8 and 9 (the phrase ends at bar line 4; the echo comes one bar later).
    let mut pos = 0.0_f64;
    let mut heard = Vec::new();
    let mut sample = 0u64;
    while pos < 12.0 {
        live.audio.begin_block(&rolling_at(pos), BLOCK);
        for (beat, key) in [(0.0, 60u8), (1.0, 64)] {
            live.play_note(block_at(pos), beat, beat + 0.5, k(key), v(0.8));
        }
        while let Some(out) = live.audio.next_generated(u32::MAX) {
            heard.push((sample + out.timing() as u64, out));
        }
        pos += BLOCK as f64 / SAMPLES_PER_BEAT;
        sample += BLOCK as u64;
        // Let the worker thread run, as a real audio callback period would.
        std::thread::sleep(Duration::from_micros(200));
    }
    let stop = HostTransport {
        playing: false,
        sample_rate_hz: RATE,
        ..Default::default()
    };
    live.audio.begin_block(&stop, BLOCK);
    while let Some(out) = live.audio.next_generated(u32::MAX) {
        heard.push((sample + out.timing() as u64, out));
    }
    live.worker.stop();

    let ons: Vec<(u64, u8)> = heard
        .iter()
        .filter_map(|(at, out)| match out {
            NoteOut::On { key, .. } => Some((*at, key.get())),
            NoteOut::Off { .. } => None,
        })
        .collect();
    assert_eq!(ons, vec![(8 * 24_000, 72), (9 * 24_000, 76)]);
    assert_eq!(heard.len(), 4, "each echo note-on has its note-off");
}

#[test]
fn audio_path_is_realtime_safe_with_the_model_answering() {
    if std::env::var_os(CONTROL_ENV).is_some() {
        return;
    }
    use antiphon_engine::policy::Responder;
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-beats");
    let params = Arc::new(AntiphonParams::default());
    *params.model_folder.write().unwrap() = fixture.display().to_string();
    let mut live = Live::start(&params, Box::new(Responder::new()));
    // Continue mode: a one-bar phrase at 120 bpm, then four bars of listening.
    let mut pos = 0.0_f64;
    while pos < 24.0 {
        live.audio.begin_block(&rolling_at(pos), BLOCK);
        for beat in 0..4 {
            let (onset, key) = (beat as f64, k(60 + beat as u8 * 2));
            live.play_note(block_at(pos), onset, onset + 0.5, key, v(0.8));
        }
        while live.audio.next_generated(u32::MAX).is_some() {}
        pos += BLOCK as f64 / SAMPLES_PER_BEAT;
        std::thread::sleep(Duration::from_micros(300));
    }
    live.worker.stop();
    let engine = live.status.engine_line.lock().unwrap().clone();
    // The error line says why a model did not run (a missing ONNX Runtime names the command).
    let error = live.status.error_line.lock().unwrap().clone();
    assert!(
        engine.contains("tiny-beats"),
        "the model ran: {engine} {error}"
    );
}

#[test]
fn sanitizer_catches_a_deliberate_allocation() {
    if !SANITIZED {
        // Without the sanitizer the control would prove nothing; the normal build still checks
        // that the control function itself runs.
        assert_eq!(allocate_on_purpose(), 32);
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "audio_path_is_realtime_safe_with_a_live_worker",
            "--nocapture",
        ])
        .env(CONTROL_ENV, "1")
        .output()
        .expect("run the control case");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("RealtimeSanitizer"),
        "the sanitizer let an allocation in a #[nonblocking] function pass: {stderr}"
    );
}

/// A host transport playing 4/4 at 120 bpm, at `pos` beats.
fn rolling_at(pos: f64) -> HostTransport {
    HostTransport {
        playing: true,
        tempo_bpm: Some(120.0),
        pos_beats: Some(pos),
        time_signature: Some((4, 4)),
        bar_start_beats: None,
        loop_beats: None,
        sample_rate_hz: RATE,
    }
}

/// The block of `BLOCK` samples from `pos` beats at 120 bpm.
fn block_at(pos: f64) -> Block {
    Block {
        pos,
        samples_per_beat: SAMPLES_PER_BEAT,
        len: BLOCK,
    }
}

fn k(key: u8) -> Key {
    Key::new(key).expect("a MIDI key")
}

fn v(unit: f32) -> Velocity {
    Velocity::from_unit(unit)
}
