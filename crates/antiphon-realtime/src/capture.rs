//! Audio thread: turns the player's note-ons and note-offs into notes placed in song beats.
//!
//! No allocation, locks or system calls after [`Capture::new`]: held notes live in a fixed table
//! with one slot per (channel, key).

use antiphon_core::messages::ToWorker;
use antiphon_core::note::{Channel, Key, Note, Velocity};

const NUM_CHANNELS: usize = 16;
const NUM_KEYS: usize = 128;

/// A note-on still waiting for its note-off.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// Song position of the note-on, in quarter notes.
    onset_beats: f64,
    /// Note-on velocity.
    velocity: Velocity,
}

/// Pairs note-ons with note-offs per (channel, key).
pub struct Capture {
    /// One slot per channel·128 + key.
    held: Box<[Option<Held>]>,
    /// How many slots are `Some`, so closing all is free when none are.
    num_held: usize,
}

impl Capture {
    /// Allocates the held-note table: call from `activate()`.
    pub fn new() -> Self {
        Self {
            held: vec![None; NUM_CHANNELS * NUM_KEYS].into_boxed_slice(),
            num_held: 0,
        }
    }

    /// Number of notes waiting for their note-off.
    pub fn num_held(&self) -> usize {
        self.num_held
    }

    /// Records a note-on at `at_beats`. A key already held on that channel is closed here first,
    /// as a synthesizer would.
    ///
    /// Real-time safe.
    pub fn note_on(
        &mut self,
        at_beats: f64,
        key: Key,
        channel: Channel,
        velocity: Velocity,
        send: &mut impl FnMut(ToWorker),
    ) {
        let slot = slot_index(key, channel);
        if let Some(previous) = self.held[slot].take() {
            self.num_held -= 1;
            send(finished(previous, at_beats, key, channel));
        }
        self.held[slot] = Some(Held {
            onset_beats: at_beats,
            velocity,
        });
        self.num_held += 1;
        send(ToWorker::NoteStarted {
            onset_beats: at_beats,
            key,
            channel,
            velocity,
        });
    }

    /// Records a note-off at `at_beats`. A note-off without a held note-on is ignored.
    ///
    /// Real-time safe.
    pub fn note_off(
        &mut self,
        at_beats: f64,
        key: Key,
        channel: Channel,
        send: &mut impl FnMut(ToWorker),
    ) {
        let slot = slot_index(key, channel);
        if let Some(held) = self.held[slot].take() {
            self.num_held -= 1;
            send(finished(held, at_beats, key, channel));
        }
    }

    /// Closes every held note at `at_beats` (the transport stopped or jumped).
    ///
    /// Real-time safe.
    pub fn close_all(&mut self, at_beats: f64, send: &mut impl FnMut(ToWorker)) {
        if self.num_held == 0 {
            return;
        }
        for (slot, entry) in self.held.iter_mut().enumerate() {
            if let Some(held) = entry.take() {
                let key = Key::saturating((slot % NUM_KEYS) as i32);
                let channel = Channel::saturating((slot / NUM_KEYS) as i32);
                send(finished(held, at_beats, key, channel));
            }
        }
        self.num_held = 0;
    }
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

fn slot_index(key: Key, channel: Channel) -> usize {
    usize::from(channel.get()) * NUM_KEYS + usize::from(key.get())
}

fn finished(held: Held, at_beats: f64, key: Key, channel: Channel) -> ToWorker {
    ToWorker::NoteFinished(Note {
        onset_beats: held.onset_beats,
        duration_beats: (at_beats - held.onset_beats).max(0.0),
        key,
        channel,
        velocity: held.velocity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(key: u8) -> Key {
        Key::new(key).unwrap()
    }

    fn ch(channel: u8) -> Channel {
        Channel::new(channel).unwrap()
    }

    fn v(unit: f32) -> Velocity {
        Velocity::from_unit(unit)
    }

    fn collect(f: impl FnOnce(&mut dyn FnMut(ToWorker))) -> Vec<ToWorker> {
        let mut out = Vec::new();
        f(&mut |m| out.push(m));
        out
    }

    #[test]
    fn pairs_note_on_with_its_note_off() {
        let mut capture = Capture::new();
        let out = collect(|send| {
            capture.note_on(4.0, k(60), ch(0), v(0.5), &mut |m| send(m));
            capture.note_off(5.5, k(60), ch(0), &mut |m| send(m));
        });
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[1],
            ToWorker::NoteFinished(Note {
                onset_beats: 4.0,
                duration_beats: 1.5,
                key: k(60),
                channel: ch(0),
                velocity: v(0.5)
            })
        );
        assert_eq!(capture.num_held(), 0);
    }

    #[test]
    fn ignores_note_off_without_note_on() {
        let mut capture = Capture::new();
        let out = collect(|send| capture.note_off(1.0, k(60), ch(3), &mut |m| send(m)));
        assert!(out.is_empty());
    }

    #[test]
    fn channels_are_paired_separately() {
        let mut capture = Capture::new();
        let out = collect(|send| {
            capture.note_on(0.0, k(60), ch(0), v(0.5), &mut |m| send(m));
            capture.note_on(1.0, k(60), ch(1), v(0.5), &mut |m| send(m));
            capture.note_off(2.0, k(60), ch(1), &mut |m| send(m));
        });
        let ToWorker::NoteFinished(note) = out[2] else {
            panic!("expected a finished note, got {:?}", out[2]);
        };
        assert_eq!((note.channel, note.onset_beats), (ch(1), 1.0));
        assert_eq!(capture.num_held(), 1);
    }

    #[test]
    fn retrigger_closes_the_held_note_first() {
        let mut capture = Capture::new();
        let out = collect(|send| {
            capture.note_on(0.0, k(60), ch(0), v(0.5), &mut |m| send(m));
            capture.note_on(1.0, k(60), ch(0), v(0.7), &mut |m| send(m));
        });
        assert!(matches!(out[1], ToWorker::NoteFinished(n) if n.duration_beats == 1.0));
        assert!(matches!(out[2], ToWorker::NoteStarted { velocity, .. } if velocity == v(0.7)));
        assert_eq!(capture.num_held(), 1);
    }

    #[test]
    fn close_all_finishes_every_held_note() {
        let mut capture = Capture::new();
        let out = collect(|send| {
            capture.note_on(0.0, k(60), ch(0), v(0.5), &mut |m| send(m));
            capture.note_on(0.5, k(127), ch(15), v(0.5), &mut |m| send(m));
            capture.close_all(2.0, &mut |m| send(m));
        });
        let finished: Vec<_> = out
            .iter()
            .filter_map(|m| match m {
                ToWorker::NoteFinished(n) => Some((n.key, n.channel, n.duration_beats)),
                _ => None,
            })
            .collect();
        assert_eq!(finished, vec![(k(60), ch(0), 2.0), (k(127), ch(15), 1.5)]);
        assert_eq!(capture.num_held(), 0);
    }
}
