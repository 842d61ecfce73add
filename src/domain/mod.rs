//! The capabilities nfs-manage manages, each with its facts, the steps that change it and the
//! checks that verify them (implementing the engine's `Guard` and `Check`): DRBD, mounts,
//! exports and projects, the service IP, systemd units, the cluster lock, backups, rsync
//! transfers, and what a failover asks of the peer.

pub mod backups;
pub mod cluster_lock;
pub mod drbd;
pub mod drbd_init;
pub mod exports;
pub mod facts;
pub mod mounts;
pub mod netgroup;
pub mod network;
pub mod peer;
pub mod project_cache;
pub mod projects;
pub mod state;
pub mod transfer;
pub mod units;
