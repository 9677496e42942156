//! The ONNX engine's speed: one decode step with the KV cache, and a 1023-token prefill, on the
//! fixture model and on the built-in model when this build has one. `antiphon bench` prints
//! the same figures as JSON for any model folder.

use antiphon_engine::default_model::default_model;
use antiphon_engine::model::{LanguageModel, ModelSource};
use antiphon_engine::onnx::{OnnxModel, SessionOptions};
use antiphon_tokens::VocabSpec;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::time::{Duration, Instant};

/// A valid token stream of `len` ids for `spec`: the flag, then one piano note per tick step.
fn stream(spec: &VocabSpec, len: usize) -> Vec<u32> {
    std::iter::once(spec.autoregress())
        .chain((0u32..).flat_map(|i| {
            [
                spec.time_offset() + i % spec.max_time(),
                spec.duration_offset() + 1,
                spec.note_offset() + 60 + i % 12,
            ]
        }))
        .take(len)
        .collect()
}

fn models() -> Vec<(String, ModelSource)> {
    let mut out = vec![(
        "tiny-beats".to_string(),
        ModelSource::Folder(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-beats"),
        ),
    )];
    if let Some(source) = default_model() {
        out.push(("default".to_string(), source));
    }
    out
}

fn decode_and_prefill(c: &mut Criterion) {
    for (name, source) in models() {
        let mut model = OnnxModel::load(&source, SessionOptions::default()).expect("model loads");
        let spec = model.spec().vocab.clone();
        let tokens = stream(&spec, 1023);
        // Check the setup before timing it: a prefill fills the cache.
        model.feed(&tokens).expect("prefill");
        assert_eq!(model.cached_len(), 1023);

        c.bench_function(&format!("prefill/{name}/1023_tokens"), |b| {
            b.iter(|| {
                model.reset();
                model.feed(&tokens).expect("prefill").len()
            })
        });
        // One step at a cache of 512 tokens (the middle of the context): only the step is
        // timed; dropping the stepped token again costs nothing measurable.
        model.reset();
        model.feed(&tokens[..512]).expect("prefill");
        c.bench_function(&format!("decode/{name}/token_at_512"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    black_box(model.feed(&tokens[512..513]).expect("decode").len());
                    total += start.elapsed();
                    model.truncate(512);
                }
                total
            })
        });
        // Many steps in a row, as generation does: time per token over a growing cache.
        c.bench_function(&format!("decode/{name}/512_steps_from_256"), |b| {
            b.iter(|| {
                model.reset();
                model.feed(&tokens[..256]).expect("prefill");
                for t in &tokens[256..768] {
                    model.feed(std::slice::from_ref(t)).expect("decode");
                }
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = decode_and_prefill
}
criterion_main!(benches);
