//! Events → MIDI bytes: the reference-compatible writer (SPEC §4) and the product writer.
//!
//! Pure: returns bytes, never touches files.
//!
//! - [`write_reference`] reproduces `convert.events_to_midi` and mido's `save` byte for byte,
//!   defects included: times ≥ `control_offset` are corrupted (SPEC §4.1 step 2), every
//!   instrument gets one channel from a counter, so more than 15 instruments fail, and
//!   same-pitch overlaps are re-paired on reading.
//! - [`write_events`] / [`write_notes`] / [`write_midi_notes`] are what Antiphon writes: every
//!   note at its true time, a tempo and a useful ticks-per-quarter, one track per instrument,
//!   and channels allocated per note so that any number of instruments fits and a file reads
//!   back to the same events (see [`write_midi_notes`] for the exact guarantee).

use thiserror::Error;

use super::events::{Event, EventError, Triple, TripleKind};
use super::midi::{CompoundNote, DRUM_CHANNEL};
use super::notes::{gm_instrument, GmInstrument, Note};
use super::vocab::{TimeUnit, VocabKind, VocabSpec};

/// Errors of writing MIDI.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The reference writer ran out of channels (SPEC §4.2; mido raises `ValueError: channel
    /// must be in range 0..15`, conformance file 09).
    #[error("channel must be in range 0..15: instrument {instrument} would need channel {channel} (more than 15 instruments)")]
    ChannelOutOfRange {
        /// The instrument that got no channel.
        instrument: u32,
        /// The channel the counter reached.
        channel: u32,
    },
    /// `events_to_compound` met a value it asserts against (SPEC §4.1 step 5).
    #[error("events_to_compound: {field} = {value} at note {index} is out of range")]
    InvalidCompound {
        /// Which field (`time`, `duration`, `pitch`, `instrument`).
        field: &'static str,
        /// The value after offsets were removed.
        value: i64,
        /// Index of the note.
        index: usize,
    },
    /// SEPARATOR tokens that do not form whole triples (the reference asserts).
    #[error("{count} SEPARATOR tokens do not form whole triples")]
    BrokenSeparators {
        /// Number of SEPARATOR tokens.
        count: usize,
    },
    /// A delta time beyond the 28 bits a MIDI file can store.
    #[error("a gap of {ticks} MIDI ticks does not fit a variable-length quantity")]
    DeltaTooLarge {
        /// The gap.
        ticks: u64,
    },
    /// Write options that cannot describe a file.
    #[error("invalid write options: {0}")]
    BadOptions(&'static str),
    /// An event the vocabulary cannot write (instrument or pitch out of range).
    #[error("event {index}: instrument {instrument} / pitch {pitch} is not in the vocabulary")]
    BadEvent {
        /// Index of the event.
        index: usize,
        /// Its instrument code.
        instrument: u32,
        /// Its pitch.
        pitch: u32,
    },
}

/// Largest delta time a variable-length quantity holds (SMF: 4 bytes of 7 bits).
const MAX_VARLEN: u64 = 0x0FFF_FFFF;

/// SPEC §4.1 step 5: every note is written with velocity 72.
pub const REFERENCE_VELOCITY: u32 = 72;

/// mido's default `note_off` velocity (SPEC §4.2).
const REFERENCE_NOTE_OFF_VELOCITY: u8 = 64;

/// One track being encoded, with mido's running-status rule (SPEC §4.2): a channel message's
/// status byte is omitted when it equals the previous one; a meta message resets it.
struct TrackWriter {
    /// Encoded events.
    bytes: Vec<u8>,
    /// Tick of the last event written.
    prev_tick: u64,
    /// Status byte of the last channel message, if running status is in force.
    running: Option<u8>,
}

impl TrackWriter {
    fn new() -> TrackWriter {
        TrackWriter {
            bytes: Vec::new(),
            prev_tick: 0,
            running: None,
        }
    }

    fn delta(&mut self, tick: u64) -> Result<(), WriteError> {
        let d = tick.saturating_sub(self.prev_tick);
        if d > MAX_VARLEN {
            return Err(WriteError::DeltaTooLarge { ticks: d });
        }
        self.prev_tick = tick.max(self.prev_tick);
        let mut buf = [0u8; 4];
        let mut n = 0;
        let mut v = d;
        loop {
            buf[n] = (v & 0x7f) as u8;
            n += 1;
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            self.bytes.push(buf[i] | if i > 0 { 0x80 } else { 0 });
        }
        Ok(())
    }

    fn channel(&mut self, tick: u64, status: u8, data: &[u8]) -> Result<(), WriteError> {
        self.delta(tick)?;
        if self.running != Some(status) {
            self.bytes.push(status);
            self.running = Some(status);
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    fn meta(&mut self, tick: u64, kind: u8, data: &[u8]) -> Result<(), WriteError> {
        self.delta(tick)?;
        self.running = None;
        self.bytes
            .extend_from_slice(&[0xff, kind, data.len() as u8]);
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// Appends `end_of_track` at delta 0, as mido's `save` does.
    fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0, 0xff, 0x2f, 0]);
        self.bytes
    }
}

/// Assembles a format-1 file.
fn smf_bytes(division: u16, tracks: Vec<Vec<u8>>) -> Vec<u8> {
    let size: usize = 14 + tracks.iter().map(|t| 8 + t.len()).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"MThd\0\0\0\x06\0\x01");
    out.extend_from_slice(&(tracks.len() as u16).to_be_bytes());
    out.extend_from_slice(&division.to_be_bytes());
    for t in tracks {
        out.extend_from_slice(b"MTrk");
        out.extend_from_slice(&(t.len() as u32).to_be_bytes());
        out.extend_from_slice(&t);
    }
    out
}

/// `events_to_compound` (SPEC §4.1), quirks included.
///
/// 1. REST triples are removed.
/// 2. Every token ≥ `control_offset` other than SEPARATOR loses `control_offset`, **wherever
///    it sits**: controls become events, and absolute times ≥ `control_offset` are corrupted
///    (27600 → 87), as the reference does.
/// 3. Block offsets are removed.
/// 4. SEPARATOR triples concatenate sequences: each later sequence is shifted by the previous
///    one's largest `time + duration`.
/// 5. Velocity is 72.
///
/// Fails where the reference asserts. An empty input gives an empty list (the reference would
/// fail on `max([])`).
pub fn events_to_compound(
    spec: &VocabSpec,
    tokens: &[Triple],
) -> Result<Vec<CompoundNote>, WriteError> {
    let sep = spec.separator() as i64;
    let ctrl = spec.control_offset() as i64;
    let shift = |tok: u32| -> i64 {
        let tok = tok as i64;
        if tok >= ctrl && tok != sep {
            tok - ctrl
        } else {
            tok
        }
    };
    let remove = |tok: i64, offset: u32| if tok != sep { tok - offset as i64 } else { tok };
    let mut values: Vec<[i64; 3]> = Vec::with_capacity(tokens.len());
    for t in tokens.iter().filter(|t| !spec.is_rest(t)) {
        values.push([
            remove(shift(t.time.0), spec.time_offset()),
            remove(shift(t.duration.0), spec.duration_offset()),
            remove(shift(t.note.0), spec.note_offset()),
        ]);
    }
    let mut offset = 0i64;
    let mut track_max = 0i64;
    for v in &mut values {
        if v[2] == sep {
            offset += track_max;
            track_max = 0;
        } else {
            track_max = track_max.max(v[0] + v[1]);
            v[0] += offset;
        }
    }
    let flat: Vec<i64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|&x| x != sep)
        .collect();
    let removed = values.len() * 3 - flat.len();
    if !removed.is_multiple_of(3) {
        return Err(WriteError::BrokenSeparators { count: removed });
    }
    let mp = spec.max_pitch() as i64;
    let mut out = Vec::with_capacity(flat.len() / 3);
    for (index, c) in flat.chunks_exact(3).enumerate() {
        let (time, dur, note) = (c[0], c[1], c[2]);
        let (pitch, instrument) = (note.rem_euclid(mp), note.div_euclid(mp));
        let bad = |field, value| {
            Err(WriteError::InvalidCompound {
                field,
                value,
                index,
            })
        };
        if time < 0 || time > u32::MAX as i64 {
            return bad("time", time);
        }
        if !(0..spec.max_duration() as i64).contains(&dur) {
            return bad("duration", dur);
        }
        if !(0..spec.num_instruments() as i64).contains(&instrument) {
            return bad("instrument", instrument);
        }
        out.push(CompoundNote {
            onset_ticks: time as u32,
            duration_ticks: Some(dur as u32),
            pitch: pitch as u32,
            instrument: instrument as u32,
            velocity: REFERENCE_VELOCITY,
        });
    }
    Ok(out)
}

/// What a token sequence sounds like, as events: controls become events again, RESTs go,
/// and SEPARATOR triples concatenate sequences, each later one shifted by the previous one's
/// largest `time + duration` (SPEC §4.1 step 4). Unlike [`events_to_compound`], no time is
/// corrupted: the class of a triple comes from its note token only. Sorted by onset (stable).
pub fn playback_events(spec: &VocabSpec, tokens: &[Triple]) -> Result<Vec<Event>, EventError> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut offset = 0u32;
    let mut track_max = 0u32;
    for t in tokens {
        match spec.classify(t)? {
            TripleKind::Separator => {
                offset = offset.saturating_add(track_max);
                track_max = 0;
            }
            TripleKind::Rest { .. } => {}
            TripleKind::Event(mut e) | TripleKind::Control(mut e) => {
                track_max = track_max.max(e.onset_ticks.saturating_add(e.duration_ticks));
                e.onset_ticks = e.onset_ticks.saturating_add(offset);
                out.push(e);
            }
        }
    }
    out.sort_by_key(|e| e.onset_ticks);
    Ok(out)
}

/// The reference's ticks per quarter note: one MIDI tick per vocabulary tick at the default
/// 120 bpm (SPEC §4.2: 50 for `amt`, where 1 tick = 10 ms).
pub fn reference_division(spec: &VocabSpec) -> u16 {
    match spec.time_unit() {
        TimeUnit::Seconds => (spec.ticks_per_unit() / 2).clamp(1, 0x7fff) as u16,
        TimeUnit::QuarterNotes => spec.ticks_per_unit().clamp(1, 0x7fff) as u16,
    }
}

/// `compound_to_midi` + mido `save` (SPEC §4.2), byte for byte.
///
/// Onsets and offsets are grouped by (tick, onset-before-offset) and written in that order,
/// compound order within a group. A track per instrument opens at its first onset with a
/// `program_change`; its channel comes from a counter that skips 9, drums always take channel
/// 9 but still advance the counter. No tempo: 120 bpm applies.
pub fn compound_to_midi_reference(
    spec: &VocabSpec,
    compound: &[CompoundNote],
) -> Result<Vec<u8>, WriteError> {
    // (tick, kind, index): kind 0 = onset, 1 = offset; a stable order within each key.
    let mut moments: Vec<(u64, u8, usize)> = Vec::with_capacity(compound.len() * 2);
    for (i, c) in compound.iter().enumerate() {
        let on = c.onset_ticks as u64;
        moments.push((on, 0, i));
        moments.push((on + c.duration_ticks.unwrap_or(0) as u64, 1, i));
    }
    moments.sort_unstable();
    let mut tracks: Vec<(u32, TrackWriter, u8)> = Vec::new();
    let mut counter = 0u32;
    for (tick, kind, i) in moments {
        let c = &compound[i];
        let pos = tracks
            .iter()
            .position(|(instr, _, _)| *instr == c.instrument);
        let pitch = c.pitch.min(127) as u8;
        if kind == 0 {
            let pos = match pos {
                Some(p) => p,
                None => {
                    let is_drum = c.instrument == spec.drum_instrument();
                    let channel = if is_drum {
                        DRUM_CHANNEL as u32
                    } else {
                        counter
                    };
                    if channel > 15 {
                        return Err(WriteError::ChannelOutOfRange {
                            instrument: c.instrument,
                            channel,
                        });
                    }
                    let program = spec.program_of_instrument(c.instrument).unwrap_or(0);
                    let mut w = TrackWriter::new();
                    w.channel(0, 0xc0 | channel as u8, &[program & 0x7f])?;
                    tracks.push((c.instrument, w, channel as u8));
                    counter += 1;
                    if counter == DRUM_CHANNEL as u32 {
                        counter += 1;
                    }
                    tracks.len() - 1
                }
            };
            let (_, w, ch) = &mut tracks[pos];
            let vel = c.velocity.min(127) as u8;
            let ch = *ch;
            w.channel(tick, 0x90 | ch, &[pitch, vel])?;
        } else if let Some(pos) = pos {
            let (_, w, ch) = &mut tracks[pos];
            let ch = *ch;
            w.channel(tick, 0x80 | ch, &[pitch, REFERENCE_NOTE_OFF_VELOCITY])?;
        }
    }
    Ok(smf_bytes(
        reference_division(spec),
        tracks.into_iter().map(|(_, w, _)| w.finish()).collect(),
    ))
}

/// `events_to_midi` (SPEC §4): [`events_to_compound`] then [`compound_to_midi_reference`].
pub fn write_reference(spec: &VocabSpec, tokens: &[Triple]) -> Result<Vec<u8>, WriteError> {
    compound_to_midi_reference(spec, &events_to_compound(spec, tokens)?)
}

/// Settings of the product writer.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct WriteOptions {
    /// Tempo written to the file, quarter notes per minute. For `amt` it also decides where
    /// seconds fall on the beat grid.
    pub tempo_bpm: f64,
    /// Ticks per quarter note of the file.
    pub ticks_per_quarter: u16,
    /// Velocity of notes that carry none (events).
    pub velocity: u8,
}

impl WriteOptions {
    /// 120 bpm, velocity 72 (the reference's), and a division that holds the vocabulary's grid
    /// exactly: 480 for `beats` at 12 per quarter (40 MIDI ticks per vocabulary tick), 960 for
    /// `amt` (at 120 bpm 19.2 MIDI ticks per 10 ms: every 10 ms tick reads back exactly,
    /// since half a MIDI tick is well below half a vocabulary tick down to 13 bpm).
    pub fn for_spec(spec: &VocabSpec) -> WriteOptions {
        let ticks_per_quarter = match spec.kind() {
            VocabKind::Amt => 960,
            VocabKind::Beats => {
                let tpu = spec.ticks_per_unit().max(1);
                (tpu * 480u32.div_ceil(tpu)).min(0x7fff) as u16
            }
        };
        WriteOptions {
            tempo_bpm: 120.0,
            ticks_per_quarter,
            velocity: REFERENCE_VELOCITY as u8,
        }
    }

    fn check(&self) -> Result<u32, WriteError> {
        if !(self.tempo_bpm.is_finite() && self.tempo_bpm > 0.0) {
            return Err(WriteError::BadOptions("tempo_bpm must be positive"));
        }
        if self.ticks_per_quarter == 0 || self.ticks_per_quarter > 0x7fff {
            return Err(WriteError::BadOptions(
                "ticks_per_quarter must be 1 … 32767",
            ));
        }
        let us = (60_000_000.0 / self.tempo_bpm).round();
        if !(1.0..=16_777_215.0).contains(&us) {
            return Err(WriteError::BadOptions(
                "tempo outside what set_tempo can store",
            ));
        }
        Ok(us as u32)
    }
}

/// A note placed in MIDI ticks, ready for the product writer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct MidiNote {
    /// Onset tick.
    pub onset_tick: u64,
    /// Length in ticks (0 allowed: on and off at the same tick).
    pub duration_tick: u64,
    /// Key 0–127.
    pub pitch: u8,
    /// What plays it.
    pub instrument: GmInstrument,
    /// Velocity 1–127.
    pub velocity: u8,
}

/// A file written by the product writer, with what it could not represent exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductMidi {
    /// The Standard MIDI File.
    pub bytes: Vec<u8>,
    /// Notes written over a still-sounding note of the same pitch on the same channel (only
    /// drums, which have one channel, or more simultaneous lanes than 15 channels hold); on
    /// reading, FIFO pairing may give them other durations.
    pub lane_conflicts: usize,
    /// Times a channel had to change program while another instrument's notes still sounded
    /// on it (more than 15 instruments sounding at once); those notes may read back unclosed.
    pub channel_steals: usize,
}

/// Channel state of the allocator.
#[derive(Clone)]
struct ChannelState {
    /// Program the channel is set to, if used.
    program: Option<u8>,
    /// Largest end tick of any note placed on it.
    busy_until: u64,
    /// End tick of the last note per pitch (`None`: never used).
    lane_end: [Option<u64>; 128],
}

/// The 15 melodic channels, in the order they are handed out.
const MELODIC_CHANNELS: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15];

/// Writes notes placed in MIDI ticks as a format-1 file: a conductor track with the tempo,
/// then one track per instrument in order of first onset.
///
/// Channels are allocated per note: a note goes to a channel already set to its program whose
/// lane (pitch) is free at its onset, else to a channel idle since before its onset (with a
/// `program_change`), so more than 15 instruments work as long as at most 15 sound at once,
/// and overlapping same-pitch notes of one instrument go to different channels, so FIFO
/// pairing reads them back with their own durations. Drums use channel 10 only.
///
/// **Read-back guarantee** (with SPEC §3 pairing, and without conflicts or steals): the same
/// notes with the same onsets and durations, in the order of [`canonical_order`]: sorted by
/// onset, simultaneous notes grouped by instrument in order of first appearance, input order
/// within an instrument.
pub fn write_midi_notes(
    notes: &[MidiNote],
    ticks_per_quarter: u16,
    tempo_us: u32,
) -> Result<ProductMidi, WriteError> {
    if ticks_per_quarter == 0 || ticks_per_quarter > 0x7fff {
        return Err(WriteError::BadOptions(
            "ticks_per_quarter must be 1 … 32767",
        ));
    }
    let mut order: Vec<usize> = (0..notes.len()).collect();
    order.sort_by_key(|&i| notes[i].onset_tick);

    let mut channels = vec![
        ChannelState {
            program: None,
            busy_until: 0,
            lane_end: [None; 128],
        };
        16
    ];
    // Per track: (instrument, list of (tick, class, seq, message bytes)).
    // class 0 = note-offs of notes that began earlier; class 1 = a note starting here (its
    // program change, its note-on and, if it has no length, its note-off), in input order.
    type Msg = (u64, u8, usize, [u8; 3], u8);
    let mut tracks: Vec<(GmInstrument, Vec<Msg>)> = Vec::new();
    let mut home: Vec<(u8, u8)> = Vec::new(); // (program, last channel used)
    let mut lane_conflicts = 0;
    let mut channel_steals = 0;
    for (seq, &i) in order.iter().enumerate() {
        let n = notes[i];
        let pitch = n.pitch & 0x7f;
        let end = n.onset_tick + n.duration_tick;
        let track = match tracks.iter().position(|(ins, _)| *ins == n.instrument) {
            Some(t) => t,
            None => {
                tracks.push((n.instrument, Vec::new()));
                tracks.len() - 1
            }
        };
        let (channel, program_change) = match n.instrument {
            GmInstrument::Drums => {
                let c = &channels[DRUM_CHANNEL as usize];
                if c.lane_end[pitch as usize].is_some_and(|e| e > n.onset_tick) {
                    lane_conflicts += 1;
                }
                let first = c.program.is_none();
                (DRUM_CHANNEL, first.then_some(0u8))
            }
            GmInstrument::Program(p) => {
                let p = p & 0x7f;
                let lane_free =
                    |c: &ChannelState| c.lane_end[pitch as usize].is_none_or(|e| e <= n.onset_tick);
                let preferred = home.iter().find(|(hp, _)| *hp == p).map(|&(_, ch)| ch);
                let same_program = |ch: u8| channels[ch as usize].program == Some(p);
                let pick = preferred
                    .filter(|&ch| same_program(ch) && lane_free(&channels[ch as usize]))
                    .or_else(|| {
                        MELODIC_CHANNELS
                            .iter()
                            .copied()
                            .find(|&ch| same_program(ch) && lane_free(&channels[ch as usize]))
                    });
                match pick {
                    Some(ch) => (ch, None),
                    None => {
                        // An idle channel: never used, or silent strictly before this onset (a
                        // note-off at this very tick may sit in a later track and be read after
                        // the program change).
                        let idle = MELODIC_CHANNELS
                            .iter()
                            .copied()
                            .find(|&ch| channels[ch as usize].program.is_none())
                            .or_else(|| {
                                MELODIC_CHANNELS
                                    .iter()
                                    .copied()
                                    .find(|&ch| channels[ch as usize].busy_until < n.onset_tick)
                            });
                        match idle {
                            Some(ch) => (ch, Some(p)),
                            None => {
                                let shared = MELODIC_CHANNELS
                                    .iter()
                                    .copied()
                                    .filter(|&ch| same_program(ch))
                                    .min_by_key(|&ch| {
                                        channels[ch as usize].lane_end[pitch as usize]
                                    });
                                match shared {
                                    Some(ch) => {
                                        lane_conflicts += 1;
                                        (ch, None)
                                    }
                                    None => {
                                        channel_steals += 1;
                                        let ch = MELODIC_CHANNELS
                                            .iter()
                                            .copied()
                                            .min_by_key(|&ch| channels[ch as usize].busy_until)
                                            .expect("there are 15 melodic channels");
                                        (ch, Some(p))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        };
        let c = &mut channels[channel as usize];
        if let Some(p) = program_change {
            c.program = Some(p);
        }
        c.busy_until = c.busy_until.max(end);
        let lane = &mut c.lane_end[pitch as usize];
        *lane = Some(lane.map_or(end, |e| e.max(end)));
        if let GmInstrument::Program(p) = n.instrument {
            match home.iter_mut().find(|(hp, _)| *hp == p & 0x7f) {
                Some(h) => h.1 = channel,
                None => home.push((p & 0x7f, channel)),
            }
        }
        let msgs = &mut tracks[track].1;
        if let Some(p) = program_change {
            msgs.push((n.onset_tick, 1, seq, [0xc0 | channel, p, 0], 2));
        }
        let vel = n.velocity.clamp(1, 127);
        msgs.push((n.onset_tick, 1, seq, [0x90 | channel, pitch, vel], 3));
        let off_class = if n.duration_tick == 0 { 1 } else { 0 };
        msgs.push((end, off_class, seq, [0x80 | channel, pitch, 0], 3));
    }
    let mut out_tracks = Vec::with_capacity(tracks.len() + 1);
    let mut conductor = TrackWriter::new();
    conductor.meta(0, 0x51, &tempo_us.to_be_bytes()[1..])?;
    out_tracks.push(conductor.finish());
    for (_, mut msgs) in tracks {
        // Stable: within one (tick, class, seq) the push order (program, on, off) is kept.
        msgs.sort_by_key(|m| (m.0, m.1, m.2));
        let mut w = TrackWriter::new();
        for (tick, _, _, bytes, len) in msgs {
            w.channel(tick, bytes[0], &bytes[1..len as usize])?;
        }
        out_tracks.push(w.finish());
    }
    Ok(ProductMidi {
        bytes: smf_bytes(ticks_per_quarter, out_tracks),
        lane_conflicts,
        channel_steals,
    })
}

/// The order in which a file from [`write_midi_notes`] (or [`write_events`]) reads back:
/// stable by onset, simultaneous notes grouped by instrument in order of first appearance.
pub fn canonical_order<T: Clone, K: PartialEq + Clone>(
    items: &[T],
    onset: impl Fn(&T) -> u64,
    instrument: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by_key(|&i| onset(&items[i]));
    let mut ranks: Vec<K> = Vec::new();
    let mut keyed: Vec<(u64, usize, usize)> = idx
        .iter()
        .map(|&i| {
            let k = instrument(&items[i]);
            let rank = match ranks.iter().position(|r| *r == k) {
                Some(r) => r,
                None => {
                    ranks.push(k);
                    ranks.len() - 1
                }
            };
            (onset(&items[i]), rank, i)
        })
        .collect();
    keyed.sort_by_key(|&(t, r, _)| (t, r));
    keyed
        .into_iter()
        .map(|(_, _, i)| items[i].clone())
        .collect()
}

/// Product writer for events of `spec`: each note at its true time on the beat grid of
/// `opts.tempo_bpm` (`amt`: seconds → beats at that tempo; `beats`: exact multiples).
pub fn write_events(
    spec: &VocabSpec,
    events: &[Event],
    opts: &WriteOptions,
) -> Result<ProductMidi, WriteError> {
    let tempo_us = opts.check()?;
    let tpq = opts.ticks_per_quarter as f64;
    // MIDI ticks per vocabulary tick. For seconds, from the tempo actually written (whole
    // microseconds), so that a reader's clock lands back on the same 10 ms ticks.
    let scale = match spec.kind() {
        VocabKind::Beats => tpq / spec.ticks_per_unit() as f64,
        VocabKind::Amt => tpq / (tempo_us as f64 * 1e-6) / spec.ticks_per_unit() as f64,
    };
    let mut notes = Vec::with_capacity(events.len());
    for (index, e) in events.iter().enumerate() {
        if e.instrument >= spec.num_instruments() || e.pitch >= spec.max_pitch().min(128) {
            return Err(WriteError::BadEvent {
                index,
                instrument: e.instrument,
                pitch: e.pitch,
            });
        }
        let on = (e.onset_ticks as f64 * scale).round() as u64;
        let off = ((e.onset_ticks as u64 + e.duration_ticks as u64) as f64 * scale).round() as u64;
        notes.push(MidiNote {
            onset_tick: on,
            duration_tick: off - on,
            pitch: e.pitch as u8,
            instrument: gm_instrument(spec, e.instrument),
            velocity: opts.velocity,
        });
    }
    write_midi_notes(&notes, opts.ticks_per_quarter, tempo_us)
}

/// Product writer for notes in beats (the engine's answer), at `opts.tempo_bpm`.
pub fn write_notes(notes: &[Note], opts: &WriteOptions) -> Result<ProductMidi, WriteError> {
    let tempo_us = opts.check()?;
    let tpq = opts.ticks_per_quarter as f64;
    let mut placed = Vec::with_capacity(notes.len());
    for n in notes {
        let on = (n.onset_beats.max(0.0) * tpq).round() as u64;
        let off = ((n.onset_beats + n.duration_beats).max(0.0) * tpq).round() as u64;
        placed.push(MidiNote {
            onset_tick: on,
            duration_tick: off.saturating_sub(on),
            pitch: n.pitch & 0x7f,
            instrument: n.instrument,
            velocity: n.velocity,
        });
    }
    write_midi_notes(&placed, opts.ticks_per_quarter, tempo_us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::raw_to_triples;
    use crate::midi::read_events;

    fn ev(onset: u32, dur: u32, instrument: u32, pitch: u32) -> Event {
        Event {
            onset_ticks: onset,
            duration_ticks: dur,
            instrument,
            pitch,
        }
    }

    #[test]
    fn reference_writer_uses_running_status_and_division_50() {
        let t = raw_to_triples(&[0, 10010, 11060, 10, 10010, 11062]).unwrap();
        let bytes = write_reference(&VocabSpec::amt(), &t).unwrap();
        assert_eq!(&bytes[..14], b"MThd\0\0\0\x06\0\x01\0\x01\0\x32");
        // Program change; on 60; at tick 10 the onset of 62 (running status) before the
        // offset of 60 (onsets first at a tick); off 62 with running status; end of track.
        let track: &[u8] = &[
            0, 0xc0, 0, 0, 0x90, 60, 72, 10, 62, 72, 0, 0x80, 60, 64, 10, 62, 64, 0, 0xff, 0x2f, 0,
        ];
        assert_eq!(&bytes[14..18], b"MTrk");
        assert_eq!(&bytes[22..], track);
    }

    #[test]
    fn reference_writer_fails_past_fifteen_channels() {
        let ids: Vec<u32> = (0..17)
            .flat_map(|i| [i, 10010, 11000 + 128 * i + 60])
            .collect();
        let err = write_reference(&VocabSpec::amt(), &raw_to_triples(&ids).unwrap()).unwrap_err();
        assert!(matches!(
            err,
            WriteError::ChannelOutOfRange { channel: 16, .. }
        ));
    }

    #[test]
    fn events_to_compound_corrupts_late_times_like_the_reference() {
        let t = raw_to_triples(&[27600, 10010, 11060]).unwrap();
        let c = events_to_compound(&VocabSpec::amt(), &t).unwrap();
        assert_eq!(c[0].onset_ticks, 87);
    }

    #[test]
    fn product_writer_keeps_late_times() {
        let spec = VocabSpec::amt();
        let events = [ev(27600, 10, 0, 60)];
        let midi = write_events(&spec, &events, &WriteOptions::for_spec(&spec)).unwrap();
        assert_eq!(read_events(&spec, &midi.bytes).unwrap(), events);
    }

    #[test]
    fn product_writer_handles_seventeen_instruments() {
        let spec = VocabSpec::amt();
        let events: Vec<Event> = (0..17).map(|i| ev(i * 10, 5, i * 7, 60)).collect();
        let midi = write_events(&spec, &events, &WriteOptions::for_spec(&spec)).unwrap();
        assert_eq!(read_events(&spec, &midi.bytes).unwrap(), events);
        assert_eq!((midi.lane_conflicts, midi.channel_steals), (0, 0));
    }

    #[test]
    fn product_writer_splits_same_pitch_overlaps_across_channels() {
        let spec = VocabSpec::beats();
        let events = [
            ev(0, 24, 0, 60),
            ev(6, 3, 0, 60),
            ev(9, 0, 0, 60),
            ev(9, 6, 0, 60),
        ];
        let midi = write_events(&spec, &events, &WriteOptions::for_spec(&spec)).unwrap();
        assert_eq!(read_events(&spec, &midi.bytes).unwrap(), events);
    }

    #[test]
    fn playback_events_concatenates_sequences_and_plays_controls() {
        let spec = VocabSpec::amt();
        let t = raw_to_triples(&[
            27513 + 50,
            37513 + 10,
            38513 + 60,
            0,
            10020,
            11062,
            100,
            10000,
            27512,
            55025,
            55025,
            55025,
            5,
            10010,
            11064,
        ])
        .unwrap();
        let e = playback_events(&spec, &t).unwrap();
        assert_eq!(e, [ev(0, 20, 0, 62), ev(50, 10, 0, 60), ev(65, 10, 0, 64)]);
    }

    #[test]
    fn canonical_order_groups_simultaneous_notes_by_first_instrument() {
        let events = [ev(0, 1, 5, 60), ev(1, 1, 7, 60), ev(1, 1, 5, 62)];
        let c = canonical_order(&events, |e| e.onset_ticks as u64, |e| e.instrument);
        assert_eq!(c, [events[0], events[2], events[1]]);
    }
}
