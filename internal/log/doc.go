// Package log is the durable storage of one partition: a segmented log of
// Kafka RecordBatch v2 bytes kept exactly as received.
//
// # Concurrency model
//
// One mutex per Log (Log.mu) guards the append path and all mutable state;
// methods that expect it held end in "Locked". Append validates and CRCs the
// batches before taking mu, then under mu stamps offsets, writes with one
// WriteAt and updates the in-memory indexes. fsync never runs under mu: a
// flusher goroutine, started on demand by kickLocked and exiting when idle
// (an idle log has no goroutine), captures the work under mu (sealed
// segments, the active segment's size and the log end offset), fsyncs
// without mu, then retakes mu to advance the durable offset, the high
// watermark (FsyncAlways) and wake waiters. One fsync thus covers every
// append made before it started (group commit). At most one flusher runs
// per log. FsyncInterval arms a time.AfterFunc timer that kicks the flusher.
//
// Readers take mu only to capture a segment, a byte bound (the segment end
// or the high-watermark position) and an index slice, pin the segment with
// a reference count, and then ReadAt without mu: bytes below a captured
// bound never change. Log-wide counters (LEO, HW, log start, size) are
// atomics written under mu, so getters take no lock.
//
// Lock order: Log.metaMu (serialises log-start checkpoint writes) before
// Log.mu. MemFS's locks are leaves.
//
// # On-disk layout
//
// A log directory holds, per segment with base offset B (20 digits):
//
//	B.log        RecordBatch v2 bytes as received, base offsets stamped
//	B.index      sparse offset index + segment summary (see index.go)
//	B.timeindex  sparse time index (see index.go)
//
// and log-start-offset.ckpt (see recovery.go). Every file we define starts
// with a 4-byte magic and a version byte and ends its header with a
// CRC-32C. Index files are written tmp -> fsync -> rename, then the
// directory is fsynced, when a segment is sealed (after its .log is fsynced)
// and at Close. The offset index header records how many .log bytes it
// covers, which serves as the clean-shutdown marker: Open trusts that
// prefix and scans only bytes beyond it (none after a clean Close), so
// opening a cleanly closed log reads no segment data.
//
// # Failures
//
// The first failed write, fsync or metadata update is sticky (Log.werr):
// the log refuses appends with ErrStorage, never writes clean metadata
// again, and logs once with slog.Error. Recovery at the next Open repairs
// the tail.
package log
