//! The ONNX engine against PyTorch: the fixture models' `expected.json` holds logits computed by
//! `transformers` when the fixtures were made (tests/fixtures/README.md). The engine must match
//! them within 1e-4 with and without the KV cache and across a window slide (a fresh prefill of
//! a later window, then one cached step), and must refuse broken models with clear errors.

use antiphon_engine::model::{LanguageModel, ModelError, ModelSource};
use antiphon_engine::onnx::{OnnxModel, SessionOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir(name).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Compares one logits row with a record of expected.json (the README's rule, tie-tolerant).
fn check_record(row: &[f32], record: &Value, probe_ids: &[u32], tol: f64, what: &str) {
    let top_ids = ids(&record["top_ids"]);
    let top_values = floats(&record["top_values"]);
    for (id, want) in top_ids.iter().zip(&top_values) {
        let got = row[*id as usize] as f64;
        assert!(
            (got - want).abs() <= tol,
            "{what}: logit[{id}] = {got}, want {want}"
        );
    }
    let floor = top_values.last().unwrap() + tol;
    for (id, &x) in row.iter().enumerate() {
        if !top_ids.contains(&(id as u32)) {
            assert!(
                (x as f64) <= floor,
                "{what}: id {id} ({x}) beats the expected top 8"
            );
        }
    }
    for (id, want) in probe_ids.iter().zip(floats(&record["probe_values"])) {
        let got = row[*id as usize] as f64;
        assert!(
            (got - want).abs() <= tol,
            "{what}: probe {id} = {got}, want {want}"
        );
    }
    let max = row.iter().fold(f64::MIN, |m, &x| m.max(x as f64));
    let lse = max
        + row
            .iter()
            .map(|&x| (x as f64 - max).exp())
            .sum::<f64>()
            .ln();
    let mean = row.iter().map(|&x| x as f64).sum::<f64>() / row.len() as f64;
    let want_lse = record["logsumexp"].as_f64().unwrap();
    let want_mean = record["mean"].as_f64().unwrap();
    assert!(
        (lse - want_lse).abs() <= tol,
        "{what}: logsumexp {lse} vs {want_lse}"
    );
    assert!(
        (mean - want_mean).abs() <= tol,
        "{what}: mean {mean} vs {want_mean}"
    );
}

fn matches_pytorch(name: &str) {
    let exp = expected(name);
    let tol = exp["tolerance"].as_f64().unwrap();
    let tokens = ids(&exp["token_ids"]);
    let probes = ids(&exp["probe_ids"]);
    let mut model = OnnxModel::load(
        &ModelSource::Folder(fixture_dir(name)),
        SessionOptions::default(),
    )
    .unwrap_or_else(|e| panic!("load {name}: {e}"));
    let vocab = model.vocab_size();

    // (a) One pass without a cache.
    let prefix_len = exp["prefix"]["length"].as_u64().unwrap() as usize;
    let rows = model.feed_all_rows(&tokens[..prefix_len]).unwrap();
    for (pos, record) in exp["prefix"]["positions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(exp["prefix"]["rows"].as_array().unwrap())
    {
        let p = pos.as_u64().unwrap() as usize;
        check_record(
            &rows[p * vocab..(p + 1) * vocab],
            record,
            &probes,
            tol,
            &format!("{name} prefix row {p}"),
        );
    }
    let last_full = floats(&exp["prefix"]["last_full"]);
    let last = &rows[(prefix_len - 1) * vocab..prefix_len * vocab];
    let worst = last
        .iter()
        .zip(&last_full)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= tol, "{name}: full last row differs by {worst}");

    // (b) Token by token with the KV cache.
    let start = exp["decode"]["start"].as_u64().unwrap() as usize;
    assert_eq!(model.cached_len(), start);
    for (k, record) in exp["decode"]["rows"].as_array().unwrap().iter().enumerate() {
        let row = model.feed(&[tokens[start + k]]).unwrap().to_vec();
        check_record(
            &row,
            record,
            &probes,
            tol,
            &format!("{name} decode step {k}"),
        );
    }

    // (b') Cut back to the prefix and refilled in one run: the same last row as token by token.
    let decoded = exp["decode"]["rows"].as_array().unwrap();
    model.truncate(start);
    assert_eq!(model.cached(), &tokens[..start]);
    let row = model
        .feed(&tokens[start..start + decoded.len()])
        .unwrap()
        .to_vec();
    check_record(
        &row,
        decoded.last().unwrap(),
        &probes,
        tol,
        &format!("{name} refill after truncate"),
    );

    // (c) A window slide: the cache is rebuilt by a fresh prefill of the kept window.
    model.reset();
    let window = ids(&exp["slide"]["window_ids"]);
    let row = model.feed(&window).unwrap().to_vec();
    check_record(
        &row,
        &exp["slide"]["prefill_last"],
        &probes,
        tol,
        &format!("{name} slide prefill"),
    );
    let next = exp["slide"]["next_id"].as_u64().unwrap() as u32;
    let row = model.feed(&[next]).unwrap().to_vec();
    check_record(
        &row,
        &exp["slide"]["step"],
        &probes,
        tol,
        &format!("{name} slide step"),
    );
    assert_eq!(model.cached_len(), window.len() + 1);
}

#[test]
fn amt_fixture_matches_pytorch_with_and_without_the_cache() {
    matches_pytorch("tiny-amt");
}

#[test]
fn beats_fixture_matches_pytorch_with_and_without_the_cache() {
    matches_pytorch("tiny-beats");
}

/// The engine computes the melody-now features from the tokens it feeds (a fixture whose
/// features move its logits by about 10: an engine that did not feed them fails).
#[test]
fn melody_now_fixture_matches_pytorch_with_and_without_the_cache() {
    matches_pytorch("tiny-melody");
}

/// ... and the melody's key, 24 more columns (ignoring them would move its logits by about 12).
#[test]
fn melody_key_fixture_matches_pytorch_with_and_without_the_cache() {
    matches_pytorch("tiny-key");
}

#[test]
fn a_full_context_is_an_error_not_a_panic() {
    let mut model = OnnxModel::load(
        &ModelSource::Folder(fixture_dir("tiny-beats")),
        SessionOptions::default(),
    )
    .unwrap();
    let context = model.context_length();
    let err = model.feed(&vec![0u32; context + 1]).unwrap_err();
    assert!(matches!(err, ModelError::ContextFull { .. }), "{err}");
    let err = model.feed(&[u32::MAX]).unwrap_err();
    assert!(matches!(err, ModelError::TokenOutOfRange { .. }), "{err}");
}

/// A copy of a fixture folder in which `edit` changes files.
fn broken_copy(name: &str, tag: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("antiphon-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["model.onnx", "model.json"] {
        std::fs::copy(fixture_dir(name).join(file), dir.join(file)).unwrap();
    }
    edit(&dir);
    dir
}

#[test]
fn a_corrupt_onnx_file_is_reported() {
    let dir = broken_copy("tiny-beats", "corrupt", |d| {
        std::fs::write(
            d.join("model.onnx"),
            b"\x08\x07garbage that is not a protobuf",
        )
        .unwrap()
    });
    let err = OnnxModel::load(&ModelSource::Folder(dir.clone()), SessionOptions::default())
        .err()
        .expect("must fail");
    assert!(matches!(err, ModelError::Ort(_)), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The error of loading a copy of a fixture whose `model.json` `edit` changed (it must fail).
fn load_error_with_spec(name: &str, tag: &str, edit: impl FnOnce(&mut Value)) -> String {
    let dir = broken_copy(name, tag, |d| {
        let path = d.join("model.json");
        let mut spec: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut spec);
        std::fs::write(&path, spec.to_string()).unwrap();
    });
    let err = OnnxModel::load(&ModelSource::Folder(dir.clone()), SessionOptions::default())
        .err()
        .expect("must fail");
    std::fs::remove_dir_all(dir).unwrap();
    err.to_string()
}

#[test]
fn a_model_json_that_disagrees_with_the_graph_names_the_mismatch() {
    let text = load_error_with_spec("tiny-beats", "heads", |spec| {
        spec["num_heads"] = 4.into();
    });
    assert!(text.contains("past_key_values.0.key"), "{text}");
}

/// A `model.json` that says the model reads the key, beside a graph whose `melody_now` has
/// twelve columns, is refused when it loads, not when it first runs.
#[test]
fn a_melody_width_that_disagrees_with_the_graph_is_named() {
    let text = load_error_with_spec("tiny-melody", "melody-width", |spec| {
        spec["melody_key"] = true.into();
    });
    assert!(text.contains("melody_now"), "{text}");
}

#[test]
fn a_missing_model_folder_names_the_file() {
    let err = OnnxModel::load(
        &ModelSource::Folder(PathBuf::from("/nonexistent/model")),
        SessionOptions::default(),
    )
    .err()
    .expect("must fail");
    assert!(
        err.to_string().contains("/nonexistent/model/model.json"),
        "{err}"
    );
}
