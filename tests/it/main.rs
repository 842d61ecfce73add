//! Integration tests: the real binary against real tools in private namespaces, with
//! stand-ins only for DRBD kernel state and systemctl (see harness.rs).

mod bench;
mod cli;
mod config_check;
mod down;
mod failover;
mod faults;
mod harness;
mod lock;
mod status;
mod up;
