//! The steering options of the generating commands, with the plugin's defaults.

use antiphon_engine::steering::{
    parse_note, DensityChoice, Key, KeyChoice, RangeChoice, Steering, DEFAULT_HARMONY,
    DEFAULT_KEY_LOCK, MAX_VOICES,
};
use clap::Args;

/// `--key`, `--key-lock`, `--harmony`, `--range`, `--density`, `--max-voices`, `--steering`.
#[derive(Args, Debug, Clone)]
pub struct SteeringArgs {
    /// Key of the answer: follow (estimated from what was heard), off, or a key such as C,
    /// F#, Bb (major) or Am, C#m, Ebm (minor).
    #[arg(long, default_value = "follow", value_parser = parse_key_choice)]
    key: KeyChoice,
    /// Key lock in percent: 0 leaves the model alone, 100 never plays a note outside the
    /// scale (minor keys: harmonic minor, and the raised sixth where the melody uses it).
    #[arg(long, default_value_t = DEFAULT_KEY_LOCK * 100.0, value_parser = parse_percent)]
    key_lock: f32,
    /// Harmony in percent: how strongly the answer avoids clashing with the melody note
    /// sounding at each onset and favours the tones of the chord it implies.
    #[arg(long, default_value_t = DEFAULT_HARMONY * 100.0, value_parser = parse_percent)]
    harmony: f32,
    /// Register of the answer: auto (a bass under the melody when accompanying, around the
    /// phrase when continuing), full, or LOW-HIGH as MIDI keys or names (36-72, C2-C5).
    #[arg(long, default_value = "auto", value_parser = parse_range)]
    range: RangeChoice,
    /// Notes per bar: auto (the phrase's when continuing, the model's own when
    /// accompanying), off, or a number.
    #[arg(long, default_value = "auto", value_parser = parse_density)]
    density: DensityChoice,
    /// The most notes starting together, 1–12.
    #[arg(long, default_value_t = MAX_VOICES, value_parser = clap::value_parser!(u8).range(1..=MAX_VOICES as i64))]
    max_voices: u8,
    /// `off` turns every steering control off (the raw model), whatever the options above say.
    #[arg(long, value_parser = ["on", "off"], default_value = "on")]
    steering: String,
}

impl SteeringArgs {
    /// The steering asked for; a range with no playable note is refused with the reason.
    pub fn steering(&self) -> Result<Steering, String> {
        if self.steering == "off" {
            return Ok(Steering::off());
        }
        let steering = Steering {
            key: self.key,
            key_lock: self.key_lock / 100.0,
            harmony: self.harmony / 100.0,
            range: self.range,
            density: self.density,
            max_voices: self.max_voices,
        };
        steering.check().map_err(|e| e.to_string())?;
        Ok(steering)
    }
}

fn parse_key_choice(text: &str) -> Result<KeyChoice, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "follow" | "auto" => Ok(KeyChoice::Follow),
        "off" | "none" => Ok(KeyChoice::Off),
        _ => text
            .parse::<Key>()
            .map(KeyChoice::Fixed)
            .map_err(|e| format!("{e}, or follow, or off")),
    }
}

fn parse_percent(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{text}' is not a percentage"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 100"))
    }
}

fn parse_range(text: &str) -> Result<RangeChoice, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => return Ok(RangeChoice::Auto),
        "full" | "off" => return Ok(RangeChoice::Full),
        _ => {}
    }
    let bad = || {
        format!("'{text}' is not a range: write LOW-HIGH, e.g. 36-72 or C2-C5, or auto, or full")
    };
    // The separator is the dash that follows a digit (C-1 is a note name).
    let split = text
        .char_indices()
        .skip(1)
        .find(|&(i, c)| c == '-' && text[..i].ends_with(|p: char| p.is_ascii_digit()))
        .map(|(i, _)| i)
        .ok_or_else(bad)?;
    let low = parse_note(&text[..split]).ok_or_else(bad)?;
    let high = parse_note(&text[split + 1..]).ok_or_else(bad)?;
    Ok(RangeChoice::Fixed { low, high })
}

fn parse_density(text: &str) -> Result<DensityChoice, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(DensityChoice::Auto),
        "off" => Ok(DensityChoice::Off),
        number => match number.parse::<f32>() {
            Ok(n) if (0.5..=64.0).contains(&n) => Ok(DensityChoice::NotesPerBar(n)),
            _ => Err(format!(
                "'{text}' is not a density: notes per bar from 0.5 to 64, or auto, or off"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_numbers_and_names() {
        assert_eq!(
            parse_range("36-72"),
            Ok(RangeChoice::Fixed { low: 36, high: 72 })
        );
        assert_eq!(
            parse_range("C2-C5"),
            Ok(RangeChoice::Fixed { low: 36, high: 72 })
        );
        assert_eq!(
            parse_range("C-1-G9"),
            Ok(RangeChoice::Fixed { low: 0, high: 127 })
        );
        assert_eq!(parse_range("auto"), Ok(RangeChoice::Auto));
        assert!(parse_range("C2").is_err());
        assert!(parse_range("C2-X5").is_err());
    }

    #[test]
    fn keys_percentages_and_densities() {
        assert_eq!(parse_key_choice("Follow"), Ok(KeyChoice::Follow));
        assert!(matches!(parse_key_choice("Ebm"), Ok(KeyChoice::Fixed(_))));
        assert!(parse_key_choice("Q").is_err());
        assert_eq!(parse_percent("80%"), Ok(80.0));
        assert!(parse_percent("120").is_err());
        assert_eq!(parse_density("8"), Ok(DensityChoice::NotesPerBar(8.0)));
        assert!(parse_density("0").is_err());
    }
}
