//! Token subcommands: `tokens`, `tokenize`, `detokenize`, `vocab`.
//!
//! File I/O and threads (a rayon pool) live here; the conversions are `antiphon_tokens`, which
//! is pure.
//!
//! # Corpus format (`antiphon tokenize -o corpus.bin`)
//!
//! - `corpus.bin`: `num_lines` training lines of exactly 1024 ids each (the task flag, then
//!   341 triples), concatenated with no header. Ids are little-endian `u16` when the
//!   vocabulary has at most 65536 ids (`amt`, `beats`), else little-endian `u32`; the index's
//!   `dtype` says which (`"<u2"` or `"<u4"`). Line `i` starts at byte `i · 1024 · itemsize`.
//! - `corpus.json` (the output path with extension `.json`, or `--index`): `format`
//!   (`"antiphon-token-lines"`), `version` (1), `dtype`, `line_tokens` (1024), `num_lines`,
//!   `vocab` (the full `VocabSpec` JSON), `augment`, `seed`, `stats`, and `files`: one entry per
//!   input file in packing order with `path` (as found), `relative_path` (below the input
//!   folder), `status` (`accepted`, `too_short`, `too_long`, `too_many_instruments`, `error`),
//!   `events`, `error` (why an unreadable file was skipped, else null), and
//!   `line_start`/`line_end`, the half-open range of lines holding any of its tokens (null
//!   for a file that gave no sequence). Lines are cut from one stream that runs across files (SPEC §7.3), so the line
//!   where one piece ends and the next begins is listed under both: a split by piece should
//!   drop the lines shared with the other side.
//! - Python: `np.memmap("corpus.bin", dtype=index["dtype"], mode="r").reshape(-1, 1024)`.
//! - `-o corpus.txt` writes the reference's text format instead: one line per training line,
//!   ids separated by spaces.
//!
//! Output does not depend on the number of threads: files are packed in input order, and the
//! augmentation of file `i` draws from its own stream `SplitMix64::for_item(seed, i)`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use antiphon_tokens::events::{raw_to_triples, Triple};
use antiphon_tokens::packing::{LinePacker, PreparedFile, LINE_TOKENS};
use antiphon_tokens::writer::{playback_events, write_events, write_reference, WriteOptions};
use antiphon_tokens::{AugmentConfig, SplitMix64, TokenId, Tokenizer, VocabSpec};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use rayon::prelude::*;

/// The token subcommands.
#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Print the event token ids of one MIDI file on one line, space-separated.
    Tokens(TokensArgs),
    /// Pack MIDI files into 1024-token training lines, on all cores, with a JSON index.
    Tokenize(TokenizeArgs),
    /// Write a MIDI file from token ids (a text file of ids, or a binary corpus).
    Detokenize(DetokenizeArgs),
    /// Print a vocabulary preset as JSON.
    Vocab(VocabArgs),
}

/// Reads `--vocab`: a preset name (`amt`, `amt-large`, `beats`) or a path to a vocabulary JSON
/// (a bare `VocabSpec`, or an object holding one under `"vocab"`, like a model.json).
fn parse_vocab(s: &str) -> Result<VocabSpec, String> {
    match s {
        "amt" => Ok(VocabSpec::amt()),
        "amt-large" => Ok(VocabSpec::amt_large()),
        "beats" => Ok(VocabSpec::beats()),
        path => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!("`{path}` is not a preset (amt, amt-large, beats) nor a readable file: {e}")
            })?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
            let spec = value.get("vocab").cloned().unwrap_or(value);
            VocabSpec::from_json(&spec.to_string()).map_err(|e| format!("{path}: {e}"))
        }
    }
}

/// Reads `--transpose LO..HI` (both ends included, LO ≤ HI).
fn parse_transpose(s: &str) -> Result<(i32, i32), String> {
    let (lo, hi) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}` is not LO..HI (e.g. -5..6)"))?;
    let lo: i32 = lo.trim().parse().map_err(|e| format!("`{lo}`: {e}"))?;
    let hi: i32 = hi
        .trim()
        .trim_start_matches('=')
        .parse()
        .map_err(|e| format!("`{hi}`: {e}"))?;
    if lo > hi || lo < -127 || hi > 127 {
        return Err(format!("{lo}..{hi}: need -127 ≤ LO ≤ HI ≤ 127"));
    }
    Ok((lo, hi))
}

/// Reads `--accompany-share P`, a probability.
fn parse_share(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|e| format!("`{s}`: {e}"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability in 0..1"))
    }
}

/// Arguments of `antiphon tokens`.
#[derive(Args, Debug)]
pub struct TokensArgs {
    /// The MIDI file.
    file: PathBuf,
    /// Vocabulary: amt (reference-compatible, default), amt-large, beats, or a JSON file.
    #[arg(long, default_value = "amt", value_parser = parse_vocab)]
    vocab: VocabSpec,
}

/// Arguments of `antiphon tokenize`.
#[derive(Args, Debug)]
pub struct TokenizeArgs {
    /// Folders (searched recursively for .mid/.midi, in name order) or single MIDI files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Vocabulary: beats (default), amt, amt-large, or a JSON file.
    #[arg(long, default_value = "beats", value_parser = parse_vocab)]
    vocab: VocabSpec,
    /// Output: `.bin` (little-endian ids, see the format) or `.txt` (the reference's text lines).
    #[arg(short, long)]
    output: PathBuf,
    /// Augmentations per file; k mod 10 picks the task (0 autoregressive, 1 spans, 2–5
    /// random, 6–9 instruments). 1 = autoregressive only, identical to the reference.
    #[arg(long, default_value_t = 1)]
    augment: usize,
    /// Seed of the augmentation choices.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Transpose each augmentation by a semitone count drawn from LO..HI, both included
    /// (e.g. -5..6: twelve keys); drums stay, notes leaving 0–127 are dropped.
    #[arg(long, value_parser = parse_transpose, allow_hyphen_values = true)]
    transpose: Option<(i32, i32)>,
    /// Probability (0–1) that an augmentation is the accompaniment task instead of its
    /// k mod 10 task: the melody track (the voice of a song, the first violin of a quartet)
    /// becomes controls, the other parts stay events. Files without a melody track keep the
    /// reference tasks.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    accompany_share: f64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Index path (default: the output path with extension .json).
    #[arg(long)]
    index: Option<PathBuf>,
}

/// Arguments of `antiphon detokenize`.
#[derive(Args, Debug)]
pub struct DetokenizeArgs {
    /// Ids: a text file (whitespace-separated; one sequence or training line per line) or a
    /// binary corpus from `tokenize` (`.bin`, read with its index if present).
    input: PathBuf,
    /// The MIDI file to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Vocabulary (default: the corpus index's, else amt).
    #[arg(long, value_parser = parse_vocab)]
    vocab: Option<VocabSpec>,
    /// Only this line (0-based); default all lines, played one after another.
    #[arg(long)]
    line: Option<usize>,
    /// Use the reference-compatible writer (SPEC §4: 50 tpq, no tempo, its quirks included).
    #[arg(long)]
    reference: bool,
    /// Tempo written by the product writer, quarter notes per minute.
    #[arg(long, default_value_t = 120.0)]
    tempo: f64,
}

/// Arguments of `antiphon vocab`.
#[derive(Args, Debug)]
pub struct VocabArgs {
    /// Which preset: amt, amt-large, beats.
    #[arg(long, default_value = "amt", value_parser = ["amt", "amt-large", "beats"])]
    preset: String,
}

impl TokensCommand {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            TokensCommand::Tokens(a) => run_tokens(a),
            TokensCommand::Tokenize(a) => run_tokenize(a),
            TokensCommand::Detokenize(a) => run_detokenize(a),
            TokensCommand::Vocab(a) => {
                let spec = parse_vocab(&a.preset).map_err(anyhow::Error::msg)?;
                println!("{}", spec.to_json_pretty());
                Ok(())
            }
        }
    }
}

fn run_tokens(a: TokensArgs) -> Result<()> {
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let mut tok = Tokenizer::new(a.vocab);
    let mut ids = Vec::new();
    tok.midi_to_ids(&bytes, &mut ids)
        .with_context(|| format!("tokenizing {}", a.file.display()))?;
    let mut out = String::with_capacity(ids.len() * 6);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&id.0.to_string());
    }
    println!("{out}");
    Ok(())
}

/// A MIDI file found under an input root.
struct Found {
    /// The path as found.
    path: PathBuf,
    /// The path below its root.
    relative: PathBuf,
}

fn is_midi(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
}

/// The MIDI files under `dir`, in no particular order. Symbolic links to folders are not
/// followed (a cycle would never end); links to files are read.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        if !entry.file_type().is_dir() && is_midi(path) && path.is_file() {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// Every MIDI file of the inputs: roots in argument order, files sorted within each root.
fn find_midi(inputs: &[PathBuf]) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for root in inputs {
        let mut paths = if root.is_dir() {
            walk(root)?
        } else if root.is_file() {
            vec![root.clone()]
        } else {
            bail!("{} is neither a folder nor a file", root.display());
        };
        // Whole paths in `Path` order: a folder's files come where its name sorts.
        paths.sort();
        for path in paths {
            if seen.insert(path.clone()) {
                let relative = match path.strip_prefix(root) {
                    Ok(r) if !r.as_os_str().is_empty() => r.to_path_buf(),
                    _ => PathBuf::from(path.file_name().unwrap_or_default()),
                };
                out.push(Found { path, relative });
            }
        }
    }
    Ok(out)
}

/// Where lines go: binary ids or text lines.
enum LineSink {
    /// Little-endian ids of `itemsize` bytes.
    Binary {
        /// The `.bin` file.
        out: BufWriter<File>,
        /// Bytes per id (2 or 4).
        itemsize: usize,
    },
    /// The reference's text lines.
    Text {
        /// The `.txt` file.
        out: BufWriter<File>,
    },
}

impl LineSink {
    fn write(&mut self, line: &[TokenId]) -> std::io::Result<()> {
        debug_assert_eq!(line.len(), LINE_TOKENS);
        match self {
            LineSink::Binary { out, itemsize: 2 } => {
                let mut buf = [0u8; LINE_TOKENS * 2];
                for (i, id) in line.iter().enumerate() {
                    buf[2 * i..2 * i + 2].copy_from_slice(&(id.0 as u16).to_le_bytes());
                }
                out.write_all(&buf)
            }
            LineSink::Binary { out, .. } => {
                let mut buf = [0u8; LINE_TOKENS * 4];
                for (i, id) in line.iter().enumerate() {
                    buf[4 * i..4 * i + 4].copy_from_slice(&id.0.to_le_bytes());
                }
                out.write_all(&buf)
            }
            LineSink::Text { out } => {
                let mut s = String::with_capacity(line.len() * 6);
                for (i, id) in line.iter().enumerate() {
                    if i > 0 {
                        s.push(' ');
                    }
                    s.push_str(&id.0.to_string());
                }
                s.push('\n');
                out.write_all(s.as_bytes())
            }
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            LineSink::Binary { mut out, .. } | LineSink::Text { mut out } => out.flush(),
        }
    }
}

/// The binary dtype for a vocabulary: numpy's name and the byte size.
fn dtype_for(spec: &VocabSpec) -> (&'static str, usize) {
    if spec.vocab_size() <= 1 << 16 {
        ("<u2", 2)
    } else {
        ("<u4", 4)
    }
}

/// A file's outcome as the packer recorded it.
struct FileRecord {
    /// `FileStatus::name`, or "error".
    status: &'static str,
    /// Notes read.
    events: usize,
    /// Stream range of its sequences (`LinePacker::push`), if any.
    range: Option<(u64, u64)>,
    /// Why it could not be read.
    error: Option<String>,
}

fn run_tokenize(a: TokenizeArgs) -> Result<()> {
    let started = Instant::now();
    let files = find_midi(&a.inputs)?;
    if files.is_empty() {
        bail!("no .mid or .midi files under the inputs");
    }
    let spec = a.vocab.clone();
    let text = a.output.extension().is_some_and(|e| e == "txt");
    let (dtype, itemsize) = dtype_for(&spec);
    let out = BufWriter::with_capacity(
        1 << 20,
        File::create(&a.output).with_context(|| format!("creating {}", a.output.display()))?,
    );
    let mut sink = if text {
        LineSink::Text { out }
    } else {
        LineSink::Binary { out, itemsize }
    };
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);

    let bar = indicatif::ProgressBar::new(files.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} files, {msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting the worker threads")?;
    let augment = AugmentConfig {
        augment: a.augment,
        transpose: a.transpose,
        accompany_share: a.accompany_share,
    };
    // File `i` draws its augmentations from its own stream, whichever thread prepares it.
    let prepare = |tok: &mut Tokenizer, i: usize| -> Result<PreparedFile, String> {
        let bytes = std::fs::read(&files[i].path).map_err(|e| e.to_string())?;
        let mut rng = SplitMix64::for_item(a.seed, i as u64);
        tok.prepare_training_with(&bytes, &augment, &mut rng)
            .map_err(|e| e.to_string())
    };
    // Files are prepared a window at a time, in parallel, and packed in input order; the window
    // bounds the memory held by prepared files.
    let window = 64 * jobs;
    let mut packer = LinePacker::new(spec.clone());
    let mut records: Vec<FileRecord> = Vec::with_capacity(files.len());
    let mut total_notes = 0u64;
    let mut accompaniment_sequences = 0u64;
    let mut transposed_sequences = 0u64;
    let mut write_error: Option<std::io::Error> = None;

    for first in (0..files.len()).step_by(window) {
        let indices = first..(first + window).min(files.len());
        let prepared: Vec<Result<PreparedFile, String>> = pool.install(|| {
            indices
                .into_par_iter()
                .map_init(|| Tokenizer::new(spec.clone()), prepare)
                .collect()
        });
        for result in prepared {
            let record = match result {
                Err(e) => FileRecord {
                    status: "error",
                    events: 0,
                    range: None,
                    error: Some(e),
                },
                Ok(file) => {
                    total_notes += file.num_events as u64;
                    let mut range: Option<(u64, u64)> = None;
                    for s in &file.sequences {
                        accompaniment_sequences += s.accompaniment as u64;
                        transposed_sequences += (s.transpose_semitones != 0) as u64;
                        let r = packer.push(s.flag, &s.tokens, |line| {
                            if write_error.is_none() {
                                if let Err(e) = sink.write(line) {
                                    write_error = Some(e);
                                }
                            }
                        });
                        range = Some(range.map_or(r, |(start, _)| (start, r.1)));
                    }
                    FileRecord {
                        status: file.status.name(),
                        events: file.num_events,
                        range,
                        error: None,
                    }
                }
            };
            records.push(record);
            bar.inc(1);
            if records.len().is_multiple_of(64) {
                bar.set_message(format!("{} lines", packer.stats().lines));
            }
        }
        if write_error.is_some() {
            break;
        }
    }
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("writing {}", a.output.display()));
    }
    sink.finish()
        .with_context(|| format!("writing {}", a.output.display()))?;

    let stats = packer.stats().clone();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        *by_status.entry(r.status).or_default() += 1;
    }
    let file_entries: Vec<serde_json::Value> = files
        .iter()
        .zip(&records)
        .map(|(f, r)| {
            // Files that gave no sequence (filtered, unreadable) have no lines.
            let (start, end) = match r.range.map(|range| packer.lines_of(range)) {
                Some((s, e)) => (Some(s), Some(e)),
                None => (None, None),
            };
            serde_json::json!({
                "path": f.path.to_string_lossy(),
                "relative_path": f.relative.to_string_lossy(),
                "status": r.status,
                "events": r.events,
                "line_start": start,
                "line_end": end,
                "error": r.error,
            })
        })
        .collect();
    let index_path = a
        .index
        .clone()
        .unwrap_or_else(|| a.output.with_extension("json"));
    let kept_and_dropped = stats.lines + stats.discarded_lines_max_time;
    let index = serde_json::json!({
        "format": "antiphon-token-lines",
        "version": 1,
        "dtype": if text { "text" } else { dtype },
        "line_tokens": LINE_TOKENS,
        "num_lines": stats.lines,
        "vocab": spec,
        "augment": a.augment,
        "seed": a.seed,
        "transpose": a.transpose.map(|(lo, hi)| [lo, hi]),
        "accompany_share": a.accompany_share,
        "stats": {
            "files": files.len(),
            "by_status": by_status,
            "notes": total_notes,
            "sequences": stats.sequences,
            "accompaniment_sequences": accompaniment_sequences,
            "transposed_sequences": transposed_sequences,
            "lines": stats.lines,
            "discarded_lines_max_time": stats.discarded_lines_max_time,
            "tail_tokens_dropped": packer.tail_triples() * 3,
        },
        "files": file_entries,
    });
    std::fs::write(&index_path, serde_json::to_string_pretty(&index)? + "\n")
        .with_context(|| format!("writing {}", index_path.display()))?;

    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} files ({}) → {} lines in {} ({} discarded: relative time ≥ {}, {:.2} % of cut lines)",
        files.len(),
        by_status
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        stats.lines,
        a.output.display(),
        stats.discarded_lines_max_time,
        spec.max_time(),
        100.0 * stats.discarded_lines_max_time as f64 / kept_and_dropped.max(1) as f64,
    );
    eprintln!(
        "{:.2} s on {jobs} threads: {:.0} files/s, {:.0} notes/s",
        secs,
        files.len() as f64 / secs,
        total_notes as f64 / secs
    );
    Ok(())
}

/// Reads the id lines of a detokenize input and the vocabulary to read them with.
fn read_id_lines(a: &DetokenizeArgs) -> Result<(Vec<Vec<u32>>, VocabSpec)> {
    let is_bin = a.input.extension().is_some_and(|e| e == "bin");
    if !is_bin {
        let text = std::fs::read_to_string(&a.input)
            .with_context(|| format!("reading {}", a.input.display()))?;
        let mut lines = Vec::new();
        for (n, l) in text.lines().enumerate() {
            let ids = l
                .split_whitespace()
                .map(|x| x.parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("line {}: not a list of ids", n + 1))?;
            if !ids.is_empty() {
                lines.push(ids);
            }
        }
        return Ok((lines, a.vocab.clone().unwrap_or_else(VocabSpec::amt)));
    }
    let index_path = a.input.with_extension("json");
    let index: Option<serde_json::Value> = match std::fs::read_to_string(&index_path) {
        Ok(t) => Some(
            serde_json::from_str(&t)
                .with_context(|| format!("parsing {}", index_path.display()))?,
        ),
        Err(_) => None,
    };
    let spec = match (&a.vocab, &index) {
        (Some(v), _) => v.clone(),
        (None, Some(ix)) => VocabSpec::from_json(&ix["vocab"].to_string())
            .with_context(|| format!("vocab in {}", index_path.display()))?,
        (None, None) => VocabSpec::amt(),
    };
    let itemsize = match index.as_ref().and_then(|ix| ix["dtype"].as_str()) {
        Some("<u2") => 2,
        Some("<u4") => 4,
        Some(other) => bail!("unknown dtype {other} in {}", index_path.display()),
        None => dtype_for(&spec).1,
    };
    let bytes =
        std::fs::read(&a.input).with_context(|| format!("reading {}", a.input.display()))?;
    let line_bytes = LINE_TOKENS * itemsize;
    if !bytes.len().is_multiple_of(line_bytes) {
        bail!(
            "{} bytes is not a whole number of {}-byte lines",
            bytes.len(),
            line_bytes
        );
    }
    let lines = bytes
        .chunks_exact(line_bytes)
        .map(|l| {
            l.chunks_exact(itemsize)
                .map(|b| match itemsize {
                    2 => u16::from_le_bytes([b[0], b[1]]) as u32,
                    _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                })
                .collect()
        })
        .collect();
    Ok((lines, spec))
}

fn run_detokenize(a: DetokenizeArgs) -> Result<()> {
    let (mut lines, spec) = read_id_lines(&a)?;
    if let Some(n) = a.line {
        if n >= lines.len() {
            bail!("line {n} requested, the input has {}", lines.len());
        }
        lines = vec![lines.swap_remove(n)];
    }
    // Each line is its own sequence: drop a leading task flag, join with SEPARATOR triples.
    let mut triples: Vec<Triple> = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let body = match line.first() {
            Some(&first) if spec.is_flag(first) => &line[1..],
            _ => &line[..],
        };
        let t = raw_to_triples(body).with_context(|| format!("line {n}"))?;
        if n > 0 {
            triples.push(spec.separator_triple());
        }
        triples.extend(t);
    }
    let bytes = if a.reference {
        write_reference(&spec, &triples)?
    } else {
        let events = playback_events(&spec, &triples)?;
        let opts = WriteOptions {
            tempo_bpm: a.tempo,
            ..WriteOptions::for_spec(&spec)
        };
        let midi = write_events(&spec, &events, &opts)?;
        if midi.lane_conflicts + midi.channel_steals > 0 {
            eprintln!(
                "note: {} same-pitch overlaps shared a channel, {} channel steals (more than 15 instruments at once)",
                midi.lane_conflicts, midi.channel_steals
            );
        }
        midi.bytes
    };
    std::fs::write(&a.output, &bytes).with_context(|| format!("writing {}", a.output.display()))?;
    eprintln!("{} triples → {}", triples.len(), a.output.display());
    Ok(())
}
