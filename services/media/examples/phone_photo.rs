//! Writes the benchmark's 12 MP, 3 MB phone photo to a file, for load tests:
//!
//!   cargo run --release -p media --example phone_photo -- photo.jpg

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: phone_photo <output.jpg>"))?;
    std::fs::write(&path, media::samples::phone_photo()?)?;
    Ok(())
}
