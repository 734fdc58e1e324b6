//! `ledger init`: create a ledger whose genesis names its origin and admin key.

use crate::cli::args::Global;
use crate::cli::Outcome;
use anyhow::Result;
use ledger::keys::SecretKey;
use ledger::Ledger;
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
}

pub fn run(global: &Global, args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    let key = SecretKey::load(&args.admin_key)?;
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
    writeln!(
        out,
        "created ledger {origin} at {}",
        global.ledger.display()
    )?;
    writeln!(
        out,
        "seq 0 {} (genesis; admin {admin_name} {})",
        hex::encode(genesis.hash),
        key.public()
    )?;
    Ok(Outcome::Ok)
}

/// `local/` and the ledger directory's name, reduced to characters an origin may hold.
fn default_origin(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir.parent().unwrap_or(Path::new(".")))
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
