//! GUI thread: what each control's tooltip says. The sentence says what the control does to
//! the music; the range and the default are read from the parameter itself (`params.rs` is the
//! one source of ranges and defaults), so they cannot drift from what the plugin does.

use crate::params::AntiphonParams;
use nice_plug::prelude::Param;

/// What a parameter does to the music, in a musician's words, by its stable id.
pub fn what(id: &str) -> &'static str {
    match id {
        "mode" => "What Antiphon does with what you play.",
        "bars" => {
            "Continue: how many bars the answer lasts. Accompany: how many bars of melody \
             make one window, which is accompanied on its next pass."
        }
        "temperature" => {
            "How adventurous the answer is: to the left it keeps to the likeliest notes \
             (safer, more predictable), to the right it takes more chances (wilder)."
        }
        "top_p" => {
            "Leaves out unlikely notes: lower keeps only the most probable choices (tidier), \
             1.0 allows every note the model thinks possible."
        }
        "instrument" => {
            "The General MIDI family the answer plays in, or Drums. Auto lets the model \
             choose (Continue keeps to the instruments of your phrase)."
        }
        "velocity" => "How hard the answer's notes are played: Follow copies your recent playing.",
        "out_channel" => "The MIDI channel the answer comes out on.",
        "thru" => "Whether the notes you play pass through to the output with the answer.",
        "seed" => {
            "New each time gives a different answer every time; any other number repeats the \
             same answer to the same playing (each Regenerate moves it on by one)."
        }
        "freeze" => "Keep the current answer and play it again instead of writing new ones.",
        "regenerate" => "Throw the last answer away and write another one now.",
        "key" => {
            "The key the answer keeps to: Follow finds it from what you play, Off leaves \
             the answer free, or choose one of the 24 keys."
        }
        "key_lock" => {
            "How strictly the answer keeps to the key's scale: 0 % leaves notes outside it \
             alone, 100 % forbids them."
        }
        "harmony" => {
            "How strongly the answer agrees with the melody sounding at the same moment \
             (favours chord tones, avoids clashes)."
        }
        "low_note" => "The lowest note the answer may play. Auto gives an accompaniment a bass.",
        "high_note" => "The highest note the answer may play. Auto leaves the melody room.",
        "density" => "About how many notes per bar the answer plays. Auto lets the model decide.",
        "max_voices" => "The most notes the answer starts at the same moment (1 = one line).",
        _ => "",
    }
}

/// The tooltip of the control for `param` (id `id`): what it does, its range, its default.
pub fn tip<P: Param>(id: &str, param: &P) -> String {
    let default = param.normalized_value_to_string(param.default_normalized_value(), true);
    let range = match param.step_count() {
        // Short lists read better whole.
        Some(steps) if steps <= 4 => {
            format!("Choices: {}.", super::widgets::choices(param).join(", "))
        }
        _ => format!(
            "Range: {} to {}.",
            param.normalized_value_to_string(0.0, true),
            param.normalized_value_to_string(1.0, true)
        ),
    };
    format!("{}\n{range} Default: {default}.", what(id))
}

/// The tooltip of one Mode button.
pub fn mode_button(params: &AntiphonParams, index: usize) -> String {
    let bars = params.bars.to_string();
    let default = params
        .mode
        .normalized_value_to_string(params.mode.default_normalized_value(), false);
    let does = match index {
        0 => format!(
            "Continue (call and response): play a phrase and stop; Antiphon continues it for \
             Bars ({bars}) from the next bar line."
        ),
        _ => format!(
            "Accompany: play or loop a melody; Antiphon records Bars ({bars}) of it and \
             accompanies them on the next pass, in time with the repeated melody."
        ),
    };
    format!("{does}\nDefault: {default}.")
}

/// One line under the Mode buttons: what the mode does and what Bars means in it.
pub fn mode_line(params: &AntiphonParams) -> String {
    let bars = params.bars.to_string();
    match params.mode.value() {
        crate::params::Mode::Continue => {
            format!("Answers each phrase you play when you stop. Bars: the answer lasts {bars}.")
        }
        crate::params::Mode::Accompany => {
            format!("Accompanies a melody on its next pass. Bars: each window records {bars}.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tips_read_range_and_default_from_the_parameter() {
        let params = AntiphonParams::default();
        let bars = tip("bars", &params.bars);
        assert!(bars.contains("Range: 1 bars to 32 bars."), "{bars}");
        assert!(bars.contains("Default: 4 bars."), "{bars}");
        let mode = tip("mode", &params.mode);
        assert!(mode.contains("Choices: Continue, Accompany."), "{mode}");
        let velocity = tip("velocity", &params.velocity);
        assert!(velocity.contains("Default: Follow."), "{velocity}");
    }

    #[test]
    fn every_parameter_has_a_sentence() {
        let params = AntiphonParams::default();
        use nice_plug::prelude::Params;
        for (id, _, _) in params.param_map() {
            assert!(!what(&id).is_empty(), "{id} has no tooltip sentence");
        }
    }
}
