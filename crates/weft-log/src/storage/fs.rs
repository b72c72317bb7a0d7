//! [`FsStorage`]: the real file system.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Storage, StorageFile};

/// A directory on the local file system.
#[derive(Debug, Clone)]
pub struct FsStorage {
    directory: PathBuf,
}

impl FsStorage {
    /// Uses `directory`, creating it (and its parents) if needed.
    pub fn new(directory: impl Into<PathBuf>) -> io::Result<Self> {
        let directory = directory.into();
        std::fs::create_dir_all(&directory)?;
        Ok(FsStorage { directory })
    }

    /// The directory.
    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

impl Storage for FsStorage {
    fn open(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(self.directory.join(name))?;
        FsFile::boxed(file)
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn StorageFile>> {
        let path = self.directory.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        drop(file);
        self.open(name)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.directory)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.directory.join(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        std::fs::rename(self.directory.join(from), self.directory.join(to))
    }

    fn sync_directory(&self) -> io::Result<()> {
        File::open(&self.directory)?.sync_all()
    }
}

struct FsFile {
    file: File,
    /// Only the writer changes it; readers of the log use the lengths of their view.
    len: AtomicU64,
}

impl FsFile {
    fn boxed(file: File) -> io::Result<Box<dyn StorageFile>> {
        let len = file.metadata()?.len();
        Ok(Box::new(FsFile {
            file,
            len: AtomicU64::new(len),
        }))
    }
}

impl StorageFile for FsFile {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        let result = (&self.file).write_all(data);
        if result.is_err() {
            // A partial write may have landed; learn the real length for the caller's truncate.
            if let Ok(meta) = self.file.metadata() {
                self.len.store(meta.len(), Ordering::Release);
            }
        } else {
            self.len.fetch_add(data.len() as u64, Ordering::AcqRel);
        }
        result
    }

    fn read_at(&self, position: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, position)
    }

    fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.len.store(len, Ordering::Release);
        Ok(())
    }
}
