//! rsync transfers (sync entries, backups): complete when rsync's exit code is accepted and
//! its closing `--stats` block is complete. Its summary goes to the journal.

use anyhow::Result;

use crate::context::Ctx;
use crate::engine::check::{Check, Fields, Verdict};
use crate::process::Output;
use crate::tools::rsync;

pub struct RsyncComplete;

impl Check<Ctx> for RsyncComplete {
    fn check(&self, _ctx: &Ctx, out: &Output) -> Result<Verdict> {
        Ok(rsync::verify(out))
    }

    fn fields(&self, _ctx: &Ctx, out: &Output) -> Fields {
        let mut f = Fields::new();
        if let Ok(v) = serde_json::to_value(rsync::parse(&out.stdout)) {
            f.insert("rsync".into(), v);
        }
        f
    }

    fn note(&self, out: &Output) -> Option<String> {
        (out.rc == Some(24)).then(|| "some source files vanished while copying".into())
    }
}
