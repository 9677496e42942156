//! The audio thread's note path under RealtimeSanitizer.
//!
//! `AudioSide`'s entry points are `#[nonblocking]`. Built normally this test checks behaviour
//! only; built with `RTSAN_ENABLE=1` and `RTSAN_LIB_PATH` (what `cargo xtask test` does, in
//! its own target folder), every allocation, lock or system call inside them aborts the
//! process, and a control case proves the sanitizer is really watching.
//!
//! The worker is the real one, polling its queue, so both crossbeam directions are exercised
//! the way the plugin uses them.

use antiphon::params::AntiphonParams;
use antiphon_core::messages::{Queues, Status};
use antiphon_core::note::{Channel, Key, Velocity};
use antiphon_engine::policy::echo::EchoGenerator;
use antiphon_engine::Worker;
use antiphon_realtime::scheduler::NoteOut;
use antiphon_realtime::{AudioSide, HostTransport};
use std::sync::Arc;
use std::time::Duration;

/// Whether this binary was built with the sanitizer linked in.
const SANITIZED: bool = option_env!("RTSAN_ENABLE").is_some();

/// Environment variable that makes this binary run only the deliberate violation.
const CONTROL_ENV: &str = "ANTIPHON_RTSAN_CONTROL";

const RATE: f64 = 48_000.0;
const BLOCK: u32 = 256;

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
    let queues = Queues::new();
    let status = Arc::new(Status::default());
    let params = Arc::new(AntiphonParams::default());
    let mut audio = AudioSide::new(&queues, status.clone());
    let worker = Worker::spawn(
        &queues,
        params.settings_source(),
        status.clone(),
        Box::new(EchoGenerator::new()),
    )
    .expect("worker thread");

    // 120 bpm: a beat is 24000 samples. Play C–E on beats 0 and 1, then wait for the echo on
    // beats 8 and 9 (the phrase ends at bar line 4; the echo comes one bar later).
    let spb = RATE * 60.0 / 120.0;
    let mut pos = 0.0_f64;
    let mut heard = Vec::new();
    let mut sample = 0u64;
    while pos < 12.0 {
        audio.begin_block(&rolling_at(pos), BLOCK);
        for (beat, key) in [(0.0, 60u8), (1.0, 64)] {
            let on = ((beat - pos) * spb).round();
            if (0.0..BLOCK as f64).contains(&on) {
                audio.note_on(on as u32, k(key), ch0(), v(0.8));
            }
            let off = ((beat + 0.5 - pos) * spb).round();
            if (0.0..BLOCK as f64).contains(&off) {
                audio.note_off(off as u32, k(key), ch0());
            }
        }
        while let Some(out) = audio.next_generated(u32::MAX) {
            heard.push((sample + out.timing() as u64, out));
        }
        pos += BLOCK as f64 / spb;
        sample += BLOCK as u64;
        // Let the worker thread run, as a real audio callback period would.
        std::thread::sleep(Duration::from_micros(200));
    }
    let stop = HostTransport {
        playing: false,
        sample_rate_hz: RATE,
        ..Default::default()
    };
    audio.begin_block(&stop, BLOCK);
    while let Some(out) = audio.next_generated(u32::MAX) {
        heard.push((sample + out.timing() as u64, out));
    }
    worker.stop();

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
    let queues = Queues::new();
    let status = Arc::new(Status::default());
    let params = Arc::new(AntiphonParams::default());
    *params.model_folder.write().unwrap() = fixture.display().to_string();
    let mut audio = AudioSide::new(&queues, status.clone());
    let worker = Worker::spawn(
        &queues,
        params.settings_source(),
        status.clone(),
        Box::new(Responder::new()),
    )
    .expect("worker thread");
    // Continue mode: a one-bar phrase at 120 bpm, then four bars of listening.
    let spb = RATE * 60.0 / 120.0;
    let mut pos = 0.0_f64;
    while pos < 24.0 {
        audio.begin_block(&rolling_at(pos), BLOCK);
        for beat in 0..4 {
            let on = ((beat as f64 - pos) * spb).round();
            if (0.0..BLOCK as f64).contains(&on) {
                audio.note_on(on as u32, k(60 + beat as u8 * 2), ch0(), v(0.8));
            }
            let off = ((beat as f64 + 0.5 - pos) * spb).round();
            if (0.0..BLOCK as f64).contains(&off) {
                audio.note_off(off as u32, k(60 + beat as u8 * 2), ch0());
            }
        }
        while audio.next_generated(u32::MAX).is_some() {}
        pos += BLOCK as f64 / spb;
        std::thread::sleep(Duration::from_micros(300));
    }
    worker.stop();
    let engine = status.engine_line.lock().unwrap().clone();
    // The error line says why a model did not run (a missing ONNX Runtime names the command).
    let error = status.error_line.lock().unwrap().clone();
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

fn k(key: u8) -> Key {
    Key::new(key).expect("a MIDI key")
}

fn ch0() -> Channel {
    Channel::default()
}

fn v(unit: f32) -> Velocity {
    Velocity::from_unit(unit)
}
