//! `weft-log`: the durable, segmented, per-partition log under weft's streams.
//!
//! It owns the on-disk format (Kafka record batch v2, see [`BatchView`], so the Kafka front end can
//! serve fetches from stored bytes), segments and their sparse offset/time indexes,
//! CRC-32C checks, crash recovery, retention, durability (fsync with group commit) and the
//! I/O seam ([`Storage`]) that lets tests simulate power loss and a full disk.
//!
//! Key types: [`PartitionLog`] (the synchronous log: append, read, sync, recovery on
//! open, retention, compaction by key), [`LogHandle`] (a cheap, cloneable async handle to
//! a log run by its own writer thread, which batches concurrent appends into one
//! `fdatasync` and coalesces queued records into one batch), [`LogView`] (the snapshot
//! readers read without the writer: segments up to the durable high watermark, and the
//! recent batches in memory), [`BatchBuilder`] / [`BatchView`] (encode and validate batches),
//! [`Storage`] with [`FsStorage`] and, for crash tests here and in other crates,
//! [`SimulatedStorage`]; [`Disk`] (a tree of storage directories: a node's whole state
//! directory) with [`FsDisk`] and [`SimulatedDisk`].
//!
//! Invariants: offsets are increasing, and dense until a log is compacted (compaction
//! keeps offsets, so gaps appear where records were removed); with
//! [`FlushPolicy::Always`] (the default) an append is acknowledged only after the bytes holding it were synced; on
//! open the log is cut back to its longest valid prefix. `docs/design/log.md` has the byte
//! layouts and the group-commit design.
//!
//! Depends only on `bytes`, `crc32c`, `thiserror`, `tracing` and tokio's `sync` feature
//! (oneshot channels and a semaphore; no runtime); it must never depend on the broker or a
//! front end.

mod batch;
mod error;
mod handle;
mod log;
mod offset;
mod segment;
mod storage;
mod varint;
mod view;

pub use batch::compression::{Compression, MAX_DECOMPRESSED_BYTES};
pub use batch::{
    BatchBuilder, BatchError, BatchHeader, BatchView, EncodeError, Producer, Record, Records,
    encode_batch, rewrite_base_offset,
};
pub use error::{AppendError, CompactionError, OpenError, ReadError, RetentionError};
pub use handle::{
    AppendCallback, AppendTicket, COALESCE_BYTES, FlushPolicy, HandleConfig, LogHandle, MAX_GROUP,
};
pub use log::{
    Appended, CACHED_BATCHES, CompactionPolicy, CompactionReport, LogConfig, PartitionLog,
    RetentionOutcome, RetentionPolicy,
};
pub use offset::Offset;
pub use storage::{Disk, FsDisk, FsStorage, Storage, StorageFile};
pub use storage::{SimulatedDisk, SimulatedStorage, TornWrite};
pub use view::{LogView, TAIL_BATCHES, TAIL_BYTES};
