//! Antiphon: a MIDI-effect plugin (CLAP and VST3) that listens to a track and answers it.
//!
//! This file is the plugin shell: the [`Antiphon`] struct, the plugin traits and the exports.
//! The audio thread's work lives in the `antiphon-realtime` crate, the worker's in
//! `antiphon-engine`, the GUI in [`editor`]; they talk only through `antiphon_core::messages`.
//! The shell is the one place that knows them all: it turns the host's parameters into the
//! worker's settings ([`params::AntiphonParams::settings`]) and the host's events into the audio
//! side's calls.

pub mod editor;
pub mod params;

use antiphon_core::messages::{Queues, Status};
use antiphon_core::note as midi;
use antiphon_engine::policy::echo::EchoGenerator;
use antiphon_engine::policy::Responder;
use antiphon_engine::{Policy, Worker};
use antiphon_realtime::scheduler::NoteOut;
use antiphon_realtime::{AudioSide, HostTransport};
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;
use nice_plug_egui::{EguiEditor, EguiEditorState};
use params::{AntiphonParams, Mode};
use rtsan_standalone::nonblocking;
use std::sync::Arc;

/// The plugin.
pub struct Antiphon {
    /// Every automatable parameter, shared with the worker and the editor.
    params: Arc<AntiphonParams>,
    /// Counters and text the audio thread and worker publish for the editor.
    status: Arc<Status>,
    /// The editor's size.
    editor_state: Arc<EguiEditorState>,
    /// Both queues; made on the first activation and kept, like the audio side.
    queues: Option<Queues>,
    /// The audio thread's state; made on the first activation.
    audio: Option<AudioSide>,
    /// The worker thread, running between `activate()` and `deactivate()`.
    worker: Option<Worker>,
    /// Mode of the previous block, to release notes when it changes.
    last_mode: Mode,
}

impl Default for Antiphon {
    fn default() -> Self {
        let params = Arc::new(AntiphonParams::default());
        // The worker writes the answer into the slot the project saves.
        let status = Arc::new(Status {
            last_answer: params.last_answer.clone(),
            ..Status::default()
        });
        Self {
            params,
            status,
            editor_state: editor::default_state(),
            queues: None,
            audio: None,
            worker: None,
            last_mode: Mode::Continue,
        }
    }
}

impl Plugin for Antiphon {
    const NAME: &'static str = "Antiphon";
    const VENDOR: &'static str = "Antiphon";
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    // Stereo audio passes through untouched, so hosts that refuse MIDI-only plugins (Ableton
    // Live, JUCE hosts) load it; the MIDI-only layout is for hosts that prefer note effects
    // without audio.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout::const_default(),
    ];
    const MIDI_INPUT: MidiConfig = MidiConfig::Basic;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::Basic;
    // Block splits at parameter changes buy nothing here and cost process() calls.
    const SAMPLE_ACCURATE_AUTOMATION: bool = false;

    type Editor = EguiEditor<editor::AntiphonEditor>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(
            self.editor_state.clone(),
            self.params.clone(),
            self.status.clone(),
        )
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        _buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let queues = self.queues.get_or_insert_with(Queues::new);
        if self.audio.is_none() {
            self.audio = Some(AudioSide::new(queues, self.status.clone()));
        }
        match Worker::spawn(
            queues,
            self.params.settings_source(),
            self.status.clone(),
            chosen_policy(),
        ) {
            Ok(worker) => self.worker = Some(worker),
            Err(err) => {
                // Without a worker the plugin still passes MIDI through.
                self.status
                    .set_error_line(format!("Could not start the worker thread: {err}"));
            }
        }
        true
    }

    fn reset(&mut self) {
        if let Some(audio) = &mut self.audio {
            audio.release_on_next_block();
        }
    }

    #[nonblocking]
    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        // Audio, if any, passes through in place, with subnormals flushed to zero: they are
        // inaudible and slow down every plugin after this one.
        flush_subnormals(buffer);
        let Some(audio) = &mut self.audio else {
            return ProcessStatus::KeepAlive;
        };
        let mode = self.params.mode.value();
        if mode != self.last_mode {
            self.last_mode = mode;
            audio.release_on_next_block();
        }
        audio.begin_block(
            &host_transport(context.transport()),
            buffer.samples() as u32,
        );

        let thru = self.params.thru.value();
        while let Some(event) = context.next_event() {
            while let Some(out) = audio.next_generated(event.timing()) {
                send_generated(audio, context, out);
            }
            match event {
                NoteEvent::NoteOn {
                    timing,
                    channel,
                    key,
                    velocity,
                    ..
                } => audio.note_on(
                    timing,
                    key_number(key),
                    channel_number(channel),
                    midi::Velocity::from_unit(velocity),
                ),
                NoteEvent::NoteOff {
                    timing,
                    channel,
                    key,
                    ..
                } => audio.note_off(timing, key_number(key), channel_number(channel)),
                _ => {}
            }
            if thru && context.try_send_event(event).is_err() {
                audio.count_refused_output();
            }
        }
        while let Some(out) = audio.next_generated(u32::MAX) {
            send_generated(audio, context, out);
        }
        // Keep being called while the input is silent: planned notes must still play.
        ProcessStatus::KeepAlive
    }

    fn deactivate(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop();
        }
        if let Some(queues) = &self.queues {
            // Nothing runs on either end now; stale messages must not leak into the next run.
            while queues.to_worker_rx.try_recv().is_ok() {}
            while queues.to_audio_rx.try_recv().is_ok() {}
        }
        if let Some(audio) = &mut self.audio {
            audio.release_on_next_block();
            audio.forget_transport();
        }
    }
}

/// Sets subnormal samples to zero. Real-time safe.
#[inline]
fn flush_subnormals(buffer: &mut Buffer) {
    for channel in buffer.as_slice() {
        for sample in channel.iter_mut() {
            if sample.is_subnormal() {
                *sample = 0.0;
            }
        }
    }
}

/// Environment variable that picks the worker's policy: `echo` answers each phrase with itself
/// an octave up, one bar later, with no model — a deterministic check of the note path in a
/// host (the tests use it). Anything else, or nothing, runs the model.
pub const POLICY_ENV: &str = "ANTIPHON_POLICY";

/// The worker's policy: the model, or the echo diagnostic (see [`POLICY_ENV`]).
fn chosen_policy() -> Box<dyn Policy> {
    match std::env::var(POLICY_ENV).as_deref() {
        Ok("echo") => Box::new(EchoGenerator::new()),
        _ => Box::new(Responder::new()),
    }
}

/// Copies nice-plug's transport into the plain struct the real-time code reads.
#[inline]
fn host_transport(t: &Transport) -> HostTransport {
    HostTransport {
        playing: t.playing,
        tempo_bpm: t.tempo,
        pos_beats: t.pos_beats(),
        time_signature: t.time_sig_numerator.zip(t.time_sig_denominator),
        bar_start_beats: t.bar_start_pos_beats(),
        loop_beats: t.loop_range_beats(),
        sample_rate_hz: t.sample_rate as f64,
    }
}

#[inline]
fn key_number(key: Key) -> midi::Key {
    midi::Key::saturating(key.number().map_or(0, i32::from))
}

#[inline]
fn channel_number(channel: Channel) -> midi::Channel {
    midi::Channel::saturating(channel.number().map_or(0, i32::from))
}

/// Sends one generated event to the host; a full host buffer drops it and counts.
#[inline]
fn send_generated<P: Plugin>(
    audio: &AudioSide,
    context: &mut impl ProcessContext<P>,
    out: NoteOut,
) {
    let event = match out {
        NoteOut::On {
            timing,
            key,
            channel,
            velocity,
        } => NoteEvent::NoteOn {
            timing,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(channel.get()),
            key: Key::Number(key.get()),
            velocity: velocity.unit(),
        },
        NoteOut::Off {
            timing,
            key,
            channel,
        } => NoteEvent::NoteOff {
            timing,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(channel.get()),
            key: Key::Number(key.get()),
            velocity: 0.0,
        },
    };
    if context.try_send_event(event).is_err() {
        audio.count_refused_output();
    }
}

impl ClapPlugin for Antiphon {
    const CLAP_ID: &'static str = "org.antiphon.antiphon";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Listens to a track and answers it: continues phrases, accompanies melodies");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[ClapFeature::NoteEffect, ClapFeature::Utility];
}

impl Vst3Plugin for Antiphon {
    const VST3_CLASS_ID: [u8; 16] = *b"AntiphonMidiFx01";
    // VST3 has no MIDI-effect category; hosts list note effects under instruments/tools.
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Instrument, Vst3SubCategory::Tools];
}

nice_export_clap!(Antiphon);
nice_export_vst3!(Antiphon);
