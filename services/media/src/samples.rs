//! A stand-in for a phone photo, for benchmarks and load tests: 12 MP with texture, so JPEG
//! compresses it like a real scene, to about 3 MB.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

pub fn phone_photo() -> anyhow::Result<Vec<u8>> {
    let mut seed = 0x2545_f491_u32;
    let image = RgbImage::from_fn(4000, 3000, |x, y| {
        // xorshift: the same photo every time.
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
    JpegEncoder::new_with_quality(&mut Cursor::new(&mut jpeg), 82).encode_image(&image)?;
    Ok(jpeg)
}
