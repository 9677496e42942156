//! `antiphon continue | accompany | infill | info | bench` end to end, on the fixture models
//! and real MIDI files: repeatable output for a seed, answers where they belong, and a clear
//! message with a documented exit code for every bad input.

use antiphon_tokens::midi::read_notes;
use antiphon_tokens::GmInstrument;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn antiphon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_antiphon"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("tests/fixtures")
        .join(name)
}

/// The example song: eight bars of a CC0 OpenScore song (voice on track 1, piano on 2–3).
fn song() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("examples/song.mid")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("antiphon-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(args: &[&str]) -> Output {
    antiphon().args(args).output().expect("run antiphon")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `antiphon CMD INPUT -o OUT --model MODEL EXTRA…`: a generating command.
fn generate(cmd: &str, input: &Path, out: &Path, model: &Path, extra: &[&str]) -> Output {
    let mut args = vec![cmd, path(input), "-o", path(out), "--model", path(model)];
    args.extend_from_slice(extra);
    run(&args)
}

/// A copy of the tiny-beats model in the scratch folder `name`, its `file` (model.onnx or
/// model.json) replaced by `contents`.
fn tiny_beats_with(name: &str, file: &str, contents: &[u8]) -> PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(&dir).unwrap();
    for kept in ["model.onnx", "model.json"]
        .into_iter()
        .filter(|f| *f != file)
    {
        std::fs::copy(fixture("tiny-beats").join(kept), dir.join(kept)).unwrap();
    }
    std::fs::write(dir.join(file), contents).unwrap();
    dir
}

#[test]
fn accompaniment_is_repeatable_for_a_seed_and_stays_off_the_melody() {
    let model = fixture("tiny-beats");
    let (a, b) = (scratch("acc-a.mid"), scratch("acc-b.mid"));
    let mut produced = false;
    for seed in ["3", "10", "11"] {
        for out in [&a, &b] {
            let extra = [
                "--seed",
                seed,
                "--bars",
                "16",
                "--temperature",
                "0.3",
                "--only-new",
            ];
            let res = generate("accompany", &song(), out, &model, &extra);
            assert!(res.status.success(), "{}", stderr(&res));
        }
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(
            bytes,
            std::fs::read(&b).unwrap(),
            "seed {seed}: same seed, same MIDI"
        );
        let (notes, _) = read_notes(&bytes).unwrap();
        // The melody is the voice (oboe, program 68 → the reed family); the answer avoids it.
        for n in &notes {
            assert!(
                !matches!(n.instrument, GmInstrument::Program(64..=71)),
                "seed {seed}: accompaniment in the melody's instrument: {n:?}"
            );
        }
        produced |= !notes.is_empty();
    }
    assert!(produced, "no seed produced any accompaniment");
}

#[test]
fn continuation_and_infill_write_valid_midi_repeatably() {
    let model = fixture("tiny-beats");
    let input = song();
    for (cmd, extra) in [
        ("continue", vec!["--bars", "8"]),
        ("infill", vec!["--from-bar", "3", "--to-bar", "6"]),
    ] {
        let mut outputs = Vec::new();
        for i in 0..2 {
            let out = scratch(&format!("{cmd}-{i}.mid"));
            let mut args = vec!["--seed", "7", "--temperature", "0.3"];
            args.extend(extra.iter().copied());
            let res = generate(cmd, &input, &out, &model, &args);
            assert!(res.status.success(), "{cmd}: {}", stderr(&res));
            outputs.push(std::fs::read(&out).unwrap());
        }
        assert_eq!(outputs[0], outputs[1], "{cmd}: same seed, same MIDI");
        let (notes, _) = read_notes(&outputs[0]).unwrap();
        // The input's notes outside the regenerated span (bars 3–6 of 3/4: beats 6 to 18).
        let (input_notes, _) = read_notes(&std::fs::read(&input).unwrap()).unwrap();
        let kept = input_notes
            .iter()
            .filter(|n| cmd == "continue" || n.onset_beats < 6.0 || n.onset_beats >= 18.0)
            .count();
        assert!(
            notes.len() >= kept,
            "{cmd}: the input notes are kept around the answer"
        );
    }
}

#[test]
fn a_corrupt_onnx_file_exits_5() {
    let dir = tiny_beats_with("corrupt-model", "model.onnx", b"not an onnx file at all");
    let res = generate("accompany", &song(), &scratch("x.mid"), &dir, &[]);
    assert_eq!(res.status.code(), Some(5), "{}", stderr(&res));
    assert!(stderr(&res).contains("ONNX Runtime"), "{}", stderr(&res));
}

#[test]
fn a_model_json_that_disagrees_exits_5_and_names_the_field() {
    let text = std::fs::read_to_string(fixture("tiny-beats/model.json")).unwrap();
    let mut spec: serde_json::Value = serde_json::from_str(&text).unwrap();
    spec["vocab_size"] = 1234.into();
    let dir = tiny_beats_with("wrong-json", "model.json", spec.to_string().as_bytes());
    let res = generate("continue", &song(), &scratch("y.mid"), &dir, &[]);
    assert_eq!(res.status.code(), Some(5), "{}", stderr(&res));
    assert!(stderr(&res).contains("vocab_size"), "{}", stderr(&res));
}

#[test]
fn a_missing_runtime_library_exits_6_with_the_fix() {
    let res = antiphon()
        .args(["info", path(&fixture("tiny-beats"))])
        .env("ANTIPHON_ORT_LIB", "/nonexistent/libonnxruntime.so.1.31.1")
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(6), "{}", stderr(&res));
    let text = stderr(&res);
    assert!(
        text.contains("not found") && text.contains("cargo xtask ort"),
        "{text}"
    );
}

#[test]
fn a_midi_file_without_notes_exits_4() {
    let file = scratch("empty.mid");
    // A valid type-0 file: a tempo and the end of the track, no notes.
    let bytes: Vec<u8> = [
        b"MThd".as_slice(),
        &[0, 0, 0, 6, 0, 0, 0, 1, 1, 224],
        b"MTrk",
        &[
            0, 0, 0, 11, 0, 0xFF, 0x51, 3, 7, 0xA1, 0x20, 0, 0xFF, 0x2F, 0,
        ],
    ]
    .concat();
    std::fs::write(&file, bytes).unwrap();
    let res = generate(
        "continue",
        &file,
        &scratch("z.mid"),
        &fixture("tiny-beats"),
        &[],
    );
    assert_eq!(res.status.code(), Some(4), "{}", stderr(&res));
    assert!(stderr(&res).contains("no notes"), "{}", stderr(&res));
}

#[test]
fn garbage_instead_of_midi_exits_3() {
    let file = scratch("garbage.mid");
    std::fs::write(&file, b"MThd this is not really a MIDI file").unwrap();
    let res = generate(
        "continue",
        &file,
        &scratch("w.mid"),
        &fixture("tiny-beats"),
        &[],
    );
    assert_eq!(res.status.code(), Some(3), "{}", stderr(&res));
}

#[test]
fn bad_arguments_exit_2() {
    let model = fixture("tiny-beats");
    let res = generate(
        "continue",
        &song(),
        Path::new("/dev/null"),
        &model,
        &["--temperature", "9"],
    );
    assert_eq!(res.status.code(), Some(2), "{}", stderr(&res));
    let res = run(&["continue"]);
    assert_eq!(res.status.code(), Some(2));
}

#[test]
fn info_and_bench_describe_the_model() {
    let res = run(&["info", path(&fixture("tiny-amt"))]);
    assert!(res.status.success(), "{}", stderr(&res));
    let text = String::from_utf8_lossy(&res.stdout);
    assert!(text.contains("55028 ids") && text.contains("CPU"), "{text}");
    assert!(text.contains("weights:        float32\n"), "{text}");

    let res = run(&[
        "bench",
        path(&fixture("tiny-beats")),
        "--decode-tokens",
        "64",
    ]);
    assert!(res.status.success(), "{}", stderr(&res));
    let report: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    for key in [
        "runtime_path",
        "runtime_version",
        "execution_provider",
        "prefill_ms",
        "decode_tokens_per_s",
        "first_note_ms",
    ] {
        assert!(!report[key].is_null(), "bench JSON lacks {key}: {report}");
    }
    assert_eq!(report["runtime_version"], "1.31.1");
    assert_eq!(report["prefill_tokens"], 1023);
}

#[test]
fn the_whole_melody_key_changes_only_what_a_key_model_hears() {
    let song = song();
    let answer = |model: &str, name: &str, extra: &[&str]| {
        let out = scratch(name);
        let mut args = vec!["--seed", "3", "--only-new", "--steering", "off"];
        args.extend_from_slice(extra);
        let res = generate("accompany", &song, &out, &fixture(model), &args);
        assert!(res.status.success(), "{}", stderr(&res));
        std::fs::read(&out).unwrap()
    };
    let causal = answer("tiny-key", "key-causal.mid", &[]);
    let whole = answer("tiny-key", "key-whole.mid", &["--whole-melody-key"]);
    assert_ne!(
        causal, whole,
        "the key of the whole melody is another input"
    );
    assert_eq!(
        whole,
        answer("tiny-key", "key-whole-again.mid", &["--whole-melody-key"])
    );
    // A model without the key input reads nothing of it.
    assert_eq!(
        answer("tiny-beats", "plain-causal.mid", &[]),
        answer("tiny-beats", "plain-whole.mid", &["--whole-melody-key"])
    );
}

#[test]
fn steering_off_writes_the_answers_of_the_engine_before_steering() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join("tests/data/golden");
    for cmd in ["accompany", "continue"] {
        for seed in ["1", "2"] {
            let out = scratch(&format!("golden-{cmd}-{seed}.mid"));
            let model = fixture("tiny-beats");
            let extra = ["--seed", seed, "--only-new", "--steering", "off"];
            let res = generate(cmd, &song(), &out, &model, &extra);
            assert!(res.status.success(), "{}", stderr(&res));
            let expected =
                std::fs::read(golden.join(format!("song-{cmd}-seed{seed}.mid"))).unwrap();
            assert_eq!(std::fs::read(&out).unwrap(), expected, "{cmd}, seed {seed}");
        }
    }
}

#[test]
fn a_key_and_range_without_a_playable_note_exit_2_with_the_reason() {
    let out = scratch("unplayable.mid");
    let model = fixture("tiny-beats");
    let song = song();
    let extra = ["--key", "D", "--key-lock", "100", "--range", "C4-C4"];
    let res = generate("accompany", &song, &out, &model, &extra);
    assert_eq!(res.status.code(), Some(2), "{}", stderr(&res));
    assert!(
        stderr(&res).contains("no note from 60 to 60 is in D major"),
        "{}",
        stderr(&res)
    );
    for bad in [
        ["--key", "H"],
        ["--range", "72-48x"],
        ["--key-lock", "120"],
        ["--max-voices", "0"],
    ] {
        let res = generate("continue", &song, &out, &model, &bad);
        assert_eq!(res.status.code(), Some(2), "{bad:?}: {}", stderr(&res));
    }
}

#[test]
fn strict_steering_keeps_the_answer_in_the_key_and_range_and_says_the_key() {
    let out = scratch("strict.mid");
    let model = fixture("tiny-beats");
    let song = song();
    let extra = [
        "--seed",
        "4",
        "--only-new",
        "--key",
        "Eb",
        "--key-lock",
        "100",
        "--range",
        "C2-C5",
    ];
    let res = generate("accompany", &song, &out, &model, &extra);
    assert!(res.status.success(), "{}", stderr(&res));
    assert!(
        stderr(&res).contains("key E♭ major (fixed)"),
        "{}",
        stderr(&res)
    );
    let (notes, _) = read_notes(&std::fs::read(&out).unwrap()).unwrap();
    assert!(!notes.is_empty());
    let e_flat = [3u8, 5, 7, 8, 10, 0, 2];
    for n in notes.iter().filter(|n| n.instrument != GmInstrument::Drums) {
        assert!(
            e_flat.contains(&(n.pitch % 12)),
            "{} is not in E♭ major",
            n.pitch
        );
        assert!((36..=72).contains(&n.pitch), "{} is outside C2–C5", n.pitch);
    }
}
