//! The command line: clap definitions ([`args`]), one module per subcommand, the printing they
//! share ([`output`], [`entry`]) and the advice that names flags and commands ([`hints`]).
//!
//! Each subcommand module parses nothing and decides nothing of the domain: it calls the library,
//! then prints what came back. It never prints with `println!`: every write can fail (a closed
//! pipe) and that failure travels back to `main`, which exits quietly.

pub mod append;
pub mod args;
pub mod attach;
pub mod audit;
pub mod backup;
pub mod checkpoint;
pub mod completions;
pub mod demo;
pub mod entry;
pub mod evidence;
pub mod export;
pub mod hints;
pub mod import;
pub mod init;
pub mod key;
pub mod log;
pub mod man;
pub mod output;
pub mod passphrase;
pub mod project;
pub mod prove;
pub mod publish;
pub mod receipt;
pub mod reindex;
pub mod restore;
pub mod show;
pub mod upgrade;
pub mod verify;
pub mod witness;

/// How a command that ran to its end went.
pub enum Outcome {
    Ok,
    /// A verification ran and found problems (exit status 1).
    Problems,
}

/// The exit status of a failed command: 1 when what failed was a check that found a problem in
/// entries (a refused backup or upgrade) or in a log's checkpoints (a witness's refusal), 2
/// otherwise.
pub fn exit_status(error: &anyhow::Error) -> u8 {
    let problem = error.chain().any(|cause| {
        cause
            .downcast_ref::<ledger::backup::BackupError>()
            .is_some_and(ledger::backup::BackupError::is_problem)
            || cause
                .downcast_ref::<ledger::legacy::UpgradeError>()
                .is_some_and(ledger::legacy::UpgradeError::is_problem)
            || cause
                .downcast_ref::<ledger::note::witness::WitnessError>()
                .is_some_and(ledger::note::witness::WitnessError::is_problem)
            || cause
                .downcast_ref::<ledger::remote::RemoteError>()
                .is_some_and(ledger::remote::RemoteError::is_problem)
            || cause
                .downcast_ref::<ledger::audit::AuditError>()
                .is_some_and(ledger::audit::AuditError::is_problem)
            || cause
                .downcast_ref::<ledger::checkpoints::CheckpointsError>()
                .is_some_and(|e| {
                    matches!(e, ledger::checkpoints::CheckpointsError::Diverged { .. })
                })
    });
    if problem {
        1
    } else {
        2
    }
}
