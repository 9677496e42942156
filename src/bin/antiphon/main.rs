//! `antiphon`: the command-line tool. This file only parses and dispatches; each family of
//! subcommands lives in its own module.

mod tokens_cmd;

use clap::{Parser, Subcommand};

/// Antiphon's command-line tool.
#[derive(Parser, Debug)]
#[command(name = "antiphon", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// Every subcommand, gathered from the modules.
#[derive(Subcommand, Debug)]
enum Command {
    /// Token subcommands: tokens, tokenize, detokenize, vocab.
    #[command(flatten)]
    Tokens(tokens_cmd::TokensCommand),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Tokens(cmd) => cmd.run(),
    }
}
