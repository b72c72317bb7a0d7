//! Batching of queued frames before they are written to a link.
//!
//! The node emits small `Events` messages (one per run of copies for a link). A link's writer takes whatever is
//! queued (never waiting for more: an idle link writes at once) and hands it to a
//! [`FrameBatcher`], which merges each run of consecutive `Events` frames with the same
//! route into one frame (up to [`FrameBatcher::max_batch`] bytes), then compresses every
//! resulting frame as [`FrameOptions`] say. Merging works on the encoded bytes (an
//! `Events` body is `route · count u32 · events`): nothing is decoded again, and the
//! order of all frames is kept.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{FRAME_VERSION, FrameOptions, FrameSize, compress_frame, kind};

/// The default largest merged `Events` frame (before compression).
pub const DEFAULT_MAX_BATCH: usize = 256 * 1024;

/// Merges and compresses frames for one link.
#[derive(Debug, Clone, Copy)]
pub struct FrameBatcher {
    /// Compression of every frame written.
    pub options: FrameOptions,
    /// Whether runs of `Events` frames may be merged (the link negotiated batching).
    pub batching: bool,
    /// The largest merged frame, in bytes before compression.
    pub max_batch: usize,
}

/// What one [`FrameBatcher::write`] produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSize {
    /// Bytes on the wire and before compression.
    pub size: FrameSize,
    /// Frames written.
    pub frames: usize,
}

/// An `Events` frame being assembled at `start` in the output.
struct Run {
    start: usize,
    /// Where the event count sits (the route is between `start + 6` and here).
    count_at: usize,
    count: u32,
}

impl FrameBatcher {
    /// A batcher for a link without batching or compression.
    pub const PLAIN: Self = Self {
        options: FrameOptions::PLAIN,
        batching: false,
        max_batch: DEFAULT_MAX_BATCH,
    };

    /// Appends `frames` (each a whole frame as `encode_frame` writes it) to `out`,
    /// merged and compressed.
    pub fn write(&self, frames: &[Bytes], out: &mut BytesMut) -> BatchSize {
        let mut written = BatchSize::default();
        let mut run: Option<Run> = None;
        for frame in frames {
            let parts = if self.batching {
                events_parts(frame)
            } else {
                None
            };
            let Some((route, count, events)) = parts else {
                self.finish(run.take(), out, &mut written);
                let start = out.len();
                out.extend_from_slice(frame);
                self.account(compress_frame(out, start, self.options), &mut written);
                continue;
            };
            if let Some(open) = &mut run {
                let same_route = &out[open.start + 6..open.count_at] == route;
                let fits = out.len() - open.start + events.len() <= self.max_batch;
                if same_route && fits && open.count.checked_add(count).is_some() {
                    open.count += count;
                    out.extend_from_slice(events);
                    continue;
                }
            }
            self.finish(run.take(), out, &mut written);
            let start = out.len();
            out.put_u32(0);
            out.put_u8(FRAME_VERSION);
            out.put_u8(kind::EVENTS);
            out.extend_from_slice(route);
            let count_at = out.len();
            out.put_u32(0);
            out.extend_from_slice(events);
            run = Some(Run {
                start,
                count_at,
                count,
            });
        }
        self.finish(run, out, &mut written);
        written
    }

    fn finish(&self, run: Option<Run>, out: &mut BytesMut, written: &mut BatchSize) {
        let Some(run) = run else { return };
        out[run.count_at..run.count_at + 4].copy_from_slice(&run.count.to_be_bytes());
        let length = (out.len() - run.start - 4) as u32;
        out[run.start..run.start + 4].copy_from_slice(&length.to_be_bytes());
        self.account(compress_frame(out, run.start, self.options), written);
    }

    fn account(&self, size: FrameSize, written: &mut BatchSize) {
        written.size.wire += size.wire;
        written.size.logical += size.logical;
        written.frames += 1;
    }
}

/// The route bytes, event count and event bytes of an uncompressed `Events` frame.
fn events_parts(frame: &[u8]) -> Option<(&[u8], u32, &[u8])> {
    let header = frame.get(..7)?;
    let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if length + 4 != frame.len() || header[4] != FRAME_VERSION || header[5] != kind::EVENTS {
        return None;
    }
    let route_end = match header[6] {
        0 => 7,
        1 => 8 + usize::from(*frame.get(7)?),
        _ => return None,
    };
    let count = frame.get(route_end..route_end + 4)?;
    let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]);
    Some((&frame[6..route_end], count, frame.get(route_end + 4..)?))
}

#[cfg(test)]
mod tests;
