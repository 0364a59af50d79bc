package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// ListOffsets v1-v10 (Kafka 4 removed v0). Each topic needs DESCRIBE.
func init() { register(2, 1, 10, handleListOffsets) }

// Special timestamps of ListOffsets.
const (
	latestTimestamp       = -1
	earliestTimestamp     = -2
	maxTimestamp          = -3 // v7+
	earliestLocalTime     = -4 // v8+: no tiered storage, so the log start
	latestTieredTime      = -5 // v9+: no tiered storage, so nothing
	earliestPendingUpload = -6 // v11+, not served
)

func handleListOffsets(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	check := r.topicChecker(acl.Describe)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		denied := !check.ok(rt.Topic)
		var t *topic
		var parts []*partition
		if !denied {
			if t = b.lookupTopic(rt.Topic); t != nil {
				parts = b.partitionsOf(t)
			}
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, 0
			switch {
			case denied:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(parts):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			default:
				l := parts[rp.Partition].log
				switch rp.Timestamp {
				case latestTimestamp:
					sp.Offset = l.HighWatermark()
				case earliestTimestamp, earliestLocalTime:
					sp.Offset = l.LogStartOffset()
				case latestTieredTime:
					sp.Offset = -1
				case maxTimestamp:
					off, ts, err := l.MaxTimestamp()
					sp.Offset, sp.Timestamp, sp.ErrorCode = off, ts, errorCode(err)
				default:
					if rp.Timestamp < 0 {
						// A special timestamp of a version we do not serve.
						sp.ErrorCode = kerr.UnsupportedVersion.Code
						break
					}
					off, ts, err := l.OffsetForTimestamp(rp.Timestamp)
					sp.Offset, sp.Timestamp, sp.ErrorCode = off, ts, errorCode(err)
				}
			}
			if sp.ErrorCode != 0 || sp.Offset < 0 {
				sp.LeaderEpoch = -1 // no record, no epoch
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
