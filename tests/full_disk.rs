//! A full disk and a read-only file system, for real: the ledger on a small tmpfs, filled to
//! leave a few kilobytes at a time, while `append`, `import`, `project`, `export` and
//! `checkpoint` run through the binary. Each either succeeds or fails with exit 2 and one
//! sentence of advice, leaves no temporary file behind and changes nothing it did not finish,
//! and the ledger verifies after every attempt.
//!
//! Mounting needs root (CI runs as root); elsewhere the test says so and does nothing.

use crate::common::{incident, ndjson, run, snapshot_of};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tmpfs mounted at a path, with a filler file that takes what space a test wants gone.
struct SmallDisk {
    root: PathBuf,
}

impl SmallDisk {
    fn mount(root: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(root).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(root)
            .output()
            .is_ok_and(|out| out.status.success());
        if !mounted {
            eprintln!("skipped: mounting a small tmpfs needs root");
            return None;
        }
        Some(SmallDisk {
            root: root.to_path_buf(),
        })
    }

    fn filler(&self) -> PathBuf {
        self.root.join("filler")
    }

    /// Fills the disk so that about `kib` KiB stay free.
    fn leave_free(&self, kib: u64) {
        self.free_all();
        let stat = rustix::fs::statvfs(&self.root).unwrap();
        let avail = stat.f_bavail * stat.f_frsize;
        let mut left = avail.saturating_sub(kib * 1024);
        let mut file = std::fs::File::create(self.filler()).unwrap();
        let block = vec![0u8; 64 * 1024];
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            if file.write_all(&block[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
    }

    fn free_all(&self) {
        let _ = std::fs::remove_file(self.filler());
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.root)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}

/// Every file under `dir` with its bytes, but for those that change without meaning anything:
/// the derived state's database, the projection caches (a cache left unfinished reads as none
/// and is rebuilt), and the filler.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let Ok(items) = std::fs::read_dir(dir) else {
        return files;
    };
    for item in items {
        let path = item.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if matches!(&*name, "sled" | "cache" | "filler") {
            continue;
        }
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

/// Files a command writes before it puts them in place, which must never be left behind.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for item in std::fs::read_dir(dir).into_iter().flatten() {
        let path = item.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".new") || name.starts_with(".ledger-") || name.contains(".export-") {
            found.push(path.clone());
        }
        if path.is_dir() {
            found.extend(leftovers(&path));
        }
    }
    found
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Attempts {
    ledger: PathBuf,
    disk: PathBuf,
    admin_key: PathBuf,
    inv_key: PathBuf,
    data: PathBuf,
}

impl Attempts {
    /// The commands tried, by name; the `n`th attempt's arguments and standard input.
    const COMMANDS: [&'static str; 6] = [
        "append",
        "import",
        "project -o",
        "project (cache)",
        "export",
        "checkpoint",
    ];

    fn args(&self, command: &str, n: usize) -> (Vec<String>, Option<Vec<u8>>) {
        let path = |p: &Path| p.to_str().unwrap().to_string();
        let strings = |args: &[&str]| args.iter().map(ToString::to_string).collect::<Vec<_>>();
        match command {
            "append" => (
                strings(&["append", "--key", &path(&self.inv_key), "-"]),
                Some(ndjson(&[incident(&format!("fd-{n}"), 1)])),
            ),
            "import" => {
                let file = ["acled-current.csv", "acled-current-later.csv"][n % 2];
                let release = format!("r{n}");
                let file = path(&self.data.join(file));
                let key = path(&self.inv_key);
                let args = [
                    "import",
                    "acled",
                    &file,
                    "--key",
                    &key,
                    "--release",
                    &release,
                ];
                (strings(&args), None)
            }
            "project -o" => {
                let out = path(&self.disk.join("out.csv"));
                (strings(&["project", "incidents", "-o", &out]), None)
            }
            "project (cache)" => (strings(&["project", "regions"]), None),
            "export" => (
                strings(&["export", "--dir", &path(&self.disk.join("export"))]),
                None,
            ),
            "checkpoint" => {
                let out = path(&self.disk.join("checkpoint.txt"));
                let key = path(&self.admin_key);
                (strings(&["checkpoint", "--key", &key, "-o", &out]), None)
            }
            _ => unreachable!("{command}"),
        }
    }

    fn run(&self, command: &str, n: usize) -> Output {
        let (args, stdin) = self.args(command, n);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&self.ledger, &args, stdin.as_deref())
    }

    /// Checks what an attempt left, with the disk's space back; whether it succeeded.
    fn check(&self, what: &str, out: &Output, advice: &str, before: &Before) -> bool {
        let left = leftovers(&self.disk);
        assert!(left.is_empty(), "{what} left {left:?} behind");
        let verify = run(&self.ledger, &["verify"], None);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "after {what}: {}",
            stderr(&verify)
        );
        if out.status.success() {
            return true;
        }
        let said = stderr(out);
        assert_eq!(out.status.code(), Some(2), "{what}: {said}");
        assert_eq!(said.trim_end().lines().count(), 1, "{what}: {said}");
        assert!(said.contains(advice), "{what}: {said}");
        assert!(
            !said.contains("Os {") && !said.contains("kind:"),
            "{what}: {said}"
        );
        let now = files_under(&self.disk);
        // A checkpoint signed and kept before its copy for `-o` failed stays kept: running the
        // command again writes that copy.
        let kept_checkpoint = |path: &Path| {
            what.starts_with("checkpoint")
                && said.contains("checkpoint.txt")
                && path.starts_with(self.ledger.join("checkpoints"))
        };
        let changed: Vec<_> = (now.keys().chain(before.0.keys()))
            .filter(|path| now.get(*path) != before.0.get(*path) && !kept_checkpoint(path))
            .collect();
        assert!(
            changed.is_empty(),
            "{what} failed but changed {changed:?}: {said}"
        );
        if let Some(ledger) = &before.1 {
            assert!(
                snapshot_of(&self.ledger) == *ledger,
                "{what} failed but changed the ledger"
            );
        }
        false
    }

    /// What is there before an attempt; the derived state too where it can be opened (a
    /// database cannot be on a read-only file system).
    fn before(&self, with_derived_state: bool) -> Before {
        let derived = with_derived_state.then(|| snapshot_of(&self.ledger));
        (files_under(&self.disk), derived)
    }
}

type Before = (BTreeMap<PathBuf, Vec<u8>>, Option<crate::common::Snapshot>);

#[test]
fn a_full_disk_or_a_read_only_one_fails_a_command_whole_with_a_sentence() {
    let f = crate::common::Fixture::with_incidents();
    let Some(disk) = SmallDisk::mount(&f.path("disk"), "16m") else {
        return;
    };
    let ledger = disk.root.join("ledger");
    std::fs::create_dir(&ledger).unwrap();
    crate::common::copy_tree(&f.dir, &ledger);
    let attempts = Attempts {
        ledger,
        disk: disk.root.clone(),
        admin_key: f.admin_key.clone(),
        inv_key: f.inv_key.clone(),
        data: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"),
    };
    // The derived state grows its files on first opening; that is not what is tried here.
    let warm = attempts.run("append", 0);
    assert!(warm.status.success(), "{}", stderr(&warm));

    let mut outcomes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut n = 1;
    for free in [
        0, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024,
    ] {
        for command in Attempts::COMMANDS {
            let before = attempts.before(true);
            disk.leave_free(free);
            let out = attempts.run(command, n);
            disk.free_all();
            let what = format!("{command} with {free} KiB free");
            let succeeded = attempts.check(&what, &out, "free some space", &before);
            let (ok, failed) = outcomes.entry(command).or_default();
            *if succeeded { ok } else { failed } += 1;
            n += 1;
        }
    }
    for (command, (ok, failed)) in &outcomes {
        assert!(
            *ok > 0 && *failed > 0,
            "{command}: {ok} succeeded and {failed} failed; the sizes tried miss the disk's edge"
        );
    }

    disk.remount("ro");
    for command in Attempts::COMMANDS {
        let before = attempts.before(false);
        let out = attempts.run(command, n);
        let what = format!("{command} on a read-only file system");
        let succeeded = attempts.check(&what, &out, "read-only", &before);
        // Reading never writes: a view is still shown.
        assert_eq!(
            succeeded,
            command == "project (cache)",
            "{what}: {}",
            stderr(&out)
        );
        n += 1;
    }
    disk.remount("rw");
}
