//! `antiphon continue | accompany | infill | info | bench`: the engine from the command line.
//!
//! Exit codes (also in `antiphon --help`): 0 success; 1 any other failure (e.g. writing the
//! output); 2 bad arguments; 3 the input MIDI file cannot be read; 4 it has no notes (or no
//! melody) to work from; 5 the model cannot be loaded; 6 ONNX Runtime is missing or the wrong
//! version; 7 generation failed.

use crate::steering_args::SteeringArgs;
use antiphon_core::settings::{Instrument, BARS, TEMPERATURE, TOP_P};
use antiphon_core::time::{bar_length_beats, next_bar_line};
use antiphon_engine::default_model::default_model;
use antiphon_engine::model::{LanguageModel, ModelError, ModelSource};
use antiphon_engine::onnx::{OnnxModel, SessionOptions};
use antiphon_engine::runtime::runtime;
use antiphon_engine::sampling::SamplingParams;
use antiphon_engine::steering::Steering;
use antiphon_engine::tasks::{self, TaskSettings};
use antiphon_tokens::midi::read_notes;
use antiphon_tokens::writer::{write_notes, WriteOptions};
use antiphon_tokens::{GmInstrument, Note, VocabSpec};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A failure with the exit code that classifies it.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code (see the module doc).
    pub code: u8,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<ModelError> for Failure {
    fn from(e: ModelError) -> Self {
        let code = match e {
            ModelError::Runtime(_) => 6,
            _ => 5,
        };
        Failure::new(code, e.to_string())
    }
}

/// The engine's subcommands.
#[derive(Subcommand, Debug)]
pub enum GenerateCommand {
    /// Continue a phrase for --bars bars from the bar line after it ends.
    Continue(ContinueArgs),
    /// Accompany the melody of a file (one track) with the other instruments.
    Accompany(AccompanyArgs),
    /// Regenerate bars --from-bar..--to-bar of a file, keeping what is around them.
    Infill(InfillArgs),
    /// Describe a model and the ONNX Runtime that would run it.
    Info(InfoArgs),
    /// Measure a model's speed; prints JSON.
    Bench(BenchArgs),
}

/// Options shared by the generating subcommands.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Input MIDI file.
    input: PathBuf,
    /// Output MIDI file.
    #[arg(short, long)]
    output: PathBuf,
    /// Model folder (model.onnx + model.json); default: the built-in model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Sampling temperature, 0.05–2.0.
    #[arg(long, default_value_t = TEMPERATURE.default)]
    temperature: f32,
    /// Nucleus threshold, 0.5–1.0.
    #[arg(long, default_value_t = TOP_P.default)]
    top_p: f32,
    /// Seed; 0 draws a new one (printed) each run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Instrument family for the answer (auto, piano, strings, …, drums) or a GM program 0–127.
    #[arg(long, value_parser = parse_instrument)]
    instrument: Option<InstrumentArg>,
    /// Write only the generated notes, not the input around them.
    #[arg(long)]
    only_new: bool,
    /// ONNX Runtime threads per operator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Tell a model that reads the melody's key the key of the whole melody, not (as in
    /// training) that of the melody notes anticipation has placed so far. Measured: the made-up
    /// tunes follow their key a little more often, the held-out songs less.
    #[arg(long)]
    whole_melody_key: bool,
    #[command(flatten)]
    steering: SteeringArgs,
}

/// `antiphon continue`.
#[derive(Args, Debug)]
pub struct ContinueArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Bars to add.
    #[arg(long, default_value_t = BARS.default as u32)]
    bars: u32,
}

/// `antiphon accompany`.
#[derive(Args, Debug)]
pub struct AccompanyArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// MIDI track holding the melody (0-based, as in the file); default: the first with notes.
    #[arg(long)]
    melody_track: Option<usize>,
    /// Accompany at most this many bars (default: to the end of the melody).
    #[arg(long)]
    bars: Option<u32>,
    /// Give the model the first N bars of the file's other tracks as a prompt.
    #[arg(long, default_value_t = 0)]
    prompt_bars: u32,
}

/// `antiphon infill`.
#[derive(Args, Debug)]
pub struct InfillArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// First bar to regenerate (1-based).
    #[arg(long)]
    from_bar: u32,
    /// Last bar to regenerate (1-based, inclusive).
    #[arg(long)]
    to_bar: u32,
}

/// `antiphon info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Model folder; default: the built-in model.
    model: Option<PathBuf>,
}

/// `antiphon bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Model folder; default: the built-in model.
    model: Option<PathBuf>,
    /// ONNX Runtime threads per operator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Tokens decoded one by one for the decode figure.
    #[arg(long, default_value_t = 512)]
    decode_tokens: usize,
}

impl GenerateCommand {
    /// Runs the subcommand.
    pub fn run(self) -> Result<(), Failure> {
        match self {
            GenerateCommand::Continue(a) => run_continue(a),
            GenerateCommand::Accompany(a) => run_accompany(a),
            GenerateCommand::Infill(a) => run_infill(a),
            GenerateCommand::Info(a) => run_info(a),
            GenerateCommand::Bench(a) => run_bench(a),
        }
    }
}

/// A MIDI file as the tasks need it.
struct Piece {
    /// All notes, in beats from the start.
    notes: Vec<Note>,
    /// Notes of each track that has any: (track index, notes).
    tracks: Vec<(usize, Vec<Note>)>,
    /// First tempo of the file (120 if none).
    tempo_bpm: f64,
    /// Bar length from the first time signature (4/4 if none).
    bar_beats: f64,
    /// Mean velocity of the notes, for the answer.
    velocity: u8,
}

fn read_piece(path: &Path) -> Result<Piece, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::new(3, format!("cannot read {}: {e}", path.display())))?;
    let bad = |e: String| {
        Failure::new(
            3,
            format!("{} is not a usable MIDI file: {e}", path.display()),
        )
    };
    let (notes, _info) = read_notes(&bytes).map_err(|e| bad(e.to_string()))?;
    let smf = midly::Smf::parse(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut tempo_bpm = None;
    let mut signature = None;
    for event in smf.tracks.iter().flatten() {
        match event.kind {
            midly::TrackEventKind::Meta(midly::MetaMessage::Tempo(us)) if tempo_bpm.is_none() => {
                tempo_bpm = Some(60_000_000.0 / us.as_int().max(1) as f64)
            }
            midly::TrackEventKind::Meta(midly::MetaMessage::TimeSignature(n, d, _, _))
                if signature.is_none() =>
            {
                signature = Some((n as i32, 1i32 << d.min(6)))
            }
            _ => {}
        }
    }
    // One track at a time, through the same reader: a single-track file per track.
    let mut tracks = Vec::new();
    for (index, track) in smf.tracks.iter().enumerate() {
        let single = midly::Smf {
            header: midly::Header::new(midly::Format::SingleTrack, smf.header.timing),
            tracks: vec![track.clone()],
        };
        let mut buffer = Vec::new();
        single
            .write_std(&mut buffer)
            .map_err(|e| bad(e.to_string()))?;
        let (track_notes, _) = read_notes(&buffer).map_err(|e| bad(e.to_string()))?;
        if !track_notes.is_empty() {
            tracks.push((index, track_notes));
        }
    }
    if notes.is_empty() {
        return Err(Failure::new(4, format!("{} has no notes", path.display())));
    }
    let velocity = (notes.iter().map(|n| n.velocity as u32).sum::<u32>() / notes.len() as u32)
        .clamp(1, 127) as u8;
    let (numerator, denominator) = signature.unwrap_or((4, 4));
    Ok(Piece {
        notes,
        tracks,
        tempo_bpm: tempo_bpm.unwrap_or(120.0),
        bar_beats: bar_length_beats(numerator, denominator),
        velocity,
    })
}

/// The model to use and its vocabulary.
fn load_model(path: Option<&Path>, threads: usize) -> Result<(OnnxModel, VocabSpec), Failure> {
    load_model_with(path, threads, false)
}

/// [`load_model`], also counting which provider runs each node when `check_placement`.
fn load_model_with(
    path: Option<&Path>,
    threads: usize,
    check_placement: bool,
) -> Result<(OnnxModel, VocabSpec), Failure> {
    let source = match path {
        Some(dir) => ModelSource::Folder(dir.to_path_buf()),
        None => default_model().ok_or_else(|| {
            Failure::new(
                5,
                "this build has no built-in model: pass --model DIR (a folder with model.onnx \
                 and model.json)",
            )
        })?,
    };
    let model = OnnxModel::load(
        &source,
        SessionOptions {
            intra_op_threads: threads,
            prefer_cuda: true,
            check_placement,
        },
    )?;
    let spec = model.spec().vocab.clone();
    Ok((model, spec))
}

fn settings(common: &CommonArgs, piece: &Piece, spec: &VocabSpec) -> Result<TaskSettings, Failure> {
    if !TEMPERATURE.contains(common.temperature) {
        return Err(Failure::new(
            2,
            format!(
                "--temperature must be between {:?} and {:?}",
                TEMPERATURE.min, TEMPERATURE.max
            ),
        ));
    }
    if !TOP_P.contains(common.top_p) {
        return Err(Failure::new(
            2,
            format!(
                "--top-p must be between {:?} and {:?}",
                TOP_P.min, TOP_P.max
            ),
        ));
    }
    let seed = if common.seed == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        (nanos % 1_000_000).max(1)
    } else {
        common.seed
    };
    eprintln!("antiphon: seed {seed}");
    Ok(TaskSettings {
        sampling: SamplingParams {
            temperature: common.temperature,
            top_p: common.top_p,
        },
        seed,
        instruments: instrument_codes(common.instrument, spec),
        tempo_bpm: piece.tempo_bpm,
        velocity: piece.velocity,
        max_new_notes: 8192,
        steering: common.steering.steering().map_err(|m| Failure::new(2, m))?,
        beats_per_bar: piece.bar_beats,
        key_from_whole_melody: common.whole_melody_key,
    })
}

/// What `--instrument` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InstrumentArg {
    /// A family, `auto` or `drums`.
    Family(Instrument),
    /// One General MIDI program, 0–127.
    Program(u8),
}

/// Reads `--instrument`: an id of [`Instrument::IDS`] in any case, with hyphens, underscores or
/// spaces between words (`synth-lead`, `synth_lead`, `Synth lead`), or a GM program 0–127.
fn parse_instrument(s: &str) -> Result<InstrumentArg, String> {
    let name = s.trim().to_ascii_lowercase();
    if let Ok(number) = name.parse::<i64>() {
        return u8::try_from(number)
            .ok()
            .filter(|&program| program <= 127)
            .map(InstrumentArg::Program)
            .ok_or_else(|| "GM programs are 0–127".to_string());
    }
    Instrument::from_id(&name.replace([' ', '-'], "_"))
        .map(InstrumentArg::Family)
        .ok_or_else(|| {
            let names: Vec<String> = Instrument::IDS
                .iter()
                .map(|id| id.replace('_', "-"))
                .collect();
            format!(
                "unknown instrument `{name}`: one of {}, or a GM program 0–127",
                names.join(", ")
            )
        })
}

/// The vocabulary's instrument codes `--instrument` allows, or `None` for any.
fn instrument_codes(arg: Option<InstrumentArg>, spec: &VocabSpec) -> Option<Vec<u32>> {
    let family = match arg? {
        InstrumentArg::Program(program) => return Some(vec![spec.instrument_of_program(program)]),
        InstrumentArg::Family(family) => family,
    };
    match (family, family.programs()) {
        (Instrument::Auto, _) => None,
        (Instrument::Drums, _) => Some(vec![spec.drum_instrument()]),
        (_, Some(programs)) => {
            let mut codes: Vec<u32> = programs.map(|p| spec.instrument_of_program(p)).collect();
            codes.dedup();
            Some(codes)
        }
        (_, None) => None,
    }
}

fn write_output(
    common: &CommonArgs,
    piece: &Piece,
    keep: Vec<Note>,
    new: &[Note],
    spec: &VocabSpec,
) -> Result<(), Failure> {
    let mut notes = if common.only_new { Vec::new() } else { keep };
    notes.extend_from_slice(new);
    notes.sort_by(|a, b| a.onset_beats.total_cmp(&b.onset_beats));
    let options = WriteOptions {
        tempo_bpm: piece.tempo_bpm,
        ..WriteOptions::for_spec(spec)
    };
    let midi = write_notes(&notes, &options)
        .map_err(|e| Failure::new(1, format!("cannot write MIDI: {e}")))?;
    std::fs::write(&common.output, &midi.bytes)
        .map_err(|e| Failure::new(1, format!("cannot write {}: {e}", common.output.display())))
}

fn report(
    what: &str,
    common: &CommonArgs,
    new: &[Note],
    from: f64,
    to: f64,
    bar: f64,
    started: Instant,
) {
    eprintln!(
        "antiphon: {what}: {} new notes in bars {}–{} written to {} in {:.2} s",
        new.len(),
        (from / bar).round() as i64 + 1,
        (to / bar).round() as i64,
        common.output.display(),
        started.elapsed().as_secs_f64()
    );
}

fn generation_failed(e: tasks::TaskError) -> Failure {
    Failure::new(7, format!("generation failed: {e}"))
}

/// Writes a part to `to` and says which key it kept to.
fn write_part(
    writer: &mut tasks::PartWriter,
    model: &mut OnnxModel,
    spec: &VocabSpec,
    controls: &[Note],
    to: f64,
) -> Result<Vec<Note>, Failure> {
    let notes = writer
        .write_until(model, spec, controls, to, &mut |_| true)
        .map_err(generation_failed)?;
    if let Some((key, followed)) = writer.key_in_use() {
        let how = if followed { "followed" } else { "fixed" };
        eprintln!("antiphon: key {key} ({how})");
    }
    Ok(notes)
}

/// What a generating command wrote: the new notes from `from` to `to` (beats), and the input's
/// notes that stay beside them unless `--only-new`.
struct Answer {
    new: Vec<Note>,
    keep: Vec<Note>,
    from: f64,
    to: f64,
}

/// The steps `continue`, `accompany` and `infill` share: reads the input and the model, lets
/// `answer` write the new part, writes the output file and reports what was `done`.
fn answer_piece(
    common: &CommonArgs,
    done: &str,
    answer: impl FnOnce(&Piece, &mut OnnxModel, &VocabSpec, &TaskSettings) -> Result<Answer, Failure>,
) -> Result<(), Failure> {
    let piece = read_piece(&common.input)?;
    let (mut model, spec) = load_model(common.model.as_deref(), common.threads)?;
    let settings = settings(common, &piece, &spec)?;
    let started = Instant::now();
    let Answer {
        new,
        keep,
        from,
        to,
    } = answer(&piece, &mut model, &spec, &settings)?;
    write_output(common, &piece, keep, &new, &spec)?;
    report(done, common, &new, from, to, piece.bar_beats, started);
    Ok(())
}

fn run_continue(a: ContinueArgs) -> Result<(), Failure> {
    answer_piece(&a.common, "continued", |piece, model, spec, settings| {
        let end = piece
            .notes
            .iter()
            .map(|n| n.onset_beats + n.duration_beats)
            .fold(0.0, f64::max);
        let from = next_bar_line(end, 0.0, piece.bar_beats);
        let to = from + a.bars.max(1) as f64 * piece.bar_beats;
        let mut writer = tasks::PartWriter::continuation(spec, &piece.notes, from, settings);
        let new = write_part(&mut writer, model, spec, &[], to)?;
        let keep = piece.notes.clone();
        Ok(Answer {
            new,
            keep,
            from,
            to,
        })
    })
}

fn run_accompany(a: AccompanyArgs) -> Result<(), Failure> {
    answer_piece(&a.common, "accompanied", |piece, model, spec, settings| {
        let (melody_index, melody) = match a.melody_track {
            Some(track) => piece
                .tracks
                .iter()
                .find(|(i, _)| *i == track)
                .cloned()
                .ok_or_else(|| Failure::new(4, format!("track {track} has no notes")))?,
            None => piece
                .tracks
                .first()
                .cloned()
                .expect("a piece with notes has a track"),
        };
        let bar = piece.bar_beats;
        let first = melody
            .iter()
            .map(|n| n.onset_beats)
            .fold(f64::INFINITY, f64::min);
        let last_end = melody
            .iter()
            .map(|n| n.onset_beats + n.duration_beats)
            .fold(0.0, f64::max);
        let start_bar = (first / bar).floor() * bar;
        let from = start_bar + a.prompt_bars as f64 * bar;
        let mut to = next_bar_line(last_end, 0.0, bar);
        if let Some(bars) = a.bars {
            to = to.min(from + bars.max(1) as f64 * bar);
        }
        let others: Vec<Note> = piece
            .tracks
            .iter()
            .filter(|(i, _)| *i != melody_index)
            .flat_map(|(_, notes)| notes.iter().copied())
            .collect();
        let context: Vec<Note> = others
            .iter()
            .copied()
            .filter(|n| n.onset_beats < from)
            .collect();
        let mut writer = tasks::PartWriter::accompaniment(spec, &melody, &context, from, settings);
        let new = write_part(&mut writer, model, spec, &melody, to)?;
        let mut keep = melody;
        keep.extend(context);
        Ok(Answer {
            new,
            keep,
            from,
            to,
        })
    })
}

fn run_infill(a: InfillArgs) -> Result<(), Failure> {
    if a.from_bar == 0 || a.to_bar < a.from_bar {
        return Err(Failure::new(
            2,
            "--from-bar and --to-bar are 1-based, from ≤ to",
        ));
    }
    answer_piece(&a.common, "filled", |piece, model, spec, settings| {
        let from = (a.from_bar - 1) as f64 * piece.bar_beats;
        let to = a.to_bar as f64 * piece.bar_beats;
        let new = tasks::infill(model, spec, &piece.notes, from, to, settings)
            .map_err(generation_failed)?;
        let keep: Vec<Note> = piece
            .notes
            .iter()
            .copied()
            .filter(|n| n.onset_beats < from || n.onset_beats >= to)
            .collect();
        Ok(Answer {
            new,
            keep,
            from,
            to,
        })
    })
}

fn run_info(a: InfoArgs) -> Result<(), Failure> {
    let (model, spec) = load_model_with(a.model.as_deref(), 1, true)?;
    let s = model.spec();
    let rt = runtime().map_err(|e| Failure::new(6, e.to_string()))?;
    let params = s.vocab_size * s.hidden_size
        + s.context_length * s.hidden_size
        + s.num_layers * 12 * s.hidden_size * s.hidden_size;
    println!("model:          {}", s.name);
    println!(
        "vocabulary:     {:?}, {} ids, {} ticks per {:?}",
        spec.kind(),
        s.vocab_size,
        spec.ticks_per_unit(),
        spec.time_unit()
    );
    println!(
        "network:        {} layers, {} heads of {}, width {}, context {} (~{:.1} M parameters)",
        s.num_layers,
        s.num_heads,
        s.head_size,
        s.hidden_size,
        s.context_length,
        params as f64 / 1e6
    );
    match &s.weight_quantization {
        Some(q) => println!("weights:        {q}; the rest {}", s.dtype),
        None => println!("weights:        {}", s.dtype),
    }
    if s.has_melody_now() {
        let key = if s.melody_key {
            ", and the melody's key so far"
        } else {
            ""
        };
        println!(
            "hears:          the melody sounding at each note it writes{key} (input melody_now)"
        );
    }
    println!("trained on:     {}", s.training_data);
    println!("licence:        {}", s.licence);
    println!(
        "onnx runtime:   {} from {} ({:?})",
        rt.version,
        rt.library_path.display(),
        rt.source
    );
    println!("runs on:        {}", model.runs_on());
    match &model.runs_on().placement {
        Some(Ok(placement)) => println!("graph nodes:    {}", placement.describe_all()),
        Some(Err(e)) => println!("graph nodes:    not counted ({e})"),
        None => {}
    }
    if !s.evaluation.is_null() && s.evaluation != serde_json::json!({}) {
        println!("evaluation:     {}", s.evaluation);
    }
    Ok(())
}

/// A model that counts the tokens it is fed.
struct CountingModel<'m> {
    inner: &'m mut dyn LanguageModel,
    fed: usize,
}

impl LanguageModel for CountingModel<'_> {
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }
    fn context_length(&self) -> usize {
        self.inner.context_length()
    }
    fn cached(&self) -> &[u32] {
        self.inner.cached()
    }
    fn truncate(&mut self, len: usize) {
        self.inner.truncate(len)
    }
    fn feed(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
        self.fed += tokens.len();
        self.inner.feed(tokens)
    }
    fn set_melody_ahead(&mut self, ahead: antiphon_engine::melody_now::PitchClassWeights) {
        self.inner.set_melody_ahead(ahead)
    }
    fn key_from_whole_melody(&self) -> bool {
        self.inner.key_from_whole_melody()
    }
}

/// Accompaniments timed with and without steering (seeds 1 to this).
const STEERING_BENCH_RUNS: u64 = 5;

fn run_bench(a: BenchArgs) -> Result<(), Failure> {
    let (mut model, spec) = load_model(a.model.as_deref(), a.threads)?;
    let rt = runtime().map_err(|e| Failure::new(6, e.to_string()))?;
    let context = model.context_length();
    // A valid token stream: the AR flag, then triples of one piano note per beat tick step.
    let tokens: Vec<u32> = std::iter::once(spec.autoregress())
        .chain((0..context as u32).flat_map(|i| {
            [
                spec.time_offset() + (i / 3) % spec.max_time(),
                spec.duration_offset() + 1,
                spec.note_offset() + 60 + (i % 12),
            ]
        }))
        .take(context - 1)
        .collect();
    let failed = |e: ModelError| Failure::from(e);

    model.reset();
    let started = Instant::now();
    model.feed(&tokens).map_err(failed)?;
    let prefill_ms = started.elapsed().as_secs_f64() * 1e3;

    // Twice: the first pass after loading pays ONNX Runtime's warm-up at every new cache
    // length; the plugin's later answers run like the second.
    let decode = a.decode_tokens.clamp(1, context - 2);
    let mut decode_pass = || -> Result<f64, Failure> {
        model.reset();
        model.feed(&tokens[..1]).map_err(failed)?;
        let started = Instant::now();
        for &t in &tokens[1..=decode] {
            model.feed(&[t]).map_err(failed)?;
        }
        Ok(started.elapsed().as_secs_f64())
    };
    let cold_s = decode_pass()?;
    let decode_s = decode_pass()?;

    // Time to the first note: a four-bar melody, accompanied until one note is out.
    let melody: Vec<Note> = (0..16)
        .map(|i| Note {
            onset_beats: i as f64,
            duration_beats: 1.0,
            pitch: [72, 74, 76, 77][i % 4],
            // The voice, as the plugin gives captured melodies and as the songs were trained.
            instrument: GmInstrument::Program(68),
            velocity: 90,
        })
        .collect();
    let settings = TaskSettings {
        seed: 1,
        ..TaskSettings::default()
    };
    let started = Instant::now();
    let first = tasks::PartWriter::accompaniment(&spec, &melody, &[], 0.0, &settings)
        .write_until(&mut model, &spec, &melody, 16.0, &mut |_| false)
        .map_err(generation_failed)?;
    let first_note_ms = started.elapsed().as_secs_f64() * 1e3;

    // What steering costs: whole accompaniments of the same melody, warm, without and with
    // the default steering, in model tokens per second with the sampler's time included.
    let mut tokens_per_s = |steering: Steering| -> Result<f64, Failure> {
        let mut counted = CountingModel {
            inner: &mut model,
            fed: 0,
        };
        let started = Instant::now();
        for seed in 1..=STEERING_BENCH_RUNS {
            let settings = TaskSettings {
                seed,
                steering,
                ..TaskSettings::default()
            };
            tasks::accompany(&mut counted, &spec, &melody, &[], 0.0, 16.0, &settings)
                .map_err(generation_failed)?;
        }
        Ok(counted.fed as f64 / started.elapsed().as_secs_f64().max(1e-9))
    };
    let plain_tokens_per_s = tokens_per_s(Steering::off())?;
    let steered_tokens_per_s = tokens_per_s(Steering::default())?;

    let report = serde_json::json!({
        "model": model.spec().name,
        "runtime_path": rt.library_path,
        "runtime_version": rt.version,
        "execution_provider": model.provider().to_string(),
        "runs_on": model.runs_on().to_string(),
        "intra_op_threads": a.threads,
        "prefill_tokens": tokens.len(),
        "prefill_ms": prefill_ms,
        "decode_tokens": decode,
        "decode_tokens_per_s": decode as f64 / decode_s,
        "decode_ms_per_token": decode_s * 1e3 / decode as f64,
        "decode_tokens_per_s_first_pass": decode as f64 / cold_s,
        "first_note_ms": first_note_ms,
        "first_note_found": !first.is_empty(),
        "accompany_tokens_per_s": plain_tokens_per_s,
        "accompany_tokens_per_s_steered": steered_tokens_per_s,
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_instrument, InstrumentArg};
    use antiphon_core::settings::Instrument;

    #[test]
    fn instrument_accepts_every_id_with_hyphens_underscores_or_spaces() {
        for (&id, kind) in Instrument::IDS.iter().zip(Instrument::ALL) {
            for spelling in [id.to_string(), id.replace('_', "-"), id.replace('_', " ")] {
                assert_eq!(parse_instrument(&spelling), Ok(InstrumentArg::Family(kind)));
            }
        }
        for spelling in [
            "chromatic-percussion",
            "Synth Lead",
            " SOUND-EFFECTS ",
            "drums",
        ] {
            assert!(parse_instrument(spelling).is_ok(), "{spelling}");
        }
    }

    #[test]
    fn instrument_accepts_gm_programs_0_to_127_only() {
        assert_eq!(parse_instrument("0"), Ok(InstrumentArg::Program(0)));
        assert_eq!(parse_instrument("127"), Ok(InstrumentArg::Program(127)));
        assert!(parse_instrument("128").is_err());
        assert!(parse_instrument("300").is_err());
        assert!(parse_instrument("-1").is_err());
        assert!(parse_instrument("kazoo").is_err());
    }
}
