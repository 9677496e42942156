//! Worker thread: what a language model is to the engine, and the `model.json` that describes
//! one (DESIGN §5).
//!
//! A model folder holds `model.onnx` (a GPT-2-style decoder with its KV cache in the Hugging
//! Face / optimum naming) and `model.json` (vocabulary, sizes, provenance, evaluation).

use antiphon_tokens::VocabSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A causal language model with a cache of the tokens it has consumed.
///
/// Invariant: [`cached`](Self::cached) is every token fed since the last
/// [`reset`](Self::reset), less those cut off by [`truncate`](Self::truncate), and is never
/// longer than [`context_length`](Self::context_length). Knowing what the cache holds lets
/// the next generation run reuse its longest common prefix instead of prefilling anew.
pub trait LanguageModel {
    /// Number of token ids (the width of a logits row).
    fn vocab_size(&self) -> usize;
    /// Most tokens the cache can hold.
    fn context_length(&self) -> usize;
    /// The tokens the cache holds, in order.
    fn cached(&self) -> &[u32];
    /// How many tokens the cache holds.
    fn cached_len(&self) -> usize {
        self.cached().len()
    }
    /// Forgets every cached token after the first `len`.
    fn truncate(&mut self, len: usize);
    /// Forgets every consumed token.
    fn reset(&mut self) {
        self.truncate(0);
    }
    /// Consumes `tokens` after those already cached, at the next positions, and returns the
    /// logits for the token that follows them (one row of `vocab_size`).
    fn feed(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError>;
    /// Tells a model that reads the melody's key of the melody notes known but not yet fed
    /// ([`crate::melody_now::MelodyNow::set_ahead`]); zeros for none. Other models ignore it.
    fn set_melody_ahead(&mut self, _ahead: crate::melody_now::PitchClassWeights) {}
    /// Whether the model wants the key of the whole melody whatever the request says (its
    /// card's `key_from_whole_melody`); a wrapper must forward it.
    fn key_from_whole_melody(&self) -> bool {
        false
    }
}

/// Why a model could not be loaded or run. Each message names the mismatch or the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read.
    #[error("could not read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// `model.json` is not valid.
    #[error("{path} is not a valid model.json: {reason}")]
    BadSpec {
        /// The file (or "embedded model.json").
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The ONNX graph does not match `model.json` or the expected layout.
    #[error("model.onnx does not match model.json: {what}: expected {expected}, found {found}")]
    Mismatch {
        /// Which property.
        what: String,
        /// What model.json (or DESIGN §5) says.
        expected: String,
        /// What the graph has.
        found: String,
    },
    /// ONNX Runtime is not available.
    #[error(transparent)]
    Runtime(#[from] super::runtime::RuntimeError),
    /// ONNX Runtime refused the model or failed to run it.
    #[error("ONNX Runtime: {0}")]
    Ort(String),
    /// More tokens than the context holds.
    #[error(
        "the context holds {context} tokens; feeding {adding} more after {cached} does not fit"
    )]
    ContextFull {
        /// Context length.
        context: usize,
        /// Tokens already cached.
        cached: usize,
        /// Tokens being added.
        adding: usize,
    },
    /// A token id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab_size}")]
    TokenOutOfRange {
        /// The id.
        id: u32,
        /// Vocabulary size.
        vocab_size: usize,
    },
}

impl From<ort::Error> for ModelError {
    fn from(e: ort::Error) -> Self {
        ModelError::Ort(e.to_string())
    }
}

/// `model.json`: everything the engine needs to know about a model, and its card's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Short name, e.g. `antiphon-small`.
    pub name: String,
    /// Version of this file's layout; 1.
    pub format_version: u32,
    /// The vocabulary layout, checked as it is read.
    pub vocab: VocabSpec,
    /// Number of token ids.
    pub vocab_size: usize,
    /// Positions the model was trained with (the KV cache size).
    pub context_length: usize,
    /// Transformer blocks.
    pub num_layers: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Width of one head.
    pub head_size: usize,
    /// Embedding width.
    pub hidden_size: usize,
    /// Weight type: `float32`, or `float16` (an export for CUDA, float32 at its inputs and outputs).
    pub dtype: String,
    /// How the matrices are stored when not as `dtype`, e.g. `int8, blocks of 32
    /// (com.microsoft.MatMulNBits)`; ONNX Runtime dequantizes them, the engine does nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_quantization: Option<String>,
    /// Whether block i divides attention scores by i + 1 (AMT checkpoints do).
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    /// Whether the `melody_now` input also carries the melody's key (24 more columns,
    /// [`crate::melody_now`]); only models trained with `--melody-key`.
    #[serde(default)]
    pub melody_key: bool,
    /// Whether the model wants the key of the whole melody known (placed or still pending), not
    /// of the notes placed so far: a model trained with the key of its line's accompaniment as
    /// a control, one key for the whole line (`train.py --key-source accompaniment`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_from_whole_melody: bool,
    /// Graph input names, in order.
    pub inputs: Vec<String>,
    /// Graph output names, in order.
    pub outputs: Vec<String>,
    /// What the model was trained on.
    #[serde(default)]
    pub training_data: String,
    /// The model's licence.
    #[serde(default)]
    pub licence: String,
    /// Headline evaluation figures of the model card.
    #[serde(default)]
    pub evaluation: serde_json::Value,
}

impl ModelSpec {
    /// Parses and checks a `model.json`; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &Path) -> Result<Self, ModelError> {
        let bad = |reason: String| ModelError::BadSpec {
            path: origin.to_path_buf(),
            reason,
        };
        let spec: ModelSpec = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if spec.format_version != 1 {
            return Err(bad(format!(
                "format_version {} is not supported (expected 1)",
                spec.format_version
            )));
        }
        let vocab_size_in_vocab = spec.vocab.vocab_size() as usize;
        if vocab_size_in_vocab != spec.vocab_size {
            return Err(bad(format!(
                "vocab.vocab_size ({vocab_size_in_vocab}) differs from vocab_size ({})",
                spec.vocab_size
            )));
        }
        for (field, value) in [
            ("vocab_size", spec.vocab_size),
            ("context_length", spec.context_length),
            ("num_layers", spec.num_layers),
            ("num_heads", spec.num_heads),
            ("head_size", spec.head_size),
        ] {
            if value == 0 {
                return Err(bad(format!("{field} must be positive")));
            }
        }
        // The weights' type; the graph's inputs and outputs are float32 either way (a float16
        // export for CUDA casts at its boundary), which the session's graph check confirms.
        if !matches!(spec.dtype.as_str(), "float32" | "float16") {
            return Err(bad(format!(
                "dtype {} is not supported (float32 and float16 are)",
                spec.dtype
            )));
        }
        let expected_inputs = Self::expected_inputs(spec.num_layers, spec.has_melody_now());
        if spec.inputs != expected_inputs {
            return Err(bad(format!(
                "inputs must be {expected_inputs:?}, found {:?}",
                spec.inputs
            )));
        }
        if spec.melody_key && !spec.has_melody_now() {
            return Err(bad("melody_key needs the melody_now input".into()));
        }
        if spec.key_from_whole_melody && !spec.melody_key {
            return Err(bad("key_from_whole_melody needs melody_key".into()));
        }
        let expected_outputs = Self::expected_outputs(spec.num_layers);
        if spec.outputs != expected_outputs {
            return Err(bad(format!(
                "outputs must be {expected_outputs:?}, found {:?}",
                spec.outputs
            )));
        }
        Ok(spec)
    }

    /// Whether the model reads the melody sounding now ([`crate::melody_now`]) beside its ids.
    pub fn has_melody_now(&self) -> bool {
        self.inputs
            .iter()
            .any(|n| n == crate::melody_now::INPUT_NAME)
    }

    /// Numbers per position of the `melody_now` input: the twelve pitch classes sounding now,
    /// and the 24 keys when the model reads the melody's key.
    pub fn melody_width(&self) -> usize {
        crate::melody_now::width(self.melody_key)
    }

    /// Input names of a decoder with `num_layers` blocks (DESIGN §5), with or without the
    /// melody sounding now.
    pub fn expected_inputs(num_layers: usize, melody_now: bool) -> Vec<String> {
        let mut names = vec![
            "input_ids".to_string(),
            "attention_mask".to_string(),
            "position_ids".to_string(),
        ];
        if melody_now {
            names.push(crate::melody_now::INPUT_NAME.to_string());
        }
        for i in 0..num_layers {
            names.push(format!("past_key_values.{i}.key"));
            names.push(format!("past_key_values.{i}.value"));
        }
        names
    }

    /// Output names of a decoder with `num_layers` blocks (DESIGN §5).
    pub fn expected_outputs(num_layers: usize) -> Vec<String> {
        let mut names = vec!["logits".to_string()];
        for i in 0..num_layers {
            names.push(format!("present.{i}.key"));
            names.push(format!("present.{i}.value"));
        }
        names
    }
}

/// Where a model comes from: a folder on disk, or bytes compiled into the binary.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A folder with `model.onnx` and `model.json`.
    Folder(PathBuf),
    /// The two files' contents.
    Bytes {
        /// Name shown to the user.
        label: String,
        /// `model.onnx`.
        onnx: &'static [u8],
        /// `model.json`.
        json: &'static str,
    },
}

impl ModelSource {
    /// Reads and checks `model.json`, and returns it with the ONNX bytes or path.
    pub fn read_spec(&self) -> Result<ModelSpec, ModelError> {
        match self {
            ModelSource::Folder(dir) => {
                let path = dir.join("model.json");
                let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
                    path: path.clone(),
                    source,
                })?;
                ModelSpec::from_json(&text, &path)
            }
            ModelSource::Bytes { label, json, .. } => {
                ModelSpec::from_json(json, Path::new(&format!("{label} (embedded model.json)")))
            }
        }
    }

    /// What to call this model in messages.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Folder(dir) => dir.display().to_string(),
            ModelSource::Bytes { label, .. } => format!("{label} (built in)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model.json over the AMT vocabulary with `layers` blocks.
    fn spec_json(layers: usize) -> String {
        let vocab = VocabSpec::amt();
        serde_json::json!({
            "name": "t", "format_version": 1,
            "vocab": vocab,
            "vocab_size": vocab.vocab_size(), "context_length": 1024,
            "num_layers": layers, "num_heads": 2, "head_size": 8, "hidden_size": 16,
            "dtype": "float32",
            "inputs": ModelSpec::expected_inputs(layers, false),
            "outputs": ModelSpec::expected_outputs(layers),
        })
        .to_string()
    }

    #[test]
    fn reads_a_valid_spec() {
        let spec = ModelSpec::from_json(&spec_json(2), Path::new("m.json")).unwrap();
        assert_eq!(spec.vocab, VocabSpec::amt());
        assert_eq!(spec.inputs.len(), 7);
        assert_eq!(spec.outputs[4], "present.1.value");
    }

    #[test]
    fn names_the_field_that_disagrees() {
        let mut value: serde_json::Value = serde_json::from_str(&spec_json(2)).unwrap();
        value["vocab_size"] = 99.into();
        let err = ModelSpec::from_json(&value.to_string(), Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("vocab.vocab_size"), "{err}");

        let mut value: serde_json::Value = serde_json::from_str(&spec_json(2)).unwrap();
        value["inputs"][1] = "mask".into();
        let err = ModelSpec::from_json(&value.to_string(), Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("inputs must be"), "{err}");

        let mut value: serde_json::Value = serde_json::from_str(&spec_json(2)).unwrap();
        value["vocab"]["ticks_per_unit"] = 0.into();
        let err = ModelSpec::from_json(&value.to_string(), Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("ticks_per_unit"), "{err}");

        let mut value: serde_json::Value = serde_json::from_str(&spec_json(2)).unwrap();
        value["key_from_whole_melody"] = true.into();
        let err = ModelSpec::from_json(&value.to_string(), Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("needs melody_key"), "{err}");

        let err = ModelSpec::from_json("{", Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("m.json"), "{err}");
    }
}
