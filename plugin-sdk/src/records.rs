//! Handing records to the host.
//!
//! Records are buffered per stream and sent in batches, so emitting one record at a time
//! costs no host call each. The buffers are flushed when the sync returns.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::bindings::sluice::connector::{records as host, types};
use crate::{Error, Result};

/// Records sent to the host in one call at most; it keeps batches small enough for its caps.
const BATCH_ITEMS: usize = 256;
/// JSON bytes sent to the host in one call at most.
const BATCH_BYTES: usize = 512 * 1024;

#[derive(Default)]
struct Buffer {
    items: Vec<types::Item>,
    bytes: usize,
}

#[derive(Default)]
struct Emitter {
    buffers: BTreeMap<String, Buffer>,
    emitted: u64,
}

thread_local! {
    static EMITTER: RefCell<Emitter> = RefCell::new(Emitter::default());
}

/// Emits one record of `stream` under `key`.
pub fn emit_one<T: Serialize + ?Sized>(
    stream: &str,
    key: impl Into<String>,
    record: &T,
) -> Result<()> {
    let json = serde_json::to_string(record)
        .map_err(|e| Error::Internal(format!("record of `{stream}`: {e}")))?;
    let item = types::Item {
        key: key.into(),
        json,
    };
    let full = EMITTER.with_borrow_mut(|emitter| {
        emitter.emitted += 1;
        let buffer = emitter.buffers.entry(stream.to_owned()).or_default();
        buffer.bytes += item.json.len() + item.key.len();
        buffer.items.push(item);
        (buffer.items.len() >= BATCH_ITEMS || buffer.bytes >= BATCH_BYTES)
            .then(|| std::mem::take(buffer))
    });
    match full {
        Some(buffer) => send(stream, buffer),
        None => Ok(()),
    }
}

/// Emits records of `stream` as `(key, record)` pairs.
pub fn emit<K, T, I>(stream: &str, items: I) -> Result<()>
where
    K: Into<String>,
    T: Serialize,
    I: IntoIterator<Item = (K, T)>,
{
    items
        .into_iter()
        .try_for_each(|(key, record)| emit_one(stream, key, &record))
}

/// Sends every buffered record to the host now. The SDK calls this when a sync returns.
pub fn flush() -> Result<()> {
    let buffers = EMITTER.with_borrow_mut(|emitter| std::mem::take(&mut emitter.buffers));
    buffers
        .into_iter()
        .filter(|(_, buffer)| !buffer.items.is_empty())
        .try_for_each(|(stream, buffer)| send(&stream, buffer))
}

/// How many records this run emitted so far.
pub fn emitted() -> u64 {
    EMITTER.with_borrow(|emitter| emitter.emitted)
}

fn send(stream: &str, buffer: Buffer) -> Result<()> {
    host::emit(stream, &buffer.items)
        .map_err(|e| Error::Internal(format!("emit to `{stream}`: {e}")))
}
