//! HEIC, the iPhone's photo format: its size read from the container's `ispe` boxes before
//! anything is decoded, and its pixels decoded by libheif's `heif-convert` in a process of its
//! own (Debian's libheif is older than the Rust bindings need; a separate process also keeps a
//! HEVC decoder's faults out of the server), with a deadline.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The decoder, from Debian's `libheif-examples`.
const DECODER: &str = "heif-convert";
/// A 48 MP photo decodes in a few seconds on one core; more is a stuck decoder.
const DEADLINE: Duration = Duration::from_secs(60);
/// The decoder's own limits (util-linux `prlimit`), whatever a hostile file declares: address
/// space and CPU seconds.
const MAX_DECODER_BYTES: u64 = 2 << 30;
const MAX_DECODER_CPU_SECS: u64 = 60;

/// Whether the decoder is installed here.
pub fn decoder_available() -> bool {
    Command::new(DECODER)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The largest image size the container declares (the primary image, or the grid its tiles
/// make): an upper bound on what decoding will allocate.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let meta = find_box(boxes(bytes), b"meta")?;
    // `meta` is a full box: version and flags come before its children.
    let iprp = find_box(boxes(meta.get(4..)?), b"iprp")?;
    let ipco = find_box(boxes(iprp), b"ipco")?;
    boxes(ipco)
        .filter(|(kind, _)| kind == b"ispe")
        .filter_map(|(_, body)| {
            let width = u32::from_be_bytes(body.get(4..8)?.try_into().ok()?);
            let height = u32::from_be_bytes(body.get(8..12)?.try_into().ok()?);
            Some((width, height))
        })
        .max_by_key(|(w, h)| u64::from(*w) * u64::from(*h))
}

/// Decodes to a JPEG of the same size (quality 95), transformations (`irot`, `imir`) applied;
/// of a burst, the first image. The caller checks the decoded size: a file may lie in `ispe`.
pub fn to_jpeg(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in.heic");
    let output = dir.path().join("out.jpg");
    let errors = dir.path().join("errors.txt");
    std::fs::write(&input, bytes)?;
    let mut command = if limits_available() {
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--as={MAX_DECODER_BYTES}"))
            .arg(format!("--cpu={MAX_DECODER_CPU_SECS}"))
            .arg("--")
            .arg(DECODER);
        command
    } else {
        Command::new(DECODER)
    };
    let mut child = command
        .args(["--quiet", "-q", "95"])
        .arg(&input)
        .arg(&output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: a chatty decoder never blocks on a full pipe.
        .stderr(std::fs::File::create(&errors)?)
        .spawn()?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("{DECODER} took longer than {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if !status.success() {
        let message = std::fs::read_to_string(&errors).unwrap_or_default();
        let message: String = message.chars().take(500).collect();
        anyhow::bail!("{DECODER} failed ({status}): {}", message.trim());
    }
    // Several top-level images (a burst) are written as out-1.jpg, out-2.jpg, ...
    let first = dir.path().join("out-1.jpg");
    Ok(std::fs::read(if output.exists() {
        &output
    } else {
        &first
    })?)
}

/// Whether `prlimit` (util-linux) is here to bound the decoder (checked once).
fn limits_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("prlimit")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The ISO-BMFF boxes in `bytes`, as (type, body); stops at the first malformed one.
fn boxes(mut bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?);
        let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            // The box runs to the end.
            0 => (8, bytes.len()),
            // A 64-bit size follows the type.
            1 => (
                16,
                usize::try_from(u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?)).ok()?,
            ),
            n => (8, n as usize),
        };
        let body = bytes.get(header..size)?;
        bytes = &bytes[size..];
        Some((kind, body))
    })
}

fn find_box<'a>(
    mut boxes: impl Iterator<Item = ([u8; 4], &'a [u8])>,
    kind: &[u8; 4],
) -> Option<&'a [u8]> {
    boxes.find(|(k, _)| k == kind).map(|(_, body)| body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bmff(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn ispe(width: u32, height: u32) -> Vec<u8> {
        let mut body = vec![0; 4];
        body.extend_from_slice(&width.to_be_bytes());
        body.extend_from_slice(&height.to_be_bytes());
        bmff(b"ispe", &body)
    }

    #[test]
    fn the_largest_declared_size_is_read_without_decoding() {
        let ipco = bmff(b"ipco", &[ispe(512, 512), ispe(4032, 3024)].concat());
        let mut meta_body = vec![0; 4];
        meta_body.extend(bmff(b"hdlr", &[0; 20]));
        meta_body.extend(bmff(b"iprp", &ipco));
        let file = [
            bmff(b"ftyp", b"heic\0\0\0\0mif1heic"),
            bmff(b"meta", &meta_body),
        ]
        .concat();
        assert_eq!(dimensions(&file), Some((4032, 3024)));
        assert_eq!(dimensions(&file[..30]), None);
        assert_eq!(dimensions(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), None);
    }
}
