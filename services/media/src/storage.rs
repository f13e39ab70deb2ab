//! Where the bytes live. The embedded default is a local directory; an S3-compatible store
//! comes next behind the same calls.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        // Keys are ours (`originals/<uuid>`), but a path must never leave the root.
        anyhow::ensure!(
            !key.is_empty()
                && key
                    .split('/')
                    .all(|part| !part.is_empty() && part != "." && part != ".."),
            "invalid storage key {key}"
        );
        Ok(self.root.join(key))
    }

    /// Writes the object whole or not at all: to a temporary file, then renamed into place.
    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        let path = self.path(key)?;
        let dir = path.parent().context("a key has a directory")?;
        tokio::fs::create_dir_all(dir).await?;
        let temporary = dir.join(format!(".{}.part", uuid::Uuid::new_v4()));
        tokio::fs::write(&temporary, &bytes).await?;
        tokio::fs::rename(&temporary, &path).await?;
        Ok(())
    }

    /// The object's size and the bytes of `range` (all of it when `None`).
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> anyhow::Result<(u64, Bytes)> {
        let mut file = tokio::fs::File::open(self.path(key)?).await?;
        let size = file.metadata().await?.len();
        let range = range.unwrap_or(0..size);
        anyhow::ensure!(
            range.start <= range.end && range.end <= size,
            "range outside the object"
        );
        file.seek(std::io::SeekFrom::Start(range.start)).await?;
        let mut buffer = vec![0; usize::try_from(range.end - range.start)?];
        file.read_exact(&mut buffer).await?;
        Ok((size, Bytes::from(buffer)))
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }
}
