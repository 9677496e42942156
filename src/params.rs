//! Every automatable parameter (DESIGN §7). The `#[id]`s are stable: hosts store automation and
//! projects by them, so they never change.
//!
//! The ranges and defaults come from `antiphon_core::settings`, which the command line reads
//! too; the functions here turn them into nice-plug's ranges for the editor and the host.

use antiphon_core::note::{Channel, Velocity};
pub use antiphon_core::saved::{SavedAnswer, SavedNote};
use antiphon_core::settings::{
    Bounds, BARS, DENSITY, HARMONY, KEY_LOCK, NOTE, OUT_CHANNEL, SEED, TEMPERATURE, TOP_P,
    VELOCITY, VOICES,
};
pub use antiphon_core::settings::{Instrument, Mode};
use antiphon_engine::steering::{
    note_name, parse_note, DensityChoice, Key, KeyChoice, RangeChoice, Steering,
};
use antiphon_engine::{Settings, SettingsSource};
use nice_plug::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

fn linear_f(b: Bounds<f32>) -> FloatRange {
    FloatRange::Linear {
        min: b.min,
        max: b.max,
    }
}

fn skewed_f(b: Bounds<f32>) -> FloatRange {
    FloatRange::Skewed {
        min: b.min,
        max: b.max,
        factor: FloatRange::skew_factor(-1.0),
    }
}

fn linear_i(b: Bounds<i32>) -> IntRange {
    IntRange::Linear {
        min: b.min,
        max: b.max,
    }
}

/// Temperature range: logits are divided by this before sampling.
pub fn temperature_range() -> FloatRange {
    skewed_f(TEMPERATURE)
}

/// Top-p (nucleus) range: the smallest set of tokens whose probability reaches this is kept.
pub fn top_p_range() -> FloatRange {
    linear_f(TOP_P)
}

/// Length of an answer (Continue) or of the recording window (Accompany), in bars.
pub fn bars_range() -> IntRange {
    linear_i(BARS)
}

/// Output velocity: 0 follows the player, 1–127 is fixed.
pub fn velocity_range() -> IntRange {
    linear_i(VELOCITY)
}

/// Random seed: 0 draws a new one for every answer.
pub fn seed_range() -> IntRange {
    linear_i(SEED)
}

/// MIDI channel of the answer, 1–16 as musicians count.
pub fn out_channel_range() -> IntRange {
    linear_i(OUT_CHANNEL)
}

/// Key: 0 Follow, 1 Off, then the 24 keys as [`key_choice`] orders them.
pub fn key_range() -> IntRange {
    IntRange::Linear { min: 0, max: 25 }
}

/// The key a `key` parameter value stands for.
pub fn key_choice(value: i32) -> KeyChoice {
    match value {
        ..=0 => KeyChoice::Follow,
        1 => KeyChoice::Off,
        v => Key::all()
            .nth((v - 2).min(23) as usize)
            .map_or(KeyChoice::Follow, KeyChoice::Fixed),
    }
}

/// The `key` parameter value of a key choice.
pub fn key_value(choice: KeyChoice) -> i32 {
    match choice {
        KeyChoice::Follow => 0,
        KeyChoice::Off => 1,
        KeyChoice::Fixed(k) => 2 + Key::all().position(|x| x == k).unwrap_or(0) as i32,
    }
}

/// Key lock and Harmony, 0–100 %.
pub fn strength_range() -> FloatRange {
    linear_f(KEY_LOCK)
}

/// Low and High note: 0 is Auto, 1–127 a MIDI key.
pub fn note_range() -> IntRange {
    linear_i(NOTE)
}

/// Density in notes per bar; 0 is Auto.
pub fn density_range() -> FloatRange {
    skewed_f(DENSITY)
}

/// The most notes starting together.
pub fn voices_range() -> IntRange {
    linear_i(VOICES)
}

/// Antiphon's parameters, all automatable and saved with the project.
#[derive(Params)]
pub struct AntiphonParams {
    /// Sampling temperature, 0.05–2.0 (no unit). Lower is safer, higher is wilder.
    #[id = "temperature"]
    pub temperature: FloatParam,
    /// Nucleus sampling threshold, 0.5–1.0 (probability mass kept).
    #[id = "top_p"]
    pub top_p: FloatParam,
    /// Bars to answer (Continue) or to record and accompany (Accompany), 1–32.
    #[id = "bars"]
    pub bars: IntParam,
    /// Continue or Accompany.
    #[id = "mode"]
    pub mode: EnumParam<Mode>,
    /// Instrument family the answer may use, or Auto.
    #[id = "instrument"]
    pub instrument: EnumParam<Instrument>,
    /// Output velocity: 0 = follow the player's recent velocities, else fixed 1–127.
    #[id = "velocity"]
    pub velocity: IntParam,
    /// Random seed: 0 = a new answer each time, else the same input gives the same answer.
    #[id = "seed"]
    pub seed: IntParam,
    /// Whether the player's notes pass through to the output.
    #[id = "thru"]
    pub thru: BoolParam,
    /// MIDI channel of generated notes, 1–16.
    #[id = "out_channel"]
    pub out_channel: IntParam,
    /// Keep the current answer instead of making new ones.
    #[id = "freeze"]
    pub freeze: BoolParam,
    /// A trigger: switching it on asks for a new answer now.
    #[id = "regenerate"]
    pub regenerate: BoolParam,
    /// The answer's key: Follow (estimated from what was heard), Off, or one of 24 keys.
    #[id = "key"]
    pub key: IntParam,
    /// How strictly the answer keeps to the key's scale, 0–100 %.
    #[id = "key_lock"]
    pub key_lock: FloatParam,
    /// How strongly the answer sounds well with the melody, 0–100 %.
    #[id = "harmony"]
    pub harmony: FloatParam,
    /// Lowest note of the answer: Auto (0) or a MIDI key.
    #[id = "low_note"]
    pub low_note: IntParam,
    /// Highest note of the answer: Auto (0) or a MIDI key.
    #[id = "high_note"]
    pub high_note: IntParam,
    /// Notes per bar of the answer: Auto (0) or a target.
    #[id = "density"]
    pub density: FloatParam,
    /// The most notes the answer starts together, 1–12.
    #[id = "max_voices"]
    pub max_voices: IntParam,
    /// Times Regenerate was switched on, counted as it happens: the editor's button switches
    /// it on and off again at once, between two looks of the worker.
    pub regenerate_presses: Arc<AtomicU64>,

    /// The model folder the user chose in the editor; empty for the built-in model. Saved with
    /// the project; read by the worker, written by the editor.
    #[persist = "model-folder"]
    pub model_folder: Arc<RwLock<String>>,
    /// The last answer and what it answered. Saved with the project, so reopening it plays
    /// the same answer; written by the worker.
    #[persist = "last-answer"]
    pub last_answer: Arc<RwLock<SavedAnswer>>,
    /// The editor window's size and scale. Saved with the project; written by the editor.
    #[persist = "editor-view"]
    pub editor_view: Arc<RwLock<EditorView>>,
}

/// The editor window as saved with the project.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EditorView {
    /// Width in logical pixels before scaling.
    pub width: f32,
    /// Height in logical pixels before scaling.
    pub height: f32,
    /// The user's scale (zoom) on top of the system's, 1.0 = 100 %.
    pub scale: f32,
}

impl Default for EditorView {
    fn default() -> Self {
        Self {
            width: 900.0,
            height: 800.0,
            scale: 1.0,
        }
    }
}

impl Default for AntiphonParams {
    fn default() -> Self {
        let regenerate_presses = Arc::new(AtomicU64::new(0));
        let presses = regenerate_presses.clone();
        Self {
            temperature: FloatParam::new("Temperature", TEMPERATURE.default, temperature_range())
                .with_step_size(0.01)
                .with_value_to_string(formatters::v2s_f32_rounded(2)),
            top_p: FloatParam::new("Top-p", TOP_P.default, top_p_range())
                .with_step_size(0.01)
                .with_value_to_string(formatters::v2s_f32_rounded(2)),
            bars: IntParam::new("Bars", BARS.default, bars_range()).with_unit(" bars"),
            mode: EnumParam::new("Mode", Mode::Continue),
            instrument: EnumParam::new("Instrument", Instrument::Auto),
            velocity: IntParam::new("Velocity", VELOCITY.default, velocity_range())
                .with_value_to_string(Arc::new(|v| match v {
                    0 => "Follow".to_string(),
                    v => v.to_string(),
                }))
                .with_string_to_value(Arc::new(|s| {
                    let s = s.trim();
                    if s.eq_ignore_ascii_case("follow") {
                        Some(0)
                    } else {
                        s.parse().ok()
                    }
                })),
            seed: IntParam::new("Seed", SEED.default, seed_range())
                .with_value_to_string(Arc::new(|v| match v {
                    0 => "New each time".to_string(),
                    v => v.to_string(),
                }))
                .with_string_to_value(Arc::new(|s| {
                    let s = s.trim();
                    if s.to_ascii_lowercase().starts_with("new") {
                        Some(0)
                    } else {
                        s.parse().ok()
                    }
                })),
            thru: BoolParam::new("Thru", true),
            out_channel: IntParam::new("Output channel", OUT_CHANNEL.default, out_channel_range()),
            freeze: BoolParam::new("Freeze", false),
            regenerate: BoolParam::new("Regenerate", false).with_callback(Arc::new(move |on| {
                if on {
                    presses.fetch_add(1, Ordering::Relaxed);
                }
            })),
            regenerate_presses,
            key: IntParam::new("Key", 0, key_range())
                .with_value_to_string(Arc::new(|v| match key_choice(v) {
                    KeyChoice::Follow => "Follow".to_string(),
                    KeyChoice::Off => "Off".to_string(),
                    KeyChoice::Fixed(k) => k.to_string(),
                }))
                .with_string_to_value(Arc::new(|s| {
                    let s = s.trim();
                    if s.eq_ignore_ascii_case("follow") {
                        Some(0)
                    } else if s.eq_ignore_ascii_case("off") {
                        Some(1)
                    } else {
                        let plain = s.replace('♭', "b").replace('♯', "#");
                        plain
                            .parse::<Key>()
                            .ok()
                            .map(|k| key_value(KeyChoice::Fixed(k)))
                    }
                })),
            key_lock: FloatParam::new("Key lock", KEY_LOCK.default, strength_range())
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            harmony: FloatParam::new("Harmony", HARMONY.default, strength_range())
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            low_note: note_param("Low note"),
            high_note: note_param("High note"),
            density: FloatParam::new("Density", DENSITY.default, density_range())
                .with_step_size(0.5)
                .with_value_to_string(Arc::new(|v| {
                    if v <= 0.0 {
                        "Auto".to_string()
                    } else {
                        format!("{v:.1} notes/bar")
                    }
                }))
                .with_string_to_value(Arc::new(|s| {
                    let s = s.trim();
                    if s.eq_ignore_ascii_case("auto") {
                        Some(0.0)
                    } else {
                        s.trim_end_matches("notes/bar").trim().parse().ok()
                    }
                })),
            max_voices: IntParam::new("Voices", VOICES.default, voices_range()),
            model_folder: Arc::new(RwLock::new(String::new())),
            last_answer: Arc::new(RwLock::new(SavedAnswer::default())),
            editor_view: Arc::new(RwLock::new(EditorView::default())),
        }
    }
}

/// Low or High note: "Auto" at 0, else the key's name ("C2").
fn note_param(name: &str) -> IntParam {
    IntParam::new(name, NOTE.default, note_range())
        .with_value_to_string(Arc::new(|v| match v {
            ..=0 => "Auto".to_string(),
            v => note_name(v.min(127) as u8),
        }))
        .with_string_to_value(Arc::new(|s| {
            let s = s.trim();
            if s.eq_ignore_ascii_case("auto") {
                Some(0)
            } else {
                parse_note(s).map(i32::from)
            }
        }))
}

impl AntiphonParams {
    /// The MIDI channel of generated notes, 0-based.
    pub fn out_channel_index(&self) -> u8 {
        (OUT_CHANNEL.clamp(self.out_channel.value()) - 1) as u8
    }

    /// Where the worker thread takes its snapshots: these parameters.
    pub fn settings_source(self: &Arc<Self>) -> SettingsSource {
        let params = self.clone();
        Box::new(move || params.settings())
    }

    /// The snapshot the worker answers with.
    pub fn settings(&self) -> Settings {
        let (steering, steering_adjusted) = self.steering();
        Settings {
            mode: self.mode.value(),
            bars: BARS.clamp(self.bars.value()) as u32,
            temperature: self.temperature.value(),
            top_p: self.top_p.value(),
            seed: SEED.clamp(self.seed.value()) as u32,
            velocity: match VELOCITY.clamp(self.velocity.value()) {
                0 => None,
                fixed => Some(Velocity::saturating(fixed)),
            },
            instrument: self.instrument.value(),
            out_channel: Channel::saturating(self.out_channel_index().into()),
            freeze: self.freeze.value(),
            regenerate_presses: self.regenerate_presses.load(Ordering::Relaxed),
            steering,
            steering_adjusted,
            model_folder: self
                .model_folder
                .read()
                .map(|f| f.clone())
                .unwrap_or_default(),
        }
    }

    /// The steering the parameters ask for, made playable, and what had to change.
    pub fn steering(&self) -> (Steering, Option<String>) {
        let (low, high) = (self.low_note.value(), self.high_note.value());
        let range = if low <= 0 && high <= 0 {
            RangeChoice::Auto
        } else {
            RangeChoice::Fixed {
                low: low.clamp(0, 127) as u8,
                high: if high <= 0 { 127 } else { high.min(127) as u8 },
            }
        };
        let density = match self.density.value() {
            d if d <= 0.0 => DensityChoice::Auto,
            d => DensityChoice::NotesPerBar(d),
        };
        Steering {
            key: key_choice(self.key.value()),
            key_lock: self.key_lock.value(),
            harmony: self.harmony.value(),
            range,
            density,
            max_voices: VOICES.clamp(self.max_voices.value()) as u8,
        }
        .playable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatters_read_what_they_write() {
        let params = AntiphonParams::default();
        assert_eq!(
            params.velocity.normalized_value_to_string(0.0, false),
            "Follow"
        );
        assert_eq!(
            params.velocity.string_to_normalized_value("Follow"),
            Some(0.0)
        );
        assert_eq!(
            params.seed.normalized_value_to_string(0.0, false),
            "New each time"
        );
        assert_eq!(params.seed.string_to_normalized_value("new"), Some(0.0));
        assert_eq!(params.out_channel_index(), 0);
        for v in 0..=25 {
            let text = params
                .key
                .normalized_value_to_string(params.key.preview_normalized(v), false);
            assert_eq!(
                params.key.string_to_normalized_value(&text),
                Some(params.key.preview_normalized(v)),
                "{text}"
            );
        }
        assert_eq!(
            params
                .low_note
                .normalized_value_to_string(params.low_note.preview_normalized(36), false),
            "C2"
        );
        assert_eq!(
            params.low_note.string_to_normalized_value("auto"),
            Some(0.0)
        );
    }

    #[test]
    fn the_default_parameters_steer_as_the_command_line_does() {
        let params = AntiphonParams::default();
        assert_eq!(params.steering(), (Steering::default(), None));
    }

    #[test]
    fn a_range_with_no_scale_note_is_made_playable_and_said() {
        let params = AntiphonParams::default();
        use nice_plug::params::InternalParamMut;
        // SAFETY: one thread; nothing reads the parameters while they are set.
        unsafe {
            let d_major = KeyChoice::Fixed("D".parse().unwrap());
            params.key._internal_set_plain_value(key_value(d_major));
            params.low_note._internal_set_plain_value(60);
            params.high_note._internal_set_plain_value(60);
            params.key_lock._internal_set_plain_value(1.0);
        }
        let (steering, message) = params.steering();
        assert!(steering.check().is_ok());
        assert!(message.unwrap().contains("no note from 60 to 60"));
    }
}
