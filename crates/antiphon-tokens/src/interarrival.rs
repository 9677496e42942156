//! The interarrival ("MIDI-like") encoding of the `*-ar-inter-*` baseline (SPEC §2.4).
//!
//! Only for compatibility checks with that baseline: time shifts, note-ons and note-offs.

use super::midi::{MessageKind, MidiStream, DRUM_CHANNEL};

/// SPEC §2.4: MAX_INTERARRIVAL = 1000; time shifts 1 … 999 are ids 1 … 999.
pub const MAX_INTERARRIVAL: u32 = 1000;
/// SPEC §2.4: note-on ids start at 1000.
pub const NOTE_ON_OFFSET: u32 = 1000;
/// SPEC §2.4: note-off ids start at 17512.
pub const NOTE_OFF_OFFSET: u32 = 17512;
/// SPEC §2.4: MIDI_SEPARATOR.
pub const SEPARATOR: u32 = 34024;
/// SPEC §2.4: MIDI_VOCAB_SIZE.
pub const VOCAB_SIZE: u32 = 34025;

/// `midi_to_interarrival` (SPEC §2.4). For each note message, the seconds accumulated since the
/// previous note message (every message's delta added in float) are rounded half to even at
/// 100 per second and capped at 999; a shift is emitted if > 0. Returns the ids and how many
/// shifts were capped.
pub fn from_stream(stream: &MidiStream) -> (Vec<u32>, usize) {
    let mut out = Vec::new();
    let mut programs = [0u8; 16];
    let mut dt = 0.0f64;
    let mut truncations = 0;
    for m in stream.messages() {
        dt += m.delta_seconds;
        let (channel, key, on) = match m.kind {
            MessageKind::Program { channel, program } => {
                programs[channel as usize] = program;
                continue;
            }
            MessageKind::NoteOn {
                channel,
                key,
                velocity,
            } => (channel, key, velocity > 0),
            MessageKind::NoteOff { channel, key } => (channel, key, false),
            MessageKind::Tempo(_) | MessageKind::Other => continue,
        };
        let ticks = (100.0 * dt).round_ties_even();
        let capped = ticks.min((MAX_INTERARRIVAL - 1) as f64);
        if capped != ticks {
            truncations += 1;
        }
        if capped > 0.0 {
            out.push(capped as u32);
        }
        let instr = if channel == DRUM_CHANNEL {
            128
        } else {
            programs[channel as usize] as u32
        };
        let offset = if on { NOTE_ON_OFFSET } else { NOTE_OFF_OFFSET };
        out.push(offset + 128 * instr + key as u32);
        dt = 0.0;
    }
    (out, truncations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::parse;

    #[test]
    fn emits_shift_then_note_on_and_off() {
        // 480 tpq, 120 bpm: 480 ticks = 0.5 s = 50 ticks.
        let bytes = b"MThd\0\0\0\x06\0\0\0\x01\x01\xe0MTrk\0\0\0\x0d\0\x90\x3c\x40\x83\x60\x80\x3c\0\0\xff\x2f\0";
        let (ids, truncations) = from_stream(&parse(bytes).unwrap());
        assert_eq!(ids, [1060, 50, 17572]);
        assert_eq!(truncations, 0);
    }
}
