//! `VocabSpec`: one parameterised arrival-time vocabulary, with the `amt` and `beats` presets.
//!
//! Pure data. Every constant a model depends on is a field, written to and read from a model's
//! `model.json` under exactly the names of the JSON layout below, and checked for consistency
//! when read; nothing is assumed from the kind alone.
//!
//! ```json
//! {"kind": "amt", "time_unit": "seconds", "ticks_per_unit": 100, "max_time": 10000,
//!  "max_duration": 1000, "max_pitch": 128, "num_instruments": 129, "drum_instrument": 128,
//!  "time_offset": 0, "duration_offset": 10000, "note_offset": 11000, "rest": 27512,
//!  "control_offset": 27513, "separator": 55025, "autoregress": 55026, "anticipate": 55027,
//!  "extra_flags": [], "vocab_size": 55028, "delta_ticks": 500, "rest_density_ticks": 100,
//!  "unclosed_duration_ticks": 25, "instrument_map": null}
//! ```
//!
//! Layout (SPEC §2.2, generalised): `[time | duration | note | REST]` is the event block,
//! the control block repeats it (without REST) from `control_offset = rest + 1`, then
//! SEPARATOR `= control_offset + rest`, AUTOREGRESS, ANTICIPATE and any extra task flags.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest absolute onset, in vocabulary ticks, that a reader will produce.
///
/// Times are not clipped (SPEC §3.6), but every token must fit in a `u32` even after the
/// control shift; 2^30 ticks is 124 days at 10 ms, so only absurd files reach it.
pub const MAX_ABS_TIME_TICKS: u32 = 1 << 30;

/// Which family a vocabulary belongs to; decides how MIDI time and programs are mapped.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VocabKind {
    /// The published AMT layout: seconds, every GM program its own instrument.
    Amt,
    /// Antiphon's small layout: quarter-note ticks and a reduced instrument list.
    Beats,
}

/// The unit that `ticks_per_unit` divides.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Wall-clock seconds (AMT: 100 ticks per second, SPEC §2.1).
    Seconds,
    /// Quarter notes of the score; tempo is ignored.
    QuarterNotes,
}

/// How GM programs fold into a reduced instrument list (`beats` only).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentMap {
    /// Instrument code of each GM program 0–127 (128 entries). Never the drum code.
    pub program_to_instrument: Vec<u32>,
    /// The GM program written for each code when turning tokens back into MIDI (one entry per
    /// code, `num_instruments` in all). The entry at `drum_instrument` is the program sent on
    /// MIDI channel 10 (0, the standard kit). Every other entry maps back to its own code.
    pub instrument_programs: Vec<u32>,
}

/// Errors of reading or checking a vocabulary.
#[derive(Debug, Error)]
pub enum VocabError {
    /// The JSON did not parse or lacks a field.
    #[error("vocabulary JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored offset disagrees with the one its sizes imply.
    #[error("field `{field}` is {found}, but the layout implies {expected} ({why})")]
    Inconsistent {
        /// JSON field name.
        field: &'static str,
        /// The value read.
        found: u64,
        /// The value the other fields imply.
        expected: u64,
        /// The rule that was broken.
        why: &'static str,
    },
    /// A value outside what any vocabulary can use.
    #[error("field `{field}` = {value} is invalid: {why}")]
    Invalid {
        /// JSON field name.
        field: &'static str,
        /// The value read.
        value: u64,
        /// What it must satisfy.
        why: &'static str,
    },
    /// `amt` counts seconds and `beats` quarter notes; any other pairing is an error.
    #[error("kind {kind:?} cannot count time in {time_unit:?}")]
    KindMismatch {
        /// The kind read.
        kind: VocabKind,
        /// The time unit read.
        time_unit: TimeUnit,
    },
    /// The instrument map disagrees with the instrument count or with itself.
    #[error("instrument_map: {0}")]
    InstrumentMap(String),
}

/// The full description of an arrival-time vocabulary (DESIGN §4).
///
/// Its fields are private so that a `VocabSpec` is always consistent: build one with a
/// preset, [`VocabSpec::from_layout`], [`VocabSpec::from_json`], or serde, which runs the same
/// checks. It serializes as the JSON object of the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Fields", into = "Fields")]
pub struct VocabSpec {
    /// The constants, consistent with each other (checked by [`VocabSpec::validate`]).
    f: Fields,
}

/// The constants of a [`VocabSpec`] under their JSON names, as read before validation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    /// Family of the layout.
    kind: VocabKind,
    /// Unit of time the ticks subdivide.
    time_unit: TimeUnit,
    /// Ticks per unit (100 per second for `amt`, SPEC §2.1 TIME_RESOLUTION).
    ticks_per_unit: u32,
    /// Number of time ids: onsets `0 ≤ t < max_time` are expressible in model input.
    max_time: u32,
    /// Number of duration ids: durations are clipped to `max_duration − 1`.
    max_duration: u32,
    /// Pitches per instrument (128).
    max_pitch: u32,
    /// Instrument codes, drums included.
    num_instruments: u32,
    /// The code that channel 10 (0-based 9) maps to.
    drum_instrument: u32,
    /// First time id.
    time_offset: u32,
    /// First duration id.
    duration_offset: u32,
    /// First note id.
    note_offset: u32,
    /// The REST note id.
    rest: u32,
    /// Shift from an event token to its control token.
    control_offset: u32,
    /// SEPARATOR id.
    separator: u32,
    /// AUTOREGRESS task flag.
    autoregress: u32,
    /// ANTICIPATE task flag.
    anticipate: u32,
    /// Further task flags after ANTICIPATE (AMT large: 55028 AUTO_TR, 55029 ANTI_TR).
    extra_flags: Vec<u32>,
    /// Number of ids.
    vocab_size: u32,
    /// Anticipation interval in ticks (SPEC §6: 500 = 5 s for `amt`).
    delta_ticks: u32,
    /// REST padding step in ticks (SPEC §5 `pad`: 100 = 1 s for `amt`).
    rest_density_ticks: u32,
    /// Duration given to a note that is never closed (SPEC §3.4: 25 = 250 ms for `amt`).
    unclosed_duration_ticks: u32,
    /// Program folding; `None` for `amt`, where program = instrument.
    instrument_map: Option<InstrumentMap>,
}

impl TryFrom<Fields> for VocabSpec {
    type Error = VocabError;

    fn try_from(f: Fields) -> Result<VocabSpec, VocabError> {
        let spec = VocabSpec { f };
        spec.validate()?;
        Ok(spec)
    }
}

impl From<VocabSpec> for Fields {
    fn from(spec: VocabSpec) -> Fields {
        spec.f
    }
}

/// Sizes and policies from which [`VocabSpec::from_layout`] derives every offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutParams {
    /// Family of the layout.
    pub kind: VocabKind,
    /// Unit of time.
    pub time_unit: TimeUnit,
    /// Ticks per unit.
    pub ticks_per_unit: u32,
    /// Number of time ids.
    pub max_time: u32,
    /// Number of duration ids.
    pub max_duration: u32,
    /// Pitches per instrument.
    pub max_pitch: u32,
    /// Instrument codes, drums included.
    pub num_instruments: u32,
    /// The drum code.
    pub drum_instrument: u32,
    /// Number of task flags after ANTICIPATE.
    pub num_extra_flags: u32,
    /// Anticipation interval in ticks.
    pub delta_ticks: u32,
    /// REST padding step in ticks.
    pub rest_density_ticks: u32,
    /// Duration of never-closed notes, in ticks.
    pub unclosed_duration_ticks: u32,
    /// Program folding (`beats`), or `None` (`amt`).
    pub instrument_map: Option<InstrumentMap>,
}

// SPEC §2.1: TIME_RESOLUTION = 100 ticks per second.
const AMT_TICKS_PER_SECOND: u32 = 100;
// SPEC §2.1: MAX_TIME = 100 s · 100.
const AMT_MAX_TIME: u32 = 10_000;
// SPEC §2.1: MAX_DUR = 10 s · 100.
const AMT_MAX_DURATION: u32 = 1_000;
// SPEC §2.1: MAX_PITCH.
const MAX_PITCH: u32 = 128;
// SPEC §2.1: MAX_INSTR = 128 GM programs + drums (code 128).
const AMT_NUM_INSTRUMENTS: u32 = 129;
// SPEC §2.1: DELTA = 5 s.
const AMT_DELTA_TICKS: u32 = 500;
// SPEC §5 pad: density = TIME_RESOLUTION (1 s).
const AMT_REST_DENSITY_TICKS: u32 = 100;
// SPEC §3.4: an unclosed note lasts 25 ticks (250 ms).
const AMT_UNCLOSED_DURATION_TICKS: u32 = 25;

/// Beats: ticks per quarter note.
///
/// 12 resolves sixteenths (3), eighth triplets (4) and sixteenth triplets (2). Measured on the
/// OpenScore corpus (1582 files, 3,714,236 notes, all at 480 tpq), 93.3 % of onsets fall
/// exactly on this grid (6/q: 81.3 %, 8/q: 90.8 %, 16/q: 91.1 %, 24/q: 95.5 %, 48/q: 95.9 %).
/// Of the rest, 2.2 % are thirty-second-note positions, half a tick off, rounded up by
/// [`crate::midi::quantize_tick`]; the other 4.5 % are MuseScore's renderings one
/// file tick early (grace notes, ornaments), which round to the written position. 24 per
/// quarter would gain only the thirty-seconds and double every time and duration range.
pub const BEATS_TICKS_PER_QUARTER: u32 = 12;

/// Beats: number of time ids (onsets 0 … 1727 ticks = 144 quarters, 36 bars of 4/4).
///
/// A training line holds 341 triples relativized to its minimum (SPEC §7.3). Packing the
/// OpenScore corpus with the `beats` constants, 99.25 % of the 10,619 autoregressive lines
/// (`--augment 1`) and 99.22 % of the 107,289 lines with the full task mix (`--augment 10`)
/// have a relative time below 1728; the median line spans 681 ticks (57 quarters), the 99th
/// percentile 1656 (AR) / 1680 (task mix). The remaining lines, from slow sparse passages,
/// are dropped as the reference drops inexpressible lines.
pub const BEATS_MAX_TIME: u32 = 1728;

/// Beats: number of duration ids (durations 0 … 95 ticks = 8 quarters, longer ones clipped).
///
/// 99.88 % of OpenScore notes last under 8 quarters (99.02 % under 4); AMT likewise clips at
/// 10 s (SPEC §3.4).
pub const BEATS_MAX_DURATION: u32 = 96;

/// Beats: anticipation interval, 8 quarters (two 4/4 bars).
///
/// AMT anticipates 5 s (SPEC §6). The OpenScore corpus's time-weighted median tempo is 106
/// quarters per minute (quartiles 71 and 130), where 5 s is 8.8 quarters; two bars is also
/// what an accompanist reads ahead.
pub const BEATS_DELTA_TICKS: u32 = 8 * BEATS_TICKS_PER_QUARTER;

/// Beats: REST padding step, 2 quarters (AMT pads every 1 s, 1.8 quarters at 106 bpm).
pub const BEATS_REST_DENSITY_TICKS: u32 = 2 * BEATS_TICKS_PER_QUARTER;

/// Beats: duration of a never-closed note, an eighth (AMT's 250 ms is half a beat at 120 bpm).
pub const BEATS_UNCLOSED_DURATION_TICKS: u32 = BEATS_TICKS_PER_QUARTER / 2;

/// The reduced instrument list of `beats`: name and representative GM program of each code.
///
/// GM families, except that the strings family is split (violin 40, viola 41, cello 42 and
/// contrabass 43 keep their own codes for the string-quartet task; tremolo and pizzicato
/// strings 44–45 join the string ensembles; harp and timpani share a code), and the ensemble
/// family is split into string ensembles and voices (choir aahs 52, voice oohs 53, synth
/// voice 54). Piano 0–7 is one code. The representative program is the family's typical
/// member (it decides what a GM synth plays back).
///
/// In the OpenScore corpus the Lieder voice parts are sounded with 68 oboe (230,032 notes),
/// 52 choir (47,292), 69–71 (8,245) and 73–74 flute/recorder (3,459): they land on the reed,
/// voice and pipe codes, melodic codes that no accompaniment part uses, never on piano or a
/// string code. Quartets use 40/41/42 (1.18 M, 514 k, 406 k notes) and, for 1,434 pizzicato
/// notes, 45. The last code is drums.
pub const BEATS_INSTRUMENTS: [(&str, u32); 22] = [
    ("piano", 0),
    ("chromatic percussion", 8),
    ("organ", 19),
    ("guitar", 24),
    ("bass", 32),
    ("violin", 40),
    ("viola", 41),
    ("cello", 42),
    ("contrabass", 43),
    ("harp and timpani", 46),
    ("string ensemble", 48),
    ("voice", 52),
    ("brass", 56),
    ("reed", 68),
    ("pipe", 73),
    ("synth lead", 80),
    ("synth pad", 88),
    ("synth effects", 96),
    ("ethnic", 104),
    ("percussive", 112),
    ("sound effects", 120),
    ("drums", 0),
];

/// Instrument code of a GM program in the `beats` list (see [`BEATS_INSTRUMENTS`]).
const fn beats_code_of_program(program: u32) -> u32 {
    match program {
        0..=7 => 0,
        8..=15 => 1,
        16..=23 => 2,
        24..=31 => 3,
        32..=39 => 4,
        40 => 5,
        41 => 6,
        42 => 7,
        43 => 8,
        44 | 45 => 10,
        46 | 47 => 9,
        48..=51 | 55 => 10,
        52..=54 => 11,
        56..=63 => 12,
        64..=71 => 13,
        72..=79 => 14,
        80..=87 => 15,
        88..=95 => 16,
        96..=103 => 17,
        104..=111 => 18,
        112..=119 => 19,
        _ => 20,
    }
}

impl VocabSpec {
    /// The published AMT vocabulary: exactly SPEC §2 (55028 ids).
    pub fn amt() -> VocabSpec {
        VocabSpec::from_layout(Self::amt_params(0)).expect("the AMT preset is consistent")
    }

    /// AMT with the two task flags of music-large-800k (55030 ids, SPEC §1): 55028 AUTO_TR
    /// ("autoregress, transcribed") and 55029 ANTI_TR ("anticipate, transcribed").
    pub fn amt_large() -> VocabSpec {
        VocabSpec::from_layout(Self::amt_params(2)).expect("the AMT-large preset is consistent")
    }

    fn amt_params(num_extra_flags: u32) -> LayoutParams {
        LayoutParams {
            kind: VocabKind::Amt,
            time_unit: TimeUnit::Seconds,
            ticks_per_unit: AMT_TICKS_PER_SECOND,
            max_time: AMT_MAX_TIME,
            max_duration: AMT_MAX_DURATION,
            max_pitch: MAX_PITCH,
            num_instruments: AMT_NUM_INSTRUMENTS,
            drum_instrument: AMT_NUM_INSTRUMENTS - 1,
            num_extra_flags,
            delta_ticks: AMT_DELTA_TICKS,
            rest_density_ticks: AMT_REST_DENSITY_TICKS,
            unclosed_duration_ticks: AMT_UNCLOSED_DURATION_TICKS,
            instrument_map: None,
        }
    }

    /// Antiphon's `beats` vocabulary: quarter-note ticks, 22 instruments, 9284 ids (see the
    /// `BEATS_*` constants for the corpus figures behind each choice). Most ids are the note
    /// block (22 · 128 = 2816) and its control copy; time takes 1728, duration 96.
    pub fn beats() -> VocabSpec {
        let num_instruments = BEATS_INSTRUMENTS.len() as u32;
        let map = InstrumentMap {
            program_to_instrument: (0..128).map(beats_code_of_program).collect(),
            instrument_programs: BEATS_INSTRUMENTS.iter().map(|&(_, p)| p).collect(),
        };
        VocabSpec::from_layout(LayoutParams {
            kind: VocabKind::Beats,
            time_unit: TimeUnit::QuarterNotes,
            ticks_per_unit: BEATS_TICKS_PER_QUARTER,
            max_time: BEATS_MAX_TIME,
            max_duration: BEATS_MAX_DURATION,
            max_pitch: MAX_PITCH,
            num_instruments,
            drum_instrument: num_instruments - 1,
            num_extra_flags: 0,
            delta_ticks: BEATS_DELTA_TICKS,
            rest_density_ticks: BEATS_REST_DENSITY_TICKS,
            unclosed_duration_ticks: BEATS_UNCLOSED_DURATION_TICKS,
            instrument_map: Some(map),
        })
        .expect("the beats preset is consistent")
    }

    /// Derives every offset from sizes, in the AMT order (SPEC §2.2), and validates.
    pub fn from_layout(p: LayoutParams) -> Result<VocabSpec, VocabError> {
        let big = |field: &'static str, v: u64| -> Result<u32, VocabError> {
            u32::try_from(v).map_err(|_| VocabError::Invalid {
                field,
                value: v,
                why: "layout does not fit in 32-bit ids",
            })
        };
        let time_offset = 0u64;
        let duration_offset = time_offset + p.max_time as u64;
        let note_offset = duration_offset + p.max_duration as u64;
        let rest = note_offset + p.max_pitch as u64 * p.num_instruments as u64;
        let control_offset = rest + 1;
        let separator = control_offset + rest;
        let extra_flags = (0..p.num_extra_flags as u64)
            .map(|k| big("extra_flags", separator + 3 + k))
            .collect::<Result<Vec<u32>, _>>()?;
        let spec = VocabSpec {
            f: Fields {
                kind: p.kind,
                time_unit: p.time_unit,
                ticks_per_unit: p.ticks_per_unit,
                max_time: p.max_time,
                max_duration: p.max_duration,
                max_pitch: p.max_pitch,
                num_instruments: p.num_instruments,
                drum_instrument: p.drum_instrument,
                time_offset: time_offset as u32,
                duration_offset: big("duration_offset", duration_offset)?,
                note_offset: big("note_offset", note_offset)?,
                rest: big("rest", rest)?,
                control_offset: big("control_offset", control_offset)?,
                separator: big("separator", separator)?,
                autoregress: big("autoregress", separator + 1)?,
                anticipate: big("anticipate", separator + 2)?,
                extra_flags,
                vocab_size: big("vocab_size", separator + 3 + p.num_extra_flags as u64)?,
                delta_ticks: p.delta_ticks,
                rest_density_ticks: p.rest_density_ticks,
                unclosed_duration_ticks: p.unclosed_duration_ticks,
                instrument_map: p.instrument_map,
            },
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Reads a vocabulary from its JSON object and checks it.
    pub fn from_json(json: &str) -> Result<VocabSpec, VocabError> {
        let fields: Fields = serde_json::from_str(json)?;
        VocabSpec::try_from(fields)
    }

    /// The JSON object, pretty-printed, with every field.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a VocabSpec always serializes")
    }

    /// Checks every relation between the fields; returns the first broken one.
    pub fn validate(&self) -> Result<(), VocabError> {
        let invalid = |field: &'static str, value: u64, why: &'static str| {
            Err(VocabError::Invalid { field, value, why })
        };
        let expect = |field: &'static str, found: u32, expected: u64, why: &'static str| {
            if found as u64 != expected {
                Err(VocabError::Inconsistent {
                    field,
                    found: found as u64,
                    expected,
                    why,
                })
            } else {
                Ok(())
            }
        };
        if self.f.ticks_per_unit == 0 {
            return invalid("ticks_per_unit", 0, "must be positive");
        }
        if self.f.max_time == 0 {
            return invalid("max_time", 0, "must be positive");
        }
        if self.f.max_duration == 0 {
            return invalid("max_duration", 0, "must be positive");
        }
        if self.f.max_pitch == 0 || self.f.max_pitch > 128 {
            return invalid(
                "max_pitch",
                self.f.max_pitch as u64,
                "must be 1 … 128 (MIDI keys)",
            );
        }
        if self.f.num_instruments == 0 {
            return invalid("num_instruments", 0, "must be positive");
        }
        if self.f.drum_instrument >= self.f.num_instruments {
            return invalid(
                "drum_instrument",
                self.f.drum_instrument as u64,
                "must be below num_instruments",
            );
        }
        if self.f.delta_ticks == 0 {
            return invalid("delta_ticks", 0, "must be positive");
        }
        if self.f.rest_density_ticks == 0 {
            return invalid("rest_density_ticks", 0, "must be positive");
        }
        if self.f.unclosed_duration_ticks >= self.f.max_duration {
            return invalid(
                "unclosed_duration_ticks",
                self.f.unclosed_duration_ticks as u64,
                "must be below max_duration",
            );
        }
        let duration_offset = self.f.time_offset as u64 + self.f.max_time as u64;
        expect(
            "duration_offset",
            self.f.duration_offset,
            duration_offset,
            "time_offset + max_time",
        )?;
        let note_offset = duration_offset + self.f.max_duration as u64;
        expect(
            "note_offset",
            self.f.note_offset,
            note_offset,
            "duration_offset + max_duration",
        )?;
        let rest = note_offset + self.f.max_pitch as u64 * self.f.num_instruments as u64;
        expect(
            "rest",
            self.f.rest,
            rest,
            "note_offset + max_pitch·num_instruments",
        )?;
        expect(
            "control_offset",
            self.f.control_offset,
            rest + 1,
            "rest + 1",
        )?;
        let separator = rest + 1 + rest;
        expect(
            "separator",
            self.f.separator,
            separator,
            "control_offset + rest (the control block mirrors the event block)",
        )?;
        expect(
            "autoregress",
            self.f.autoregress,
            separator + 1,
            "separator + 1",
        )?;
        expect(
            "anticipate",
            self.f.anticipate,
            separator + 2,
            "separator + 2",
        )?;
        for (k, &flag) in self.f.extra_flags.iter().enumerate() {
            expect(
                "extra_flags",
                flag,
                separator + 3 + k as u64,
                "extra flags follow anticipate consecutively",
            )?;
        }
        expect(
            "vocab_size",
            self.f.vocab_size,
            separator + 3 + self.f.extra_flags.len() as u64,
            "last flag + 1",
        )?;
        if self.f.control_offset as u64 + self.f.time_offset as u64 + MAX_ABS_TIME_TICKS as u64
            > u32::MAX as u64
        {
            return invalid(
                "vocab_size",
                self.f.vocab_size as u64,
                "too large to keep long-file times in 32-bit ids",
            );
        }
        match (self.f.kind, self.f.time_unit) {
            (VocabKind::Amt, TimeUnit::Seconds) | (VocabKind::Beats, TimeUnit::QuarterNotes) => {}
            (kind, time_unit) => return Err(VocabError::KindMismatch { kind, time_unit }),
        }
        match (&self.f.kind, &self.f.instrument_map) {
            (VocabKind::Amt, None) => {
                expect(
                    "num_instruments",
                    self.f.num_instruments,
                    AMT_NUM_INSTRUMENTS as u64,
                    "amt: 128 GM programs plus drums",
                )?;
                expect(
                    "drum_instrument",
                    self.f.drum_instrument,
                    AMT_NUM_INSTRUMENTS as u64 - 1,
                    "amt: drums are code 128",
                )?;
            }
            (VocabKind::Amt, Some(_)) => {
                return Err(VocabError::InstrumentMap(
                    "amt keeps every program as its own instrument: instrument_map must be null"
                        .into(),
                ))
            }
            (VocabKind::Beats, None) => {
                return Err(VocabError::InstrumentMap(
                    "beats needs an instrument_map".into(),
                ))
            }
            (VocabKind::Beats, Some(map)) => self.validate_map(map)?,
        }
        Ok(())
    }

    fn validate_map(&self, map: &InstrumentMap) -> Result<(), VocabError> {
        if map.program_to_instrument.len() != 128 {
            return Err(VocabError::InstrumentMap(format!(
                "program_to_instrument has {} entries, needs 128",
                map.program_to_instrument.len()
            )));
        }
        if map.instrument_programs.len() != self.f.num_instruments as usize {
            return Err(VocabError::InstrumentMap(format!(
                "instrument_programs has {} entries, needs num_instruments = {}",
                map.instrument_programs.len(),
                self.f.num_instruments
            )));
        }
        for (program, &code) in map.program_to_instrument.iter().enumerate() {
            if code >= self.f.num_instruments || code == self.f.drum_instrument {
                return Err(VocabError::InstrumentMap(format!(
                    "program {program} maps to code {code}, which is not a melodic code below {}",
                    self.f.num_instruments
                )));
            }
        }
        for (code, &program) in map.instrument_programs.iter().enumerate() {
            if program >= 128 {
                return Err(VocabError::InstrumentMap(format!(
                    "code {code} has program {program}, not a GM program"
                )));
            }
            if code as u32 != self.f.drum_instrument
                && map.program_to_instrument[program as usize] != code as u32
            {
                return Err(VocabError::InstrumentMap(format!(
                    "code {code}'s representative program {program} maps to code {}",
                    map.program_to_instrument[program as usize]
                )));
            }
        }
        Ok(())
    }

    /// Family of the layout.
    pub fn kind(&self) -> VocabKind {
        self.f.kind
    }
    /// Unit of time.
    pub fn time_unit(&self) -> TimeUnit {
        self.f.time_unit
    }
    /// Ticks per unit (per second for `amt`, per quarter note for `beats`).
    pub fn ticks_per_unit(&self) -> u32 {
        self.f.ticks_per_unit
    }
    /// Number of time ids.
    pub fn max_time(&self) -> u32 {
        self.f.max_time
    }
    /// Number of duration ids.
    pub fn max_duration(&self) -> u32 {
        self.f.max_duration
    }
    /// Pitches per instrument.
    pub fn max_pitch(&self) -> u32 {
        self.f.max_pitch
    }
    /// Instrument codes, drums included.
    pub fn num_instruments(&self) -> u32 {
        self.f.num_instruments
    }
    /// The drum code.
    pub fn drum_instrument(&self) -> u32 {
        self.f.drum_instrument
    }
    /// First time id.
    pub fn time_offset(&self) -> u32 {
        self.f.time_offset
    }
    /// First duration id.
    pub fn duration_offset(&self) -> u32 {
        self.f.duration_offset
    }
    /// First note id.
    pub fn note_offset(&self) -> u32 {
        self.f.note_offset
    }
    /// The REST id.
    pub fn rest(&self) -> u32 {
        self.f.rest
    }
    /// Event → control shift.
    pub fn control_offset(&self) -> u32 {
        self.f.control_offset
    }
    /// SEPARATOR id.
    pub fn separator(&self) -> u32 {
        self.f.separator
    }
    /// AUTOREGRESS flag id.
    pub fn autoregress(&self) -> u32 {
        self.f.autoregress
    }
    /// ANTICIPATE flag id.
    pub fn anticipate(&self) -> u32 {
        self.f.anticipate
    }
    /// Extra task flags, in id order.
    pub fn extra_flags(&self) -> &[u32] {
        &self.f.extra_flags
    }
    /// Number of ids.
    pub fn vocab_size(&self) -> u32 {
        self.f.vocab_size
    }
    /// Anticipation interval in ticks.
    pub fn delta_ticks(&self) -> u32 {
        self.f.delta_ticks
    }
    /// REST padding step in ticks.
    pub fn rest_density_ticks(&self) -> u32 {
        self.f.rest_density_ticks
    }
    /// Duration of never-closed notes, in ticks.
    pub fn unclosed_duration_ticks(&self) -> u32 {
        self.f.unclosed_duration_ticks
    }
    /// Program folding, if any.
    pub fn instrument_map(&self) -> Option<&InstrumentMap> {
        self.f.instrument_map.as_ref()
    }
    /// Largest absolute onset a reader produces (see [`MAX_ABS_TIME_TICKS`]).
    pub fn max_abs_time_ticks(&self) -> u32 {
        MAX_ABS_TIME_TICKS
    }
    /// True if `id` is a task flag (AUTOREGRESS, ANTICIPATE or an extra flag).
    pub fn is_flag(&self, id: u32) -> bool {
        id == self.f.autoregress || id == self.f.anticipate || self.f.extra_flags.contains(&id)
    }

    /// Instrument code of a GM program (0–127) on a melodic channel.
    pub fn instrument_of_program(&self, program: u8) -> u32 {
        match &self.f.instrument_map {
            None => (program & 0x7f) as u32,
            Some(map) => map.program_to_instrument[(program & 0x7f) as usize],
        }
    }

    /// The GM program to write for an instrument code, or `None` for the drum code (which is
    /// written on MIDI channel 10) and for codes out of range.
    pub fn program_of_instrument(&self, instrument: u32) -> Option<u8> {
        if instrument == self.f.drum_instrument || instrument >= self.f.num_instruments {
            return None;
        }
        Some(match &self.f.instrument_map {
            None => instrument as u8,
            Some(map) => map.instrument_programs[instrument as usize] as u8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amt_preset_matches_spec_section_2() {
        let v = VocabSpec::amt();
        assert_eq!(
            (
                v.duration_offset(),
                v.note_offset(),
                v.rest(),
                v.control_offset()
            ),
            (10000, 11000, 27512, 27513)
        );
        assert_eq!(
            (
                v.separator(),
                v.autoregress(),
                v.anticipate(),
                v.vocab_size()
            ),
            (55025, 55026, 55027, 55028)
        );
        assert_eq!(
            (
                v.delta_ticks(),
                v.rest_density_ticks(),
                v.unclosed_duration_ticks()
            ),
            (500, 100, 25)
        );
    }

    #[test]
    fn amt_large_adds_two_transcription_flags() {
        let v = VocabSpec::amt_large();
        assert_eq!(v.extra_flags(), &[55028, 55029]);
        assert_eq!(v.vocab_size(), 55030);
        assert!(v.is_flag(55029));
    }

    #[test]
    fn amt_json_has_exactly_the_documented_fields() {
        let json: serde_json::Value =
            serde_json::from_str(&VocabSpec::amt().to_json_pretty()).unwrap();
        let expected: serde_json::Value = serde_json::from_str(
            r#"{"kind": "amt", "time_unit": "seconds", "ticks_per_unit": 100, "max_time": 10000,
            "max_duration": 1000, "max_pitch": 128, "num_instruments": 129, "drum_instrument": 128,
            "time_offset": 0, "duration_offset": 10000, "note_offset": 11000, "rest": 27512,
            "control_offset": 27513, "separator": 55025, "autoregress": 55026, "anticipate": 55027,
            "extra_flags": [], "vocab_size": 55028, "delta_ticks": 500, "rest_density_ticks": 100,
            "unclosed_duration_ticks": 25, "instrument_map": null}"#,
        )
        .unwrap();
        assert_eq!(json, expected);
    }

    #[test]
    fn every_preset_round_trips_through_json() {
        for v in [VocabSpec::amt(), VocabSpec::amt_large(), VocabSpec::beats()] {
            assert_eq!(VocabSpec::from_json(&v.to_json_pretty()).unwrap(), v);
        }
    }

    #[test]
    fn rejects_inconsistent_offset_with_field_name() {
        let json = VocabSpec::amt()
            .to_json_pretty()
            .replace("\"rest\": 27512", "\"rest\": 27511");
        let err = VocabSpec::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("`rest`"), "{err}");
    }

    #[test]
    fn rejects_missing_and_unknown_fields() {
        let json = VocabSpec::amt()
            .to_json_pretty()
            .replace("\"delta_ticks\": 500,", "");
        assert!(VocabSpec::from_json(&json).is_err());
        let json = VocabSpec::amt()
            .to_json_pretty()
            .replace("\"delta_ticks\"", "\"delta\": 1, \"delta_ticks\"");
        assert!(VocabSpec::from_json(&json).is_err());
    }

    #[test]
    fn rejects_beats_map_that_sends_a_program_to_drums() {
        let mut v: serde_json::Value =
            serde_json::from_str(&VocabSpec::beats().to_json_pretty()).unwrap();
        v["instrument_map"]["program_to_instrument"][5] = serde_json::json!(21);
        assert!(VocabSpec::from_json(&v.to_string()).is_err());
    }

    #[test]
    fn beats_keeps_quartet_strings_apart_and_piano_together() {
        let v = VocabSpec::beats();
        let codes: Vec<u32> = [40, 41, 42, 43]
            .iter()
            .map(|&p| v.instrument_of_program(p))
            .collect();
        assert_eq!(codes, [5, 6, 7, 8]);
        assert!((0..8).all(|p| v.instrument_of_program(p) == 0));
        assert_eq!(v.instrument_of_program(68), 13);
        assert_eq!(v.instrument_of_program(52), 11);
        assert_eq!(v.instrument_of_program(73), 14);
        assert_eq!(v.program_of_instrument(v.drum_instrument()), None);
        assert_eq!(v.program_of_instrument(7), Some(42));
    }

    #[test]
    fn beats_vocabulary_is_a_few_thousand_ids() {
        let v = VocabSpec::beats();
        assert!(v.vocab_size() < 10_000, "{}", v.vocab_size());
        assert_eq!(v.separator(), 2 * v.rest() + 1);
    }
}
