//! The `ledger` command line: parses arguments, reads files, prints, and maps outcomes to exit
//! codes (0 success, 1 verification found a problem, 2 usage, input or I/O error). All domain
//! logic lives in the library.

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ledger::entry::Entry;
use ledger::event::Role;
use ledger::evidence::{self, Provenance};
use ledger::export::{self, Manifest, TableFormat};
use ledger::import::{self, Dataset, ImportOptions};
use ledger::input::parse_events;
use ledger::keys::{PublicKey, SecretKey};
use ledger::ledger::Appended;
use ledger::merkle::Hash;
use ledger::projection::{self, AsOf, CacheDir, ProjectionError, Refresh, Table, Window};
use ledger::rules::KeyRecord;
use ledger::Ledger;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

// The library allocates many small, short-lived buffers on all cores while it reads the log;
// glibc's allocator spent a third of a projection rebuild on them, mimalloc a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ledger",
    version,
    about = "A signed, append-only, hash-chained incident ledger"
)]
struct Cli {
    /// The ledger directory.
    #[arg(long, global = true, env = "LEDGER_DIR", default_value = "ledger.db")]
    ledger: PathBuf,
    /// Seconds to wait for another process that holds the ledger.
    #[arg(long, global = true, default_value_t = 0.0, value_name = "SECONDS")]
    wait: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create a ledger: its genesis entry names its origin and admin key.
    Init {
        #[arg(long, value_name = "FILE")]
        admin_key: PathBuf,
        /// The ledger's name, e.g. ledger.example.org/mali-panel.
        #[arg(long)]
        origin: Option<String>,
        /// The admin's name in the ledger (default: the key file's name, else "admin").
        #[arg(long)]
        admin_name: Option<String>,
    },
    /// Generate, enrol, revoke and list keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Append events (one JSON object or NDJSON) as one atomic, durable batch.
    Append {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Input file, or - for standard input (the default).
        input: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Anchor an evidence file to an incident by its hashes (the file is not stored).
    Attach {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "ID")]
        incident: String,
        file: PathBuf,
        #[arg(long)]
        media_type: Option<String>,
        /// When the material was captured (date or RFC 3339 date-time).
        #[arg(long)]
        captured_at: Option<String>,
        #[arg(long)]
        custody_note: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List entries.
    Log {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Show one entry in full.
    Show {
        seq: u64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Audit the whole ledger from its stored bytes.
    Verify {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print a projection (a current view built from the log), or list them with --list.
    Project {
        /// The projection's name (see --list).
        #[arg(required_unless_present = "list")]
        name: Option<String>,
        /// List the projections and their columns.
        #[arg(long, conflicts_with = "name")]
        list: bool,
        #[command(flatten)]
        cut: Cut,
        /// Only events dated on or after this date (event time: event, effective or adoption date).
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        from: Option<NaiveDate>,
        /// Only events dated on or before this date.
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        to: Option<NaiveDate>,
        #[arg(long, value_enum, default_value = "table")]
        format: TableFormatArg,
        /// Write to FILE instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write every projection as CSV into DIR, with manifest.json naming the ledger state.
    Export {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[command(flatten)]
        cut: Cut,
    },
    /// Import a UCDP GED or ACLED release (CSV): new rows are reported, changed rows corrected,
    /// vanished rows retracted, unchanged rows left alone.
    Import {
        #[arg(value_enum)]
        dataset: DatasetArg,
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The release's label (default: from the file name).
        #[arg(long, value_name = "LABEL")]
        release: Option<String>,
        /// Skip malformed rows (each is reported) instead of stopping the import.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Build and verify a small Mali ledger from the bundled examples.
    Demo {
        #[arg(long, default_value = "ledger-demo")]
        dir: PathBuf,
    },
}

/// Which ledger state a view is built from.
#[derive(clap::Args)]
struct Cut {
    /// Knowledge time: only entries recorded up to this seq, date (the whole UTC day) or
    /// RFC 3339 date-time, e.g. 2023-06-01.
    #[arg(long, value_name = "SEQ|DATE|DATETIME")]
    as_of: Option<AsOf>,
    /// Fold from the first entry instead of continuing from stored projection state.
    #[arg(long)]
    rebuild: bool,
}

impl Cut {
    fn refresh(&self) -> Refresh {
        if self.rebuild {
            Refresh::Rebuild
        } else {
            Refresh::Incremental
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum TableFormatArg {
    Table,
    Csv,
    Json,
    Ndjson,
}

impl From<TableFormatArg> for TableFormat {
    fn from(arg: TableFormatArg) -> TableFormat {
        match arg {
            TableFormatArg::Table => TableFormat::Table,
            TableFormatArg::Csv => TableFormat::Csv,
            TableFormatArg::Json => TableFormat::Json,
            TableFormatArg::Ndjson => TableFormat::Ndjson,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DatasetArg {
    Ucdp,
    Acled,
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date; write it as YYYY-MM-DD"))
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a secret key file (mode 0600) and print its public key.
    Generate {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long)]
        name: Option<String>,
    },
    /// Enrol a public key with a name and role (needs an admin key).
    Enroll {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "PUBKEY")]
        public: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "investigator", "auditor"])]
        role: String,
    },
    /// Revoke the active key with this name (needs an admin key).
    Revoke {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// List enrolled keys.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

/// The outcome of a command that ran: success, or a verification that found problems.
enum Outcome {
    Ok,
    Problems,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        // A reader that stops early (`| head`) is not an error worth a message.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledger: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn open(cli: &Cli) -> Result<Ledger> {
    if !(cli.wait.is_finite() && cli.wait >= 0.0) {
        bail!("--wait must be a number of seconds, 0 or more");
    }
    Ok(Ledger::open(
        &cli.ledger,
        Duration::from_secs_f64(cli.wait),
    )?)
}

fn load_key(path: &Path) -> Result<SecretKey> {
    Ok(SecretKey::load(path)?)
}

fn run(cli: Cli) -> Result<Outcome> {
    let mut out = std::io::stdout().lock();
    match &cli.command {
        Command::Key(KeyCommand::Generate { out: path, name }) => {
            let key = SecretKey::generate(name.clone())?;
            key.save_new(path)?;
            writeln!(out, "{}", key.public())?;
            eprintln!(
                "wrote secret key to {} (mode 0600); share only the public key above",
                path.display()
            );
        }
        Command::Init {
            admin_key,
            origin,
            admin_name,
        } => {
            let key = load_key(admin_key)?;
            let admin_name = admin_name
                .clone()
                .or_else(|| key.name.clone())
                .unwrap_or_else(|| "admin".to_string());
            let origin = origin
                .clone()
                .unwrap_or_else(|| default_origin(&cli.ledger));
            let (_, genesis) = Ledger::create(&cli.ledger, &key, &admin_name, &origin)?;
            writeln!(out, "created ledger {origin} at {}", cli.ledger.display())?;
            writeln!(
                out,
                "seq 0 {} (genesis; admin {admin_name} {})",
                hex::encode(genesis.hash),
                key.public()
            )?;
        }
        Command::Key(KeyCommand::Enroll {
            key,
            public,
            name,
            role,
        }) => {
            let admin = load_key(key)?;
            let public = PublicKey::parse(public)?;
            let role = Role::parse(role).expect("clap allows only known roles");
            let appended = open(&cli)?.enroll_key(&admin, &public, name, role)?;
            print_appended(&mut out, &[appended], Format::Text)?;
        }
        Command::Key(KeyCommand::Revoke { key, name, reason }) => {
            let admin = load_key(key)?;
            let appended = open(&cli)?.revoke_key(&admin, name, reason)?;
            print_appended(&mut out, &[appended], Format::Text)?;
        }
        Command::Key(KeyCommand::List { format }) => {
            let keys = open(&cli)?.keys()?;
            print_keys(&mut out, &keys, *format)?;
        }
        Command::Append { key, input, format } => {
            let key = load_key(key)?;
            let (name, bytes) = read_input(input.as_deref())?;
            let events =
                parse_events(&bytes).with_context(|| format!("cannot read events from {name}"))?;
            let appended = open(&cli)?
                .append(&key, &events)
                .with_context(|| format!("{name} was refused"))?;
            print_appended(&mut out, &appended, *format)?;
        }
        Command::Attach {
            key,
            incident,
            file,
            media_type,
            captured_at,
            custody_note,
            format,
        } => {
            let key = load_key(key)?;
            let provenance = Provenance {
                media_type: media_type.clone(),
                captured_at: captured_at.clone(),
                custody_note: custody_note.clone(),
            };
            let payload = evidence::anchor_payload(incident, file, provenance)
                .with_context(|| format!("cannot read evidence file {}", file.display()))?;
            let appended = open(&cli)?.append_one(
                &key,
                ledger::event::EventType::EvidenceAnchored,
                &payload,
            )?;
            print_appended(&mut out, &[appended], *format)?;
        }
        Command::Log {
            from,
            limit,
            format,
        } => {
            let ledger = open(&cli)?;
            let names = key_names(&ledger.keys()?);
            for item in ledger
                .entries(*from)
                .take(limit.map_or(usize::MAX, |l| l as usize))
            {
                let (entry, hash) = item?;
                match format {
                    Format::Json => writeln!(out, "{}", entry_json(&entry, &hash, &names))?,
                    Format::Text => writeln!(out, "{}", entry_line(&entry, &names))?,
                }
            }
        }
        Command::Show { seq, format } => {
            let ledger = open(&cli)?;
            let names = key_names(&ledger.keys()?);
            let Some((entry, hash)) = ledger.entry(*seq)? else {
                bail!("there is no entry at seq {seq}; `ledger log` lists the entries");
            };
            let object = entry_json(&entry, &hash, &names);
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&object)?)?,
                Format::Text => print_entry_text(&mut out, &object)?,
            }
        }
        Command::Verify { format } => {
            let ledger = open(&cli)?;
            let mut problems = Vec::new();
            let report = ledger.verify(|p| {
                if *format == Format::Text {
                    println!("seq {}: {}", p.seq, p.reason);
                } else if problems.len() < 10_000 {
                    problems.push(p.clone());
                }
            })?;
            match format {
                Format::Json => {
                    let mut object = serde_json::to_value(&report)?;
                    object["intact"] = json!(report.intact());
                    object["problem_list"] = serde_json::to_value(&problems)?;
                    writeln!(out, "{object}")?;
                }
                Format::Text => writeln!(out, "{}", verify_summary(&report))?,
            }
            if !report.intact() {
                return Ok(Outcome::Problems);
            }
        }
        Command::Project { list: true, .. } => {
            for view in projection::REGISTRY {
                writeln!(out, "{:<18} {}", view.name(), view.about())?;
                writeln!(out, "{:<18} columns: {}", "", view.columns().join(", "))?;
            }
        }
        Command::Project {
            name,
            cut,
            from,
            to,
            format,
            output,
            ..
        } => {
            let name = name.as_deref().unwrap_or_default();
            let view = projection::by_name(name).ok_or_else(|| ProjectionError::Unknown {
                name: name.to_string(),
            })?;
            let window = Window {
                from: *from,
                to: *to,
            };
            let ledger = open(&cli)?;
            let projected = projection::project(
                &ledger,
                Some(&CacheDir::of(&cli.ledger)),
                &[view],
                cut.as_of,
                &window,
                cut.refresh(),
            )?;
            let table = &projected.tables[0];
            match output {
                None => export::write_table(table, (*format).into(), &mut out)?,
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut file = std::io::BufWriter::new(file);
                    export::write_table(table, (*format).into(), &mut file)
                        .and_then(|()| file.flush())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
            }
        }
        Command::Export { dir, cut } => {
            let ledger = open(&cli)?;
            let (manifest, _) = export_all(
                &ledger,
                &CacheDir::of(&cli.ledger),
                dir,
                cut.as_of,
                cut.refresh(),
            )?;
            match manifest.seq {
                Some(seq) => writeln!(
                    out,
                    "exported the ledger up to seq {seq} to {}",
                    dir.display()
                )?,
                None => writeln!(
                    out,
                    "exported an empty view (nothing recorded by then) to {}",
                    dir.display()
                )?,
            }
            for file in &manifest.files {
                writeln!(
                    out,
                    "  {:<24} {:>7} rows  blake3 {}",
                    file.name, file.rows, file.blake3
                )?;
            }
        }
        Command::Import {
            dataset,
            file,
            key,
            release,
            skip_invalid,
        } => {
            let key = load_key(key)?;
            let ledger = open(&cli)?;
            let options = ImportOptions {
                release: release.clone(),
                skip_invalid: *skip_invalid,
            };
            let dataset = match dataset {
                DatasetArg::Ucdp => Dataset::Ucdp,
                DatasetArg::Acled => Dataset::Acled,
            };
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "importing {bar:40} {percent:>3}% {bytes}/{total_bytes}",
                    )
                    .expect("the template is valid"),
                );
                bar
            });
            let mut on_progress = |done: u64, total: u64| {
                if let Some(bar) = &bar {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            };
            let report = import::import(
                &ledger,
                Some(&CacheDir::of(&cli.ledger)),
                &key,
                dataset,
                file,
                &options,
                &mut on_progress,
            );
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let report = report?;
            for problem in &report.skipped {
                eprintln!("ledger: skipped {}: {problem}", file.display());
            }
            writeln!(
                out,
                "imported {} as release {}: {} rows, {} reported, {} corrected, {} retracted, {} unchanged, {} skipped",
                file.display(),
                report.release,
                report.rows,
                report.reported,
                report.corrected,
                report.retracted,
                report.unchanged,
                report.skipped.len()
            )?;
            if let (Some(first), Some(last)) = (report.appended.first(), report.appended.last()) {
                writeln!(out, "appended seq {}..={}", first.seq, last.seq)?;
            }
        }
        Command::Demo { dir } => {
            let (ledger, summary) = ledger::demo::build(dir)?;
            writeln!(
                out,
                "Demo ledger {} at {}",
                ledger::demo::DEMO_ORIGIN,
                summary.ledger_dir.display()
            )?;
            for (name, role, path) in &summary.keys {
                writeln!(out, "  key {name:<20} {role:<13} {}", path.display())?;
            }
            for (file, count) in &summary.batches {
                writeln!(out, "  appended {count:>3} events from {file}")?;
            }
            for p in &summary.problems {
                writeln!(out, "seq {}: {}", p.seq, p.reason)?;
            }
            writeln!(out, "{}", verify_summary(&summary.report))?;
            let export_dir = summary.dir.join("export");
            let (manifest, tables) = export_all(
                &ledger,
                &CacheDir::of(&summary.ledger_dir),
                &export_dir,
                None,
                Refresh::Incremental,
            )?;
            writeln!(
                out,
                "  exported {} projections as CSV to {}",
                manifest.files.len(),
                export_dir.display()
            )?;
            // The two views the demo shows, from the tables it has just exported.
            for table in tables
                .iter()
                .filter(|t| ["accord-status", "mandate-timeline"].contains(&t.name))
            {
                writeln!(out, "\n$ ledger project {}", table.name)?;
                export::write_table(table, TableFormat::Table, &mut out)?;
            }
            writeln!(
                out,
                "\nTry: ledger --ledger {} project incidents",
                summary.ledger_dir.display()
            )?;
            if !summary.report.intact() {
                return Ok(Outcome::Problems);
            }
        }
    }
    Ok(Outcome::Ok)
}

/// Every projection as CSV in `dir`, with its manifest; returns the manifest and the tables.
fn export_all(
    ledger: &Ledger,
    caches: &CacheDir,
    dir: &Path,
    as_of: Option<AsOf>,
    refresh: Refresh,
) -> Result<(Manifest, Vec<Table>)> {
    let projected = projection::project(
        ledger,
        Some(caches),
        projection::REGISTRY,
        as_of,
        &Window::default(),
        refresh,
    )?;
    let origin = ledger.origin()?.unwrap_or_default();
    let manifest = export::write_export(dir, &origin, projected.covered, &projected.tables)
        .with_context(|| format!("cannot write the export to {}", dir.display()))?;
    Ok((manifest, projected.tables))
}

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

fn read_input(input: Option<&Path>) -> Result<(String, Vec<u8>)> {
    match input {
        None => read_stdin(),
        Some(p) if p == Path::new("-") => read_stdin(),
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read input file {}", path.display()))?;
            Ok((path.display().to_string(), bytes))
        }
    }
}

fn read_stdin() -> Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    Ok(("standard input".to_string(), bytes))
}

fn print_appended(out: &mut impl Write, appended: &[Appended], format: Format) -> Result<()> {
    for a in appended {
        match format {
            Format::Text => writeln!(out, "seq {} {}", a.seq, hex::encode(a.hash))?,
            Format::Json => writeln!(
                out,
                "{}",
                json!({"seq": a.seq, "hash": hex::encode(a.hash)})
            )?,
        }
    }
    Ok(())
}

fn print_keys(out: &mut impl Write, keys: &[KeyRecord], format: Format) -> Result<()> {
    for k in keys {
        let public = PublicKey(k.public_key).to_string();
        match format {
            Format::Json => writeln!(
                out,
                "{}",
                json!({"name": k.name, "role": k.role.name(), "public_key": public,
                       "enrolled_seq": k.enrolled_seq, "revoked_seq": k.revoked_seq})
            )?,
            Format::Text => {
                let status = k
                    .revoked_seq
                    .map_or("active".to_string(), |s| format!("revoked at seq {s}"));
                writeln!(
                    out,
                    "{:<20} {:<13} {public}  enrolled at seq {}, {status}",
                    k.name,
                    k.role.name(),
                    k.enrolled_seq
                )?
            }
        }
    }
    Ok(())
}

fn key_names(keys: &[KeyRecord]) -> HashMap<PublicKey, String> {
    keys.iter()
        .map(|k| (PublicKey(k.public_key), k.name.clone()))
        .collect()
}

fn entry_json(entry: &Entry, hash: &Hash, names: &HashMap<PublicKey, String>) -> Value {
    let statement = &entry.statement;
    let payload: Value = serde_json::from_slice(&statement.payload)
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(&statement.payload)));
    json!({
        "seq": entry.seq,
        "recorded_at": entry.recorded_at.to_rfc3339(),
        "hash": hex::encode(hash),
        "prev": hex::encode(entry.prev),
        "type": statement.event_type,
        "schema_version": statement.schema_version,
        "author": statement.author.to_string(),
        "author_name": names.get(&statement.author),
        "claimed_at": statement.claimed_at.to_rfc3339(),
        "seal": {"index": entry.seal.index, "batch_size": entry.seal.batch_size,
                 "proof_hashes": entry.seal.proof.len(), "signature": hex::encode(entry.seal.signature)},
        "data": payload,
    })
}

/// One line per entry: seq, time, type, author, and what the event is about.
fn entry_line(entry: &Entry, names: &HashMap<PublicKey, String>) -> String {
    let statement = &entry.statement;
    let data: Value = serde_json::from_slice(&statement.payload).unwrap_or(Value::Null);
    let field = |name: &str| {
        data.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let about = match statement.event_type.as_str() {
        "ledger.genesis" => format!("origin {}", field("origin")),
        "key.enrolled" => format!("{} as {}", field("name"), field("role")),
        "key.revoked" => format!("{}: {}", field("name"), field("reason")),
        "incident.reported" => format!(
            "{} {} {}",
            field("incident_id"),
            field("event_date"),
            field("event_type")
        ),
        "incident.corrected" | "incident.retracted" => {
            format!("{}: {}", field("incident_id"), field("reason"))
        }
        "evidence.anchored" => format!("{} {}", field("incident_id"), field("filename")),
        "accord.status_changed" => {
            let provision = field("provision");
            let what = if provision.is_empty() {
                field("accord")
            } else {
                format!("{}/{provision}", field("accord"))
            };
            format!("{what} {} {}", field("status"), field("effective_date"))
        }
        "mandate.changed" => format!(
            "{} {} {} {}",
            field("mission"),
            field("resolution"),
            field("action"),
            field("adopted_date")
        ),
        _ => String::new(),
    };
    let author = names
        .get(&statement.author)
        .cloned()
        .unwrap_or_else(|| statement.author.to_string());
    format!(
        "{:>6}  {}  {:<22} {:<18} {about}",
        entry.seq,
        entry.recorded_at.to_rfc3339(),
        statement.event_type,
        author
    )
}

fn print_entry_text(out: &mut impl Write, object: &Value) -> Result<()> {
    for field in [
        "seq",
        "recorded_at",
        "hash",
        "prev",
        "type",
        "schema_version",
        "author",
        "author_name",
        "claimed_at",
    ] {
        let value = &object[field];
        let text = value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        writeln!(out, "{field:<15} {text}")?;
    }
    let seal = &object["seal"];
    writeln!(
        out,
        "{:<15} statement {} of {} ({} proof hashes)",
        "seal", seal["index"], seal["batch_size"], seal["proof_hashes"]
    )?;
    writeln!(
        out,
        "{:<15} {}",
        "signature",
        seal["signature"].as_str().unwrap_or("")
    )?;
    writeln!(
        out,
        "data\n{}",
        serde_json::to_string_pretty(&object["data"])?
    )?;
    Ok(())
}

fn verify_summary(report: &ledger::verify::Report) -> String {
    let origin = report.origin.as_deref().unwrap_or("(no origin)");
    let head = match (report.last_seq, report.last_hash) {
        (Some(seq), Some(hash)) => format!("head seq {seq} {}", hex::encode(hash)),
        _ => "no entries".to_string(),
    };
    let counts = format!(
        "{} entries, {} signatures, {} keys, {} incidents; {head}",
        report.entries, report.signatures, report.keys, report.incidents
    );
    if report.intact() {
        format!("verified {origin}: intact. {counts}")
    } else {
        format!(
            "verify {origin}: {} problem(s) found. {counts}",
            report.problems
        )
    }
}
