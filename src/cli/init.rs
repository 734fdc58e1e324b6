//! `ledger init`: create a ledger whose genesis names its origin and admin key.

use crate::cli::args::Global;
use crate::cli::output::{write_one, FormatArg};
use crate::cli::Outcome;
use anyhow::Result;
use ledger::Ledger;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The admin's secret key file; the genesis names its public key as the first admin.
    #[arg(long, value_name = "FILE")]
    admin_key: PathBuf,
    /// The ledger's name, e.g. ledger.example.org/mali-panel (default: local/ and the
    /// directory's name).
    #[arg(long)]
    origin: Option<String>,
    /// The admin's name in the ledger (default: the key file's name, else "admin").
    #[arg(long, value_name = "NAME")]
    admin_name: Option<String>,
    #[command(flatten)]
    format: FormatArg,
}

/// What `init` made: the ledger and its genesis entry.
#[derive(Serialize)]
struct Created<'a> {
    origin: &'a str,
    ledger: String,
    seq: u64,
    hash: String,
    admin_name: &'a str,
    admin_public_key: String,
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let key = global.secret_key(&args.admin_key)?;
    let admin_name = args
        .admin_name
        .clone()
        .or_else(|| key.name.clone())
        .unwrap_or_else(|| "admin".to_string());
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| default_origin(&global.ledger));
    let (_, genesis) = Ledger::create(&global.ledger, &key, &admin_name, &origin)?;
    let created = Created {
        origin: &origin,
        ledger: global.ledger.display().to_string(),
        seq: genesis.seq,
        hash: hex::encode(genesis.hash),
        admin_name: &admin_name,
        admin_public_key: key.public().to_string(),
    };
    write_one(out, args.format.format, &created, |out| {
        writeln!(
            out,
            "created ledger {} at {}",
            created.origin, created.ledger
        )?;
        writeln!(
            out,
            "seq {} {} (genesis; admin {} {})",
            created.seq, created.hash, created.admin_name, created.admin_public_key
        )
    })?;
    Ok(Outcome::Ok)
}

/// `local/` and the ledger directory's name, reduced to characters an origin may hold.
fn default_origin(dir: &Path) -> String {
    // A bare name's parent is "", which does not canonicalize; it means the current directory.
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    let name = std::fs::canonicalize(parent.unwrap_or(Path::new(".")))
        .ok()
        .and_then(|p| {
            p.join(dir.file_name().unwrap_or_default())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "ledger".to_string());
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("local/{}", cleaned.trim_start_matches(['.', '-', '_']))
}
