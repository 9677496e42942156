//! Choosing a part by track: the melody that the accompaniment task gives as controls.
//!
//! Pure. Instrument codes cannot tell violin I from violin II (both GM program 40, one code),
//! so the melody is chosen by the track chunk its notes came from ([`NoteSource::track`]).

use super::midi::NoteSource;
use std::collections::BTreeMap;

/// GM programs that carry a sung or sung-like line in score renditions: choir aahs, voice
/// oohs, synth voice (52–54), and the reed and pipe families (64–79), which MuseScore and
/// other notation programs use to sound a vocal staff (OpenScore Lieder: mostly 68 oboe, also
/// 52, 69, 70, 71, 73, 74).
pub fn is_voice_like(program: u8) -> bool {
    matches!(program, 52..=54 | 64..=79)
}

/// GM program 40, violin: the first note-bearing track with it is a quartet's violin I.
pub const VIOLIN_PROGRAM: u8 = 40;

/// The melody track of a file, or `None`:
///
/// 1. the file needs notes on at least two tracks, drums included (a voice over a drum kit is
///    accompanied by the kit);
/// 2. the first track (in file order) whose first pitched note has a voice-like program
///    ([`is_voice_like`]): the voice of a song, the top voice of a choral piece;
/// 3. otherwise the first track whose first pitched note has program 40: violin I of a quartet.
///
/// A track's program is that of its first pitched note; later program changes on it
/// (pizzicato, tremolo) keep the notes in the part. Drum notes never make a track the melody.
pub fn melody_track(sources: &[NoteSource]) -> Option<u16> {
    let mut several_tracks = false;
    // The program of each track's first pitched note, in track order.
    let mut programs: BTreeMap<u16, u8> = BTreeMap::new();
    for s in sources {
        several_tracks |= s.track != sources[0].track;
        if !s.is_drum {
            programs.entry(s.track).or_insert(s.program);
        }
    }
    if !several_tracks {
        return None;
    }
    let first_with =
        |wanted: &dyn Fn(u8) -> bool| programs.iter().find(|&(_, &p)| wanted(p)).map(|(&t, _)| t);
    first_with(&is_voice_like).or_else(|| first_with(&|p| p == VIOLIN_PROGRAM))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(track: u16, program: u8) -> NoteSource {
        NoteSource {
            track,
            program,
            is_drum: false,
        }
    }

    #[test]
    fn song_melody_is_the_voice_track_not_the_piano() {
        // Piano staves on tracks 2 and 3 sound before the voice enters on track 1.
        let s = [src(2, 0), src(3, 0), src(1, 68), src(2, 0)];
        assert_eq!(melody_track(&s), Some(1));
        assert_eq!(melody_track(&[src(1, 0), src(2, 52)]), Some(2));
    }

    #[test]
    fn quartet_melody_is_the_first_violin_track() {
        // Violin II (track 2) plays first; violin I (track 1) then plays pizzicato (45).
        let s = [src(2, 40), src(3, 41), src(4, 42), src(1, 40), src(1, 45)];
        assert_eq!(melody_track(&s), Some(1));
    }

    #[test]
    fn first_note_decides_a_tracks_program() {
        // Track 1 starts pizzicato: not counted as the violin; track 2 is.
        let s = [src(1, 45), src(1, 40), src(2, 40)];
        assert_eq!(melody_track(&s), Some(2));
    }

    fn drum(track: u16) -> NoteSource {
        NoteSource {
            track,
            program: 0,
            is_drum: true,
        }
    }

    #[test]
    fn no_melody_for_one_track_or_no_candidate() {
        assert_eq!(melody_track(&[src(1, 68), src(1, 68)]), None);
        assert_eq!(melody_track(&[src(1, 0), src(2, 41)]), None);
        assert_eq!(melody_track(&[drum(1), drum(2)]), None);
        // Drums on the voice's own track are not a second part.
        assert_eq!(melody_track(&[src(1, 68), drum(1)]), None);
    }

    #[test]
    fn a_voice_over_drums_is_accompanied_by_the_drums() {
        assert_eq!(melody_track(&[drum(2), src(1, 68)]), Some(1));
        assert_eq!(melody_track(&[src(3, 0), drum(2)]), None);
    }
}
