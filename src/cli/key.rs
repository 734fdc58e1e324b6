//! `ledger key`: generate a key file (plain or sealed under a passphrase), print a key file's
//! public key, copy one with a new passphrase or none, enrol and revoke keys, list the enrolled keys, print a key's C2SP verifier key.

use crate::cli::append::{print_appended, AppendedArgs};
use crate::cli::args::{role_parser, Global};
use crate::cli::output::{note, write_table, FormatArg};
use crate::cli::{passphrase, Outcome};
use anyhow::{bail, Result};
use ledger::event::Role;
use ledger::keys::{KeyError, KeyFile, PublicKey, SecretKey};
use ledger::ledger::LedgerError;
use ledger::note::vkey::{KeyType, VerifierKey};
use ledger::projection::{Cell, Table};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a secret key file (mode 0600), sealed with a passphrase if asked, and print its
    /// public key.
    Generate(GenerateArgs),
    /// Print a key file's public key (a sealed file's without its passphrase).
    Public(PublicArgs),
    /// Copy a key file with a new passphrase, or with none; the original is left as it is.
    Passphrase(PassphraseArgs),
    /// Enrol a public key with a name and role (needs an admin key).
    Enroll(EnrollArgs),
    /// Revoke the active key with this name (needs an admin key).
    Revoke(RevokeArgs),
    /// List enrolled keys.
    List(FormatArg),
    /// Print the C2SP verifier key (name+id+key) of a log's checkpoint key or a witness's key.
    Vkey(VkeyArgs),
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Where to write the new secret key; the file must not exist yet (never `-`: a secret key
    /// is not printed).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// A name kept in the key file (`ledger init` uses it as the admin's name).
    #[arg(long)]
    name: Option<String>,
    /// Seal the secret with a passphrase, asked twice on the terminal; with --passphrase-file
    /// (or LEDGER_PASSPHRASE_FILE), the key is sealed with the passphrase the file holds.
    #[arg(long)]
    passphrase: bool,
}

#[derive(clap::Args)]
pub struct PublicArgs {
    /// The secret key file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(clap::Args)]
pub struct PassphraseArgs {
    /// The key file to copy (if it is sealed, its passphrase is asked for, or read from
    /// --passphrase-file).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Where to write the copy; the file must not exist yet.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// A file whose first line is the new passphrase (without it, the new passphrase is asked
    /// twice on the terminal).
    #[arg(long, value_name = "FILE", conflicts_with = "remove")]
    new_passphrase_file: Option<PathBuf>,
    /// Write the copy with its secret in the clear, with no passphrase.
    #[arg(long)]
    remove: bool,
}

#[derive(clap::Args)]
pub struct EnrollArgs {
    /// An admin's secret key file, to sign the enrolment.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The public key to enrol, as printed by `ledger key generate` (ed25519:<hex>).
    #[arg(long, value_name = "PUBKEY")]
    public: String,
    /// The name the key goes by in the ledger (one active key per name).
    #[arg(long)]
    name: String,
    /// What the key may sign.
    #[arg(long, value_parser = role_parser())]
    role: Role,
    #[command(flatten)]
    output: AppendedArgs,
}

#[derive(clap::Args)]
pub struct RevokeArgs {
    /// An admin's secret key file, to sign the revocation.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The name of the active key to revoke.
    #[arg(long)]
    name: String,
    /// Why the key is revoked, kept in the ledger.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    output: AppendedArgs,
}

#[derive(clap::Args)]
pub struct VkeyArgs {
    /// The public key (ed25519:<hex>, as `ledger key generate` prints it), or a file holding it
    /// or the secret key.
    #[arg(long, value_name = "PUBKEY")]
    public: String,
    /// The key's name: for a log, its origin (the genesis entry's); for a witness, its own name
    /// (e.g. witness.example.org/w1).
    #[arg(long)]
    name: String,
    /// A witness's cosignature key (signature type 0x04) rather than a log's checkpoint key.
    #[arg(long)]
    witness: bool,
}

pub fn run(global: &Global, command: &Command, out: &mut dyn Write) -> Result<Outcome> {
    match command {
        Command::Generate(args) => generate(global, args, out)?,
        Command::Passphrase(args) => change_passphrase(global, args, out)?,
        Command::Public(args) => writeln!(out, "{}", KeyFile::read(&args.file)?.public())?,
        Command::Enroll(args) => {
            let admin = global.secret_key(&args.key)?;
            let public = PublicKey::parse(&args.public)?;
            let appended = global
                .open()?
                .enroll_key(&admin, &public, &args.name, args.role)?;
            print_appended(out, &[appended], &args.output)?;
        }
        Command::Revoke(args) => {
            let admin = global.secret_key(&args.key)?;
            let appended = global
                .open()?
                .revoke_key(&admin, &args.name, &args.reason)?;
            print_appended(out, &[appended], &args.output)?;
        }
        Command::List(args) => {
            let ledger = global.open_read()?;
            let keys = ledger.keys()?;
            let rows = keys
                .iter()
                .map(|k| {
                    let reason = k
                        .revoked_seq
                        .map(|seq| ledger.revocation_reason(seq))
                        .transpose()?;
                    Ok(vec![
                        Cell::text(k.name.as_str()),
                        Cell::text(k.role.name()),
                        Cell::text(PublicKey(k.public_key).to_string()),
                        Cell::seq(k.enrolled_seq),
                        Cell::optional_seq(k.revoked_seq),
                        Cell::optional_text(reason.as_deref()),
                    ])
                })
                .collect::<Result<_, LedgerError>>()?;
            // Columns are a contract: new ones go at the end.
            let table = Table {
                name: "keys",
                columns: &[
                    "name",
                    "role",
                    "public_key",
                    "enrolled_seq",
                    "revoked_seq",
                    "revocation_reason",
                ],
                rows,
            };
            write_table(out, args.format, &table)?;
        }
        Command::Vkey(args) => {
            let kind = if args.witness {
                KeyType::Cosignature
            } else {
                KeyType::Ed25519
            };
            let vkey = VerifierKey::new(&args.name, kind, public_key(&args.public)?)?;
            writeln!(out, "{vkey}")?;
        }
    }
    Ok(Outcome::Ok)
}

/// A public key from its text, or from a file holding its text or the secret key.
fn public_key(text_or_file: &str) -> Result<PublicKey> {
    if let Ok(key) = PublicKey::parse(text_or_file) {
        return Ok(key);
    }
    let path = Path::new(text_or_file);
    if !path.exists() {
        bail!("--public {text_or_file:?} is neither a public key (ed25519:<hex>) nor a file");
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    match PublicKey::parse(&text) {
        Ok(key) => Ok(key),
        Err(_) => Ok(KeyFile::read(path)?.public()),
    }
}

fn generate(global: &Global, args: &GenerateArgs, out: &mut dyn Write) -> Result<()> {
    check_new_key_file(&args.out)?;
    let key = SecretKey::generate(args.name.clone())?;
    let passphrase_file = global.passphrase_file.as_deref();
    let sealed = args.passphrase || passphrase_file.is_some();
    save(&key, &args.out, sealed.then_some(passphrase_file))?;
    writeln!(out, "{}", key.public())?;
    note(&format!(
        "wrote secret key{} to {} (mode 0600); share only the public key above",
        if sealed {
            ", sealed with the passphrase,"
        } else {
            ""
        },
        args.out.display()
    ));
    Ok(())
}

fn change_passphrase(global: &Global, args: &PassphraseArgs, out: &mut dyn Write) -> Result<()> {
    check_new_key_file(&args.out)?;
    let key = global.secret_key(&args.key)?;
    save(
        &key,
        &args.out,
        (!args.remove).then_some(args.new_passphrase_file.as_deref()),
    )?;
    writeln!(out, "{}", key.public())?;
    note(&format!(
        "wrote {} with the key of {}, {} (mode 0600); {} is unchanged: once {} works, delete it",
        args.out.display(),
        args.key.display(),
        if args.remove {
            "its secret in the clear"
        } else {
            "sealed with the new passphrase"
        },
        args.key.display(),
        args.out.display()
    ));
    Ok(())
}

/// Refuses a new key file's path before a passphrase is typed for it, not after.
fn check_new_key_file(path: &Path) -> Result<()> {
    if path == Path::new("-") {
        bail!("a secret key is never printed, so --out cannot be `-`; give it a file name");
    }
    if path.exists() {
        return Err(KeyError::Exists {
            path: path.to_path_buf(),
        }
        .into());
    }
    Ok(())
}

/// Writes `key` to the new file `path`: in the clear, or, given `sealed`, sealed with the
/// passphrase in that file or else asked twice on the terminal.
fn save(key: &SecretKey, path: &Path, sealed: Option<Option<&Path>>) -> Result<()> {
    match sealed {
        None => key.save_new(path)?,
        Some(passphrase_file) => {
            key.save_new_sealed(path, &passphrase::new(passphrase_file, path)?)?;
        }
    }
    Ok(())
}
