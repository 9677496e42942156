//! Audio thread: plays planned notes at sample-exact offsets inside each block.
//!
//! No allocation, locks or system calls after [`Scheduler::new`]; capacities are fixed there.
//!
//! Rules it keeps, whatever the block sizes, splits, tempo changes, loops and stops:
//! - output timings never decrease within a block;
//! - every note-on it emits gets exactly one note-off (a re-triggered key is closed first);
//! - a planned note whose time has passed is dropped and counted, never played late.

use antiphon_core::note::{Channel, Key, Note, Velocity};
use antiphon_core::time::{BlockTime, EPSILON_BEATS};

/// Planned notes the scheduler holds at most.
pub const MAX_PLANNED_NOTES: usize = 4096;
/// Notes that can sound at once.
pub const MAX_SOUNDING_NOTES: usize = 512;

/// A note event the scheduler emits, timed in samples from the start of the block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoteOut {
    /// Start a note.
    On {
        /// Sample offset in the block.
        timing: u32,
        /// The key.
        key: Key,
        /// The channel.
        channel: Channel,
        /// The velocity.
        velocity: Velocity,
    },
    /// End a note.
    Off {
        /// Sample offset in the block.
        timing: u32,
        /// The key.
        key: Key,
        /// The channel.
        channel: Channel,
    },
}

impl NoteOut {
    /// Sample offset in the block.
    #[inline]
    pub fn timing(&self) -> u32 {
        match *self {
            NoteOut::On { timing, .. } | NoteOut::Off { timing, .. } => timing,
        }
    }
}

/// A note that has been started and not yet ended.
#[derive(Debug, Clone, Copy)]
struct Sounding {
    /// Song position of its note-off, in quarter notes.
    end_beats: f64,
    /// The key.
    key: Key,
    /// The channel.
    channel: Channel,
}

/// Counters the scheduler keeps; the caller publishes them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerCounts {
    /// Planned notes whose onset had passed when the scheduler first saw them due.
    pub missed_deadlines: u64,
    /// Planned notes skipped because the playhead jumped past them.
    pub skipped: u64,
    /// Notes refused because the planned queue or the sounding table was full.
    pub dropped_full: u64,
}

/// A fixed-capacity queue of future notes in beats.
pub struct Scheduler {
    /// Not yet started, sorted by onset with the latest first, so the next note pops off the
    /// end. Equal onsets keep arrival order.
    planned: Vec<Note>,
    /// Started and not yet ended, unordered.
    sounding: Vec<Sounding>,
    /// Waiting for the playhead to jump back (the next pass of a loop), in arrival order.
    next_pass: Vec<Note>,
    /// What went wrong so far.
    counts: SchedulerCounts,
}

impl Scheduler {
    /// Allocates both tables: call from `activate()`.
    pub fn new() -> Self {
        Self {
            planned: Vec::with_capacity(MAX_PLANNED_NOTES),
            sounding: Vec::with_capacity(MAX_SOUNDING_NOTES),
            next_pass: Vec::with_capacity(MAX_PLANNED_NOTES),
            counts: SchedulerCounts::default(),
        }
    }

    /// Counters so far.
    pub fn counts(&self) -> SchedulerCounts {
        self.counts
    }

    /// Number of planned notes not yet started.
    pub fn planned_len(&self) -> usize {
        self.planned.len()
    }

    /// Number of notes currently sounding.
    pub fn sounding_len(&self) -> usize {
        self.sounding.len()
    }

    /// Queues a note. A full queue hands the note back (and counts it).
    ///
    /// Real-time safe.
    pub fn plan(&mut self, note: Note) -> Result<(), Note> {
        if self.planned.len() == self.planned.capacity() {
            self.counts.dropped_full += 1;
            return Err(note);
        }
        let note = Note {
            duration_beats: note.duration_beats.max(0.0),
            ..note
        };
        // Before every planned note with the same onset, so equal onsets pop in arrival order.
        let at = self
            .planned
            .partition_point(|p| p.onset_beats > note.onset_beats);
        self.planned.insert(at, note);
        Ok(())
    }

    /// Keeps a note for the next pass: it is planned when the playhead next jumps back. A full
    /// list hands the note back (and counts it).
    ///
    /// Real-time safe.
    pub fn plan_next_pass(&mut self, note: Note) -> Result<(), Note> {
        if self.next_pass.len() == self.next_pass.capacity() {
            self.counts.dropped_full += 1;
            return Err(note);
        }
        self.next_pass.push(note);
        Ok(())
    }

    /// Forgets every note waiting for the next pass.
    ///
    /// Real-time safe.
    pub fn cancel_next_pass(&mut self) {
        self.next_pass.clear();
    }

    /// Number of notes waiting for the next pass.
    pub fn next_pass_len(&self) -> usize {
        self.next_pass.len()
    }

    /// The playhead jumped back to `to_beats`: the next pass begins. Notes kept for it that lie
    /// ahead are planned; the rest are dropped (counted as skipped).
    ///
    /// Real-time safe.
    pub fn begin_next_pass(&mut self, to_beats: f64) {
        let mut waiting = std::mem::take(&mut self.next_pass);
        for note in waiting.drain(..) {
            if note.onset_beats >= to_beats - EPSILON_BEATS {
                // A full planned queue counts the note itself.
                let _ = self.plan(note);
            } else {
                self.counts.skipped += 1;
            }
        }
        // Give the (now empty) buffer back, so its capacity is reused, not reallocated.
        self.next_pass = waiting;
    }

    /// Forgets every planned note that has not started. Sounding notes still end on time.
    ///
    /// Real-time safe.
    pub fn cancel_planned(&mut self) {
        self.planned.clear();
    }

    /// Forgets the planned notes at or after `from_beats`; earlier ones stay.
    ///
    /// Real-time safe.
    pub fn cancel_planned_from(&mut self, from_beats: f64) {
        self.planned
            .retain(|n| n.onset_beats < from_beats - EPSILON_BEATS);
    }

    /// Drops planned notes earlier than `pos_beats` because the playhead jumped past them.
    ///
    /// Real-time safe.
    pub fn skip_before(&mut self, pos_beats: f64) {
        while let Some(next) = self.planned.last() {
            if next.onset_beats >= pos_beats - EPSILON_BEATS {
                break;
            }
            self.planned.pop();
            self.counts.skipped += 1;
        }
    }

    /// Ends every sounding note at sample `timing` (transport stop, jump, mode change,
    /// deactivation).
    ///
    /// Real-time safe.
    pub fn release_all(&mut self, timing: u32, emit: &mut impl FnMut(NoteOut)) {
        for note in self.sounding.drain(..) {
            emit(NoteOut::Off {
                timing,
                key: note.key,
                channel: note.channel,
            });
        }
    }

    /// Emits, in non-decreasing sample order, every note-on and note-off due in `block`.
    ///
    /// A note belongs to the block that holds its nearest sample. Planned notes whose onset
    /// belonged to an earlier block are dropped and counted as missed deadlines. A note-off that is overdue (it can only be after a host misbehaves) goes out
    /// at sample 0 rather than never. At equal offsets note-offs go first, so a note that ends
    /// where the next one on the same key starts does not cut it.
    ///
    /// Real-time safe.
    pub fn emit_block(&mut self, block: &BlockTime, emit: &mut impl FnMut(NoteOut)) {
        while let Some(next) = self.planned.last() {
            if !block.is_past(next.onset_beats) {
                break;
            }
            self.planned.pop();
            self.counts.missed_deadlines += 1;
        }

        loop {
            let next_on = self
                .planned
                .last()
                .filter(|note| block.contains(note.onset_beats))
                .map(|note| block.offset_of(note.onset_beats));
            let next_off = self
                .earliest_due_off(block)
                .map(|(index, end)| (index, block.offset_of(end)));

            match (next_on, next_off) {
                (_, Some((index, off_timing)))
                    if next_on.is_none_or(|on_timing| off_timing <= on_timing) =>
                {
                    let note = self.sounding.swap_remove(index);
                    emit(NoteOut::Off {
                        timing: off_timing,
                        key: note.key,
                        channel: note.channel,
                    });
                }
                (Some(on_timing), _) => {
                    let note = self.planned.pop().expect("next_on came from the last note");
                    self.start(note, on_timing, emit);
                }
                _ => break,
            }
        }
    }

    /// Starts `note` at `timing`, closing a sounding note on the same key and channel first.
    fn start(&mut self, note: Note, timing: u32, emit: &mut impl FnMut(NoteOut)) {
        if let Some(index) = self
            .sounding
            .iter()
            .position(|s| s.key == note.key && s.channel == note.channel)
        {
            let old = self.sounding.swap_remove(index);
            emit(NoteOut::Off {
                timing,
                key: old.key,
                channel: old.channel,
            });
        }
        if self.sounding.len() == self.sounding.capacity() {
            self.counts.dropped_full += 1;
            return;
        }
        self.sounding.push(Sounding {
            end_beats: note.onset_beats + note.duration_beats,
            key: note.key,
            channel: note.channel,
        });
        emit(NoteOut::On {
            timing,
            key: note.key,
            channel: note.channel,
            velocity: note.velocity,
        });
    }

    /// The sounding note that ends first, if it ends in `block` or before.
    fn earliest_due_off(&self, block: &BlockTime) -> Option<(usize, f64)> {
        self.sounding
            .iter()
            .enumerate()
            .filter(|(_, s)| block.rounded_offset(s.end_beats) < i64::from(block.len_samples))
            .min_by(|a, b| a.1.end_beats.total_cmp(&b.1.end_beats))
            .map(|(index, s)| (index, s.end_beats))
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f64 = 48_000.0;

    fn note(onset_beats: f64, duration_beats: f64, key: u8) -> Note {
        Note {
            onset_beats,
            duration_beats,
            key: Key::new(key).unwrap(),
            channel: Channel::default(),
            velocity: Velocity::from_unit(0.8),
        }
    }

    fn block(start_beats: f64, len_samples: u32, tempo_bpm: f64) -> BlockTime {
        BlockTime {
            start_beats,
            tempo_bpm,
            sample_rate_hz: RATE,
            len_samples,
        }
    }

    fn run(scheduler: &mut Scheduler, block: &BlockTime) -> Vec<NoteOut> {
        let mut out = Vec::new();
        scheduler.emit_block(block, &mut |e| out.push(e));
        out
    }

    #[test]
    fn plays_note_at_exact_sample_offsets() {
        let mut s = Scheduler::new();
        // 120 bpm at 48 kHz: one beat is 24000 samples.
        s.plan(note(1.0, 0.5, 60)).unwrap();
        assert!(run(&mut s, &block(0.0, 24_000, 120.0)).is_empty());
        let out = run(&mut s, &block(1.0, 24_000, 120.0));
        assert_eq!(
            out,
            vec![
                NoteOut::On {
                    timing: 0,
                    key: Key::new(60).unwrap(),
                    channel: Channel::default(),
                    velocity: Velocity::from_unit(0.8)
                },
                NoteOut::Off {
                    timing: 12_000,
                    key: Key::new(60).unwrap(),
                    channel: Channel::default()
                },
            ]
        );
    }

    #[test]
    fn note_off_crosses_blocks() {
        let mut s = Scheduler::new();
        s.plan(note(0.0, 1.0, 62)).unwrap();
        let first = run(&mut s, &block(0.0, 512, 120.0));
        assert!(matches!(first[..], [NoteOut::On { timing: 0, .. }]));
        let mut pos = 512.0 / 24_000.0;
        let mut off = None;
        while off.is_none() {
            let b = block(pos, 512, 120.0);
            for e in run(&mut s, &b) {
                off = Some((b.start_beats, e));
            }
            pos = b.end_beats();
        }
        let (start, e) = off.unwrap();
        // 24000 = 46 * 512 + 448
        assert!((start - 46.0 * 512.0 / 24_000.0).abs() < 1e-9);
        assert_eq!(e.timing(), 448);
    }

    #[test]
    fn drops_note_whose_time_has_passed() {
        let mut s = Scheduler::new();
        s.plan(note(0.5, 1.0, 60)).unwrap();
        s.plan(note(2.0, 1.0, 61)).unwrap();
        let out = run(&mut s, &block(1.0, 512, 120.0));
        assert!(out.is_empty());
        assert_eq!(s.counts().missed_deadlines, 1);
        assert_eq!(s.planned_len(), 1);
    }

    #[test]
    fn cancelling_from_a_beat_keeps_the_notes_before_it() {
        let mut s = Scheduler::new();
        for onset in [0.5, 1.0, 2.0, 3.5] {
            s.plan(note(onset, 0.25, 60)).unwrap();
        }
        s.cancel_planned_from(2.0);
        assert_eq!(s.planned_len(), 2);
        let out = run(&mut s, &block(0.0, 96_000, 120.0));
        assert_eq!(
            out.len(),
            4,
            "the notes at beats 0.5 and 1 still play: {out:?}"
        );
    }

    #[test]
    fn offs_go_before_ons_at_the_same_sample() {
        let mut s = Scheduler::new();
        s.plan(note(0.0, 1.0, 60)).unwrap();
        s.plan(note(1.0, 1.0, 60)).unwrap();
        s.plan(note(1.0, 1.0, 64)).unwrap();
        let out = run(&mut s, &block(0.0, 48_000, 120.0));
        let kinds: Vec<_> = out
            .iter()
            .map(|e| match e {
                NoteOut::On { timing, key, .. } => ("on", *timing, key.get()),
                NoteOut::Off { timing, key, .. } => ("off", *timing, key.get()),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("on", 0, 60),
                ("off", 24_000, 60),
                ("on", 24_000, 60),
                ("on", 24_000, 64)
            ]
        );
    }

    #[test]
    fn retriggered_key_is_closed_before_it_sounds_again() {
        let mut s = Scheduler::new();
        s.plan(note(0.0, 4.0, 60)).unwrap();
        s.plan(note(1.0, 1.0, 60)).unwrap();
        let out = run(&mut s, &block(0.0, 48_000, 120.0));
        let ons = out
            .iter()
            .filter(|e| matches!(e, NoteOut::On { .. }))
            .count();
        let offs = out
            .iter()
            .filter(|e| matches!(e, NoteOut::Off { .. }))
            .count();
        assert_eq!((ons, offs), (2, 1));
        assert_eq!(
            out[1],
            NoteOut::Off {
                timing: 24_000,
                key: Key::new(60).unwrap(),
                channel: Channel::default()
            }
        );
        assert_eq!(s.sounding_len(), 1);
    }

    #[test]
    fn release_all_ends_every_sounding_note() {
        let mut s = Scheduler::new();
        for key in 60..64 {
            s.plan(note(0.0, 8.0, key)).unwrap();
        }
        run(&mut s, &block(0.0, 256, 120.0));
        assert_eq!(s.sounding_len(), 4);
        let mut offs = Vec::new();
        s.release_all(0, &mut |e| offs.push(e));
        assert_eq!(offs.len(), 4);
        assert_eq!(s.sounding_len(), 0);
    }

    #[test]
    fn full_queue_hands_the_note_back() {
        let mut s = Scheduler::new();
        for i in 0..MAX_PLANNED_NOTES {
            s.plan(note(i as f64, 0.5, 60)).unwrap();
        }
        let extra = note(1e6, 0.5, 61);
        assert_eq!(s.plan(extra), Err(extra));
        assert_eq!(s.counts().dropped_full, 1);
    }

    #[test]
    fn skip_before_counts_jumped_notes_apart_from_missed_ones() {
        let mut s = Scheduler::new();
        s.plan(note(1.0, 0.5, 60)).unwrap();
        s.plan(note(2.0, 0.5, 61)).unwrap();
        s.plan(note(9.0, 0.5, 62)).unwrap();
        s.skip_before(8.0);
        assert_eq!(s.counts().skipped, 2);
        assert_eq!(s.counts().missed_deadlines, 0);
        assert_eq!(s.planned_len(), 1);
    }

    #[test]
    fn follows_a_tempo_change_between_blocks() {
        let mut s = Scheduler::new();
        s.plan(note(1.5, 0.25, 60)).unwrap();
        // First beat at 120 bpm, then 60 bpm: beat 1.5 is half a beat = 24000 samples in.
        assert!(run(&mut s, &block(0.0, 24_000, 120.0)).is_empty());
        let out = run(&mut s, &block(1.0, 48_000, 60.0));
        assert_eq!(out[0].timing(), 24_000);
        assert_eq!(out[1].timing(), 36_000);
    }

    #[test]
    fn next_pass_notes_wait_for_the_jump_back() {
        let mut s = Scheduler::new();
        s.plan_next_pass(note(0.0, 0.5, 60)).unwrap();
        s.plan_next_pass(note(2.0, 0.5, 62)).unwrap();
        // Still in the first pass, near the loop end: nothing plays, nothing is missed.
        assert!(run(&mut s, &block(7.9, 512, 120.0)).is_empty());
        assert_eq!(s.counts().missed_deadlines, 0);
        s.begin_next_pass(0.0);
        assert_eq!((s.planned_len(), s.next_pass_len()), (2, 0));
        let out = run(&mut s, &block(0.0, 512, 120.0));
        assert_eq!(
            out[0],
            NoteOut::On {
                timing: 0,
                key: Key::new(60).unwrap(),
                channel: Channel::default(),
                velocity: Velocity::from_unit(0.8)
            }
        );
    }

    #[test]
    fn next_pass_notes_behind_the_jump_target_are_skipped() {
        let mut s = Scheduler::new();
        s.plan_next_pass(note(1.0, 0.5, 60)).unwrap();
        s.plan_next_pass(note(5.0, 0.5, 62)).unwrap();
        s.begin_next_pass(4.0);
        assert_eq!(s.planned_len(), 1);
        assert_eq!(s.counts().skipped, 1);
    }

    #[test]
    fn equal_onsets_play_in_arrival_order() {
        let mut s = Scheduler::new();
        for key in [67, 60, 64] {
            s.plan(note(0.0, 1.0, key)).unwrap();
        }
        let out = run(&mut s, &block(0.0, 64, 120.0));
        let keys: Vec<u8> = out
            .iter()
            .filter_map(|e| match e {
                NoteOut::On { key, .. } => Some(key.get()),
                _ => None,
            })
            .collect();
        assert_eq!(keys, vec![67, 60, 64]);
    }
}
