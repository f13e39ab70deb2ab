//! What a 12 MP phone photo (about 3 MB) costs: the checks an upload waits for, and the derivatives the job
//! queue makes afterwards.
//!
//!   cargo bench -p media --bench photos

// A benchmark fails loudly on a broken setup, like a test.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;

use criterion::{Criterion, criterion_group, criterion_main};
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// A 12 MP photo with texture, so JPEG compresses it like a real scene (about 3 MB).
fn phone_photo() -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let image = RgbImage::from_fn(4000, 3000, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed & 0x1f) as u8;
        Rgb([
            (x / 16) as u8 ^ noise,
            (y / 12) as u8 ^ noise,
            ((x + y) / 28) as u8 ^ noise,
        ])
    });
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut Cursor::new(&mut jpeg), 82)
        .encode_image(&image)
        .unwrap();
    jpeg
}

fn bench(c: &mut Criterion) {
    let photo = phone_photo();
    eprintln!("photo: {:.1} MB", photo.len() as f64 / 1e6);
    let mut group = c.benchmark_group("12 MP phone JPEG (about 3 MB)");
    group.sample_size(10);
    group.bench_function("upload checks (sniff, header, full decode)", |b| {
        b.iter(|| media::inspect::inspect(std::hint::black_box(&photo), 50_000_000).unwrap())
    });
    group.bench_function("derivatives (1280 px and 256 px, no metadata)", |b| {
        b.iter(|| media::derive::make(std::hint::black_box(&photo), 6).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
