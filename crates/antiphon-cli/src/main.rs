//! `antiphon`: the command-line tool, on the main thread (and a rayon pool for `tokenize`). It
//! runs the plugin's engine on MIDI files and never touches the plugin itself. This file only
//! parses and dispatches; each family of subcommands lives in its own module.

mod generate_cmd;
mod steering_args;
mod tokens_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Antiphon's command-line tool: the engine of the plugin, without a DAW.
#[derive(Parser, Debug)]
#[command(
    name = "antiphon",
    version,
    about,
    after_help = "Exit codes: 0 success; 1 other failure; 2 bad arguments; 3 unreadable MIDI \
                  input; 4 no notes (or no melody) to work from; 5 model cannot be loaded; \
                  6 ONNX Runtime missing or the wrong version; 7 generation failed."
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// Every subcommand, gathered from the modules.
#[derive(Subcommand, Debug)]
enum Command {
    /// Engine subcommands: continue, accompany, infill, info, bench.
    #[command(flatten)]
    Generate(generate_cmd::GenerateCommand),
    /// Token subcommands: tokens, tokenize, detokenize, vocab.
    #[command(flatten)]
    Tokens(tokens_cmd::TokensCommand),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Generate(cmd) => cmd.run(),
        Command::Tokens(cmd) => cmd.run().map_err(|e| generate_cmd::Failure {
            code: 1,
            message: format!("{e:#}"),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("antiphon: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
