//! The cluster.yaml of a host: written from its `Spec` and `Identity`, then extended by tests.

use std::path::PathBuf;

use super::*;

impl Host {
    pub fn write_config(&mut self, spec: &Spec) {
        let d = self.dir.path();
        let id = self.ident;
        let me = (id.name, id.ip());
        let peer = (id.peer, id.peer_addr.split('/').next().unwrap());
        // The pair's first node first, whichever of the two this is.
        let [(n1, a1), (n2, a2)] = if id.first { [me, peer] } else { [peer, me] };
        let mut y = format!(
            "cluster: {}\nnodes:\n  {n1}: {{ address: {a1} }}\n  {n2}: {{ address: {a2} }}\n",
            id.cluster
        );
        if spec.service_ip {
            y.push_str(&format!(
                "service_ip:\n  address: {}\n  interface: eth0\n  announce_to: {GATEWAY}\n",
                id.service_ip
            ));
        }
        y.push_str("volumes:\n");
        for v in &self.volumes {
            y.push_str(&format!(
                "  - name: {n}\n    device: {dev}\n    mountpoint: /srv/{n}\n    fstype: ext4\n    mount_options: [noatime]\n",
                n = v.name,
                dev = v.loopdev
            ));
            if spec.drbd {
                y.push_str(&format!("    drbd: {}\n", v.name));
            }
            if spec.dual_primary || spec.dual.contains(&v.name) {
                y.push_str("    dual_primary: true\n");
            }
        }
        y.push_str(&format!("services: [{}]\n", spec.services.join(", ")));
        y.push_str(&format!(
            "paths:\n  journal: {}\n  lock: {}\n  state: {}\ntimeouts: {{ probe: 20s, step: 30s }}\n",
            d.join("journal.jsonl").display(),
            d.join("run/lock").display(),
            d.join("state").display()
        ));
        y.push_str(&self.extra_config);
        std::fs::write(&self.config_file, y).unwrap();
    }

    /// Write the config again (after `extra_config` changed).
    pub fn rewrite_config(&mut self) {
        let spec = self.spec.clone();
        self.write_config(&spec);
    }

    /// Append YAML to the test config (e.g. `remote:` and `sync:` sections).
    pub fn append_config(&self, yaml: &str) {
        let mut text = std::fs::read_to_string(&self.config_file).unwrap();
        text.push_str(yaml);
        std::fs::write(&self.config_file, text).unwrap();
    }

    /// Point the config at a projects directory (`<test dir>/projects`), a backup file and a
    /// short clients_command time limit, for the exports commands; `extra` is appended as is
    /// (e.g. a `public:` list).
    pub fn enable_exports(&self, extra: &str) {
        let d = self.dir.path();
        std::fs::create_dir_all(d.join("projects")).unwrap();
        let mut y = std::fs::read_to_string(&self.config_file).unwrap();
        y.push_str(&format!(
            "projects_dir: {}
exports: {{ backup: {}, clients_timeout: 2s }}
{extra}",
            d.join("projects").display(),
            d.join("exports.bak").display()
        ));
        std::fs::write(&self.config_file, y).unwrap();
    }

    pub fn projects_dir(&self) -> PathBuf {
        self.dir.path().join("projects")
    }

    pub fn write_project(&self, name: &str, yaml: &str) {
        std::fs::write(self.projects_dir().join(format!("{name}.yaml")), yaml).unwrap();
    }
}
