pub fn run(_c: &crate::engine::Ctx, _a: &crate::cli::MetricsArgs) -> anyhow::Result<()> {
    todo!()
}
