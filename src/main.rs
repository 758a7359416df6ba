//! The `emo` binary: parse the command line, dispatch, map errors to exit codes.

use emo::cli::Command;

fn main() {
    emo::embed::encoder::configure_process();
    emo::atomic::report_file_size_limit();
    emo::error::one_line_panics();
    let cli = emo::cli::parse();
    // Unwinding (rather than exiting inside the panic hook) lets the half-written
    // report folders clean themselves up before the one line is said.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match cli.command {
        Command::Embed(args) => emo::commands::embed::run(&args),
        Command::CompareSampling(args) => emo::commands::compare::run(&args),
        Command::CompareFeatures(args) => emo::commands::features::run(&args),
        Command::Train(args) => emo::commands::train::run(&args),
        Command::Classify(args) => emo::commands::classify::run(&args),
        Command::Evaluate(args) => emo::commands::evaluate::run(&args),
        Command::Quantify(args) => emo::commands::quantify::run(&args),
        Command::Serve(args) => emo::commands::serve::run(&args),
    }));
    match result {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            let (line, code) = emo::error::describe(&err);
            eprintln!("emo: error: {line}");
            std::process::exit(code);
        }
        Err(payload) => {
            let err = emo::error::panic_error(payload.as_ref());
            eprintln!("emo: error: {err}");
            std::process::exit(emo::error::exit_code(&err));
        }
    }
}
