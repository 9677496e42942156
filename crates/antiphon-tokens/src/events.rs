//! Token ids, triples and typed events: the vocabulary's words and what they mean.
//!
//! Pure data and conversions; no I/O. An *event* is one note as the model sees it (SPEC §2.2):
//! onset time, duration and `instrument·max_pitch + pitch`, each counted in the vocabulary's
//! ticks. A *control* is the same triple moved into the control block; REST and SEPARATOR
//! triples complete the alphabet.

use thiserror::Error;

use super::vocab::VocabSpec;

/// One token of a sequence, as the model reads and writes it.
///
/// A plain `u32` newtype: ids are always below the vocabulary size in model input, but
/// intermediate lists may carry time tokens past `max_time` (SPEC §3.6), so no range is implied.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId(pub u32);

impl TokenId {
    /// The raw id.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Three consecutive tokens: time, duration, note (SPEC §2.2).
///
/// Token class is decided by the note token alone (SPEC §2.2, §10.6); the time and duration
/// tokens are never checked by the reference, so a `Triple` does not check them either.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Triple {
    /// Onset time token (`time_offset + t`, or `control_offset + time_offset + t` for a control).
    pub time: TokenId,
    /// Duration token (`duration_offset + d`, or shifted into the control block).
    pub duration: TokenId,
    /// Note token (`note_offset + instrument·max_pitch + pitch`), REST, or SEPARATOR.
    pub note: TokenId,
}

impl Triple {
    /// A triple from three raw ids.
    #[inline]
    pub const fn from_raw(time: u32, duration: u32, note: u32) -> Triple {
        Triple {
            time: TokenId(time),
            duration: TokenId(duration),
            note: TokenId(note),
        }
    }

    /// The three ids in sequence order.
    #[inline]
    pub const fn ids(self) -> [TokenId; 3] {
        [self.time, self.duration, self.note]
    }
}

/// Errors of turning flat id lists into triples or triples into typed events.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EventError {
    /// A flat token list whose length is not a multiple of three.
    #[error("{len} tokens do not form whole triples (length must be a multiple of 3)")]
    NotWholeTriples {
        /// Length of the list.
        len: usize,
    },
    /// A token that does not belong to the block its position in the triple requires.
    #[error("token {id} at triple slot {slot} is outside the {block} block")]
    IdOutOfBlock {
        /// The offending id.
        id: u32,
        /// 0 = time, 1 = duration, 2 = note.
        slot: usize,
        /// Which block was expected ("time", "duration", "note", "control time", …).
        block: &'static str,
    },
    /// An event field that the vocabulary cannot express.
    #[error("{field} = {value} is out of range (limit {limit})")]
    FieldOutOfRange {
        /// Field name (`onset_ticks`, `duration_ticks`, `instrument`, `pitch`).
        field: &'static str,
        /// The value given.
        value: u64,
        /// The exclusive upper bound of the vocabulary.
        limit: u64,
    },
}

/// One note in vocabulary units, before it is written as tokens.
///
/// `onset_ticks` may exceed the vocabulary's `max_time` in intermediate lists (long files,
/// SPEC §3.6); only model input must be relativized into range.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Onset, in the vocabulary's time ticks (10 ms for `amt`, quarter-note ticks for `beats`).
    pub onset_ticks: u32,
    /// Duration in the same ticks, already clipped to `max_duration - 1`.
    pub duration_ticks: u32,
    /// Instrument code of the vocabulary (0–128 for `amt`, 128 = drums).
    pub instrument: u32,
    /// MIDI key number, below the vocabulary's `max_pitch`.
    pub pitch: u32,
}

/// What a triple means, decided from its note token (SPEC §2.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TripleKind {
    /// An ordinary note event.
    Event(Event),
    /// An anticipated control: the same fields, carried in the control block.
    Control(Event),
    /// The REST "note": keeps time moving (SPEC §5 `pad`).
    Rest {
        /// Time of the rest, in ticks.
        time_ticks: u32,
    },
    /// A SEPARATOR triple between concatenated sequences.
    Separator,
}

impl VocabSpec {
    /// Encodes an event as a triple; fails if a field is outside the vocabulary.
    ///
    /// The onset is not limited by `max_time`: long pieces keep absolute times (SPEC §3.6).
    pub fn encode_event(&self, event: &Event) -> Result<Triple, EventError> {
        self.check_event_fields(event)?;
        Ok(self.encode_event_unchecked(event))
    }

    /// Encodes an event as a control triple (SPEC §2.2: every token plus `control_offset`).
    pub fn encode_control(&self, event: &Event) -> Result<Triple, EventError> {
        let t = self.encode_event(event)?;
        Ok(self.to_control(t))
    }

    /// Encodes without range checks: the caller guarantees the fields are in range.
    #[inline]
    pub(crate) fn encode_event_unchecked(&self, event: &Event) -> Triple {
        Triple::from_raw(
            self.time_offset() + event.onset_ticks,
            self.duration_offset() + event.duration_ticks,
            self.note_offset() + event.instrument * self.max_pitch() + event.pitch,
        )
    }

    fn check_event_fields(&self, event: &Event) -> Result<(), EventError> {
        let check = |field: &'static str, value: u32, limit: u32| {
            if value >= limit {
                Err(EventError::FieldOutOfRange {
                    field,
                    value: value as u64,
                    limit: limit as u64,
                })
            } else {
                Ok(())
            }
        };
        check("duration_ticks", event.duration_ticks, self.max_duration())?;
        check("instrument", event.instrument, self.num_instruments())?;
        check("pitch", event.pitch, self.max_pitch())?;
        check("onset_ticks", event.onset_ticks, self.max_abs_time_ticks())
    }

    /// The REST triple at `time_ticks` (SPEC §2.2: duration 0, note REST).
    #[inline]
    pub fn rest_triple(&self, time_ticks: u32) -> Triple {
        Triple::from_raw(
            self.time_offset() + time_ticks,
            self.duration_offset(),
            self.rest(),
        )
    }

    /// The SEPARATOR triple (three SEPARATOR tokens).
    #[inline]
    pub fn separator_triple(&self) -> Triple {
        let s = self.separator();
        Triple::from_raw(s, s, s)
    }

    /// Moves an event triple into the control block (all three tokens shifted, SPEC §2.2).
    #[inline]
    pub fn to_control(&self, t: Triple) -> Triple {
        let c = self.control_offset();
        Triple::from_raw(t.time.0 + c, t.duration.0 + c, t.note.0 + c)
    }

    /// True if the note token marks a control (SPEC §2.2: `control_offset ≤ note < separator`).
    #[inline]
    pub fn is_control(&self, t: &Triple) -> bool {
        t.note.0 >= self.control_offset() && t.note.0 < self.separator()
    }

    /// True for a triple whose note token is SEPARATOR.
    #[inline]
    pub fn is_separator(&self, t: &Triple) -> bool {
        t.note.0 == self.separator()
    }

    /// True for a REST triple.
    #[inline]
    pub fn is_rest(&self, t: &Triple) -> bool {
        t.note.0 == self.rest()
    }

    /// The triple's time in ticks, as the reference's ops compute it (SPEC §5): time token minus
    /// `time_offset`, or minus `control_offset + time_offset` when the note token marks a control
    /// or anything above it. May be negative for malformed triples.
    #[inline]
    pub fn time_of(&self, t: &Triple) -> i64 {
        if t.note.0 < self.control_offset() {
            t.time.0 as i64 - self.time_offset() as i64
        } else {
            t.time.0 as i64 - self.control_offset() as i64 - self.time_offset() as i64
        }
    }

    /// The triple's duration in ticks (same convention as [`VocabSpec::time_of`]).
    #[inline]
    pub fn duration_of(&self, t: &Triple) -> i64 {
        if t.note.0 < self.control_offset() {
            t.duration.0 as i64 - self.duration_offset() as i64
        } else {
            t.duration.0 as i64 - self.control_offset() as i64 - self.duration_offset() as i64
        }
    }

    /// The instrument code of a triple as the reference's ops compute it: `(note − offset) //
    /// max_pitch`. REST yields `num_instruments` (129 for `amt`: SPEC §5 "REST counts as
    /// instrument 129"). Separators and other specials yield `None`.
    #[inline]
    pub fn instrument_of(&self, t: &Triple) -> Option<u32> {
        let n = t.note.0;
        if n >= self.separator() {
            None
        } else if n < self.control_offset() {
            Some((n.saturating_sub(self.note_offset())) / self.max_pitch())
        } else {
            Some((n - self.control_offset()).saturating_sub(self.note_offset()) / self.max_pitch())
        }
    }

    /// Classifies a triple by its note token only, as the reference does (SPEC §2.2).
    ///
    /// Time and duration are read arithmetically and not range-checked, except that they must
    /// not fall below their block (that would be a negative time): such triples are an error.
    pub fn classify(&self, t: &Triple) -> Result<TripleKind, EventError> {
        let n = t.note.0;
        if n == self.separator() {
            return Ok(TripleKind::Separator);
        }
        if n == self.rest() {
            let time = self.slot_value(t.time.0, self.time_offset(), 0, "time")?;
            return Ok(TripleKind::Rest { time_ticks: time });
        }
        if n > self.separator() {
            return Err(EventError::IdOutOfBlock {
                id: n,
                slot: 2,
                block: "note",
            });
        }
        let (shift, is_control) = if n >= self.control_offset() {
            (self.control_offset(), true)
        } else {
            (0, false)
        };
        let base = |off: u32| off + shift;
        let note = self.slot_value(n, base(self.note_offset()), 2, "note")?;
        if note >= self.max_pitch() * self.num_instruments() {
            return Err(EventError::IdOutOfBlock {
                id: n,
                slot: 2,
                block: "note",
            });
        }
        let event = Event {
            onset_ticks: self.slot_value(t.time.0, base(self.time_offset()), 0, "time")?,
            duration_ticks: self.slot_value(
                t.duration.0,
                base(self.duration_offset()),
                1,
                "duration",
            )?,
            instrument: note / self.max_pitch(),
            pitch: note % self.max_pitch(),
        };
        Ok(if is_control {
            TripleKind::Control(event)
        } else {
            TripleKind::Event(event)
        })
    }

    /// Classifies a triple and also checks that time and duration lie in their blocks, as
    /// model output must (time below `max_time`, duration below `max_duration`).
    pub fn decode_strict(&self, t: &Triple) -> Result<TripleKind, EventError> {
        let kind = self.classify(t)?;
        let (time, dur, slot_block) = match kind {
            TripleKind::Separator => {
                if t.time.0 != self.separator() || t.duration.0 != self.separator() {
                    return Err(EventError::IdOutOfBlock {
                        id: t.time.0,
                        slot: 0,
                        block: "separator",
                    });
                }
                return Ok(kind);
            }
            TripleKind::Rest { time_ticks } => (time_ticks, self.duration_of(t) as u32, "time"),
            TripleKind::Event(e) => (e.onset_ticks, e.duration_ticks, "time"),
            TripleKind::Control(e) => (e.onset_ticks, e.duration_ticks, "control time"),
        };
        if time >= self.max_time() {
            return Err(EventError::IdOutOfBlock {
                id: t.time.0,
                slot: 0,
                block: slot_block,
            });
        }
        if dur >= self.max_duration() {
            return Err(EventError::IdOutOfBlock {
                id: t.duration.0,
                slot: 1,
                block: "duration",
            });
        }
        Ok(kind)
    }

    #[inline]
    fn slot_value(
        &self,
        id: u32,
        base: u32,
        slot: usize,
        block: &'static str,
    ) -> Result<u32, EventError> {
        id.checked_sub(base)
            .ok_or(EventError::IdOutOfBlock { id, slot, block })
    }
}

/// Splits a flat id list into triples; fails unless the length is a multiple of three.
pub fn to_triples(ids: &[TokenId]) -> Result<Vec<Triple>, EventError> {
    if !ids.len().is_multiple_of(3) {
        return Err(EventError::NotWholeTriples { len: ids.len() });
    }
    Ok(ids
        .chunks_exact(3)
        .map(|c| Triple {
            time: c[0],
            duration: c[1],
            note: c[2],
        })
        .collect())
}

/// Same as [`to_triples`] for raw `u32` ids (fixtures, files).
pub fn raw_to_triples(ids: &[u32]) -> Result<Vec<Triple>, EventError> {
    if !ids.len().is_multiple_of(3) {
        return Err(EventError::NotWholeTriples { len: ids.len() });
    }
    Ok(ids
        .chunks_exact(3)
        .map(|c| Triple::from_raw(c[0], c[1], c[2]))
        .collect())
}

/// Flattens triples into ids, appending to `out` (hot path: the caller owns the buffer).
pub fn flatten_into(triples: &[Triple], out: &mut Vec<TokenId>) {
    out.reserve(triples.len() * 3);
    for t in triples {
        out.extend_from_slice(&t.ids());
    }
}

/// Flattens triples into a new id list.
pub fn flatten(triples: &[Triple]) -> Vec<TokenId> {
    let mut out = Vec::new();
    flatten_into(triples, &mut out);
    out
}

/// Flattens triples into raw `u32` ids (fixtures, files).
pub fn flatten_raw(triples: &[Triple]) -> Vec<u32> {
    let mut out = Vec::with_capacity(triples.len() * 3);
    for t in triples {
        out.extend_from_slice(&[t.time.0, t.duration.0, t.note.0]);
    }
    out
}

/// Encodes events as flat ids into the caller's buffer (STYLE 8: hot paths fill a buffer).
pub fn encode_into(
    spec: &VocabSpec,
    events: &[Event],
    out: &mut Vec<TokenId>,
) -> Result<(), EventError> {
    out.reserve(events.len() * 3);
    for e in events {
        out.extend_from_slice(&spec.encode_event(e)?.ids());
    }
    Ok(())
}

/// Encodes events as triples.
pub fn encode_events(spec: &VocabSpec, events: &[Event]) -> Result<Vec<Triple>, EventError> {
    events.iter().map(|e| spec.encode_event(e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt() -> VocabSpec {
        VocabSpec::amt()
    }

    #[test]
    fn encodes_event_with_reference_offsets() {
        let e = Event {
            onset_ticks: 120,
            duration_ticks: 30,
            instrument: 33,
            pitch: 40,
        };
        let t = amt().encode_event(&e).unwrap();
        assert_eq!(t, Triple::from_raw(120, 10030, 15264));
        assert_eq!(amt().classify(&t).unwrap(), TripleKind::Event(e));
    }

    #[test]
    fn control_shifts_every_token_by_control_offset() {
        let e = Event {
            onset_ticks: 50,
            duration_ticks: 40,
            instrument: 40,
            pitch: 76,
        };
        let c = amt().encode_control(&e).unwrap();
        assert_eq!(c, Triple::from_raw(27563, 37553, 43709));
        assert_eq!(amt().classify(&c).unwrap(), TripleKind::Control(e));
        assert_eq!(amt().time_of(&c), 50);
    }

    #[test]
    fn rest_counts_as_instrument_129() {
        let r = amt().rest_triple(100);
        assert_eq!(r, Triple::from_raw(100, 10000, 27512));
        assert_eq!(amt().instrument_of(&r), Some(129));
        assert_eq!(
            amt().classify(&r).unwrap(),
            TripleKind::Rest { time_ticks: 100 }
        );
    }

    #[test]
    fn long_times_classify_but_fail_strict_decode() {
        let t = Triple::from_raw(12000, 10010, 11060);
        assert!(matches!(amt().classify(&t), Ok(TripleKind::Event(_))));
        assert!(amt().decode_strict(&t).is_err());
    }

    #[test]
    fn rejects_duration_beyond_vocabulary() {
        let e = Event {
            onset_ticks: 0,
            duration_ticks: 1000,
            instrument: 0,
            pitch: 60,
        };
        assert!(matches!(
            amt().encode_event(&e),
            Err(EventError::FieldOutOfRange {
                field: "duration_ticks",
                ..
            })
        ));
    }

    #[test]
    fn triples_round_trip_through_flat_ids() {
        let ids = [0u32, 10050, 11060, 55025, 55025, 55025];
        let t = raw_to_triples(&ids).unwrap();
        assert_eq!(flatten_raw(&t), ids);
        assert!(raw_to_triples(&ids[..4]).is_err());
    }
}
