//! Derivatives: a display size and a thumbnail, orientation applied, written as fresh JPEGs
//! from the pixels alone, so no metadata (EXIF position, camera serial) survives.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageReader};

/// Long side of the display size and of the thumbnail.
pub const DISPLAY_PX: u32 = 1280;
pub const THUMBNAIL_PX: u32 = 256;
const JPEG_QUALITY: u8 = 82;
/// Every derivative is a JPEG.
pub const CONTENT_TYPE: &str = "image/jpeg";

pub struct Derivatives {
    pub display: Vec<u8>,
    pub thumbnail: Vec<u8>,
}

pub fn make(original: &[u8], orientation: u32) -> anyhow::Result<Derivatives> {
    let image = ImageReader::new(Cursor::new(original))
        .with_guessed_format()?
        .decode()?;
    let image = oriented(image, orientation);
    Ok(Derivatives {
        display: jpeg(&fit(&image, DISPLAY_PX))?,
        thumbnail: jpeg(&fit(&image, THUMBNAIL_PX))?,
    })
}

/// Scaled down so the long side is at most `px`; never scaled up.
fn fit(image: &DynamicImage, px: u32) -> DynamicImage {
    if image.width().max(image.height()) <= px {
        return image.clone();
    }
    image.resize(px, px, FilterType::Lanczos3)
}

/// Applies EXIF orientation (values 1-8), so derivatives look right without metadata.
fn oriented(image: DynamicImage, orientation: u32) -> DynamicImage {
    match orientation {
        2 => image.fliph(),
        3 => image.rotate180(),
        4 => image.flipv(),
        5 => image.rotate90().fliph(),
        6 => image.rotate90(),
        7 => image.rotate270().fliph(),
        8 => image.rotate270(),
        _ => image,
    }
}

fn jpeg(image: &DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode_image(&image.to_rgb8())?;
    Ok(out)
}
