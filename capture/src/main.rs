//! `capture`: the recording binary (see `capture --help`).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("capture: not implemented yet")
}
