//! GUI thread: the editor's controls, each bound to one parameter and set through the host's
//! [`ParamSetter`] as one gesture: a switch for an on/off parameter, buttons or a dropdown for a
//! list, a slider with the value and its unit for a number, and a value box that turns into a
//! text entry of exactly its own size, so typing never moves anything else.
//!
//! Every control takes its tooltip; egui also gives it to screen readers (and the UI tests) as
//! the control's accessible description.

use egui::{Align, Color32, Id, Layout, Response, RichText, Role, Sense, Ui, Vec2, WidgetInfo};
use nice_plug::prelude::{Param, ParamSetter};

/// Width of a value box (and of its text entry) in logical pixels.
pub const VALUE_WIDTH: f32 = 104.0;
/// Height of one control row.
pub const ROW_HEIGHT: f32 = 22.0;
/// Text size of the captions under a slider ("Safer", "Wilder").
const CAPTION_SIZE: f32 = 11.0;

/// Sets `param` to the normalized value `normalized` as one host gesture.
pub fn set_normalized<P: Param>(setter: &ParamSetter, param: &P, normalized: f32) {
    setter.begin_set_parameter(param);
    setter.set_parameter_normalized(param, snap(param, normalized));
    setter.end_set_parameter(param);
}

/// The normalized value of the step nearest to `normalized` (stepped parameters only move in
/// steps, so the host and the editor agree on the value).
fn snap<P: Param>(param: &P, normalized: f32) -> f32 {
    param.preview_normalized(param.preview_plain(normalized.clamp(0.0, 1.0)))
}

/// The names of a stepped parameter's choices, first to last.
pub fn choices<P: Param>(param: &P) -> Vec<String> {
    let steps = param.step_count().unwrap_or(1).max(1);
    (0..=steps)
        .map(|i| param.normalized_value_to_string(i as f32 / steps as f32, true))
        .collect()
}

/// A label and, right-aligned on the same line, the parameter's value box; then a full-width
/// slider. `ends` are captions under the slider's two ends ("Safer", "Wilder").
pub fn slider<P: Param>(
    ui: &mut Ui,
    name: &str,
    param: &P,
    setter: &ParamSetter,
    tip: &str,
    ends: Option<(&str, &str)>,
) {
    let label = ui
        .horizontal(|ui| {
            let label = ui.label(name);
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                value_box(ui, name, param, setter, tip, label.id);
            });
            label
        })
        .inner;
    let mut normalized = param.unmodulated_normalized_value();
    let response = ui
        .scope(|ui| {
            ui.spacing_mut().slider_width = ui.available_width();
            ui.add(egui::Slider::new(&mut normalized, 0.0..=1.0).show_value(false))
        })
        .inner
        .labelled_by(label.id)
        .on_hover_text(tip);
    if response.drag_started() {
        setter.begin_set_parameter(param);
    }
    if response.changed() {
        let snapped = snap(param, normalized);
        if response.dragged() || response.drag_started() {
            setter.set_parameter_normalized(param, snapped);
        } else {
            // A click or a key press: a whole gesture of its own.
            set_normalized(setter, param, snapped);
        }
    }
    if response.drag_stopped() {
        setter.end_set_parameter(param);
    }
    if let Some((low, high)) = ends {
        ui.horizontal(|ui| {
            let caption = |text: &str| RichText::new(text).size(CAPTION_SIZE).weak();
            ui.label(caption(low));
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                ui.label(caption(high));
            });
        });
    }
    ui.add_space(4.0);
}

/// The value with its unit, in a box of fixed size; clicked, the same box becomes a text entry
/// (Enter sets the value, Escape or clicking elsewhere leaves it).
pub fn value_box<P: Param>(
    ui: &mut Ui,
    name: &str,
    param: &P,
    setter: &ParamSetter,
    tip: &str,
    label: Id,
) -> Response {
    let id = ui.make_persistent_id(("value-box", name));
    // Narrower in a narrow column (what is left beside the label), never wider than VALUE_WIDTH.
    let size = Vec2::new(
        (ui.available_width() - ui.spacing().item_spacing.x).clamp(48.0, VALUE_WIDTH),
        ROW_HEIGHT,
    );
    let editing: Option<String> = ui.data(|d| d.get_temp(id));
    match editing {
        None => {
            let text = param.to_string();
            let response = ui
                .add_sized(size, egui::Button::new(text).truncate())
                .labelled_by(label)
                .on_hover_text(format!("{tip}\n\nClick to type a value."));
            if response.clicked() {
                // Empty, with the value as a hint: what is typed replaces it.
                ui.data_mut(|d| d.insert_temp(id, String::new()));
                ui.memory_mut(|m| m.request_focus(id.with("entry")));
            }
            response
        }
        Some(mut text) => {
            let entry_id = id.with("entry");
            let response = ui
                .add_sized(
                    size,
                    egui::TextEdit::singleline(&mut text)
                        .id(entry_id)
                        .hint_text(param.to_string())
                        .desired_width(size.x),
                )
                .labelled_by(label)
                .on_hover_text(tip);
            let (enter, escape) = ui.input(|i| {
                (
                    i.key_pressed(egui::Key::Enter),
                    i.key_pressed(egui::Key::Escape),
                )
            });
            if response.lost_focus() || escape {
                if enter && !escape {
                    if let Some(normalized) = param.string_to_normalized_value(text.trim()) {
                        set_normalized(setter, param, normalized);
                    }
                }
                ui.data_mut(|d| d.remove::<String>(id));
            } else {
                ui.data_mut(|d| d.insert_temp(id, text));
            }
            response
        }
    }
}

/// An on/off switch with its name, for a boolean parameter.
pub fn toggle<P: Param<Plain = bool>>(
    ui: &mut Ui,
    name: &str,
    param: &P,
    setter: &ParamSetter,
    tip: &str,
) -> Response {
    let on = param.modulated_plain_value();
    let response = switch(ui, name, on).on_hover_text(tip);
    if response.clicked() {
        set_normalized(setter, param, if on { 0.0 } else { 1.0 });
    }
    response
}

/// Draws a switch with `name` before it; the response is clicked when it should flip.
pub fn switch(ui: &mut Ui, name: &str, on: bool) -> Response {
    let height = ROW_HEIGHT;
    let track = Vec2::new(height * 1.8, height * 0.8);
    let galley = ui.painter().layout_no_wrap(
        name.to_owned(),
        egui::TextStyle::Body.resolve(ui.style()),
        ui.visuals().text_color(),
    );
    let spacing = ui.spacing().item_spacing.x;
    let width = ui
        .available_width()
        .max(galley.size().x + spacing + track.x);
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, height), Sense::click());
    response.widget_info(|| WidgetInfo::selected(Role::CheckBox, ui.is_enabled(), on, name));
    if ui.is_rect_visible(rect) {
        let how_on = ui.ctx().animate_bool_responsive(response.id, on);
        let visuals = ui.style().interact_selectable(&response, on);
        let text_pos = egui::pos2(rect.left(), rect.center().y - galley.size().y / 2.0);
        ui.painter().galley(text_pos, galley, visuals.text_color());
        let track_rect = egui::Rect::from_center_size(
            egui::pos2(rect.right() - track.x / 2.0, rect.center().y),
            track,
        );
        let radius = track_rect.height() / 2.0;
        let fill = if on {
            ui.visuals().selection.bg_fill
        } else {
            ui.visuals().widgets.inactive.bg_fill
        };
        ui.painter().rect(
            track_rect,
            radius,
            fill,
            visuals.bg_stroke,
            egui::StrokeKind::Inside,
        );
        let knob_x = egui::lerp(
            (track_rect.left() + radius)..=(track_rect.right() - radius),
            how_on,
        );
        ui.painter().circle(
            egui::pos2(knob_x, track_rect.center().y),
            radius * 0.8,
            Color32::from_gray(235),
            visuals.fg_stroke,
        );
    }
    response
}

/// One button per choice of a stepped parameter, the current one highlighted; `tips` gives
/// each button's tooltip.
pub fn choice_buttons<P: Param>(ui: &mut Ui, param: &P, setter: &ParamSetter, tips: &[String]) {
    let names = choices(param);
    let steps = names.len().saturating_sub(1).max(1) as f32;
    let current = (param.unmodulated_normalized_value() * steps).round() as usize;
    let spacing = ui.spacing().item_spacing.x;
    let width = (ui.available_width() - spacing * steps) / names.len() as f32;
    ui.horizontal(|ui| {
        for (i, name) in names.iter().enumerate() {
            let tip = tips.get(i).map(String::as_str).unwrap_or_default();
            let button = egui::Button::selectable(i == current, RichText::new(name).strong());
            let response = ui
                .add_sized(Vec2::new(width, ROW_HEIGHT + 6.0), button)
                .on_hover_text(tip);
            if response.clicked() && i != current {
                set_normalized(setter, param, i as f32 / steps);
            }
        }
    });
}

/// A label and, on the same line, a dropdown of a stepped parameter's choices.
pub fn dropdown<P: Param>(ui: &mut Ui, name: &str, param: &P, setter: &ParamSetter, tip: &str) {
    ui.horizontal(|ui| {
        let label = ui.label(name);
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let names = choices(param);
            let steps = names.len().saturating_sub(1).max(1) as f32;
            let current = (param.unmodulated_normalized_value() * steps).round() as usize;
            let mut chosen = None;
            let response = egui::ComboBox::from_id_salt(("dropdown", name))
                .selected_text(names.get(current).cloned().unwrap_or_default())
                .width(VALUE_WIDTH + 40.0)
                .height(440.0)
                .show_ui(ui, |ui| {
                    for (i, choice) in names.iter().enumerate() {
                        if ui.selectable_label(i == current, choice).clicked() {
                            chosen = Some(i);
                        }
                    }
                })
                .response;
            response.labelled_by(label.id).on_hover_text(tip);
            if let Some(i) = chosen.filter(|&i| i != current) {
                set_normalized(setter, param, i as f32 / steps);
            }
        });
    });
}

/// A titled group of controls with a margin, `width` wide.
pub fn group<R>(ui: &mut Ui, title: &str, width: f32, add: impl FnOnce(&mut Ui) -> R) -> R {
    egui::Frame::group(ui.style())
        .inner_margin(egui::Margin::same(10))
        .corner_radius(6.0)
        .show(ui, |ui| {
            ui.set_width(width - 22.0);
            ui.label(RichText::new(title).strong().size(15.0));
            ui.add_space(4.0);
            add(ui)
        })
        .inner
}
