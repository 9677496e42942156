//! Worker thread: the settings a policy answers with, as one snapshot taken before each batch
//! of messages and each tick. The worker never reads the plugin's parameters itself: the shell
//! hands it a function that takes the snapshot, so the engine knows no plugin API.

use crate::steering::Steering;
use antiphon_core::note::{Channel, Velocity};
use antiphon_core::settings::{Instrument, Mode, BARS, OUT_CHANNEL, SEED, TEMPERATURE, TOP_P};

/// Everything the policies read from the controls.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Continue or Accompany.
    pub mode: Mode,
    /// Bars to answer (Continue) or to record and accompany (Accompany), ≥ 1.
    pub bars: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Nucleus sampling threshold.
    pub top_p: f32,
    /// 0 draws a new seed for every answer; any other value repeats answers.
    pub seed: u32,
    /// `None` follows the player's velocities; else a fixed velocity.
    pub velocity: Option<Velocity>,
    /// The instrument family the answer may use.
    pub instrument: Instrument,
    /// MIDI channel of generated notes.
    pub out_channel: Channel,
    /// Keep the current answer instead of making new ones.
    pub freeze: bool,
    /// Times Regenerate was pressed so far (a counter: each new press asks for a new answer).
    pub regenerate_presses: u64,
    /// The steering the controls ask for, already made playable.
    pub steering: Steering,
    /// How a steering setting that could not be played was changed, if it was.
    pub steering_adjusted: Option<String>,
    /// The model folder the user chose; empty for the environment's or the built-in model.
    pub model_folder: String,
}

impl Default for Settings {
    /// The plugin's defaults.
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            bars: BARS.default as u32,
            temperature: TEMPERATURE.default,
            top_p: TOP_P.default,
            seed: SEED.default as u32,
            velocity: None,
            instrument: Instrument::default(),
            out_channel: Channel::saturating(OUT_CHANNEL.default - 1),
            freeze: false,
            regenerate_presses: 0,
            steering: Steering::default(),
            steering_adjusted: None,
            model_folder: String::new(),
        }
    }
}

/// Takes a settings snapshot; called on the worker thread.
pub type SettingsSource = Box<dyn Fn() -> Settings + Send>;
