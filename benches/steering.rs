//! What steering adds to each sampled triple: the note biases (key, harmony, register) and the
//! time biases (density) on a `beats` logits row, against one model step of the built-in model
//! (`decode`) — three of which make a triple. The budget is 10 % of decoding.

use antiphon_engine::steering::{DensityChoice, Frame, Role, Steerer, Steering};
use antiphon_tokens::{Event, VocabSpec};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

/// An eight-bar melody of quarter notes, as the steerer hears an accompanied one.
fn melody() -> Vec<Event> {
    let tune = [72u32, 74, 76, 77, 79, 77, 76, 74];
    (0..32)
        .map(|i| Event {
            onset_ticks: i * 12,
            duration_ticks: 11,
            instrument: 0,
            pitch: tune[i as usize % tune.len()],
        })
        .collect()
}

fn steering_per_triple(c: &mut Criterion) {
    let spec = VocabSpec::beats();
    let frame = Frame {
        ticks_per_beat: 12.0,
        beats_per_bar: 4.0,
        bar_origin_ticks: 0.0,
    };
    let steering = Steering {
        density: DensityChoice::NotesPerBar(12.0),
        ..Steering::default()
    };
    let mut steerer = Steerer::new(&spec, steering, Role::Accompany, frame);
    steerer.add_melody(melody());
    let row = vec![0.5f32; spec.vocab_size() as usize];
    let mut logits = row.clone();
    let mut onset = 0i64;
    c.bench_function("steering/one triple (time + note biases)", |b| {
        b.iter(|| {
            logits.copy_from_slice(&row);
            steerer.steer_time(&mut logits, onset, onset % 384);
            steerer.steer_notes(&mut logits, onset, &[]);
            // A new onset every call, so the followed key and the chord are found anew.
            onset = (onset + 3) % (32 * 12);
            black_box(&logits);
        })
    });
    c.bench_function("steering/copying the row alone", |b| {
        b.iter(|| {
            logits.copy_from_slice(&row);
            black_box(&logits);
        })
    });
}

criterion_group!(benches, steering_per_triple);
criterion_main!(benches);
