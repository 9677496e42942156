//! GUI thread: the piano roll. Eight beats behind and sixteen ahead of the playhead, with bar
//! lines: what Antiphon heard (blue), what it has planned (amber) and what of that has played
//! (green).

use crate::messages::{RollNote, Status};
use egui::{Color32, Pos2, Rect, Stroke, Vec2};
use std::sync::atomic::Ordering;

/// Height of the roll in logical pixels.
const HEIGHT: f32 = 190.0;
/// Beats shown before and after the playhead.
const BEATS_BEHIND: f64 = 8.0;
const BEATS_AHEAD: f64 = 16.0;

const HEARD: Color32 = Color32::from_rgb(90, 150, 230);
const PLANNED: Color32 = Color32::from_rgb(235, 170, 60);
const PLAYED: Color32 = Color32::from_rgb(110, 200, 120);

/// Draws the roll for the current playhead.
pub fn show(ui: &mut egui::Ui, status: &Status) {
    let width = ui.available_width();
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, HEIGHT), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, Color32::from_gray(24));

    let playhead = status.playhead_beats.load(Ordering::Relaxed);
    let bar_len = status.bar_len_beats.load(Ordering::Relaxed).max(0.25);
    let bar_start = status.bar_start_beats.load(Ordering::Relaxed);
    let (first, last) = (playhead - BEATS_BEHIND, playhead + BEATS_AHEAD);
    let x = |beats: f64| rect.left() + ((beats - first) / (last - first)) as f32 * rect.width();

    let (heard, planned) = status
        .roll
        .lock()
        .map(|r| (r.heard.clone(), r.planned.clone()))
        .unwrap_or_default();
    let visible =
        |n: &&RollNote| n.onset_beats + n.duration_beats >= first && n.onset_beats <= last;
    let shown: Vec<(RollNote, Color32)> = heard
        .iter()
        .filter(visible)
        .map(|n| (*n, HEARD))
        .chain(planned.iter().filter(visible).map(|n| {
            let colour = if n.onset_beats <= playhead {
                PLAYED
            } else {
                PLANNED
            };
            (*n, colour)
        }))
        .collect();
    let (low, high) = shown.iter().fold((127u8, 0u8), |(lo, hi), (n, _)| {
        (lo.min(n.key), hi.max(n.key))
    });
    let (low, high) = if shown.is_empty() {
        (48, 84)
    } else {
        (low.saturating_sub(2), high.saturating_add(2).min(127))
    };
    let row = rect.height() / (high - low + 1) as f32;
    let y = |key: u8| rect.bottom() - (key - low + 1) as f32 * row;

    // Bar lines (and beats, fainter).
    let mut beat = (first.floor()).max(0.0);
    while beat <= last {
        let on_bar = ((beat - bar_start) / bar_len).rem_euclid(1.0).abs() < 1e-6;
        let colour = if on_bar {
            Color32::from_gray(90)
        } else {
            Color32::from_gray(45)
        };
        painter.line_segment(
            [
                Pos2::new(x(beat), rect.top()),
                Pos2::new(x(beat), rect.bottom()),
            ],
            Stroke::new(1.0, colour),
        );
        beat += 1.0;
    }
    for (note, colour) in shown {
        let left = x(note.onset_beats).max(rect.left());
        let right = x(note.onset_beats + note.duration_beats.max(0.05)).min(rect.right());
        let top = y(note.key);
        painter.rect_filled(
            Rect::from_min_max(
                Pos2::new(left, top),
                Pos2::new(right.max(left + 2.0), top + row.max(2.0)),
            ),
            1.0,
            colour,
        );
    }
    // The playhead.
    painter.line_segment(
        [
            Pos2::new(x(playhead), rect.top()),
            Pos2::new(x(playhead), rect.bottom()),
        ],
        Stroke::new(2.0, Color32::WHITE),
    );
    painter.text(
        rect.left_top() + Vec2::new(6.0, 4.0),
        egui::Align2::LEFT_TOP,
        "heard · planned · played",
        egui::FontId::proportional(11.0),
        Color32::from_gray(160),
    );
}
