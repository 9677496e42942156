//! A streaming decoder: ids in, one meaning per complete triple out (STYLE 7).
//!
//! The sampler emits one id at a time; [`StreamDecoder::step`] returns `Ok(None)` until a
//! triple is complete, then what it means. Every id is checked against the block its position
//! in the triple requires, so a malformed stream is reported at the id that broke it.

use thiserror::Error;

use super::events::{Event, TokenId, Triple, TripleKind};
use super::vocab::VocabSpec;

/// What a completed unit of the stream means.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A task flag (AUTOREGRESS, ANTICIPATE or an extra flag), valid at a triple boundary.
    Flag(TokenId),
    /// A note event; onset includes the decoder's time offset.
    Event(Event),
    /// An anticipated control; onset includes the time offset.
    Control(Event),
    /// A REST at this time (offset included).
    Rest {
        /// Time in ticks.
        time_ticks: u32,
    },
    /// A SEPARATOR triple.
    Separator,
}

/// A stream that broke the triple grammar.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("id {id} at stream position {position} (triple slot {slot}): {reason}")]
pub struct DecodeError {
    /// The offending id.
    pub id: u32,
    /// Its 0-based position among all ids stepped.
    pub position: u64,
    /// Its slot in the triple: 0 time, 1 duration, 2 note.
    pub slot: usize,
    /// What was expected.
    pub reason: &'static str,
}

/// Decodes ids one at a time. Holds at most two pending ids.
#[derive(Clone, Debug)]
pub struct StreamDecoder {
    /// The vocabulary (owned: a decoder lives on the worker with its session).
    spec: VocabSpec,
    /// Ids of the incomplete triple.
    pending: [u32; 2],
    /// How many ids are pending (0, 1 or 2).
    len: usize,
    /// Added to every decoded time, e.g. the window offset the sampler relativized by.
    time_offset_ticks: u32,
    /// Ids stepped so far.
    position: u64,
}

impl StreamDecoder {
    /// A decoder for `spec`, with no time offset.
    pub fn new(spec: VocabSpec) -> StreamDecoder {
        StreamDecoder {
            spec,
            pending: [0; 2],
            len: 0,
            time_offset_ticks: 0,
            position: 0,
        }
    }

    /// Sets the offset added to decoded times (the relativization offset of SPEC §8.2).
    pub fn set_time_offset_ticks(&mut self, offset: u32) {
        self.time_offset_ticks = offset;
    }

    /// Drops any incomplete triple.
    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// True when the next id starts a triple.
    pub fn at_boundary(&self) -> bool {
        self.len == 0
    }

    /// Feeds one id. Returns `Ok(None)` while the triple is incomplete, `Ok(Some(_))` when an id
    /// completes a unit (a flag is complete by itself), or an error naming the id; after an
    /// error the incomplete triple is dropped.
    pub fn step(&mut self, id: TokenId) -> Result<Option<Decoded>, DecodeError> {
        let position = self.position;
        self.position += 1;
        let s = &self.spec;
        let raw = id.0;
        let slot = self.len;
        let fail = |this: &mut Self, reason| {
            this.len = 0;
            Err(DecodeError {
                id: raw,
                position,
                slot,
                reason,
            })
        };
        if slot == 0 && s.is_flag(raw) {
            return Ok(Some(Decoded::Flag(id)));
        }
        if raw >= s.vocab_size() {
            return fail(self, "id is not in the vocabulary");
        }
        let c = s.control_offset();
        let sep = s.separator();
        let in_block = |x: u32, off: u32, size: u32| x >= off && x < off + size;
        let ok = match slot {
            0 => {
                raw == sep
                    || in_block(raw, s.time_offset(), s.max_time())
                    || in_block(raw, c + s.time_offset(), s.max_time())
            }
            1 => {
                raw == sep
                    || in_block(raw, s.duration_offset(), s.max_duration())
                    || in_block(raw, c + s.duration_offset(), s.max_duration())
            }
            _ => raw <= sep && raw >= s.note_offset(),
        };
        if !ok {
            return fail(
                self,
                [
                    "expected a time",
                    "expected a duration",
                    "expected a note, REST or SEPARATOR",
                ][slot.min(2)],
            );
        }
        if slot < 2 {
            self.pending[slot] = raw;
            self.len += 1;
            return Ok(None);
        }
        let t = Triple::from_raw(self.pending[0], self.pending[1], raw);
        self.len = 0;
        let kind = match s.decode_strict(&t) {
            Ok(k) => k,
            Err(_) => {
                return fail(self, "time, duration and note belong to different blocks");
            }
        };
        // The control and event blocks must agree across the triple.
        let is_control_note = raw >= c && raw < sep;
        let control_time = t.time.0 >= c;
        let control_dur = t.duration.0 >= c;
        let consistent = match kind {
            TripleKind::Separator => true,
            _ => control_time == is_control_note && control_dur == is_control_note,
        };
        if !consistent {
            return fail(self, "time, duration and note belong to different blocks");
        }
        let off = self.time_offset_ticks;
        Ok(Some(match kind {
            TripleKind::Separator => Decoded::Separator,
            TripleKind::Rest { time_ticks } => Decoded::Rest {
                time_ticks: time_ticks + off,
            },
            TripleKind::Event(mut e) => {
                e.onset_ticks += off;
                Decoded::Event(e)
            }
            TripleKind::Control(mut e) => {
                e.onset_ticks += off;
                Decoded::Control(e)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut StreamDecoder, ids: &[u32]) -> Vec<Result<Option<Decoded>, DecodeError>> {
        ids.iter().map(|&i| d.step(TokenId(i))).collect()
    }

    #[test]
    fn returns_none_until_triple_is_complete() {
        let mut d = StreamDecoder::new(VocabSpec::amt());
        let out = feed(&mut d, &[55027, 120, 10030, 15264]);
        assert_eq!(out[0], Ok(Some(Decoded::Flag(TokenId(55027)))));
        assert_eq!(out[1], Ok(None));
        assert_eq!(out[2], Ok(None));
        assert_eq!(
            out[3],
            Ok(Some(Decoded::Event(Event {
                onset_ticks: 120,
                duration_ticks: 30,
                instrument: 33,
                pitch: 40
            })))
        );
    }

    #[test]
    fn adds_time_offset_to_events_and_rests() {
        let mut d = StreamDecoder::new(VocabSpec::amt());
        d.set_time_offset_ticks(1000);
        let out = feed(&mut d, &[5, 10000, 27512]);
        assert_eq!(out[2], Ok(Some(Decoded::Rest { time_ticks: 1005 })));
    }

    #[test]
    fn decodes_controls_and_separators() {
        let mut d = StreamDecoder::new(VocabSpec::amt());
        let out = feed(&mut d, &[27563, 37553, 43709, 55025, 55025, 55025]);
        assert!(matches!(out[2], Ok(Some(Decoded::Control(_)))));
        assert_eq!(out[5], Ok(Some(Decoded::Separator)));
    }

    #[test]
    fn reports_duration_in_time_slot_and_recovers() {
        let mut d = StreamDecoder::new(VocabSpec::amt());
        let err = d.step(TokenId(10010)).unwrap_err();
        assert_eq!((err.position, err.slot), (0, 0));
        assert!(d.at_boundary());
        assert_eq!(
            feed(&mut d, &[0, 10010, 11060])[2]
                .as_ref()
                .map(|o| o.is_some()),
            Ok(true)
        );
    }

    #[test]
    fn rejects_event_time_with_control_note() {
        let mut d = StreamDecoder::new(VocabSpec::amt());
        let out = feed(&mut d, &[5, 10010, 43709]);
        assert!(out[2].is_err());
    }
}
