pub fn run(_c: &crate::engine::Ctx, _a: &crate::cli::SyncArgs) -> anyhow::Result<()> {
    todo!()
}
