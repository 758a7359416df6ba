//! The `emo` binary: parse the command line, dispatch, map errors to exit codes.

use clap::Parser;
use emo::cli::{Cli, Command};

fn main() {
    emo::embed::encoder::configure_process();
    emo::atomic::report_file_size_limit();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Embed(args) => emo::commands::embed::run(&args),
        Command::CompareSampling(args) => emo::commands::compare::run(&args),
        Command::Train(args) => emo::commands::train::run(&args),
        Command::Classify(args) => emo::commands::classify::run(&args),
        Command::Evaluate(args) => emo::commands::evaluate::run(&args),
    };
    if let Err(err) = result {
        eprintln!("emo: error: {err:#}");
        std::process::exit(emo::error::exit_code(&err));
    }
}
