//! Training lines (SPEC §7): the file filter, the task mix, and cutting the concatenated token
//! stream into fixed lines, for any vocabulary.
//!
//! Pure and single-threaded: a caller may prepare files in parallel with [`prepare_file`]
//! (each with its own [`SplitMix64`] from [`SplitMix64::for_item`]) and feed the results in
//! file order to one [`LinePacker`]; the output is then the same for any number of threads.
//! With augment factor 1 (every sequence autoregressive) the lines equal the reference's
//! `tokenize.tokenize` token for token.

use thiserror::Error;

use super::anticipation::{
    anticipate_into, extract_instruments, extract_mask, extract_random, extract_spans, Extracted,
};
use super::events::{Event, TokenId, Triple};
use super::midi::NoteSource;
use super::ops::{self, OpsError};
use super::parts::melody_track;
use super::rng::SplitMix64;
use super::vocab::{VocabKind, VocabSpec};

/// SPEC §2.1: CONTEXT_SIZE, tokens per training line (flag + 341 triples).
pub const LINE_TOKENS: usize = 1024;
/// SPEC §2.1: M = 341 triples per line.
pub const LINE_TRIPLES: usize = (LINE_TOKENS - 1) / 3;

/// Filter thresholds and task-mix constants of a vocabulary's training data.
#[derive(Clone, Debug, PartialEq)]
pub struct PackConfig {
    /// Fewer notes than this: too short (SPEC §7.1: MIN_TRACK_EVENTS = 100).
    pub min_notes: usize,
    /// A piece whose last onset is earlier: too short (SPEC §7.1: 10 s = 1000 ticks).
    pub min_end_ticks: i64,
    /// A piece whose last onset is later: too long (SPEC §7.1: 1 h = 360000 ticks).
    pub max_end_ticks: i64,
    /// More instruments than this (REST excluded: it is not padded yet): rejected
    /// (SPEC §7.1: MAX_TRACK_INSTR = 16).
    pub max_instruments: usize,
    /// Mean gap between anticipated spans (SPEC §6.2: 1/λ = 20 s = 2000 ticks).
    pub span_mean_gap_ticks: f64,
    /// Length of an anticipated span (SPEC §6.2: DELTA = 500 ticks).
    pub span_ticks: i64,
}

impl PackConfig {
    /// The reference's constants (SPEC §7.1, §6.2).
    pub fn amt() -> PackConfig {
        PackConfig {
            min_notes: 100,
            min_end_ticks: 1000,
            max_end_ticks: 360_000,
            max_instruments: 16,
            span_mean_gap_ticks: 2000.0,
            span_ticks: 500,
        }
    }

    /// The same rules for `beats`, converted at 120 quarter notes per minute (the tempo at
    /// which AMT's 1 s is 2 quarters): at least 20 quarters long, at most 7200 (1 h), spans of
    /// `delta_ticks` with a mean gap of 40 quarters (20 s).
    pub fn beats(spec: &VocabSpec) -> PackConfig {
        let q = spec.ticks_per_unit() as i64;
        PackConfig {
            min_notes: 100,
            min_end_ticks: 20 * q,
            max_end_ticks: 7200 * q,
            max_instruments: 16,
            span_mean_gap_ticks: 40.0 * q as f64,
            span_ticks: spec.delta_ticks() as i64,
        }
    }

    /// The preset for the vocabulary's kind.
    pub fn for_spec(spec: &VocabSpec) -> PackConfig {
        match spec.kind() {
            VocabKind::Amt => PackConfig::amt(),
            VocabKind::Beats => PackConfig::beats(spec),
        }
    }
}

/// Why a file does or does not enter training (SPEC §7.1, the reference's status codes).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FileStatus {
    /// Accepted (status 0).
    Accepted,
    /// Too few notes or too short (status 1).
    TooShort,
    /// Longer than the limit (status 2).
    TooLong,
    /// Too many instruments (status 3).
    TooManyInstruments,
}

impl FileStatus {
    /// The reference's `maybe_tokenize` status code.
    pub fn code(self) -> u8 {
        match self {
            FileStatus::Accepted => 0,
            FileStatus::TooShort => 1,
            FileStatus::TooLong => 2,
            FileStatus::TooManyInstruments => 3,
        }
    }

    /// A short name for logs and the corpus index.
    pub fn name(self) -> &'static str {
        match self {
            FileStatus::Accepted => "accepted",
            FileStatus::TooShort => "too_short",
            FileStatus::TooLong => "too_long",
            FileStatus::TooManyInstruments => "too_many_instruments",
        }
    }
}

/// `maybe_tokenize` (SPEC §7.1): checks, in the reference's order, note count, end time (too
/// short, too long) and instrument count.
pub fn filter_file(spec: &VocabSpec, config: &PackConfig, events: &[Triple]) -> FileStatus {
    if events.len() < config.min_notes {
        return FileStatus::TooShort;
    }
    let end = ops::max_time(spec, events, None);
    if end < config.min_end_ticks {
        return FileStatus::TooShort;
    }
    if end > config.max_end_ticks {
        return FileStatus::TooLong;
    }
    if ops::get_instruments(spec, events).len() > config.max_instruments {
        return FileStatus::TooManyInstruments;
    }
    FileStatus::Accepted
}

/// The training task of one augmentation (SPEC §7.2, by `k mod 10`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    /// k mod 10 = 0: plain autoregressive, AUTOREGRESS flag.
    Autoregressive,
    /// k mod 10 = 1: anticipated spans.
    Span,
    /// k mod 10 = 2…5: each event a control with probability `rate_tenths/10` (1 … 9).
    Random {
        /// Probability in tenths.
        rate_tenths: u32,
    },
    /// k mod 10 = 6…9: a random proper subset of the instruments become controls (none if the
    /// file has one instrument; the flag is still ANTICIPATE).
    Instrument {
        /// The instruments chosen.
        subset: Vec<u32>,
    },
    /// Accompaniment (an Antiphon extension, drawn with probability
    /// [`AugmentConfig::accompany_share`]): the notes of the melody track become controls and
    /// every other part stays events (ANTICIPATE flag).
    Accompany {
        /// The melody's track index ([`melody_track`]).
        melody_track: u16,
    },
}

/// Augmentation options beyond the SPEC §7.2 task mix. [`AugmentConfig::plain`] is the
/// reference's behaviour: no random draw is added, so its output is unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct AugmentConfig {
    /// Sequences per file; augmentation `k` takes the task of `k mod 10` (SPEC §7.2) unless
    /// the accompaniment task is drawn.
    pub augment: usize,
    /// Transpose every non-drum note of augmentation `k` by a number of semitones drawn
    /// uniformly from `lo..=hi` (both ends included); notes leaving 0–127 are dropped.
    /// `None`: no transposition and no draw.
    pub transpose: Option<(i32, i32)>,
    /// Probability that an augmentation becomes the accompaniment task ([`Task::Accompany`])
    /// instead of its `k mod 10` task, for files that have a melody track. 0: never, no draw.
    pub accompany_share: f64,
}

impl AugmentConfig {
    /// `augment` sequences with the reference's task mix only.
    pub fn plain(augment: usize) -> AugmentConfig {
        AugmentConfig {
            augment,
            transpose: None,
            accompany_share: 0.0,
        }
    }
}

/// Errors of packing.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PackError {
    /// An ops precondition failed (the reference asserts).
    #[error(transparent)]
    Ops(#[from] OpsError),
    /// Controls were left after interleaving (the reference asserts none are).
    #[error("{count} controls were not consumed by anticipation")]
    UnconsumedControls {
        /// How many.
        count: usize,
    },
    /// An event outside the vocabulary.
    #[error(transparent)]
    Event(#[from] super::events::EventError),
}

/// One augmentation of a file, ready for the line packer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    /// The task flag (AUTOREGRESS or ANTICIPATE).
    pub flag: TokenId,
    /// Padded events with controls interleaved (no separator yet).
    pub tokens: Vec<Triple>,
    /// REST triples added by padding.
    pub rest_count: usize,
    /// Semitones the notes were transposed by (0 without transposition).
    pub transpose_semitones: i32,
    /// True for the accompaniment task ([`Task::Accompany`]).
    pub accompaniment: bool,
}

/// A file's contribution: its filter status and, if accepted, one sequence per augmentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedFile {
    /// SPEC §7.1 status.
    pub status: FileStatus,
    /// Number of events (notes) in the file.
    pub num_events: usize,
    /// Durations clipped by the event conversion (for statistics).
    pub duration_truncations: usize,
    /// The sequences, in augmentation order.
    pub sequences: Vec<Sequence>,
}

/// Chooses the task of augmentation `k` (SPEC §7.2).
pub fn choose_task(k: usize, instruments: &[u32], rng: &mut SplitMix64) -> Task {
    match k % 10 {
        0 => Task::Autoregressive,
        1 => Task::Span,
        2..=5 => Task::Random {
            // numpy randint(1, 10): 1 … 9.
            rate_tenths: 1 + rng.below(9) as u32,
        },
        _ => {
            if instruments.len() > 1 {
                // 1 + randint(n − 1): between 1 and n − 1, without replacement.
                let n = instruments.len();
                let size = 1 + rng.below(n as u64 - 1) as usize;
                let mut pool = instruments.to_vec();
                for i in 0..size {
                    let j = i + rng.below((n - i) as u64) as usize;
                    pool.swap(i, j);
                }
                pool.truncate(size);
                Task::Instrument { subset: pool }
            } else {
                Task::Instrument { subset: Vec::new() }
            }
        }
    }
}

/// Builds one augmentation (SPEC §7.2): split off controls by task, pad the remaining events
/// up to the end of the **whole** piece, interleave the controls.
pub fn build_sequence(
    spec: &VocabSpec,
    config: &PackConfig,
    events: &[Triple],
    end_ticks: i64,
    task: &Task,
    rng: &mut SplitMix64,
) -> Result<Sequence, PackError> {
    build_sequence_with(spec, config, events, &[], end_ticks, task, rng)
}

/// [`build_sequence`] with each event's source (parallel to `events`), which
/// [`Task::Accompany`] needs to find the melody's notes; other tasks ignore `sources`.
pub fn build_sequence_with(
    spec: &VocabSpec,
    config: &PackConfig,
    events: &[Triple],
    sources: &[NoteSource],
    end_ticks: i64,
    task: &Task,
    rng: &mut SplitMix64,
) -> Result<Sequence, PackError> {
    let (extracted, flag) = match task {
        Task::Autoregressive => (
            Extracted {
                events: events.to_vec(),
                controls: Vec::new(),
            },
            spec.autoregress(),
        ),
        Task::Span => (
            extract_spans(
                spec,
                events,
                config.span_mean_gap_ticks,
                config.span_ticks,
                rng,
            )?,
            spec.anticipate(),
        ),
        Task::Random { rate_tenths } => (
            extract_random(spec, events, *rate_tenths, rng)?,
            spec.anticipate(),
        ),
        Task::Instrument { subset } => (
            extract_instruments(spec, events, subset)?,
            spec.anticipate(),
        ),
        Task::Accompany { melody_track } => {
            debug_assert_eq!(sources.len(), events.len());
            let mask: Vec<bool> = sources.iter().map(|s| s.track == *melody_track).collect();
            (extract_mask(spec, events, &mask)?, spec.anticipate())
        }
    };
    let mut padded = Vec::with_capacity(extracted.events.len() * 2);
    ops::pad_into(
        spec,
        &extracted.events,
        Some(end_ticks),
        spec.rest_density_ticks() as i64,
        &mut padded,
    )?;
    let rest_count = padded.len() - extracted.events.len();
    let mut tokens = Vec::with_capacity(padded.len() + extracted.controls.len());
    let consumed = anticipate_into(
        spec,
        &padded,
        &extracted.controls,
        spec.delta_ticks() as i64,
        &mut tokens,
    )?;
    if consumed < extracted.controls.len() {
        return Err(PackError::UnconsumedControls {
            count: extracted.controls.len() - consumed,
        });
    }
    Ok(Sequence {
        flag: TokenId(flag),
        tokens,
        rest_count,
        transpose_semitones: 0,
        accompaniment: matches!(task, Task::Accompany { .. }),
    })
}

/// Events shifted by `semitones`, drums untouched, notes leaving `0..max_pitch` dropped (with
/// their sources, so the two stay parallel).
pub fn transpose_events(
    spec: &VocabSpec,
    events: &[Event],
    sources: &[NoteSource],
    semitones: i32,
) -> (Vec<Event>, Vec<NoteSource>) {
    let mut out_events = Vec::with_capacity(events.len());
    let mut out_sources = Vec::with_capacity(sources.len());
    for (i, e) in events.iter().enumerate() {
        let mut e = *e;
        if e.instrument != spec.drum_instrument() {
            let p = e.pitch as i64 + semitones as i64;
            if p < 0 || p >= spec.max_pitch() as i64 {
                continue;
            }
            e.pitch = p as u32;
        }
        out_events.push(e);
        if let Some(s) = sources.get(i) {
            out_sources.push(*s);
        }
    }
    (out_events, out_sources)
}

/// Filters a file and builds its `augment` sequences (SPEC §7.2): augmentation `k` gets the
/// task of `k mod 10`. `rng` should be the file's own stream.
pub fn prepare_file(
    spec: &VocabSpec,
    config: &PackConfig,
    events: &[Event],
    duration_truncations: usize,
    augment: usize,
    rng: &mut SplitMix64,
) -> Result<PreparedFile, PackError> {
    let plain = AugmentConfig::plain(augment);
    prepare_file_with(spec, config, events, &[], duration_truncations, &plain, rng)
}

/// [`prepare_file`] with transposition and the accompaniment task ([`AugmentConfig`]).
/// `sources` is parallel to `events` (from [`crate::ReadFile::sources`]); it may be
/// empty when `accompany_share` is 0.
///
/// The filter and the piece's end (for REST padding) come from the untransposed events. Per
/// augmentation the draws are, in order: the transposition (if enabled), the accompaniment
/// draw (if enabled and the file has a melody track), then the task's own draws.
pub fn prepare_file_with(
    spec: &VocabSpec,
    config: &PackConfig,
    events: &[Event],
    sources: &[NoteSource],
    duration_truncations: usize,
    augment: &AugmentConfig,
    rng: &mut SplitMix64,
) -> Result<PreparedFile, PackError> {
    let triples = super::events::encode_events(spec, events)?;
    let status = filter_file(spec, config, &triples);
    let mut out = PreparedFile {
        status,
        num_events: events.len(),
        duration_truncations,
        sequences: Vec::new(),
    };
    if status != FileStatus::Accepted {
        return Ok(out);
    }
    let instruments: Vec<u32> = ops::get_instruments(spec, &triples)
        .into_iter()
        .map(|(code, _)| code)
        .collect();
    let end = ops::max_time(spec, &triples, None);
    let melody = if augment.accompany_share > 0.0 && sources.len() == events.len() {
        melody_track(sources)
    } else {
        None
    };
    for k in 0..augment.augment {
        let semitones = match augment.transpose {
            Some((lo, hi)) if hi > lo => lo + rng.below((hi - lo + 1) as u64) as i32,
            Some((lo, _)) => lo,
            None => 0,
        };
        let accompany = match melody {
            Some(track) if rng.next_f64() < augment.accompany_share => Some(track),
            _ => None,
        };
        let task = match accompany {
            Some(melody_track) => Task::Accompany { melody_track },
            None => choose_task(k, &instruments, rng),
        };
        let mut seq = if semitones == 0 {
            build_sequence_with(spec, config, &triples, sources, end, &task, rng)?
        } else {
            let (ev, src) = transpose_events(spec, events, sources, semitones);
            let shifted = super::events::encode_events(spec, &ev)?;
            build_sequence_with(spec, config, &shifted, &src, end, &task, rng)?
        };
        seq.transpose_semitones = semitones;
        out.sequences.push(seq);
    }
    Ok(out)
}

/// Counters of a packing run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackStats {
    /// Lines written.
    pub lines: u64,
    /// Lines dropped because a relativized time was ≥ `max_time` (SPEC §7.3 step 3).
    pub discarded_lines_max_time: u64,
    /// Sequences pushed.
    pub sequences: u64,
}

/// Concatenates sequences and cuts them into lines (SPEC §7.3).
///
/// Each sequence is prefixed with a SEPARATOR triple. Whenever 341 triples are buffered they
/// become a line: relativized so the time minimum before the first separator is 0, dropped if
/// any time (separators skipped) is ≥ `max_time`, else written after the flag. The flag is the
/// one of the sequence current when the line started: set when a sequence begins with an empty
/// buffer and after each written line (not after a dropped one), as in the reference.
#[derive(Clone, Debug)]
pub struct LinePacker {
    /// The vocabulary.
    spec: VocabSpec,
    /// Buffered triples; `head` marks the first not yet cut.
    buffer: Vec<Triple>,
    /// Index of the first buffered triple not yet cut into a line.
    head: usize,
    /// The flag of the next line.
    flag: TokenId,
    /// Triples pushed so far, separators included (the stream position).
    pushed_triples: u64,
    /// For each cut chunk: its line number if it was written, `None` if dropped.
    chunk_lines: Vec<Option<u64>>,
    /// Counters.
    stats: PackStats,
}

impl LinePacker {
    /// An empty packer.
    pub fn new(spec: VocabSpec) -> LinePacker {
        let flag = TokenId(spec.autoregress());
        LinePacker {
            spec,
            buffer: Vec::new(),
            head: 0,
            flag,
            pushed_triples: 0,
            chunk_lines: Vec::new(),
            stats: PackStats::default(),
        }
    }

    /// Appends one sequence (a separator triple first) and emits every completed line through
    /// `emit` (1024 ids). Returns the stream range `[start, end)` in triples that the sequence
    /// occupies, separator included, for [`LinePacker::lines_of`].
    pub fn push(
        &mut self,
        flag: TokenId,
        tokens: &[Triple],
        mut emit: impl FnMut(&[TokenId]),
    ) -> (u64, u64) {
        if self.head == self.buffer.len() {
            self.flag = flag;
        }
        let start = self.pushed_triples;
        self.buffer.push(self.spec.separator_triple());
        self.buffer.extend_from_slice(tokens);
        self.pushed_triples += 1 + tokens.len() as u64;
        self.stats.sequences += 1;
        let mut line: Vec<TokenId> = Vec::with_capacity(LINE_TOKENS);
        while self.buffer.len() - self.head >= LINE_TRIPLES {
            let chunk = &mut self.buffer[self.head..self.head + LINE_TRIPLES];
            self.head += LINE_TRIPLES;
            let min = ops::min_time(&self.spec, chunk, None);
            ops::translate_in_place(&self.spec, chunk, -min)
                .expect("shifting by the minimum keeps times ≥ 0");
            if ops::max_time(&self.spec, chunk, None) >= self.spec.max_time() as i64 {
                self.stats.discarded_lines_max_time += 1;
                self.chunk_lines.push(None);
                continue;
            }
            line.clear();
            line.push(self.flag);
            for t in chunk.iter() {
                line.extend_from_slice(&t.ids());
            }
            emit(&line);
            self.chunk_lines.push(Some(self.stats.lines));
            self.stats.lines += 1;
            self.flag = flag;
        }
        // Keep the buffer from growing: drop what was cut.
        if self.head > 4096 && self.head * 2 > self.buffer.len() {
            self.buffer.drain(..self.head);
            self.head = 0;
        }
        (start, self.pushed_triples)
    }

    /// Buffered triples that do not yet fill a line (dropped at the end, SPEC §7.3).
    pub fn tail_triples(&self) -> usize {
        self.buffer.len() - self.head
    }

    /// Counters so far.
    pub fn stats(&self) -> &PackStats {
        &self.stats
    }

    /// The written lines `[first, end)` holding any triple of the stream range
    /// `[start, end)` (as returned by [`LinePacker::push`]). Lines dropped for time overflow
    /// and the unfinished tail are not counted. A line that spans a separator belongs to both
    /// sequences.
    pub fn lines_of(&self, range: (u64, u64)) -> (u64, u64) {
        let (start, end) = range;
        if end <= start {
            return (0, 0);
        }
        let first_chunk = (start / LINE_TRIPLES as u64) as usize;
        let last_chunk = ((end - 1) / LINE_TRIPLES as u64) as usize;
        let mut lines = self
            .chunk_lines
            .iter()
            .enumerate()
            .skip(first_chunk)
            .take_while(|(c, _)| *c <= last_chunk)
            .filter_map(|(_, l)| *l);
        match lines.next() {
            None => {
                // The next line to be written, so empty ranges still sort in place.
                let next = self.stats.lines;
                (next, next)
            }
            Some(first) => {
                let last = lines.last().unwrap_or(first);
                (first, last + 1)
            }
        }
    }
}

/// Checks the invariants of one training line (SPEC §7.3, `tests/check-integrity.py`):
/// whole separator triples, at most 16 instruments, event times non-decreasing, control times
/// non-decreasing, and an event after a control no earlier than `control − delta`. Times are
/// classified by the **time** token as the checker does. Returns the first violation.
pub fn check_line(spec: &VocabSpec, line: &[u32], max_instruments: usize) -> Result<(), String> {
    if line.is_empty() {
        return Err("empty line".into());
    }
    let body = &line[1..];
    let seps = body.iter().filter(|&&t| t == spec.separator()).count();
    if !seps.is_multiple_of(3) {
        return Err(format!("{seps} separator tokens"));
    }
    let triples = super::events::raw_to_triples(body).map_err(|e| e.to_string())?;
    let n = ops::get_instruments(spec, &triples).len();
    if n > max_instruments {
        return Err(format!("{n} instruments"));
    }
    let c = spec.control_offset() as i64;
    let mut prev_event = spec.time_offset() as i64;
    let mut prev_control = c + spec.time_offset() as i64;
    let mut after_control = false;
    for (i, t) in triples.iter().enumerate() {
        let time = t.time.0 as i64;
        if t.time.0 == spec.separator() {
            prev_event = spec.time_offset() as i64;
            prev_control = c + spec.time_offset() as i64;
            continue;
        }
        if time < c {
            if time < prev_event {
                return Err(format!("triple {i}: event time {time} after {prev_event}"));
            }
            prev_event = time;
            if after_control {
                if prev_control - c > time + spec.delta_ticks() as i64 {
                    return Err(format!(
                        "triple {i}: event at {time} after control at {}",
                        prev_control - c
                    ));
                }
                after_control = false;
            }
        } else {
            if time < prev_control {
                return Err(format!(
                    "triple {i}: control time {time} after {prev_control}"
                ));
            }
            prev_control = time;
            after_control = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: u32, step: u32) -> Vec<Event> {
        (0..n)
            .map(|i| Event {
                onset_ticks: i * step,
                duration_ticks: 10,
                instrument: i % 3,
                pitch: 60,
            })
            .collect()
    }

    #[test]
    fn filter_rejects_short_files() {
        let spec = VocabSpec::amt();
        let t = super::super::events::encode_events(&spec, &events(99, 50)).unwrap();
        assert_eq!(
            filter_file(&spec, &PackConfig::amt(), &t),
            FileStatus::TooShort
        );
        let t = super::super::events::encode_events(&spec, &events(200, 1)).unwrap();
        assert_eq!(
            filter_file(&spec, &PackConfig::amt(), &t),
            FileStatus::TooShort
        );
        let t = super::super::events::encode_events(&spec, &events(200, 50)).unwrap();
        assert_eq!(
            filter_file(&spec, &PackConfig::amt(), &t),
            FileStatus::Accepted
        );
    }

    #[test]
    fn lines_have_flag_and_relativized_times() {
        let spec = VocabSpec::amt();
        let mut rng = SplitMix64::new(0);
        let f = prepare_file(&spec, &PackConfig::amt(), &events(2000, 20), 0, 1, &mut rng).unwrap();
        let mut packer = LinePacker::new(spec.clone());
        let mut lines = Vec::new();
        let range = packer.push(f.sequences[0].flag, &f.sequences[0].tokens, |l| {
            lines.push(l.to_vec())
        });
        assert!(lines.len() >= 5);
        for l in &lines {
            assert_eq!(l.len(), LINE_TOKENS);
            assert_eq!(l[0], TokenId(spec.autoregress()));
            let raw: Vec<u32> = l.iter().map(|t| t.0).collect();
            check_line(&spec, &raw, 16).unwrap();
        }
        assert_eq!(
            lines[1][1],
            TokenId(0),
            "each line starts at relative time 0"
        );
        assert_eq!(packer.lines_of(range), (0, lines.len() as u64));
    }

    #[test]
    fn augmentation_uses_anticipate_flag_and_consumes_controls() {
        let spec = VocabSpec::beats();
        let config = PackConfig::beats(&spec);
        let mut rng = SplitMix64::new(1);
        let f = prepare_file(&spec, &config, &events(600, 6), 0, 10, &mut rng).unwrap();
        assert_eq!(f.sequences.len(), 10);
        assert_eq!(f.sequences[0].flag, TokenId(spec.autoregress()));
        assert!(f.sequences[1..]
            .iter()
            .all(|s| s.flag == TokenId(spec.anticipate())));
        assert!(f.sequences[2..6]
            .iter()
            .any(|s| s.tokens.iter().any(|t| spec.is_control(t))));
    }

    #[test]
    fn instrument_task_picks_proper_subset() {
        let mut rng = SplitMix64::new(5);
        for _ in 0..50 {
            let Task::Instrument { subset } = choose_task(7, &[1, 2, 3], &mut rng) else {
                panic!()
            };
            assert!((1..=2).contains(&subset.len()));
        }
    }

    /// A two-part file: track 1 (program 68, a voice) plays even steps, track 2 (piano)
    /// odd ones; pitches 60 and 48, with a drum note on track 3 every tenth step.
    fn song(n: u32) -> (Vec<Event>, Vec<NoteSource>) {
        let spec = VocabSpec::beats();
        let mut ev = Vec::new();
        let mut src = Vec::new();
        for i in 0..n {
            let drum = i % 10 == 9;
            ev.push(Event {
                onset_ticks: i * 6,
                duration_ticks: 6,
                instrument: if drum {
                    spec.drum_instrument()
                } else if i % 2 == 0 {
                    spec.instrument_of_program(68)
                } else {
                    0
                },
                pitch: if drum {
                    36
                } else if i % 2 == 0 {
                    60
                } else {
                    48
                },
            });
            src.push(NoteSource {
                track: if drum { 3 } else { 1 + (i % 2) as u16 },
                program: if i % 2 == 0 { 68 } else { 0 },
                is_drum: drum,
            });
        }
        (ev, src)
    }

    /// (instrument code, pitch) of an event or control triple.
    fn instrument_pitch(spec: &VocabSpec, t: &Triple) -> (u32, u32) {
        let mut n = t.note.0;
        if spec.is_control(t) {
            n -= spec.control_offset();
        }
        n -= spec.note_offset();
        (n / spec.max_pitch(), n % spec.max_pitch())
    }

    fn prepare(cfg: &AugmentConfig, seed: u64) -> PreparedFile {
        let spec = VocabSpec::beats();
        let (ev, src) = song(600);
        let mut rng = SplitMix64::new(seed);
        prepare_file_with(
            &spec,
            &PackConfig::beats(&spec),
            &ev,
            &src,
            0,
            cfg,
            &mut rng,
        )
        .unwrap()
    }

    #[test]
    fn plain_augment_config_matches_prepare_file() {
        let spec = VocabSpec::beats();
        let (ev, _) = song(600);
        let mut rng = SplitMix64::new(3);
        let old = prepare_file(&spec, &PackConfig::beats(&spec), &ev, 0, 10, &mut rng).unwrap();
        assert_eq!(prepare(&AugmentConfig::plain(10), 3), old);
    }

    #[test]
    fn transposition_shifts_pitched_notes_and_spares_drums() {
        let spec = VocabSpec::beats();
        let cfg = AugmentConfig {
            augment: 40,
            transpose: Some((-5, 6)),
            accompany_share: 0.0,
        };
        let f = prepare(&cfg, 7);
        let shifts: std::collections::BTreeSet<i32> =
            f.sequences.iter().map(|s| s.transpose_semitones).collect();
        assert!(shifts.iter().all(|s| (-5..=6).contains(s)));
        assert!(shifts.len() >= 8, "draws cover the range: {shifts:?}");
        for s in &f.sequences {
            let mut pitches = std::collections::BTreeSet::new();
            for t in s.tokens.iter().filter(|t| !spec.is_rest(t)) {
                let (instrument, pitch) = instrument_pitch(&spec, t);
                pitches.insert((instrument == spec.drum_instrument(), pitch));
            }
            let k = s.transpose_semitones;
            let want: std::collections::BTreeSet<_> = [
                (false, (60 + k) as u32),
                (false, (48 + k) as u32),
                (true, 36),
            ]
            .into();
            assert_eq!(pitches, want, "shift {k}");
        }
    }

    #[test]
    fn transposition_drops_notes_leaving_the_range() {
        let spec = VocabSpec::beats();
        let ev = [
            Event {
                onset_ticks: 0,
                duration_ticks: 1,
                instrument: 0,
                pitch: 2,
            },
            Event {
                onset_ticks: 1,
                duration_ticks: 1,
                instrument: 0,
                pitch: 126,
            },
        ];
        let (down, _) = transpose_events(&spec, &ev, &[], -3);
        assert_eq!(down.iter().map(|e| e.pitch).collect::<Vec<_>>(), [123]);
        let (up, _) = transpose_events(&spec, &ev, &[], 2);
        assert_eq!(up.iter().map(|e| e.pitch).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn accompaniment_makes_the_melody_track_controls() {
        let spec = VocabSpec::beats();
        let cfg = AugmentConfig {
            augment: 20,
            transpose: None,
            accompany_share: 0.5,
        };
        let f = prepare(&cfg, 11);
        let acc: Vec<&Sequence> = f.sequences.iter().filter(|s| s.accompaniment).collect();
        assert!(!acc.is_empty() && acc.len() < 20, "{} of 20", acc.len());
        let voice = spec.instrument_of_program(68);
        for s in acc {
            assert_eq!(s.flag, TokenId(spec.anticipate()));
            let controls: Vec<&Triple> = s.tokens.iter().filter(|t| spec.is_control(t)).collect();
            assert_eq!(controls.len(), 300, "every melody note is a control");
            for c in controls {
                assert_eq!(spec.instrument_of(c), Some(voice));
            }
            let events = s
                .tokens
                .iter()
                .filter(|t| !spec.is_control(t) && !spec.is_rest(t));
            assert!(events
                .into_iter()
                .all(|t| spec.instrument_of(t) != Some(voice)));
        }
    }

    #[test]
    fn accompaniment_by_track_separates_parts_sharing_a_code() {
        // Two violins (program 40, one instrument code) on tracks 1 and 2.
        let spec = VocabSpec::beats();
        let (mut ev, mut src) = song(400);
        for (e, s) in ev.iter_mut().zip(src.iter_mut()) {
            if !s.is_drum {
                e.instrument = spec.instrument_of_program(40);
                s.program = 40;
            }
        }
        let triples = super::super::events::encode_events(&spec, &ev).unwrap();
        let task = Task::Accompany { melody_track: 1 };
        let mut rng = SplitMix64::new(0);
        let cfg = PackConfig::beats(&spec);
        let s = build_sequence_with(&spec, &cfg, &triples, &src, 2400, &task, &mut rng).unwrap();
        let controls = s.tokens.iter().filter(|t| spec.is_control(t)).count();
        let violin_events = s
            .tokens
            .iter()
            .filter(|t| {
                !spec.is_control(t) && spec.instrument_of(t) == Some(spec.instrument_of_program(40))
            })
            .count();
        assert_eq!((controls, violin_events), (200, 160));
    }

    #[test]
    fn files_without_melody_keep_the_reference_tasks() {
        let spec = VocabSpec::beats();
        let (ev, mut src) = song(600);
        for s in &mut src {
            s.track = 1;
        }
        let cfg = AugmentConfig {
            augment: 10,
            transpose: None,
            accompany_share: 1.0,
        };
        let mut rng = SplitMix64::new(2);
        let f = prepare_file_with(
            &spec,
            &PackConfig::beats(&spec),
            &ev,
            &src,
            0,
            &cfg,
            &mut rng,
        )
        .unwrap();
        assert!(f.sequences.iter().all(|s| !s.accompaniment));
    }

    #[test]
    fn check_line_catches_event_too_far_after_control() {
        let spec = VocabSpec::amt();
        let line = [55027, 27513 + 900, 37513, 38573, 0, 10000, 11060];
        assert!(check_line(&spec, &line, 16).is_err());
    }
}
