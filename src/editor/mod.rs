//! GUI thread: the egui editor. It reads the parameters, the [`Status`] atomics and the piano
//! roll the worker publishes, and never touches the model or the audio thread's state.

mod roll;

use crate::engine::model::ModelSpec;
use crate::messages::Status;
use crate::params::{AntiphonParams, SavedNote};
use crate::tokens::writer::{write_notes, WriteOptions};
use crate::tokens::Note;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, Frame, NiceEguiApp,
    RepaintNotifier,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Editor window size in logical pixels.
pub const EDITOR_SIZE: (f32, f32) = (780.0, 600.0);
/// How often the status and the piano roll refresh while nothing else asks for a repaint.
const STATUS_REFRESH: Duration = Duration::from_millis(50);

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
    let model_text = params
        .model_folder
        .read()
        .map(|f| f.clone())
        .unwrap_or_default();
    create_egui_editor(
        state,
        RepaintNotifier::new(),
        EguiNiceSettings::new().with_tile("Antiphon"),
        AntiphonEditor {
            params,
            status,
            gui: None,
            model_text,
            export_path: default_export_path().display().to_string(),
            export_heard: true,
            message: String::new(),
        },
    )
}

/// Where "Export MIDI" writes unless told otherwise.
fn default_export_path() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("antiphon-answer.mid")
}

/// The editor app: parameters, the piano roll, the model and export rows, the status lines.
pub struct AntiphonEditor {
    params: Arc<AntiphonParams>,
    status: Arc<Status>,
    /// Set while the window is open.
    gui: Option<GuiContext>,
    /// The model folder being typed.
    model_text: String,
    /// Where to export the last answer.
    export_path: String,
    /// Whether the export includes what Antiphon heard.
    export_heard: bool,
    /// The result of the last model or export action.
    message: String,
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
        ui.horizontal_top(|ui| {
            egui::Grid::new("params")
                .num_columns(2)
                .spacing([10.0, 4.0])
                .show(ui, |ui| {
                    param_row(ui, "Mode", &params.mode, &setter);
                    param_row(ui, "Bars", &params.bars, &setter);
                    param_row(ui, "Temperature", &params.temperature, &setter);
                    param_row(ui, "Top-p", &params.top_p, &setter);
                    param_row(ui, "Instrument", &params.instrument, &setter);
                    param_row(ui, "Velocity", &params.velocity, &setter);
                });
            ui.add_space(12.0);
            egui::Grid::new("params2")
                .num_columns(2)
                .spacing([10.0, 4.0])
                .show(ui, |ui| {
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
        });
        ui.separator();
        roll::show(ui, &self.status);
        ui.separator();
        self.model_row(ui);
        self.export_row(ui);
        if !self.message.is_empty() {
            ui.label(self.message.as_str());
        }
        ui.separator();
        status_lines(ui, &self.status);
        ui.ctx().request_repaint_after(STATUS_REFRESH);
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

impl AntiphonEditor {
    /// The model picker: a folder path, checked before the worker is asked to load it.
    fn model_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("Model folder");
            ui.add(egui::TextEdit::singleline(&mut self.model_text).desired_width(360.0));
            if ui.button("Load").clicked() {
                self.message = match check_model_folder(Path::new(self.model_text.trim())) {
                    Ok(name) => {
                        self.set_model_folder(self.model_text.trim().to_string());
                        format!("Loading {name}…")
                    }
                    Err(e) => e,
                };
            }
            if ui.button("Built-in").clicked() {
                self.model_text.clear();
                self.set_model_folder(String::new());
                self.message = "Using the built-in model.".into();
            }
        });
    }

    fn set_model_folder(&self, folder: String) {
        if let Ok(mut current) = self.params.model_folder.write() {
            *current = folder;
        }
    }

    /// "Export MIDI": the last answer (and what it answered) to a .mid file.
    fn export_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("Export to");
            ui.add(egui::TextEdit::singleline(&mut self.export_path).desired_width(300.0));
            ui.checkbox(&mut self.export_heard, "with what it heard");
            if ui.button("Export MIDI").clicked() {
                let tempo = self.status.tempo_bpm.load(Ordering::Relaxed);
                self.message = match export_answer(
                    &self.params,
                    Path::new(self.export_path.trim()),
                    self.export_heard,
                    tempo,
                ) {
                    Ok(n) => format!("Wrote {n} notes to {}", self.export_path.trim()),
                    Err(e) => e,
                };
            }
        });
    }
}

/// Checks that `dir` holds a readable model; returns its name or what is wrong.
pub fn check_model_folder(dir: &Path) -> Result<String, String> {
    if dir.as_os_str().is_empty() {
        return Err("Type the path of a folder holding model.onnx and model.json.".into());
    }
    if !dir.join("model.onnx").is_file() {
        return Err(format!("{} has no model.onnx.", dir.display()));
    }
    let json_path = dir.join("model.json");
    let text = std::fs::read_to_string(&json_path)
        .map_err(|e| format!("Cannot read {}: {e}", json_path.display()))?;
    ModelSpec::from_json(&text, &json_path)
        .map(|spec| spec.name)
        .map_err(|e| e.to_string())
}

/// Writes the saved last answer (and, if asked, what it answered) to `path`; returns the
/// number of notes written.
pub fn export_answer(
    params: &AntiphonParams,
    path: &Path,
    with_heard: bool,
    tempo_bpm: f64,
) -> Result<usize, String> {
    let saved = params
        .last_answer
        .read()
        .map_err(|_| "The last answer is not readable.".to_string())?
        .clone();
    if saved.answer.is_empty() {
        return Err("There is no answer to export yet.".into());
    }
    let mut notes: Vec<Note> = saved.answer.iter().map(SavedNote::to_note).collect();
    if with_heard {
        notes.extend(saved.heard.iter().map(SavedNote::to_note));
    }
    // The file starts at the bar where what was heard began.
    let start = notes
        .iter()
        .map(|n| n.onset_beats)
        .fold(f64::INFINITY, f64::min);
    let origin = (start / 4.0).floor() * 4.0;
    for n in &mut notes {
        n.onset_beats -= origin;
    }
    notes.sort_by(|a, b| a.onset_beats.total_cmp(&b.onset_beats));
    let options = WriteOptions {
        tempo_bpm: if tempo_bpm > 0.0 { tempo_bpm } else { 120.0 },
        ticks_per_quarter: 480,
        velocity: 80,
    };
    let midi = write_notes(&notes, &options).map_err(|e| format!("Cannot write MIDI: {e}"))?;
    std::fs::write(path, &midi.bytes)
        .map_err(|e| format!("Cannot write {}: {e}", path.display()))?;
    Ok(notes.len())
}

fn param_row<P: Param>(ui: &mut egui::Ui, label: &str, param: &P, setter: &ParamSetter) {
    ui.label(label);
    ui.add(ParamSlider::for_param(param, setter).with_width(180.0));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::SavedAnswer;

    #[test]
    fn model_folder_check_names_what_is_missing() {
        let err = check_model_folder(Path::new("/nonexistent")).unwrap_err();
        assert!(err.contains("model.onnx"), "{err}");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-beats");
        assert_eq!(check_model_folder(&fixture).unwrap(), "tiny-beats");
    }

    #[test]
    fn export_writes_the_answer_and_what_it_heard() {
        let params = AntiphonParams::default();
        let path = std::env::temp_dir().join(format!("antiphon-export-{}.mid", std::process::id()));
        assert!(
            export_answer(&params, &path, true, 120.0).is_err(),
            "nothing to export yet"
        );
        let note = |onset, key| SavedNote {
            onset_beats: onset,
            duration_beats: 1.0,
            key,
            velocity: 90,
            program: 0,
        };
        *params.last_answer.write().unwrap() = SavedAnswer {
            mode: "continue".into(),
            window_start_beats: 16.0,
            window_len_beats: 0.0,
            heard: vec![note(16.0, 60), note(17.0, 62)],
            answer: vec![note(20.0, 64)],
        };
        assert_eq!(export_answer(&params, &path, true, 100.0), Ok(3));
        assert_eq!(export_answer(&params, &path, false, 100.0), Ok(1));
        let bytes = std::fs::read(&path).unwrap();
        let (notes, _) = crate::tokens::midi::read_notes(&bytes).unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].onset_beats, 0.0,
            "the file starts at the answer's bar"
        );
        std::fs::remove_file(path).unwrap();
    }
}
