//! Property tests: every parser of tool output, the config and project loaders and the
//! exports renderer, fed arbitrary and mutated real text. None may panic; what is rendered
//! must parse back to what was rendered.
//!
//! 256 cases per property in the normal suite; a long run with
//! `NFS_MANAGE_PROPTEST_CASES=100000 cargo test --lib proptests`. A case that ever failed is
//! kept as a plain unit test at the end of this file.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::config::{self, Config};
use crate::domain::projects;
use crate::process::Output;
use crate::tools::{arping, drbd, etcd, exportfs, fuser, getent, ip, lvm, mount, rsync, systemctl};

fn cases() -> ProptestConfig {
    let n = std::env::var("NFS_MANAGE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases: n,
        // Failing cases are kept as unit tests below, not in files beside the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn fixture(dir: &str, name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{dir}/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Real text with a few random edits: cut a range, repeat one, insert random text. This
/// reaches deeper into a parser than random bytes do.
fn mutated(seeds: Vec<String>) -> impl Strategy<Value = String> {
    let n = seeds.len();
    (
        0..n,
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                0u8..4,
                ".{0,12}",
            ),
            0..4,
        ),
    )
        .prop_map(move |(i, edits)| {
            let mut s: Vec<char> = seeds[i].chars().collect();
            for (a, b, op, text) in edits {
                if s.is_empty() {
                    s.extend(text.chars());
                    continue;
                }
                let (x, y) = (a.index(s.len()), b.index(s.len()));
                let (lo, hi) = (x.min(y), x.max(y));
                match op {
                    0 => {
                        s.drain(lo..hi);
                    }
                    1 => {
                        let dup: Vec<char> = s[lo..hi].to_vec();
                        s.splice(hi..hi, dup);
                    }
                    2 => {
                        s.splice(lo..lo, text.chars());
                    }
                    _ => {
                        s.splice(lo..hi, text.chars());
                    }
                }
            }
            s.into_iter().collect()
        })
}

/// Arbitrary text, or a mutation of one of `seeds`.
fn text_like(seeds: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ -~\n\t]{0,200}", mutated(seeds)]
}

fn drbd_seeds() -> Vec<String> {
    let dir = format!("{}/tests/fixtures/drbd", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt" || x == "json"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    v.sort();
    v
}

const IP_JSON: &str = r#"[{"ifindex":2,"ifname":"eth0","flags":["UP"],"mtu":1500,"addr_info":[{"family":"inet","local":"10.64.37.1","prefixlen":24,"scope":"global","label":"eth0"},{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]},{"ifindex":3,"ifname":"eth1","addr_info":[]}]"#;
const LVS_JSON: &str = r#"{"report":[{"lv":[{"lv_name":"tools","vg_name":"backup","lv_attr":"-wi-a-----","lv_size":"34359738368","origin":"","data_percent":"","lv_path":"/dev/backup/tools"},{"lv_name":"tools-presync","vg_name":"backup","lv_attr":"swi-a-s---","lv_size":"1073741824","origin":"tools","data_percent":"3.91","lv_path":"/dev/backup/tools-presync"}]}]}"#;
const MOUNTINFO: &str = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n36 22 147:4 / /srv/tools rw,noatime shared:2 - ext4 /dev/drbd4 rw\n37 22 0:40 / /srv/with\\040space rw - tmpfs tmpfs rw\n";
const ETAB: &str = "/srv/tools\t192.0.2.1(rw,sync,wdelay,hide,nocrossmnt,secure,root_squash,no_all_squash,no_subtree_check,secure_locks,acl,no_pnfs,fsid=5,anonuid=65534,anongid=65534,sec=sys,rw,root_squash,no_all_squash)\n/srv/a\\040b\t*(ro)\n";
const EXPORTS: &str = "# c\n/srv/tools \\\n    192.0.2.1(rw,sync,fsid=5) \\\n    192.0.2.0/24(ro)\n\"/srv/a b\" -ro 192.0.2.9 *(rw)\n/srv/x\\040y\n";
const RSYNC: &str = "\nNumber of files: 3 (reg: 2, dir: 1)\nNumber of created files: 1\nNumber of deleted files: 0\nNumber of regular files transferred: 1\nTotal file size: 1,024 bytes\nTotal transferred file size: 512 bytes\nLiteral data: 512 bytes\nMatched data: 0 bytes\nFile list size: 0\nTotal bytes sent: 700\nTotal bytes received: 35\n\nsent 700 bytes  received 35 bytes  1,470.00 bytes/sec\ntotal size is 1,024  speedup is 1.39\n";

proptest! {
    #![proptest_config(cases())]

    /// The sorted nesting checks agree with comparing every pair: `nested_pairs` finds the
    /// same nested pairs, `Under` the same paths under each, on paths built from components
    /// that share string prefixes (`a`, `ab`, `a-b`), with repeats, trailing slashes and the root.
    #[test]
    fn nested_pairs_agree_with_comparing_every_pair(
        list in prop::collection::vec(
            (prop::collection::vec(prop::sample::select(vec!["a", "ab", "a-b", "b", "a.b"]), 0..4), any::<bool>()),
            0..24,
        )
    ) {
        let owned: Vec<PathBuf> = list
            .iter()
            .map(|(parts, slash)| {
                let mut s = format!("/{}", parts.join("/"));
                if *slash && !parts.is_empty() {
                    s.push('/');
                }
                PathBuf::from(s)
            })
            .collect();
        let paths: Vec<&Path> = owned.iter().map(PathBuf::as_path).collect();
        let mut naive = Vec::new();
        for (o, outer) in paths.iter().enumerate() {
            for (i, inner) in paths.iter().enumerate() {
                if inner != outer && inner.starts_with(outer) {
                    naive.push((o, i));
                }
            }
        }
        prop_assert_eq!(config::nesting::nested_pairs(&paths), naive);
        // The paths at or under each of them, found by binary search, as a filter finds them.
        let under = config::nesting::Under::new(paths.iter().copied());
        for top in &paths {
            let filtered: Vec<usize> = (0..paths.len()).filter(|&i| paths[i].starts_with(top)).collect();
            prop_assert_eq!(under.of(top), filtered);
        }
    }

    #[test]
    fn drbd_parsers_never_panic(text in text_like(drbd_seeds())) {
        let _ = drbd::parse_status_json(&text);
        let _ = drbd::parse_status_text(&text);
        let _ = drbd::parse_proc_drbd(&text);
        let _ = drbd::parse_dump(&text);
        let _ = drbd::parse_dump_resources(&text);
    }

    #[test]
    fn drbd_dump_reads_back_what_drbdadm_prints(rs in prop::collection::vec(dump_resource(), 1..4)) {
        let text = render_dump(&rs);
        let back = drbd::parse_dump(&text).unwrap();
        prop_assert_eq!(back, rs);
    }

    #[test]
    fn ip_lvm_mount_parsers_never_panic(
        j in text_like(vec![IP_JSON.to_string()]),
        l in text_like(vec![LVS_JSON.to_string()]),
        m in text_like(vec![MOUNTINFO.to_string()]),
    ) {
        let _ = ip::parse(&j);
        let _ = lvm::parse_lvs(&l);
        let _ = mount::parse_mountinfo(&m);
    }

    #[test]
    fn exportfs_parsers_never_panic(
        e in text_like(vec![ETAB.to_string()]),
        x in text_like(vec![EXPORTS.to_string()]),
    ) {
        let _ = exportfs::parse_etab(&e);
        let _ = exportfs::parse_exports("f", &x);
        let _ = crate::tools::unescape_octal(&x);
    }

    #[test]
    fn export_options_never_panic(o in text_like(vec!["no_subtree_check".into(), "sec=krb5:sys".into(), "refer=/a@b+c:/d@e".into(), "fsid=8a3bd7f4-2e3c-4b6a-9c2d-1234567890ab".into()])) {
        let _ = exportfs::option_problem(&o);
    }

    #[test]
    fn small_output_parsers_never_panic(
        out in text_like(vec![RSYNC.to_string(), "  4310  4311m\n".into(), "active\ninactive\n".into(), "project-x:x:500:a\n".into()]),
        err in text_like(vec!["/srv/tools:  ".into(), "ARPING 10.0.0.1\nReceived 1 response(s)\n".into()]),
        rc in -1i32..130,
    ) {
        let o = Output::fake(rc, &out, &err);
        let _ = rsync::parse(&out);
        let _ = rsync::verify(&o);
        let _ = rsync::literal_data(&out);
        for line in out.split(['\r', '\n']) {
            let _ = rsync::rsync_progress(line);
        }
        let _ = fuser::parse_holders(&o);
        let _ = getent::parse_group("project-x", &o);
        let _ = systemctl::parse_is_active(&["nfs-server", "nginx"], &o);
        let _ = arping::flavor(&o);
        let _ = arping::replies(arping::Flavor::Iputils, &o);
        let _ = arping::replies(arping::Flavor::Habets, &o);
        let _ = crate::tools::ssh::unreachable(&o);
    }

    #[test]
    fn etcd_parsers_never_panic(
        out in text_like(["get-held.json", "get-missing.json", "txn-created.json", "txn-failed.json", "txn-succeeded.json"].iter().map(|f| fixture("etcd", f)).collect()),
        rc in 0i32..3,
    ) {
        let o = Output::fake(rc, &out, "");
        let _ = etcd::parse_get(&o, "/nfs-manage/c/active");
        let _ = etcd::parse_txn(&o);
        let _ = etcd::Holder::parse(&out);
    }

    #[test]
    fn etcd_holder_reads_back(node in "[a-z0-9][a-z0-9._-]{0,20}", from in "[a-z0-9][a-z0-9._-]{0,20}", since in "[0-9TZ:.-]{1,30}") {
        let h = etcd::Holder::parse(&etcd::Holder::value(&node, &since)).unwrap();
        prop_assert_eq!(&h.node, &node);
        prop_assert_eq!(h.since.as_deref(), Some(since.as_str()));
        let m = etcd::Holder::parse(&etcd::Holder::moving_value(&from, &node, &since)).unwrap();
        prop_assert_eq!(&m.node, &node);
    }

    #[test]
    fn the_config_loader_never_panics_and_always_says_where(text in text_like(vec![GOOD.to_string()])) {
        match Config::parse(Path::new("c.yaml"), &text) {
            Ok(_) => {}
            Err(e) => {
                let e = e.to_string();
                for line in e.lines() {
                    prop_assert!(has_position(line), "no FILE:LINE:COLUMN in {:?}", line);
                }
            }
        }
    }

    #[test]
    fn the_project_loader_never_panics_and_always_says_where(text in text_like(vec![PROJECT.to_string()])) {
        let cfg = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
        if let Err(e) = projects::parse_file(&cfg, Path::new("/p/tools.yaml"), &text) {
            let e = e.to_string();
            for line in e.lines() {
                prop_assert!(has_position(line), "no FILE:LINE:COLUMN in {:?}", line);
            }
        }
    }

    #[test]
    fn the_fleet_layout_loader_never_panics_and_always_says_where(
        text in text_like(vec![
            crate::config::reference::FLEET_EXAMPLE.to_string(),
            include_str!("../examples/fleet.yaml").to_string(),
        ])
    ) {
        if let Err(e) = crate::config::fleet::Layout::parse("fleet.yaml", &text) {
            let e = e.to_string();
            for line in e.lines() {
                prop_assert!(has_position(line), "no FILE:LINE:COLUMN in {:?}", line);
            }
        }
    }

    #[test]
    fn accepted_exports_round_trip_exactly(
        rel in prop::collection::vec("[^/\\\\\\x00-\\x1f\\x7f]{1,12}", 1..4),
        clients in prop::collection::vec(client(), 1..6),
        options in prop::collection::vec(export_option(), 0..5),
        fsid in 1u32..u32::MAX,
    ) {
        let cfg = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
        let rel: PathBuf = rel.iter().collect();
        let spec = projects::ProjectFile {
            name: "tools".into(),
            gid: 5,
            volume: "tools".into(),
            path: Some(rel.clone()),
            options: options.clone(),
            fsid: Some(fsid),
            clients: clients.clone(),
            clients_command: None,
        };
        // Only what validation accepts needs to round-trip.
        prop_assume!(spec.validate(&cfg, Some("tools")).is_empty());
        let p = spec.project(&cfg, PathBuf::from("/p/tools.yaml"));
        let text = projects::render_project(&p, &p.clients);
        let back = exportfs::parse_exports("rendered", &text).unwrap();
        prop_assert_eq!(back.len(), p.clients.len(), "{}", text);
        for (e, c) in back.iter().zip(&p.clients) {
            prop_assert_eq!(&e.path, &p.export_path, "{}", text);
            prop_assert_eq!(&e.client, c);
            prop_assert_eq!(&e.options, &p.options);
        }
        // And through the project file exactly as enable-project writes it.
        let again = projects::parse_file(&cfg, Path::new("/p/tools.yaml"), &spec.to_yaml()).unwrap();
        prop_assert_eq!(again.export_path, p.export_path);
    }

    #[test]
    fn durations_never_panic(s in text_like(vec!["500000000000y".into(), "30s".into(), "18446744073709551615s".into()])) {
        if let Ok(d) = config::parse_duration(&s) {
            prop_assert!(d <= config::MAX_DURATION);
            prop_assert!(std::time::Instant::now().checked_add(d).is_some());
            prop_assert!(std::time::SystemTime::now().checked_add(d).is_some());
        }
        let _ = config::parse_interval(&s);
    }
}

fn has_position(line: &str) -> bool {
    // FILE:LINE:COLUMN: …, where FILE is the name given to the loader.
    let rest = line.split_once(".yaml:").map(|(_, r)| r).unwrap_or("");
    let mut parts = rest.splitn(3, ':');
    let (l, c) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    !l.is_empty()
        && l.bytes().all(|b| b.is_ascii_digit())
        && !c.is_empty()
        && c.bytes().all(|b| b.is_ascii_digit())
}

fn client() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
        (any::<std::net::Ipv4Addr>(), 16u8..=32).prop_map(|(a, p)| format!("{a}/{p}")),
        any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
        (any::<std::net::Ipv6Addr>(), 48u8..=128).prop_map(|(a, p)| format!("{a}/{p}")),
    ]
}

fn export_option() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(exportfs::FLAG_OPTIONS).prop_map(String::from),
        (0u32..70000).prop_map(|n| format!("anonuid={n}")),
        prop::collection::vec(prop::sample::select(exportfs::SEC_FLAVORS), 1..4)
            .prop_map(|f| format!("sec={}", f.join(":"))),
        "/[a-z]{1,8}@[a-z]{1,8}(\\+[a-z]{1,8})?".prop_map(|l| format!("refer={l}")),
    ]
}

fn dump_resource() -> impl Strategy<Value = drbd::DumpResource> {
    (
        "[a-z][a-z0-9_]{0,10}",
        prop::collection::vec(0u32..200, 1..3),
        prop::collection::vec("[a-z][a-z0-9-]{0,10}", 2..3),
        any::<bool>(),
        0u32..500,
    )
        .prop_map(|(name, minors, hosts, two, line)| {
            let mut devices: Vec<String> = Vec::new();
            for m in minors {
                let d = format!("/dev/drbd{m}");
                if !devices.contains(&d) {
                    devices.push(d);
                }
            }
            let mut hs: Vec<String> = Vec::new();
            for h in hosts {
                if !hs.contains(&h) {
                    hs.push(h);
                }
            }
            // render_dump gives every volume a disk; a host's is the first volume's.
            let disks = hs
                .iter()
                .map(|h| drbd::HostDisk {
                    host: h.clone(),
                    disk: (!devices.is_empty()).then(|| format!("/dev/vg/{name}0")),
                    meta_disk: (!devices.is_empty()).then(|| "internal".to_string()),
                })
                .collect();
            drbd::DumpResource {
                defined_at: Some(format!("/etc/drbd.d/{name}.res:{line}")),
                name,
                devices,
                hosts: hs,
                disks,
                floating: false,
                allow_two_primaries: two,
            }
        })
        .prop_filter("distinct", |_| true)
}

/// `drbdadm dump`'s layout (see tests/fixtures/drbd/drbdadm-dump.txt).
fn render_dump(rs: &[drbd::DumpResource]) -> String {
    let mut s =
        String::from("# /etc/drbd.conf\nglobal {\n    usage-count no;\n}\n\ncommon {\n}\n\n");
    for r in rs {
        s.push_str(&format!(
            "# resource {} on vm: ignored, not stacked\n# defined at {}\nresource {} {{\n",
            r.name,
            r.defined_at.as_deref().unwrap_or(""),
            r.name
        ));
        for (i, d) in r.devices.iter().enumerate() {
            let minor = d.trim_start_matches("/dev/drbd");
            s.push_str(&format!(
                "    volume {i} {{\n        device           {d} minor {minor};\n        disk             /dev/vg/{}{i};\n        meta-disk        internal;\n    }}\n",
                r.name
            ));
        }
        for (i, h) in r.hosts.iter().enumerate() {
            s.push_str(&format!(
                "    on {h} {{\n        node-id {i};\n        address          ipv4 10.0.0.{}:7789;\n    }}\n",
                i + 1
            ));
        }
        if r.allow_two_primaries {
            s.push_str("    net {\n        allow-two-primaries yes;\n    }\n");
        }
        s.push_str("}\n\n");
    }
    s
}

const GOOD: &str = "\
cluster: labstore-primary
nodes:
  labstore1004: { address: 10.64.37.6 }
  labstore1005: { address: 10.64.37.7 }
service_ip:
  address: 10.64.37.18/24
  interface: eth0
  announce_to: 10.64.37.1
volumes:
  - name: tools
    drbd: tools
    device: /dev/drbd4
    mountpoint: /srv/tools
    fstype: ext4
    mount_options: [noatime]
services: [nginx]
timeouts: { probe: 30s, step: 5m }
exports: { max_shrink_percent: 20, clients_timeout: 30s }
";

const PROJECT: &str = "name: tools\ngid: 50380\nvolume: tools\npath: shared/tools\noptions: [rw, sync, no_subtree_check, root_squash]\nclients: [192.0.2.0/24]\n";

// ---- cases the properties found, kept as plain tests ------------------------------------

/// A no-break space is not a blank to exportfs: it stays in the path, and so it must for us.
#[test]
fn a_no_break_space_in_a_path_is_part_of_it() {
    let cfg = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
    let p = projects::parse_file(
        &cfg,
        Path::new("/p/tools.yaml"),
        "name: tools\ngid: 5\nvolume: tools\npath: \"a\u{a0}/]\"\nclients: [0.0.0.0]\n",
    )
    .unwrap();
    let back = exportfs::parse_exports("x", &projects::render_project(&p, &p.clients)).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].path, Path::new("/srv/tools/a\u{a0}/]"));
}

/// A key with line breaks in it: still one error line, with its position.
#[test]
fn an_error_about_a_key_with_line_breaks_is_one_line() {
    for text in ["{a\n\n0", "cluster: x\n\"a\\nb\": 1\n"] {
        let e = Config::parse(Path::new("c.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(e.lines().all(has_position), "{e}");
    }
    let cfg = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
    let e = projects::parse_file(&cfg, Path::new("/p/tools.yaml"), "{A\n\na")
        .unwrap_err()
        .to_string();
    assert!(e.lines().all(has_position), "{e}");
}

/// Two resources of one name each keep their own `# defined at`.
#[test]
fn each_resource_keeps_its_own_definition_place() {
    let text = "# defined at /a.res:1\nresource b {\n}\n# defined at /b.res:7\nresource b {\n}\n";
    let r = drbd::parse_dump(text).unwrap();
    assert_eq!(r[0].defined_at.as_deref(), Some("/a.res:1"));
    assert_eq!(r[1].defined_at.as_deref(), Some("/b.res:7"));
}
