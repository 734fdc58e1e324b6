//! The `ledger` command line: parses arguments, dispatches to one module per subcommand in
//! `cli/`, and maps outcomes to exit codes (0 success, 1 verification found a problem, 2 usage,
//! input or I/O error). All domain logic lives in the library.

mod cli;

use cli::args::{Cli, Command};
use cli::Outcome;
use std::io::{self, Write};
use std::process::ExitCode;

// The library allocates many small, short-lived buffers on all cores while it reads the log;
// glibc's allocator spent a third of a projection rebuild on them, mimalloc a fraction. It is
// built without transparent huge pages (Cargo.toml): given them, it held 2 MB pages for a few
// live bytes, some 35 MB more at the peak of a 1,000,000-line append (timed by hand against
// MIMALLOC_ALLOW_THP=0).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::args::parse();
    match run(&cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        // A reader that stops early (`| head`) is not an error worth a message; but a backup
        // piped to one that stops is incomplete, and says so.
        Err(e) if is_broken_pipe(&e) && !matches!(cli.command, Command::Backup(_)) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let message = cli::hints::message(&e);
            let _ = writeln!(
                io::stderr(),
                "ledger: {}",
                cli::output::for_person(&message)
            );
            ExitCode::from(cli::exit_status(&e))
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<Outcome> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let global = &cli.global;
    let outcome = match &cli.command {
        Command::Init(args) => cli::init::run(global, args, &mut out),
        Command::Key(command) => cli::key::run(global, command, &mut out),
        Command::Append(args) => cli::append::run(global, args, &mut out),
        Command::Attach(args) => cli::attach::run(global, args, &mut out),
        Command::Evidence(command) => cli::evidence::run(global, command, &mut out),
        Command::Log(args) => cli::log::run(global, args, &mut out),
        Command::Show(args) => cli::show::run(global, args, &mut out),
        Command::Verify(args) => cli::verify::run(global, args, &mut out),
        Command::Prove(command) => cli::prove::run(global, command, &mut out),
        Command::Checkpoint(args) => cli::checkpoint::run(global, args, &mut out),
        Command::Receipt(args) => cli::receipt::run(global, args, &mut out),
        Command::Publish(args) => cli::publish::run(global, args, &mut out),
        Command::Audit(command) => cli::audit::run(command, &mut out),
        Command::Reindex(args) => cli::reindex::run(global, args, &mut out),
        Command::Backup(args) => cli::backup::run(global, args, &mut out),
        Command::Restore(args) => cli::restore::run(global, args, &mut out),
        Command::Upgrade(args) => cli::upgrade::run(global, args, &mut out),
        Command::Project(args) => cli::project::run(global, args, &mut out),
        Command::Export(args) => cli::export::run(global, args, &mut out),
        Command::Import(args) => cli::import::run(global, args, &mut out),
        Command::Witness(command) => cli::witness::run(global, command, &mut out),
        Command::Demo(args) => cli::demo::run(args, &mut out),
        Command::Completions(args) => cli::completions::run(args, &mut out),
        Command::Man(args) => cli::man::run(args, &mut out),
    };
    // What was printed before a failure still goes out, ahead of the error line.
    let flushed = out.flush();
    let outcome = outcome?;
    flushed?;
    Ok(outcome)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    // serde_json reports a failed write as its own error, which does not give the I/O error
    // as its source.
    error.chain().any(|cause| {
        let kind = match cause.downcast_ref::<serde_json::Error>() {
            Some(e) => e.io_error_kind(),
            None => cause.downcast_ref::<io::Error>().map(io::Error::kind),
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}
