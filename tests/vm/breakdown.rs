//! `failover_breakdown`: where a controlled failover's time goes on the real kernel, with an
//! NFS client writing — 1 volume, then 4 (one DRBD resource, ext4 filesystem and export each).
//!
//! Per configuration: `nfs-manage failover` there and back, then "the old way" (`down` on the
//! serving node, then `up` on the other, two separate runs) there and back; with 1 volume each
//! of them once with the debug build (what the VM suite runs) and once with a release build,
//! plus paired `--version` and `status` runs of both builds.
//!
//! Measured per operation: the client's longest gap between acknowledged writes, the wall time
//! in the guest, the outage (no node has the service IP; from both journals), the journal's
//! step times, and the critical path split into tools and nfs-manage's own time from
//! NFS_MANAGE_TRACE on both nodes (see `CriticalPath`). Everything goes to
//! target/vm-logs/failover-times.txt. Only correctness is asserted, never a time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};

use crate::bed::{Bed, Etcd, Vm, data_disk, node_address};
use crate::failover::{
    CLIENT_MOUNT, EXPORT, Writer, assert_durable, assert_serving, client_now, failover_config,
    mount_client, report, setup_ssh_env,
};
use crate::scenarios::{DEVICE, MOUNTPOINT, NFS_MANAGE_CONFIG, RESOURCE, STORAGE, wait_for};

/// Per node, on its tmpfs: the trace of every nfs-manage run there (NFS_MANAGE_TRACE), the
/// start and end of each run started over ssh, and of the run the scenario started.
const BENCH_DIR: &str = "/run/nfsm-bench";
/// What ssh logins run as `nfs-manage` (failover.rs puts a link to the binary there; here it
/// becomes a wrapper that times each run).
const LOGIN_BIN: &str = "/run/nfsm-bin/nfs-manage";

struct Volume {
    resource: String,
    device: String,
    port: u16,
    mountpoint: String,
    export: String,
    fsid: usize,
}

/// Volume 0 is the one every other scenario uses; 1–3 use the extra data disks.
fn volume(i: usize) -> Volume {
    if i == 0 {
        return Volume {
            resource: RESOURCE.into(),
            device: DEVICE.into(),
            port: 7789,
            mountpoint: MOUNTPOINT.into(),
            export: EXPORT.into(),
            fsid: 11,
        };
    }
    Volume {
        resource: format!("vol{i}"),
        device: format!("/dev/drbd{}", 4 + i),
        port: 7789 + i as u16,
        mountpoint: format!("/srv/vol{i}"),
        export: format!("/srv/vol{i}/shared"),
        fsid: 11 + i,
    }
}

fn drbd_res(i: usize) -> String {
    if i == 0 {
        return crate::scenarios::drbd_res("");
    }
    let v = volume(i);
    let mut on = String::new();
    for name in STORAGE {
        let _ = writeln!(
            on,
            "    on {name} {{ address {}:{}; }}",
            node_address(name),
            v.port
        );
    }
    format!(
        "resource {} {{\n    device {};\n    disk {};\n    meta-disk internal;\n    \
         net {{ protocol C; }}\n    disk {{  }}\n{on}}}\n",
        v.resource,
        v.device,
        data_disk(i)
    )
}

/// The failover config with `n` volumes instead of the one the bed's config names.
fn config(bed: &Bed, node: &str, n: usize) -> Result<String> {
    let block = |v: &Volume| {
        format!(
            "  - name: {r}\n    drbd: {r}\n    device: {}\n    mountpoint: {}\n    fstype: ext4\n    mount_options: [noatime]\n",
            v.device,
            v.mountpoint,
            r = v.resource
        )
    };
    let one = format!("volumes:\n{}", block(&volume(0)));
    let base = failover_config(bed, node);
    ensure!(
        base.contains(&one),
        "the bed's config no longer has the volume block this scenario replaces:\n{base}"
    );
    let all: String = (0..n).map(|i| block(&volume(i))).collect();
    Ok(base.replace(&one, &format!("volumes:\n{all}")))
}

/// A synced pair with `n` volumes (both Secondary, UpToDate, ext4 with the export's directory
/// on each), config and exports on both nodes, sshd with NFS_MANAGE_TRACE for logins, and
/// `nfs-manage` for logins timed by a wrapper.
fn setup(bed: &Bed, n: usize, bin: &str) -> Result<()> {
    let resources: Vec<String> = (0..n).map(|i| volume(i).resource).collect();
    let all = resources.join(" ");
    for name in STORAGE {
        let mut script = String::from("set -e\n");
        for i in 0..n {
            let _ = write!(
                script,
                "cat > /etc/drbd.d/{}.res <<'EOF'\n{}EOF\n",
                volume(i).resource,
                drbd_res(i)
            );
        }
        let _ = writeln!(
            script,
            "for r in {all}; do drbdadm create-md --force $r; drbdadm up $r; done"
        );
        bed.vm(name).ok(&script)?;
    }
    let every = |what: &str, want: &str| {
        resources
            .iter()
            .map(|r| format!("[ \"$(drbdadm {what} {r})\" = {want} ]"))
            .collect::<Vec<_>>()
            .join(" && ")
    };
    for name in STORAGE {
        wait_for(
            bed.vm(name),
            &every("cstate", "Connected"),
            "Connected",
            120,
        )?;
    }
    // The disks were discarded to zeros by reset(): identical, so no initial sync.
    bed.vm("nfs1").ok(&format!(
        "for r in {all}; do drbdadm -- --clear-bitmap new-current-uuid $r || exit 1; done"
    ))?;
    for name in STORAGE {
        wait_for(
            bed.vm(name),
            &every("dstate", "UpToDate/UpToDate"),
            "UpToDate/UpToDate",
            120,
        )?;
    }
    let mut script = String::from("set -e\n");
    let mut exports = String::new();
    for i in 0..n {
        let v = volume(i);
        let _ = write!(
            script,
            "drbdadm primary {r}
mkfs.ext4 -q -F {dev}
mkdir -p {mp}
mount -t ext4 {dev} {mp}
install -d -m 2775 {ex}
umount {mp}
drbdadm secondary {r}
",
            r = v.resource,
            dev = v.device,
            mp = v.mountpoint,
            ex = v.export
        );
        // fsid pinned: the client's file handles stay valid on the other node.
        let _ = write!(
            exports,
            "cat > /etc/exports.d/{}.exports <<'EOF'\n{} {}(rw,sync,no_subtree_check,no_root_squash,fsid={})\nEOF\n",
            v.resource,
            v.export,
            node_address("client"),
            v.fsid
        );
    }
    bed.vm("nfs1").ok(&script)?;
    let grace = std::env::var("NFS_MANAGE_VM_GRACE").unwrap_or_else(|_| "10".into());
    let mountpoints: Vec<String> = (0..n).map(|i| volume(i).mountpoint).collect();
    for name in STORAGE {
        let config = config(bed, name, n)?;
        bed.vm(name).ok(&format!(
            "set -e
mkdir -p /etc/nfs-manage/projects.d {mps}
{fence}cat > {NFS_MANAGE_CONFIG} <<'EOF'
{config}EOF
{exports}printf '[nfsd]\\ngrace-time={grace}\\nlease-time={grace}\\n' > /etc/nfs.conf.d/vm-bed.conf
{bin} --config {NFS_MANAGE_CONFIG} config check",
            mps = mountpoints.join(" "),
            fence = crate::failover::install_fence_password(bed)
        ))?;
    }
    setup_ssh_env(bed, &[("NFS_MANAGE_TRACE", &format!("{BENCH_DIR}/trace"))])?;
    use_binary(bed, bin)
}

/// The binary ssh logins run as `nfs-manage`: a wrapper that logs each run's start and end
/// (bash's own clock: no extra process inside the interval).
fn use_binary(bed: &Bed, bin: &str) -> Result<()> {
    for name in STORAGE {
        bed.vm(name).ok(&format!(
            "set -e
mkdir -p {BENCH_DIR}
rm -f {LOGIN_BIN}
cat > {LOGIN_BIN} <<'EOF'
#!/bin/bash
s=$EPOCHREALTIME
{bin} \"$@\"
rc=$?
echo \"$s $EPOCHREALTIME $*\" >> {BENCH_DIR}/nested
exit $rc
EOF
chmod 755 {LOGIN_BIN}"
        ))?;
    }
    Ok(())
}

/// One interval, seconds since the epoch.
type Span = (f64, f64);

/// Sorted, disjoint.
fn union(spans: &[Span]) -> Vec<Span> {
    let mut v: Vec<Span> = spans.iter().copied().filter(|s| s.1 > s.0).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<Span> = Vec::new();
    for s in v {
        match out.last_mut() {
            Some(last) if s.0 <= last.1 => last.1 = last.1.max(s.1),
            _ => out.push(s),
        }
    }
    out
}

/// The parts of `a` inside `b` (both as returned by `union`).
fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if hi > lo {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn total(spans: &[Span]) -> f64 {
    spans.iter().map(|s| s.1 - s.0).sum()
}

/// What one node recorded during one nfs-manage run.
#[derive(Default)]
struct NodeTrace {
    tools: Vec<Span>,
    ssh: Vec<Span>,
    /// nfs-manage runs started over ssh on this node (the login wrapper's log).
    nested: Vec<Span>,
    /// The run the scenario started on this node.
    top: Option<Span>,
    calls: usize,
}

/// The traces on `vm`, with the start and end of its run named `top` if it had one.
fn collect(vm: &Vm, top: &str) -> Result<NodeTrace> {
    let text = vm.ok(&format!(
        "cd {BENCH_DIR}; echo '#trace'; cat trace 2>/dev/null; echo '#nested'; cat nested 2>/dev/null; \
         echo '#top'; cat top-{top} 2>/dev/null; true"
    ))?;
    let mut t = NodeTrace::default();
    let mut section = "";
    for line in text.lines() {
        if matches!(line, "#trace" | "#nested" | "#top") {
            section = &line[1..];
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 2 {
            continue;
        }
        match section {
            "trace" => {
                let ns = |s: &str| s.parse::<u128>().map(|n| n as f64 / 1e9);
                let span = (ns(f[0])?, ns(f[1])?);
                let program = f
                    .get(2)
                    .map(|p| p.trim_matches('\'').rsplit('/').next().unwrap_or(p))
                    .unwrap_or("");
                // ssh sessions and nested nfs-manage runs are not tools: their time is the
                // other node's (or the same node's nested run's) tools and overhead.
                if program == "ssh" {
                    t.ssh.push(span);
                } else if program != "nfs-manage" {
                    t.tools.push(span);
                    t.calls += 1;
                }
            }
            "nested" => t.nested.push((f[0].parse()?, f[1].parse()?)),
            "top" => t.top = Some((f[0].parse()?, f[1].parse()?)),
            _ => {}
        }
    }
    Ok(t)
}

/// The critical path of one nfs-manage run started on node L (its wall time in the guest),
/// split without relying on the two guests' clocks agreeing:
/// - on L (L's clock): the union of its tool intervals; the time ssh sessions were open and no
///   local tool ran; the rest is nfs-manage's own time on L;
/// - on the peer P (P's clock): the nfs-manage runs those ssh sessions started (the login
///   wrapper's intervals), split into the union of P's tool intervals within them and P's own;
/// - ssh transport = L's ssh-only time − P's nested wall (durations only, no cross-clock).
///   Tools on the critical path = L's tools + P's tools; the rest is own time or ssh.
#[derive(Default, Clone, Copy)]
struct CriticalPath {
    /// The run's start and end on its node's clock.
    span: Span,
    wall: f64,
    tools: f64,
    own: f64,
    ssh: f64,
    calls: usize,
}

impl CriticalPath {
    fn of(local: &NodeTrace, peer: &NodeTrace) -> Result<CriticalPath> {
        let top = local.top.context("no start/end of the run recorded")?;
        let wall = top.1 - top.0;
        let window = [top];
        let tools_l = intersect(&union(&local.tools), &window);
        let busy: Vec<Span> = local.tools.iter().chain(&local.ssh).copied().collect();
        let busy = intersect(&union(&busy), &window);
        let ssh_only = total(&busy) - total(&tools_l);
        let own_l = wall - total(&busy);
        let nested = union(&peer.nested);
        let tools_p = intersect(&union(&peer.tools), &nested);
        let own_p = total(&nested) - total(&tools_p);
        Ok(CriticalPath {
            span: top,
            wall,
            tools: total(&tools_l) + total(&tools_p),
            own: own_l + own_p,
            ssh: ssh_only - total(&nested),
            calls: local.calls + peer.calls,
        })
    }

    fn add(self, o: CriticalPath) -> CriticalPath {
        CriticalPath {
            span: (self.span.0, o.span.1),
            wall: self.wall + o.wall,
            tools: self.tools + o.tools,
            own: self.own + o.own,
            ssh: self.ssh + o.ssh,
            calls: self.calls + o.calls,
        }
    }
}

/// One journal line.
struct Step {
    node: String,
    command: String,
    step: String,
    start: f64,
    secs: f64,
}

fn journal(vm: &Vm) -> Result<Vec<Step>> {
    let text = vm.ok("cat /var/lib/nfs-manage/journal.jsonl 2>/dev/null || true")?;
    let mut out = Vec::new();
    for l in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(l).with_context(|| format!("{}: journal line {l:?}", vm.name))?;
        let time = v["time"].as_str().unwrap_or("");
        let start = humantime::parse_rfc3339_weak(time)
            .with_context(|| format!("{}: journal time {time:?}", vm.name))?
            .duration_since(UNIX_EPOCH)?
            .as_secs_f64();
        out.push(Step {
            node: vm.name.to_string(),
            command: v["command"].as_str().unwrap_or("").into(),
            step: v["step"].as_str().unwrap_or("").into(),
            start,
            secs: v["duration_ms"].as_u64().unwrap_or(0) as f64 / 1000.0,
        });
    }
    Ok(out)
}

/// The step's kind: its name without the volume or node it applies to.
fn step_kind(s: &Step, n: usize) -> String {
    let mut name = format!("{}:{}", s.command, s.step);
    if let Some((head, last)) = name.rsplit_once(':') {
        let per_thing =
            STORAGE.contains(&last) || (0..n).any(|i| volume(i).resource.as_str() == last);
        if per_thing {
            name = head.to_string();
        }
    }
    name
}

#[derive(Default)]
struct StepKind {
    first: f64,
    last: f64,
    sum: f64,
    count: usize,
}

impl StepKind {
    fn span(&self) -> f64 {
        self.last - self.first
    }
}

/// One measured operation.
struct Measured {
    volumes: usize,
    kind: &'static str,
    build: &'static str,
    label: String,
    pause: f64,
    outage: f64,
    host_wall: f64,
    cp: CriticalPath,
    /// Per step kind: its span (first start to last end: per-volume steps run in parallel,
    /// so this is what they add to the critical path), the sum of the durations, how many.
    steps: BTreeMap<String, StepKind>,
    /// Per run, for the old way: (command, wall).
    runs: Vec<(String, f64)>,
}

struct Bench<'a> {
    bed: &'a Bed,
    etcd: &'a Etcd,
    writer: &'a Writer,
    volumes: usize,
}

impl Bench<'_> {
    fn clear(&self) -> Result<()> {
        for name in STORAGE {
            self.bed.vm(name).ok(&format!(
                "mkdir -p {BENCH_DIR} && rm -f {BENCH_DIR}/trace {BENCH_DIR}/nested {BENCH_DIR}/top-*"
            ))?;
        }
        Ok(())
    }

    /// Run nfs-manage on `on` with the trace on, require exit 0; its critical path.
    /// Run nfs-manage on `on` with the trace on, require exit 0; its stdout. Its start and
    /// end go to `top-NAME` on `on` (read by `critical_path`).
    fn exec(&self, on: &str, bin: &str, args: &str, name: &str) -> Result<String> {
        let out = self.bed.vm(on).run(
            &format!(
                "s=$EPOCHREALTIME
NFS_MANAGE_TRACE={BENCH_DIR}/trace NO_COLOR=1 {bin} --config {NFS_MANAGE_CONFIG} {args}
rc=$?
echo \"$s $EPOCHREALTIME\" > {BENCH_DIR}/top-{name}
exit $rc"
            ),
            Duration::from_secs(600),
        )?;
        ensure!(
            out.rc == 0,
            "{on}: nfs-manage {args}: exit {}\n--- stdout\n{}--- stderr\n{}",
            out.rc,
            out.stdout,
            out.stderr
        );
        Ok(out.stdout)
    }

    /// The critical path of the run `exec` named `name` on `on` (the traces since `clear`).
    fn critical_path(&self, on: &str, name: &str) -> Result<CriticalPath> {
        let peer = STORAGE.iter().find(|n| **n != on).expect("two nodes");
        CriticalPath::of(
            &collect(self.bed.vm(on), name)?,
            &collect(self.bed.vm(peer), name)?,
        )
    }

    /// Every volume served by `active` (volume 0 with everything `assert_serving` checks),
    /// the others Primary/Secondary, UpToDate, mounted from their device and exported on
    /// `active`, Secondary and not mounted on the other node.
    fn assert_state(&self, active: &str) -> Result<()> {
        assert_serving(self.bed, self.etcd, active, true)?;
        let standby = STORAGE.iter().find(|n| **n != active).expect("two nodes");
        for (node, role, serving) in [
            (active, "Primary/Secondary", true),
            (*standby, "Secondary/Primary", false),
        ] {
            for i in 1..self.volumes {
                let v = volume(i);
                let got = self.bed.vm(node).ok(&format!(
                    "echo \"$(drbdadm role {r}) $(drbdadm dstate {r}) $(findmnt -n -o SOURCE {mp} || echo -) $(grep -c '^{ex}' /var/lib/nfs/etab)\"",
                    r = v.resource,
                    mp = v.mountpoint,
                    ex = v.export
                ))?;
                let want = if serving {
                    format!("{role} UpToDate/UpToDate {} ", v.device)
                } else {
                    format!("{role} UpToDate/UpToDate - 0")
                };
                ensure!(
                    if serving {
                        got.starts_with(&want) && !got.trim_end().ends_with(" 0")
                    } else {
                        got.trim_end() == want
                    },
                    "{node}: {}: role, disk state, mount source, etab entries {:?} (want {want:?}{})",
                    v.resource,
                    got.trim_end(),
                    if serving { " and an etab entry" } else { "" }
                );
            }
        }
        Ok(())
    }

    fn journal_len(&self) -> Result<[usize; 2]> {
        Ok([
            journal(self.bed.vm("nfs1"))?.len(),
            journal(self.bed.vm("nfs2"))?.len(),
        ])
    }

    /// `failover --yes --to to`, run on `on`; or with `old_way`, `down --yes` on the serving
    /// node and then `up --yes` on `to`. Checks the new state and the client's data.
    fn measure(
        &self,
        old_way: bool,
        on: &str,
        to: &str,
        bin: &str,
        build: &'static str,
    ) -> Result<Measured> {
        let client = self.bed.vm("client");
        let from = STORAGE.iter().find(|n| **n != to).expect("two nodes");
        let before = self.journal_len()?;
        let t0 = client_now(client)?;
        let started = Instant::now();
        let (cp, runs, label) = if old_way {
            // Back to back: nothing between the two runs but the harness's next request.
            self.clear()?;
            self.exec(from, bin, "down --yes", "down")?;
            self.exec(to, bin, "up --yes", "up")?;
            let down = self.critical_path(from, "down")?;
            let up = self.critical_path(to, "up")?;
            (
                down.add(up),
                vec![("down".to_string(), down.wall), ("up".to_string(), up.wall)],
                // Two guests' clocks (they agree to well under a second): the time between
                // the runs, which the client's pause and the outage include.
                format!(
                    "old way: down --yes on {from}, then up --yes on {to} ({:.2} s between the runs)",
                    up.span.0 - down.span.1
                ),
            )
        } else {
            self.clear()?;
            let out = self.exec(on, bin, &format!("failover --yes --to {to}"), "failover")?;
            let cp = self.critical_path(on, "failover")?;
            let closing = out
                .lines()
                .find(|l| l.contains(" done in "))
                .unwrap_or("(no closing line)")
                .to_string();
            (
                cp,
                vec![("failover".to_string(), cp.wall)],
                format!("failover --yes --to {to} (run on {on})\n{closing}"),
            )
        };
        let host_wall = started.elapsed().as_secs_f64();
        self.assert_state(to)?;
        let at_end = self.writer.acks(client)?.last() as usize;
        self.writer.wait_acks(
            client,
            at_end + 20,
            &format!("20 records after the move to {to}"),
        )?;
        let t1 = client_now(client)?;
        let acks = self.writer.acks(client)?;
        assert_durable(self.bed.vm(to), &self.writer.tag, &acks)?;
        let (pause, _) = acks.pause(t0, t1);

        let mut steps: Vec<Step> = Vec::new();
        for (i, name) in STORAGE.iter().enumerate() {
            steps.extend(journal(self.bed.vm(name))?.into_iter().skip(before[i]));
        }
        steps.sort_by(|a, b| a.start.total_cmp(&b.start));
        let ip_gone = steps
            .iter()
            .find(|s| s.node == *from && s.command == "down" && s.step == "ip")
            .map(|s| s.start);
        let ip_back = steps
            .iter()
            .find(|s| s.node == to && s.command == "up" && s.step == "ip")
            .map(|s| s.start + s.secs);
        let outage = match (ip_gone, ip_back) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        let mut kinds: BTreeMap<String, StepKind> = BTreeMap::new();
        for s in &steps {
            let e = kinds.entry(step_kind(s, self.volumes)).or_default();
            if e.count == 0 || s.start < e.first {
                e.first = s.start;
            }
            e.last = e.last.max(s.start + s.secs);
            e.sum += s.secs;
            e.count += 1;
        }
        let m = Measured {
            volumes: self.volumes,
            kind: if old_way { "old way" } else { "failover" },
            build,
            label,
            pause,
            outage,
            host_wall,
            cp,
            steps: kinds,
            runs,
        };
        let mut text = format!(
            "== breakdown, {} volume(s), {build} build: {}\n",
            m.volumes, m.label
        );
        let _ = writeln!(
            text,
            "client pause {:.2} s; outage {:.2} s; wall in the guest {:.2} s ({}); seen from the host {:.1} s; \
             {} records acknowledged, all on {to}'s disk; {} writer errors",
            m.pause,
            m.outage,
            m.cp.wall,
            m.runs
                .iter()
                .map(|(c, w)| format!("{c} {w:.2} s"))
                .collect::<Vec<_>>()
                .join(", "),
            m.host_wall,
            acks.last(),
            acks.errors.len()
        );
        let _ = writeln!(
            text,
            "critical path: tools {:.2} s ({} calls), nfs-manage's own {:.2} s, ssh {:.2} s; wall ÷ tools {:.3}; (tools + own) ÷ tools {:.3}",
            m.cp.tools,
            m.cp.calls,
            m.cp.own,
            m.cp.ssh,
            m.cp.wall / m.cp.tools,
            (m.cp.tools + m.cp.own) / m.cp.tools
        );
        text.push_str("steps (kind: span, sum of the durations × count):");
        for (k, st) in &m.steps {
            let _ = write!(
                text,
                " {k} {:.2}s ({:.2}s×{});",
                st.span(),
                st.sum,
                st.count
            );
        }
        text.push_str("\n\n");
        report(&text);
        Ok(m)
    }
}

/// Paired in-guest runs of the debug and the release binary (alternating which goes first):
/// (debug secs, release secs) per pair, and the exit codes seen.
fn paired_runs(
    vm: &Vm,
    debug: &str,
    release: &str,
    args: &str,
    pairs: usize,
) -> Result<(Vec<(f64, f64)>, String)> {
    let out = vm.ok(&format!(
        "for i in $(seq {pairs}); do
    if [ $((i % 2)) = 1 ]; then order='d r'; else order='r d'; fi
    for b in $order; do
        if [ $b = d ]; then bin={debug}; else bin={release}; fi
        s=$EPOCHREALTIME
        $bin {args} >/dev/null 2>&1
        rc=$?
        echo \"$b $s $EPOCHREALTIME $rc\"
    done
done"
    ))?;
    let mut d = Vec::new();
    let mut r = Vec::new();
    let mut codes = std::collections::BTreeSet::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        ensure!(f.len() == 4, "{}: paired runs printed {line:?}", vm.name);
        let secs = f[2].parse::<f64>()? - f[1].parse::<f64>()?;
        codes.insert(format!("{}={}", f[0], f[3]));
        if f[0] == "d" {
            d.push(secs)
        } else {
            r.push(secs)
        }
    }
    // Both builds must have done the same thing for the times to compare.
    let rcs: Vec<String> = codes.into_iter().collect();
    ensure!(
        rcs.len() == 2,
        "{}: nfs-manage {args}: exit codes differ between the builds or runs: {rcs:?}",
        vm.name
    );
    Ok((d.into_iter().zip(r).collect(), rcs.join(" ")))
}

fn min_median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mid = v.len() / 2;
    let median = if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    };
    (v[0], median)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One configuration: the pair set up with `n` volumes, the client writing to volume 0, the
/// operations measured.
fn phase(bed: &Bed, n: usize, debug: &str, release: &str, out: &mut Vec<Measured>) -> Result<()> {
    let etcd = Etcd::start(bed)?;
    setup(bed, n, debug)?;
    let client = bed.vm("client");
    crate::failover::must(bed.vm("nfs1"), "up --yes")?;
    let tag = format!("bench{n}");
    mount_client(client, "vers=4.2,timeo=50")?;
    let writer = Writer::start(client, &tag)?;
    let b = Bench {
        bed,
        etcd: &etcd,
        writer: &writer,
        volumes: n,
    };
    b.assert_state("nfs1")?;
    report(&format!(
        "== breakdown: {n} volume(s) set up, load average {}\n",
        load_average()
    ));
    // Failovers: there (run on the old node) and back (run on the target), debug build; with
    // 1 volume the same again with the release build (ssh logins run the same build).
    out.push(b.measure(false, "nfs1", "nfs2", debug, "debug")?);
    out.push(b.measure(false, "nfs1", "nfs1", debug, "debug")?);
    if n == 1 {
        use_binary(bed, release)?;
        out.push(b.measure(false, "nfs1", "nfs2", release, "release")?);
        out.push(b.measure(false, "nfs1", "nfs1", release, "release")?);
        use_binary(bed, debug)?;
    }
    // The old way, there and back; with 1 volume in the order debug, release, release, debug.
    let builds: &[(&str, &'static str)] = if n == 1 {
        &[
            (debug, "debug"),
            (release, "release"),
            (release, "release"),
            (debug, "debug"),
        ]
    } else {
        &[(debug, "debug"), (debug, "debug")]
    };
    for (i, (bin, build)) in builds.iter().enumerate() {
        let to = if i % 2 == 0 { "nfs2" } else { "nfs1" };
        use_binary(bed, bin)?;
        out.push(b.measure(true, to, to, bin, build)?);
    }
    use_binary(bed, debug)?;
    if n == 1 {
        // Start-up and a read-only run of both builds, paired, in a guest.
        for (node, args) in [
            ("nfs2", "--version".to_string()),
            (
                "nfs2",
                format!("--config {NFS_MANAGE_CONFIG} status --json"),
            ),
            (
                "nfs1",
                format!("--config {NFS_MANAGE_CONFIG} status --json"),
            ),
        ] {
            let (pairs, rcs) = paired_runs(bed.vm(node), debug, release, &args, 5)?;
            let ratios: Vec<f64> = pairs.iter().map(|(d, r)| r / d).collect();
            let (dmin, dmed) = min_median(pairs.iter().map(|p| p.0).collect());
            let (rmin, rmed) = min_median(pairs.iter().map(|p| p.1).collect());
            let (qmin, qmed) = min_median(ratios);
            report(&format!(
                "== debug vs release, `nfs-manage {args}` on {node}, 5 paired runs: debug min {dmin:.3} s median {dmed:.3} s; \
                 release min {rmin:.3} s median {rmed:.3} s; release ÷ debug min {qmin:.3} median {qmed:.3} (exit codes {rcs})\n"
            ));
        }
    }
    let acks = writer.stop(client)?;
    assert_durable(bed.vm("nfs1"), &tag, &acks)?;
    client.ok(&format!("umount {CLIENT_MOUNT}"))?;
    report(&format!(
        "== breakdown: {n} volume(s) done: {} records acknowledged, all on nfs1's disk; {} writer errors; load average {}\n\n",
        acks.last(),
        acks.errors.len(),
        load_average()
    ));
    Ok(())
}

fn summary(all: &[Measured]) -> String {
    let mut t = String::from("== breakdown summary (min / median)\n");
    let pick = |v: usize, kind: &str, build: &str| -> Vec<&Measured> {
        all.iter()
            .filter(|m| m.volumes == v && m.kind == kind && m.build == build)
            .collect()
    };
    // Ratios of operations matched by position: same direction and same node running it.
    let ratio = |t: &mut String,
                 what: &str,
                 a: &[&Measured],
                 b: &[&Measured],
                 f: &dyn Fn(&Measured) -> f64| {
        let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| f(x) / f(y)).collect();
        let (min, med) = min_median(r.clone());
        let _ = writeln!(
            t,
            "{what}: {min:.3} / {med:.3} ({} pairs: {:?})",
            r.len(),
            r.iter()
                .map(|x| (x * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>()
        );
    };
    let f1 = pick(1, "failover", "debug");
    let f4 = pick(4, "failover", "debug");
    let o1 = pick(1, "old way", "debug");
    let o4 = pick(4, "old way", "debug");
    let f1r = pick(1, "failover", "release");
    let o1r = pick(1, "old way", "release");
    ratio(
        &mut t,
        "failover client pause, 4 volumes ÷ 1",
        &f4,
        &f1,
        &|m| m.pause,
    );
    ratio(&mut t, "failover wall, 4 volumes ÷ 1", &f4, &f1, &|m| {
        m.cp.wall
    });
    ratio(&mut t, "failover outage, 4 volumes ÷ 1", &f4, &f1, &|m| {
        m.outage
    });
    ratio(
        &mut t,
        "old way ÷ failover, client pause, 1 volume",
        &o1,
        &f1,
        &|m| m.pause,
    );
    ratio(
        &mut t,
        "old way ÷ failover, wall, 1 volume",
        &o1,
        &f1,
        &|m| m.cp.wall,
    );
    ratio(
        &mut t,
        "old way ÷ failover, client pause, 4 volumes",
        &o4,
        &f4,
        &|m| m.pause,
    );
    ratio(
        &mut t,
        "old way ÷ failover, wall, 4 volumes",
        &o4,
        &f4,
        &|m| m.cp.wall,
    );
    ratio(&mut t, "release ÷ debug, failover wall", &f1r, &f1, &|m| {
        m.cp.wall
    });
    ratio(
        &mut t,
        "release ÷ debug, failover client pause",
        &f1r,
        &f1,
        &|m| m.pause,
    );
    // The old way ran debug, release, release, debug: pair same directions.
    let o1r_by_dir: Vec<&Measured> = o1r.iter().rev().copied().collect();
    ratio(
        &mut t,
        "release ÷ debug, old way wall (down + up)",
        &o1r_by_dir,
        &o1,
        &|m| m.cp.wall,
    );
    for (v, kind) in [
        (1, "failover"),
        (4, "failover"),
        (1, "old way"),
        (4, "old way"),
    ] {
        for build in ["debug", "release"] {
            let ms = pick(v, kind, build);
            if ms.is_empty() {
                continue;
            }
            let stat = |f: &dyn Fn(&Measured) -> f64| min_median(ms.iter().map(|m| f(m)).collect());
            let (p0, p1) = stat(&|m| m.pause);
            let (w0, w1) = stat(&|m| m.cp.wall);
            let (u0, u1) = stat(&|m| m.outage);
            let (r0, r1) = stat(&|m| m.cp.wall / m.cp.tools);
            let (s0, s1) = stat(&|m| (m.cp.tools + m.cp.own) / m.cp.tools);
            let (o0, o1) = stat(&|m| m.cp.own);
            let (h0, h1) = stat(&|m| m.cp.ssh);
            let _ = writeln!(
                t,
                "{v} volume(s), {kind}, {build} ({} runs): pause {p0:.2} / {p1:.2} s; wall {w0:.2} / {w1:.2} s; outage {u0:.2} / {u1:.2} s; \
                 wall ÷ tools {r0:.3} / {r1:.3}; (tools + own) ÷ tools {s0:.3} / {s1:.3}; own {o0:.2} / {o1:.2} s; ssh {h0:.2} / {h1:.2} s",
                ms.len()
            );
            let mut keys: Vec<&String> = ms.iter().flat_map(|m| m.steps.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let (a, b) = stat(&|m| m.steps.get(k).map_or(0.0, StepKind::span));
                let _ = writeln!(t, "    {k:<28} {a:>6.2} / {b:>6.2} s");
            }
        }
    }
    t
}

pub fn failover_breakdown(bed: &Bed) -> Result<()> {
    // Both builds, whichever one the rest of the bed runs.
    let debug = crate::bed::debug_bin().to_string();
    let release = crate::bed::release_bin()?;
    let mut all = Vec::new();
    phase(bed, 1, &debug, &release, &mut all)?;
    crate::scenarios::reset(bed)?;
    phase(bed, 4, &debug, &release, &mut all)?;
    let mut s = summary(&all);
    let _ = writeln!(s, "load average at the end: {}\n", load_average());
    report(&s);
    Ok(())
}
