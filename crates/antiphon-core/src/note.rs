//! One note as it crosses the threads: heard by the audio thread, planned by the worker, drawn
//! on the editor's roll. Its key, velocity and channel are newtypes that hold only valid MIDI
//! values, so no reader needs to clamp them again.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A MIDI key, 0–127.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "u8", into = "u8")]
pub struct Key(u8);

impl Key {
    /// The highest MIDI key.
    pub const MAX: Key = Key(127);

    /// `key` if it is a MIDI key.
    pub const fn new(key: u8) -> Option<Key> {
        if key <= 127 {
            Some(Key(key))
        } else {
            None
        }
    }

    /// The nearest MIDI key to `key`.
    pub const fn saturating(key: i32) -> Key {
        Key(if key < 0 {
            0
        } else if key > 127 {
            127
        } else {
            key as u8
        })
    }

    /// The key number, 0–127.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// This key moved by `semitones`, if that is still a MIDI key.
    pub fn transposed(self, semitones: i32) -> Option<Key> {
        u8::try_from(self.0 as i32 + semitones)
            .ok()
            .and_then(Key::new)
    }
}

impl From<u8> for Key {
    /// Saturating: a value above 127 (a damaged saved project) becomes 127.
    fn from(key: u8) -> Self {
        Key(key.min(127))
    }
}

impl From<Key> for u8 {
    fn from(key: Key) -> u8 {
        key.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A note-on velocity, 1–127 (MIDI reads a note-on at 0 as a note-off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "u8", into = "u8")]
pub struct Velocity(u8);

impl Velocity {
    /// The softest note-on.
    pub const MIN: Velocity = Velocity(1);
    /// The loudest note-on.
    pub const MAX: Velocity = Velocity(127);

    /// The nearest note-on velocity to `velocity`.
    pub const fn saturating(velocity: i32) -> Velocity {
        Velocity(if velocity < 1 {
            1
        } else if velocity > 127 {
            127
        } else {
            velocity as u8
        })
    }

    /// The nearest note-on velocity to `unit` in `[0, 1]` (how plugin APIs give velocities).
    pub fn from_unit(unit: f32) -> Velocity {
        Velocity::saturating((unit * 127.0).round() as i32)
    }

    /// The velocity, 1–127.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The velocity in `(0, 1]`.
    pub fn unit(self) -> f32 {
        self.0 as f32 / 127.0
    }
}

impl From<u8> for Velocity {
    /// Saturating: 0 becomes 1, above 127 becomes 127.
    fn from(velocity: u8) -> Self {
        Velocity::saturating(velocity as i32)
    }
}

impl From<Velocity> for u8 {
    fn from(velocity: Velocity) -> u8 {
        velocity.0
    }
}

/// A MIDI channel, 0–15 (musicians count them 1–16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Channel(u8);

impl Channel {
    /// Channel 10 as musicians count: the General MIDI drum kit.
    pub const DRUMS: Channel = Channel(9);

    /// `channel` (0–15) if it is a MIDI channel.
    pub const fn new(channel: u8) -> Option<Channel> {
        if channel <= 15 {
            Some(Channel(channel))
        } else {
            None
        }
    }

    /// The nearest channel to `channel` (0–15).
    pub const fn saturating(channel: i32) -> Channel {
        Channel(if channel < 0 {
            0
        } else if channel > 15 {
            15
        } else {
            channel as u8
        })
    }

    /// The channel number, 0–15.
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// A note in song beats (quarter notes of the host's song position) on a MIDI channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Note {
    /// Song position of the note-on.
    pub onset_beats: f64,
    /// Time from note-on to note-off (≥ 0).
    pub duration_beats: f64,
    /// The key.
    pub key: Key,
    /// The channel.
    pub channel: Channel,
    /// The note-on velocity.
    pub velocity: Velocity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_midi_values_are_made() {
        assert_eq!(Key::new(127), Some(Key::MAX));
        assert_eq!(Key::new(128), None);
        assert_eq!(Key::saturating(-3).get(), 0);
        assert_eq!(Key::saturating(200), Key::MAX);
        assert_eq!(Key::from(130), Key::MAX);
        assert_eq!(Key::new(60).unwrap().transposed(12), Key::new(72));
        assert_eq!(Key::new(120).unwrap().transposed(12), None);
        assert_eq!(Key::new(5).unwrap().transposed(-12), None);
        assert_eq!(Velocity::from(0), Velocity::MIN);
        assert_eq!(Velocity::saturating(300), Velocity::MAX);
        assert_eq!(Velocity::from_unit(0.0), Velocity::MIN);
        assert_eq!(Velocity::from_unit(1.0), Velocity::MAX);
        assert_eq!(Velocity::from_unit(0.5).get(), 64);
        assert_eq!(Channel::new(16), None);
        assert_eq!(Channel::saturating(99).get(), 15);
    }

    #[test]
    fn keys_and_velocities_save_as_plain_numbers() {
        let key: Key = serde_json::from_str("200").unwrap();
        assert_eq!(key, Key::MAX);
        assert_eq!(serde_json::to_string(&Key::new(60).unwrap()).unwrap(), "60");
        let velocity: Velocity = serde_json::from_str("0").unwrap();
        assert_eq!(velocity, Velocity::MIN);
    }
}
