//! GUI thread: the piano roll as a musician reads it. A keyboard down the left names the C's,
//! bar numbers run along the top over strong bar lines (beats fainter), what the player played
//! (blue, outlined) stands apart from Antiphon's answer (amber while planned, green once
//! played), and the span Antiphon is working on is shaded: the Continue answer, or the
//! Accompany window being recorded or accompanied. A legend with colour swatches sits below.

use crate::params::Mode;
use antiphon_core::messages::{Phase, Status};
use antiphon_core::note::Note;
use egui::{Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, Ui, Vec2};

/// Width of the keyboard on the left, in logical pixels.
const KEYS_WIDTH: f32 = 34.0;
/// Height of the bar-number strip on top.
const BARS_HEIGHT: f32 = 16.0;
/// Logical pixels per beat the view aims at; it shows 16 to 64 beats.
const PIXELS_PER_BEAT: f32 = 26.0;
/// Fewest semitones shown, so a short phrase does not fill the roll with huge notes.
const MIN_KEYS: u8 = 24;

const HEARD: Color32 = Color32::from_rgb(90, 150, 230);
/// The outline that sets the player's notes apart from the answer's.
const HEARD_EDGE: Color32 = Color32::from_rgb(190, 220, 255);
const PLANNED: Color32 = Color32::from_rgb(235, 170, 60);
const PLAYED: Color32 = Color32::from_rgb(110, 200, 120);
const BACKGROUND: Color32 = Color32::from_gray(24);

/// Draws the roll, `height` tall, for the current playhead.
pub fn show(ui: &mut Ui, status: &Status, mode: Mode, phase: Phase, height: f32) {
    let width = ui.available_width();
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, BACKGROUND);
    let grid = Rect::from_min_max(
        Pos2::new(rect.left() + KEYS_WIDTH, rect.top() + BARS_HEIGHT),
        rect.max,
    );

    let transport = status.transport.read();
    let playhead = transport.playhead_beats;
    // Before the host said anything, a bar of 4/4.
    let bar_len = match transport.bar_len_beats {
        len if len > 0.0 => len.max(0.25),
        _ => 4.0,
    };
    let bar_start = transport.bar_start_beats;
    let span = (grid.width() / PIXELS_PER_BEAT).clamp(16.0, 64.0) as f64;
    // The song starts at bar 1: nothing is shown before it.
    let first = (playhead - span / 3.0).max(0.0);
    let last = first + span;
    let x = |beats: f64| grid.left() + ((beats - first) / span) as f32 * grid.width();

    let (heard, planned) = status
        .roll
        .lock()
        .map(|r| (r.heard.clone(), r.planned.clone()))
        .unwrap_or_default();
    let visible = |n: &&Note| n.onset_beats + n.duration_beats >= first && n.onset_beats <= last;
    let heard: Vec<Note> = heard.iter().filter(visible).copied().collect();
    let planned: Vec<Note> = planned.iter().filter(visible).copied().collect();
    let (low, high) = key_span(heard.iter().chain(&planned).map(|n| n.key.get()));
    let row = grid.height() / (high - low + 1) as f32;
    let y = |key: u8| grid.bottom() - (key - low + 1) as f32 * row;

    // Rows of the black keys, a shade darker, as on a keyboard.
    for key in low..=high {
        if is_black(key) {
            let top = y(key);
            painter.rect_filled(
                Rect::from_min_max(
                    Pos2::new(grid.left(), top),
                    Pos2::new(grid.right(), top + row),
                ),
                0.0,
                Color32::from_gray(19),
            );
        }
    }
    shade_region(&painter, grid, phase, &x);

    // Beat lines, and bar lines strong with their numbers on top.
    let mut beat = first.ceil();
    while beat <= last {
        let on_bar = ((beat - bar_start) / bar_len).rem_euclid(1.0) < 1e-6
            || ((beat - bar_start) / bar_len).rem_euclid(1.0) > 1.0 - 1e-6;
        let bx = x(beat);
        if on_bar {
            painter.line_segment(
                [Pos2::new(bx, rect.top()), Pos2::new(bx, grid.bottom())],
                Stroke::new(1.5, Color32::from_gray(120)),
            );
            let bar = (beat / bar_len + 1e-6).floor() as i64 + 1;
            // Every bar numbered while there is room, else every second or fourth.
            let every = match bar_len as f32 * grid.width() / span as f32 {
                w if w >= 28.0 => 1,
                w if w >= 14.0 => 2,
                _ => 4,
            };
            if (bar - 1) % every == 0 {
                painter.text(
                    Pos2::new(bx + 3.0, rect.top() + 1.0),
                    Align2::LEFT_TOP,
                    bar.to_string(),
                    FontId::proportional(11.0),
                    Color32::from_gray(200),
                );
            }
        } else {
            painter.line_segment(
                [Pos2::new(bx, grid.top()), Pos2::new(bx, grid.bottom())],
                Stroke::new(1.0, Color32::from_gray(42)),
            );
        }
        beat += 1.0;
    }

    // The notes: the player's outlined in white, the answer's flat.
    let note_rect = |n: &Note| {
        let left = x(n.onset_beats).max(grid.left());
        let right = x(n.onset_beats + n.duration_beats.max(0.05)).min(grid.right());
        let top = y(n.key.get());
        Rect::from_min_max(
            Pos2::new(left, top + 0.5),
            Pos2::new(right.max(left + 2.0), top + row.max(2.0) - 0.5),
        )
    };
    for n in &planned {
        let colour = if n.onset_beats <= playhead {
            PLAYED
        } else {
            PLANNED
        };
        painter.rect_filled(note_rect(n), 2.0, colour);
    }
    for n in &heard {
        let r = note_rect(n);
        painter.rect_filled(r, 2.0, HEARD);
        if r.height() >= 5.0 {
            painter.rect_stroke(r, 2.0, Stroke::new(1.0, HEARD_EDGE), StrokeKind::Inside);
        }
    }

    // The keyboard, with the C's named.
    let keys = Rect::from_min_max(
        Pos2::new(rect.left(), grid.top()),
        Pos2::new(grid.left(), grid.bottom()),
    );
    painter.rect_filled(keys, 0.0, Color32::from_gray(205));
    for key in low..=high {
        let top = y(key);
        let key_rect = Rect::from_min_max(
            Pos2::new(keys.left(), top),
            Pos2::new(keys.right(), top + row),
        );
        if is_black(key) {
            painter.rect_filled(
                Rect::from_min_max(
                    key_rect.min,
                    Pos2::new(keys.left() + KEYS_WIDTH * 0.6, key_rect.bottom()),
                ),
                0.0,
                Color32::from_gray(30),
            );
        } else if key % 12 == 0 || key % 12 == 5 {
            // The line under C and F, where two white keys meet.
            painter.line_segment(
                [key_rect.left_bottom(), key_rect.right_bottom()],
                Stroke::new(1.0, Color32::from_gray(120)),
            );
        }
        if key % 12 == 0 {
            painter.text(
                Pos2::new(keys.right() - 2.0, top + row / 2.0),
                Align2::RIGHT_CENTER,
                antiphon_engine::steering::note_name(key),
                FontId::proportional(10.0_f32.min(row.max(8.0))),
                Color32::from_gray(40),
            );
        }
    }

    // The playhead.
    let px = x(playhead);
    painter.line_segment(
        [Pos2::new(px, rect.top()), Pos2::new(px, grid.bottom())],
        Stroke::new(2.0, Color32::WHITE),
    );

    if heard.is_empty() && planned.is_empty() {
        let hint = match mode {
            Mode::Continue => {
                "Play a phrase on this track and stop: Antiphon answers at the next bar line"
            }
            Mode::Accompany => "Play or loop a melody: Antiphon accompanies it on the next pass",
        };
        let galley = painter.layout_no_wrap(
            hint.to_owned(),
            FontId::proportional(14.0),
            Color32::from_gray(170),
        );
        let text = Rect::from_center_size(grid.center(), galley.size());
        painter.rect_filled(text.expand(6.0), 4.0, BACKGROUND);
        painter.galley(text.min, galley, Color32::from_gray(170));
    }
}

/// Shades the span Antiphon works on and names it.
fn shade_region(painter: &egui::Painter, grid: Rect, phase: Phase, x: &dyn Fn(f64) -> f32) {
    let (from, to, colour, name) = match phase {
        Phase::Answering {
            from_beats,
            to_beats,
        } => (from_beats, to_beats, PLANNED, "answer"),
        Phase::Recording {
            start_beats,
            len_beats,
            ..
        } => (start_beats, start_beats + len_beats, HEARD, "recording"),
        Phase::Accompanying {
            start_beats,
            len_beats,
            ..
        } => (start_beats, start_beats + len_beats, PLAYED, "accompanied"),
        _ => return,
    };
    let left = x(from).max(grid.left());
    let right = x(to).min(grid.right());
    if right <= left {
        return;
    }
    let region = Rect::from_min_max(Pos2::new(left, grid.top()), Pos2::new(right, grid.bottom()));
    painter.rect_filled(region, 0.0, colour.gamma_multiply(0.12));
    painter.line_segment(
        [region.left_top(), region.right_top()],
        Stroke::new(3.0, colour.gamma_multiply(0.8)),
    );
    painter.text(
        region.left_top() + Vec2::new(4.0, 5.0),
        Align2::LEFT_TOP,
        name,
        FontId::proportional(11.0),
        colour,
    );
}

/// The colours and what they mean, as swatches.
pub fn legend(ui: &mut Ui, phase: Phase) {
    let region = match phase {
        Phase::Answering { .. } => Some(("Answer span", PLANNED)),
        Phase::Recording { .. } => Some(("Window being recorded", HEARD)),
        Phase::Accompanying { .. } => Some(("Window accompanied", PLAYED)),
        _ => None,
    };
    ui.horizontal(|ui| {
        for (name, colour, outlined) in [
            ("You played", HEARD, true),
            ("Antiphon will play", PLANNED, false),
            ("Antiphon played", PLAYED, false),
        ] {
            swatch(ui, colour, outlined);
            ui.label(name);
            ui.add_space(10.0);
        }
        if let Some((name, colour)) = region {
            let (rect, _) = ui.allocate_exact_size(Vec2::new(22.0, 12.0), egui::Sense::hover());
            ui.painter()
                .rect_filled(rect, 0.0, colour.gamma_multiply(0.25));
            ui.painter().line_segment(
                [rect.left_top(), rect.right_top()],
                Stroke::new(3.0, colour.gamma_multiply(0.8)),
            );
            ui.label(name);
        }
    });
}

fn swatch(ui: &mut Ui, colour: Color32, outlined: bool) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(22.0, 12.0), egui::Sense::hover());
    ui.painter().rect_filled(rect, 2.0, colour);
    if outlined {
        ui.painter()
            .rect_stroke(rect, 2.0, Stroke::new(1.0, HEARD_EDGE), StrokeKind::Inside);
    }
}

/// The keys to show for notes `keys`: all of them with a margin, at least [`MIN_KEYS`], from a
/// C up when there is no note.
fn key_span(keys: impl Iterator<Item = u8>) -> (u8, u8) {
    let (low, high) = keys.fold((u8::MAX, 0u8), |(lo, hi), k| (lo.min(k), hi.max(k)));
    if low > high {
        return (48, 48 + MIN_KEYS);
    }
    let (mut low, mut high) = (low.saturating_sub(2), high.saturating_add(2).min(127));
    while high - low < MIN_KEYS {
        low = low.saturating_sub(1);
        high = (high + 1).min(127);
    }
    (low, high)
}

fn is_black(key: u8) -> bool {
    matches!(key % 12, 1 | 3 | 6 | 8 | 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_span_fits_the_notes_with_room() {
        assert_eq!(key_span([].into_iter()), (48, 72));
        let (low, high) = key_span([60u8, 62].into_iter());
        assert!(low <= 58 && high >= 64 && high - low >= MIN_KEYS);
        assert_eq!(key_span([0u8, 127].into_iter()), (0, 127));
    }
}
