//! Worker thread: the melody sounding now, an input of models trained with it.
//!
//! A model trained by `models/train/train.py --melody-now` reads, beside each token id, twelve
//! numbers: at the time and duration tokens of an event triple, 1 for each pitch class of the
//! control (anticipated melody) notes sounding at the event's time, 0 elsewhere. Without them a
//! small model hears the melody's scale but not which of its notes sounds now, so its notes are
//! no more consonant with the melody than with the melody an eighth note off.
//!
//! A model trained with `--melody-key` reads 24 more at the same positions: 1 for the
//! Krumhansl–Kessler key of every control note read so far (duration-weighted), so that it
//! centres its answer on the melody's tonic rather than on a key that shares its scale (a pop
//! tune in G answered in E minor).
//!
//! The numbers are a function of the token ids alone, read causally: a control counts once its
//! whole triple has been read. The one exception, asked for with `--whole-melody-key`, is the key
//! when the engine knows melody notes not yet in the sequence ([`MelodyNow::set_ahead`]): an
//! accompaniment knows its whole melody before the answer starts. The network never learned the
//! key columns (their logits rows are a counted prior, `add_key_prior.py`), so another estimate
//! of the key asks nothing of it that training did not see; measured (`models/train/README.md`,
//! session 11), the made-up tunes followed their key a little more often and the held-out songs
//! less, so the default stays the causal key.
//!
//! [`MelodyNow::features`] must match `models/train/melody_features.py`'s `features` exactly;
//! `tests/fixtures/melody-now/lines.json` holds that function's output on real and random
//! lines, and a test here compares the two.

use antiphon_tokens::{Triple, VocabSpec};

/// The graph input's name.
pub const INPUT_NAME: &str = "melody_now";
/// Numbers per position for the notes sounding now: one per pitch class.
pub const FEATURES: usize = 12;
/// Numbers per position for the melody's key: tonic + 12 × mode (0 major, 1 minor).
pub const KEY_FEATURES: usize = 24;

/// Krumhansl–Kessler probe-tone ratings, tonic first: major, then minor (as in `melody_now.py`).
const PROFILES: [[f64; 12]; 2] = [
    [
        6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
    ],
    [
        6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
    ],
];

/// Numbers per position: the twelve, and the 24 key columns when `key`.
pub fn width(key: bool) -> usize {
    FEATURES + if key { KEY_FEATURES } else { 0 }
}

/// Per pitch class, the ticks (at least 1 a note) of melody notes: what the key is found from.
pub type PitchClassWeights = [i64; 12];

/// A control (melody) note: its onset and end in ticks, and its pitch class.
#[derive(Debug, Clone, Copy)]
struct Sounding {
    onset: i64,
    end: i64,
    pitch_class: usize,
}

impl Sounding {
    /// The melody note of a control triple's three ids; `None` for drums, rests, separators
    /// and events.
    fn of_control(spec: &VocabSpec, time: i64, duration: i64, note: i64) -> Option<Self> {
        let co = i64::from(spec.control_offset());
        let to = i64::from(spec.time_offset());
        if !(co + to..co + to + i64::from(spec.max_time())).contains(&time) {
            return None;
        }
        let max_pitch = i64::from(spec.max_pitch());
        let code = note - co - i64::from(spec.note_offset());
        let (instrument, pitch) = (code.div_euclid(max_pitch), code.rem_euclid(max_pitch));
        if instrument < 0 || instrument == i64::from(spec.drum_instrument()) {
            return None;
        }
        let onset = time - co - to;
        Some(Self {
            onset,
            end: onset + duration - co - i64::from(spec.duration_offset()),
            pitch_class: (pitch % 12) as usize,
        })
    }

    /// What the note adds to its pitch class's weight.
    fn weight(&self) -> i64 {
        (self.end - self.onset).max(1)
    }
}

/// Adds to `weights` the melody notes among control `triples` (events and drums are skipped).
pub fn add_control_weights(spec: &VocabSpec, triples: &[Triple], weights: &mut PitchClassWeights) {
    for t in triples {
        let [time, duration, note] = t.ids().map(|id| i64::from(id.0));
        if let Some(s) = Sounding::of_control(spec, time, duration, note) {
            weights[s.pitch_class] += s.weight();
        }
    }
}

/// Computes the features, keeping its scratch list between calls.
#[derive(Debug, Default)]
pub struct MelodyNow {
    active: Vec<Sounding>,
    /// Whether the key columns follow the twelve.
    key: bool,
    /// Melody notes known but not yet in the sequence, counted into the key.
    ahead: PitchClassWeights,
}

impl MelodyNow {
    /// A computer of the twelve features, and of the 24 key columns too when `key`.
    pub fn new(key: bool) -> Self {
        Self {
            active: Vec::new(),
            key,
            ahead: [0; 12],
        }
    }

    /// Counts `ahead` (the melody notes known but not yet fed, [`add_control_weights`]) into
    /// the key of the rows computed from now on; zeros go back to the causal key.
    pub fn set_ahead(&mut self, ahead: PitchClassWeights) {
        self.ahead = ahead;
    }

    /// Numbers per position.
    pub fn width(&self) -> usize {
        width(self.key)
    }

    /// Writes into `out` (cleared first) the `new.len() * width()` features of the positions
    /// of `new`, in the sequence `history` followed by `new` (position 0: the task flag).
    pub fn features(&mut self, spec: &VocabSpec, history: &[u32], new: &[u32], out: &mut Vec<f32>) {
        let width = self.width();
        out.clear();
        out.resize(new.len() * width, 0.0);
        self.active.clear();
        let mut weights = self.ahead;
        // Stale from the start, so that notes known ahead give the first rows a key.
        let (mut key, mut key_stale) = (None, true);
        let len = history.len() + new.len();
        let at = |p: usize| -> i64 {
            i64::from(if p < history.len() {
                history[p]
            } else {
                new[p - history.len()]
            })
        };
        let to = i64::from(spec.time_offset());
        let co = i64::from(spec.control_offset());
        let max_time = i64::from(spec.max_time());
        for p in (1..len).step_by(3) {
            let time = at(p);
            if (co + to..co + to + max_time).contains(&time) {
                if p + 2 < len {
                    if let Some(s) = Sounding::of_control(spec, time, at(p + 1), at(p + 2)) {
                        self.active.push(s);
                        if self.key {
                            weights[s.pitch_class] += s.weight();
                            key_stale = true;
                        }
                    }
                }
            } else if (to..to + max_time).contains(&time) {
                let now = time - to;
                // Event times never go back, so what has ended never sounds again.
                self.active.retain(|s| s.end > now || s.onset > now);
                for q in [p, p + 1] {
                    if q < history.len() || q >= len {
                        continue;
                    }
                    let row = &mut out[(q - history.len()) * width..][..width];
                    for s in self.active.iter().filter(|s| s.onset <= now && now < s.end) {
                        row[s.pitch_class] = 1.0;
                    }
                    if self.key {
                        // Found only where a row of `new` needs it: a decode step reads the
                        // whole history but writes one row.
                        if key_stale {
                            key = melody_key(&weights);
                            key_stale = false;
                        }
                        if let Some(k) = key {
                            row[FEATURES + k] = 1.0;
                        }
                    }
                }
            }
        }
    }
}

/// The Krumhansl–Kessler key of a pitch-class histogram: tonic + 12 × mode (0 major, 1 minor),
/// the first best in the order tonic 0..11, major before minor; `None` when it is flat. The
/// arithmetic and its order are `melody_features.py`'s `melody_key`, so both find the same key
/// even where two keys nearly tie.
pub fn melody_key(weights: &[i64; 12]) -> Option<usize> {
    if weights.iter().min() == weights.iter().max() {
        return None;
    }
    let mean = weights.iter().map(|&w| w as f64).sum::<f64>() / 12.0;
    // Each profile centred, with its norm: the same for every tonic.
    let centred = PROFILES.map(|profile| {
        let profile_mean = profile.iter().sum::<f64>() / 12.0;
        let profile = profile.map(|x| x - profile_mean);
        (profile, profile.iter().map(|x| x * x).sum::<f64>().sqrt())
    });
    let mut best: Option<(f64, usize)> = None;
    for tonic in 0..12 {
        for (mode, &(profile, norm)) in centred.iter().enumerate() {
            let mut r = 0.0;
            for (i, &w) in weights.iter().enumerate() {
                r += (w as f64 - mean) * profile[(i + 12 - tonic) % 12];
            }
            r /= norm;
            if best.is_none_or(|(b, _)| r > b) {
                best = Some((r, tonic + 12 * mode));
            }
        }
    }
    best.map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JSON file of the repository, by its path from this crate.
    fn read_json(path: &str) -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Positions with sounding pitch classes (as bitmasks), and positions with a key.
    type Sparse = (Vec<(usize, u32)>, Vec<(usize, usize)>);

    /// The features of one whole line, fed in two parts (as a cached prefix and new tokens
    /// are): (position, bitmask of pitch classes) for the positions that have any, and
    /// (position, key) for those that have a key.
    fn sparse(spec: &VocabSpec, tokens: &[u32], split: usize) -> Sparse {
        let mut out = Vec::new();
        let mut now = MelodyNow::new(true);
        now.features(spec, &[], &tokens[..split], &mut out);
        let mut rest = Vec::new();
        now.features(spec, &tokens[..split], &tokens[split..], &mut rest);
        out.extend_from_slice(&rest);
        let rows: Vec<&[f32]> = out.chunks(now.width()).collect();
        let sounding = rows
            .iter()
            .enumerate()
            .filter_map(|(p, row)| {
                let bits = row[..FEATURES]
                    .iter()
                    .enumerate()
                    .filter(|(_, &v)| v == 1.0)
                    .fold(0u32, |b, (pc, _)| b | 1 << pc);
                (bits != 0).then_some((p, bits))
            })
            .collect();
        let keys = rows
            .iter()
            .enumerate()
            .filter_map(|(p, row)| {
                let on: Vec<usize> = (0..KEY_FEATURES)
                    .filter(|&k| row[FEATURES + k] == 1.0)
                    .collect();
                assert!(on.len() <= 1, "position {p} has keys {on:?}");
                on.first().map(|&k| (p, k))
            })
            .collect();
        (sounding, keys)
    }

    #[test]
    fn features_match_the_training_code_on_real_and_random_lines() {
        let fixture = read_json("../../tests/fixtures/melody-now/lines.json");
        let spec = VocabSpec::beats();
        let lines = fixture["lines"].as_array().unwrap();
        assert!(lines.len() >= 3);
        for line in lines {
            let tokens: Vec<u32> = serde_json::from_value(line["tokens"].clone()).unwrap();
            let want: Vec<(usize, u32)> = serde_json::from_value(line["features"].clone()).unwrap();
            let want_keys: Vec<(usize, usize)> =
                serde_json::from_value(line["keys"].clone()).unwrap();
            for split in [1, tokens.len() / 3, tokens.len() - 1] {
                let (sounding, keys) = sparse(&spec, &tokens, split);
                assert_eq!(sounding, want, "{} (split at {split})", line["what"]);
                assert_eq!(keys, want_keys, "{} keys (split at {split})", line["what"]);
            }
        }
    }

    #[test]
    fn without_the_key_the_features_are_the_twelve_alone() {
        let fixture = read_json("../../tests/fixtures/melody-now/lines.json");
        let spec = VocabSpec::beats();
        let tokens: Vec<u32> =
            serde_json::from_value(fixture["lines"][0]["tokens"].clone()).unwrap();
        let (mut with_key, mut plain) = (Vec::new(), Vec::new());
        MelodyNow::new(true).features(&spec, &[], &tokens, &mut with_key);
        MelodyNow::default().features(&spec, &[], &tokens, &mut plain);
        assert_eq!(plain.len(), tokens.len() * FEATURES);
        let twelve: Vec<f32> = with_key
            .chunks(FEATURES + KEY_FEATURES)
            .flat_map(|row| row[..FEATURES].to_vec())
            .collect();
        assert_eq!(plain, twelve);
        assert!(plain.contains(&1.0));
    }

    /// The labelled melodies of the key-finding test (`tests/data/key-melodies.json`): the
    /// histogram of each, weighted by duration in 1/12 beats, has its labelled key.
    #[test]
    fn the_melody_key_of_labelled_melodies_is_their_key() {
        let melodies = read_json("../../tests/data/key-melodies.json");
        let names = [
            "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
        ];
        let alternatives = [("C#", "Db"), ("G#", "Ab"), ("Gb", "F#")];
        let mut checked = 0;
        for melody in melodies.as_array().unwrap() {
            let mut weights = [0i64; 12];
            for note in melody["notes"].as_array().unwrap() {
                let beats = note[1].as_f64().unwrap();
                let pitch = note[2].as_i64().unwrap();
                weights[pitch.rem_euclid(12) as usize] += ((beats * 12.0).round() as i64).max(1);
            }
            let key = melody_key(&weights).expect("a melody has a key");
            let found = format!(
                "{} {}",
                names[key % 12],
                if key < 12 { "major" } else { "minor" }
            );
            let mut label = melody["key"].as_str().unwrap().to_string();
            for (from, to) in alternatives {
                if let Some(rest) = label.strip_prefix(from) {
                    label = format!("{to}{rest}");
                }
            }
            assert_eq!(found, label, "{}", melody["name"]);
            checked += 1;
        }
        assert!(checked >= 48);
        assert_eq!(melody_key(&[0; 12]), None);
        assert_eq!(melody_key(&[5; 12]), None);
    }

    /// The control, time, duration and note offsets, for writing token ids by hand.
    fn offsets(spec: &VocabSpec) -> (u32, u32, u32, u32) {
        (
            spec.control_offset(),
            spec.time_offset(),
            spec.duration_offset(),
            spec.note_offset(),
        )
    }

    #[test]
    fn an_event_hears_the_controls_sounding_at_its_time_only() {
        let spec = VocabSpec::beats();
        let (co, to, dur, note) = offsets(&spec);
        let tokens = [
            spec.anticipate(),
            co + to + 12, // melody E4 from tick 12 for 12 ticks
            co + dur + 12,
            co + note + 64,
            to + 6, // an event at 6: before it
            dur + 6,
            note + 48,
            to + 12, // at 12: E sounds
            dur + 6,
            note + 48,
            to + 24, // at 24: it has ended
            dur + 6,
            note + 48,
        ];
        let e = 1 << 4;
        assert_eq!(sparse(&spec, &tokens, 5).0, vec![(7, e), (8, e)]);
    }

    /// The key columns of a line's rows (tonic + 12 × mode), `None` where a row has none.
    fn keys(now: &mut MelodyNow, spec: &VocabSpec, tokens: &[u32]) -> Vec<Option<usize>> {
        let mut out = Vec::new();
        now.features(spec, &[], tokens, &mut out);
        out.chunks(now.width())
            .map(|row| row[FEATURES..].iter().position(|&x| x == 1.0))
            .collect()
    }

    #[test]
    fn melody_known_ahead_gives_the_key_before_it_is_placed() {
        let spec = VocabSpec::beats();
        let (co, to, dur, note) = offsets(&spec);
        // An A minor phrase (A C E, then B, G#, A) as control triples, none of it placed yet.
        let melody: Vec<Triple> = [(69, 12), (72, 12), (76, 12), (71, 6), (68, 6), (69, 24)]
            .iter()
            .enumerate()
            .map(|(i, &(pitch, ticks))| {
                Triple::from_raw(co + to + 12 * i as u32, co + dur + ticks, co + note + pitch)
            })
            .collect();
        let mut ahead = [0; 12];
        add_control_weights(&spec, &melody, &mut ahead);
        assert_eq!((ahead[9], ahead[8], ahead[0]), (36, 6, 12));
        // A drum control and an event add nothing.
        let drum = co + note + spec.drum_instrument() * spec.max_pitch() + 36;
        let others = [
            Triple::from_raw(co + to, co + dur + 6, drum),
            Triple::from_raw(to, dur + 6, note + 60),
        ];
        let mut unchanged = ahead;
        add_control_weights(&spec, &others, &mut unchanged);
        assert_eq!(unchanged, ahead);

        // Two events before any control: the causal key has nothing to go on.
        let tokens = [
            spec.anticipate(),
            to,
            dur + 6,
            note + 45,
            to + 6,
            dur + 6,
            note + 52,
        ];
        let mut now = MelodyNow::new(true);
        assert!(keys(&mut now, &spec, &tokens).iter().all(Option::is_none));
        now.set_ahead(ahead);
        // Rows: the flag, then time, duration and note of each event (notes carry no key).
        let a = Some(9 + 12); // A minor
        assert_eq!(
            keys(&mut now, &spec, &tokens)[1..],
            [a, a, None, a, a, None]
        );
        now.set_ahead([0; 12]);
        assert!(keys(&mut now, &spec, &tokens).iter().all(Option::is_none));
    }
}
