//! Integration tests: the real binary against real tools in private namespaces, with
//! stand-ins only for DRBD kernel state and systemctl (see harness/).

mod backup_monitoring;
mod backups;
mod bench;
mod check;
mod ci;
mod cli;
mod completions;
mod config_check;
mod config_cross;
mod down;
mod exports;
mod exports_netgroup;
mod failover;
mod faults;
mod fleet;
mod harness;
mod interrupts;
mod limits;
mod lock;
mod man;
mod metrics;
mod never_lie;
mod package;
mod plan_agreement;
mod project_move;
mod readme;
mod standin_84;
mod status;
mod sync;
mod units;
mod up;
mod volume_init;
