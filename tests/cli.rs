//! Placeholder so that `mod cli;` in tests/tests.rs compiles on the tests branch: the CLI
//! branch replaces this file with its trycmd driver.
