#!/usr/bin/env python3
"""Drum parts for training (issue 13): Groove MIDI performances, alone and under real songs.

    python make_drum_songs.py --groove ../../../shared/data/groove --songs work/split/train \
        --out work/drums --seed 1

Writes, for each side of the Groove dataset's own split (`info.csv`: train, validation, test):

- `<out>/groove-<side>/`: that side's performances (beats and fills) with the kit's keys mapped
  to General MIDI (`GROOVE_TO_GM`), which `antiphon tokenize` reads as drum lines,
  autoregressive, never transposed;
- `<out>/songs-train/` (only with `--songs`): one file per 4/4 beat performance of the train
  side: a real 4/4 song of the training split (voice and accompaniment, unchanged) with the
  performance looped under it, bar-aligned, on General MIDI channel 10. `antiphon tokenize
  --accompany-share` makes accompaniment lines of them (the voice as controls, the piano part
  and the drums as events), so the model meets drums in a band;
- `<out>/duos-train/` (only with `--songs`): the same performances under the melody alone of
  another song (the track `antiphon tokenize` takes as the melody: the first with a voice-like
  program, else violin I): accompaniment lines whose only events are drums, which is what
  Instrument = Drums asks of the model. The drums do not follow a song's form; they keep its
  metre.

The dataset records the drummers playing to a click at the file's tempo, so its ticks are beats
(480 per quarter); a song's ticks are scaled from its own resolution. A song is used when every
time signature in it is 4/4 and the first is at tick 0 (a pickup bar written as a short bar
would shift the downbeat); in each folder a song carries at most one performance.
"""

import argparse
import csv
import json
import random
from pathlib import Path

import mido

DRUM_CHANNEL = 9
BAR_BEATS = 4
VIOLIN = 40
# The recording kit (Roland TD-11) plays the hi-hat's edge on keys 22 (closed) and 26 (open),
# outside the General MIDI drum map, and the floor tom's rim on 58 (a vibraslap in General
# MIDI); the dataset's own table maps them to 42, 46 and 43 (its simplified mapping). Every
# other key it uses is a General MIDI drum already. A model trained on the raw keys would play
# hi-hats a General MIDI kit leaves silent.
GROOVE_TO_GM = {22: 42, 26: 46, 58: 43}


def is_voice_like(program: int) -> bool:
    """As crates/antiphon-tokens/src/parts.rs: choir, voice and synth voice, reeds and pipes."""
    return 52 <= program <= 54 or 64 <= program <= 79


def performances(groove: Path) -> list[dict]:
    """The rows of the dataset's index, in its order."""
    with open(groove / "info.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def is_plain_four_four(midi: mido.MidiFile) -> bool:
    """Every time signature is 4/4, and there is one at tick 0."""
    signatures = []
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature":
                signatures.append((tick, msg.numerator, msg.denominator))
    return (bool(signatures) and min(t for t, _, _ in signatures) == 0
            and all((n, d) == (4, 4) for _, n, d in signatures))


def drum_notes(midi: mido.MidiFile) -> list[tuple[float, float, int, int]]:
    """(onset, duration, key, velocity) of the channel-10 notes, in beats from the start, keys
    mapped by GROOVE_TO_GM; a note left open is closed at its next onset or, at the end, a
    sixteenth after it began."""
    notes, open_at = [], {}
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off") or msg.channel != DRUM_CHANNEL:
                continue
            beat, key = tick / midi.ticks_per_beat, GROOVE_TO_GM.get(msg.note, msg.note)
            if key in open_at:
                onset, velocity = open_at.pop(key)
                notes.append((onset, beat - onset, key, velocity))
            if msg.type == "note_on" and msg.velocity > 0:
                open_at[key] = (beat, msg.velocity)
    notes += [(onset, 0.25, note, velocity) for note, (onset, velocity) in open_at.items()]
    return sorted(notes)


def melody_track(midi: mido.MidiFile) -> int | None:
    """The track `antiphon tokenize` gives as controls: the first whose first pitched note has a
    voice-like program, else the first with the violin's (programs as set on its channel)."""
    firsts = []
    for i, track in enumerate(midi.tracks):
        programs = [0] * 16
        for msg in track:
            if msg.type == "program_change":
                programs[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0 and msg.channel != DRUM_CHANNEL:
                firsts.append((i, programs[msg.channel]))
                break
    voice = [i for i, p in firsts if is_voice_like(p)] or [i for i, p in firsts if p == VIOLIN]
    return voice[0] if voice else None


def song_beats(midi: mido.MidiFile) -> float:
    """Where the song's last event is, in beats."""
    return max(sum(m.time for m in track) for track in midi.tracks) / midi.ticks_per_beat


def drum_track(notes: list[tuple[float, float, int, int]], beats: float, ticks_per_beat: int,
               ) -> mido.MidiTrack:
    """The performance looped in whole bars to cover `beats`, as one channel-10 track: a note is
    kept when its onset is inside the loop and before the song's end."""
    loop = max(BAR_BEATS, BAR_BEATS * round(notes[-1][0] / BAR_BEATS))
    events = []
    start = 0.0
    while start < beats:
        for onset, duration, note, velocity in notes:
            at = start + onset
            if onset >= loop or at >= beats:
                continue
            on = round(at * ticks_per_beat)
            off = max(on + 1, round((at + min(duration, 1.0)) * ticks_per_beat))
            events += [(on, 1, note, velocity), (off, 0, note, 0)]
        start += loop
    events.sort()  # at equal ticks, offsets (0) before onsets (1)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="Drums", time=0)])
    now = 0
    for tick, is_on, note, velocity in events:
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, channel=DRUM_CHANNEL, note=note, velocity=velocity,
                                  time=tick - now))
        now = tick
    return track


def copy_side(rows: list[dict], groove: Path, side: str, out: Path) -> int:
    """That side's performances, their keys mapped by GROOVE_TO_GM."""
    folder = out / f"groove-{side}"
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for row in rows:
        if row["split"] != side:
            continue
        midi = mido.MidiFile(groove / row["midi_filename"])
        for track in midi.tracks:
            for i, msg in enumerate(track):
                if msg.type in ("note_on", "note_off") and msg.channel == DRUM_CHANNEL:
                    track[i] = msg.copy(note=GROOVE_TO_GM.get(msg.note, msg.note))
        midi.save(folder / row["midi_filename"].replace("/", "_"))
        count += 1
    return count


def song_candidates(songs: Path) -> list[tuple[Path, bool]]:
    """The 4/4 songs of `songs` without drums, in path order, each with whether it has a melody
    track (read once for both the bands and the duos)."""
    candidates = []
    for path in sorted(songs.rglob("*.mid")):
        try:
            midi = mido.MidiFile(path)
        except (OSError, ValueError, EOFError, KeyError) as e:
            print(f"skipped {path}: {e}")
            continue
        if is_plain_four_four(midi) and not drum_notes(midi):
            candidates.append((path, melody_track(midi) is not None))
    return candidates


def make_songs(rows: list[dict], groove: Path, songs: Path, candidates: list[tuple[Path, bool]], out: Path,
               seed: int, duos: bool) -> list[dict]:
    """Songs with a drum part (`duos`: the melody alone with a drum part), one per 4/4 beat
    performance of the train side, each song of `candidates` (song_candidates) used once."""
    beats = [r for r in rows if r["split"] == "train" and r["beat_type"] == "beat"
             and r["time_signature"] == "4-4"]
    usable = [path for path, has_melody in candidates if has_melody or not duos]
    rng = random.Random(seed + duos)
    rng.shuffle(usable)
    folder = out / ("duos-train" if duos else "songs-train")
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for row, song_path in zip(beats, usable):
        song = mido.MidiFile(song_path)
        notes = drum_notes(mido.MidiFile(groove / row["midi_filename"]))
        if not notes:
            continue
        if duos:  # the melody and the tracks without notes (tempo, metre)
            keep = melody_track(song)
            song.tracks = [t for i, t in enumerate(song.tracks)
                           if i == keep or not any(m.type == "note_on" for m in t)]
        song.tracks.append(drum_track(notes, song_beats(song), song.ticks_per_beat))
        name = f"{len(made):04d}-{Path(row['midi_filename']).stem}-{song_path.stem}.mid"
        song.save(folder / name)
        made.append({"file": name, "song": str(song_path.relative_to(songs)),
                     "groove": row["midi_filename"], "style": row["style"]})
    print(f"{len(usable)} 4/4 songs without drums{' with a melody' if duos else ''}; "
          f"{len(made)} written to {folder}")
    return made


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--groove", type=Path, default=Path("../../../shared/data/groove"))
    p.add_argument("--songs", type=Path, help="a folder of training songs (e.g. work/split/train)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rows = performances(args.groove)
    summary = {side: copy_side(rows, args.groove, side, args.out)
               for side in ("train", "validation", "test")}
    print("performances written:", summary)
    if args.songs:
        candidates = song_candidates(args.songs)
        for duos in (False, True):
            made = make_songs(rows, args.groove, args.songs, candidates, args.out, args.seed, duos)
            name = "duos-train.json" if duos else "songs-train.json"
            with open(args.out / name, "w", encoding="utf-8") as f:
                json.dump(made, f, indent=1)


if __name__ == "__main__":
    main()
