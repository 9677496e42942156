//! Standard MIDI File bytes → notes → events (SPEC §3), on midly's event parser.
//!
//! Pure: reads a borrowed byte slice, never a path. The container (header and chunk
//! boundaries) is checked here so that truncated files, type-2 files, absurd headers and
//! garbage give a [`MidiError`] instead of midly's silent truncation; midly parses the events
//! of each track, and any event it cannot parse is an error too. Nothing here panics on input.
//!
//! The reader reproduces mido's merged playback stream exactly (SPEC §3.1): every message of
//! every track except `end_of_track`, stably sorted by absolute tick (ties in track order, then
//! file order), with a double-precision clock that adds `delta · (tempo·1e‑6 / tpq)` once per
//! message whose tick differs from the previous one.

use midly::{MetaMessage, MidiMessage, TrackEventKind};
use thiserror::Error;

use super::events::Event;
use super::notes::{GmInstrument, Note};
use super::vocab::{VocabKind, VocabSpec};

/// Errors of reading a MIDI file. Each names what was wrong and where.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MidiError {
    /// The bytes do not start with an `MThd` chunk.
    #[error("not a Standard MIDI File (no MThd header)")]
    NotMidi,
    /// A chunk claims more bytes than the file has.
    #[error("file is truncated: {what} needs {needed} bytes at offset {offset}, {available} left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Byte offset in the file.
        offset: usize,
        /// Bytes the chunk declares.
        needed: u64,
        /// Bytes left in the file.
        available: usize,
    },
    /// The header chunk is shorter than the 6 bytes it must hold.
    #[error("MThd chunk is {len} bytes long, needs at least 6")]
    ShortHeader {
        /// Declared header length.
        len: u32,
    },
    /// Type-2 files hold independent sequences that cannot be merged (SPEC §3.1; mido raises
    /// TypeError).
    #[error("type-2 (asynchronous) MIDI files cannot be merged into one stream")]
    Type2,
    /// A format number other than 0, 1, 2.
    #[error("unknown MIDI file format {0}")]
    UnknownFormat(u16),
    /// SMPTE time-code division: the reference's clock needs ticks per quarter note.
    #[error("SMPTE time-code division (0x{0:04x}) is not supported; need ticks per quarter note")]
    TimecodeDivision(u16),
    /// Zero ticks per quarter note: no time could be computed.
    #[error("header gives 0 ticks per quarter note")]
    ZeroTicksPerQuarter,
    /// Fewer track chunks than the header declares (mido raises EOFError).
    #[error("header declares {declared} tracks but the file holds {found}")]
    MissingTracks {
        /// Tracks declared in the header.
        declared: u16,
        /// `MTrk` chunks found.
        found: u16,
    },
    /// An event midly cannot parse (bad running status, truncated message, bad varlen…).
    #[error("track {track}: malformed event at byte {offset} of the track chunk")]
    MalformedEvent {
        /// Track index (0-based).
        track: usize,
        /// Byte offset of the event inside the track's data.
        offset: usize,
    },
    /// A note so late that its time no longer fits the token range.
    #[error("onset at {seconds:.1} s / tick {tick} is beyond the longest supported file")]
    TooLong {
        /// The MIDI tick.
        tick: u64,
        /// The playback time.
        seconds: f64,
    },
}

/// What the header and the merged stream say about a file.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct MidiInfo {
    /// SMF format: 0 or 1 (2 is rejected).
    pub format: u16,
    /// Ticks per quarter note (the header's division).
    pub ticks_per_quarter: u16,
    /// Number of track chunks read (the header's count).
    pub num_tracks: usize,
    /// Playback length in seconds, as mido's `MidiFile.length` computes it: the clock at the
    /// last message, `end_of_track` included.
    pub length_seconds: f64,
    /// Number of messages kept in the merged stream: `end_of_track` is dropped, and so is an
    /// ignored message at the same tick as the previous kept message of its track (it cannot
    /// change the clock).
    pub num_messages: usize,
}

/// A message of the merged stream, reduced to what tokenization reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// `note_on` (velocity 0 included: the reader treats it as an offset, SPEC §3.3).
    NoteOn {
        /// Channel 0–15.
        channel: u8,
        /// Key 0–127.
        key: u8,
        /// Velocity 0–127.
        velocity: u8,
    },
    /// `note_off`.
    NoteOff {
        /// Channel 0–15.
        channel: u8,
        /// Key 0–127.
        key: u8,
    },
    /// `program_change`.
    Program {
        /// Channel 0–15.
        channel: u8,
        /// GM program 0–127.
        program: u8,
    },
    /// `set_tempo`, microseconds per quarter note.
    Tempo(u32),
    /// Any other message. It still advances the clock (SPEC §3.1).
    Other,
}

/// One message of the merged stream with its time.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct MergedMessage {
    /// Absolute MIDI tick.
    pub tick: u64,
    /// Seconds since the previous merged message (0.0 when the tick did not change).
    pub delta_seconds: f64,
    /// Clock after adding `delta_seconds` (SPEC §3.1 `now_seconds`).
    pub seconds: f64,
    /// Index of the track chunk the message came from (0-based, file order).
    pub track: u16,
    /// What the message is.
    pub kind: MessageKind,
}

/// SPEC §3.1: mido's default tempo, 500000 µs per quarter (120 bpm).
pub const DEFAULT_TEMPO_US: u32 = 500_000;

/// A parsed file: the header and the merged messages in playback order.
///
/// Built by [`parse`]; owns only a `Vec` of small records.
#[derive(Clone, Debug)]
pub struct MidiStream {
    /// Header facts and length.
    info: MidiInfo,
    /// Merged messages with their track index, `end_of_track` removed; sorted by tick, ties in
    /// track then file order.
    messages: Vec<(u64, u16, MessageKind)>,
    /// Highest tick of any `end_of_track`, which extends the length (mido's final EOT).
    last_end_of_track_tick: u64,
}

/// The chunk structure of a file, before any event is parsed.
struct Container<'a> {
    /// SMF format (0 or 1).
    format: u16,
    /// Ticks per quarter note.
    division: u16,
    /// The data of the first `ntrks` MTrk chunks, in file order.
    tracks: Vec<&'a [u8]>,
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// Checks the chunk structure and returns the track chunks the header declares.
fn read_container(bytes: &[u8]) -> Result<Container<'_>, MidiError> {
    if bytes.len() < 8 || &bytes[..4] != b"MThd" {
        return Err(MidiError::NotMidi);
    }
    let header_len = read_u32(bytes, 4);
    if header_len < 6 {
        return Err(MidiError::ShortHeader { len: header_len });
    }
    if header_len as u64 > (bytes.len() - 8) as u64 {
        return Err(MidiError::Truncated {
            what: "MThd chunk",
            offset: 8,
            needed: header_len as u64,
            available: bytes.len() - 8,
        });
    }
    let format = read_u16(bytes, 8);
    let declared = read_u16(bytes, 10);
    let division = read_u16(bytes, 12);
    match format {
        0 | 1 => {}
        2 => return Err(MidiError::Type2),
        f => return Err(MidiError::UnknownFormat(f)),
    }
    if division & 0x8000 != 0 {
        return Err(MidiError::TimecodeDivision(division));
    }
    if division == 0 {
        return Err(MidiError::ZeroTicksPerQuarter);
    }
    let mut tracks = Vec::with_capacity(declared as usize);
    let mut at = 8 + header_len as usize;
    while tracks.len() < declared as usize {
        if at == bytes.len() {
            return Err(MidiError::MissingTracks {
                declared,
                found: tracks.len() as u16,
            });
        }
        if bytes.len() - at < 8 {
            return Err(MidiError::Truncated {
                what: "chunk header",
                offset: at,
                needed: 8,
                available: bytes.len() - at,
            });
        }
        let id = &bytes[at..at + 4];
        let len = read_u32(bytes, at + 4) as u64;
        let start = at + 8;
        if len > (bytes.len() - start) as u64 {
            return Err(MidiError::Truncated {
                what: "track chunk",
                offset: start,
                needed: len,
                available: bytes.len() - start,
            });
        }
        let end = start + len as usize;
        // SMF 1.0: chunks of unknown type are skipped; only MTrk counts as a track.
        if id == b"MTrk" {
            tracks.push(&bytes[start..end]);
        }
        at = end;
    }
    Ok(Container {
        format,
        division,
        tracks,
    })
}

/// Parses a MIDI file into its merged message stream (SPEC §3.1 steps 1–3).
///
/// Borrows the bytes only while parsing. Errors instead of guessing on any damage.
pub fn parse(bytes: &[u8]) -> Result<MidiStream, MidiError> {
    let container = read_container(bytes)?;
    let mut messages: Vec<(u64, u16, MessageKind)> = Vec::with_capacity(bytes.len() / 3);
    let mut last_eot = 0u64;
    for (track_idx, data) in container.tracks.iter().enumerate() {
        let mut tick = 0u64;
        let mut iter = midly::EventIter::new(data);
        // The last tick pushed from this track: an `Other` message at that same tick adds
        // nothing to the clock (SPEC §3.1 adds only when the tick changes), so it is not kept.
        let mut last_pushed: Option<u64> = None;
        loop {
            let remaining = iter.unread().len();
            let event = match iter.next() {
                Some(Ok(ev)) => ev,
                // Without midly's `strict` feature a parse failure ends the iterator early; a
                // `None` with bytes left is that failure.
                Some(Err(_)) => {
                    return Err(MidiError::MalformedEvent {
                        track: track_idx,
                        offset: data.len() - remaining,
                    })
                }
                None if remaining > 0 => {
                    return Err(MidiError::MalformedEvent {
                        track: track_idx,
                        offset: data.len() - remaining,
                    })
                }
                None => break,
            };
            tick += event.delta.as_int() as u64;
            let kind = match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    let channel = channel.as_int();
                    match message {
                        MidiMessage::NoteOn { key, vel } => MessageKind::NoteOn {
                            channel,
                            key: key.as_int(),
                            velocity: vel.as_int(),
                        },
                        MidiMessage::NoteOff { key, .. } => MessageKind::NoteOff {
                            channel,
                            key: key.as_int(),
                        },
                        MidiMessage::ProgramChange { program } => MessageKind::Program {
                            channel,
                            program: program.as_int(),
                        },
                        _ => MessageKind::Other,
                    }
                }
                TrackEventKind::Meta(MetaMessage::Tempo(t)) => MessageKind::Tempo(t.as_int()),
                TrackEventKind::Meta(MetaMessage::EndOfTrack) => {
                    // SPEC §3.1 step 2: end_of_track leaves the stream; its delta folds into the
                    // next message, so the other messages' absolute ticks are unchanged.
                    last_eot = last_eot.max(tick);
                    continue;
                }
                _ => MessageKind::Other,
            };
            if kind == MessageKind::Other && last_pushed == Some(tick) {
                continue;
            }
            last_pushed = Some(tick);
            // At most 65535 tracks: the header's count is a u16.
            messages.push((tick, track_idx as u16, kind));
        }
    }
    // SPEC §3.1 step 3: stable sort by absolute tick; tracks were appended in order.
    messages.sort_by_key(|&(tick, _, _)| tick);
    let mut stream = MidiStream {
        info: MidiInfo {
            format: container.format,
            ticks_per_quarter: container.division,
            num_tracks: container.tracks.len(),
            length_seconds: 0.0,
            num_messages: messages.len(),
        },
        messages,
        last_end_of_track_tick: last_eot,
    };
    stream.info.length_seconds = stream.compute_length();
    Ok(stream)
}

impl MidiStream {
    /// Header facts and playback length.
    pub fn info(&self) -> &MidiInfo {
        &self.info
    }

    /// Walks the merged stream with the reference clock (SPEC §3.1 step 4).
    ///
    /// `seconds` is accumulated in f64, one addition per message whose tick differs from the
    /// previous message's, with the tempo in force before the message; a `set_tempo` changes
    /// the tempo for the intervals after it, whatever its track.
    pub fn messages(&self) -> impl Iterator<Item = MergedMessage> + '_ {
        let tpq = self.info.ticks_per_quarter as f64;
        let mut tempo = DEFAULT_TEMPO_US;
        let mut now = 0.0f64;
        let mut prev_tick = 0u64;
        self.messages.iter().map(move |&(tick, track, kind)| {
            let delta_ticks = tick - prev_tick;
            prev_tick = tick;
            let delta_seconds = if delta_ticks > 0 {
                // SPEC §3.1: delta · ((tempo · 1e-6) / ticks_per_beat), in this order.
                delta_ticks as f64 * ((tempo as f64 * 1e-6) / tpq)
            } else {
                0.0
            };
            now += delta_seconds;
            if let MessageKind::Tempo(t) = kind {
                tempo = t;
            }
            MergedMessage {
                tick,
                delta_seconds,
                seconds: now,
                track,
                kind,
            }
        })
    }

    fn compute_length(&self) -> f64 {
        let mut last = None;
        let mut tempo = DEFAULT_TEMPO_US;
        for m in self.messages() {
            if let MessageKind::Tempo(t) = m.kind {
                tempo = t;
            }
            last = Some(m);
        }
        let (tick, seconds) = last.map_or((0, 0.0), |m| (m.tick, m.seconds));
        // mido appends one end_of_track carrying the delta of the trailing ones.
        if self.last_end_of_track_tick > tick {
            let delta = (self.last_end_of_track_tick - tick) as f64;
            seconds + delta * ((tempo as f64 * 1e-6) / self.info.ticks_per_quarter as f64)
        } else {
            seconds
        }
    }
}

/// One note as the file plays it, before any vocabulary rounding.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct PlayedNote {
    /// Tick of the onset.
    pub onset_tick: u64,
    /// Clock at the onset, seconds (SPEC §3.1).
    pub onset_seconds: f64,
    /// Tick and clock of the matched offset, or `None` if the note was never closed.
    pub offset: Option<(u64, f64)>,
    /// Channel 0–15 (9 is drums).
    pub channel: u8,
    /// The channel's program at the onset (0 if none was set).
    pub program: u8,
    /// Key 0–127.
    pub pitch: u8,
    /// Note-on velocity 1–127.
    pub velocity: u8,
    /// Index of the track chunk holding the note-on (0-based, file order). Lets a caller pick
    /// a part by track where instrument codes cannot (violin I and II share one code).
    pub track: u16,
}

impl PlayedNote {
    /// True if the note is on MIDI channel 10 (0-based 9), which SPEC §3.2 makes drums.
    pub fn is_drum(&self) -> bool {
        self.channel == DRUM_CHANNEL
    }

    /// Where the note came from: its track, program and drum flag.
    pub fn source(&self) -> NoteSource {
        NoteSource {
            track: self.track,
            program: self.program,
            is_drum: self.is_drum(),
        }
    }
}

/// Where a note came from in its file, kept beside its event so that a part can be chosen by
/// track (the melody of a song, the first violin of a quartet) after the vocabulary has merged
/// programs into instrument codes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoteSource {
    /// Index of the track chunk (0-based, file order).
    pub track: u16,
    /// The channel's GM program at the onset.
    pub program: u8,
    /// On the drum channel.
    pub is_drum: bool,
}

/// SPEC §3.2: channel 9 (0-based) is drums, whatever its program.
pub const DRUM_CHANNEL: u8 = 9;

/// How note-offs find their note-on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Pairing {
    /// SPEC §3.3: FIFO per (instrument at the note-off, pitch, channel), the instrument being
    /// the channel's program (drums on channel 9 key as one instrument). A note-off after a
    /// program change looks up the new program and may match nothing (file 08).
    Reference,
    /// FIFO per (pitch, channel): a program change does not stop a sounding note on any
    /// synthesizer, so it does not orphan the note-off either.
    ChannelPitch,
}

/// Scratch buffers for reading many files without reallocating.
#[derive(Default, Debug)]
pub struct NoteReader {
    /// Open notes per lane (`channel·128 + pitch`), oldest first: indices into the output.
    lanes: Vec<std::collections::VecDeque<(u32, u32)>>,
}

impl NoteReader {
    /// A reader with empty buffers.
    pub fn new() -> NoteReader {
        NoteReader {
            lanes: vec![std::collections::VecDeque::new(); 16 * 128],
        }
    }

    /// Pairs note-ons with note-offs in the merged stream, appending to `out` in onset order
    /// (SPEC §3.3: simultaneous onsets keep track, then file order).
    ///
    /// `pairing` decides which open note a note-off closes.
    pub fn read_notes(&mut self, stream: &MidiStream, pairing: Pairing, out: &mut Vec<PlayedNote>) {
        if self.lanes.len() != 16 * 128 {
            self.lanes = vec![std::collections::VecDeque::new(); 16 * 128];
        }
        for lane in &mut self.lanes {
            lane.clear();
        }
        let base = out.len();
        // SPEC §3.2: every channel starts at program 0.
        let mut programs = [0u8; 16];
        let key_of = |channel: u8, program: u8| -> u32 {
            match pairing {
                Pairing::ChannelPitch => 0,
                Pairing::Reference => {
                    if channel == DRUM_CHANNEL {
                        u32::MAX
                    } else {
                        program as u32
                    }
                }
            }
        };
        for m in stream.messages() {
            match m.kind {
                MessageKind::Program { channel, program } => programs[channel as usize] = program,
                MessageKind::NoteOn {
                    channel,
                    key,
                    velocity,
                } if velocity > 0 => {
                    let idx = (out.len() - base) as u32;
                    out.push(PlayedNote {
                        onset_tick: m.tick,
                        onset_seconds: m.seconds,
                        offset: None,
                        channel,
                        program: programs[channel as usize],
                        pitch: key,
                        velocity,
                        track: m.track,
                    });
                    let lane = &mut self.lanes[channel as usize * 128 + key as usize];
                    lane.push_back((key_of(channel, programs[channel as usize]), idx));
                }
                MessageKind::NoteOn { channel, key, .. }
                | MessageKind::NoteOff { channel, key } => {
                    let want = key_of(channel, programs[channel as usize]);
                    let lane = &mut self.lanes[channel as usize * 128 + key as usize];
                    // SPEC §3.3: pop the oldest open note of this key; none → ignore the offset.
                    if let Some(pos) = lane.iter().position(|&(k, _)| k == want) {
                        let (_, idx) = lane.remove(pos).expect("position is in range");
                        out[base + idx as usize].offset = Some((m.tick, m.seconds));
                    }
                }
                MessageKind::Tempo(_) | MessageKind::Other => {}
            }
        }
    }
}

/// A compound record (SPEC §3.3): one note in vocabulary ticks, velocity kept.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompoundNote {
    /// Onset in vocabulary ticks (not clipped, SPEC §3.4).
    pub onset_ticks: u32,
    /// Duration in vocabulary ticks before clipping, or `None` if never closed (the
    /// reference's −1).
    pub duration_ticks: Option<u32>,
    /// Key 0–127.
    pub pitch: u32,
    /// Instrument code of the vocabulary.
    pub instrument: u32,
    /// Note-on velocity.
    pub velocity: u32,
}

/// `amt` rounding of a clock value (SPEC §3.3): half to even on `ticks_per_unit · seconds`.
#[inline]
pub fn seconds_to_ticks(seconds: f64, ticks_per_second: u32) -> f64 {
    (ticks_per_second as f64 * seconds).round_ties_even()
}

/// `beats` rounding of a MIDI tick to vocabulary ticks: nearest, ties to the later tick.
///
/// `round(tick · ticks_per_quarter / file_tpq)` computed exactly in integers, so the rule does
/// not depend on float representation. Ties (a position exactly halfway between two grid
/// ticks, e.g. 20 of 40 file ticks at 480 tpq) go up, matching how a score reads a note that
/// is "on the and".
#[inline]
pub fn quantize_tick(tick: u64, ticks_per_quarter: u32, file_tpq: u16) -> u64 {
    let num = tick as u128 * ticks_per_quarter as u128 * 2 + file_tpq as u128;
    let q = num / (2 * file_tpq as u128);
    q.min(u64::MAX as u128) as u64
}

/// The pairing rule a vocabulary reads MIDI with: the reference's for `amt`, by (channel,
/// pitch) for `beats` (see [`Pairing::ChannelPitch`]).
pub fn pairing_for(spec: &VocabSpec) -> Pairing {
    match spec.kind() {
        VocabKind::Amt => Pairing::Reference,
        VocabKind::Beats => Pairing::ChannelPitch,
    }
}

/// The instrument code of a played note in `spec` (drums → `drum_instrument`).
pub fn instrument_of(spec: &VocabSpec, note: &PlayedNote) -> u32 {
    if note.is_drum() {
        spec.drum_instrument()
    } else {
        spec.instrument_of_program(note.program)
    }
}

/// Converts played notes to compound records in `spec`'s ticks, appending to `out`.
///
/// `amt` (SPEC §3.3): onset = round-half-even(100 · seconds); duration from the float
/// difference of the clocks. `beats`: onset = [`quantize_tick`] of the onset tick; duration =
/// quantized offset − quantized onset, so note ends stay on the grid. Tempo is ignored.
pub fn to_compound(
    spec: &VocabSpec,
    info: &MidiInfo,
    notes: &[PlayedNote],
    out: &mut Vec<CompoundNote>,
) -> Result<(), MidiError> {
    out.reserve(notes.len());
    let limit = spec.max_abs_time_ticks() as f64;
    for n in notes {
        let (onset, duration) = match spec.kind() {
            VocabKind::Amt => {
                let tps = spec.ticks_per_unit();
                let onset = seconds_to_ticks(n.onset_seconds, tps);
                let duration = n
                    .offset
                    .map(|(_, off)| seconds_to_ticks(off - n.onset_seconds, tps));
                (onset, duration)
            }
            VocabKind::Beats => {
                let q = |t| quantize_tick(t, spec.ticks_per_unit(), info.ticks_per_quarter) as f64;
                let onset = q(n.onset_tick);
                (onset, n.offset.map(|(off, _)| q(off) - onset))
            }
        };
        // Also catches NaN and infinity from absurd tempos.
        if onset.is_nan() || onset >= limit {
            return Err(MidiError::TooLong {
                tick: n.onset_tick,
                seconds: n.onset_seconds,
            });
        }
        out.push(CompoundNote {
            onset_ticks: onset as u32,
            // Saturating: durations are clipped to max_duration − 1 right after (SPEC §3.4).
            duration_ticks: duration.map(|d| d.clamp(0.0, u32::MAX as f64) as u32),
            pitch: n.pitch as u32,
            instrument: instrument_of(spec, n),
            velocity: n.velocity as u32,
        });
    }
    Ok(())
}

/// SPEC §3.4: compound records → events. Unclosed notes get `unclosed_duration_ticks`;
/// durations are clipped to `max_duration − 1` (0 kept); times are not clipped.
///
/// Returns how many durations were ≥ `max_duration` before clipping (`duration_truncations`).
pub fn compound_to_events(
    spec: &VocabSpec,
    compound: &[CompoundNote],
    out: &mut Vec<Event>,
) -> usize {
    let mut truncations = 0;
    out.reserve(compound.len());
    for c in compound {
        let duration = match c.duration_ticks {
            None => spec.unclosed_duration_ticks(),
            Some(d) => {
                if d >= spec.max_duration() {
                    truncations += 1;
                }
                d.min(spec.max_duration() - 1)
            }
        };
        out.push(Event {
            onset_ticks: c.onset_ticks,
            duration_ticks: duration,
            instrument: c.instrument,
            pitch: c.pitch,
        });
    }
    truncations
}

/// Reads a file's compound records in `spec` (SPEC §3: `midi_to_compound`).
pub fn read_compound(
    spec: &VocabSpec,
    bytes: &[u8],
) -> Result<(Vec<CompoundNote>, MidiInfo), MidiError> {
    let stream = parse(bytes)?;
    let mut played = Vec::new();
    NoteReader::new().read_notes(&stream, pairing_for(spec), &mut played);
    let mut out = Vec::with_capacity(played.len());
    to_compound(spec, stream.info(), &played, &mut out)?;
    Ok((out, *stream.info()))
}

/// Reads a file's events in `spec` (SPEC §3: `midi_to_events`): the compound records with
/// durations clipped and velocities dropped.
pub fn read_events(spec: &VocabSpec, bytes: &[u8]) -> Result<Vec<Event>, MidiError> {
    let (compound, _) = read_compound(spec, bytes)?;
    let mut events = Vec::with_capacity(compound.len());
    compound_to_events(spec, &compound, &mut events);
    Ok(events)
}

/// Beats given to a note that is never closed when reading [`Note`]s: an eighth, the `beats`
/// vocabulary's choice (AMT gives 250 ms, half a beat at 120 bpm).
pub const UNCLOSED_NOTE_BEATS: f64 = 0.5;

/// Reads a file as notes in beats (quarter notes from the file's start), for the engine and
/// the CLI: a prompt or a melody to accompany. Tempo is not applied; `MidiInfo` and the
/// stream's tempo messages are there for a caller that needs seconds.
///
/// Note-offs are paired FIFO per (channel, pitch) ([`Pairing::ChannelPitch`]); channel 10 is
/// drums; unclosed notes last [`UNCLOSED_NOTE_BEATS`]. Sorted by onset, simultaneous notes in
/// file order.
pub fn read_notes(bytes: &[u8]) -> Result<(Vec<Note>, MidiInfo), MidiError> {
    let stream = parse(bytes)?;
    let mut played = Vec::new();
    NoteReader::new().read_notes(&stream, Pairing::ChannelPitch, &mut played);
    let tpq = stream.info().ticks_per_quarter as f64;
    let notes = played
        .iter()
        .map(|n| Note {
            onset_beats: n.onset_tick as f64 / tpq,
            duration_beats: n.offset.map_or(UNCLOSED_NOTE_BEATS, |(off, _)| {
                (off - n.onset_tick) as f64 / tpq
            }),
            pitch: n.pitch,
            instrument: if n.is_drum() {
                GmInstrument::Drums
            } else {
                GmInstrument::Program(n.program)
            },
            velocity: n.velocity,
        })
        .collect();
    Ok((notes, *stream.info()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A type-1 file from raw track bodies (without end_of_track; it is appended).
    fn smf(format: u16, tpq: u16, tracks: &[&[u8]]) -> Vec<u8> {
        let mut out = b"MThd\0\0\0\x06".to_vec();
        out.extend_from_slice(&format.to_be_bytes());
        out.extend_from_slice(&(tracks.len() as u16).to_be_bytes());
        out.extend_from_slice(&tpq.to_be_bytes());
        for t in tracks {
            let mut body = t.to_vec();
            body.extend_from_slice(&[0, 0xff, 0x2f, 0]);
            out.extend_from_slice(b"MTrk");
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(&body);
        }
        out
    }

    #[test]
    fn rejects_type_2_files() {
        assert_eq!(parse(&smf(2, 480, &[&[]])).unwrap_err(), MidiError::Type2);
    }

    #[test]
    fn rejects_truncated_track_chunk() {
        let mut bytes = smf(1, 480, &[&[0, 0x90, 60, 100, 10, 0x80, 60, 0]]);
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(parse(&bytes), Err(MidiError::Truncated { .. })));
    }

    #[test]
    fn rejects_event_cut_inside_chunk() {
        // A note-on missing its velocity byte, then nothing.
        let mut bytes = b"MThd\0\0\0\x06\0\x01\0\x01\x01\xe0MTrk\0\0\0\x03".to_vec();
        bytes.extend_from_slice(&[0, 0x90, 60]);
        assert!(matches!(
            parse(&bytes),
            Err(MidiError::MalformedEvent { track: 0, .. })
        ));
    }

    #[test]
    fn rejects_missing_tracks_zero_division_and_garbage() {
        let mut bytes = smf(1, 480, &[&[]]);
        bytes[11] = 2;
        assert_eq!(
            parse(&bytes).unwrap_err(),
            MidiError::MissingTracks {
                declared: 2,
                found: 1
            }
        );
        assert_eq!(
            parse(&smf(1, 0, &[&[]])).unwrap_err(),
            MidiError::ZeroTicksPerQuarter
        );
        assert!(matches!(
            parse(&smf(1, 0xE728, &[&[]])),
            Err(MidiError::TimecodeDivision(_))
        ));
        assert_eq!(parse(b"RIFF....").unwrap_err(), MidiError::NotMidi);
    }

    #[test]
    fn clock_uses_tempo_from_another_track() {
        // Track 0 sets 1 s per quarter at tick 0; track 1 plays a note at tick 480.
        let conductor: &[u8] = &[0, 0xff, 0x51, 3, 0x0f, 0x42, 0x40];
        let notes: &[u8] = &[0x83, 0x60, 0x90, 60, 100, 0x83, 0x60, 0x80, 60, 0];
        let stream = parse(&smf(1, 480, &[conductor, notes])).unwrap();
        let secs: Vec<f64> = stream.messages().map(|m| m.seconds).collect();
        assert_eq!(secs, [0.0, 1.0, 2.0]);
        assert_eq!(stream.info().length_seconds, 2.0);
    }

    #[test]
    fn fifo_pairs_same_pitch_overlaps_oldest_first() {
        // on@0, on@10, off@20, off@30 at 1000 tpq, 1 s per quarter → 1 tick = 1 ms.
        let t: &[u8] = &[
            0, 0xff, 0x51, 3, 0x0f, 0x42, 0x40, 0, 0x90, 60, 90, 10, 0x90, 60, 91, 10, 0x80, 60, 0,
            10, 0x80, 60, 0,
        ];
        let (c, _) = read_compound(&VocabSpec::amt(), &smf(0, 1000, &[t])).unwrap();
        assert_eq!(c[0].duration_ticks, Some(2));
        assert_eq!(c[1].duration_ticks, Some(2));
        assert_eq!(c[1].velocity, 91);
    }

    #[test]
    fn drums_are_channel_ten_whatever_the_program() {
        let t: &[u8] = &[0, 0xc9, 25, 0, 0x99, 36, 100, 10, 0x89, 36, 0];
        let ev = read_events(&VocabSpec::amt(), &smf(0, 480, &[t])).unwrap();
        assert_eq!(ev[0].instrument, 128);
        let ev = read_events(&VocabSpec::beats(), &smf(0, 480, &[t])).unwrap();
        assert_eq!(ev[0].instrument, VocabSpec::beats().drum_instrument());
    }

    #[test]
    fn unclosed_note_gets_default_duration_and_long_ones_clip() {
        // 480 tpq at 120 bpm = 960 ticks per second. Note 62 lasts 960 ticks (1 s); note 64
        // lasts 0x8e 0x80 0x00 = 229376 ticks (238.9 s); note 60 is never closed.
        let t: &[u8] = &[
            0, 0x90, 60, 100, 0, 0x90, 62, 100, 0, 0x90, 64, 100, 0x87, 0x40, 0x80, 62, 0, 0x8e,
            0x80, 0, 0x80, 64, 0,
        ];
        let (c, _) = read_compound(&VocabSpec::amt(), &smf(0, 480, &[t])).unwrap();
        assert_eq!(c[0].duration_ticks, None);
        let mut ev = Vec::new();
        let truncations = compound_to_events(&VocabSpec::amt(), &c, &mut ev);
        let durations: Vec<u32> = ev.iter().map(|e| e.duration_ticks).collect();
        assert_eq!(durations, [25, 100, 999]);
        assert_eq!(truncations, 1);
    }

    #[test]
    fn beats_quantizes_ties_upward_and_ignores_tempo() {
        assert_eq!(quantize_tick(20, 12, 480), 1);
        assert_eq!(quantize_tick(19, 12, 480), 0);
        assert_eq!(quantize_tick(480, 12, 480), 12);
        let t: &[u8] = &[
            0, 0xff, 0x51, 3, 0x0f, 0x42, 0x40, 0x83, 0x60, 0x90, 60, 100, 0x81, 0x70, 0x80, 60, 0,
        ];
        let ev = read_events(&VocabSpec::beats(), &smf(0, 480, &[t])).unwrap();
        assert_eq!((ev[0].onset_ticks, ev[0].duration_ticks), (12, 6));
    }

    #[test]
    fn reads_notes_in_beats_with_velocity_and_drums() {
        let t: &[u8] = &[
            0, 0xc0, 40, 0x83, 0x60, 0x90, 60, 99, 0x83, 0x60, 0x80, 60, 0, 0, 0x99, 36, 50,
        ];
        let (notes, info) = read_notes(&smf(0, 480, &[t])).unwrap();
        assert_eq!(info.ticks_per_quarter, 480);
        assert_eq!(
            notes[0],
            Note {
                onset_beats: 1.0,
                duration_beats: 1.0,
                pitch: 60,
                instrument: GmInstrument::Program(40),
                velocity: 99
            }
        );
        assert_eq!(notes[1].instrument, GmInstrument::Drums);
        assert_eq!(notes[1].duration_beats, UNCLOSED_NOTE_BEATS);
    }

    #[test]
    fn beats_pairs_note_off_after_program_change() {
        // Program 24 note, program change to 40 while it sounds, then its note-off.
        let t: &[u8] = &[0, 0xc0, 24, 0, 0x90, 60, 100, 10, 0xc0, 40, 10, 0x80, 60, 0];
        let amt = read_events(&VocabSpec::amt(), &smf(0, 480, &[t])).unwrap();
        assert_eq!(amt[0].duration_ticks, 25, "reference leaves it unclosed");
        let beats = read_events(&VocabSpec::beats(), &smf(0, 480, &[t])).unwrap();
        assert_eq!(beats[0].duration_ticks, 1);
    }
}
