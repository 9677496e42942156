//! Worker thread: steering — masks and logit biases on note and time tokens that keep an answer
//! in a key, in harmony with the melody, in a register, at a density and within a number of
//! voices (DESIGN §6). It composes with the product grammar: the grammar decides which tokens
//! are legal, steering reweighs the legal notes and times. With [`Steering::off`] nothing is
//! touched, so answers are token for token those of the plain product grammar.
//!
//! Everything here is a pure function of what was heard and what was sampled so far, so a
//! seed still gives the same answer every time.

pub mod key;
mod steerer;

pub use key::{Key, KeyNameError, Mode, PitchProfile, PitchSet, Quality, Triad};
pub use steerer::{Frame, Role, Steerer};

use std::fmt;

/// The lowest and highest MIDI keys a fixed range may name.
pub const KEY_RANGE: std::ops::RangeInclusive<u8> = 0..=127;
/// The most voices (notes starting together) the Voices control allows: the product grammar's
/// own cap, so the top setting changes nothing.
pub const MAX_VOICES: u8 = crate::sampling::PRODUCT_MAX_NOTES_PER_ONSET as u8;

/// Which key the answer keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChoice {
    /// Estimated from what was heard and what the answer played, refreshed as it goes.
    Follow,
    /// No key: key lock does nothing.
    Off,
    /// This key, whatever was heard.
    Fixed(Key),
}

/// The register the answer's notes may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeChoice {
    /// Accompany: a bass under the melody and no note above it; Continue: around the phrase.
    Auto,
    /// Every key.
    Full,
    /// Only keys `low..=high`.
    Fixed {
        /// Lowest MIDI key.
        low: u8,
        /// Highest MIDI key.
        high: u8,
    },
}

/// How many notes the answer plays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DensityChoice {
    /// Continue: as many notes per bar as the phrase had; Accompany: the model's own.
    Auto,
    /// The model's own.
    Off,
    /// About this many notes per bar.
    NotesPerBar(f32),
}

/// The steering controls, as the plugin's parameters and the CLI's options set them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Steering {
    /// The key in use.
    pub key: KeyChoice,
    /// 0 leaves out-of-scale notes alone, 1 never plays one; in between their probability is
    /// multiplied by `1 − key_lock`.
    pub key_lock: f32,
    /// 0 ignores the melody; 1 never plays a minor second, major seventh, major second, minor
    /// seventh or tritone against a melody note sounding at the onset, and favours the tones
    /// of the chord the melody implies.
    pub harmony: f32,
    /// The register.
    pub range: RangeChoice,
    /// The density.
    pub density: DensityChoice,
    /// The most notes starting together, 1–[`MAX_VOICES`].
    pub max_voices: u8,
}

/// Defaults of the plugin and the CLI, chosen by measurement (README: "Harmony steering").
pub const DEFAULT_KEY_LOCK: f32 = antiphon_core::settings::KEY_LOCK.default;
/// See [`DEFAULT_KEY_LOCK`].
pub const DEFAULT_HARMONY: f32 = antiphon_core::settings::HARMONY.default;

impl Default for Steering {
    fn default() -> Self {
        Self {
            key: KeyChoice::Follow,
            key_lock: DEFAULT_KEY_LOCK,
            harmony: DEFAULT_HARMONY,
            range: RangeChoice::Auto,
            density: DensityChoice::Auto,
            max_voices: MAX_VOICES,
        }
    }
}

/// Why a steering setting cannot be played.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SteeringError {
    /// The range is upside down or outside MIDI.
    #[error("the range {low}–{high} is not a range of MIDI keys (0–127, low ≤ high)")]
    BadRange {
        /// Lowest key asked for.
        low: u8,
        /// Highest key asked for.
        high: u8,
    },
    /// With a strict key lock no key of the range is in the scale.
    #[error(
        "no note from {low} to {high} is in {key}, and key lock 100 % allows only its scale: \
         widen the range or lower the key lock"
    )]
    NothingPlayable {
        /// The key.
        key: Key,
        /// Lowest key of the range.
        low: u8,
        /// Highest key of the range.
        high: u8,
    },
}

impl Steering {
    /// Every control off: the answer is what the model and the product grammar give.
    pub const fn off() -> Self {
        Self {
            key: KeyChoice::Off,
            key_lock: 0.0,
            harmony: 0.0,
            range: RangeChoice::Full,
            density: DensityChoice::Off,
            max_voices: MAX_VOICES,
        }
    }

    /// Whether nothing would be steered.
    pub fn is_off(&self) -> bool {
        let key_steers = self.key != KeyChoice::Off && self.key_lock > 0.0;
        !(key_steers
            || self.harmony > 0.0
            || self.range != RangeChoice::Full
            || self.density != DensityChoice::Off
            || self.max_voices < MAX_VOICES)
    }

    /// Checks that the setting leaves a note to play: a fixed range is a range, and with a
    /// fixed key at key lock 100 % it holds a note of the scale.
    pub fn check(&self) -> Result<(), SteeringError> {
        let RangeChoice::Fixed { low, high } = self.range else {
            return Ok(());
        };
        if low > high || high > *KEY_RANGE.end() {
            return Err(SteeringError::BadRange { low, high });
        }
        if let KeyChoice::Fixed(key) = self.key {
            let scale = key.scale(false);
            if self.key_lock >= 1.0 && !(low..=high).any(|p| scale.contains(p)) {
                return Err(SteeringError::NothingPlayable { key, low, high });
            }
        }
        Ok(())
    }

    /// The nearest setting that [`Self::check`] accepts, and what was changed (the plugin
    /// cannot refuse an automated value, so it plays this and says why).
    pub fn playable(&self) -> (Steering, Option<String>) {
        match self.check() {
            Ok(()) => (*self, None),
            Err(SteeringError::BadRange { low, high }) => {
                let (low, high) = (low.min(high), low.max(high).min(*KEY_RANGE.end()));
                let fixed = Steering {
                    range: RangeChoice::Fixed { low, high },
                    ..*self
                };
                let (fixed, _) = fixed.playable();
                (
                    fixed,
                    Some(format!(
                        "Low note is above High note: using {}–{}.",
                        note_name(low),
                        note_name(high)
                    )),
                )
            }
            Err(e @ SteeringError::NothingPlayable { key, low, high }) => {
                let scale = key.scale(false);
                // A scale has no gap wider than three semitones: this ends within three steps.
                let high = (high..=*KEY_RANGE.end())
                    .find(|&p| scale.contains(p))
                    .unwrap_or(*KEY_RANGE.end());
                let low = if scale.contains(high) {
                    low
                } else {
                    (0..=low).rev().find(|&p| scale.contains(p)).unwrap_or(0)
                };
                let fixed = Steering {
                    range: RangeChoice::Fixed { low, high },
                    ..*self
                };
                (
                    fixed,
                    Some(format!("{e} Using {}–{}.", note_name(low), note_name(high))),
                )
            }
        }
    }
}

/// A MIDI key's name with its octave, middle C = C4 ("C4", "F#2").
pub fn note_name(key: u8) -> String {
    format!(
        "{}{}",
        key::SHARP_NAMES[(key % 12) as usize],
        key as i32 / 12 - 1
    )
}

/// Reads a MIDI key given as a number (60) or a name with its octave (C4, F#2, Bb3, middle C =
/// C4).
pub fn parse_note(text: &str) -> Option<u8> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u8>() {
        return (n <= 127).then_some(n);
    }
    let split = text.find(|c: char| c.is_ascii_digit() || c == '-')?;
    let (name, octave) = text.split_at(split);
    let pc = name
        .parse::<Key>()
        .ok()
        .filter(|k| k.mode == Mode::Major)?
        .tonic as i32;
    // A flat on C or a sharp on B crosses the octave line.
    let crossing = match name.chars().nth(1) {
        Some('b' | '♭') if pc == 11 => -1,
        Some('#' | '♯') if pc == 0 => 1,
        _ => 0,
    };
    let key = (octave.parse::<i32>().ok()? + 1 + crossing) * 12 + pc;
    u8::try_from(key).ok().filter(|k| *k <= 127)
}

impl fmt::Display for KeyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyChoice::Follow => f.write_str("follow"),
            KeyChoice::Off => f.write_str("off"),
            KeyChoice::Fixed(k) => f.write_str(&k.short_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_is_off_and_the_defaults_steer() {
        assert!(Steering::off().is_off());
        assert!(!Steering::default().is_off());
        let key_without_lock = Steering {
            key: KeyChoice::Fixed(Key::new(2, Mode::Major)),
            ..Steering::off()
        };
        assert!(key_without_lock.is_off());
    }

    #[test]
    fn a_range_without_a_scale_note_is_refused_and_made_playable() {
        let d_major = Key::new(2, Mode::Major);
        let c4_only = Steering {
            key: KeyChoice::Fixed(d_major),
            key_lock: 1.0,
            range: RangeChoice::Fixed { low: 60, high: 60 },
            ..Steering::off()
        };
        assert!(matches!(
            c4_only.check(),
            Err(SteeringError::NothingPlayable {
                low: 60,
                high: 60,
                ..
            })
        ));
        let (fixed, message) = c4_only.playable();
        assert_eq!(fixed.range, RangeChoice::Fixed { low: 60, high: 61 });
        assert!(fixed.check().is_ok());
        assert!(message.unwrap().contains("Using C4–C#4"));
        // A softer lock may play out of the scale: nothing to refuse.
        assert!(Steering {
            key_lock: 0.5,
            ..c4_only
        }
        .check()
        .is_ok());
        let upside_down = Steering {
            range: RangeChoice::Fixed { low: 72, high: 48 },
            ..Steering::off()
        };
        assert!(upside_down.check().is_err());
        assert_eq!(
            upside_down.playable().0.range,
            RangeChoice::Fixed { low: 48, high: 72 }
        );
    }

    #[test]
    fn notes_read_by_number_and_name() {
        assert_eq!(parse_note("60"), Some(60));
        assert_eq!(parse_note("C4"), Some(60));
        assert_eq!(parse_note("E3"), Some(52));
        assert_eq!(parse_note("F#2"), Some(42));
        assert_eq!(parse_note("Bb3"), Some(58));
        assert_eq!(parse_note("A0"), Some(21));
        assert_eq!(parse_note("C-1"), Some(0));
        assert_eq!(parse_note("Cb4"), Some(59));
        assert_eq!(parse_note("H4"), None);
        assert_eq!(parse_note("200"), None);
        for k in 0..=127 {
            assert_eq!(parse_note(&note_name(k)), Some(k));
        }
    }
}
