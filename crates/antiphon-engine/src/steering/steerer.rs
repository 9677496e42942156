//! The steering of one generation: what it heard, what it played, and the biases that follow.
//!
//! Times are the generation's ticks (tick 0 = the generation's origin). The melody is known
//! ahead (anticipated controls), so the harmony at an onset can use notes that start later.

use super::key::{Key, Mode, PitchProfile, Triad};
use super::{DensityChoice, KeyChoice, RangeChoice, Steering};
use antiphon_tokens::{Event, VocabSpec};

/// MIDI keys below this count as bass (MUSIC-EVAL: a note below E3).
pub const BASS_BELOW: u8 = 52;
/// The lowest key Auto lets an accompaniment use (E1: the bottom of a bass guitar).
const AUTO_LOWEST: u8 = 28;
/// Auto never caps an accompaniment below this, however low the melody.
const AUTO_LOWEST_TOP: u8 = 64;
/// Auto lets a continuation move this far beyond the phrase's range.
const CONTINUE_MARGIN: u8 = 7;
/// The logit bias of a bass note at an onset of a bar that has none yet (Auto range): strong
/// enough that a bar almost always gets one, as in real accompaniments, where the model alone
/// (trained on few of them) almost never plays one under a made-up tune.
const BASS_BIAS: f32 = 8.0;
/// How much likelier a chord tone is at harmony 100 %.
const CHORD_TONE_BOOST: f32 = 3.0;
/// How far back the key follower listens, in bars.
const KEY_LOOKBACK_BARS: f64 = 8.0;
/// How far ahead (anticipated melody) the key follower listens, in bars.
const KEY_LOOKAHEAD_BARS: f64 = 1.0;
/// Weight of the answer's own notes in the followed key, against the melody's and prompt's.
const ANSWER_WEIGHT_IN_KEY: f64 = 0.5;
/// The density controller's strength: the gap penalty per beat per unit of log ratio.
const DENSITY_GAIN: f32 = 3.0;
/// Bars of the target the density controller assumes were already written (its inertia).
const DENSITY_PRIOR_BARS: f64 = 1.0;
/// A bias standing in for a ban when every note would be banned.
const SOFT_BAN: f32 = -30.0;

/// How badly each interval (answer − melody, mod 12) clashes, 0 none to 1 worst.
const CLASH: [f32; 12] = [0.0, 1.0, 0.8, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 0.8, 1.0];

/// What the generation is for, which decides what Auto means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An accompaniment under a melody (the controls).
    Accompany,
    /// A continuation of the prompt (or a gap filled inside it).
    Continue,
}

/// The bar grid in the generation's ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Vocabulary ticks per quarter note.
    pub ticks_per_beat: f64,
    /// Quarter notes per bar.
    pub beats_per_bar: f64,
    /// A bar line, in ticks.
    pub bar_origin_ticks: f64,
}

impl Frame {
    fn bar_ticks(&self) -> f64 {
        self.ticks_per_beat * self.beats_per_bar
    }

    /// Index of the bar holding `tick` (any integer; only equality matters).
    fn bar_of(&self, tick: i64) -> i64 {
        ((tick as f64 - self.bar_origin_ticks) / self.bar_ticks()).floor() as i64
    }

    /// Index of the half bar holding `tick`.
    fn half_bar_of(&self, tick: i64) -> i64 {
        ((tick as f64 - self.bar_origin_ticks) / (self.bar_ticks() / 2.0)).floor() as i64
    }
}

/// A pitched note in ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sounding {
    on: i64,
    off: i64,
    pitch: u8,
}

impl Sounding {
    fn of(event: &Event) -> Self {
        Self {
            on: event.onset_ticks as i64,
            off: event.onset_ticks as i64 + (event.duration_ticks as i64).max(1),
            pitch: event.pitch as u8,
        }
    }

    fn sounds_at(&self, tick: i64) -> bool {
        self.on <= tick && tick < self.off
    }

    fn overlap(&self, from: f64, to: f64) -> f64 {
        ((self.off as f64).min(to) - (self.on as f64).max(from)).max(0.0)
    }
}

/// The steering of one generation.
#[derive(Debug, Clone)]
pub struct Steerer {
    steering: Steering,
    role: Role,
    frame: Frame,
    note_offset: usize,
    max_pitch: usize,
    num_instruments: u32,
    drums: u32,
    time_offset: usize,
    max_time: usize,
    /// Notes the answer plays with: the melody (controls) and anticipated inputs.
    melody: Vec<Sounding>,
    /// The prompt.
    heard: Vec<Sounding>,
    /// The answer's pitched notes so far.
    answer: Vec<Sounding>,
    /// Notes the answer wrote, drums included (for the density).
    written: usize,
    /// Where the answer starts (ticks), once the first triple is asked for.
    start: Option<i64>,
    /// The key at the last onset asked about, and that onset.
    key_at: Option<(i64, Option<Key>)>,
    /// The key last used, for the editor.
    last_key: Option<Key>,
    /// Per-pitch bias, rebuilt for each note.
    bias: Vec<f32>,
    /// The note logits before steering, to undo a mask that left nothing.
    saved: Vec<f32>,
}

impl Steerer {
    /// Steering for a generation in `spec` on the bar grid `frame`.
    pub fn new(spec: &VocabSpec, steering: Steering, role: Role, frame: Frame) -> Self {
        Self {
            steering,
            role,
            frame,
            note_offset: spec.note_offset() as usize,
            max_pitch: spec.max_pitch() as usize,
            num_instruments: spec.num_instruments(),
            drums: spec.drum_instrument(),
            time_offset: spec.time_offset() as usize,
            max_time: spec.max_time() as usize,
            melody: Vec::new(),
            heard: Vec::new(),
            answer: Vec::new(),
            written: 0,
            start: None,
            key_at: None,
            last_key: None,
            bias: vec![0.0; spec.max_pitch() as usize],
            saved: Vec::new(),
        }
    }

    /// The settings in force.
    pub fn steering(&self) -> &Steering {
        &self.steering
    }

    /// Notes that sound with the answer (the melody); drums are ignored.
    pub fn add_melody(&mut self, events: impl IntoIterator<Item = Event>) {
        let pitched = pitched(events, self.drums);
        self.melody.extend(pitched);
    }

    /// Notes heard before the answer (the prompt); drums are ignored.
    pub fn add_heard(&mut self, events: impl IntoIterator<Item = Event>) {
        let pitched = pitched(events, self.drums);
        self.heard.extend(pitched);
    }

    /// Takes note of a note the answer plays.
    pub fn observe(&mut self, event: &Event) {
        self.written += 1;
        if event.instrument != self.drums {
            self.answer.push(Sounding::of(event));
        }
    }

    /// The most notes that may start together.
    pub fn max_notes_per_onset(&self) -> usize {
        self.steering.max_voices.max(1) as usize
    }

    /// The key used last, and whether it was followed (not fixed).
    pub fn key_in_use(&self) -> Option<(Key, bool)> {
        self.last_key
            .map(|k| (k, self.steering.key == KeyChoice::Follow))
    }

    /// Biases the time logits (window-relative ids, `now_rel` the cursor) toward the density
    /// asked for: shorter gaps while the answer is sparser than it, longer while denser.
    pub fn steer_time(&mut self, logits: &mut [f32], now: i64, now_rel: i64) {
        let start = *self.start.get_or_insert(now);
        let Some(target) = self.density_target() else {
            return;
        };
        let bar_ticks = self.frame.bar_ticks();
        let elapsed_bars = (now - start) as f64 / bar_ticks;
        let rate = (self.written as f64 + target * DENSITY_PRIOR_BARS)
            / (elapsed_bars + DENSITY_PRIOR_BARS);
        let tilt = (target / rate.max(1e-3)).ln().clamp(-3.0, 3.0) as f32 * DENSITY_GAIN;
        let first = self.time_offset + now_rel.max(0) as usize;
        let last = (self.time_offset + self.max_time).min(logits.len());
        let tpb = self.frame.ticks_per_beat as f32;
        for (gap, x) in logits[first.min(last)..last].iter_mut().enumerate() {
            *x -= tilt * gap as f32 / tpb;
        }
    }

    /// Biases the note logits of an onset at `onset` (ticks), where the answer already
    /// started `started` (pitches), toward the key, the harmony and the register.
    pub fn steer_notes(&mut self, logits: &mut [f32], onset: i64, started: &[u8]) {
        self.start.get_or_insert(onset);
        let key = self.key_at(onset);
        self.last_key = key.or(self.last_key);
        let scale = key.map(|k| k.scale(self.melody_uses_raised_sixth(k, onset)));
        let range = self.range();
        let sounding: Vec<u8> = self
            .melody
            .iter()
            .filter(|m| m.sounds_at(onset))
            .map(|m| m.pitch)
            .collect();
        let chord = (self.steering.harmony > 0.0)
            .then(|| self.chord_at(onset, key))
            .flatten();
        let wants_bass = self.wants_bass(onset, started);
        let lock_bias = log_keep(self.steering.key_lock);
        let harmony = self.steering.harmony;

        for (pitch, bias) in self.bias.iter_mut().enumerate() {
            let pitch = pitch as u8;
            let mut b = 0.0f32;
            if let Some((low, high)) = range {
                if pitch < low || pitch > high {
                    b = f32::NEG_INFINITY;
                }
            }
            if let Some(scale) = scale {
                if !scale.contains(pitch) {
                    b += lock_bias;
                }
            }
            if harmony > 0.0 {
                let clash = sounding
                    .iter()
                    .map(|&m| CLASH[((pitch as i32 - m as i32).rem_euclid(12)) as usize])
                    .fold(0.0f32, f32::max);
                // Probability × (1 − harmony)^clash: at 100 % every clash is banned, below it
                // the worst clashes lose most.
                if clash > 0.0 {
                    b += clash * log_keep(harmony);
                }
                if chord.is_some_and(|c| c.tones().contains(pitch)) {
                    b += harmony * CHORD_TONE_BOOST.ln();
                }
            }
            if wants_bass && (AUTO_LOWEST..BASS_BELOW).contains(&pitch) {
                b += BASS_BIAS;
                if chord.is_some_and(|c| c.root == pitch % 12) {
                    b += CHORD_TONE_BOOST.ln();
                }
            }
            *bias = b;
        }
        self.apply_note_bias(logits);
    }

    /// Adds the per-pitch bias to every pitched instrument's notes; if that bans every note
    /// left, bans become strong penalties instead (the model still plays something).
    fn apply_note_bias(&mut self, logits: &mut [f32]) {
        let notes =
            self.note_offset..self.note_offset + self.max_pitch * self.num_instruments as usize;
        let notes = notes.start.min(logits.len())..notes.end.min(logits.len());
        self.saved.clear();
        self.saved.extend_from_slice(&logits[notes.clone()]);
        let had_note = self.saved.iter().any(|x| x.is_finite());
        self.add_bias(logits, |b| b);
        let has_note = logits[notes.clone()].iter().any(|x| x.is_finite());
        if had_note && !has_note {
            logits[notes].copy_from_slice(&self.saved);
            self.add_bias(logits, |b| b.max(SOFT_BAN));
        }
    }

    fn add_bias(&self, logits: &mut [f32], adjust: impl Fn(f32) -> f32) {
        for code in 0..self.num_instruments {
            if code == self.drums {
                continue;
            }
            let first = self.note_offset + code as usize * self.max_pitch;
            let Some(row) = logits.get_mut(first..first + self.max_pitch) else {
                continue;
            };
            for (x, &b) in row.iter_mut().zip(&self.bias) {
                *x += adjust(b);
            }
        }
    }

    /// The key at `onset`: fixed, or followed from the notes around it.
    fn key_at(&mut self, onset: i64) -> Option<Key> {
        match self.steering.key {
            KeyChoice::Off => None,
            KeyChoice::Fixed(k) => Some(k),
            KeyChoice::Follow => {
                if let Some((at, key)) = self.key_at {
                    if at == onset {
                        return key;
                    }
                }
                let key = self.followed_key(onset);
                self.key_at = Some((onset, key));
                key
            }
        }
    }

    /// The Krumhansl–Kessler key of what sounds within a few bars of `onset`: the melody
    /// (ahead too: it is anticipated), the prompt and, at half weight, the answer.
    fn followed_key(&self, onset: i64) -> Option<Key> {
        let bar = self.frame.bar_ticks();
        let from = onset as f64 - KEY_LOOKBACK_BARS * bar;
        let to = onset as f64 + KEY_LOOKAHEAD_BARS * bar;
        let mut profile = PitchProfile::default();
        let mut add = |notes: &[Sounding], weight: f64| {
            for n in notes {
                let w = n.overlap(from, to);
                if w > 0.0 {
                    profile.add(n.pitch, w * weight);
                }
            }
        };
        add(&self.melody, 1.0);
        add(&self.heard, 1.0);
        add(&self.answer, ANSWER_WEIGHT_IN_KEY);
        profile.key().or_else(|| {
            // Too little nearby (a long rest): everything heard.
            let mut all = PitchProfile::default();
            for n in self.melody.iter().chain(&self.heard) {
                all.add(n.pitch, (n.off - n.on) as f64);
            }
            all.key()
        })
    }

    /// Whether the melody near `onset` uses the minor key's raised sixth (melodic minor).
    fn melody_uses_raised_sixth(&self, key: Key, onset: i64) -> bool {
        if key.mode != Mode::Minor {
            return false;
        }
        let bar = self.frame.bar_ticks();
        let (from, to) = (onset as f64 - KEY_LOOKBACK_BARS * bar, onset as f64 + bar);
        let sixth = key.raised_sixth();
        self.melody
            .iter()
            .chain(&self.heard)
            .any(|n| n.pitch % 12 == sixth && n.overlap(from, to) > 0.0)
    }

    /// The triad the melody and the answer imply in the half bar of `onset`: a diatonic one
    /// when a key is known.
    fn chord_at(&self, onset: i64, key: Option<Key>) -> Option<Triad> {
        let half = self.frame.half_bar_of(onset);
        let span = self.frame.bar_ticks() / 2.0;
        let from = self.frame.bar_origin_ticks + half as f64 * span;
        let to = from + span;
        let mut profile = PitchProfile::default();
        for n in self.melody.iter().chain(&self.answer) {
            profile.add(n.pitch, n.overlap(from, to));
        }
        if profile.total() <= 0.0 {
            return None;
        }
        match key {
            Some(k) => profile.best_triad(&k.diatonic_triads()),
            None => {
                let all: Vec<Triad> = Key::all()
                    .map(|k| Triad {
                        root: k.tonic,
                        quality: match k.mode {
                            Mode::Major => super::Quality::Major,
                            Mode::Minor => super::Quality::Minor,
                        },
                    })
                    .collect();
                profile.best_triad(&all)
            }
        }
    }

    /// Whether the note about to be chosen should be a bass note: Auto range in Accompany, the
    /// first note of an onset, in a bar with no bass yet.
    fn wants_bass(&self, onset: i64, started: &[u8]) -> bool {
        if self.role != Role::Accompany || self.steering.range != RangeChoice::Auto {
            return false;
        }
        if !started.is_empty() {
            return false;
        }
        let bar = self.frame.bar_of(onset);
        !self
            .answer
            .iter()
            .any(|n| n.pitch < BASS_BELOW && self.frame.bar_of(n.on) == bar)
    }

    /// The hard register limits: a fixed range, or Auto's.
    fn range(&self) -> Option<(u8, u8)> {
        match self.steering.range {
            RangeChoice::Full => None,
            RangeChoice::Fixed { low, high } => Some((low, high)),
            RangeChoice::Auto => match self.role {
                Role::Accompany => {
                    let top = self.melody.iter().map(|n| n.pitch).max()?;
                    Some((AUTO_LOWEST, top.max(AUTO_LOWEST_TOP)))
                }
                Role::Continue => {
                    let low = self.heard.iter().map(|n| n.pitch).min()?;
                    let high = self.heard.iter().map(|n| n.pitch).max()?;
                    Some((
                        low.saturating_sub(CONTINUE_MARGIN),
                        high.saturating_add(CONTINUE_MARGIN).min(127),
                    ))
                }
            },
        }
    }

    /// Notes per bar to aim for, if any.
    fn density_target(&self) -> Option<f64> {
        match self.steering.density {
            DensityChoice::Off => None,
            DensityChoice::NotesPerBar(n) => Some(n.max(0.1) as f64),
            DensityChoice::Auto => match self.role {
                Role::Accompany => None,
                Role::Continue => {
                    let first = self.heard.iter().map(|n| n.on).min()?;
                    let last = self.heard.iter().map(|n| n.off).max()?;
                    let bars = ((last - first) as f64 / self.frame.bar_ticks()).max(1.0);
                    Some(self.heard.len() as f64 / bars)
                }
            },
        }
    }
}

/// The pitched notes of `events` (drums have no key, harmony or register).
fn pitched(events: impl IntoIterator<Item = Event>, drums: u32) -> impl Iterator<Item = Sounding> {
    events
        .into_iter()
        .filter(move |e| e.instrument != drums)
        .map(|e| Sounding::of(&e))
}

/// The logit bias that multiplies a probability by `1 − strength` (−∞ at full strength).
fn log_keep(strength: f32) -> f32 {
    if strength <= 0.0 {
        0.0
    } else if strength >= 1.0 {
        f32::NEG_INFINITY
    } else {
        (1.0 - strength).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            ticks_per_beat: 12.0,
            beats_per_bar: 4.0,
            bar_origin_ticks: 0.0,
        }
    }

    fn event(on: u32, dur: u32, pitch: u32) -> Event {
        Event {
            onset_ticks: on,
            duration_ticks: dur,
            instrument: 0,
            pitch,
        }
    }

    fn note_logits(spec: &VocabSpec) -> Vec<f32> {
        vec![0.0; spec.vocab_size() as usize]
    }

    fn allowed_pitches(spec: &VocabSpec, logits: &[f32]) -> Vec<u8> {
        let start = spec.note_offset() as usize;
        (0..spec.max_pitch() as usize)
            .filter(|&p| logits[start + p].is_finite())
            .map(|p| p as u8)
            .collect()
    }

    #[test]
    fn strict_key_lock_leaves_only_the_scale() {
        let spec = VocabSpec::beats();
        for key in Key::all() {
            let steering = Steering {
                key: KeyChoice::Fixed(key),
                key_lock: 1.0,
                ..Steering::off()
            };
            let mut s = Steerer::new(&spec, steering, Role::Accompany, frame());
            let mut logits = note_logits(&spec);
            s.steer_notes(&mut logits, 0, &[]);
            let scale = key.scale(false);
            let allowed = allowed_pitches(&spec, &logits);
            assert!(allowed.iter().all(|&p| scale.contains(p)), "{key}");
            assert_eq!(
                allowed.len(),
                (0..128u8).filter(|&p| scale.contains(p)).count()
            );
        }
    }

    #[test]
    fn a_fixed_range_is_a_hard_mask_and_drums_are_exempt() {
        let spec = VocabSpec::beats();
        let steering = Steering {
            range: RangeChoice::Fixed { low: 48, high: 60 },
            ..Steering::off()
        };
        let mut s = Steerer::new(&spec, steering, Role::Continue, frame());
        let mut logits = note_logits(&spec);
        s.steer_notes(&mut logits, 0, &[]);
        assert_eq!(
            allowed_pitches(&spec, &logits),
            (48..=60).collect::<Vec<_>>()
        );
        let drums = spec.note_offset() as usize + spec.drum_instrument() as usize * 128;
        assert!(logits[drums..drums + 128].iter().all(|x| *x == 0.0));
    }

    #[test]
    fn harmony_bans_clashes_with_the_melody_note_sounding() {
        let spec = VocabSpec::beats();
        let steering = Steering {
            harmony: 1.0,
            ..Steering::off()
        };
        let mut s = Steerer::new(&spec, steering, Role::Accompany, frame());
        s.add_melody([event(0, 24, 64)]); // E4 for two beats
        let mut logits = note_logits(&spec);
        s.steer_notes(&mut logits, 12, &[]);
        let allowed = allowed_pitches(&spec, &logits);
        for p in [63u8, 65, 62, 66, 70, 51, 53] {
            assert!(!allowed.contains(&p), "{p} clashes with E");
        }
        for p in [64u8, 60, 57, 55, 48] {
            assert!(allowed.contains(&p), "{p} sounds with E");
        }
        // Past the melody note's end nothing clashes.
        let mut logits = note_logits(&spec);
        s.steer_notes(&mut logits, 30, &[]);
        assert!(allowed_pitches(&spec, &logits).contains(&65));
    }

    #[test]
    fn nothing_left_turns_bans_into_penalties() {
        let spec = VocabSpec::beats();
        let steering = Steering {
            key: KeyChoice::Fixed(Key::new(0, Mode::Major)),
            key_lock: 1.0,
            ..Steering::off()
        };
        let mut s = Steerer::new(&spec, steering, Role::Continue, frame());
        let mut logits = vec![f32::NEG_INFINITY; spec.vocab_size() as usize];
        let c_sharp = spec.note_offset() as usize + 61;
        logits[c_sharp] = 0.0;
        s.steer_notes(&mut logits, 0, &[]);
        assert_eq!(logits[c_sharp], SOFT_BAN);
    }

    #[test]
    fn the_followed_key_comes_from_the_melody_around_the_onset() {
        let spec = VocabSpec::beats();
        let steering = Steering {
            key_lock: 1.0,
            ..Steering::off()
        };
        let steering = Steering {
            key: KeyChoice::Follow,
            ..steering
        };
        let mut s = Steerer::new(&spec, steering, Role::Accompany, frame());
        // G major for eight bars: G A B C D E F# G ...
        let g_major = [
            67u32, 69, 71, 72, 74, 76, 78, 79, 74, 71, 67, 66, 67, 62, 67, 71,
        ];
        s.add_melody(
            g_major
                .iter()
                .enumerate()
                .map(|(i, &p)| event(i as u32 * 24, 24, p)),
        );
        let mut logits = note_logits(&spec);
        s.steer_notes(&mut logits, 48, &[]);
        assert_eq!(s.key_in_use(), Some((Key::new(7, Mode::Major), true)));
        assert!(!allowed_pitches(&spec, &logits).contains(&65)); // F natural
    }

    #[test]
    fn an_accompaniment_bar_without_bass_asks_for_one() {
        let spec = VocabSpec::beats();
        let mut s = Steerer::new(&spec, Steering::default(), Role::Accompany, frame());
        s.add_melody([event(0, 48, 72), event(48, 48, 74)]);
        let mut logits = note_logits(&spec);
        s.steer_notes(&mut logits, 0, &[]);
        let start = spec.note_offset() as usize;
        let best = (0..128).max_by(|&a, &b| logits[start + a].total_cmp(&logits[start + b]));
        assert!(best.unwrap() < BASS_BELOW as usize);
        s.observe(&event(0, 48, 36));
        let mut logits = note_logits(&spec);
        s.steer_notes(&mut logits, 12, &[]);
        assert!(logits[start + 40] <= logits[start + 60]);
        // Nothing above the melody's top (or E4, whichever is higher).
        assert!(!logits[start + 75].is_finite());
    }

    #[test]
    fn a_sparse_answer_is_pushed_to_shorter_gaps() {
        let spec = VocabSpec::beats();
        let steering = Steering {
            density: DensityChoice::NotesPerBar(16.0),
            ..Steering::off()
        };
        let mut s = Steerer::new(&spec, steering, Role::Continue, frame());
        let mut logits = note_logits(&spec);
        s.steer_time(&mut logits, 0, 0);
        s.observe(&event(0, 12, 60));
        let mut logits = note_logits(&spec);
        s.steer_time(&mut logits, 96, 96);
        let t0 = spec.time_offset() as usize;
        assert!(logits[t0 + 96] > logits[t0 + 108]);
        assert!(logits[t0 + 95] == 0.0);
    }
}
