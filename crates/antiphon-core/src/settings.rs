//! The settings' kinds, ranges and defaults: the one source the plugin's parameters, the
//! command line and the editor all read.

use std::ops::Range;

/// A setting's bounds (both included) and its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds<T> {
    /// The smallest value.
    pub min: T,
    /// The largest value.
    pub max: T,
    /// The value a new instance starts with.
    pub default: T,
}

impl<T: PartialOrd + Copy> Bounds<T> {
    /// `value` moved into the bounds.
    pub fn clamp(&self, value: T) -> T {
        if value < self.min {
            self.min
        } else if value > self.max {
            self.max
        } else {
            value
        }
    }

    /// Whether `value` lies within the bounds.
    pub fn contains(&self, value: T) -> bool {
        self.min <= value && value <= self.max
    }
}

/// Sampling temperature: logits are divided by it before sampling.
pub const TEMPERATURE: Bounds<f32> = Bounds {
    min: 0.05,
    max: 2.0,
    default: 1.0,
};
/// Top-p (nucleus): the smallest set of tokens whose probability reaches it is kept.
pub const TOP_P: Bounds<f32> = Bounds {
    min: 0.5,
    max: 1.0,
    default: 0.98,
};
/// Length of an answer (Continue) or of the recording window (Accompany), in bars.
pub const BARS: Bounds<i32> = Bounds {
    min: 1,
    max: 32,
    default: 4,
};
/// Output velocity: 0 follows the player, 1–127 is fixed.
pub const VELOCITY: Bounds<i32> = Bounds {
    min: 0,
    max: 127,
    default: 0,
};
/// Random seed: 0 draws a new one for every answer.
pub const SEED: Bounds<i32> = Bounds {
    min: 0,
    max: 1_000_000,
    default: 0,
};
/// MIDI channel of the answer, 1–16 as musicians count.
pub const OUT_CHANNEL: Bounds<i32> = Bounds {
    min: 1,
    max: 16,
    default: 1,
};
/// Key lock: how strictly the answer keeps to the key's scale, 0–1.
pub const KEY_LOCK: Bounds<f32> = Bounds {
    min: 0.0,
    max: 1.0,
    default: 0.9,
};
/// Harmony: how strongly the answer sounds well with the melody, 0–1.
pub const HARMONY: Bounds<f32> = Bounds {
    min: 0.0,
    max: 1.0,
    default: 0.8,
};
/// Low and High note: 0 is Auto, 1–127 a MIDI key.
pub const NOTE: Bounds<i32> = Bounds {
    min: 0,
    max: 127,
    default: 0,
};
/// Density in notes per bar; 0 is Auto.
pub const DENSITY: Bounds<f32> = Bounds {
    min: 0.0,
    max: 32.0,
    default: 0.0,
};
/// The most notes the answer starts together (the sampler's cap on notes per onset).
pub const VOICES: Bounds<i32> = Bounds {
    min: 1,
    max: 12,
    default: 12,
};

/// What Antiphon does with what it hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Call and response: when the player's phrase ends, continue it for *Bars* bars.
    #[default]
    Continue,
    /// Record *Bars* bars of melody, then accompany them on the next pass.
    Accompany,
}

impl Mode {
    /// Every mode, in the order the plugin's parameter lists them.
    pub const ALL: [Mode; 2] = [Mode::Continue, Mode::Accompany];
    /// Display names, in [`ALL`](Self::ALL)'s order.
    pub const NAMES: [&'static str; 2] = ["Continue", "Accompany"];
    /// Stable ids (saved projects and automation use them), in [`ALL`](Self::ALL)'s order.
    pub const IDS: [&'static str; 2] = ["continue", "accompany"];

    /// The stable id (`continue`, `accompany`), also what a saved answer records.
    pub fn id(self) -> &'static str {
        Self::IDS[self as usize]
    }
}

/// Which instrument the answer may use: Auto (the model chooses, or the phrase's own
/// instruments), one General MIDI family, or the drum kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Instrument {
    /// The model (or the phrase) decides.
    #[default]
    Auto,
    /// GM programs 0–7.
    Piano,
    /// GM programs 8–15.
    ChromaticPercussion,
    /// GM programs 16–23.
    Organ,
    /// GM programs 24–31.
    Guitar,
    /// GM programs 32–39.
    Bass,
    /// GM programs 40–47 (violin, viola, cello, contrabass, …).
    Strings,
    /// GM programs 48–55.
    Ensemble,
    /// GM programs 56–63.
    Brass,
    /// GM programs 64–71.
    Reed,
    /// GM programs 72–79.
    Pipe,
    /// GM programs 80–87.
    SynthLead,
    /// GM programs 88–95.
    SynthPad,
    /// GM programs 96–103.
    SynthEffects,
    /// GM programs 104–111.
    Ethnic,
    /// GM programs 112–119.
    Percussive,
    /// GM programs 120–127.
    SoundEffects,
    /// The drum kit (MIDI channel 10).
    Drums,
}

impl Instrument {
    /// Every choice, in the order the plugin's parameter lists them.
    pub const ALL: [Instrument; 18] = [
        Instrument::Auto,
        Instrument::Piano,
        Instrument::ChromaticPercussion,
        Instrument::Organ,
        Instrument::Guitar,
        Instrument::Bass,
        Instrument::Strings,
        Instrument::Ensemble,
        Instrument::Brass,
        Instrument::Reed,
        Instrument::Pipe,
        Instrument::SynthLead,
        Instrument::SynthPad,
        Instrument::SynthEffects,
        Instrument::Ethnic,
        Instrument::Percussive,
        Instrument::SoundEffects,
        Instrument::Drums,
    ];
    /// Display names, in [`ALL`](Self::ALL)'s order.
    pub const NAMES: [&'static str; 18] = [
        "Auto",
        "Piano",
        "Chromatic percussion",
        "Organ",
        "Guitar",
        "Bass",
        "Strings",
        "Ensemble",
        "Brass",
        "Reed",
        "Pipe",
        "Synth lead",
        "Synth pad",
        "Synth effects",
        "Ethnic",
        "Percussive",
        "Sound effects",
        "Drums",
    ];
    /// Stable ids (saved projects, automation and the command line use them), in
    /// [`ALL`](Self::ALL)'s order.
    pub const IDS: [&'static str; 18] = [
        "auto",
        "piano",
        "chromatic_percussion",
        "organ",
        "guitar",
        "bass",
        "strings",
        "ensemble",
        "brass",
        "reed",
        "pipe",
        "synth_lead",
        "synth_pad",
        "synth_effects",
        "ethnic",
        "percussive",
        "sound_effects",
        "drums",
    ];

    /// The General MIDI programs of this family, or `None` for Auto and Drums.
    pub fn programs(self) -> Option<Range<u8>> {
        let family = match self {
            Instrument::Auto | Instrument::Drums => return None,
            other => other as u8 - Instrument::Piano as u8,
        };
        Some(family * 8..family * 8 + 8)
    }

    /// The stable id (`auto`, `piano`, `synth_lead`, …).
    pub fn id(self) -> &'static str {
        Self::IDS[self as usize]
    }

    /// The choice with this id.
    pub fn from_id(id: &str) -> Option<Instrument> {
        Self::IDS
            .iter()
            .position(|&i| i == id)
            .map(|i| Self::ALL[i])
    }
}

/// Both kinds are enum parameters of the plugin, with the names and ids above.
#[cfg(feature = "params")]
mod enum_params {
    use super::{Instrument, Mode};
    use nice_plug_core::params::enums::Enum;

    macro_rules! enum_param {
        ($kind:ty) => {
            impl Enum for $kind {
                fn variants() -> &'static [&'static str] {
                    &<$kind>::NAMES
                }
                fn ids() -> Option<&'static [&'static str]> {
                    Some(&<$kind>::IDS)
                }
                fn to_index(self) -> usize {
                    self as usize
                }
                fn from_index(index: usize) -> Self {
                    <$kind>::ALL.get(index).copied().unwrap_or(<$kind>::ALL[0])
                }
            }
        };
    }

    enum_param!(Mode);
    enum_param!(Instrument);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instrument_families_cover_their_eight_programs() {
        assert_eq!(Instrument::Piano.programs(), Some(0..8));
        assert_eq!(Instrument::Strings.programs(), Some(40..48));
        assert_eq!(Instrument::SoundEffects.programs(), Some(120..128));
        assert_eq!(Instrument::Auto.programs(), None);
        assert_eq!(Instrument::Drums.programs(), None);
    }

    #[test]
    fn tables_follow_the_variants() {
        for (i, kind) in Instrument::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i);
            assert_eq!(Instrument::from_id(kind.id()), Some(kind));
        }
        for (i, mode) in Mode::ALL.into_iter().enumerate() {
            assert_eq!(mode as usize, i);
        }
    }

    #[test]
    fn bounds_hold_their_defaults() {
        assert!(TEMPERATURE.contains(TEMPERATURE.default));
        assert!(TOP_P.contains(TOP_P.default));
        assert!(BARS.contains(BARS.default));
        assert!(KEY_LOCK.contains(KEY_LOCK.default));
        assert!(HARMONY.contains(HARMONY.default));
        assert!(VOICES.contains(VOICES.default));
        assert_eq!(BARS.clamp(99), 32);
    }
}
