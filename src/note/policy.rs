//! Trust policies (c2sp.org/tlog-policy): which logs are trusted (`log <vkey> [url]`), which
//! witnesses (`witness <name> <vkey> [url]`), how witnesses group (`group <name> all|any|<k>
//! <member>...`) and the one quorum a checkpoint's cosignatures must meet (`quorum <name>|none`).
//! This module reads a policy file and decides whether the verified cosignatures on a checkpoint
//! meet its quorum.
//!
//! URLs are accepted and not kept: the ledger only verifies offline. Names must be UTF-8 (the
//! spec lets them be any bytes above 0x7f; a key name in a note is UTF-8 anyway). It never
//! verifies the log's own signature: [`super::checkpoint::open`] does, with the key
//! [`Policy::log_for`] picks.

use crate::note::cosignature::{self, CosignatureError};
use crate::note::signed::{Note, NoteError};
use crate::note::vkey::{KeyType, VerifierKey, VkeyError};

/// How many logs, witnesses and groups a policy may define each (the spec asks for at least 32).
pub const MAX_DEFINITIONS: usize = 256;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is not UTF-8 text")]
    NotUtf8,
    #[error("policy line {line}: {problem}")]
    Line {
        line: usize,
        #[source]
        problem: LineProblem,
    },
    #[error("the policy has no `quorum` line")]
    NoQuorum,
}

/// What is wrong with one line of a policy.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error("it holds a control character other than tab")]
    ControlCharacter,
    #[error("{0:?} is not `log`, `witness`, `group` or `quorum`")]
    UnknownKeyword(String),
    #[error("`{keyword}` takes {expected}")]
    Arguments {
        keyword: &'static str,
        expected: &'static str,
    },
    #[error("its verifier key is malformed")]
    Vkey(#[source] VkeyError),
    #[error("the key {name} is {} where {} is needed", .found.role(), .wanted.role())]
    KeyType {
        name: String,
        found: KeyType,
        wanted: KeyType,
    },
    #[error("the public key of {0} is already in the policy")]
    DuplicateKey(String),
    #[error("the name {0:?} is already defined")]
    DuplicateName(String),
    #[error("the name {0:?} is not defined on an earlier line")]
    UnknownName(String),
    #[error("`none` is not a witness or group and cannot be a group's member")]
    NoneAsMember,
    #[error("{0:?} is not a threshold: `all`, `any` or a decimal number")]
    BadThreshold(String),
    #[error("the threshold {threshold} is not between 1 and the {members} members")]
    ThresholdRange { threshold: usize, members: usize },
    #[error("{0:?} is listed twice as a member")]
    RepeatedMember(String),
    #[error("a second `quorum` line")]
    SecondQuorum,
    #[error("more than {MAX_DEFINITIONS} logs, witnesses or groups")]
    TooMany,
}

/// What is wrong with a checkpoint's cosignatures under a policy.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    #[error("the cosignature of witness {witness:?} does not check out")]
    Cosignature {
        witness: String,
        #[source]
        source: CosignatureError,
    },
    #[error("the checkpoint's {verified} valid cosignatures of the policy's witnesses do not meet its quorum")]
    NotMet { verified: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, PartialEq, Eq)]
struct Group {
    threshold: usize,
    members: Vec<Member>,
}

/// A parsed policy.
#[derive(Debug, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<VerifierKey>,
    /// (name in the policy, key)
    witnesses: Vec<(String, VerifierKey)>,
    groups: Vec<(String, Group)>,
    /// `None` for `quorum none`.
    quorum: Option<Member>,
}

/// One witness whose cosignature verified: its name in the policy and its timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub witness: String,
    pub timestamp: u64,
}

impl Policy {
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        let text = std::str::from_utf8(bytes).map_err(|_| PolicyError::NotUtf8)?;
        let mut policy = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        for (i, line) in text.split('\n').enumerate() {
            policy
                .read_line(line, &mut quorum_seen)
                .map_err(|problem| PolicyError::Line {
                    line: i + 1,
                    problem,
                })?;
        }
        if quorum_seen {
            Ok(policy)
        } else {
            Err(PolicyError::NoQuorum)
        }
    }

    fn read_line(&mut self, line: &str, quorum_seen: &mut bool) -> Result<(), LineProblem> {
        if line.chars().any(|c| c < ' ' && c != '\t' || c == '\x7f') {
            return Err(LineProblem::ControlCharacter);
        }
        let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let arguments = |keyword, expected| Err(LineProblem::Arguments { keyword, expected });
        match words.as_slice() {
            [] => {}
            [first, ..] if first.starts_with('#') => {}
            ["quorum", name] => {
                if std::mem::replace(quorum_seen, true) {
                    return Err(LineProblem::SecondQuorum);
                }
                self.quorum = if *name == "none" {
                    None
                } else {
                    Some(self.member(name)?)
                };
            }
            ["quorum", ..] => return arguments("quorum", "one name, or `none`"),
            ["log", vkey] | ["log", vkey, _] => {
                let key = self.new_key(vkey, KeyType::Ed25519)?;
                room(&self.logs)?;
                self.logs.push(key);
            }
            ["log", ..] => return arguments("log", "a verifier key and an optional URL"),
            ["witness", name, vkey] | ["witness", name, vkey, _] => {
                self.new_name(name)?;
                let key = self.new_key(vkey, KeyType::Cosignature)?;
                room(&self.witnesses)?;
                self.witnesses.push((name.to_string(), key));
            }
            ["witness", ..] => {
                return arguments("witness", "a name, a verifier key and an optional URL")
            }
            ["group", name, threshold, members @ ..] if !members.is_empty() => {
                self.new_name(name)?;
                let group = self.group(threshold, members)?;
                room(&self.groups)?;
                self.groups.push((name.to_string(), group));
            }
            ["group", ..] => {
                return arguments(
                    "group",
                    "a name, `all`, `any` or a number, and at least one member",
                )
            }
            [other, ..] => return Err(LineProblem::UnknownKeyword(other.to_string())),
        }
        Ok(())
    }

    fn member(&self, name: &str) -> Result<Member, LineProblem> {
        if name == "none" {
            return Err(LineProblem::NoneAsMember);
        }
        if let Some(i) = self.witnesses.iter().position(|(n, _)| n == name) {
            return Ok(Member::Witness(i));
        }
        self.groups
            .iter()
            .position(|(n, _)| n == name)
            .map(Member::Group)
            .ok_or_else(|| LineProblem::UnknownName(name.to_string()))
    }

    fn new_name(&self, name: &str) -> Result<(), LineProblem> {
        let taken = name == "none"
            || self.witnesses.iter().any(|(n, _)| n == name)
            || self.groups.iter().any(|(n, _)| n == name);
        if taken {
            Err(LineProblem::DuplicateName(name.to_string()))
        } else {
            Ok(())
        }
    }

    fn new_key(&self, text: &str, wanted: KeyType) -> Result<VerifierKey, LineProblem> {
        let key = VerifierKey::parse(text).map_err(LineProblem::Vkey)?;
        if key.kind() != wanted {
            return Err(LineProblem::KeyType {
                name: key.name().to_string(),
                found: key.kind(),
                wanted,
            });
        }
        let known = self
            .logs
            .iter()
            .chain(self.witnesses.iter().map(|(_, k)| k));
        if known.into_iter().any(|k| k.key() == key.key()) {
            return Err(LineProblem::DuplicateKey(key.name().to_string()));
        }
        Ok(key)
    }

    fn group(&self, threshold: &str, names: &[&str]) -> Result<Group, LineProblem> {
        let mut members = Vec::with_capacity(names.len());
        for name in names {
            let member = self.member(name)?;
            if members.contains(&member) {
                return Err(LineProblem::RepeatedMember(name.to_string()));
            }
            members.push(member);
        }
        let threshold = match threshold {
            "all" => members.len(),
            "any" => 1,
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => digits
                .parse()
                .map_err(|_| LineProblem::BadThreshold(digits.to_string()))?,
            other => return Err(LineProblem::BadThreshold(other.to_string())),
        };
        if !(1..=members.len()).contains(&threshold) {
            return Err(LineProblem::ThresholdRange {
                threshold,
                members: members.len(),
            });
        }
        Ok(Group { threshold, members })
    }

    /// The policy's key for the log named `origin`, if it lists one.
    pub fn log_for(&self, origin: &str) -> Option<&VerifierKey> {
        self.logs.iter().find(|key| key.name() == origin)
    }

    /// Checks the cosignatures of the policy's witnesses on a checkpoint whose log signature has
    /// been verified, and whether they meet the quorum. A cosignature by a listed witness that
    /// does not verify refuses the whole checkpoint; other signatures are ignored.
    pub fn check_quorum(&self, note: &Note) -> Result<Vec<Cosigned>, QuorumError> {
        let mut cosigned = Vec::new();
        let mut witnessed = vec![false; self.witnesses.len()];
        for (i, (name, key)) in self.witnesses.iter().enumerate() {
            match cosignature::verify(note, key) {
                Ok(timestamp) => {
                    witnessed[i] = true;
                    cosigned.push(Cosigned {
                        witness: name.clone(),
                        timestamp,
                    });
                }
                Err(CosignatureError::Note(NoteError::NotSignedBy { .. })) => {}
                Err(source) => {
                    return Err(QuorumError::Cosignature {
                        witness: name.clone(),
                        source,
                    })
                }
            }
        }
        // Groups name only earlier definitions, so one pass in order decides them all.
        let mut groups_met: Vec<bool> = Vec::with_capacity(self.groups.len());
        for (_, group) in &self.groups {
            let met = group
                .members
                .iter()
                .filter(|m| Self::met(**m, &witnessed, &groups_met))
                .count();
            groups_met.push(met >= group.threshold);
        }
        let quorum = self
            .quorum
            .is_none_or(|m| Self::met(m, &witnessed, &groups_met));
        if quorum {
            Ok(cosigned)
        } else {
            Err(QuorumError::NotMet {
                verified: cosigned.len(),
            })
        }
    }

    fn met(member: Member, witnessed: &[bool], groups_met: &[bool]) -> bool {
        match member {
            Member::Witness(i) => witnessed[i],
            Member::Group(i) => groups_met[i],
        }
    }
}

/// Whether one more definition fits beside `defined`.
fn room<T>(defined: &[T]) -> Result<(), LineProblem> {
    if defined.len() < MAX_DEFINITIONS {
        Ok(())
    } else {
        Err(LineProblem::TooMany)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use crate::note::checkpoint;

    const ORIGIN: &str = "log.example/a";

    fn witness(seed: u8) -> (SecretKey, VerifierKey) {
        let key = SecretKey::from_seed([seed; 32], None);
        let name = format!("w{seed}.example");
        let vkey = VerifierKey::new(&name, KeyType::Cosignature, key.public()).unwrap();
        (key, vkey)
    }

    fn log_vkey() -> VerifierKey {
        VerifierKey::new(
            ORIGIN,
            KeyType::Ed25519,
            SecretKey::from_seed([1; 32], None).public(),
        )
        .unwrap()
    }

    /// The spec's example: two of X1..X3 and one of Y1..Y3.
    fn example_policy() -> String {
        let w = |seed: u8| witness(seed).1.to_string();
        format!(
            "# the example of c2sp.org/tlog-policy\nlog {} https://log.example/a\n\n\
             witness X1 {}\nwitness X2 {}\nwitness X3 {}\ngroup X-witnesses 2 X1 X2 X3\n\n\
             \twitness Y1 {}  \nwitness Y2 {}\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\n\n\
             group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
            log_vkey(),
            w(11),
            w(12),
            w(13),
            w(21),
            w(22),
            w(23)
        )
    }

    fn cosigned_by(seeds: &[u8]) -> Note {
        let mut note =
            checkpoint::sign(ORIGIN, 9, [2; 32], &SecretKey::from_seed([1; 32], None)).unwrap();
        for &seed in seeds {
            let (key, vkey) = witness(seed);
            let line =
                cosignature::cosign(&note, vkey.name(), &key, 1000 + u64::from(seed)).unwrap();
            note.add(line).unwrap();
        }
        note
    }

    #[test]
    fn the_specs_example_quorum_needs_two_xs_and_one_y() {
        let policy = Policy::parse(example_policy().as_bytes()).unwrap();
        assert_eq!(policy.log_for(ORIGIN), Some(&log_vkey()));
        assert_eq!(policy.log_for("other"), None);
        let met = policy.check_quorum(&cosigned_by(&[11, 13, 22])).unwrap();
        assert_eq!(
            met,
            ["X1", "X3", "Y2"]
                .iter()
                .zip([1011, 1013, 1022])
                .map(|(w, t)| Cosigned {
                    witness: w.to_string(),
                    timestamp: t
                })
                .collect::<Vec<_>>()
        );
        for short in [&[11, 12][..], &[11, 21], &[21, 22, 23, 13], &[]] {
            assert!(
                matches!(
                    policy.check_quorum(&cosigned_by(short)),
                    Err(QuorumError::NotMet { .. })
                ),
                "{short:?}"
            );
        }
        // A stranger's cosignature counts for nothing and harms nothing.
        assert!(policy.check_quorum(&cosigned_by(&[11, 12, 23, 99])).is_ok());
    }

    #[test]
    fn a_listed_witnesss_bad_cosignature_refuses_the_checkpoint() {
        let policy = Policy::parse(example_policy().as_bytes()).unwrap();
        let note = cosigned_by(&[11, 12, 21]);
        // Y1's cosignature with one byte of its signature changed.
        let mut forged = note.signatures()[3].clone();
        forged.signature[20] ^= 1;
        let mut altered = Note::parse(
            note.to_string()
                .replace(&note.signatures()[3].to_string(), &forged.to_string())
                .as_bytes(),
        )
        .unwrap();
        assert!(matches!(
            policy.check_quorum(&altered),
            Err(QuorumError::Cosignature { witness, .. }) if witness == "Y1"
        ));
        // Without it, the quorum is not met; the forgery is what refuses the checkpoint.
        altered = Note::parse(
            note.to_string()
                .replace(&format!("{}\n", note.signatures()[3]), "")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            policy.check_quorum(&altered),
            Err(QuorumError::NotMet { verified: 2 })
        );
    }

    #[test]
    fn quorum_none_needs_no_cosignature() {
        let policy =
            Policy::parse(format!("log {}\nquorum none\n", log_vkey()).as_bytes()).unwrap();
        assert_eq!(policy.check_quorum(&cosigned_by(&[])), Ok(vec![]));
    }

    #[test]
    fn malformed_policies_are_refused_with_the_line_and_rule() {
        let w1 = witness(11).1.to_string();
        let w2 = witness(12).1.to_string();
        let line = |line: usize, problem: LineProblem| Err(PolicyError::Line { line, problem });
        let cases = [
            (format!("witness A {w1}\n"), Err(PolicyError::NoQuorum)),
            (
                "quorum A\n".to_string(),
                line(1, LineProblem::UnknownName("A".into())),
            ),
            (
                format!("witness A {w1}\ngroup G 2 A\nquorum G\n"),
                line(
                    2,
                    LineProblem::ThresholdRange {
                        threshold: 2,
                        members: 1,
                    },
                ),
            ),
            (
                format!("witness A {w1}\ngroup G 0 A\nquorum G\n"),
                line(
                    2,
                    LineProblem::ThresholdRange {
                        threshold: 0,
                        members: 1,
                    },
                ),
            ),
            (
                format!("witness A {w1}\ngroup G two A\nquorum G\n"),
                line(2, LineProblem::BadThreshold("two".into())),
            ),
            (
                format!("witness A {w1}\ngroup G any A A\nquorum G\n"),
                line(2, LineProblem::RepeatedMember("A".into())),
            ),
            (
                format!("witness A {w1}\nwitness A {w2}\nquorum A\n"),
                line(2, LineProblem::DuplicateName("A".into())),
            ),
            (
                format!("witness A {w1}\nwitness B {w1}\nquorum A\n"),
                line(2, LineProblem::DuplicateKey("w11.example".into())),
            ),
            (
                format!("witness A {w1}\ngroup G any none\nquorum A\n"),
                line(2, LineProblem::NoneAsMember),
            ),
            (
                format!("witness none {w1}\nquorum none\n"),
                line(1, LineProblem::DuplicateName("none".into())),
            ),
            (
                format!("witness A {w1}\nquorum A\nquorum none\n"),
                line(3, LineProblem::SecondQuorum),
            ),
            (
                format!("log {w1}\nquorum none\n"),
                line(
                    1,
                    LineProblem::KeyType {
                        name: "w11.example".into(),
                        found: KeyType::Cosignature,
                        wanted: KeyType::Ed25519,
                    },
                ),
            ),
            (
                format!("witness A {}\nquorum none\n", log_vkey()),
                line(
                    1,
                    LineProblem::KeyType {
                        name: ORIGIN.into(),
                        found: KeyType::Ed25519,
                        wanted: KeyType::Cosignature,
                    },
                ),
            ),
            (
                format!("quorum none\nwitnesses A {w1}\n"),
                line(2, LineProblem::UnknownKeyword("witnesses".into())),
            ),
            (
                "quorum none\x0b\n".to_string(),
                line(1, LineProblem::ControlCharacter),
            ),
            (
                "log\nquorum none\n".to_string(),
                line(
                    1,
                    LineProblem::Arguments {
                        keyword: "log",
                        expected: "a verifier key and an optional URL",
                    },
                ),
            ),
            (
                "log a+b\nquorum none\n".to_string(),
                line(1, LineProblem::Vkey(VkeyError::Shape)),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Policy::parse(text.as_bytes()), expected, "{text}");
        }
        // Past the limit of definitions.
        let many: String = (0..=MAX_DEFINITIONS)
            .map(|i| {
                let mut seed = [7; 32];
                seed[..2].copy_from_slice(&u16::try_from(i).unwrap().to_be_bytes());
                let key = SecretKey::from_seed(seed, None).public();
                let vkey = VerifierKey::new("w.example", KeyType::Cosignature, key).unwrap();
                format!("witness W{i} {vkey}\n")
            })
            .collect();
        assert_eq!(
            Policy::parse(many.as_bytes()),
            line(MAX_DEFINITIONS + 1, LineProblem::TooMany)
        );
        // A group may not name one defined after it.
        assert_eq!(
            Policy::parse(format!("group G any A\nwitness A {w1}\nquorum G\n").as_bytes()),
            line(1, LineProblem::UnknownName("A".into()))
        );
    }
}
