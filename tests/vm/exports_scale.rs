//! `exports.layout: netgroup` against the real nfsd, rpc.mountd and a kernel NFS client:
//! an address in a project's netgroup is admitted, an address removed is refused after the
//! sync, and the longest stall a working client sees while other things change. Times are
//! reported (target/vm-logs/exports-times.txt), not asserted: TCG under load varies.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::bed::{Bed, SERVICE_IP, Vm, logs_dir, manifest_dir, node_address};
use crate::scenarios::{
    DEVICE, MOUNTPOINT, NFS_MANAGE_CONFIG, RESOURCE, STORAGE, drbd_synced_blank, nfs_manage_config,
    write_res,
};

/// nfs-manage's journal in the guests (the config's default).
const JOURNAL: &str = "/var/lib/nfs-manage/journal.jsonl";

/// Projects besides alpha and beta, each with this many addresses: a table that is not
/// trivial for mountd to load, small enough for TCG.
const FILLER: usize = 200;
const PER_PROJECT: usize = 10;
const PROBE_DIR: &str = "/mnt/alpha";
/// A probe this long or longer counts as a stall beyond the client's usual latency (the
/// quiet windows' probes take 20-100 ms under TCG).
const SLOW: f64 = 0.15;

fn nfs_manage(vm: &Vm, args: &str) -> Result<crate::bed::Output> {
    let bin = crate::bed::nfs_manage_bin();
    vm.run(
        &format!("{bin} --config {NFS_MANAGE_CONFIG} {args}"),
        Duration::from_secs(600),
    )
}

fn must(vm: &Vm, args: &str) -> Result<String> {
    let o = nfs_manage(vm, args)?;
    ensure!(
        o.rc == 0,
        "{}: nfs-manage {args}: exit {}\n{}\n{}",
        vm.name,
        o.rc,
        o.stdout,
        o.stderr
    );
    Ok(o.stdout)
}

fn report(text: &str) {
    use std::io::Write as _;
    eprintln!("{text}");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs_dir().join("exports-times.txt"))
    {
        let _ = writeln!(f, "{text}");
    }
}

fn client_now(client: &Vm) -> Result<f64> {
    Ok(client.ok("date +%s.%N")?.trim().parse()?)
}

fn project(name: &str, gid: u32, clients: &[String]) -> String {
    format!(
        "cat > /etc/nfs-manage/projects.d/{name}.yaml <<'EOF'\nname: {name}\ngid: {gid}\nvolume: {RESOURCE}\nclients: [{}]\nEOF\n",
        clients.join(", ")
    )
}

fn config(layout: &str) -> String {
    format!(
        "{}exports: {{ layout: {layout}, backup: /etc/nfs-manage/exports.bak }}\n",
        nfs_manage_config()
    )
}

/// The prober's log lines: (start, duration, ok).
fn probes(client: &Vm) -> Result<Vec<(f64, f64, bool)>> {
    Ok(parse_probes(&client.ok("cat /run/probe.log")?))
}

fn parse_probes(text: &str) -> Vec<(f64, f64, bool)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let t = w.next()?.parse().ok()?;
            let d = w.next()?.parse().ok()?;
            Some((t, d, w.next() == Some("ok")))
        })
        .collect()
}

/// When the first probe started at or after `since` that ended `ok` (or failed) ended,
/// waiting up to 60 s for one; `None` if none did.
fn first_probe(client: &Vm, since: f64, ok: bool) -> Result<Option<f64>> {
    for _ in 0..60 {
        let p = probes(client)?;
        if let Some((t, d, _)) = p.iter().find(|(t, _, o)| *o == ok && *t >= since) {
            return Ok(Some(t + d));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok(None)
}

/// The longest a probe waited, of those running at any time in [from, to], and how many
/// failed.
fn stall(p: &[(f64, f64, bool)], from: f64, to: f64) -> (f64, usize, usize) {
    let inside: Vec<&(f64, f64, bool)> = p
        .iter()
        .filter(|(t, d, _)| *t <= to && t + d >= from)
        .collect();
    let worst = inside.iter().map(|(_, d, _)| *d).fold(0.0, f64::max);
    let failed = inside.iter().filter(|(_, _, ok)| !ok).count();
    (worst, inside.len(), failed)
}

/// Counters that tell a stall caused by the network (a lost segment waits out TCP's
/// retransmission timeout, 200 ms at least) from one the server caused: TCP's from nstat,
/// the NIC's drops, and on a storage node DRBD's activity-log updates (`al`, each a
/// synchronous meta-data write) and ext4's journal commits, as name → value.
fn node_counters(vm: &Vm) -> Result<BTreeMap<String, u64>> {
    let out = vm.ok(
        "nstat -asz | awk '$1 ~ /^(TcpRetransSegs|TcpExtTCPTimeouts|TcpExtTCPLossProbes|TcpExtTCPLossProbeRecovery|TcpExtTCPDSACKRecv|TcpExtTCPSpuriousRTOs|TcpExtTCPFastRetrans|TcpExtTCPBacklogDrop|TcpExtTCPRcvQDrop)$/ {print $1, $2}'
for f in rx_dropped tx_dropped rx_errors tx_errors; do echo \"eth0_$f $(cat /sys/class/net/eth0/statistics/$f)\"; done
if [ -e /proc/drbd ]; then sed -n 's/.* dw:\\([0-9]*\\) .* al:\\([0-9]*\\) .*/drbd_dw \\1\\ndrbd_al \\2/p' /proc/drbd | head -n 2; fi
for f in /proc/fs/jbd2/drbd*/info; do [ -e \"$f\" ] && awk 'NR == 1 {print \"jbd2_transactions\", $1}' \"$f\"; done; true",
    )?;
    let counters: BTreeMap<String, u64> = out
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect();
    // Counters that cannot be read must not pass for counters that did not grow.
    let storage: &[&str] = if vm.name == "client" {
        &[]
    } else {
        &["drbd_al", "jbd2_transactions"]
    };
    for k in ["TcpRetransSegs", "TcpExtTCPTimeouts", "eth0_rx_dropped"]
        .iter()
        .chain(storage)
    {
        ensure!(
            counters.contains_key(*k),
            "{}: no {k} in its counters:\n{out}",
            vm.name
        );
    }
    Ok(counters)
}

/// The host side of the guests' NICs: packets the bridge's tap devices dropped (a guest
/// that does not take its packets in time under TCG), as "tap-NODE_counter" → value.
fn tap_counters(bed: &Bed) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for node in ["client", "nfs1"] {
        for c in ["rx_dropped", "tx_dropped"] {
            let file = format!("/sys/class/net/tap-{node}/statistics/{c}");
            let o = std::process::Command::new("ip")
                .args(["netns", "exec", &bed.netns, "cat", &file])
                .output()?;
            // A counter that cannot be read must not pass for one that did not grow.
            let text = String::from_utf8_lossy(&o.stdout);
            let v = text
                .trim()
                .parse()
                .with_context(|| format!("{file} in {}: {text:?}", bed.netns))?;
            out.insert(format!("tap-{node}_{c}"), v);
        }
    }
    Ok(out)
}

/// What grew between two readings, as "name +n, …" ("none" when nothing did).
fn grown(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> String {
    let d: Vec<String> = after
        .iter()
        .filter_map(|(k, v)| {
            let was = before.get(k).copied().unwrap_or(0);
            (*v > was).then(|| format!("{k} +{}", v - was))
        })
        .collect();
    if d.is_empty() {
        "none".into()
    } else {
        d.join(", ")
    }
}

/// The measured windows of the run, (label, from, to) on the client's clock, for placing
/// the whole run's slow probes afterwards.
static WINDOWS: std::sync::Mutex<Vec<(String, f64, f64)>> = std::sync::Mutex::new(Vec::new());

/// Where the run's slow probes (SLOW or longer) fell, and how often they came: in the quiet
/// baseline, in the syncs (a) and (b), in the controls, anywhere else. The client's normal
/// latency is what the quiet baseline shows.
fn slow_probes_by_window(p: &[(f64, f64, bool)]) -> String {
    let windows = WINDOWS.lock().map(|w| w.clone()).unwrap_or_default();
    let kind = |label: &str| -> &'static str {
        if label.starts_with("quiet") {
            "quiet baseline"
        } else if label.starts_with("(a) ")
            || label.starts_with("(b) ")
            || label.starts_with("(b2)")
        {
            "syncs (a), (b), (b2)"
        } else if label.starts_with("(b0)") || label.starts_with("(b1)") {
            "controls (b0), (b1)"
        } else {
            "exportfs runs (a'), (c), (c')"
        }
    };
    let mut time: BTreeMap<&str, f64> = BTreeMap::new();
    for (l, f, t) in &windows {
        *time.entry(kind(l)).or_default() += t - f;
    }
    let mut slow: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut lines = String::new();
    for (t, d, _) in p.iter().filter(|(_, d, _)| *d >= SLOW) {
        let w = windows.iter().find(|(_, f, to)| t + d >= *f && *t <= *to);
        let k = w.map_or("between the windows", |(l, _, _)| kind(l));
        slow.entry(k).or_default().push(*d);
        lines.push_str(&format!(
            "  {d:.3} s at {t:.3}: {}\n",
            w.map_or("between the windows", |(l, _, _)| l.as_str())
        ));
    }
    let mut out = format!(
        "whole run: {} probes, {} of them {SLOW} s or longer\n",
        p.len(),
        slow.values().map(Vec::len).sum::<usize>()
    );
    for (k, secs) in &time {
        let d = slow.get(k).cloned().unwrap_or_default();
        out.push_str(&format!(
            "  {k}: {} in {secs:.0} s ({:.1} a minute), longest {:.3} s\n",
            d.len(),
            d.len() as f64 * 60.0 / secs,
            d.iter().copied().fold(0.0, f64::max)
        ));
    }
    out + &lines
}

/// Until the prober has logged a probe that started after `t` (client clock), so that every
/// probe running inside a window ending at `t` has been logged: one stuck for the whole
/// window is then counted, not missed.
fn probes_until(client: &Vm, t: f64) -> Result<Vec<(f64, f64, bool)>> {
    for _ in 0..240 {
        let p = probes(client)?;
        if p.iter().any(|(s, _, _)| *s > t) {
            return Ok(p);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    anyhow::bail!("the client's prober logged nothing that started after {t:.3} for 120 s")
}

/// Run `what` on the server while the client probes; the window ends 3 s after it. Reports
/// the longest stall, when in the window it began, and what grew meanwhile in the counters
/// of the client, nfs1 and the host's taps.
fn measured(bed: &Bed, label: &str, what: impl FnOnce() -> Result<()>) -> Result<(f64, f64)> {
    let client = bed.vm("client");
    let server = bed.vm("nfs1");
    // Whatever came before has let go of the client: a probe started now has finished.
    probes_until(client, client_now(client)?)?;
    let (c0, s0, h0) = (
        node_counters(client)?,
        node_counters(server)?,
        tap_counters(bed)?,
    );
    let from = client_now(client)?;
    what()?;
    let done = client_now(client)?;
    std::thread::sleep(Duration::from_secs(3));
    let p = probes_until(client, done + 3.0)?;
    let (c1, s1, h1) = (
        node_counters(client)?,
        node_counters(server)?,
        tap_counters(bed)?,
    );
    let (worst, n, failed) = stall(&p, from, done + 3.0);
    if let Ok(mut w) = WINDOWS.lock() {
        w.push((label.to_string(), from, done + 3.0));
    }
    let inside = || {
        p.iter()
            .filter(move |(t, d, _)| *t <= done + 3.0 && t + d >= from)
    };
    let at = inside()
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(t, _, _)| t - from)
        .unwrap_or_default();
    let slow = inside().filter(|(_, d, _)| *d >= SLOW).count();
    report(&format!(
        "{label}: took {:.2} s; longest client stall {:.3} s (from {at:+.2} s) over {n} probes, {slow} of them {SLOW} s or longer, {failed} failed; counters: client {}; nfs1 {}; host taps {}",
        done - from,
        worst,
        grown(&c0, &c1),
        grown(&s0, &s1),
        grown(&h0, &h1)
    ));
    ensure!(
        failed == 0,
        "{label}: {failed} of the client's requests failed"
    );
    Ok((done - from, worst))
}

pub fn exports_netgroup_clients(bed: &Bed) -> Result<()> {
    let (a, client) = (bed.vm("nfs1"), bed.vm("client"));
    let me = node_address("client");
    if let Ok(mut w) = WINDOWS.lock() {
        w.clear();
    }
    write_res(bed, "")?;
    drbd_synced_blank(bed)?;

    // Served by hand on nfs1 (the up order), with alpha (the client), beta and the filler
    // projects in the netgroup layout; glibc answers netgroups from files.
    let mut setup = format!(
        "set -e
drbdadm primary {RESOURCE}
mkfs.ext4 -q -F {DEVICE}
mkdir -p {MOUNTPOINT} /etc/nfs-manage/projects.d
mount -t ext4 -o noatime {DEVICE} {MOUNTPOINT}
cp /etc/nsswitch.conf /run/nsswitch.conf.orig
sed -i '/^netgroup:/d' /etc/nsswitch.conf
echo 'netgroup: files' >> /etc/nsswitch.conf
: > /etc/netgroup
# rpc.mountd's netgroup check starts from the client's host name (nfs-utils check_netgroup():
# no name for the address, no match, the address itself never tried); production has PTR
# records, the bed has /etc/hosts.
cp /etc/hosts /run/hosts.orig
echo '{me} client-vm' >> /etc/hosts
for i in 201 202 203; do echo \"192.0.2.$i other-$i\" >> /etc/hosts; done
# Every filler address has a name too (nfs-manage refuses members without one), from files:
# the bed's resolver does not answer.
sed -i 's/^hosts:.*/hosts: files/' /etc/nsswitch.conf
cat > {NFS_MANAGE_CONFIG} <<'EOF'
{}EOF
install -d -m 3777 {MOUNTPOINT}/shared/alpha {MOUNTPOINT}/shared/beta
",
        config("netgroup")
    );
    setup.push_str(&project(
        "alpha",
        50100,
        &[me.clone(), "192.0.2.201".into()],
    ));
    setup.push_str(&project("beta", 50200, &["192.0.2.202".into()]));
    let mut hosts = String::new();
    for i in 0..FILLER {
        let clients: Vec<String> = (1..=PER_PROJECT)
            .map(|j| format!("10.{}.{}.{j}", i / 250, i % 250))
            .collect();
        for (j, c) in clients.iter().enumerate() {
            hosts.push_str(&format!("{c} f{i}-{j}\n"));
        }
        setup.push_str(&format!("install -d {MOUNTPOINT}/shared/f{i}\n"));
        setup.push_str(&project(&format!("f{i}"), 60000 + i as u32, &clients));
    }
    setup.push_str(&format!("cat >> /etc/hosts <<'EOF'\n{hosts}EOF\n"));
    setup.push_str(&format!(
        "systemctl start nfs-server\nip addr add {SERVICE_IP}/24 dev eth0\n{}\n",
        crate::scenarios::announce_service_ip()
    ));
    a.ok(&setup)?;
    let result = scenario(bed, &me);
    // The client's whole probe log, and where its slow probes fell.
    if let Ok(log) = client.ok("cat /run/probe.log") {
        let _ = std::fs::write(logs_dir().join("exports-probe.log"), &log);
        report(&slow_probes_by_window(&parse_probes(&log)));
    }
    // The guests' /etc outlives the scenario: put nsswitch.conf back, drop the netgroups.
    let _ = client.ok(
        "touch /run/probe.stop; for m in $(awk '$3 ~ \"^nfs\" {print $2}' /proc/mounts); do umount -f -l \"$m\"; done",
    );
    for name in STORAGE {
        let _ = bed.vm(name).ok(
            "if [ -e /run/nsswitch.conf.orig ]; then cp /run/nsswitch.conf.orig /etc/nsswitch.conf; fi; if [ -e /run/hosts.orig ]; then cp /run/hosts.orig /etc/hosts; fi; rm -f /etc/netgroup",
        );
    }
    result
}

fn scenario(bed: &Bed, me: &str) -> Result<()> {
    let (a, client) = (bed.vm("nfs1"), bed.vm("client"));
    must(a, "exports sync --yes")?;
    let etab = a.ok("cat /var/lib/nfs/etab | wc -l")?;
    let groups = a.ok("getent netgroup project-alpha")?;
    report(&format!(
        "netgroup layout: {} etab entries for {} projects; project-alpha: {}",
        etab.trim(),
        FILLER + 2,
        groups.trim()
    ));
    ensure!(
        groups.contains(&format!("({me},,)")),
        "project-alpha: {groups}"
    );

    // The client's address is in the netgroup as a triple: real mountd admits it, NFSv4.2
    // and NFSv3 (the MNT call goes to rpc.mountd itself).
    let first = client.run(
        &format!(
            "mkdir -p /mnt/alpha && mount -t nfs -o vers=3,proto=tcp,nolock,timeo=50,retry=0 {SERVICE_IP}:{MOUNTPOINT}/shared/alpha /mnt/alpha"
        ),
        Duration::from_secs(180),
    )?;
    if first.rc != 0 {
        // What rpc.mountd had to go on: its name lookups for the client, and the kernel's
        // caches it filled.
        let why = a.run(
            &format!(
                "grep -E '^(hosts|netgroup):' /etc/nsswitch.conf; cat /etc/resolv.conf; \
time getent hosts {me}; time getent netgroup project-alpha; pgrep -a rpc.mountd; \
cat /proc/net/rpc/auth.unix.ip/content /proc/net/rpc/nfsd.export/content | grep -v '^#' | tail -20"
            ),
            Duration::from_secs(120),
        )?;
        report(&format!(
            "netgroup member refused by rpc.mountd: {}\nserver side:\n{}\n{}",
            first.stderr.trim(),
            why.stdout,
            why.stderr
        ));
        anyhow::bail!(
            "the netgroup member {me} was refused: {}",
            first.stderr.trim()
        );
    }
    client.ok("umount /mnt/alpha")?;
    client.ok(&format!(
        "set -e
mkdir -p /mnt/alpha /mnt/v3
mount -t nfs -o vers=4.2,timeo=50 {SERVICE_IP}:{MOUNTPOINT}/shared/alpha /mnt/alpha
mount -t nfs -o vers=3,proto=tcp,nolock,timeo=50 {SERVICE_IP}:{MOUNTPOINT}/shared/alpha /mnt/v3
echo admitted > /mnt/alpha/f
cat /mnt/v3/f
umount /mnt/v3
rm -f /run/probe.log /run/probe.stop
setsid /usr/bin/python3 {}/prober.py {PROBE_DIR} /run/probe.log /run/probe.stop \
    </dev/null >/run/prober.out 2>&1 &",
        manifest_dir().join("tests/vm/guest").display()
    ))?;
    std::thread::sleep(Duration::from_secs(5));
    let p = probes(client)?;
    ensure!(p.len() > 10, "the prober is not probing: {p:?}");
    // The client's normal latency includes whatever the bed does on its own now and then:
    // a minute with nothing run on the server shows how often.
    measured(bed, "quiet baseline: 60 s with nothing run", || {
        std::thread::sleep(Duration::from_secs(60));
        Ok(())
    })?;

    let sync_a = must(a, "exports sync --yes --json")?;
    ensure!(
        !sync_a.contains("\"exportfs\""),
        "nothing changed yet: {sync_a}"
    );
    // Five rounds of (a) a sync that changes another project (beta gains an address, then
    // loses it, and so on: no exportfs run), then (b) a sync with nothing to change.
    let mut plan = String::new();
    for round in 1..=5 {
        let mut beta = vec!["192.0.2.202".to_string()];
        if round % 2 == 1 {
            beta.push("192.0.2.203".into());
        }
        a.ok(&project("beta", 50200, &beta))?;
        measured(
            bed,
            &format!("(a) round {round}: sync changing another project's members"),
            || {
                plan = must(a, "exports sync --yes --json")?;
                Ok(())
            },
        )?;
        ensure!(
            plan.contains("\"expire-cache\"")
                && !plan.contains("\"-ra\"")
                && !plan.contains("\"-f\""),
            "(a) ran more than the expiry of the changed address: {plan}"
        );
        // On the real caches the expiry went entry by entry (a flush would have been
        // reported), and the probing client's own answers are still cached and live.
        let rec = a.ok(&format!(
            "grep '\"step\":\"netgroup:expire\"' {JOURNAL} | tail -n 1"
        ))?;
        let content = a.ok(
            "for c in auth.unix.ip nfsd.export nfsd.fh; do echo \"== $c\"; cat /proc/net/rpc/$c/content; done",
        )?;
        std::fs::write(
            logs_dir().join(format!("rpc-content-after-a{round}.txt")),
            &content,
        )?;
        report(&format!("(a) round {round} expiry: {}", rec.trim()));
        ensure!(
            rec.contains("\"cache_method\":\"targeted\""),
            "(a) did not expire entry by entry: {rec}"
        );
        // rpc.mountd names the client `$ADDRESS` with this many netgroups (use_ipaddr).
        ensure!(
            content
                .lines()
                .any(|l| !l.starts_with('#') && l.contains(&format!("\t${me}("))),
            "(a): the probing client's export entry is not live after the expiry:\n{content}"
        );
        measured(
            bed,
            &format!("(b) round {round}: sync with nothing to change"),
            || {
                plan = must(a, "exports sync --yes --json")?;
                Ok(())
            },
        )?;
        ensure!(plan.contains("nothing to do"), "(b): {plan}");
    }
    // A control for (b), which touches no cache and runs no exportfs: a burst of CPU on nfs1
    // as long as (b) took (3.3-3.4 s with the release build), unrelated to NFS. The guest
    // has one emulated core, shared with its nfsd threads.
    measured(
        bed,
        "(b0) control: 3.5 s of CPU on nfs1, unrelated to NFS",
        || {
            a.ok("timeout 3.5 sha256sum /dev/zero; true")?;
            Ok(())
        },
    )?;
    // And process starts like a sync's (probes, drbdadm and its children), also unrelated
    // to NFS: under TCG a new process costs the whole guest more than its own CPU.
    measured(
        bed,
        "(b1) control: 12 process starts on nfs1, unrelated to NFS",
        || {
            a.ok("for i in 1 2 3 4; do drbdadm --version >/dev/null; ip -j addr show >/dev/null; /bin/true; done")?;
            Ok(())
        },
    )?;
    // (b) once more, after the controls: whether its stall belongs to the sync or to what
    // came just before it.
    measured(bed, "(b2) sync with nothing to change, again", || {
        plan = must(a, "exports sync --yes --json")?;
        Ok(())
    })?;
    ensure!(plan.contains("nothing to do"), "(b2): {plan}");
    // (c) a full re-export of the netgroup layout.
    measured(bed, "(c) exportfs -ra, netgroup layout", || {
        a.ok("exportfs -ra")?;
        Ok(())
    })?;

    // The client's address leaves alpha: refused by rpc.mountd (a new NFSv3 mount) and on
    // its existing NFSv4.2 mount, after the sync.
    a.ok(&project("alpha", 50100, &["192.0.2.201".into()]))?;
    let from = client_now(client)?;
    must(a, "exports sync --yes --force")?;
    let synced = client_now(client)?;
    let mounted = client.run(
        &format!(
            "mount -t nfs -o vers=3,proto=tcp,nolock,timeo=50,retry=0 {SERVICE_IP}:{MOUNTPOINT}/shared/alpha /mnt/v3"
        ),
        Duration::from_secs(120),
    )?;
    let refused_at = client_now(client)?;
    ensure!(
        mounted.rc != 0,
        "a removed client could still mount: {}",
        mounted.stdout
    );
    report(&format!(
        "removed client: sync took {:.2} s; a new NFSv3 mount refused {:.2} s after the sync ({})",
        synced - from,
        refused_at - synced,
        mounted.stderr.trim()
    ));
    // The open mount: the first failing probe after the sync.
    let Some(refused) = first_probe(client, from, false)? else {
        anyhow::bail!("the removed client's open NFSv4.2 mount kept working for 60 s");
    };
    report(&format!(
        "removed client: its open NFSv4.2 mount refused {:.2} s after the sync ended",
        refused - synced
    ));

    // Back in: admitted again at once (the expiry also drops the kernel's cached refusal).
    a.ok(&project(
        "alpha",
        50100,
        &[me.to_string(), "192.0.2.201".into()],
    ))?;
    must(a, "exports sync --yes")?;
    client.ok(&format!(
        "set -e
mount -t nfs -o vers=3,proto=tcp,nolock,timeo=50,retry=0 {SERVICE_IP}:{MOUNTPOINT}/shared/alpha /mnt/v3
cat /mnt/v3/f
umount /mnt/v3"
    ))?;
    // The open NFSv4.2 mount: its first good probe after the new mount was admitted.
    let ok_again = client_now(client)?;
    let Some(recovered) = first_probe(client, ok_again, true)? else {
        anyhow::bail!("the re-admitted client's open NFSv4.2 mount did not work again within 60 s");
    };
    report(&format!(
        "re-admitted client: its open NFSv4.2 mount worked again {:.2} s after a new mount was admitted",
        recovered - ok_again
    ));

    // The same clients one entry per address (per-client layout), for comparison.
    a.ok(&format!(
        "cat > {NFS_MANAGE_CONFIG} <<'EOF'\n{}EOF",
        config("per-client")
    ))?;
    must(a, "exports sync --yes --force")?;
    let etab = a.ok("cat /var/lib/nfs/etab | wc -l")?;
    report(&format!("per-client layout: {} etab entries", etab.trim()));
    a.ok(&project(
        "beta",
        50200,
        &[
            "192.0.2.202".into(),
            "192.0.2.203".into(),
            "192.0.2.204".into(),
        ],
    ))?;
    measured(
        bed,
        "(a') per-client layout: sync adding an address to another project",
        || {
            must(a, "exports sync --yes")?;
            Ok(())
        },
    )?;
    measured(bed, "(c') exportfs -ra, per-client layout", || {
        a.ok("exportfs -ra")?;
        Ok(())
    })?;
    Ok(())
}
