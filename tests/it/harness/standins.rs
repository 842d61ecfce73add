//! What the stand-ins of a host hold (tests/standin): DRBD and systemd state, injected faults,
//! the log of calls, and which real tools get a stand-in in front of them.

use serde_json::{Value, json};

use super::*;

impl Host {
    pub(super) fn write_drbd_state(&self, spec: &Spec) {
        if !spec.drbd {
            return;
        }
        let resources: Vec<Value> = self
            .volumes
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let me = if self.ident.first { 0 } else { 1 };
                json!({
                    "name": v.name, "node_id": me, "role": "Secondary", "up": true,
                    "allow_two_primaries": spec.dual_primary || spec.dual.contains(&v.name),
                    "volumes": [{"volume": 0, "minor": i + 1, "device": v.loopdev, "disk": "UpToDate", "size_kib": 32768}],
                    "peers": [{"name": self.peer, "node_id": 1 - me, "connection": "Connected", "role": "Secondary",
                               "volumes": [{"volume": 0, "replication": "Established", "disk": "UpToDate", "done": null}]}]
                })
            })
            .collect();
        self.set_drbd(json!({ "resources": resources }));
    }

    pub fn drbd(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("standin/drbd.json")).unwrap(),
        )
        .unwrap()
    }

    pub fn set_drbd(&self, v: Value) {
        std::fs::write(
            self.dir.path().join("standin/drbd.json"),
            serde_json::to_string_pretty(&v).unwrap(),
        )
        .unwrap();
    }

    /// Change one resource of the stand-in's DRBD state.
    pub fn edit_resource(&self, name: &str, f: impl FnOnce(&mut Value)) {
        let mut all = self.drbd();
        let r = all["resources"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|r| r["name"] == name)
            .unwrap();
        f(r);
        self.set_drbd(all);
    }

    pub fn role(&self, name: &str) -> String {
        let all = self.drbd();
        all["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["role"]
            .as_str()
            .unwrap()
            .into()
    }

    pub fn write_units(&self, spec: &Spec, active: &[&str]) {
        let mut units = serde_json::Map::new();
        for u in std::iter::once(&"nfs-server").chain(spec.services.iter()) {
            units.insert(
                u.to_string(),
                json!(if active.contains(u) {
                    "active"
                } else {
                    "inactive"
                }),
            );
        }
        std::fs::write(
            self.dir.path().join("standin/systemd.json"),
            json!({ "units": units }).to_string(),
        )
        .unwrap();
    }

    pub fn unit(&self, name: &str) -> String {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("standin/systemd.json")).unwrap(),
        )
        .unwrap();
        v["units"][name].as_str().unwrap_or("").to_string()
    }

    /// Tell the stand-ins to fail or slow down a call (see tests/standin/faults.rs).
    pub fn faults(&self, faults: Value) {
        let _ = std::fs::remove_file(self.dir.path().join("standin/fault-counters.json"));
        std::fs::write(
            self.dir.path().join("standin/faults.json"),
            faults.to_string(),
        )
        .unwrap();
    }

    pub fn clear_faults(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("standin/faults.json"));
        let _ = std::fs::remove_file(self.dir.path().join("standin/fault-counters.json"));
    }

    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("standin/calls.log"))
            .map(|t| t.lines().map(String::from).collect())
            .unwrap_or_default()
    }

    pub fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("standin/calls.log"));
    }

    /// Put a stand-in in front of a real tool (e.g. mount, exportfs, ip, arping), so faults can
    /// be injected there too; without a matching fault it runs the real tool.
    pub fn wrap_real_tool(&self, tool: &str) {
        let link = self.dir.path().join("bin").join(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(standin(), link).unwrap();
        }
    }
}
