//! Integration tests: the real binary against real tools in private namespaces, with
//! stand-ins only for DRBD kernel state and systemctl (see harness.rs).

mod backups;
mod cli;
mod config_check;
mod down;
mod faults;
mod harness;
mod status;
mod up;
