//! One function per subcommand. These turn parsed arguments into calls on the
//! library modules; the modules themselves know nothing of the command line.

pub mod classify;
pub mod compare;
pub mod embed;
pub mod evaluate;
pub mod features;
pub mod load;
pub mod quantify;
pub mod serve;
pub mod study;
pub mod task;
pub mod train;
