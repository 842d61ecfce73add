//! `lvs`, `lvcreate --snapshot`, `lvremove` without device-mapper (missing on the test
//! machine). Every LV is a loop device over its own image file, and a snapshot is a copy of
//! its origin's image on a new loop device, so mounts, reads and writes stay real. The LV
//! appears as /dev/VG/LV, a symlink to its loop device, in the test's private /dev (the real
//! devtmpfs is bound at /dev/.real there, see the harness). State: `lvm.json`.
//!
//! Output is byte-exact to lvm2 2.03.16 (Debian 12):
//! * `lvs --reportformat json` envelope (empty report, indentation, closing lines): captured
//!   from the real `lvs` on the test machine (no VG: the `"lv": [` … `]` block is empty).
//! * The row layout `{"lv_name":"x", "vg_name":"y", …}` (one row per line, `", "` between
//!   fields, rows joined by ",\n", 18 spaces of indent): Red Hat Enterprise Linux 9,
//!   "Configuring and managing logical volumes", "Displaying LVM command output in JSON
//!   format" (lvs --reportformat json sample).
//! * Messages and exit code 5 (ECMD_FAILED): `Failed to find logical volume "vg/lv"` and
//!   `Volume group "x" not found` + `Cannot process volume group x` (real lvs/lvremove on the
//!   test machine); `Logical volume "x" created.` / `Logical volume "x" successfully
//!   removed.` and `Logical volume vg/lv contains a filesystem in use.` (lvm2
//!   lib/activate/activate.c _lv_is_active/_lv_open_count checks, quoted in public reports
//!   such as the walb tutorial and ansible issue output with rc 5).
//! * lv_attr: `-wi-a-----` plain, `owi-a-s---` origin, `swi-a-s---` snapshot, 6th char `o`
//!   when open (lvs(8) "lv_attr bits").
//! * Sizes are rounded up to the 4 MiB extent ("Rounding up size to full physical extent").

use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::call::{Call, Out};
use crate::mounts::is_mounted;
use crate::state::{load, save};

const EXTENT: u64 = 4 << 20;

#[derive(Serialize, Deserialize, Default)]
pub struct LvmState {
    #[serde(default)]
    pub lvs: Vec<Lv>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Lv {
    pub vg: String,
    pub name: String,
    pub image: PathBuf,
    pub loopdev: String,
    #[serde(default)]
    pub origin: Option<String>,
    /// COW size of a snapshot (its lv_size); None for a plain LV (its image size).
    #[serde(default)]
    pub cow_size: Option<u64>,
}

fn image_size(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn dev_dir() -> &'static str {
    if Path::new("/dev/.real").is_dir() {
        "/dev/.real"
    } else {
        "/dev"
    }
}

/// A free loop device (LOOP_CTL_GET_FREE on loop-control: it works without a /dev/loopN
/// node in a private /dev), attached to `image`; retried when another test takes it first.
pub fn attach(image: &Path) -> Result<String> {
    const LOOP_CTL_GET_FREE: u64 = 0x4C82;
    let dir = dev_dir();
    let mut last = String::new();
    for _ in 0..30 {
        let ctl = fs::File::open(format!("{dir}/loop-control"))
            .with_context(|| format!("opening {dir}/loop-control"))?;
        // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a number.
        let n = unsafe { nix::libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE as _) };
        if n < 0 {
            bail!("LOOP_CTL_GET_FREE: {}", std::io::Error::last_os_error());
        }
        let dev = format!("{dir}/loop{n}");
        for _ in 0..50 {
            if Path::new(&dev).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let out = Command::new("losetup").arg(&dev).arg(image).output()?;
        if out.status.success() {
            return Ok(dev);
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bail!("could not attach {}: {last}", image.display())
}

fn link(lv: &Lv) -> Result<()> {
    let dir = Path::new("/dev").join(&lv.vg);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let l = dir.join(&lv.name);
    let _ = fs::remove_file(&l);
    std::os::unix::fs::symlink(&lv.loopdev, &l).with_context(|| format!("linking {}", l.display()))
}

fn state_path(call: &Call) -> PathBuf {
    call.dir.join("lvm.json")
}

/// For the harness: register an existing image as VG/LV (attached and linked here).
pub fn seed(call: &Call) -> Result<Out> {
    // argv: lvm-seed VG LV IMAGE
    let [vg, name, image] = call.args.as_slice() else {
        return Ok(call.unsupported());
    };
    let path = state_path(call);
    let mut st: LvmState = load(&path)?;
    let lv = Lv {
        vg: vg.clone(),
        name: name.clone(),
        image: PathBuf::from(image),
        loopdev: attach(Path::new(image))?,
        origin: None,
        cow_size: None,
    };
    link(&lv)?;
    let out = Out {
        stdout: format!("{}\n", lv.loopdev),
        ..Default::default()
    };
    st.lvs.push(lv);
    save(&path, &st)?;
    Ok(out)
}

fn lv_size(st: &LvmState, lv: &Lv) -> u64 {
    let _ = st;
    lv.cow_size.unwrap_or_else(|| image_size(&lv.image))
}

fn attr(st: &LvmState, lv: &Lv) -> String {
    let kind = if lv.origin.is_some() {
        's'
    } else if st
        .lvs
        .iter()
        .any(|o| o.vg == lv.vg && o.origin.as_deref() == Some(&lv.name))
    {
        'o'
    } else {
        '-'
    };
    let open = if is_mounted(&lv.loopdev) { 'o' } else { '-' };
    let target = if kind == '-' { '-' } else { 's' };
    format!("{kind}wi-a{open}{target}---")
}

/// COW space used: the 4 KiB chunks in which the snapshot's image differs from its origin's.
fn data_percent(st: &LvmState, lv: &Lv) -> Result<String> {
    let Some(origin) = st
        .lvs
        .iter()
        .find(|o| o.vg == lv.vg && Some(&o.name) == lv.origin.as_ref())
    else {
        return Ok(String::new());
    };
    let _ = Command::new("blockdev")
        .args(["--flushbufs", &origin.loopdev])
        .status();
    let _ = Command::new("blockdev")
        .args(["--flushbufs", &lv.loopdev])
        .status();
    let mut a = fs::File::open(&origin.image)?;
    let mut b = fs::File::open(&lv.image)?;
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut changed: u64 = 0;
    loop {
        let na = read_full(&mut a, &mut ba)?;
        let nb = read_full(&mut b, &mut bb)?;
        let n = na.max(nb);
        if n == 0 {
            break;
        }
        for c in (0..n).step_by(4096) {
            let e = (c + 4096).min(n);
            if ba.get(c..e) != bb.get(c..e) {
                changed += 4096;
            }
        }
    }
    let size = lv.cow_size.unwrap_or(1).max(1);
    Ok(format!(
        "{:.2}",
        (changed as f64 * 100.0 / size as f64).min(100.0)
    ))
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = f.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

pub fn lvs(call: &Call) -> Result<Out> {
    let st: LvmState = load(&state_path(call))?;
    let mut fields: Vec<String> = "lv_name,vg_name,lv_attr,lv_size,pool_lv,origin,data_percent,metadata_percent,move_pv,mirror_log,copy_percent,convert_lv"
        .split(',')
        .map(String::from)
        .collect();
    let mut bytes = false;
    let mut json = false;
    let mut selectors = Vec::new();
    let mut it = call.args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reportformat" => json = it.next().map(String::as_str) == Some("json"),
            "--units" => bytes = it.next().map(String::as_str) == Some("b"),
            "--nosuffix" => {}
            "-o" | "--options" => {
                fields = it
                    .next()
                    .map(|f| f.split(',').map(String::from).collect())
                    .unwrap_or_default()
            }
            s if s.starts_with('-') => return Ok(call.unsupported()),
            s => selectors.push(s.to_string()),
        }
    }
    if !json || !bytes {
        return Ok(call.unsupported());
    }
    let mut out = Out::default();
    let mut rows: Vec<&Lv> = Vec::new();
    for sel in &selectors {
        let (vg, lv) = match sel.split_once('/') {
            Some((v, l)) => (v, Some(l)),
            None => (sel.as_str(), None),
        };
        let in_vg: Vec<&Lv> = st.lvs.iter().filter(|l| l.vg == vg).collect();
        match lv {
            None if in_vg.is_empty() => {
                out = out
                    .err(&format!("  Volume group \"{vg}\" not found"), 5)
                    .err(&format!("  Cannot process volume group {vg}"), 5);
            }
            None => rows.extend(in_vg),
            Some(l) => match in_vg.iter().find(|x| x.name == l) {
                Some(x) => rows.push(x),
                None => out = out.err(&format!("  Failed to find logical volume \"{vg}/{l}\""), 5),
            },
        }
    }
    if selectors.is_empty() {
        rows = st.lvs.iter().collect();
    }
    // lvm sorts by VG, then LV name.
    rows.sort_by(|a, b| (&a.vg, &a.name).cmp(&(&b.vg, &b.name)));
    let mut lines = Vec::new();
    for lv in rows {
        let mut cells = Vec::new();
        for f in &fields {
            let v = match f.as_str() {
                "lv_name" => lv.name.clone(),
                "vg_name" => lv.vg.clone(),
                "lv_attr" => attr(&st, lv),
                "lv_size" => lv_size(&st, lv).to_string(),
                "origin" => lv.origin.clone().unwrap_or_default(),
                "data_percent" => data_percent(&st, lv)?,
                "lv_path" => format!("/dev/{}/{}", lv.vg, lv.name),
                "pool_lv" | "metadata_percent" | "move_pv" | "mirror_log" | "copy_percent"
                | "convert_lv" => String::new(),
                _ => return Ok(call.unsupported()),
            };
            cells.push(format!("\"{f}\":\"{v}\""));
        }
        lines.push(format!("                  {{{}}}", cells.join(", ")));
    }
    out.stdout
        .push_str("  {\n      \"report\": [\n          {\n              \"lv\": [\n");
    if !lines.is_empty() {
        out.stdout.push_str(&lines.join(",\n"));
        out.stdout.push('\n');
    }
    out.stdout
        .push_str("              ]\n          }\n      ]\n  }\n");
    Ok(out)
}

/// LVM size argument: number with an optional unit (default MiB), or N%ORIGIN of `origin`.
fn parse_size(s: &str, origin: u64, extents: bool) -> Option<u64> {
    if extents {
        let p: u64 = s.strip_suffix("%ORIGIN")?.parse().ok()?;
        return Some(origin * p / 100);
    }
    let (num, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_lowercase()),
        _ => (s, 'm'),
    };
    let v: f64 = num.parse().ok()?;
    let mult: u64 = match unit {
        'b' => 1,
        's' => 512,
        'k' => 1 << 10,
        'm' => 1 << 20,
        'g' => 1 << 30,
        't' => 1 << 40,
        _ => return None,
    };
    Some((v * mult as f64) as u64)
}

pub fn lvcreate(call: &Call) -> Result<Out> {
    let mut snapshot = false;
    let (mut name, mut size, mut extents, mut origin) = (None, None, false, None);
    let mut it = call.args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--snapshot" | "-s" => snapshot = true,
            "--name" | "-n" => name = it.next().cloned(),
            "--size" | "-L" => size = it.next().cloned(),
            "--extents" | "-l" => {
                size = it.next().cloned();
                extents = true;
            }
            s if s.starts_with('-') => return Ok(call.unsupported()),
            s => origin = Some(s.to_string()),
        }
    }
    let (Some(name), Some(size), Some(origin), true) = (name, size, origin, snapshot) else {
        return Ok(call.unsupported());
    };
    let Some((vg, oname)) = origin.split_once('/') else {
        return Ok(call.unsupported());
    };
    let path = state_path(call);
    let mut st: LvmState = load(&path)?;
    let Some(o) = st
        .lvs
        .iter()
        .find(|l| l.vg == vg && l.name == oname)
        .cloned()
    else {
        return Ok(Out::default().err(
            &format!("  Failed to find logical volume \"{vg}/{oname}\""),
            5,
        ));
    };
    if o.origin.is_some() {
        return Ok(Out::default().err("  Snapshots of snapshots are not supported.", 5));
    }
    if st.lvs.iter().any(|l| l.vg == vg && l.name == name) {
        return Ok(Out::default().err(
            &format!("  Logical Volume \"{name}\" already exists in volume group \"{vg}\""),
            5,
        ));
    }
    let Some(bytes) = parse_size(&size, image_size(&o.image), extents) else {
        return Ok(Out::default().err(&format!("  Invalid argument for --size: {size}"), 3));
    };
    let cow = bytes.div_ceil(EXTENT).max(1) * EXTENT;
    // The origin's loop device may hold written blocks not yet in its image file.
    let _ = Command::new("blockdev")
        .args(["--flushbufs", &o.loopdev])
        .status();
    let image = call.dir.join(format!("lvm-{vg}-{name}.img"));
    let cp = Command::new("cp")
        .arg("--sparse=always")
        .arg(&o.image)
        .arg(&image)
        .output()?;
    if !cp.status.success() {
        bail!("cp: {}", String::from_utf8_lossy(&cp.stderr));
    }
    let lv = Lv {
        vg: vg.to_string(),
        name: name.clone(),
        loopdev: attach(&image)?,
        image,
        origin: Some(oname.to_string()),
        cow_size: Some(cow),
    };
    link(&lv)?;
    st.lvs.push(lv);
    save(&path, &st)?;
    let out = Out {
        stdout: format!("  Logical volume \"{name}\" created.\n"),
        ..Default::default()
    };
    Ok(out)
}

pub fn lvremove(call: &Call) -> Result<Out> {
    let args: Vec<&str> = call
        .args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "-f" && *a != "--force" && *a != "-y" && *a != "--yes")
        .collect();
    let [target] = args.as_slice() else {
        return Ok(call.unsupported());
    };
    let Some((vg, name)) = target.split_once('/') else {
        return Ok(call.unsupported());
    };
    let path = state_path(call);
    let mut st: LvmState = load(&path)?;
    let Some(i) = st.lvs.iter().position(|l| l.vg == vg && l.name == name) else {
        return Ok(Out::default().err(
            &format!("  Failed to find logical volume \"{vg}/{name}\""),
            5,
        ));
    };
    let lv = st.lvs[i].clone();
    if lv.origin.is_none() {
        // We never remove an origin; refuse rather than pretend.
        return Ok(call.unsupported());
    }
    if is_mounted(&lv.loopdev) {
        return Ok(Out::default().err(
            &format!("  Logical volume {vg}/{name} contains a filesystem in use."),
            5,
        ));
    }
    let d = Command::new("losetup").args(["-d", &lv.loopdev]).output()?;
    if !d.status.success() {
        bail!(
            "losetup -d {}: {}",
            lv.loopdev,
            String::from_utf8_lossy(&d.stderr)
        );
    }
    let _ = fs::remove_file(Path::new("/dev").join(vg).join(name));
    let _ = fs::remove_file(&lv.image);
    st.lvs.remove(i);
    save(&path, &st)?;
    let out = Out {
        stdout: format!("  Logical volume \"{name}\" successfully removed.\n"),
        ..Default::default()
    };
    Ok(out)
}
