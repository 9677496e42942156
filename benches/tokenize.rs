//! Tokenizer throughput: MIDI files → events, and files → training lines, in files per second
//! and notes per second.
//!
//! Runs on the MIDI files of `$ANTIPHON_BENCH_MIDI_DIR` (searched recursively), else on the AMT
//! conformance inputs (`$AMT_CONFORMANCE_DIR/midi`, default `../shared/amt/conformance/midi`,
//! or the repository's `tests/data/conformance/midi` where that set is absent; the figures of
//! the two are not comparable).
//! One thread: the CLI's `tokenize` spreads files over all cores.

use std::path::{Path, PathBuf};

use antiphon_tokens::packing::LinePacker;
use antiphon_tokens::writer::{write_events, WriteOptions};
use antiphon_tokens::{SplitMix64, Tokenizer, VocabSpec};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "mid" || e == "midi") {
            out.push(path);
        }
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = match std::env::var_os("ANTIPHON_BENCH_MIDI_DIR") {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("AMT_CONFORMANCE_DIR") {
            Some(d) => PathBuf::from(d).join("midi"),
            None => {
                let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                let whole = root.join("../shared/amt/conformance/midi");
                if whole.is_dir() {
                    whole
                } else {
                    root.join("tests/data/conformance/midi")
                }
            }
        },
    };
    let mut paths = Vec::new();
    walk(&dir, &mut paths);
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn bench(c: &mut Criterion) {
    let files = corpus();
    for (name, spec) in [("amt", VocabSpec::amt()), ("beats", VocabSpec::beats())] {
        // Check the setup before timing: every file reads, and there are notes to count.
        let mut tok = Tokenizer::new(spec.clone());
        let notes: usize = files
            .iter()
            .filter_map(|b| tok.read_midi(b).ok())
            .map(|f| f.events.len())
            .sum();
        assert!(notes > 0, "no notes in the benchmark corpus");

        let mut group = c.benchmark_group(format!("read_{name}"));
        group.sample_size(20);
        for (unit, n) in [("files", files.len()), ("notes", notes)] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(unit, |b| {
                b.iter(|| {
                    for bytes in &files {
                        let _ = black_box(tok.read_midi(black_box(bytes)));
                    }
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("pack_{name}"));
        group.sample_size(10);
        for (unit, n) in [("files", files.len()), ("notes", notes)] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(unit, |b| {
                b.iter(|| {
                    let mut packer = LinePacker::new(spec.clone());
                    let mut lines = 0usize;
                    for (i, bytes) in files.iter().enumerate() {
                        let mut rng = SplitMix64::for_item(0, i as u64);
                        if let Ok(f) = tok.prepare_training(bytes, 1, &mut rng) {
                            for s in &f.sequences {
                                packer.push(s.flag, &s.tokens, |_| lines += 1);
                            }
                        }
                    }
                    black_box(lines)
                })
            });
        }
        group.finish();

        let events: Vec<_> = files
            .iter()
            .filter_map(|b| tok.read_midi(b).ok())
            .map(|f| f.events)
            .collect();
        let mut group = c.benchmark_group(format!("write_{name}"));
        group.sample_size(20);
        group.throughput(Throughput::Elements(notes as u64));
        let opts = WriteOptions::for_spec(&spec);
        group.bench_function("notes", |b| {
            b.iter(|| {
                for ev in &events {
                    let _ = black_box(write_events(&spec, ev, &opts));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
