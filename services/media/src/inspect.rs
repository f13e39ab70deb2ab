//! What an uploaded file really is, judged from its bytes, never from the client's content
//! type: the format by magic bytes, the dimensions, bit depth and channels from the header before
//! anything is decoded (a decompression bomb is refused before it costs memory), a full decode
//! to find corrupt files, and the EXIF position, capture time and orientation.

use std::io::Cursor;

use crate::config::MediaConfig;
use chrono::{DateTime, NaiveDateTime, Utc};
use image::{ColorType, ImageDecoder, ImageFormat, ImageReader};
use platform::ApiError;
use platform::error::SharedError;

use crate::MediaError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
    Heic,
}

impl Format {
    /// By magic bytes: JPEG `FF D8 FF`, PNG's 8-byte signature, WebP `RIFF....WEBP`, HEIC an
    /// ISO-BMFF `ftyp` box with a HEIF brand.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Format::WebP)
        } else if bytes.len() >= 12
            && &bytes[4..8] == b"ftyp"
            && matches!(
                &bytes[8..12],
                b"heic" | b"heix" | b"heim" | b"heis" | b"mif1" | b"msf1"
            )
        {
            Some(Format::Heic)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::WebP => "image/webp",
            Format::Heic => "image/heic",
        }
    }

    fn image_format(self) -> Option<ImageFormat> {
        match self {
            Format::Jpeg => Some(ImageFormat::Jpeg),
            Format::Png => Some(ImageFormat::Png),
            Format::WebP => Some(ImageFormat::WebP),
            Format::Heic => None,
        }
    }
}

/// What the bytes hold, once they passed every check.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    pub taken_at: Option<DateTime<Utc>>,
    pub position: Option<(f64, f64)>,
    /// EXIF orientation (1-8), applied when derivatives are made.
    pub orientation: u32,
}

/// Whether HEIC photos can be decoded here (checked once).
pub fn heic_supported() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(crate::heic::decoder_available)
}

fn check_pixels(width: u32, height: u32, max_pixels: u64) -> Result<(), ApiError> {
    if u64::from(width) * u64::from(height) <= max_pixels {
        return Ok(());
    }
    Err(MediaError::TooManyPixels {
        width,
        height,
        max_pixels,
    }
    .into())
}

/// How big an image may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Width × height.
    pub max_pixels: u64,
    /// The decoded pixels, at their bit depth and channels.
    pub max_decoded_bytes: u64,
}

impl Limits {
    pub fn of(config: &MediaConfig) -> Limits {
        Limits {
            max_pixels: config.max_pixels,
            max_decoded_bytes: config.max_decoded_bytes,
        }
    }
}

/// What an image's header says, read before anything is decoded.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// The decoded pixels in bytes: pixels × channels × bytes per channel.
    pub decoded_bytes: u64,
    /// Whether they decode as 8-bit RGB, which derivatives are made from without a copy.
    rgb8: bool,
}

impl Header {
    /// Reads the header; `None` when there is no image header to read.
    pub fn read(bytes: &[u8]) -> Option<Header> {
        let format = Format::sniff(bytes)?;
        let (width, height, bytes_per_pixel, rgb8) = match format.image_format() {
            Some(image_format) => {
                let decoder = ImageReader::with_format(Cursor::new(bytes), image_format)
                    .into_decoder()
                    .ok()?;
                let (width, height) = decoder.dimensions();
                let color = decoder.color_type();
                (
                    width,
                    height,
                    u64::from(color.bytes_per_pixel()),
                    color == ColorType::Rgb8,
                )
            }
            // HEIC reaches us as 8-bit RGB from its decoder's process (whose own memory is
            // capped there).
            None => {
                let (width, height) = crate::heic::dimensions(bytes)?;
                (width, height, 3, true)
            }
        };
        Some(Header {
            format,
            width,
            height,
            decoded_bytes: u64::from(width) * u64::from(height) * bytes_per_pixel,
            rgb8,
        })
    }

    /// What making derivatives holds at once: the decoded pixels and, unless they are 8-bit
    /// RGB already, their 8-bit RGB copy.
    pub fn derivative_bytes(&self) -> u64 {
        let copy = if self.rgb8 {
            0
        } else {
            u64::from(self.width) * u64::from(self.height) * 3
        };
        self.decoded_bytes + copy
    }
}

/// The photo formats taken, as a refusal names them.
pub const PHOTOS: &str = "JPEG, PNG, WebP, HEIC";
/// The same where the server has no HEIC decoder.
pub const WITHOUT_HEIC: &str = "JPEG, PNG, WebP";

/// Checks what can be known before decoding: the format, the pixel count and the decoded size
/// (a small file of huge 16-bit pixels is refused here, before it costs memory).
pub fn header(bytes: &[u8], limits: &Limits) -> Result<Header, ApiError> {
    let format =
        Format::sniff(bytes).ok_or(SharedError::UnsupportedMediaType { accepted: PHOTOS })?;
    // HEIC where the server has no HEIC decoder (`heif-convert`, Debian's `libheif-examples`).
    if format == Format::Heic && !heic_supported() {
        return Err(SharedError::UnsupportedMediaType {
            accepted: WITHOUT_HEIC,
        }
        .into());
    }
    let header = Header::read(bytes).ok_or(MediaError::CorruptImage)?;
    check_pixels(header.width, header.height, limits.max_pixels)?;
    if header.decoded_bytes > limits.max_decoded_bytes {
        let mb = |bytes: u64| bytes.div_ceil(1024 * 1024);
        let (decoded, limit) = (mb(header.decoded_bytes), mb(limits.max_decoded_bytes));
        return Err(MediaError::TooLargeDecoded { decoded, limit }.into());
    }
    Ok(header)
}

/// Checks the bytes: their header (see [`header`]), that they decode, and reads their EXIF.
/// Decoding takes about `header(..).decoded_bytes` of memory; the caller decides when.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<Inspected, ApiError> {
    let Header {
        format,
        width,
        height,
        ..
    } = header(bytes, limits)?;
    match format.image_format() {
        Some(image_format) => {
            let mut decoder = ImageReader::with_format(Cursor::new(bytes), image_format);
            let mut decoder_limits = image::Limits::default();
            // Room for the pixels and the decoder's own buffers, no more.
            decoder_limits.max_alloc = Some(limits.max_decoded_bytes.saturating_add(64 << 20));
            decoder.limits(decoder_limits);
            decoder.decode().map_err(|_| MediaError::CorruptImage)?;
        }
        None => {
            let decoded = crate::heic::to_jpeg(bytes).map_err(|error| {
                tracing::info!(error = %format!("{error:#}"), "HEIC refused as corrupt");
                MediaError::CorruptImage
            })?;
            // The size the file declared is checked above; the size it decoded to, here.
            let (real_width, real_height) =
                ImageReader::with_format(Cursor::new(&decoded), ImageFormat::Jpeg)
                    .into_dimensions()
                    .map_err(|_| MediaError::CorruptImage)?;
            check_pixels(real_width, real_height, limits.max_pixels)?;
        }
    }
    // Decoders fill a cut-off JPEG with grey rather than fail; an upload cut off half-way
    // must not become a report's evidence.
    if format == Format::Jpeg && !jpeg_is_complete(bytes) {
        return Err(MediaError::CorruptImage.into());
    }

    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok();
    let (taken_at, position, orientation) = match &exif {
        // HEIF carries its rotation in the container (`irot`, `imir`), which the decoder
        // applies; its EXIF orientation only repeats it.
        Some(exif) if format == Format::Heic => (capture_time(exif), gps_position(exif), 1),
        Some(exif) => (capture_time(exif), gps_position(exif), orientation(exif)),
        None => (None, None, 1),
    };
    Ok(Inspected {
        format,
        width,
        height,
        taken_at,
        position,
        orientation,
    })
}

/// Walks the JPEG segments to the first scan and looks for the end-of-image marker after it
/// (a thumbnail inside EXIF has its own, before the scan). Data after the end, as in motion
/// photos, is allowed.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        match bytes[i + 1] {
            0xFF => i += 1,
            0xDA => return bytes[i..].windows(2).any(|w| w == [0xFF, 0xD9]),
            _ => i += 2 + usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]])),
        }
    }
    false
}

fn orientation(exif: &exif::Exif) -> u32 {
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1)
}

/// `DateTimeOriginal` is local time without a zone; phones in Vietnam write Asia/Ho_Chi_Minh
/// (UTC+7, no daylight saving) unless `OffsetTimeOriginal` says otherwise.
fn capture_time(exif: &exif::Exif) -> Option<DateTime<Utc>> {
    let text = |tag| {
        exif.get_field(tag, exif::In::PRIMARY)
            .and_then(|f| match &f.value {
                exif::Value::Ascii(parts) => parts
                    .first()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
                _ => None,
            })
    };
    let local =
        NaiveDateTime::parse_from_str(&text(exif::Tag::DateTimeOriginal)?, "%Y:%m:%d %H:%M:%S")
            .ok()?;
    let offset = text(exif::Tag::OffsetTimeOriginal)
        .and_then(|o| parse_offset(&o))
        .unwrap_or(platform::vietnam_time::OFFSET);
    Some(
        local
            .and_local_timezone(offset)
            .single()?
            .with_timezone(&Utc),
    )
}

/// EXIF offsets: `+07:00`, `-03:30`.
fn parse_offset(text: &str) -> Option<chrono::FixedOffset> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, minutes) = text.get(1..)?.split_once(':')?;
    let seconds = hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60;
    chrono::FixedOffset::east_opt(sign * seconds)
}

fn gps_position(exif: &exif::Exif) -> Option<(f64, f64)> {
    let degrees = |tag, reference| -> Option<f64> {
        let field = exif.get_field(tag, exif::In::PRIMARY)?;
        let exif::Value::Rational(parts) = &field.value else {
            return None;
        };
        let [d, m, s] = parts.as_slice() else {
            return None;
        };
        let value = d.to_f64() + m.to_f64() / 60.0 + s.to_f64() / 3600.0;
        let sign = match exif
            .get_field(reference, exif::In::PRIMARY)?
            .display_value()
            .to_string()
            .as_str()
        {
            "S" | "W" => -1.0,
            _ => 1.0,
        };
        Some(sign * value)
    };
    let latitude = degrees(exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef)?;
    let longitude = degrees(exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef)?;
    let valid = latitude.is_finite()
        && longitude.is_finite()
        && latitude.abs() <= 90.0
        && longitude.abs() <= 180.0;
    (valid && (latitude, longitude) != (0.0, 0.0)).then_some((latitude, longitude))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_magic_bytes() {
        assert_eq!(Format::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"\x89PNG\r\n\x1a\n...."), Some(Format::Png));
        assert_eq!(
            Format::sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 "),
            Some(Format::WebP)
        );
        assert_eq!(
            Format::sniff(b"\x00\x00\x00\x18ftypheic\x00\x00"),
            Some(Format::Heic)
        );
        assert_eq!(Format::sniff(b"GIF89a"), None);
        assert_eq!(Format::sniff(b"<svg"), None);
    }
}
