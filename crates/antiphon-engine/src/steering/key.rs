//! Keys, their scales, and finding the key of what was heard (Krumhansl–Kessler profiles).

use std::fmt;
use std::str::FromStr;

/// Sharp spellings of the twelve pitch classes, C = 0.
pub(super) const SHARP_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];
/// Flat spellings, used for the keys musicians write with flats.
const FLAT_NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
];

/// Krumhansl–Kessler probe-tone ratings of the major key, tonic first.
const KK_MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
/// Krumhansl–Kessler probe-tone ratings of the minor key, tonic first.
const KK_MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

/// Major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The major scale.
    Major,
    /// Natural minor with the raised seventh (harmonic minor's leading tone).
    Minor,
}

/// One of the 24 major and minor keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Pitch class of the tonic, C = 0.
    pub tonic: u8,
    /// Major or minor.
    pub mode: Mode,
}

impl Key {
    /// A key; `tonic` is taken modulo 12.
    pub fn new(tonic: u8, mode: Mode) -> Self {
        Self {
            tonic: tonic % 12,
            mode,
        }
    }

    /// All 24 keys: C major, C minor, C♯ major, … B minor.
    pub fn all() -> impl Iterator<Item = Key> {
        (0..12u8).flat_map(|t| [Key::new(t, Mode::Major), Key::new(t, Mode::Minor)])
    }

    /// The pitch classes the key allows, as a 12-bit set (bit 0 = C). Minor keys include the
    /// raised seventh, and the raised sixth when `raised_sixth` (a melody that uses it).
    pub fn scale(self, raised_sixth: bool) -> PitchSet {
        let steps: &[u8] = match self.mode {
            Mode::Major => &[0, 2, 4, 5, 7, 9, 11],
            Mode::Minor => &[0, 2, 3, 5, 7, 8, 10, 11],
        };
        let mut set = PitchSet::from_steps(self.tonic, steps);
        if raised_sixth && self.mode == Mode::Minor {
            set.insert(self.tonic + 9);
        }
        set
    }

    /// The pitch class of the minor key's raised sixth (meaningless for major keys).
    pub fn raised_sixth(self) -> u8 {
        (self.tonic + 9) % 12
    }

    /// The key's triads on its scale degrees (the minor key's dominant is major), root first.
    pub fn diatonic_triads(self) -> [Triad; 7] {
        let (steps, qualities): ([u8; 7], [Quality; 7]) = match self.mode {
            Mode::Major => (
                [0, 2, 4, 5, 7, 9, 11],
                [
                    Quality::Major,
                    Quality::Minor,
                    Quality::Minor,
                    Quality::Major,
                    Quality::Major,
                    Quality::Minor,
                    Quality::Diminished,
                ],
            ),
            Mode::Minor => (
                [0, 2, 3, 5, 7, 8, 10],
                [
                    Quality::Minor,
                    Quality::Diminished,
                    Quality::Major,
                    Quality::Minor,
                    Quality::Major,
                    Quality::Major,
                    Quality::Major,
                ],
            ),
        };
        std::array::from_fn(|i| Triad {
            root: (self.tonic + steps[i]) % 12,
            quality: qualities[i],
        })
    }

    /// Whether musicians write this key with flats (F major, B♭ major, D minor, …).
    fn uses_flats(self) -> bool {
        let major_tonic = match self.mode {
            Mode::Major => self.tonic,
            Mode::Minor => (self.tonic + 3) % 12,
        };
        matches!(major_tonic, 1 | 3 | 5 | 8 | 10)
    }

    /// The tonic's name as the key is usually written ("Eb", "F#").
    pub fn tonic_name(self) -> &'static str {
        if self.uses_flats() {
            FLAT_NAMES[self.tonic as usize]
        } else {
            SHARP_NAMES[self.tonic as usize]
        }
    }

    /// The short form the command line takes: "G", "Ebm".
    pub fn short_name(self) -> String {
        match self.mode {
            Mode::Major => self.tonic_name().to_string(),
            Mode::Minor => format!("{}m", self.tonic_name()),
        }
    }

    /// The key's correlation with a pitch-class profile (Pearson's r).
    fn fit(self, profile: &[f64; 12]) -> f64 {
        let reference = match self.mode {
            Mode::Major => &KK_MAJOR,
            Mode::Minor => &KK_MINOR,
        };
        let rotated: [f64; 12] =
            std::array::from_fn(|pc| reference[(pc + 12 - self.tonic as usize) % 12]);
        correlation(profile, &rotated)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
        };
        write!(
            f,
            "{} {}",
            self.tonic_name().replace('b', "♭").replace('#', "♯"),
            mode
        )
    }
}

/// Why a key name was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a key: write e.g. C, F#, Bb for major keys and Am, C#m, Ebm for minor keys")]
pub struct KeyNameError(pub String);

impl FromStr for Key {
    type Err = KeyNameError;

    /// Reads "G", "Bb", "F#m", "Ebm", "A minor", "D major", "Bbmin" (case of the letter free).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || KeyNameError(text.to_string());
        let trimmed = text.trim();
        let mut chars = trimmed.chars();
        let letter = chars.next().ok_or_else(err)?.to_ascii_uppercase();
        let natural = match letter {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return Err(err()),
        };
        let rest = chars.as_str();
        // No mode word starts with 'b', so a 'b' after the letter is always a flat.
        let (tonic, rest) = match rest.chars().next() {
            Some(c @ ('#' | '♯')) => (natural + 1, &rest[c.len_utf8()..]),
            Some(c @ ('b' | '♭')) => (natural + 11, &rest[c.len_utf8()..]),
            _ => (natural, rest),
        };
        let mode = match rest.trim().to_ascii_lowercase().as_str() {
            "" | "maj" | "major" => Mode::Major,
            "m" | "min" | "minor" => Mode::Minor,
            _ => return Err(err()),
        };
        Ok(Key::new(tonic % 12, mode))
    }
}

/// A set of pitch classes, one bit each (bit 0 = C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PitchSet(pub u16);

impl PitchSet {
    /// The pitch classes `root + step` for each step.
    pub fn from_steps(root: u8, steps: &[u8]) -> Self {
        let mut set = Self::default();
        for s in steps {
            set.insert(root + s);
        }
        set
    }

    /// Adds a pitch class (taken modulo 12).
    pub fn insert(&mut self, pc: u8) {
        self.0 |= 1 << (pc % 12);
    }

    /// Whether the set holds the pitch class of `pitch` (any octave).
    pub fn contains(self, pitch: u8) -> bool {
        self.0 & (1 << (pitch % 12)) != 0
    }
}

/// The quality of a three-note chord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    /// Root, major third, fifth.
    Major,
    /// Root, minor third, fifth.
    Minor,
    /// Root, minor third, diminished fifth.
    Diminished,
}

/// A triad: a root and a quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triad {
    /// Pitch class of the root.
    pub root: u8,
    /// Major, minor or diminished.
    pub quality: Quality,
}

impl Triad {
    /// The chord's three pitch classes.
    pub fn tones(self) -> PitchSet {
        let steps: &[u8] = match self.quality {
            Quality::Major => &[0, 4, 7],
            Quality::Minor => &[0, 3, 7],
            Quality::Diminished => &[0, 3, 6],
        };
        PitchSet::from_steps(self.root, steps)
    }
}

/// Pitch-class weights (e.g. seconds or beats each pitch class sounded).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PitchProfile(pub [f64; 12]);

impl PitchProfile {
    /// Adds `weight` to the pitch class of `pitch`.
    pub fn add(&mut self, pitch: u8, weight: f64) {
        self.0[(pitch % 12) as usize] += weight;
    }

    /// The total weight.
    pub fn total(&self) -> f64 {
        self.0.iter().sum()
    }

    /// The key whose Krumhansl–Kessler profile correlates best with this one; `None` when
    /// nothing (or one pitch class only) was heard.
    pub fn key(&self) -> Option<Key> {
        let distinct = self.0.iter().filter(|&&w| w > 0.0).count();
        if distinct < 2 {
            return None;
        }
        Key::all().max_by(|a, b| a.fit(&self.0).total_cmp(&b.fit(&self.0)))
    }

    /// The triad among `candidates` whose tones carry the most weight (ties: the first).
    pub fn best_triad(&self, candidates: &[Triad]) -> Option<Triad> {
        if self.total() <= 0.0 {
            return None;
        }
        let score = |t: &Triad| {
            let tones = t.tones();
            let (inside, outside) = (0..12u8).fold((0.0, 0.0), |(i, o), pc| {
                if tones.contains(pc) {
                    (i + self.0[pc as usize], o)
                } else {
                    (i, o + self.0[pc as usize])
                }
            });
            // The root counts a little more, so C–E–G over C–E reads as C major, not A minor.
            inside - 0.5 * outside + 0.25 * self.0[t.root as usize]
        };
        let mut best: Option<(Triad, f64)> = None;
        for t in candidates {
            let s = score(t);
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((*t, s));
            }
        }
        best.map(|(t, _)| t)
    }
}

fn correlation(a: &[f64; 12], b: &[f64; 12]) -> f64 {
    let mean = |x: &[f64; 12]| x.iter().sum::<f64>() / 12.0;
    let (ma, mb) = (mean(a), mean(b));
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        num += (a[i] - ma) * (b[i] - mb);
        da += (a[i] - ma).powi(2);
        db += (b[i] - mb).powi(2);
    }
    if da <= 0.0 || db <= 0.0 {
        0.0
    } else {
        num / (da * db).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(pitches: &[(u8, f64)]) -> PitchProfile {
        let mut p = PitchProfile::default();
        for &(pitch, w) in pitches {
            p.add(pitch, w);
        }
        p
    }

    #[test]
    fn key_names_read_and_print() {
        assert_eq!("G".parse(), Ok(Key::new(7, Mode::Major)));
        assert_eq!("Ebm".parse(), Ok(Key::new(3, Mode::Minor)));
        assert_eq!("F#m".parse(), Ok(Key::new(6, Mode::Minor)));
        assert_eq!("bb".parse(), Ok(Key::new(10, Mode::Major)));
        assert_eq!("A minor".parse(), Ok(Key::new(9, Mode::Minor)));
        assert!("H".parse::<Key>().is_err());
        assert!("Cx".parse::<Key>().is_err());
        assert_eq!(Key::new(3, Mode::Major).to_string(), "E♭ major");
        assert_eq!(Key::new(6, Mode::Minor).to_string(), "F♯ minor");
        for key in Key::all() {
            assert_eq!(key.short_name().parse(), Ok(key), "{key}");
        }
    }

    #[test]
    fn minor_scales_hold_the_leading_tone_and_the_raised_sixth_on_request() {
        let a_minor = Key::new(9, Mode::Minor);
        assert!(a_minor.scale(false).contains(68)); // G♯
        assert!(a_minor.scale(false).contains(67)); // G
        assert!(!a_minor.scale(false).contains(66)); // F♯
        assert!(a_minor.scale(true).contains(66));
        assert!(!Key::new(0, Mode::Major).scale(true).contains(61));
    }

    #[test]
    fn a_c_major_scale_is_c_major_and_an_a_minor_arpeggio_a_minor() {
        let scale = profile(&[
            (60, 2.0),
            (62, 1.0),
            (64, 1.0),
            (65, 1.0),
            (67, 2.0),
            (69, 1.0),
            (71, 1.0),
        ]);
        assert_eq!(scale.key(), Some(Key::new(0, Mode::Major)));
        let arpeggio = profile(&[(57, 3.0), (60, 1.0), (64, 2.0), (68, 1.0), (69, 2.0)]);
        assert_eq!(arpeggio.key(), Some(Key::new(9, Mode::Minor)));
        assert_eq!(profile(&[(60, 1.0)]).key(), None);
    }

    #[test]
    fn the_heaviest_triad_wins() {
        let c = Key::new(0, Mode::Major);
        let notes = profile(&[(60, 1.0), (64, 1.0), (67, 1.0), (62, 0.25)]);
        let chord = notes.best_triad(&c.diatonic_triads()).unwrap();
        assert_eq!((chord.root, chord.quality), (0, Quality::Major));
        let dominant = profile(&[(67, 1.0), (71, 1.0), (62, 1.0)]);
        assert_eq!(dominant.best_triad(&c.diatonic_triads()).unwrap().root, 7);
    }
}
