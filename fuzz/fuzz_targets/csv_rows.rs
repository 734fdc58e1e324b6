//! UCDP and ACLED release files (src/import): whatever a CSV file holds, a dry-run import of it
//! ends with a report or an error, never a panic. The first byte picks the dataset (its low bit)
//! and whether malformed rows are skipped (the next bit); the rest is the file.
#![no_main]
use ledger::import::{import, Dataset, ImportOptions, Mode};
use ledger::keys::SecretKey;
use ledger::ledger::Ledger;
use ledger::log::mem::MemFiles;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Fixture {
    ledger: Ledger<MemFiles>,
    file: PathBuf,
}

fuzz_target!(|data: &[u8]| {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| {
        let admin = SecretKey::from_seed([7; 32], Some("admin".into()));
        let (ledger, _) = Ledger::create_with(MemFiles::new(), &admin, "admin", "fuzz")
            .expect("an in-memory ledger is created");
        let file = std::env::temp_dir().join(format!("ledger-fuzz-{}.csv", std::process::id()));
        Fixture { ledger, file }
    });
    let Some((&choice, csv)) = data.split_first() else { return };
    let dataset = if choice & 1 == 0 { Dataset::Ucdp } else { Dataset::Acled };
    let options = ImportOptions {
        skip_invalid: choice & 2 != 0,
        release: Some("fuzz".into()),
        ..ImportOptions::default()
    };
    std::fs::write(&fixture.file, csv).expect("the fuzz input is written to a temporary file");
    let _ = import(&fixture.ledger, Mode::DryRun, dataset, &fixture.file, &options, &mut |_, _| {});
});
