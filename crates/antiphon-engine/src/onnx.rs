//! Worker thread: the ONNX Runtime implementation of [`LanguageModel`], decoding one token at a
//! time with a KV cache that never moves.
//!
//! Each layer's keys and values live in one buffer of the full context, `[1, heads, context,
//! head_size]`, allocated once by ONNX Runtime and bound through an IOBinding as both
//! `past_key_values.{i}.*` and `present.{i}.*`: the graph's attention kernel appends each new
//! token in place, and `attention_mask`'s length tells it how much is valid. Nothing is copied
//! per token but the token's own logits row.
//!
//! Where it runs: CUDA first when the build has the `cuda` feature, then the CPU. A CUDA
//! registration that fails is not silent: [`RunsOn`] keeps the reason, and the engine line of
//! the editor and `antiphon info` say "CPU (CUDA unavailable: …)". On CUDA, one profiled run at
//! load counts the nodes ONNX Runtime really placed on each provider, since it may leave nodes
//! without a CUDA kernel on the CPU without a word.

use super::melody_now::{self, MelodyNow};
use super::model::{LanguageModel, ModelError, ModelSource, ModelSpec};
use super::runtime::runtime;
use ort::memory::{AllocationDevice, AllocatorType, MemoryInfo, MemoryType};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{IoBinding, Session};
use ort::value::Tensor;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Count the nodes each provider runs (one profiled token at load) on the CPU too; on CUDA
    /// they are always counted.
    pub check_placement: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            intra_op_threads: 1,
            prefer_cuda: true,
            check_placement: false,
        }
    }
}

/// Which provider ran how many of the graph's nodes, from ONNX Runtime's profile of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// Provider name (`CUDAExecutionProvider`, `CPUExecutionProvider`) → the op types of the
    /// nodes it ran, one entry per node.
    pub nodes: BTreeMap<String, Vec<String>>,
}

impl Placement {
    /// Reads the provider of every node from an ONNX Runtime profile (its JSON trace).
    pub fn from_profile(json: &str) -> Result<Self, String> {
        let events: Vec<serde_json::Value> =
            serde_json::from_str(json).map_err(|e| format!("the profile is not JSON: {e}"))?;
        let mut seen = std::collections::BTreeSet::new();
        let mut placement = Placement::default();
        for event in &events {
            let (Some("Node"), Some(name)) = (
                event.get("cat").and_then(|c| c.as_str()),
                event.get("name").and_then(|n| n.as_str()),
            ) else {
                continue;
            };
            let Some(node) = name.strip_suffix("_kernel_time") else {
                continue;
            };
            let args = &event["args"];
            let provider = args["provider"].as_str().unwrap_or("unknown");
            let op = args["op_name"].as_str().unwrap_or("?");
            if seen.insert(node.to_string()) {
                placement
                    .nodes
                    .entry(provider.to_string())
                    .or_default()
                    .push(op.to_string());
            }
        }
        if seen.is_empty() {
            return Err("the profile names no nodes".into());
        }
        Ok(placement)
    }

    /// Nodes in all.
    pub fn total(&self) -> usize {
        self.nodes.values().map(Vec::len).sum()
    }

    /// Nodes a provider ran.
    pub fn on(&self, provider: &str) -> usize {
        self.nodes.get(provider).map_or(0, Vec::len)
    }

    /// Every provider with its node count: "56 on CPUExecutionProvider", or
    /// "300 on CUDAExecutionProvider, 12 on CPUExecutionProvider".
    pub fn describe_all(&self) -> String {
        let mut counts: Vec<(usize, &str)> = self
            .nodes
            .iter()
            .map(|(p, ops)| (ops.len(), p.as_str()))
            .collect();
        counts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        counts
            .iter()
            .map(|(n, p)| format!("{n} on {p}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "all 56 nodes on CPUExecutionProvider", or "300 of 312 nodes on CUDAExecutionProvider;
    /// CPUExecutionProvider: 12 (Shape ×2, ReduceSum, …)".
    pub fn describe(&self, main: &str) -> String {
        let total = self.total();
        let on_main = self.on(main);
        if on_main == total {
            return format!("all {total} nodes on {main}");
        }
        let mut text = format!("{on_main} of {total} nodes on {main}");
        for (provider, ops) in self.nodes.iter().filter(|(p, _)| p.as_str() != main) {
            let mut counts = BTreeMap::<&str, usize>::new();
            for op in ops {
                *counts.entry(op.as_str()).or_default() += 1;
            }
            let list: Vec<String> = counts
                .iter()
                .map(|(op, n)| {
                    if *n > 1 {
                        format!("{op} ×{n}")
                    } else {
                        op.to_string()
                    }
                })
                .collect();
            text.push_str(&format!(
                "; {provider}: {} ({})",
                ops.len(),
                list.join(", ")
            ));
        }
        text
    }
}

/// Where a model runs, and why not on CUDA when CUDA was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsOn {
    /// The provider the session was made with.
    pub provider: ExecutionProvider,
    /// Why CUDA was asked for and not used (registration or loading failed).
    pub cuda_unavailable: Option<String>,
    /// Nodes per provider, when counted (or why counting failed).
    pub placement: Option<Result<Placement, String>>,
}

impl RunsOn {
    /// ONNX Runtime's name of the provider.
    fn ort_name(&self) -> &'static str {
        match self.provider {
            ExecutionProvider::Cpu => "CPUExecutionProvider",
            ExecutionProvider::Cuda => "CUDAExecutionProvider",
        }
    }

    /// Nodes ONNX Runtime placed on a provider other than the session's own, if counted.
    pub fn nodes_elsewhere(&self) -> Option<usize> {
        let placement = self.placement.as_ref()?.as_ref().ok()?;
        Some(placement.total() - placement.on(self.ort_name()))
    }
}

impl std::fmt::Display for RunsOn {
    /// "CPU", "CPU (CUDA unavailable: …)", "CUDA (all 340 nodes on CUDAExecutionProvider)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.provider)?;
        if let Some(reason) = &self.cuda_unavailable {
            write!(f, " (CUDA unavailable: {reason})")?;
        } else if self.provider == ExecutionProvider::Cuda {
            match &self.placement {
                Some(Ok(p)) => write!(f, " ({})", p.describe(self.ort_name()))?,
                Some(Err(e)) => write!(f, " (node placement not counted: {e})")?,
                None => {}
            }
        }
        Ok(())
    }
}

/// What an ONNX Runtime error says, short enough for the editor's status line: its first line,
/// without ONNX Runtime's source location and status code, a failed library load reduced to
/// the file's name and the loader's reason, at most 200 characters.
#[cfg_attr(not(any(test, feature = "cuda")), allow(dead_code))]
fn short_reason(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("unknown error");
    let mut line = line.trim();
    // "…provider_bridge_ort.cc:2043 … [ONNXRuntimeError] : 1 : FAIL : message"
    if let Some((_, rest)) = line.rsplit_once("[ONNXRuntimeError] : ") {
        line = rest.splitn(3, " : ").nth(2).unwrap_or(rest).trim();
    }
    let line = match line
        .strip_prefix("Failed to load library ")
        .and_then(|rest| rest.split_once(" with error: "))
    {
        Some((path, error)) => {
            let file = path.rsplit('/').next().unwrap_or(path);
            format!("cannot load {file}: {}", error.trim())
        }
        None => line.to_string(),
    };
    if line.chars().count() <= 200 {
        return line;
    }
    let cut: String = line.chars().take(199).collect();
    format!("{cut}…")
}

#[cfg(test)]
thread_local! {
    /// A registration failure the tests inject on this thread (any build, GPU or not).
    static INJECTED_CUDA_FAILURE: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
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
    runs_on: RunsOn,
    cpu_memory: MemoryInfo<'static>,
    /// What computes the `melody_now` input, for a model that has it.
    melody_now: Option<MelodyNow>,
}

impl OnnxModel {
    /// Loads a model, checks its graph against `model.json`, and prepares its cache.
    pub fn load(source: &ModelSource, options: SessionOptions) -> Result<Self, ModelError> {
        let spec = source.read_spec()?;
        let runtime = runtime()?;
        let profile = options.check_placement.then(profile_prefix);
        let (session, runs_on) =
            build_session(&runtime.environment, source, options, profile.as_deref())?;
        check_graph(&session, &spec)?;

        let context_length = spec.context_length;
        let shape = [1, spec.num_heads, context_length, spec.head_size];
        let mut cache = Vec::with_capacity(spec.num_layers);
        let mut binding = session.create_binding()?;
        // On CUDA the cache lives on the GPU, so no run copies it across the bus.
        let device_allocator = (runs_on.provider == ExecutionProvider::Cuda)
            .then(|| {
                let info = MemoryInfo::new(
                    AllocationDevice::CUDA,
                    0,
                    AllocatorType::Device,
                    MemoryType::Default,
                )
                .ok()?;
                ort::memory::Allocator::new(&session, info).ok()
            })
            .flatten();
        let allocator = device_allocator.as_ref().unwrap_or(session.allocator());
        for layer in 0..spec.num_layers {
            let mut key = Tensor::<f32>::new(allocator, shape)?;
            let mut value = Tensor::<f32>::new(allocator, shape)?;
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
        let mut model = Self {
            logits: vec![0.0; spec.vocab_size],
            melody_now: spec
                .has_melody_now()
                .then(|| MelodyNow::new(spec.melody_key)),
            spec,
            session,
            binding,
            _cache: cache,
            cached: Vec::with_capacity(context_length),
            runs_on,
            cpu_memory,
        };
        if profile.is_some() || model.runs_on.provider == ExecutionProvider::Cuda {
            model.count_placement();
        }
        model.warm_up()?;
        Ok(model)
    }

    /// Runs a short prefill and one decode step, then forgets them. ONNX Runtime prepares its
    /// kernels and buffers on a session's first runs of each shape: without this the first
    /// answer after a load waited 42 ms for its first note instead of 4–10 ms.
    fn warm_up(&mut self) -> Result<(), ModelError> {
        const PREFILL: usize = 8;
        let tokens = [0u32; PREFILL + 1];
        self.feed(&tokens[..PREFILL])?;
        self.feed(&tokens[PREFILL..])?;
        self.reset();
        Ok(())
    }

    /// Runs one token with profiling on, reads which provider ran each node, and stops
    /// profiling. A failure here leaves the model usable and says why the count is missing.
    fn count_placement(&mut self) {
        let first = self.feed(&[0]).map(|_| ());
        self.truncate(0);
        let file = self.session.end_profiling();
        let placement = first.map_err(|e| e.to_string()).and_then(|()| {
            let file = file.map_err(|e| e.to_string())?;
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"));
            let _ = std::fs::remove_file(&file);
            Placement::from_profile(&text?)
        });
        self.runs_on.placement = Some(placement);
    }

    /// The model's `model.json`.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The execution provider in use.
    pub fn provider(&self) -> ExecutionProvider {
        self.runs_on.provider
    }

    /// Where the model runs, why not on CUDA if CUDA was asked for, and (when counted) how many
    /// nodes each provider runs.
    pub fn runs_on(&self) -> &RunsOn {
        &self.runs_on
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
        if let Some(computer) = &mut self.melody_now {
            let mut features = Vec::new();
            computer.features(&self.spec.vocab, &self.cached, tokens, &mut features);
            self.binding.bind_input(
                melody_now::INPUT_NAME,
                &Tensor::from_array(([1usize, n, computer.width()], features))?,
            )?;
        }
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

    fn set_melody_ahead(&mut self, ahead: melody_now::PitchClassWeights) {
        if let Some(computer) = &mut self.melody_now {
            computer.set_ahead(ahead);
        }
    }

    fn key_from_whole_melody(&self) -> bool {
        self.spec.key_from_whole_melody
    }
}

/// A fresh profile file prefix in the temporary folder.
fn profile_prefix() -> std::path::PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "antiphon-placement-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn build_session(
    environment: &ort::environment::Environment,
    source: &ModelSource,
    options: SessionOptions,
    profile: Option<&std::path::Path>,
) -> Result<(Session, RunsOn), ModelError> {
    let ort_err =
        |e: ort::Error<ort::session::builder::SessionBuilder>| ModelError::Ort(e.to_string());
    let builder = |profile: Option<&std::path::Path>| -> Result<ort::session::builder::SessionBuilder, ModelError> {
        let b = Session::builder(environment)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(ort_err)?
            .with_intra_threads(options.intra_op_threads.max(1))
            .map_err(ort_err)?
            .with_inter_threads(1)
            .map_err(ort_err)?
            // Spinning threads would burn a core next to the DAW between tokens.
            .with_intra_op_spinning(false)
            .map_err(ort_err)?;
        match profile {
            Some(prefix) => b.with_profiling(prefix).map_err(ort_err),
            None => Ok(b),
        }
    };
    let commit = |mut b: ort::session::builder::SessionBuilder| -> Result<Session, ModelError> {
        Ok(match source {
            ModelSource::Folder(dir) => b.commit_from_file(dir.join("model.onnx"))?,
            ModelSource::Bytes { onnx, .. } => b.commit_from_memory(onnx)?,
        })
    };

    let mut cuda_unavailable = None;
    if options.prefer_cuda {
        // On CUDA the placement is always counted: that is where nodes can silently fall back.
        let profile = profile
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(profile_prefix);
        match try_cuda(|| builder(Some(&profile)), commit) {
            Ok(session) => {
                let runs_on = RunsOn {
                    provider: ExecutionProvider::Cuda,
                    cuda_unavailable: None,
                    placement: None,
                };
                return Ok((session, runs_on));
            }
            Err(Some(reason)) => cuda_unavailable = Some(reason),
            Err(None) => {}
        }
    }
    let runs_on = RunsOn {
        provider: ExecutionProvider::Cpu,
        cuda_unavailable,
        placement: None,
    };
    Ok((commit(builder(profile)?)?, runs_on))
}

/// A session on CUDA, or why not (`None`: this build has no CUDA support, so nothing was tried).
#[allow(clippy::type_complexity)]
fn try_cuda(
    builder: impl FnOnce() -> Result<ort::session::builder::SessionBuilder, ModelError>,
    commit: impl FnOnce(ort::session::builder::SessionBuilder) -> Result<Session, ModelError>,
) -> Result<Session, Option<String>> {
    #[cfg(test)]
    if let Some(reason) = INJECTED_CUDA_FAILURE.with(|f| f.borrow().clone()) {
        let _ = (builder, commit);
        return Err(Some(reason));
    }
    #[cfg(feature = "cuda")]
    {
        let builder = builder().map_err(|e| Some(short_reason(&e.to_string())))?;
        let registered = builder
            .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
            .map_err(|e| Some(short_reason(&e.to_string())))?;
        commit(registered).map_err(|e| {
            Some(format!(
                "the model did not load on CUDA: {}",
                short_reason(&e.to_string())
            ))
        })
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (builder, commit);
        Err(None)
    }
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
        } else if name == melody_now::INPUT_NAME {
            Some([None, None, Some(spec.melody_width() as i64), None])
        } else {
            None
        };
        if let Some(expected) = expected {
            let rank = if name == "logits" || name == melody_now::INPUT_NAME {
                3
            } else {
                4
            };
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
        let want = if name.contains("key")
            || name.contains("value")
            || name == "logits"
            || name == melody_now::INPUT_NAME
        {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LanguageModel;

    fn tiny_amt() -> ModelSource {
        ModelSource::Folder(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-amt"),
        )
    }

    #[test]
    fn a_failed_cuda_registration_falls_back_to_the_cpu_and_says_why() {
        INJECTED_CUDA_FAILURE.with(|f| {
            *f.borrow_mut() = Some("libcudart.so.12: cannot open shared object file".into())
        });
        let loaded = OnnxModel::load(&tiny_amt(), SessionOptions::default());
        INJECTED_CUDA_FAILURE.with(|f| *f.borrow_mut() = None);
        let mut model = loaded.expect("the CPU takes over");
        assert_eq!(model.provider(), ExecutionProvider::Cpu);
        assert_eq!(
            model.runs_on().to_string(),
            "CPU (CUDA unavailable: libcudart.so.12: cannot open shared object file)"
        );
        // And it runs.
        let vocab = model.vocab_size();
        assert_eq!(model.feed(&[0, 1, 2]).expect("runs").len(), vocab);
    }

    #[test]
    fn cuda_not_asked_for_is_plain_cpu() {
        let options = SessionOptions {
            prefer_cuda: false,
            ..SessionOptions::default()
        };
        let model = OnnxModel::load(&tiny_amt(), options).expect("loads");
        assert_eq!(model.runs_on().to_string(), "CPU");
    }

    #[test]
    fn the_placement_of_every_node_is_counted_from_a_profiled_run() {
        let options = SessionOptions {
            check_placement: true,
            prefer_cuda: false,
            ..SessionOptions::default()
        };
        let mut model = OnnxModel::load(&tiny_amt(), options).expect("loads");
        let runs_on = model.runs_on().clone();
        assert_eq!(runs_on.nodes_elsewhere(), Some(0));
        let placement = runs_on
            .placement
            .expect("counted")
            .expect("the profile was read");
        assert!(placement.total() > 10, "{placement:?}");
        assert_eq!(placement.on("CPUExecutionProvider"), placement.total());
        assert!(placement.nodes["CPUExecutionProvider"]
            .iter()
            .any(|op| op == "GroupQueryAttention"));
        // The counting run left nothing behind: the cache is empty and the model answers.
        assert!(model.cached().is_empty());
        assert!(model.feed(&[5]).is_ok());
    }

    #[test]
    fn a_profile_names_each_node_once_with_its_provider() {
        let profile = r#"[
            {"cat":"Session","name":"model_run","args":{}},
            {"cat":"Node","name":"gqa_0_fence_before","args":{"op_name":"GroupQueryAttention","provider":"CUDAExecutionProvider"}},
            {"cat":"Node","name":"gqa_0_kernel_time","args":{"op_name":"GroupQueryAttention","provider":"CUDAExecutionProvider"}},
            {"cat":"Node","name":"fc_0_kernel_time","args":{"op_name":"Gemm","provider":"CUDAExecutionProvider"}},
            {"cat":"Node","name":"ids_shape_kernel_time","args":{"op_name":"Shape","provider":"CPUExecutionProvider"}},
            {"cat":"Node","name":"mask_shape_kernel_time","args":{"op_name":"Shape","provider":"CPUExecutionProvider"}},
            {"cat":"Node","name":"valid_len_kernel_time","args":{"op_name":"ReduceSum","provider":"CPUExecutionProvider"}},
            {"cat":"Node","name":"fc_0_kernel_time","args":{"op_name":"Gemm","provider":"CUDAExecutionProvider"}}
        ]"#;
        let placement = Placement::from_profile(profile).unwrap();
        assert_eq!(placement.total(), 5);
        assert_eq!(
            placement.describe("CUDAExecutionProvider"),
            "2 of 5 nodes on CUDAExecutionProvider; CPUExecutionProvider: 3 (ReduceSum, Shape ×2)"
        );
        let runs_on = RunsOn {
            provider: ExecutionProvider::Cuda,
            cuda_unavailable: None,
            placement: Some(Ok(placement)),
        };
        assert_eq!(runs_on.nodes_elsewhere(), Some(3));
        assert!(runs_on.to_string().starts_with("CUDA (2 of 5 nodes"));
        assert!(Placement::from_profile("[]").is_err());
        assert!(Placement::from_profile("not json").is_err());
    }

    #[test]
    fn ort_errors_are_cut_to_what_they_say() {
        assert_eq!(short_reason("\n  first line \nsecond"), "first line");
        let long = "x".repeat(500);
        assert_eq!(short_reason(&long).chars().count(), 200);
        // What onnxruntime-gpu says on a machine without CUDA 13's libraries.
        let missing = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 \
            onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : \
            FAIL : Failed to load library /opt/x/libonnxruntime_providers_cuda.so with error: \
            libcublasLt.so.13: cannot open shared object file: No such file or directory";
        assert_eq!(
            short_reason(missing),
            "cannot load libonnxruntime_providers_cuda.so: libcublasLt.so.13: cannot open shared \
             object file: No such file or directory"
        );
    }

    /// With the `cuda` feature on a machine without a usable GPU (the CPU-only ONNX Runtime, or
    /// onnxruntime-gpu without CUDA's libraries), registration fails for real: the model runs on
    /// the CPU and says why. On a machine with a GPU it runs on CUDA with its nodes counted.
    #[cfg(feature = "cuda")]
    #[test]
    fn with_the_cuda_feature_a_real_registration_failure_falls_back() {
        let mut model = OnnxModel::load(&tiny_amt(), SessionOptions::default()).expect("loads");
        let line = model.runs_on().to_string();
        match model.provider() {
            ExecutionProvider::Cpu => {
                assert!(line.starts_with("CPU (CUDA unavailable: "), "{line}");
                assert!(model
                    .runs_on()
                    .cuda_unavailable
                    .as_deref()
                    .is_some_and(|r| !r.is_empty()));
            }
            ExecutionProvider::Cuda => {
                assert!(matches!(model.runs_on().placement, Some(Ok(_))), "{line}");
            }
        }
        assert!(model.feed(&[0, 1, 2]).is_ok(), "{line}");
    }
}
