//! The command line: clap definitions ([`args`]), one module per subcommand, the printing they
//! share ([`output`], [`entry`]) and the advice that names flags and commands ([`hints`]).
//!
//! Each subcommand module parses nothing and decides nothing of the domain: it calls the library,
//! then prints what came back. It never prints with `println!`: every write can fail (a closed
//! pipe) and that failure travels back to `main`, which exits quietly.

pub mod append;
pub mod args;
pub mod attach;
pub mod completions;
pub mod demo;
pub mod entry;
pub mod export;
pub mod hints;
pub mod import;
pub mod init;
pub mod key;
pub mod log;
pub mod man;
pub mod output;
pub mod project;
pub mod reindex;
pub mod show;
pub mod verify;

/// How a command that ran to its end went.
pub enum Outcome {
    Ok,
    /// A verification ran and found problems (exit status 1).
    Problems,
}
