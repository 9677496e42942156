//! Audio thread: follows the host transport block by block and notices starts, stops and jumps.
//!
//! Pure and allocation-free. The plugin shell copies nice-plug's `Transport` into a
//! [`HostTransport`], so everything here is testable without a host.

use antiphon_core::time::{bar_length_beats, BlockTime};
use antiphon_core::transport::TransportMove;

/// What the host says about its transport at the start of a block.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HostTransport {
    /// Whether the transport is playing.
    pub playing: bool,
    /// Tempo in quarter notes per minute, if the host gives one.
    pub tempo_bpm: Option<f64>,
    /// Song position at the block's first sample, in quarter notes.
    pub pos_beats: Option<f64>,
    /// Time signature `(numerator, denominator)`.
    pub time_signature: Option<(i32, i32)>,
    /// Position of the current bar's first beat, in quarter notes.
    pub bar_start_beats: Option<f64>,
    /// Active loop range `(start, end)` in quarter notes.
    pub loop_beats: Option<(f64, f64)>,
    /// Sample rate in Hz.
    pub sample_rate_hz: f64,
}

/// Where a playing transport counts as moved on its own rather than jumped, in quarter notes.
///
/// Hosts round positions and ramp tempo inside blocks, so consecutive blocks can disagree by a few
/// samples; a 1/64-beat tolerance absorbs that and still catches every musically meaningful jump.
pub const JUMP_TOLERANCE_BEATS: f64 = 1.0 / 64.0;

/// The musical grid at a block: what the worker needs to find bar lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// A bar line, in quarter notes.
    pub bar_start_beats: f64,
    /// Length of a bar in quarter notes.
    pub bar_len_beats: f64,
}

/// Remembers where the previous block ended.
#[derive(Debug, Default, Clone, Copy)]
pub struct TransportTracker {
    /// End of the previous block when it was playing with a known position.
    expected_next_beats: Option<f64>,
}

impl TransportTracker {
    /// Reads the host transport for a block of `len_samples` samples.
    ///
    /// Returns the block's musical time (only while playing with a known tempo and position),
    /// its bar grid, and how the transport moved.
    ///
    /// Real-time safe.
    pub fn update(
        &mut self,
        host: &HostTransport,
        len_samples: u32,
    ) -> (Option<BlockTime>, Option<Grid>, Option<TransportMove>) {
        let block = match (host.playing, host.tempo_bpm, host.pos_beats) {
            (true, Some(tempo_bpm), Some(start_beats))
                if tempo_bpm > 0.0 && tempo_bpm.is_finite() && start_beats.is_finite() =>
            {
                Some(BlockTime {
                    start_beats,
                    tempo_bpm,
                    sample_rate_hz: host.sample_rate_hz,
                    len_samples,
                })
            }
            _ => None,
        };

        let change = match (self.expected_next_beats, block) {
            (None, None) => None,
            (None, Some(b)) => Some(TransportMove::Started {
                pos_beats: b.start_beats,
            }),
            (Some(expected), None) => Some(TransportMove::Stopped {
                pos_beats: expected,
            }),
            (Some(expected), Some(b))
                if (b.start_beats - expected).abs() > JUMP_TOLERANCE_BEATS =>
            {
                Some(TransportMove::Jumped {
                    from_beats: expected,
                    to_beats: b.start_beats,
                })
            }
            (Some(_), Some(_)) => None,
        };
        self.expected_next_beats = block.map(|b| b.end_beats());

        let grid = host.pos_beats.map(|pos| {
            let (numerator, denominator) = host.time_signature.unwrap_or((4, 4));
            let bar_len_beats = bar_length_beats(numerator, denominator);
            Grid {
                bar_start_beats: host
                    .bar_start_beats
                    .filter(|b| b.is_finite())
                    .unwrap_or((pos / bar_len_beats).floor() * bar_len_beats),
                bar_len_beats,
            }
        });
        (block, grid, change)
    }

    /// Forgets the previous block (after deactivation), so the next playing block is a start.
    pub fn forget(&mut self) {
        self.expected_next_beats = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playing_at(pos_beats: f64) -> HostTransport {
        HostTransport {
            playing: true,
            tempo_bpm: Some(120.0),
            pos_beats: Some(pos_beats),
            time_signature: Some((4, 4)),
            bar_start_beats: None,
            loop_beats: None,
            sample_rate_hz: 48_000.0,
        }
    }

    #[test]
    fn reports_start_steady_jump_and_stop() {
        let mut t = TransportTracker::default();
        let (_, _, c) = t.update(&playing_at(0.0), 24_000);
        assert_eq!(c, Some(TransportMove::Started { pos_beats: 0.0 }));
        let (_, _, c) = t.update(&playing_at(1.0), 24_000);
        assert_eq!(c, None);
        let (_, _, c) = t.update(&playing_at(0.0), 24_000);
        assert_eq!(
            c,
            Some(TransportMove::Jumped {
                from_beats: 2.0,
                to_beats: 0.0
            })
        );
        let stopped = HostTransport {
            playing: false,
            ..playing_at(1.0)
        };
        let (block, _, c) = t.update(&stopped, 24_000);
        assert!(block.is_none());
        assert_eq!(c, Some(TransportMove::Stopped { pos_beats: 1.0 }));
        let (_, _, c) = t.update(&stopped, 24_000);
        assert_eq!(c, None);
    }

    #[test]
    fn small_disagreements_are_not_jumps() {
        let mut t = TransportTracker::default();
        t.update(&playing_at(0.0), 512);
        let next = 512.0 / 24_000.0 + 0.001;
        let (_, _, c) = t.update(&playing_at(next), 512);
        assert_eq!(c, None);
    }

    #[test]
    fn no_tempo_or_position_means_no_block() {
        let mut t = TransportTracker::default();
        let host = HostTransport {
            tempo_bpm: None,
            ..playing_at(0.0)
        };
        let (block, _, c) = t.update(&host, 512);
        assert!(block.is_none());
        assert_eq!(c, None);
    }

    #[test]
    fn grid_comes_from_the_signature_when_the_host_gives_no_bar_start() {
        let mut t = TransportTracker::default();
        let host = HostTransport {
            time_signature: Some((3, 4)),
            ..playing_at(7.5)
        };
        let (_, grid, _) = t.update(&host, 512);
        assert_eq!(
            grid,
            Some(Grid {
                bar_start_beats: 6.0,
                bar_len_beats: 3.0
            })
        );
    }
}
