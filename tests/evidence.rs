//! Evidence custody through the binary: what an anchoring records of a capture, a chain of
//! custody in the `custody` view, its rules, and `evidence check` against real files.

use crate::common::{json_lines, Fixture};
use serde_json::Value;
use std::path::Path;

fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// `ledger attach` of `file` to t-3 by the investigator, with `extra` flags.
fn attach(f: &Fixture, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "attach",
        "--key",
        f.inv_key.to_str().unwrap(),
        "--incident",
        "t-3",
    ];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    f.run(&args, None)
}

/// The fixture with incidents, a video anchored to t-3 with how it was captured, and its
/// transcript anchored as derived from it.
fn with_video() -> (Fixture, std::path::PathBuf) {
    let f = Fixture::with_incidents();
    let video = f.path("strike.mp4");
    std::fs::write(&video, b"not really a video, but bytes all the same").unwrap();
    let capture = [
        "--source-url",
        "https://example.org/watch?v=1",
        "--capture-method",
        "download of the original upload",
        "--capture-tool",
        "yt-dlp 2023.11.16",
        "--captured-at",
        "2023-11-20T08:00:00Z",
    ];
    assert!(attach(&f, &video, &capture).status.success());
    let transcript = f.path("strike.txt");
    std::fs::write(&transcript, b"transcript of the video").unwrap();
    let derived = attach(&f, &transcript, &["--derived-from", &sha256_of(&video)]);
    assert!(derived.status.success());
    (f, video)
}

fn custody(f: &Fixture, video: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "evidence",
        "custody",
        "--key",
        f.inv_key.to_str().unwrap(),
        "--file",
        video.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    f.run(&args, None)
}

fn head(f: &Fixture) -> Value {
    let log = json_lines(&f.run_ok(&["log", "--format", "ndjson"], None));
    log.last().unwrap()["entry_hash"].clone()
}

#[test]
fn a_chain_of_custody_shows_in_order_and_ends_at_disposal() {
    let (f, video) = with_video();
    for extra in [
        &[
            "--action",
            "transferred",
            "--by",
            "Panel of Experts",
            "--to",
            "ICC OTP",
            "--at",
            "2023-12-01",
            "--location",
            "evidence vault 2",
        ][..],
        &[
            "--action",
            "analysed",
            "--by",
            "ICC OTP forensic lab",
            "--at",
            "2024-01-15",
            "--note",
            "frame-by-frame analysis",
        ],
        &[
            "--action",
            "disposed",
            "--by",
            "ICC OTP",
            "--at",
            "2025-01-01",
        ],
    ] {
        let out = custody(&f, &video, extra);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let csv = f.run_ok(&["project", "custody", "--format", "csv"], None);
    let sha = sha256_of(&video);
    let chain: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .filter(|line| line.starts_with(&sha))
        .map(|line| line.split(',').take(9).map(String::from).collect())
        .collect();
    let row = |cells: &[&str]| cells.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        chain,
        [
            row(&[
                &sha,
                "strike.mp4",
                "t-3",
                "9",
                "anchored",
                "inv",
                "2023-11-20T08:00:00Z",
                "",
                ""
            ]),
            row(&[
                &sha,
                "strike.mp4",
                "t-3",
                "11",
                "transferred",
                "Panel of Experts",
                "2023-12-01",
                "ICC OTP",
                "evidence vault 2"
            ]),
            row(&[
                &sha,
                "strike.mp4",
                "t-3",
                "12",
                "analysed",
                "ICC OTP forensic lab",
                "2024-01-15",
                "",
                ""
            ]),
            row(&[
                &sha,
                "strike.mp4",
                "t-3",
                "13",
                "disposed",
                "ICC OTP",
                "2025-01-01",
                "",
                ""
            ]),
        ]
    );

    // Nothing follows a disposal, and the refusal leaves the ledger as it was.
    let before = head(&f);
    let out = custody(&f, &video, &["--action", "copied", "--by", "someone"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("disposed of at seq 13"), "{stderr}");
    assert_eq!(head(&f), before);
    f.assert_intact();

    // The evidence view carries what the anchoring recorded of the capture, and the chain's
    // state.
    let evidence: Vec<Value> =
        serde_json::from_str(&f.run_ok(&["project", "evidence", "--format", "json"], None))
            .unwrap();
    let anchored = evidence
        .iter()
        .find(|e| e["sha256"] == sha.as_str())
        .unwrap();
    assert_eq!(anchored["source_url"], "https://example.org/watch?v=1");
    assert_eq!(anchored["capture_tool"], "yt-dlp 2023.11.16");
    assert_eq!(anchored["custody_events"], 3);
    assert_eq!(anchored["disposed_seq"], 13);
    let transcript = evidence
        .iter()
        .find(|e| e["filename"] == "strike.txt")
        .unwrap();
    assert_eq!(transcript["derived_from"], format!("[\"{sha}\"]"));
}

#[test]
fn custody_and_conversions_must_name_anchored_evidence() {
    let (f, _) = with_video();
    let stranger = f.path("stranger.bin");
    std::fs::write(&stranger, b"never anchored").unwrap();
    let before = head(&f);
    let out = custody(&f, &stranger, &["--action", "copied", "--by", "someone"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has been anchored"), "{stderr}");

    let copy = f.path("copy.txt");
    std::fs::write(&copy, b"a conversion of nothing anchored").unwrap();
    let out = attach(&f, &copy, &["--derived-from", &sha256_of(&stranger)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(head(&f), before);
}

#[test]
fn evidence_check_names_what_a_file_matches_and_fails_on_altered_or_unknown_files() {
    let (f, video) = with_video();
    let out = f.run(&["evidence", "check", video.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("matches strike.mp4 anchored to incident t-3 at seq 9 by inv"),
        "{text}"
    );

    let altered = f.path("altered.mp4");
    let mut bytes = std::fs::read(&video).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&altered, bytes).unwrap();
    let unknown = f.path("unknown.pdf");
    std::fs::write(&unknown, b"%PDF-1.7").unwrap();
    let (video, altered, unknown) = (
        video.to_str().unwrap(),
        altered.to_str().unwrap(),
        unknown.to_str().unwrap(),
    );
    let out = f.run(
        &[
            "evidence", "check", video, altered, unknown, "--format", "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "not every file matched");
    let checked: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let matched: Vec<usize> = checked
        .iter()
        .map(|c| c["matches"].as_array().unwrap().len())
        .collect();
    assert_eq!(matched, [1, 0, 0]);
    assert_eq!(checked[0]["matches"][0]["anchored_seq"], 9);

    let out = f.run(
        &["evidence", "check", f.path("missing").to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
