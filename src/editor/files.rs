//! GUI thread: getting results out and models in. "Export MIDI" writes the last answer with one
//! click to the user's music folder (hosts do not tell a plugin its project's folder through
//! nice-plug); "Save as…" and "Choose model folder…" open the desktop's own chooser through the
//! XDG desktop portal (rfd, with zenity as its fallback) on a thread of their own, so the
//! editor keeps drawing while it is open.

use crate::params::AntiphonParams;
use antiphon_engine::model::ModelSpec;
use antiphon_tokens::writer::{write_notes, WriteOptions};
use antiphon_tokens::Note;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The name an export gets in the default folder, before a number makes it unique.
const EXPORT_STEM: &str = "Antiphon answer";

/// The folder "Export MIDI" writes to: the XDG music folder, else `~/Music`, else the home
/// folder, else the temporary folder.
pub fn default_export_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let from_user_dirs = config
        .and_then(|c| std::fs::read_to_string(c.join("user-dirs.dirs")).ok())
        .and_then(|text| music_dir_of(&text, home.as_deref()));
    from_user_dirs
        .filter(|d| d.is_dir())
        .or_else(|| {
            home.as_ref()
                .map(|h| h.join("Music"))
                .filter(|d| d.is_dir())
        })
        .or(home)
        .unwrap_or_else(std::env::temp_dir)
}

/// `XDG_MUSIC_DIR` from the text of `user-dirs.dirs` (`XDG_MUSIC_DIR="$HOME/Music"`).
fn music_dir_of(text: &str, home: Option<&Path>) -> Option<PathBuf> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("XDG_MUSIC_DIR="))?;
    let value = line.trim().trim_matches('"');
    match value.strip_prefix("$HOME") {
        Some(rest) => Some(home?.join(rest.trim_start_matches('/'))),
        None if value.starts_with('/') => Some(PathBuf::from(value)),
        None => None,
    }
}

/// The first of "Antiphon answer.mid", "Antiphon answer 2.mid", … not yet in `dir`.
pub fn unused_export_path(dir: &Path) -> PathBuf {
    (1..)
        .map(|n| match n {
            1 => dir.join(format!("{EXPORT_STEM}.mid")),
            n => dir.join(format!("{EXPORT_STEM} {n}.mid")),
        })
        .find(|p| !p.exists())
        .expect("some number is free")
}

/// Checks that `dir` holds a readable model; returns its name or what is wrong.
pub fn check_model_folder(dir: &Path) -> Result<String, String> {
    if dir.as_os_str().is_empty() {
        return Err("Choose a folder holding model.onnx and model.json.".into());
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
        return Err("Nothing to export yet: Antiphon has not answered.".into());
    }
    let mut notes: Vec<Note> = saved
        .answer
        .iter()
        .map(antiphon_engine::policy::unsaved)
        .collect();
    if with_heard {
        notes.extend(saved.heard.iter().map(antiphon_engine::policy::unsaved));
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

/// What a chooser is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Where to export the answer.
    Export,
    /// Which model folder to load.
    Model,
}

/// Where a chooser's thread leaves its answer: `Some(None)` when it was cancelled.
type Answer = Arc<Mutex<Option<Option<PathBuf>>>>;

/// A desktop file chooser open on a thread of its own; the editor looks for its answer each
/// frame.
#[derive(Default)]
pub struct Chooser {
    /// The open chooser's purpose and where its answer lands.
    open: Option<(Purpose, Answer)>,
}

impl Chooser {
    /// Whether a chooser is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Opens the chooser for `purpose`, starting in `dir`; does nothing while one is open.
    pub fn open(&mut self, purpose: Purpose, dir: PathBuf) {
        if self.open.is_some() {
            return;
        }
        let slot: Answer = Arc::new(Mutex::new(None));
        let answer = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("antiphon-chooser".into())
            .spawn(move || {
                let dialog = rfd::FileDialog::new().set_directory(&dir);
                let chosen = match purpose {
                    Purpose::Export => dialog
                        .set_title("Export the answer as MIDI")
                        .add_filter("MIDI file", &["mid", "midi"])
                        .set_file_name(format!("{EXPORT_STEM}.mid"))
                        .save_file(),
                    Purpose::Model => dialog
                        .set_title("Choose a model folder (model.onnx and model.json)")
                        .pick_folder(),
                };
                if let Ok(mut slot) = answer.lock() {
                    *slot = Some(chosen);
                }
            });
        if spawned.is_ok() {
            self.open = Some((purpose, slot));
        }
    }

    /// The chooser's answer once it closed: its purpose and the path, `None` if cancelled.
    pub fn take(&mut self) -> Option<(Purpose, Option<PathBuf>)> {
        let (purpose, slot) = self.open.as_ref()?;
        let answer = slot.lock().ok()?.take()?;
        let purpose = *purpose;
        self.open = None;
        Some((purpose, answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{SavedAnswer, SavedNote};

    #[test]
    fn model_folder_check_names_what_is_missing() {
        let err = check_model_folder(Path::new("/nonexistent")).unwrap_err();
        assert!(err.contains("model.onnx"), "{err}");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-beats");
        assert_eq!(check_model_folder(&fixture).unwrap(), "tiny-beats");
    }

    #[test]
    fn the_music_folder_comes_from_user_dirs() {
        let home = Path::new("/home/ann");
        let text = "# comment\nXDG_DESKTOP_DIR=\"$HOME/Desktop\"\nXDG_MUSIC_DIR=\"$HOME/Musik\"\n";
        assert_eq!(
            music_dir_of(text, Some(home)),
            Some(PathBuf::from("/home/ann/Musik"))
        );
        assert_eq!(
            music_dir_of("XDG_MUSIC_DIR=\"/data/music\"", None),
            Some(PathBuf::from("/data/music"))
        );
        assert_eq!(music_dir_of("", Some(home)), None);
    }

    #[test]
    fn exports_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("antiphon-unused-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = unused_export_path(&dir);
        assert!(first.ends_with("Antiphon answer.mid"));
        std::fs::write(&first, b"x").unwrap();
        assert!(unused_export_path(&dir).ends_with("Antiphon answer 2.mid"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn export_writes_the_answer_and_what_it_heard() {
        let params = AntiphonParams::default();
        let path = std::env::temp_dir().join(format!("antiphon-export-{}.mid", std::process::id()));
        assert!(
            export_answer(&params, &path, true, 120.0).is_err(),
            "nothing to export yet"
        );
        let note = |onset, key: u8| SavedNote {
            onset_beats: onset,
            duration_beats: 1.0,
            key: key.into(),
            velocity: 90.into(),
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
        let (notes, _) = antiphon_tokens::midi::read_notes(&bytes).unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].onset_beats, 0.0,
            "the file starts at the answer's bar"
        );
        std::fs::remove_file(path).unwrap();
    }
}
