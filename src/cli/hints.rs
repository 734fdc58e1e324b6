//! Advice that names flags and commands, added to the library's neutral error sentences. The
//! library says what went wrong; this module knows what a user of this command line can do
//! about it, and finds it by the error's type and variant, through wrapped causes.

use ledger::backup::BackupError;
use ledger::checkpoints::CheckpointsError;
use ledger::demo::DemoError;
use ledger::export::ExportError;
use ledger::import::ImportError;
use ledger::keys::KeyError;
use ledger::ledger::{LedgerError, Refusal};
use ledger::legacy::UpgradeError;
use ledger::lock::LockError;
use ledger::log::LogError;
use ledger::note::checkpoint::CheckpointError;
use ledger::note::witness::WitnessError;
use ledger::projection::ProjectionError;
use ledger::rules::RuleViolation;
use ledger::tree::TreeError;
use std::error::Error;

/// The line `main` prints for a failed command: the error with its causes, and advice if any.
/// Library errors keep their causes as sources and do not repeat them in their own sentence, so
/// each cause is said once.
pub fn message(error: &anyhow::Error) -> String {
    match error.chain().find_map(hint) {
        Some(advice) => format!("{error:#}; {advice}"),
        None => format!("{error:#}"),
    }
}

/// Advice for one error, looking into the library errors it wraps.
fn hint(error: &(dyn Error + 'static)) -> Option<String> {
    if let Some(e) = error.downcast_ref::<std::io::Error>() {
        return io(e);
    }
    if let Some(e) = error.downcast_ref::<LogError>() {
        return log(e);
    }
    if let Some(e) = error.downcast_ref::<LockError>() {
        return lock(e);
    }
    if let Some(e) = error.downcast_ref::<LedgerError>() {
        return ledger(e);
    }
    if let Some(e) = error.downcast_ref::<RuleViolation>() {
        return rule(e);
    }
    if let Some(e) = error.downcast_ref::<KeyError>() {
        return key(e);
    }
    if let Some(e) = error.downcast_ref::<ProjectionError>() {
        return projection(e);
    }
    if let Some(e) = error.downcast_ref::<ExportError>() {
        return match e {
            ExportError::Projection(e) => projection(e),
            ExportError::Ledger(e) => ledger(e),
            ExportError::NotAnExport { .. } => {
                Some("pass --dir with a new directory, e.g. --dir export-2024-06".into())
            }
            ExportError::InsideLedger { .. } => {
                Some("pass a path outside the ledger's directory".into())
            }
            ExportError::Write { .. } => None,
        };
    }
    if let Some(e) = error.downcast_ref::<ImportError>() {
        return import(e);
    }
    if let Some(e) = error.downcast_ref::<BackupError>() {
        return backup(e);
    }
    if let Some(e) = error.downcast_ref::<UpgradeError>() {
        return upgrade(e);
    }
    if let Some(e) = error.downcast_ref::<CheckpointsError>() {
        return match e {
            CheckpointsError::NotAnAdmin { .. } => {
                Some("pass --key with the admin key's file (`ledger key list` shows the admin keys)".into())
            }
            CheckpointsError::Diverged { .. } => Some(
                "run `ledger verify` to find what changed; restore the ledger from a backup that extends the checkpoint".into(),
            ),
            CheckpointsError::NotOurs { .. } => Some(
                "pass the file `ledger checkpoint` wrote, with the witnesses' lines appended to it".into(),
            ),
            _ => None,
        };
    }
    if let Some(e) = error.downcast_ref::<WitnessError>() {
        return witness(e);
    }
    if let Some(e) = error.downcast_ref::<DemoError>() {
        return match e {
            DemoError::Occupied { .. } => Some("choose another --dir".into()),
            DemoError::Key(e) => key(e),
            DemoError::Ledger(e) => ledger(e),
            DemoError::Io { .. } | DemoError::Example { .. } => None,
        };
    }
    None
}

/// Faults of the machine rather than of the input. A command that fails on one has changed
/// nothing it had not finished (docs/reliability.md), so running it again is safe.
fn io(error: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Some(
            "free some space on that disk and run the command again".into(),
        ),
        ErrorKind::ReadOnlyFilesystem => Some(
            "that file system is mounted read-only: write to another place, or remount it read-write".into(),
        ),
        _ => None,
    }
}

fn log(error: &LogError) -> Option<String> {
    match error {
        LogError::Damaged { .. } | LogError::Head { .. } => Some(
            "run `ledger verify` for a full report, and restore the ledger from a backup you trust (`ledger restore`)".into(),
        ),
        LogError::Io { .. } | LogError::TooLong { .. } => None,
    }
}

fn lock(error: &LockError) -> Option<String> {
    match error {
        LockError::InUse { .. } => {
            Some("try again later, or let the command wait for it with --wait SECONDS".into())
        }
        LockError::Io { .. } => None,
    }
}

fn ledger(error: &LedgerError) -> Option<String> {
    match error {
        LedgerError::Behind { .. } => None,
        LedgerError::NoLedger { .. } => {
            Some("create one with `ledger init`, or point --ledger (or LEDGER_DIR) at one".into())
        }
        LedgerError::NotEmpty { .. } => Some("choose a new or empty --ledger directory".into()),
        LedgerError::OldLayout { .. } => Some(
            "run `ledger upgrade` once to move it to the current layout (it verifies the ledger before and after)".into(),
        ),
        LedgerError::Lock(e) => lock(e),
        LedgerError::Log(e) => log(e),
        LedgerError::Rejected(rejection) => match &rejection.refusal {
            Refusal::Rule(e) => rule(e),
            Refusal::TooLarge(_) => {
                Some("anchor large material by its hashes with `ledger attach`".into())
            }
            _ => None,
        },
        LedgerError::Damaged { .. } | LedgerError::DamagedEntry { .. } => {
            Some("run `ledger verify` for a full report".into())
        }
        LedgerError::DamagedState(_) => {
            Some("run `ledger reindex` to rebuild it from the log, then `ledger verify`".into())
        }
        LedgerError::Tree(e) => tree(e),
        LedgerError::NoSuchKey(_) => Some("`ledger key list` shows the enrolled keys".into()),
        LedgerError::Schemas(_)
        | LedgerError::EmptyBatch
        | LedgerError::Io { .. }
        | LedgerError::Db(_)
        | LedgerError::Input(_)
        | LedgerError::ReadOnly => None,
    }
}

fn tree(error: &TreeError) -> Option<String> {
    match error {
        TreeError::Short { .. } => Some(
            "the tree is derived from the log: `ledger reindex` rebuilds it, then run `ledger verify`"
                .into(),
        ),
        TreeError::Log(e) => log(e),
        TreeError::SizeBeyondLog { .. } | TreeError::SeqBeyondSize { .. } => {
            Some("`ledger verify` or `ledger log` shows how many entries the log holds".into())
        }
        TreeError::SizesOutOfOrder { .. } => {
            Some("give --from a size of at least 1 and no larger than --to".into())
        }
        TreeError::Io { .. } => None,
    }
}

fn backup(error: &BackupError) -> Option<String> {
    match error {
        BackupError::NotABackup { .. } => {
            Some("a backup is a file written by `ledger backup -o FILE`".into())
        }
        BackupError::Refused { .. } => Some(
            "the backup is cut short or was altered, or the ledger it was taken from was; restore from another copy".into(),
        ),
        BackupError::IntoLedger { .. } => {
            Some("choose an -o FILE outside the ledger directory".into())
        }
        BackupError::Log(e) => log(e),
        BackupError::Ledger(e) => ledger(e),
        BackupError::Io { .. } | BackupError::Empty => None,
    }
}

fn upgrade(error: &UpgradeError) -> Option<String> {
    match error {
        UpgradeError::NoLedger { .. } => {
            Some("point --ledger (or LEDGER_DIR) at the ledger directory to upgrade".into())
        }
        UpgradeError::Problem { .. } => Some(
            "keep the directory as evidence, and restore the ledger from a backup you trust".into(),
        ),
        UpgradeError::Lock(e) => lock(e),
        UpgradeError::Ledger(e) => ledger(e),
        UpgradeError::Log(e) => log(e),
        UpgradeError::Io { .. } | UpgradeError::Db(_) | UpgradeError::Unopenable { .. } => None,
    }
}

fn rule(error: &RuleViolation) -> Option<String> {
    match error {
        RuleViolation::UnknownKey { .. } => {
            Some("an admin can enrol it with `ledger key enroll`".into())
        }
        RuleViolation::NoActiveKeyNamed { .. } => {
            Some("`ledger key list` shows the enrolled keys".into())
        }
        _ => None,
    }
}

fn key(error: &KeyError) -> Option<String> {
    match error {
        KeyError::Exists { .. } => Some("choose another --out".into()),
        KeyError::NotAKeyFile { .. } => {
            Some("create one with `ledger key generate --out FILE`".into())
        }
        KeyError::TooOpen { path, .. } => Some(format!("run `chmod 600 {}`", path.display())),
        _ => None,
    }
}

fn witness(error: &WitnessError) -> Option<String> {
    match error {
        WitnessError::ProofNeeded { from, .. } => Some(format!(
            "ask the log for a consistency proof from size {from} (`ledger prove consistency --from {from}`) and give it with --proof"
        )),
        WitnessError::Checkpoint(CheckpointError::OriginMismatch { .. }) => {
            Some("give the verifier key of the checkpoint's log with --vkey".into())
        }
        WitnessError::Checkpoint(CheckpointError::Signature(_)) => Some(
            "check that --vkey is the log's verifier key; if it is, this checkpoint is not the log's"
                .into(),
        ),
        WitnessError::Fork { .. } => Some(
            "keep both checkpoints: two roots signed at one size are evidence that the log showed different histories".into(),
        ),
        WitnessError::InUse { .. } => Some("wait for the other cosign, or pass --wait SECONDS".into()),
        _ => None,
    }
}

fn projection(error: &ProjectionError) -> Option<String> {
    match error {
        ProjectionError::Ledger(e) => ledger(e),
        ProjectionError::Unknown { .. } => Some("`ledger project --list` names them".into()),
        ProjectionError::NoEventTime { .. } => Some("leave out --from and --to".into()),
        ProjectionError::EmptyWindow { .. } => {
            Some("--from is the first date to include and --to the last".into())
        }
        ProjectionError::PastHead { head, .. } => {
            Some(format!("pass --as-of {head} or less, or a date or time"))
        }
        ProjectionError::Cache(_) => None,
    }
}

fn import(error: &ImportError) -> Option<String> {
    match error {
        ImportError::Malformed { .. } => {
            Some("fix the row, or pass --skip-invalid to leave such rows out".into())
        }
        ImportError::Release { .. } => Some("pass --release LABEL, e.g. --release 23.1".into()),
        ImportError::RowTooLong { .. } => {
            Some("close the quote that opens on that line; nothing of this import was written".into())
        }
        ImportError::LargeRemoval { .. } => Some(
            "if the file is a filtered extract, pass --scope extract (with --country, --from and --to for what it covers); if it is a whole release that really dropped them, pass --allow-large-removal (--dry-run lists the first of them)".into(),
        ),
        ImportError::Append { source, .. } => ledger(source),
        ImportError::Ledger(source) => ledger(source),
        ImportError::Unreadable { .. }
        | ImportError::Unusable { .. }
        | ImportError::Header { .. }
        | ImportError::Scratch(_) => {
            None
        }
    }
}
