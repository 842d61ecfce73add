//! bdsync stand-in (bdsync is not packaged in Debian 12). It plays the three roles of
//! rolffokkens/bdsync (README.md "SYNOPSIS", "OPTIONS", "EXIT STATUS"; bdsync.c main(),
//! do_client(), do_server(), do_patch(), do_command()):
//!
//! * client `bdsync [--blocksize=N] [--remdata] REMSHCMD LOCDEV REMDEV`: splits REMSHCMD at
//!   spaces with '…'/"…" grouping like do_command() (no shell) and execvp()s it; talks to the
//!   server over its stdin/stdout; writes the patch to stdout; does not wait for the server
//!   (like the real client, which only relies on the protocol's "done" exchange).
//! * server `bdsync --server`: reads requests on stdin, answers on stdout; no stderr (the
//!   real one logs to syslog).
//! * patch `bdsync --patch[=DSTDEV]`: reads a patch on stdin and writes it into DSTDEV.
//!
//! The patch (what nfs-manage pipes from client to patch) is bdsync's real archive format
//! (do_client()/do_patch()): the line "BDSYNC 0.3\n", the device size (8 bytes, little
//! endian off_t), the device name length (2 bytes) and name, then records of position
//! (8 bytes), length (2 bytes, at most 32768) and data, ended by a record of 0/0, then a
//! checksum-name length byte (0: no checksum).
//!
//! The client-server protocol uses bdsync's framing (4-byte little-endian length including
//! a 1-byte message token, then the payload; tokens numbered as bdsync's `enum messages`),
//! but the payloads are the stand-in's own (sha256 per block instead of salted md5, no
//! hash-request pipelining): only the stand-in's client and server speak it, and nfs-manage
//! never sees it.
//!
//! Exit codes are README's EXIT STATUS: 1 bad parameters, 2 invalid patch format, 3 size
//! mismatch, 4 protocol error, 6 read error, 9 write error, 11 transmission error. Messages
//! that bdsync.c prints (e.g. "Different sizes local=%lld remote=%lld") are copied; others are
//! the stand-in's own.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::call::Call;

const ARCHVER: &str = "BDSYNC 0.3";
const HELLO: u8 = 1;
const DEVFILE: u8 = 2;
const SIZE: u8 = 3;
const GETHASHES: u8 = 5;
const HASHES: u8 = 6;
const DONE: u8 = 7;
const GETBLOCK: u8 = 8;
const BLOCK: u8 = 9;
const BATCH: u64 = 256;

struct Opts {
    server: bool,
    patch: Option<Option<String>>,
    blocksize: u64,
    remdata: bool,
    rest: Vec<String>,
}

fn die(msg: &str, code: i32) -> ! {
    if !msg.is_empty() {
        eprintln!("{msg}");
    }
    std::process::exit(code)
}

fn parse(args: &[String]) -> Opts {
    let mut o = Opts {
        server: false,
        patch: None,
        blocksize: 4096,
        remdata: false,
        rest: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--server" | "-s" => o.server = true,
            "--patch" | "-p" => o.patch = Some(None),
            "--remdata" | "-r" => o.remdata = true,
            "--verbose" | "-v" => {}
            "--blocksize" | "-b" => {
                let v = it.next().map(String::as_str).unwrap_or("");
                o.blocksize = v
                    .parse()
                    .unwrap_or_else(|_| die(&format!("bad number {v}"), 1));
            }
            s if s.starts_with("--patch=") => o.patch = Some(Some(s[8..].to_string())),
            s if s.starts_with("--blocksize=") => {
                o.blocksize = s[12..]
                    .parse()
                    .unwrap_or_else(|_| die(&format!("bad number {}", &s[12..]), 1));
            }
            s if s.starts_with('-') && s.len() > 1 => die("", 1),
            s => o.rest.push(s.to_string()),
        }
    }
    if o.server && o.patch.is_some() {
        die("Contradictive options --server and --patch", 1);
    }
    o
}

pub fn main(call: &Call) -> i32 {
    let o = parse(&call.args);
    if o.server {
        if !o.rest.is_empty() {
            std::process::exit(1);
        }
        server()
    } else if let Some(dev) = o.patch {
        if !o.rest.is_empty() {
            die(&format!("Bad number of arguments {}", o.rest.len()), 1);
        }
        patch(dev)
    } else {
        if o.rest.len() != 3 {
            die(&format!("Bad number of arguments {}", o.rest.len()), 1);
        }
        client(&o.rest[0], &o.rest[1], &o.rest[2], o.blocksize, o.remdata)
    }
}

// ---- framing ---------------------------------------------------------------------------

fn send(w: &mut impl Write, token: u8, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(&((payload.len() + 1) as u32).to_le_bytes())?;
    w.write_all(&[token])?;
    w.write_all(payload)?;
    w.flush()
}

fn recv(r: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > 1 << 20 {
        return Err(std::io::Error::other("bad message size"));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    let token = buf.remove(0);
    Ok((token, buf))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// vpread(): past the end reads as zeroes.
fn read_block(f: &File, pos: u64, len: u64, size: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    let avail = size.saturating_sub(pos).min(len) as usize;
    if avail > 0 {
        f.read_exact_at(&mut buf[..avail], pos)?;
    }
    Ok(buf)
}

fn dev_size(f: &mut File) -> std::io::Result<u64> {
    f.seek(SeekFrom::End(0))
}

// ---- server ------------------------------------------------------------------------------

fn server() -> i32 {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let (mut r, mut w) = (stdin.lock(), stdout.lock());
    let Ok((HELLO, _)) = recv(&mut r) else {
        return 4;
    };
    if send(&mut w, HELLO, b"SERVER 0.5").is_err() {
        return 11;
    }
    let Ok((DEVFILE, path)) = recv(&mut r) else {
        return 4;
    };
    let path = String::from_utf8_lossy(&path).into_owned();
    let Ok(mut f) = File::open(&path) else {
        return 6;
    };
    let Ok(size) = dev_size(&mut f) else {
        return 6;
    };
    if send(&mut w, SIZE, &size.to_le_bytes()).is_err() {
        return 11;
    }
    loop {
        let Ok((token, msg)) = recv(&mut r) else {
            return 11;
        };
        let sent = match token {
            GETHASHES if msg.len() == 24 => {
                let (start, step, n) = (u64_at(&msg, 0), u64_at(&msg, 8), u64_at(&msg, 16));
                let mut out = Vec::with_capacity(n as usize * 32);
                for k in 0..n {
                    let Ok(b) = read_block(&f, start + k * step, step, size) else {
                        return 6;
                    };
                    out.extend_from_slice(&Sha256::digest(&b));
                }
                send(&mut w, HASHES, &out)
            }
            GETBLOCK if msg.len() == 16 => {
                let (pos, len) = (u64_at(&msg, 0), u64_at(&msg, 8));
                let Ok(b) = read_block(&f, pos, len, size) else {
                    return 6;
                };
                let mut out = pos.to_le_bytes().to_vec();
                out.extend_from_slice(&b);
                send(&mut w, BLOCK, &out)
            }
            DONE => {
                let _ = send(&mut w, DONE, b"");
                return 0;
            }
            _ => return 4,
        };
        if sent.is_err() {
            return 11;
        }
    }
}

// ---- client ------------------------------------------------------------------------------

/// do_command(): split at spaces; '…' and "…" group, a doubled quote inside stands for
/// itself.
fn split_command(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut have = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, ' ') => {
                if have {
                    args.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                have = true;
            }
            (Some(q), c) if c == q => {
                if chars.peek() == Some(&q) {
                    chars.next();
                    cur.push(q);
                } else {
                    quote = None;
                }
            }
            (_, c) => {
                cur.push(c);
                have = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("Missing trailing-{q} in remote-shell command."));
    }
    if have {
        args.push(cur);
    }
    Ok(args)
}

fn client(remsh: &str, ldev: &str, rdev: &str, blocksize: u64, remdata: bool) -> i32 {
    if blocksize == 0 || blocksize > 32768 * 32 {
        die(&format!("bad blocksize {blocksize}"), 1);
    }
    let mut lf = match File::open(ldev) {
        Ok(f) => f,
        Err(e) => die(&format!("opendev [{ldev}]: {e}"), 6),
    };
    let lsize = dev_size(&mut lf).unwrap_or_else(|e| die(&format!("{ldev}: {e}"), 6));
    let argv = split_command(remsh).unwrap_or_else(|m| die(&m, 1));
    if argv.is_empty() {
        die("empty remote-shell command", 1);
    }
    let mut child = match Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => die(&format!("piped_child: execvp: {e}"), 8),
    };
    let mut to = child.stdin.take().expect("piped");
    let mut from = BufReader::new(child.stdout.take().expect("piped"));
    let lost = |what: &str| -> ! { die(&format!("bdsync: lost the server ({what})"), 11) };
    if send(&mut to, HELLO, b"CLIENT 0.5").is_err() {
        lost("hello");
    }
    match recv(&mut from) {
        Ok((HELLO, _)) => {}
        Ok(_) => die("bdsync: protocol error (hello)", 4),
        Err(_) => lost("hello"),
    }
    if send(&mut to, DEVFILE, rdev.as_bytes()).is_err() {
        lost("devfile");
    }
    let rsize = match recv(&mut from) {
        Ok((SIZE, m)) if m.len() == 8 => u64_at(&m, 0),
        Ok(_) => die("bdsync: protocol error (size)", 4),
        Err(_) => lost("size"),
    };
    if rsize != lsize {
        die(&format!("Different sizes local={lsize} remote={rsize}"), 3);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let tdev = if remdata { ldev } else { rdev };
    let mut header = format!("{ARCHVER}\n").into_bytes();
    header.extend_from_slice(&(if remdata { rsize } else { lsize } as i64).to_le_bytes());
    header.extend_from_slice(&(tdev.len() as u16).to_le_bytes());
    header.extend_from_slice(tdev.as_bytes());
    let write_err = |e: std::io::Error| -> ! { die(&format!("bdsync: write: {e}"), 9) };
    out.write_all(&header).unwrap_or_else(|e| write_err(e));
    let blocks = lsize.div_ceil(blocksize);
    let mut start = 0u64;
    while start < blocks {
        let n = BATCH.min(blocks - start);
        let mut req = (start * blocksize).to_le_bytes().to_vec();
        req.extend_from_slice(&blocksize.to_le_bytes());
        req.extend_from_slice(&n.to_le_bytes());
        if send(&mut to, GETHASHES, &req).is_err() {
            lost("gethashes");
        }
        let theirs = match recv(&mut from) {
            Ok((HASHES, m)) if m.len() == n as usize * 32 => m,
            Ok(_) => die("bdsync: protocol error (hashes)", 4),
            Err(_) => lost("hashes"),
        };
        for k in 0..n {
            let pos = (start + k) * blocksize;
            let mine = read_block(&lf, pos, blocksize, lsize)
                .unwrap_or_else(|e| die(&format!("vpread: {e}"), 6));
            if Sha256::digest(&mine)[..] == theirs[k as usize * 32..(k as usize + 1) * 32] {
                continue;
            }
            let len = blocksize.min(lsize - pos);
            let data = if remdata {
                let mut req = pos.to_le_bytes().to_vec();
                req.extend_from_slice(&len.to_le_bytes());
                if send(&mut to, GETBLOCK, &req).is_err() {
                    lost("getblock");
                }
                match recv(&mut from) {
                    Ok((BLOCK, m)) if m.len() == 8 + len as usize => m[8..].to_vec(),
                    Ok(_) => die("bdsync: protocol error (block)", 4),
                    Err(_) => lost("block"),
                }
            } else {
                mine[..len as usize].to_vec()
            };
            for (c, chunk) in data.chunks(32768).enumerate() {
                let p = pos + c as u64 * 32768;
                out.write_all(&(p as i64).to_le_bytes())
                    .unwrap_or_else(|e| write_err(e));
                out.write_all(&(chunk.len() as u16).to_le_bytes())
                    .unwrap_or_else(|e| write_err(e));
                out.write_all(chunk).unwrap_or_else(|e| write_err(e));
            }
        }
        start += n;
    }
    out.write_all(&0i64.to_le_bytes())
        .unwrap_or_else(|e| write_err(e));
    out.write_all(&0u16.to_le_bytes())
        .unwrap_or_else(|e| write_err(e));
    out.write_all(&[0u8]).unwrap_or_else(|e| write_err(e));
    out.flush().unwrap_or_else(|e| write_err(e));
    if send(&mut to, DONE, b"").is_err() {
        lost("done");
    }
    match recv(&mut from) {
        Ok((DONE, _)) => 0,
        Ok(_) => die("bdsync: protocol error (done)", 4),
        Err(_) => lost("done"),
    }
}

// ---- patch ---------------------------------------------------------------------------------

fn patch(dev: Option<String>) -> i32 {
    let stdin = std::io::stdin();
    let mut r = BufReader::with_capacity(1 << 16, stdin.lock());
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => die("do_patch: EOF(stdin)", 1),
        Ok(_) => {}
    }
    if !line.ends_with('\n') || !line.starts_with("BDSYNC ") {
        die("ERROR: Bad header", 2);
    }
    if line.trim_end() != ARCHVER {
        die("ERROR: Bad archive version", 2);
    }
    let mut b8 = [0u8; 8];
    let mut b2 = [0u8; 2];
    if r.read_exact(&mut b8).is_err() || r.read_exact(&mut b2).is_err() {
        die("ERROR: Bad data (1)", 2);
    }
    let ndevsize = i64::from_le_bytes(b8) as u64;
    let devlen = u16::from_le_bytes(b2) as usize;
    if devlen > 16384 {
        die("ERROR: Bad data (1)", 2);
    }
    let mut name = vec![0u8; devlen];
    if r.read_exact(&mut name).is_err() {
        die("ERROR: Bad data (2)", 2);
    }
    let dev = dev.unwrap_or_else(|| String::from_utf8_lossy(&name).into_owned());
    let mut f = match OpenOptions::new().read(true).write(true).open(&dev) {
        Ok(f) => f,
        Err(e) => die(&format!("opendev [{dev}]: {e}"), 12),
    };
    let devsize = dev_size(&mut f).unwrap_or_else(|e| die(&format!("{dev}: {e}"), 12));
    if devsize != ndevsize {
        die(
            &format!("Different sizes current={devsize} patch={ndevsize}"),
            3,
        );
    }
    let mut buf = vec![0u8; 32768];
    loop {
        if r.read_exact(&mut b8).is_err() || r.read_exact(&mut b2).is_err() {
            die("Bad data (3)", 2);
        }
        let pos = i64::from_le_bytes(b8) as u64;
        let blen = u16::from_le_bytes(b2) as usize;
        if pos + blen as u64 > ndevsize {
            die("Bad data (3)", 2);
        }
        if pos == 0 && blen == 0 {
            break;
        }
        if r.read_exact(&mut buf[..blen]).is_err() {
            die("Bad data", 2);
        }
        if let Err(e) = f.write_all_at(&buf[..blen], pos) {
            die(&format!("Write error: pos={pos} len={blen} ({e})"), 9);
        }
    }
    let mut c = [0u8; 1];
    if r.read_exact(&mut c).is_err() || c[0] > 127 {
        die("Bad data", 2);
    }
    if f.sync_all().is_err() {
        die("Write error: sync", 9);
    }
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_like_do_command() {
        assert_eq!(
            super::split_command("a 'b c' \"it''s\" 'x''y'").unwrap(),
            ["a", "b c", "it''s", "x'y"]
        );
    }
}
