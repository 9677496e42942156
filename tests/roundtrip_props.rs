//! Property tests: the product writer round-trips events of both vocabularies, and no input
//! bytes make the MIDI reader panic.

use antiphon_tokens::midi::{self, read_events, read_notes};
use antiphon_tokens::writer::{canonical_order, write_events, write_notes, WriteOptions};
use antiphon_tokens::{Event, GmInstrument, Note, Tokenizer, VocabSpec};
use proptest::prelude::*;

/// Beats events already on the vocabulary's grid, without what a Standard MIDI File cannot
/// carry: same-pitch drum overlaps (drums have one channel, so FIFO re-pairs them).
fn beats_events() -> impl Strategy<Value = Vec<Event>> {
    let spec = VocabSpec::beats();
    let max_dur = spec.max_duration();
    let n_instr = spec.num_instruments();
    prop::collection::vec(
        (0u32..4000, 0u32..max_dur, 0u32..n_instr, 0u32..128),
        0..120,
    )
    .prop_map(move |raw| {
        let mut ev: Vec<Event> = raw
            .into_iter()
            .map(|(onset_ticks, duration_ticks, instrument, pitch)| Event {
                onset_ticks,
                duration_ticks,
                instrument,
                pitch,
            })
            .collect();
        ev.sort_by_key(|e| e.onset_ticks);
        drop_drum_overlaps(&VocabSpec::beats(), ev)
    })
}

fn drop_drum_overlaps(spec: &VocabSpec, events: Vec<Event>) -> Vec<Event> {
    let mut end = [None::<u32>; 128];
    events
        .into_iter()
        .filter(|e| {
            if e.instrument != spec.drum_instrument() {
                return true;
            }
            let lane = &mut end[e.pitch as usize];
            if lane.is_some_and(|x| x > e.onset_ticks) {
                return false;
            }
            *lane = Some(
                lane.map_or(0, |x: u32| x)
                    .max(e.onset_ticks + e.duration_ticks),
            );
            true
        })
        .collect()
}

fn canonical(events: &[Event]) -> Vec<Event> {
    canonical_order(events, |e| e.onset_ticks as u64, |e| e.instrument)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// beats events → MIDI (product writer) → events is the identity on quantised input (in
    /// the writer's canonical order for simultaneous notes).
    #[test]
    fn beats_events_survive_the_product_writer(events in beats_events(), tempo in 30.0f64..240.0) {
        let spec = VocabSpec::beats();
        let opts = WriteOptions { tempo_bpm: tempo, ..WriteOptions::for_spec(&spec) };
        let midi = write_events(&spec, &events, &opts).unwrap();
        prop_assert_eq!(midi.lane_conflicts, 0);
        prop_assert_eq!(midi.channel_steals, 0);
        let back = read_events(&spec, &midi.bytes).unwrap();
        prop_assert_eq!(back, canonical(&events));
    }

    /// amt events (10 ms ticks, far beyond 275 s where the reference writer corrupts times,
    /// more than 15 instruments) round-trip through the product writer at any sane tempo.
    #[test]
    fn amt_events_survive_the_product_writer(
        raw in prop::collection::vec((0u32..60_000, 0u32..1000, 0u32..128, 0u32..128), 0..80),
        tempo in 40.0f64..240.0,
    ) {
        let spec = VocabSpec::amt();
        let mut events: Vec<Event> = raw
            .into_iter()
            .map(|(onset_ticks, duration_ticks, instrument, pitch)| Event { onset_ticks, duration_ticks, instrument, pitch })
            .collect();
        events.sort_by_key(|e| e.onset_ticks);
        let opts = WriteOptions { tempo_bpm: tempo, ..WriteOptions::for_spec(&spec) };
        let midi = write_events(&spec, &events, &opts).unwrap();
        let back = read_events(&spec, &midi.bytes).unwrap();
        let expected = canonical(&events);
        if midi.lane_conflicts == 0 && midi.channel_steals == 0 {
            prop_assert_eq!(back, expected);
        } else {
            // More lanes than channels sounding at once: still every onset, pitch and
            // instrument, each at its true time.
            let key = |e: &Event| (e.onset_ticks, e.instrument, e.pitch);
            let mut a: Vec<_> = back.iter().map(key).collect();
            let mut b: Vec<_> = expected.iter().map(key).collect();
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
        }
    }

    /// Notes on a 1/12-beat grid (the engine's answer) → MIDI → notes is the identity.
    #[test]
    fn notes_in_beats_survive_the_product_writer(
        raw in prop::collection::vec((0u32..2000, 0u32..200, 0u8..130, 0u8..128, 1u8..128), 0..100),
    ) {
        let mut notes: Vec<Note> = raw
            .into_iter()
            .map(|(on, dur, program, pitch, velocity)| Note {
                onset_beats: on as f64 / 12.0,
                duration_beats: dur as f64 / 12.0,
                pitch,
                instrument: if program >= 128 { GmInstrument::Drums } else { GmInstrument::Program(program) },
                velocity,
            })
            .collect();
        notes.sort_by(|a, b| a.onset_beats.total_cmp(&b.onset_beats));
        // Channel 10 is one channel: keep same-pitch drum notes from overlapping.
        let mut end = [f64::NEG_INFINITY; 128];
        notes.retain(|n| {
            if n.instrument != GmInstrument::Drums {
                return true;
            }
            let ok = end[n.pitch as usize] <= n.onset_beats;
            if ok {
                end[n.pitch as usize] = n.onset_beats + n.duration_beats;
            }
            ok
        });
        let opts = WriteOptions { tempo_bpm: 100.0, ticks_per_quarter: 480, velocity: 64 };
        let midi = write_notes(&notes, &opts).unwrap();
        prop_assume!(midi.channel_steals == 0 && midi.lane_conflicts == 0);
        let (back, _) = read_notes(&midi.bytes).unwrap();
        let expected = canonical_order(&notes, |n| (n.onset_beats * 480.0).round() as u64, |n| n.instrument);
        prop_assert_eq!(back, expected);
    }

    /// Arbitrary bytes never panic the reader; they parse or give an error.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for spec in [VocabSpec::amt(), VocabSpec::beats()] {
            let _ = Tokenizer::new(spec).read_midi(&bytes);
        }
    }

    /// Bytes behind a valid header reach the event parser, and still never panic.
    #[test]
    fn damaged_tracks_never_panic(body in prop::collection::vec(any::<u8>(), 0..400), tracks in 1u16..4, tpq in any::<u16>()) {
        let mut bytes = b"MThd\0\0\0\x06\0\x01".to_vec();
        bytes.extend_from_slice(&tracks.to_be_bytes());
        bytes.extend_from_slice(&tpq.to_be_bytes());
        bytes.extend_from_slice(b"MTrk");
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&body);
        for spec in [VocabSpec::amt(), VocabSpec::beats()] {
            let _ = Tokenizer::new(spec).read_midi(&bytes);
            let _ = midi::parse(&bytes).map(|s| s.messages().count());
        }
    }
}

/// Truncating a real file anywhere gives an error or a shorter reading, never a panic.
#[test]
fn every_truncation_of_a_real_file_is_handled() {
    let spec = VocabSpec::amt();
    let events: Vec<Event> = (0..40)
        .map(|i| Event {
            onset_ticks: i * 7,
            duration_ticks: 30,
            instrument: i % 5,
            pitch: 40 + i,
        })
        .collect();
    let bytes = write_events(&spec, &events, &WriteOptions::for_spec(&spec))
        .unwrap()
        .bytes;
    let mut tok = Tokenizer::new(spec);
    for len in 0..bytes.len() {
        assert!(
            tok.read_midi(&bytes[..len]).is_err(),
            "a truncated file at {len} bytes was accepted"
        );
    }
    assert!(tok.read_midi(&bytes).is_ok());
}
