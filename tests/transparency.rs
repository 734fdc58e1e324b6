//! The auditor's side of the transparency log, through the real binary: checkpoints the ledger
//! signs and keeps, what `audit` proves with nothing but a verifier key (an entry's inclusion,
//! two checkpoints' consistency, a receipt), `verify --checkpoint` catching a log cut back behind
//! the ledger's back, and `verify --policy` holding each entry's recorded_at to the times the
//! witnesses cosigned the checkpoints around it.

use crate::common::{assert_refused, incident, Fixture};
use ledger::keys::SecretKey;
use ledger::note::cosignature;
use ledger::note::signed::Note;
use std::path::{Path, PathBuf};

/// A fixture's ledger with its admin's verifier key written beside it.
struct Log {
    f: Fixture,
    vkey: PathBuf,
}

impl Log {
    fn new() -> Log {
        let f = Fixture::with_incidents();
        let admin = f.admin_key.to_str().unwrap().to_string();
        let vkey = f.run_ok(
            &["key", "vkey", "--public", &admin, "--name", "test/ledger"],
            None,
        );
        let path = f.path("log.vkey");
        std::fs::write(&path, vkey).unwrap();
        Log { f, vkey: path }
    }

    fn checkpoint(&self, name: &str) -> PathBuf {
        let path = self.f.path(name);
        let admin = self.f.admin_key.to_str().unwrap().to_string();
        self.f.run_ok(
            &["checkpoint", "--key", &admin, "-o", path.to_str().unwrap()],
            None,
        );
        path
    }

    fn size(&self) -> u64 {
        let log = self.f.run_ok(&["log", "--format", "json"], None);
        serde_json::from_str::<serde_json::Value>(&log)
            .unwrap()
            .as_array()
            .unwrap()
            .len() as u64
    }

    /// `ledger audit ARGS`, run where no ledger is: its exit code.
    fn audit(&self, args: &[&str]) -> i32 {
        let nowhere = self.f.path("no-ledger-here");
        let mut full = vec!["audit"];
        full.extend_from_slice(args);
        let out = crate::common::run(&nowhere, &full, None);
        assert!(!nowhere.exists(), "audit made a ledger");
        // Shown with a failing assertion on the code.
        eprintln!("audit {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.status.code().unwrap()
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn every_entry_is_proved_in_a_checkpoint_and_a_tampered_one_is_not() {
    let log = Log::new();
    let f = &log.f;
    let checkpoint = log.checkpoint("cp");
    let size = log.size();
    let vkey = s(&log.vkey).to_string();
    for seq in 0..size {
        let (entry, proof) = (f.path(&format!("e{seq}")), f.path(&format!("p{seq}")));
        f.run_ok(&["show", &seq.to_string(), "--raw", "-o", s(&entry)], None);
        f.run_ok(
            &["prove", "inclusion", &seq.to_string(), "-o", s(&proof)],
            None,
        );
        let args = |entry: &Path, index: u64, proof: &Path| {
            vec![
                "inclusion".to_string(),
                "--checkpoint".into(),
                s(&checkpoint).into(),
                "--vkey".into(),
                vkey.clone(),
                "--entry".into(),
                s(entry).into(),
                "--index".into(),
                index.to_string(),
                "--proof".into(),
                s(proof).into(),
            ]
        };
        let run =
            |args: Vec<String>| log.audit(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(run(args(&entry, seq, &proof)), 0, "seq {seq}");
        // Another index, a flipped byte of the entry: not proved (1).
        assert_eq!(run(args(&entry, (seq + 1) % size, &proof)), 1, "seq {seq}");
        let mut bytes = std::fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let flipped = f.path("flipped");
        std::fs::write(&flipped, bytes).unwrap();
        assert_eq!(run(args(&flipped, seq, &proof)), 1, "seq {seq}");
        // A proof that is not one: unreadable input (2).
        std::fs::write(f.path("junk"), "not a proof\n").unwrap();
        assert_eq!(run(args(&entry, seq, &f.path("junk"))), 2, "seq {seq}");
    }
    // A checkpoint whose size line was changed no longer carries the log's signature.
    let text = std::fs::read_to_string(&checkpoint).unwrap();
    let bumped = text.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1);
    assert_ne!(bumped, text);
    std::fs::write(f.path("bumped"), bumped).unwrap();
    let (entry, proof) = (f.path("e0"), f.path("p0"));
    let code = log.audit(&[
        "inclusion",
        "--checkpoint",
        s(&f.path("bumped")),
        "--vkey",
        &vkey,
        "--entry",
        s(&entry),
        "--index",
        "0",
        "--proof",
        s(&proof),
    ]);
    assert_eq!(code, 1);
}

#[test]
fn checkpoints_are_kept_consistent_and_a_log_cut_back_is_caught() {
    let log = Log::new();
    let f = &log.f;
    let old = log.checkpoint("old");
    let old_size = log.size();
    f.append_ok(&[incident("t-9", 2), incident("t-10", 3)]);
    let new = log.checkpoint("new");
    let proof = f.path("consistency");
    f.run_ok(
        &[
            "prove",
            "consistency",
            "--from",
            &old_size.to_string(),
            "-o",
            s(&proof),
        ],
        None,
    );
    let vkey = s(&log.vkey).to_string();
    let consistency = |old: &Path, new: &Path| {
        log.audit(&[
            "consistency",
            "--old",
            s(old),
            "--new",
            s(new),
            "--vkey",
            &vkey,
            "--proof",
            s(&proof),
        ])
    };
    assert_eq!(consistency(&old, &new), 0);
    // Swapped, the proof proves nothing.
    assert_eq!(consistency(&new, &old), 1);
    // The ledger keeps both and verifies against either.
    for checkpoint in [&old, &new] {
        let out = f.run(
            &["verify", "--checkpoint", s(checkpoint), "--vkey", &vkey],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // The last two entries cut off behind the ledger's back: plain verify has nothing to go
    // on, but the checkpoint of the longer log catches it, and no checkpoint is signed over it.
    f.edit_log(|raw| {
        let last = raw.last_seq();
        raw.remove(last);
        raw.remove(last - 1);
        raw.set_head_to_last();
    });
    let out = f.run(&["verify", "--checkpoint", s(&new), "--vkey", &vkey], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("does not extend the checkpoint given")
            && stdout.contains("entries were cut from its end"),
        "{stdout}"
    );
    // The older checkpoint is still extended (the tree's own files show the cut).
    let out = f.run(&["verify", "--checkpoint", s(&old), "--vkey", &vkey], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("does not extend the checkpoint"),
        "{stdout}"
    );
    let admin = s(&f.admin_key).to_string();
    let refused = f.run(&["checkpoint", "--key", &admin], None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no longer extends the last checkpoint")
    );
}

/// `note` cosigned by a witness named `name` with `key`, at `timestamp` (seconds): the line a
/// witness with that clock would add.
fn cosigned_by(note: &[u8], name: &str, key: &SecretKey, timestamp: u64) -> Vec<u8> {
    let mut note = Note::parse(note).unwrap();
    let line = cosignature::cosign(&note, name, key, timestamp).unwrap();
    note.add(line).unwrap();
    note.to_string().into_bytes()
}

#[test]
fn receipts_and_witnessed_time() {
    let log = Log::new();
    let f = &log.f;
    let vkey = std::fs::read_to_string(&log.vkey).unwrap();
    let witness_file = f.path("witness.key");
    f.run_ok(&["key", "generate", "--out", s(&witness_file)], None);
    let witness = SecretKey::load(&witness_file).unwrap();
    let wvkey = f.run_ok(
        &[
            "key",
            "vkey",
            "--public",
            s(&witness_file),
            "--name",
            "w.example",
            "--witness",
        ],
        None,
    );
    let policy = f.path("policy");
    std::fs::write(
        &policy,
        format!(
            "log {}\nwitness w1 {}\nquorum w1\n",
            vkey.trim(),
            wvkey.trim()
        ),
    )
    .unwrap();

    // The real witness cosigns the first checkpoint; the ledger keeps its line.
    let first = log.checkpoint("first");
    let line = f.run_ok(
        &[
            "witness",
            "cosign",
            s(&first),
            "--key",
            s(&witness_file),
            "--name",
            "w.example",
            "--vkey",
            s(&log.vkey),
            "--state",
            s(&f.path("wstate")),
        ],
        None,
    );
    let mut cosigned = std::fs::read(&first).unwrap();
    cosigned.extend_from_slice(line.as_bytes());
    std::fs::write(f.path("first.cosigned"), &cosigned).unwrap();
    f.run_ok(&["checkpoint", "--add", s(&f.path("first.cosigned"))], None);
    let out = f.run(&["verify", "--policy", s(&policy)], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // `show` places an entry the checkpoint holds before the witness's cosignature.
    let shown = f.run_ok(&["show", "3", "--policy", s(&policy)], None);
    let witnessed = shown
        .lines()
        .find(|l| l.starts_with("witnessed"))
        .unwrap_or_default();
    assert!(witnessed.contains("after -, before 20"), "{shown}");

    // A receipt for one entry checks with the policy, and not once altered.
    let receipt = f.path("receipt");
    f.run_ok(&["receipt", "3", "-o", s(&receipt)], None);
    let vkey_arg = s(&log.vkey).to_string();
    let check = |path: &Path| {
        log.audit(&[
            "receipt",
            s(path),
            "--vkey",
            &vkey_arg,
            "--policy",
            s(&policy),
        ])
    };
    assert_eq!(check(&receipt), 0);
    let text = std::fs::read_to_string(&receipt).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (what, at) in [("entry", 1), ("path", 3)] {
        let mut altered: Vec<String> = lines.iter().map(ToString::to_string).collect();
        // The first base64 character of the line's value, always data, made another.
        let line = &mut altered[at];
        let first = line.find(' ').map_or(0, |space| space + 1);
        let other = if line[first..].starts_with('A') {
            "B"
        } else {
            "A"
        };
        line.replace_range(first..first + 1, other);
        let path = f.path(&format!("receipt-{what}"));
        std::fs::write(&path, altered.join("\n") + "\n").unwrap();
        assert_ne!(check(&path), 0, "altered {what}");
    }
    // Without the witness's line the checkpoint misses the quorum.
    let bare = text
        .lines()
        .filter(|l| !l.starts_with("— w.example"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(f.path("receipt-bare"), bare).unwrap();
    assert_eq!(check(&f.path("receipt-bare")), 1);
    // A checkpoint whose root line was changed no longer carries the log's signature.
    let checkpoint_root = text
        .split("\n\n")
        .nth(1)
        .and_then(|cp| cp.lines().nth(2))
        .unwrap();
    let other = text.replacen(
        checkpoint_root,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        1,
    );
    assert_ne!(other, text);
    std::fs::write(f.path("receipt-root"), other).unwrap();
    assert_eq!(check(&f.path("receipt-root")), 1);

    // A witness whose clock says the first checkpoint was cosigned a day before the entries it
    // holds were recorded: they are forward-dated.
    let day = 24 * 3600;
    let now = chrono::Utc::now().timestamp() as u64;
    let early = cosigned_by(
        &std::fs::read(&first).unwrap(),
        "w.example",
        &witness,
        now - day,
    );
    std::fs::write(f.path("early"), early).unwrap();
    let out = f.run(
        &[
            "verify",
            "--checkpoint",
            s(&f.path("early")),
            "--policy",
            s(&policy),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("forward-dated"), "{stdout}");

    // A checkpoint cosigned "tomorrow", then entries appended now: recorded before a checkpoint
    // that lacks them was cosigned, they are back-dated (beyond the hour allowed).
    let size = log.size();
    let later = cosigned_by(
        &std::fs::read(&first).unwrap(),
        "w.example",
        &witness,
        now + day,
    );
    std::fs::write(f.path("later"), later).unwrap();
    f.append_ok(&[incident("t-20", 1)]);
    let out = f.run(
        &[
            "verify",
            "--checkpoint",
            s(&f.path("later")),
            "--policy",
            s(&policy),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let back_dated: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("back-dated"))
        .collect();
    assert_eq!(back_dated.len(), 1, "{stdout}");
    assert!(
        back_dated[0].starts_with(&format!("seq {size}:")),
        "{stdout}"
    );

    // A policy that names the ledger's verifier key needs no --vkey, and an unreadable one is
    // refused as input.
    std::fs::write(f.path("bad-policy"), "quorum nobody\n").unwrap();
    assert_refused(
        &f.run(&["verify", "--policy", s(&f.path("bad-policy"))], None),
        &["is not a policy"],
    );
}
