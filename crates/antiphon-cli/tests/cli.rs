//! The `antiphon` token subcommands, run as a user would, on the conformance files.

// The conformance cases and their loader, shared with the root crate's tests.
#[path = "../../../tests/amt/mod.rs"]
mod amt;

use std::path::{Path, PathBuf};
use std::process::Command;

use amt::{cases, conformance_dir, ids, load_json};
use antiphon_tokens::VocabSpec;

fn antiphon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_antiphon"))
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("antiphon-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("antiphon runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `antiphon tokenize --vocab VOCAB OPTIONS… -o OUT INPUT`.
fn tokenize(vocab: &str, options: &[&str], input: &Path, out: &Path) {
    run(antiphon()
        .args(["tokenize", "--vocab", vocab])
        .args(options)
        .arg("-o")
        .arg(out)
        .arg(input));
}

/// The conformance files tokenized into `out` as the reference's corpus was.
fn tokenize_amt(out: &Path) {
    tokenize("amt", &[], &conformance_dir().join("midi"), out);
}

/// The reference's corpus of the conformance files, as text.
fn reference_corpus() -> String {
    std::fs::read_to_string(conformance_dir().join("training/corpus_tokenize_augment1.txt"))
        .unwrap()
}

/// Token ids written as text, separated by white space.
fn parse_ids(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect()
}

/// The triples of ids written as text, sorted to compare them whatever their order.
fn sorted_triples(text: &str) -> Vec<Vec<u32>> {
    let mut triples: Vec<Vec<u32>> = parse_ids(text).chunks(3).map(|c| c.to_vec()).collect();
    triples.sort();
    triples
}

#[test]
fn tokens_prints_the_reference_events_of_every_file() {
    let dir = conformance_dir();
    for case in cases() {
        let out = run(antiphon()
            .arg("tokens")
            .arg(dir.join("midi").join(&case.name)));
        assert_eq!(out.lines().count(), 1, "{}", case.name);
        assert_eq!(
            parse_ids(&out),
            ids(&case.expected["events"]),
            "{}",
            case.name
        );
    }
}

#[test]
fn tokens_reports_damaged_files_as_errors() {
    let tmp = scratch("damaged");
    let bytes = std::fs::read(conformance_dir().join("midi/11_synth_tempo_changes.mid")).unwrap();
    let cut = tmp.join("cut.mid");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = antiphon().arg("tokens").arg(&cut).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}

#[test]
fn tokenize_amt_text_output_equals_the_reference_corpus() {
    let tmp = scratch("text");
    let out = tmp.join("corpus.txt");
    tokenize_amt(&out);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), reference_corpus());
}

#[test]
fn tokenize_binary_output_reads_back_with_its_index() {
    let tmp = scratch("binary");
    let out = tmp.join("corpus.bin");
    tokenize_amt(&out);
    let index = load_json(&tmp.join("corpus.json"));
    assert_eq!(index["dtype"], "<u2");
    assert_eq!(index["line_tokens"], 1024);
    assert_eq!(
        VocabSpec::from_json(&index["vocab"].to_string()).unwrap(),
        VocabSpec::amt()
    );
    let bytes = std::fs::read(&out).unwrap();
    let ids: Vec<u32> = bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as u32)
        .collect();
    assert_eq!(ids, parse_ids(&reference_corpus()));
    assert_eq!(
        index["num_lines"].as_u64().unwrap() as usize * 1024,
        ids.len()
    );
    let files = index["files"].as_array().unwrap();
    assert_eq!(files.len(), cases().len());
    for f in files {
        match f["status"].as_str().unwrap() {
            "accepted" => assert!(f["line_start"].as_u64() <= f["line_end"].as_u64()),
            _ => assert!(f["line_start"].is_null() && f["line_end"].is_null()),
        }
    }
}

#[test]
fn tokenize_is_deterministic_whatever_the_thread_count() {
    let tmp = scratch("threads");
    let midi = conformance_dir().join("midi");
    let mut outputs = Vec::new();
    for jobs in ["1", "2", "5"] {
        let out = tmp.join(format!("beats{jobs}.bin"));
        let options = ["--augment", "10", "--seed", "7", "--jobs", jobs];
        tokenize("beats", &options, &midi, &out);
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert!(!outputs[0].is_empty());
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

/// A type-1 song of 120 quarter notes: a voice (program 68, track 1) over a piano bass
/// (program 0, track 2), 480 ticks per quarter.
fn song_midi() -> Vec<u8> {
    fn track(channel: u8, program: u8, base: u8) -> Vec<u8> {
        let mut t = vec![0, 0xc0 | channel, program];
        for i in 0..120u8 {
            let key = base + (i % 7) * 2;
            // delta 0 note-on, delta 480 (0x83 0x60) note-off.
            t.extend_from_slice(&[
                0,
                0x90 | channel,
                key,
                80,
                0x83,
                0x60,
                0x80 | channel,
                key,
                0,
            ]);
        }
        t.extend_from_slice(&[0, 0xff, 0x2f, 0]);
        t
    }
    let mut out = b"MThd\0\0\0\x06\0\x01\0\x03\x01\xe0".to_vec();
    for body in [vec![0, 0xff, 0x2f, 0], track(0, 68, 60), track(1, 0, 36)] {
        out.extend_from_slice(b"MTrk");
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
    }
    out
}

#[test]
fn tokenize_transposes_and_adds_the_accompaniment_task_deterministically() {
    let tmp = scratch("accompany");
    let input = tmp.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("song.mid"), song_midi()).unwrap();
    for entry in std::fs::read_dir(conformance_dir().join("midi")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, input.join(path.file_name().unwrap())).unwrap();
    }
    let tokenize = |name: &str, jobs: &str, extra: &[&str]| {
        let out = tmp.join(name);
        let mut options = vec!["--augment", "20", "--seed", "3", "--jobs", jobs];
        options.extend_from_slice(extra);
        tokenize("beats", &options, &input, &out);
        let index = load_json(&out.with_extension("json"));
        (std::fs::read(&out).unwrap(), index)
    };
    let extra = ["--transpose", "-5..6", "--accompany-share", "0.3"];
    let (one, index) = tokenize("a1.bin", "1", &extra);
    let (three, _) = tokenize("a3.bin", "3", &extra);
    assert!(!one.is_empty());
    assert_eq!(one, three, "same bytes whatever the thread count");
    assert_eq!(index["transpose"], serde_json::json!([-5, 6]));
    let stats = &index["stats"];
    let acc = stats["accompaniment_sequences"].as_u64().unwrap();
    let sequences = stats["sequences"].as_u64().unwrap();
    assert!(
        acc > 0 && acc * 2 < sequences,
        "about 30 % of the sequences of files with a melody: {acc} of {sequences}"
    );
    assert!(stats["transposed_sequences"].as_u64().unwrap() > 0);

    // Without the new options the output is the reference task mix, byte for byte.
    let (plain, _) = tokenize("p.bin", "2", &[]);
    let (zero, index) = tokenize("z.bin", "2", &["--accompany-share", "0"]);
    assert_eq!(plain, zero);
    assert_eq!(index["stats"]["accompaniment_sequences"], 0);
    assert_ne!(plain, one);

    let bad = antiphon()
        .args(["tokenize", "--accompany-share", "1.5", "-o"])
        .arg(tmp.join("x.bin"))
        .arg(&input)
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn vocab_prints_each_preset() {
    for (name, spec) in [
        ("amt", VocabSpec::amt()),
        ("amt-large", VocabSpec::amt_large()),
        ("beats", VocabSpec::beats()),
    ] {
        let out = run(antiphon().args(["vocab", "--preset", name]));
        assert_eq!(VocabSpec::from_json(&out).unwrap(), spec, "{name}");
    }
}

#[test]
fn detokenize_writes_midi_that_tokenizes_back() {
    let tmp = scratch("detok");
    let dir = conformance_dir();
    let src = dir.join("midi/14_synth_type0_cc_between_notes.mid");
    let ids_txt = tmp.join("ids.txt");
    std::fs::write(&ids_txt, run(antiphon().arg("tokens").arg(&src))).unwrap();
    let out = tmp.join("back.mid");
    run(antiphon()
        .arg("detokenize")
        .arg(&ids_txt)
        .arg("-o")
        .arg(&out));
    let again = run(antiphon().arg("tokens").arg(&out));
    assert_eq!(
        sorted_triples(&std::fs::read_to_string(&ids_txt).unwrap()),
        sorted_triples(&again)
    );

    // --reference reproduces the reference's own file byte for byte.
    let src = dir.join("midi/11_synth_tempo_changes.mid");
    std::fs::write(&ids_txt, run(antiphon().arg("tokens").arg(&src))).unwrap();
    run(antiphon()
        .arg("detokenize")
        .arg("--reference")
        .arg(&ids_txt)
        .arg("-o")
        .arg(&out));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(dir.join("roundtrip/11_synth_tempo_changes.mid")).unwrap()
    );
}

#[test]
fn detokenize_reads_one_line_of_a_binary_corpus() {
    let tmp = scratch("detok-bin");
    let bin = tmp.join("c.bin");
    tokenize("beats", &[], &conformance_dir().join("midi"), &bin);
    let out = tmp.join("line0.mid");
    run(antiphon()
        .arg("detokenize")
        .arg(&bin)
        .args(["--line", "0", "-o"])
        .arg(&out));
    let ids = run(antiphon().args(["tokens", "--vocab", "beats"]).arg(&out));
    assert!(ids.split_whitespace().count() > 300);
}
