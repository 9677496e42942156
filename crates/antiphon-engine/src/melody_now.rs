//! Worker thread: the melody sounding now, an input of models trained with it.
//!
//! A model trained by `models/train/train.py --melody-now` reads, beside each token id, twelve
//! numbers: at the time and duration tokens of an event triple, 1 for each pitch class of the
//! control (anticipated melody) notes sounding at the event's time, 0 elsewhere. Without them a
//! small model hears the melody's scale but not which of its notes sounds now, so its notes are
//! no more consonant with the melody than with the melody an eighth note off.
//!
//! The numbers are a function of the token ids alone, read causally: a control counts once its
//! whole triple has been read. [`MelodyNow::features`] must match `models/train/melody_now.py`'s
//! `features` exactly; `tests/fixtures/melody-now/lines.json` holds that function's output on
//! real and random lines, and a test here compares the two.

use antiphon_tokens::VocabSpec;

/// The graph input's name.
pub const INPUT_NAME: &str = "melody_now";
/// Numbers per position: one per pitch class.
pub const FEATURES: usize = 12;

/// A control note read so far: its onset and end in ticks, and its pitch class.
#[derive(Debug, Clone, Copy)]
struct Sounding {
    onset: i64,
    end: i64,
    pitch_class: usize,
}

/// Computes the features, keeping its scratch list between calls.
#[derive(Debug, Default)]
pub struct MelodyNow {
    active: Vec<Sounding>,
}

impl MelodyNow {
    /// Writes into `out` (cleared first) the `new.len() * 12` features of the positions of
    /// `new`, in the sequence `history` followed by `new` (position 0: the task flag).
    pub fn features(&mut self, spec: &VocabSpec, history: &[u32], new: &[u32], out: &mut Vec<f32>) {
        out.clear();
        out.resize(new.len() * FEATURES, 0.0);
        self.active.clear();
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
        let (max_time, max_pitch) = (i64::from(spec.max_time()), i64::from(spec.max_pitch()));
        let drums = i64::from(spec.drum_instrument());
        for p in (1..len).step_by(3) {
            let time = at(p);
            if (co + to..co + to + max_time).contains(&time) {
                if p + 2 < len {
                    let code = at(p + 2) - co - i64::from(spec.note_offset());
                    let (instrument, pitch) =
                        (code.div_euclid(max_pitch), code.rem_euclid(max_pitch));
                    if instrument >= 0 && instrument != drums {
                        let onset = time - co - to;
                        let length = at(p + 1) - co - i64::from(spec.duration_offset());
                        self.active.push(Sounding {
                            onset,
                            end: onset + length,
                            pitch_class: (pitch % 12) as usize,
                        });
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
                    let row = &mut out[(q - history.len()) * FEATURES..][..FEATURES];
                    for s in self.active.iter().filter(|s| s.onset <= now && now < s.end) {
                        row[s.pitch_class] = 1.0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The features of one whole line, as (position, bitmask of pitch classes) for the
    /// positions that have any.
    fn sparse(spec: &VocabSpec, tokens: &[u32], split: usize) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        let mut now = MelodyNow::default();
        // Fed in two parts, as a cached prefix and new tokens are.
        now.features(spec, &[], &tokens[..split], &mut out);
        let mut rest = Vec::new();
        now.features(spec, &tokens[..split], &tokens[split..], &mut rest);
        out.extend_from_slice(&rest);
        out.chunks(FEATURES)
            .enumerate()
            .filter_map(|(p, row)| {
                let bits = row
                    .iter()
                    .enumerate()
                    .filter(|(_, &v)| v == 1.0)
                    .fold(0u32, |b, (pc, _)| b | 1 << pc);
                (bits != 0).then_some((p, bits))
            })
            .collect()
    }

    #[test]
    fn features_match_the_training_code_on_real_and_random_lines() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/melody-now/lines.json");
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let spec = VocabSpec::beats();
        let lines = fixture["lines"].as_array().unwrap();
        assert!(lines.len() >= 3);
        for line in lines {
            let tokens: Vec<u32> = serde_json::from_value(line["tokens"].clone()).unwrap();
            let want: Vec<(usize, u32)> = serde_json::from_value(line["features"].clone()).unwrap();
            for split in [1, tokens.len() / 3, tokens.len() - 1] {
                assert_eq!(
                    sparse(&spec, &tokens, split),
                    want,
                    "{} (split at {split})",
                    line["what"]
                );
            }
        }
    }

    #[test]
    fn an_event_hears_the_controls_sounding_at_its_time_only() {
        let spec = VocabSpec::beats();
        let (co, to, dur, note) = (
            spec.control_offset(),
            spec.time_offset(),
            spec.duration_offset(),
            spec.note_offset(),
        );
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
        assert_eq!(sparse(&spec, &tokens, 5), vec![(7, e), (8, e)]);
    }
}
