//! Accompany in real time, as the plugin runs it: the audio side fed block by block at the
//! host's pace, the worker with the model answering. A four-bar melody at 120 bpm loops over
//! bars 1–4, alternating between two tunes so each pass is accompanied anew.
//!
//! Prints JSON: answers, notes played, missed deadlines, and, sampled per pass, the time from
//! the window's close to the first note of the part of the answer still unwritten then
//! (`last_latency_ms`: what waited for the whole melody) and to the whole answer
//! (`last_answer_ms`). `cargo bench --bench answer_latency -- --minutes 10` is the soak of the
//! closing note; the default is one minute. Uses the built-in model, else `ANTIPHON_MODEL`,
//! else the fixture.

#[path = "../tests/live/mod.rs"]
mod live;

use antiphon::params::{AntiphonParams, Mode};
use antiphon_core::note::{Key, Velocity};
use antiphon_engine::default_model::default_model;
use antiphon_engine::policy::Responder;
use antiphon_realtime::HostTransport;
use live::{Block, Live};
use nice_plug::params::InternalParamMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RATE: f64 = 48_000.0;
const BLOCK: u32 = 512;
const TEMPO: f64 = 120.0;
const LOOP_BEATS: f64 = 16.0;

fn main() {
    let minutes: f64 = std::env::args()
        .skip_while(|a| a != "--minutes")
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(1.0);
    if default_model().is_none() && std::env::var_os("ANTIPHON_MODEL").is_none() {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny-beats");
        std::env::set_var("ANTIPHON_MODEL", fixture);
    }
    let params = Arc::new(AntiphonParams::default());
    // SAFETY: there is no plugin wrapper here; this program stands in for it, setting two
    // parameters before anything else (worker, audio side) exists to read them.
    unsafe {
        params.mode._internal_set_plain_value(Mode::Accompany);
        params.bars._internal_set_plain_value(4);
    }
    let mut live = Live::start(&params, Box::new(Responder::new()));
    let status = live.status.clone();

    let spb = RATE * 60.0 / TEMPO;
    let block_time = Duration::from_secs_f64(BLOCK as f64 / RATE);
    let melodies = [[72u8, 74, 76, 77], [76, 77, 79, 81]];
    let mut pos = 0.0_f64;
    let mut pass = 0usize;
    let started = Instant::now();
    let mut next_block = Instant::now();
    let mut latencies = Vec::new();
    let mut completions = Vec::new();
    let mut seen_answers = 0;
    while started.elapsed().as_secs_f64() < minutes * 60.0 {
        let host = HostTransport {
            playing: true,
            tempo_bpm: Some(TEMPO),
            pos_beats: Some(pos),
            time_signature: Some((4, 4)),
            bar_start_beats: None,
            loop_beats: Some((0.0, LOOP_BEATS)),
            sample_rate_hz: RATE,
        };
        live.audio.begin_block(&host, BLOCK);
        let block = Block {
            pos,
            samples_per_beat: spb,
            len: BLOCK,
        };
        let keys = melodies[pass % 2];
        for beat in 0..16 {
            let key = Key::saturating(keys[beat % 4].into());
            let onset = beat as f64;
            live.play_note(block, onset, onset + 0.9, key, Velocity::from_unit(0.8));
        }
        while live.audio.next_generated(u32::MAX).is_some() {}
        pos += BLOCK as f64 / spb;
        if pos >= LOOP_BEATS {
            pos -= LOOP_BEATS;
            pass += 1;
        }
        let answers = status.answers.load(Ordering::Relaxed);
        if answers > seen_answers {
            seen_answers = answers;
            latencies.push(status.last_latency_ms.load(Ordering::Relaxed));
            completions.push(status.last_answer_ms.load(Ordering::Relaxed));
        }
        next_block += block_time;
        if let Some(wait) = next_block.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    live.worker.stop();
    let (mean, p95, max) = summary(&mut latencies);
    let (answer_mean, answer_p95, answer_max) = summary(&mut completions);
    let report = serde_json::json!({
        "model": status.engine_line.lock().map(|l| l.clone()).unwrap_or_default(),
        "minutes": minutes,
        "passes": pass,
        "answers": status.answers.load(Ordering::Relaxed),
        "notes_played": status.notes_played.load(Ordering::Relaxed),
        "missed_deadlines": status.missed_deadlines.load(Ordering::Relaxed),
        "dropped": status.dropped_output.load(Ordering::Relaxed) + status.dropped_to_worker.load(Ordering::Relaxed),
        "window_close_to_first_note_ms_mean": mean,
        "window_close_to_first_note_ms_p95": p95,
        "window_close_to_first_note_ms_max": max,
        "window_close_to_whole_answer_ms_mean": answer_mean,
        "window_close_to_whole_answer_ms_p95": answer_p95,
        "window_close_to_whole_answer_ms_max": answer_max,
        "error": status.error_line.lock().map(|l| l.clone()).unwrap_or_default(),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

/// Mean, 95th percentile and maximum.
fn summary(values: &mut [f64]) -> (f64, f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    values.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let p95 = values[((values.len() - 1) as f64 * 0.95).round() as usize];
    (mean, p95, values[values.len() - 1])
}
