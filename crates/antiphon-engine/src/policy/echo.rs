//! Worker thread: a deterministic generator with no model, which echoes each phrase an octave
//! up. It exists to exercise the real-time path (the host tests select it with
//! `ANTIPHON_POLICY=echo`) and to check a host's MIDI routing without a model.
//!
//! A phrase ends at the first bar line reached at least one beat after its last note-on with no
//! note still held. The echo keeps every note's place in its bar and starts one bar after that
//! bar line: a phrase played in bar 1 and ended at bar line 2 comes back in bar 3.

use super::PHRASE_END_SILENCE_BEATS;
use crate::worker::{Policy, WorkerContext};
use antiphon_core::messages::ToWorker;
use antiphon_core::note::{Key, Note};
use antiphon_core::time::{next_bar_line, EPSILON_BEATS};
use antiphon_core::transport::TransportMove;
use std::sync::atomic::Ordering;

/// Semitones added to every echoed note.
const TRANSPOSE_SEMITONES: i32 = 12;

/// Echoes phrases an octave up, one bar after they end.
#[derive(Debug, Default)]
pub struct EchoGenerator {
    /// Finished notes of the current phrase, in arrival order.
    phrase: Vec<Note>,
    /// Notes started and not yet finished.
    held: usize,
    /// Song position of the phrase's last note-on, in quarter notes.
    last_note_on_beats: Option<f64>,
}

impl EchoGenerator {
    /// A generator with no phrase.
    pub fn new() -> Self {
        Self::default()
    }

    fn forget_phrase(&mut self) {
        self.phrase.clear();
        self.held = 0;
        self.last_note_on_beats = None;
    }
}

impl Policy for EchoGenerator {
    fn on_message(&mut self, message: ToWorker, _ctx: &mut WorkerContext) {
        match message {
            ToWorker::NoteStarted { onset_beats, .. } => {
                self.held += 1;
                self.last_note_on_beats = Some(onset_beats);
            }
            ToWorker::NoteFinished(note) => {
                self.held = self.held.saturating_sub(1);
                self.phrase.push(note);
            }
            ToWorker::Transport(TransportMove::Started { .. }) => {}
            ToWorker::Transport(TransportMove::Stopped { .. })
            | ToWorker::Transport(TransportMove::Jumped { .. }) => self.forget_phrase(),
        }
    }

    fn on_tick(&mut self, ctx: &mut WorkerContext) {
        ctx.status
            .set_engine_line("Echo diagnostic: each phrase an octave up, one bar later");
        let (Some(last_on), false) = (self.last_note_on_beats, self.phrase.is_empty()) else {
            return;
        };
        let transport = ctx.status.transport.read();
        if self.held > 0 || !transport.playing {
            return;
        }
        let playhead = transport.playhead_beats;
        let bar_start = transport.bar_start_beats;
        let bar_len = transport.bar_len_beats;
        if bar_len <= 0.0 {
            return;
        }
        let phrase_end = next_bar_line(last_on + PHRASE_END_SILENCE_BEATS, bar_start, bar_len);
        if playhead < phrase_end - EPSILON_BEATS {
            return;
        }
        let first_onset = self
            .phrase
            .iter()
            .map(|n| n.onset_beats)
            .fold(f64::INFINITY, f64::min);
        let phrase_bar = next_bar_line(first_onset, bar_start, bar_len);
        let phrase_bar = if phrase_bar > first_onset + EPSILON_BEATS {
            phrase_bar - bar_len
        } else {
            phrase_bar
        };
        let shift_beats = phrase_end + bar_len - phrase_bar;
        let channel = ctx.settings.out_channel;
        for note in std::mem::take(&mut self.phrase) {
            ctx.play(Note {
                onset_beats: note.onset_beats + shift_beats,
                duration_beats: note.duration_beats.max(1.0 / 64.0),
                key: note.key.transposed(TRANSPOSE_SEMITONES).unwrap_or(Key::MAX),
                channel,
                velocity: note.velocity,
            });
        }
        ctx.status.answers.fetch_add(1, Ordering::Relaxed);
        self.forget_phrase();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use antiphon_core::messages::{Status, ToAudio};
    use antiphon_core::note::{Channel, Velocity};
    use std::sync::Arc;

    fn context_at(playhead_beats: f64) -> WorkerContext {
        let status = Arc::new(Status::default());
        status.transport.update(|t| {
            t.playing = true;
            t.playhead_beats = playhead_beats;
            t.bar_start_beats = 0.0;
            t.bar_len_beats = 4.0;
        });
        WorkerContext::new(Settings::default(), status)
    }

    fn play_note(echo: &mut EchoGenerator, ctx: &mut WorkerContext, onset: f64, key: u8) {
        let note = Note {
            onset_beats: onset,
            duration_beats: 0.5,
            key: Key::new(key).unwrap(),
            channel: Channel::default(),
            velocity: Velocity::from_unit(0.5),
        };
        for (_, message) in ToWorker::reports_of(note) {
            echo.on_message(message, ctx);
        }
    }

    #[test]
    fn echoes_phrase_an_octave_up_one_bar_after_it_ends() {
        let mut echo = EchoGenerator::new();
        let mut ctx = context_at(1.5);
        play_note(&mut echo, &mut ctx, 0.0, 60);
        play_note(&mut echo, &mut ctx, 1.0, 64);
        echo.on_tick(&mut ctx);
        assert_eq!(
            ctx.pending().count(),
            0,
            "phrase not over before the bar line"
        );
        ctx.status.transport.update(|t| t.playhead_beats = 4.0);
        echo.on_tick(&mut ctx);
        let planned: Vec<(f64, u8)> = ctx
            .pending()
            .map(|m| match m {
                ToAudio::Play(n) => (n.onset_beats, n.key.get()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(planned, vec![(8.0, 72), (9.0, 76)]);
    }

    #[test]
    fn a_late_note_on_moves_the_phrase_end_to_a_later_bar_line() {
        let mut echo = EchoGenerator::new();
        let mut ctx = context_at(4.0);
        play_note(&mut echo, &mut ctx, 3.5, 60);
        echo.on_tick(&mut ctx);
        assert_eq!(ctx.pending().count(), 0);
        ctx.status.transport.update(|t| t.playhead_beats = 8.0);
        echo.on_tick(&mut ctx);
        let ToAudio::Play(note) = ctx.pending().next().copied().unwrap() else {
            panic!("expected a note");
        };
        assert_eq!(note.onset_beats, 15.5);
    }

    #[test]
    fn a_host_reporting_the_next_bar_as_bar_start_still_gets_its_echo() {
        let mut echo = EchoGenerator::new();
        let mut ctx = context_at(3.0);
        play_note(&mut echo, &mut ctx, 2.5, 60);
        // Ardour's bar start runs one bar ahead of the playhead.
        ctx.status.transport.update(|t| {
            t.bar_start_beats = 12.0;
            t.playhead_beats = 8.0;
        });
        echo.on_tick(&mut ctx);
        let ToAudio::Play(note) = ctx.pending().next().copied().unwrap() else {
            panic!("expected a note");
        };
        assert_eq!(note.onset_beats, 10.5);
    }

    #[test]
    fn stop_forgets_the_phrase() {
        let mut echo = EchoGenerator::new();
        let mut ctx = context_at(0.5);
        play_note(&mut echo, &mut ctx, 0.0, 60);
        echo.on_message(
            ToWorker::Transport(TransportMove::Stopped { pos_beats: 0.5 }),
            &mut ctx,
        );
        ctx.status.transport.update(|t| t.playhead_beats = 4.0);
        echo.on_tick(&mut ctx);
        assert_eq!(ctx.pending().count(), 0);
    }
}
