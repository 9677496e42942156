//! The sampling driver against the reference (`conformance/sampling/S*.json`): the fake model of
//! the fixtures' README with greedy choice must reproduce every scenario's model inputs (length
//! and hash of each one), targets, choices, final token sequence and output events.
//!
//! Every scenario in `$AMT_CONFORMANCE_DIR/sampling` is run, so new ones need no code. The mask
//! and nucleus cases of `units.json` are checked here too.

mod amt;

use amt::{conformance_dir, ids, load_json, sha256_hex};
use antiphon_engine::fake::FakeModel;
use antiphon_engine::generate::{generate, generate_ar, Request, WindowPolicy};
use antiphon_engine::sampling::{
    mask_by_type, mask_instruments, mask_past_onsets, nucleus, Chooser, Grammar, SamplingParams,
};
use antiphon_tokens::{events::raw_to_triples, ops, Triple, VocabSpec};
use serde_json::Value;

fn triples(v: &Value) -> Vec<Triple> {
    if v.is_null() {
        return Vec::new();
    }
    raw_to_triples(&ids(v)).expect("whole triples")
}

fn flat(t: &[Triple]) -> Vec<u32> {
    t.iter().flat_map(|t| t.ids().map(|id| id.0)).collect()
}

/// The reference's `int(TIME_RESOLUTION * seconds)`.
fn ticks(v: &Value) -> i64 {
    (100.0 * v.as_f64().unwrap()).trunc() as i64
}

#[test]
fn every_sampling_scenario_is_reproduced_token_for_token() {
    let dir = conformance_dir().join("sampling");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scenarios in {}", dir.display());

    let spec = VocabSpec::amt();
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let case = load_json(path);
        let params = &case["params"];
        let request = Request {
            start_ticks: ticks(&params["start_time"]),
            end_ticks: ticks(&params["end_time"]),
            inputs: triples(&case["inputs"]),
            controls: triples(&case["controls"]),
            drop_controls_before_ticks: 5,
            delta_ticks: 500,
            sampling: SamplingParams {
                temperature: 1.0,
                top_p: params["top_p"].as_f64().unwrap() as f32,
            },
            grammar: Grammar::reference(),
            window: WindowPolicy::Reference,
            max_new_triples: 100_000,
            key_from_whole_melody: false,
        };
        let mut model = FakeModel::amt();
        let run = match case["function"].as_str().unwrap() {
            "generate" => generate,
            "generate_ar" => generate_ar,
            other => panic!("{name}: unknown function {other}"),
        };
        let out = run(&mut model, &spec, &request, &mut Chooser::Greedy)
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_eq!(
            model.calls[0].input,
            ids(&case["first_model_input"]),
            "{name}: first model input"
        );
        let trace = case["trace"].as_array().unwrap();
        assert_eq!(model.calls.len(), trace.len(), "{name}: model calls");
        assert_eq!(
            model.calls.len(),
            case["n_model_calls"].as_u64().unwrap() as usize
        );
        for (i, ((call, choice), expected)) in
            model.calls.iter().zip(&out.choices).zip(trace).enumerate()
        {
            let text: Vec<String> = call.input.iter().map(u32::to_string).collect();
            let hash = &sha256_hex(text.join(" ").as_bytes())[..16];
            let got = (
                call.input_len as u64,
                hash,
                call.target as u64,
                *choice as u64,
            );
            let want = (
                expected[0].as_u64().unwrap(),
                expected[1].as_str().unwrap(),
                expected[2].as_u64().unwrap(),
                expected[3].as_u64().unwrap(),
            );
            assert_eq!(got, want, "{name}: model call {i}");
        }
        assert_eq!(
            flat(&out.tokens),
            ids(&case["final_token_sequence"]),
            "{name}: final token sequence"
        );
        assert_eq!(
            flat(&out.events),
            ids(&case["output_events"]),
            "{name}: output events"
        );
    }
}

/// Half-open ranges of ids a mask left finite.
fn allowed(logits: &[f32]) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = Vec::new();
    for (i, x) in logits.iter().enumerate() {
        if x.is_finite() {
            match out.last_mut() {
                Some(r) if r[1] == i as u64 => r[1] += 1,
                _ => out.push(vec![i as u64, i as u64 + 1]),
            }
        }
    }
    out
}

fn ranges(v: &Value) -> Vec<Vec<u64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn masks_and_nucleus_match_units_json() {
    let units = load_json(&conformance_dir().join("units.json"));
    let spec = VocabSpec::amt();
    let n = spec.vocab_size() as usize;

    for (idx, expected) in units["safe_logits_allowed_ranges"].as_object().unwrap() {
        let mut logits = vec![0.0f32; n];
        let position = idx.parse::<usize>().unwrap() % 3;
        mask_by_type(&mut logits, &spec, position, &Grammar::reference());
        assert_eq!(allowed(&logits), ranges(expected), "safe_logits at {idx}");
    }
    for (curtime, expected) in units["future_logits_allowed_ranges"].as_object().unwrap() {
        let mut logits = vec![0.0f32; n];
        mask_past_onsets(&mut logits, &spec, curtime.parse().unwrap());
        assert_eq!(
            allowed(&logits),
            ranges(expected),
            "future_logits at {curtime}"
        );
    }
    for (case, value) in units["instr_logits"].as_object().unwrap() {
        let history = raw_to_triples(&ids(&value["history"])).unwrap();
        let present: Vec<u32> = ops::get_instruments(&spec, &history)
            .into_iter()
            .map(|(code, _)| code)
            .collect();
        let mut logits = vec![0.0f32; n];
        mask_instruments(&mut logits, &spec, &present, &Grammar::reference());
        assert_eq!(
            allowed(&logits),
            ranges(&value["allowed_ranges"]),
            "instr_logits {case}"
        );
    }
    let nucleus_cases = units["nucleus"].as_object().unwrap();
    let base: Vec<f32> = (0..n as u64)
        .map(|v| -(((v * 7919) % n as u64) as f32) / 50.0)
        .collect();
    for (top_p, expected) in nucleus_cases {
        let Ok(p) = top_p.parse::<f32>() else {
            continue; // the formula's description
        };
        let mut logits = base.clone();
        nucleus(&mut logits, p, &mut Vec::new());
        let kept: Vec<u64> = (0..n as u64)
            .filter(|&i| logits[i as usize].is_finite())
            .collect();
        assert_eq!(
            kept.len() as u64,
            expected["kept_count"].as_u64().unwrap(),
            "nucleus {top_p}"
        );
        if let Some(sorted) = expected["kept_sorted"].as_array() {
            let want: Vec<u64> = sorted.iter().map(|x| x.as_u64().unwrap()).collect();
            assert_eq!(kept, want, "nucleus {top_p}");
        }
    }
}
