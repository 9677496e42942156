//! Cost of the audio thread's work per 64-sample block at 48 kHz.
//!
//! - `audio_side/64_samples_16_events`: the real-time core (`AudioSide`) playing 16 scheduled
//!   events (8 note-ons, 8 note-offs) in every block, planned notes arriving through the worker
//!   queue as in the plugin.
//! - `plugin_process/64_samples_16_passthrough`: the whole built plugin's `process()` called by
//!   a CLAP host (clack-host), nice-plug's wrapper included, passing 16 input events through.
//!
//! The goal is ≤ 0.5 % of the block's duration (64 / 48000 s = 1.333 ms), i.e. ≤ 6.7 µs.

#[path = "../tests/common/mod.rs"]
mod common;

use antiphon_core::messages::{Queues, Status, ToAudio};
use antiphon_core::note::{Channel, Key, Note, Velocity};
use antiphon_realtime::{AudioSide, HostTransport};
use common::{Blocks, Host, InputNote, Layout, Playback, Song};
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RATE: f64 = 48_000.0;
const BLOCK: u32 = 64;
const TEMPO: f64 = 120.0;

fn audio_side(c: &mut Criterion) {
    let queues = Queues::new();
    let status = Arc::new(Status::default());
    let mut audio = AudioSide::new(&queues, status);
    let block_beats = BLOCK as f64 * TEMPO / 60.0 / RATE;
    let mut pos = 0.0_f64;

    // Check the setup before timing it: one block must emit exactly 16 events.
    let run_block = |audio: &mut AudioSide, pos: &mut f64| -> (Duration, usize) {
        for i in 0..8u8 {
            let onset = *pos + block_beats * (i as f64 + 0.5) / 16.0;
            let note = Note {
                onset_beats: onset,
                duration_beats: block_beats / 3.0,
                key: Key::saturating(48 + i as i32),
                channel: Channel::default(),
                velocity: Velocity::from_unit(0.8),
            };
            queues.to_audio_tx.try_send(ToAudio::Play(note)).unwrap();
        }
        let host = HostTransport {
            playing: true,
            tempo_bpm: Some(TEMPO),
            pos_beats: Some(*pos),
            time_signature: Some((4, 4)),
            bar_start_beats: None,
            loop_beats: None,
            sample_rate_hz: RATE,
        };
        let started = Instant::now();
        audio.begin_block(&host, BLOCK);
        let mut emitted = 0;
        while let Some(out) = audio.next_generated(u32::MAX) {
            std::hint::black_box(out);
            emitted += 1;
        }
        let elapsed = started.elapsed();
        *pos += block_beats;
        (elapsed, emitted)
    };
    let (_, emitted) = run_block(&mut audio, &mut pos);
    assert_eq!(emitted, 16, "each block must carry 16 events");

    c.bench_function("audio_side/64_samples_16_events", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run_block(&mut audio, &mut pos).0).sum())
    });
}

fn plugin_process(c: &mut Criterion) {
    let mut host = Host::load(Layout::Stereo);
    // 8 notes per 64-sample block (a note-on and a note-off each): 16 events to pass through.
    let block_beats = BLOCK as f64 * TEMPO / 60.0 / RATE;
    let blocks = 200;
    let mut song = Song::at_tempo(TEMPO);
    for b in 0..blocks {
        for i in 0..8u8 {
            let on = (b as f64 + i as f64 / 16.0) * block_beats;
            song.notes.push(InputNote {
                on_beats: on,
                off_beats: on + block_beats / 3.0,
                key: 60 + i,
                channel: 0,
                velocity: 0.8,
            });
        }
    }
    let playback = Playback {
        total_samples: blocks as u64 * BLOCK as u64,
        blocks: Blocks::Fixed(BLOCK),
        split_blocks: false,
        pace: Duration::ZERO,
        lead_in: Duration::ZERO,
        stop_at_end: false,
    };
    let check = host.play(&song, playback);
    assert_eq!(
        check.events.len(),
        blocks * 16,
        "every block passes 16 events through"
    );

    c.bench_function("plugin_process/64_samples_16_passthrough", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut counted = 0;
            while counted < iters {
                host.process_time = Duration::ZERO;
                host.process_calls = 0;
                host.play(&song, playback);
                total += host.process_time;
                counted += host.process_calls;
            }
            total.mul_f64(iters as f64 / counted as f64)
        })
    });
}

criterion_group!(benches, audio_side, plugin_process);
criterion_main!(benches);
