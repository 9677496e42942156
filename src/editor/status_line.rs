//! GUI thread: the status line that guides. It says what Antiphon is doing and what to do next,
//! for the mode and the state the worker publishes ([`Phase`]); below it a transient message
//! (an export, a model choice, a Regenerate with nothing to answer) fades away; the counters
//! sit behind a "Details" fold.

use crate::params::Mode;
use antiphon_core::messages::{Phase, Status};
use egui::{Color32, RichText, Ui};
use std::sync::atomic::Ordering;

/// Seconds a transient message stays fully visible.
const FLASH_HOLD_S: f64 = 4.0;
/// Seconds it then takes to fade out.
const FLASH_FADE_S: f64 = 2.0;
/// The error line's beginning when the model failed (see `engine::responder`); the status line
/// gives the reason after its own words.
const MODEL_FAILED_PREFIX: &str = "The model cannot run, so MIDI passes through: ";

/// How the status line is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Waiting for the player.
    Idle,
    /// Listening or recording.
    Busy,
    /// Answering or accompanying.
    Good,
    /// Something stops Antiphon from answering.
    Problem,
}

impl Tone {
    fn colour(self) -> Color32 {
        match self {
            Tone::Idle => Color32::from_gray(215),
            Tone::Busy => Color32::from_rgb(120, 175, 240),
            Tone::Good => Color32::from_rgb(130, 210, 140),
            Tone::Problem => Color32::from_rgb(240, 120, 95),
        }
    }
}

/// What the status line says: a headline and what to do next.
#[derive(Debug, Clone, PartialEq)]
pub struct Guide {
    /// What Antiphon is doing, in a few words.
    pub headline: String,
    /// What to do next, or what happens next.
    pub hint: String,
    /// Its colour.
    pub tone: Tone,
}

/// What the guide is worked out from: one look at the `Status` and the parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Situation {
    /// Whether the host gives a transport at all.
    pub has_transport: bool,
    /// Whether it plays.
    pub playing: bool,
    /// Song position, in quarter notes.
    pub playhead_beats: f64,
    /// Bar length, in quarter notes.
    pub bar_len_beats: f64,
    /// The mode chosen.
    pub mode: Mode,
    /// *Bars*.
    pub bars: i32,
    /// What the worker does.
    pub phase: Phase,
    /// The worker's last error, empty if none.
    pub error: String,
}

impl Situation {
    /// Reads the status and the parameters once.
    pub fn read(status: &Status, mode: Mode, bars: i32) -> Self {
        let transport = status.transport.read();
        Self {
            has_transport: transport.has_transport,
            playing: transport.playing,
            playhead_beats: transport.playhead_beats,
            bar_len_beats: transport.bar_len_beats.max(0.25),
            mode,
            bars,
            phase: status.phase(),
            error: status
                .error_line
                .lock()
                .map(|e| e.clone())
                .unwrap_or_default(),
        }
    }

    /// The bar (counted from 1) holding `beats`.
    pub fn bar_of(&self, beats: f64) -> i64 {
        (beats / self.bar_len_beats + 1e-6).floor() as i64 + 1
    }
}

/// What to say for `s`.
pub fn guide(s: &Situation) -> Guide {
    let bars = match s.bars {
        1 => "1 bar".to_string(),
        n => format!("{n} bars"),
    };
    let say = |headline: String, hint: String, tone| Guide {
        headline,
        hint,
        tone,
    };
    if s.phase == Phase::ModelFailed {
        let reason = s
            .error
            .strip_prefix(MODEL_FAILED_PREFIX)
            .unwrap_or(&s.error)
            .trim_end_matches('.');
        return say(
            format!("Model failed to load: {reason} — MIDI passes through"),
            "Choose another model folder below, or the built-in model.".into(),
            Tone::Problem,
        );
    }
    if !s.has_transport {
        return say(
            "No transport: press play in the host".into(),
            "Antiphon follows the host's tempo and bars; until it plays, MIDI passes through."
                .into(),
            Tone::Problem,
        );
    }
    if !s.playing {
        let next = match s.mode {
            Mode::Continue => {
                "then play a phrase on this track; Antiphon answers at the next bar line."
            }
            Mode::Accompany => {
                "then play or loop a melody; Antiphon accompanies it on the next pass."
            }
        };
        return say(
            "Stopped: press play in the host".into(),
            format!("Press play, {next}"),
            Tone::Idle,
        );
    }
    let bar = |beats: f64| s.bar_of(beats);
    match (s.mode, s.phase) {
        (Mode::Continue, Phase::Listening) => say(
            "Listening… stop playing to hear the answer".into(),
            "After a beat with no new note Antiphon answers from the next bar line.".into(),
            Tone::Busy,
        ),
        (Mode::Continue, Phase::Answering { from_beats, to_beats })
            if s.playhead_beats < to_beats =>
        {
            say(
                format!("Answering from bar {}", bar(from_beats)),
                format!(
                    "{bars} until bar {}. Play again to be answered anew; Regenerate for another answer.",
                    bar(to_beats)
                ),
                Tone::Good,
            )
        }
        (Mode::Continue, Phase::Answering { .. }) => say(
            "Answered: play another phrase and stop".into(),
            "Regenerate answers the last phrase again; Export MIDI saves the answer.".into(),
            Tone::Idle,
        ),
        (Mode::Continue, _) => say(
            "Listening… play a phrase and stop".into(),
            format!("Antiphon continues it for {bars} from the next bar line."),
            Tone::Idle,
        ),
        (
            Mode::Accompany,
            Phase::Recording {
                start_beats,
                len_beats,
                looping: true,
            },
        ) => say(
            "Waiting for the loop to come round".into(),
            format!(
                "Recording bars {}–{}; the accompaniment plays on the loop's next turn.",
                bar(start_beats),
                bar(start_beats + len_beats) - 1
            ),
            Tone::Busy,
        ),
        (
            Mode::Accompany,
            Phase::Recording {
                start_beats,
                len_beats,
                ..
            },
        ) => say(
            format!(
                "Recording bars {}–{}",
                bar(start_beats),
                bar(start_beats + len_beats) - 1
            ),
            format!(
                "The accompaniment plays from bar {} while you play the melody again.",
                bar(start_beats + len_beats)
            ),
            Tone::Busy,
        ),
        (
            Mode::Accompany,
            Phase::Accompanying {
                start_beats,
                len_beats,
                looping,
            },
        ) => say(
            format!(
                "Accompanying bars {}–{}",
                bar(start_beats),
                bar(start_beats + len_beats) - 1
            ),
            if looping {
                "On every turn of the loop. Freeze keeps it; Regenerate asks for another."
            } else {
                "Keep playing: each window is accompanied on the next. Freeze keeps this one."
            }
            .into(),
            Tone::Good,
        ),
        (Mode::Accompany, _) => say(
            "Listening… play or loop a melody".into(),
            format!("The first note opens a window of {bars}; Antiphon accompanies it on the next pass."),
            Tone::Idle,
        ),
    }
}

/// A message that shows for a while, then fades.
#[derive(Debug, Clone, Default)]
pub struct Flash {
    text: String,
    /// egui's clock (seconds) when it was set.
    since_s: f64,
    problem: bool,
}

impl Flash {
    /// Shows `text` from `now_s` on.
    pub fn set(&mut self, text: impl Into<String>, now_s: f64, problem: bool) {
        self.text = text.into();
        self.since_s = now_s;
        self.problem = problem;
    }

    /// Its text while it shows, with its opacity (0–1).
    pub fn visible(&self, now_s: f64) -> Option<(&str, f32)> {
        let age = now_s - self.since_s;
        if self.text.is_empty() || age > FLASH_HOLD_S + FLASH_FADE_S {
            return None;
        }
        let alpha = 1.0 - ((age - FLASH_HOLD_S) / FLASH_FADE_S).clamp(0.0, 1.0);
        Some((self.text.as_str(), alpha as f32))
    }
}

/// Draws the guide: the headline large and coloured, the hint under it, then the fading
/// message in a line of its own that is always there, so nothing below moves.
pub fn show(ui: &mut Ui, guide: &Guide, flash: &Flash) {
    ui.label(
        RichText::new(&guide.headline)
            .size(18.0)
            .strong()
            .color(guide.tone.colour()),
    );
    ui.label(RichText::new(&guide.hint).color(Color32::from_gray(190)));
    let now = ui.input(|i| i.time);
    let (text, alpha) = flash.visible(now).unwrap_or(("", 0.0));
    let colour = if flash.problem {
        Tone::Problem.colour()
    } else {
        Color32::from_rgb(235, 200, 120)
    };
    ui.label(
        RichText::new(if text.is_empty() { " " } else { text }).color(colour.gamma_multiply(alpha)),
    );
    if alpha > 0.0 {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(50));
    }
}

/// The counters and the engine's report, folded away by default.
pub fn details(ui: &mut Ui, status: &Status) {
    egui::CollapsingHeader::new("Details")
        .default_open(false)
        .show(ui, |ui| {
            if let Ok(line) = status.engine_line.lock() {
                if !line.is_empty() {
                    ui.label(line.as_str());
                }
            }
            let tempo = status.transport.read().tempo_bpm;
            let latency = status.last_latency_ms.load(Ordering::Relaxed);
            ui.label(format!(
                "Tempo {tempo:.1} bpm · answers {} · notes played {} · last answer's first note {latency:.0} ms after the window closed",
                status.answers.load(Ordering::Relaxed),
                status.notes_played.load(Ordering::Relaxed),
            ));
            ui.label(format!(
                "Notes too late to play {} · messages dropped {}",
                status.missed_deadlines.load(Ordering::Relaxed),
                status.dropped_to_worker.load(Ordering::Relaxed)
                    + status.dropped_output.load(Ordering::Relaxed),
            ));
            if let Ok(line) = status.error_line.lock() {
                if !line.is_empty() {
                    ui.colored_label(Tone::Problem.colour(), line.as_str());
                }
            }
        })
        .header_response
        .on_hover_text("The model's report, counters of answers and notes, and the last error.");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playing(mode: Mode, phase: Phase) -> Situation {
        Situation {
            has_transport: true,
            playing: true,
            playhead_beats: 33.0,
            bar_len_beats: 4.0,
            mode,
            bars: 4,
            phase,
            error: String::new(),
        }
    }

    #[test]
    fn says_what_to_do_in_each_state() {
        let mut s = playing(Mode::Continue, Phase::Waiting);
        assert_eq!(guide(&s).headline, "Listening… play a phrase and stop");
        s.phase = Phase::Answering {
            from_beats: 32.0,
            to_beats: 48.0,
        };
        assert_eq!(guide(&s).headline, "Answering from bar 9");
        s.playhead_beats = 50.0;
        assert!(guide(&s).headline.starts_with("Answered"));
        let s = playing(
            Mode::Accompany,
            Phase::Recording {
                start_beats: 0.0,
                len_beats: 16.0,
                looping: true,
            },
        );
        assert_eq!(guide(&s).headline, "Waiting for the loop to come round");
        assert!(guide(&s).hint.contains("bars 1–4"), "{:?}", guide(&s));
        let mut s = playing(Mode::Continue, Phase::Waiting);
        s.has_transport = false;
        assert_eq!(guide(&s).headline, "No transport: press play in the host");
        s.phase = Phase::ModelFailed;
        s.error = format!("{MODEL_FAILED_PREFIX}model.onnx is missing");
        assert_eq!(
            guide(&s).headline,
            "Model failed to load: model.onnx is missing — MIDI passes through"
        );
    }

    #[test]
    fn a_flash_fades_and_goes() {
        let mut flash = Flash::default();
        assert!(flash.visible(0.0).is_none());
        flash.set("Wrote 3 notes", 10.0, false);
        assert_eq!(flash.visible(11.0), Some(("Wrote 3 notes", 1.0)));
        let (_, alpha) = flash
            .visible(10.0 + FLASH_HOLD_S + FLASH_FADE_S / 2.0)
            .unwrap();
        assert!((alpha - 0.5).abs() < 1e-3);
        assert!(flash
            .visible(10.0 + FLASH_HOLD_S + FLASH_FADE_S + 0.1)
            .is_none());
    }
}
