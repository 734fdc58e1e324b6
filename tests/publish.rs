//! `ledger publish` and `ledger audit remote` through the real binary: a published copy checked
//! from a directory and over HTTP on loopback, published again incrementally, and tampered with.

use crate::common::{incident, run, Fixture};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A static HTTP/1.1 server of `root` on a loopback port, in a thread of its own for the rest of
/// the test run: GET of a file gives it with its length, anything else 404.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            if BufReader::new(&stream).read_line(&mut request).is_err() {
                continue;
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let file = root.join(path.trim_start_matches('/'));
            let response = match std::fs::read(&file) {
                Ok(body) if file.is_file() => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    [head.into_bytes(), body].concat()
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    address
}

/// A ledger of more than one full tile, its checkpoint kept, and its verifier key in a file.
fn published() -> (Fixture, PathBuf, PathBuf) {
    let f = Fixture::with_incidents();
    let lines: Vec<String> = (0..300)
        .map(|i| incident(&format!("p-{i}"), i % 5))
        .collect();
    f.append_ok(&lines);
    let admin = s(&f.admin_key).to_string();
    f.run_ok(
        &["checkpoint", "--key", &admin, "-o", s(&f.path("cp-old"))],
        None,
    );
    let vkey = f.path("log.vkey");
    let text = f.run_ok(
        &["key", "vkey", "--public", &admin, "--name", "test/ledger"],
        None,
    );
    std::fs::write(&vkey, text).unwrap();
    let dir = f.path("pub");
    f.run_ok(&["publish", "--dir", s(&dir)], None);
    (f, dir, vkey)
}

/// `ledger audit remote ARGS` with no ledger: its exit code and standard output.
fn audit_remote(f: &Fixture, args: &[&str]) -> (i32, String) {
    let mut full = vec!["audit", "remote"];
    full.extend_from_slice(args);
    let out = run(&f.path("no-ledger"), &full, None);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_published_log_is_audited_from_a_directory_and_over_http_and_grows_by_what_is_new() {
    let (f, dir, vkey) = published();
    for layout in [
        "checkpoint",
        "tile/0/000",
        "tile/0/001.p/53",
        "tile/1/000.p/1",
        "tile/entries/000",
        "tile/entries/001.p/53",
    ] {
        assert!(dir.join(layout).is_file(), "{layout} missing");
    }
    let (code, out) = audit_remote(&f, &["--dir", s(&dir), "--vkey", s(&vkey)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("holds 309 entries"), "{out}");
    let url = serve(dir.clone());
    let (code, out) = audit_remote(&f, &["--url", &url, "--vkey", s(&vkey)]);
    assert_eq!(code, 0, "{out}");

    // Published again after appends: the full tiles are the same files, untouched; the new
    // partial ones are written beside the old; the audit holds, and extends the old checkpoint.
    use std::os::unix::fs::MetadataExt;
    let full = dir.join("tile/entries/000");
    let inode = std::fs::metadata(&full).unwrap().ino();
    f.append_ok(&[incident("p-new", 1)]);
    let admin = s(&f.admin_key).to_string();
    f.run_ok(&["checkpoint", "--key", &admin], None);
    let out = f.run_ok(&["publish", "--dir", s(&dir)], None);
    assert!(
        out.contains("published 310 entries") && out.contains("(309 before)"),
        "{out}"
    );
    assert_eq!(std::fs::metadata(&full).unwrap().ino(), inode);
    assert!(
        dir.join("tile/entries/001.p/54").is_file() && dir.join("tile/entries/001.p/53").is_file()
    );
    let old = f.path("cp-old");
    let (code, out) = audit_remote(&f, &["--url", &url, "--vkey", s(&vkey), "--since", s(&old)]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_tampered_copy_or_a_fork_is_caught() {
    let (f, dir, vkey) = published();
    let check = |dir: &Path, extra: &[&str]| {
        let mut args = vec!["--dir", s(dir), "--vkey", s(&vkey)];
        args.extend_from_slice(extra);
        audit_remote(&f, &args)
    };
    let copy = |name: &str| {
        let to = f.path(name);
        std::fs::create_dir(&to).unwrap();
        crate::common::copy_tree(&dir, &to);
        to
    };
    let flip = |path: PathBuf, at: usize| {
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] ^= 1;
        std::fs::write(&path, bytes).unwrap();
    };
    // A hash in a tile, a byte of an entry, the checkpoint's root: each caught (exit 1).
    let tile = copy("tile");
    flip(tile.join("tile/0/000"), 100);
    let (code, out) = check(&tile, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tile/0/000"), "{out}");
    let bundle = copy("bundle");
    flip(bundle.join("tile/entries/000"), 500);
    let (code, out) = check(&bundle, &[]);
    assert_eq!(code, 1, "{out}");
    let signed = copy("signed");
    let text = std::fs::read_to_string(signed.join("checkpoint")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let other_root = text.replacen(lines[2], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1);
    std::fs::write(signed.join("checkpoint"), other_root).unwrap();
    let (code, out) = check(&signed, &[]);
    assert_eq!(code, 1, "{out}");

    // A fork: another log under the same origin and key, whose checkpoint the published one
    // does not extend.
    let fork = f.path("fork");
    let admin = s(&f.admin_key).to_string();
    run(
        &fork,
        &["init", "--admin-key", &admin, "--origin", "test/ledger"],
        None,
    );
    let forked = f.path("cp-fork");
    let out = run(
        &fork,
        &["checkpoint", "--key", &admin, "-o", s(&forked)],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, out) = check(&dir, &["--since", s(&forked)]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not the root of the checkpoint given with --since"),
        "{out}"
    );

    // A publish into the ledger's own directory, or over another log's copy, is refused.
    let refused = f.run(&["publish", "--dir", s(&f.dir.join("pub"))], None);
    assert_eq!(refused.status.code(), Some(2));
    let out = run(&fork, &["publish", "--dir", s(&dir)], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
