//! The `gazelle` command's library half: the measurement harness behind `gazelle bench`,
//! `gazelle report` and `gazelle profile` (also used by the criterion benches).
#![forbid(unsafe_code)]

pub mod bench;
