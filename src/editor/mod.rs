//! GUI thread: the egui editor. It reads the parameters, the [`Status`] the worker publishes and
//! its piano roll, sets parameters through the host, and never touches the model or the audio
//! thread's state.
//!
//! - [`layout`]: the groups of controls; [`widgets`]: switches, buttons, dropdowns, sliders
//!   with units and value boxes; [`tooltips`]: what each control's tooltip says.
//! - [`roll`]: the piano roll; [`status_line`]: the line that says what is happening and what to
//!   do next; [`files`]: export and the model folder, with the desktop's choosers.
//! - The window is resizable and its size and scale are saved with the project
//!   ([`crate::params::EditorView`]).

mod files;
mod layout;
mod roll;
mod status_line;
mod tooltips;
mod widgets;

#[cfg(test)]
mod raster;
#[cfg(test)]
mod tests;

pub use files::{check_model_folder, export_answer};

use crate::params::{AntiphonParams, EditorView};
use antiphon_core::messages::{Phase, Status};
use egui::{Color32, RichText, Ui, Vec2};
use files::{Chooser, Purpose};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::editor::ResizeHint;
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::baseview::WindowSize;
use nice_plug_egui::resizable_window::ResizableWindow;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, Frame, NiceEguiApp,
    RepaintNotifier,
};
use status_line::{Flash, Situation};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The smallest window, in logical pixels before scaling: every group and the roll fit.
pub const MIN_SIZE: (f32, f32) = (840.0, 780.0);
/// The scales the Scale menu offers.
const SCALES: [f32; 5] = [0.75, 1.0, 1.25, 1.5, 2.0];
/// Margin between the window's edges and its contents.
const MARGIN: i8 = 14;
/// The roll is never shorter than this.
const ROLL_MIN_HEIGHT: f32 = 140.0;
/// How often the status and the piano roll refresh while nothing else asks for a repaint.
const STATUS_REFRESH: Duration = Duration::from_millis(50);

/// The editor's initial state: the default size at scale 1 (a project's own size and scale are
/// applied when the window opens).
pub fn default_state() -> Arc<EguiEditorState> {
    let view = EditorView::default();
    EguiEditorState::from_size(LogicalSize::new(view.width, view.height), 1.0)
}

/// Creates the editor: resizable down to [`MIN_SIZE`].
pub fn create(
    state: Arc<EguiEditorState>,
    params: Arc<AntiphonParams>,
    status: Arc<Status>,
) -> Option<EguiEditor<AntiphonEditor>> {
    let resize =
        ResizeHint::resizable().with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1));
    create_egui_editor(
        state,
        RepaintNotifier::new(),
        EguiNiceSettings::new()
            .with_tile("Antiphon")
            .with_resize_hint(resize),
        AntiphonEditor::new(params, status),
    )
}

/// The editor app.
pub struct AntiphonEditor {
    params: Arc<AntiphonParams>,
    status: Arc<Status>,
    /// Set while the window is open.
    gui: Option<GuiContext>,
    /// Whether an export includes what Antiphon heard.
    export_heard: bool,
    /// The last export, model choice or Regenerate's answer, fading.
    flash: Flash,
    /// The desktop's file chooser, while one is open.
    chooser: Chooser,
    /// The project's window size and scale, applied on the first frame after opening; the
    /// window's own size reports are not saved until then.
    pending_view: Option<EditorView>,
    /// Height of what is under the roll, measured on the previous frame.
    footer_height: f32,
    /// Where Export MIDI writes (found once: it reads the user's folder settings).
    export_dir: PathBuf,
}

impl AntiphonEditor {
    fn new(params: Arc<AntiphonParams>, status: Arc<Status>) -> Self {
        Self {
            params,
            status,
            gui: None,
            export_heard: true,
            flash: Flash::default(),
            chooser: Chooser::default(),
            pending_view: None,
            footer_height: 90.0,
            export_dir: files::default_export_dir(),
        }
    }

    fn view(&self) -> EditorView {
        self.params
            .editor_view
            .read()
            .map(|v| *v)
            .unwrap_or_default()
    }

    fn save_view(&self, change: impl FnOnce(&mut EditorView)) {
        if let Ok(mut view) = self.params.editor_view.write() {
            change(&mut view);
        }
    }

    /// Draws the whole editor.
    fn draw(&mut self, ui: &mut Ui) {
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        let now = ui.input(|i| i.time);
        self.apply_pending_view(ui);
        self.take_chooser_answer(now);
        ResizableWindow::new("antiphon-window")
            .min_size(Vec2::new(MIN_SIZE.0, MIN_SIZE.1))
            .show(ui, |ui| {
                egui::Frame::NONE
                    .inner_margin(egui::Margin::same(MARGIN))
                    .show(ui, |ui| {
                        let bottom = ui.max_rect().bottom();
                        egui::ScrollArea::vertical()
                            .auto_shrink([false, false])
                            .show(ui, |ui| self.contents(ui, &setter, bottom, now));
                    });
            });
        ui.ctx().request_repaint_after(STATUS_REFRESH);
    }

    fn contents(&mut self, ui: &mut Ui, setter: &ParamSetter, bottom: f32, now: f64) {
        let params = self.params.clone();
        let status = self.status.clone();
        self.header(ui);
        let mode = params.mode.value();
        let situation = Situation::read(&status, mode, params.bars.value());
        status_line::show(ui, &status_line::guide(&situation), &self.flash);
        ui.add_space(6.0);
        let panel = layout::Panel {
            params: &params,
            setter,
            status: &status,
        };
        let pressed = layout::groups(ui, &panel, ui.available_width());
        if pressed.regenerate {
            self.after_regenerate(situation.phase, now);
        }
        ui.add_space(layout::GAP);
        let roll_height = (bottom - ui.cursor().top() - self.footer_height).max(ROLL_MIN_HEIGHT);
        roll::show(ui, &status, mode, situation.phase, roll_height);
        let footer_top = ui.cursor().top();
        roll::legend(ui, situation.phase);
        ui.add_space(6.0);
        self.export_row(ui, now);
        self.model_row(ui, now);
        status_line::details(ui, &status);
        let footer_height = ui.cursor().top() - footer_top + 4.0;
        if (footer_height - self.footer_height).abs() > 0.5 {
            // The roll was sized for another footer (a fold opened or closed): size it again.
            self.footer_height = footer_height;
            ui.ctx().request_repaint();
        }
    }

    /// The title, what runs, and the Scale menu.
    fn header(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Antiphon").size(24.0).strong());
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let zoom = ui.ctx().zoom_factor();
                let mut chosen = None;
                let combo = egui::ComboBox::from_id_salt("scale")
                    .selected_text(format!("{:.0} %", zoom * 100.0))
                    .width(70.0)
                    .show_ui(ui, |ui| {
                        for scale in SCALES {
                            let text = format!("{:.0} %", scale * 100.0);
                            if ui
                                .selectable_label((scale - zoom).abs() < 1e-3, text)
                                .clicked()
                            {
                                chosen = Some(scale);
                            }
                        }
                    })
                    .response;
                let label = ui.label("Scale");
                combo.labelled_by(label.id).on_hover_text(format!(
                    "How large the editor is drawn, saved with the project. Choices: {}. Default: 100 %.",
                    SCALES.map(|s| format!("{:.0} %", s * 100.0)).join(", ")
                ));
                if let Some(scale) = chosen {
                    ui.ctx().set_zoom_factor(scale);
                }
                let engine = self
                    .status
                    .engine_line
                    .lock()
                    .map(|l| l.clone())
                    .unwrap_or_default();
                ui.add_space(12.0);
                ui.add(
                    egui::Label::new(RichText::new(engine).small().color(Color32::from_gray(170)))
                        .truncate(),
                );
            });
        });
    }

    /// Export MIDI (one click, to the music folder), Save as… (the desktop's chooser).
    fn export_row(&mut self, ui: &mut Ui, now: f64) {
        ui.horizontal(|ui| {
            let dir = self.export_dir.clone();
            let tip = format!(
                "Writes the last answer as a MIDI file to {} (never over an earlier one), at the host's tempo.",
                dir.display()
            );
            if ui
                .button(RichText::new("Export MIDI").strong())
                .on_hover_text(tip)
                .clicked()
            {
                self.export_to(&files::unused_export_path(&dir), now);
            }
            let save_as = ui
                .add_enabled(!self.chooser.is_open(), egui::Button::new("Save as…"))
                .on_hover_text("Choose where to write the last answer, with the desktop's file chooser.");
            if save_as.clicked() {
                self.chooser.open(Purpose::Export, dir);
            }
            ui.checkbox(&mut self.export_heard, "with what it heard")
                .on_hover_text("Also write the notes Antiphon answered, so the file holds call and answer. Default: on.");
        });
    }

    /// The model in use, and a folder chooser.
    fn model_row(&mut self, ui: &mut Ui, now: f64) {
        let folder = self
            .params
            .model_folder
            .read()
            .map(|f| f.clone())
            .unwrap_or_default();
        ui.horizontal(|ui| {
            let name = if folder.is_empty() {
                "the built-in model".to_string()
            } else {
                folder.clone()
            };
            ui.label(format!("Model: {name}"));
            let choose = ui
                .add_enabled(
                    !self.chooser.is_open(),
                    egui::Button::new("Choose model folder…"),
                )
                .on_hover_text("Load another model: a folder holding model.onnx and model.json.");
            if choose.clicked() {
                let start = if folder.is_empty() {
                    std::env::var_os("HOME")
                        .map(PathBuf::from)
                        .unwrap_or_default()
                } else {
                    PathBuf::from(&folder)
                };
                self.chooser.open(Purpose::Model, start);
            }
            let builtin = ui
                .add_enabled(!folder.is_empty(), egui::Button::new("Built-in model"))
                .on_hover_text("Go back to the model compiled into Antiphon.");
            if builtin.clicked() {
                self.set_model_folder(String::new());
                self.flash.set("Using the built-in model.", now, false);
            }
        });
    }

    fn export_to(&mut self, path: &Path, now: f64) {
        let tempo = self.status.transport.read().tempo_bpm;
        match export_answer(&self.params, path, self.export_heard, tempo) {
            Ok(n) => self
                .flash
                .set(format!("Wrote {n} notes to {}", path.display()), now, false),
            Err(e) => self.flash.set(e, now, true),
        }
    }

    fn set_model_folder(&self, folder: String) {
        if let Ok(mut current) = self.params.model_folder.write() {
            *current = folder;
        }
    }

    /// Acts on a chooser that has closed.
    fn take_chooser_answer(&mut self, now: f64) {
        match self.chooser.take() {
            Some((Purpose::Export, Some(path))) => self.export_to(&path, now),
            Some((Purpose::Model, Some(dir))) => match check_model_folder(&dir) {
                Ok(name) => {
                    self.set_model_folder(dir.display().to_string());
                    self.flash.set(format!("Loading {name}…"), now, false);
                }
                Err(e) => self.flash.set(e, now, true),
            },
            _ => {}
        }
    }

    /// Regenerate says what it did, or why it could not.
    fn after_regenerate(&mut self, phase: Phase, now: f64) {
        let answered = self
            .params
            .last_answer
            .read()
            .map(|a| !a.answer.is_empty())
            .unwrap_or(false);
        let working = !matches!(phase, Phase::Waiting | Phase::ModelFailed);
        if answered || working {
            self.flash.set("Writing another answer…", now, false);
        } else {
            let what = match self.params.mode.value() {
                crate::params::Mode::Continue => "play a phrase and stop first",
                crate::params::Mode::Accompany => "play a melody first",
            };
            self.flash
                .set(format!("Nothing to answer yet: {what}."), now, true);
        }
    }

    /// Sizes the window as the project saved it (once, on the first frame after opening).
    fn apply_pending_view(&mut self, ui: &Ui) {
        let Some(view) = self.pending_view.take() else {
            return;
        };
        let now = ui.ctx().content_rect().size();
        let wanted = Vec2::new(view.width.max(MIN_SIZE.0), view.height.max(MIN_SIZE.1));
        if (now - wanted).length() > 1.0 {
            ui.ctx()
                .send_viewport_cmd(egui::ViewportCommand::InnerSize(wanted));
        }
    }
}

impl NiceEguiApp for AntiphonEditor {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        let view = self.view();
        if view.scale > 0.0 && (view.scale - egui_ctx.zoom_factor()).abs() > 1e-3 {
            egui_ctx.set_zoom_factor(view.scale);
        }
        self.pending_view = Some(view);
        self.gui = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut Frame) {
        self.draw(ui);
    }

    fn resized(&mut self, new_size: WindowSize) {
        if self.pending_view.is_none() {
            self.save_view(|v| {
                v.width = new_size.logical.width as f32;
                v.height = new_size.logical.height as f32;
            });
        }
    }

    fn zoom_factor_changed(&mut self, zoom_factor: f32) {
        self.save_view(|v| v.scale = zoom_factor);
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}
