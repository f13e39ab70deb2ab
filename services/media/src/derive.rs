//! Derivatives: a display size and a thumbnail, orientation applied, written as fresh JPEGs
//! from the pixels alone, so no metadata (EXIF position, camera serial) survives.

use std::io::Cursor;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageReader, RgbImage};

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
    let decodable;
    let original = if crate::inspect::Format::sniff(original) == Some(crate::inspect::Format::Heic)
    {
        decodable = crate::heic::to_jpeg(original)?;
        &decodable[..]
    } else {
        original
    };
    let image = ImageReader::new(Cursor::new(original))
        .with_guessed_format()?
        .decode()?
        .into_rgb8();
    // Scaled first, turned after: turning a 12 MP image costs more than scaling it. The
    // thumbnail comes from the display size, a sixth of the pixels to read.
    let display = fit(image, DISPLAY_PX)?;
    let thumbnail = fit(display.clone(), THUMBNAIL_PX)?;
    Ok(Derivatives {
        display: jpeg(oriented(DynamicImage::ImageRgb8(display), orientation))?,
        thumbnail: jpeg(oriented(DynamicImage::ImageRgb8(thumbnail), orientation))?,
    })
}

/// Blocks across the long side of a redacted photo: shapes stay, faces and plates do not.
const REDACTED_BLOCKS: u32 = 16;

/// A redacted version of a display derivative (and its thumbnail): averaged into blocks, then
/// blown back up to the same size.
pub fn redact(display: &[u8]) -> anyhow::Result<Derivatives> {
    let image = ImageReader::new(Cursor::new(display))
        .with_guessed_format()?
        .decode()?
        .into_rgb8();
    let (width, height) = image.dimensions();
    let blocks = fit(image, REDACTED_BLOCKS)?;
    let source = Image::from_vec_u8(
        blocks.width(),
        blocks.height(),
        blocks.into_raw(),
        PixelType::U8x3,
    )?;
    let mut target = Image::new(width, height, PixelType::U8x3);
    Resizer::new().resize(
        &source,
        &mut target,
        &ResizeOptions::new().resize_alg(ResizeAlg::Nearest),
    )?;
    let redacted = RgbImage::from_raw(width, height, target.into_vec())
        .ok_or_else(|| anyhow::anyhow!("resized buffer has the wrong size"))?;
    let thumbnail = fit(redacted.clone(), THUMBNAIL_PX)?;
    Ok(Derivatives {
        display: jpeg(DynamicImage::ImageRgb8(redacted))?,
        thumbnail: jpeg(DynamicImage::ImageRgb8(thumbnail))?,
    })
}

/// Scaled down (Lanczos3, SIMD) so the long side is at most `px`; never scaled up.
fn fit(image: RgbImage, px: u32) -> anyhow::Result<RgbImage> {
    let (width, height) = image.dimensions();
    let long = width.max(height);
    if long <= px {
        return Ok(image);
    }
    let scale =
        |side: u32| ((u64::from(side) * u64::from(px)).div_ceil(u64::from(long)) as u32).max(1);
    let (new_width, new_height) = (scale(width), scale(height));
    let source = Image::from_vec_u8(width, height, image.into_raw(), PixelType::U8x3)?;
    let mut target = Image::new(new_width, new_height, PixelType::U8x3);
    Resizer::new().resize(
        &source,
        &mut target,
        &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
    )?;
    RgbImage::from_raw(new_width, new_height, target.into_vec())
        .ok_or_else(|| anyhow::anyhow!("resized buffer has the wrong size"))
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

fn jpeg(image: DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).encode_image(&image.into_rgb8())?;
    Ok(out)
}
