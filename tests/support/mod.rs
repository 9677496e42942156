//! What the tests that generate through the real ONNX Runtime share: loading a model and
//! writing a melody as the plugin voices one.
#![allow(dead_code)] // Each test binary uses a different part.

use antiphon_engine::default_model::default_model;
use antiphon_engine::model::ModelSource;
use antiphon_engine::onnx::{OnnxModel, SessionOptions};
use antiphon_tokens::{GmInstrument, Note, VocabSpec};

/// A model and its vocabulary; panics with the load error's message.
pub fn load(source: ModelSource) -> (OnnxModel, VocabSpec) {
    // Display, not Debug: a missing ONNX Runtime's message names `cargo xtask ort`.
    let model = OnnxModel::load(&source, SessionOptions::default())
        .unwrap_or_else(|e| panic!("model loads: {e}"));
    let spec = model.spec().vocab.clone();
    (model, spec)
}

/// The built-in model, when this build has one.
pub fn built_in_model() -> Option<(OnnxModel, VocabSpec)> {
    default_model().map(load)
}

/// (onset, duration) in beats and a pitch for each note, played on the oboe (program 68), as
/// the plugin voices a melody for the model.
pub fn oboe(notes: &[(f64, f64, u8)]) -> Vec<Note> {
    notes
        .iter()
        .map(|&(onset_beats, duration_beats, pitch)| Note {
            onset_beats,
            duration_beats,
            pitch,
            instrument: GmInstrument::Program(68),
            velocity: 90,
        })
        .collect()
}
