//! GUI thread: the egui editor. It reads the parameters and the [`Status`] atomics and never
//! touches the model or the audio thread's state.

use crate::messages::Status;
use crate::params::AntiphonParams;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, Frame, NiceEguiApp,
    RepaintNotifier,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Editor window size in logical pixels.
pub const EDITOR_SIZE: (f32, f32) = (560.0, 440.0);
/// How often the status line refreshes while nothing else asks for a repaint.
const STATUS_REFRESH: Duration = Duration::from_millis(100);

/// The editor's initial state (its size).
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(EDITOR_SIZE.0, EDITOR_SIZE.1), 1.0)
}

/// Creates the editor.
pub fn create(
    state: Arc<EguiEditorState>,
    params: Arc<AntiphonParams>,
    status: Arc<Status>,
) -> Option<EguiEditor<AntiphonEditor>> {
    create_egui_editor(
        state,
        RepaintNotifier::new(),
        EguiNiceSettings::new().with_tile("Antiphon"),
        AntiphonEditor {
            params,
            status,
            gui: None,
        },
    )
}

/// The editor app: parameters on the left, what Antiphon is doing below.
pub struct AntiphonEditor {
    params: Arc<AntiphonParams>,
    status: Arc<Status>,
    /// Set while the window is open.
    gui: Option<GuiContext>,
}

impl NiceEguiApp for AntiphonEditor {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut Frame) {
        let Some(gui) = &self.gui else { return };
        let setter = gui.param_setter();
        let params = &self.params;
        ui.heading("Antiphon");
        ui.add_space(4.0);
        egui::Grid::new("params")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                param_row(ui, "Mode", &params.mode, &setter);
                param_row(ui, "Bars", &params.bars, &setter);
                param_row(ui, "Temperature", &params.temperature, &setter);
                param_row(ui, "Top-p", &params.top_p, &setter);
                param_row(ui, "Instrument", &params.instrument, &setter);
                param_row(ui, "Velocity", &params.velocity, &setter);
                param_row(ui, "Seed", &params.seed, &setter);
                param_row(ui, "Output channel", &params.out_channel, &setter);
                param_row(ui, "Thru", &params.thru, &setter);
                param_row(ui, "Freeze", &params.freeze, &setter);
                ui.label("Regenerate");
                if ui.button("Regenerate now").clicked() {
                    pulse(&params.regenerate, &setter);
                }
                ui.end_row();
            });
        ui.separator();
        status_lines(ui, &self.status);
        ui.ctx().request_repaint_after(STATUS_REFRESH);
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

fn param_row<P: Param>(ui: &mut egui::Ui, label: &str, param: &P, setter: &ParamSetter) {
    ui.label(label);
    ui.add(ParamSlider::for_param(param, setter).with_width(260.0));
    ui.end_row();
}

/// Switches a trigger parameter on and off again, as one gesture each, so hosts record it.
fn pulse(param: &BoolParam, setter: &ParamSetter) {
    for value in [true, false] {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, value);
        setter.end_set_parameter(param);
    }
}

/// The status lines: transport, engine, counters and the last error.
fn status_lines(ui: &mut egui::Ui, status: &Status) {
    let transport = if !status.has_transport.load(Ordering::Relaxed) {
        "No host transport yet: passing MIDI through. Press play in the host.".to_string()
    } else if status.playing.load(Ordering::Relaxed) {
        let pos = status.playhead_beats.load(Ordering::Relaxed);
        let bar_len = status.bar_len_beats.load(Ordering::Relaxed).max(1e-9);
        format!(
            "Playing at {:.1} bpm, bar {:.0}, beat {:.2}",
            status.tempo_bpm.load(Ordering::Relaxed),
            (pos / bar_len).floor() + 1.0,
            pos.rem_euclid(bar_len) + 1.0,
        )
    } else {
        "Stopped: passing MIDI through.".to_string()
    };
    ui.label(transport);
    if let Ok(line) = status.engine_line.lock() {
        if !line.is_empty() {
            ui.label(line.as_str());
        }
    }
    ui.label(format!(
        "Answers {} · notes played {} · missed deadlines {} · dropped {}",
        status.answers.load(Ordering::Relaxed),
        status.notes_played.load(Ordering::Relaxed),
        status.missed_deadlines.load(Ordering::Relaxed),
        status.dropped_to_worker.load(Ordering::Relaxed)
            + status.dropped_output.load(Ordering::Relaxed),
    ));
    if let Ok(line) = status.error_line.lock() {
        if !line.is_empty() {
            ui.colored_label(egui::Color32::from_rgb(230, 90, 70), line.as_str());
        }
    }
}
