//! Key files sealed under a passphrase, through the real binary: every command that signs opens
//! one with the passphrase from `--passphrase-file` or `LEDGER_PASSPHRASE_FILE`, or asks for it
//! on the terminal; a wrong or missing passphrase is one sentence naming the key file (exit 2),
//! never a hang, and leaves the ledger as it was; `key public` reads a sealed file's public key
//! without the passphrase.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const PASSPHRASE: &str = "correct horse battery staple";

/// A ledger whose admin and investigator keys are both sealed, made through the binary: each
/// command that signs opens its key with the passphrase file, given as the flag or the variable.
struct Sealed {
    root: PathBuf,
    /// The copy of the template that `root` is, removed when the test ends.
    _tmp: Option<TempDir>,
}

impl Sealed {
    fn new() -> Sealed {
        static TEMPLATE: OnceLock<TempDir> = OnceLock::new();
        let tmp = copy_of_template(&TEMPLATE, build);
        Sealed {
            root: tmp.path().to_path_buf(),
            _tmp: Some(tmp),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn dir(&self) -> PathBuf {
        self.path("ledger")
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    /// `ledger --ledger DIR args...` with `LEDGER_PASSPHRASE_FILE` set to the file `passphrase`
    /// in the fixture's directory, if given.
    fn run(&self, passphrase: Option<&str>, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = assert_cmd::Command::from_std(ledger_process(&self.dir()));
        cmd.args(args).env_remove("LEDGER_PASSPHRASE_FILE");
        if let Some(file) = passphrase {
            cmd.env("LEDGER_PASSPHRASE_FILE", self.path(file));
        }
        cmd.write_stdin(stdin.unwrap_or_default().to_vec());
        cmd.output().expect("ledger runs")
    }

    fn run_ok(&self, passphrase: Option<&str>, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(passphrase, args, stdin);
        assert!(out.status.success(), "{}", describe(args, &out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// The ledger's head line and whether `verify` finds it intact.
    fn head(&self) -> String {
        let (verified, head) = (
            self.run(None, &["verify"], None),
            self.run_ok(None, &["log", "--format", "ndjson"], None),
        );
        assert_eq!(
            verified.status.code(),
            Some(0),
            "{}",
            describe(&[], &verified)
        );
        head.lines().last().unwrap().to_string()
    }
}

/// Starts `command` (which must exist: `setsid` and `script` come with util-linux) with no
/// `LEDGER_PASSPHRASE_FILE`, this standard input, and its output captured.
fn start(command: &mut std::process::Command, stdin: std::process::Stdio) -> std::process::Child {
    command
        .env_remove("LEDGER_PASSPHRASE_FILE")
        .stdin(stdin)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} cannot start: {e}"))
}

/// Writes `text` to `path` with mode 0600.
fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn build(root: &Path) {
    let s = Sealed {
        root: root.to_path_buf(),
        _tmp: None,
    };
    write_private(&s.path("pass"), &format!("{PASSPHRASE}\n"));
    write_private(&s.path("wrong"), "correct horse battery stapler\n");
    let pass = s.arg("pass");
    // The flag seals the admin's key; the variable the investigator's.
    let admin_public = s.run_ok(
        None,
        &[
            "key",
            "generate",
            "--out",
            &s.arg("admin.key"),
            "--name",
            "admin",
            "--passphrase-file",
            &pass,
        ],
        None,
    );
    let inv_public = s.run_ok(
        Some("pass"),
        &[
            "key",
            "generate",
            "--out",
            &s.arg("inv.key"),
            "--name",
            "inv",
        ],
        None,
    );
    std::fs::write(s.path("admin.public"), admin_public.trim()).unwrap();
    std::fs::write(s.path("inv.public"), inv_public.trim()).unwrap();
    s.run_ok(
        Some("pass"),
        &["init", "--admin-key", &s.arg("admin.key")],
        None,
    );
    s.run_ok(
        None,
        &[
            "--passphrase-file",
            &pass,
            "key",
            "enroll",
            "--key",
            &s.arg("admin.key"),
            "--public",
            inv_public.trim(),
            "--name",
            "inv",
            "--role",
            "investigator",
        ],
        None,
    );
    s.run_ok(
        None,
        &[
            "append",
            "--key",
            &s.arg("inv.key"),
            "--passphrase-file",
            &pass,
            "-",
        ],
        Some(&ndjson(&[incident("p-1", 3)])),
    );
    let acled = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/acled-current.csv");
    s.run_ok(
        Some("pass"),
        &[
            "import",
            "acled",
            acled.to_str().unwrap(),
            "--key",
            &s.arg("inv.key"),
        ],
        None,
    );
    let checkpoint = s.run_ok(
        Some("pass"),
        &["checkpoint", "--key", &s.arg("admin.key")],
        None,
    );
    std::fs::write(s.path("checkpoint"), checkpoint).unwrap();
}

#[test]
fn every_command_that_signs_opens_a_sealed_key_and_the_ledger_verifies() {
    let s = Sealed::new();
    let text = std::fs::read_to_string(s.path("inv.key")).unwrap();
    assert!(text.contains("\nsealed: scrypt ln="), "{text}");
    assert!(!text.contains("secret:"), "{text}");
    let log = s.run_ok(None, &["log", "--format", "ndjson"], None);
    let types: Vec<String> = json_lines(&log)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect();
    for signed in ["ledger.genesis", "key.enrolled", "incident.reported"] {
        assert!(
            types.iter().any(|t| t == signed),
            "no {signed} in {types:?}"
        );
    }
    assert!(types.len() > 4, "the import appended nothing: {types:?}");
    let checkpoint = std::fs::read_to_string(s.path("checkpoint")).unwrap();
    assert!(checkpoint.starts_with("local/ledger\n"), "{checkpoint}");
    s.head();
}

#[test]
fn key_public_prints_what_generate_printed_without_a_passphrase() {
    let s = Sealed::new();
    for name in ["admin", "inv"] {
        let generated = std::fs::read_to_string(s.path(&format!("{name}.public"))).unwrap();
        let public = s.run_ok(
            None,
            &["key", "public", &s.arg(&format!("{name}.key"))],
            None,
        );
        assert_eq!(public.trim(), generated);
    }
}

#[test]
fn a_wrong_passphrase_is_one_sentence_naming_the_key_file_and_changes_nothing() {
    let s = Sealed::new();
    let head = s.head();
    let files = every_file(&s.dir());
    let inv = s.arg("inv.key");
    let out = s.run(
        Some("wrong"),
        &["append", "--key", &inv, "-"],
        Some(&ndjson(&[incident("p-2", 1)])),
    );
    assert_refused(&out, &["passphrase", &inv]);
    let admin = s.arg("admin.key");
    let out = s.run(Some("wrong"), &["checkpoint", "--key", &admin], None);
    assert_refused(&out, &["passphrase", &admin]);
    assert_eq!(s.head(), head);
    assert!(
        every_file(&s.dir()) == files,
        "a refused command changed the ledger's files"
    );
}

#[test]
fn with_no_terminal_and_no_passphrase_file_a_command_says_how_to_give_it_at_once() {
    let s = Sealed::new();
    let head = s.head();
    let inv = s.arg("inv.key");
    // setsid: a new session, with no controlling terminal, whatever runs the tests.
    let mut child = start(
        std::process::Command::new("setsid")
            .arg("-w")
            .arg(assert_cmd::cargo::cargo_bin("ledger"))
            .args(["--ledger", s.dir().to_str().unwrap()])
            .args(["append", "--key", &inv, "-"]),
        std::process::Stdio::null(),
    );
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("ledger waited for a passphrase with no terminal to ask it on");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_refused(&out, &[&inv, "--passphrase-file", "LEDGER_PASSPHRASE_FILE"]);
    assert_eq!(s.head(), head);
}

#[test]
fn a_sealed_file_whose_public_line_was_changed_is_refused() {
    let s = Sealed::new();
    let head = s.head();
    let key = s.path("inv.key");
    let (inv_public, admin_public) = (
        std::fs::read_to_string(s.path("inv.public")).unwrap(),
        std::fs::read_to_string(s.path("admin.public")).unwrap(),
    );
    let text = std::fs::read_to_string(&key).unwrap();
    write_private(&key, &text.replace(&inv_public, &admin_public));
    let out = s.run(
        Some("pass"),
        &["append", "--key", &s.arg("inv.key"), "-"],
        Some(&ndjson(&[incident("p-2", 1)])),
    );
    assert_refused(&out, &["changed after it was sealed", &s.arg("inv.key")]);
    assert_eq!(s.head(), head);
}

#[test]
fn an_empty_missing_or_endless_passphrase_file_is_refused_and_no_key_is_written() {
    let s = Sealed::new();
    write_private(&s.path("empty"), "\nsecond line\n");
    for (n, (file, words)) in [
        ("empty", vec!["empty", "passphrase file"]),
        ("missing", vec!["cannot read passphrase file"]),
        ("/dev/zero", vec!["/dev/zero", "longer than 1024 bytes"]),
    ]
    .into_iter()
    .enumerate()
    {
        let out_key = s.arg(&format!("{n}.key"));
        let out = s.run(Some(file), &["key", "generate", "--out", &out_key], None);
        assert_refused(&out, &words);
        assert!(!Path::new(&out_key).exists(), "{out_key} was written");
    }
}

/// The real prompt, through a pseudo-terminal (`script` from util-linux): `key generate
/// --passphrase` asks twice (and writes nothing if the two differ), and `append` asks once, on
/// the terminal.
#[test]
fn the_terminal_prompt_seals_and_opens_a_key() {
    let s = Sealed::new();
    let ledger = assert_cmd::cargo::cargo_bin("ledger");
    let key = s.arg("typed.key");
    let in_terminal = |command: String, typed: &str| -> Output {
        use std::io::Write;
        let mut child = start(
            std::process::Command::new("script").args(["-qec", &command, "/dev/null"]),
            std::process::Stdio::piped(),
        );
        child
            .stdin
            .take()
            .unwrap()
            .write_all(typed.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let generate = format!("{} key generate --out {key} --passphrase", ledger.display());
    let out = in_terminal(generate.clone(), "sesame\nsesam\n");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&[], &out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the two passphrases differ"));
    assert!(
        !Path::new(&key).exists(),
        "a key was written with mistyped passphrases"
    );
    let out = in_terminal(generate, "sesame\nsesame\n");
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", describe(&[], &out));
    assert!(shown.contains("Passphrase for the new key file"), "{shown}");
    assert!(shown.contains("The same passphrase again"), "{shown}");
    write_private(&s.path("sesame"), "sesame\n");
    let public = s.run_ok(Some("sesame"), &["key", "public", &key], None);
    assert!(shown.contains(public.trim()), "{shown}");
    s.run_ok(
        Some("pass"),
        &[
            "key",
            "enroll",
            "--key",
            &s.arg("admin.key"),
            "--public",
            public.trim(),
            "--name",
            "typist",
            "--role",
            "investigator",
        ],
        None,
    );
    let events = s.path("events.ndjson");
    std::fs::write(&events, ndjson(&[incident("p-typed", 2)])).unwrap();
    let out = in_terminal(
        format!(
            "{} --ledger {} append --key {key} {}",
            ledger.display(),
            s.dir().display(),
            events.display()
        ),
        "sesame\n",
    );
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", describe(&[], &out));
    assert!(
        shown.contains(&format!("Passphrase of key file {key}")),
        "{shown}"
    );
    assert!(s.run_ok(None, &["log"], None).contains("p-typed"));
    s.head();
}

/// `key passphrase` copies a key file with its passphrase removed, or with a new one; a sealed
/// copy holds no trace of the secret in the clear, and signs with the new passphrase.
#[test]
fn key_passphrase_removes_and_sets_a_passphrase_on_a_copy() {
    let s = Sealed::new();
    let (inv, clear, resealed) = (s.arg("inv.key"), s.arg("clear.key"), s.arg("resealed.key"));
    let original = std::fs::read(&inv).unwrap();
    s.run_ok(
        Some("pass"),
        &[
            "key",
            "passphrase",
            "--key",
            &inv,
            "--out",
            &clear,
            "--remove",
        ],
        None,
    );
    assert_eq!(
        std::fs::read(&inv).unwrap(),
        original,
        "the original changed"
    );
    let clear_text = std::fs::read_to_string(&clear).unwrap();
    let secret = clear_text
        .lines()
        .find_map(|line| line.strip_prefix("secret: "))
        .unwrap_or_else(|| panic!("no secret in the clear: {clear_text}"));
    write_private(&s.path("new"), "a new passphrase\n");
    s.run_ok(
        None,
        &[
            "key",
            "passphrase",
            "--key",
            &clear,
            "--out",
            &resealed,
            "--new-passphrase-file",
            &s.arg("new"),
        ],
        None,
    );
    let resealed_text = std::fs::read_to_string(&resealed).unwrap();
    assert!(resealed_text.contains("\nsealed: "), "{resealed_text}");
    assert!(
        !resealed_text.contains(secret),
        "the seed is in the sealed file"
    );
    let public = std::fs::read_to_string(s.path("inv.public")).unwrap();
    for file in [&clear, &resealed] {
        assert_eq!(
            s.run_ok(None, &["key", "public", file], None).trim(),
            public
        );
    }
    assert_refused(
        &s.run(
            Some("pass"),
            &["append", "--key", &resealed, "-"],
            Some(&ndjson(&[incident("p-3", 1)])),
        ),
        &["passphrase", &resealed],
    );
    s.run_ok(
        Some("new"),
        &["append", "--key", &resealed, "-"],
        Some(&ndjson(&[incident("p-3", 1)])),
    );
    assert!(s.run_ok(None, &["log"], None).contains("p-3"));
    s.head();
}
