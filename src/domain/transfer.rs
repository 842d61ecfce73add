//! rsync transfers: complete when rsync's exit code is accepted and its closing `--stats`
//! block is complete. Its summary goes to the journal.

use anyhow::Result;

use crate::context::Ctx;
use crate::engine::check::{Check, Fields, Verdict};
use crate::process::Output;
use crate::tools::rsync;

/// A `sync:` entry's transfer. Its source is a live tree that clients write to, so a file
/// they change while rsync reads it (exit 23, `rsync::verify_live`) is theirs to change:
/// noted, and copied again by the next run.
pub struct RsyncComplete;

impl Check<Ctx> for RsyncComplete {
    fn check(&self, _ctx: &Ctx, out: &Output) -> Result<Verdict> {
        Ok(rsync::verify_live(out))
    }

    fn fields(&self, _ctx: &Ctx, out: &Output) -> Fields {
        let mut f = Fields::new();
        if let Ok(v) = serde_json::to_value(rsync::parse(&out.stdout)) {
            f.insert("rsync".into(), v);
        }
        f
    }

    fn note(&self, out: &Output) -> Option<String> {
        match out.rc {
            Some(24) => Some("some source files vanished while copying".into()),
            _ => changed_while_read_note(out, "the next run copies it again"),
        }
    }
}

/// For an rsync exit 23 that only files changing under the sender caused: "PATH [and N
/// more] changed while read: THEN".
pub fn changed_while_read_note(out: &Output, then: &str) -> Option<String> {
    if out.rc != Some(rsync::PARTIAL) {
        return None;
    }
    let changed = rsync::changed_while_read(&out.stderr)?;
    let more = match changed.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(format!("{}{more} changed while read: {then}", changed[0]))
}

/// When a move's copy passes may stop and the pause begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    /// Passes before any pause: the first copies the tree, the next shows what changes while
    /// it is copied.
    pub min_passes: usize,
    /// Passes at most: a project written faster than it is copied never settles.
    pub max_passes: usize,
    /// The last pass moved at most this many entries…
    pub files: usize,
    /// …and at most this many bytes.
    pub bytes: u64,
}

/// What a move does after the passes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Pass,
    Pause,
    /// Too much still changes after the last allowed pass: the pause would be long.
    Unsettled(String),
}

/// The next step of a move after `passes` (each pass's summary, in order).
pub fn next_after(settle: &Settle, passes: &[rsync::Summary]) -> Next {
    let Some(last) = passes.last() else {
        return Next::Pass;
    };
    let bytes = last.stats.transferred_size.unwrap_or(u64::MAX);
    let small = last.changes <= settle.files && bytes <= settle.bytes;
    if passes.len() >= settle.min_passes && small {
        Next::Pause
    } else if passes.len() < settle.max_passes {
        Next::Pass
    } else {
        Next::Unsettled(format!(
            "after {} passes the last one still moved {} entries and {bytes} bytes (the pause starts at most {} entries and {} bytes): the project is written faster than it is copied",
            passes.len(),
            last.changes,
            settle.files,
            settle.bytes
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(changes: usize, bytes: u64) -> rsync::Summary {
        let mut s = rsync::Summary {
            changes,
            ..Default::default()
        };
        s.stats.transferred_size = Some(bytes);
        s
    }

    #[test]
    fn passes_until_the_delta_is_small_and_at_least_two() {
        let s = Settle {
            min_passes: 2,
            max_passes: 4,
            files: 100,
            bytes: 1 << 20,
        };
        assert_eq!(next_after(&s, &[]), Next::Pass);
        // A small first pass (an almost empty project) still gets its second.
        assert_eq!(next_after(&s, &[pass(3, 10)]), Next::Pass);
        assert_eq!(
            next_after(&s, &[pass(10_000, 1 << 30), pass(100, 1 << 20)]),
            Next::Pause
        );
        assert_eq!(
            next_after(&s, &[pass(10_000, 1 << 30), pass(101, 10)]),
            Next::Pass
        );
        assert_eq!(
            next_after(&s, &[pass(10_000, 1 << 30), pass(1, 2 << 20)]),
            Next::Pass
        );
        // A pass without stats never counts as small.
        let mut blind = pass(0, 0);
        blind.stats.transferred_size = None;
        assert_eq!(next_after(&s, &[pass(1, 1), blind]), Next::Pass);
        let busy = [
            pass(5000, 1 << 30),
            pass(4000, 1 << 29),
            pass(3000, 1 << 28),
            pass(2000, 1 << 27),
        ];
        match next_after(&s, &busy) {
            Next::Unsettled(why) => assert!(
                why.starts_with("after 4 passes the last one still moved 2000 entries"),
                "{why}"
            ),
            n => panic!("{n:?}"),
        }
    }
}
