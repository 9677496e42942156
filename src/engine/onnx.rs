//! Worker thread: the ONNX Runtime implementation of [`LanguageModel`], decoding one token at a
//! time with a KV cache that never moves.
//!
//! Each layer's keys and values live in one buffer of the full context, `[1, heads, context,
//! head_size]`, allocated once by ONNX Runtime and bound through an IOBinding as both
//! `past_key_values.{i}.*` and `present.{i}.*`: the graph's attention kernel appends each new
//! token in place, and `attention_mask`'s length tells it how much is valid. Nothing is copied
//! per token but the token's own logits row.

use super::model::{LanguageModel, ModelError, ModelSource, ModelSpec};
use super::runtime::runtime;
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{IoBinding, Session};
use ort::value::Tensor;

/// Longest slice of tokens run through the graph in one call. Prefill runs in chunks so the
/// logits output stays small for large vocabularies (a 1024-token pass over the 55028-id AMT
/// vocabulary would otherwise return 225 MB of logits).
const MAX_CHUNK_TOKENS: usize = 128;

/// Which ONNX Runtime execution provider runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    /// The CPU provider.
    Cpu,
    /// NVIDIA CUDA.
    Cuda,
}

impl std::fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExecutionProvider::Cpu => "CPU",
            ExecutionProvider::Cuda => "CUDA",
        })
    }
}

/// How to run a model.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// Threads one operator may use (the plugin uses 1–2 beside the DAW).
    pub intra_op_threads: usize,
    /// Try CUDA first (only in builds with the `cuda` feature).
    pub prefer_cuda: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            intra_op_threads: 1,
            prefer_cuda: true,
        }
    }
}

/// A model running in ONNX Runtime.
pub struct OnnxModel {
    spec: ModelSpec,
    session: Session,
    binding: IoBinding,
    /// Per layer (key, value), each `[1, heads, context, head_size]`, bound as past and present.
    /// Invariant: the first `cached.len()` positions hold the keys and values of `cached`.
    _cache: Vec<(Tensor<f32>, Tensor<f32>)>,
    /// The tokens in the cache.
    cached: Vec<u32>,
    /// The last logits row returned.
    logits: Vec<f32>,
    provider: ExecutionProvider,
    cpu_memory: MemoryInfo<'static>,
}

impl OnnxModel {
    /// Loads a model, checks its graph against `model.json`, and prepares its cache.
    pub fn load(source: &ModelSource, options: SessionOptions) -> Result<Self, ModelError> {
        let spec = source.read_spec()?;
        let runtime = runtime()?;
        let (session, provider) = build_session(&runtime.environment, source, options)?;
        check_graph(&session, &spec)?;

        let context_length = spec.context_length;
        let shape = [1, spec.num_heads, context_length, spec.head_size];
        let mut cache = Vec::with_capacity(spec.num_layers);
        let mut binding = session.create_binding()?;
        for layer in 0..spec.num_layers {
            let mut key = Tensor::<f32>::new(session.allocator(), shape)?;
            let mut value = Tensor::<f32>::new(session.allocator(), shape)?;
            binding.bind_input(format!("past_key_values.{layer}.key"), &key)?;
            binding.bind_input(format!("past_key_values.{layer}.value"), &value)?;
            binding.bind_output(format!("present.{layer}.key"), &mut key)?;
            binding.bind_output(format!("present.{layer}.value"), &mut value)?;
            cache.push((key, value));
        }
        let cpu_memory = MemoryInfo::new(
            AllocationDevice::CPU,
            0,
            AllocatorType::Device,
            MemoryType::Default,
        )?;
        Ok(Self {
            logits: vec![0.0; spec.vocab_size],
            spec,
            session,
            binding,
            _cache: cache,
            cached: Vec::with_capacity(context_length),
            provider,
            cpu_memory,
        })
    }

    /// The model's `model.json`.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The execution provider in use.
    pub fn provider(&self) -> ExecutionProvider {
        self.provider
    }

    /// Runs `tokens` (at most [`MAX_CHUNK_TOKENS`]) and hands every logits row to `rows`.
    fn run_chunk(
        &mut self,
        tokens: &[u32],
        rows: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<(), ModelError> {
        let n = tokens.len();
        let past = self.cached.len();
        let total = past + n;
        let ids: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
        let positions: Vec<i64> = (past as i64..total as i64).collect();
        self.binding
            .bind_input("input_ids", &Tensor::from_array(([1usize, n], ids))?)?;
        self.binding.bind_input(
            "attention_mask",
            &Tensor::from_array(([1usize, total], vec![1i64; total]))?,
        )?;
        self.binding.bind_input(
            "position_ids",
            &Tensor::from_array(([1usize, n], positions))?,
        )?;
        self.binding
            .bind_output_to_device("logits", &self.cpu_memory)?;
        let outputs = self.session.run_binding(&self.binding)?;
        let (shape, data) = outputs["logits"].try_extract_tensor::<f32>()?;
        let vocab = self.spec.vocab_size;
        if shape.len() != 3 || shape[2] as usize != vocab || data.len() < vocab {
            return Err(ModelError::Mismatch {
                what: "logits shape".into(),
                expected: format!("[1, {n}, {vocab}]"),
                found: format!("{:?}", &**shape),
            });
        }
        let returned_rows = data.len() / vocab;
        for (i, row) in data.chunks_exact(vocab).enumerate() {
            rows(n - returned_rows + i, row);
        }
        self.cached.extend_from_slice(tokens);
        Ok(())
    }

    /// Consumes `tokens` and returns the logits of every one of them (`tokens.len()` rows of
    /// `vocab_size`), for tests and evaluation.
    pub fn feed_all_rows(&mut self, tokens: &[u32]) -> Result<Vec<f32>, ModelError> {
        self.check_room(tokens)?;
        let vocab = self.spec.vocab_size;
        let mut out = vec![0.0; tokens.len() * vocab];
        let mut start = 0;
        for chunk in tokens.chunks(MAX_CHUNK_TOKENS) {
            let base = start;
            self.run_chunk(chunk, &mut |i, row| {
                out[(base + i) * vocab..(base + i + 1) * vocab].copy_from_slice(row)
            })?;
            start += chunk.len();
        }
        Ok(out)
    }

    fn check_room(&self, tokens: &[u32]) -> Result<(), ModelError> {
        if self.cached.len() + tokens.len() > self.spec.context_length {
            return Err(ModelError::ContextFull {
                context: self.spec.context_length,
                cached: self.cached.len(),
                adding: tokens.len(),
            });
        }
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= self.spec.vocab_size) {
            return Err(ModelError::TokenOutOfRange {
                id,
                vocab_size: self.spec.vocab_size,
            });
        }
        Ok(())
    }
}

impl LanguageModel for OnnxModel {
    fn vocab_size(&self) -> usize {
        self.spec.vocab_size
    }

    fn context_length(&self) -> usize {
        self.spec.context_length
    }

    fn cached(&self) -> &[u32] {
        &self.cached
    }

    fn truncate(&mut self, len: usize) {
        // The buffers keep stale values past the cached tokens; the attention mask hides them
        // and the next tokens overwrite them.
        self.cached.truncate(len);
    }

    fn feed(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
        self.check_room(tokens)?;
        let mut logits = std::mem::take(&mut self.logits);
        let mut result = Ok(());
        for chunk in tokens.chunks(MAX_CHUNK_TOKENS) {
            let last = chunk.len() - 1;
            result = self.run_chunk(chunk, &mut |i, row| {
                if i == last {
                    logits.copy_from_slice(row);
                }
            });
            if result.is_err() {
                break;
            }
        }
        self.logits = logits;
        result.map(|()| self.logits.as_slice())
    }
}

fn build_session(
    environment: &ort::environment::Environment,
    source: &ModelSource,
    options: SessionOptions,
) -> Result<(Session, ExecutionProvider), ModelError> {
    let ort_err =
        |e: ort::Error<ort::session::builder::SessionBuilder>| ModelError::Ort(e.to_string());
    let builder = || -> Result<ort::session::builder::SessionBuilder, ModelError> {
        Session::builder(environment)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(ort_err)?
            .with_intra_threads(options.intra_op_threads.max(1))
            .map_err(ort_err)?
            .with_inter_threads(1)
            .map_err(ort_err)?
            // Spinning threads would burn a core next to the DAW between tokens.
            .with_intra_op_spinning(false)
            .map_err(ort_err)
    };
    let commit = |mut b: ort::session::builder::SessionBuilder| -> Result<Session, ModelError> {
        Ok(match source {
            ModelSource::Folder(dir) => b.commit_from_file(dir.join("model.onnx"))?,
            ModelSource::Bytes { onnx, .. } => b.commit_from_memory(onnx)?,
        })
    };

    #[cfg(feature = "cuda")]
    if options.prefer_cuda {
        let cuda = builder()?
            .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()]);
        if let Ok(b) = cuda {
            if let Ok(session) = commit(b) {
                return Ok((session, ExecutionProvider::Cuda));
            }
        }
    }
    #[cfg(not(feature = "cuda"))]
    let _ = options.prefer_cuda;
    Ok((commit(builder()?)?, ExecutionProvider::Cpu))
}

/// Checks the graph's inputs and outputs against `model.json`: names, order, element types and
/// the fixed dimensions.
fn check_graph(session: &Session, spec: &ModelSpec) -> Result<(), ModelError> {
    let names = |outlets: &[ort::value::Outlet]| -> Vec<String> {
        outlets.iter().map(|o| o.name().to_string()).collect()
    };
    let inputs = names(session.inputs());
    if inputs != spec.inputs {
        return Err(ModelError::Mismatch {
            what: "input names".into(),
            expected: format!("{:?}", spec.inputs),
            found: format!("{inputs:?}"),
        });
    }
    let outputs = names(session.outputs());
    if outputs != spec.outputs {
        return Err(ModelError::Mismatch {
            what: "output names".into(),
            expected: format!("{:?}", spec.outputs),
            found: format!("{outputs:?}"),
        });
    }
    let dims = |outlet: &ort::value::Outlet| -> Vec<i64> {
        outlet
            .dtype()
            .tensor_shape()
            .map(|s| s.to_vec())
            .unwrap_or_default()
    };
    for outlet in session.inputs().iter().chain(session.outputs()) {
        let name = outlet.name();
        let found = dims(outlet);
        let expected: Option<[Option<i64>; 4]> = if name.contains("key") || name.contains("value") {
            Some([
                None,
                Some(spec.num_heads as i64),
                None,
                Some(spec.head_size as i64),
            ])
        } else if name == "logits" {
            Some([None, None, Some(spec.vocab_size as i64), None])
        } else {
            None
        };
        if let Some(expected) = expected {
            let rank = if name == "logits" { 3 } else { 4 };
            let ok = found.len() == rank
                && expected[..rank]
                    .iter()
                    .zip(&found)
                    .all(|(e, f)| e.is_none_or(|e| e == *f));
            if !ok {
                return Err(ModelError::Mismatch {
                    what: format!("shape of {name}"),
                    expected: format!("{:?} (None = any)", &expected[..rank]),
                    found: format!("{found:?}"),
                });
            }
        }
        let element = outlet.dtype().tensor_type();
        let want = if name.contains("key") || name.contains("value") || name == "logits" {
            ort::value::TensorElementType::Float32
        } else {
            ort::value::TensorElementType::Int64
        };
        if element != Some(want) {
            return Err(ModelError::Mismatch {
                what: format!("element type of {name}"),
                expected: format!("{want:?}"),
                found: format!("{element:?}"),
            });
        }
    }
    Ok(())
}
