//! The storage nodes' BMCs, as real servers have them: one OpenIPMI `ipmi_sim` per node on
//! the host's side of the bridge, at an address of its own on the guests' segment (IPMI over
//! LAN, UDP 623, RMCP+ "lanplus" with a user and a password), wired to its node's qemu through
//! qemu's `ipmi-bmc-extern` device behind a KCS system interface. The peer's
//! `ipmitool -I lanplus -H BMC -U fence -f FILE chassis power off` — the shipped example's
//! fence_command — then has ipmi_sim tell that qemu to power the machine off: qemu stops the
//! guest at once, whatever the guest is doing, and exits. `chassis power status` reads "on"
//! while that qemu is connected to its BMC.
//!
//! Power on stays with the bed (`Bed::power_on`): ipmi_sim can only power on a machine it
//! starts itself (its `startcmd`), and the bed owns its guests' qemu processes.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bed::{NODES, PREFIX, logs_dir};

/// The BMC user the fence logs in as (admin: `ipmitool` asks for ADMINISTRATOR by default, as
/// in the shipped example's fence_command).
pub const USER: &str = "fence";

/// The RMCP+ cipher suite the fence asks for (`ipmitool -C`): 3 (RAKP-HMAC-SHA1,
/// HMAC-SHA1-96, AES-CBC-128) is the best ipmi_sim 2.0.33 offers (17, SHA-256, is refused:
/// "invalid authentication algorithm"). Without `-C`, ipmitool 1.8.19 first asks the BMC
/// which suites it has ("Get Channel Cipher Suites"), which ipmi_sim leaves unanswered: four
/// retries, 10 s, then suite 3 anyway ("Unable to Get Channel Cipher Suites"). Real BMCs
/// answer that query.
pub const CIPHER_SUITE: &str = "3";

/// A storage node's BMC address: TEST-NET like the rest, 200 above the node's own.
pub fn address(node: &str) -> String {
    format!("{PREFIX}.{}", 200 + u16::from(host(node)))
}

/// Where ipmi_sim listens for its qemu (inside the bed's network namespace, loopback only).
fn serial_port(node: &str) -> u16 {
    9000 + u16::from(host(node))
}

fn host(node: &str) -> u8 {
    NODES
        .iter()
        .find(|n| n.name == node)
        .expect("known node")
        .host
}

/// qemu options that give a guest its BMC: qemu connects to ipmi_sim (and reconnects every
/// second if ipmi_sim is not there yet or restarts); the guest sees a KCS interface.
pub fn qemu_opts(node: &str) -> String {
    format!(
        "-chardev socket,id=bmc-link,host=127.0.0.1,port={},reconnect=1 \
         -device ipmi-bmc-extern,chardev=bmc-link,id=bmc0 \
         -device isa-ipmi-kcs,bmc=bmc0",
        serial_port(node)
    )
}

/// Both tools there: ipmi_sim for the BMCs, ipmitool for the fence (in the guests, which
/// share this root) and for the bed's own checks.
pub fn missing() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if which::which("ipmi_sim").is_err() {
        missing.push("ipmi_sim (Debian package openipmi)");
    }
    if which::which("ipmitool").is_err() {
        missing.push("ipmitool (Debian package ipmitool)");
    }
    missing
}

/// A fresh password for this run's BMCs, in a file only root reads (`ipmitool -f`).
pub fn write_password(path: &Path) -> Result<()> {
    let mut raw = [0u8; 8];
    fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    let password: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    fs::write(path, format!("{password}\n"))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

pub struct Bmc {
    pub node: &'static str,
    pub address: String,
    netns: String,
    password_file: PathBuf,
    child: Option<Child>,
    pgid_file: PathBuf,
}

impl Bmc {
    /// Configure and start `node`'s BMC in `netns` under `dir` (config, state, pgid); return
    /// once it answers over lanplus.
    pub fn start(netns: &str, node: &'static str, dir: &Path, password_file: &Path) -> Result<Bmc> {
        let address = address(node);
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir.join("state"))?;
        let password = fs::read_to_string(password_file)?.trim().to_string();
        // RMCP+ (lanplus) is what the fence uses; IPMI 1.5 sessions get MD5 at least.
        fs::write(
            dir.join("lan.conf"),
            format!(
                "name \"{node}\"
set_working_mc 0x20
  startlan 1
    addr {address} 623
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid {:032x}
  endlan
  serial 15 127.0.0.1 {} codec VM
  user 2 true \"{USER}\" \"{password}\" admin 4 md5
",
                0x6e66_736d_0000_0000_0000_0000_0000_0000_u128 | u128::from(host(node)),
                serial_port(node)
            ),
        )?;
        fs::write(
            dir.join("bmc.emu"),
            "mc_setbmc 0x20\n\
             mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n\
             mc_enable 0x20\n",
        )?;
        // The BMC's own NIC on the segment.
        let out = Command::new("ip")
            .args(["netns", "exec", netns, "ip", "addr", "replace"])
            .arg(format!("{address}/32"))
            .args(["dev", "br0"])
            .output()?;
        if !out.status.success() {
            bail!(
                "{node}'s BMC address {address} on br0: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(logs_dir().join(format!("{node}.bmc.log")))?;
        // -n: no console on stdin/stdout (it would read the commands of bmc.emu from there).
        let child = Command::new("ip")
            .args(["netns", "exec", netns, "ipmi_sim", "-n", "-c"])
            .arg(dir.join("lan.conf"))
            .arg("-f")
            .arg(dir.join("bmc.emu"))
            .arg("-s")
            .arg(dir.join("state"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting ipmi_sim")?;
        let pgid_file = dir.join("pgid");
        fs::write(&pgid_file, child.id().to_string())?;
        let mut bmc = Bmc {
            node,
            address,
            netns: netns.to_string(),
            password_file: password_file.to_path_buf(),
            child: Some(child),
            pgid_file,
        };
        let started = Instant::now();
        loop {
            match bmc.ipmitool(&["mc", "info"]) {
                Ok(_) => return Ok(bmc),
                Err(e) if started.elapsed() > Duration::from_secs(60) => {
                    bmc.stop();
                    bail!(
                        "{node}'s BMC (ipmi_sim at {}) does not answer: {e:#}; log {}",
                        bmc.address,
                        logs_dir().join(format!("{node}.bmc.log")).display()
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn pgid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// `ipmitool -I lanplus` against this BMC from the host's side of the bridge, with the
    /// fence's user and password file; stdout, or the error with stderr.
    pub fn ipmitool(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.netns, "timeout", "30", "ipmitool"])
            .args(["-I", "lanplus", "-C", CIPHER_SUITE, "-H", &self.address])
            .args(["-U", USER, "-f"])
            .arg(&self.password_file)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!(
                "ipmitool {args:?} at {}'s BMC {}: {} {}",
                self.node,
                self.address,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// What the BMC says of the machine's power: true for on.
    pub fn power_is_on(&self) -> Result<bool> {
        let out = self.ipmitool(&["chassis", "power", "status"])?;
        match out.trim() {
            "Chassis Power is on" => Ok(true),
            "Chassis Power is off" => Ok(false),
            other => bail!("{}'s BMC: unexpected power status {other:?}", self.node),
        }
    }

    /// Wait until the BMC reports the machine on (its qemu connected); a fence can only work
    /// once it does.
    pub fn wait_on(&self, within: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            let state = self.power_is_on();
            if matches!(state, Ok(true)) {
                return Ok(());
            }
            if started.elapsed() > within {
                bail!(
                    "{}'s BMC does not see its qemu after {within:?} (power status: {state:?}); log {}",
                    self.node,
                    logs_dir().join(format!("{}.bmc.log", self.node)).display()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            crate::bed::kill_group(c.id() as i32);
            let _ = c.wait();
        }
        let _ = fs::remove_file(&self.pgid_file);
    }
}

impl Drop for Bmc {
    fn drop(&mut self) {
        self.stop();
    }
}
