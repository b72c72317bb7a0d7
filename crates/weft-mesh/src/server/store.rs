//! Store-and-forward on disk, under `<data_dir>/mesh/`:
//!
//! - `outbox/<node>`: one append-only file per destination. Each record is
//!   `length u32 BE` (of what follows the checksum) · `checksum u32 BE` (FNV-1a of the
//!   body) · body; body = `kind u8` then, for 1 *stored*: `stream u64`, `sequence u64`,
//!   `origin_incarnation u64`, `origin_sequence u64`, `topic u16 len + UTF-8`,
//!   `payload u32 len + bytes`; for 2 *acked*: `stream u64`, `up_to u64`. Integers
//!   big-endian. Reading stops at the first torn or corrupt record (a crash mid-append:
//!   that record was never acknowledged to its publisher), and the file is rewritten at
//!   start from what was read.
//! - `inbox.json`: per origin, the stream, the next sequence after the last one stored
//!   here, and the newest event of that origin stored here, by its (incarnation,
//!   sequence) at the origin (`last_stored`; absent in files written before it was
//!   kept, which load as they are): the receiver's high-water marks.
//! - `durable-interest.json`: other nodes' durable filters, so a restarted node keeps
//!   storing events for unreachable nodes (sticky interest).
//! - `incarnation.json`: the highest incarnation or stream id this node has used, so a
//!   restarted node's incarnation is above it even if the clock went back.
//!
//! Reading happens once at start; every write afterwards is done by the persister thread
//! (`server/persist.rs`), never on the runtime.
//!
//! An unreadable `inbox.json`, `durable-interest.json` or `incarnation.json` stops the
//! node with an error that names the file and what moving it aside would cost: they
//! are written atomically (temporary file, rename), so a bad one was damaged outside
//! weft, and starting with empty state instead would silently give up deduplication,
//! other nodes' durable events or the order of this node's lives.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use weft_core::Filter;

use crate::inbox::StreamPosition;
use crate::interest::RememberedInterest;
use crate::name::NodeName;
use crate::outbox::{DestinationOutbox, OutboxEntry, OutboxSnapshot};

const STORED: u8 = 1;
const ACKED: u8 = 2;

/// Why the mesh's files could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("mesh store {path}: {action} failed")]
pub struct StoreError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was being done.
    pub action: &'static str,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

/// The error for a state file that does not parse: names the file, the parse error and
/// what starting without it would cost.
fn unreadable(path: &Path, error: &serde_json::Error, without_it: &str) -> StoreError {
    StoreError {
        path: path.to_path_buf(),
        action: "read",
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not a valid mesh state file ({error}); it is written atomically, so it was damaged outside weft. \
                 To start anyway, move it aside (for example to {}.bad): {without_it}",
                path.display()
            ),
        ),
    }
}

pub(crate) fn io_error(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError {
        path,
        action,
        source,
    }
}

/// The state read at start.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) outbox: OutboxSnapshot,
    pub(crate) inbox: BTreeMap<NodeName, StreamPosition>,
    pub(crate) durable_interest: BTreeMap<NodeName, RememberedInterest>,
}

/// One node's persisted durable interest.
#[derive(Debug, Default, Serialize, Deserialize)]
struct InterestRecord {
    filters: Vec<String>,
    /// Wall-clock time (ms since the Unix epoch) since when it is unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unreachable_since_ms: Option<u64>,
}

/// The persisted durable interest, by node name.
#[derive(Debug, Default, Serialize, Deserialize)]
struct InterestFile(BTreeMap<String, InterestRecord>);

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

pub(crate) fn outbox_dir(root: &Path) -> PathBuf {
    root.join("outbox")
}

pub(crate) fn inbox_path(root: &Path) -> PathBuf {
    root.join("inbox.json")
}

pub(crate) fn interest_path(root: &Path) -> PathBuf {
    root.join("durable-interest.json")
}

pub(crate) fn incarnation_path(root: &Path) -> PathBuf {
    root.join("incarnation.json")
}

/// `incarnation.json`: the highest incarnation or store-and-forward stream id this node
/// has used.
#[derive(Debug, Serialize, Deserialize)]
struct IncarnationFile {
    used: u64,
}

/// The incarnation of the life starting now, recorded under `root` before it is used:
/// `explicit` if given, else the start time (`clock`, ms since the Unix epoch), or one
/// more than anything an earlier life used when the clock is not ahead of it (it went
/// back, or a life ended within its first millisecond). So every receiver takes this
/// life's streams and events for newer ones, whatever the clock did.
pub(crate) fn start_incarnation(
    root: &Path,
    explicit: Option<u64>,
    clock: u64,
) -> Result<u64, StoreError> {
    fs::create_dir_all(root).map_err(io_error(root, "create directory"))?;
    let path = incarnation_path(root);
    let used = match read_optional(&path)? {
        Some(text) => Some(
            serde_json::from_slice::<IncarnationFile>(&text)
                .map_err(|error| {
                    unreadable(
                        &path,
                        &error,
                        "this node's incarnation then comes from the clock alone, and if the clock went back, other nodes take what it sends for old",
                    )
                })?
                .used,
        ),
        None => None,
    };
    let incarnation = explicit.unwrap_or_else(|| match used {
        Some(used) if clock <= used => used + 1,
        _ => clock.max(1),
    });
    if used.is_some_and(|used| incarnation <= used) {
        tracing::warn!(
            incarnation,
            used,
            "mesh incarnation set explicitly to one not above an earlier life's"
        );
    }
    write_incarnation(root, incarnation.max(used.unwrap_or(0)))?;
    Ok(incarnation)
}

/// Records `used` (an incarnation or stream id this node uses) in `incarnation.json`.
pub(crate) fn write_incarnation(root: &Path, used: u64) -> Result<(), StoreError> {
    let text = serde_json::to_vec(&IncarnationFile { used }).unwrap_or_default();
    write_atomically(&incarnation_path(root), &text)
}

/// Reads everything under `root` (creating the directories).
pub(crate) fn load(root: &Path) -> Result<Loaded, StoreError> {
    let dir = outbox_dir(root);
    fs::create_dir_all(&dir).map_err(io_error(&dir, "create directory"))?;
    let mut loaded = Loaded::default();
    for entry in fs::read_dir(&dir).map_err(io_error(&dir, "list"))? {
        let entry = entry.map_err(io_error(&dir, "list"))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(node) = NodeName::new(&name) else {
            continue;
        };
        let path = entry.path();
        let bytes = fs::read(&path).map_err(io_error(&path, "read"))?;
        let outbox = decode_outbox(Bytes::from(bytes));
        if !outbox.entries.is_empty() {
            loaded.outbox.destinations.insert(node, outbox);
        }
    }
    let inbox = inbox_path(root);
    if let Some(text) = read_optional(&inbox)? {
        loaded.inbox = serde_json::from_slice(&text).map_err(|error| {
            unreadable(
                &inbox,
                &error,
                "events other nodes resend after that may then be stored twice in this node's streams",
            )
        })?;
    }
    let interest = interest_path(root);
    if let Some(text) = read_optional(&interest)? {
        let file: InterestFile = serde_json::from_slice(&text).map_err(|error| {
            unreadable(
                &interest,
                &error,
                "this node then keeps nothing for other nodes' streams while they are unreachable, until they link again",
            )
        })?;
        let now = unix_ms(SystemTime::now());
        for (node, record) in file.0 {
            let Ok(node) = NodeName::new(&node) else {
                continue;
            };
            let filters = record
                .filters
                .iter()
                .filter_map(|filter| Filter::new(filter).ok())
                .collect();
            let unreachable_for = record
                .unreachable_since_ms
                .map(|since| Duration::from_millis(now.saturating_sub(since)));
            let remembered = RememberedInterest {
                filters,
                unreachable_for,
            };
            loaded.durable_interest.insert(node, remembered);
        }
    }
    Ok(loaded)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(path, "read")(error)),
    }
}

/// Replays an outbox file: stored entries minus acknowledged ones, in order.
fn decode_outbox(mut bytes: Bytes) -> DestinationOutbox {
    let mut outbox = DestinationOutbox {
        stream: 0,
        next_sequence: 1,
        entries: Default::default(),
        bytes: 0,
    };
    while bytes.remaining() >= 8 {
        let length = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let checksum = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if bytes.remaining() < 8 + length {
            break;
        }
        bytes.advance(8);
        let body = bytes.split_to(length);
        if fnv1a(&body) != checksum {
            break;
        }
        if decode_record(body, &mut outbox).is_none() {
            break;
        }
    }
    outbox
}

fn decode_record(mut body: Bytes, outbox: &mut DestinationOutbox) -> Option<()> {
    let kind = take_u8(&mut body)?;
    let stream = take_u64(&mut body)?;
    match kind {
        STORED => {
            let sequence = take_u64(&mut body)?;
            let origin_incarnation = take_u64(&mut body)?;
            let origin_sequence = take_u64(&mut body)?;
            let topic_len = usize::from(take_u16(&mut body)?);
            let topic = take_bytes(&mut body, topic_len)?;
            let topic = String::from_utf8(topic.to_vec()).ok()?;
            let payload_len = take_u32(&mut body)? as usize;
            let payload = take_bytes(&mut body, payload_len)?;
            outbox.stream = stream;
            outbox.bytes += payload.len() as u64;
            outbox.entries.push_back(OutboxEntry {
                sequence,
                origin_incarnation,
                origin_sequence,
                topic,
                payload,
                last_sent: None,
            });
        }
        ACKED => {
            let up_to = take_u64(&mut body)?;
            outbox.entries.retain(|entry| {
                let acked = outbox.stream == stream && entry.sequence <= up_to;
                if acked {
                    outbox.bytes = outbox.bytes.saturating_sub(entry.payload.len() as u64);
                }
                !acked
            });
        }
        _ => return None,
    }
    Some(())
}

/// Appends a *stored* record to `out`.
pub(crate) fn encode_stored(out: &mut BytesMut, stream: u64, entry: &OutboxEntry) {
    let mut body = BytesMut::with_capacity(45 + entry.topic.len() + entry.payload.len());
    body.put_u8(STORED);
    body.put_u64(stream);
    body.put_u64(entry.sequence);
    body.put_u64(entry.origin_incarnation);
    body.put_u64(entry.origin_sequence);
    body.put_u16(entry.topic.len().min(usize::from(u16::MAX)) as u16);
    body.put_slice(entry.topic.as_bytes());
    body.put_u32(entry.payload.len() as u32);
    body.put_slice(&entry.payload);
    frame(out, &body);
}

/// Appends an *acked* record to `out`.
pub(crate) fn encode_acked(out: &mut BytesMut, stream: u64, up_to: u64) {
    let mut body = BytesMut::with_capacity(17);
    body.put_u8(ACKED);
    body.put_u64(stream);
    body.put_u64(up_to);
    frame(out, &body);
}

fn frame(out: &mut BytesMut, body: &[u8]) {
    out.put_u32(body.len() as u32);
    out.put_u32(fnv1a(body));
    out.put_slice(body);
}

/// Writes `inbox.json`.
pub(crate) fn write_inbox(
    root: &Path,
    positions: &BTreeMap<NodeName, StreamPosition>,
) -> Result<(), StoreError> {
    let text = serde_json::to_vec(positions).unwrap_or_default();
    write_atomically(&inbox_path(root), &text)
}

/// Writes `durable-interest.json`.
pub(crate) fn write_interest(
    root: &Path,
    interest: &BTreeMap<NodeName, RememberedInterest>,
) -> Result<(), StoreError> {
    let now = SystemTime::now();
    let file = InterestFile(
        interest
            .iter()
            .map(|(node, remembered)| {
                let record = InterestRecord {
                    filters: remembered
                        .filters
                        .iter()
                        .map(|filter| filter.as_str().to_owned())
                        .collect(),
                    unreachable_since_ms: remembered
                        .unreachable_for
                        .and_then(|age| now.checked_sub(age))
                        .map(unix_ms),
                };
                (node.to_string(), record)
            })
            .collect(),
    );
    let text = serde_json::to_vec(&file).unwrap_or_default();
    write_atomically(&interest_path(root), &text)
}

/// Writes `path` through a temporary file, fsync and rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    // `~` is not allowed in node names, so a temporary file is never read as an outbox.
    let name = path
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!("~{name}.tmp"));
    let mut file = fs::File::create(&temporary).map_err(io_error(&temporary, "create"))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_data())
        .map_err(io_error(&temporary, "write"))?;
    fs::rename(&temporary, path).map_err(io_error(path, "rename"))
}

/// FNV-1a, 32 bits: detects torn and corrupt records (not an adversary).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

fn take_u8(body: &mut Bytes) -> Option<u8> {
    (body.remaining() >= 1).then(|| body.get_u8())
}

fn take_u16(body: &mut Bytes) -> Option<u16> {
    (body.remaining() >= 2).then(|| body.get_u16())
}

fn take_u32(body: &mut Bytes) -> Option<u32> {
    (body.remaining() >= 4).then(|| body.get_u32())
}

fn take_u64(body: &mut Bytes) -> Option<u64> {
    (body.remaining() >= 8).then(|| body.get_u64())
}

fn take_bytes(body: &mut Bytes, length: usize) -> Option<Bytes> {
    (body.remaining() >= length).then(|| body.split_to(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sequence: u64) -> OutboxEntry {
        OutboxEntry {
            sequence,
            origin_incarnation: 7,
            origin_sequence: sequence + 100,
            topic: "orders/eu".to_owned(),
            payload: Bytes::from(vec![sequence as u8; 10]),
            last_sent: None,
        }
    }

    #[test]
    fn unreadable_inbox_or_interest_stops_the_start_naming_the_file() {
        for name in ["inbox.json", "durable-interest.json"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path()).unwrap();
            std::fs::write(dir.path().join(name), b"{\"torn").unwrap();
            let error = load(dir.path()).unwrap_err();
            assert_eq!(error.path, dir.path().join(name));
            let message = format!("{error}: {}", error.source);
            assert!(message.contains("move it aside"), "{message}");
            // Moved aside, the node starts (without that state).
            std::fs::rename(
                dir.path().join(name),
                dir.path().join(format!("{name}.bad")),
            )
            .unwrap();
            assert!(load(dir.path()).is_ok());
        }
    }

    #[test]
    fn an_inbox_written_before_the_high_water_mark_loads_and_the_mark_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("inbox.json"),
            br#"{"a":{"stream":7,"next":3}}"#,
        )
        .unwrap();
        let loaded = load(dir.path()).unwrap();
        let a = NodeName::new("a").unwrap();
        assert_eq!(
            loaded.inbox[&a],
            StreamPosition {
                stream: 7,
                next: 3,
                last_stored: None
            }
        );
        let mut positions = loaded.inbox;
        positions.get_mut(&a).unwrap().last_stored = Some(crate::inbox::EventId {
            incarnation: 5,
            sequence: 12,
        });
        write_inbox(dir.path(), &positions).unwrap();
        assert_eq!(load(dir.path()).unwrap().inbox, positions);
    }

    #[test]
    fn a_new_life_starts_above_everything_an_earlier_one_used_whatever_the_clock_says() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mesh");
        assert_eq!(start_incarnation(&root, None, 1_000).unwrap(), 1_000);
        // The clock moved on: it is the incarnation.
        assert_eq!(start_incarnation(&root, None, 5_000).unwrap(), 5_000);
        // The last life opened streams up to 5 002 (two destinations restarted).
        write_incarnation(&root, 5_002).unwrap();
        // The clock went back: one more than anything used.
        assert_eq!(start_incarnation(&root, None, 4_000).unwrap(), 5_003);
        assert_eq!(start_incarnation(&root, None, 5_003).unwrap(), 5_004);
        // Given explicitly, it is taken as it is; the record keeps the highest.
        assert_eq!(start_incarnation(&root, Some(7), 9_000).unwrap(), 7);
        assert_eq!(start_incarnation(&root, None, 10).unwrap(), 5_005);
        // A damaged file stops the start, naming it.
        std::fs::write(incarnation_path(&root), b"{").unwrap();
        let error = start_incarnation(&root, None, 20_000).unwrap_err();
        assert_eq!(error.path, incarnation_path(&root));
    }

    #[test]
    fn an_outbox_file_replays_stored_minus_acked_and_stops_at_a_torn_tail() {
        let mut file = BytesMut::new();
        for sequence in 1..=4 {
            encode_stored(&mut file, 9, &entry(sequence));
        }
        encode_acked(&mut file, 9, 2);
        encode_acked(&mut file, 8, 4);
        let whole = file.len();
        encode_stored(&mut file, 9, &entry(5));
        let torn = file.split_to(whole + 20).freeze();
        let outbox = decode_outbox(torn);
        let sequences: Vec<u64> = outbox.entries.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, vec![3, 4]);
        assert_eq!(outbox.bytes, 20);
        assert_eq!(outbox.entries[0], entry(3));
    }

    #[test]
    fn a_corrupt_record_ends_the_replay() {
        let mut file = BytesMut::new();
        encode_stored(&mut file, 1, &entry(1));
        let first = file.len();
        encode_stored(&mut file, 1, &entry(2));
        let last = file.len() - 1;
        file[last] ^= 0xff;
        let outbox = decode_outbox(file.freeze());
        assert_eq!(outbox.entries.len(), 1);
        assert!(first > 0);
    }
}
