//! Property tests of the audio thread's note path (`realtime::AudioSide`): random block sizes
//! (1–4096), random sub-block splits, tempo changes, loops and stops, with planned notes fed
//! through the real worker → audio queue.
//!
//! Properties: every note-on has exactly one note-off; output timings are sample-exact and
//! never decrease within a block; nothing is played late.

use antiphon_core::messages::{Queues, Status, ToAudio};
use antiphon_core::note::{Channel, Key, Note, Velocity};
use antiphon_realtime::scheduler::NoteOut;
use antiphon_realtime::{AudioSide, HostTransport};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

const RATE: f64 = 48_000.0;

/// What the simulated host does at the start of a (sub-)block.
#[derive(Debug, Clone, Copy)]
enum Move {
    /// Keep playing.
    Play,
    /// Change tempo to this bpm.
    Tempo(f64),
    /// Jump back to this position (a loop).
    LoopTo(f64),
    /// Stop for this many blocks, then start again where it stopped.
    Stop(u8),
}

fn moves() -> impl Strategy<Value = Vec<(u32, Move)>> {
    let one = prop_oneof![
        8 => Just(Move::Play),
        2 => (40.0f64..240.0).prop_map(Move::Tempo),
        1 => (0.0f64..16.0).prop_map(Move::LoopTo),
        1 => (1u8..4).prop_map(Move::Stop),
    ];
    prop::collection::vec((1u32..=4096, one), 20..160)
}

fn notes() -> impl Strategy<Value = Vec<Note>> {
    prop::collection::vec(
        (0.0f64..40.0, 0.0f64..4.0, 36u8..40, 0u8..2).prop_map(|(onset, dur, key, ch)| Note {
            onset_beats: onset,
            duration_beats: dur,
            key: Key::new(key).unwrap(),
            channel: Channel::new(ch).unwrap(),
            velocity: Velocity::from_unit(0.7),
        }),
        0..200,
    )
}

/// One emitted event with the musical time of its block.
#[derive(Debug, Clone, Copy)]
struct Heard {
    out: NoteOut,
    block_start_beats: f64,
    tempo_bpm: f64,
}

fn samples_per_beat(tempo_bpm: f64) -> f64 {
    RATE * 60.0 / tempo_bpm
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn note_path_keeps_its_promises(
        moves in moves(),
        notes in notes(),
        split_at in prop::collection::vec(0.0f64..1.0, 160),
    ) {
        let queues = Queues::new();
        let status = Arc::new(Status::default());
        let mut audio = AudioSide::new(&queues, status.clone());
        for note in &notes {
            queues.to_audio_tx.try_send(ToAudio::Play(*note)).unwrap();
        }

        let mut pos = 0.0_f64;
        let mut tempo = 120.0_f64;
        let mut stopped_blocks = 0u8;
        let mut heard: Vec<Heard> = Vec::new();
        let mut block_timings: Vec<Vec<u32>> = Vec::new();

        for (i, (len, step)) in moves.iter().enumerate() {
            match *step {
                Move::Play => {}
                Move::Tempo(bpm) => tempo = bpm,
                Move::LoopTo(to) => pos = to,
                Move::Stop(n) => stopped_blocks = n,
            }
            // A host block, split once at a random point as nice-plug does at transport events.
            let cut = ((split_at[i] * *len as f64) as u32).clamp(0, *len);
            for part in [cut, len - cut] {
                if part == 0 {
                    continue;
                }
                let playing = stopped_blocks == 0;
                let host = HostTransport {
                    playing,
                    tempo_bpm: Some(tempo),
                    pos_beats: Some(pos),
                    time_signature: Some((4, 4)),
                    bar_start_beats: None,
                    loop_beats: None,
                    sample_rate_hz: RATE,
                };
                audio.begin_block(&host, part);
                let mut timings = Vec::new();
                while let Some(out) = audio.next_generated(u32::MAX) {
                    timings.push(out.timing());
                    heard.push(Heard { out, block_start_beats: pos, tempo_bpm: tempo });
                }
                prop_assert!(timings.iter().all(|t| *t < part), "timing outside block");
                block_timings.push(timings);
                if playing {
                    pos += part as f64 / samples_per_beat(tempo);
                }
            }
            stopped_blocks = stopped_blocks.saturating_sub(1);
        }
        // A final stop releases whatever still sounds.
        let stop = HostTransport { playing: false, tempo_bpm: Some(tempo), pos_beats: Some(pos), sample_rate_hz: RATE, ..Default::default() };
        audio.begin_block(&stop, 64);
        while let Some(out) = audio.next_generated(u32::MAX) {
            heard.push(Heard { out, block_start_beats: pos, tempo_bpm: tempo });
        }

        // Timings never decrease within a block.
        for timings in &block_timings {
            prop_assert!(timings.windows(2).all(|w| w[0] <= w[1]), "{timings:?}");
        }

        // Every note-on has exactly one note-off, and each key sounds once at a time.
        let mut sounding: HashMap<(Key, Channel), u32> = HashMap::new();
        for h in &heard {
            match h.out {
                NoteOut::On { key, channel, .. } => {
                    let n = sounding.entry((key, channel)).or_default();
                    prop_assert_eq!(*n, 0, "key {} on twice", key);
                    *n += 1;
                }
                NoteOut::Off { key, channel, .. } => {
                    let n = sounding.entry((key, channel)).or_default();
                    prop_assert_eq!(*n, 1, "note-off without note-on for key {}", key);
                    *n -= 1;
                }
            }
        }
        prop_assert!(sounding.values().all(|n| *n == 0));

        // Each note-on is at the sample nearest a planned onset: sample-exact and never late.
        for h in heard.iter().filter(|h| matches!(h.out, NoteOut::On { .. })) {
            let NoteOut::On { timing, key, channel, .. } = h.out else { unreachable!() };
            let spb = samples_per_beat(h.tempo_bpm);
            // Nearest sample, halves up: the scheduler's rounding rule.
            let matches_a_plan = notes.iter().any(|n| {
                n.key == key
                    && n.channel == channel
                    && ((n.onset_beats - h.block_start_beats) * spb + 0.5).floor() as i64 == timing as i64
            });
            prop_assert!(matches_a_plan, "note-on {key} at {timing} matches no planned onset");
        }
        let counts = audio.scheduler_counts();
        prop_assert!(counts.missed_deadlines + counts.skipped <= notes.len() as u64);
    }
}
