//! What the failover reads of the peer: its `nfs-manage status --json`.

use super::*;

/// The part of the peer's `nfs-manage status --json` the failover needs.
#[derive(Debug, Deserialize)]
pub(super) struct PeerStatus {
    pub(super) format_version: u32,
    pub(super) node: String,
    #[serde(default)]
    pub(super) service_ip: Option<PeerIp>,
    pub(super) nfs: PeerNfs,
    pub(super) volumes: Vec<PeerVolume>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PeerIp {
    pub(super) present: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct PeerNfs {
    pub(super) active: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct PeerVolume {
    pub(super) name: String,
    pub(super) mountpoint: String,
    pub(super) mounted: bool,
    pub(super) drbd: Option<PeerDrbd>,
    /// From `status --holders`: present for every mounted volume.
    #[serde(default)]
    pub(super) holders: Option<Vec<fuser::Holder>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PeerDrbd {
    pub(super) role: String,
}
