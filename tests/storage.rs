//! The log's files as an auditor and a busy team meet them: every reading command works on a
//! read-only copy and changes no byte of it, and readers run beside a long append without
//! waiting, failing or seeing part of a batch.

use crate::common::{copy_tree, describe, incident, ledger_process, ndjson, Fixture};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Every file under `root` with its mode and the SHA-256 of its bytes; directories with their mode.
fn tree(root: &Path) -> BTreeMap<PathBuf, (u32, Option<String>)> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for item in std::fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.is_dir() {
                pending.push(path);
                found.insert(relative, (mode, None));
            } else {
                let digest = hex::encode(Sha256::digest(std::fs::read(&path).unwrap()));
                found.insert(relative, (mode, Some(digest)));
            }
        }
    }
    found
}

/// Takes write permission away from everything under `root`.
fn make_read_only(root: &Path) {
    for (relative, (mode, _)) in tree(root) {
        let path = root.join(relative);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o555)).unwrap();
    }
    let mode = std::fs::metadata(root).unwrap().permissions().mode();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(mode & 0o555)).unwrap();
}

/// A copy of the fixture's ledger whose files nobody may write, in a directory others may enter.
fn read_only_copy(f: &Fixture) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = root.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    copy_tree(&f.dir, &copy);
    make_read_only(&copy);
    (root, copy)
}

/// The unprivileged user the read-only runs switch to when the tests run as root, for whom file
/// modes do not stop writes.
const NOBODY: u32 = 65_534;

/// Runs `ledger --ledger DIR args` as a user who cannot write to `dir`.
fn run_as_reader(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = ledger_process(dir);
    cmd.args(args);
    if running_as_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd.output().expect("ledger runs")
}

fn running_as_root() -> bool {
    // `id -u` rather than libc, to keep unsafe code out of the tests.
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

#[test]
fn reading_commands_work_on_a_read_only_copy_and_change_no_byte_of_it() {
    let f = Fixture::with_incidents();
    // Derived files and caches as a working ledger has them.
    f.run_ok(&["project", "incidents"], None);
    let (root, copy) = read_only_copy(&f);
    let before = tree(&copy);
    let out_dir = root.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let export_dir = out_dir.join("export");
    let export_dir = export_dir.to_str().unwrap();
    let raw_file = out_dir.join("entry.bin");
    let raw_file = raw_file.to_str().unwrap();

    for args in [
        &["verify"][..],
        &["verify", "--format", "json"],
        &["log"],
        &["log", "--format", "ndjson"],
        &["show", "4", "--format", "json"],
        &["key", "list"],
        &["project", "incidents"],
        &["project", "regions", "--rebuild", "--format", "csv"],
        &["project", "authors"],
        &["export", "--dir", export_dir],
        &["prove", "inclusion", "4"],
        &["prove", "consistency", "--from", "3"],
        &["show", "4", "--raw", "-o", raw_file],
    ] {
        let out = run_as_reader(&copy, args);
        assert!(out.status.success(), "{}", describe(args, &out));
        assert_eq!(tree(&copy), before, "{args:?} changed the read-only copy");
    }
    let verified = run_as_reader(&copy, &["verify"]);
    assert!(String::from_utf8_lossy(&verified.stdout).contains("intact"));
    assert!(
        Path::new(export_dir).join("manifest.json").is_file(),
        "the export was written outside the ledger"
    );
}

#[test]
fn the_writer_refuses_a_read_only_copy_with_a_sentence() {
    let f = Fixture::with_incidents();
    let (root, copy) = read_only_copy(&f);
    let before = tree(&copy);
    // The key is the test's, readable by whoever runs the binary.
    let key = root.path().join("inv.key");
    std::fs::copy(&f.inv_key, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    if running_as_root() {
        std::os::unix::fs::chown(&key, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let mut cmd = ledger_process(&copy);
    cmd.args(["append", "--key", key.to_str().unwrap(), "-"]);
    if running_as_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd.stdin(std::fs::File::open(write_events(root.path(), 1)).unwrap());
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        describe(&["append"], &out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("ledger: "), "{stderr}");
    assert!(!stderr.contains("Os {"), "debug text in {stderr}");
    assert_eq!(tree(&copy), before);
}

fn write_events(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("events-{n}.ndjson"));
    let lines: Vec<String> = (0..n).map(|i| incident(&format!("big-{i}"), 1)).collect();
    std::fs::write(&path, ndjson(&lines)).unwrap();
    path
}

/// `(entries, head seq)` from `ledger verify --format json`, which must find the log intact.
fn verified(dir: &Path) -> (u64, u64) {
    let out = ledger_process(dir)
        .args(["verify", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        describe(&["verify", "--format", "json"], &out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        report["entries"].as_u64().unwrap(),
        report["last_seq"].as_u64().unwrap(),
    )
}

#[test]
fn readers_beside_a_long_append_never_wait_fail_or_see_part_of_it() {
    let f = Fixture::with_incidents();
    let batch = 6000;
    let input = write_events(&f.path(""), batch);
    let before = verified(&f.dir);
    let mut writer = ledger_process(&f.dir)
        .args(["append", "--key", f.inv_key.to_str().unwrap()])
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    loop {
        let done = writer.try_wait().unwrap().is_some();
        let (entries, head) = verified(&f.dir);
        assert!(
            entries == before.0 || entries == before.0 + batch as u64,
            "a reader saw {entries} entries: part of a batch"
        );
        assert_eq!(head + 1, entries);
        let out = ledger_process(&f.dir)
            .args(["project", "regions", "--format", "csv"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&["project"], &out));
        seen.push(entries);
        if done {
            break;
        }
    }
    assert!(writer.wait().unwrap().success());
    assert_eq!(verified(&f.dir).0, before.0 + batch as u64);
    assert!(
        seen.contains(&before.0),
        "no reader ran during the append ({seen:?}); make the batch larger"
    );
}

#[test]
fn a_reader_killed_at_any_moment_leaves_nothing_behind() {
    let f = Fixture::with_incidents();
    f.append_ok(
        &(0..3000)
            .map(|i| incident(&format!("k-{i}"), 1))
            .collect::<Vec<_>>(),
    );
    f.run_ok(&["project", "incidents"], None);
    let before = tree(&f.dir);
    for (delay_ms, args) in [
        (5, &["verify"][..]),
        (40, &["verify"]),
        (20, &["log", "--format", "ndjson"]),
        (30, &["project", "regions", "--rebuild"]),
    ] {
        let mut reader = ledger_process(&f.dir)
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = reader.kill();
        reader.wait().unwrap();
        // A killed `project --rebuild` may leave its cache for a later run to replace; nothing
        // else may change.
        let mut after = tree(&f.dir);
        let mut expected = before.clone();
        after.retain(|path, _| !path.starts_with("cache"));
        expected.retain(|path, _| !path.starts_with("cache"));
        assert_eq!(
            after, expected,
            "{args:?} killed after {delay_ms} ms changed the ledger"
        );
        f.assert_intact();
    }
    f.append_ok(&[incident("after-kills", 1)]);
}
