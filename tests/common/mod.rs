//! A small CLAP host on clack-host that loads the built plugin, plays a song through it with a
//! running transport, and records what comes out with absolute sample positions.
//!
//! The harness is the ground truth for timing: it decides where every block, split, tempo
//! change, loop and stop falls, and can say at which sample any beat was played.
#![allow(dead_code)] // Each test binary uses a different part of the harness.

use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{
    NoteOffEvent, NoteOnEvent, ParamValueEvent, TransportEvent, TransportFlags,
};
use clack_host::events::spaces::CoreEventSpace;
use clack_host::events::{EventFlags, Match};
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};
use std::path::PathBuf;
use std::time::Duration;

/// Sample rate every test runs at.
pub const SAMPLE_RATE: f64 = 48_000.0;
/// Largest block the harness processes.
pub const MAX_BLOCK: u32 = 4096;

struct Shared;
impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

struct TestHost;
impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

/// Path of the plugin binary under test: `ANTIPHON_CLAP` if set (e.g. a bundled
/// `Antiphon.clap`), else the `libantiphon.so` this `cargo test` run built beside this test
/// binary in `deps/`. (The copy one level up is only refreshed by `cargo build` and may be
/// stale or built with other features.)
pub fn plugin_path() -> PathBuf {
    if let Some(path) = std::env::var_os("ANTIPHON_CLAP") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let deps_dir = exe.parent().expect("target/<profile>/deps");
    let path = deps_dir.join("libantiphon.so");
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it with the library",
        path.display()
    );
    path
}

/// Which audio layout the host picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Stereo in and out (the plugin's first layout).
    Stereo,
    /// No audio ports at all.
    MidiOnly,
}

/// A note event the plugin sent, at an absolute sample position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recorded {
    /// Samples since the harness started playing.
    pub sample: u64,
    /// Note-on (true) or note-off.
    pub on: bool,
    /// MIDI key.
    pub key: u8,
    /// MIDI channel.
    pub channel: u8,
    /// Velocity in [0, 1] (0 for note-offs).
    pub velocity: f64,
}

/// A stretch of constant tempo and continuous position, as the harness played it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Absolute sample where the segment starts.
    pub start_sample: u64,
    /// Song position there, in beats.
    pub start_beats: f64,
    /// Tempo in bpm.
    pub tempo_bpm: f64,
    /// Length in samples.
    pub len: u64,
    /// Whether the transport was playing.
    pub playing: bool,
}

/// A note the "player" plays into the plugin.
#[derive(Debug, Clone, Copy)]
pub struct InputNote {
    /// Song position of the note-on, in beats.
    pub on_beats: f64,
    /// Song position of the note-off, in beats.
    pub off_beats: f64,
    /// MIDI key.
    pub key: u8,
    /// MIDI channel.
    pub channel: u8,
    /// Velocity in [0, 1].
    pub velocity: f64,
}

/// What the harness plays: tempo map, meter, loop, stop, and the player's notes.
#[derive(Debug, Clone)]
pub struct Song {
    /// (from beat, bpm), sorted; the first entry must be at beat 0.
    pub tempo_map: Vec<(f64, f64)>,
    /// Time signature.
    pub time_signature: (u16, u16),
    /// When the playhead reaches the end, it jumps back to the start.
    pub loop_beats: Option<(f64, f64)>,
    /// The transport stops when the playhead reaches this position.
    pub stop_at_beats: Option<f64>,
    /// Played once each, the first time the playhead passes them.
    pub notes: Vec<InputNote>,
    /// Report the next bar's start as the bar start, as Ardour 7 does.
    pub bar_start_one_bar_ahead: bool,
}

impl Song {
    /// A song at a constant tempo in 4/4.
    pub fn at_tempo(bpm: f64) -> Self {
        Self {
            tempo_map: vec![(0.0, bpm)],
            time_signature: (4, 4),
            loop_beats: None,
            stop_at_beats: None,
            notes: Vec::new(),
            bar_start_one_bar_ahead: false,
        }
    }

    fn tempo_at(&self, beats: f64) -> f64 {
        self.tempo_map
            .iter()
            .take_while(|(from, _)| *from <= beats + 1e-9)
            .last()
            .map(|(_, bpm)| *bpm)
            .unwrap_or(120.0)
    }

    fn next_tempo_change_after(&self, beats: f64) -> Option<f64> {
        self.tempo_map
            .iter()
            .map(|(from, _)| *from)
            .find(|from| *from > beats + 1e-9)
    }
}

/// How the harness cuts time into blocks.
#[derive(Debug, Clone, Copy)]
pub enum Blocks {
    /// Every block has this many samples.
    Fixed(u32),
    /// Random sizes in 1..=max from a seeded generator.
    Random {
        /// Seed of the size sequence.
        seed: u64,
        /// Largest block.
        max: u32,
    },
}

/// Options of one playback.
#[derive(Debug, Clone, Copy)]
pub struct Playback {
    /// Total samples to play.
    pub total_samples: u64,
    /// Block sizes.
    pub blocks: Blocks,
    /// Also send a redundant transport event inside blocks, as hosts that split do (G4).
    pub split_blocks: bool,
    /// Real time to wait after each block, so the worker thread can answer.
    pub pace: Duration,
    /// Real time to wait before the first block, so the worker can load its model (a musician
    /// presses play seconds after opening the plugin; paced blocks run faster than real time).
    pub lead_in: Duration,
    /// End with one block in which the transport has stopped (the plugin releases its notes).
    pub stop_at_end: bool,
}

impl Playback {
    /// `seconds` of audio in fixed blocks, paced for the worker.
    pub fn seconds(seconds: f64, block: u32) -> Self {
        Self {
            total_samples: (seconds * SAMPLE_RATE) as u64,
            blocks: Blocks::Fixed(block),
            split_blocks: false,
            pace: Duration::from_micros(300),
            lead_in: Duration::ZERO,
            stop_at_end: false,
        }
    }
}

/// What one playback produced.
#[derive(Debug, Default)]
pub struct Recording {
    /// Every note event the plugin sent, in order.
    pub events: Vec<Recorded>,
    /// How the harness played time.
    pub segments: Vec<Segment>,
    /// Every (block start, length, event time within block) for checking order per block.
    pub block_times: Vec<(u64, u32, Vec<u32>)>,
}

impl Recording {
    /// Every absolute sample at which the playhead was at `beats` while playing.
    pub fn samples_of_beat(&self, beats: f64) -> Vec<u64> {
        let mut out = Vec::new();
        for s in self.segments.iter().filter(|s| s.playing) {
            let spb = SAMPLE_RATE * 60.0 / s.tempo_bpm;
            // Nearest sample, halves up: the plugin's rounding rule.
            let offset = ((beats - s.start_beats) * spb + 0.5).floor();
            if offset >= 0.0 && offset < s.len as f64 {
                out.push(s.start_sample + offset.max(0.0) as u64);
            }
        }
        out
    }

    /// The first sample at which the playhead was at `beats`.
    pub fn sample_of_beat(&self, beats: f64) -> u64 {
        *self
            .samples_of_beat(beats)
            .first()
            .unwrap_or_else(|| panic!("beat {beats} was never played"))
    }

    /// Note-ons only.
    pub fn note_ons(&self) -> Vec<Recorded> {
        self.events.iter().copied().filter(|e| e.on).collect()
    }

    /// Checks that every note-on has exactly one note-off on the same key and channel, after
    /// it, and that no key is switched on twice without an off in between.
    pub fn assert_every_note_on_has_one_note_off(&self) {
        let mut sounding = std::collections::HashMap::<(u8, u8), u32>::new();
        for e in &self.events {
            let count = sounding.entry((e.key, e.channel)).or_default();
            if e.on {
                *count += 1;
            } else {
                assert!(*count > 0, "note-off without note-on: {e:?}");
                *count -= 1;
            }
        }
        let stuck: Vec<_> = sounding.iter().filter(|(_, n)| **n > 0).collect();
        assert!(stuck.is_empty(), "notes left sounding: {stuck:?}");
    }

    /// Checks that event times never decrease within a block.
    pub fn assert_timings_non_decreasing(&self) {
        for (start, len, times) in &self.block_times {
            for pair in times.windows(2) {
                assert!(
                    pair[0] <= pair[1],
                    "block at {start} (len {len}): event at {} after {}",
                    pair[1],
                    pair[0]
                );
            }
            if let Some(last) = times.last() {
                assert!(
                    *last < (*len).max(1),
                    "event at {last} outside block of {len}"
                );
            }
        }
    }
}

/// A loaded, activated and processing plugin instance.
pub struct Host {
    instance: PluginInstance<TestHost>,
    processor: Option<StartedPluginAudioProcessor<TestHost>>,
    _entry: PluginEntry,
    layout: Layout,
    in_events: EventBuffer,
    out_events: EventBuffer,
    input_audio: [Vec<f32>; 2],
    output_audio: [Vec<f32>; 2],
    steady_time: u64,
    /// Parameter changes to send with the next block.
    pending_params: Vec<ParamValueEvent>,
    /// Whether every processed stereo block came back equal to its input, subnormals flushed.
    pub audio_passed_through: bool,
    /// Wall time spent inside the plugin's `process()` calls, for benchmarks.
    pub process_time: Duration,
    /// Number of `process()` calls.
    pub process_calls: u64,
}

impl Host {
    /// Loads the plugin, picks `layout`, activates it at [`SAMPLE_RATE`] and starts processing.
    /// The worker's policy and model come from the process environment (`ANTIPHON_POLICY`,
    /// `ANTIPHON_MODEL`), which each test binary sets once.
    pub fn load(layout: Layout) -> Self {
        let path = plugin_path();
        // SAFETY: the file is this crate's own plugin, built by cargo for this test run.
        let entry = unsafe { PluginEntry::load(&path) }.expect("load plugin entry");
        let factory = entry.get_plugin_factory().expect("plugin factory");
        let descriptor = factory.plugin_descriptors().next().expect("one plugin");
        let id = descriptor.id().expect("plugin id").to_owned();
        let info = HostInfo::new("antiphon-tests", "antiphon", "https://localhost", "0.1.0")
            .expect("host info");
        let mut instance = PluginInstance::<TestHost>::new(|_| Shared, |_| (), &entry, &id, &info)
            .expect("instantiate plugin");

        if layout == Layout::MidiOnly {
            let ext = instance
                .plugin_shared_handle()
                .get_extension::<PluginAudioPortsConfig>()
                .expect("audio-ports-config extension");
            let handle = instance.plugin_handle();
            let mut buffer = AudioPortsConfigBuffer::new();
            let count = ext.count(&handle);
            let midi_only = (0..count)
                .filter_map(|i| {
                    ext.get(&handle, i, &mut buffer)
                        .map(|c| (c.id, c.input_port_count + c.output_port_count))
                })
                .find(|(_, ports)| *ports == 0)
                .map(|(id, _)| id)
                .expect("a layout without audio ports");
            ext.select(&handle, midi_only)
                .expect("select MIDI-only layout");
        }

        let config = PluginAudioConfiguration {
            sample_rate: SAMPLE_RATE,
            min_frames_count: 1,
            max_frames_count: MAX_BLOCK,
        };
        let processor = instance
            .activate(|_, _| (), config)
            .expect("activate")
            .start_processing()
            .expect("start processing");
        Self {
            instance,
            processor: Some(processor),
            _entry: entry,
            layout,
            in_events: EventBuffer::with_capacity(256),
            out_events: EventBuffer::with_capacity(256),
            input_audio: [vec![0.0; MAX_BLOCK as usize], vec![0.0; MAX_BLOCK as usize]],
            output_audio: [vec![0.0; MAX_BLOCK as usize], vec![0.0; MAX_BLOCK as usize]],
            steady_time: 0,
            pending_params: Vec::new(),
            audio_passed_through: true,
            process_time: Duration::ZERO,
            process_calls: 0,
        }
    }

    /// Stops processing and deactivates (the plugin's `deactivate()` runs).
    pub fn deactivate(&mut self) {
        if let Some(processor) = self.processor.take() {
            self.instance.deactivate(processor.stop_processing());
        }
    }

    /// Activates again after [`Host::deactivate`].
    pub fn reactivate(&mut self) {
        let config = PluginAudioConfiguration {
            sample_rate: SAMPLE_RATE,
            min_frames_count: 1,
            max_frames_count: MAX_BLOCK,
        };
        let processor = self
            .instance
            .activate(|_, _| (), config)
            .expect("activate")
            .start_processing()
            .expect("start processing");
        self.processor = Some(processor);
    }

    /// Parameter ids and names, as the plugin lists them.
    pub fn param_list(&mut self) -> Vec<(ClapId, String, f64, f64)> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginParams>()
            .expect("params extension");
        let handle = self.instance.plugin_handle();
        let mut buffer = ParamInfoBuffer::new();
        (0..ext.count(&handle))
            .filter_map(|i| {
                ext.get_info(&handle, i, &mut buffer).map(|info| {
                    (
                        info.id,
                        String::from_utf8_lossy(info.name).into_owned(),
                        info.min_value,
                        info.max_value,
                    )
                })
            })
            .collect()
    }

    /// Current plain value of a parameter.
    pub fn param_value(&mut self, id: ClapId) -> f64 {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginParams>()
            .expect("params extension");
        ext.get_value(&self.instance.plugin_handle(), id)
            .expect("parameter value")
    }

    /// Id of the parameter shown as `name`.
    pub fn param_id(&mut self, name: &str) -> ClapId {
        self.param_list()
            .into_iter()
            .find(|(_, n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no parameter named {name}"))
            .0
    }

    /// Sends a plain value for a parameter with the next processed block.
    pub fn set_param(&mut self, id: ClapId, plain_value: f64) {
        self.pending_params
            .push(ParamValueEvent::new(0, id, Pckn::match_all(), plain_value));
    }

    /// The plugin's saved state.
    pub fn save_state(&mut self) -> Vec<u8> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginState>()
            .expect("state extension");
        let mut bytes = Vec::new();
        ext.save(&self.instance.plugin_handle(), &mut bytes)
            .expect("save state");
        bytes
    }

    /// Loads a saved state; `Err` if the plugin refuses it.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let ext = self
            .instance
            .plugin_shared_handle()
            .get_extension::<PluginState>()
            .expect("state extension");
        ext.load(&self.instance.plugin_handle(), &mut &bytes[..])
            .map_err(|e| format!("{e:?}"))
    }

    /// Sets one persisted field of the plugin's state (nice-plug's `#[persist]` fields, e.g.
    /// `model-folder`, the editor's model picker) to `value`, the way a host restores a
    /// project: save the state, change the field, load it back.
    pub fn set_persisted_field(&mut self, key: &str, value: &serde_json::Value) {
        let bytes = self.save_state();
        let mut state: serde_json::Value =
            serde_json::from_slice(bytes.get(8..).unwrap_or_default()).expect("the state is JSON");
        // Each field is stored as its own JSON text.
        state["fields"][key] = serde_json::Value::String(value.to_string());
        let json = serde_json::to_vec(&state).expect("JSON");
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&json);
        self.load_state(&out)
            .expect("the plugin takes the state back");
    }

    /// Plays `song` for `playback.total_samples` samples and records the plugin's output.
    pub fn play(&mut self, song: &Song, playback: Playback) -> Recording {
        let mut recording = Recording::default();
        let mut rng = playback_rng(&playback.blocks);
        let mut played_on = vec![false; song.notes.len()];
        let mut played_off = vec![false; song.notes.len()];
        let mut pos_beats = 0.0_f64;
        let mut playing = true;
        let mut done = 0u64;
        std::thread::sleep(playback.lead_in);

        while done < playback.total_samples {
            let len = match playback.blocks {
                Blocks::Fixed(n) => n,
                Blocks::Random { max, .. } => 1 + (next_random(&mut rng) % max as u64) as u32,
            }
            .min((playback.total_samples - done) as u32)
            .min(MAX_BLOCK);

            // A loop end on the block boundary: this block starts at the loop's start.
            if let Some((start, end)) = song.loop_beats {
                if playing && pos_beats >= end - 1e-9 {
                    pos_beats = start;
                }
            }
            // Cut the block where the transport changes: tempo, loop, stop, optional redundant split.
            let mut cuts: Vec<(u32, Cut)> = Vec::new();
            let block_state = State {
                playing,
                pos_beats,
                tempo_bpm: song.tempo_at(pos_beats),
            };
            let mut state = block_state;
            let mut offset = 0u32;
            loop {
                let spb = SAMPLE_RATE * 60.0 / state.tempo_bpm;
                let remaining = len - offset;
                let mut next_cut: Option<(u32, State)> = None;
                if state.playing {
                    let mut consider = |beat: f64, new: State| {
                        let k = ((beat - state.pos_beats) * spb).round();
                        if k >= 1.0 && k < remaining as f64 {
                            let k = k as u32;
                            if next_cut.is_none_or(|(c, _)| k < c) {
                                next_cut = Some((k, new));
                            }
                        }
                    };
                    if let Some(change) = song.next_tempo_change_after(state.pos_beats) {
                        consider(
                            change,
                            State {
                                playing: true,
                                pos_beats: change,
                                tempo_bpm: song.tempo_at(change),
                            },
                        );
                    }
                    if let Some((start, end)) = song.loop_beats {
                        if end > state.pos_beats {
                            consider(
                                end,
                                State {
                                    playing: true,
                                    pos_beats: start,
                                    tempo_bpm: song.tempo_at(start),
                                },
                            );
                        }
                    }
                    if let Some(stop) = song.stop_at_beats {
                        if stop > state.pos_beats {
                            consider(
                                stop,
                                State {
                                    playing: false,
                                    pos_beats: stop,
                                    tempo_bpm: state.tempo_bpm,
                                },
                            );
                        }
                    }
                    if playback.split_blocks && offset == 0 && remaining >= 2 {
                        let k = (next_random(&mut rng) % (remaining as u64 - 1)) as u32 + 1;
                        let beat = state.pos_beats + k as f64 / spb;
                        if next_cut.is_none_or(|(c, _)| k < c) {
                            next_cut = Some((
                                k,
                                State {
                                    playing: true,
                                    pos_beats: beat,
                                    tempo_bpm: state.tempo_bpm,
                                },
                            ));
                        }
                    }
                }
                let seg_len = next_cut.map(|(k, _)| k).unwrap_or(remaining);
                recording.segments.push(Segment {
                    start_sample: done + offset as u64,
                    start_beats: quantize(state.pos_beats),
                    tempo_bpm: state.tempo_bpm,
                    len: seg_len as u64,
                    playing: state.playing,
                });
                // Input notes whose time falls in this segment (first pass only).
                if state.playing {
                    for (i, note) in song.notes.iter().enumerate() {
                        for (is_on, beat, done_flag) in [
                            (true, note.on_beats, &mut played_on[i]),
                            (false, note.off_beats, &mut played_off[i]),
                        ] {
                            // A note is placed in the first segment that reaches it.
                            let k = ((beat - state.pos_beats) * spb).round();
                            if !*done_flag && k < seg_len as f64 {
                                *done_flag = true;
                                let at = offset + k.max(0.0) as u32;
                                cuts.push((
                                    at,
                                    Cut::Note {
                                        on: is_on,
                                        note: *note,
                                    },
                                ));
                            }
                        }
                    }
                }
                let end_beats = if state.playing {
                    state.pos_beats + seg_len as f64 / spb
                } else {
                    state.pos_beats
                };
                match next_cut {
                    Some((k, new)) => {
                        offset += k;
                        state = new;
                        cuts.push((offset, Cut::Transport(state)));
                    }
                    None => {
                        state.pos_beats = end_beats;
                        break;
                    }
                }
            }
            pos_beats = state.pos_beats;
            playing = state.playing;

            let times = self.process_block(done, len, block_state, &cuts, song, &mut recording);
            recording.block_times.push((done, len, times));
            done += len as u64;
            if !playback.pace.is_zero() {
                std::thread::sleep(playback.pace);
            }
        }
        if playback.stop_at_end {
            let stopped = State {
                playing: false,
                pos_beats,
                tempo_bpm: song.tempo_at(pos_beats),
            };
            let len = 512;
            recording.segments.push(Segment {
                start_sample: done,
                start_beats: quantize(pos_beats),
                tempo_bpm: stopped.tempo_bpm,
                len: len as u64,
                playing: false,
            });
            let times = self.process_block(done, len, stopped, &[], song, &mut recording);
            recording.block_times.push((done, len, times));
        }
        recording
    }

    /// Processes one block: `cuts` are transport changes and input notes at offsets inside it.
    fn process_block(
        &mut self,
        block_start: u64,
        len: u32,
        state: State,
        cuts: &[(u32, Cut)],
        song: &Song,
        recording: &mut Recording,
    ) -> Vec<u32> {
        self.in_events.clear();
        self.out_events.clear();
        for param in self.pending_params.drain(..) {
            self.in_events.push(&param);
        }
        let mut ordered: Vec<&(u32, Cut)> = cuts.iter().collect();
        // Transport changes before notes at the same sample (a stable sort keeps the rest).
        ordered.sort_by_key(|(t, cut)| (*t, matches!(cut, Cut::Note { .. })));
        for (time, cut) in ordered {
            match cut {
                Cut::Transport(s) => self.in_events.push(&transport_event(*time, s, song)),
                Cut::Note { on, note } => {
                    let pckn = Pckn::new(0u16, note.channel as u16, note.key as u16, Match::All);
                    if *on {
                        self.in_events
                            .push(&NoteOnEvent::new(*time, pckn, note.velocity));
                    } else {
                        self.in_events.push(&NoteOffEvent::new(*time, pckn, 0.0));
                    }
                }
            }
        }

        let frames = len as usize;
        for (ch, buf) in self.input_audio.iter_mut().enumerate() {
            for (i, x) in buf[..frames].iter_mut().enumerate() {
                *x = ((block_start as usize + i) as f32 * 0.001 + ch as f32).sin();
            }
            // A subnormal, which the plugin must flush to zero (clap-validator's fuzzer checks).
            buf[0] = f32::MIN_POSITIVE / 4.0;
        }
        let processor = self.processor.as_mut().expect("processing");
        let transport = transport_event(0, &state, song);
        let steady_time = self.steady_time;
        let input_events = InputEvents::from_buffer(&self.in_events);
        let mut output_events = OutputEvents::from_buffer(&mut self.out_events);
        // One timed `process()` call, on either layout's buffers.
        let mut timed_process = |inputs: &InputAudioBuffers, outputs: &mut OutputAudioBuffers| {
            let started = std::time::Instant::now();
            processor
                .process(
                    inputs,
                    outputs,
                    &input_events,
                    &mut output_events,
                    Some(steady_time),
                    Some(&transport),
                )
                .expect("process");
            started.elapsed()
        };
        let elapsed = match self.layout {
            Layout::Stereo => {
                let mut in_ports = AudioPorts::with_capacity(2, 1);
                let mut out_ports = AudioPorts::with_capacity(2, 1);
                let [in_l, in_r] = &mut self.input_audio;
                let inputs = in_ports.with_input_buffers([AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_input_only(
                        [
                            InputChannel::variable(&mut in_l[..frames]),
                            InputChannel::variable(&mut in_r[..frames]),
                        ]
                        .into_iter(),
                    ),
                }]);
                let [out_l, out_r] = &mut self.output_audio;
                let mut outputs = out_ports.with_output_buffers([AudioPortBuffer {
                    latency: 0,
                    channels: AudioPortBufferType::f32_output_only(
                        [&mut out_l[..frames], &mut out_r[..frames]].into_iter(),
                    ),
                }]);
                let elapsed = timed_process(&inputs, &mut outputs);
                for (input, output) in self.input_audio.iter().zip(&self.output_audio) {
                    let flushed = |x: f32| if x.is_subnormal() { 0.0 } else { x };
                    if !input[..frames]
                        .iter()
                        .zip(&output[..frames])
                        .all(|(i, o)| flushed(*i).to_bits() == o.to_bits())
                    {
                        self.audio_passed_through = false;
                    }
                }
                elapsed
            }
            Layout::MidiOnly => {
                // SAFETY: no ports, so no pointers are read; only the frame count is used.
                let inputs = unsafe { InputAudioBuffers::from_raw_buffers(&[], len) };
                // SAFETY: as above.
                let mut outputs = unsafe { OutputAudioBuffers::from_raw_buffers(&mut [], len) };
                timed_process(&inputs, &mut outputs)
            }
        };
        self.process_time += elapsed;
        self.process_calls += 1;
        self.steady_time += len as u64;

        let mut times = Vec::new();
        for event in self.out_events.iter() {
            let (on, time, key, channel, velocity) = match event.as_core_event() {
                Some(CoreEventSpace::NoteOn(e)) => (
                    true,
                    e.header().time(),
                    e.pckn().raw_key(),
                    e.pckn().raw_channel(),
                    e.velocity(),
                ),
                Some(CoreEventSpace::NoteOff(e)) => (
                    false,
                    e.header().time(),
                    e.pckn().raw_key(),
                    e.pckn().raw_channel(),
                    0.0,
                ),
                _ => continue,
            };
            times.push(time);
            recording.events.push(Recorded {
                sample: block_start + time as u64,
                on,
                key: key as u8,
                channel: channel as u8,
                velocity,
            });
        }
        times
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.deactivate();
    }
}

/// The transport at some sample.
#[derive(Debug, Clone, Copy)]
struct State {
    playing: bool,
    pos_beats: f64,
    tempo_bpm: f64,
}

/// Something that happens inside a block.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// The transport changes here (the plugin's wrapper splits the block).
    Transport(State),
    /// The player presses or releases a key here.
    Note { on: bool, note: InputNote },
}

/// Rounds a position to CLAP's fixed-point beat grid, as the plugin receives it. The harness
/// keeps exact positions and records rounded ones, so both sides agree to the last bit.
fn quantize(beats: f64) -> f64 {
    BeatTime::from_float(beats).to_float()
}

fn transport_event(time: u32, s: &State, song: &Song) -> TransportEvent {
    let (num, den) = song.time_signature;
    let bar_len = num as f64 * 4.0 / den as f64;
    let bar = (s.pos_beats / bar_len).floor()
        + if song.bar_start_one_bar_ahead {
            1.0
        } else {
            0.0
        };
    let mut flags = TransportFlags::HAS_TEMPO
        | TransportFlags::HAS_BEATS_TIMELINE
        | TransportFlags::HAS_SECONDS_TIMELINE
        | TransportFlags::HAS_TIME_SIGNATURE;
    if s.playing {
        flags |= TransportFlags::IS_PLAYING;
    }
    let (loop_start, loop_end) = song.loop_beats.unwrap_or((0.0, 0.0));
    if song.loop_beats.is_some() {
        flags |= TransportFlags::IS_LOOP_ACTIVE;
    }
    TransportEvent {
        header: EventHeader::new_core(time, EventFlags::empty()),
        flags,
        song_pos_beats: BeatTime::from_float(quantize(s.pos_beats)),
        song_pos_seconds: SecondsTime::from_float(s.pos_beats * 60.0 / s.tempo_bpm),
        tempo: s.tempo_bpm,
        tempo_inc: 0.0,
        loop_start_beats: BeatTime::from_float(loop_start),
        loop_end_beats: BeatTime::from_float(loop_end),
        loop_start_seconds: SecondsTime::from_int(0),
        loop_end_seconds: SecondsTime::from_int(0),
        bar_start: BeatTime::from_float(bar * bar_len),
        bar_number: bar as i32,
        time_signature_numerator: num,
        time_signature_denominator: den,
    }
}

fn playback_rng(blocks: &Blocks) -> u64 {
    match blocks {
        Blocks::Random { seed, .. } => seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        Blocks::Fixed(_) => 0x2545_F491_4F6C_DD1D,
    }
}

/// xorshift64*: a seeded, dependency-free generator for block sizes and split points.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}
