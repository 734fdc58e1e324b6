//! `ledger man`: the manual page in roff, generated from the clap definitions.

use crate::cli::args::command;
use crate::cli::Outcome;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Write ledger.1 and one page per subcommand (ledger-init.1, ...) into DIR instead of
    /// printing ledger.1.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: Option<PathBuf>,
}

pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome> {
    match &args.output {
        None => clap_mangen::Man::new(command()).render(out)?,
        Some(dir) if dir.as_os_str() == "-" => {
            bail!("-o takes a directory for the pages; leave it out to print ledger.1 to standard output")
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(command(), dir))
                .with_context(|| format!("cannot write the manual pages to {}", dir.display()))?;
        }
    }
    Ok(Outcome::Ok)
}
