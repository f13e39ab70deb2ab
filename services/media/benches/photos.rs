//! What a 12 MP phone photo (about 3 MB) costs: the checks an upload waits for, and the derivatives the job
//! queue makes afterwards; as a JPEG and as an iPhone's HEIC (made by libheif's `heif-enc`).
//!
//!   cargo bench -p media --bench photos

// A benchmark fails loudly on a broken setup, like a test.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let limits = media::inspect::Limits::of(&media::config::MediaConfig::default());
    let photo = media::samples::phone_photo().unwrap();
    eprintln!("photo: {:.1} MB", photo.len() as f64 / 1e6);
    let mut group = c.benchmark_group("12 MP phone JPEG (about 3 MB)");
    group.sample_size(10);
    group.bench_function("upload checks (sniff, header, full decode)", |b| {
        b.iter(|| media::inspect::inspect(std::hint::black_box(&photo), &limits).unwrap())
    });
    group.bench_function("derivatives (1280 px and 256 px, no metadata)", |b| {
        b.iter(|| media::derive::make(std::hint::black_box(&photo), 6).unwrap())
    });
    group.finish();

    let heic = heic_of(&photo);
    eprintln!("HEIC: {:.1} MB", heic.len() as f64 / 1e6);
    let mut group = c.benchmark_group("12 MP phone HEIC");
    group.sample_size(10);
    group.bench_function("upload checks (sniff, ispe, full decode)", |b| {
        b.iter(|| media::inspect::inspect(std::hint::black_box(&heic), &limits).unwrap())
    });
    group.bench_function("derivatives (1280 px and 256 px, no metadata)", |b| {
        b.iter(|| media::derive::make(std::hint::black_box(&heic), 1).unwrap())
    });
    group.finish();
}

fn heic_of(jpeg: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("photo.jpg"), jpeg).unwrap();
    let status = std::process::Command::new("heif-enc")
        .args(["-q", "50", "-o"])
        .arg(dir.path().join("photo.heic"))
        .arg(dir.path().join("photo.jpg"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(dir.path().join("photo.heic")).unwrap()
}

criterion_group!(benches, bench);
criterion_main!(benches);
