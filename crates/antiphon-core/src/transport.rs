//! The host's transport as the audio thread last saw it, published once per block as one
//! snapshot that readers always see whole, and how it moved between blocks.
//!
//! A sequence lock over atomics: the audio thread (the only writer) never waits, and a reader
//! (the worker, the editor) retries the rare read that overlapped a write. Every field is an
//! atomic, so a read that overlaps a write is wasted, never undefined.

use std::sync::atomic::{fence, AtomicU64, Ordering};

/// The transport at the start of a block; all zero and false before the host said anything.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TransportSnapshot {
    /// Whether the host transport is playing.
    pub playing: bool,
    /// Whether the host gave a song position and tempo at all (since the plugin started).
    pub has_transport: bool,
    /// Song position at the start of the last playing block, in quarter notes.
    pub playhead_beats: f64,
    /// Host tempo in quarter notes per minute.
    pub tempo_bpm: f64,
    /// A bar line of the current meter, in quarter notes.
    pub bar_start_beats: f64,
    /// Length of a bar in quarter notes.
    pub bar_len_beats: f64,
    /// Whether the host loops.
    pub loop_active: bool,
    /// Start of the host's loop, in quarter notes.
    pub loop_start_beats: f64,
    /// End of the host's loop, in quarter notes.
    pub loop_end_beats: f64,
}

/// How the host's transport moved between two blocks, as the audio thread tells the worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TransportMove {
    /// Started playing at this position.
    Started {
        /// Song position in quarter notes.
        pos_beats: f64,
    },
    /// Stopped (or lost its position) after the last block, which ended here.
    Stopped {
        /// Song position in quarter notes.
        pos_beats: f64,
    },
    /// Playing, but not where the last block ended: a loop or a locate.
    Jumped {
        /// Where the playhead would be without the jump, in quarter notes.
        from_beats: f64,
        /// Where it is, in quarter notes.
        to_beats: f64,
    },
}

/// Fields of a snapshot as bits: the flags, then the numbers.
const WORDS: usize = 8;

impl TransportSnapshot {
    fn to_words(self) -> [u64; WORDS] {
        let flags =
            self.playing as u64 | (self.has_transport as u64) << 1 | (self.loop_active as u64) << 2;
        [
            flags,
            self.playhead_beats.to_bits(),
            self.tempo_bpm.to_bits(),
            self.bar_start_beats.to_bits(),
            self.bar_len_beats.to_bits(),
            self.loop_start_beats.to_bits(),
            self.loop_end_beats.to_bits(),
            0,
        ]
    }

    fn from_words(w: [u64; WORDS]) -> Self {
        Self {
            playing: w[0] & 1 != 0,
            has_transport: w[0] & 2 != 0,
            loop_active: w[0] & 4 != 0,
            playhead_beats: f64::from_bits(w[1]),
            tempo_bpm: f64::from_bits(w[2]),
            bar_start_beats: f64::from_bits(w[3]),
            bar_len_beats: f64::from_bits(w[4]),
            loop_start_beats: f64::from_bits(w[5]),
            loop_end_beats: f64::from_bits(w[6]),
        }
    }
}

/// One writer publishes [`TransportSnapshot`]s, any number of readers read them whole.
pub struct TransportCell {
    /// Even when no write is under way; odd while one is.
    sequence: AtomicU64,
    words: [AtomicU64; WORDS],
}

impl Default for TransportCell {
    fn default() -> Self {
        let words = TransportSnapshot::default().to_words();
        Self {
            sequence: AtomicU64::new(0),
            words: words.map(AtomicU64::new),
        }
    }
}

impl TransportCell {
    /// Publishes `snapshot`. Wait-free and real-time safe; from one thread only (the audio
    /// thread), which is what keeps the sequence consistent.
    #[inline]
    pub fn publish(&self, snapshot: TransportSnapshot) {
        let start = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(start.wrapping_add(1), Ordering::Relaxed);
        // The odd sequence is visible before any word changes.
        fence(Ordering::Release);
        for (word, value) in self.words.iter().zip(snapshot.to_words()) {
            word.store(value, Ordering::Relaxed);
        }
        // Release: a reader that sees the even sequence sees these words, and everything the
        // audio thread did before publishing (the notes it queued for the worker).
        self.sequence
            .store(start.wrapping_add(2), Ordering::Release);
    }

    /// The last published snapshot, whole. Never called on the audio thread (it may retry).
    pub fn read(&self) -> TransportSnapshot {
        loop {
            let before = self.sequence.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let words = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                return TransportSnapshot::from_words(words);
            }
        }
    }

    /// Changes some fields of the last snapshot and publishes the result (tests, and a writer
    /// that owns no copy). Same one-writer rule as [`publish`](Self::publish).
    pub fn update(&self, change: impl FnOnce(&mut TransportSnapshot)) {
        let mut snapshot = self.read();
        change(&mut snapshot);
        self.publish(snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn a_snapshot_reads_back_as_published() {
        let cell = TransportCell::default();
        assert_eq!(cell.read(), TransportSnapshot::default());
        let snapshot = TransportSnapshot {
            playing: true,
            has_transport: true,
            playhead_beats: 17.25,
            tempo_bpm: 93.5,
            bar_start_beats: 16.0,
            bar_len_beats: 3.0,
            loop_active: true,
            loop_start_beats: 8.0,
            loop_end_beats: 24.0,
        };
        cell.publish(snapshot);
        assert_eq!(cell.read(), snapshot);
    }

    /// The writer publishes snapshots whose fields all derive from one counter; a torn read
    /// would mix two counters' fields.
    #[test]
    fn readers_never_see_a_torn_snapshot() {
        fn of(n: u64) -> TransportSnapshot {
            let x = n as f64;
            TransportSnapshot {
                playing: n.is_multiple_of(2),
                has_transport: true,
                playhead_beats: x,
                tempo_bpm: x + 1.0,
                bar_start_beats: x + 2.0,
                bar_len_beats: x + 3.0,
                loop_active: n.is_multiple_of(2),
                loop_start_beats: x + 4.0,
                loop_end_beats: x + 5.0,
            }
        }
        let cell = Arc::new(TransportCell::default());
        cell.publish(of(0));
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (cell, done) = (cell.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut reads = 0u64;
                    let mut last = 0.0;
                    while !done.load(Ordering::Relaxed) {
                        let s = cell.read();
                        assert_eq!(s, of(s.playhead_beats as u64), "torn read");
                        assert!(s.playhead_beats >= last, "went back in time");
                        last = s.playhead_beats;
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for n in 1..=200_000 {
            cell.publish(of(n));
        }
        done.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
        assert_eq!(cell.read(), of(200_000));
    }
}
