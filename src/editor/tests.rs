//! The editor driven headless by its accessible names (egui_kittest), and its snapshots, drawn
//! by the software renderer in `raster.rs`. `UPDATE_SNAPSHOTS=1 cargo test --lib editor`
//! writes new snapshot images to `tests/snapshots/`.

use super::raster::SoftwareRenderer;
use super::*;
use crate::params::Mode;
use antiphon_core::note::{Channel, Key, Note, Velocity};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use nice_plug::context::gui::GuiContextInner;
use nice_plug::context::PluginApi;
use nice_plug::params::internals::ParamPtr;
use nice_plug::plugin::PluginState;
use nice_plug::prelude::Param;
use std::sync::atomic::Ordering;

/// A host that sets each parameter at once.
struct DirectHost;

impl GuiContextInner for DirectHost {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }

    unsafe fn raw_begin_set_parameter(&self, _param: ParamPtr) {}

    unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
        // SAFETY: `param` points into the test's `AntiphonParams`, alive for the whole test.
        unsafe {
            param._internal_set_normalized_value(normalized);
        }
    }

    unsafe fn raw_end_set_parameter(&self, _param: ParamPtr) {}

    fn get_state(&self) -> PluginState {
        PluginState {
            version: String::new(),
            params: Default::default(),
            fields: Default::default(),
        }
    }

    fn set_state(&self, _state: PluginState) {}

    fn request_restart(&self) {}
}

/// Default window size of the tests, logical pixels.
const SIZE: (f32, f32) = (MIN_SIZE.0 + 60.0, MIN_SIZE.1 + 40.0);

fn editor() -> AntiphonEditor {
    let mut editor = AntiphonEditor::new(
        Arc::new(AntiphonParams::default()),
        Arc::new(Status::default()),
    );
    editor.gui = Some(GuiContext::new(Arc::new(DirectHost)));
    editor
}

fn harness_sized(editor: AntiphonEditor, size: (f32, f32)) -> Harness<'static, AntiphonEditor> {
    let mut harness = Harness::builder()
        .with_size(Vec2::new(size.0, size.1))
        .renderer(SoftwareRenderer::default())
        .build_ui_state(|ui, editor: &mut AntiphonEditor| editor.draw(ui), editor);
    harness.run();
    harness
}

fn harness(editor: AntiphonEditor) -> Harness<'static, AntiphonEditor> {
    harness_sized(editor, SIZE)
}

/// A host that plays at 120 bpm in 4/4, at `playhead` beats.
fn playing(status: &Status, playhead: f64) {
    status.transport.update(|t| {
        t.has_transport = true;
        t.playing = true;
        t.playhead_beats = playhead;
        t.tempo_bpm = 120.0;
        t.bar_len_beats = 4.0;
        t.bar_start_beats = 0.0;
    });
}

fn set<P: Param>(param: &P, plain: P::Plain) {
    let normalized = param.preview_normalized(plain);
    // SAFETY: one thread; nothing else reads the parameters while the test sets them.
    unsafe {
        param.as_ptr()._internal_set_normalized_value(normalized);
    }
}

/// Text of every label on screen.
fn texts(harness: &Harness<'_, AntiphonEditor>) -> String {
    harness
        .query_all_by(|n| n.role() == egui::Role::Label)
        .filter_map(|n| n.accesskit_node().value().or(n.accesskit_node().label()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn control<'a>(
    harness: &'a Harness<'_, AntiphonEditor>,
    role: egui::Role,
    name: &'a str,
) -> egui_kittest::Node<'a> {
    harness.get_by_role_and_label(role, name)
}

#[test]
fn mode_buttons_switch_the_mode_and_say_what_bars_means() {
    let mut harness = harness(editor());
    assert!(texts(&harness).contains("the answer lasts 4 bars"));
    control(&harness, egui::Role::Button, "Accompany").click();
    harness.run();
    assert_eq!(harness.state().params.mode.value(), Mode::Accompany);
    assert!(texts(&harness).contains("each window records 4 bars"));
    control(&harness, egui::Role::Button, "Continue").click();
    harness.run();
    assert_eq!(harness.state().params.mode.value(), Mode::Continue);
}

#[test]
fn the_instrument_dropdown_sets_a_family() {
    let mut harness = harness(editor());
    control(&harness, egui::Role::ComboBox, "Instrument").click();
    harness.run();
    harness
        .get_by_role_and_label(egui::Role::Button, "Drums")
        .scroll_to_me();
    harness.run();
    harness
        .get_by_role_and_label(egui::Role::Button, "Drums")
        .click();
    harness.run();
    assert_eq!(
        harness.state().params.instrument.value(),
        crate::params::Instrument::Drums
    );
    control(&harness, egui::Role::ComboBox, "Instrument").click();
    harness.run();
    harness
        .get_by_role_and_label(egui::Role::Button, "Strings")
        .click();
    harness.run();
    assert_eq!(
        harness.state().params.instrument.value(),
        crate::params::Instrument::Strings
    );
}

#[test]
fn switches_flip_their_parameter() {
    let mut harness = harness(editor());
    assert!(harness.state().params.thru.value());
    control(&harness, egui::Role::CheckBox, "Thru").click();
    harness.run();
    assert!(!harness.state().params.thru.value());
    control(&harness, egui::Role::CheckBox, "Freeze").click();
    harness.run();
    assert!(harness.state().params.freeze.value());
}

#[test]
fn every_control_has_a_tooltip() {
    let mut harness = harness(editor());
    // Open the folds, so the controls inside count too.
    for fold in ["Advanced", "Details"] {
        harness
            .get_by_role_and_label(egui::Role::DisclosureTriangle, fold)
            .click();
        harness.run();
    }
    let controls = [
        egui::Role::Button,
        egui::Role::CheckBox,
        egui::Role::Slider,
        egui::Role::ComboBox,
        egui::Role::TextInput,
        egui::Role::DisclosureTriangle,
    ];
    let mut counted = 0;
    let mut missing = Vec::new();
    for node in harness.query_all_by(move |n| controls.contains(&n.role())) {
        counted += 1;
        let node = node.accesskit_node();
        if node.description().is_none_or(|d| d.trim().is_empty()) {
            missing.push(format!("{:?} {:?}", node.role(), node.label()));
        }
    }
    assert!(
        missing.is_empty(),
        "controls without a tooltip: {missing:?}"
    );
    assert!(counted >= 30, "only {counted} controls found");
    // Sliders of every steering parameter are there, each under its name.
    for name in [
        "Key lock",
        "Harmony",
        "Low note",
        "High note",
        "Density",
        "Voices",
        "Top-p",
    ] {
        control(&harness, egui::Role::Slider, name);
    }
}

#[test]
fn nothing_overlaps_at_the_smallest_size() {
    let editor_ = editor();
    a_phrase_and_its_answer(&editor_.status, Mode::Continue);
    let harness = harness_sized(editor_, MIN_SIZE);
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, Vec2::new(MIN_SIZE.0, MIN_SIZE.1));
    let controls = [
        egui::Role::Button,
        egui::Role::CheckBox,
        egui::Role::Slider,
        egui::Role::ComboBox,
        egui::Role::DisclosureTriangle,
    ];
    let placed: Vec<(String, egui::Rect)> = harness
        .query_all_by(move |n| controls.contains(&n.role()))
        .map(|n| {
            let name = format!(
                "{:?} {:?}",
                n.accesskit_node().role(),
                n.accesskit_node().label()
            );
            (name, n.rect())
        })
        .collect();
    assert!(placed.len() >= 30, "only {} controls", placed.len());
    for (i, (name, rect)) in placed.iter().enumerate() {
        assert!(
            window.contains_rect(*rect),
            "{name} at {rect:?} is outside the window"
        );
        for (other, other_rect) in &placed[i + 1..] {
            assert!(
                !rect.shrink(0.5).intersects(other_rect.shrink(0.5)),
                "{name} at {rect:?} overlaps {other} at {other_rect:?}"
            );
        }
    }
}

#[test]
fn typing_a_value_moves_nothing_else() {
    let mut harness = harness(editor());
    let watched = |harness: &Harness<'_, AntiphonEditor>| {
        [
            (egui::Role::Slider, "Temperature"),
            (egui::Role::Slider, "Bars"),
            (egui::Role::Button, "Accompany"),
            (egui::Role::ComboBox, "Instrument"),
            (egui::Role::ComboBox, "Key"),
            (egui::Role::Button, "Regenerate"),
            (egui::Role::Slider, "Voices"),
        ]
        .map(|(role, name)| control(harness, role, name).rect())
    };
    let before = watched(&harness);
    control(&harness, egui::Role::Button, "Bars").click();
    harness.run();
    let entry = control(&harness, egui::Role::TextInput, "Bars");
    assert_eq!(entry.rect().width(), widgets::VALUE_WIDTH);
    entry.type_text("12");
    harness.run();
    assert_eq!(
        watched(&harness),
        before,
        "the text entry moved other controls"
    );
    harness.key_press(egui::Key::Enter);
    harness.run();
    assert_eq!(harness.state().params.bars.value(), 12);
    assert_eq!(watched(&harness), before);
}

#[test]
fn the_status_line_guides() {
    // No transport.
    let harness = harness(editor());
    assert!(texts(&harness).contains("No transport: press play in the host"));

    // Listening.
    let editor_ = editor();
    playing(&editor_.status, 2.0);
    let harness = harness_from(editor_);
    assert!(texts(&harness).contains("Listening… play a phrase and stop"));

    // Answering.
    let editor_ = editor();
    playing(&editor_.status, 33.0);
    editor_.status.set_phase(Phase::Answering {
        from_beats: 32.0,
        to_beats: 48.0,
    });
    let harness = harness_from(editor_);
    assert!(
        texts(&harness).contains("Answering from bar 9"),
        "{}",
        texts(&harness)
    );

    // The model failed.
    let editor_ = editor();
    playing(&editor_.status, 2.0);
    editor_.status.set_phase(Phase::ModelFailed);
    editor_
        .status
        .set_error_line("The model cannot run, so MIDI passes through: /x has no model.onnx");
    let harness = harness_from(editor_);
    assert!(
        texts(&harness)
            .contains("Model failed to load: /x has no model.onnx — MIDI passes through"),
        "{}",
        texts(&harness)
    );
}

fn harness_from(editor: AntiphonEditor) -> Harness<'static, AntiphonEditor> {
    harness(editor)
}

#[test]
fn regenerate_with_nothing_heard_says_what_to_do() {
    let editor_ = editor();
    playing(&editor_.status, 2.0);
    let mut harness = harness(editor_);
    control(&harness, egui::Role::Button, "Regenerate").click();
    harness.run();
    assert!(texts(&harness).contains("Nothing to answer yet: play a phrase and stop first."));
    assert_eq!(
        harness
            .state()
            .params
            .regenerate_presses
            .load(Ordering::Relaxed),
        1,
        "the press still reaches the worker"
    );
}

#[test]
fn the_scale_menu_sets_the_zoom() {
    let mut harness = harness(editor());
    control(&harness, egui::Role::ComboBox, "Scale").click();
    harness.run();
    harness
        .get_by_role_and_label(egui::Role::Button, "125 %")
        .click();
    harness.run();
    assert_eq!(harness.ctx.zoom_factor(), 1.25);
}

/// A made-up moment: two bars heard, the answer planned over the next four, the playhead in
/// its first bar.
fn a_phrase_and_its_answer(status: &Status, mode: Mode) {
    playing(status, 13.0);
    status.with_roll(|roll| {
        let melody = [
            (0.0, 67, 1.0),
            (1.0, 71, 0.5),
            (1.5, 74, 0.5),
            (2.0, 72, 1.0),
            (3.0, 71, 1.0),
            (4.0, 69, 1.5),
            (5.5, 67, 0.5),
            (6.0, 66, 1.0),
            (7.0, 67, 1.0),
        ];
        for (onset, key, len) in melody {
            roll.heard(Note {
                onset_beats: onset,
                duration_beats: len,
                key: Key::new(key).unwrap(),
                channel: Channel::default(),
                velocity: Velocity::MAX,
            });
        }
        let answer = [
            (8.0, 62, 1.0),
            (9.0, 66, 1.0),
            (10.0, 69, 2.0),
            (12.0, 67, 0.5),
            (12.5, 69, 0.5),
            (13.0, 71, 1.0),
            (14.0, 74, 2.0),
            (16.0, 72, 1.0),
            (17.0, 71, 1.0),
            (18.0, 69, 2.0),
            (20.0, 67, 1.0),
            (21.0, 62, 1.0),
            (22.0, 67, 2.0),
            (8.0, 43, 4.0),
            (12.0, 47, 4.0),
            (16.0, 45, 4.0),
            (20.0, 50, 4.0),
        ];
        for (onset, key, len) in answer {
            roll.planned(Note {
                onset_beats: onset,
                duration_beats: len,
                key: Key::new(key).unwrap(),
                channel: Channel::default(),
                velocity: Velocity::MAX,
            });
        }
    });
    status.set_key_line("G major · followed");
    status.set_engine_line("antiphon-small on CPU · 17 notes in 180 ms (≈280 tokens/s)");
    status.set_phase(match mode {
        Mode::Continue => Phase::Answering {
            from_beats: 8.0,
            to_beats: 24.0,
        },
        Mode::Accompany => Phase::Accompanying {
            start_beats: 8.0,
            len_beats: 16.0,
            looping: true,
        },
    });
}

#[test]
fn snapshots_of_default_accompany_and_error_states() {
    let mut results = egui_kittest::SnapshotResults::new();

    let mut harness = harness(editor());
    results.add(harness.try_snapshot("editor_default"));

    let editor_ = editor();
    set(&editor_.params.mode, Mode::Accompany);
    a_phrase_and_its_answer(&editor_.status, Mode::Accompany);
    let mut harness = harness_from(editor_);
    results.add(harness.try_snapshot("editor_accompany"));

    let editor_ = editor();
    playing(&editor_.status, 2.0);
    editor_.status.set_phase(Phase::ModelFailed);
    editor_.status.set_error_line(
        "The model cannot run, so MIDI passes through: /home/me/models/big has no model.onnx.",
    );
    let mut harness = harness_from(editor_);
    results.add(harness.try_snapshot("editor_model_failed"));

    // The README's two sizes, the roll showing a heard phrase, the answer and the playhead.
    for (name, size) in [
        ("editor_small", MIN_SIZE),
        ("editor_large", (1280.0, 900.0)),
    ] {
        let editor_ = editor();
        a_phrase_and_its_answer(&editor_.status, Mode::Continue);
        let mut harness = harness_sized(editor_, size);
        results.add(harness.try_snapshot(name));
    }
    results.unwrap();
}

#[test]
fn the_window_size_and_scale_are_saved_with_the_project() {
    use nice_plug::prelude::Params;
    use nice_plug_egui::baseview::dpi::PhysicalSize;
    let mut editor_ = editor();
    editor_.zoom_factor_changed(1.5);
    editor_.resized(WindowSize::from_physical(
        PhysicalSize::new(1500, 1200),
        1.5,
    ));
    let fields = editor_.params.serialize_fields();
    let reopened = AntiphonParams::default();
    reopened.deserialize_fields(&fields);
    assert_eq!(
        *reopened.editor_view.read().unwrap(),
        EditorView {
            width: 1000.0,
            height: 800.0,
            scale: 1.5,
        }
    );
}
