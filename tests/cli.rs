//! The command line's texts, held as trycmd cases in tests/cmd/: every help text, `--version`,
//! the error line of each kind of bad input, and the flows README shows. A `.trycmd` file is a
//! session of commands with their expected output (`[..]` stands for hashes and times);
//! `NAME.in/` is the directory a session starts in (copied to a scratch directory first) and
//! `NAME.out/` lists files that must come out unchanged.
//!
//! After a change of wording, `TRYCMD=overwrite cargo test --test integration cli::` rewrites the cases; read
//! the diff before committing it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Git keeps no file modes but the executable bit, and a secret key file must be private to be
/// loaded: the sessions' keys get mode 0600 here, except `open.key`, which shows the refusal of
/// a key that others can read.
fn set_key_modes(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("tests/cmd/ledger.in is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "key") {
            let mode = if path.ends_with("open.key") {
                0o644
            } else {
                0o600
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .expect("the key file's mode can be set");
        }
    }
}

#[test]
fn cli_texts_match_the_trycmd_cases() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd");
    set_key_modes(&cases.join("ledger.in"));
    trycmd::TestCases::new()
        .register_bin("ledger", Path::new(env!("CARGO_BIN_EXE_ledger")))
        .case(cases.join("*.trycmd"))
        .case(cases.join("*.toml"))
        .run();
}
