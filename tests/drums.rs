//! Instrument = Drums with the built-in model, through the real ONNX Runtime: the answer is a
//! drum kit (General MIDI drum keys, kick and snare among them), not pitched notes on channel 10.
//! The model learned drums from the Groove MIDI Dataset (models/antiphon-small/README.md); one
//! that never heard a kit scatters its answer over all 128 keys.

mod support;

use antiphon_engine::tasks::{self, TaskSettings};
use antiphon_tokens::{GmInstrument, Note};

/// General MIDI's drum map.
const DRUM_MAP: std::ops::RangeInclusive<u8> = 35..=81;
const KICKS: [u8; 2] = [35, 36];
const SNARES: [u8; 3] = [37, 38, 40];

/// A four-bar G-major tune in quarters and eighths on the oboe (as the plugin voices a melody).
fn pop_tune() -> Vec<Note> {
    let notes: [(f64, f64, u8); 14] = [
        (0.0, 1.0, 71),
        (1.0, 1.0, 69),
        (2.0, 2.0, 67),
        (4.0, 1.0, 71),
        (5.0, 0.5, 72),
        (5.5, 0.5, 71),
        (6.0, 2.0, 69),
        (8.0, 1.0, 74),
        (9.0, 1.0, 72),
        (10.0, 2.0, 71),
        (12.0, 1.0, 69),
        (13.0, 1.0, 66),
        (14.0, 1.5, 67),
        (15.5, 0.5, 67),
    ];
    support::oboe(&notes)
}

#[test]
fn instrument_drums_plays_a_kit() {
    let Some((mut model, spec)) = support::built_in_model() else {
        eprintln!("skipped: this build has no built-in model");
        return;
    };
    let mut hits: Vec<u8> = Vec::new();
    for seed in 1..=5 {
        let settings = TaskSettings {
            seed,
            instruments: Some(vec![spec.drum_instrument()]),
            ..TaskSettings::default()
        };
        let answer = tasks::accompany(&mut model, &spec, &pop_tune(), &[], 0.0, 16.0, &settings)
            .expect("accompaniment");
        assert!(answer.iter().all(|n| n.instrument == GmInstrument::Drums));
        hits.extend(answer.iter().map(|n| n.pitch));
    }
    let share = |keys: &dyn Fn(u8) -> bool| {
        hits.iter().filter(|&&k| keys(k)).count() as f64 / hits.len() as f64
    };
    assert!(
        hits.len() >= 100,
        "only {} hits in five answers",
        hits.len()
    );
    let in_map = share(&|k| DRUM_MAP.contains(&k));
    assert!(in_map >= 0.9, "{in_map:.2} of the hits in the drum map");
    let kicks = share(&|k| KICKS.contains(&k));
    let snares = share(&|k| SNARES.contains(&k));
    assert!(
        kicks >= 0.05 && snares >= 0.05,
        "kick {kicks:.2}, snare {snares:.2} of the hits"
    );
}
