//! The Parquet encoder thread: encoding and zstd compression run beside the row conversion,
//! fed through a bounded channel so memory stays bounded by a few batches.

use std::fs::File;
use std::io::BufWriter;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;

use crate::TransformError;

/// Batches in flight between the converter and the encoder at most.
const CHANNEL_DEPTH: usize = 4;

type Writer = ArrowWriter<BufWriter<File>>;

enum Message {
    Open { slot: usize, writer: Box<Writer> },
    Batch { slot: usize, batch: RecordBatch },
    Close { slot: usize },
}

fn output_err(e: impl std::fmt::Display) -> TransformError {
    TransformError::Output { message: e.to_string() }
}

/// Owns the Parquet writers of one file on a background thread.
pub(crate) struct Encoder {
    sender: Option<SyncSender<Message>>,
    handle: Option<JoinHandle<Result<(), TransformError>>>,
}

fn encode(receiver: Receiver<Message>) -> Result<(), TransformError> {
    let mut writers: Vec<Option<Box<Writer>>> = Vec::new();
    for message in receiver {
        match message {
            Message::Open { slot, writer } => {
                if writers.len() <= slot {
                    writers.resize_with(slot + 1, || None);
                }
                writers[slot] = Some(writer);
            }
            Message::Batch { slot, batch } => {
                let writer = writers.get_mut(slot).and_then(Option::as_mut).ok_or_else(|| {
                    output_err(format!("no Parquet writer for partition slot {slot}"))
                })?;
                writer.write(&batch).map_err(output_err)?;
            }
            Message::Close { slot } => {
                if let Some(writer) = writers.get_mut(slot).and_then(Option::take) {
                    writer.close().map_err(output_err)?;
                }
            }
        }
    }
    for writer in writers.into_iter().flatten() {
        writer.close().map_err(output_err)?;
    }
    Ok(())
}

impl Encoder {
    /// Starts the encoder thread.
    pub(crate) fn start() -> Result<Encoder, TransformError> {
        let (sender, receiver) = sync_channel(CHANNEL_DEPTH);
        let handle = std::thread::Builder::new()
            .name("parquet-encoder".into())
            .spawn(move || encode(receiver))
            .map_err(|e| output_err(format!("cannot start the encoder thread: {e}")))?;
        Ok(Encoder { sender: Some(sender), handle: Some(handle) })
    }

    fn send(&mut self, message: Message) -> Result<(), TransformError> {
        let sent = self.sender.as_ref().map(|s| s.send(message));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped: its own error says why.
            _ => Err(self.join().err().unwrap_or_else(|| output_err("the encoder thread stopped"))),
        }
    }

    /// Hands a new writer to the thread under `slot`.
    pub(crate) fn open(&mut self, slot: usize, writer: Writer) -> Result<(), TransformError> {
        self.send(Message::Open { slot, writer: Box::new(writer) })
    }

    /// Queues a batch for the writer in `slot`.
    pub(crate) fn write(&mut self, slot: usize, batch: RecordBatch) -> Result<(), TransformError> {
        self.send(Message::Batch { slot, batch })
    }

    /// Closes the writer in `slot` (footer written, memory freed) once its batches are written.
    pub(crate) fn close(&mut self, slot: usize) -> Result<(), TransformError> {
        self.send(Message::Close { slot })
    }

    fn join(&mut self) -> Result<(), TransformError> {
        self.sender = None;
        match self.handle.take() {
            Some(handle) => handle.join().map_err(|_| output_err("the encoder thread panicked"))?,
            None => Ok(()),
        }
    }

    /// Closes every writer (footers written) and waits for the thread.
    pub(crate) fn finish(mut self) -> Result<(), TransformError> {
        self.join()
    }
}
