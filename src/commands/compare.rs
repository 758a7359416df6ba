//! `emo compare-sampling`: the whole study in one command — data, embeddings
//! (cached), every method, test metrics — printed as a table and saved with the
//! config that produced it.

use super::load::task_of;
use super::study::study;
use super::task::TaskLabel;
use crate::cli::CompareArgs;
use crate::data::{LabelSet, Task};
use anyhow::Result;

/// Single- or multi-label is decided here, once, from the data asked for.
pub fn run(args: &CompareArgs) -> Result<()> {
    match task_of(&args.data) {
        Task::SingleLabel => report::<usize>(args),
        Task::MultiLabel => report::<LabelSet>(args),
    }
}

fn report<L: TaskLabel>(args: &CompareArgs) -> Result<()> {
    let (study, out) = study::<L>(args)?;
    print!("{}", L::terminal_table(&study));
    println!("\nreport: {}", out.join("index.html").display());
    Ok(())
}
