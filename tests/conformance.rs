//! AMT conformance: every fixture of the folder named by `AMT_CONFORMANCE_DIR` (default: the
//! cases kept in `tests/data/conformance`), file by file, field by field. New files dropped
//! there are picked up without code changes. The sampler's fixtures (`sampling/`,
//! and the logit-mask fields of `units.json`) belong to the sampler's tests.

mod amt;

use std::collections::BTreeMap;

use amt::{
    cases, conformance_dir, flat_compound, flat_events, ids, ints, load_json, sha256_hex, Failures,
};
use antiphon_tokens::events::{flatten_raw, raw_to_triples, Triple};
use antiphon_tokens::packing::{
    self, FileStatus, LinePacker, PackConfig, LINE_TOKENS, LINE_TRIPLES,
};
use antiphon_tokens::{interarrival, midi, ops, writer, SplitMix64, TokenId, Tokenizer, VocabSpec};
use serde_json::Value;

fn amt() -> VocabSpec {
    VocabSpec::amt()
}

fn triples_of(spec: &VocabSpec, events: &[antiphon_tokens::Event]) -> Vec<Triple> {
    antiphon_tokens::events::encode_events(spec, events).unwrap()
}

/// Packs sequences as the reference packs one file (SPEC §7.3): lines, tail tokens, drops.
fn pack_one(spec: &VocabSpec, flag: u32, tokens: &[Triple]) -> (Vec<Vec<u32>>, usize, u64) {
    let mut packer = LinePacker::new(spec.clone());
    let mut lines = Vec::new();
    packer.push(TokenId(flag), tokens, |l| {
        lines.push(l.iter().map(|t| t.0).collect())
    });
    (
        lines,
        packer.tail_triples() * 3,
        packer.stats().discarded_lines_max_time,
    )
}

fn lines_json(v: &Value) -> Vec<Vec<u32>> {
    v.as_array().unwrap().iter().map(ids).collect()
}

#[test]
fn sha256_helper_matches_known_vector() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn every_midi_input_has_expected_outputs() {
    let named: Vec<String> = cases().into_iter().map(|c| c.name).collect();
    for path in amt::files("midi", "mid") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(named.contains(&name), "midi/{name} has no expected/*.json");
    }
}

#[test]
fn compound_events_and_summaries_match_every_file() {
    let spec = amt();
    let mut f = Failures::default();
    let all = cases();
    for case in &all {
        let x = &case.expected;
        let n = &case.name;
        f.eq(
            format!("{n} sha256"),
            sha256_hex(&case.midi),
            x["sha256"].as_str().unwrap().to_string(),
        );
        let mut tok = Tokenizer::new(spec.clone());
        let file = match tok.read_midi(&case.midi) {
            Ok(file) => file,
            Err(e) => {
                f.fail(format!("{n}: {e}"));
                continue;
            }
        };
        let info = &x["midi_info"];
        f.eq(
            format!("{n} midi type"),
            file.info.format as i64,
            info["type"].as_i64().unwrap(),
        );
        f.eq(
            format!("{n} ticks_per_beat"),
            file.info.ticks_per_quarter as i64,
            info["ticks_per_beat"].as_i64().unwrap(),
        );
        f.eq(
            format!("{n} tracks"),
            file.info.num_tracks as i64,
            info["tracks"].as_i64().unwrap(),
        );
        f.eq(
            format!("{n} length"),
            file.info.length_seconds,
            info["mido_length_seconds"].as_f64().unwrap(),
        );
        f.eq(
            format!("{n} compound"),
            flat_compound(&file.compound),
            ints(&x["compound"]),
        );
        let events = flat_events(&spec, &file.events);
        f.eq(format!("{n} events"), events.clone(), ids(&x["events"]));
        f.eq(
            format!("{n} duration_truncations"),
            file.duration_truncations as i64,
            x["duration_truncations"].as_i64().unwrap(),
        );

        let t = raw_to_triples(&events).unwrap();
        let s = &x["events_summary"];
        f.eq(
            format!("{n} n_events"),
            t.len() as i64,
            s["n_events"].as_i64().unwrap(),
        );
        f.eq(
            format!("{n} min_time"),
            ops::min_time(&spec, &t, None),
            s["min_time_ticks"].as_i64().unwrap(),
        );
        f.eq(
            format!("{n} max_time"),
            ops::max_time(&spec, &t, None),
            s["max_time_ticks"].as_i64().unwrap(),
        );
        let counts: BTreeMap<String, i64> = ops::get_instruments(&spec, &t)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v as i64))
            .collect();
        let expected: BTreeMap<String, i64> = s["instruments"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
            .collect();
        f.eq(format!("{n} instruments"), counts, expected);
        let over = t.iter().filter(|t| t.time.0 >= spec.max_time()).count() as i64;
        f.eq(
            format!("{n} time tokens over MAX_TIME"),
            over,
            s["time_tokens_over_MAX_TIME"].as_i64().unwrap(),
        );

        match writer::events_to_compound(&spec, &t) {
            Ok(c) => f.eq(
                format!("{n} events_to_compound"),
                flat_compound(&c),
                ints(&x["events_to_compound"]),
            ),
            Err(e) => f.fail(format!("{n} events_to_compound: {e}")),
        }

        let stream = midi::parse(&case.midi).unwrap();
        let (ia, _) = interarrival::from_stream(&stream);
        f.eq(format!("{n} interarrival"), ia, ids(&x["interarrival"]));

        let status = packing::filter_file(&spec, &PackConfig::amt(), &t);
        f.eq(
            format!("{n} maybe_tokenize_status"),
            status.code() as i64,
            x["maybe_tokenize_status"].as_i64().unwrap(),
        );
    }
    f.finish(all.len());
}

#[test]
fn reference_writer_reproduces_every_roundtrip_file_byte_for_byte() {
    let spec = amt();
    let dir = conformance_dir();
    let mut f = Failures::default();
    let all = cases();
    for case in &all {
        let n = &case.name;
        let rt = &case.expected["roundtrip"];
        let t = raw_to_triples(&ids(&case.expected["events"])).unwrap();
        let written = writer::write_reference(&spec, &t);
        if rt["ok"].as_bool().unwrap() {
            let bytes = match written {
                Ok(b) => b,
                Err(e) => {
                    f.fail(format!("{n}: reference writer failed: {e}"));
                    continue;
                }
            };
            let path = dir.join(rt["midi_file"].as_str().unwrap());
            let expected =
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            f.eq(format!("{n} roundtrip bytes"), bytes.clone(), expected);
            f.eq(
                format!("{n} roundtrip sha256"),
                sha256_hex(&bytes),
                rt["midi_sha256"].as_str().unwrap().to_string(),
            );
            let back = flat_events(&spec, &midi::read_events(&spec, &bytes).unwrap());
            f.eq(
                format!("{n} roundtrip events"),
                back.clone(),
                ids(&rt["events"]),
            );
            let original = ids(&case.expected["events"]);
            f.eq(
                format!("{n} equal_to_events"),
                back == original,
                rt["equal_to_events"].as_bool().unwrap(),
            );
            let multiset = |v: &[u32]| {
                let mut t: Vec<[u32; 3]> = v.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
                t.sort();
                t
            };
            f.eq(
                format!("{n} equal_as_multiset"),
                multiset(&back) == multiset(&original),
                rt["equal_as_multiset"].as_bool().unwrap(),
            );
        } else {
            let want = rt["error"].as_str().unwrap();
            match written {
                Ok(_) => f.fail(format!("{n}: expected `{want}`, writer succeeded")),
                Err(e @ writer::WriteError::ChannelOutOfRange { .. }) => {
                    if !want.contains("channel must be in range 0..15")
                        || !e.to_string().contains("channel must be in range 0..15")
                    {
                        f.fail(format!("{n}: error `{e}` vs expected `{want}`"));
                    }
                }
                Err(e) => f.fail(format!("{n}: error `{e}` vs expected `{want}`")),
            }
        }
    }
    f.finish(all.len());
}

#[test]
fn autoregressive_training_lines_match_every_file() {
    let spec = amt();
    let mut f = Failures::default();
    let all = cases();
    for case in &all {
        let n = &case.name;
        let ar = &case.expected["ar"];
        let t = raw_to_triples(&ids(&case.expected["events"])).unwrap();
        let end = ops::max_time(&spec, &t, None);
        f.eq(
            format!("{n} ar end_time"),
            end,
            ar["end_time_ticks"].as_i64().unwrap(),
        );
        let padded = ops::pad(&spec, &t, Some(end), spec.rest_density_ticks() as i64).unwrap();
        f.eq(
            format!("{n} ar padded_events"),
            flatten_raw(&padded),
            ids(&ar["padded_events"]),
        );
        let rests = padded.iter().filter(|t| spec.is_rest(t)).count() as i64;
        f.eq(
            format!("{n} ar rest_count"),
            rests,
            ar["rest_count"].as_i64().unwrap(),
        );
        let (lines, tail, dropped) = pack_one(&spec, spec.autoregress(), &padded);
        f.eq(
            format!("{n} ar training_lines"),
            lines,
            lines_json(&ar["training_lines"]),
        );
        f.eq(
            format!("{n} ar tail_tokens_dropped"),
            tail as i64,
            ar["tail_tokens_dropped"].as_i64().unwrap(),
        );
        f.eq(
            format!("{n} ar discarded_lines_max_time"),
            dropped as i64,
            ar["discarded_lines_max_time"].as_i64().unwrap(),
        );
    }
    f.finish(all.len());
}

#[test]
fn anticipation_interleavings_and_lines_match_every_file() {
    let spec = amt();
    let mut f = Failures::default();
    let all = cases();
    for case in &all {
        let n = &case.name;
        let a = &case.expected["anticipation"];
        let t = raw_to_triples(&ids(&case.expected["events"])).unwrap();
        let instruments: Vec<u32> = ids(&a["control_instruments"]);
        let delta = a["delta_ticks"].as_i64().unwrap();
        f.eq(format!("{n} delta"), delta, spec.delta_ticks() as i64);
        let x = ops::extract_instruments(&spec, &t, &instruments).unwrap();
        f.eq(
            format!("{n} events"),
            flatten_raw(&x.events),
            ids(&a["events"]),
        );
        f.eq(
            format!("{n} controls"),
            flatten_raw(&x.controls),
            ids(&a["controls"]),
        );
        let end = ops::max_time(&spec, &t, None);
        f.eq(
            format!("{n} end_time"),
            end,
            a["end_time_ticks"].as_i64().unwrap(),
        );
        let padded = ops::pad(
            &spec,
            &x.events,
            Some(end),
            spec.rest_density_ticks() as i64,
        )
        .unwrap();
        f.eq(
            format!("{n} padded_events"),
            flatten_raw(&padded),
            ids(&a["padded_events"]),
        );
        let ant = ops::anticipate(&spec, &padded, &x.controls, delta).unwrap();
        f.eq(
            format!("{n} interleaved"),
            flatten_raw(&ant.interleaved),
            ids(&a["interleaved"]),
        );
        f.eq(
            format!("{n} unconsumed_controls"),
            flatten_raw(&ant.unconsumed),
            ids(&a["unconsumed_controls"]),
        );
        let (lines, tail, dropped) = pack_one(&spec, spec.anticipate(), &ant.interleaved);
        f.eq(
            format!("{n} anticipation training_lines"),
            lines,
            lines_json(&a["training_lines"]),
        );
        f.eq(
            format!("{n} anticipation tail"),
            tail as i64,
            a["tail_tokens_dropped"].as_i64().unwrap(),
        );
        f.eq(
            format!("{n} anticipation dropped"),
            dropped as i64,
            a["discarded_lines_max_time"].as_i64().unwrap(),
        );
    }
    f.finish(all.len());
}

#[test]
fn index_json_agrees_with_our_outputs() {
    let spec = amt();
    let dir = conformance_dir();
    let index = load_json(&dir.join("index.json"));
    let mut f = Failures::default();
    let files = index["files"].as_array().unwrap();
    for entry in files {
        let n = entry["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join("midi").join(n)).unwrap();
        f.eq(
            format!("{n} sha256"),
            sha256_hex(&bytes),
            entry["sha256"].as_str().unwrap().to_string(),
        );
        let events = midi::read_events(&spec, &bytes).unwrap();
        let t = triples_of(&spec, &events);
        f.eq(
            format!("{n} events"),
            t.len() as i64,
            entry["events"].as_i64().unwrap(),
        );
        f.eq(
            format!("{n} max_time"),
            ops::max_time(&spec, &t, None),
            entry["max_time"].as_i64().unwrap(),
        );
        let mut instr: Vec<i64> = ops::get_instruments(&spec, &t)
            .iter()
            .map(|&(k, _)| k as i64)
            .collect();
        instr.sort();
        f.eq(
            format!("{n} instruments"),
            instr,
            ints(&entry["instruments"]),
        );
        f.eq(
            format!("{n} status"),
            packing::filter_file(&spec, &PackConfig::amt(), &t).code() as i64,
            entry["status"].as_i64().unwrap(),
        );
        let mut truncations = 0;
        let (compound, _) = midi::read_compound(&spec, &bytes).unwrap();
        let mut ev = Vec::new();
        truncations += midi::compound_to_events(&spec, &compound, &mut ev);
        f.eq(
            format!("{n} truncations"),
            truncations as i64,
            entry["truncations"].as_i64().unwrap(),
        );
        let written = writer::write_reference(&spec, &t);
        f.eq(
            format!("{n} roundtrip_ok"),
            written.is_ok(),
            entry["roundtrip_ok"].as_bool().unwrap(),
        );
        if let Ok(bytes) = written {
            let back = midi::read_events(&spec, &bytes).unwrap();
            f.eq(
                format!("{n} roundtrip_equal"),
                back == events,
                entry["roundtrip_equal"].as_bool().unwrap(),
            );
        } else {
            f.eq(
                format!("{n} roundtrip_error"),
                entry["roundtrip_error"].is_string(),
                true,
            );
        }
        let end = ops::max_time(&spec, &t, None);
        let padded = ops::pad(&spec, &t, Some(end), 100).unwrap();
        f.eq(
            format!("{n} ar_lines"),
            pack_one(&spec, spec.autoregress(), &padded).0.len() as i64,
            entry["ar_lines"].as_i64().unwrap(),
        );
    }
    f.finish(files.len());
}

/// Every constant of `units.json → config, vocab` against our presets. The names that describe
/// the reference's Lakh pipeline rather than the vocabulary are listed as such.
#[test]
fn units_constants_match() {
    let spec = amt();
    let cfg = PackConfig::amt();
    let units = load_json(&conformance_dir().join("units.json"));
    let tps = spec.ticks_per_unit() as i64;
    let ours = |name: &str| -> Option<i64> {
        Some(match name {
            "TIME_RESOLUTION" => tps,
            "MAX_TIME_IN_SECONDS" => spec.max_time() as i64 / tps,
            "MAX_TIME" => spec.max_time() as i64,
            "MAX_DURATION_IN_SECONDS" => spec.max_duration() as i64 / tps,
            "MAX_DUR" => spec.max_duration() as i64,
            "MAX_PITCH" => spec.max_pitch() as i64,
            "MAX_INSTR" => spec.num_instruments() as i64,
            "MAX_NOTE" => (spec.max_pitch() * spec.num_instruments()) as i64,
            "MAX_INTERARRIVAL_IN_SECONDS" => interarrival::MAX_INTERARRIVAL as i64 / tps,
            "MAX_INTERARRIVAL" => interarrival::MAX_INTERARRIVAL as i64,
            "CONTEXT_SIZE" => LINE_TOKENS as i64,
            "EVENT_SIZE" => 3,
            "M" => LINE_TRIPLES as i64,
            "DELTA" => spec.delta_ticks() as i64 / tps,
            "COMPOUND_SIZE" => 5,
            "MAX_TRACK_INSTR" => cfg.max_instruments as i64,
            "MIN_TRACK_EVENTS" => cfg.min_notes as i64,
            "MIN_TRACK_TIME_IN_SECONDS" => cfg.min_end_ticks / tps,
            "MAX_TRACK_TIME_IN_SECONDS" => cfg.max_end_ticks / tps,
            "EVENT_OFFSET" | "TIME_OFFSET" => spec.time_offset() as i64,
            "DUR_OFFSET" => spec.duration_offset() as i64,
            "NOTE_OFFSET" => spec.note_offset() as i64,
            "REST" => spec.rest() as i64,
            "CONTROL_OFFSET" | "ATIME_OFFSET" => spec.control_offset() as i64,
            "ADUR_OFFSET" => (spec.control_offset() + spec.duration_offset()) as i64,
            "ANOTE_OFFSET" => (spec.control_offset() + spec.note_offset()) as i64,
            "SEPARATOR" | "SPECIAL_OFFSET" => spec.separator() as i64,
            "AUTOREGRESS" => spec.autoregress() as i64,
            "ANTICIPATE" => spec.anticipate() as i64,
            "VOCAB_SIZE" => spec.vocab_size() as i64,
            "MIDI_TIME_OFFSET" => 0,
            "MIDI_START_OFFSET" => interarrival::NOTE_ON_OFFSET as i64,
            "MIDI_END_OFFSET" => interarrival::NOTE_OFF_OFFSET as i64,
            "MIDI_SEPARATOR" => interarrival::SEPARATOR as i64,
            "MIDI_VOCAB_SIZE" => interarrival::VOCAB_SIZE as i64,
            _ => return None,
        })
    };
    // Lakh split letters and the preprocessing worker count configure the reference's
    // dataset scripts, not the tokenizer.
    let pipeline_only = ["LAKH_SPLITS", "LAKH_VALID", "LAKH_TEST", "PREPROC_WORKERS"];
    let mut f = Failures::default();
    let mut checked = 0;
    for section in ["config", "vocab"] {
        for (name, value) in units[section].as_object().unwrap() {
            if pipeline_only.contains(&name.as_str()) {
                continue;
            }
            match ours(name) {
                Some(v) => f.eq(format!("{section}.{name}"), Some(v), value.as_i64()),
                None => f.fail(format!(
                    "{section}.{name} = {value}: no counterpart in our vocabulary"
                )),
            }
            checked += 1;
        }
    }
    f.finish(checked);
}

#[test]
fn units_ops_cases_match() {
    let spec = amt();
    let units = load_json(&conformance_dir().join("units.json"));
    let ops_cases = units["ops"].as_object().unwrap();
    let mut names = BTreeMap::new();
    for (k, v) in ops_cases {
        // Plain names holding token lists are the inputs (E, C, S).
        if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && v.is_array() {
            names.insert(k.clone(), ids(v));
        }
    }
    let ctx = amt::expr::Ctx { spec: &spec, names };
    let mut f = Failures::default();
    for (key, expected) in ops_cases {
        match amt::expr::evaluate(key, &ctx) {
            Ok(v) => {
                if !amt::expr::matches(&v, expected) {
                    f.fail(format!("ops `{key}`: got {v:?}, expected {expected}"));
                }
            }
            Err(e) => f.fail(format!("ops `{key}`: {e}")),
        }
    }
    f.finish(ops_cases.len());
}

/// Packs the conformance MIDI files in name order, as `tokenize.tokenize(files, out, factor)`.
fn pack_corpus(spec: &VocabSpec, augment: usize, seed: u64) -> (Vec<Vec<u32>>, [u64; 7]) {
    let mut tok = Tokenizer::new(spec.clone());
    let mut packer = LinePacker::new(spec.clone());
    let mut lines = Vec::new();
    // (seqcount, rest_count, short, long, many_instr, discarded_seqs, truncations)
    let mut stats = [0u64; 7];
    for (i, path) in amt::files("midi", "mid").iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let mut rng = SplitMix64::for_item(seed, i as u64);
        let Ok(file) = tok.prepare_training(&bytes, augment, &mut rng) else {
            continue;
        };
        match file.status {
            FileStatus::Accepted => {}
            FileStatus::TooShort => stats[2] += 1,
            FileStatus::TooLong => stats[3] += 1,
            FileStatus::TooManyInstruments => stats[4] += 1,
        }
        for s in &file.sequences {
            stats[1] += s.rest_count as u64;
            stats[6] += file.duration_truncations as u64;
            packer.push(s.flag, &s.tokens, |l| {
                lines.push(l.iter().map(|t| t.0).collect())
            });
        }
    }
    stats[0] = packer.stats().lines;
    stats[5] = packer.stats().discarded_lines_max_time;
    (lines, stats)
}

fn read_lines(name: &str) -> Vec<Vec<u32>> {
    let text = std::fs::read_to_string(conformance_dir().join("training").join(name)).unwrap();
    text.lines()
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect()
}

fn corpus_result(tokenize: &str) -> Vec<u64> {
    let index = load_json(&conformance_dir().join("index.json"));
    let entry = index["corpus_tokenize"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tokenize"] == tokenize)
        .unwrap_or_else(|| panic!("no corpus_tokenize entry for {tokenize}"));
    let (_, v) = entry
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("result"))
        .unwrap();
    ints(v).into_iter().map(|x| x as u64).collect()
}

#[test]
fn corpus_with_augment_factor_1_matches_token_for_token() {
    let spec = amt();
    let (ours, stats) = pack_corpus(&spec, 1, 0);
    let reference = read_lines("corpus_tokenize_augment1.txt");
    assert_eq!(ours.len(), reference.len(), "line count");
    for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
        assert_eq!(a, b, "line {i}");
    }
    assert_eq!(
        stats.to_vec(),
        corpus_result("corpus_tokenize_augment1.txt")
    );
}

#[test]
fn corpus_with_augment_factor_10_keeps_every_line_invariant() {
    let spec = amt();
    let reference = read_lines("corpus_tokenize_augment10.txt");
    let (ours, stats) = pack_corpus(&spec, 10, 0);
    let expected = corpus_result("corpus_tokenize_augment10.txt");
    let flags = [spec.autoregress(), spec.anticipate()];
    for (who, lines) in [("reference", &reference), ("ours", &ours)] {
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line.len(), LINE_TOKENS, "{who} line {i} length");
            assert!(flags.contains(&line[0]), "{who} line {i} flag {}", line[0]);
            assert!(
                line[1..]
                    .iter()
                    .all(|&t| t < spec.vocab_size() && !flags.contains(&t)),
                "{who} line {i}"
            );
            packing::check_line(&spec, line, PackConfig::amt().max_instruments)
                .unwrap_or_else(|e| panic!("{who} line {i}: {e}"));
        }
    }
    // The RNG-independent counts are exact. Line and REST counts depend on which events became
    // controls (padding fills the gaps they leave), so they only agree closely.
    let lines_ratio = stats[0] as f64 / expected[0] as f64;
    assert!(
        (0.95..1.05).contains(&lines_ratio),
        "lines {} vs {}",
        stats[0],
        expected[0]
    );
    assert_eq!(&stats[2..5], &expected[2..5], "file filter");
    assert_eq!(stats[6], expected[6], "truncations");
    let ratio = stats[1] as f64 / expected[1] as f64;
    assert!(
        (0.8..1.25).contains(&ratio),
        "rest count {} vs {}",
        stats[1],
        expected[1]
    );
    // Every augmentation-0 line is autoregressive with the reference's content.
    let ar_ours = ours.iter().filter(|l| l[0] == spec.autoregress()).count();
    let ar_ref = reference
        .iter()
        .filter(|l| l[0] == spec.autoregress())
        .count();
    assert!(
        ar_ours.abs_diff(ar_ref) <= 3,
        "AR lines {ar_ours} vs {ar_ref}"
    );
}
