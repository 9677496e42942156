//! Musical time: pure timing math between the host's song position in beats and sample offsets.
//!
//! A *beat* here is always a quarter note, the unit hosts use for the song position. Every
//! function is pure, allocation-free and table-tested at the bottom of the file.

/// Samples per beat (quarter note) at `tempo_bpm` and `sample_rate_hz`.
#[inline]
pub fn samples_per_beat(tempo_bpm: f64, sample_rate_hz: f64) -> f64 {
    sample_rate_hz * 60.0 / tempo_bpm
}

/// Length of `beats` quarter notes in samples at a constant tempo.
#[inline]
pub fn beats_to_samples(beats: f64, tempo_bpm: f64, sample_rate_hz: f64) -> f64 {
    beats * samples_per_beat(tempo_bpm, sample_rate_hz)
}

/// Length of `samples` in quarter notes at a constant tempo.
#[inline]
pub fn samples_to_beats(samples: f64, tempo_bpm: f64, sample_rate_hz: f64) -> f64 {
    samples / samples_per_beat(tempo_bpm, sample_rate_hz)
}

/// Length of one bar in quarter notes for a time signature `numerator/denominator`.
///
/// 4/4 is 4 beats, 6/8 is 3, 7/16 is 1.75. A nonsensical signature (zero or negative parts)
/// falls back to 4/4 so that timing math never divides by zero.
#[inline]
pub fn bar_length_beats(numerator: i32, denominator: i32) -> f64 {
    if numerator <= 0 || denominator <= 0 {
        return 4.0;
    }
    numerator as f64 * 4.0 / denominator as f64
}

/// The first bar line at or after `pos_beats`, given any one bar line `bar_start_beats` (before
/// or after the position: Ardour, for one, reports the next bar's start) and the bar length.
/// `pos_beats` within `EPSILON_BEATS` after a bar line counts as on it.
#[inline]
pub fn next_bar_line(pos_beats: f64, bar_start_beats: f64, bar_len_beats: f64) -> f64 {
    let bars = ((pos_beats - bar_start_beats - EPSILON_BEATS) / bar_len_beats).ceil();
    bar_start_beats + bars * bar_len_beats
}

/// Tolerance for comparing song positions: far below one sample at any sane tempo and rate
/// (one sample at 960 bpm and 8 kHz is 0.002 beats), far above f64 rounding noise.
pub const EPSILON_BEATS: f64 = 1e-6;

/// The stretch of musical time one `process()` call covers.
///
/// Built from the host's transport at the start of the (sub-)block, so tempo changes are followed
/// block by block. Real-time safe: plain data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockTime {
    /// Song position at the block's first sample, in quarter notes.
    pub start_beats: f64,
    /// Tempo during the block, in quarter notes per minute.
    pub tempo_bpm: f64,
    /// The host's sample rate in Hz.
    pub sample_rate_hz: f64,
    /// Number of samples in the block.
    pub len_samples: u32,
}

impl BlockTime {
    /// Song position just after the block's last sample, in quarter notes.
    #[inline]
    pub fn end_beats(&self) -> f64 {
        self.start_beats + self.len_beats()
    }

    /// Length of the block in quarter notes.
    #[inline]
    pub fn len_beats(&self) -> f64 {
        samples_to_beats(self.len_samples as f64, self.tempo_bpm, self.sample_rate_hz)
    }

    /// Sample offset of `beats` from the block's first sample, rounded to the nearest sample
    /// (halves go up, so a position exactly between two blocks belongs to the later one).
    /// Negative before the block, `len_samples` or more after it.
    #[inline]
    pub fn rounded_offset(&self, beats: f64) -> i64 {
        let offset = beats_to_samples(
            beats - self.start_beats,
            self.tempo_bpm,
            self.sample_rate_hz,
        );
        (offset + 0.5).floor() as i64
    }

    /// Whether an event at `beats` belongs to this block: its nearest sample is inside it.
    #[inline]
    pub fn contains(&self, beats: f64) -> bool {
        (0..self.len_samples as i64).contains(&self.rounded_offset(beats))
    }

    /// Whether an event at `beats` belonged to an earlier block.
    #[inline]
    pub fn is_past(&self, beats: f64) -> bool {
        self.rounded_offset(beats) < 0
    }

    /// Sample offset of `beats` inside the block, clamped to it.
    #[inline]
    pub fn offset_of(&self, beats: f64) -> u32 {
        self.rounded_offset(beats)
            .clamp(0, i64::from(self.len_samples.saturating_sub(1))) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_and_samples_convert_both_ways() {
        // (beats, bpm, rate, samples)
        let table = [
            (1.0, 120.0, 48_000.0, 24_000.0),
            (1.0, 100.0, 48_000.0, 28_800.0),
            (4.0, 60.0, 44_100.0, 176_400.0),
            (0.25, 140.0, 96_000.0, 10_285.714_285_714_286),
            (0.0, 90.0, 48_000.0, 0.0),
        ];
        for (beats, bpm, rate, samples) in table {
            assert!((beats_to_samples(beats, bpm, rate) - samples).abs() < 1e-6);
            assert!((samples_to_beats(samples, bpm, rate) - beats).abs() < 1e-9);
        }
    }

    #[test]
    fn bar_length_follows_time_signature() {
        assert_eq!(bar_length_beats(4, 4), 4.0);
        assert_eq!(bar_length_beats(3, 4), 3.0);
        assert_eq!(bar_length_beats(6, 8), 3.0);
        assert_eq!(bar_length_beats(7, 16), 1.75);
        assert_eq!(bar_length_beats(5, 2), 10.0);
        assert_eq!(bar_length_beats(0, 4), 4.0);
        assert_eq!(bar_length_beats(4, 0), 4.0);
    }

    #[test]
    fn next_bar_line_rounds_up_and_keeps_exact_lines() {
        assert_eq!(next_bar_line(0.0, 0.0, 4.0), 0.0);
        assert_eq!(next_bar_line(0.5, 0.0, 4.0), 4.0);
        assert_eq!(next_bar_line(4.0, 0.0, 4.0), 4.0);
        assert_eq!(next_bar_line(4.0 + 1e-9, 0.0, 4.0), 4.0);
        assert_eq!(next_bar_line(9.0, 8.0, 3.0), 11.0);
        // A reference bar line in the future (as Ardour reports it) gives the same grid.
        assert_eq!(next_bar_line(1.0, 8.0, 4.0), 4.0);
        assert_eq!(next_bar_line(5.8, 12.0, 4.0), 8.0);
        assert_eq!(next_bar_line(4.0, 12.0, 4.0), 4.0);
    }

    #[test]
    fn block_offsets_are_rounded_and_clamped() {
        let block = BlockTime {
            start_beats: 8.0,
            tempo_bpm: 120.0,
            sample_rate_hz: 48_000.0,
            len_samples: 512,
        };
        assert!((block.len_beats() - 512.0 / 24_000.0).abs() < 1e-12);
        let at = |samples: f64| 8.0 + samples / 24_000.0;
        assert!(block.contains(8.0));
        assert!(block.contains(at(-0.4)), "rounds to sample 0");
        assert!(!block.contains(at(-0.6)));
        assert!(block.is_past(at(-0.6)));
        assert!(block.contains(at(511.4)));
        assert!(!block.contains(at(511.5)), "the next block's sample 0");
        assert!(!block.contains(block.end_beats()));
        assert_eq!(block.offset_of(8.0), 0);
        assert_eq!(block.offset_of(at(100.0)), 100);
        assert_eq!(block.offset_of(at(100.4)), 100);
        assert_eq!(block.offset_of(at(100.5)), 101);
        assert_eq!(block.offset_of(at(511.4)), 511);
        assert_eq!(block.offset_of(7.0), 0);
    }
}
