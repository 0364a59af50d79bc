// This file is the contract the broker is written against. Keep the exported
// names and their meaning; add what you need behind them. The package
// comment is in doc.go.

package log

import (
	"errors"
	"fmt"
	"time"
)

// FsyncPolicy says when appended bytes are forced to disk.
type FsyncPolicy uint8

const (
	// FsyncAlways makes every append durable before it is acknowledged to an
	// acks=all producer; concurrent appends share one fsync (group commit).
	FsyncAlways FsyncPolicy = iota
	// FsyncInterval fsyncs dirty logs every Config.FsyncInterval.
	FsyncInterval
	// FsyncNever leaves flushing to the OS (and to segment roll and Close).
	FsyncNever
)

// ParseFsyncPolicy reads "always", "interval" or "never".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	switch s {
	case "always":
		return FsyncAlways, nil
	case "interval":
		return FsyncInterval, nil
	case "never":
		return FsyncNever, nil
	}
	return 0, fmt.Errorf("fsync policy %q: want always, interval or never", s)
}

func (p FsyncPolicy) String() string {
	switch p {
	case FsyncAlways:
		return "always"
	case FsyncInterval:
		return "interval"
	case FsyncNever:
		return "never"
	}
	return fmt.Sprintf("FsyncPolicy(%d)", uint8(p))
}

// Errors returned by Log methods. The broker maps them to Kafka error codes.
var (
	ErrCorrupt          = errors.New("log: corrupt record batch")                       // CORRUPT_MESSAGE
	ErrInvalidRecord    = errors.New("log: invalid record batch")                       // INVALID_RECORD
	ErrUnsupportedMagic = errors.New("log: record batch magic is not 2")                // UNSUPPORTED_FOR_MESSAGE_FORMAT
	ErrMessageTooLarge  = errors.New("log: record batch too large")                     // MESSAGE_TOO_LARGE
	ErrOffsetOutOfRange = errors.New("log: offset out of range")                        // OFFSET_OUT_OF_RANGE
	ErrClosed           = errors.New("log: closed")                                     // NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION
	ErrStorage          = errors.New("log: storage failed; partition is offline")       // KAFKA_STORAGE_ERROR (sticky)
	ErrInvalidTimestamp = errors.New("log: record timestamp out of the accepted range") // INVALID_TIMESTAMP
)

// Config is a partition log's settings. Zero fields take the defaults below.
type Config struct {
	SegmentBytes       int64         // roll before the active segment exceeds this; default 1 GiB
	SegmentAge         time.Duration // roll when the active segment's first append is older; default 7 days
	RetentionBytes     int64         // delete oldest segments beyond this many bytes; <0 unlimited (default -1)
	RetentionAge       time.Duration // delete segments whose newest record is older; <0 unlimited (default 7 days)
	IndexIntervalBytes int32         // bytes between sparse index entries; default 4096
	MaxBatchBytes      int32         // largest batch accepted; default 1048588 (Kafka's max.message.bytes)
	Fsync              FsyncPolicy   // default FsyncAlways
	FsyncInterval      time.Duration // for FsyncInterval; default 1s
	LogAppendTime      bool          // message.timestamp.type=LogAppendTime: the broker's clock stamps each batch
	MaxTimestampAhead  time.Duration // refuse CreateTime records further in the future (message.timestamp.after.max.ms); default 1h, <0 unlimited
	MaxTimestampBehind time.Duration // refuse CreateTime records further in the past (message.timestamp.before.max.ms); default unlimited
}
