//! The integration tests, as one test binary (ripgrep's layout): one build and link for all of
//! them, and helpers in `common` that every module shares. Run one module with
//! `cargo test --test integration tamper::`.

mod cli;
mod common;

mod backup;
mod bad_input;
mod crash;
mod evidence;
mod full_disk;
mod import;
mod note_vectors;
mod numbers;
mod output;
mod passphrase;
mod projection;
mod properties;
mod publish;
mod storage;
mod tamper;
mod terminal;
mod transparency;
mod tree;
mod vectors;
mod witness;
