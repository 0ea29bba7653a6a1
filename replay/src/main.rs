//! `replay`: the investigation binary (see `replay --help`).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("replay: not implemented yet")
}
