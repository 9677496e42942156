//! GUI thread: the controls in groups a musician recognises: *Mode*, *Answer*, *Harmony*,
//! *Output* and *Variations*, in three columns that share the window's width.

use super::tooltips::{mode_button, mode_line, tip};
use super::widgets::{choice_buttons, dropdown, group, set_normalized, slider, toggle, ROW_HEIGHT};
use crate::params::AntiphonParams;
use antiphon_core::messages::Status;
use egui::{Color32, RichText, Ui};
use nice_plug::prelude::{Param, ParamSetter};

/// Space between two columns of groups, and between two groups.
pub const GAP: f32 = 12.0;

/// What the controls need.
pub struct Panel<'a> {
    /// The parameters.
    pub params: &'a AntiphonParams,
    /// Sets them through the host.
    pub setter: &'a ParamSetter<'a>,
    /// What the worker publishes (the key in use).
    pub status: &'a Status,
}

/// What the user did that the editor answers itself.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pressed {
    /// Regenerate was pressed.
    pub regenerate: bool,
}

/// All the groups, in three columns `width` wide together.
pub fn groups(ui: &mut Ui, panel: &Panel, width: f32) -> Pressed {
    let column = ((width - 2.0 * GAP) / 3.0).floor();
    let mut pressed = Pressed::default();
    ui.horizontal_top(|ui| {
        ui.spacing_mut().item_spacing.x = GAP;
        ui.vertical(|ui| {
            ui.set_width(column);
            mode_group(ui, panel, column);
            ui.add_space(GAP);
            output_group(ui, panel, column);
        });
        ui.vertical(|ui| {
            ui.set_width(column);
            answer_group(ui, panel, column);
            ui.add_space(GAP);
            pressed = variations_group(ui, panel, column);
        });
        ui.vertical(|ui| {
            ui.set_width(column);
            harmony_group(ui, panel, column);
        });
    });
    pressed
}

fn mode_group(ui: &mut Ui, panel: &Panel, width: f32) {
    let params = panel.params;
    group(ui, "Mode", width, |ui| {
        let tips = [mode_button(params, 0), mode_button(params, 1)];
        choice_buttons(ui, &params.mode, panel.setter, &tips);
        ui.add_space(2.0);
        // Two lines' room whatever the mode says, so the groups below never jump.
        let line = mode_line(params);
        ui.allocate_ui(
            egui::vec2(ui.available_width(), 2.0 * ROW_HEIGHT + 4.0),
            |ui| {
                ui.set_min_height(2.0 * ROW_HEIGHT + 4.0);
                ui.label(RichText::new(line).color(Color32::from_gray(200)));
            },
        );
    });
}

fn answer_group(ui: &mut Ui, panel: &Panel, width: f32) {
    let (params, setter) = (panel.params, panel.setter);
    group(ui, "Answer", width, |ui| {
        slider(
            ui,
            "Bars",
            &params.bars,
            setter,
            &tip("bars", &params.bars),
            None,
        );
        slider(
            ui,
            "Temperature",
            &params.temperature,
            setter,
            &tip("temperature", &params.temperature),
            Some(("Safer", "Wilder")),
        );
        egui::CollapsingHeader::new("Advanced")
            .default_open(false)
            .show(ui, |ui| {
                slider(
                    ui,
                    "Top-p",
                    &params.top_p,
                    setter,
                    &tip("top_p", &params.top_p),
                    Some(("Tidier", "Every note")),
                );
            })
            .header_response
            .on_hover_text("Top-p, a finer control of how adventurous the answer is.");
    });
}

fn harmony_group(ui: &mut Ui, panel: &Panel, width: f32) {
    let (params, setter) = (panel.params, panel.setter);
    group(ui, "Harmony", width, |ui| {
        let key_line = panel
            .status
            .key_line
            .lock()
            .map(|k| k.clone())
            .unwrap_or_default();
        let (text, colour) = if key_line.is_empty() {
            ("No key yet".to_string(), Color32::from_gray(140))
        } else {
            (key_line, Color32::from_rgb(240, 215, 140))
        };
        ui.label(RichText::new(text).size(22.0).strong().color(colour))
            .on_hover_text("The key the last answer kept to, and whether it was followed from your playing or fixed.");
        let steering = panel
            .status
            .steering_line
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        // Always one line, so the controls below do not move when a note appears.
        ui.label(
            RichText::new(if steering.is_empty() { " " } else { &steering })
                .size(11.0)
                .color(Color32::from_rgb(235, 200, 120)),
        );
        dropdown(ui, "Key", &params.key, setter, &tip("key", &params.key));
        ui.add_space(4.0);
        slider(
            ui,
            "Key lock",
            &params.key_lock,
            setter,
            &tip("key_lock", &params.key_lock),
            None,
        );
        slider(
            ui,
            "Harmony",
            &params.harmony,
            setter,
            &tip("harmony", &params.harmony),
            None,
        );
        ui.columns(2, |columns| {
            let [low, high] = columns else { return };
            slider(
                low,
                "Low note",
                &params.low_note,
                setter,
                &tip("low_note", &params.low_note),
                None,
            );
            slider(
                high,
                "High note",
                &params.high_note,
                setter,
                &tip("high_note", &params.high_note),
                None,
            );
        });
        ui.columns(2, |columns| {
            let [density, voices] = columns else { return };
            slider(
                density,
                "Density",
                &params.density,
                setter,
                &tip("density", &params.density),
                None,
            );
            slider(
                voices,
                "Voices",
                &params.max_voices,
                setter,
                &tip("max_voices", &params.max_voices),
                None,
            );
        });
    });
}

fn output_group(ui: &mut Ui, panel: &Panel, width: f32) {
    let (params, setter) = (panel.params, panel.setter);
    group(ui, "Output", width, |ui| {
        dropdown(
            ui,
            "Instrument",
            &params.instrument,
            setter,
            &tip("instrument", &params.instrument),
        );
        ui.add_space(4.0);
        slider(
            ui,
            "Velocity",
            &params.velocity,
            setter,
            &tip("velocity", &params.velocity),
            None,
        );
        dropdown(
            ui,
            "Output channel",
            &params.out_channel,
            setter,
            &tip("out_channel", &params.out_channel),
        );
        ui.add_space(4.0);
        toggle(ui, "Thru", &params.thru, setter, &tip("thru", &params.thru));
    });
}

fn variations_group(ui: &mut Ui, panel: &Panel, width: f32) -> Pressed {
    let (params, setter) = (panel.params, panel.setter);
    group(ui, "Variations", width, |ui| {
        slider(
            ui,
            "Seed",
            &params.seed,
            setter,
            &tip("seed", &params.seed),
            None,
        );
        toggle(
            ui,
            "Freeze",
            &params.freeze,
            setter,
            &tip("freeze", &params.freeze),
        );
        ui.add_space(6.0);
        let button = egui::Button::new(RichText::new("Regenerate").strong());
        let clicked = ui
            .add_sized(egui::vec2(ui.available_width(), ROW_HEIGHT + 6.0), button)
            .on_hover_text(tip("regenerate", &params.regenerate))
            .clicked();
        if clicked {
            pulse(&params.regenerate, setter);
        }
        Pressed {
            regenerate: clicked,
        }
    })
}

/// Switches a trigger parameter on and off again, as one gesture each, so hosts record it.
fn pulse<P: Param<Plain = bool>>(param: &P, setter: &ParamSetter) {
    set_normalized(setter, param, 1.0);
    set_normalized(setter, param, 0.0);
}
