//! The top-level command, the options every subcommand shares, and the value parsers built from
//! the library's own lists (roles, dates), so that no list is written twice.

use crate::cli::{
    append, attach, audit, backup, checkpoint, completions, demo, evidence, export, import, init,
    key, log, man, passphrase, project, prove, publish, receipt, reindex, restore, show, upgrade,
    verify, witness,
};
use anyhow::Result;
use chrono::NaiveDate;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use ledger::event::Role;
use ledger::keys::SecretKey;
use ledger::projection::CacheDir;
use ledger::Ledger;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ledger",
    version,
    about = "A signed, append-only, hash-chained incident ledger",
    after_help = "Exit status: 0 success, 1 verification found a problem, 2 usage, input or I/O error."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every subcommand: which ledger, how long to wait for it, and how to open a sealed
/// key file.
#[derive(clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The ledger directory.
    #[arg(
        long,
        global = true,
        env = "LEDGER_DIR",
        hide_env_values = true,
        default_value = "ledger.db"
    )]
    pub ledger: PathBuf,
    /// Seconds to wait for another process that holds the ledger (0 to 86400).
    #[arg(long, global = true, default_value = "0", value_name = "SECONDS", value_parser = parse_wait)]
    pub wait: Duration,
    /// A file whose first line is the passphrase of sealed key files (for scripts; without it,
    /// the passphrase is asked on the terminal).
    #[arg(
        long,
        global = true,
        env = "LEDGER_PASSPHRASE_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub passphrase_file: Option<PathBuf>,
}

/// The longest `--wait`: a day. A longer wait is a mistake, not a plan.
const MAX_WAIT_SECONDS: f64 = 86_400.0;

fn parse_wait(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|seconds| (0.0..=MAX_WAIT_SECONDS).contains(seconds))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a number of seconds from 0 to {MAX_WAIT_SECONDS}"))
}

impl Global {
    /// Opens the ledger to write to it: the writer's lock, waiting up to --wait.
    pub fn open(&self) -> Result<Ledger> {
        Ok(Ledger::open(&self.ledger, self.wait)?)
    }

    /// Opens the ledger to read it: no lock, nothing written, a read-only copy will do.
    pub fn open_read(&self) -> Result<Ledger> {
        Ok(Ledger::open_read(&self.ledger)?)
    }

    /// The secret key in `key_file`, asking for its passphrase if it is sealed.
    pub fn secret_key(&self, key_file: &Path) -> Result<SecretKey> {
        passphrase::open_key(self.passphrase_file.as_deref(), key_file)
    }

    /// Where the projections of this ledger keep their caches.
    pub fn caches(&self) -> CacheDir {
        CacheDir::of(&self.ledger)
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a ledger: its genesis entry names its origin and admin key.
    Init(init::Args),
    /// Generate key files and change their passphrases; enrol, revoke and list keys.
    #[command(subcommand)]
    Key(key::Command),
    /// Append events (one JSON object or NDJSON) as one atomic, durable batch.
    Append(append::Args),
    /// Anchor an evidence file to an incident by its hashes (the file is not stored).
    Attach(attach::Args),
    /// Check files against the anchored evidence; record custody events.
    #[command(subcommand)]
    Evidence(evidence::Command),
    /// List entries.
    Log(log::Args),
    /// Show one entry in full.
    Show(show::Args),
    /// Audit the whole ledger from its stored bytes.
    Verify(verify::Args),
    /// Print an inclusion or consistency proof of the log's Merkle tree (RFC 6962).
    #[command(subcommand)]
    Prove(prove::Command),
    /// Sign a checkpoint of the log's tree (C2SP tlog-checkpoint) with the operator's key, kept
    /// in the ledger; or add witnesses' cosignatures to one.
    Checkpoint(checkpoint::Args),
    /// Publish the log up to the last kept checkpoint as C2SP tlog-tiles in a directory.
    Publish(publish::Args),
    /// Write one entry's receipt: its bytes, inclusion path and a kept, cosigned checkpoint.
    Receipt(receipt::Args),
    /// Check, with no ledger, an entry's inclusion, two checkpoints' consistency or a receipt.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Rebuild the ledger's derived state (keys, names, incidents) from the log.
    Reindex(reindex::Args),
    /// Write one portable backup file of the ledger's entries (taken without a lock).
    Backup(backup::Args),
    /// Rebuild a ledger in a new or empty --ledger directory from a backup, auditing every entry.
    Restore(restore::Args),
    /// Move a ledger made by an older release (entries in sled) to the current layout.
    Upgrade(upgrade::Args),
    /// Print a projection (a current view built from the log), or list them with --list.
    Project(project::Args),
    /// Write every projection as CSV into a directory, with manifest.json naming the ledger state.
    Export(export::Args),
    /// Import a UCDP GED or ACLED release (CSV): new rows are reported, changed rows corrected,
    /// vanished rows withdrawn (and reinstated if they return), unchanged rows left alone.
    Import(import::Args),
    /// Witness a log: cosign its checkpoints, refusing forks and rollbacks.
    #[command(subcommand)]
    Witness(witness::Command),
    /// Build and verify a small Mali ledger from the bundled examples.
    Demo(demo::Args),
    /// Print a shell completion script.
    Completions(completions::Args),
    /// Print the manual page (roff), or write one page per command into a directory.
    Man(man::Args),
}

/// `--version`: the crate's version and the versions of the formats it reads and writes.
fn long_version() -> String {
    let schemas: Vec<String> = ledger::event::EventType::ALL
        .iter()
        .map(|t| format!("{} v{}", t.name(), t.current_schema_version()))
        .collect();
    format!(
        "{}\nentry format v{}, statement format v{}, seal format v{}\nevent schemas: {}",
        env!("CARGO_PKG_VERSION"),
        ledger::entry::ENTRY_VERSION,
        ledger::statement::STATEMENT_VERSION,
        ledger::statement::SEAL_VERSION,
        schemas.join(", ")
    )
}

/// The whole command tree as clap sees it, for parsing, completions and the manual.
pub fn command() -> clap::Command {
    // clap keeps version texts as &'static str; this one is built once per run.
    let version: &'static str = Box::leak(long_version().into_boxed_str());
    Cli::command().long_version(version)
}

/// Parses the process's arguments; on a usage error, `--help` or `--version` clap prints and
/// exits (status 2 for a usage error, 0 otherwise).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// `--role`: the names come from [`Role`], the one list of roles.
pub fn role_parser() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(Role::ALL.map(Role::name))
        .try_map(|name| Role::parse(&name).ok_or_else(|| format!("{name:?} is not a role")))
}

/// A C2SP verifier key given as its text, or as a file holding it (`--vkey`).
pub fn verifier_key(text_or_file: &str) -> anyhow::Result<ledger::note::vkey::VerifierKey> {
    use anyhow::Context;
    use ledger::note::vkey::VerifierKey;
    if let Ok(vkey) = VerifierKey::parse(text_or_file) {
        return Ok(vkey);
    }
    let text = std::fs::read_to_string(text_or_file).with_context(|| {
        format!(
            "{text_or_file:?} is neither a verifier key (name+id+key) nor a file that can be read"
        )
    })?;
    VerifierKey::parse(&text)
        .with_context(|| format!("{text_or_file} does not hold a verifier key"))
}

/// An event date (YYYY-MM-DD) for `--from` and `--to`.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    ledger::date::iso_date(text)
        .ok_or_else(|| format!("{text:?} is not a date; write it as YYYY-MM-DD"))
}
